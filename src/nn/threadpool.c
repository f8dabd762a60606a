/*
 * threadpool.c — a tiny fork-join pool for splitting one operator over a few
 * threads. nn_pool_run publishes a job (fn, ctx, task count) under the mutex
 * and bumps a generation counter; workers and the caller claim task indices
 * from an atomic counter until none remain; the caller waits until every
 * worker has checked out of the generation. One job at a time per pool (the
 * model is single-threaded from the outside).
 */
#include <pthread.h>
#include <stdatomic.h>

#include "nn/nn_int.h"

struct nn_pool {
    int threads;                 /* including the caller */
    pthread_t *tids;
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    atomic_ulong gen;            /* bumped (under mu) to publish a job */
    atomic_int stop;
    atomic_int busy;             /* workers still in the current job */
    nn_task_fn fn;
    void *ctx;
    size_t n_tasks;
    atomic_size_t next;
};

/* Spin this many polls before blocking: layers are short (tens of
 * microseconds), and a futex wake-up per layer would cost as much. */
#define NN_POOL_SPIN 20000

struct worker_arg {
    struct nn_pool *p;
    int tid;
};

static void drain(struct nn_pool *p, nn_task_fn fn, void *ctx, size_t n, int tid) {
    for (;;) {
        size_t t = atomic_fetch_add(&p->next, 1);
        if (t >= n) break;
        fn(ctx, t, tid);
    }
}

static void *worker(void *arg) {
    struct nn_pool *p = ((struct worker_arg *)arg)->p;
    int tid = ((struct worker_arg *)arg)->tid;
    pxs_free(arg);
    unsigned long seen = 0;
    for (;;) {
        for (int i = 0; i < NN_POOL_SPIN && atomic_load(&p->gen) == seen && !atomic_load(&p->stop); i++)
            ;
        if (atomic_load(&p->gen) == seen) {
            pthread_mutex_lock(&p->mu);
            while (!atomic_load(&p->stop) && atomic_load(&p->gen) == seen) pthread_cond_wait(&p->cv_work, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = atomic_load(&p->gen);
        drain(p, p->fn, p->ctx, p->n_tasks, tid);
        if (atomic_fetch_sub(&p->busy, 1) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

int nn_pool_new(int threads, struct nn_pool **out, struct pxs_err *err) {
    *out = NULL;
    if (threads < 1) threads = 1;
    if (threads > 256) return pxs_errf(err, PXS_EINVAL, "nn: too many threads (%d)", threads);
    struct nn_pool *p = pxs_calloc(1, sizeof *p);
    if (!p) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->next, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->busy, 0);
    if (threads > 1) {
        p->tids = pxs_calloc((size_t)threads, sizeof *p->tids);
        if (!p->tids) {
            nn_pool_free(p);
            return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
        }
        for (int i = 1; i < threads; i++) {
            struct worker_arg *a = pxs_malloc(sizeof *a);
            if (!a) {
                nn_pool_free(p);
                return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
            }
            a->p = p;
            a->tid = i;
            if (pthread_create(&p->tids[i], NULL, worker, a) != 0) {
                pxs_free(a);
                nn_pool_free(p);
                return pxs_errf(err, PXS_ENOMEM, "nn: cannot start a worker thread");
            }
            p->n_started++;
        }
    }
    *out = p;
    return PXS_OK;
}

void nn_pool_free(struct nn_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i <= p->n_started; i++) pthread_join(p->tids[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_done);
    pxs_free(p->tids);
    pxs_free(p);
}

int nn_pool_threads(const struct nn_pool *p) { return p ? 1 + p->n_started : 1; }

void nn_pool_run(struct nn_pool *p, size_t n, nn_task_fn fn, void *ctx) {
    if (n == 0) return;
    if (!p || p->n_started == 0 || n == 1) {
        for (size_t t = 0; t < n; t++) fn(ctx, t, 0);
        return;
    }
    /* job fields are written before gen is bumped; workers read them after
     * seeing the new gen (seq_cst atomics order the plain accesses) */
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n;
    atomic_store(&p->next, 0);
    atomic_store(&p->busy, p->n_started);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    drain(p, fn, ctx, n, 0);
    for (int i = 0; i < NN_POOL_SPIN && atomic_load(&p->busy) > 0; i++)
        ;
    if (atomic_load(&p->busy) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->busy) > 0) pthread_cond_wait(&p->cv_done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}
