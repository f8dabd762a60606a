/*
 * routes_bootcamp.c — the Milvus bootcamp reverse image search API, with
 * the request and response shapes of the seed service
 * (shared/baselines/seed_replica/server.py), so its web client works:
 *
 *   POST /img/load    JSON or form {"Table", "File"}: index File (a directory
 *                     under a --root) in the background -> "Start";
 *                     409 while a load runs
 *   GET  /progress    text "current: X, total: Y"
 *   GET  /img/load/status  JSON state of the last load (the seed's extension)
 *   GET|POST /img/count    ?table_name= (or JSON Table) -> integer
 *   POST /img/search  multipart image=<file>, topk (default 10), table_name
 *                     -> [[path, distance], ...] best first (distance: the
 *                     engine's metric, 0 = identical for cosine)
 *   POST /img/upload  multipart image=<file> -> "Successfully loaded data: <id>"
 *                     (a ?url= is refused: the server fetches nothing)
 *   POST /img/drop    -> "Successfully drop tables in Milvus and MySQL!"
 *   GET  /data        ?image_path=P: the file, only under a --root or uploads
 *   /api/v1/train|process|count|search|delete: the older pic_search API
 *                     (Table, File, Num, multipart `file`)
 *
 * One data directory is one collection: a table name other than the
 * served one (serve --collection, default milvus_img_search) is a 404.
 * Errors carry the seed's {"status": false, "msg": ...} (server.c).
 */
#include "server/server_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TOPK_DEFAULT 10

/* The table a request names: ?table_name= / form table_name / JSON Table. */
static int table_ok(struct MHD_Connection *conn, struct pxs__request *req, const char *field,
                    enum MHD_Result *r) {
    char name[128];
    int got = pxs__param(conn, req, field, name, sizeof name);
    if (got == 0 && strcmp(field, "Table") != 0)
        got = pxs__param(conn, req, "Table", name, sizeof name);
    if (got < 0) {
        *r = pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                     "invalid table name");
        return 0;
    }
    return pxs__check_table(conn, req, got ? name : NULL, r) == 0;
}

enum MHD_Result pxs__reply_progress_text(struct MHD_Connection *conn, struct pxs__request *req) {
    struct pxs__job *job = pxs_malloc(sizeof *job);
    if (!job)
        return pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, PXS_ENOMEM,
                                       "out of memory");
    pxs__job_snapshot(req->srv, job);
    char text[96];
    int n = snprintf(text, sizeof text, "current: %llu, total: %llu",
                     (unsigned long long)job->done, (unsigned long long)job->total);
    pxs_free(job);
    char *body = pxs_strndup(text, (size_t)n);
    if (!body)
        return pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, PXS_ENOMEM,
                                       "out of memory");
    /* Flask answers a str with text/html; the client only reads the text. */
    return pxs__server_reply_bytes(conn, req, MHD_HTTP_OK, "text/html; charset=utf-8", NULL, body,
                                   (size_t)n, 1);
}

enum MHD_Result pxs__h_progress(struct MHD_Connection *conn, struct pxs__request *req) {
    return pxs__reply_progress_text(conn, req);
}

static enum MHD_Result start_load(struct MHD_Connection *conn, struct pxs__request *req,
                                  const char *table_field) {
    enum MHD_Result r;
    if (!table_ok(conn, req, table_field, &r)) return r;
    char dir[4096];
    int got = pxs__param(conn, req, "File", dir, sizeof dir);
    if (got <= 0)
        return pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                       "File must be an existing directory");
    if (pxs__start_job(conn, req, dir, "a load is already running", &r) != 0) return r;
    return pxs__reply_json_string(conn, req, MHD_HTTP_OK, "Start");
}

enum MHD_Result pxs__h_img_load(struct MHD_Connection *conn, struct pxs__request *req) {
    return start_load(conn, req, "table_name");
}

enum MHD_Result pxs__h_v1_train(struct MHD_Connection *conn, struct pxs__request *req) {
    return start_load(conn, req, "Table");
}

enum MHD_Result pxs__h_load_status(struct MHD_Connection *conn, struct pxs__request *req) {
    struct pxs__job *job = pxs_malloc(sizeof *job);
    if (!job)
        return pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, PXS_ENOMEM,
                                       "out of memory");
    pxs__job_snapshot(req->srv, job);
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{\"running\":");
    pxs__server_json_raw(&j, job->running ? "true" : "false");
    if (job->id && !job->running) {
        pxs__server_json_raw(&j, ",\"ok\":");
        pxs__server_json_raw(&j, job->rc == PXS_OK ? "true" : "false");
    }
    pxs__server_json_raw(&j, ",\"table\":");
    pxs__server_json_str(&j, req->srv->collection);
    pxs__server_json_raw(&j, ",\"dir\":");
    pxs__server_json_str(&j, job->id ? job->dir : NULL);
    pxs__server_json_raw(&j, ",\"inserted\":");
    pxs__server_json_uint(&j, job->added);
    pxs__server_json_raw(&j, ",\"errors\":");
    pxs__server_json_uint(&j, job->failed);
    pxs__server_json_raw(&j, ",\"current\":");
    pxs__server_json_uint(&j, job->done);
    pxs__server_json_raw(&j, ",\"total\":");
    pxs__server_json_uint(&j, job->total);
    pxs__server_json_raw(&j, ",\"elapsed_s\":");
    double end = job->running ? (double)time(NULL) : job->finished;
    pxs__server_json_num(&j, job->id ? end - job->started : 0);
    pxs__server_json_raw(&j, "}");
    pxs_free(job);
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

static enum MHD_Result reply_count(struct MHD_Connection *conn, struct pxs__request *req,
                                   const char *table_field) {
    enum MHD_Result r;
    if (!table_ok(conn, req, table_field, &r)) return r;
    struct pxs_engine_stats st;
    struct pxs_err e = {0};
    int rc = pxs_engine_stats(req->srv->engine, &st, &e);
    if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_uint(&j, st.images);
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

enum MHD_Result pxs__h_img_count(struct MHD_Connection *conn, struct pxs__request *req) {
    return reply_count(conn, req, "table_name");
}

enum MHD_Result pxs__h_v1_count(struct MHD_Connection *conn, struct pxs__request *req) {
    return reply_count(conn, req, "Table");
}

/* [[path or URL, distance], ...]; url_prefix != NULL: the older API's image URLs. */
static enum MHD_Result search_pairs(struct MHD_Connection *conn, struct pxs__request *req,
                                    const struct pxs__search_spec *spec, const char *table_field,
                                    int urls) {
    enum MHD_Result r;
    if (!table_ok(conn, req, table_field, &r)) return r;
    struct pxs__search_result res;
    if (pxs__do_search(conn, req, spec, &res, &r) != 0) return r;
    char root[300] = "";
    if (urls) {
        const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
        int ok = host && *host && strlen(host) < 256;
        for (const char *p = host; ok && *p; p++)
            if (!(*p == '.' || *p == ':' || *p == '-' || *p == '[' || *p == ']' ||
                  (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
                ok = 0;
        if (ok) snprintf(root, sizeof root, "http://%s", host);
    }
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "[");
    for (size_t i = 0; i < res.n; i++) {
        const struct pxs_match *m = &res.matches[i];
        pxs__server_json_raw(&j, i ? ",[" : "[");
        if (urls) {
            char url[400];
            snprintf(url, sizeof url, "%s/api/images/%lld/file", root, (long long)m->meta.id);
            pxs__server_json_str(&j, url);
        } else {
            pxs__server_json_str(&j, m->meta.path);
        }
        pxs__server_json_raw(&j, ",");
        pxs__server_json_num(&j, m->distance);
        pxs__server_json_raw(&j, "]");
    }
    pxs__server_json_raw(&j, "]");
    pxs_free(res.matches);
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

enum MHD_Result pxs__h_img_search(struct MHD_Connection *conn, struct pxs__request *req) {
    static const struct pxs__search_spec spec = {"image", "topk", TOPK_DEFAULT, 0};
    return search_pairs(conn, req, &spec, "table_name", 0);
}

enum MHD_Result pxs__h_v1_search(struct MHD_Connection *conn, struct pxs__request *req) {
    static const struct pxs__search_spec spec = {"file", "Num", 1, 0};
    return search_pairs(conn, req, &spec, "Table", 1);
}

enum MHD_Result pxs__h_img_upload(struct MHD_Connection *conn, struct pxs__request *req) {
    enum MHD_Result r;
    if (!table_ok(conn, req, "table_name", &r)) return r;
    char url[16];
    if (pxs__param(conn, req, "url", url, sizeof url) != 0)
        return pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EUNSUPPORTED,
                                       "upload by url is not supported (this server fetches "
                                       "nothing from the network): send the image as the "
                                       "multipart file field 'image'");
    const unsigned char *img = NULL;
    size_t len = 0;
    unsigned char *owned = NULL;
    int got = pxs__request_image(conn, req, "image", NULL, &img, &len, &owned, &r);
    if (got < 0) return r;
    if (got == 0)
        return pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                       "missing image: send a multipart/form-data file field "
                                       "named 'image'");
    struct pxs_add_result add;
    struct pxs_err e = {0};
    int rc = pxs_engine_add_image(req->srv->engine, img, len, &add, &e);
    pxs_free(owned);
    if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    char text[96];
    snprintf(text, sizeof text, "Successfully loaded data: %lld", (long long)add.id);
    return pxs__reply_json_string(conn, req, MHD_HTTP_OK, text);
}

static enum MHD_Result drop(struct MHD_Connection *conn, struct pxs__request *req,
                            const char *table_field) {
    enum MHD_Result r;
    if (!table_ok(conn, req, table_field, &r)) return r;
    struct pxs__job *job = pxs_malloc(sizeof *job);
    if (!job)
        return pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, PXS_ENOMEM,
                                       "out of memory");
    pxs__job_snapshot(req->srv, job);
    int running = job->running;
    pxs_free(job);
    if (running)
        return pxs__server_reply_error(conn, req, MHD_HTTP_CONFLICT, PXS_EBUSY,
                                       "a load into this table is running");
    uint64_t removed = 0;
    struct pxs_err e = {0};
    int rc = pxs_engine_drop_all(req->srv->engine, &removed, &e);
    if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    PXS_LOG_INFO("server: dropped %llu images", (unsigned long long)removed);
    return pxs__reply_json_string(conn, req, MHD_HTTP_OK,
                                  "Successfully drop tables in Milvus and MySQL!");
}

enum MHD_Result pxs__h_img_drop(struct MHD_Connection *conn, struct pxs__request *req) {
    return drop(conn, req, "table_name");
}

enum MHD_Result pxs__h_v1_delete(struct MHD_Connection *conn, struct pxs__request *req) {
    return drop(conn, req, "Table");
}

static const char *mime_by_name(const char *path) {
    static const struct { const char *ext, *mime; } map[] = {
        {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".png", "image/png"},
        {".gif", "image/gif"},  {".webp", "image/webp"}, {".bmp", "image/bmp"},
        {".tif", "image/tiff"}, {".tiff", "image/tiff"}, {".avif", "image/avif"},
        {".heic", "image/heif"}, {".heif", "image/heif"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(dot, map[i].ext) == 0) return map[i].mime;
    return "application/octet-stream";
}

enum MHD_Result pxs__h_data(struct MHD_Connection *conn, struct pxs__request *req) {
    char path[4096], resolved[4096], msg[512];
    int got = pxs__param(conn, req, "image_path", path, sizeof path);
    if (got <= 0)
        return pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                       "missing image_path");
    unsigned st = pxs__server_check_path(req->srv, path, 0, 1, resolved, sizeof resolved, msg,
                                         sizeof msg);
    if (st)
        return pxs__reply_path_error(conn, req, st, msg);
    return pxs__server_reply_file(conn, req, resolved, mime_by_name(resolved));
}
