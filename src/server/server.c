/*
 * server.c — pxs_server_run: the libmicrohttpd daemon, the life of one
 * request, and request-body handling. The route handlers are in routes.c.
 *
 * Threads: by default (opts->threads 0) MHD gives every connection its own
 * thread (at most CONNECTION_LIMIT). Every request is handled entirely, and
 * synchronously, on the thread of its connection, so a pool would serialise
 * all the connections one pool thread accepted: a keep-alive client's
 * connections often all land on one thread, and searches by image then ran
 * on one core of two. With a thread per connection, concurrent searches
 * decode in parallel and the engine's query batcher (one model pass per
 * CPU) bounds the heavy work. opts->threads N > 0 asks for a pool of N
 * threads with epoll instead (MHD_USE_AUTO): fewer threads for many idle
 * connections, at the price above. The engine is safe for concurrent
 * searches and reads, so there is no lock in this module.
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
#include <limits.h>
#include <fcntl.h>
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
#define DEFAULT_MAX_UPLOAD (16u * 1024 * 1024)
#define DEFAULT_COLLECTION "milvus_img_search"
#define CONNECTION_TIMEOUT_S 30u
#define CONNECTION_LIMIT 256u
#define CONNECTION_MEMORY (128u * 1024) /* MHD per-connection pool: headers + read buffer */
#define MAX_THREADS 256

/* ---- responses --------------------------------------------------------- */

static const char oom_json[] =
    "{\"error\":{\"code\":\"ENOMEM\",\"message\":\"out of memory\"},\"status\":500}";
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

/* {"error":{"code":..,"message":..},"status":N}; bootcamp routes add the
 * seed's {"status":false,"msg":..} shape instead of the numeric status. */
static enum MHD_Result reply_error_allow(struct MHD_Connection *conn, struct pxs__request *req,
                                         unsigned status, int code, const char *allow,
                                         const char *msg) {
    struct pxs__json j;
    pxs__server_json_init(&j);
    int bootcamp = req->route && req->route->family == PXS__FAM_BOOTCAMP;
    if (req->route && req->route->family == PXS__FAM_MILVUS) {
        /* Milvus answers HTTP 200 with a code, except auth (401) and paths */
        pxs__server_json_raw(&j, "{\"code\":");
        pxs__server_json_int(&j, pxs__v2_code_for(status, code));
        pxs__server_json_raw(&j, ",\"message\":");
        pxs__server_json_str(&j, msg);
        pxs__server_json_raw(&j, "}");
        if (status != MHD_HTTP_UNAUTHORIZED && status != MHD_HTTP_NOT_FOUND &&
            status != MHD_HTTP_METHOD_NOT_ALLOWED && status < 500)
            status = MHD_HTTP_OK;
    } else {
        pxs__server_json_raw(&j, "{\"error\":{\"code\":");
        pxs__server_json_str(&j, pxs_code_name(code));
        pxs__server_json_raw(&j, ",\"message\":");
        pxs__server_json_str(&j, msg);
        pxs__server_json_raw(&j, "},\"status\":");
        if (bootcamp) {
            pxs__server_json_raw(&j, "false,\"msg\":");
            pxs__server_json_str(&j, msg);
        } else {
            pxs__server_json_uint(&j, status);
        }
        pxs__server_json_raw(&j, "}");
    }
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
        PXS_LOG_WARN("server: %s %s: %u %s", req->method_name, req->log_path, status, msg);
    if (status == MHD_HTTP_UNAUTHORIZED &&
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer") != MHD_YES) {
        MHD_destroy_response(resp);
        return MHD_NO;
    }
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

enum MHD_Result pxs__server_reply_file(struct MHD_Connection *conn, struct pxs__request *req,
                                       const char *path, const char *content_type) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return pxs__server_reply_error(conn, req, MHD_HTTP_NOT_FOUND, PXS_ENOTFOUND,
                                           "the image file is gone");
        return pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, PXS_EIO,
                                       "cannot open the image file: %s", strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pxs__server_reply_error(conn, req, MHD_HTTP_NOT_FOUND, PXS_ENOTFOUND,
                                       "not a regular file");
    }
    /* MHD owns fd from here (closed when the response is destroyed). */
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    return queue(conn, req, MHD_HTTP_OK, resp, content_type, "private, max-age=3600", NULL);
}

/* ---- routing ------------------------------------------------------------ */

static const char *allow_for(unsigned methods) {
    switch (methods) {
    case PXS__M_GET: return "GET, HEAD";
    case PXS__M_POST: return "POST";
    case PXS__M_GET | PXS__M_POST: return "GET, HEAD, POST";
    case PXS__M_GET | PXS__M_DELETE: return "GET, HEAD, DELETE";
    case PXS__M_DELETE: return "DELETE";
    default: return "GET, HEAD, POST, DELETE";
    }
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

/* Constant-time comparison (the token must not leak through timing). */
static int token_equal(const char *given, size_t given_len, const char *want) {
    size_t want_len = strlen(want);
    unsigned diff = given_len != want_len;
    for (size_t i = 0; i < want_len; i++)
        diff |= (unsigned)(unsigned char)want[i] ^
                (unsigned)(unsigned char)(i < given_len ? given[i] : 0);
    return diff == 0;
}

static void check_token(struct pxs__server *srv, struct pxs__request *req,
                        struct MHD_Connection *conn) {
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth) {
        set_pending(req, MHD_HTTP_UNAUTHORIZED, PXS_EPERM, NULL,
                    "this server requires an API token for writes: send "
                    "\"Authorization: Bearer <token>\"");
        return;
    }
    if (strncasecmp(auth, "Bearer ", 7) != 0 ||
        !token_equal(auth + 7, strlen(auth + 7), srv->token))
        set_pending(req, MHD_HTTP_UNAUTHORIZED, PXS_EPERM, NULL, "wrong API token");
}

static void request_begin(struct pxs__server *srv, struct pxs__request *req,
                          struct MHD_Connection *conn, const char *url, const char *method) {
    req->srv = srv;
    req->t0_ns = pxs_now_ns();
    req->route_index = pxs__n_routes;
    printable_copy(req->method_name, sizeof req->method_name, method);
    printable_copy(req->log_path, sizeof req->log_path, url);
    pxs_buf_init(&req->body, srv->max_body);

    /* HEAD is served as GET; MHD leaves the body out. */
    unsigned m = 0;
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
        m = PXS__M_GET;
    else if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
        m = PXS__M_POST;
    else if (strcmp(method, MHD_HTTP_METHOD_DELETE) == 0)
        m = PXS__M_DELETE;
    req->method = m;

    /* MHD hands over the path percent-decoded and without the query. Routes
     * are matched exactly (or by a fixed prefix whose rest the handler
     * parses strictly), so "..", "%2e%2e", "//" and friends can never name
     * another file. The longest matching entry wins. */
    size_t best = pxs__n_routes, best_len = 0;
    for (size_t i = 0; i < pxs__n_routes; i++) {
        const struct pxs__route *rt = &pxs__routes[i];
        size_t plen = strlen(rt->path);
        int hit = rt->prefix ? strncmp(url, rt->path, plen) == 0
                             : strcmp(url, rt->path) == 0;
        if (hit && (best == pxs__n_routes || plen > best_len)) {
            best = i;
            best_len = plen;
        }
    }
    if (best == pxs__n_routes) {
        set_pending(req, MHD_HTTP_NOT_FOUND, PXS_ENOTFOUND, NULL, "no such endpoint: %s %s",
                    req->method_name, req->log_path);
    } else {
        const struct pxs__route *rt = &pxs__routes[best];
        req->route = rt;
        req->route_index = best;
        if (rt->asset) {
            snprintf(req->arg, sizeof req->arg, "%s", rt->asset);
        } else if (rt->prefix) {
            const char *rest = url + strlen(rt->path);
            if (strlen(rest) >= sizeof req->arg) req->arg_too_long = 1;
            else snprintf(req->arg, sizeof req->arg, "%s", rest);
        }
        if (!(m & rt->methods)) {
            set_pending(req, MHD_HTTP_METHOD_NOT_ALLOWED, PXS_EUNSUPPORTED,
                        allow_for(rt->methods), "method %s not allowed for %s (allowed: %s)",
                        req->method_name, rt->path, allow_for(rt->methods));
        } else if (rt->write && srv->token && m != PXS__M_GET) {
            check_token(srv, req, conn);
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
}

/* Returns MHD_NO only to drop a connection that keeps streaming far past
 * the limit (no response can be queued mid-upload in MHD 0.9.75). */
static enum MHD_Result request_body(struct pxs__request *req, const char *data, size_t size) {
    size_t max = req->srv->max_body;
    req->received += size;
    if (req->received > max) {
        if (!req->too_big) {
            req->too_big = 1;
            pxs_buf_free(&req->body);
        }
        uint64_t drain_limit = (uint64_t)max * 2 + 1024 * 1024;
        if (req->received > drain_limit) return MHD_NO;
        return MHD_YES;
    }
    if (req->pending_status || req->oom || req->too_big) return MHD_YES;
    int rc = pxs_buf_append(&req->body, data, size);
    if (rc == PXS_ELIMIT) req->too_big = 1;
    else if (rc != PXS_OK) req->oom = 1;
    return MHD_YES;
}

static enum MHD_Result reply_too_big(struct MHD_Connection *conn, struct pxs__request *req) {
    return pxs__server_reply_error(conn, req, MHD_HTTP_CONTENT_TOO_LARGE, PXS_ELIMIT,
                                   "request body larger than the limit of %zu bytes",
                                   req->srv->max_body);
}

static enum MHD_Result request_finish(struct MHD_Connection *conn, struct pxs__request *req) {
    if (req->too_big) return reply_too_big(conn, req);
    if (req->pending_status)
        return reply_error_allow(conn, req, (unsigned)req->pending_status, req->pending_code,
                                 req->pending_allow, req->pending_msg);
    if (req->oom) return reply_oom(conn, req);
    if (req->method == PXS__M_POST && req->route->family != PXS__FAM_MILVUS) {
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_TYPE);
        char msg[256] = "";
        int rc = pxs__body_parse(ct, (const unsigned char *)req->body.data, req->body.len,
                                 &req->form, msg, sizeof msg);
        if (rc == PXS_ENOMEM) return reply_oom(conn, req);
        if (rc != PXS_OK)
            return pxs__server_reply_error(conn, req, pxs__server_status_for(rc), rc, "%s", msg);
    }
    return req->route->handler(conn, req);
}

static void request_free(struct pxs__request *req) {
    if (!req) return;
    pxs__form_free(&req->form);
    pxs_buf_free(&req->body);
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
        return request_body(req, upload_data, n);
    }
    return request_finish(conn, req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    struct pxs__request *req = *con_cls;
    (void)cls;
    (void)conn;
    if (!req) return;
    uint64_t ns = pxs_now_ns() - req->t0_ns;
    double ms = (double)ns / 1e6;
    pxs__metrics_observe(req->srv, req->route_index, req->status, ns);
    if (req->status)
        PXS_LOG_DEBUG("http: %s %s %d %.1f ms", req->method_name, req->log_path, req->status, ms);
    else
        PXS_LOG_DEBUG("http: %s %s aborted (termination code %d) %.1f ms", req->method_name,
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

static void free_roots(struct pxs__server *srv) {
    for (size_t i = 0; i < srv->n_roots; i++) pxs_free(srv->roots[i]);
    pxs_free(srv->roots);
    srv->roots = NULL;
    srv->n_roots = 0;
}

static void server_cleanup(struct pxs__server *srv) {
    free_roots(srv);
    pxs_free(srv->metrics);
    pthread_mutex_destroy(&srv->job.mu);
}

/* Resolve every --root once (they must exist and be directories). */
static int resolve_roots(struct pxs__server *srv, const struct pxs_server_opts *o,
                         struct pxs_err *err) {
    char tmp[PATH_MAX];
    if (o->n_roots == 0) return PXS_OK;
    srv->roots = pxs_calloc(o->n_roots, sizeof *srv->roots);
    if (!srv->roots) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    for (size_t i = 0; i < o->n_roots; i++) {
        struct stat st;
        if (!o->roots[i] || !realpath(o->roots[i], tmp))
            return pxs_errf_sys(err, PXS_ENOTFOUND, errno, "--root %s", o->roots[i] ? o->roots[i] : "");
        if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode))
            return pxs_errf(err, PXS_EINVAL, "--root %s is not a directory", o->roots[i]);
        srv->roots[i] = pxs_strdup(tmp);
        if (!srv->roots[i]) return pxs_errf(err, PXS_ENOMEM, "out of memory");
        srv->n_roots = i + 1;
    }
    return PXS_OK;
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

    size_t max_upload = o.max_upload_bytes ? o.max_upload_bytes : DEFAULT_MAX_UPLOAD;
    if (max_upload > max_body) max_upload = max_body;
    struct pxs__server srv;
    memset(&srv, 0, sizeof srv);
    srv.engine = engine;
    srv.max_body = max_body;
    srv.max_upload = max_upload;
    srv.web_dir = o.web_dir;
    srv.token = (o.token && *o.token) ? o.token : NULL;
    srv.collection = (o.collection && *o.collection) ? o.collection : DEFAULT_COLLECTION;
    srv.started = (double)time(NULL);
    int rc = resolve_roots(&srv, &o, err);
    if (rc == PXS_OK) {
        srv.metrics = pxs_calloc(pxs__n_routes + 1, sizeof *srv.metrics);
        if (!srv.metrics) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    }
    if (rc != PXS_OK) {
        free_roots(&srv);
        return rc;
    }
    pthread_mutex_init(&srv.job.mu, NULL);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (threads == 0) flags |= MHD_USE_THREAD_PER_CONNECTION;
    if (is_v6) flags |= MHD_USE_IPv6;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, &srv,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *)NULL,
        MHD_OPTION_SOCK_ADDR, &addr.sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(threads > 1 ? threads : 0),
        MHD_OPTION_CONNECTION_TIMEOUT, o.timeout_s > 0 ? (unsigned)o.timeout_s : CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, CONNECTION_LIMIT,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, (void *)NULL,
        MHD_OPTION_END);
    if (!d) {
        rc = explain_start_failure(&addr, addr_len, bind_addr, port, err);
        server_cleanup(&srv);
        return rc;
    }

    if (srv.n_roots == 0)
        PXS_LOG_INFO("server: no --root given: /img/load, ingest jobs and /data are refused");
    if (!srv.token) PXS_LOG_INFO("server: no API token: writes are open to anyone who can connect");
    char thr[48];
    if (threads == 0) snprintf(thr, sizeof thr, "a thread per connection");
    else snprintf(thr, sizeof thr, "%d thread%s", threads, threads == 1 ? "" : "s");
    PXS_LOG_INFO("server: listening on http://%s%s%s:%d/ (%s, %llu images, %s)",
                 is_v6 && bind_addr[0] != '[' ? "[" : "", bind_addr,
                 is_v6 && bind_addr[0] != '[' ? "]" : "", port, thr, (unsigned long long)stats.images,
                 stats.embedder[0] ? stats.embedder : "unknown embedder");
    while (!*stop) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d); /* waits for in-flight requests and the connection threads */
    pxs__job_shutdown(&srv);
    server_cleanup(&srv);
    PXS_LOG_INFO("server: stopped");
    return PXS_OK;
}
