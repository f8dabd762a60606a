/*
 * gemm_avx512.c — AVX-512 GEMM micro-kernel: a 12 x 32 tile of C held in 24
 * zmm accumulators; per k step two B vectors are loaded and each of the 12
 * A values is broadcast into two FMAs. Full tiles get the bias / accumulate /
 * clamp epilogue in registers; edge tiles go through a scratch tile and the
 * same epilogue in scalar code. Scalar twin: nn_ukr_generic (gemm.c).
 */
#include <immintrin.h>

#include "nn/nn_int.h"

#define MR 12
#define NR 32

void nn_ukr_avx512(size_t kc, const float *a, const float *b, size_t ldb, float *c, size_t ldc, int m, int n,
                   int flags, const float *bias, float lo, float hi) {
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
    if (m == MR && n == NR) {
        __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
#define ST(i)                                                                        \
    {                                                                                \
        float *cr = c + (size_t)(i) * ldc;                                           \
        __m512 x0 = c##i##_0, x1 = c##i##_1;                                         \
        if (flags & NN_UKR_FIRST) {                                                  \
            if (bias) {                                                              \
                __m512 bv = _mm512_set1_ps(bias[i]);                                 \
                x0 = _mm512_add_ps(x0, bv);                                          \
                x1 = _mm512_add_ps(x1, bv);                                          \
            }                                                                        \
        } else {                                                                     \
            x0 = _mm512_add_ps(x0, _mm512_loadu_ps(cr));                             \
            x1 = _mm512_add_ps(x1, _mm512_loadu_ps(cr + 16));                        \
        }                                                                            \
        if (flags & NN_UKR_LAST) {                                                   \
            x0 = _mm512_min_ps(_mm512_max_ps(x0, vlo), vhi);                         \
            x1 = _mm512_min_ps(_mm512_max_ps(x1, vlo), vhi);                         \
        }                                                                            \
        _mm512_storeu_ps(cr, x0);                                                    \
        _mm512_storeu_ps(cr + 16, x1);                                               \
    }
        ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7) ST(8) ST(9) ST(10) ST(11)
#undef ST
        return;
    }
    float tmp[MR * NR];
#define SV(i)                                          \
    _mm512_storeu_ps(tmp + (i) * NR, c##i##_0);        \
    _mm512_storeu_ps(tmp + (i) * NR + 16, c##i##_1);
    SV(0) SV(1) SV(2) SV(3) SV(4) SV(5) SV(6) SV(7) SV(8) SV(9) SV(10) SV(11)
#undef SV
    for (int i = 0; i < m; i++) {
        float *cr = c + (size_t)i * ldc;
        float base = (flags & NN_UKR_FIRST) && bias ? bias[i] : 0.f;
        for (int j = 0; j < n; j++) {
            float v = tmp[i * NR + j] + ((flags & NN_UKR_FIRST) ? base : cr[j]);
            if (flags & NN_UKR_LAST) {
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
            }
            cr[j] = v;
        }
    }
}
