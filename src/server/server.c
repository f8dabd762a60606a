/*
 * server.c — pxs_server_run: the libmicrohttpd daemon, the life of one
 * request, and request-body handling. The route handlers are in routes.c.
 *
 * Threads: MHD runs an internal thread pool (opts->threads, default one per
 * CPU) with epoll where available (MHD_USE_AUTO). Every request is handled
 * entirely on one pool thread; the engine is safe for concurrent searches
 * and reads, so there is no lock in this module.
 *
 * One request, as MHD drives the access handler:
 *
 *   call 1 (headers)   request_begin: route + method check, Content-Type
 *        |             decides the body mode (urlencoded: on the first body
 *        |             bytes, since curl --data-binary sends raw images with
 *        |             that type); a declared Content-Length over
 *        |             the limit is answered 413 at once (MHD then closes).
 *   call 2..n (body)   request_body: count bytes; raw image bytes go into
 *        |             a pxs_buf capped at max_body, form data through MHD's
 *        |             post processor (multipart or urlencoded). Past the
 *        |             limit, or once an error is pending, bytes are
 *        |             drained and dropped: MHD 0.9.75 cannot queue a
 *        |             response while upload data is being delivered.
 *   last call          request_finish: 413 / pending error / malformed
 *                      body, else pxs__server_dispatch (routes.c).
 *   completed          on_completed: DEBUG log line, free the request.
 *
 * Invariants: every response is JSON except the page, its static files and
 * thumbnails; a bad request never takes the process down (no abort/exit;
 * allocation failure answers 500 or closes that one connection); memory per
 * request is bounded by max_body plus the response.
 */
#include "server/server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PORT 8080
#define DEFAULT_MAX_BODY (32u * 1024 * 1024)
#define CONNECTION_TIMEOUT_S 30u
#define CONNECTION_LIMIT 256u
#define CONNECTION_MEMORY (128u * 1024) /* MHD per-connection pool: headers + read buffer */
#define POST_BUFFER 16384               /* MHD post processor buffer */
#define MAX_THREADS 256

/* ---- responses --------------------------------------------------------- */

static const char oom_json[] = "{\"error\":{\"code\":\"ENOMEM\",\"message\":\"out of memory\"}}";
static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

unsigned pxs__server_status_for(int code) {
    switch (code) {
    case PXS_EUNSUPPORTED: return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    case PXS_EINVAL:
    case PXS_ECORRUPT: return MHD_HTTP_BAD_REQUEST;
    case PXS_ELIMIT: return MHD_HTTP_CONTENT_TOO_LARGE;
    case PXS_ENOTFOUND: return MHD_HTTP_NOT_FOUND;
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* Add the common headers and queue resp (always destroyed). */
static enum MHD_Result queue(struct MHD_Connection *conn, struct pxs__request *req,
                             unsigned status, struct MHD_Response *resp,
                             const char *content_type, const char *cache_control,
                             const char *allow) {
    if (!resp) return MHD_NO;
    int ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) == MHD_YES;
    ok = ok && MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") == MHD_YES;
    ok = ok && MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                                       cache_control ? cache_control : "no-store") == MHD_YES;
    if (ok && allow) ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) == MHD_YES;
    if (ok && strncmp(content_type, "text/html", 9) == 0) {
        ok = MHD_add_response_header(resp, "Content-Security-Policy", csp) == MHD_YES &&
             MHD_add_response_header(resp, "Referrer-Policy", "no-referrer") == MHD_YES &&
             MHD_add_response_header(resp, "X-Frame-Options", "DENY") == MHD_YES;
    }
    enum MHD_Result r = ok ? MHD_queue_response(conn, status, resp) : MHD_NO;
    MHD_destroy_response(resp);
    if (r == MHD_YES) req->status = (int)status;
    return r;
}

enum MHD_Result pxs__server_reply_bytes(struct MHD_Connection *conn, struct pxs__request *req,
                                        unsigned status, const char *content_type,
                                        const char *cache_control, void *body, size_t len,
                                        int owned) {
    struct MHD_Response *resp;
    if (owned) {
        resp = MHD_create_response_from_buffer_with_free_callback(len, body, pxs_free);
        if (!resp) pxs_free(body);
    } else {
        resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    }
    return queue(conn, req, status, resp, content_type, cache_control, NULL);
}

static enum MHD_Result reply_oom(struct MHD_Connection *conn, struct pxs__request *req) {
    return pxs__server_reply_bytes(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                   "application/json; charset=utf-8", NULL, (void *)oom_json,
                                   sizeof oom_json - 1, 0);
}

enum MHD_Result pxs__server_reply_json(struct MHD_Connection *conn, struct pxs__request *req,
                                       unsigned status, struct pxs__json *j) {
    if (j->rc != PXS_OK) {
        pxs__server_json_free(j);
        return reply_oom(conn, req);
    }
    size_t len;
    char *body = pxs_buf_detach(&j->buf, &len);
    if (!body) return reply_oom(conn, req);
    return pxs__server_reply_bytes(conn, req, status, "application/json; charset=utf-8", NULL,
                                   body, len, 1);
}

static enum MHD_Result reply_error_allow(struct MHD_Connection *conn, struct pxs__request *req,
                                         unsigned status, int code, const char *allow,
                                         const char *msg) {
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{\"error\":{\"code\":");
    pxs__server_json_str(&j, pxs_code_name(code));
    pxs__server_json_raw(&j, ",\"message\":");
    pxs__server_json_str(&j, msg);
    pxs__server_json_raw(&j, "}}");
    if (j.rc != PXS_OK) {
        pxs__server_json_free(&j);
        return reply_oom(conn, req);
    }
    size_t len;
    char *body = pxs_buf_detach(&j.buf, &len);
    if (!body) return reply_oom(conn, req);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, body, pxs_free);
    if (!resp) {
        pxs_free(body);
        return MHD_NO;
    }
    if (status >= 500)
        PXS_LOG_WARN("server: %s %s: %u %s", req->method, req->log_path, status, msg);
    return queue(conn, req, status, resp, "application/json; charset=utf-8", NULL, allow);
}

enum MHD_Result pxs__server_reply_error(struct MHD_Connection *conn, struct pxs__request *req,
                                        unsigned status, int code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return reply_error_allow(conn, req, status, code, NULL, msg);
}

/* ---- routing ------------------------------------------------------------ */

enum { M_GET = 1, M_POST = 2 };

static const struct {
    const char *path;
    int prefix;
    enum pxs__route route;
    unsigned methods;
    const char *asset;
} routes[] = {
    {"/", 0, PXS__R_PAGE, M_GET, "index.html"},
    {"/index.html", 0, PXS__R_PAGE, M_GET, "index.html"},
    {"/app.js", 0, PXS__R_STATIC, M_GET, "app.js"},
    {"/style.css", 0, PXS__R_STATIC, M_GET, "style.css"},
    {"/healthz", 0, PXS__R_HEALTHZ, M_GET, NULL},
    {"/img/search", 0, PXS__R_IMG_SEARCH, M_POST, NULL},
    {"/img/count", 0, PXS__R_IMG_COUNT, M_GET | M_POST, NULL},
    {"/api/search", 0, PXS__R_API_SEARCH, M_POST, NULL},
    {"/api/stats", 0, PXS__R_STATS, M_GET, NULL},
    {"/api/thumbnail/", 1, PXS__R_THUMB, M_GET, NULL},
    {"/api/images/", 1, PXS__R_IMAGE, M_GET, NULL},
};

static const char *allow_for(unsigned methods) {
    if (methods == M_GET) return "GET, HEAD";
    if (methods == M_POST) return "POST";
    return "GET, HEAD, POST";
}

static void set_pending(struct pxs__request *req, unsigned status, int code, const char *allow,
                        const char *fmt, ...) PXS_PRINTF(5, 6);
static void set_pending(struct pxs__request *req, unsigned status, int code, const char *allow,
                        const char *fmt, ...) {
    if (req->pending_status) return; /* the first problem found is reported */
    req->pending_status = (int)status;
    req->pending_code = code;
    req->pending_allow = allow;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req->pending_msg, sizeof req->pending_msg, fmt, ap);
    va_end(ap);
}

/* Copy for log lines: printable ASCII only, truncated. */
static void printable_copy(char *dst, size_t cap, const char *src) {
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c < 0x20 || c >= 0x7F) ? '?' : (char)c;
    }
    dst[i] = '\0';
}

static enum MHD_Result on_form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *filename, const char *content_type,
                                     const char *transfer_encoding, const char *data,
                                     uint64_t off, size_t size);

static void field_append(struct pxs__field *f, uint64_t off, const char *data, size_t size) {
    if (off == 0 && f->seen) { /* the field again: the last one wins */
        f->len = 0;
        f->overflow = 0;
    }
    f->seen = 1;
    if (f->overflow) return;
    if (size >= sizeof f->text - f->len) {
        f->overflow = 1;
        return;
    }
    memcpy(f->text + f->len, data, size);
    f->len += size;
    f->text[f->len] = '\0';
}

static enum MHD_Result on_form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *filename, const char *content_type,
                                     const char *transfer_encoding, const char *data,
                                     uint64_t off, size_t size) {
    struct pxs__request *req = cls;
    (void)kind;
    (void)filename;
    (void)content_type;
    (void)transfer_encoding;
    if (!key) return MHD_YES;
    if (strcmp(key, "image") == 0) {
        if (req->image_done) return MHD_YES;
        if (off != (uint64_t)req->image.len) {
            /* A second `image` part starts over at offset 0: keep the first. */
            req->image_done = 1;
            return MHD_YES;
        }
        req->image_seen = 1;
        if (size && pxs_buf_append(&req->image, data, size) != PXS_OK) req->oom = 1;
    } else if (strcmp(key, "topk") == 0) {
        field_append(&req->topk, off, data, size);
    } else if (strcmp(key, "min_similarity") == 0) {
        field_append(&req->min_sim, off, data, size);
    }
    /* Other fields (the bootcamp client's table_name, ...) are ignored. */
    return MHD_YES;
}

static int has_prefix_ci(const char *s, const char *prefix) {
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static void start_form(struct pxs__request *req, struct MHD_Connection *conn) {
    req->pp = MHD_create_post_processor(conn, POST_BUFFER, on_form_field, req);
    if (!req->pp) {
        set_pending(req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL, NULL,
                    "malformed form Content-Type (multipart/form-data needs a boundary)");
        return;
    }
    req->body_mode = PXS__BODY_FORM;
}

/* A urlencoded body is printable ASCII; every image format has a byte
 * outside that range in its first few bytes (JPEG, PNG, WebP and GIF sizes,
 * TIFF's NUL, ...). */
static int looks_binary(const char *data, size_t size) {
    for (size_t i = 0; i < size && i < 64; i++) {
        unsigned char c = (unsigned char)data[i];
        if (c < 0x20 || c >= 0x7F) return 1;
    }
    return 0;
}

static void choose_body_mode(struct pxs__request *req, struct MHD_Connection *conn) {
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || !*ct || has_prefix_ci(ct, "image/") ||
        has_prefix_ci(ct, "application/octet-stream")) {
        req->body_mode = PXS__BODY_RAW;
        return;
    }
    if (has_prefix_ci(ct, "application/x-www-form-urlencoded")) {
        /* Decided on the first body bytes: `curl --data-binary @a.jpg`
         * sends a raw image under this type. */
        req->body_mode = PXS__BODY_SNIFF;
        return;
    }
    if (has_prefix_ci(ct, "multipart/form-data")) {
        start_form(req, conn);
        return;
    }
    char shown[64];
    printable_copy(shown, sizeof shown, ct);
    set_pending(req, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, PXS_EUNSUPPORTED, NULL,
                "unsupported Content-Type \"%s\": send multipart/form-data with an 'image' "
                "file field, or the raw image as image/* or application/octet-stream",
                shown);
}

static void request_begin(struct pxs__server *srv, struct pxs__request *req,
                          struct MHD_Connection *conn, const char *url, const char *method) {
    req->srv = srv;
    req->t0_ns = pxs_now_ns();
    printable_copy(req->method, sizeof req->method, method);
    printable_copy(req->log_path, sizeof req->log_path, url);
    pxs_buf_init(&req->image, srv->max_body);

    /* HEAD is served as GET; MHD leaves the body out. */
    unsigned m = 0;
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
        m = M_GET;
    else if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
        m = M_POST;

    /* MHD hands over the path percent-decoded and without the query. Routes
     * are matched exactly (or by a fixed prefix plus a digit-only id), so
     * "..", "%2e%2e", "//" and friends can never name another file. */
    size_t n_routes = sizeof routes / sizeof routes[0];
    size_t i = 0;
    for (; i < n_routes; i++) {
        size_t plen = strlen(routes[i].path);
        if (routes[i].prefix ? strncmp(url, routes[i].path, plen) == 0
                             : strcmp(url, routes[i].path) == 0)
            break;
    }
    if (i == n_routes) {
        set_pending(req, MHD_HTTP_NOT_FOUND, PXS_ENOTFOUND, NULL, "no such endpoint: %s %s",
                    req->method, req->log_path);
    } else {
        req->route = routes[i].route;
        if (routes[i].asset) {
            snprintf(req->arg, sizeof req->arg, "%s", routes[i].asset);
        } else if (routes[i].prefix) {
            const char *rest = url + strlen(routes[i].path);
            if (strlen(rest) >= sizeof req->arg) req->arg_too_long = 1;
            else snprintf(req->arg, sizeof req->arg, "%s", rest);
        }
        if (!(m & routes[i].methods)) {
            set_pending(req, MHD_HTTP_METHOD_NOT_ALLOWED, PXS_EUNSUPPORTED,
                        allow_for(routes[i].methods), "method %s not allowed for %s (allowed: %s)",
                        req->method, routes[i].path, allow_for(routes[i].methods));
        }
    }

    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && v > srv->max_body) req->too_big = 1;
    }

    if (!req->pending_status && m == M_POST &&
        (req->route == PXS__R_IMG_SEARCH || req->route == PXS__R_API_SEARCH))
        choose_body_mode(req, conn);
}

/* Returns MHD_NO only to drop a connection that keeps streaming far past
 * the limit (no response can be queued mid-upload in MHD 0.9.75). */
static enum MHD_Result request_body(struct pxs__request *req, struct MHD_Connection *conn,
                                    const char *data, size_t size) {
    size_t max = req->srv->max_body;
    req->received += size;
    if (req->received > max) {
        if (!req->too_big) {
            req->too_big = 1;
            pxs_buf_free(&req->image);
        }
        uint64_t drain_limit = (uint64_t)max * 2 + 1024 * 1024;
        if (req->received > drain_limit) return MHD_NO;
        return MHD_YES;
    }
    if (req->pending_status || req->malformed || req->oom || req->too_big) return MHD_YES;
    if (req->body_mode == PXS__BODY_SNIFF) {
        if (looks_binary(data, size)) {
            req->body_mode = PXS__BODY_RAW;
        } else {
            start_form(req, conn);
            if (req->pending_status) return MHD_YES;
        }
    }
    if (req->body_mode == PXS__BODY_RAW) {
        req->image_seen = 1;
        int rc = pxs_buf_append(&req->image, data, size);
        if (rc == PXS_ELIMIT) req->too_big = 1;
        else if (rc != PXS_OK) req->oom = 1;
    } else if (req->body_mode == PXS__BODY_FORM) {
        if (MHD_post_process(req->pp, data, size) != MHD_YES) req->malformed = 1;
    }
    return MHD_YES;
}

static enum MHD_Result reply_too_big(struct MHD_Connection *conn, struct pxs__request *req) {
    return pxs__server_reply_error(conn, req, MHD_HTTP_CONTENT_TOO_LARGE, PXS_ELIMIT,
                                   "request body larger than the limit of %zu bytes",
                                   req->srv->max_body);
}

static enum MHD_Result request_finish(struct MHD_Connection *conn, struct pxs__request *req) {
    if (req->pp) {
        /* Reports a body that ended mid-part or lacked the closing boundary. */
        if (MHD_destroy_post_processor(req->pp) != MHD_YES) req->malformed = 1;
        req->pp = NULL;
    }
    if (req->too_big) return reply_too_big(conn, req);
    if (req->pending_status)
        return reply_error_allow(conn, req, (unsigned)req->pending_status, req->pending_code,
                                 req->pending_allow, req->pending_msg);
    if (req->oom) return reply_oom(conn, req);
    if (req->malformed)
        return pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                       "malformed form body (multipart/form-data or urlencoded)");
    return pxs__server_dispatch(conn, req);
}

static void request_free(struct pxs__request *req) {
    if (!req) return;
    if (req->pp) MHD_destroy_post_processor(req->pp);
    pxs_buf_free(&req->image);
    pxs_free(req);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    struct pxs__server *srv = cls;
    struct pxs__request *req = *con_cls;
    (void)version;
    if (!req) {
        req = pxs_calloc(1, sizeof *req);
        if (!req) return MHD_NO; /* out of memory: drop this connection only */
        *con_cls = req;
        request_begin(srv, req, conn, url ? url : "", method ? method : "");
        /* A declared body over the limit is refused before it is sent
         * (a client using Expect: 100-continue never sends it). */
        if (req->too_big) return reply_too_big(conn, req);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return request_body(req, conn, upload_data, n);
    }
    return request_finish(conn, req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    struct pxs__request *req = *con_cls;
    (void)cls;
    (void)conn;
    if (!req) return;
    double ms = (double)(pxs_now_ns() - req->t0_ns) / 1e6;
    if (req->status)
        PXS_LOG_DEBUG("http: %s %s %d %.1f ms", req->method, req->log_path, req->status, ms);
    else
        PXS_LOG_DEBUG("http: %s %s aborted (termination code %d) %.1f ms", req->method,
                      req->log_path, (int)toe, ms);
    request_free(req);
    *con_cls = NULL;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    PXS_LOG_DEBUG("http: libmicrohttpd: %s", msg);
}

/* Percent-decoding of the path and query (replaces MHD's default). Same as
 * MHD's except that %00 stays encoded: a decoded NUL would silently cut the
 * string short, so "/index.html%00.js" would be routed as "/index.html". */
static size_t on_unescape(void *cls, struct MHD_Connection *conn, char *s) {
    (void)cls;
    (void)conn;
    char *w = s;
    for (const char *r = s; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hex_digit(r[1])) >= 0 && (lo = hex_digit(r[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* ---- startup ------------------------------------------------------------ */

union any_addr {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

static int parse_bind(const char *text, int port, union any_addr *out, socklen_t *len,
                      int *is_v6) {
    memset(out, 0, sizeof *out);
    if (strcmp(text, "localhost") == 0) text = "127.0.0.1";
    if (inet_pton(AF_INET, text, &out->v4.sin_addr) == 1) {
        out->v4.sin_family = AF_INET;
        out->v4.sin_port = htons((uint16_t)port);
        *len = sizeof out->v4;
        *is_v6 = 0;
        return PXS_OK;
    }
    const char *p = text;
    char tmp[64];
    size_t n = strlen(p);
    if (n >= 2 && p[0] == '[' && p[n - 1] == ']' && n - 2 < sizeof tmp) { /* "[::1]" */
        memcpy(tmp, p + 1, n - 2);
        tmp[n - 2] = '\0';
        p = tmp;
    }
    if (inet_pton(AF_INET6, p, &out->v6.sin6_addr) == 1) {
        out->v6.sin6_family = AF_INET6;
        out->v6.sin6_port = htons((uint16_t)port);
        *len = sizeof out->v6;
        *is_v6 = 1;
        return PXS_OK;
    }
    return PXS_EINVAL;
}

/* MHD_start_daemon failed: find out why by binding the address ourselves,
 * which yields the errno MHD does not pass back. */
static int explain_start_failure(const union any_addr *addr, socklen_t len, const char *bind_addr,
                                 int port, struct pxs_err *err) {
    int fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return pxs_errf_sys(err, PXS_EIO, errno, "cannot listen on %s port %d: socket", bind_addr,
                            port);
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, &addr->sa, len);
    int e = errno;
    close(fd);
    if (rc != 0)
        return pxs_errf_sys(err, PXS_EIO, e, "cannot listen on %s port %d", bind_addr, port);
    return pxs_errf(err, PXS_EIO,
                    "cannot start the HTTP server on %s port %d (libmicrohttpd refused; "
                    "run with --log-level debug for its message)",
                    bind_addr, port);
}

int pxs_server_run(pxs_engine *engine, const struct pxs_server_opts *opts,
                   volatile sig_atomic_t *stop, struct pxs_err *err) {
    if (!engine || !stop)
        return pxs_errf(err, PXS_EINVAL, "an engine and a stop flag are required");
    struct pxs_server_opts o = {0};
    if (opts) o = *opts;
    const char *bind_addr = (o.bind && *o.bind) ? o.bind : "127.0.0.1";
    int port = o.port ? o.port : DEFAULT_PORT;
    if (port < 1 || port > 65535)
        return pxs_errf(err, PXS_EINVAL, "port %d out of range 1..65535", port);
    int threads = o.threads;
    if (threads < 0 || threads > MAX_THREADS)
        return pxs_errf(err, PXS_EINVAL, "threads %d out of range 0..%d", threads,
                        MAX_THREADS);
    if (threads == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        threads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu;
    }
    size_t max_body = o.max_body_bytes ? o.max_body_bytes : DEFAULT_MAX_BODY;
    if (o.web_dir) {
        struct stat st;
        if (stat(o.web_dir, &st) != 0) {
            int e = errno;
            return pxs_errf_sys(err, e == ENOENT ? PXS_ENOTFOUND : PXS_EIO, e, "web dir %s",
                                o.web_dir);
        }
        if (!S_ISDIR(st.st_mode))
            return pxs_errf(err, PXS_EINVAL, "web dir %s is not a directory", o.web_dir);
    }

    union any_addr addr;
    socklen_t addr_len = 0;
    int is_v6 = 0;
    if (parse_bind(bind_addr, port, &addr, &addr_len, &is_v6) != PXS_OK)
        return pxs_errf(err, PXS_EINVAL,
                        "bind address \"%s\" is not an IPv4 or IPv6 address", bind_addr);

    struct pxs_engine_stats stats;
    struct pxs_err serr = {0};
    if (pxs_engine_stats(engine, &stats, &serr) != PXS_OK) {
        memset(&stats, 0, sizeof stats);
        PXS_LOG_WARN("server: engine stats: %s", pxs_err_message(&serr, serr.code));
    }

    struct pxs__server srv = {engine, max_body, o.web_dir};
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (is_v6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, &srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *)NULL,
        MHD_OPTION_SOCK_ADDR, &addr.sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads,
        MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, (void *)NULL,
        MHD_OPTION_END);
    if (!d) return explain_start_failure(&addr, addr_len, bind_addr, port, err);

    PXS_LOG_INFO("server: listening on http://%s%s%s:%d/ (%d thread%s, %llu images, %s)",
                 is_v6 && bind_addr[0] != '[' ? "[" : "", bind_addr,
                 is_v6 && bind_addr[0] != '[' ? "]" : "", port, threads,
                 threads == 1 ? "" : "s", (unsigned long long)stats.images,
                 stats.embedder[0] ? stats.embedder : "unknown embedder");
    while (!*stop) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d); /* waits for in-flight requests and the pool threads */
    PXS_LOG_INFO("server: stopped");
    return PXS_OK;
}
