/*
 * tests/engine/test_image_index.c — the image collection's index choice and
 * file (image_index.c): an HNSW index written at close is loaded at reopen
 * without a rebuild and answers exactly as before, a stale file is caught
 * up, a damaged or foreign file is rebuilt from the store; HNSW recall
 * against an exact scan of the same vectors; and the query embedding queue
 * (embed_batch.c): many threads, batched results equal to unbatched ones.
 */
#include "pixseek/engine.h"
#include "engine/embed_batch.h"
#include "engine/engine_int.h"
#include "../test.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define II_DIM PXS_IMAGE_DESCRIPTOR_DIM

static uint64_t ii_rng = 12345;
static float ii_gauss(void) {
    double u1, u2;
    do {
        ii_rng = ii_rng * 6364136223846793005ULL + 1442695040888963407ULL;
        u1 = (double)(ii_rng >> 11) / 9007199254740992.0;
    } while (u1 <= 0);
    ii_rng = ii_rng * 6364136223846793005ULL + 1442695040888963407ULL;
    u2 = (double)(ii_rng >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}

/* n unit vectors in clusters around 50 centres (like real embeddings). */
static float *clustered(size_t n) {
    float *c = malloc(50 * II_DIM * sizeof(float)), *v = malloc(n * II_DIM * sizeof(float));
    for (size_t i = 0; i < 50 * II_DIM; i++) c[i] = ii_gauss();
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < II_DIM; d++) v[i * II_DIM + d] = c[(i % 50) * II_DIM + d] + 0.6f * ii_gauss();
        pxs_vec_normalize(v + i * II_DIM, II_DIM);
    }
    free(c);
    return v;
}

static int add_range(pxs_engine *e, const float *v, size_t from, size_t to, struct pxs_err *err) {
    size_t n = to - from;
    char **paths = calloc(n ? n : 1, sizeof *paths);
    for (size_t i = 0; i < n; i++) {
        paths[i] = malloc(32);
        snprintf(paths[i], 32, "vec/%zu", from + i);
    }
    int rc = pxs_engine_add_vectors(e, (const char *const *)paths, v + from * II_DIM, n, NULL, err);
    for (size_t i = 0; i < n; i++) free(paths[i]);
    free(paths);
    return rc;
}

static pxs_engine *open_with(const char *data, const char *choice) {
    struct pxs_engine_opts o = {.data_dir = data, .image_index = choice};
    struct pxs_err err = {0};
    pxs_engine *e = NULL;
    if (pxs_engine_open(&o, &e, &err) != PXS_OK) printf("    open: %s\n", err.msg);
    return e;
}

/* Ids of the top 10 for query q. */
static size_t top10(pxs_engine *e, const float *q, int64_t *ids) {
    struct pxs_search_opts so = {.k = 10};
    struct pxs_match *m = NULL;
    size_t n = 0;
    struct pxs_err err = {0};
    if (pxs_engine_search_vector(e, q, II_DIM, &so, &m, &n, &err) != PXS_OK) return 0;
    for (size_t i = 0; i < n; i++) ids[i] = m[i].meta.id;
    pxs_free(m);
    return n;
}

/* Reopen data: loaded from the file or not as expected, count vectors, and
 * the best hit for q is id best. */
static void reopen_check(const char *data, int from_file, size_t count, const float *q, int64_t best) {
    pxs_engine *e = open_with(data, NULL);
    CHECK(e);
    if (!e) return;
    CHECK_EQ_INT(e->index_from_file, from_file);
    CHECK_EQ_INT(pxs_index_count(e->index), count);
    int64_t got[10];
    CHECK_EQ_INT(top10(e, q, got), 10);
    CHECK_EQ_INT(got[0], best);
    pxs_engine_close(e);
}

PXS_TEST(image_index_file_reload_catch_up_and_rebuild) {
    char data[600], path[700];
    snprintf(data, sizeof data, "%s/data", pxs_test_tmpdir());
    size_t n = 600;
    float *v = clustered(n + 100);
    struct pxs_err err = {0};
    pxs_engine *e = open_with(data, "hnsw");
    CHECK(e);
    CHECK_OK(add_range(e, v, 0, n, &err), &err);
    int64_t before[20][10];
    for (int q = 0; q < 20; q++) CHECK_EQ_INT(top10(e, v + (size_t)q * 7 * II_DIM, before[q]), 10);
    pxs_engine_close(e);
    snprintf(path, sizeof path, "%s/indexes/images.pxi", data);
    CHECK_EQ_INT(access(path, F_OK), 0);

    /* Reopen: loaded from the file, the choice remembered, same answers. */
    e = open_with(data, NULL);
    CHECK(e);
    CHECK_EQ_INT(e->index_from_file, 1);
    CHECK_EQ_INT(pxs_index_get_type(e->index), PXS_INDEX_HNSW);
    CHECK_EQ_INT(pxs_index_count(e->index), n);
    for (int q = 0; q < 20; q++) {
        int64_t got[10];
        CHECK_EQ_INT(top10(e, v + (size_t)q * 7 * II_DIM, got), 10);
        CHECK(memcmp(got, before[q], sizeof got) == 0);
    }
    /* Vectors added after the file was written: an old file is caught up at open. */
    CHECK_EQ_INT(pxs_test_system("cp %s %s.old", path, path), 0);
    CHECK_OK(add_range(e, v, n, n + 100, &err), &err);
    pxs_engine_close(e);
    CHECK_EQ_INT(pxs_test_system("mv %s.old %s", path, path), 0);
    reopen_check(data, 1, n + 100, v + (n + 50) * II_DIM, (int64_t)(n + 50 + 1)); /* ids start at 1 */

    /* Damage the payload: the file is not used, the index is rebuilt and the file rewritten. */
    CHECK_EQ_INT(pxs_test_system("printf 'XXXXXXXX' | dd of=%s bs=1 seek=5000 conv=notrunc status=none", path), 0);
    reopen_check(data, 0, n + 100, v + (n + 50) * II_DIM, (int64_t)(n + 50 + 1));
    reopen_check(data, 1, n + 100, v + (n + 50) * II_DIM, (int64_t)(n + 50 + 1));
    /* Truncated file: rebuilt. */
    CHECK_EQ_INT(pxs_test_system("truncate -s 100 %s", path), 0);
    reopen_check(data, 0, n + 100, v + (n + 50) * II_DIM, (int64_t)(n + 50 + 1));

    /* Another choice: the HNSW file is foreign, FLAT is built and remembered. */
    e = open_with(data, "FLAT");
    CHECK(e);
    CHECK_EQ_INT(e->index_from_file, 0);
    CHECK_EQ_INT(pxs_index_get_type(e->index), PXS_INDEX_FLAT);
    pxs_engine_close(e);
    e = open_with(data, NULL);
    CHECK(e);
    CHECK_EQ_INT(e->index_from_file, 1);
    CHECK_EQ_INT(pxs_index_get_type(e->index), PXS_INDEX_FLAT);
    struct pxs_engine_stats st;
    CHECK_OK(pxs_engine_stats(e, &st, &err), &err);
    CHECK_STR(st.index_type, "FLAT");
    pxs_engine_close(e);
    struct pxs_engine_opts bad = {.data_dir = data, .image_index = "KDTREE"};
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_engine_open(&bad, &e, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "KDTREE") != NULL);
    free(v);
}

PXS_TEST(image_index_hnsw_recall_vs_exact) {
    char data[600];
    snprintf(data, sizeof data, "%s/data", pxs_test_tmpdir());
    size_t n = 3000;
    ii_rng = 777;
    float *v = clustered(n);
    struct pxs_err err = {0};
    pxs_engine *e = open_with(data, "HNSW");
    CHECK(e);
    CHECK_OK(add_range(e, v, 0, n, &err), &err);
    size_t hit = 0, total = 0;
    float *q = malloc(II_DIM * sizeof(float));
    for (int t = 0; t < 50; t++) {
        for (size_t d = 0; d < II_DIM; d++) q[d] = v[(size_t)t * 37 * II_DIM + d] + 0.3f * ii_gauss();
        pxs_vec_normalize(q, II_DIM);
        /* exact top 10 by brute force */
        int64_t best[10];
        float bs[10];
        for (int i = 0; i < 10; i++) bs[i] = -2, best[i] = -1;
        for (size_t i = 0; i < n; i++) {
            float s = pxs_dist_ip(q, v + i * II_DIM, II_DIM);
            if (s <= bs[9]) continue;
            int j = 9;
            while (j > 0 && bs[j - 1] < s) bs[j] = bs[j - 1], best[j] = best[j - 1], j--;
            bs[j] = s, best[j] = (int64_t)i + 1;
        }
        int64_t got[10];
        size_t g = top10(e, q, got);
        for (int i = 0; i < 10; i++)
            for (size_t j = 0; j < g; j++)
                if (got[j] == best[i]) hit++;
        total += 10;
    }
    double recall = (double)hit / (double)total;
    printf("    image index HNSW recall@10 vs exact: %.3f\n", recall);
    CHECK_MSG(recall >= 0.97, "recall %.3f", recall);
    free(q);
    free(v);
    pxs_engine_close(e);
}

/* ---- query embedding queue ---- */

struct bt_ctx {
    struct embed_batcher *b;
    const float *tensors;
    float *out;
    size_t per, dim;
    int first, count;
    pthread_barrier_t *bar;
    int rc;
};

static void *bt_worker(void *arg) {
    struct bt_ctx *c = arg;
    for (int i = c->first; i < c->first + c->count; i++) {
        embed_batcher_announce(c->b);
        pthread_barrier_wait(c->bar);
        struct pxs_err err = {0};
        int rc = embed_batcher_embed(c->b, c->tensors + (size_t)i * c->per, c->out + (size_t)i * c->dim, 1, &err);
        if (rc != PXS_OK) c->rc = rc;
    }
    return NULL;
}

PXS_TEST(embed_batcher_many_threads_match_unbatched) {
    const char *mp = pxs_test_shared("models/mobilenet_v2_embed.onnx");
    SKIP_IF(!mp, "no shared MobileNetV2");
    char model[1024], cfg[1024];
    snprintf(model, sizeof model, "%s", mp);
    snprintf(cfg, sizeof cfg, "models/mobilenet_v2_embed.onnx.json");
    struct pxs_embedder_opts eo = {.model_path = model, .model_config = cfg, .threads = 1};
    pxs_embedder *emb;
    struct pxs_err err = {0};
    CHECK_OK(pxs_embedder_open(&eo, &emb, &err), &err);
    enum { THREADS = 4, PER_THREAD = 2, N = THREADS * PER_THREAD };
    size_t per = embedder_tensor_floats(emb), dim = emb->dim;
    float *tensors = malloc(N * per * sizeof(float));
    for (size_t i = 0; i < N * per; i++) tensors[i] = ii_gauss();
    float *want = malloc(N * dim * sizeof(float)), *got = calloc(N * dim, sizeof(float));
    for (int i = 0; i < N; i++) CHECK_OK(embedder_run_batch(emb, tensors + (size_t)i * per, 1, want + (size_t)i * dim, &err), &err);

    struct embed_batcher *b;
    struct embed_batcher_opts bo = {.lanes = 2, .max_batch = 3, .max_wait_us = 100000};
    CHECK_OK(embed_batcher_new(emb, &bo, &b, &err), &err);
    struct embed_batcher_opts bad = {.lanes = 0, .max_batch = 3};
    struct embed_batcher *nb = NULL;
    CHECK_EQ_INT(embed_batcher_new(emb, &bad, &nb, &err), PXS_EINVAL);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, THREADS);
    pthread_t tid[THREADS];
    struct bt_ctx ctx[THREADS];
    for (int t = 0; t < THREADS; t++) {
        ctx[t] = (struct bt_ctx){b, tensors, got, per, dim, t * PER_THREAD, PER_THREAD, &bar, PXS_OK};
        pthread_create(&tid[t], NULL, bt_worker, &ctx[t]);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(tid[t], NULL);
        CHECK_EQ_INT(ctx[t].rc, PXS_OK);
    }
    pthread_barrier_destroy(&bar);
    CHECK(memcmp(want, got, N * dim * sizeof(float)) == 0);
    struct embed_batcher_stats st;
    embed_batcher_stats(b, &st);
    printf("    %llu queries in %llu batches (largest %llu)\n", (unsigned long long)st.items,
           (unsigned long long)st.batches, (unsigned long long)st.max_seen);
    CHECK_EQ_INT(st.items, N);
    CHECK(st.max_seen >= 2 && st.max_seen <= 3);
    CHECK(st.batches < (uint64_t)N);
    /* a withdrawn announce does not keep a batch waiting */
    embed_batcher_announce(b);
    embed_batcher_withdraw(b);
    CHECK_OK(embed_batcher_embed(b, tensors, got, 0, &err), &err);
    CHECK(memcmp(want, got, dim * sizeof(float)) == 0);
    embed_batcher_free(b);
    free(tensors);
    free(want);
    free(got);
    pxs_embedder_close(emb);
}
