/*
 * distance.c — float32 distance kernels: the portable scalar reference set
 * ("generic"), the run-time choice between it and the ISA sets in arch/,
 * and the public pxs_dist_* / pxs_vec_normalize entry points.
 *
 * The generic kernels are the oracle of the differential tests
 * (tests/index/test_distance.c) and the code path of PXS_FORCE_GENERIC=1.
 * They sum into 8 independent accumulators: that keeps rounding close to the
 * SIMD versions (which sum lane-wise) and lets the compiler pipeline the
 * loop without -ffast-math.
 *
 * Dispatch happens once (pthread_once) from pxs_cpu_features(): AVX-512
 * (F+BW+DQ+VL) first, then AVX2+FMA, then generic.
 */
#include "index/index_int.h"

#include <float.h>
#include <math.h>
#include <pthread.h>

#define ACC 8

static float generic_l2sq(const float *a, const float *b, size_t dim) {
    float acc[ACC] = {0};
    size_t i = 0;
    for (; i + ACC <= dim; i += ACC)
        for (size_t j = 0; j < ACC; j++) {
            float d = a[i + j] - b[i + j];
            acc[j] += d * d;
        }
    for (size_t j = 0; i < dim; i++, j++) {
        float d = a[i] - b[i];
        acc[j] += d * d;
    }
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static float generic_ip(const float *a, const float *b, size_t dim) {
    float acc[ACC] = {0};
    size_t i = 0;
    for (; i + ACC <= dim; i += ACC)
        for (size_t j = 0; j < ACC; j++) acc[j] += a[i + j] * b[i + j];
    for (size_t j = 0; i < dim; i++, j++) acc[j] += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static float generic_cosine(const float *a, const float *b, size_t dim) {
    float ab[ACC] = {0}, aa[ACC] = {0}, bb[ACC] = {0};
    size_t i = 0;
    for (; i + ACC <= dim; i += ACC)
        for (size_t j = 0; j < ACC; j++) {
            ab[j] += a[i + j] * b[i + j];
            aa[j] += a[i + j] * a[i + j];
            bb[j] += b[i + j] * b[i + j];
        }
    for (size_t j = 0; i < dim; i++, j++) {
        ab[j] += a[i] * b[i];
        aa[j] += a[i] * a[i];
        bb[j] += b[i] * b[i];
    }
    double sab = 0, saa = 0, sbb = 0;
    for (size_t j = 0; j < ACC; j++) {
        sab += ab[j];
        saa += aa[j];
        sbb += bb[j];
    }
    if (saa <= 0 || sbb <= 0) return 0.0f;
    return (float)(sab / (sqrt(saa) * sqrt(sbb)));
}

static void generic_l2sq_batch(const float *q, const float *base, size_t stride, size_t n,
                               size_t dim, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = generic_l2sq(q, base + i * stride, dim);
}

static void generic_ip_batch(const float *q, const float *base, size_t stride, size_t n,
                             size_t dim, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = generic_ip(q, base + i * stride, dim);
}

static const struct pxs__dist_kernels generic_kernels = {
    .name = "generic",
    .l2sq = generic_l2sq,
    .ip = generic_ip,
    .cosine = generic_cosine,
    .l2sq_batch = generic_l2sq_batch,
    .ip_batch = generic_ip_batch,
};

const struct pxs__dist_kernels *pxs__index_kernels_generic(void) { return &generic_kernels; }

static pthread_once_t kernels_once = PTHREAD_ONCE_INIT;
static const struct pxs__dist_kernels *kernels_chosen = &generic_kernels;

static void kernels_init(void) {
    unsigned f = pxs_cpu_features();
    const struct pxs__dist_kernels *k = NULL;
    if ((f & PXS_CPU_AVX512F) && (k = pxs__index_kernels_avx512()) != NULL) {
        kernels_chosen = k;
    } else if ((f & PXS_CPU_AVX2) && (k = pxs__index_kernels_avx2()) != NULL) {
        kernels_chosen = k;
    } else {
        kernels_chosen = &generic_kernels;
    }
}

const struct pxs__dist_kernels *pxs__index_kernels(void) {
    pthread_once(&kernels_once, kernels_init);
    return kernels_chosen;
}

float pxs_dist_l2sq(const float *a, const float *b, size_t dim) {
    if (!a || !b || dim == 0) return 0.0f;
    return pxs__index_kernels()->l2sq(a, b, dim);
}

float pxs_dist_ip(const float *a, const float *b, size_t dim) {
    if (!a || !b || dim == 0) return 0.0f;
    return pxs__index_kernels()->ip(a, b, dim);
}

float pxs_dist_cosine(const float *a, const float *b, size_t dim) {
    if (!a || !b || dim == 0) return 0.0f;
    return pxs__index_kernels()->cosine(a, b, dim);
}

const char *pxs_dist_kernel_name(void) { return pxs__index_kernels()->name; }

float pxs_vec_normalize(float *v, size_t dim) {
    if (!v || dim == 0) return 0.0f;
    /* Sum of squares in double: no overflow for any finite float vector of
     * up to 32768 components, and no underflow for subnormal-sized ones. */
    double ss = 0;
    for (size_t i = 0; i < dim; i++) ss += (double)v[i] * (double)v[i];
    if (!(ss > 0) || !isfinite(ss)) return 0.0f;
    double norm = sqrt(ss);
    double inv = 1.0 / norm;
    for (size_t i = 0; i < dim; i++) v[i] = (float)((double)v[i] * inv);
    return norm > FLT_MAX ? FLT_MAX : (float)norm;
}

int pxs__index_check_finite(const float *v, size_t dim, const char *what, struct pxs_err *err) {
    for (size_t i = 0; i < dim; i++)
        if (!isfinite(v[i]))
            return pxs_errf(err, PXS_EINVAL, "%s component %zu is %s", what, i,
                            isnan(v[i]) ? "NaN" : "infinite");
    return PXS_OK;
}
