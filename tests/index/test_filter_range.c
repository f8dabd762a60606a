/*
 * tests/index/test_filter_range.c — filtered search (allow callback, with
 * and without the allow_count hint) and range search (Milvus radius /
 * range_filter semantics): FLAT against a brute-force oracle, then HNSW and
 * the IVF family against FLAT with the same filter or range. Reports HNSW
 * recall@10 at 50 %, 10 %, 1 % and 0.1 % of rows allowed.
 */
#include "index/index_int.h"
#include "../test.h"
#include "index_test_util.h"

#include <stdlib.h>

/* Allows ids whose hash falls below per_mille / 1000. */
struct sel {
    unsigned per_mille;
    size_t calls;
};

static int allow_sel(int64_t id, void *user) {
    struct sel *s = user;
    s->calls++;
    uint64_t z = (uint64_t)id * 0x9e3779b97f4a7c15ULL;
    z ^= z >> 29;
    return (unsigned)(z % 1000) < s->per_mille;
}

enum { FR_N = 10000, FR_DIM = 24, FR_NQ = 100 };

static float *fr_data(void) {
    static float *x;
    if (x) return x;
    x = malloc((size_t)(FR_N + FR_NQ) * FR_DIM * sizeof(float));
    struct trng r = {555};
    float centres[30][FR_DIM];
    for (int c = 0; c < 30; c++) trng_vec(&r, centres[c], FR_DIM);
    for (int i = 0; i < FR_N + FR_NQ; i++) {
        const float *c = centres[trng_next(&r) % 30];
        for (int d = 0; d < FR_DIM; d++)
            x[i * FR_DIM + d] = c[d] + 0.5f * (trng_float(&r) + trng_float(&r));
    }
    return x;
}

static pxs_index *fr_build(enum pxs_index_type type, enum pxs_metric metric) {
    struct pxs_index_params p = {.type = type, .metric = metric, .dim = FR_DIM, .ivf_nlist = 32,
                                 .pq_m = 8};
    pxs_index *ix;
    if (pxs_index_new(&p, &ix, NULL) != PXS_OK) return NULL;
    const float *x = fr_data();
    for (int i = 0; i < FR_N; i++)
        if (pxs_index_add(ix, i, x + i * FR_DIM, NULL) != PXS_OK) return NULL;
    return ix;
}

static pxs_index *fr_flat, *fr_hnsw;

static int fr_setup(void) {
    if (!fr_flat) fr_flat = fr_build(PXS_INDEX_FLAT, PXS_METRIC_L2);
    if (!fr_hnsw) fr_hnsw = fr_build(PXS_INDEX_HNSW, PXS_METRIC_L2);
    return fr_flat && fr_hnsw ? 0 : -1;
}

PXS_TEST(index_filter_flat_matches_brute_force) {
    CHECK(fr_setup() == 0);
    const float *x = fr_data();
    struct sel s = {30, 0};
    struct pxs_search_params sp = {.allow = allow_sel, .allow_user = &s};
    static struct ref_hit ref[FR_N];
    for (int q = 0; q < 10; q++) {
        const float *qv = x + (FR_N + q) * FR_DIM;
        size_t nr = 0;
        for (int i = 0; i < FR_N; i++)
            if (allow_sel(i, &s)) ref[nr++] = (struct ref_hit){i, ref_score(PXS_METRIC_L2, qv, x + i * FR_DIM, FR_DIM), 0};
        qsort(ref, nr, sizeof ref[0], ref_hit_cmp);
        struct pxs_hit h[10];
        size_t n;
        CHECK_OK(pxs_index_search_ex(fr_flat, qv, 10, &sp, h, &n, NULL), NULL);
        CHECK_EQ_INT(n, 10);
        for (size_t j = 0; j < n; j++) {
            CHECK(allow_sel(h[j].id, &s));
            CHECK_EQ_INT(h[j].id, ref[j].id);
        }
    }
    /* A filter that refuses everything returns nothing. */
    struct sel none = {0, 0};
    sp.allow_user = &none;
    struct pxs_hit h[10];
    size_t n = 7;
    CHECK_OK(pxs_index_search_ex(fr_flat, x, 10, &sp, h, &n, NULL), NULL);
    CHECK_EQ_INT(n, 0);
    CHECK_OK(pxs_index_search_ex(fr_hnsw, x, 10, &sp, h, &n, NULL), NULL);
    CHECK_EQ_INT(n, 0);
}

/* Recall@10 of ix with the filter against FLAT with the same filter. */
static double filtered_recall(const pxs_index *ix, unsigned per_mille, int hint, int ef,
                              int nprobe) {
    const float *x = fr_data();
    struct sel s = {per_mille, 0};
    size_t allowed = 0;
    if (hint)
        for (int i = 0; i < FR_N; i++) allowed += allow_sel(i, &s) != 0;
    struct pxs_search_params sp = {.ef = ef, .nprobe = nprobe, .allow = allow_sel,
                                   .allow_user = &s, .allow_count = allowed};
    struct pxs_search_params fp = {.allow = allow_sel, .allow_user = &s};
    size_t found = 0, total = 0;
    for (int q = 0; q < FR_NQ; q++) {
        const float *qv = x + (FR_N + q) * FR_DIM;
        struct pxs_hit a[10], b[10];
        size_t na, nb;
        if (pxs_index_search_ex(ix, qv, 10, &sp, a, &na, NULL) != PXS_OK) return -1;
        if (pxs_index_search_ex(fr_flat, qv, 10, &fp, b, &nb, NULL) != PXS_OK) return -1;
        for (size_t i = 0; i < na; i++)
            if (!allow_sel(a[i].id, &s)) return -2; /* a refused id leaked */
        for (size_t i = 0; i < nb; i++)
            for (size_t j = 0; j < na; j++)
                if (a[j].id == b[i].id) {
                    found++;
                    break;
                }
        total += nb;
    }
    return total ? (double)found / (double)total : 1.0;
}

PXS_TEST(index_filter_hnsw_recall_by_selectivity) {
    CHECK(fr_setup() == 0);
    const unsigned sel[] = {500, 100, 10, 1};
    for (int i = 0; i < 4; i++) {
        double with_hint = filtered_recall(fr_hnsw, sel[i], 1, 64, 0);
        double sampled = filtered_recall(fr_hnsw, sel[i], 0, 64, 0);
        printf("    HNSW filtered recall@10 ef=64, %5.1f%% allowed: %.4f (hint), %.4f (sampled)\n",
               sel[i] / 10.0, with_hint, sampled);
        CHECK_MSG(with_hint >= 0.95 && sampled >= 0.95, "selectivity %u: %.4f / %.4f", sel[i],
                  with_hint, sampled);
    }
    /* IVF with a filter: nprobe = nlist scans everything, so exact. */
    pxs_index *ivf = fr_build(PXS_INDEX_IVF_FLAT, PXS_METRIC_L2);
    CHECK(ivf != NULL);
    for (int i = 0; i < 4; i++) {
        double r = filtered_recall(ivf, sel[i], 0, 0, 32);
        double r8 = filtered_recall(ivf, sel[i], 0, 0, 8);
        printf("    IVF_FLAT filtered recall@10, %5.1f%% allowed: nprobe=32 %.4f, nprobe=8 %.4f\n",
               sel[i] / 10.0, r, r8);
        CHECK(r >= 0.999);
    }
    pxs_index_free(ivf);
}

/* Brute-force range: hits of flat-ordered keys inside the Milvus range. */
PXS_TEST(index_range_semantics) {
    CHECK(fr_setup() == 0);
    const float *x = fr_data();
    const float *q = x + FR_N * FR_DIM;
    /* L2: keep range_filter <= d < radius. Pick radius = 20th distance. */
    struct pxs_hit all[40];
    size_t n;
    CHECK_OK(pxs_index_search(fr_flat, q, 40, all, &n, NULL), NULL);
    float radius = all[20].score, rf = all[5].score;
    struct pxs_search_params sp = {.range = 1, .radius = radius};
    struct pxs_hit h[100];
    CHECK_OK(pxs_index_search_ex(fr_flat, q, 100, &sp, h, &n, NULL), NULL);
    CHECK_EQ_INT(n, 20); /* d < radius excludes the 21st (ties aside) */
    for (size_t i = 0; i < n; i++) CHECK(h[i].score < radius);
    sp.has_range_filter = 1;
    sp.range_filter = rf;
    CHECK_OK(pxs_index_search_ex(fr_flat, q, 100, &sp, h, &n, NULL), NULL);
    CHECK_EQ_INT(n, 15);
    CHECK_EQ_INT(h[0].id, all[5].id);
    /* Limit k still applies. */
    CHECK_OK(pxs_index_search_ex(fr_flat, q, 4, &sp, h, &n, NULL), NULL);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(h[3].id, all[8].id);
    /* HNSW: same answers (ef widens until the front leaves the radius). */
    for (int k = 4; k <= 100; k *= 5) {
        struct pxs_hit g[100];
        size_t ng;
        CHECK_OK(pxs_index_search_ex(fr_flat, q, (size_t)k, &sp, h, &n, NULL), NULL);
        CHECK_OK(pxs_index_search_ex(fr_hnsw, q, (size_t)k, &sp, g, &ng, NULL), NULL);
        CHECK_EQ_INT(ng, n);
        for (size_t i = 0; i < n; i++) CHECK_EQ_INT(g[i].id, h[i].id);
    }
    /* A wide radius on HNSW: more hits than the default ef. */
    struct pxs_search_params wide = {.range = 1, .radius = all[39].score};
    struct pxs_hit g[100];
    size_t ng;
    CHECK_OK(pxs_index_search_ex(fr_hnsw, q, 100, &wide, g, &ng, NULL), NULL);
    CHECK_OK(pxs_index_search_ex(fr_flat, q, 100, &wide, h, &n, NULL), NULL);
    printf("    HNSW range search: %zu of %zu hits inside radius\n", ng, n);
    CHECK(ng >= n - 1);
    /* Misordered range_filter: EINVAL naming the rule; range_filter alone too. */
    struct pxs_err err = {0};
    sp.range_filter = radius + 1;
    CHECK_EQ_INT(pxs_index_search_ex(fr_flat, q, 5, &sp, h, &n, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "less than radius") != NULL);
    struct pxs_search_params only = {.has_range_filter = 1, .range_filter = 1};
    CHECK_EQ_INT(pxs_index_search_ex(fr_flat, q, 5, &only, h, &n, NULL), PXS_EINVAL);
    struct pxs_search_params nanr = {.range = 1, .radius = NAN};
    CHECK_EQ_INT(pxs_index_search_ex(fr_flat, q, 5, &nanr, h, &n, NULL), PXS_EINVAL);
}

PXS_TEST(index_range_ip_and_every_type) {
    const float *x = fr_data();
    const float *q = x + (FR_N + 3) * FR_DIM;
    const enum pxs_index_type types[] = {PXS_INDEX_HNSW, PXS_INDEX_IVF_FLAT, PXS_INDEX_IVF_SQ8};
    const enum pxs_metric metrics[] = {PXS_METRIC_IP, PXS_METRIC_COSINE};
    for (int mi = 0; mi < 2; mi++) {
        pxs_index *flat = fr_build(PXS_INDEX_FLAT, metrics[mi]);
        CHECK(flat != NULL);
        struct pxs_hit all[30];
        size_t n;
        CHECK_OK(pxs_index_search(flat, q, 30, all, &n, NULL), NULL);
        /* IP/COSINE: keep radius < s <= range_filter. */
        struct pxs_search_params sp = {.range = 1, .radius = all[25].score, .has_range_filter = 1,
                                       .range_filter = all[3].score, .nprobe = 32};
        struct pxs_hit h[50], g[50];
        size_t ng;
        CHECK_OK(pxs_index_search_ex(flat, q, 50, &sp, h, &n, NULL), NULL);
        CHECK_EQ_INT(n, 22);
        CHECK_EQ_INT(h[0].id, all[3].id);
        for (size_t i = 0; i < n; i++) CHECK(h[i].score > sp.radius && h[i].score <= sp.range_filter);
        struct pxs_err err = {0};
        struct pxs_search_params bad = sp;
        bad.range_filter = sp.radius - 1;
        CHECK_EQ_INT(pxs_index_search_ex(flat, q, 5, &bad, h, &ng, &err), PXS_EINVAL);
        CHECK(strstr(err.msg, "greater than radius") != NULL);
        for (int ti = 0; ti < 3; ti++) {
            pxs_index *ix = fr_build(types[ti], metrics[mi]);
            CHECK(ix != NULL);
            CHECK_OK(pxs_index_search_ex(ix, q, 50, &sp, g, &ng, NULL), NULL);
            size_t same = 0;
            for (size_t i = 0; i < ng; i++) {
                CHECK(g[i].score > sp.radius && g[i].score <= sp.range_filter);
                for (size_t j = 0; j < n; j++) same += g[i].id == h[j].id;
            }
            printf("    %s %s range search: %zu hits, %zu of FLAT's %zu\n",
                   pxs_index_type_name(types[ti]), pxs_metric_name(metrics[mi]), ng, same, n);
            /* SQ8 scores are approximate, so hits near the edges may move. */
            CHECK(same + (types[ti] == PXS_INDEX_IVF_SQ8 ? 3 : 0) >= n);
            pxs_index_free(ix);
        }
        pxs_index_free(flat);
    }
    /* Binary range: Hamming keep range_filter <= d < radius. */
    struct pxs_index_params p = {.type = PXS_INDEX_BIN_FLAT, .metric = PXS_METRIC_HAMMING, .dim = 16};
    pxs_index *b;
    CHECK_OK(pxs_index_new(&p, &b, NULL), NULL);
    for (int i = 0; i < 256; i++) {
        uint8_t v[2] = {(uint8_t)i, 0};
        CHECK_OK(pxs_index_add_binary(b, i, v, NULL), NULL);
    }
    uint8_t zero[2] = {0, 0};
    struct pxs_search_params sp = {.range = 1, .radius = 2, .has_range_filter = 1, .range_filter = 1};
    struct pxs_hit h[300];
    size_t n;
    CHECK_OK(pxs_index_search_binary(b, zero, 300, &sp, h, &n, NULL), NULL);
    CHECK_EQ_INT(n, 8); /* exactly one bit set */
    for (size_t i = 0; i < n; i++) CHECK_NEAR(h[i].score, 1.0, 0);
    pxs_index_free(b);
    pxs_index_free(fr_flat);
    pxs_index_free(fr_hnsw);
    fr_flat = fr_hnsw = NULL;
}
