/*
 * coll_json.c — JSON helpers of the vector collections: strict readers of
 * request members (cJSON trees) that name the offending key, exact int64
 * values, and the writer used for every response.
 */
#include "engine/coll_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cj_parse(const char *text, cJSON **out, struct pxs_err *err) {
    *out = NULL;
    if (!text) return pxs_errf(err, PXS_EINVAL, "no request body");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        size_t pos = end ? (size_t)(end - text) : 0;
        return pxs_errf(err, PXS_EINVAL, "request is not valid JSON (near byte %zu)", pos);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return pxs_errf(err, PXS_EINVAL, "request must be a JSON object");
    }
    *out = root;
    return PXS_OK;
}

const cJSON *cj_get(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

int cj_string(const cJSON *obj, const char *key, const char **out, struct pxs_err *err) {
    const cJSON *v = cj_get(obj, key);
    if (!v) return PXS_OK;
    if (!cJSON_IsString(v)) return pxs_errf(err, PXS_EINVAL, "%s must be a string", key);
    *out = v->valuestring;
    return PXS_OK;
}

int cj_bool(const cJSON *obj, const char *key, bool *out, struct pxs_err *err) {
    const cJSON *v = cj_get(obj, key);
    if (!v) return PXS_OK;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return PXS_OK;
    }
    if (cJSON_IsString(v) && (!strcmp(v->valuestring, "true") || !strcmp(v->valuestring, "false"))) {
        *out = v->valuestring[0] == 't';
        return PXS_OK;
    }
    return pxs_errf(err, PXS_EINVAL, "%s must be true or false", key);
}

int cj_to_int64(const cJSON *v, int64_t *out) {
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!(fabs(d) <= 9007199254740992.0) || d != floor(d)) return -1;
        *out = (int64_t)d;
        return 0;
    }
    if (cJSON_IsString(v) && v->valuestring[0]) {
        const char *s = v->valuestring;
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno || *end || (s[0] != '-' && (s[0] < '0' || s[0] > '9'))) return -1;
        *out = x;
        return 0;
    }
    return -1;
}

int cj_int(const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t *out,
           struct pxs_err *err) {
    const cJSON *v = cj_get(obj, key);
    if (!v) return PXS_OK;
    int64_t x;
    if (cj_to_int64(v, &x) != 0 || x < lo || x > hi)
        return pxs_errf(err, PXS_EINVAL, "%s must be an integer in %" PRId64 "..%" PRId64, key, lo,
                        hi);
    *out = x;
    return PXS_OK;
}

int cj_collection_name(const cJSON *req, const char **out, struct pxs_err *err) {
    *out = NULL;
    int rc = cj_string(req, "collectionName", out, err);
    if (rc != PXS_OK) return rc;
    if (!*out || !**out) return pxs_errf(err, PXS_EINVAL, "collectionName is required");
    return PXS_OK;
}

int cj_name_list(const cJSON *req, const char *key, const char ***names, size_t *n,
                 struct pxs_err *err) {
    *names = NULL;
    *n = 0;
    const cJSON *v = cj_get(req, key);
    if (!v) return PXS_OK;
    if (!cJSON_IsArray(v)) return pxs_errf(err, PXS_EINVAL, "%s must be an array of strings", key);
    size_t count = (size_t)cJSON_GetArraySize(v);
    if (count == 0) return PXS_OK;
    const char **list = pxs_calloc(count, sizeof *list);
    if (!list) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    size_t i = 0;
    for (const cJSON *it = v->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it)) {
            pxs_free(list);
            return pxs_errf(err, PXS_EINVAL, "%s[%zu] must be a string", key, i);
        }
        list[i] = it->valuestring;
    }
    *names = list;
    *n = count;
    return PXS_OK;
}

/* ---- writer ---- */

int jw_str(struct pxs_buf *b, const char *s, size_t len) {
    int rc = pxs_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; rc == PXS_OK && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        rc = pxs_buf_append(b, s + run, i - run);
        run = i + 1;
        char esc[8];
        switch (c) {
        case '"': memcpy(esc, "\\\"", 3); break;
        case '\\': memcpy(esc, "\\\\", 3); break;
        case '\n': memcpy(esc, "\\n", 3); break;
        case '\t': memcpy(esc, "\\t", 3); break;
        case '\r': memcpy(esc, "\\r", 3); break;
        default: snprintf(esc, sizeof esc, "\\u%04x", c); break;
        }
        if (rc == PXS_OK) rc = pxs_buf_append(b, esc, strlen(esc));
    }
    if (rc == PXS_OK) rc = pxs_buf_append(b, s + run, len - run);
    if (rc == PXS_OK) rc = pxs_buf_append(b, "\"", 1);
    return rc;
}

int jw_cstr(struct pxs_buf *b, const char *s) { return jw_str(b, s, strlen(s)); }

int jw_int64(struct pxs_buf *b, int64_t v, bool as_string) {
    return as_string ? pxs_buf_appendf(b, "\"%" PRId64 "\"", v) : pxs_buf_appendf(b, "%" PRId64, v);
}

int jw_double(struct pxs_buf *b, double v) {
    if (!isfinite(v)) return pxs_buf_append(b, "null", 4);
    if (v == floor(v) && fabs(v) < 1e15) return pxs_buf_appendf(b, "%.1f", v);
    return pxs_buf_appendf(b, "%.17g", v);
}

char *jw_detach(struct pxs_buf *b) {
    size_t len;
    char *s = pxs_buf_detach(b, &len);
    if (!s) s = pxs_strdup("");
    return s;
}
