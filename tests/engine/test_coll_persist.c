/*
 * tests/engine/test_coll_persist.c — durability of the vector collections:
 * reopening loads the HNSW index from its file without a rebuild (observable
 * in the index stats) and searches return the same hits; a damaged index
 * file is rebuilt; a stale file (rows written after it) is caught up; a file
 * whose deletions were pruned is rebuilt; HNSW compaction after many
 * deletes; index drop and re-create.
 */
#include "../test.h"

#include <stdlib.h>
#include <string.h>

#include "coll_test_util.h"

#define PDIM 8

static int fill(pxs_engine *e, int64_t first, size_t n, uint64_t seed, struct pxs_err *err) {
    float *v = malloc(n * PDIM * sizeof *v);
    int64_t *ids = malloc(n * sizeof *ids);
    uint64_t st = seed;
    for (size_t i = 0; i < n * PDIM; i++) v[i] = coll_rand(&st);
    for (size_t i = 0; i < n; i++) ids[i] = first + (int64_t)i;
    int rc = pxs_coll_insert_columns(e, "h", NULL, n, ids, v, NULL, 0, 0, NULL, err);
    free(v);
    free(ids);
    return rc;
}

static char *search_q(pxs_engine *e, struct pxs_err *err) {
    char *res = NULL;
    if (coll_call(e, pxs_coll_search, &res, err, "{\"collectionName\":\"h\",\"data\":[[0.1,0.2,0.3,0.4,-0.1,-0.2,-0.3,"
                  "-0.4],[0.5,0,0,0,0,0,0,0.5]],\"limit\":20}") != PXS_OK)
        return NULL;
    return res;
}

static void corrupt_file(const char *path) {
    FILE *f = fopen(path, "r+b");
    if (!f) return;
    fseek(f, 200, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 200, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

PXS_TEST(coll_persistence_index_file) {
    const char *dir = pxs_test_tmpdir();
    pxs_engine *e = coll_test_open(dir);
    CHECK(e);
    struct pxs_err err;
    CHECK_OK(coll_call(e, pxs_coll_create, NULL, &err, "{\"collectionName\":\"h\",\"dimension\":%d,\"metricType\":\"L2\","
                       "\"indexParams\":[{\"fieldName\":\"vector\",\"indexType\":\"HNSW\",\"metricType\":\"L2\","
                       "\"params\":{\"M\":8,\"efConstruction\":40}}]}", PDIM), &err);
    CHECK_OK(fill(e, 1, 2000, 1, &err), &err);
    CHECK_OK(coll_call(e, pxs_coll_delete, NULL, &err, "{\"collectionName\":\"h\",\"filter\":\"id <= 10\"}"), &err);
    char *before = search_q(e, &err);
    CHECK(before);
    pxs_engine_close(e);

    /* 1. reopen: loaded from the file, no build, same hits */
    e = coll_test_open(dir);
    CHECK(e);
    struct pxs_coll_index_stats st;
    CHECK_OK(pxs_coll_index_stats(e, "h", &st, &err), &err);
    CHECK_EQ_INT(st.loaded_from_file, 1);
    CHECK_EQ_INT(st.builds, 0);
    CHECK_EQ_INT(st.rows, 1990);
    char *after = search_q(e, &err);
    CHECK(after);
    CHECK_STR(after, before);
    pxs_free(after);
    char *desc = NULL;
    CHECK_OK(coll_call(e, pxs_coll_index_describe, &desc, &err, "{\"collectionName\":\"h\",\"indexName\":\"vector\"}"),
             &err);
    CHECK(strstr(desc, "\"loadedFromFile\":true"));
    CHECK(strstr(desc, "\"indexType\":\"HNSW\""));
    pxs_free(desc);
    pxs_engine_close(e);

    /* 2. damaged file: rebuilt from the stored rows */
    char path[4200];
    snprintf(path, sizeof path, "%s/indexes/coll-1.pxi", dir);
    corrupt_file(path);
    e = coll_test_open(dir);
    CHECK(e);
    CHECK_OK(pxs_coll_index_stats(e, "h", &st, &err), &err);
    CHECK_EQ_INT(st.loaded_from_file, 0);
    CHECK_EQ_INT(st.builds, 1);
    CHECK_EQ_INT(st.rows, 1990);
    after = search_q(e, &err);
    CHECK(after);
    cJSON *a = cJSON_Parse(after), *b = cJSON_Parse(before);
    /* rebuilt graph (same seed, same order): the nearest hit is the same */
    CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetArrayItem(a, 0), 0), "id")->valuedouble,
                 cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetArrayItem(b, 0), 0), "id")->valuedouble);
    cJSON_Delete(a);
    cJSON_Delete(b);
    pxs_free(after);
    pxs_engine_close(e);

    /* 3. stale file: keep the file of now, add rows, put the old file back */
    char *old = NULL;
    size_t old_len = 0;
    CHECK_OK(pxs_file_read_all(path, 1u << 30, &old, &old_len, &err), &err);
    e = coll_test_open(dir);
    CHECK(e);
    CHECK_OK(fill(e, 5001, 300, 2, &err), &err);
    pxs_engine_close(e);
    CHECK_OK(pxs_file_write_atomic(path, old, old_len, &err), &err);
    pxs_free(old);
    e = coll_test_open(dir);
    CHECK(e);
    CHECK_OK(pxs_coll_index_stats(e, "h", &st, &err), &err);
    CHECK_EQ_INT(st.loaded_from_file, 1);
    CHECK_EQ_INT(st.builds, 0);
    CHECK_EQ_INT(st.rows, 2290); /* the 300 newer rows were replayed */
    char *res = NULL;
    CHECK_OK(coll_call(e, pxs_coll_get, &res, &err, "{\"collectionName\":\"h\",\"id\":5001,\"outputFields\":[\"vector\"]}"),
             &err);
    cJSON *g = cJSON_Parse(res);
    pxs_free(res);
    cJSON *vec = cJSON_GetObjectItem(cJSON_GetArrayItem(g, 0), "vector");
    char *vj = cJSON_PrintUnformatted(vec);
    cJSON_Delete(g);
    CHECK_OK(coll_call(e, pxs_coll_search, &res, &err, "{\"collectionName\":\"h\",\"data\":[%s],\"limit\":1}", vj), &err);
    free(vj);
    CHECK_STR(res, "[[{\"id\":5001,\"distance\":0}]]");
    pxs_free(res);

    /* 4. compaction: deleting over a fifth of an HNSW index rebuilds it */
    CHECK_OK(coll_call(e, pxs_coll_delete, NULL, &err, "{\"collectionName\":\"h\",\"filter\":\"id <= 1200\"}"), &err);
    CHECK_OK(pxs_coll_index_stats(e, "h", &st, &err), &err);
    CHECK_EQ_INT(st.builds, 1);
    CHECK_EQ_INT(st.tombstones, 0);
    CHECK_EQ_INT(st.rows, 1100);
    CHECK_OK(coll_call(e, pxs_coll_query, &res, &err, "{\"collectionName\":\"h\",\"outputFields\":[\"count(*)\"]}"), &err);
    CHECK_STR(res, "[{\"count(*)\":1100}]");
    pxs_free(res);

    /* 5. drop the index: search refused, rows kept; create again */
    CHECK_OK(coll_call(e, pxs_coll_index_drop, NULL, &err, "{\"collectionName\":\"h\",\"indexName\":\"vector\"}"), &err);
    CHECK_EQ_INT(coll_call(e, pxs_coll_search, NULL, &err, "{\"collectionName\":\"h\",\"data\":[[0,0,0,0,0,0,0,0]]}"),
                 PXS_EINVAL);
    CHECK(strstr(err.msg, "no index"));
    CHECK_OK(fill(e, 9001, 10, 3, &err), &err); /* inserts go on without an index */
    CHECK_OK(coll_call(e, pxs_coll_index_create, NULL, &err, "{\"collectionName\":\"h\",\"indexParams\":[{\"fieldName\":"
                       "\"vector\",\"indexType\":\"FLAT\",\"metricType\":\"L2\"}]}"), &err);
    CHECK_OK(pxs_coll_index_stats(e, "h", &st, &err), &err);
    CHECK_EQ_INT(st.rows, 1110);
    pxs_engine_close(e);
    e = coll_test_open(dir);
    CHECK(e);
    CHECK_OK(pxs_coll_index_stats(e, "h", &st, &err), &err);
    CHECK_EQ_INT(st.rows, 1110);
    CHECK_EQ_INT(st.loaded_from_file, 1);
    CHECK_STR(st.index_type, "FLAT");
    pxs_engine_close(e);
    pxs_free(before);
}
