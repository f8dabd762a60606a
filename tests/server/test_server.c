/*
 * tests/server/test_server.c — the HTTP server end to end: a real engine over
 * a temp data dir with images made by the `vips` CLI, pxs_server_run in a
 * background thread, and a tiny HTTP/1.1 client on plain POSIX sockets that
 * sends exact request bytes (so malformed requests can be sent too).
 *
 * Covered: healthz, search by multipart upload and by raw body (the same
 * image comes first at distance ~0), topk (form and query), bad inputs (not
 * an image, missing field, bad topk, malformed multipart, unsupported
 * Content-Type, oversize body declared and chunked), routing (404, 405),
 * thumbnails and metadata, the web page and static files, path traversal
 * attempts, --web-dir, a port already in use, and the server still answering
 * after all of it. Also unit tests of the JSON writer and the parsers.
 */
#include "../test.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "pixseek/core.h"
#include "pixseek/engine.h"
#include "pixseek/server.h"
#include "server/server_int.h"

/* ---- a background server ---------------------------------------------- */

struct bg_server {
    pxs_engine *engine;
    struct pxs_server_opts opts;
    volatile sig_atomic_t stop;
    atomic_int done;
    int rc;
    struct pxs_err err;
    pthread_t thread;
    int running;
};

static void *bg_main(void *arg) {
    struct bg_server *s = arg;
    s->rc = pxs_server_run(s->engine, &s->opts, &s->stop, &s->err);
    atomic_store(&s->done, 1);
    return NULL;
}

static void bg_stop(struct bg_server *s) {
    if (!s->running) return;
    s->stop = 1;
    pthread_join(s->thread, NULL);
    s->running = 0;
}

/* ---- a tiny HTTP/1.1 client --------------------------------------------- */

struct resp {
    int status;
    char *head;     /* status line + headers, NUL-terminated */
    char *body;     /* NUL-terminated beyond len */
    size_t len;
    cJSON *json;    /* parsed body, or NULL */
};

static void resp_free(struct resp *r) {
    free(r->head);
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof *r);
}

static int connect_port(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send req (exact bytes), read until the server closes, parse the status
 * line, headers and body. A reset after the response arrived (the server
 * refusing an oversize body) still counts as a response. 0 on success. */
static int http_raw(int port, const void *req, size_t req_len, struct resp *out) {
    memset(out, 0, sizeof *out);
    int fd = connect_port(port);
    if (fd < 0) return -1;
    size_t sent = 0;
    while (sent < req_len) {
        ssize_t n = send(fd, (const char *)req + sent, req_len - sent, MSG_NOSIGNAL);
        if (n <= 0) break; /* the server may answer early and close */
        sent += (size_t)n;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 4096 > cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n <= 0) break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || !sep) {
        free(buf);
        return -1;
    }
    out->status = atoi(buf + 9);
    size_t head_len = (size_t)(sep - buf);
    out->head = malloc(head_len + 1);
    memcpy(out->head, buf, head_len);
    out->head[head_len] = '\0';
    out->len = len - head_len - 4;
    out->body = malloc(out->len + 1);
    memcpy(out->body, sep + 4, out->len);
    out->body[out->len] = '\0';
    free(buf);
    out->json = cJSON_ParseWithLength(out->body, out->len);
    return 0;
}

/* Case-insensitive header lookup; returns a static copy of the value. */
static const char *header(const struct resp *r, const char *name) {
    static char value[512];
    size_t nlen = strlen(name);
    for (const char *p = r->head; p && (p = strstr(p, "\r\n")); ) {
        p += 2;
        if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ') v++;
            size_t n = strcspn(v, "\r\n");
            if (n >= sizeof value) n = sizeof value - 1;
            memcpy(value, v, n);
            value[n] = '\0';
            return value;
        }
    }
    return NULL;
}

static int http_get(int port, const char *method, const char *target, struct resp *out) {
    char req[1024];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                     method, target);
    return http_raw(port, req, (size_t)n, out);
}

/* POST with a body; extra_headers end with \r\n or are "". */
static int http_post(int port, const char *target, const char *content_type,
                     const char *extra_headers, const void *body, size_t body_len,
                     struct resp *out) {
    size_t cap = body_len + 1024;
    char *req = malloc(cap);
    int n = snprintf(req, cap,
                     "POST %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s%s%s"
                     "Content-Length: %zu\r\n%s\r\n",
                     target, content_type ? "Content-Type: " : "",
                     content_type ? content_type : "", content_type ? "\r\n" : "", body_len,
                     extra_headers);
    memcpy(req + n, body, body_len);
    int rc = http_raw(port, req, (size_t)n + body_len, out);
    free(req);
    return rc;
}

#define BOUNDARY "----pxsTestBoundary7MA4YWxkTrZu0gW"
#define MULTIPART "multipart/form-data; boundary=" BOUNDARY

/* A multipart body with an optional image part and an optional topk field. */
static char *multipart(const void *img, size_t img_len, const char *field_name,
                       const char *topk, size_t *out_len) {
    size_t cap = img_len + 1024;
    char *b = malloc(cap);
    size_t n = 0;
    if (topk)
        n += (size_t)snprintf(b + n, cap - n,
                              "--" BOUNDARY "\r\nContent-Disposition: form-data; "
                              "name=\"topk\"\r\n\r\n%s\r\n",
                              topk);
    if (img) {
        n += (size_t)snprintf(b + n, cap - n,
                              "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"; "
                              "filename=\"q.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n",
                              field_name);
        memcpy(b + n, img, img_len);
        n += img_len;
        n += (size_t)snprintf(b + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(b + n, cap - n, "--" BOUNDARY "--\r\n");
    *out_len = n;
    return b;
}

static const char *json_str(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double json_num(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : -1e300;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = s ? strlen(s) : 0, b = strlen(suffix);
    return s && a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A JSON error body {"error":{"code":..,"message":..}} with this code. */
static int is_json_error(const struct resp *r, const char *code) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
    const char *c = json_str(e, "code");
    const char *m = json_str(e, "message");
    const char *ct = header(r, "Content-Type");
    return c && m && *m && ct && strncmp(ct, "application/json", 16) == 0 &&
           (!code || strcmp(c, code) == 0);
}

/* ---- fixture: images, engine, server ------------------------------------ */

/* noise.jpg gradient.jpg sines.jpg color.jpg (96x64) and black.png (80x80) */
#define N_IMAGES 5

static int make_images(const char *dir) {
    return pxs_test_system(
        "cd '%s' && "
        "vips gaussnoise n.v 96 64 --mean 128 --sigma 50 && vips cast n.v n8.v uchar && "
        "vips copy n8.v noise.jpg && "
        "vips xyz xy.v 96 64 && vips extract_band xy.v x.v 0 && "
        "vips linear x.v x8.v 2.6 0 --uchar && vips copy x8.v gradient.jpg && "
        "vips sines s.v 96 64 --hfreq 3 --vfreq 2 && vips linear s.v s8.v 120 128 --uchar && "
        "vips copy s8.v sines.jpg && "
        "vips bandjoin 'x8.v s8.v n8.v' c.v && vips copy c.v color.jpg && "
        "vips black b.v 80 80 --bands 3 && vips copy b.v black.png && "
        "rm -f *.v",
        dir);
}

struct fixture {
    char imgs[512];
    char data[512];
    pxs_engine *engine;
    uint64_t images;
};

/* Returns 0 on success; on failure reports through the test framework. */
static int fixture_open(struct fixture *f) {
    memset(f, 0, sizeof *f);
    const char *tmp = pxs_test_tmpdir();
    snprintf(f->imgs, sizeof f->imgs, "%s/imgs", tmp);
    snprintf(f->data, sizeof f->data, "%s/data", tmp);
    if (pxs_test_system("mkdir -p '%s'", f->imgs) != 0) return -1;
    if (make_images(f->imgs) != 0) {
        pxs_test_fail(__FILE__, __LINE__, "vips could not make the test images");
        return -1;
    }
    struct pxs_err err = {0};
    struct pxs_engine_opts eo = {f->data, 0};
    if (pxs_engine_open(&eo, &f->engine, &err) != PXS_OK) {
        pxs_test_fail(__FILE__, __LINE__, "engine open: %s", err.msg);
        return -1;
    }
    struct pxs_ingest_summary sum;
    memset(&sum, 0, sizeof sum);
    if (pxs_engine_ingest(f->engine, f->imgs, NULL, &sum, &err) != PXS_OK) {
        pxs_test_fail(__FILE__, __LINE__, "ingest: %s", err.msg);
        return -1;
    }
    f->images = sum.added;
    if (sum.added != N_IMAGES) {
        pxs_test_fail(__FILE__, __LINE__, "ingest added %llu of %d images (%llu failed)",
                      (unsigned long long)sum.added, N_IMAGES, (unsigned long long)sum.failed);
        return -1;
    }
    return 0;
}

static void fixture_close(struct fixture *f) {
    pxs_engine_close(f->engine);
    f->engine = NULL;
}

static char *read_image(const struct fixture *f, const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", f->imgs, name);
    char *data = NULL;
    struct pxs_err err = {0};
    if (pxs_file_read_all(path, 1u << 24, &data, len, &err) != PXS_OK) return NULL;
    return data;
}

/* Start s on a free port derived from the pid; retry on PXS_EIO. Returns the
 * port or -1. */
static int bg_start(struct bg_server *s, pxs_engine *engine, const struct pxs_server_opts *opts) {
    static int attempt;
    for (int tries = 0; tries < 40; tries++, attempt++) {
        int port = 20000 + (int)(((unsigned)getpid() * 131u + (unsigned)attempt * 7919u) % 20000u);
        memset(s, 0, sizeof *s);
        s->engine = engine;
        s->opts = *opts;
        s->opts.port = port;
        if (pthread_create(&s->thread, NULL, bg_main, s) != 0) return -1;
        s->running = 1;
        /* Ready when /healthz answers while our thread is still serving (a
         * failed bind returns at once, so done would already be set). */
        int ready = 0;
        for (int i = 0; i < 100 && !atomic_load(&s->done); i++) {
            struct resp r;
            if (http_get(port, "GET", "/healthz", &r) == 0 && r.status == 200 &&
                json_str(r.json, "status")) {
                resp_free(&r);
                struct timespec ts = {0, 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
                ready = !atomic_load(&s->done);
                break;
            }
            resp_free(&r);
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (ready) return port;
        int failed_bind = atomic_load(&s->done) && s->rc == PXS_EIO;
        bg_stop(s);
        if (!failed_bind) return -1;
    }
    return -1;
}

static int vips_missing(void) { return pxs_test_system("vips --version >/dev/null 2>&1") != 0; }

/* ---- the main API test ---------------------------------------------------- */

static void api_checks(struct fixture *f, int port) {
    struct resp r;
    size_t img_len, body_len;

    /* healthz */
    CHECK_EQ_INT(http_get(port, "GET", "/healthz", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(header(&r, "Content-Type"), "application/json; charset=utf-8");
    CHECK_STR(json_str(r.json, "status"), "ok");
    CHECK_EQ_INT((long long)json_num(r.json, "images"), N_IMAGES);
    CHECK(json_num(r.json, "dim") > 0);
    CHECK(json_str(r.json, "embedder") && *json_str(r.json, "embedder"));
    resp_free(&r);

    /* bootcamp search by multipart upload: the same image first, ~0 away */
    char *img = read_image(f, "sines.jpg", &img_len);
    CHECK(img);
    char *body = multipart(img, img_len, "image", NULL, &body_len);
    int rc = http_post(port, "/img/search", MULTIPART, "", body, body_len, &r);
    free(body);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 200, "status %d: %s", r.status, r.body);
    CHECK(cJSON_IsArray(r.json));
    CHECK_EQ_INT(cJSON_GetArraySize(r.json), N_IMAGES);
    const cJSON *first = cJSON_GetArrayItem(r.json, 0);
    CHECK(cJSON_IsArray(first) && cJSON_GetArraySize(first) == 2);
    CHECK_MSG(ends_with(cJSON_GetArrayItem(first, 0)->valuestring, "/sines.jpg"), "top %s",
              cJSON_GetArrayItem(first, 0)->valuestring);
    CHECK_NEAR(cJSON_GetArrayItem(first, 1)->valuedouble, 0.0, 1e-3);
    double prev = -1;
    for (int i = 0; i < cJSON_GetArraySize(r.json); i++) {
        double d = cJSON_GetArrayItem(cJSON_GetArrayItem(r.json, i), 1)->valuedouble;
        CHECK_MSG(d >= prev, "distances not ascending at %d", i);
        prev = d;
    }
    resp_free(&r);

    /* topk as a form field */
    body = multipart(img, img_len, "image", "2", &body_len);
    rc = http_post(port, "/img/search", MULTIPART, "", body, body_len, &r);
    free(body);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(cJSON_GetArraySize(r.json), 2);
    resp_free(&r);

    /* topk as a query parameter, bootcamp route */
    body = multipart(img, img_len, "image", NULL, &body_len);
    rc = http_post(port, "/img/search?topk=3&table_name=milvus_img_search", MULTIPART, "", body,
                   body_len, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(cJSON_GetArraySize(r.json), 3);
    resp_free(&r);
    /* an unknown table (collection) is a 404 in the seed's error shape */
    rc = http_post(port, "/img/search?table_name=x", MULTIPART, "", body, body_len, &r);
    free(body);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 404 && is_json_error(&r, "ENOTFOUND"), "%d %s", r.status, r.body);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r.json, "status")));
    CHECK(json_str(r.json, "msg") != NULL);
    resp_free(&r);
    body = multipart(img, img_len, "image", NULL, &body_len);

    /* bad topk values */
    const char *bad_topk[] = {"0", "1001", "abc", "-3", "5x", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_topk / sizeof bad_topk[0]; i++) {
        char *b2 = multipart(img, img_len, "image", bad_topk[i], &body_len);
        rc = http_post(port, "/api/search", MULTIPART, "", b2, body_len, &r);
        free(b2);
        CHECK_EQ_INT(rc, 0);
        CHECK_MSG(r.status == 400 && is_json_error(&r, "EINVAL"), "topk=%s: %d %s", bad_topk[i],
                  r.status, r.body);
        resp_free(&r);
    }
    rc = http_post(port, "/api/search?min_similarity=2", MULTIPART, "", body, body_len, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(is_json_error(&r, "EINVAL"));
    resp_free(&r);
    free(body);
    free(img);

    /* raw-body search on the rich route */
    img = read_image(f, "color.jpg", &img_len);
    CHECK(img);
    rc = http_post(port, "/api/search?topk=4", "image/jpeg", "", img, img_len, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 200, "status %d: %s", r.status, r.body);
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(r.json, "results");
    CHECK(cJSON_IsArray(results));
    CHECK_EQ_INT(cJSON_GetArraySize(results), 4);
    CHECK(json_num(r.json, "took_ms") >= 0);
    const cJSON *top = cJSON_GetArrayItem(results, 0);
    CHECK(ends_with(json_str(top, "path"), "/color.jpg"));
    CHECK(json_num(top, "similarity") > 0.99);
    CHECK_NEAR(json_num(top, "distance"), 0.0, 1e-3);
    CHECK_EQ_INT((long long)json_num(top, "width"), 96);
    CHECK_EQ_INT((long long)json_num(top, "height"), 64);
    CHECK_STR(json_str(top, "format"), "jpeg");
    long long id = (long long)json_num(top, "id");
    char want_thumb[64], target[128];
    snprintf(want_thumb, sizeof want_thumb, "/api/thumbnail/%lld", id);
    CHECK_STR(json_str(top, "thumbnail"), want_thumb);
    resp_free(&r);

    /* application/octet-stream also counts as a raw image; min_similarity */
    rc = http_post(port, "/api/search?min_similarity=0.999", "application/octet-stream", "", img,
                   img_len, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(r.status, 200);
    results = cJSON_GetObjectItemCaseSensitive(r.json, "results");
    CHECK(cJSON_GetArraySize(results) >= 1);
    CHECK(ends_with(json_str(cJSON_GetArrayItem(results, 0), "path"), "/color.jpg"));
    resp_free(&r);

    /* curl --data-binary sends a raw image as urlencoded: still searched */
    rc = http_post(port, "/img/search?topk=1", "application/x-www-form-urlencoded", "", img,
                   img_len, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 200, "urlencoded image: %d %s", r.status, r.body);
    CHECK(ends_with(cJSON_GetArrayItem(cJSON_GetArrayItem(r.json, 0), 0)->valuestring,
                    "/color.jpg"));
    resp_free(&r);
    /* a real urlencoded form: fields parsed (bad topk seen), no image */
    rc = http_post(port, "/img/search", "application/x-www-form-urlencoded", "", "topk=0", 6, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 400 && strstr(r.body, "topk"), "%d %s", r.status, r.body);
    resp_free(&r);
    rc = http_post(port, "/img/search", "application/x-www-form-urlencoded", "", "topk=2&x=1", 10,
                   &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 400 && strstr(r.body, "missing image"), "%d %s", r.status, r.body);
    resp_free(&r);
    rc = http_post(port, "/img/search", "application/x-www-form-urlencoded", "", "image=abc%21",
                   12, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status >= 400 && r.status < 500 && is_json_error(&r, NULL), "%d %s", r.status,
              r.body);
    resp_free(&r);

    /* chunked upload of the raw image */
    {
        size_t cap = img_len + 256;
        char *req = malloc(cap);
        int n = snprintf(req, cap,
                         "POST /img/search HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                         "Content-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n",
                         img_len);
        memcpy(req + n, img, img_len);
        size_t total = (size_t)n + img_len;
        memcpy(req + total, "\r\n0\r\n\r\n", 7);
        rc = http_raw(port, req, total + 7, &r);
        free(req);
        CHECK_EQ_INT(rc, 0);
        CHECK_MSG(r.status == 200, "chunked: %d %s", r.status, r.body);
        CHECK(ends_with(cJSON_GetArrayItem(cJSON_GetArrayItem(r.json, 0), 0)->valuestring,
                        "/color.jpg"));
        resp_free(&r);
    }
    free(img);

    /* thumbnail and metadata of that id */
    snprintf(target, sizeof target, "/api/thumbnail/%lld", id);
    CHECK_EQ_INT(http_get(port, "GET", target, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(header(&r, "Content-Type"), "image/jpeg");
    CHECK(header(&r, "Cache-Control"));
    CHECK(r.len > 100 && (unsigned char)r.body[0] == 0xFF && (unsigned char)r.body[1] == 0xD8);
    resp_free(&r);
    snprintf(target, sizeof target, "/api/images/%lld", id);
    CHECK_EQ_INT(http_get(port, "GET", target, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(ends_with(json_str(r.json, "path"), "/color.jpg"));
    CHECK_EQ_INT((long long)json_num(r.json, "id"), id);
    CHECK(json_str(r.json, "hash") && strlen(json_str(r.json, "hash")) == 32);
    resp_free(&r);

    /* bad and unknown ids */
    const char *bad_ids[] = {"/api/thumbnail/abc", "/api/thumbnail/", "/api/thumbnail/-1",
                             "/api/thumbnail/1x", "/api/thumbnail/99999999999999999999999",
                             "/api/thumbnail/%2e%2e%2fMakefile", "/api/images/0x10"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++) {
        CHECK_EQ_INT(http_get(port, "GET", bad_ids[i], &r), 0);
        CHECK_MSG(r.status == 400 && is_json_error(&r, "EINVAL"), "%s: %d %s", bad_ids[i],
                  r.status, r.body);
        resp_free(&r);
    }
    CHECK_EQ_INT(http_get(port, "GET", "/api/thumbnail/987654", &r), 0);
    CHECK_MSG(r.status == 404 && is_json_error(&r, "ENOTFOUND"), "%d %s", r.status, r.body);
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "GET", "/api/images/987654", &r), 0);
    CHECK_EQ_INT(r.status, 404);
    resp_free(&r);

    /* stats and the bootcamp count */
    CHECK_EQ_INT(http_get(port, "GET", "/api/stats", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT((long long)json_num(r.json, "images"), N_IMAGES);
    CHECK(json_str(r.json, "metric") && json_str(r.json, "kernel"));
    CHECK(json_str(r.json, "index_type") && !strcmp(json_str(r.json, "index_type"), "FLAT"));
    resp_free(&r);
    CHECK_EQ_INT(http_post(port, "/img/count", NULL, "", "", 0, &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(cJSON_IsNumber(r.json) && (int)r.json->valuedouble == N_IMAGES);
    resp_free(&r);

    /* not an image: 4xx with the engine's message */
    static const char text[] = "hello, this is not an image at all\n";
    body = multipart(text, sizeof text - 1, "image", NULL, &body_len);
    rc = http_post(port, "/img/search", MULTIPART, "", body, body_len, &r);
    free(body);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG((r.status == 400 || r.status == 415) && is_json_error(&r, NULL), "%d %s", r.status,
              r.body);
    resp_free(&r);
    rc = http_post(port, "/api/search", "image/png", "", "\x89PNG\r\n\x1a\ngarbage", 15, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status >= 400 && r.status < 500 && is_json_error(&r, NULL), "%d %s", r.status,
              r.body);
    resp_free(&r);

    /* missing image field, empty raw body */
    body = multipart("x", 1, "picture", "3", &body_len);
    rc = http_post(port, "/img/search", MULTIPART, "", body, body_len, &r);
    free(body);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 400 && is_json_error(&r, "EINVAL"), "%d %s", r.status, r.body);
    CHECK(strstr(r.body, "image"));
    resp_free(&r);
    CHECK_EQ_INT(http_post(port, "/api/search", "image/jpeg", "", "", 0, &r), 0);
    CHECK_MSG(r.status == 400 && is_json_error(&r, "EINVAL"), "%d %s", r.status, r.body);
    resp_free(&r);

    /* malformed multipart: no closing boundary, garbage, no boundary */
    static const char torn[] = "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"image\"; "
                               "filename=\"a.jpg\"\r\n\r\n\xff\xd8\xff\xe0 truncated";
    rc = http_post(port, "/img/search", MULTIPART, "", torn, sizeof torn - 1, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 400 && is_json_error(&r, "EINVAL"), "torn: %d %s", r.status, r.body);
    resp_free(&r);
    static const char garbage[] = "this is not multipart at all\r\n\r\n--\r\n";
    rc = http_post(port, "/img/search", MULTIPART, "", garbage, sizeof garbage - 1, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 400 && is_json_error(&r, "EINVAL"), "garbage: %d %s", r.status, r.body);
    resp_free(&r);
    rc = http_post(port, "/img/search", "multipart/form-data", "", garbage, sizeof garbage - 1,
                   &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 400 && is_json_error(&r, "EINVAL"), "no boundary: %d %s", r.status,
              r.body);
    resp_free(&r);
    static const char bad_headers[] = "--" BOUNDARY "\r\nContent-Disposition: form-data\r\n"
                                      "no colon here\r\n\r\nxx\r\n--" BOUNDARY "--\r\n";
    rc = http_post(port, "/img/search", MULTIPART, "", bad_headers, sizeof bad_headers - 1, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 400 && is_json_error(&r, "EINVAL"), "bad part: %d %s", r.status,
              r.body);
    resp_free(&r);

    /* unsupported Content-Type */
    rc = http_post(port, "/api/search", "text/plain", "", "{\"image\":1}", 11, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 415 && is_json_error(&r, "EUNSUPPORTED"), "%d %s", r.status, r.body);
    resp_free(&r);
    /* JSON without a query */
    rc = http_post(port, "/api/search", "application/json", "", "{\"image\":1}", 11, &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 400 && is_json_error(&r, "EINVAL"), "%d %s", r.status, r.body);
    resp_free(&r);

    /* routing: unknown route, wrong method */
    CHECK_EQ_INT(http_get(port, "GET", "/nope", &r), 0);
    CHECK_MSG(r.status == 404 && is_json_error(&r, "ENOTFOUND"), "%d %s", r.status, r.body);
    resp_free(&r);
    CHECK_EQ_INT(http_post(port, "/api/nope", "image/jpeg", "", "abc", 3, &r), 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK(is_json_error(&r, "ENOTFOUND"));
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "GET", "/img/search", &r), 0);
    CHECK_MSG(r.status == 405 && is_json_error(&r, NULL), "%d %s", r.status, r.body);
    CHECK_STR(header(&r, "Allow"), "POST");
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "DELETE", "/api/stats", &r), 0);
    CHECK_EQ_INT(r.status, 405);
    CHECK_STR(header(&r, "Allow"), "GET, HEAD");
    resp_free(&r);
    CHECK_EQ_INT(http_post(port, "/healthz", "image/jpeg", "", "abc", 3, &r), 0);
    CHECK_EQ_INT(r.status, 405);
    resp_free(&r);

    /* the page and its static files */
    CHECK_EQ_INT(http_get(port, "GET", "/", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(header(&r, "Content-Type"), "text/html; charset=utf-8");
    CHECK(header(&r, "Content-Security-Policy"));
    CHECK(strstr(r.body, "<html") && strstr(r.body, "app.js"));
    size_t page_len = r.len;
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "GET", "/index.html", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.len, page_len);
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "GET", "/app.js", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(header(&r, "Content-Type"), "text/javascript; charset=utf-8");
    CHECK(strstr(r.body, "/api/search"));
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "GET", "/style.css", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(header(&r, "Content-Type"), "text/css; charset=utf-8");
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "HEAD", "/", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(r.len, 0);
    resp_free(&r);

    /* path traversal attempts never reach a file */
    const char *evil[] = {"/../Makefile", "/%2e%2e/Makefile", "/%2e%2e%2fMakefile",
                          "/web/../Makefile", "/app.js/../../Makefile", "//etc/passwd",
                          "/..%2f..%2fetc%2fpasswd", "/index.html%00.js", "/./app.js",
                          "/static/../../../../etc/passwd", "/%2fetc%2fpasswd",
                          "/server.h", "/web/index.html"};
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        CHECK_EQ_INT(http_get(port, "GET", evil[i], &r), 0);
        CHECK_MSG(r.status == 404 || r.status == 400, "%s: %d", evil[i], r.status);
        CHECK_MSG(!strstr(r.body, "MODE ?=") && !strstr(r.body, "root:"), "%s leaked", evil[i]);
        resp_free(&r);
    }

    /* garbage on the wire: the server answers or closes, and stays up */
    static const char *const wire[] = {
        "BLAH\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "POST /img/search HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
        ("POST /img/search HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
         "Content-Type: image/jpeg\r\n\r\nzz\r\n"),
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    };
    for (size_t i = 0; i < sizeof wire / sizeof wire[0]; i++) {
        (void)http_raw(port, wire[i], strlen(wire[i]), &r);
        resp_free(&r);
    }
    /* a client that connects and goes away mid-upload */
    {
        int fd = connect_port(port);
        CHECK(fd >= 0);
        static const char partial[] = "POST /api/search HTTP/1.1\r\nHost: t\r\n"
                                      "Content-Type: image/jpeg\r\nContent-Length: 5000\r\n\r\nab";
        CHECK(send(fd, partial, sizeof partial - 1, MSG_NOSIGNAL) > 0);
        close(fd);
    }

    /* keep-alive: two requests on one connection */
    {
        static const char two[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
                                  "GET /api/stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
        CHECK_EQ_INT(http_raw(port, two, sizeof two - 1, &r), 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK(strstr(r.body, "\"metric\""));
        resp_free(&r);
    }

    /* still alive */
    CHECK_EQ_INT(http_get(port, "GET", "/healthz", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_STR(json_str(r.json, "status"), "ok");
    resp_free(&r);
}

PXS_TEST(server_http_api) {
    SKIP_IF(vips_missing(), "the vips CLI is not installed");
    struct fixture f;
    if (fixture_open(&f) != 0) {
        fixture_close(&f);
        return;
    }
    struct bg_server s;
    struct pxs_server_opts opts = {0};
    opts.threads = 2;
    int port = bg_start(&s, f.engine, &opts);
    if (port < 0) {
        fixture_close(&f);
        CHECK_MSG(0, "server did not start: %s", s.err.msg);
    }
    api_checks(&f, port);
    bg_stop(&s);
    fixture_close(&f);
    CHECK_MSG(s.rc == PXS_OK, "server returned %d: %s", s.rc, s.err.msg);
}

/* ---- limits, --web-dir, a busy port ---------------------------------------- */

static void limit_checks(struct fixture *f, int port, const char *web_dir) {
    struct resp r;
    size_t img_len, body_len;
    char *img = read_image(f, "noise.jpg", &img_len);
    CHECK(img);
    CHECK(img_len > 2048);

    /* declared Content-Length over the limit: refused up front */
    char *body = multipart(img, img_len, "image", NULL, &body_len);
    int rc = http_post(port, "/img/search", MULTIPART, "", body, body_len, &r);
    free(body);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 413 && is_json_error(&r, "ELIMIT"), "%d %s", r.status, r.body);
    resp_free(&r);

    /* the same with Expect: 100-continue (the body is never needed) */
    rc = http_post(port, "/api/search", "image/jpeg", "Expect: 100-continue\r\n", img, img_len,
                   &r);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 413 && is_json_error(&r, "ELIMIT"), "%d %s", r.status, r.body);
    resp_free(&r);

    /* chunked, so the size is only known while reading: drained, then 413 */
    {
        size_t cap = img_len + 256;
        char *req = malloc(cap);
        int n = snprintf(req, cap,
                         "POST /api/search HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                         "Content-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n",
                         img_len);
        memcpy(req + n, img, img_len);
        size_t total = (size_t)n + img_len;
        memcpy(req + total, "\r\n0\r\n\r\n", 7);
        rc = http_raw(port, req, total + 7, &r);
        free(req);
        CHECK_EQ_INT(rc, 0);
        CHECK_MSG(r.status == 413 && is_json_error(&r, "ELIMIT"), "chunked: %d %s", r.status,
                  r.body);
        resp_free(&r);
    }
    free(img);

    /* a small image still fits */
    img = read_image(f, "black.png", &img_len);
    CHECK(img);
    CHECK(img_len < 1500);
    rc = http_post(port, "/img/search?topk=1", "image/png", "", img, img_len, &r);
    free(img);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(r.status == 200, "%d %s", r.status, r.body);
    CHECK(ends_with(cJSON_GetArrayItem(cJSON_GetArrayItem(r.json, 0), 0)->valuestring,
                    "/black.png"));
    resp_free(&r);

    /* --web-dir: files come from there; names outside the allow-list don't */
    CHECK_EQ_INT(http_get(port, "GET", "/", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "CUSTOM PAGE"));
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "GET", "/app.js", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strstr(r.body, "custom js"));
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "GET", "/style.css", &r), 0); /* missing in web_dir */
    CHECK_MSG(r.status == 404 && is_json_error(&r, "ENOTFOUND"), "%d %s", r.status, r.body);
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "GET", "/secret.txt", &r), 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK(!strstr(r.body, "TOP SECRET"));
    resp_free(&r);
    CHECK_EQ_INT(http_get(port, "GET", "/../secret.txt", &r), 0);
    CHECK(r.status == 404 || r.status == 400);
    CHECK(!strstr(r.body, "TOP SECRET"));
    resp_free(&r);
    (void)web_dir;

    /* the same port cannot be bound twice: PXS_EIO with a clear message */
    {
        struct pxs_server_opts o2 = {0};
        o2.port = port;
        volatile sig_atomic_t stop2 = 1;
        struct pxs_err err = {0};
        rc = pxs_server_run(f->engine, &o2, &stop2, &err);
        CHECK_EQ_INT(rc, PXS_EIO);
        CHECK_MSG(strstr(err.msg, "in use") && strstr(err.msg, "port"), "message: %s", err.msg);
    }

    CHECK_EQ_INT(http_get(port, "GET", "/healthz", &r), 0);
    CHECK_EQ_INT(r.status, 200);
    resp_free(&r);
}

PXS_TEST(server_limits_webdir_and_busy_port) {
    SKIP_IF(vips_missing(), "the vips CLI is not installed");
    struct fixture f;
    if (fixture_open(&f) != 0) {
        fixture_close(&f);
        return;
    }
    char web[600];
    snprintf(web, sizeof web, "%s/web", pxs_test_tmpdir());
    if (pxs_test_system("mkdir -p '%s' && printf '<html>CUSTOM PAGE</html>' > '%s/index.html' && "
                        "printf '// custom js' > '%s/app.js' && "
                        "printf 'TOP SECRET' > '%s/secret.txt' && "
                        "printf 'TOP SECRET' > '%s/../secret.txt'",
                        web, web, web, web, web) != 0) {
        fixture_close(&f);
        CHECK_MSG(0, "cannot create the web dir");
    }
    struct bg_server s;
    struct pxs_server_opts opts = {0};
    opts.threads = 1;
    opts.max_body_bytes = 2048;
    opts.web_dir = web;
    opts.bind = "0.0.0.0";
    int port = bg_start(&s, f.engine, &opts);
    if (port < 0) {
        fixture_close(&f);
        CHECK_MSG(0, "server did not start: %s", s.err.msg);
    }
    limit_checks(&f, port, web);
    bg_stop(&s);
    fixture_close(&f);
    CHECK_MSG(s.rc == PXS_OK, "server returned %d: %s", s.rc, s.err.msg);
}

/* ---- argument checks (no engine work) ------------------------------------- */

PXS_TEST(server_rejects_bad_options) {
    volatile sig_atomic_t stop = 1;
    struct pxs_err err = {0};
    pxs_engine *fake = (pxs_engine *)&err; /* never dereferenced: options fail first */
    CHECK_EQ_INT(pxs_server_run(NULL, NULL, &stop, &err), PXS_EINVAL);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_server_run(fake, NULL, NULL, &err), PXS_EINVAL);
    struct pxs_server_opts o = {0};
    o.bind = "not-an-address";
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_server_run(fake, &o, &stop, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "not-an-address"));
    o.bind = NULL;
    o.port = 70000;
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_server_run(fake, &o, &stop, &err), PXS_EINVAL);
    o.port = 0;
    o.threads = -1;
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_server_run(fake, &o, &stop, &err), PXS_EINVAL);
    o.threads = 0;
    o.web_dir = "/nonexistent/pixseek-web";
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_server_run(fake, &o, &stop, &err), PXS_ENOTFOUND);
}

/* ---- JSON writer and parsers ----------------------------------------------- */

PXS_TEST(server_json_writer) {
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "[");
    pxs__server_json_str(&j, "a\"b\\c\n\t\x01/\x7f");
    pxs__server_json_raw(&j, ",");
    pxs__server_json_str(&j, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"); /* valid UTF-8 */
    pxs__server_json_raw(&j, ",");
    pxs__server_json_str(&j, "bad\xff\xc3(\xed\xa0\x80\xc0\xaf!"); /* invalid sequences */
    pxs__server_json_raw(&j, ",");
    pxs__server_json_str(&j, NULL);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_num(&j, 0.25);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_num(&j, NAN);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_int(&j, INT64_MIN);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_uint(&j, UINT64_MAX);
    pxs__server_json_raw(&j, "]");
    CHECK_EQ_INT(j.rc, PXS_OK);
    CHECK_STR(j.buf.data,
              "[\"a\\\"b\\\\c\\n\\t\\u0001/\\u007f\","
              "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
              "\"bad\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd!\","
              "null,0.25,null,-9223372036854775808,18446744073709551615]");
    cJSON *parsed = cJSON_Parse(j.buf.data);
    CHECK(parsed != NULL);
    cJSON_Delete(parsed);
    pxs__server_json_free(&j);

    /* the cap makes the error sticky */
    pxs__server_json_init(&j);
    j.buf.max = 8;
    pxs__server_json_str(&j, "0123456789");
    CHECK_EQ_INT(j.rc, PXS_ELIMIT);
    pxs__server_json_raw(&j, "x");
    CHECK_EQ_INT(j.rc, PXS_ELIMIT);
    pxs__server_json_free(&j);
}

PXS_TEST(server_parsers) {
    int64_t id = -1;
    CHECK_EQ_INT(pxs__server_parse_id("42", &id), PXS_OK);
    CHECK_EQ_INT(id, 42);
    CHECK_EQ_INT(pxs__server_parse_id("9223372036854775807", &id), PXS_OK);
    CHECK_EQ_INT(id, INT64_MAX);
    const char *bad_ids[] = {"", "-1", "+1", " 1", "1 ", "0x1", "9223372036854775808",
                             "99999999999999999999", "1.0", "١"};
    for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++)
        CHECK_MSG(pxs__server_parse_id(bad_ids[i], &id) == PXS_EINVAL, "id \"%s\"", bad_ids[i]);
    CHECK_EQ_INT(pxs__server_parse_id(NULL, &id), PXS_EINVAL);

    long v = 0;
    CHECK_EQ_INT(pxs__server_parse_range(" 10 ", 1, 1000, &v), PXS_OK);
    CHECK_EQ_INT(v, 10);
    CHECK_EQ_INT(pxs__server_parse_range("1000", 1, 1000, &v), PXS_OK);
    const char *bad_k[] = {"0", "1001", "", " ", "-5", "5a", "1e3", "9999999999999"};
    for (size_t i = 0; i < sizeof bad_k / sizeof bad_k[0]; i++)
        CHECK_MSG(pxs__server_parse_range(bad_k[i], 1, 1000, &v) == PXS_EINVAL, "k \"%s\"",
                  bad_k[i]);

    float f = -1;
    CHECK_EQ_INT(pxs__server_parse_unit("0.5", &f), PXS_OK);
    CHECK_NEAR(f, 0.5, 1e-7);
    CHECK_EQ_INT(pxs__server_parse_unit("1", &f), PXS_OK);
    CHECK_EQ_INT(pxs__server_parse_unit(".25", &f), PXS_OK);
    CHECK_NEAR(f, 0.25, 1e-7);
    const char *bad_f[] = {"", "nan", "inf", "-0.1", "1.5", "0x1p-1", "1e-1", "0.5.5", "."};
    for (size_t i = 0; i < sizeof bad_f / sizeof bad_f[0]; i++)
        CHECK_MSG(pxs__server_parse_unit(bad_f[i], &f) == PXS_EINVAL, "unit \"%s\"", bad_f[i]);
}

PXS_TEST(server_embedded_assets) {
    struct pxs__asset a;
    const char *names[] = {"index.html", "app.js", "style.css"};
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ_INT(pxs__server_asset(names[i], &a), PXS_OK);
        CHECK(a.len > 100);
        CHECK(a.data[a.len] == '\0');
        char path[64];
        snprintf(path, sizeof path, "web/%s", names[i]);
        /* The embedded copy equals the file when run from the repo root. */
        char *disk = NULL;
        size_t disk_len = 0;
        struct pxs_err err = {0};
        if (pxs_file_read_all(path, 1u << 22, &disk, &disk_len, &err) == PXS_OK) {
            int same = disk_len == a.len && memcmp(disk, a.data, a.len) == 0;
            pxs_free(disk);
            CHECK_MSG(same, "embedded %s is stale: touch src/server/assets.c", names[i]);
        }
    }
    CHECK_EQ_INT(pxs__server_asset("../Makefile", &a), PXS_ENOTFOUND);
    CHECK_EQ_INT(pxs__server_asset("", &a), PXS_ENOTFOUND);
    CHECK_EQ_INT(pxs__server_asset(NULL, &a), PXS_ENOTFOUND);
}

/* ---- the route table, OpenAPI, bodies ------------------------------------- */

PXS_TEST(server_openapi_documents_every_route) {
    const unsigned char *doc;
    size_t len;
    pxs__server_openapi(&doc, &len);
    cJSON *j = cJSON_ParseWithLength((const char *)doc, len);
    CHECK(j);
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(j, "paths");
    CHECK(cJSON_IsObject(paths));
    static const struct { unsigned m; const char *name; } methods[] = {
        {PXS__M_GET, "get"}, {PXS__M_POST, "post"}, {PXS__M_DELETE, "delete"}};
    for (size_t i = 0; i < pxs__n_routes; i++) {
        const struct pxs__route *rt = &pxs__routes[i];
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(paths, rt->openapi);
        CHECK_MSG(cJSON_IsObject(p), "route %s missing from openapi.json", rt->openapi);
        for (size_t k = 0; p && k < 3; k++) {
            if (!(rt->methods & methods[k].m)) continue;
            const cJSON *op = cJSON_GetObjectItemCaseSensitive(p, methods[k].name);
            /* POST under /api/images/{id} exists only on its /tags sub-path */
            if (methods[k].m == PXS__M_POST && strcmp(rt->openapi, "/api/images/{id}") == 0)
                op = cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(paths, "/api/images/{id}/tags"), "post");
            CHECK_MSG(cJSON_IsObject(op), "%s %s missing from openapi.json", methods[k].name,
                      rt->openapi);
            /* writes document the token; every operation its responses */
            CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(op, "responses")));
            if (rt->write && methods[k].m != PXS__M_GET)
                CHECK_MSG(cJSON_GetObjectItemCaseSensitive(op, "security") != NULL,
                          "%s %s: no security", methods[k].name, rt->openapi);
        }
        /* the handler-dispatched sub-path of /api/images/{id} */
        if (strcmp(rt->openapi, "/api/images/{id}") == 0)
        {
            CHECK(cJSON_GetObjectItemCaseSensitive(paths, "/api/images/{id}/file"));
            CHECK(cJSON_GetObjectItemCaseSensitive(paths, "/api/images/{id}/original"));
            CHECK(cJSON_GetObjectItemCaseSensitive(paths, "/api/images/{id}/tags"));
        }
    }
    cJSON_Delete(j);
}

static int parse(const char *ct, const char *body, struct pxs__form *f) {
    char msg[256];
    return pxs__body_parse(ct, (const unsigned char *)body, strlen(body), f, msg, sizeof msg);
}

PXS_TEST(server_body_parsing) {
    struct pxs__form f;
    char text[64];
    const unsigned char *data;
    size_t len;
    /* multipart: fields, file, quoted boundary, preamble */
    CHECK_EQ_INT(parse("multipart/form-data; boundary=\"a b\"",
                       "pre\r\n--a b\r\nContent-Disposition: form-data; name=\"topk\"\r\n\r\n7\r\n"
                       "--a b\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.jpg\""
                       "\r\nContent-Type: image/jpeg\r\n\r\nJPEG\r\n--a b--\r\n",
                       &f),
                 PXS_OK);
    CHECK_EQ_INT(f.n_parts, 2);
    CHECK_EQ_INT(pxs__form_text(&f, "topk", text, sizeof text), 1);
    CHECK_STR(text, "7");
    CHECK_EQ_INT(pxs__form_file(&f, "image", &data, &len), 1);
    CHECK(len == 4 && memcmp(data, "JPEG", 4) == 0);
    CHECK_EQ_INT(pxs__form_text(&f, "missing", text, sizeof text), 0);
    CHECK_EQ_INT(pxs__form_text(&f, "topk", text, 1), -1);
    pxs__form_free(&f);
    /* malformed multipart */
    const char *bad[] = {"--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno end",
                         "--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--",
                         "--B\r\nno colon\r\n\r\nx\r\n--B--", "nothing here",
                         "--B\r\nContent-Disposition: form-data; name=\"x\r\n\r\nx\r\n--B--"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(parse("multipart/form-data; boundary=B", bad[i], &f) == PXS_EINVAL, "bad %zu", i);
        pxs__form_free(&f);
    }
    CHECK_EQ_INT(parse("multipart/form-data", "--B--", &f), PXS_EINVAL);
    pxs__form_free(&f);
    /* urlencoded, and a binary body under that type is a raw image */
    CHECK_EQ_INT(parse("application/x-www-form-urlencoded", "File=%2Fa+b&Table=t&flag", &f), PXS_OK);
    CHECK_EQ_INT(pxs__form_text(&f, "File", text, sizeof text), 1);
    CHECK_STR(text, "/a b");
    pxs__form_free(&f);
    CHECK_EQ_INT(parse("application/x-www-form-urlencoded", "a=%2", &f), PXS_EINVAL);
    pxs__form_free(&f);
    CHECK_EQ_INT(parse("application/x-www-form-urlencoded", "\xff\xd8\xff", &f), PXS_OK);
    CHECK_EQ_INT(f.kind, PXS__FORM_RAW);
    pxs__form_free(&f);
    /* JSON: members as text, wrong types, not an object, trailing data */
    CHECK_EQ_INT(parse("application/json; charset=utf-8",
                       "{\"topk\":5,\"sim\":0.25,\"s\":\"x\",\"n\":null,\"b\":true}", &f),
                 PXS_OK);
    CHECK_EQ_INT(pxs__form_text(&f, "topk", text, sizeof text), 1);
    CHECK_STR(text, "5");
    CHECK_EQ_INT(pxs__form_text(&f, "sim", text, sizeof text), 1);
    CHECK_STR(text, "0.250000000");
    CHECK_EQ_INT(pxs__form_text(&f, "n", text, sizeof text), 0);
    CHECK_EQ_INT(pxs__form_text(&f, "b", text, sizeof text), -1);
    pxs__form_free(&f);
    CHECK_EQ_INT(parse("application/json", "[1]", &f), PXS_EINVAL);
    pxs__form_free(&f);
    CHECK_EQ_INT(parse("application/json", "{} {}", &f), PXS_EINVAL);
    pxs__form_free(&f);
    CHECK_EQ_INT(parse("application/json", "{\"a\":", &f), PXS_EINVAL);
    pxs__form_free(&f);
    CHECK_EQ_INT(parse("text/plain", "x", &f), PXS_EUNSUPPORTED);
    pxs__form_free(&f);
    CHECK_EQ_INT(parse(NULL, "raw", &f), PXS_OK);
    CHECK_EQ_INT(f.kind, PXS__FORM_RAW);
    pxs__form_free(&f);
}

PXS_TEST(server_base64) {
    static const struct { const char *in; const char *out; } good[] = {
        {"aGVsbG8=", "hello"}, {"aGVsbG8", "hello"}, {"aGVs\nbG8=", "hello"},
        {"data:image/png;base64,aGk=", "hi"}, {"-_8=", "\xfb\xff"}, {"+/8=", "\xfb\xff"}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        unsigned char *out;
        size_t len;
        CHECK_EQ_INT(pxs__base64_decode(good[i].in, strlen(good[i].in), 100, &out, &len), PXS_OK);
        CHECK_MSG(len == strlen(good[i].out) && memcmp(out, good[i].out, len) == 0, "%s",
                  good[i].in);
        pxs_free(out);
    }
    static const char *const bad[] = {"", "a", "ab=c", "a===", "!!!!", "aGk=aGk=", "data:x,aGk=",
                                      "abcde"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char *out = NULL;
        size_t len;
        CHECK_MSG(pxs__base64_decode(bad[i], strlen(bad[i]), 100, &out, &len) == PXS_EINVAL,
                  "'%s' accepted", bad[i]);
        CHECK(out == NULL);
    }
    unsigned char *out;
    size_t len;
    CHECK_EQ_INT(pxs__base64_decode("aGVsbG8=", 8, 4, &out, &len), PXS_ELIMIT);
}
