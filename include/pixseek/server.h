/*
 * pixseek/server.h — the HTTP server: JSON API and the web page, on top of
 * the engine (libmicrohttpd, thread pool). It sees only engine.h and core.h.
 */
#ifndef PIXSEEK_SERVER_H
#define PIXSEEK_SERVER_H

#include <signal.h>

#include "pixseek/core.h"
#include "pixseek/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pxs_server_opts {
    const char *bind;          /* address to listen on; NULL = "127.0.0.1" */
    int port;                  /* 0 = 8080 */
    int threads;               /* 0 = a thread per connection; N = a pool of N threads */
    size_t max_body_bytes;     /* request body limit; 0 = 32 MiB */
    const char *web_dir;       /* directory of the web UI files; NULL = built-in page */
    size_t max_upload_bytes;   /* largest image in a request (file part, raw body,
                                  base64); 0 = 16 MiB, capped at max_body_bytes */
    const char *token;         /* API token required for every write (Authorization:
                                  Bearer); NULL or "" = none */
    const char *const *roots;  /* directories /img/load, ingest jobs and /data may use */
    size_t n_roots;            /* 0 = none: those routes answer 403 */
    const char *collection;    /* bootcamp table name; NULL = "milvus_img_search" */
    int timeout_s;             /* idle connection timeout, seconds; 0 = 30 */
};

/* Serve until *stop becomes non-zero (checked a few times per second).
 * Returns PXS_EIO if the address cannot be bound. */
int pxs_server_run(pxs_engine *engine, const struct pxs_server_opts *opts,
                   volatile sig_atomic_t *stop, struct pxs_err *err) PXS_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
