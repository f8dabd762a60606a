/*
 * tests/engine/test_coll_crash.c — kill -9 of a process writing to a vector
 * collection. A child inserts batches of rows (HNSW index) and writes index
 * checkpoints; after each insert that returned PXS_OK it acknowledges the
 * batch through a pipe. The parent SIGKILLs it after a random delay (fixed
 * seed), reopens the data directory and checks that every acknowledged row
 * is there (get, count(*)), that the index loaded or was rebuilt and holds
 * exactly the live rows, and that an acknowledged row is found by searching
 * for its own vector. Rounds: PXS_COLL_CRASH_ROUNDS (default 6; the
 * integration test tests/integration/test_crash_coll.sh runs more).
 */
#include "../test.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coll_test_util.h"

#define CDIM 8
#define BATCH 50

static void row_vector(int64_t id, float *v) {
    uint64_t st = (uint64_t)id * 2654435761u + 1;
    for (int d = 0; d < CDIM; d++) v[d] = coll_rand(&st);
}

static void child_writer(const char *dir, int round, int fd) {
    pxs_engine *e = coll_test_open(dir);
    if (!e) _exit(2);
    struct pxs_err err = {0};
    int rc = pxs_coll_create(e, "{\"collectionName\":\"crash\",\"dimension\":8,\"metricType\":\"L2\",\"indexParams\":"
                             "[{\"fieldName\":\"vector\",\"indexType\":\"HNSW\",\"metricType\":\"L2\",\"params\":"
                             "{\"M\":8,\"efConstruction\":32}}]}", 0, NULL, &err);
    if (rc != PXS_OK && rc != PXS_EEXIST) _exit(3);
    float v[BATCH * CDIM];
    int64_t ids[BATCH];
    char *scal[BATCH];
    for (int k = 0;; k++) {
        for (int j = 0; j < BATCH; j++) {
            ids[j] = (int64_t)round * 1000000 + k * BATCH + j;
            row_vector(ids[j], v + j * CDIM);
            if (asprintf(&scal[j], "{\"round\":%d,\"note\":\"batch %d\"}", round, k) < 0) _exit(4);
        }
        pxs_err_clear(&err);
        rc = pxs_coll_insert_columns(e, "crash", NULL, BATCH, ids, v, (const char *const *)scal, 0, 0, NULL, &err);
        for (int j = 0; j < BATCH; j++) free(scal[j]);
        if (rc != PXS_OK) _exit(5);
        int64_t ack = ids[0];
        if (write(fd, &ack, sizeof ack) != sizeof ack) _exit(6);
        if (k % 4 == 3 && pxs_coll_checkpoint(e, &err) != PXS_OK) _exit(7);
        if (k % 7 == 6) { /* deletes too, so the deletion log is replayed */
            char req[160];
            snprintf(req, sizeof req, "{\"collectionName\":\"crash\",\"ids\":[%lld]}", (long long)(ids[0] - BATCH + 1));
            if (pxs_coll_delete(e, req, 0, NULL, &err) != PXS_OK) _exit(8);
        }
    }
}

static int64_t count_rows(pxs_engine *e, struct pxs_err *err) {
    char *res = NULL;
    if (coll_call(e, pxs_coll_query, &res, err, "{\"collectionName\":\"crash\",\"outputFields\":[\"count(*)\"]}") != PXS_OK)
        return -1;
    cJSON *j = cJSON_Parse(res);
    pxs_free(res);
    int64_t n = (int64_t)cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "count(*)")->valuedouble;
    cJSON_Delete(j);
    return n;
}

PXS_TEST(coll_crash_kill9_keeps_acknowledged_rows) {
    const char *dir = pxs_test_tmpdir();
    const char *env = getenv("PXS_COLL_CRASH_ROUNDS");
    int rounds = env ? atoi(env) : 6;
    uint64_t rng = 12345;
    int64_t *acked = NULL;
    size_t n_acked = 0, cap = 0;
    struct pxs_err err;
    for (int round = 1; round <= rounds; round++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_writer(dir, round, fds[1]);
            _exit(0);
        }
        close(fds[1]);
        rng = rng * 6364136223846793005ULL + 1;
        int delay_ms = 150 + (int)((rng >> 33) % 600);
        uint64_t deadline = pxs_now_ns() + (uint64_t)delay_ms * 1000000u;
        int killed = 0;
        for (;;) {
            uint64_t now = pxs_now_ns();
            if (!killed && now >= deadline) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            struct pollfd p = {fds[0], POLLIN, 0};
            int timeout = killed ? 2000 : (int)((deadline - now) / 1000000u) + 1;
            if (poll(&p, 1, timeout) <= 0) {
                if (killed) break;
                continue;
            }
            int64_t ack;
            ssize_t r = read(fds[0], &ack, sizeof ack);
            if (r == 0) break;
            if (r != sizeof ack) continue;
            if (n_acked + BATCH > cap) {
                cap = cap ? cap * 2 : 1024;
                acked = realloc(acked, cap * sizeof *acked);
            }
            for (int j = 0; j < BATCH; j++) acked[n_acked++] = ack + j;
        }
        close(fds[0]);
        int status;
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFSIGNALED(status), "writer exited early with status %d", WEXITSTATUS(status));

        pxs_engine *e = coll_test_open(dir);
        CHECK(e);
        if (n_acked == 0) {
            pxs_engine_close(e);
            continue;
        }
        /* every acknowledged row is there; the writer deletes only rows whose
         * number in their batch is 1, so all others must be present */
        size_t present = 0, required = 0;
        for (size_t i = 0; i < n_acked; i++)
            if ((acked[i] % 1000000) % BATCH != 1) acked[required++] = acked[i];
        n_acked = required;
        for (size_t off = 0; off < n_acked; off += 500) {
            struct pxs_buf req;
            pxs_buf_init(&req, 1 << 20);
            CHECK(pxs_buf_appendf(&req, "{\"collectionName\":\"crash\",\"id\":[") == PXS_OK);
            for (size_t i = off; i < n_acked && i < off + 500; i++)
                CHECK(pxs_buf_appendf(&req, "%s%lld", i > off ? "," : "", (long long)acked[i]) == PXS_OK);
            CHECK(pxs_buf_appendf(&req, "]}") == PXS_OK);
            char *res = NULL;
            pxs_err_clear(&err);
            CHECK_OK(pxs_coll_get(e, req.data, 0, &res, &err), &err);
            pxs_buf_free(&req);
            cJSON *j = cJSON_Parse(res);
            present += (size_t)cJSON_GetArraySize(j);
            cJSON_Delete(j);
            pxs_free(res);
        }
        CHECK_MSG(present == n_acked, "round %d: %zu of %zu acknowledged rows present", round, present,
                  n_acked);
        int64_t total = count_rows(e, &err);
        CHECK((size_t)total >= present);
        struct pxs_coll_index_stats st;
        CHECK_OK(pxs_coll_index_stats(e, "crash", &st, &err), &err);
        CHECK_EQ_INT(st.rows, total);
        /* the last acknowledged row is found by its own vector */
        float v[CDIM];
        int64_t last = acked[n_acked - 1];
        row_vector(last, v);
        char *vj = coll_vec_json(v, CDIM), *res = NULL;
        CHECK_OK(coll_call(e, pxs_coll_search, &res, &err, "{\"collectionName\":\"crash\",\"data\":[%s],\"limit\":1}",
                           vj), &err);
        free(vj);
        char want[64];
        snprintf(want, sizeof want, "[[{\"id\":%lld,\"distance\":0}]]", (long long)last);
        CHECK_STR(res, want);
        pxs_free(res);
        printf("    round %d: %zu acknowledged, %lld stored, index %s\n", round, n_acked, (long long)total,
               st.loaded_from_file ? "loaded from file" : "rebuilt");
        pxs_engine_close(e);
    }
    free(acked);
}
