/* The products of P-1h EP training (batch 20) and 512³, timed through the CBLAS interface, to compare
 * BLAS libraries and kernels on one machine: `scripts/results --only blas` builds it against OpenBLAS
 * and BLIS. Prints the library's kernel when it says (OpenBLAS), then per product GFLOP/s and µs per
 * call: the median over samples of `reps` calls each (reps makes a sample last ≥ 20 µs, above the
 * clock's resolution), sampled for 0.3 s (at least 5 samples, at most 100000). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
/* OpenBLAS's kernel name; absent from other libraries (a weak symbol, then null). */
extern char *openblas_get_corename(void) __attribute__((weak));
void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* C[m×n] = op(A)·op(B), row-major, op = transpose when ta / tb. */
static void run(const char *name, int m, int n, int k, int ta, int tb) {
    float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n), *c = malloc(sizeof(float) * m * n);
    for (int i = 0; i < m * k; i++) a[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int i = 0; i < k * n; i++) b[i] = (float)rand() / RAND_MAX - 0.5f;
    int lda = ta ? m : k, ldb = tb ? k : n;
#define CALL cblas_sgemm(RowMajor, ta ? Trans : NoTrans, tb ? Trans : NoTrans, m, n, k, 1, a, lda, b, ldb, 0, c, n)
    for (int w = 0; w < 3; w++) CALL; /* warm: the packing buffers, the caches */
    double t = now();
    CALL;
    t = now() - t;
    int reps = t < 20e-6 ? (int)(20e-6 / (t > 1e-7 ? t : 1e-7)) + 1 : 1;
    static double samples[100000];
    int count = 0;
    double start = now();
    while ((now() - start < 0.3 || count < 5) && count < 100000) {
        double t0 = now();
        for (int r = 0; r < reps; r++) CALL;
        samples[count++] = (now() - t0) / reps;
    }
    qsort(samples, count, sizeof(double), ascending);
    double s = samples[count / 2];
    printf("%-34s %7.1f GFLOP/s  %9.2f us\n", name, 2.0 * m * n * k / s * 1e-9, s * 1e6);
    free(a);
    free(b);
    free(c);
}

int main(void) {
    if (openblas_get_corename) printf("kernel %s\n", openblas_get_corename());
    run("input projection [20×784]·[512×784]ᵀ", 20, 512, 784, 0, 1);
    run("output read [20×512]·[10×512]ᵀ", 20, 10, 512, 0, 1);
    run("feedback read [20×10]·[10×512]", 20, 512, 10, 0, 0);
    run("input-weight update [20×512]ᵀ·[20×784]", 512, 784, 20, 1, 0);
    run("512³", 512, 512, 512, 0, 0);
    return 0;
}
