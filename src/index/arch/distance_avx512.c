/*
 * distance_avx512.c — AVX-512 (F+BW+DQ+VL) float32 distance kernels (built
 * with -mavx512* by the Makefile because of the _avx512.c suffix). Only
 * called when pxs_cpu_features() reports PXS_CPU_AVX512F; twins of the
 * generic kernels in ../distance.c and checked against them by
 * tests/index/test_distance.c.
 *
 * Any dim and any alignment: the body runs 4 x 16 lanes with unaligned
 * loads, then 16-lane steps, then one zero-masked load for the last 1..15
 * floats (masked lanes are not read). The batch kernels score 4 rows per
 * pass so each query load is shared.
 */
#include "index/index_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>

static inline __mmask16 tail_mask(size_t r) { return (__mmask16)((1u << r) - 1u); } /* r 1..15 */

static float avx512_l2sq(const float *a, const float *b, size_t dim) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
        __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        s2 = _mm512_fmadd_ps(d2, d2, s2);
        s3 = _mm512_fmadd_ps(d3, d3, s3);
    }
    for (; i + 16 <= dim; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        s0 = _mm512_fmadd_ps(d, d, s0);
    }
    if (i < dim) {
        __mmask16 m = tail_mask(dim - i);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
        s1 = _mm512_fmadd_ps(d, d, s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float avx512_ip(const float *a, const float *b, size_t dim) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 64 <= dim; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= dim; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < dim) {
        __mmask16 m = tail_mask(dim - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float avx512_cosine(const float *a, const float *b, size_t dim) {
    __m512 ab0 = _mm512_setzero_ps(), ab1 = ab0, aa0 = ab0, aa1 = ab0, bb0 = ab0, bb1 = ab0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m512 x0 = _mm512_loadu_ps(a + i), y0 = _mm512_loadu_ps(b + i);
        __m512 x1 = _mm512_loadu_ps(a + i + 16), y1 = _mm512_loadu_ps(b + i + 16);
        ab0 = _mm512_fmadd_ps(x0, y0, ab0);
        aa0 = _mm512_fmadd_ps(x0, x0, aa0);
        bb0 = _mm512_fmadd_ps(y0, y0, bb0);
        ab1 = _mm512_fmadd_ps(x1, y1, ab1);
        aa1 = _mm512_fmadd_ps(x1, x1, aa1);
        bb1 = _mm512_fmadd_ps(y1, y1, bb1);
    }
    for (; i + 16 <= dim; i += 16) {
        __m512 x = _mm512_loadu_ps(a + i), y = _mm512_loadu_ps(b + i);
        ab0 = _mm512_fmadd_ps(x, y, ab0);
        aa0 = _mm512_fmadd_ps(x, x, aa0);
        bb0 = _mm512_fmadd_ps(y, y, bb0);
    }
    if (i < dim) {
        __mmask16 m = tail_mask(dim - i);
        __m512 x = _mm512_maskz_loadu_ps(m, a + i), y = _mm512_maskz_loadu_ps(m, b + i);
        ab1 = _mm512_fmadd_ps(x, y, ab1);
        aa1 = _mm512_fmadd_ps(x, x, aa1);
        bb1 = _mm512_fmadd_ps(y, y, bb1);
    }
    double sab = _mm512_reduce_add_ps(_mm512_add_ps(ab0, ab1));
    double saa = _mm512_reduce_add_ps(_mm512_add_ps(aa0, aa1));
    double sbb = _mm512_reduce_add_ps(_mm512_add_ps(bb0, bb1));
    if (saa <= 0 || sbb <= 0) return 0.0f;
    return (float)(sab / (sqrt(saa) * sqrt(sbb)));
}

static inline void l2sq_x4(const float *q, const float *r0, const float *r1, const float *r2,
                           const float *r3, size_t dim, float *out) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m512 qv = _mm512_loadu_ps(q + i);
        __m512 d0 = _mm512_sub_ps(qv, _mm512_loadu_ps(r0 + i));
        __m512 d1 = _mm512_sub_ps(qv, _mm512_loadu_ps(r1 + i));
        __m512 d2 = _mm512_sub_ps(qv, _mm512_loadu_ps(r2 + i));
        __m512 d3 = _mm512_sub_ps(qv, _mm512_loadu_ps(r3 + i));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        s2 = _mm512_fmadd_ps(d2, d2, s2);
        s3 = _mm512_fmadd_ps(d3, d3, s3);
    }
    if (i < dim) {
        __mmask16 m = tail_mask(dim - i);
        __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
        __m512 d0 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, r0 + i));
        __m512 d1 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, r1 + i));
        __m512 d2 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, r2 + i));
        __m512 d3 = _mm512_sub_ps(qv, _mm512_maskz_loadu_ps(m, r3 + i));
        s0 = _mm512_fmadd_ps(d0, d0, s0);
        s1 = _mm512_fmadd_ps(d1, d1, s1);
        s2 = _mm512_fmadd_ps(d2, d2, s2);
        s3 = _mm512_fmadd_ps(d3, d3, s3);
    }
    out[0] = _mm512_reduce_add_ps(s0);
    out[1] = _mm512_reduce_add_ps(s1);
    out[2] = _mm512_reduce_add_ps(s2);
    out[3] = _mm512_reduce_add_ps(s3);
}

static inline void ip_x4(const float *q, const float *r0, const float *r1, const float *r2,
                         const float *r3, size_t dim, float *out) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m512 qv = _mm512_loadu_ps(q + i);
        s0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(r0 + i), s0);
        s1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(r1 + i), s1);
        s2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(r2 + i), s2);
        s3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(r3 + i), s3);
    }
    if (i < dim) {
        __mmask16 m = tail_mask(dim - i);
        __m512 qv = _mm512_maskz_loadu_ps(m, q + i);
        s0 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, r0 + i), s0);
        s1 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, r1 + i), s1);
        s2 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, r2 + i), s2);
        s3 = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(m, r3 + i), s3);
    }
    out[0] = _mm512_reduce_add_ps(s0);
    out[1] = _mm512_reduce_add_ps(s1);
    out[2] = _mm512_reduce_add_ps(s2);
    out[3] = _mm512_reduce_add_ps(s3);
}

static void avx512_l2sq_batch(const float *q, const float *base, size_t stride, size_t n,
                              size_t dim, float *out) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *r = base + i * stride;
        l2sq_x4(q, r, r + stride, r + 2 * stride, r + 3 * stride, dim, out + i);
    }
    for (; i < n; i++) out[i] = avx512_l2sq(q, base + i * stride, dim);
}

static void avx512_ip_batch(const float *q, const float *base, size_t stride, size_t n,
                            size_t dim, float *out) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *r = base + i * stride;
        ip_x4(q, r, r + stride, r + 2 * stride, r + 3 * stride, dim, out + i);
    }
    for (; i < n; i++) out[i] = avx512_ip(q, base + i * stride, dim);
}

static const struct pxs__dist_kernels avx512_kernels = {
    .name = "avx512",
    .l2sq = avx512_l2sq,
    .ip = avx512_ip,
    .cosine = avx512_cosine,
    .l2sq_batch = avx512_l2sq_batch,
    .ip_batch = avx512_ip_batch,
};

const struct pxs__dist_kernels *pxs__index_kernels_avx512(void) { return &avx512_kernels; }

#else
const struct pxs__dist_kernels *pxs__index_kernels_avx512(void) { return NULL; }
#endif
