/*
 * gemm_avx512.c — AVX-512 GEMM micro-kernel: up to a 12 x 32 tile of C in
 * 24 zmm accumulators; per k step two B vectors are loaded and each A value
 * is broadcast (from memory, folded into the FMA) into two FMAs. The tile is
 * instantiated for 12, 8 and 4 rows and for one or two B vectors, so a
 * ragged edge (the last rows of M = 64, the short last panel of a 7x7 or
 * 14x14 layer) computes only what it stores. The bias / accumulate /
 * residual / clamp epilogue stays in registers; columns past n are masked
 * off, rows past m are skipped. Scalar twin: nn_ukr_generic (gemm.c); tests
 * compare them on ragged shapes.
 */
#include <immintrin.h>

#include "nn/nn_int.h"

#define MR 12
#define NR 32

static inline __mmask16 cols(int n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

static inline __attribute__((always_inline)) void tile(const int rows, const int two, size_t kc, const float *a,
                                                       const float *b, size_t ldb, const uint32_t *boff, float *c,
                                                       size_t ldc, int m, int n, int flags, const float *bias,
                                                       const float *r, float lo, float hi) {
    /* Rows are spelled out (not a loop) so every compiler keeps the
     * accumulators in registers; rows >= `rows` fold away. */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
    __m512 acc[MR][2];
#define ZERO(i)                                         \
    if ((i) < rows) {                                   \
        acc[i][0] = _mm512_setzero_ps();                \
        acc[i][1] = _mm512_setzero_ps();                \
    }
    ROWS(ZERO)
#undef ZERO
    for (size_t p = 0; p < kc; p++) {
        const float *br = boff ? b + boff[p] : b;
        __m512 b0 = _mm512_loadu_ps(br), b1 = two ? _mm512_loadu_ps(br + 16) : b0;
#define FMA(i)                                                              \
    if ((i) < rows) {                                                       \
        __m512 av = _mm512_set1_ps(a[i]);                                   \
        acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);                     \
        if (two) acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);            \
    }
        ROWS(FMA)
#undef FMA
        a += MR;
        if (!boff) b += ldb;
    }
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    const __mmask16 km[2] = {cols(n), cols(n - 16)};
#pragma GCC unroll 12
    for (int i = 0; i < rows; i++) {
        if (i >= m) break;
        float *cr = c + (size_t)i * ldc;
        const float *rr = r ? r + (size_t)i * ldc : NULL;
#pragma GCC unroll 2
        for (int h = 0; h < 1 + two; h++) {
            __m512 x = acc[i][h];
            if (flags & NN_UKR_FIRST) {
                if (bias) x = _mm512_add_ps(x, _mm512_set1_ps(bias[i]));
            } else {
                x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(km[h], cr + 16 * h));
            }
            if (flags & NN_UKR_LAST) {
                if (rr) x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(km[h], rr + 16 * h));
                x = _mm512_min_ps(_mm512_max_ps(x, vlo), vhi);
            }
            _mm512_mask_storeu_ps(cr + 16 * h, km[h], x);
        }
    }
}

void nn_ukr_avx512(size_t kc, const float *a, const float *b, size_t ldb, const uint32_t *boff, float *c,
                   size_t ldc, int m, int n, int flags, const float *bias, const float *r, float lo, float hi) {
#define PICK(two)                                                                     \
    {                                                                                 \
        if (m > 8)                                                                    \
            tile(12, two, kc, a, b, ldb, boff, c, ldc, m, n, flags, bias, r, lo, hi); \
        else if (m > 4)                                                               \
            tile(8, two, kc, a, b, ldb, boff, c, ldc, m, n, flags, bias, r, lo, hi);  \
        else                                                                          \
            tile(4, two, kc, a, b, ldb, boff, c, ldc, m, n, flags, bias, r, lo, hi);  \
    }
    if (n > 16)
        PICK(1)
    else
        PICK(0)
#undef PICK
}
