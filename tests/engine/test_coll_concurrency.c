/*
 * tests/engine/test_coll_concurrency.c — one writer and concurrent readers
 * on a collection: searches and queries run in threads while batches are
 * inserted and an HNSW index is built; no reader may fail, every insert is
 * visible to the next read (read-your-writes), and the final count is exact.
 */
#include "../test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "coll_test_util.h"

struct reader {
    pxs_engine *e;
    atomic_int *stop;
    int failures;
    int searches;
    char msg[256];
};

static void *reader_main(void *arg) {
    struct reader *r = arg;
    struct pxs_err err;
    while (!atomic_load(r->stop)) {
        char *res = NULL;
        int rc = coll_call(r->e, pxs_coll_search, &res, &err, "{\"collectionName\":\"cc\",\"data\":[[0.1,0.2,0.3,0.4]],"
                           "\"limit\":5,\"filter\":\"id %% 2 == 0\"}");
        pxs_free(res);
        if (rc == PXS_OK)
            rc = coll_call(r->e, pxs_coll_query, &res, &err, "{\"collectionName\":\"cc\",\"filter\":\"id < 50\","
                           "\"outputFields\":[\"count(*)\"]}");
        if (rc == PXS_OK) pxs_free(res);
        if (rc != PXS_OK) {
            r->failures++;
            snprintf(r->msg, sizeof r->msg, "%s", err.msg);
        }
        r->searches++;
        struct timespec ts = {0, 200000}; /* leave the 2 cores some room */
        nanosleep(&ts, NULL);
    }
    return NULL;
}

PXS_TEST(coll_concurrent_readers_and_writer) {
    pxs_engine *e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    struct pxs_err err;
    CHECK_OK(coll_call(e, pxs_coll_create, NULL, &err, "{\"collectionName\":\"cc\",\"dimension\":4,\"metricType\":\"L2\","
                       "\"indexParams\":[{\"fieldName\":\"vector\",\"indexType\":\"FLAT\",\"metricType\":\"L2\"}]}"), &err);
    atomic_int stop = 0;
    struct reader rd[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        rd[i] = (struct reader){e, &stop, 0, 0, ""};
        CHECK(pthread_create(&th[i], NULL, reader_main, &rd[i]) == 0);
    }
    uint64_t st = 3;
    int64_t next = 0;
    for (int b = 0; b < 30; b++) {
        float v[100 * 4];
        int64_t ids[100];
        for (int i = 0; i < 100; i++) {
            ids[i] = next++;
            for (int d = 0; d < 4; d++) v[i * 4 + d] = coll_rand(&st);
        }
        CHECK_OK(pxs_coll_insert_columns(e, "cc", NULL, 100, ids, v, NULL, 0, 0, NULL, &err), &err);
        /* read-your-writes: the last row of the batch is found by its vector */
        char *vj = coll_vec_json(v + 99 * 4, 4), *res = NULL;
        CHECK_OK(coll_call(e, pxs_coll_search, &res, &err, "{\"collectionName\":\"cc\",\"data\":[%s],\"limit\":1}", vj),
                 &err);
        free(vj);
        char want[64];
        snprintf(want, sizeof want, "[[{\"id\":%lld,\"distance\":0}]]", (long long)ids[99]);
        CHECK_STR(res, want);
        pxs_free(res);
        if (b == 10) /* an index build while readers and this writer go on */
            CHECK_OK(coll_call(e, pxs_coll_index_create, NULL, &err, "{\"collectionName\":\"cc\",\"indexParams\":[{"
                               "\"fieldName\":\"vector\",\"indexType\":\"HNSW\",\"metricType\":\"L2\",\"params\":{\"efConstruction\":40}}]}"), &err);
    }
    atomic_store(&stop, 1);
    int searches = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(rd[i].failures == 0, "reader %d: %d failures (%s)", i, rd[i].failures, rd[i].msg);
        searches += rd[i].searches;
    }
    CHECK(searches > 0);
    char *res = NULL;
    CHECK_OK(coll_call(e, pxs_coll_query, &res, &err, "{\"collectionName\":\"cc\",\"outputFields\":[\"count(*)\"]}"), &err);
    CHECK_STR(res, "[{\"count(*)\":3000}]");
    pxs_free(res);
    struct pxs_coll_index_stats s;
    CHECK_OK(pxs_coll_index_stats(e, "cc", &s, &err), &err);
    CHECK_STR(s.index_type, "HNSW");
    CHECK_EQ_INT(s.rows, 3000);
    pxs_engine_close(e);
}
