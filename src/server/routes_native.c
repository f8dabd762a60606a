/*
 * routes_native.c — pixseek's own JSON API (every route is in /openapi.json):
 *
 *   POST   /api/search           search by upload (multipart `image` or raw
 *                                body), by base64 (JSON img_base64), by a
 *                                stored image (id) or by a vector; topk,
 *                                similarity (alias min_similarity), page,
 *                                page_size or offset; filter (a Milvus
 *                                expression over the image fields, see
 *                                README; checked before any decoding).
 *                                -> {results:[...], total, page, page_size,
 *                                offset, took_ms}
 *   POST   /api/images           add one image (multipart `image`, raw body or
 *                                JSON img_base64) -> 201 {id, kind, path}
 *   GET    /api/images/ID        metadata, EXIF date/camera, tags
 *   GET    /api/images/ID/original  the original (also /file): blob store, or
 *                                its path when inside a --root / uploads
 *   GET    /api/images/ID/tags   tags;  POST: merge {"tags":{k:v|null}}
 *   DELETE /api/images/ID        remove it from the collection
 *   GET    /api/thumbnail/ID     the stored JPEG thumbnail
 *   POST   /api/ingest {dir}     start indexing a directory under a --root
 *                                (202; 409 while one runs); GET: progress
 *   POST   /api/ingest/cancel    stop the running job
 *   GET    /api/duplicates       exact and near-duplicate groups (?threshold=)
 *   GET    /api/stats            (routes.c)
 */
#include "server/server_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TOPK_DEFAULT 10
#define TOPK_MAX 1000
#define VECTOR_MAX_DIM 65536
#define OFFSET_MAX 1000000 /* pxs_search_opts.offset's limit */

/* ---- search ------------------------------------------------------------ */

static enum MHD_Result bad(struct MHD_Connection *conn, struct pxs__request *req,
                           const char *what) {
    return pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL, "%s", what);
}

/* An integer parameter in [lo, hi]: 1 set, 0 absent, -1 replied. */
static int int_param(struct MHD_Connection *conn, struct pxs__request *req, const char *name,
                     long lo, long hi, long *out, enum MHD_Result *r) {
    char text[48];
    int got = pxs__param(conn, req, name, text, sizeof text);
    if (got == 0) return 0;
    if (got < 0 || pxs__server_parse_range(text, lo, hi, out) != PXS_OK) {
        *r = pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                     "%s must be an integer from %ld to %ld", name, lo, hi);
        return -1;
    }
    return 1;
}

/* JSON "vector": [numbers] of the engine's dimension into *vec (pxs_free). */
static int json_vector(struct MHD_Connection *conn, struct pxs__request *req, float **vec,
                       size_t *dim, enum MHD_Result *r) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->form.json, "vector");
    if (!v || cJSON_IsNull(v)) return 0;
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (n <= 0 || n > VECTOR_MAX_DIM) {
        *r = bad(conn, req, "vector must be a non-empty array of numbers");
        return -1;
    }
    *vec = pxs_mallocarray((size_t)n, sizeof(float));
    if (!*vec) {
        *r = pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, PXS_ENOMEM,
                                     "out of memory");
        return -1;
    }
    size_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, v) {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
            pxs_free(*vec);
            *vec = NULL;
            *r = bad(conn, req, "vector must be a non-empty array of finite numbers");
            return -1;
        }
        (*vec)[i++] = (float)x->valuedouble;
    }
    *dim = i;
    return 1;
}

int pxs__do_search(struct MHD_Connection *conn, struct pxs__request *req,
                   const struct pxs__search_spec *spec, struct pxs__search_result *res,
                   enum MHD_Result *r) {
    memset(res, 0, sizeof *res);
    long topk = spec->topk_default, page = 1, page_size = 0;
    float min_sim = 0;
    int has_topk = int_param(conn, req, spec->topk_name, 1, TOPK_MAX, &topk, r);
    if (has_topk < 0) return -1;
    int64_t id = 0;
    int has_id = 0;
    char filter[1024];
    int has_filter = 0, has_offset = 0;
    size_t offset = 0; /* `offset`: ranks skipped by the engine (instead of page) */
    if (spec->native) {
        if (int_param(conn, req, "page", 1, TOPK_MAX, &page, r) < 0) return -1;
        if (int_param(conn, req, "page_size", 1, TOPK_MAX, &page_size, r) < 0) return -1;
        char text[48];
        const char *names[2] = {"similarity", "min_similarity"};
        for (int i = 0; i < 2; i++) {
            int got = pxs__param(conn, req, names[i], text, sizeof text);
            if (got == 0) continue;
            if (got < 0 || pxs__server_parse_unit(text, &min_sim) != PXS_OK) {
                *r = pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                             "%s must be a number from 0 to 1", names[i]);
                return -1;
            }
        }
        int got = pxs__param(conn, req, "filter", filter, sizeof filter);
        if (got < 0) {
            *r = bad(conn, req, "filter must be a string (at most 1023 bytes)");
            return -1;
        }
        has_filter = got > 0;
        if (has_filter) { /* before any image is decoded or embedded */
            struct pxs_err fe = {0};
            int frc = pxs_engine_check_filter(filter, &fe);
            if (frc != PXS_OK) {
                *r = pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, frc,
                                             "bad filter: %s", pxs_err_message(&fe, frc));
                return -1;
            }
        }
        long off = 0;
        has_offset = int_param(conn, req, "offset", 0, OFFSET_MAX, &off, r);
        if (has_offset < 0) return -1;
        offset = (size_t)off;
        got = pxs__param(conn, req, "id", text, sizeof text);
        if (got < 0 || (got > 0 && pxs__server_parse_id(text, &id) != PXS_OK)) {
            *r = bad(conn, req, "id must be an image id (a decimal integer)");
            return -1;
        }
        has_id = got > 0;
    }
    if (has_offset && page > 1) {
        *r = bad(conn, req, "give page or offset, not both");
        return -1;
    }
    if (page_size == 0) page_size = topk;
    if (has_offset) {
        topk = page_size; /* one slice of page_size ranks from offset */
    } else if (!has_topk && spec->native) {
        if ((long long)page * page_size > TOPK_MAX) {
            *r = bad(conn, req, "page * page_size must be at most 1000");
            return -1;
        }
        topk = page * page_size;
    }

    const unsigned char *img = NULL;
    size_t img_len = 0;
    unsigned char *owned = NULL;
    float *vec = NULL;
    size_t dim = 0;
    int has_img = pxs__request_image(conn, req, spec->image_field,
                                     spec->native ? "img_base64" : NULL, &img, &img_len, &owned,
                                     r);
    if (has_img < 0) return -1;
    int has_vec = 0;
    if (spec->native && req->form.kind == PXS__FORM_JSON) {
        has_vec = json_vector(conn, req, &vec, &dim, r);
        if (has_vec < 0) {
            pxs_free(owned);
            return -1;
        }
    }
    if (has_img + has_id + has_vec != 1) {
        pxs_free(owned);
        pxs_free(vec);
        if (has_img + has_id + has_vec > 1) {
            *r = bad(conn, req, "give one query: an image, img_base64, id or vector");
        } else if (!spec->native) {
            *r = pxs__server_reply_error(conn, req, MHD_HTTP_BAD_REQUEST, PXS_EINVAL,
                                         "missing image: send a multipart/form-data file field "
                                         "named '%s'", spec->image_field);
        } else {
            *r = bad(conn, req,
                     req->form.kind == PXS__FORM_JSON
                         ? "missing query: give img_base64, id or vector"
                         : "missing image: send a multipart/form-data file field named "
                           "'image', or the image as the body");
        }
        return -1;
    }

    struct pxs_search_opts so = {(size_t)topk, min_sim, 0};
    if (has_filter) so.filter = filter;
    so.offset = offset;
    struct pxs_err e = {0};
    uint64_t t0 = pxs_now_ns();
    int rc;
    if (has_img)
        rc = pxs_engine_search_image(req->srv->engine, img, img_len, &so, &res->matches, &res->n,
                                     &e);
    else if (has_id)
        rc = pxs_engine_search_id(req->srv->engine, id, &so, &res->matches, &res->n, &e);
    else
        rc = pxs_engine_search_vector(req->srv->engine, vec, dim, &so, &res->matches, &res->n,
                                      &e);
    res->took_ms = (double)(pxs_now_ns() - t0) / 1e6;
    pxs_free(owned);
    pxs_free(vec);
    if (rc != PXS_OK) {
        *r = pxs__reply_engine_error(conn, req, rc, &e);
        return -1;
    }
    res->page = page;
    res->page_size = page_size;
    res->first_rank = offset;
    size_t off = (size_t)(page - 1) * (size_t)page_size;
    res->offset = off < res->n ? off : res->n;
    size_t left = res->n - res->offset;
    res->count = left < (size_t)page_size ? left : (size_t)page_size;
    return 0;
}

enum MHD_Result pxs__h_api_search(struct MHD_Connection *conn, struct pxs__request *req) {
    static const struct pxs__search_spec spec = {"image", "topk", TOPK_DEFAULT, 1};
    struct pxs__search_result res;
    enum MHD_Result r;
    if (pxs__do_search(conn, req, &spec, &res, &r) != 0) return r;
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{\"results\":[");
    for (size_t i = 0; i < res.count; i++) {
        const struct pxs_match *m = &res.matches[res.offset + i];
        pxs__server_json_raw(&j, i ? ",{" : "{");
        pxs__json_meta_fields(&j, &m->meta);
        pxs__server_json_raw(&j, ",");
        pxs__server_json_key(&j, "distance");
        pxs__server_json_num(&j, m->distance);
        pxs__server_json_raw(&j, ",");
        pxs__server_json_key(&j, "similarity");
        pxs__server_json_num(&j, m->similarity);
        pxs__server_json_raw(&j, "}");
    }
    pxs__server_json_raw(&j, "],");
    pxs__server_json_key(&j, "total");
    pxs__server_json_uint(&j, res.n);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "page");
    pxs__server_json_int(&j, res.page);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "page_size");
    pxs__server_json_int(&j, res.page_size);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "offset");
    pxs__server_json_uint(&j, res.first_rank + res.offset);
    pxs__server_json_raw(&j, ",");
    pxs__server_json_key(&j, "took_ms");
    pxs__server_json_num(&j, res.took_ms);
    pxs__server_json_raw(&j, "}");
    pxs_free(res.matches);
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

/* ---- images --------------------------------------------------------------- */

static int parse_id_arg(const struct pxs__request *req, const char *text, int64_t *id) {
    if (req->arg_too_long) return PXS_EINVAL;
    return pxs__server_parse_id(text, id);
}

static enum MHD_Result bad_id(struct MHD_Connection *conn, struct pxs__request *req) {
    return bad(conn, req, "image id must be a decimal integer");
}

enum MHD_Result pxs__h_api_thumbnail(struct MHD_Connection *conn, struct pxs__request *req) {
    int64_t id;
    if (parse_id_arg(req, req->arg, &id) != PXS_OK) return bad_id(conn, req);
    void *jpeg = NULL;
    size_t len = 0;
    struct pxs_err e = {0};
    int rc = pxs_engine_get_thumbnail(req->srv->engine, id, &jpeg, &len, &e);
    if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    return pxs__server_reply_bytes(conn, req, MHD_HTTP_OK, "image/jpeg", "private, max-age=3600",
                                   jpeg, len, 1);
}

static const char *mime_of(const char *format) {
    static const struct { const char *fmt, *mime; } map[] = {
        {"jpeg", "image/jpeg"}, {"png", "image/png"},   {"webp", "image/webp"},
        {"gif", "image/gif"},   {"tiff", "image/tiff"}, {"bmp", "image/bmp"},
        {"heif", "image/heif"}, {"avif", "image/avif"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(format, map[i].fmt) == 0) return map[i].mime;
    return "application/octet-stream";
}

/* The image's metadata with its fields NUL-terminated whatever the engine
 * left in the arrays: PXS_OK, or the engine's code with e filled. */
static int load_meta(struct pxs__request *req, int64_t id, struct pxs_image_meta *m,
                     struct pxs_err *e) {
    int rc = pxs_engine_get_meta(req->srv->engine, id, m, e);
    if (rc != PXS_OK) return rc;
    m->path[sizeof m->path - 1] = '\0';
    m->hash[sizeof m->hash - 1] = '\0';
    m->format[sizeof m->format - 1] = '\0';
    m->date[sizeof m->date - 1] = '\0';
    m->camera[sizeof m->camera - 1] = '\0';
    m->camera_make[sizeof m->camera_make - 1] = '\0';
    m->camera_model[sizeof m->camera_model - 1] = '\0';
    return PXS_OK;
}

/* GET /api/images/ID/original (and /file): the blob-store copy when the
 * image was indexed with --store-originals, else the file at its indexed
 * path, read only when that path passes the same checks as /data (inside a
 * --root or the uploads dir, symlinks resolved). The engine verifies the
 * bytes against the content hash, so a file swapped after the check is
 * refused rather than served. */
static enum MHD_Result reply_original(struct MHD_Connection *conn, struct pxs__request *req,
                                      const struct pxs_image_meta *meta) {
    if (strcmp(meta->format, "vector") == 0)
        return pxs__server_reply_error(conn, req, MHD_HTTP_NOT_FOUND, PXS_ENOTFOUND,
                                       "image %lld was added as a vector; there is no file",
                                       (long long)meta->id);
    if (!meta->original_stored) {
        char resolved[4096], msg[512];
        unsigned st = pxs__server_check_path(req->srv, meta->path, 0, 1, resolved,
                                             sizeof resolved, msg, sizeof msg);
        if (st)
            return pxs__server_reply_error(
                conn, req, st,
                st == MHD_HTTP_FORBIDDEN ? PXS_EPERM
                : st == MHD_HTTP_NOT_FOUND ? PXS_ENOTFOUND : PXS_EINVAL,
                "the original of image %lld cannot be served: %s%s", (long long)meta->id, msg,
                st == MHD_HTTP_FORBIDDEN ? " (start serve with --root covering it, or index "
                                           "with --store-originals)" : "");
    }
    void *data = NULL;
    size_t len = 0;
    struct pxs_err e = {0};
    int rc = pxs_engine_get_original(req->srv->engine, meta->id, &data, &len, NULL, &e);
    if (rc == PXS_EMISMATCH)
        return pxs__server_reply_error(conn, req, MHD_HTTP_CONFLICT, rc, "%s",
                                       pxs_err_message(&e, rc));
    if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    return pxs__server_reply_bytes(conn, req, MHD_HTTP_OK, mime_of(meta->format),
                                   "private, max-age=3600", data, len, 1);
}

/* `,"tags":{...}` of image id (the engine's JSON object, stored validated). */
static int json_tags(struct pxs__json *j, struct pxs__request *req, int64_t id,
                     struct pxs_err *e) {
    char *tags = NULL;
    int rc = pxs_engine_get_tags(req->srv->engine, id, &tags, e);
    if (rc != PXS_OK) return rc;
    pxs__server_json_key(j, "tags");
    pxs__server_json_raw(j, tags);
    pxs_free(tags);
    return PXS_OK;
}


int pxs__tags_from_json(const cJSON *body, char ***kv, size_t *n, char *msg, size_t cap) {
    *kv = NULL;
    *n = 0;
    const cJSON *obj = cJSON_IsObject(body) ? cJSON_GetObjectItemCaseSensitive(body, "tags")
                                            : NULL;
    if (!cJSON_IsObject(obj)) {
        snprintf(msg, cap, "send JSON {\"tags\":{\"key\":\"value\"|number|null, ...}} "
                           "(null or \"\" removes a key)");
        return PXS_EINVAL;
    }
    int count = cJSON_GetArraySize(obj);
    if (count <= 0 || count > PXS__TAGS_MAX) {
        snprintf(msg, cap, "tags must have 1 to %d keys", PXS__TAGS_MAX);
        return PXS_EINVAL;
    }
    /* pointers first, then the strings */
    char **out = pxs_malloc((size_t)count * (sizeof(char *) + PXS__TAG_TEXT_MAX));
    if (!out) {
        snprintf(msg, cap, "out of memory");
        return PXS_ENOMEM;
    }
    char *text = (char *)(out + count);
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, obj) {
        const char *key = v->string ? v->string : "";
        char *slot = text + i * PXS__TAG_TEXT_MAX;
        int len = -1;
        if (strchr(key, '='))
            len = -2;
        else if (cJSON_IsNull(v))
            len = snprintf(slot, PXS__TAG_TEXT_MAX, "%s=", key);
        else if (cJSON_IsString(v))
            len = snprintf(slot, PXS__TAG_TEXT_MAX, "%s=%s", key, v->valuestring);
        else if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
            len = fabs(v->valuedouble) < 1e15 &&
                          v->valuedouble == (double)(long long)v->valuedouble
                      ? snprintf(slot, PXS__TAG_TEXT_MAX, "%s=%lld", key, (long long)v->valuedouble)
                      : snprintf(slot, PXS__TAG_TEXT_MAX, "%s=%.17g", key, v->valuedouble);
        if (len < 0 || len >= PXS__TAG_TEXT_MAX) {
            pxs_free(out);
            if (len == -1) snprintf(msg, cap, "tag %.64s must be a string, a number or null", key);
            else if (len == -2) snprintf(msg, cap, "tag key \"%.64s\" must be letters, digits and _", key);
            else snprintf(msg, cap, "tag %.64s is too long", key);
            return PXS_EINVAL;
        }
        out[i++] = slot;
    }
    *kv = out;
    *n = i;
    return PXS_OK;
}

/* /api/images/ID[/file|/original|/tags]:
 *   GET ID           metadata, EXIF, tags
 *   GET ID/file      the original (also ID/original)
 *   GET ID/tags      {"id","tags"}
 *   POST ID/tags     merge {"tags":{...}} -> {"id","tags"} (write)
 *   DELETE ID        remove from the collection (write) */
enum MHD_Result pxs__h_api_image(struct MHD_Connection *conn, struct pxs__request *req) {
    char idtext[sizeof req->arg];
    snprintf(idtext, sizeof idtext, "%s", req->arg);
    enum { WHOLE, ORIGINAL, TAGS } sub = WHOLE;
    char *slash = strchr(idtext, '/');
    if (slash) {
        if (strcmp(slash, "/file") == 0 || strcmp(slash, "/original") == 0) sub = ORIGINAL;
        else if (strcmp(slash, "/tags") == 0) sub = TAGS;
        else
            return pxs__server_reply_error(conn, req, MHD_HTTP_NOT_FOUND, PXS_ENOTFOUND,
                                           "no such endpoint: %s %s", req->method_name,
                                           req->log_path);
        *slash = '\0';
    }
    unsigned allowed = sub == TAGS ? PXS__M_GET | PXS__M_POST
                       : sub == ORIGINAL ? PXS__M_GET
                                         : PXS__M_GET | PXS__M_DELETE;
    if (!(req->method & allowed))
        return pxs__server_reply_error(conn, req, MHD_HTTP_METHOD_NOT_ALLOWED, PXS_EUNSUPPORTED,
                                       "method %s not allowed for %s", req->method_name,
                                       req->log_path);
    int64_t id;
    if (parse_id_arg(req, idtext, &id) != PXS_OK) return bad_id(conn, req);
    struct pxs_err e = {0};
    if (req->method == PXS__M_DELETE) {
        int rc = pxs_engine_delete_image(req->srv->engine, id, &e);
        if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
        struct pxs__json j;
        pxs__server_json_init(&j);
        pxs__server_json_raw(&j, "{\"deleted\":");
        pxs__server_json_int(&j, id);
        pxs__server_json_raw(&j, "}");
        return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
    }
    if (req->method == PXS__M_POST) { /* tags */
        char **kv;
        size_t n;
        char msg[200];
        int trc = pxs__tags_from_json(req->form.kind == PXS__FORM_JSON ? req->form.json : NULL,
                                      &kv, &n, msg, sizeof msg);
        if (trc != PXS_OK)
            return pxs__server_reply_error(conn, req,
                                           trc == PXS_ENOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR
                                                             : MHD_HTTP_BAD_REQUEST,
                                           trc, "%s", msg);
        int rc = pxs_engine_set_tags(req->srv->engine, id, (const char *const *)kv, n, &e);
        pxs_free(kv);
        if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    }
    struct pxs_image_meta meta;
    int rc = load_meta(req, id, &meta, &e);
    if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    if (sub == ORIGINAL) return reply_original(conn, req, &meta);
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{");
    if (sub == TAGS) {
        pxs__server_json_key(&j, "id");
        pxs__server_json_int(&j, id);
    } else {
        pxs__json_meta_fields(&j, &meta);
    }
    pxs__server_json_raw(&j, ",");
    rc = json_tags(&j, req, id, &e);
    if (rc != PXS_OK) {
        pxs__server_json_free(&j);
        return pxs__reply_engine_error(conn, req, rc, &e);
    }
    pxs__server_json_raw(&j, "}");
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

enum MHD_Result pxs__h_api_images_add(struct MHD_Connection *conn, struct pxs__request *req) {
    const unsigned char *img = NULL;
    size_t len = 0;
    unsigned char *owned = NULL;
    enum MHD_Result r;
    int got = pxs__request_image(conn, req, "image", "img_base64", &img, &len, &owned, &r);
    if (got < 0) return r;
    if (got == 0)
        return bad(conn, req, "missing image: send a multipart/form-data file field named "
                              "'image', the image as the body, or JSON img_base64");
    struct pxs_add_result add;
    struct pxs_err e = {0};
    int rc = pxs_engine_add_image(req->srv->engine, img, len, &add, &e);
    pxs_free(owned);
    if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{\"id\":");
    pxs__server_json_int(&j, add.id);
    pxs__server_json_raw(&j, ",\"kind\":");
    pxs__server_json_str(&j, pxs_ingest_kind_name(add.kind));
    pxs__server_json_raw(&j, ",\"path\":");
    pxs__server_json_str(&j, add.path);
    pxs__server_json_raw(&j, "}");
    return pxs__server_reply_json(conn, req,
                                  add.kind == PXS_INGEST_ADDED ? MHD_HTTP_CREATED : MHD_HTTP_OK,
                                  &j);
}

/* ---- ingest jobs ------------------------------------------------------------ */

static void job_json(struct pxs__json *j, const struct pxs__job *job) {
    double now = (double)time(NULL);
    double end = job->running ? now : job->finished;
    double secs = job->id ? end - job->started : 0;
    pxs__server_json_raw(j, "{\"job\":");
    pxs__server_json_uint(j, job->id);
    pxs__server_json_raw(j, ",\"state\":");
    const char *state = !job->id        ? "idle"
                        : job->running ? (atomic_load(&job->cancel) ? "cancelling" : "running")
                        : job->rc == PXS_OK ? "done"
                        : job->rc == PXS_ECANCELED ? "cancelled"
                                                   : "failed";
    pxs__server_json_str(j, state);
    pxs__server_json_raw(j, ",\"dir\":");
    pxs__server_json_str(j, job->id ? job->dir : NULL);
    pxs__server_json_raw(j, ",\"current\":");
    pxs__server_json_uint(j, job->done);
    pxs__server_json_raw(j, ",\"total\":");
    pxs__server_json_uint(j, job->total);
    pxs__server_json_raw(j, ",\"added\":");
    pxs__server_json_uint(j, job->added);
    pxs__server_json_raw(j, ",\"unchanged\":");
    pxs__server_json_uint(j, job->unchanged);
    pxs__server_json_raw(j, ",\"duplicates\":");
    pxs__server_json_uint(j, job->duplicates);
    pxs__server_json_raw(j, ",\"failed\":");
    pxs__server_json_uint(j, job->failed);
    pxs__server_json_raw(j, ",\"elapsed_s\":");
    pxs__server_json_num(j, secs);
    pxs__server_json_raw(j, ",\"rate_per_s\":");
    pxs__server_json_num(j, secs > 0 ? (double)job->done / secs : 0);
    pxs__server_json_raw(j, ",\"message\":");
    pxs__server_json_str(j, job->message[0] ? job->message : NULL);
    pxs__server_json_raw(j, ",\"errors\":[");
    for (size_t i = 0; i < job->n_errors; i++) {
        pxs__server_json_raw(j, i ? ",{" : "{");
        pxs__server_json_key(j, "path");
        pxs__server_json_str(j, job->errors[i].path);
        pxs__server_json_raw(j, ",");
        pxs__server_json_key(j, "code");
        pxs__server_json_str(j, job->errors[i].code);
        pxs__server_json_raw(j, ",");
        pxs__server_json_key(j, "reason");
        pxs__server_json_str(j, job->errors[i].reason);
        pxs__server_json_raw(j, "}");
    }
    pxs__server_json_raw(j, "],\"errors_truncated\":");
    pxs__server_json_raw(j, job->failed > job->n_errors ? "true" : "false");
    pxs__server_json_raw(j, "}");
}

static enum MHD_Result reply_job(struct MHD_Connection *conn, struct pxs__request *req,
                                 unsigned status) {
    struct pxs__job *job = pxs_malloc(sizeof *job);
    if (!job)
        return pxs__server_reply_error(conn, req, MHD_HTTP_INTERNAL_SERVER_ERROR, PXS_ENOMEM,
                                       "out of memory");
    pxs__job_snapshot(req->srv, job);
    struct pxs__json j;
    pxs__server_json_init(&j);
    job_json(&j, job);
    pxs_free(job);
    return pxs__server_reply_json(conn, req, status, &j);
}

int pxs__start_job(struct MHD_Connection *conn, struct pxs__request *req, const char *dir,
                   const char *busy_msg, enum MHD_Result *r) {
    char resolved[4096], msg[512];
    unsigned st = pxs__server_check_path(req->srv, dir, 1, 0, resolved, sizeof resolved, msg,
                                         sizeof msg);
    if (st) {
        *r = pxs__reply_path_error(conn, req, st, msg);
        return -1;
    }
    struct pxs_err e = {0};
    int rc = pxs__job_start(req->srv, resolved, &e);
    if (rc == PXS_OK) return 0;
    if (rc == PXS_EBUSY)
        *r = pxs__server_reply_error(conn, req, MHD_HTTP_CONFLICT, rc, "%s",
                                     busy_msg ? busy_msg : pxs_err_message(&e, rc));
    else
        *r = pxs__reply_engine_error(conn, req, rc, &e);
    return -1;
}

enum MHD_Result pxs__h_api_ingest(struct MHD_Connection *conn, struct pxs__request *req) {
    if (req->method == PXS__M_GET) return reply_job(conn, req, MHD_HTTP_OK);
    char dir[4096];
    int got = pxs__param(conn, req, "dir", dir, sizeof dir);
    if (got < 0) return bad(conn, req, "dir must be a string path");
    if (got == 0) return bad(conn, req, "missing dir: the directory to index");
    enum MHD_Result r;
    if (pxs__start_job(conn, req, dir, NULL, &r) != 0) return r;
    return reply_job(conn, req, MHD_HTTP_ACCEPTED);
}

enum MHD_Result pxs__h_api_ingest_cancel(struct MHD_Connection *conn, struct pxs__request *req) {
    if (pxs__job_cancel(req->srv) != PXS_OK)
        return pxs__server_reply_error(conn, req, MHD_HTTP_CONFLICT, PXS_ENOTFOUND,
                                       "no ingest job is running");
    return reply_job(conn, req, MHD_HTTP_ACCEPTED);
}

/* ---- duplicates ----------------------------------------------------------------- */

enum MHD_Result pxs__h_api_duplicates(struct MHD_Connection *conn, struct pxs__request *req) {
    struct pxs_dups_opts opts = {0, 0};
    char text[48];
    int got = pxs__param(conn, req, "threshold", text, sizeof text);
    if (got < 0 || (got > 0 && (pxs__server_parse_unit(text, &opts.threshold) != PXS_OK ||
                                opts.threshold <= 0)))
        return bad(conn, req, "threshold must be a number above 0, at most 1");
    struct pxs_dup_group *groups = NULL;
    size_t n = 0;
    struct pxs_err e = {0};
    int rc = pxs_engine_find_duplicates(req->srv->engine, &opts, &groups, &n, &e);
    if (rc != PXS_OK) return pxs__reply_engine_error(conn, req, rc, &e);
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{\"groups\":[");
    for (size_t g = 0; g < n; g++) {
        pxs__server_json_raw(&j, g ? ",{\"exact\":" : "{\"exact\":");
        pxs__server_json_raw(&j, groups[g].exact ? "true" : "false");
        pxs__server_json_raw(&j, ",\"members\":[");
        for (size_t i = 0; i < groups[g].n; i++) {
            const struct pxs_dup_member *m = &groups[g].members[i];
            char url[64];
            snprintf(url, sizeof url, "/api/thumbnail/%lld", (long long)m->id);
            pxs__server_json_raw(&j, i ? ",{\"id\":" : "{\"id\":");
            pxs__server_json_int(&j, m->id);
            pxs__server_json_raw(&j, ",\"path\":");
            pxs__server_json_str(&j, m->path);
            pxs__server_json_raw(&j, ",\"similarity\":");
            pxs__server_json_num(&j, m->similarity);
            pxs__server_json_raw(&j, ",\"thumbnail_url\":");
            pxs__server_json_str(&j, url);
            pxs__server_json_raw(&j, "}");
        }
        pxs__server_json_raw(&j, "]}");
    }
    pxs__server_json_raw(&j, "],\"count\":");
    pxs__server_json_uint(&j, n);
    pxs__server_json_raw(&j, "}");
    pxs_engine_dup_groups_free(groups, n);
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}
