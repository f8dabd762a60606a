/*
 * tests/index/test_distance.c — distance kernels: the generic set against a
 * double-precision reference, and every SIMD set this CPU supports against
 * the generic set (differential test, AESTHETICS habit 14), over dims 1..300
 * and unaligned starts. Vectors sit at the very end of their allocation so
 * ASan catches any read past the last component. Also metric names and
 * pxs_vec_normalize.
 */
#include "index/index_int.h"
#include "../test.h"
#include "index_test_util.h"

#include <stdlib.h>

#define DIM_MAX 300

/* Tolerance for a float sum of terms whose magnitudes add up to scale. */
static double tol_for(double scale) { return 1e-5 * scale + 1e-6; }

struct vecpair {
    float *abuf, *bbuf; /* allocations */
    float *a, *b;       /* dim floats ending exactly at the end of each allocation */
};

static int vecpair_make(struct vecpair *p, struct trng *r, size_t dim, size_t off_a, size_t off_b) {
    p->abuf = malloc((dim + off_a) * sizeof(float));
    p->bbuf = malloc((dim + off_b) * sizeof(float));
    if (!p->abuf || !p->bbuf) return -1;
    p->a = p->abuf + off_a;
    p->b = p->bbuf + off_b;
    trng_vec(r, p->a, dim);
    trng_vec(r, p->b, dim);
    return 0;
}

static void vecpair_free(struct vecpair *p) {
    free(p->abuf);
    free(p->bbuf);
}

/* Sum of |terms| of each kernel, the scale its rounding error grows with. */
static void scales(const float *a, const float *b, size_t dim, double *l2, double *ip,
                   double *cs) {
    double s_l2 = 0, s_ip = 0, na = 0, nb = 0;
    for (size_t i = 0; i < dim; i++) {
        double d = (double)a[i] - b[i];
        s_l2 += d * d;
        s_ip += fabs((double)a[i] * b[i]);
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    *l2 = s_l2;
    *ip = s_ip;
    *cs = (na > 0 && nb > 0) ? s_ip / sqrt(na * nb) : 1.0;
}

PXS_TEST(index_dist_generic_matches_double) {
    const struct pxs__dist_kernels *g = pxs__index_kernels_generic();
    struct trng r = {1};
    for (size_t dim = 1; dim <= DIM_MAX; dim++) {
        struct vecpair p;
        CHECK(vecpair_make(&p, &r, dim, dim % 3, dim % 5) == 0);
        double sl2, sip, scs;
        scales(p.a, p.b, dim, &sl2, &sip, &scs);
        double l2 = g->l2sq(p.a, p.b, dim), ip = g->ip(p.a, p.b, dim),
               cs = g->cosine(p.a, p.b, dim);
        double rl2 = ref_score(PXS_METRIC_L2, p.a, p.b, dim);
        double rip = ref_score(PXS_METRIC_IP, p.a, p.b, dim);
        double rcs = ref_score(PXS_METRIC_COSINE, p.a, p.b, dim);
        vecpair_free(&p);
        CHECK_MSG(fabs(l2 - rl2) <= tol_for(sl2), "dim %zu l2 %.9g vs %.9g", dim, l2, rl2);
        CHECK_MSG(fabs(ip - rip) <= tol_for(sip), "dim %zu ip %.9g vs %.9g", dim, ip, rip);
        CHECK_MSG(fabs(cs - rcs) <= tol_for(scs), "dim %zu cos %.9g vs %.9g", dim, cs, rcs);
    }
}

/* Compare set v with generic: single kernels for dims 1..300 at 4x4 start
 * offsets, then batch kernels at odd strides. Returns a message or NULL. */
static int diff_one(const struct pxs__dist_kernels *v, const char *name) {
    const struct pxs__dist_kernels *g = pxs__index_kernels_generic();
    struct trng r = {42};
    for (size_t dim = 1; dim <= DIM_MAX; dim++) {
        for (size_t oa = 0; oa < 4; oa++) {
            for (size_t ob = 0; ob < 4; ob++) {
                struct vecpair p;
                if (vecpair_make(&p, &r, dim, oa, ob) != 0) return -1;
                double sl2, sip, scs;
                scales(p.a, p.b, dim, &sl2, &sip, &scs);
                double gl2 = g->l2sq(p.a, p.b, dim), vl2 = v->l2sq(p.a, p.b, dim);
                double gip = g->ip(p.a, p.b, dim), vip = v->ip(p.a, p.b, dim);
                double gcs = g->cosine(p.a, p.b, dim), vcs = v->cosine(p.a, p.b, dim);
                vecpair_free(&p);
                if (fabs(gl2 - vl2) > tol_for(sl2) || fabs(gip - vip) > tol_for(sip) ||
                    fabs(gcs - vcs) > tol_for(scs)) {
                    printf("    %s dim %zu off %zu/%zu: l2 %.9g/%.9g ip %.9g/%.9g cos %.9g/%.9g\n",
                           name, dim, oa, ob, gl2, vl2, gip, vip, gcs, vcs);
                    return -1;
                }
            }
        }
    }
    /* Batch: n rows at stride dim + extra (extra 0..2 makes rows unaligned). */
    for (size_t dim = 1; dim <= DIM_MAX; dim += (dim < 40 ? 1 : 7)) {
        for (size_t extra = 0; extra < 3; extra++) {
            size_t n = 1 + (dim + extra) % 11, stride = dim + extra;
            size_t total = (n - 1) * stride + dim + 1;
            float *base = malloc(total * sizeof(float)), *q = malloc((dim + 1) * sizeof(float));
            float out_l2[16], out_ip[16];
            if (!base || !q) return -1;
            trng_vec(&r, base, total);
            trng_vec(&r, q, dim + 1);
            const float *b1 = base + 1, *q1 = q + 1; /* odd start, last row ends at the end */
            v->l2sq_batch(q1, b1, stride, n, dim, out_l2);
            v->ip_batch(q1, b1, stride, n, dim, out_ip);
            int bad = 0;
            for (size_t i = 0; i < n && !bad; i++) {
                double sl2, sip, scs;
                scales(q1, b1 + i * stride, dim, &sl2, &sip, &scs);
                double gl2 = g->l2sq(q1, b1 + i * stride, dim);
                double gip = g->ip(q1, b1 + i * stride, dim);
                if (fabs(gl2 - out_l2[i]) > tol_for(sl2) || fabs(gip - out_ip[i]) > tol_for(sip)) {
                    printf("    %s batch dim %zu row %zu/%zu: l2 %.9g/%.9g ip %.9g/%.9g\n", name,
                           dim, i, n, gl2, out_l2[i], gip, out_ip[i]);
                    bad = 1;
                }
            }
            free(base);
            free(q);
            if (bad) return -1;
        }
    }
    return 0;
}

PXS_TEST(index_dist_avx2_matches_generic) {
    SKIP_IF(!(pxs_cpu_features() & PXS_CPU_AVX2), "CPU (or PXS_FORCE_GENERIC) has no AVX2+FMA");
    const struct pxs__dist_kernels *v = pxs__index_kernels_avx2();
    SKIP_IF(v == NULL, "AVX2 kernels not built for this architecture");
    CHECK(diff_one(v, "avx2") == 0);
}

PXS_TEST(index_dist_avx512_matches_generic) {
    SKIP_IF(!(pxs_cpu_features() & PXS_CPU_AVX512F), "CPU (or PXS_FORCE_GENERIC) has no AVX-512");
    const struct pxs__dist_kernels *v = pxs__index_kernels_avx512();
    SKIP_IF(v == NULL, "AVX-512 kernels not built for this architecture");
    CHECK(diff_one(v, "avx512") == 0);
}

PXS_TEST(index_dist_generic_batch_matches_single) {
    CHECK(diff_one(pxs__index_kernels_generic(), "generic") == 0);
}

PXS_TEST(index_dist_dispatch_follows_cpu) {
    unsigned f = pxs_cpu_features();
    const char *want = (f & PXS_CPU_AVX512F) ? "avx512" : (f & PXS_CPU_AVX2) ? "avx2" : "generic";
    CHECK_STR(pxs_dist_kernel_name(), want);
    const char *force = getenv("PXS_FORCE_GENERIC");
    if (force && strcmp(force, "1") == 0) CHECK_STR(pxs_dist_kernel_name(), "generic");
    /* Public wrappers agree with the chosen set and tolerate degenerate input. */
    float a[5] = {1, 2, 3, 4, 5}, b[5] = {5, 4, 3, 2, 1};
    CHECK_NEAR(pxs_dist_l2sq(a, b, 5), 40.0, 1e-5);
    CHECK_NEAR(pxs_dist_ip(a, b, 5), 35.0, 1e-5);
    CHECK_NEAR(pxs_dist_cosine(a, b, 5), 35.0 / 55.0, 1e-6);
    CHECK_NEAR(pxs_dist_cosine(a, a, 5), 1.0, 1e-6);
    float z[5] = {0};
    CHECK_NEAR(pxs_dist_cosine(a, z, 5), 0.0, 0);
    CHECK_NEAR(pxs_dist_l2sq(NULL, b, 5), 0.0, 0);
    CHECK_NEAR(pxs_dist_ip(a, b, 0), 0.0, 0);
}

PXS_TEST(index_vec_normalize) {
    float v[3] = {3, 0, 4};
    CHECK_NEAR(pxs_vec_normalize(v, 3), 5.0, 1e-6);
    CHECK_NEAR(v[0], 0.6, 1e-7);
    CHECK_NEAR(v[2], 0.8, 1e-7);
    float z[4] = {0};
    CHECK_NEAR(pxs_vec_normalize(z, 4), 0.0, 0);
    CHECK(z[0] == 0 && z[3] == 0);
    /* Components whose float squares overflow or underflow still normalise. */
    float big[2] = {3e30f, 4e30f};
    CHECK_NEAR(pxs_vec_normalize(big, 2), 5e30, 1e25);
    CHECK_NEAR(big[0], 0.6, 1e-6);
    float tiny[2] = {3e-40f, 4e-40f};
    pxs_vec_normalize(tiny, 2);
    CHECK_NEAR(tiny[1], 0.8, 1e-5);
    CHECK_NEAR(pxs_vec_normalize(NULL, 3), 0.0, 0);
}

PXS_TEST(index_metric_names) {
    enum pxs_metric m;
    CHECK_STR(pxs_metric_name(PXS_METRIC_L2), "L2");
    CHECK_STR(pxs_metric_name(PXS_METRIC_IP), "IP");
    CHECK_STR(pxs_metric_name(PXS_METRIC_COSINE), "COSINE");
    CHECK_STR(pxs_metric_name((enum pxs_metric)99), "UNKNOWN");
    CHECK_OK(pxs_metric_parse("cosine", &m), NULL);
    CHECK_EQ_INT(m, PXS_METRIC_COSINE);
    CHECK_OK(pxs_metric_parse("l2", &m), NULL);
    CHECK_EQ_INT(m, PXS_METRIC_L2);
    CHECK_OK(pxs_metric_parse("Ip", &m), NULL);
    CHECK_EQ_INT(m, PXS_METRIC_IP);
    CHECK_OK(pxs_metric_parse("JACCARD", &m), NULL);
    CHECK_EQ_INT(m, PXS_METRIC_JACCARD);
    CHECK_EQ_INT(pxs_metric_parse("L", &m), PXS_EINVAL);
    CHECK_EQ_INT(pxs_metric_parse("L22", &m), PXS_EINVAL);
    CHECK_EQ_INT(pxs_metric_parse("", &m), PXS_EINVAL);
    CHECK_EQ_INT(pxs_metric_parse(NULL, &m), PXS_EINVAL);
    CHECK_EQ_INT(pxs_metric_higher_is_closer(PXS_METRIC_L2), 0);
    CHECK_EQ_INT(pxs_metric_higher_is_closer(PXS_METRIC_IP), 1);
    CHECK_EQ_INT(pxs_metric_higher_is_closer(PXS_METRIC_COSINE), 1);
    CHECK_EQ_INT(pxs_metric_higher_is_closer(PXS_METRIC_HAMMING), 0);
}
