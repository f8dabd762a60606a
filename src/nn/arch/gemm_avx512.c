/*
 * gemm_avx512.c — AVX-512 GEMM micro-kernel: a 12 x 32 tile of C held in 24
 * zmm accumulators; per k step two B vectors are loaded and each of the 12
 * A values is broadcast into two FMAs. A ragged tile at most 16 columns wide
 * (the 4-column tail of a 14x14 layer, a 17-column one of 7x7 has one full
 * and one short vector) runs a 12 x 16 loop with half the FMAs. The bias /
 * accumulate / clamp epilogue stays in registers for every tile: columns
 * past n are masked off, rows past m are skipped. Scalar twin:
 * nn_ukr_generic (gemm.c); tests compare them on ragged shapes.
 */
#include <immintrin.h>

#include "nn/nn_int.h"

#define MR 12
#define NR 32

static inline __mmask16 cols(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

void nn_ukr_avx512(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc, int m, int n,
                   int flags, const float *bias, float lo, float hi) {
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    const __mmask16 k0 = cols(n), k1 = cols(n - 16);
#define EPI(i, x, cr, km)                                                         \
    {                                                                             \
        if (flags & NN_UKR_FIRST) {                                               \
            if (bias) x = _mm512_add_ps(x, _mm512_set1_ps(bias[i]));              \
        } else {                                                                  \
            x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(km, cr));                  \
        }                                                                         \
        if (flags & NN_UKR_LAST) x = _mm512_min_ps(_mm512_max_ps(x, vlo), vhi);   \
        _mm512_mask_storeu_ps(cr, km, x);                                         \
    }
    if (n <= 16) {
#define DECL(i) __m512 c##i = _mm512_setzero_ps();
        DECL(0) DECL(1) DECL(2) DECL(3) DECL(4) DECL(5) DECL(6) DECL(7) DECL(8) DECL(9) DECL(10) DECL(11)
#undef DECL
        for (size_t p = 0; p < kc; p++) {
            __m512 b0 = _mm512_loadu_ps(b);
#define R(i) c##i = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), b0, c##i);
            R(0) R(1) R(2) R(3) R(4) R(5) R(6) R(7) R(8) R(9) R(10) R(11)
#undef R
            a += MR;
            b += ldb;
        }
#define ST(i)                                                                     \
    if ((i) < m) {                                                                \
        float *cr = c + (size_t)(i) * ldc;                                        \
        EPI(i, c##i, cr, k0)                                                      \
    }
        ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7) ST(8) ST(9) ST(10) ST(11)
#undef ST
        return;
    }
#define DECL(i) __m512 c##i##_0 = _mm512_setzero_ps(), c##i##_1 = _mm512_setzero_ps();
    DECL(0) DECL(1) DECL(2) DECL(3) DECL(4) DECL(5) DECL(6) DECL(7) DECL(8) DECL(9) DECL(10) DECL(11)
#undef DECL
    for (size_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#define R(i)                                                \
    {                                                       \
        __m512 av = _mm512_set1_ps(a[i]);                   \
        c##i##_0 = _mm512_fmadd_ps(av, b0, c##i##_0);       \
        c##i##_1 = _mm512_fmadd_ps(av, b1, c##i##_1);       \
    }
        R(0) R(1) R(2) R(3) R(4) R(5) R(6) R(7) R(8) R(9) R(10) R(11)
#undef R
        a += MR;
        b += ldb;
    }
#define ST(i)                                                                     \
    if ((i) < m) {                                                                \
        float *cr = c + (size_t)(i) * ldc;                                        \
        EPI(i, c##i##_0, cr, k0)                                                  \
        EPI(i, c##i##_1, cr + 16, k1)                                             \
    }
    ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7) ST(8) ST(9) ST(10) ST(11)
#undef ST
#undef EPI
}
