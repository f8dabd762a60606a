/*
 * routes_meta.c — GET /metrics (Prometheus text format 0.0.4) and
 * GET /openapi.json (the embedded OpenAPI document).
 *
 * Metrics:
 *   pixseek_http_requests_total{route,code}          counter, code = 2xx..5xx
 *                                                    ("aborted": no response)
 *   pixseek_http_request_duration_seconds{route}     histogram
 *   pixseek_ingest_jobs_total, _files_total, _added_total, _failed_total
 *   pixseek_ingest_running                           gauge 0/1
 *   pixseek_images, pixseek_index_bytes, pixseek_embedding_dim  gauges
 *   pixseek_query_embeddings_total, pixseek_query_batches_total  counters
 *   pixseek_query_{decode,wait,model}_seconds_total  where they went
 *   pixseek_uptime_seconds                           gauge
 * Routes appear once they have served a request (route = the OpenAPI
 * path; "unmatched" for unknown URLs).
 */
#include "server/server_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void route_lines(struct pxs_buf *b, const char *label,
                        const struct pxs__route_metrics *m, int *rc) {
    static const char *const cls[6] = {"aborted", "1xx", "2xx", "3xx", "4xx", "5xx"};
    uint64_t total = 0;
    for (int c = 0; c < 6; c++) total += atomic_load(&m->by_class[c]);
    if (total == 0) return;
    for (int c = 0; c < 6 && *rc == PXS_OK; c++) {
        uint64_t v = atomic_load(&m->by_class[c]);
        if (v)
            *rc = pxs_buf_appendf(b, "pixseek_http_requests_total{route=\"%s\",code=\"%s\"} %llu\n",
                                  label, cls[c], (unsigned long long)v);
    }
    uint64_t cum = 0;
    for (int i = 0; i <= PXS__N_BUCKETS && *rc == PXS_OK; i++) {
        cum += atomic_load(&m->buckets[i]);
        char le[32];
        if (i < PXS__N_BUCKETS) snprintf(le, sizeof le, "%g", pxs__bucket_seconds[i]);
        else snprintf(le, sizeof le, "+Inf");
        *rc = pxs_buf_appendf(b,
                              "pixseek_http_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} "
                              "%llu\n", label, le, (unsigned long long)cum);
    }
    if (*rc == PXS_OK)
        *rc = pxs_buf_appendf(b,
                              "pixseek_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                              "pixseek_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                              label, (double)atomic_load(&m->sum_us) / 1e6, label,
                              (unsigned long long)cum);
}

enum MHD_Result pxs__h_metrics(struct MHD_Connection *conn, struct pxs__request *req) {
    struct pxs__server *srv = req->srv;
    struct pxs_engine_stats st;
    struct pxs_err e = {0};
    int rc = pxs_engine_stats(srv->engine, &st, &e);
    if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    struct pxs__job *job = pxs_malloc(sizeof *job);
    if (!job)
        return pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, PXS_ENOMEM,
                                       "out of memory");
    pxs__job_snapshot(srv, job);
    struct pxs_buf b;
    pxs_buf_init(&b, PXS__JSON_MAX);
    rc = pxs_buf_appendf(
        &b,
        "# HELP pixseek_http_requests_total HTTP requests by route and status class.\n"
        "# TYPE pixseek_http_requests_total counter\n"
        "# HELP pixseek_http_request_duration_seconds Time from request start to response "
        "completion.\n"
        "# TYPE pixseek_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i <= pxs__n_routes && rc == PXS_OK; i++) {
        /* "/" and "/index.html" are separate entries; label by OpenAPI path */
        const char *label = i < pxs__n_routes ? pxs__routes[i].openapi : "unmatched";
        route_lines(&b, label, &srv->metrics[i], &rc);
    }
    if (rc == PXS_OK)
        rc = pxs_buf_appendf(
            &b,
            "# HELP pixseek_ingest_jobs_total Ingest jobs started through the API.\n"
            "# TYPE pixseek_ingest_jobs_total counter\npixseek_ingest_jobs_total %llu\n"
            "# HELP pixseek_ingest_files_total Files handled by API ingest jobs.\n"
            "# TYPE pixseek_ingest_files_total counter\npixseek_ingest_files_total %llu\n"
            "# HELP pixseek_ingest_added_total Images added by API ingest jobs.\n"
            "# TYPE pixseek_ingest_added_total counter\npixseek_ingest_added_total %llu\n"
            "# HELP pixseek_ingest_failed_total Files API ingest jobs could not index.\n"
            "# TYPE pixseek_ingest_failed_total counter\npixseek_ingest_failed_total %llu\n"
            "# HELP pixseek_ingest_running 1 while an ingest job runs.\n"
            "# TYPE pixseek_ingest_running gauge\npixseek_ingest_running %d\n"
            "# HELP pixseek_images Images in the collection.\n"
            "# TYPE pixseek_images gauge\npixseek_images %llu\n"
            "# HELP pixseek_index_bytes Memory held by the vector index.\n"
            "# TYPE pixseek_index_bytes gauge\npixseek_index_bytes %zu\n"
            "# HELP pixseek_query_embeddings_total Query images embedded (search by image).\n"
            "# TYPE pixseek_query_embeddings_total counter\npixseek_query_embeddings_total %llu\n"
            "# HELP pixseek_query_batches_total Model runs those took (batched queries share one).\n"
            "# TYPE pixseek_query_batches_total counter\npixseek_query_batches_total %llu\n"
            "# HELP pixseek_query_decode_seconds_total Wall time decoding and preprocessing query images (libvips may use a worker thread).\n"
            "# TYPE pixseek_query_decode_seconds_total counter\n"
            "pixseek_query_decode_seconds_total %.6f\n"
            "# HELP pixseek_query_wait_seconds_total Time query images waited for a model run (summed per query).\n"
            "# TYPE pixseek_query_wait_seconds_total counter\npixseek_query_wait_seconds_total %.6f\n"
            "# HELP pixseek_query_model_seconds_total Wall time of the query model runs (summed per run).\n"
            "# TYPE pixseek_query_model_seconds_total counter\npixseek_query_model_seconds_total %.6f\n"
            "# HELP pixseek_embedding_dim Embedding dimension.\n"
            "# TYPE pixseek_embedding_dim gauge\npixseek_embedding_dim %zu\n"
            "# HELP pixseek_uptime_seconds Seconds since the server started.\n"
            "# TYPE pixseek_uptime_seconds gauge\npixseek_uptime_seconds %.0f\n",
            (unsigned long long)job->all_jobs, (unsigned long long)job->all_files,
            (unsigned long long)job->all_added, (unsigned long long)job->all_failed,
            job->running, (unsigned long long)st.images, st.index_bytes,
            (unsigned long long)st.query_embeddings, (unsigned long long)st.query_batches,
            (double)st.query_decode_ns / 1e9, (double)st.query_wait_ns / 1e9,
            (double)st.query_model_ns / 1e9, st.dim,
            (double)time(NULL) - srv->started);
    pxs_free(job);
    if (rc != PXS_OK) {
        pxs_buf_free(&b);
        return pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, rc,
                                       "cannot build the metrics");
    }
    size_t len;
    char *body = pxs_buf_detach(&b, &len);
    return pxs__server_reply_bytes(conn, req, MHD_HTTP_OK, "text/plain; version=0.0.4", NULL,
                                   body, len, 1);
}

enum MHD_Result pxs__h_openapi(struct MHD_Connection *conn, struct pxs__request *req) {
    const unsigned char *data;
    size_t len;
    pxs__server_openapi(&data, &len);
    return pxs__server_reply_bytes(conn, req, MHD_HTTP_OK, "application/json; charset=utf-8",
                                   "no-cache", (void *)data, len, 0);
}
