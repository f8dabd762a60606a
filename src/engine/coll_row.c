/*
 * coll_row.c — rows of the vector collections: validating and encoding an
 * input row (JSON object) into the row record, decoding records, writing
 * output fields as JSON, filter expressions evaluated on decoded rows, and
 * the primary-key index key. The row record format is specified in
 * coll_int.h (it is written here).
 */
#include "engine/coll_int.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define ROW_VERSION 1
#define COLL_MAX_JSON 65536 /* bytes of one JSON field value (as Milvus) */

static const char *type_word(int t) {
    switch (t) {
    case DT_BOOL: return "Bool";
    case DT_INT8: return "Int8";
    case DT_INT16: return "Int16";
    case DT_INT32: return "Int32";
    case DT_INT64: return "Int64";
    case DT_FLOAT: return "Float";
    case DT_DOUBLE: return "Double";
    case DT_VARCHAR: return "VarChar";
    default: return "value";
    }
}

int cell_parse(const struct coll_field *f, const cJSON *v, size_t row, struct cell *out,
               struct pxs_err *err) {
    memset(out, 0, sizeof *out);
    int t = f->type == DT_ARRAY ? f->elem_type : f->type;
    switch (t) {
    case DT_BOOL:
        if (!cJSON_IsBool(v)) break;
        out->tag = cJSON_IsTrue(v) ? CELL_TRUE : CELL_FALSE;
        return PXS_OK;
    case DT_INT8: case DT_INT16: case DT_INT32: case DT_INT64: {
        int64_t x;
        if (cj_to_int64(v, &x) != 0) break;
        int bits = t == DT_INT8 ? 8 : t == DT_INT16 ? 16 : t == DT_INT32 ? 32 : 64;
        if (bits < 64 && (x < -(INT64_C(1) << (bits - 1)) || x >= (INT64_C(1) << (bits - 1))))
            return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: %" PRId64 " is out of range for %s",
                            row, f->name, x, type_word(t));
        out->tag = CELL_INT;
        out->i = x;
        return PXS_OK;
    }
    case DT_FLOAT: case DT_DOUBLE: {
        if (!cJSON_IsNumber(v)) break;
        double d = v->valuedouble;
        if (!isfinite(d) || (t == DT_FLOAT && fabs(d) > FLT_MAX))
            return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: value out of range for %s", row, f->name,
                            type_word(t));
        out->tag = CELL_DOUBLE;
        out->d = t == DT_FLOAT ? (double)(float)d : d;
        return PXS_OK;
    }
    case DT_VARCHAR:
        if (!cJSON_IsString(v)) break;
        out->tag = CELL_STRING;
        out->s = v->valuestring;
        out->len = (uint32_t)strlen(v->valuestring);
        if (strlen(v->valuestring) > f->max_length)
            return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: string of %zu bytes is over max_length %u",
                            row, f->name, strlen(v->valuestring), f->max_length);
        return PXS_OK;
    }
    return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: expected %s%s", row, f->name,
                    f->type == DT_ARRAY ? "array elements of type " : "", type_word(t));
}

static int put_u32(struct pxs_buf *b, uint32_t v) {
    uint8_t x[4];
    pxs_put_le(x, v, 4);
    return pxs_buf_append(b, x, 4);
}

static int put_cell(struct pxs_buf *b, const struct cell *c) {
    uint8_t head[9] = {c->tag};
    switch (c->tag) {
    case CELL_INT:
        pxs_put_le(head + 1, (uint64_t)c->i, 8);
        return pxs_buf_append(b, head, 9);
    case CELL_DOUBLE: {
        uint64_t u;
        memcpy(&u, &c->d, 8);
        pxs_put_le(head + 1, u, 8);
        return pxs_buf_append(b, head, 9);
    }
    case CELL_STRING: case CELL_JSON: case CELL_BYTES: {
        int rc = pxs_buf_append(b, head, 1);
        if (rc == PXS_OK) rc = put_u32(b, c->len);
        if (rc == PXS_OK) rc = pxs_buf_append(b, c->s, c->len);
        return rc;
    }
    default:
        return pxs_buf_append(b, head, 1);
    }
}

/* Compact JSON text of v as an owned (pxs) string. */
static char *json_text(const cJSON *v) {
    char *t = cJSON_PrintUnformatted(v);
    char *copy = t ? pxs_strdup(t) : NULL;
    if (t) cJSON_free(t);
    return copy;
}

static int parse_vector(const struct coll_field *f, const cJSON *v, size_t row, struct pxs_buf *vb,
                        struct pxs_err *err) {
    bool bin = f->type == DT_BINARY_VECTOR;
    size_t want = bin ? f->dim / 8 : f->dim;
    if (!cJSON_IsArray(v))
        return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: expected an array of %zu %s", row, f->name,
                        want, bin ? "bytes (0..255)" : "numbers");
    size_t n = (size_t)cJSON_GetArraySize(v);
    if (n != want)
        return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: vector has %zu %s, the collection's dim is %u%s",
                        row, f->name, n, bin ? "bytes" : "components", f->dim, bin ? " bits" : "");
    int rc = pxs_buf_reserve(vb, want * (bin ? 1 : sizeof(float)));
    if (rc != PXS_OK) return pxs_errf(err, rc, "out of memory");
    size_t i = 0;
    for (const cJSON *c = v->child; c; c = c->next, i++) {
        double d = cJSON_IsNumber(c) ? c->valuedouble : NAN;
        if (bin) {
            if (!(d >= 0 && d <= 255 && d == floor(d)))
                return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: byte %zu is not an integer 0..255", row,
                                f->name, i);
            uint8_t byte = (uint8_t)d;
            memcpy(vb->data + vb->len++, &byte, 1);
        } else {
            if (!isfinite(d) || fabs(d) > FLT_MAX)
                return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: component %zu is %s", row, f->name, i,
                                cJSON_IsNumber(c) ? "not a finite float32" : "not a number");
            float x = (float)d;
            memcpy(vb->data + vb->len, &x, 4);
            vb->len += 4;
        }
    }
    return PXS_OK;
}

static int check_vector_bytes(const struct coll_field *f, const void *vec, size_t row, struct pxs_err *err) {
    if (f->type != DT_FLOAT_VECTOR) return PXS_OK;
    for (size_t i = 0; i < f->dim; i++) {
        float x;
        memcpy(&x, (const char *)vec + 4 * i, 4);
        if (!isfinite(x))
            return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: component %zu is NaN or infinite", row,
                            f->name, i);
    }
    return PXS_OK;
}

static int parse_array(const struct coll_field *f, const cJSON *v, size_t row, struct pxs_err *err) {
    if (!cJSON_IsArray(v))
        return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: expected an array", row, f->name);
    size_t n = (size_t)cJSON_GetArraySize(v);
    if (n > f->max_capacity)
        return pxs_errf(err, PXS_EINVAL, "row %zu: field %s: %zu elements is over max_capacity %u", row,
                        f->name, n, f->max_capacity);
    for (const cJSON *c = v->child; c; c = c->next) {
        struct cell tmp;
        int rc = cell_parse(f, c, row, &tmp, err);
        if (rc != PXS_OK) return rc;
    }
    return PXS_OK;
}

static bool in_schema(const struct coll_schema *s, const char *key) {
    return schema_field_index(s, key) >= 0;
}

int row_encode(const struct coll_schema *s, const cJSON *row, size_t ri, uint32_t part,
               const void *vec_override, const int64_t *pk_override, bool pk_allowed_with_auto,
               struct row_in *out, struct pxs_buf *rec, struct pxs_err *err) {
    memset(out, 0, sizeof *out);
    if (row && !cJSON_IsObject(row)) return pxs_errf(err, PXS_EINVAL, "row %zu: must be a JSON object", ri);
    size_t start = rec->len;
    struct pxs_buf vb;
    pxs_buf_init(&vb, COLL_BUF_MAX);
    char *owned = NULL;
    cJSON *dyn = NULL;
    uint8_t head[5] = {ROW_VERSION};
    pxs_put_le(head + 1, part, 4);
    int rc = pxs_buf_append(rec, head, 5);
    for (size_t fi = 0; rc == PXS_OK && fi < s->nfields; fi++) {
        const struct coll_field *f = &s->fields[fi];
        const cJSON *v = row ? cj_get(row, f->name) : NULL;
        struct cell c = {CELL_NULL};
        if ((int)fi == s->pk) {
            if (pk_override) v = NULL;
            if (s->auto_id && v && !pk_allowed_with_auto) {
                rc = pxs_errf(err, PXS_EINVAL, "row %zu: field %s is generated (autoId); do not supply it",
                              ri, f->name);
                break;
            }
            if (pk_override) {
                c.tag = CELL_INT;
                c.i = *pk_override;
                out->pk_given = true;
            } else if (v) {
                rc = cell_parse(f, v, ri, &c, err);
                out->pk_given = true;
            } else if (s->auto_id) {
                c.tag = CELL_INT; /* filled in at commit */
            } else {
                rc = pxs_errf(err, PXS_EINVAL, "row %zu: primary key field %s is missing", ri, f->name);
            }
            if (rc != PXS_OK) break;
            out->pk = c;
            if (c.tag == CELL_STRING) {
                if (!(out->pk_text = pxs_strndup(c.s, c.len))) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
                out->pk.s = out->pk_text;
            }
            out->pk_off = rec->len + 1 - start;
        } else if ((int)fi == s->vec) {
            if (vec_override) {
                rc = check_vector_bytes(f, vec_override, ri, err);
                c.s = vec_override;
            } else if (!v) {
                rc = pxs_errf(err, PXS_EINVAL, "row %zu: vector field %s is missing", ri, f->name);
            } else {
                rc = parse_vector(f, v, ri, &vb, err);
                c.s = vb.data;
            }
            c.tag = CELL_BYTES;
            c.len = (uint32_t)schema_vector_bytes(s);
        } else if (!v) {
            if (f->has_default) {
                c = f->def;
            } else if (!f->nullable) {
                rc = pxs_errf(err, PXS_EINVAL, "row %zu: field %s is missing (it is not nullable and has "
                              "no default)", ri, f->name);
            }
        } else if (f->type == DT_JSON || f->type == DT_ARRAY) {
            if (f->type == DT_ARRAY) rc = parse_array(f, v, ri, err);
            if (rc == PXS_OK && !(owned = json_text(v))) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
            if (rc == PXS_OK && strlen(owned) > COLL_MAX_JSON)
                rc = pxs_errf(err, PXS_EINVAL, "row %zu: field %s: JSON value over %d bytes", ri, f->name,
                              COLL_MAX_JSON);
            c.tag = CELL_JSON;
            c.s = owned;
            c.len = owned ? (uint32_t)strlen(owned) : 0;
        } else {
            rc = cell_parse(f, v, ri, &c, err);
        }
        if (rc == PXS_OK) rc = put_cell(rec, &c);
        pxs_free(owned);
        owned = NULL;
    }
    /* undeclared keys: the dynamic field, or an error */
    for (const cJSON *m = row ? row->child : NULL; rc == PXS_OK && m; m = m->next) {
        if (!m->string || in_schema(s, m->string)) continue;
        if (!s->dynamic) {
            rc = pxs_errf(err, PXS_EINVAL, "row %zu: field %s is not in the schema (the collection has no "
                          "dynamic field)", ri, m->string);
            break;
        }
        if (!coll_name_valid(m->string)) {
            rc = pxs_errf(err, PXS_EINVAL, "row %zu: dynamic field name \"%s\" is invalid", ri, m->string);
            break;
        }
        if (!dyn && !(dyn = cJSON_CreateObject())) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        if (rc == PXS_OK && !cJSON_AddItemReferenceToObject(dyn, m->string, (cJSON *)m))
            rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    }
    if (rc == PXS_OK && s->dynamic) {
        if (dyn && !(owned = json_text(dyn))) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        if (rc == PXS_OK && owned && strlen(owned) > COLL_MAX_JSON)
            rc = pxs_errf(err, PXS_EINVAL, "row %zu: dynamic fields over %d bytes of JSON", ri, COLL_MAX_JSON);
        size_t n = owned ? strlen(owned) : 0;
        if (rc == PXS_OK) rc = put_u32(rec, (uint32_t)n);
        if (rc == PXS_OK) rc = pxs_buf_append(rec, owned, n);
        pxs_free(owned);
    }
    cJSON_Delete(dyn);
    pxs_buf_free(&vb);
    if (rc != PXS_OK) {
        rec->len = start;
        pxs_free(out->pk_text);
        out->pk_text = NULL;
        if (rc == PXS_ELIMIT) rc = pxs_errf(err, PXS_ELIMIT, "request too large");
        else if (rc == PXS_ENOMEM) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        return rc;
    }
    out->rec_off = start;
    out->rec_len = rec->len - start;
    return PXS_OK;
}

int row_decode(const struct coll_schema *s, const void *data, size_t len, struct row_view *out,
               struct pxs_err *err) {
    const uint8_t *p = data, *end = p + len;
    if (len < 5 || p[0] != ROW_VERSION) return PXS_CORRUPT_BKPT(err, "row record header");
    out->part = (uint32_t)pxs_get_le(p + 1, 4);
    p += 5;
    for (size_t i = 0; i < s->nfields; i++) {
        struct cell *c = &out->cells[i];
        memset(c, 0, sizeof *c);
        if (p >= end) return PXS_CORRUPT_BKPT(err, "row record truncated");
        c->tag = *p++;
        switch (c->tag) {
        case CELL_NULL: case CELL_FALSE: case CELL_TRUE: break;
        case CELL_INT: case CELL_DOUBLE: {
            if (end - p < 8) return PXS_CORRUPT_BKPT(err, "row record truncated");
            uint64_t u = pxs_get_le(p, 8);
            if (c->tag == CELL_INT) c->i = (int64_t)u;
            else memcpy(&c->d, &u, 8);
            p += 8;
            break;
        }
        case CELL_STRING: case CELL_JSON: case CELL_BYTES:
            if (end - p < 4) return PXS_CORRUPT_BKPT(err, "row record truncated");
            c->len = (uint32_t)pxs_get_le(p, 4);
            p += 4;
            if ((size_t)(end - p) < c->len) return PXS_CORRUPT_BKPT(err, "row record truncated");
            c->s = (const char *)p;
            p += c->len;
            break;
        default:
            return PXS_CORRUPT_BKPT(err, "row record cell tag");
        }
    }
    if (out->cells[s->vec].tag != CELL_BYTES || out->cells[s->vec].len != schema_vector_bytes(s))
        return PXS_CORRUPT_BKPT(err, "row record vector size");
    out->dyn = NULL;
    out->dyn_len = 0;
    if (s->dynamic) {
        if (end - p < 4) return PXS_CORRUPT_BKPT(err, "row record truncated");
        out->dyn_len = (uint32_t)pxs_get_le(p, 4);
        p += 4;
        if ((size_t)(end - p) < out->dyn_len) return PXS_CORRUPT_BKPT(err, "row record truncated");
        out->dyn = (const char *)p;
        p += out->dyn_len;
    }
    if (p != end) return PXS_CORRUPT_BKPT(err, "row record has trailing bytes");
    return PXS_OK;
}

/* ---- output ---- */

void out_fields_free(struct out_fields *o) {
    pxs_free(o->field);
    pxs_free(o->dyn_keys);
    memset(o, 0, sizeof *o);
}

int out_fields_parse(const struct coll_schema *s, const cJSON *list, struct out_fields *o,
                     struct pxs_err *err) {
    memset(o, 0, sizeof *o);
    o->field = pxs_calloc(s->nfields, sizeof *o->field);
    size_t n = list && cJSON_IsArray(list) ? (size_t)cJSON_GetArraySize(list) : 0;
    o->dyn_keys = pxs_calloc(n ? n : 1, sizeof *o->dyn_keys);
    if (!o->field || !o->dyn_keys) {
        out_fields_free(o);
        return pxs_errf(err, PXS_ENOMEM, "out of memory");
    }
    if (list && !cJSON_IsArray(list)) {
        out_fields_free(o);
        return pxs_errf(err, PXS_EINVAL, "outputFields must be an array of field names");
    }
    for (const cJSON *it = list ? list->child : NULL; it; it = it->next) {
        const char *name = cJSON_IsString(it) ? it->valuestring : NULL;
        int fi = name ? schema_field_index(s, name) : -1;
        if (name && !strcmp(name, "*")) {
            o->all = true;
        } else if (name && !strcmp(name, "count(*)")) {
            o->count = true;
        } else if (fi >= 0) {
            o->field[fi] = true;
        } else if (name && s->dynamic && coll_name_valid(name)) {
            o->dyn_keys[o->ndyn++] = name;
        } else {
            out_fields_free(o);
            return pxs_errf(err, PXS_EINVAL, "outputFields: %s%s%s is not a field of collection %s",
                            name ? "\"" : "", name ? name : "a non-string entry", name ? "\"" : "", s->name);
        }
    }
    if (o->all)
        for (size_t i = 0; i < s->nfields; i++) o->field[i] = true;
    return PXS_OK;
}

int cell_write(const struct coll_field *f, const struct cell *c, unsigned flags, struct pxs_buf *b) {
    switch (c->tag) {
    case CELL_NULL: return pxs_buf_append(b, "null", 4);
    case CELL_TRUE: return pxs_buf_append(b, "true", 4);
    case CELL_FALSE: return pxs_buf_append(b, "false", 5);
    case CELL_INT: return jw_int64(b, c->i, (flags & PXS_COLL_INT64_AS_STRING) && f->type == DT_INT64);
    case CELL_DOUBLE:
        return f->type == DT_FLOAT ? pxs_buf_appendf(b, "%.9g", c->d) : jw_double(b, c->d);
    case CELL_STRING: return jw_str(b, c->s, c->len);
    case CELL_JSON: return pxs_buf_append(b, c->s, c->len);
    case CELL_BYTES: {
        int rc = pxs_buf_append(b, "[", 1);
        bool bin = f->type == DT_BINARY_VECTOR;
        size_t n = bin ? c->len : c->len / 4;
        for (size_t i = 0; rc == PXS_OK && i < n; i++) {
            if (bin) {
                rc = pxs_buf_appendf(b, "%s%u", i ? "," : "", (unsigned)(uint8_t)c->s[i]);
            } else {
                float x;
                memcpy(&x, c->s + 4 * i, 4);
                rc = pxs_buf_appendf(b, "%s%.9g", i ? "," : "", x);
            }
        }
        return rc == PXS_OK ? pxs_buf_append(b, "]", 1) : rc;
    }
    }
    return PXS_EINTERNAL;
}

static int write_member(struct pxs_buf *b, bool *first, const char *key) {
    int rc = *first ? PXS_OK : pxs_buf_append(b, ",", 1);
    *first = false;
    if (rc == PXS_OK) rc = jw_cstr(b, key);
    return rc == PXS_OK ? pxs_buf_append(b, ":", 1) : rc;
}

int row_write_fields(const struct coll_schema *s, const struct row_view *rv, const struct out_fields *of,
                     unsigned flags, bool *first, struct pxs_buf *b) {
    int rc = write_member(b, first, s->fields[s->pk].name);
    if (rc == PXS_OK) rc = cell_write(&s->fields[s->pk], &rv->cells[s->pk], flags, b);
    for (size_t i = 0; rc == PXS_OK && of && i < s->nfields; i++) {
        if ((int)i == s->pk || !of->field[i]) continue;
        rc = write_member(b, first, s->fields[i].name);
        if (rc == PXS_OK) rc = cell_write(&s->fields[i], &rv->cells[i], flags, b);
    }
    if (rc != PXS_OK || !of || !rv->dyn_len || (!of->all && !of->ndyn)) return rc;
    if (of->all) { /* merge the $meta object's members */
        if (rv->dyn_len > 2) {
            rc = pxs_buf_append(b, *first ? "" : ",", *first ? 0 : 1);
            if (rc == PXS_OK) rc = pxs_buf_append(b, rv->dyn + 1, rv->dyn_len - 2);
            *first = false;
        }
        return rc;
    }
    cJSON *dyn = cJSON_ParseWithLength(rv->dyn, rv->dyn_len);
    if (!dyn) return PXS_ECORRUPT;
    for (size_t k = 0; rc == PXS_OK && k < of->ndyn; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(dyn, of->dyn_keys[k]);
        if (!v) continue;
        char *t = cJSON_PrintUnformatted(v);
        rc = t ? write_member(b, first, of->dyn_keys[k]) : PXS_ENOMEM;
        if (rc == PXS_OK) rc = pxs_buf_append(b, t, strlen(t));
        if (t) cJSON_free(t);
    }
    cJSON_Delete(dyn);
    return rc;
}

/* ---- filters ---- */

int row_filter_compile(const struct coll_schema *s, const char *text, struct row_filter *f,
                       struct pxs_err *err) {
    memset(f, 0, sizeof *f);
    f->schema = s;
    if (!text) return PXS_OK;
    struct expr_schema xs = {s->xfields, s->nx, s->x_dynamic};
    struct expr *e;
    int rc = expr_compile(text, SIZE_MAX, &xs, &e, err);
    if (rc != PXS_OK) return rc;
    bool value;
    if (expr_is_constant(e, &value)) {
        expr_free(e);
        f->constant_false = !value;
        return PXS_OK;
    }
    f->expr = e;
    return PXS_OK;
}

void row_filter_free(struct row_filter *f) {
    expr_free(f->expr);
    f->expr = NULL;
}

struct filter_access {
    const struct coll_schema *s;
    const struct row_view *rv;
};

static int filter_get(void *user, size_t field, uint64_t row, struct expr_value *out, struct pxs_err *err) {
    (void)row;
    (void)err;
    const struct filter_access *a = user;
    int fi = a->s->x_to_field[field];
    memset(out, 0, sizeof *out);
    if (fi < 0) {
        out->kind = EXPR_V_JSON_TEXT;
        out->u.s.ptr = a->rv->dyn_len ? a->rv->dyn : "{}";
        out->u.s.len = a->rv->dyn_len ? a->rv->dyn_len : 2;
        return PXS_OK;
    }
    const struct cell *c = &a->rv->cells[fi];
    switch (c->tag) {
    case CELL_NULL: out->kind = EXPR_V_NULL; break;
    case CELL_TRUE: case CELL_FALSE: out->kind = EXPR_V_BOOL; out->u.b = c->tag == CELL_TRUE; break;
    case CELL_INT: out->kind = EXPR_V_INT; out->u.i = c->i; break;
    case CELL_DOUBLE: out->kind = EXPR_V_DOUBLE; out->u.d = c->d; break;
    case CELL_STRING: out->kind = EXPR_V_STRING; out->u.s.ptr = c->s; out->u.s.len = c->len; break;
    default: out->kind = EXPR_V_JSON_TEXT; out->u.s.ptr = c->s; out->u.s.len = c->len; break;
    }
    return PXS_OK;
}

int row_filter_match(const struct row_filter *f, const struct row_view *rv, bool *match, struct pxs_err *err) {
    if (f->constant_false) {
        *match = false;
        return PXS_OK;
    }
    if (!f->expr) {
        *match = true;
        return PXS_OK;
    }
    struct filter_access a = {f->schema, rv};
    struct expr_row_access acc = {filter_get, &a};
    return expr_eval(f->expr, &acc, 0, match, err);
}

size_t pk_key(const struct coll_schema *s, const struct cell *pk, uint8_t *key) {
    pxs_store_u64_key(s->id, key);
    if (pk->tag == CELL_INT) {
        pxs_store_u64_key((uint64_t)pk->i ^ (UINT64_C(1) << 63), key + 8);
        return 16;
    }
    if (pk->len <= 400) {
        key[8] = 0;
        memcpy(key + 9, pk->s, pk->len);
        return 9 + pk->len;
    }
    key[8] = 1;
    pxs_hash128(pk->s, pk->len, key + 9);
    return 9 + PXS_HASH_BYTES;
}
