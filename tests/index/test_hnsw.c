/*
 * tests/index/test_hnsw.c — the HNSW index against its oracle, FLAT:
 * recall@10 on fixed-seed random data for every metric, tombstones and
 * replacement, determinism of the build, concurrent searches, allocation
 * failure during add, parameter checks, and the graph invariants
 * (pxs__hnsw_check) after every phase.
 */
#include "index/index_int.h"
#include "../test.h"
#include "index_test_util.h"

#include <pthread.h>
#include <stdlib.h>

static int new_hnsw(enum pxs_metric metric, size_t dim, int m, int efc, uint64_t seed,
                    pxs_index **out) {
    struct pxs_index_params p = {.type = PXS_INDEX_HNSW,
                                 .metric = metric,
                                 .dim = dim,
                                 .hnsw_m = m,
                                 .hnsw_ef_construction = efc,
                                 .hnsw_seed = seed};
    return pxs_index_new(&p, out, NULL);
}

static int new_flat(enum pxs_metric metric, size_t dim, pxs_index **out) {
    struct pxs_index_params p = {.type = PXS_INDEX_FLAT, .metric = metric, .dim = dim};
    return pxs_index_new(&p, out, NULL);
}

/* Mean recall@k of ann against flat over nq queries from r. */
static double recall_at(const pxs_index *ann, const pxs_index *flat, struct trng *r, size_t dim,
                        size_t nq, size_t k, int ef) {
    float q[256];
    struct pxs_hit a[64], f[64];
    struct pxs_search_params sp = {.ef = ef};
    size_t found = 0, total = 0;
    for (size_t i = 0; i < nq; i++) {
        trng_vec(r, q, dim);
        size_t na = 0, nf = 0;
        if (pxs_index_search_ex(ann, q, k, &sp, a, &na, NULL) != PXS_OK) return -1;
        if (pxs_index_search(flat, q, k, f, &nf, NULL) != PXS_OK) return -1;
        for (size_t x = 0; x < nf; x++)
            for (size_t y = 0; y < na; y++)
                if (a[y].id == f[x].id) {
                    found++;
                    break;
                }
        total += nf;
    }
    return total ? (double)found / (double)total : 1.0;
}

PXS_TEST(index_hnsw_recall_l2_5k_64d) {
    enum { N = 5000, DIM = 64 };
    pxs_index *h, *f;
    CHECK_OK(new_hnsw(PXS_METRIC_L2, DIM, 16, 200, 0, &h), NULL);
    CHECK_OK(new_flat(PXS_METRIC_L2, DIM, &f), NULL);
    struct trng r = {2024};
    float v[DIM];
    struct pxs_err err = {0};
    for (int i = 0; i < N; i++) {
        trng_vec(&r, v, DIM);
        CHECK_OK(pxs_index_add(h, 1000 + i, v, &err), &err);
        CHECK_OK(pxs_index_add(f, 1000 + i, v, &err), &err);
    }
    CHECK_OK(pxs__hnsw_check(h, &err), &err);
    CHECK_EQ_INT(pxs_index_count(h), N);
    CHECK_EQ_INT(pxs_index_get_type(h), PXS_INDEX_HNSW);
    /* Uniform 64-d data has no low-dimensional structure, the hardest case
     * for a graph index: measured 0.92 at ef=64, 0.99 at ef=128. */
    double rec = recall_at(h, f, &r, DIM, 200, 10, 64);
    printf("    uniform recall@10 ef=64: %.4f\n", rec);
    CHECK_MSG(rec >= 0.88, "recall@10 at ef=64 is %.4f", rec);
    double rec_hi = recall_at(h, f, &r, DIM, 200, 10, 128);
    printf("    uniform recall@10 ef=128: %.4f\n", rec_hi);
    CHECK_MSG(rec_hi >= 0.97, "recall@10 at ef=128 is %.4f", rec_hi);
    double rec_all = recall_at(h, f, &r, DIM, 50, 10, 1000);
    CHECK_MSG(rec_all >= 0.999, "recall@10 at ef=1000 is %.4f", rec_all);
    /* Scores of returned hits are the exact metric values. */
    struct pxs_hit hits[10];
    size_t n;
    trng_vec(&r, v, DIM);
    CHECK_OK(pxs_index_search(h, v, 10, hits, &n, NULL), NULL);
    CHECK_EQ_INT(n, 10);
    for (size_t i = 1; i < n; i++) CHECK(hits[i - 1].score <= hits[i].score);
    pxs_index_free(h);
    pxs_index_free(f);
}

/* Embedding-like data: 50 Gaussian-ish clusters in 64-d with a spread
 * that leaves neighbours meaningful; queries come from the same clusters. */
PXS_TEST(index_hnsw_recall_l2_clustered_5k_64d) {
    enum { N = 5000, DIM = 64, C = 50, NQ = 200 };
    static float centers[C][DIM];
    struct trng r = {4242};
    for (int c = 0; c < C; c++) trng_vec(&r, centers[c], DIM);
    pxs_index *h, *f;
    CHECK_OK(new_hnsw(PXS_METRIC_L2, DIM, 16, 200, 0, &h), NULL);
    CHECK_OK(new_flat(PXS_METRIC_L2, DIM, &f), NULL);
    float v[DIM];
    for (int i = 0; i < N + NQ; i++) {
        const float *c = centers[trng_next(&r) % C];
        for (int d = 0; d < DIM; d++)
            v[d] = c[d] + 0.5f * (trng_float(&r) + trng_float(&r) + trng_float(&r));
        if (i < N) {
            CHECK_OK(pxs_index_add(h, i, v, NULL), NULL);
            CHECK_OK(pxs_index_add(f, i, v, NULL), NULL);
            continue;
        }
        struct pxs_hit a[10], b[10];
        size_t na, nb;
        struct pxs_search_params sp = {.ef = 64};
        CHECK_OK(pxs_index_search_ex(h, v, 10, &sp, a, &na, NULL), NULL);
        CHECK_OK(pxs_index_search(f, v, 10, b, &nb, NULL), NULL);
        static size_t found;
        if (i == N) found = 0;
        for (size_t x = 0; x < nb; x++)
            for (size_t y = 0; y < na; y++) found += a[y].id == b[x].id;
        if (i == N + NQ - 1) {
            double rec = (double)found / (NQ * 10.0);
            printf("    clustered recall@10 ef=64: %.4f\n", rec);
            CHECK_MSG(rec >= 0.95, "clustered recall@10 at ef=64 is %.4f", rec);
        }
    }
    CHECK_OK(pxs__hnsw_check(h, NULL), NULL);
    pxs_index_free(h);
    pxs_index_free(f);
}

PXS_TEST(index_hnsw_recall_ip_and_cosine) {
    enum { N = 3000, DIM = 32 };
    const enum pxs_metric metrics[] = {PXS_METRIC_IP, PXS_METRIC_COSINE};
    for (int mi = 0; mi < 2; mi++) {
        pxs_index *h, *f;
        CHECK_OK(new_hnsw(metrics[mi], DIM, 16, 200, 7, &h), NULL);
        CHECK_OK(new_flat(metrics[mi], DIM, &f), NULL);
        struct trng r = {77};
        float v[DIM];
        for (int i = 0; i < N; i++) {
            trng_vec(&r, v, DIM);
            CHECK_OK(pxs_index_add(h, i, v, NULL), NULL);
            CHECK_OK(pxs_index_add(f, i, v, NULL), NULL);
        }
        CHECK_OK(pxs__hnsw_check(h, NULL), NULL);
        double rec = recall_at(h, f, &r, DIM, 200, 10, 128);
        printf("    %s recall@10 ef=128: %.4f\n", pxs_metric_name(metrics[mi]), rec);
        CHECK_MSG(rec >= 0.9, "%s recall %.4f", pxs_metric_name(metrics[mi]), rec);
        /* Returned scores match FLAT's for the same ids. */
        struct pxs_hit a[5], b[5];
        size_t na, nb;
        trng_vec(&r, v, DIM);
        CHECK_OK(pxs_index_search(h, v, 5, a, &na, NULL), NULL);
        CHECK_OK(pxs_index_search(f, v, 5, b, &nb, NULL), NULL);
        CHECK_EQ_INT(na, 5);
        CHECK(a[0].score >= a[4].score); /* higher is closer */
        if (a[0].id == b[0].id) CHECK_NEAR(a[0].score, b[0].score, 1e-5);
        pxs_index_free(h);
        pxs_index_free(f);
    }
}

PXS_TEST(index_hnsw_tombstones_and_replace) {
    enum { N = 2000, DIM = 16 };
    pxs_index *h, *f;
    CHECK_OK(new_hnsw(PXS_METRIC_L2, DIM, 8, 100, 5, &h), NULL);
    CHECK_OK(new_flat(PXS_METRIC_L2, DIM, &f), NULL);
    static float vecs[N][DIM];
    struct trng r = {5};
    for (int i = 0; i < N; i++) {
        trng_vec(&r, vecs[i], DIM);
        CHECK_OK(pxs_index_add(h, i, vecs[i], NULL), NULL);
        CHECK_OK(pxs_index_add(f, i, vecs[i], NULL), NULL);
    }
    size_t mem_before = pxs_index_memory(h);
    for (int i = 0; i < N; i += 2) {
        CHECK_OK(pxs_index_remove(h, i, NULL), NULL);
        CHECK_OK(pxs_index_remove(f, i, NULL), NULL);
    }
    struct pxs_err e = {0};
    CHECK_EQ_INT(pxs_index_remove(h, 0, &e), PXS_ENOTFOUND);
    CHECK_EQ_INT(e.code, PXS_OK);
    CHECK_EQ_INT(pxs_index_count(h), N / 2);
    CHECK_EQ_INT(pxs_index_memory(h), mem_before); /* tombstones keep their memory */
    CHECK_OK(pxs__hnsw_check(h, &e), &e);
    struct pxs_hit hits[50];
    size_t n;
    for (int i = 0; i < N; i += 7) {
        CHECK_OK(pxs_index_search(h, vecs[i], 50, hits, &n, NULL), NULL);
        CHECK_EQ_INT(n, 50);
        for (size_t j = 0; j < n; j++) CHECK_MSG(hits[j].id % 2 == 1, "removed id returned");
        if (i % 2 == 1) CHECK_EQ_INT(hits[0].id, i);
    }
    double rec = recall_at(h, f, &r, DIM, 100, 10, 64);
    printf("    recall@10 with half tombstoned: %.4f\n", rec);
    CHECK(rec >= 0.9);
    /* Replace: the id moves to a new vector and is found there. */
    float nv[DIM];
    for (int d = 0; d < DIM; d++) nv[d] = 5.0f;
    CHECK_OK(pxs_index_add(h, 1, nv, NULL), NULL);
    CHECK_EQ_INT(pxs_index_count(h), N / 2);
    CHECK_OK(pxs_index_search(h, nv, 1, hits, &n, NULL), NULL);
    CHECK_EQ_INT(hits[0].id, 1);
    CHECK_NEAR(hits[0].score, 0.0, 0);
    CHECK_OK(pxs_index_search(h, vecs[1], 3, hits, &n, NULL), NULL);
    for (size_t j = 0; j < n; j++) CHECK(hits[j].id != 1);
    /* Re-add a removed id. */
    CHECK_OK(pxs_index_add(h, 0, vecs[0], NULL), NULL);
    CHECK_OK(pxs_index_search(h, vecs[0], 1, hits, &n, NULL), NULL);
    CHECK_EQ_INT(hits[0].id, 0);
    CHECK_OK(pxs__hnsw_check(h, &e), &e);
    /* Remove everything: searches return nothing. */
    for (int i = 0; i < N; i++) {
        int rc = pxs_index_remove(h, i, NULL);
        CHECK(rc == PXS_OK || rc == PXS_ENOTFOUND);
    }
    CHECK_EQ_INT(pxs_index_count(h), 0);
    CHECK_OK(pxs_index_search(h, nv, 5, hits, &n, NULL), NULL);
    CHECK_EQ_INT(n, 0);
    CHECK_OK(pxs__hnsw_check(h, &e), &e);
    pxs_index_free(h);
    pxs_index_free(f);
}

PXS_TEST(index_hnsw_deterministic_build) {
    enum { N = 1500, DIM = 24 };
    pxs_index *a, *b;
    CHECK_OK(new_hnsw(PXS_METRIC_L2, DIM, 12, 64, 99, &a), NULL);
    CHECK_OK(new_hnsw(PXS_METRIC_L2, DIM, 12, 64, 99, &b), NULL);
    struct trng r = {8};
    float v[DIM];
    for (int i = 0; i < N; i++) {
        trng_vec(&r, v, DIM);
        CHECK_OK(pxs_index_add(a, i, v, NULL), NULL);
        CHECK_OK(pxs_index_add(b, i, v, NULL), NULL);
    }
    CHECK_EQ_INT(pxs_index_memory(a), pxs_index_memory(b));
    struct pxs_hit ha[20], hb[20];
    size_t na, nb;
    struct pxs_search_params sp = {.ef = 20};
    for (int t = 0; t < 50; t++) {
        trng_vec(&r, v, DIM);
        CHECK_OK(pxs_index_search_ex(a, v, 20, &sp, ha, &na, NULL), NULL);
        CHECK_OK(pxs_index_search_ex(b, v, 20, &sp, hb, &nb, NULL), NULL);
        CHECK_EQ_INT(na, nb);
        for (size_t i = 0; i < na; i++) CHECK_EQ_INT(ha[i].id, hb[i].id);
    }
    pxs_index_free(a);
    pxs_index_free(b);
}

struct search_job {
    const pxs_index *ix;
    const float *queries;
    size_t nq, dim;
    int64_t *out; /* nq * 10 ids */
    int failed;
};

static void *search_worker(void *arg) {
    struct search_job *j = arg;
    struct pxs_hit hits[10];
    for (int rep = 0; rep < 3; rep++) {
        for (size_t i = 0; i < j->nq; i++) {
            size_t n;
            if (pxs_index_search(j->ix, j->queries + i * j->dim, 10, hits, &n, NULL) != PXS_OK ||
                n != 10) {
                j->failed = 1;
                return NULL;
            }
            for (size_t h = 0; h < 10; h++) j->out[i * 10 + h] = hits[h].id;
        }
    }
    return NULL;
}

PXS_TEST(index_hnsw_concurrent_searches) {
    enum { N = 2000, DIM = 32, NQ = 100, T = 6 };
    pxs_index *h;
    CHECK_OK(new_hnsw(PXS_METRIC_COSINE, DIM, 16, 100, 0, &h), NULL);
    struct trng r = {31};
    float v[DIM];
    for (int i = 0; i < N; i++) {
        trng_vec(&r, v, DIM);
        CHECK_OK(pxs_index_add(h, i, v, NULL), NULL);
    }
    static float queries[NQ * DIM];
    trng_vec(&r, queries, NQ * DIM);
    static int64_t want[NQ * 10], got[T][NQ * 10];
    struct search_job solo = {h, queries, NQ, DIM, want, 0};
    search_worker(&solo);
    CHECK(!solo.failed);
    pthread_t th[T];
    struct search_job jobs[T];
    for (int t = 0; t < T; t++) {
        jobs[t] = (struct search_job){h, queries, NQ, DIM, got[t], 0};
        CHECK(pthread_create(&th[t], NULL, search_worker, &jobs[t]) == 0);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        CHECK(!jobs[t].failed);
        CHECK(memcmp(got[t], want, sizeof want) == 0);
    }
    pxs_index_free(h);
}

PXS_TEST(index_hnsw_survives_allocation_failure) {
    enum { DIM = 8 };
    pxs_index *h;
    CHECK_OK(new_hnsw(PXS_METRIC_L2, DIM, 4, 32, 0, &h), NULL);
    struct trng r = {17};
    float v[DIM];
    size_t added = 0;
    for (int i = 0; i < 400; i++) {
        trng_vec(&r, v, DIM);
        pxs_alloc_fail_after(1 + i % 16);
        struct pxs_err err = {0};
        int rc = pxs_index_add(h, i, v, &err);
        pxs_alloc_fail_after(0);
        if (rc == PXS_OK)
            added++;
        else
            CHECK_EQ_INT(rc, PXS_ENOMEM);
        CHECK_EQ_INT(pxs_index_count(h), added);
        if (i % 50 == 0) CHECK_OK(pxs__hnsw_check(h, &err), &err);
    }
    CHECK(added > 0 && added < 400);
    CHECK_OK(pxs__hnsw_check(h, NULL), NULL);
    /* A search whose scratch cannot be allocated reports ENOMEM. */
    pxs_index *fresh;
    CHECK_OK(new_hnsw(PXS_METRIC_L2, DIM, 4, 32, 0, &fresh), NULL);
    CHECK_OK(pxs_index_add(fresh, 1, v, NULL), NULL);
    struct pxs_hit hit;
    size_t n;
    pxs_alloc_fail_after(1);
    int rc = pxs_index_search(fresh, v, 1, &hit, &n, NULL);
    pxs_alloc_fail_after(0);
    CHECK_EQ_INT(rc, PXS_ENOMEM);
    CHECK_OK(pxs_index_search(fresh, v, 1, &hit, &n, NULL), NULL);
    CHECK_EQ_INT(hit.id, 1);
    pxs_index_free(fresh);
    pxs_index_free(h);
}

PXS_TEST(index_hnsw_params_and_small_cases) {
    pxs_index *h = NULL;
    struct pxs_index_params p = {.type = PXS_INDEX_HNSW, .metric = PXS_METRIC_L2, .dim = 3};
    p.hnsw_m = 1;
    CHECK_EQ_INT(pxs_index_new(&p, &h, NULL), PXS_EINVAL);
    p.hnsw_m = 129;
    CHECK_EQ_INT(pxs_index_new(&p, &h, NULL), PXS_EINVAL);
    p.hnsw_m = 0;
    p.hnsw_ef_construction = -5;
    CHECK_EQ_INT(pxs_index_new(&p, &h, NULL), PXS_EINVAL);
    p.hnsw_ef_construction = 0;
    p.hnsw_ef_search = -1;
    CHECK_EQ_INT(pxs_index_new(&p, &h, NULL), PXS_EINVAL);
    p.hnsw_ef_search = 0;
    CHECK(h == NULL);
    CHECK_OK(pxs_index_new(&p, &h, NULL), NULL);
    float q[3] = {0, 0, 0};
    struct pxs_hit hits[8];
    size_t n = 9;
    CHECK_OK(pxs_index_search(h, q, 8, hits, &n, NULL), NULL);
    CHECK_EQ_INT(n, 0);
    CHECK_OK(pxs__hnsw_check(h, NULL), NULL);
    /* Identical vectors: ties by smaller id; k beyond count. */
    const int64_t ids[] = {40, -2, 17, 5};
    float one[3] = {1, 1, 1};
    for (int i = 0; i < 4; i++) CHECK_OK(pxs_index_add(h, ids[i], one, NULL), NULL);
    CHECK_OK(pxs_index_search(h, one, 8, hits, &n, NULL), NULL);
    CHECK_EQ_INT(n, 4);
    const int64_t order[] = {-2, 5, 17, 40};
    for (int i = 0; i < 4; i++) CHECK_EQ_INT(hits[i].id, order[i]);
    /* ef smaller than k is raised to k. */
    struct pxs_search_params sp = {.ef = 1};
    CHECK_OK(pxs_index_search_ex(h, one, 3, &sp, hits, &n, NULL), NULL);
    CHECK_EQ_INT(n, 3);
    float bad[3] = {1, NAN, 1};
    struct pxs_err err = {0};
    CHECK_EQ_INT(pxs_index_add(h, 1, bad, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "component 1") != NULL);
    CHECK_EQ_INT(pxs_index_count(h), 4);
    CHECK_EQ_INT(pxs__hnsw_check(NULL, NULL), PXS_EINVAL);
    pxs_index_free(h);
}

/* Quantised traversal (SQ8 codes, exact float re-ranking): on data whose
 * dimensions have very different ranges and offsets, with later vectors
 * outside the range the quantiser was first fitted on (clamped codes, then
 * refits at 2048 and 4096 nodes), recall matches the float traversal of the
 * same graph, every returned score is the exact distance, the codes are
 * checked against the vectors (pxs__hnsw_check), and an index reloaded
 * from its serialized form refits to the same codes and answers the same. */
PXS_TEST(index_hnsw_quantised_traversal_matches_float) {
    enum { N = 5000, DIM = 48, NQ = 100 };
    pxs_index *h, *f;
    CHECK_OK(new_hnsw(PXS_METRIC_L2, DIM, 12, 100, 0, &h), NULL);
    CHECK_OK(new_flat(PXS_METRIC_L2, DIM, &f), NULL);
    struct trng r = {77};
    float v[DIM];
    float *x = malloc((size_t)N * DIM * sizeof(float));
    for (int i = 0; i < N; i++) {
        float grow = i < 1024 ? 1.0f : 1.5f; /* later rows leave the first fit's range */
        float *row = x + (size_t)i * DIM;
        for (int d = 0; d < DIM; d++) row[d] = (trng_float(&r) * (float)(1 + d % 7) + (float)d) * grow;
        CHECK_OK(pxs_index_add(h, i, row, NULL), NULL);
        CHECK_OK(pxs_index_add(f, i, row, NULL), NULL);
        if (i == 1023 || i == 1024 || i == 3000) CHECK_OK(pxs__hnsw_check(h, NULL), NULL);
        if (i == 1022) CHECK(!pxs__hnsw_quantized(h)); /* float traversal below 1024 nodes */
    }
    CHECK(pxs__hnsw_quantized(h));
    CHECK_OK(pxs__hnsw_check(h, NULL), NULL);
    struct pxs_buf buf;
    pxs_buf_init(&buf, (size_t)1 << 30);
    CHECK_OK(pxs_index_serialize(h, &buf, NULL), NULL);
    pxs_index *h2;
    CHECK_OK(pxs_index_deserialize(buf.data, buf.len, &h2, NULL), NULL);
    pxs_buf_free(&buf);
    CHECK(pxs__hnsw_quantized(h2));
    CHECK_OK(pxs__hnsw_check(h2, NULL), NULL);

    struct pxs_search_params sp = {.ef = 48};
    size_t found_q = 0, found_f = 0, total = 0;
    for (int i = 0; i < NQ; i++) {
        for (int d = 0; d < DIM; d++) v[d] = (trng_float(&r) * (float)(1 + d % 7) + (float)d) * 1.2f;
        struct pxs_hit a[10], b[10], c[10], e[10];
        size_t na, nb, nc, ne;
        CHECK_OK(pxs_index_search_ex(h, v, 10, &sp, a, &na, NULL), NULL);
        CHECK_OK(pxs_index_search_ex(h2, v, 10, &sp, b, &nb, NULL), NULL);
        CHECK_OK(pxs_index_search(f, v, 10, e, &ne, NULL), NULL);
        pxs__hnsw_set_float_traversal(h, 1);
        CHECK(!pxs__hnsw_quantized(h));
        CHECK_OK(pxs_index_search_ex(h, v, 10, &sp, c, &nc, NULL), NULL);
        pxs__hnsw_set_float_traversal(h, 0);
        CHECK_EQ_INT(na, 10);
        CHECK_EQ_INT(nb, na);
        for (size_t j = 0; j < na; j++) {
            CHECK_EQ_INT(b[j].id, a[j].id); /* reload: same codes, same answers */
            double want = ref_score(PXS_METRIC_L2, v, x + (size_t)a[j].id * DIM, DIM);
            CHECK_NEAR(a[j].score, want, 1e-4 * want + 1e-3); /* exact, not code units */
            for (size_t t = 0; t < ne; t++) {
                found_q += e[t].id == a[j].id;
                found_f += e[t].id == c[j].id;
            }
        }
        total += ne;
    }
    double rq = (double)found_q / (double)total, rf = (double)found_f / (double)total;
    printf("    recall@10 ef=48: quantised traversal %.4f, float traversal %.4f\n", rq, rf);
    CHECK(rq >= 0.95);
    CHECK(rq >= rf - 0.02);
    pxs_index_free(h);
    pxs_index_free(h2);
    pxs_index_free(f);
    free(x);
}
