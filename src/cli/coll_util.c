/*
 * coll_util.c — helpers of the vector-collection commands (coll_cli.h):
 * engine calls with error reporting, collection descriptions, JSON request
 * writers and the row table printer.
 */
#include "coll_cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int coll_call(pxs_engine *engine, pxs_coll_op_fn op, const char *request, char **out, const char *what) {
    struct pxs_err err;
    pxs_err_clear(&err);
    char *res = NULL;
    int rc = op(engine, request, 0, &res, &err);
    if (rc != PXS_OK) {
        cli_error("%s: %s", what, pxs_err_message(&err, rc));
        pxs_free(res);
        return EXIT_FAILURE_FATAL;
    }
    if (out) *out = res;
    else pxs_free(res);
    return EXIT_OK;
}

int jb_str(struct pxs_buf *b, const char *s) {
    int rc = pxs_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; rc == PXS_OK && *p; p++) {
        if (*p == '"' || *p == '\\') rc = pxs_buf_appendf(b, "\\%c", *p);
        else if (*p < 0x20) rc = pxs_buf_appendf(b, "\\u%04x", *p);
        else rc = pxs_buf_append(b, p, 1);
    }
    return rc == PXS_OK ? pxs_buf_append(b, "\"", 1) : rc;
}

/* Integral values (pixels, counts) are written as integers: exact and short. */
int jb_f32(struct pxs_buf *b, const float *v, size_t n) {
    int rc = pxs_buf_reserve(b, n * 16 + 2);
    if (rc != PXS_OK) return rc;
    b->data[b->len++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) b->data[b->len++] = ',';
        float x = v[i];
        if (x == floorf(x) && fabsf(x) < 1e9f) {
            long long k = (long long)x;
            char tmp[24];
            int t = 0;
            bool neg = k < 0;
            unsigned long long u = neg ? (unsigned long long)-k : (unsigned long long)k;
            do tmp[t++] = (char)('0' + u % 10); while ((u /= 10) != 0);
            if (neg || (k == 0 && signbit(x))) b->data[b->len++] = '-';
            while (t) b->data[b->len++] = tmp[--t];
        } else {
            b->len += (size_t)snprintf(b->data + b->len, 16, "%.9g", (double)x);
        }
    }
    b->data[b->len++] = ']';
    b->data[b->len] = '\0';
    return PXS_OK;
}

int jb_u8(struct pxs_buf *b, const uint8_t *v, size_t n) {
    int rc = pxs_buf_append(b, "[", 1);
    for (size_t i = 0; rc == PXS_OK && i < n; i++) rc = pxs_buf_appendf(b, i ? ",%u" : "%u", v[i]);
    return rc == PXS_OK ? pxs_buf_append(b, "]", 1) : rc;
}

/* ---- collection descriptions ---- */

static const char *param_value(const cJSON *field, const char *key) {
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(field, "params");
    const cJSON *p;
    cJSON_ArrayForEach(p, params) {
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(p, "key");
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "value");
        if (cJSON_IsString(k) && cJSON_IsString(v) && strcmp(k->valuestring, key) == 0) return v->valuestring;
    }
    return NULL;
}

int coll_info_get(pxs_engine *engine, const char *name, struct coll_info *out, struct pxs_err *err) {
    memset(out, 0, sizeof *out);
    struct pxs_buf req;
    pxs_buf_init(&req, 4096);
    int rc = pxs_buf_append(&req, "{\"collectionName\":", 18);
    if (rc == PXS_OK) rc = jb_str(&req, name);
    if (rc == PXS_OK) rc = pxs_buf_append(&req, "}", 1);
    char *res = NULL;
    if (rc == PXS_OK) rc = pxs_coll_describe(engine, req.data, 0, &res, err);
    else rc = pxs_errf(err, PXS_EINVAL, "collection name too long");
    pxs_buf_free(&req);
    if (rc != PXS_OK) return rc;
    out->describe = cJSON_Parse(res);
    pxs_free(res);
    if (!out->describe) return pxs_errf(err, PXS_EINTERNAL, "collections/describe returned bad JSON");
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(out->describe, "fields")) {
        const char *fname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "name"));
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "type"));
        if (!fname || !type) continue;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "primaryKey"))) {
            snprintf(out->pk, sizeof out->pk, "%s", fname);
            out->pk_int = strcmp(type, "Int64") == 0;
        } else if (!strcmp(type, "FloatVector") || !strcmp(type, "BinaryVector")) {
            snprintf(out->vec, sizeof out->vec, "%s", fname);
            out->binary = type[0] == 'B';
            const char *d = param_value(f, "dim");
            out->dim = d ? (size_t)strtoul(d, NULL, 10) : 0;
        }
    }
    out->auto_id = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(out->describe, "autoId"));
    out->has_index = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out->describe, "indexes")) > 0;
    return PXS_OK;
}

int coll_info_load(pxs_engine *engine, const char *name, struct coll_info *out) {
    struct pxs_err err;
    pxs_err_clear(&err);
    int rc = coll_info_get(engine, name, out, &err);
    if (rc == PXS_OK) return EXIT_OK;
    cli_error("%s", pxs_err_message(&err, rc));
    coll_info_free(out);
    return EXIT_FAILURE_FATAL;
}

void coll_info_free(struct coll_info *ci) {
    cJSON_Delete(ci->describe);
    ci->describe = NULL;
}

const char *coll_field_type(const struct coll_info *ci, const char *field) {
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(ci->describe, "fields")) {
        const char *fname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "name"));
        if (fname && !strcmp(fname, field)) return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "type"));
    }
    return NULL;
}

/* ---- index options ---- */

int index_option(int c, const char *arg, struct index_opts *o) {
    switch (c) {
    case 0x200: o->type = arg; return 1;
    case 0x201: o->metric = arg; return 1;
    case 0x202:
        if (!strchr(arg, '=') || arg[0] == '=') {
            cli_error("--param expects KEY=VALUE (e.g. M=16), got \"%s\"", arg);
            return -1;
        }
        if (o->nparams == sizeof o->params / sizeof o->params[0]) {
            cli_error("too many --param options");
            return -1;
        }
        o->params[o->nparams++] = arg;
        return 1;
    default: return 0;
    }
}

cJSON *index_params_json(const struct index_opts *o, const char *vec) {
    cJSON *e = cJSON_CreateObject();
    cJSON *params = cJSON_AddObjectToObject(e, "params");
    cJSON_AddStringToObject(e, "fieldName", vec);
    cJSON_AddStringToObject(e, "indexName", vec);
    cJSON_AddStringToObject(e, "indexType", o->type ? o->type : "AUTOINDEX");
    if (o->metric) cJSON_AddStringToObject(e, "metricType", o->metric);
    for (size_t i = 0; i < o->nparams; i++) {
        const char *eq = strchr(o->params[i], '=');
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - o->params[i]), o->params[i]);
        char *end;
        double v = strtod(eq + 1, &end);
        if (eq[1] && !*end) cJSON_AddNumberToObject(params, key, v);
        else cJSON_AddStringToObject(params, key, eq + 1);
    }
    return e;
}

/* ---- tables ---- */

#define TABLE_MAX_COLS 16
#define CELL_MAX 40

static void cell_text(const cJSON *v, char *out, size_t cap) {
    if (!v) {
        out[0] = '\0';
    } else if (cJSON_IsString(v)) {
        snprintf(out, cap, "%s", v->valuestring);
    } else {
        char *t = cJSON_PrintUnformatted(v);
        snprintf(out, cap, "%s", t ? t : "?");
        cJSON_free(t);
    }
    size_t n = strlen(out);
    if (n >= CELL_MAX) memcpy(out + CELL_MAX - 4, "...", 4);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
}

void print_rows(const cJSON *rows, bool json) {
    const cJSON *r;
    if (json) {
        cJSON_ArrayForEach(r, rows) {
            char *t = cJSON_PrintUnformatted(r);
            if (t) puts(t);
            cJSON_free(t);
        }
        return;
    }
    const char *cols[TABLE_MAX_COLS];
    size_t ncols = 0, width[TABLE_MAX_COLS];
    cJSON_ArrayForEach(r, rows) {
        const cJSON *kv;
        cJSON_ArrayForEach(kv, r) {
            size_t i = 0;
            while (i < ncols && strcmp(cols[i], kv->string)) i++;
            if (i == ncols && ncols < TABLE_MAX_COLS) {
                cols[ncols] = kv->string;
                width[ncols++] = strlen(kv->string) < CELL_MAX ? strlen(kv->string) : CELL_MAX;
            }
        }
    }
    char cell[CELL_MAX + 1];
    cJSON_ArrayForEach(r, rows) {
        for (size_t i = 0; i < ncols; i++) {
            cell_text(cJSON_GetObjectItemCaseSensitive(r, cols[i]), cell, sizeof cell);
            if (strlen(cell) > width[i]) width[i] = strlen(cell);
        }
    }
    for (size_t i = 0; i < ncols; i++) printf("%-*.*s%s", (int)width[i], CELL_MAX, cols[i], i + 1 < ncols ? "  " : "\n");
    cJSON_ArrayForEach(r, rows) {
        for (size_t i = 0; i < ncols; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, cols[i]);
            cell_text(v, cell, sizeof cell);
            bool num = v && cJSON_IsNumber(v);
            printf(num ? "%*s%s" : "%-*s%s", (int)width[i], cell, i + 1 < ncols ? "  " : "\n");
        }
    }
}
