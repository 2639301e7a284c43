#ifndef CFFTW_SHIM_H
#define CFFTW_SHIM_H
// <complex.h> must not come first, so that fftw_complex imports as a (Double, Double) tuple.
#include <fftw3.h>
#endif
