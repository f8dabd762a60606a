/*
 * server_int.h — private declarations shared by the files of src/server/
 * (never included from outside this directory, except by tests/server/).
 *
 *   server.c  daemon lifecycle, per-request state, body accumulation, routing
 *   routes.c  the route handlers (JSON API, thumbnails, static files)
 *   json.c    a tiny JSON writer over a capped pxs_buf, and strict parsers
 *             for the numbers that arrive in URLs and form fields
 *   assets.c  the web page files (web/) embedded into the binary
 */
#ifndef PIXSEEK_SERVER_INT_H
#define PIXSEEK_SERVER_INT_H

#include <stdint.h>

#include <microhttpd.h>

#include "pixseek/core.h"
#include "pixseek/engine.h"
#include "pixseek/server.h"

/* ---- JSON writer ---------------------------------------------------------
 * Errors are sticky: the first failing append (PXS_ELIMIT, PXS_ENOMEM) is
 * kept in rc and every later call is a no-op, so a handler writes the whole
 * document and checks rc once. */
struct pxs__json {
    struct pxs_buf buf;
    int rc;
};

#define PXS__JSON_MAX (64u * 1024 * 1024) /* largest JSON response we build */

void pxs__server_json_init(struct pxs__json *j);
void pxs__server_json_free(struct pxs__json *j);
/* Append bytes verbatim (punctuation, literal keys). */
void pxs__server_json_raw(struct pxs__json *j, const char *text);
/* Append a quoted string. Control characters are escaped; bytes that are
 * not valid UTF-8 become U+FFFD, so the output is always valid JSON even
 * for file names in other encodings. s == NULL writes null. */
void pxs__server_json_str(struct pxs__json *j, const char *s);
/* Append `"key":` (key must be plain ASCII). */
void pxs__server_json_key(struct pxs__json *j, const char *key);
/* Numbers; non-finite doubles are written as null. */
void pxs__server_json_int(struct pxs__json *j, int64_t v);
void pxs__server_json_uint(struct pxs__json *j, uint64_t v);
void pxs__server_json_num(struct pxs__json *j, double v);

/* ---- strict parsers (untrusted text from URLs and form fields) ----------
 * All return PXS_OK or PXS_EINVAL and write *out only on success. */

/* A decimal image id: 1-19 ASCII digits, no sign, value <= INT64_MAX. */
int pxs__server_parse_id(const char *s, int64_t *out);
/* An integer in [lo, hi], decimal digits only (surrounding blanks allowed). */
int pxs__server_parse_range(const char *s, long lo, long hi, long *out);
/* A finite real number in [0, 1] (surrounding blanks allowed). */
int pxs__server_parse_unit(const char *s, float *out);

/* ---- embedded web files ------------------------------------------------ */

struct pxs__asset {
    const char *name;         /* "index.html", "app.js", "style.css" */
    const char *content_type; /* full Content-Type value */
    const unsigned char *data;
    size_t len;
};

/* The embedded copy of an allow-listed file name: PXS_OK and *out filled,
 * or PXS_ENOTFOUND for any other name. This list is also the allow-list for
 * files served from --web-dir. */
int pxs__server_asset(const char *name, struct pxs__asset *out);

/* ---- the server and one request ---------------------------------------- */

struct pxs__server {
    pxs_engine *engine;
    size_t max_body;        /* request body limit, bytes */
    const char *web_dir;    /* borrowed from the options, or NULL */
};

enum pxs__route {
    PXS__R_NONE = 0,
    PXS__R_PAGE,      /* GET /, /index.html */
    PXS__R_STATIC,    /* GET /app.js, /style.css */
    PXS__R_HEALTHZ,   /* GET /healthz */
    PXS__R_IMG_SEARCH,/* POST /img/search (Milvus bootcamp shape) */
    PXS__R_IMG_COUNT, /* GET|POST /img/count (Milvus bootcamp shape) */
    PXS__R_API_SEARCH,/* POST /api/search */
    PXS__R_THUMB,     /* GET /api/thumbnail/<id> */
    PXS__R_IMAGE,     /* GET /api/images/<id> */
    PXS__R_STATS,     /* GET /api/stats */
};

enum pxs__body_mode {
    PXS__BODY_DISCARD = 0, /* not expected, or an error is already pending */
    PXS__BODY_RAW,         /* the body is the image (image types, octet-stream) */
    PXS__BODY_FORM,        /* multipart/form-data or urlencoded, via MHD */
    PXS__BODY_SNIFF,       /* urlencoded type: form or raw image, per the first bytes */
};

/* A small form field (topk, min_similarity), accumulated across chunks. */
struct pxs__field {
    char text[40];
    size_t len;
    int seen;
    int overflow;
};

struct pxs__request {
    struct pxs__server *srv;
    uint64_t t0_ns;
    enum pxs__route route;
    char method[16];         /* for the log line */
    char log_path[160];      /* printable, truncated copy of the URL */
    char arg[24];            /* route argument (id text), "" if none */
    int arg_too_long;
    int status;              /* status queued, 0 if none yet */

    /* body */
    enum pxs__body_mode body_mode;
    struct MHD_PostProcessor *pp;
    uint64_t received;       /* body bytes seen so far */
    int too_big;
    int malformed;           /* the form parser rejected the body */
    int oom;
    struct pxs_buf image;    /* the query image, capped at max_body */
    int image_seen;          /* an `image` field or a raw body arrived */
    int image_done;          /* the first `image` part ended; ignore others */
    struct pxs__field topk;
    struct pxs__field min_sim;

    /* an error found from the headers, answered once the body is drained */
    int pending_status;
    int pending_code;
    const char *pending_allow; /* Allow header for 405, or NULL */
    char pending_msg[200];
};

/* Route handlers (routes.c). Each queues exactly one response. */
enum MHD_Result pxs__server_dispatch(struct MHD_Connection *conn, struct pxs__request *req);

/* Response helpers (server.c). They record req->status. */
enum MHD_Result pxs__server_reply_json(struct MHD_Connection *conn, struct pxs__request *req,
                                       unsigned status, struct pxs__json *j);
enum MHD_Result pxs__server_reply_error(struct MHD_Connection *conn, struct pxs__request *req,
                                        unsigned status, int code, const char *fmt, ...)
    PXS_PRINTF(5, 6);
/* body: if owned, freed with pxs_free by MHD once sent; otherwise static. */
enum MHD_Result pxs__server_reply_bytes(struct MHD_Connection *conn, struct pxs__request *req,
                                        unsigned status, const char *content_type,
                                        const char *cache_control, void *body, size_t len,
                                        int owned);
/* HTTP status for an engine error code. */
unsigned pxs__server_status_for(int code);

#endif
