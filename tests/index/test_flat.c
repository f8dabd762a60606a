/*
 * tests/index/test_flat.c — the FLAT index against a double-precision brute
 * force computed here, for every metric; replace/remove semantics, ties,
 * k larger than the index, bad input, allocation failure, and the private
 * id map under random churn.
 */
#include "index/index_int.h"
#include "../test.h"
#include "index_test_util.h"

#include <stdlib.h>

static int new_index(enum pxs_index_type type, enum pxs_metric metric, size_t dim,
                     pxs_index **out) {
    struct pxs_index_params p = {.type = type, .metric = metric, .dim = dim};
    return pxs_index_new(&p, out, NULL);
}

/* Check hits against the brute force over (ids, vecs). Ranks must agree,
 * except that two ids whose reference scores differ by less than the float
 * tolerance may swap. Returns 0 or -1 (after printing why). */
static int check_against_brute(const struct pxs_hit *hits, size_t n_hits, enum pxs_metric m,
                               const float *q, const int64_t *ids, const float *vecs, size_t n,
                               size_t dim, size_t k) {
    struct ref_hit *ref = malloc((n ? n : 1) * sizeof *ref);
    if (!ref) return -1;
    for (size_t i = 0; i < n; i++) {
        ref[i].id = ids[i];
        ref[i].score = ref_score(m, q, vecs + i * dim, dim);
        ref[i].higher = pxs_metric_higher_is_closer(m);
    }
    qsort(ref, n, sizeof *ref, ref_hit_cmp);
    size_t want = k < n ? k : n;
    int bad = 0;
    if (n_hits != want) {
        printf("    n_hits %zu, want %zu\n", n_hits, want);
        bad = 1;
    }
    for (size_t r = 0; r < n_hits && !bad; r++) {
        double tol = 1e-4 * (fabs(ref[r].score) + 1.0);
        if (fabs(hits[r].score - ref[r].score) > tol) {
            printf("    rank %zu: score %.9g, want %.9g\n", r, hits[r].score, ref[r].score);
            bad = 1;
        }
        if (hits[r].id != ref[r].id) {
            double s = NAN; /* the reference score of the id we got */
            for (size_t i = 0; i < n; i++)
                if (ref[i].id == hits[r].id) s = ref[i].score;
            if (!(fabs(s - ref[r].score) <= tol)) {
                printf("    rank %zu: id %lld, want %lld\n", r, (long long)hits[r].id,
                       (long long)ref[r].id);
                bad = 1;
            }
        }
        if (r > 0) {
            int ordered = pxs_metric_higher_is_closer(m) ? hits[r - 1].score >= hits[r].score
                                                         : hits[r - 1].score <= hits[r].score;
            if (!ordered) {
                printf("    rank %zu not best-first\n", r);
                bad = 1;
            }
        }
    }
    free(ref);
    return bad ? -1 : 0;
}

PXS_TEST(index_flat_exact_all_metrics) {
    const enum pxs_metric metrics[] = {PXS_METRIC_L2, PXS_METRIC_IP, PXS_METRIC_COSINE};
    const size_t dims[] = {1, 7, 37, 128};
    struct trng r = {7};
    for (size_t mi = 0; mi < 3; mi++) {
        for (size_t di = 0; di < 4; di++) {
            size_t dim = dims[di], n = 700;
            pxs_index *ix;
            CHECK_OK(new_index(PXS_INDEX_FLAT, metrics[mi], dim, &ix), NULL);
            float *vecs = malloc(n * dim * sizeof(float)), q[128];
            int64_t *ids = malloc(n * sizeof(int64_t));
            struct pxs_hit hits[800];
            CHECK(vecs && ids);
            struct pxs_err err = {0};
            for (size_t i = 0; i < n; i++) {
                trng_vec(&r, vecs + i * dim, dim);
                ids[i] = (int64_t)(trng_next(&r) >> 1) - (INT64_MAX / 2); /* some negative */
                CHECK_OK(pxs_index_add(ix, ids[i], vecs + i * dim, &err), &err);
            }
            CHECK_EQ_INT(pxs_index_count(ix), n);
            CHECK_EQ_INT(pxs_index_dim(ix), dim);
            CHECK_EQ_INT(pxs_index_metric(ix), metrics[mi]);
            const size_t ks[] = {1, 10, 100, n, n + 50};
            for (int t = 0; t < 5; t++) {
                trng_vec(&r, q, dim);
                if (t == 4) /* scale must not matter for COSINE */
                    for (size_t i = 0; i < dim; i++) q[i] *= 1000.0f;
                size_t n_hits = 99;
                CHECK_OK(pxs_index_search(ix, q, ks[t], hits, &n_hits, &err), &err);
                CHECK_MSG(check_against_brute(hits, n_hits, metrics[mi], q, ids, vecs, n, dim,
                                              ks[t]) == 0,
                          "metric %s dim %zu k %zu", pxs_metric_name(metrics[mi]), dim, ks[t]);
            }
            pxs_index_free(ix);
            free(vecs);
            free(ids);
        }
    }
}

PXS_TEST(index_flat_replace_and_remove) {
    enum { DIM = 5, N = 200 };
    struct trng r = {11};
    pxs_index *ix;
    CHECK_OK(new_index(PXS_INDEX_FLAT, PXS_METRIC_L2, DIM, &ix), NULL);
    static float vecs[N][DIM];
    static int live[N];
    struct pxs_err err = {0};
    for (int i = 0; i < N; i++) {
        trng_vec(&r, vecs[i], DIM);
        CHECK_OK(pxs_index_add(ix, i, vecs[i], &err), &err);
        live[i] = 1;
    }
    /* Replace: same id, new vector, count unchanged, old vector gone. */
    float old5[DIM];
    memcpy(old5, vecs[5], sizeof old5);
    trng_vec(&r, vecs[5], DIM);
    CHECK_OK(pxs_index_add(ix, 5, vecs[5], &err), &err);
    CHECK_EQ_INT(pxs_index_count(ix), N);
    struct pxs_hit hits[N];
    size_t n_hits;
    CHECK_OK(pxs_index_search(ix, vecs[5], 1, hits, &n_hits, &err), &err);
    CHECK_EQ_INT(n_hits, 1);
    CHECK_EQ_INT(hits[0].id, 5);
    CHECK_NEAR(hits[0].score, 0.0, 0);
    CHECK_OK(pxs_index_search(ix, old5, 1, hits, &n_hits, &err), &err);
    CHECK(hits[0].id != 5 || hits[0].score > 0);
    /* Remove in random order, checking every live vector stays findable. */
    for (int step = 0; step < N - 3; step++) {
        int victim;
        do victim = (int)(trng_next(&r) % N);
        while (!live[victim]);
        CHECK_OK(pxs_index_remove(ix, victim, &err), &err);
        live[victim] = 0;
        struct pxs_err e2 = {0};
        CHECK_EQ_INT(pxs_index_remove(ix, victim, &e2), PXS_ENOTFOUND);
        CHECK_EQ_INT(e2.code, PXS_OK); /* err untouched */
        CHECK(e2.msg[0] == '\0');
        if (step % 17 == 0 || step > N - 10) {
            size_t n_live = 0;
            for (int i = 0; i < N; i++) {
                if (!live[i]) continue;
                n_live++;
                CHECK_OK(pxs_index_search(ix, vecs[i], 1, hits, &n_hits, &err), &err);
                CHECK_EQ_INT(hits[0].id, i);
            }
            CHECK_EQ_INT(pxs_index_count(ix), n_live);
            CHECK_OK(pxs_index_search(ix, vecs[0], N, hits, &n_hits, &err), &err);
            CHECK_EQ_INT(n_hits, n_live);
            for (size_t h = 0; h < n_hits; h++) CHECK(live[hits[h].id]);
        }
    }
    /* Re-adding a removed id works. */
    int gone = 0;
    while (live[gone]) gone++;
    CHECK_OK(pxs_index_add(ix, gone, vecs[gone], &err), &err);
    CHECK_OK(pxs_index_search(ix, vecs[gone], 1, hits, &n_hits, &err), &err);
    CHECK_EQ_INT(hits[0].id, gone);
    pxs_index_free(ix);
}

PXS_TEST(index_flat_ties_break_by_smaller_id) {
    const enum pxs_metric metrics[] = {PXS_METRIC_L2, PXS_METRIC_IP, PXS_METRIC_COSINE};
    for (int mi = 0; mi < 3; mi++) {
        pxs_index *ix;
        CHECK_OK(new_index(PXS_INDEX_FLAT, metrics[mi], 3, &ix), NULL);
        float v[3] = {1, 2, 3}, far[3] = {-9, 9, -9};
        const int64_t ids[] = {9, 3, -4, 7, 100, 2};
        for (int i = 0; i < 6; i++) CHECK_OK(pxs_index_add(ix, ids[i], i == 4 ? far : v, NULL), NULL);
        struct pxs_hit hits[6];
        size_t n_hits;
        CHECK_OK(pxs_index_search(ix, v, 3, hits, &n_hits, NULL), NULL);
        CHECK_EQ_INT(n_hits, 3);
        CHECK_EQ_INT(hits[0].id, -4);
        CHECK_EQ_INT(hits[1].id, 2);
        CHECK_EQ_INT(hits[2].id, 3);
        CHECK_OK(pxs_index_search(ix, v, 6, hits, &n_hits, NULL), NULL);
        CHECK_EQ_INT(n_hits, 6);
        const int64_t order[] = {-4, 2, 3, 7, 9, 100};
        for (int i = 0; i < 6; i++) CHECK_EQ_INT(hits[i].id, order[i]);
        pxs_index_free(ix);
    }
}

PXS_TEST(index_flat_metric_direction_and_scores) {
    pxs_index *l2, *ip, *cs;
    CHECK_OK(new_index(PXS_INDEX_FLAT, PXS_METRIC_L2, 2, &l2), NULL);
    CHECK_OK(new_index(PXS_INDEX_FLAT, PXS_METRIC_IP, 2, &ip), NULL);
    CHECK_OK(new_index(PXS_INDEX_FLAT, PXS_METRIC_COSINE, 2, &cs), NULL);
    const float v[3][2] = {{1, 0}, {10, 10}, {0, -2}};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(pxs_index_add(l2, i, v[i], NULL), NULL);
        CHECK_OK(pxs_index_add(ip, i, v[i], NULL), NULL);
        CHECK_OK(pxs_index_add(cs, i, v[i], NULL), NULL);
    }
    const float q[2] = {2, 0};
    struct pxs_hit h[3];
    size_t n;
    CHECK_OK(pxs_index_search(l2, q, 3, h, &n, NULL), NULL);
    CHECK_EQ_INT(h[0].id, 0);
    CHECK_NEAR(h[0].score, 1.0, 1e-6);
    CHECK_EQ_INT(h[1].id, 2);
    CHECK_NEAR(h[1].score, 8.0, 1e-6);
    CHECK_OK(pxs_index_search(ip, q, 3, h, &n, NULL), NULL);
    CHECK_EQ_INT(h[0].id, 1);
    CHECK_NEAR(h[0].score, 20.0, 1e-5);
    CHECK_EQ_INT(h[2].id, 2);
    CHECK_NEAR(h[2].score, 0.0, 1e-6);
    CHECK_OK(pxs_index_search(cs, q, 3, h, &n, NULL), NULL);
    CHECK_EQ_INT(h[0].id, 0);
    CHECK_NEAR(h[0].score, 1.0, 1e-6);
    CHECK_EQ_INT(h[1].id, 1);
    CHECK_NEAR(h[1].score, sqrt(0.5), 1e-6);
    CHECK_NEAR(h[2].score, 0.0, 1e-6);
    /* A zero query has cosine 0 to everything; ties then go by id. */
    const float zero[2] = {0, 0};
    CHECK_OK(pxs_index_search(cs, zero, 3, h, &n, NULL), NULL);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(h[0].id, 0);
    CHECK_NEAR(h[0].score, 0.0, 0);
    /* Huge and tiny queries (norm beyond float dot range) still work. */
    const float huge[2] = {3e37f, 0}, tiny[2] = {1e-38f, 0};
    CHECK_OK(pxs_index_search(cs, huge, 1, h, &n, NULL), NULL);
    CHECK_EQ_INT(h[0].id, 0);
    CHECK_NEAR(h[0].score, 1.0, 1e-6);
    CHECK_OK(pxs_index_search(cs, tiny, 1, h, &n, NULL), NULL);
    CHECK_EQ_INT(h[0].id, 0);
    CHECK_NEAR(h[0].score, 1.0, 1e-6);
    pxs_index_free(l2);
    pxs_index_free(ip);
    pxs_index_free(cs);
}

PXS_TEST(index_flat_rejects_bad_input) {
    pxs_index *ix = (pxs_index *)1;
    struct pxs_err err = {0};
    struct pxs_index_params p = {.type = PXS_INDEX_FLAT, .metric = PXS_METRIC_L2, .dim = 0};
    CHECK_EQ_INT(pxs_index_new(&p, &ix, &err), PXS_EINVAL);
    CHECK(ix == NULL);
    p.dim = PXS_INDEX_DIM_MAX + 1;
    CHECK_EQ_INT(pxs_index_new(&p, &ix, NULL), PXS_EINVAL);
    p.dim = 4;
    p.metric = PXS_METRIC_HAMMING;
    CHECK_EQ_INT(pxs_index_new(&p, &ix, NULL), PXS_EUNSUPPORTED);
    p.metric = (enum pxs_metric)77;
    CHECK_EQ_INT(pxs_index_new(&p, &ix, NULL), PXS_EINVAL);
    p.metric = PXS_METRIC_L2;
    p.type = (enum pxs_index_type)77;
    CHECK_EQ_INT(pxs_index_new(&p, &ix, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_index_new(NULL, &ix, NULL), PXS_EINVAL);
    p.type = PXS_INDEX_FLAT;
    CHECK_EQ_INT(pxs_index_new(&p, NULL, NULL), PXS_EINVAL);
    p.dim = PXS_INDEX_DIM_MAX;
    CHECK_OK(pxs_index_new(&p, &ix, NULL), NULL);
    pxs_index_free(ix);

    CHECK_OK(new_index(PXS_INDEX_FLAT, PXS_METRIC_L2, 4, &ix), NULL);
    float v[4] = {1, 2, NAN, 4};
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_index_add(ix, 1, v, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "component 2") != NULL);
    CHECK(strstr(err.msg, "NaN") != NULL);
    v[2] = 0;
    v[3] = -INFINITY;
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_index_add(ix, 1, v, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "component 3") != NULL);
    CHECK_EQ_INT(pxs_index_count(ix), 0);
    CHECK_EQ_INT(pxs_index_add(ix, 1, NULL, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_index_add(NULL, 1, v, NULL), PXS_EINVAL);
    v[3] = 4;
    CHECK_OK(pxs_index_add(ix, 1, v, NULL), NULL);
    struct pxs_hit hits[2];
    size_t n = 5;
    v[0] = INFINITY;
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_index_search(ix, v, 1, hits, &n, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "query component 0") != NULL);
    CHECK_EQ_INT(n, 0);
    v[0] = 1;
    CHECK_EQ_INT(pxs_index_search(ix, v, 1, NULL, &n, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_index_search(ix, v, 1, hits, NULL, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_index_search(ix, NULL, 1, hits, &n, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_index_search(NULL, v, 1, hits, &n, NULL), PXS_EINVAL);
    struct pxs_search_params sp = {.ef = -1};
    CHECK_EQ_INT(pxs_index_search_ex(ix, v, 1, &sp, hits, &n, NULL), PXS_EINVAL);
    /* k == 0: nothing written, hits may be NULL. */
    n = 5;
    CHECK_OK(pxs_index_search(ix, v, 0, NULL, &n, NULL), NULL);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(pxs_index_remove(NULL, 1, NULL), PXS_EINVAL);
    CHECK_EQ_INT(pxs_index_count(NULL), 0);
    CHECK_EQ_INT(pxs_index_memory(NULL), 0);
    pxs_index_free(NULL);
    pxs_index_free(ix);
}

PXS_TEST(index_flat_empty_and_k_beyond_count) {
    pxs_index *ix;
    CHECK_OK(new_index(PXS_INDEX_FLAT, PXS_METRIC_IP, 3, &ix), NULL);
    float q[3] = {1, 1, 1};
    struct pxs_hit hits[10];
    size_t n = 7;
    CHECK_OK(pxs_index_search(ix, q, 10, hits, &n, NULL), NULL);
    CHECK_EQ_INT(n, 0);
    size_t mem0 = pxs_index_memory(ix);
    CHECK(mem0 > 0);
    for (int i = 0; i < 4; i++) {
        float v[3] = {(float)i, 0, 0};
        CHECK_OK(pxs_index_add(ix, i, v, NULL), NULL);
    }
    CHECK(pxs_index_memory(ix) > mem0);
    CHECK_OK(pxs_index_search(ix, q, 10, hits, &n, NULL), NULL);
    CHECK_EQ_INT(n, 4);
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(hits[i].id, 3 - i);
    CHECK_EQ_INT(pxs_index_get_type(ix), PXS_INDEX_FLAT);
    pxs_index_free(ix);
}

PXS_TEST(index_flat_survives_allocation_failure) {
    pxs_index *ix = NULL;
    struct pxs_index_params p = {.type = PXS_INDEX_FLAT, .metric = PXS_METRIC_COSINE, .dim = 8};
    for (long fail = 1; fail < 10; fail++) {
        pxs_alloc_fail_after(fail);
        int rc = pxs_index_new(&p, &ix, NULL);
        pxs_alloc_fail_after(0);
        if (rc == PXS_OK) break;
        CHECK_EQ_INT(rc, PXS_ENOMEM);
        CHECK(ix == NULL);
    }
    CHECK(ix != NULL);
    struct trng r = {3};
    float v[8];
    size_t added = 0;
    for (int i = 0; i < 300; i++) {
        trng_vec(&r, v, 8);
        pxs_alloc_fail_after(1 + i % 3);
        struct pxs_err err = {0};
        int rc = pxs_index_add(ix, i, v, &err);
        pxs_alloc_fail_after(0);
        if (rc == PXS_OK) {
            added++;
        } else {
            CHECK_EQ_INT(rc, PXS_ENOMEM);
            CHECK_EQ_INT(err.code, PXS_ENOMEM);
        }
        CHECK_EQ_INT(pxs_index_count(ix), added);
        struct pxs_hit h;
        size_t n;
        CHECK_OK(pxs_index_search(ix, v, 1, &h, &n, NULL), NULL);
        if (rc == PXS_OK) CHECK_EQ_INT(h.id, i);
    }
    CHECK(added > 0 && added < 300);
    pxs_index_free(ix);
}

PXS_TEST(index_idmap_random_churn) {
    struct pxs__idmap m;
    pxs__idmap_init(&m);
    enum { U = 2000 };
    static size_t ref[U]; /* slot + 1, 0 = absent */
    memset(ref, 0, sizeof ref);
    struct trng r = {99};
    size_t n = 0;
    for (int step = 0; step < 200000; step++) {
        int64_t id = (int64_t)(trng_next(&r) % U);
        int64_t key = id * 1000003 - 777; /* spread, some negative */
        size_t slot;
        if (trng_next(&r) % 3) {
            size_t val = (size_t)(trng_next(&r) % 100000);
            CHECK_OK(pxs__idmap_put(&m, key, val), NULL);
            if (!ref[id]) n++;
            ref[id] = val + 1;
        } else {
            CHECK_EQ_INT(pxs__idmap_del(&m, key), ref[id] != 0);
            if (ref[id]) n--;
            ref[id] = 0;
        }
        CHECK_EQ_INT(m.n, n);
        if (step % 5000 == 0) {
            for (int64_t i = 0; i < U; i++) {
                int has = pxs__idmap_get(&m, i * 1000003 - 777, &slot);
                CHECK_EQ_INT(has, ref[i] != 0);
                if (has) CHECK_EQ_INT(slot + 1, ref[i]);
            }
        }
    }
    pxs__idmap_free(&m);
}
