/*
 * distance_avx2.c — AVX2+FMA float32 distance kernels (built with -mavx2
 * -mfma by the Makefile because of the _avx2.c suffix). Only called when
 * pxs_cpu_features() reports PXS_CPU_AVX2; twins of the generic kernels in
 * ../distance.c and checked against them by tests/index/test_distance.c.
 *
 * Any dim and any alignment: the body runs 4 x 8 lanes with unaligned loads,
 * then single 8-lane steps, then one masked load for the last 1..7 floats
 * (masked-off lanes are not read, so nothing past the end is touched).
 * The batch kernels score 4 rows per pass so each query load is shared.
 */
#include "index/index_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>

/* Sliding window over this table gives a mask with the first r lanes set. */
static const int32_t tail_table[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

static inline __m256i tail_mask(size_t r) { /* r in 1..7 */
    return _mm256_loadu_si256((const __m256i *)(const void *)(tail_table + 8 - r));
}

static inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

static float avx2_l2sq(const float *a, const float *b, size_t dim) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    for (; i + 8 <= dim; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(d, d, s0);
    }
    if (i < dim) {
        __m256i m = tail_mask(dim - i);
        __m256 d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
        s1 = _mm256_fmadd_ps(d, d, s1);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

static float avx2_ip(const float *a, const float *b, size_t dim) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= dim; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    if (i < dim) {
        __m256i m = tail_mask(dim - i);
        s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

static float avx2_cosine(const float *a, const float *b, size_t dim) {
    __m256 ab0 = _mm256_setzero_ps(), ab1 = ab0, aa0 = ab0, aa1 = ab0, bb0 = ab0, bb1 = ab0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m256 x0 = _mm256_loadu_ps(a + i), y0 = _mm256_loadu_ps(b + i);
        __m256 x1 = _mm256_loadu_ps(a + i + 8), y1 = _mm256_loadu_ps(b + i + 8);
        ab0 = _mm256_fmadd_ps(x0, y0, ab0);
        aa0 = _mm256_fmadd_ps(x0, x0, aa0);
        bb0 = _mm256_fmadd_ps(y0, y0, bb0);
        ab1 = _mm256_fmadd_ps(x1, y1, ab1);
        aa1 = _mm256_fmadd_ps(x1, x1, aa1);
        bb1 = _mm256_fmadd_ps(y1, y1, bb1);
    }
    for (; i + 8 <= dim; i += 8) {
        __m256 x = _mm256_loadu_ps(a + i), y = _mm256_loadu_ps(b + i);
        ab0 = _mm256_fmadd_ps(x, y, ab0);
        aa0 = _mm256_fmadd_ps(x, x, aa0);
        bb0 = _mm256_fmadd_ps(y, y, bb0);
    }
    if (i < dim) {
        __m256i m = tail_mask(dim - i);
        __m256 x = _mm256_maskload_ps(a + i, m), y = _mm256_maskload_ps(b + i, m);
        ab1 = _mm256_fmadd_ps(x, y, ab1);
        aa1 = _mm256_fmadd_ps(x, x, aa1);
        bb1 = _mm256_fmadd_ps(y, y, bb1);
    }
    double sab = hsum(_mm256_add_ps(ab0, ab1));
    double saa = hsum(_mm256_add_ps(aa0, aa1));
    double sbb = hsum(_mm256_add_ps(bb0, bb1));
    if (saa <= 0 || sbb <= 0) return 0.0f;
    return (float)(sab / (sqrt(saa) * sqrt(sbb)));
}

/* Four rows against one query; out[0..3]. */
static inline void l2sq_x4(const float *q, const float *r0, const float *r1, const float *r2,
                           const float *r3, size_t dim, float *out) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 qv = _mm256_loadu_ps(q + i);
        __m256 d0 = _mm256_sub_ps(qv, _mm256_loadu_ps(r0 + i));
        __m256 d1 = _mm256_sub_ps(qv, _mm256_loadu_ps(r1 + i));
        __m256 d2 = _mm256_sub_ps(qv, _mm256_loadu_ps(r2 + i));
        __m256 d3 = _mm256_sub_ps(qv, _mm256_loadu_ps(r3 + i));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    if (i < dim) {
        __m256i m = tail_mask(dim - i);
        __m256 qv = _mm256_maskload_ps(q + i, m);
        __m256 d0 = _mm256_sub_ps(qv, _mm256_maskload_ps(r0 + i, m));
        __m256 d1 = _mm256_sub_ps(qv, _mm256_maskload_ps(r1 + i, m));
        __m256 d2 = _mm256_sub_ps(qv, _mm256_maskload_ps(r2 + i, m));
        __m256 d3 = _mm256_sub_ps(qv, _mm256_maskload_ps(r3 + i, m));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
        s2 = _mm256_fmadd_ps(d2, d2, s2);
        s3 = _mm256_fmadd_ps(d3, d3, s3);
    }
    out[0] = hsum(s0);
    out[1] = hsum(s1);
    out[2] = hsum(s2);
    out[3] = hsum(s3);
}

static inline void ip_x4(const float *q, const float *r0, const float *r1, const float *r2,
                         const float *r3, size_t dim, float *out) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 qv = _mm256_loadu_ps(q + i);
        s0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r0 + i), s0);
        s1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r1 + i), s1);
        s2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r2 + i), s2);
        s3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r3 + i), s3);
    }
    if (i < dim) {
        __m256i m = tail_mask(dim - i);
        __m256 qv = _mm256_maskload_ps(q + i, m);
        s0 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(r0 + i, m), s0);
        s1 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(r1 + i, m), s1);
        s2 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(r2 + i, m), s2);
        s3 = _mm256_fmadd_ps(qv, _mm256_maskload_ps(r3 + i, m), s3);
    }
    out[0] = hsum(s0);
    out[1] = hsum(s1);
    out[2] = hsum(s2);
    out[3] = hsum(s3);
}

static void avx2_l2sq_batch(const float *q, const float *base, size_t stride, size_t n,
                            size_t dim, float *out) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *r = base + i * stride;
        l2sq_x4(q, r, r + stride, r + 2 * stride, r + 3 * stride, dim, out + i);
    }
    for (; i < n; i++) out[i] = avx2_l2sq(q, base + i * stride, dim);
}

static void avx2_ip_batch(const float *q, const float *base, size_t stride, size_t n, size_t dim,
                          float *out) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *r = base + i * stride;
        ip_x4(q, r, r + stride, r + 2 * stride, r + 3 * stride, dim, out + i);
    }
    for (; i < n; i++) out[i] = avx2_ip(q, base + i * stride, dim);
}

static const struct pxs__dist_kernels avx2_kernels = {
    .name = "avx2",
    .l2sq = avx2_l2sq,
    .ip = avx2_ip,
    .cosine = avx2_cosine,
    .l2sq_batch = avx2_l2sq_batch,
    .ip_batch = avx2_ip_batch,
};

const struct pxs__dist_kernels *pxs__index_kernels_avx2(void) { return &avx2_kernels; }

#else
const struct pxs__dist_kernels *pxs__index_kernels_avx2(void) { return NULL; }
#endif
