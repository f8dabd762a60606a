/*
 * coll_data.c — entities of the vector collections: insert and upsert
 * (JSON rows or the columnar bulk path), delete by keys or filter, get by
 * keys, query by filter with output fields, limit, offset and count(*).
 * Every write is one store transaction: a batch applies entirely or not at
 * all, and is in the index before the call returns.
 */
#include "engine/coll_int.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PK_KEY_MAX (16 + 1 + PXS_STORE_MAX_KEY)

int coll_parts_resolve(const struct coll_schema *s, const cJSON *req, uint32_t **ids, size_t *n,
                       struct pxs_err *err) {
    *ids = NULL;
    *n = 0;
    const char **names;
    size_t count;
    int rc = cj_name_list(req, "partitionNames", &names, &count, err);
    if (rc != PXS_OK || !count) return rc;
    *ids = pxs_calloc(count, sizeof **ids);
    if (!*ids) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PXS_OK && i < count; i++) {
        const struct coll_partition *p = schema_partition(s, names[i]);
        if (!p) rc = pxs_errf(err, PXS_ENOTFOUND, "partition %s does not exist in %s", names[i], s->name);
        else (*ids)[i] = p->id;
    }
    pxs_free(names);
    if (rc != PXS_OK) {
        pxs_free(*ids);
        *ids = NULL;
        return rc;
    }
    *n = count;
    return PXS_OK;
}

bool coll_part_allowed(const uint32_t *ids, size_t n, uint32_t part) {
    if (!n) return true;
    for (size_t i = 0; i < n; i++)
        if (ids[i] == part) return true;
    return false;
}

int coll_get_row(pxs_store_txn *txn, const struct coll_schema *s, uint64_t rowid, struct row_view *rv,
                 struct pxs_err *err) {
    uint8_t key[16];
    coll_key(s->id, rowid, key);
    const void *val;
    size_t len;
    int rc = pxs_store_get(txn, TABLE_C_ROWS, key, 16, &val, &len, err);
    if (rc != PXS_OK) return rc;
    return row_decode(s, val, len, rv, err);
}

/* rowid of a primary key: PXS_OK, PXS_ENOTFOUND (err untouched), or error. */
static int pk_lookup(pxs_store_txn *txn, const struct coll_schema *s, const struct cell *pk, uint64_t *rowid,
                     struct pxs_err *err) {
    uint8_t key[PK_KEY_MAX];
    size_t kl = pk_key(s, pk, key);
    const void *val;
    size_t len;
    int rc = pxs_store_get(txn, TABLE_C_PKS, key, kl, &val, &len, err);
    if (rc != PXS_OK) return rc;
    if (len != 8) return PXS_CORRUPT_BKPT(err, "primary key record size");
    *rowid = pxs_store_u64_from_key(val);
    return PXS_OK;
}

static int pk_write(struct pxs_buf *b, const struct coll_schema *s, const struct cell *pk, unsigned flags) {
    return cell_write(&s->fields[s->pk], pk, flags, b);
}

/* ---- insert / upsert ---- */

struct batch {
    struct row_in *rows;
    size_t n;
    struct pxs_buf recs;
};

static void batch_free(struct batch *b) {
    for (size_t i = 0; b->rows && i < b->n; i++) pxs_free(b->rows[i].pk_text);
    pxs_free(b->rows);
    pxs_buf_free(&b->recs);
}

struct keyref {
    uint8_t key[PK_KEY_MAX];
    size_t len;
    size_t row;
};

static int keyref_cmp(const void *x, const void *y) {
    const struct keyref *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->key, b->key, n);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len ? 1 : (a->row < b->row ? -1 : 1);
}

static int check_batch_duplicates(const struct coll_schema *s, const struct batch *b, bool keys_given,
                                  struct pxs_err *err) {
    if (!keys_given) return PXS_OK;
    struct keyref *k = pxs_calloc(b->n, sizeof *k);
    if (!k) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    for (size_t i = 0; i < b->n; i++) {
        k[i].len = pk_key(s, &b->rows[i].pk, k[i].key);
        k[i].row = i;
    }
    qsort(k, b->n, sizeof *k, keyref_cmp);
    int rc = PXS_OK;
    for (size_t i = 1; i < b->n; i++) {
        if (k[i].len == k[i - 1].len && !memcmp(k[i].key, k[i - 1].key, k[i].len)) {
            rc = pxs_errf(err, PXS_EINVAL, "row %zu: duplicate primary key (same as row %zu)", k[i].row,
                          k[i - 1].row);
            break;
        }
    }
    pxs_free(k);
    return rc;
}

struct insert_src {
    const cJSON *rows;               /* JSON rows, or */
    size_t n;                        /* columns: */
    const int64_t *ids;
    const void *vectors;
    const char *const *scalar_json;
};

static int encode_batch(const struct coll_schema *s, const struct insert_src *src, uint32_t part, bool upsert,
                        struct batch *b, struct pxs_err *err) {
    size_t n = src->rows ? (size_t)cJSON_GetArraySize(src->rows) : src->n;
    if (!n) return pxs_errf(err, PXS_EINVAL, "no rows to insert");
    b->rows = pxs_calloc(n, sizeof *b->rows);
    if (!b->rows) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    const cJSON *row = src->rows ? src->rows->child : NULL;
    size_t vbytes = schema_vector_bytes(s);
    int rc = PXS_OK;
    for (size_t i = 0; i < n && rc == PXS_OK; i++) {
        cJSON *parsed = NULL;
        const cJSON *r = row;
        if (!src->rows && src->scalar_json && src->scalar_json[i]) {
            parsed = cJSON_Parse(src->scalar_json[i]);
            if (!parsed) rc = pxs_errf(err, PXS_EINVAL, "row %zu: scalar fields are not valid JSON", i);
            r = parsed;
        }
        if (rc == PXS_OK)
            rc = row_encode(s, r, i, part, src->rows ? NULL : (const char *)src->vectors + i * vbytes,
                            src->ids ? &src->ids[i] : NULL, upsert, &b->rows[i], &b->recs, err);
        cJSON_Delete(parsed);
        if (rc == PXS_OK) b->n = i + 1;
        if (row) row = row->next;
    }
    if (rc != PXS_OK) return rc;
    if (src->ids && s->fields[s->pk].type != DT_INT64)
        return pxs_errf(err, PXS_EINVAL, "ids given for a VarChar primary key; put the keys in the rows");
    if (src->ids && s->auto_id && !upsert)
        return pxs_errf(err, PXS_EINVAL, "collection %s generates its keys (autoId): give no ids", s->name);
    return check_batch_duplicates(s, b, !s->auto_id || upsert, err);
}

static int commit_batch(struct coll_db *db, const struct coll_schema *s, struct batch *b, bool upsert,
                        struct pxs_err *err) {
    pxs_store_txn *txn;
    int rc = pxs_store_begin(db->store, 1, &txn, err);
    if (rc != PXS_OK) return rc;
    struct coll_state st;
    rc = coll_state_get(txn, s->id, &st, err);
    for (size_t i = 0; rc == PXS_OK && i < b->n; i++) {
        struct row_in *r = &b->rows[i];
        uint8_t *rec = (uint8_t *)b->recs.data + r->rec_off;
        uint64_t old;
        if (r->pk_given && (upsert || !s->auto_id)) {
            int lr = pk_lookup(txn, s, &r->pk, &old, err);
            if (lr == PXS_OK && !upsert) {
                struct pxs_buf kb;
                pxs_buf_init(&kb, 1024);
                if (pk_write(&kb, s, &r->pk, 0) != PXS_OK) pxs_buf_reset(&kb);
                rc = pxs_errf(err, PXS_EEXIST, "row %zu: primary key %s already exists in %s (use upsert)", i,
                              kb.data ? kb.data : "", s->name);
                pxs_buf_free(&kb);
            } else if (lr == PXS_OK) {
                rc = coll_delete_row(txn, s, old, &r->pk, &st, err);
            } else if (lr != PXS_ENOTFOUND) {
                rc = lr;
            }
        }
        if (rc != PXS_OK) break;
        if (s->auto_id) { /* a new key, also on upsert (as Milvus) */
            r->pk.tag = CELL_INT;
            r->pk.i = (int64_t)st.next_auto_id++;
            pxs_put_le(rec + r->pk_off, (uint64_t)r->pk.i, 8);
        }
        uint64_t rowid = st.next_rowid++;
        uint8_t key[PK_KEY_MAX], v[8];
        coll_key(s->id, rowid, key);
        rc = pxs_store_put(txn, TABLE_C_ROWS, key, 16, rec, r->rec_len, err);
        size_t kl = pk_key(s, &r->pk, key);
        pxs_store_u64_key(rowid, v);
        if (rc == PXS_OK) rc = pxs_store_put(txn, TABLE_C_PKS, key, kl, v, 8, err);
        st.live_rows++;
    }
    if (rc == PXS_OK) rc = coll_state_put(txn, s->id, &st, err);
    if (rc == PXS_OK) return pxs_store_commit(txn, err);
    pxs_store_abort(txn);
    return rc;
}

static int write_ids(struct pxs_buf *out, const struct coll_schema *s, const struct batch *b, bool upsert,
                     unsigned flags) {
    int rc = pxs_buf_appendf(out, "{\"%sCount\":%zu,\"%sIds\":[", upsert ? "upsert" : "insert", b->n,
                             upsert ? "upsert" : "insert");
    for (size_t i = 0; rc == PXS_OK && i < b->n; i++) {
        if (i) rc = pxs_buf_append(out, ",", 1);
        if (rc == PXS_OK) rc = pk_write(out, s, &b->rows[i].pk, flags);
    }
    return rc == PXS_OK ? pxs_buf_append(out, "]}", 2) : rc;
}

/* Shared by the JSON and columnar paths; a holds the collection's writer slot. */
static int insert_rows(struct api *a, const struct insert_src *src, const char *part_name, bool upsert,
                       unsigned flags, struct pxs_err *err) {
    const struct coll_schema *s = a->c->schema; /* stable while we hold write_mu */
    const struct coll_partition *p = schema_partition(s, part_name ? part_name : COLL_DEFAULT_PARTITION);
    if (!p) return pxs_errf(err, PXS_ENOTFOUND, "partition %s does not exist in %s", part_name, s->name);
    struct batch b = {0};
    pxs_buf_init(&b.recs, COLL_BUF_MAX);
    int rc = encode_batch(s, src, p->id, upsert, &b, err);
    if (rc == PXS_OK) rc = commit_batch(a->db, s, &b, upsert, err);
    if (rc == PXS_OK) rc = coll_sync(a->db, a->c, true, err);
    if (rc == PXS_OK && write_ids(&a->out, s, &b, upsert, flags) != PXS_OK)
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    batch_free(&b);
    return rc;
}

/* Release the writer slot, then compact / checkpoint if due. */
static int after_write(struct api *a, int rc, struct pxs_err *err) {
    if (a->write_mu) pthread_mutex_unlock(&a->c->write_mu);
    a->write_mu = false;
    if (rc != PXS_OK || !a->c) return rc;
    struct pxs_err merr = {0};
    if (coll_index_maintain(a->db, a->c, &merr) != PXS_OK)
        PXS_LOG_WARN("collection %s: index maintenance: %s", a->name, merr.msg);
    (void)err;
    return rc;
}

static int insert_json(pxs_engine *engine, const char *json, unsigned flags, char **out_json, bool upsert,
                       struct pxs_err *err) {
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin_write(engine, json, &a, err);
    const char *part = NULL;
    if (rc == PXS_OK) rc = cj_string(a.req, "partitionName", &part, err);
    const cJSON *data = rc == PXS_OK ? cj_get(a.req, "data") : NULL;
    if (rc == PXS_OK && data && cJSON_IsObject(data)) { /* one row may be given as an object */
        cJSON *arr = cJSON_CreateArray();
        cJSON *detached = cJSON_DetachItemViaPointer(a.req, (cJSON *)data);
        if (!arr || !detached || !cJSON_AddItemToArray(arr, detached) || !cJSON_AddItemToObject(a.req, "data", arr))
            rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        data = arr;
    }
    if (rc == PXS_OK && !cJSON_IsArray(data)) rc = pxs_errf(err, PXS_EINVAL, "data must be an array of row objects");
    struct insert_src src = {data, 0, NULL, NULL, NULL};
    if (rc == PXS_OK) rc = insert_rows(&a, &src, part, upsert, flags, err);
    rc = after_write(&a, rc, err);
    return api_end(&a, rc, out_json, err);
}

int pxs_coll_insert(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    return insert_json(engine, json, flags, out_json, false, err);
}

int pxs_coll_upsert(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    return insert_json(engine, json, flags, out_json, true, err);
}

int pxs_coll_insert_columns(pxs_engine *engine, const char *name, const char *partition, size_t n,
                            const int64_t *ids, const void *vectors, const char *const *scalar_rows_json,
                            int upsert, unsigned flags, char **out_json, struct pxs_err *err) {
    API_OUT_INIT(out_json);
    if (!name || !vectors || !n) return pxs_errf(err, PXS_EINVAL, "insert_columns needs a name, rows and vectors");
    struct pxs_buf req;
    pxs_buf_init(&req, 4096);
    int rc = pxs_buf_appendf(&req, "{\"collectionName\":");
    if (rc == PXS_OK) rc = jw_cstr(&req, name);
    if (rc == PXS_OK) rc = pxs_buf_append(&req, "}", 1);
    if (rc != PXS_OK) {
        pxs_buf_free(&req);
        return pxs_errf(err, PXS_EINVAL, "collection name too long");
    }
    struct api a;
    rc = api_begin_write(engine, req.data, &a, err);
    pxs_buf_free(&req);
    struct insert_src src = {NULL, n, ids, vectors, scalar_rows_json};
    if (rc == PXS_OK) rc = insert_rows(&a, &src, partition, upsert != 0, flags, err);
    rc = after_write(&a, rc, err);
    return api_end(&a, rc, out_json, err);
}

/* ---- delete ---- */

/* The ids (or id) member: primary keys as cells (strings point into req). */
static int parse_ids(const struct coll_schema *s, const cJSON *req, const char *key, struct cell **out, size_t *n,
                     struct pxs_err *err) {
    *out = NULL;
    *n = 0;
    const cJSON *v = cj_get(req, key);
    if (!v) return PXS_OK;
    size_t count = cJSON_IsArray(v) ? (size_t)cJSON_GetArraySize(v) : 1;
    struct cell *cells = pxs_calloc(count ? count : 1, sizeof *cells);
    if (!cells) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    const cJSON *it = cJSON_IsArray(v) ? v->child : v;
    int rc = PXS_OK;
    for (size_t i = 0; i < count && rc == PXS_OK; i++, it = it->next) {
        rc = cell_parse(&s->fields[s->pk], it, i, &cells[i], err);
        if (rc != PXS_OK) {
            err->code = 0;
            err->msg[0] = 0;
            rc = pxs_errf(err, PXS_EINVAL, "%s[%zu] is not a valid primary key of %s", key, i, s->name);
        }
    }
    if (rc != PXS_OK) {
        pxs_free(cells);
        return rc;
    }
    *out = cells;
    *n = count;
    return PXS_OK;
}

int pxs_coll_delete(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin_write(engine, json, &a, err);
    const struct coll_schema *s = rc == PXS_OK ? a.c->schema : NULL;
    const char *filter = NULL, *part_name = NULL;
    struct cell *ids = NULL;
    size_t nids = 0;
    if (rc == PXS_OK) rc = cj_string(a.req, "filter", &filter, err);
    if (rc == PXS_OK) rc = cj_string(a.req, "partitionName", &part_name, err);
    if (rc == PXS_OK) rc = parse_ids(s, a.req, "ids", &ids, &nids, err);
    if (rc == PXS_OK && !ids) rc = parse_ids(s, a.req, "id", &ids, &nids, err);
    if (rc == PXS_OK && !ids && (!filter || !*filter))
        rc = pxs_errf(err, PXS_EINVAL, "delete needs a filter or ids");
    const struct coll_partition *p = NULL;
    if (rc == PXS_OK && part_name && !(p = schema_partition(s, part_name)))
        rc = pxs_errf(err, PXS_ENOTFOUND, "partition %s does not exist in %s", part_name, s->name);
    struct row_filter f = {0};
    if (rc == PXS_OK) rc = row_filter_compile(s, ids ? NULL : filter, &f, err);
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(a.db->store, 1, &txn, err);
    struct coll_state st;
    uint64_t count = 0;
    if (rc == PXS_OK) rc = coll_state_get(txn, s->id, &st, err);
    struct row_view rv = {0};
    if (rc == PXS_OK && ids && !(rv.cells = pxs_calloc(s->nfields, sizeof *rv.cells)))
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PXS_OK && i < nids; i++) {
        uint64_t rowid;
        int lr = pk_lookup(txn, s, &ids[i], &rowid, err);
        if (lr == PXS_ENOTFOUND) continue;
        rc = lr;
        if (rc == PXS_OK) rc = coll_get_row(txn, s, rowid, &rv, err);
        if (rc == PXS_OK && p && rv.part != p->id) continue;
        if (rc == PXS_OK) rc = coll_delete_row(txn, s, rowid, &ids[i], &st, err);
        if (rc == PXS_OK) count++;
    }
    if (rc == PXS_OK && !ids) rc = coll_delete_matching(txn, s, p ? p->id : 0, !p, &f, &st, &count, err);
    if (rc == PXS_OK) rc = coll_state_put(txn, s->id, &st, err);
    if (txn) {
        if (rc == PXS_OK) rc = pxs_store_commit(txn, err);
        else pxs_store_abort(txn);
    }
    if (rc == PXS_OK) rc = coll_sync(a.db, a.c, true, err);
    if (rc == PXS_OK) rc = pxs_buf_appendf(&a.out, "{\"deleteCount\":%llu}", (unsigned long long)count);
    pxs_free(rv.cells);
    pxs_free(ids);
    row_filter_free(&f);
    rc = after_write(&a, rc, err);
    return api_end(&a, rc, out_json, err);
}

/* ---- get / query ---- */

/* Collection read: catalog read lock, index synced, collection read lock. */
static int read_begin(pxs_engine *engine, const char *json, struct api *a, struct pxs_err *err) {
    int rc = api_begin(engine, json, true, 1, a, err);
    if (rc == PXS_OK) rc = coll_sync(a->db, a->c, false, err);
    if (rc == PXS_OK) pthread_rwlock_rdlock(&a->c->lock);
    return rc;
}

int coll_read_begin(pxs_engine *engine, const char *json, struct api *a, struct pxs_err *err) {
    return read_begin(engine, json, a, err);
}

int coll_read_end(struct api *a, int rc, bool locked, char **out_json, struct pxs_err *err) {
    if (locked) pthread_rwlock_unlock(&a->c->lock);
    return api_end(a, rc, out_json, err);
}

static int write_row_object(struct pxs_buf *out, const struct coll_schema *s, const struct row_view *rv,
                            const struct out_fields *of, unsigned flags, bool comma) {
    bool first = true;
    int rc = pxs_buf_append(out, comma ? ",{" : "{", comma ? 2 : 1);
    if (rc == PXS_OK) rc = row_write_fields(s, rv, of, flags, &first, out);
    return rc == PXS_OK ? pxs_buf_append(out, "}", 1) : rc;
}

int pxs_coll_get(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    API_OUT_INIT(out_json);
    struct api a;
    int rc = read_begin(engine, json, &a, err);
    bool locked = rc == PXS_OK;
    const struct coll_schema *s = locked ? a.c->schema : NULL;
    struct cell *ids = NULL;
    size_t nids = 0;
    if (rc == PXS_OK) rc = parse_ids(s, a.req, "id", &ids, &nids, err);
    if (rc == PXS_OK && !ids) rc = parse_ids(s, a.req, "ids", &ids, &nids, err);
    if (rc == PXS_OK && !ids) rc = pxs_errf(err, PXS_EINVAL, "get needs id: a primary key or an array of them");
    struct out_fields of = {0};
    if (rc == PXS_OK) rc = out_fields_parse(s, cj_get(a.req, "outputFields"), &of, err);
    uint32_t *parts = NULL;
    size_t nparts = 0;
    if (rc == PXS_OK) rc = coll_parts_resolve(s, a.req, &parts, &nparts, err);
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(a.db->store, 0, &txn, err);
    struct row_view rv = {0};
    if (rc == PXS_OK && !(rv.cells = pxs_calloc(s->nfields, sizeof *rv.cells)))
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    if (rc == PXS_OK) rc = pxs_buf_append(&a.out, "[", 1);
    bool comma = false;
    for (size_t i = 0; rc == PXS_OK && i < nids; i++) {
        uint64_t rowid;
        int lr = pk_lookup(txn, s, &ids[i], &rowid, err);
        if (lr == PXS_ENOTFOUND) continue;
        rc = lr;
        if (rc == PXS_OK) rc = coll_get_row(txn, s, rowid, &rv, err);
        if (rc == PXS_OK && !coll_part_allowed(parts, nparts, rv.part)) continue;
        if (rc == PXS_OK) rc = write_row_object(&a.out, s, &rv, &of, flags, comma);
        comma = true;
    }
    if (rc == PXS_OK) rc = pxs_buf_append(&a.out, "]", 1);
    pxs_store_abort(txn);
    pxs_free(rv.cells);
    pxs_free(ids);
    pxs_free(parts);
    out_fields_free(&of);
    return coll_read_end(&a, rc, locked, out_json, err);
}

struct query_ctx {
    const struct coll_schema *s;
    const struct row_filter *f;
    const uint32_t *parts;
    size_t nparts;
    const struct out_fields *of;
    unsigned flags;
    uint64_t skip, limit, matched, written;
    struct pxs_buf *out;
    struct pxs_err *err;
};

static int query_row(uint64_t rowid, const struct row_view *rv, void *user) {
    (void)rowid;
    struct query_ctx *q = user;
    if (!coll_part_allowed(q->parts, q->nparts, rv->part)) return 0;
    bool match;
    int rc = row_filter_match(q->f, rv, &match, q->err);
    if (rc != PXS_OK) return rc;
    if (!match) return 0;
    q->matched++;
    if (q->of->count) return 0;
    if (q->matched <= q->skip) return 0;
    rc = write_row_object(q->out, q->s, rv, q->of, q->flags, q->written > 0);
    if (rc != PXS_OK) return pxs_errf(q->err, rc, "query result too large");
    return ++q->written >= q->limit ? 1 : 0;
}

int pxs_coll_query(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    API_OUT_INIT(out_json);
    struct api a;
    int rc = read_begin(engine, json, &a, err);
    bool locked = rc == PXS_OK;
    const struct coll_schema *s = locked ? a.c->schema : NULL;
    const char *filter = NULL;
    int64_t limit = 100, offset = 0;
    if (rc == PXS_OK) rc = cj_string(a.req, "filter", &filter, err);
    if (rc == PXS_OK) rc = cj_int(a.req, "limit", 1, PXS_COLL_MAX_TOPK, &limit, err);
    if (rc == PXS_OK) rc = cj_int(a.req, "offset", 0, PXS_COLL_MAX_TOPK, &offset, err);
    if (rc == PXS_OK && limit + offset > PXS_COLL_MAX_TOPK)
        rc = pxs_errf(err, PXS_ELIMIT, "offset + limit is %lld, over the limit of %d", (long long)(limit + offset),
                      PXS_COLL_MAX_TOPK);
    struct out_fields of = {0};
    if (rc == PXS_OK) rc = out_fields_parse(s, cj_get(a.req, "outputFields"), &of, err);
    uint32_t *parts = NULL;
    size_t nparts = 0;
    if (rc == PXS_OK) rc = coll_parts_resolve(s, a.req, &parts, &nparts, err);
    struct row_filter f = {0};
    if (rc == PXS_OK) rc = row_filter_compile(s, filter, &f, err);
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(a.db->store, 0, &txn, err);
    struct query_ctx q = {s, &f, parts, nparts, &of, flags, (uint64_t)offset, (uint64_t)limit, 0, 0, &a.out, err};
    if (rc == PXS_OK) rc = pxs_buf_append(&a.out, "[", 1);
    if (rc == PXS_OK && !f.constant_false) rc = coll_scan_rows(txn, s, query_row, &q, err);
    if (rc == PXS_OK && of.count) rc = pxs_buf_appendf(&a.out, "{\"count(*)\":%llu}", (unsigned long long)q.matched);
    if (rc == PXS_OK) rc = pxs_buf_append(&a.out, "]", 1);
    pxs_store_abort(txn);
    pxs_free(parts);
    row_filter_free(&f);
    out_fields_free(&of);
    return coll_read_end(&a, rc, locked, out_json, err);
}
