#ifndef CBLAS_SHIM_H
#define CBLAS_SHIM_H
// Debian's OpenBLAS cblas.h also declares openblas_set_num_threads / openblas_get_corename.
#include <cblas.h>
#endif
