/*
 * routes.c — the route table of `pixseek serve`, helpers the route files
 * share, and the core routes (healthz, the web page). server.c has already
 * checked the route, the method, the token and parsed the body; each
 * handler queues exactly one response.
 *
 * Route families (one file each):
 *   routes_bootcamp.c  Milvus bootcamp reverse image search (the seed's shapes)
 *   routes_native.c    pixseek's JSON API under /api/
 *   routes_meta.c      /metrics, /openapi.json
 *   routes_v2.c        Milvus REST API v2 subset under /v2/vectordb/
 *
 * Every entry carries its OpenAPI path; tests/server checks that
 * /openapi.json documents every route of this table.
 */
#include "server/server_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define WEB_FILE_MAX (8u * 1024 * 1024)

enum { G = PXS__M_GET, P = PXS__M_POST, D = PXS__M_DELETE };
#define CORE PXS__FAM_CORE
#define BOOT PXS__FAM_BOOTCAMP
#define MILVUS PXS__FAM_MILVUS
#define V2 PXS__V2_PREFIX

const struct pxs__route pxs__routes[] = {
    /* path                  prefix methods write family openapi               asset handler */
    {"/", 0, G, 0, CORE, "/", "index.html", pxs__h_static},
    {"/index.html", 0, G, 0, CORE, "/index.html", "index.html", pxs__h_static},
    {"/app.js", 0, G, 0, CORE, "/app.js", "app.js", pxs__h_static},
    {"/style.css", 0, G, 0, CORE, "/style.css", "style.css", pxs__h_static},
    {"/healthz", 0, G, 0, CORE, "/healthz", NULL, pxs__h_healthz},
    {"/metrics", 0, G, 0, CORE, "/metrics", NULL, pxs__h_metrics},
    {"/openapi.json", 0, G, 0, CORE, "/openapi.json", NULL, pxs__h_openapi},
    /* Milvus bootcamp (current FastAPI server) */
    {"/img/load", 0, P, 1, BOOT, "/img/load", NULL, pxs__h_img_load},
    {"/img/load/status", 0, G, 0, BOOT, "/img/load/status", NULL, pxs__h_load_status},
    {"/progress", 0, G, 0, BOOT, "/progress", NULL, pxs__h_progress},
    {"/img/count", 0, G | P, 0, BOOT, "/img/count", NULL, pxs__h_img_count},
    {"/img/search", 0, P, 0, BOOT, "/img/search", NULL, pxs__h_img_search},
    {"/img/upload", 0, P, 1, BOOT, "/img/upload", NULL, pxs__h_img_upload},
    {"/img/drop", 0, P, 1, BOOT, "/img/drop", NULL, pxs__h_img_drop},
    {"/data", 0, G, 0, BOOT, "/data", NULL, pxs__h_data},
    /* Milvus bootcamp, the older pic_search API */
    {"/api/v1/train", 0, P, 1, BOOT, "/api/v1/train", NULL, pxs__h_v1_train},
    {"/api/v1/process", 0, G, 0, BOOT, "/api/v1/process", NULL, pxs__h_progress},
    {"/api/v1/count", 0, P, 0, BOOT, "/api/v1/count", NULL, pxs__h_v1_count},
    {"/api/v1/search", 0, P, 0, BOOT, "/api/v1/search", NULL, pxs__h_v1_search},
    {"/api/v1/delete", 0, P, 1, BOOT, "/api/v1/delete", NULL, pxs__h_v1_delete},
    /* native */
    {"/api/search", 0, P, 0, CORE, "/api/search", NULL, pxs__h_api_search},
    {"/api/stats", 0, G, 0, CORE, "/api/stats", NULL, pxs__h_api_stats},
    {"/api/thumbnail/", 1, G, 0, CORE, "/api/thumbnail/{id}", NULL, pxs__h_api_thumbnail},
    {"/api/images", 0, P, 1, CORE, "/api/images", NULL, pxs__h_api_images_add},
    {"/api/images/", 1, G | P | D, 1, CORE, "/api/images/{id}", NULL, pxs__h_api_image},
    {"/api/ingest", 0, G | P, 1, CORE, "/api/ingest", NULL, pxs__h_api_ingest},
    {"/api/ingest/cancel", 0, P, 1, CORE, "/api/ingest/cancel", NULL, pxs__h_api_ingest_cancel},
    {"/api/duplicates", 0, G, 0, CORE, "/api/duplicates", NULL, pxs__h_api_duplicates},
    /* Milvus REST v2 subset (routes_v2.c); the prefix entry answers other actions */
    {V2 "collections/create", 0, P, 1, MILVUS, V2 "collections/create", NULL, pxs__h_v2},
    {V2 "collections/drop", 0, P, 1, MILVUS, V2 "collections/drop", NULL, pxs__h_v2},
    {V2 "collections/rename", 0, P, 1, MILVUS, V2 "collections/rename", NULL, pxs__h_v2},
    {V2 "collections/describe", 0, P, 0, MILVUS, V2 "collections/describe", NULL, pxs__h_v2},
    {V2 "collections/list", 0, P, 0, MILVUS, V2 "collections/list", NULL, pxs__h_v2},
    {V2 "collections/has", 0, P, 0, MILVUS, V2 "collections/has", NULL, pxs__h_v2},
    {V2 "collections/get_stats", 0, P, 0, MILVUS, V2 "collections/get_stats", NULL, pxs__h_v2},
    {V2 "collections/load", 0, P, 0, MILVUS, V2 "collections/load", NULL, pxs__h_v2},
    {V2 "collections/release", 0, P, 0, MILVUS, V2 "collections/release", NULL, pxs__h_v2},
    {V2 "collections/get_load_state", 0, P, 0, MILVUS, V2 "collections/get_load_state", NULL, pxs__h_v2},
    {V2 "entities/insert", 0, P, 1, MILVUS, V2 "entities/insert", NULL, pxs__h_v2},
    {V2 "entities/upsert", 0, P, 1, MILVUS, V2 "entities/upsert", NULL, pxs__h_v2},
    {V2 "entities/delete", 0, P, 1, MILVUS, V2 "entities/delete", NULL, pxs__h_v2},
    {V2 "entities/get", 0, P, 0, MILVUS, V2 "entities/get", NULL, pxs__h_v2},
    {V2 "entities/query", 0, P, 0, MILVUS, V2 "entities/query", NULL, pxs__h_v2},
    {V2 "entities/search", 0, P, 0, MILVUS, V2 "entities/search", NULL, pxs__h_v2},
    {V2 "partitions/create", 0, P, 1, MILVUS, V2 "partitions/create", NULL, pxs__h_v2},
    {V2 "partitions/drop", 0, P, 1, MILVUS, V2 "partitions/drop", NULL, pxs__h_v2},
    {V2 "partitions/list", 0, P, 0, MILVUS, V2 "partitions/list", NULL, pxs__h_v2},
    {V2 "partitions/has", 0, P, 0, MILVUS, V2 "partitions/has", NULL, pxs__h_v2},
    {V2 "partitions/get_stats", 0, P, 0, MILVUS, V2 "partitions/get_stats", NULL, pxs__h_v2},
    {V2 "partitions/load", 0, P, 0, MILVUS, V2 "partitions/load", NULL, pxs__h_v2},
    {V2 "partitions/release", 0, P, 0, MILVUS, V2 "partitions/release", NULL, pxs__h_v2},
    {V2 "indexes/create", 0, P, 1, MILVUS, V2 "indexes/create", NULL, pxs__h_v2},
    {V2 "indexes/drop", 0, P, 1, MILVUS, V2 "indexes/drop", NULL, pxs__h_v2},
    {V2 "indexes/describe", 0, P, 0, MILVUS, V2 "indexes/describe", NULL, pxs__h_v2},
    {V2 "indexes/list", 0, P, 0, MILVUS, V2 "indexes/list", NULL, pxs__h_v2},
    {V2, 1, G | P, 0, MILVUS, V2 "{category}/{action}", NULL, pxs__h_v2_unsupported},
};
const size_t pxs__n_routes = sizeof pxs__routes / sizeof pxs__routes[0];

/* ---- shared helpers ------------------------------------------------------ */

enum MHD_Result pxs__reply_engine_error(struct MHD_Connection *conn, struct pxs__request *req,
                                        int rc, const struct pxs_err *e) {
    return pxs__server_reply_error(conn, req, pxs__server_status_for(rc), rc, "%s",
                                   pxs_err_message(e, rc));
}

static int blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t') return 0;
    return 1;
}

int pxs__param(struct MHD_Connection *conn, const struct pxs__request *req, const char *name,
               char *out, size_t cap) {
    int r = pxs__form_text(&req->form, name, out, cap);
    if (r == 0) {
        const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
        if (!v) return 0;
        if (strlen(v) >= cap) return -1;
        snprintf(out, cap, "%s", v);
        r = 1;
    }
    if (r == 1 && blank(out)) return 0;
    return r;
}

void pxs__json_meta_fields(struct pxs__json *j, const struct pxs_image_meta *m) {
    char url[64];
    pxs__server_json_key(j, "id");
    pxs__server_json_int(j, m->id);
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "path");
    pxs__server_json_str(j, m->path);
    pxs__server_json_raw(j, ",");
    const char *slash = strrchr(m->path, '/');
    pxs__server_json_key(j, "file_name");
    pxs__server_json_str(j, slash ? slash + 1 : m->path);
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "hash");
    pxs__server_json_str(j, m->hash);
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "format");
    pxs__server_json_str(j, m->format);
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "width");
    pxs__server_json_int(j, m->width);
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "height");
    pxs__server_json_int(j, m->height);
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "size");
    pxs__server_json_uint(j, m->size);
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "mtime");
    pxs__server_json_int(j, m->mtime);
    pxs__server_json_raw(j, ",");
    snprintf(url, sizeof url, "/api/thumbnail/%lld", (long long)m->id);
    pxs__server_json_key(j, "thumbnail");
    pxs__server_json_str(j, url);
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "thumbnail_url");
    pxs__server_json_str(j, url);
    pxs__server_json_raw(j, ",");
    snprintf(url, sizeof url, "/api/images/%lld/file", (long long)m->id);
    pxs__server_json_key(j, "image_url");
    pxs__server_json_str(j, url);
    /* EXIF (null when the file had none) and where the original is kept */
    const struct { const char *key, *value; } exif[] = {
        {"date", m->date},
        {"camera", m->camera},
        {"camera_make", m->camera_make},
        {"camera_model", m->camera_model},
    };
    for (size_t i = 0; i < sizeof exif / sizeof exif[0]; i++) {
        pxs__server_json_raw(j, ",");
        pxs__server_json_key(j, exif[i].key);
        pxs__server_json_str(j, exif[i].value[0] ? exif[i].value : NULL);
    }
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "original_stored");
    pxs__server_json_raw(j, m->original_stored ? "true" : "false");
    snprintf(url, sizeof url, "/api/images/%lld/original", (long long)m->id);
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "original_url");
    pxs__server_json_str(j, url);
}

int pxs__check_table(struct MHD_Connection *conn, struct pxs__request *req, const char *name,
                     enum MHD_Result *r) {
    if (!name || strcmp(name, req->srv->collection) == 0) return 0;
    *r = pxs__server_reply_error(conn, req, MHD_HTTP_NOT_FOUND, PXS_ENOTFOUND,
                                 "no collection %s (this server serves \"%s\")", name,
                                 req->srv->collection);
    return -1;
}

enum MHD_Result pxs__reply_path_error(struct MHD_Connection *conn, struct pxs__request *req,
                                      unsigned status, const char *msg) {
    int code = status == MHD_HTTP_FORBIDDEN ? PXS_EPERM
               : status == MHD_HTTP_NOT_FOUND ? PXS_ENOTFOUND
                                              : PXS_EINVAL;
    return pxs__server_reply_error(conn, req, status, code, "%s", msg);
}

enum MHD_Result pxs__reply_json_string(struct MHD_Connection *conn, struct pxs__request *req,
                                       unsigned status, const char *text) {
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_str(&j, text);
    return pxs__server_reply_json(conn, req, status, &j);
}

int pxs__request_image(struct MHD_Connection *conn, struct pxs__request *req, const char *field,
                       const char *b64_field, const unsigned char **data, size_t *len,
                       unsigned char **owned, enum MHD_Result *r) {
    *owned = NULL;
    size_t max = req->srv->max_upload;
    if (req->form.kind == PXS__FORM_JSON && b64_field) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->form.json, b64_field);
        if (!v || cJSON_IsNull(v)) return 0;
        if (!cJSON_IsString(v)) {
            *r = pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                         "%s must be a base64 string", b64_field);
            return -1;
        }
        int rc = pxs__base64_decode(v->valuestring, strlen(v->valuestring), max, owned, len);
        if (rc != PXS_OK) {
            *r = rc == PXS_ELIMIT
                     ? pxs__server_reply_error(conn, req, MHD_HTTP_CONTENT_TOO_LARGE, rc,
                                               "decoded image larger than the upload limit of "
                                               "%zu bytes", max)
                 : rc == PXS_ENOMEM
                     ? pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, rc,
                                               "out of memory")
                     : pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                               "%s is not valid base64", b64_field);
            return -1;
        }
        *data = *owned;
        return 1;
    }
    if (!pxs__form_file(&req->form, field, data, len) || *len == 0) return 0;
    if (*len > max) {
        *r = pxs__server_reply_error(conn, req, MHD_HTTP_CONTENT_TOO_LARGE, PXS_ELIMIT,
                                     "image of %zu bytes is larger than the upload limit of %zu "
                                     "bytes", *len, max);
        return -1;
    }
    return 1;
}

/* ---- core routes ------------------------------------------------------------ */

static int get_stats(struct pxs__request *req, struct pxs_engine_stats *st, struct pxs_err *e) {
    int rc = pxs_engine_stats(req->srv->engine, st, e);
    if (rc == PXS_OK) {
        st->embedder[sizeof st->embedder - 1] = '\0';
        st->metric[sizeof st->metric - 1] = '\0';
        st->kernel[sizeof st->kernel - 1] = '\0';
    }
    return rc;
}

enum MHD_Result pxs__h_healthz(struct MHD_Connection *conn, struct pxs__request *req) {
    struct pxs_engine_stats st;
    struct pxs_err e = {0};
    int rc = get_stats(req, &st, &e);
    if (rc != PXS_OK)
        return pxs__server_reply_error(conn, req, MHD_HTTP_SERVICE_UNAVAILABLE, rc, "%s",
                                       pxs_err_message(&e, rc));
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{\"status\":\"ok\",");
    pxs__server_json_key(&j, "images");
    pxs__server_json_uint(&j, st.images);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "embedder");
    pxs__server_json_str(&j, st.embedder);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "dim");
    pxs__server_json_uint(&j, st.dim);
    pxs__server_json_raw(&j, "}");
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

enum MHD_Result pxs__h_api_stats(struct MHD_Connection *conn, struct pxs__request *req) {
    struct pxs_engine_stats st;
    struct pxs_err e = {0};
    int rc = get_stats(req, &st, &e);
    if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    struct pxs__job job;
    pxs__job_snapshot(req->srv, &job);
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{");
    pxs__server_json_key(&j, "collection");
    pxs__server_json_str(&j, req->srv->collection);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "images");
    pxs__server_json_uint(&j, st.images);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "dim");
    pxs__server_json_uint(&j, st.dim);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "embedder");
    pxs__server_json_str(&j, st.embedder);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "metric");
    pxs__server_json_str(&j, st.metric);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "kernel");
    pxs__server_json_str(&j, st.kernel);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "index_bytes");
    pxs__server_json_uint(&j, st.index_bytes);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "index_type");
    pxs__server_json_str(&j, st.index_type);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "ingest_running");
    pxs__server_json_raw(&j, job.running ? "true" : "false");
    pxs__server_json_raw(&j, "}");
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

/* req->arg holds an allow-listed asset name (set by the router), never text
 * from the URL, so the web_dir path below cannot escape the directory. */
enum MHD_Result pxs__h_static(struct MHD_Connection *conn, struct pxs__request *req) {
    struct pxs__asset a;
    if (pxs__server_asset(req->arg, &a) != PXS_OK)
        return pxs__server_reply_error(conn, req, MHD_HTTP_NOT_FOUND, PXS_ENOTFOUND,
                                       "no such file");
    const char *web_dir = req->srv->web_dir;
    if (!web_dir)
        return pxs__server_reply_bytes(conn, req, MHD_HTTP_OK, a.content_type, "no-cache",
                                       (void *)a.data, a.len, 0);
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", web_dir, a.name);
    if (n < 0 || (size_t)n >= sizeof path)
        return pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, PXS_ELIMIT,
                                       "web dir path too long");
    char *data = NULL;
    size_t len = 0;
    struct pxs_err e = {0};
    int rc = pxs_file_read_all(path, WEB_FILE_MAX, &data, &len, &e);
    if (rc != PXS_OK) {
        if (rc == PXS_EIO && e.sys_errno == ENOENT) rc = PXS_ENOTFOUND;
        if (rc == PXS_ENOTFOUND)
            return pxs__server_reply_error(conn, req, MHD_HTTP_NOT_FOUND, rc,
                                           "%s is missing from the web dir", a.name);
        return pxs__reply_engine_error(conn, req, rc, &e);
    }
    return pxs__server_reply_bytes(conn, req, MHD_HTTP_OK, a.content_type, "no-cache", data, len,
                                   1);
}
