/*
 * jobs.c — the background ingest job of the HTTP API (/img/load,
 * /api/v1/train, POST /api/ingest): one at a time, on its own thread,
 * through pxs_engine_ingest, so searches keep being served while it runs
 * (the engine allows ingest beside concurrent searches).
 *
 * The job state lives in srv->job under its mutex; the ingest callback
 * updates the counters and keeps the first PXS__JOB_MAX_ERRORS per-file
 * errors, and returns non-zero once a cancel was asked for. Handlers read
 * a snapshot. Shutdown cancels and joins.
 */
#include "server/server_int.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int on_event(const struct pxs_ingest_event *ev, void *user) {
    struct pxs__server *srv = user;
    struct pxs__job *job = &srv->job;
    pthread_mutex_lock(&job->mu);
    if (ev->done) job->done = ev->done;
    if (ev->total) job->total = ev->total;
    switch (ev->kind) {
    case PXS_INGEST_ADDED: job->added++; job->all_added++; break;
    case PXS_INGEST_UNCHANGED: job->unchanged++; break;
    case PXS_INGEST_DUPLICATE: job->duplicates++; break;
    default:
        job->failed++;
        job->all_failed++;
        if (job->n_errors < PXS__JOB_MAX_ERRORS) {
            struct pxs__job_error *e = &job->errors[job->n_errors++];
            snprintf(e->path, sizeof e->path, "%s", ev->path ? ev->path : "");
            snprintf(e->code, sizeof e->code, "%s", pxs_code_name(ev->code));
            snprintf(e->reason, sizeof e->reason, "%s", ev->reason ? ev->reason : "");
        }
        break;
    }
    job->all_files++;
    pthread_mutex_unlock(&job->mu);
    return atomic_load(&job->cancel) ? 1 : 0;
}

static void *job_main(void *arg) {
    struct pxs__server *srv = arg;
    struct pxs__job *job = &srv->job;
    struct pxs_ingest_opts opts = {.on_event = on_event, .user = srv};
    struct pxs_ingest_summary sum;
    struct pxs_err err;
    pxs_err_clear(&err);
    int rc = pxs_engine_ingest(srv->engine, job->dir, &opts, &sum, &err);
    pthread_mutex_lock(&job->mu);
    job->rc = rc;
    job->running = 0;
    job->finished = (double)time(NULL);
    if (rc != PXS_OK)
        snprintf(job->message, sizeof job->message, "%s", pxs_err_message(&err, rc));
    else
        snprintf(job->message, sizeof job->message,
                 "%llu added, %llu unchanged, %llu duplicates, %llu failed in %.1f s",
                 (unsigned long long)sum.added, (unsigned long long)sum.unchanged,
                 (unsigned long long)sum.duplicates, (unsigned long long)sum.failed,
                 sum.seconds);
    if (!job->total) job->total = sum.files;
    pthread_mutex_unlock(&job->mu);
    PXS_LOG_INFO("server: ingest job %llu of %s: %s", (unsigned long long)job->id, job->dir,
                 job->message);
    return NULL;
}

int pxs__job_start(struct pxs__server *srv, const char *dir, struct pxs_err *err) {
    struct pxs__job *job = &srv->job;
    pthread_mutex_lock(&job->mu);
    if (job->running) {
        pthread_mutex_unlock(&job->mu);
        return pxs_errf(err, PXS_EBUSY, "an ingest job is already running (job %llu, %s)",
                        (unsigned long long)job->id, job->dir);
    }
    if (job->has_thread) { /* finished: reap it */
        pthread_join(job->thread, NULL);
        job->has_thread = 0;
    }
    uint64_t id = job->id + 1;
    uint64_t all_jobs = job->all_jobs + 1, all_added = job->all_added,
             all_failed = job->all_failed, all_files = job->all_files;
    /* reset everything but the mutex and lifetime counters */
    size_t head = offsetof(struct pxs__job, thread);
    memset((char *)job + head, 0, sizeof *job - head);
    job->id = id;
    job->all_jobs = all_jobs;
    job->all_added = all_added;
    job->all_failed = all_failed;
    job->all_files = all_files;
    snprintf(job->dir, sizeof job->dir, "%s", dir);
    job->started = (double)time(NULL);
    job->running = 1;
    atomic_store(&job->cancel, 0);
    if (pthread_create(&job->thread, NULL, job_main, srv) != 0) {
        job->running = 0;
        job->rc = PXS_EIO;
        pthread_mutex_unlock(&job->mu);
        return pxs_errf(err, PXS_EIO, "cannot start the ingest thread");
    }
    job->has_thread = 1;
    pthread_mutex_unlock(&job->mu);
    return PXS_OK;
}

int pxs__job_cancel(struct pxs__server *srv) {
    pthread_mutex_lock(&srv->job.mu);
    int running = srv->job.running;
    if (running) atomic_store(&srv->job.cancel, 1);
    pthread_mutex_unlock(&srv->job.mu);
    return running ? PXS_OK : PXS_ENOTFOUND;
}

void pxs__job_shutdown(struct pxs__server *srv) {
    pthread_mutex_lock(&srv->job.mu);
    atomic_store(&srv->job.cancel, 1);
    int has = srv->job.has_thread;
    srv->job.has_thread = 0;
    pthread_mutex_unlock(&srv->job.mu);
    if (has) pthread_join(srv->job.thread, NULL);
}

void pxs__job_snapshot(struct pxs__server *srv, struct pxs__job *out) {
    pthread_mutex_lock(&srv->job.mu);
    size_t head = offsetof(struct pxs__job, thread);
    memcpy((char *)out + head, (char *)&srv->job + head, sizeof *out - head);
    atomic_store(&out->cancel, atomic_load(&srv->job.cancel));
    pthread_mutex_unlock(&srv->job.mu);
}
