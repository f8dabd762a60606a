/*
 * tags.c — user tags on images: "key=value" pairs kept per image in the
 * tags table as one JSON object (format in record.c). Keys are identifiers
 * ([A-Za-z_][A-Za-z0-9_]*, at most 64 bytes) so filters can name them
 * directly (`album == "rome"` means tags["album"]); a value that is a whole
 * decimal number (e.g. 3, -2.5) is stored as a JSON number, anything else
 * as a string; "key=" removes the key. Tags follow an image whose file
 * content changes (the new id inherits them) and go when it is removed.
 */
#include "engine_int.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TAG_KEY_MAX 64
#define TAG_VALUE_MAX 1024

static int valid_key(const char *k, size_t n) {
    if (n == 0 || n > TAG_KEY_MAX || !(isalpha((unsigned char)k[0]) || k[0] == '_')) return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)k[i]) || k[i] == '_')) return 0;
    return 1;
}

int pxs_engine_check_tags(const char *const *kv, size_t n, struct pxs_err *err) {
    for (size_t i = 0; i < n; i++) {
        const char *eq = kv[i] ? strchr(kv[i], '=') : NULL;
        if (!eq) return pxs_errf(err, PXS_EINVAL, "tag \"%s\" is not key=value", kv[i] ? kv[i] : "");
        if (!valid_key(kv[i], (size_t)(eq - kv[i])))
            return pxs_errf(err, PXS_EINVAL,
                            "tag key \"%.*s\" must be letters, digits and _ (not first a "
                            "digit), at most %d bytes",
                            (int)(eq - kv[i]), kv[i], TAG_KEY_MAX);
        if (strlen(eq + 1) > TAG_VALUE_MAX)
            return pxs_errf(err, PXS_EINVAL, "tag value of %.*s is longer than %d bytes",
                            (int)(eq - kv[i]), kv[i], TAG_VALUE_MAX);
    }
    return PXS_OK;
}

/* A whole decimal number: optional sign, digits, optional fraction and exponent. */
static int as_number(const char *v, double *out) {
    if (!*v || isspace((unsigned char)*v)) return 0;
    char *end;
    double d = strtod(v, &end);
    if (*end || !isfinite(d)) return 0;
    for (const char *p = v; *p; p++) /* no hex, inf, nan spellings */
        if (!(isdigit((unsigned char)*p) || strchr("+-.eE", *p))) return 0;
    *out = d;
    return 1;
}

static cJSON *load_tags(pxs_store_txn *txn, int64_t id, struct pxs_err *err, int *rc) {
    uint8_t key[8];
    pxs_store_u64_key((uint64_t)id, key);
    const void *val;
    size_t len;
    *rc = pxs_store_get(txn, TABLE_TAGS, key, 8, &val, &len, err);
    if (*rc == PXS_ENOTFOUND) {
        *rc = PXS_OK;
        cJSON *o = cJSON_CreateObject();
        if (!o) *rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        return o;
    }
    if (*rc != PXS_OK) return NULL;
    cJSON *o = cJSON_ParseWithLength(val, len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        *rc = pxs_errf(err, PXS_ECORRUPT, "tags of image %lld are not a JSON object", (long long)id);
        return NULL;
    }
    return o;
}

static int store_tags(pxs_store_txn *txn, int64_t id, cJSON *o, struct pxs_err *err) {
    uint8_t key[8];
    pxs_store_u64_key((uint64_t)id, key);
    if (!o->child) {
        int rc = pxs_store_del(txn, TABLE_TAGS, key, 8, err);
        return rc == PXS_ENOTFOUND ? PXS_OK : rc;
    }
    char *text = cJSON_PrintUnformatted(o);
    if (!text) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    size_t len = strlen(text);
    int rc = len > TAGS_MAX_BYTES
                 ? pxs_errf(err, PXS_ELIMIT, "tags of image %lld would take %zu bytes, the limit "
                            "is %d", (long long)id, len, TAGS_MAX_BYTES)
                 : pxs_store_put(txn, TABLE_TAGS, key, 8, text, len, err);
    cJSON_free(text);
    return rc;
}

int engine_tags_merge(pxs_store_txn *txn, int64_t id, const char *const *kv, size_t n,
                      struct pxs_err *err) {
    if (n == 0) return PXS_OK;
    int rc = pxs_engine_check_tags(kv, n, err);
    if (rc != PXS_OK) return rc;
    cJSON *o = load_tags(txn, id, err, &rc);
    if (!o) return rc;
    for (size_t i = 0; i < n && rc == PXS_OK; i++) {
        const char *eq = strchr(kv[i], '=');
        char k[TAG_KEY_MAX + 1];
        memcpy(k, kv[i], (size_t)(eq - kv[i]));
        k[eq - kv[i]] = '\0';
        cJSON_DeleteItemFromObjectCaseSensitive(o, k);
        if (!eq[1]) continue; /* "key=" removes */
        double d;
        cJSON *v = as_number(eq + 1, &d) ? cJSON_CreateNumber(d) : cJSON_CreateString(eq + 1);
        if (!v || !cJSON_AddItemToObject(o, k, v)) {
            cJSON_Delete(v);
            rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        }
    }
    if (rc == PXS_OK) rc = store_tags(txn, id, o, err);
    cJSON_Delete(o);
    return rc;
}

int engine_tags_move(pxs_store_txn *txn, int64_t from, int64_t to, struct pxs_err *err) {
    uint8_t kf[8], kt[8];
    pxs_store_u64_key((uint64_t)from, kf);
    pxs_store_u64_key((uint64_t)to, kt);
    const void *val;
    size_t len;
    int rc = pxs_store_get(txn, TABLE_TAGS, kf, 8, &val, &len, err);
    if (rc == PXS_ENOTFOUND) return PXS_OK;
    if (rc != PXS_OK) return rc;
    char copy[TAGS_MAX_BYTES];
    if (len > sizeof copy) return pxs_errf(err, PXS_ECORRUPT, "tags of image %lld too long", (long long)from);
    memcpy(copy, val, len); /* val is invalid after the next write */
    rc = pxs_store_put(txn, TABLE_TAGS, kt, 8, copy, len, err);
    if (rc == PXS_OK) rc = pxs_store_del(txn, TABLE_TAGS, kf, 8, err);
    return rc;
}

int pxs_engine_set_tags(pxs_engine *engine, int64_t id, const char *const *kv, size_t n,
                        struct pxs_err *err) {
    if (engine->read_only) return pxs_errf(err, PXS_EPERM, "engine was opened read-only");
    int rc = pxs_engine_check_tags(kv, n, err);
    if (rc != PXS_OK) return rc;
    pxs_store_txn *txn;
    rc = pxs_store_begin(engine->store, 1, &txn, err);
    if (rc != PXS_OK) return rc;
    struct image_record rec;
    rc = record_load(txn, id, &rec, err);
    if (rc == PXS_ENOTFOUND) rc = pxs_errf(err, PXS_ENOTFOUND, "no image with id %lld", (long long)id);
    if (rc == PXS_OK) rc = engine_tags_merge(txn, id, kv, n, err);
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        return rc;
    }
    return pxs_store_commit(txn, err);
}

int pxs_engine_get_tags(pxs_engine *engine, int64_t id, char **json, struct pxs_err *err) {
    size_t len;
    int rc = engine_get_value(engine, TABLE_TAGS, id, (void **)json, &len, err);
    if (rc != PXS_ENOTFOUND) return rc;
    *json = pxs_strdup("{}");
    return *json ? PXS_OK : pxs_errf(err, PXS_ENOMEM, "out of memory");
}
