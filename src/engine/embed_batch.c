/*
 * embed_batch.c — the query embedding queue of `pixseek serve`: concurrent
 * searches by image submit their preprocessed tensors here, and whoever
 * finds a free lane becomes the leader of a batch: it waits (at most
 * max_wait_us, and only while other queries are still being decoded) for
 * more items, takes up to max_batch of the queued items in arrival order,
 * runs the model once on all of them and hands every waiter its vector.
 * At most `lanes` batches run at once, each on its own model instance, so
 * N HTTP threads never mean N concurrent model runs on 2 cores; with one
 * query at a time nothing waits (the leader sees no one decoding).
 *
 * It also keeps the per-stage cost of the queries it served (stats): the
 * wall time spent decoding and preprocessing (engine_embed_query), time
 * waiting for a batch to start, and wall time of the model runs, so a
 * benchmark can split a request's cost without a profiler.
 */
#include "engine/embed_batch.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"

struct embed_job {
    uint64_t submitted_ns;
    const float *tensor;
    float *vec;
    int rc;
    int done;
    struct pxs_err err;
    struct embed_job *next;
};

struct embed_batcher {
    pxs_embedder *emb;
    struct embed_batcher_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct embed_job *head, *tail;
    int n_pending;
    int preparing; /* announced, not yet submitted */
    int running;   /* batches in flight */
    struct embed_batcher_stats stats;
};

int embed_batcher_new(pxs_embedder *emb, const struct embed_batcher_opts *opts,
                      struct embed_batcher **out, struct pxs_err *err) {
    *out = NULL;
    if (emb->builtin) return pxs_errf(err, PXS_EUNSUPPORTED, "the built-in descriptor needs no batching");
    if (opts->lanes < 1 || opts->lanes > 4 || opts->max_batch < 1 || opts->max_batch > 64 ||
        opts->max_wait_us < 0 || opts->max_wait_us > 100000)
        return pxs_errf(err, PXS_EINVAL, "embedding queue: lanes %d (1..4), batch %d (1..64), wait %d us (0..100000)",
                        opts->lanes, opts->max_batch, opts->max_wait_us);
    struct embed_batcher *b = pxs_calloc(1, sizeof *b);
    if (!b) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    b->emb = emb;
    b->o = *opts;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    *out = b;
    return PXS_OK;
}

void embed_batcher_free(struct embed_batcher *b) {
    if (!b) return;
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    pxs_free(b);
}

void embed_batcher_announce(struct embed_batcher *b) {
    pthread_mutex_lock(&b->mu);
    b->preparing++;
    pthread_mutex_unlock(&b->mu);
}

void embed_batcher_withdraw(struct embed_batcher *b) {
    pthread_mutex_lock(&b->mu);
    b->preparing--;
    pthread_cond_broadcast(&b->cv); /* a leader may be waiting for this one */
    pthread_mutex_unlock(&b->mu);
}

void embed_batcher_note_decode(struct embed_batcher *b, uint64_t ns) {
    pthread_mutex_lock(&b->mu);
    b->stats.decode_ns += ns;
    pthread_mutex_unlock(&b->mu);
}

void embed_batcher_stats(struct embed_batcher *b, struct embed_batcher_stats *out) {
    pthread_mutex_lock(&b->mu);
    *out = b->stats;
    pthread_mutex_unlock(&b->mu);
}

/* Run one batch (mutex not held). */
static void run_batch(struct embed_batcher *b, struct embed_job **jobs, int n) {
    pxs_embedder *emb = b->emb;
    size_t per = embedder_tensor_floats(emb);
    struct pxs_err err = {0};
    int rc = PXS_OK;
    float *tensors = NULL, *vecs = NULL;
    if (n == 1) {
        rc = embedder_run_batch(emb, jobs[0]->tensor, 1, jobs[0]->vec, &err);
    } else {
        tensors = pxs_mallocarray((size_t)n * per, sizeof *tensors);
        vecs = pxs_mallocarray((size_t)n * emb->dim, sizeof *vecs);
        if (!tensors || !vecs) rc = pxs_errf(&err, PXS_ENOMEM, "out of memory for a batch of %d queries", n);
        for (int i = 0; rc == PXS_OK && i < n; i++)
            memcpy(tensors + (size_t)i * per, jobs[i]->tensor, per * sizeof *tensors);
        if (rc == PXS_OK) rc = embedder_run_batch(emb, tensors, n, vecs, &err);
        for (int i = 0; rc == PXS_OK && i < n; i++)
            memcpy(jobs[i]->vec, vecs + (size_t)i * emb->dim, emb->dim * sizeof *vecs);
    }
    pxs_free(tensors);
    pxs_free(vecs);
    for (int i = 0; i < n; i++) {
        jobs[i]->rc = rc;
        if (rc != PXS_OK) jobs[i]->err = err;
    }
}

static void deadline_after(struct timespec *t, long us) {
    clock_gettime(CLOCK_MONOTONIC, t);
    t->tv_nsec += us * 1000;
    t->tv_sec += t->tv_nsec / 1000000000;
    t->tv_nsec %= 1000000000;
}

int embed_batcher_embed(struct embed_batcher *b, const float *tensor, float *vec, int announced,
                        struct pxs_err *err) {
    struct embed_job job = {.submitted_ns = pxs_now_ns(), .tensor = tensor, .vec = vec};
    struct embed_job *batch[64];
    pthread_mutex_lock(&b->mu);
    if (announced) b->preparing--;
    if (b->tail) b->tail->next = &job;
    else b->head = &job;
    b->tail = &job;
    b->n_pending++;
    pthread_cond_broadcast(&b->cv);
    while (!job.done) {
        if (b->running >= b->o.lanes || b->n_pending == 0) {
            pthread_cond_wait(&b->cv, &b->mu);
            continue;
        }
        b->running++;
        if (b->o.max_wait_us > 0 && b->preparing > 0 && b->n_pending < b->o.max_batch) {
            struct timespec until;
            deadline_after(&until, b->o.max_wait_us);
            while (b->preparing > 0 && b->n_pending < b->o.max_batch &&
                   pthread_cond_timedwait(&b->cv, &b->mu, &until) == 0) {
            }
        }
        int n = 0;
        while (b->head && n < b->o.max_batch) {
            batch[n++] = b->head;
            b->head = b->head->next;
        }
        if (!b->head) b->tail = NULL;
        b->n_pending -= n;
        b->stats.items += (uint64_t)n;
        b->stats.batches++;
        if ((uint64_t)n > b->stats.max_seen) b->stats.max_seen = (uint64_t)n;
        uint64_t started = pxs_now_ns();
        for (int i = 0; i < n; i++) b->stats.wait_ns += started - batch[i]->submitted_ns;
        pthread_mutex_unlock(&b->mu);
        run_batch(b, batch, n);
        uint64_t model_ns = pxs_now_ns() - started;
        pthread_mutex_lock(&b->mu);
        b->stats.model_ns += model_ns;
        for (int i = 0; i < n; i++) batch[i]->done = 1;
        b->running--;
        pthread_cond_broadcast(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    if (job.rc != PXS_OK && err) *err = job.err;
    return job.rc;
}

/* ---- the engine's query embedding ---- */

int engine_start_batcher(pxs_engine *e, const struct pxs_engine_opts *opts, struct pxs_err *err) {
    if (e->emb->builtin || (opts && opts->query_batch < 0)) return PXS_OK;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int per_run = e->emb->threads > 0 ? e->emb->threads : 1;
    int lanes = (int)(ncpu < 1 ? 1 : ncpu) / per_run;
    struct embed_batcher_opts bo = {
        .lanes = lanes < 1 ? 1 : lanes > 4 ? 4 : lanes,
        .max_batch = opts && opts->query_batch > 0 ? (opts->query_batch > 64 ? 64 : opts->query_batch) : 4,
        .max_wait_us = !opts || opts->query_wait_us == 0 ? 1000
                       : opts->query_wait_us < 0 ? 0 : opts->query_wait_us > 100000 ? 100000 : opts->query_wait_us,
    };
    return embed_batcher_new(e->emb, &bo, &e->batcher, err);
}

int engine_embed_query(pxs_engine *e, const void *data, size_t len, float *vec, struct pxs_err *err) {
    if (!e->batcher) return pxs_embedder_embed_image(e->emb, data, len, vec, err);
    float *tensor = pxs_mallocarray(embedder_tensor_floats(e->emb), sizeof(float));
    if (!tensor) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    embed_batcher_announce(e->batcher);
    uint64_t t0 = pxs_now_ns();
    int rc = embedder_preprocess(e->emb, data, len, tensor, NULL, err);
    embed_batcher_note_decode(e->batcher, pxs_now_ns() - t0);
    if (rc == PXS_OK) rc = embed_batcher_embed(e->batcher, tensor, vec, 1, err);
    else embed_batcher_withdraw(e->batcher);
    pxs_free(tensor);
    return rc;
}
