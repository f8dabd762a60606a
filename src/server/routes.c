/*
 * routes.c — the HTTP routes of `pixseek serve`. server.c has already
 * checked the route, the method and the body; each handler here queues
 * exactly one response.
 *
 *   GET  /healthz               {"status":"ok","images":N,"embedder":"..","dim":D}
 *   POST /img/search            Milvus bootcamp shape: [[path, distance], ...],
 *                               best first. multipart field `image` (or the raw
 *                               image as the body), form field or query `topk`.
 *   GET|POST /img/count         bootcamp shape: the image count as a bare integer
 *   POST /api/search            {"results":[{id,path,distance,similarity,width,
 *                               height,format,thumbnail}],"took_ms":..}; also
 *                               `min_similarity` (0..1)
 *   GET  /api/thumbnail/<id>    the stored JPEG thumbnail
 *   GET  /api/images/<id>       image metadata
 *   GET  /api/stats             engine statistics
 *   GET  / /app.js /style.css   the web page (embedded, or from --web-dir)
 *
 * Errors are {"error":{"code":"EINVAL","message":".."}} with the status
 * from pxs__server_status_for (engine code -> HTTP status).
 */
#include "server/server_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define TOPK_DEFAULT 10
#define TOPK_MAX 1000
#define WEB_FILE_MAX (8u * 1024 * 1024)

static enum MHD_Result reply_engine_error(struct MHD_Connection *conn, struct pxs__request *req,
                                          int rc, const struct pxs_err *e) {
    return pxs__server_reply_error(conn, req, pxs__server_status_for(rc), rc, "%s",
                                   pxs_err_message(e, rc));
}

/* Form field if present, else the query argument; NULL or blank = absent. */
static const char *param(struct MHD_Connection *conn, const struct pxs__field *f,
                         const char *name, int *overflow) {
    const char *v;
    *overflow = 0;
    if (f->seen) {
        *overflow = f->overflow;
        v = f->text;
    } else {
        v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
    }
    if (!v) return NULL;
    for (const char *p = v; *p; p++)
        if (*p != ' ' && *p != '\t') return v;
    return *overflow ? v : NULL;
}

static enum MHD_Result handle_search(struct MHD_Connection *conn, struct pxs__request *req,
                                     int bootcamp) {
    long topk = TOPK_DEFAULT;
    float min_sim = 0.0f;
    int overflow;
    const char *t = param(conn, &req->topk, "topk", &overflow);
    if (t && (overflow || pxs__server_parse_range(t, 1, TOPK_MAX, &topk) != PXS_OK))
        return pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                       "topk must be an integer from 1 to %d", TOPK_MAX);
    t = param(conn, &req->min_sim, "min_similarity", &overflow);
    if (t && (overflow || pxs__server_parse_unit(t, &min_sim) != PXS_OK))
        return pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                       "min_similarity must be a number from 0 to 1");
    if (!req->image_seen || req->image.len == 0)
        return pxs__server_reply_error(
            conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
            req->body_mode == PXS__BODY_FORM
                ? "missing image: send a multipart/form-data file field named 'image'"
                : "missing image: the request body is empty");

    struct pxs_search_opts so = {(size_t)topk, min_sim};
    struct pxs_match *matches = NULL;
    size_t n = 0;
    struct pxs_err e = {0};
    uint64_t t0 = pxs_now_ns();
    int rc = pxs_engine_search_image(req->srv->engine, req->image.data, req->image.len, &so,
                                     &matches, &n, &e);
    double took_ms = (double)(pxs_now_ns() - t0) / 1e6;
    pxs_buf_free(&req->image); /* the query bytes are no longer needed */
    if (rc != PXS_OK) return reply_engine_error(conn, req, rc, &e);

    struct pxs__json j;
    pxs__server_json_init(&j);
    if (bootcamp) {
        pxs__server_json_raw(&j, "[");
        for (size_t i = 0; i < n; i++) {
            pxs__server_json_raw(&j, i ? ",[" : "[");
            pxs__server_json_str(&j, matches[i].meta.path);
            pxs__server_json_raw(&j, ",");
            pxs__server_json_num(&j, matches[i].distance);
            pxs__server_json_raw(&j, "]");
        }
        pxs__server_json_raw(&j, "]");
    } else {
        pxs__server_json_raw(&j, "{\"results\":[");
        for (size_t i = 0; i < n; i++) {
            const struct pxs_match *m = &matches[i];
            char thumb[64];
            snprintf(thumb, sizeof thumb, "/api/thumbnail/%lld", (long long)m->meta.id);
            pxs__server_json_raw(&j, i ? ",{" : "{");
            pxs__server_json_key(&j, "id");
            pxs__server_json_int(&j, m->meta.id);
            pxs__server_json_raw(&j, ",");
            pxs__server_json_key(&j, "path");
            pxs__server_json_str(&j, m->meta.path);
            pxs__server_json_raw(&j, ",");
            pxs__server_json_key(&j, "distance");
            pxs__server_json_num(&j, m->distance);
            pxs__server_json_raw(&j, ",");
            pxs__server_json_key(&j, "similarity");
            pxs__server_json_num(&j, m->similarity);
            pxs__server_json_raw(&j, ",");
            pxs__server_json_key(&j, "width");
            pxs__server_json_int(&j, m->meta.width);
            pxs__server_json_raw(&j, ",");
            pxs__server_json_key(&j, "height");
            pxs__server_json_int(&j, m->meta.height);
            pxs__server_json_raw(&j, ",");
            pxs__server_json_key(&j, "format");
            pxs__server_json_str(&j, m->meta.format);
            pxs__server_json_raw(&j, ",");
            pxs__server_json_key(&j, "thumbnail");
            pxs__server_json_str(&j, thumb);
            pxs__server_json_raw(&j, "}");
        }
        pxs__server_json_raw(&j, "],");
        pxs__server_json_key(&j, "took_ms");
        pxs__server_json_num(&j, took_ms);
        pxs__server_json_raw(&j, "}");
    }
    pxs_free(matches);
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

static int parse_id_arg(const struct pxs__request *req, int64_t *id) {
    if (req->arg_too_long) return PXS_EINVAL;
    return pxs__server_parse_id(req->arg, id);
}

static enum MHD_Result bad_id(struct MHD_Connection *conn, struct pxs__request *req) {
    return pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                   "image id must be a decimal integer");
}

static enum MHD_Result handle_thumbnail(struct MHD_Connection *conn, struct pxs__request *req) {
    int64_t id;
    if (parse_id_arg(req, &id) != PXS_OK) return bad_id(conn, req);
    void *jpeg = NULL;
    size_t len = 0;
    struct pxs_err e = {0};
    int rc = pxs_engine_get_thumbnail(req->srv->engine, id, &jpeg, &len, &e);
    if (rc != PXS_OK) return reply_engine_error(conn, req, rc, &e);
    return pxs__server_reply_bytes(conn, req, MHD_HTTP_OK, "image/jpeg", "private, max-age=3600",
                                   jpeg, len, 1);
}

static void meta_fields(struct pxs__json *j, const struct pxs_image_meta *m) {
    char thumb[64];
    snprintf(thumb, sizeof thumb, "/api/thumbnail/%lld", (long long)m->id);
    pxs__server_json_key(j, "id");
    pxs__server_json_int(j, m->id);
    pxs__server_json_raw(j, ",");
    pxs__server_json_key(j, "path");
    pxs__server_json_str(j, m->path);
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
    pxs__server_json_key(j, "thumbnail");
    pxs__server_json_str(j, thumb);
}

static enum MHD_Result handle_image(struct MHD_Connection *conn, struct pxs__request *req) {
    int64_t id;
    if (parse_id_arg(req, &id) != PXS_OK) return bad_id(conn, req);
    struct pxs_image_meta meta;
    struct pxs_err e = {0};
    int rc = pxs_engine_get_meta(req->srv->engine, id, &meta, &e);
    if (rc != PXS_OK) return reply_engine_error(conn, req, rc, &e);
    meta.path[sizeof meta.path - 1] = '\0';
    meta.hash[sizeof meta.hash - 1] = '\0';
    meta.format[sizeof meta.format - 1] = '\0';
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{");
    meta_fields(&j, &meta);
    pxs__server_json_raw(&j, "}");
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

static int get_stats(struct pxs__request *req, struct pxs_engine_stats *st, struct pxs_err *e) {
    int rc = pxs_engine_stats(req->srv->engine, st, e);
    if (rc == PXS_OK) {
        st->embedder[sizeof st->embedder - 1] = '\0';
        st->metric[sizeof st->metric - 1] = '\0';
        st->kernel[sizeof st->kernel - 1] = '\0';
    }
    return rc;
}

static enum MHD_Result handle_stats(struct MHD_Connection *conn, struct pxs__request *req,
                                    enum pxs__route route) {
    struct pxs_engine_stats st;
    struct pxs_err e = {0};
    int rc = get_stats(req, &st, &e);
    if (rc != PXS_OK) {
        if (route == PXS__R_HEALTHZ)
            return pxs__server_reply_error(conn, req, MHD_HTTP_SERVICE_UNAVAILABLE, rc, "%s",
                                           pxs_err_message(&e, rc));
        return reply_engine_error(conn, req, rc, &e);
    }
    struct pxs__json j;
    pxs__server_json_init(&j);
    if (route == PXS__R_IMG_COUNT) {
        pxs__server_json_uint(&j, st.images);
    } else if (route == PXS__R_HEALTHZ) {
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
    } else {
        pxs__server_json_raw(&j, "{");
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
        pxs__server_json_raw(&j, "}");
    }
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

/* req->arg holds an allow-listed asset name (set by the router), never text
 * from the URL, so the web_dir path below cannot escape the directory. */
static enum MHD_Result handle_static(struct MHD_Connection *conn, struct pxs__request *req) {
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
        return reply_engine_error(conn, req, rc, &e);
    }
    return pxs__server_reply_bytes(conn, req, MHD_HTTP_OK, a.content_type, "no-cache", data, len,
                                   1);
}

enum MHD_Result pxs__server_dispatch(struct MHD_Connection *conn, struct pxs__request *req) {
    switch (req->route) {
    case PXS__R_PAGE:
    case PXS__R_STATIC: return handle_static(conn, req);
    case PXS__R_HEALTHZ:
    case PXS__R_STATS:
    case PXS__R_IMG_COUNT: return handle_stats(conn, req, req->route);
    case PXS__R_IMG_SEARCH: return handle_search(conn, req, 1);
    case PXS__R_API_SEARCH: return handle_search(conn, req, 0);
    case PXS__R_THUMB: return handle_thumbnail(conn, req);
    case PXS__R_IMAGE: return handle_image(conn, req);
    case PXS__R_NONE: break;
    }
    return pxs__server_reply_error(conn, req, MHD_HTTP_NOT_FOUND, PXS_ENOTFOUND,
                                   "no such endpoint");
}
