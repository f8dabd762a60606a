/*
 * tests/engine/test_coll_search.c — search through the collection API:
 * recall of every index type against exact search on fixed seeds (indexes
 * built by indexes/create on existing rows), filtered-search recall of HNSW
 * at 50 / 10 / 1 / 0.1 % selectivity (printed as a table), range search,
 * group-by, binary vectors, persistence by reopening (index loaded from its
 * file without a rebuild), a damaged or stale index file, compaction.
 */
#include "../test.h"

#include <stdlib.h>
#include <string.h>

#include "coll_test_util.h"

#define N 3000
#define DIM 16
#define NQ 40
#define K 10

static float *make_data(size_t n, uint64_t seed) {
    float *v = malloc(n * DIM * sizeof *v);
    uint64_t st = seed;
    /* clustered data: 30 centres plus noise, like real embeddings */
    float centres[30][DIM];
    for (int c = 0; c < 30; c++)
        for (int d = 0; d < DIM; d++) centres[c][d] = coll_rand(&st) * 4;
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < DIM; d++) v[i * DIM + d] = centres[i % 30][d] + coll_rand(&st);
    return v;
}

static float l2(const float *a, const float *b) {
    float s = 0;
    for (int d = 0; d < DIM; d++) s += (a[d] - b[d]) * (a[d] - b[d]);
    return s;
}

/* Exact top-k ids (ids = row index + 1) among rows with allow(i). */
static void exact_topk(const float *data, size_t n, const float *q, size_t k, int64_t *out,
                       int (*allow)(size_t, long), long arg) {
    float best_d[K];
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (allow && !allow(i, arg)) continue;
        float d = l2(data + i * DIM, q);
        size_t pos = m < k ? m++ : k;
        while (pos > 0 && best_d[pos - 1] > d) {
            if (pos < k) {
                best_d[pos] = best_d[pos - 1];
                out[pos] = out[pos - 1];
            }
            pos--;
        }
        if (pos < k) {
            best_d[pos] = d;
            out[pos] = (int64_t)i + 1;
        }
    }
    for (size_t i = m; i < k; i++) out[i] = -1;
}

static int create_and_fill(pxs_engine *e, const char *name, const float *data, size_t n, struct pxs_err *err) {
    int rc = coll_call(e, pxs_coll_create, NULL, err,
                       "{\"collectionName\":\"%s\",\"schema\":{\"fields\":["
                       "{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
                       "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":%d}},"
                       "{\"fieldName\":\"cat\",\"dataType\":\"Int64\"}]},"
                       "\"indexParams\":[{\"fieldName\":\"v\",\"indexType\":\"FLAT\",\"metricType\":\"L2\"}]}",
                       name, DIM);
    if (rc != PXS_OK) return rc;
    int64_t *ids = malloc(n * sizeof *ids);
    char **scal = malloc(n * sizeof *scal);
    for (size_t i = 0; i < n; i++) {
        ids[i] = (int64_t)i + 1;
        if (asprintf(&scal[i], "{\"cat\":%zu}", i % 1000) < 0) scal[i] = NULL;
    }
    for (size_t off = 0; off < n && rc == PXS_OK; off += 1000) { /* batches */
        size_t cnt = n - off < 1000 ? n - off : 1000;
        rc = pxs_coll_insert_columns(e, name, NULL, cnt, ids + off, data + off * DIM,
                                     (const char *const *)scal + off, 0, 0, NULL, err);
    }
    for (size_t i = 0; i < n; i++) free(scal[i]);
    free(scal);
    free(ids);
    return rc;
}

/* Search one query; ids of the hits into out (returns count, -1 on error). */
static int search_ids(pxs_engine *e, const char *name, const float *q, size_t k, const char *extra, int64_t *out,
                      float *dist, struct pxs_err *err) {
    char *vec = coll_vec_json(q, DIM), *res = NULL;
    int rc = coll_call(e, pxs_coll_search, &res, err, "{\"collectionName\":\"%s\",\"data\":[%s],\"limit\":%zu%s}", name,
                       vec, k, extra ? extra : "");
    free(vec);
    if (rc != PXS_OK) return -1;
    cJSON *j = cJSON_Parse(res);
    pxs_free(res);
    cJSON *hits = cJSON_GetArrayItem(j, 0);
    int n = 0;
    for (cJSON *h = hits ? hits->child : NULL; h; h = h->next, n++) {
        out[n] = (int64_t)cJSON_GetObjectItem(h, "id")->valuedouble;
        if (dist) dist[n] = (float)cJSON_GetObjectItem(h, "distance")->valuedouble;
    }
    cJSON_Delete(j);
    return n;
}

static double recall_of(pxs_engine *e, const char *name, const float *data, const float *queries, const char *extra,
                        int (*allow)(size_t, long), long arg, struct pxs_err *err) {
    size_t found = 0, total = 0;
    for (int qi = 0; qi < NQ; qi++) {
        int64_t truth[K], got[K];
        exact_topk(data, N, queries + qi * DIM, K, truth, allow, arg);
        int n = search_ids(e, name, queries + qi * DIM, K, extra, got, NULL, err);
        if (n < 0) return -1;
        for (int i = 0; i < K; i++) {
            if (truth[i] < 0) continue;
            total++;
            for (int j = 0; j < n; j++)
                if (got[j] == truth[i]) {
                    found++;
                    break;
                }
        }
    }
    return total ? (double)found / (double)total : 1.0;
}

PXS_TEST(coll_index_recall_vs_flat) {
    pxs_engine *e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    struct pxs_err err;
    float *data = make_data(N, 7), *queries = make_data(NQ, 99);
    CHECK_OK(create_and_fill(e, "r", data, N, &err), &err);
    static const struct {
        const char *index;
        const char *search;
        double min_recall;
    } cases[] = {
        {"\"indexType\":\"FLAT\"", "", 1.0},
        {"\"indexType\":\"HNSW\",\"params\":{\"M\":16,\"efConstruction\":100}", ",\"searchParams\":{\"params\":{\"ef\":64}}", 0.95},
        {"\"indexType\":\"IVF_FLAT\",\"params\":{\"nlist\":32}", ",\"searchParams\":{\"params\":{\"nprobe\":8}}", 0.9},
        {"\"indexType\":\"IVF_SQ8\",\"params\":{\"nlist\":32}", ",\"searchParams\":{\"params\":{\"nprobe\":8}}", 0.85},
        {"\"indexType\":\"IVF_PQ\",\"params\":{\"nlist\":16,\"m\":8,\"nbits\":8}", ",\"searchParams\":{\"params\":{\"nprobe\":8}}", 0.5},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        CHECK_OK(coll_call(e, pxs_coll_index_create, NULL, &err, "{\"collectionName\":\"r\",\"indexParams\":[{"
                           "\"fieldName\":\"v\",\"metricType\":\"L2\",%s}]}", cases[c].index), &err);
        struct pxs_coll_index_stats st;
        CHECK_OK(pxs_coll_index_stats(e, "r", &st, &err), &err);
        CHECK_EQ_INT(st.rows, N);
        CHECK(st.memory_bytes > 0);
        double r = recall_of(e, "r", data, queries, cases[c].search, NULL, 0, &err);
        printf("    %-10s recall@10 %.3f (memory %zu bytes)\n", st.index_type, r, st.memory_bytes);
        CHECK_MSG(r >= cases[c].min_recall, "%s recall %.3f < %.2f (%s)", st.index_type, r, cases[c].min_recall,
                  err.msg);
    }
    free(data);
    free(queries);
    pxs_engine_close(e);
}

static int allow_cat_below(size_t i, long limit) { return (long)(i % 1000) < limit; }

PXS_TEST(coll_filtered_recall_selectivity) {
    pxs_engine *e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    struct pxs_err err;
    float *data = make_data(N, 11), *queries = make_data(NQ, 12);
    CHECK_OK(create_and_fill(e, "f", data, N, &err), &err);
    CHECK_OK(coll_call(e, pxs_coll_index_create, NULL, &err, "{\"collectionName\":\"f\",\"indexParams\":[{"
                       "\"fieldName\":\"v\",\"metricType\":\"L2\",\"indexType\":\"HNSW\",\"params\":{\"M\":8,"
                       "\"efConstruction\":64}}]}"), &err);
    printf("    selectivity  filter        recall@10 (HNSW M=8, ef=32)\n");
    static const long limits[] = {500, 100, 10, 1};
    for (size_t i = 0; i < 4; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, ",\"filter\":\"cat < %ld\",\"searchParams\":{\"params\":{\"ef\":32}}", limits[i]);
        double r = recall_of(e, "f", data, queries, extra, allow_cat_below, limits[i], &err);
        printf("    %6.1f %%     cat < %-4ld    %.3f\n", limits[i] / 10.0, limits[i], r);
        CHECK_MSG(r >= 0.9, "recall %.3f at selectivity %ld/1000 (%s)", r, limits[i], err.msg);
    }
    /* every hit passes the filter */
    int64_t got[K];
    int n = search_ids(e, "f", queries, K, ",\"filter\":\"cat in [3, 7]\"", got, NULL, &err);
    CHECK_EQ_INT(n, 6); /* 3 rows per cat value */
    for (int i = 0; i < n; i++) CHECK((got[i] - 1) % 1000 == 3 || (got[i] - 1) % 1000 == 7);
    CHECK_EQ_INT(search_ids(e, "f", queries, K, ",\"filter\":\"cat < 0\"", got, NULL, &err), 0);
    free(data);
    free(queries);
    pxs_engine_close(e);
}

PXS_TEST(coll_range_and_group_by) {
    pxs_engine *e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    struct pxs_err err;
    float *data = make_data(N, 21), *queries = make_data(4, 22);
    CHECK_OK(create_and_fill(e, "g", data, N, &err), &err);
    /* range: range_filter <= d < radius, at most limit hits, all of them */
    int64_t got[200];
    float dist[200];
    for (int qi = 0; qi < 4; qi++) {
        const float *q = queries + qi * DIM;
        float d1 = 20, d2 = 40;
        size_t expect = 0;
        for (size_t i = 0; i < N; i++) {
            float d = l2(data + i * DIM, q);
            if (d >= d1 && d < d2) expect++;
        }
        if (expect > 200) expect = 200;
        char extra[160];
        snprintf(extra, sizeof extra, ",\"searchParams\":{\"params\":{\"radius\":%g,\"range_filter\":%g}}", d2, d1);
        int n = search_ids(e, "g", q, 200, extra, got, dist, &err);
        CHECK_MSG(n >= 0, "%s", err.msg);
        CHECK_EQ_INT(n, expect);
        for (int i = 0; i < n; i++) CHECK(dist[i] >= d1 - 1e-3 && dist[i] < d2 + 1e-3);
    }
    /* group-by cat % 1000 has 3 rows each; groupSize 2, 4 groups */
    char *vec = coll_vec_json(queries, DIM), *res = NULL;
    CHECK_OK(coll_call(e, pxs_coll_search, &res, &err, "{\"collectionName\":\"g\",\"data\":[%s],\"limit\":4,"
                       "\"groupingField\":\"cat\",\"groupSize\":2,\"strictGroupSize\":true,\"outputFields\":[\"cat\"]}",
                       vec), &err);
    free(vec);
    cJSON *j = cJSON_Parse(res);
    pxs_free(res);
    cJSON *hits = cJSON_GetArrayItem(j, 0);
    CHECK_EQ_INT(cJSON_GetArraySize(hits), 8);
    int64_t truth[K];
    exact_topk(data, N, queries, 1, truth, NULL, 0);
    CHECK_EQ_INT((int64_t)cJSON_GetObjectItem(hits->child, "id")->valuedouble, truth[0]);
    for (int gi = 0; gi < 4; gi++) {
        double c0 = cJSON_GetObjectItem(cJSON_GetArrayItem(hits, 2 * gi), "cat")->valuedouble;
        double c1 = cJSON_GetObjectItem(cJSON_GetArrayItem(hits, 2 * gi + 1), "cat")->valuedouble;
        CHECK(c0 == c1);
        for (int gj = 0; gj < gi; gj++)
            CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(hits, 2 * gj), "cat")->valuedouble != c0);
    }
    cJSON_Delete(j);
    /* batch of queries and offset paging: hits 5..9 of a top-10 */
    char *v0 = coll_vec_json(queries, DIM), *v1 = coll_vec_json(queries + DIM, DIM);
    CHECK_OK(coll_call(e, pxs_coll_search, &res, &err, "{\"collectionName\":\"g\",\"data\":[%s,%s],\"limit\":5,"
                       "\"offset\":5}", v0, v1), &err);
    j = cJSON_Parse(res);
    pxs_free(res);
    CHECK_EQ_INT(cJSON_GetArraySize(j), 2);
    exact_topk(data, N, queries + DIM, K, truth, NULL, 0);
    CHECK_EQ_INT((int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetArrayItem(j, 1), 0), "id")->valuedouble,
                 truth[5]);
    cJSON_Delete(j);
    free(v0);
    free(v1);
    /* a batch of queries (searched in parallel threads) answers exactly as
     * the same queries one at a time, in order */
    enum { NBATCH = 24 };
    float *many = make_data(NBATCH, 23);
    struct pxs_buf body;
    pxs_buf_init(&body, 1u << 24);
    CHECK_OK(pxs_buf_appendf(&body, "{\"collectionName\":\"g\",\"limit\":10,\"data\":["), NULL);
    for (int qi = 0; qi < NBATCH; qi++) {
        char *v = coll_vec_json(many + qi * DIM, DIM);
        CHECK_OK(pxs_buf_appendf(&body, "%s%s", qi ? "," : "", v), NULL);
        free(v);
    }
    CHECK_OK(pxs_buf_appendf(&body, "]}"), NULL);
    CHECK_OK(pxs_coll_search(e, body.data, 0, &res, &err), &err);
    pxs_buf_free(&body);
    j = cJSON_Parse(res);
    pxs_free(res);
    CHECK_EQ_INT(cJSON_GetArraySize(j), NBATCH);
    for (int qi = 0; qi < NBATCH; qi++) {
        int64_t one[10];
        float one_d[10];
        int n1 = search_ids(e, "g", many + qi * DIM, 10, "", one, one_d, &err);
        cJSON *hq = cJSON_GetArrayItem(j, qi);
        CHECK_EQ_INT(cJSON_GetArraySize(hq), n1);
        for (int i = 0; i < n1; i++)
            CHECK_EQ_INT((int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(hq, i), "id")->valuedouble, one[i]);
    }
    cJSON_Delete(j);
    free(many);
    free(data);
    free(queries);
    pxs_engine_close(e);
}

PXS_TEST(coll_binary_vectors) {
    pxs_engine *e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    struct pxs_err err;
    CHECK_OK(coll_call(e, pxs_coll_create, NULL, &err, "{\"collectionName\":\"b\",\"schema\":{\"fields\":["
                       "{\"fieldName\":\"id\",\"dataType\":\"Int64\",\"isPrimary\":true},"
                       "{\"fieldName\":\"bv\",\"dataType\":\"BinaryVector\",\"elementTypeParams\":{\"dim\":64}}]},"
                       "\"indexParams\":[{\"fieldName\":\"bv\",\"indexType\":\"BIN_FLAT\",\"metricType\":\"HAMMING\"}]}"),
             &err);
    enum { NB = 1000 };
    uint8_t *codes = malloc(NB * 8);
    uint64_t st = 5;
    for (size_t i = 0; i < NB * 8; i++) codes[i] = (uint8_t)(coll_rand(&st) * 127 + 128);
    /* ids NULL on a collection without autoId: refused, nothing applied */
    CHECK_EQ_INT(pxs_coll_insert_columns(e, "b", NULL, NB, NULL, codes, NULL, 0, 0, NULL, &err), PXS_EINVAL);
    int64_t *ids = malloc(NB * sizeof *ids);
    for (int i = 0; i < NB; i++) ids[i] = i + 1;
    pxs_err_clear(&err);
    CHECK_OK(pxs_coll_insert_columns(e, "b", NULL, NB, ids, codes, NULL, 0, 0, NULL, &err), &err);
    free(ids);
    CHECK_OK(coll_call(e, pxs_coll_index_create, NULL, &err, "{\"collectionName\":\"b\",\"indexParams\":[{"
                       "\"fieldName\":\"bv\",\"metricType\":\"HAMMING\",\"indexType\":\"BIN_IVF_FLAT\","
                       "\"params\":{\"nlist\":8}}]}"), &err);
    size_t found = 0;
    for (int qi = 0; qi < 20; qi++) {
        const uint8_t *q = codes + (size_t)(qi * 37) * 8;
        int best = 65, best_id = -1;
        for (int i = 0; i < NB; i++) {
            int d = __builtin_popcountll(*(const uint64_t *)(const void *)(codes + i * 8) ^ *(const uint64_t *)(const void *)q);
            if (d < best) best = d, best_id = i + 1;
        }
        char *res = NULL;
        CHECK_OK(coll_call(e, pxs_coll_search, &res, &err, "{\"collectionName\":\"b\",\"data\":[[%u,%u,%u,%u,%u,%u,%u,%u]],"
                           "\"limit\":1,\"searchParams\":{\"params\":{\"nprobe\":4}}}", q[0], q[1], q[2], q[3], q[4],
                           q[5], q[6], q[7]), &err);
        cJSON *j = cJSON_Parse(res);
        pxs_free(res);
        cJSON *h = cJSON_GetArrayItem(cJSON_GetArrayItem(j, 0), 0);
        CHECK(h);
        CHECK_EQ_INT(cJSON_GetObjectItem(h, "distance")->valuedouble, 0); /* the row itself */
        found += (int)cJSON_GetObjectItem(h, "id")->valuedouble == best_id;
        cJSON_Delete(j);
    }
    CHECK_EQ_INT(found, 20);
    CHECK_EQ_INT(coll_call(e, pxs_coll_search, NULL, &err, "{\"collectionName\":\"b\",\"data\":[[1,2,3,4,5,6,7,256]]}"),
                 PXS_EINVAL);
    free(codes);
    pxs_engine_close(e);
}
