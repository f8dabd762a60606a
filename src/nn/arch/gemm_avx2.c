/*
 * gemm_avx2.c — AVX2+FMA GEMM micro-kernel: a 6 x 16 tile of C in 12 ymm
 * accumulators (two B vectors and one broadcast per k step, 15 of the 16
 * registers). Full tiles get the epilogue in registers; edge tiles go through
 * a scratch tile. A residual tile is added before the clamp. Scalar twin: nn_ukr_generic (gemm.c).
 */
#include <immintrin.h>

#include "nn/nn_int.h"

#define MR 6
#define NR 16

void nn_ukr_avx2(size_t kc, const float *a, const float *b, size_t ldb, const uint32_t *boff, float *c, size_t ldc,
                 int m, int n, int flags, const float *bias, const float *r, float lo, float hi) {
#define DECL(i) __m256 c##i##_0 = _mm256_setzero_ps(), c##i##_1 = _mm256_setzero_ps();
    DECL(0) DECL(1) DECL(2) DECL(3) DECL(4) DECL(5)
#undef DECL
    for (size_t p = 0; p < kc; p++) {
        const float *br = boff ? b + boff[p] : b;
        __m256 b0 = _mm256_loadu_ps(br), b1 = _mm256_loadu_ps(br + 8);
#define R(i)                                                \
    {                                                       \
        __m256 av = _mm256_broadcast_ss(a + (i));           \
        c##i##_0 = _mm256_fmadd_ps(av, b0, c##i##_0);       \
        c##i##_1 = _mm256_fmadd_ps(av, b1, c##i##_1);       \
    }
        R(0) R(1) R(2) R(3) R(4) R(5)
#undef R
        a += MR;
        if (!boff) b += ldb;
    }
    if (m == MR && n == NR) {
        __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
#define ST(i)                                                                        \
    {                                                                                \
        float *cr = c + (size_t)(i) * ldc;                                           \
        __m256 x0 = c##i##_0, x1 = c##i##_1;                                         \
        if (flags & NN_UKR_FIRST) {                                                  \
            if (bias) {                                                              \
                __m256 bv = _mm256_set1_ps(bias[i]);                                 \
                x0 = _mm256_add_ps(x0, bv);                                          \
                x1 = _mm256_add_ps(x1, bv);                                          \
            }                                                                        \
        } else {                                                                     \
            x0 = _mm256_add_ps(x0, _mm256_loadu_ps(cr));                             \
            x1 = _mm256_add_ps(x1, _mm256_loadu_ps(cr + 8));                         \
        }                                                                            \
        if (flags & NN_UKR_LAST) {                                                   \
            if (r) {                                                                 \
                x0 = _mm256_add_ps(x0, _mm256_loadu_ps(r + (size_t)(i) * ldc));      \
                x1 = _mm256_add_ps(x1, _mm256_loadu_ps(r + (size_t)(i) * ldc + 8));  \
            }                                                                        \
            x0 = _mm256_min_ps(_mm256_max_ps(x0, vlo), vhi);                         \
            x1 = _mm256_min_ps(_mm256_max_ps(x1, vlo), vhi);                         \
        }                                                                            \
        _mm256_storeu_ps(cr, x0);                                                    \
        _mm256_storeu_ps(cr + 8, x1);                                                \
    }
        ST(0) ST(1) ST(2) ST(3) ST(4) ST(5)
#undef ST
        return;
    }
    float tmp[MR * NR];
#define SV(i)                                          \
    _mm256_storeu_ps(tmp + (i) * NR, c##i##_0);        \
    _mm256_storeu_ps(tmp + (i) * NR + 8, c##i##_1);
    SV(0) SV(1) SV(2) SV(3) SV(4) SV(5)
#undef SV
    for (int i = 0; i < m; i++) {
        float *cr = c + (size_t)i * ldc;
        float base = (flags & NN_UKR_FIRST) && bias ? bias[i] : 0.f;
        for (int j = 0; j < n; j++) {
            float v = tmp[i * NR + j] + ((flags & NN_UKR_FIRST) ? base : cr[j]);
            if (flags & NN_UKR_LAST) {
                if (r) v += r[(size_t)i * ldc + j];
                v = v < lo ? lo : v;
                v = v > hi ? hi : v;
            }
            cr[j] = v;
        }
    }
}
