/*
 * filter.c — search filters over the per-image fields: compiles a Milvus
 * filter expression (expr.h) against the image schema below and turns it
 * into the set of allowed image ids, read in one pass over the images table
 * (and the tags table when the expression reads tags). The set is sorted,
 * so the index's allow callback is a binary search and allow_count is exact.
 *
 * Image schema (names usable in expressions):
 *   id INT64, path VARCHAR, name VARCHAR (file name without folders),
 *   size INT64 (bytes), width INT64, height INT64, mtime INT64 (seconds
 *   since the epoch), format VARCHAR ("jpeg", "png", ...), hash VARCHAR
 *   (hex), date VARCHAR (EXIF "YYYY-MM-DD HH:MM:SS", NULL if absent),
 *   camera VARCHAR ("Make Model", NULL if absent), make VARCHAR, model
 *   VARCHAR (NULL if absent), tags JSON (user tags; also the dynamic field,
 *   so an unknown name k means tags["k"]).
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#include "expr.h"

enum {
    F_ID, F_PATH, F_NAME, F_SIZE, F_WIDTH, F_HEIGHT, F_MTIME, F_FORMAT, F_HASH, F_DATE,
    F_CAMERA, F_MAKE, F_MODEL, F_TAGS, F_COUNT
};

static const struct expr_field image_fields[F_COUNT] = {
    [F_ID] = {"id", EXPR_INT64, 0, false},
    [F_PATH] = {"path", EXPR_VARCHAR, 0, false},
    [F_NAME] = {"name", EXPR_VARCHAR, 0, false},
    [F_SIZE] = {"size", EXPR_INT64, 0, false},
    [F_WIDTH] = {"width", EXPR_INT64, 0, false},
    [F_HEIGHT] = {"height", EXPR_INT64, 0, false},
    [F_MTIME] = {"mtime", EXPR_INT64, 0, false},
    [F_FORMAT] = {"format", EXPR_VARCHAR, 0, false},
    [F_HASH] = {"hash", EXPR_VARCHAR, 0, false},
    [F_DATE] = {"date", EXPR_VARCHAR, 0, true},
    [F_CAMERA] = {"camera", EXPR_VARCHAR, 0, true},
    [F_MAKE] = {"make", EXPR_VARCHAR, 0, true},
    [F_MODEL] = {"model", EXPR_VARCHAR, 0, true},
    [F_TAGS] = {"tags", EXPR_JSON, 0, true},
};

/* The row being evaluated: its decoded record and derived strings. */
struct row_ctx {
    int64_t id;
    const struct image_record *rec;
    char hash_hex[33];
    char camera[130];
    const char *tags;  /* JSON text or NULL */
    size_t tags_len;
};

static void set_str(struct expr_value *out, const char *s, size_t n) {
    out->kind = EXPR_V_STRING;
    out->u.s.ptr = s;
    out->u.s.len = n;
}

static void set_opt_str(struct expr_value *out, const char *s) {
    if (!s[0]) out->kind = EXPR_V_NULL;
    else set_str(out, s, strlen(s));
}

static int get_field(void *user, size_t field, uint64_t row, struct expr_value *out,
                     struct pxs_err *err) {
    (void)row;
    (void)err;
    struct row_ctx *r = user;
    const struct image_record *rec = r->rec;
    out->kind = EXPR_V_INT;
    switch (field) {
    case F_ID: out->u.i = r->id; break;
    case F_PATH: set_str(out, rec->path, rec->path_len); break;
    case F_NAME: {
        size_t i = rec->path_len;
        while (i > 0 && rec->path[i - 1] != '/') i--;
        set_str(out, rec->path + i, rec->path_len - i);
        break;
    }
    case F_SIZE: out->u.i = (int64_t)rec->size; break;
    case F_WIDTH: out->u.i = rec->width; break;
    case F_HEIGHT: out->u.i = rec->height; break;
    case F_MTIME: out->u.i = rec->mtime; break;
    case F_FORMAT: set_str(out, rec->format, strlen(rec->format)); break;
    case F_HASH: set_str(out, r->hash_hex, 32); break;
    case F_DATE: set_opt_str(out, rec->exif_date); break;
    case F_CAMERA: set_opt_str(out, r->camera); break;
    case F_MAKE: set_opt_str(out, rec->camera_make); break;
    case F_MODEL: set_opt_str(out, rec->camera_model); break;
    case F_TAGS:
        if (!r->tags) {
            out->kind = EXPR_V_JSON_TEXT; /* no tags: an empty object, so keys are "missing" */
            out->u.s.ptr = "{}";
            out->u.s.len = 2;
        } else {
            out->kind = EXPR_V_JSON_TEXT;
            out->u.s.ptr = r->tags;
            out->u.s.len = r->tags_len;
        }
        break;
    default: out->kind = EXPR_V_NULL; break;
    }
    return PXS_OK;
}

struct build_ctx {
    const struct expr *e;
    pxs_store_txn *txn;
    int needs_tags, needs_camera, needs_hash;
    struct image_filter *f;
    size_t cap;
    struct pxs_err *err;
};

static int visit_image(const void *key, size_t key_len, const void *val, size_t val_len,
                       void *user) {
    struct build_ctx *b = user;
    if (key_len != 8) return pxs_errf(b->err, PXS_ECORRUPT, "image key of %zu bytes", key_len);
    struct image_record rec;
    int rc = record_decode(val, val_len, &rec, b->err);
    if (rc != PXS_OK) return rc;
    struct row_ctx r = {.id = (int64_t)pxs_store_u64_from_key(key), .rec = &rec};
    if (b->needs_hash) pxs_hash_to_hex(rec.hash, r.hash_hex);
    if (b->needs_camera) record_camera(&rec, r.camera, sizeof r.camera);
    if (b->needs_tags) {
        const void *tv;
        size_t tl;
        rc = pxs_store_get(b->txn, TABLE_TAGS, key, 8, &tv, &tl, b->err);
        if (rc == PXS_OK) r.tags = tv, r.tags_len = tl;
        else if (rc != PXS_ENOTFOUND) return rc;
    }
    struct expr_row_access acc = {get_field, &r};
    bool match = false;
    rc = expr_eval(b->e, &acc, (uint64_t)r.id, &match, b->err);
    if (rc != PXS_OK) return rc;
    if (!match) return 0;
    struct image_filter *f = b->f;
    if (f->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        int64_t *ids = pxs_realloc(f->ids, cap * sizeof *ids);
        if (!ids) return pxs_errf(b->err, PXS_ENOMEM, "out of memory for the filter");
        f->ids = ids;
        b->cap = cap;
    }
    f->ids[f->n++] = r.id;
    return 0;
}

int pxs_engine_check_filter(const char *text, struct pxs_err *err) {
    struct expr_schema schema = {image_fields, F_COUNT, F_TAGS};
    struct expr *x;
    int rc = expr_compile(text, SIZE_MAX, &schema, &x, err);
    if (rc == PXS_OK) expr_free(x);
    return rc;
}

int engine_filter_build(pxs_engine *e, const char *text, struct image_filter *f,
                        struct pxs_err *err) {
    memset(f, 0, sizeof *f);
    if (!text) return PXS_OK;
    struct expr_schema schema = {image_fields, F_COUNT, F_TAGS};
    struct expr *x;
    int rc = expr_compile(text, SIZE_MAX, &schema, &x, err);
    if (rc != PXS_OK) return rc;
    bool value;
    if (expr_is_constant(x, &value)) {
        expr_free(x);
        f->active = !value; /* "true" filters nothing; "false" allows nothing */
        return PXS_OK;
    }
    f->active = 1;
    pxs_store_txn *txn;
    rc = pxs_store_begin(e->store, 0, &txn, err);
    if (rc == PXS_OK) {
        struct build_ctx b = {x, txn, expr_reads_field(x, F_TAGS), expr_reads_field(x, F_CAMERA),
                              expr_reads_field(x, F_HASH), f, 0, err};
        rc = pxs_store_scan(txn, TABLE_IMAGES, NULL, 0, visit_image, &b, err);
        pxs_store_abort(txn);
    }
    expr_free(x);
    if (rc != PXS_OK) engine_filter_free(f);
    return rc;
}

int engine_filter_allows(int64_t id, void *user) {
    const struct image_filter *f = user;
    if (!f->active) return 1;
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < f->n && f->ids[lo] == id;
}

void engine_filter_free(struct image_filter *f) {
    pxs_free(f->ids);
    memset(f, 0, sizeof *f);
}

void engine_filter_params(const struct image_filter *f, struct pxs_search_params *sp) {
    memset(sp, 0, sizeof *sp);
    if (!f || !f->active) return;
    sp->allow = engine_filter_allows;
    sp->allow_user = (void *)f;
    sp->allow_count = f->n;
}
