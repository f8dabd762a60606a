/*
 * coll_store.c — the collection database: the LMDB environment
 * <data>/vectordb/, the catalog operations (collections and partitions),
 * keeping each collection's in-memory index in step with the store, and the
 * table of REST v2 operations.
 *
 * Tables and record formats (integers in keys big-endian so they sort;
 * "id" is the collection id, 8 bytes; values little-endian):
 *   c_meta    "next_coll_id" -> u64 (8 bytes big-endian)
 *   c_names   collection name bytes -> id
 *   c_schemas id -> schema record (JSON text, see coll_schema.c)
 *   c_state   id -> 5 x u64 LE: next_rowid, next_auto_id, del_seq,
 *             live_rows, pruned_del (struct coll_state)
 *   c_rows    id + rowid (u64) -> row record (see coll_int.h)
 *   c_pks     id + primary key (Int64: u64 of the key with the sign bit
 *             flipped; VarChar: 0x00 + bytes, or 0x01 + XXH3-128 of the
 *             bytes when longer than 400) -> rowid (u64 big-endian)
 *   c_dellog  id + seq (u64) -> rowid (u64 big-endian): every deleted or
 *             replaced row, in order, so an index (in memory or in a file)
 *             that reflects seq <= S can catch up; entries <= pruned_del
 *             are removed once an index file covers them.
 * Every write to a collection is one store transaction updating rows, pks,
 * dellog and state together, so a crash leaves all of it or none.
 */
#include "engine/coll_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void coll_key(uint64_t coll_id, uint64_t v, uint8_t key[16]) {
    pxs_store_u64_key(coll_id, key);
    pxs_store_u64_key(v, key + 8);
}

int coll_not_found(struct pxs_err *err, const char *name) {
    return pxs_errf(err, PXS_ENOTFOUND, "collection %s does not exist", name);
}

struct coll *coll_find(struct coll_db *db, const char *name) {
    for (struct coll *c = db->list; c; c = c->next)
        if (!strcmp(c->schema->name, name)) return c;
    return NULL;
}

int coll_state_get(pxs_store_txn *txn, uint64_t id, struct coll_state *st, struct pxs_err *err) {
    uint8_t key[8];
    pxs_store_u64_key(id, key);
    const void *val;
    size_t len;
    int rc = pxs_store_get(txn, TABLE_C_STATE, key, 8, &val, &len, err);
    if (rc == PXS_ENOTFOUND) return pxs_errf(err, PXS_ECORRUPT, "collection %llu has no state record",
                                             (unsigned long long)id);
    if (rc != PXS_OK) return rc;
    if (len != 40) return PXS_CORRUPT_BKPT(err, "collection state record size");
    const uint8_t *p = val;
    st->next_rowid = pxs_get_le(p, 8);
    st->next_auto_id = pxs_get_le(p + 8, 8);
    st->del_seq = pxs_get_le(p + 16, 8);
    st->live_rows = pxs_get_le(p + 24, 8);
    st->pruned_del = pxs_get_le(p + 32, 8);
    return PXS_OK;
}

int coll_state_put(pxs_store_txn *txn, uint64_t id, const struct coll_state *st, struct pxs_err *err) {
    uint8_t key[8], v[40];
    pxs_store_u64_key(id, key);
    pxs_put_le(v, st->next_rowid, 8);
    pxs_put_le(v + 8, st->next_auto_id, 8);
    pxs_put_le(v + 16, st->del_seq, 8);
    pxs_put_le(v + 24, st->live_rows, 8);
    pxs_put_le(v + 32, st->pruned_del, 8);
    return pxs_store_put(txn, TABLE_C_STATE, key, 8, v, 40, err);
}

int coll_schema_put(pxs_store_txn *txn, const struct coll_schema *s, struct pxs_err *err) {
    struct pxs_buf b;
    pxs_buf_init(&b, COLL_MAX_REQUEST);
    int rc = schema_to_record(s, &b);
    uint8_t key[8];
    pxs_store_u64_key(s->id, key);
    if (rc == PXS_OK) rc = pxs_store_put(txn, TABLE_C_SCHEMAS, key, 8, b.data, b.len, err);
    else rc = pxs_errf(err, rc, "cannot encode the schema of %s", s->name);
    pxs_buf_free(&b);
    return rc;
}

int coll_delete_row(pxs_store_txn *txn, const struct coll_schema *s, uint64_t rowid, const struct cell *pk,
                    struct coll_state *st, struct pxs_err *err) {
    uint8_t key[16 + 1 + PXS_STORE_MAX_KEY], v[8];
    coll_key(s->id, rowid, key);
    int rc = pxs_store_del(txn, TABLE_C_ROWS, key, 16, err);
    if (rc == PXS_OK) {
        size_t kl = pk_key(s, pk, key);
        rc = pxs_store_del(txn, TABLE_C_PKS, key, kl, err);
        if (rc == PXS_ENOTFOUND) rc = PXS_CORRUPT_BKPT(err, "row without primary key entry");
    }
    if (rc == PXS_OK) {
        coll_key(s->id, ++st->del_seq, key);
        pxs_store_u64_key(rowid, v);
        rc = pxs_store_put(txn, TABLE_C_DELLOG, key, 16, v, 8, err);
    }
    if (rc == PXS_OK) st->live_rows--;
    return rc;
}

/* ---- scans ---- */

struct row_scan {
    const struct coll_schema *s;
    coll_row_fn fn;
    void *user;
    struct row_view rv;
    struct pxs_err *err;
};

static int row_scan_visit(const void *key, size_t key_len, const void *val, size_t val_len, void *user) {
    struct row_scan *rs = user;
    if (key_len != 16 || pxs_store_u64_from_key(key) != rs->s->id) return 1; /* past the prefix */
    int rc = row_decode(rs->s, val, val_len, &rs->rv, rs->err);
    if (rc != PXS_OK) return rc;
    return rs->fn(pxs_store_u64_from_key((const uint8_t *)key + 8), &rs->rv, rs->user);
}

static int scan_rows_from(pxs_store_txn *txn, const struct coll_schema *s, uint64_t from, coll_row_fn fn,
                          void *user, struct pxs_err *err) {
    struct row_scan rs = {s, fn, user, {0}, err};
    rs.rv.cells = pxs_calloc(s->nfields, sizeof *rs.rv.cells);
    if (!rs.rv.cells) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    uint8_t start[16];
    coll_key(s->id, from, start);
    int rc = pxs_store_scan(txn, TABLE_C_ROWS, start, 16, row_scan_visit, &rs, err);
    pxs_free(rs.rv.cells);
    return rc < 0 ? rc : PXS_OK;
}

int coll_scan_rows(pxs_store_txn *txn, const struct coll_schema *s, coll_row_fn fn, void *user,
                   struct pxs_err *err) {
    return scan_rows_from(txn, s, 0, fn, user, err);
}

/* ---- catching up ---- */

struct catch_ctx {
    const struct coll_schema *s;
    pxs_index *ix;
    uint64_t *tombstones;
    struct pxs_err *err;
    float *scratch;
};

static int catch_del(const void *key, size_t key_len, const void *val, size_t val_len, void *user) {
    struct catch_ctx *cc = user;
    if (key_len != 16 || pxs_store_u64_from_key(key) != cc->s->id) return 1;
    if (val_len != 8) return PXS_CORRUPT_BKPT(cc->err, "deletion log record size");
    if (!cc->ix) return 0;
    int rc = pxs_index_remove(cc->ix, (int64_t)pxs_store_u64_from_key(val), NULL);
    if (rc == PXS_OK && pxs_index_get_type(cc->ix) == PXS_INDEX_HNSW) (*cc->tombstones)++;
    return 0;
}

static int catch_row(uint64_t rowid, const struct row_view *rv, void *user) {
    struct catch_ctx *cc = user;
    if (!cc->ix) return 0;
    const struct cell *v = &rv->cells[cc->s->vec];
    if (pxs_index_is_binary(cc->ix))
        return pxs_index_add_binary(cc->ix, (int64_t)rowid, (const uint8_t *)v->s, cc->err);
    memcpy(cc->scratch, v->s, v->len);
    return pxs_index_add(cc->ix, (int64_t)rowid, cc->scratch, cc->err);
}

int coll_catch_up(pxs_store_txn *txn, const struct coll_schema *s, pxs_index *ix, uint64_t *covered_rowid,
                  uint64_t *covered_del, uint64_t *tombstones, struct pxs_err *err) {
    struct coll_state st;
    int rc = coll_state_get(txn, s->id, &st, err);
    if (rc != PXS_OK) return rc;
    if (*covered_del < st.pruned_del) return 1;
    struct catch_ctx cc = {s, ix, tombstones, err, NULL};
    if (st.del_seq > *covered_del) {
        uint8_t start[16];
        coll_key(s->id, *covered_del + 1, start);
        rc = pxs_store_scan(txn, TABLE_C_DELLOG, start, 16, catch_del, &cc, err);
        if (rc < 0) return rc;
        *covered_del = st.del_seq;
    }
    if (st.next_rowid > *covered_rowid) {
        cc.scratch = pxs_malloc(schema_vector_bytes(s) + 4);
        if (!cc.scratch) return pxs_errf(err, PXS_ENOMEM, "out of memory");
        rc = scan_rows_from(txn, s, *covered_rowid, catch_row, &cc, err);
        pxs_free(cc.scratch);
        if (rc != PXS_OK) return rc;
        *covered_rowid = st.next_rowid;
    }
    return PXS_OK;
}

int coll_sync(struct coll_db *db, struct coll *c, bool have_write_mu, struct pxs_err *err) {
    pxs_store_txn *txn;
    int rc = pxs_store_begin(db->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    struct coll_state st;
    rc = coll_state_get(txn, c->schema->id, &st, err);
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        return rc;
    }
    pthread_rwlock_rdlock(&c->lock);
    bool fresh = c->covered_rowid == st.next_rowid && c->covered_del == st.del_seq;
    pthread_rwlock_unlock(&c->lock);
    if (fresh) {
        pxs_store_abort(txn);
        return PXS_OK;
    }
    pthread_rwlock_wrlock(&c->lock);
    rc = coll_catch_up(txn, c->schema, c->index, &c->covered_rowid, &c->covered_del, &c->tombstones, err);
    pthread_rwlock_unlock(&c->lock);
    pxs_store_abort(txn);
    if (rc == 1) return coll_index_rebuild(db, c, have_write_mu, err);
    return rc;
}

/* ---- open / close ---- */

/* Writers first: with glibc's default (readers first) a steady stream of
 * searches would starve the writer applying an insert. No thread ever takes
 * one of these read locks twice, so writer preference cannot deadlock. */
static void rwlock_init_writer_first(pthread_rwlock_t *lock) {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#ifdef PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(lock, &attr);
    pthread_rwlockattr_destroy(&attr);
}

static void coll_free(struct coll *c) {
    if (!c) return;
    schema_free(c->schema);
    pxs_index_free(c->index);
    pthread_rwlock_destroy(&c->lock);
    pthread_mutex_destroy(&c->write_mu);
    pxs_free(c);
}

static struct coll *coll_alloc(struct coll_schema *s) {
    struct coll *c = pxs_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->schema = s;
    rwlock_init_writer_first(&c->lock);
    pthread_mutex_init(&c->write_mu, NULL);
    return c;
}

struct load_ctx {
    struct coll_db *db;
    struct pxs_err *err;
};

static int load_schema(const void *key, size_t key_len, const void *val, size_t val_len, void *user) {
    struct load_ctx *lc = user;
    (void)key_len;
    (void)key;
    char *text = pxs_strndup(val, val_len);
    if (!text) return pxs_errf(lc->err, PXS_ENOMEM, "out of memory");
    cJSON *j = NULL;
    struct coll_schema *s = NULL;
    int rc = cj_parse(text, &j, lc->err);
    pxs_free(text);
    if (rc == PXS_OK) rc = schema_from_request(j, true, &s, lc->err);
    cJSON_Delete(j);
    if (rc != PXS_OK) return rc == PXS_ENOMEM ? rc : pxs_errf(lc->err, PXS_ECORRUPT, "stored schema is damaged");
    struct coll *c = coll_alloc(s);
    if (!c) {
        schema_free(s);
        return pxs_errf(lc->err, PXS_ENOMEM, "out of memory");
    }
    c->next = lc->db->list;
    lc->db->list = c;
    return 0;
}

int coll_db_open(const char *data_dir, bool read_only, struct coll_db **out, struct pxs_err *err) {
    *out = NULL;
    struct coll_db *db = pxs_calloc(1, sizeof *db);
    if (!db) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    snprintf(db->data_dir, sizeof db->data_dir, "%s", data_dir);
    db->read_only = read_only;
    rwlock_init_writer_first(&db->lock);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/vectordb", data_dir);
    struct stat st;
    if (read_only && stat(dir, &st) != 0) { /* no collections yet: stay empty */
        *out = db;
        return PXS_OK;
    }
    struct pxs_store_opts so = {.read_only = read_only};
    int rc = read_only ? PXS_OK : pxs_mkdirs(dir, err);
    if (rc == PXS_OK) rc = pxs_store_open(dir, &so, &db->store, err);
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(db->store, 0, &txn, err);
    struct load_ctx lc = {db, err};
    if (rc == PXS_OK) rc = pxs_store_scan(txn, TABLE_C_SCHEMAS, NULL, 0, load_schema, &lc, err);
    pxs_store_abort(txn);
    for (struct coll *c = db->list; rc == PXS_OK && c; c = c->next) rc = coll_index_open(db, c, err);
    if (rc != PXS_OK) {
        coll_db_close(db);
        return rc;
    }
    *out = db;
    return PXS_OK;
}

void coll_db_close(struct coll_db *db) {
    if (!db) return;
    while (db->list) {
        struct coll *c = db->list;
        db->list = c->next;
        if (!db->read_only && c->index) {
            struct pxs_err e = {0};
            pthread_mutex_lock(&c->write_mu);
            if (coll_index_save(db, c, false, &e) != PXS_OK)
                PXS_LOG_WARN("collection %s: index file not written: %s", c->schema->name, e.msg);
            pthread_mutex_unlock(&c->write_mu);
        }
        coll_free(c);
    }
    pxs_store_close(db->store);
    pthread_rwlock_destroy(&db->lock);
    pxs_free(db);
}

/* ---- request plumbing ---- */


int api_begin(pxs_engine *engine, const char *json, bool need_name, int lock, struct api *a,
                     struct pxs_err *err) {
    memset(a, 0, sizeof *a);
    pxs_buf_init(&a->out, COLL_MAX_REQUEST);
    a->db = engine_coll_db(engine);
    if (!a->db) return pxs_errf(err, PXS_EUNSUPPORTED, "this engine has no vector collections");
    int rc = cj_parse(json && *json ? json : "{}", &a->req, err);
    if (rc == PXS_OK && need_name) rc = cj_collection_name(a->req, &a->name, err);
    if (rc != PXS_OK) return rc;
    if (lock == 2 && (a->db->read_only || !a->db->store))
        return pxs_errf(err, PXS_EPERM, "the data directory is open read-only");
    if (lock == 2) pthread_rwlock_wrlock(&a->db->lock);
    else pthread_rwlock_rdlock(&a->db->lock);
    a->lock = lock == 2 ? 2 : 1;
    if (need_name && !(a->c = coll_find(a->db, a->name))) return coll_not_found(err, a->name);
    return PXS_OK;
}

/* For writes to one collection: db read lock + the collection's writer slot. */
int api_begin_write(pxs_engine *engine, const char *json, struct api *a, struct pxs_err *err) {
    int rc = api_begin(engine, json, true, 1, a, err);
    if (rc != PXS_OK) return rc;
    if (a->db->read_only) return pxs_errf(err, PXS_EPERM, "the data directory is open read-only");
    pthread_mutex_lock(&a->c->write_mu);
    a->write_mu = true;
    return PXS_OK;
}

int api_end(struct api *a, int rc, char **out_json, struct pxs_err *err) {
    if (a->write_mu) pthread_mutex_unlock(&a->c->write_mu);
    if (a->lock) pthread_rwlock_unlock(&a->db->lock);
    cJSON_Delete(a->req);
    if (rc == PXS_OK && out_json) {
        if (!a->out.len && pxs_buf_append(&a->out, "{}", 2) != PXS_OK) rc = PXS_ENOMEM;
        if (rc == PXS_OK && !(*out_json = jw_detach(&a->out))) rc = PXS_ENOMEM;
        if (rc != PXS_OK) rc = pxs_errf(err, rc, "out of memory");
    }
    pxs_buf_free(&a->out);
    return rc;
}


/* ---- collections ---- */

static int next_coll_id(pxs_store_txn *txn, uint64_t *id, struct pxs_err *err) {
    const void *val;
    size_t len;
    int rc = pxs_store_get(txn, TABLE_C_META, "next_coll_id", 12, &val, &len, err);
    *id = 1;
    if (rc == PXS_OK && len == 8) *id = pxs_store_u64_from_key(val);
    else if (rc != PXS_ENOTFOUND && rc != PXS_OK) return rc;
    uint8_t be[8];
    pxs_store_u64_key(*id + 1, be);
    return pxs_store_put(txn, TABLE_C_META, "next_coll_id", 12, be, 8, err);
}

int pxs_coll_create(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, false, 2, &a, err);
    struct coll_schema *s = NULL;
    if (rc == PXS_OK) rc = schema_from_request(a.req, false, &s, err);
    if (rc == PXS_OK && coll_find(a.db, s->name))
        rc = pxs_errf(err, PXS_EEXIST, "collection %s already exists", s->name);
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(a.db->store, 1, &txn, err);
    if (rc == PXS_OK) rc = next_coll_id(txn, &s->id, err);
    uint8_t idk[8];
    if (rc == PXS_OK) {
        pxs_store_u64_key(s->id, idk);
        rc = pxs_store_put(txn, TABLE_C_NAMES, s->name, strlen(s->name), idk, 8, err);
    }
    if (rc == PXS_OK) rc = coll_schema_put(txn, s, err);
    struct coll_state st = {.next_rowid = 1, .next_auto_id = 1};
    if (rc == PXS_OK) rc = coll_state_put(txn, s->id, &st, err);
    struct coll *c = NULL;
    if (rc == PXS_OK && !(c = coll_alloc(s))) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    if (rc == PXS_OK && s->index.present) rc = coll_index_new(s, &c->index, err);
    if (rc == PXS_OK) rc = pxs_store_commit(txn, err);
    else pxs_store_abort(txn);
    if (rc == PXS_OK) {
        c->covered_rowid = 1;
        c->next = a.db->list;
        a.db->list = c;
    } else if (c) {
        coll_free(c);
    } else {
        schema_free(s);
    }
    return api_end(&a, rc, out_json, err);
}

static int delete_prefix(pxs_store_txn *txn, const char *table, uint64_t id, struct pxs_err *err);

int pxs_coll_drop(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, true, 2, &a, err);
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(a.db->store, 1, &txn, err);
    if (rc == PXS_OK) {
        uint64_t id = a.c->schema->id;
        uint8_t idk[8];
        pxs_store_u64_key(id, idk);
        rc = pxs_store_del(txn, TABLE_C_NAMES, a.name, strlen(a.name), err);
        if (rc == PXS_OK) rc = pxs_store_del(txn, TABLE_C_SCHEMAS, idk, 8, err);
        if (rc == PXS_OK) rc = pxs_store_del(txn, TABLE_C_STATE, idk, 8, err);
        if (rc == PXS_OK) rc = delete_prefix(txn, TABLE_C_ROWS, id, err);
        if (rc == PXS_OK) rc = delete_prefix(txn, TABLE_C_PKS, id, err);
        if (rc == PXS_OK) rc = delete_prefix(txn, TABLE_C_DELLOG, id, err);
        if (rc == PXS_OK) rc = pxs_store_commit(txn, err);
        else pxs_store_abort(txn);
    }
    if (rc == PXS_OK) {
        char path[4300];
        coll_index_path(a.db, a.c->schema->id, path, sizeof path);
        unlink(path);
        for (struct coll **pp = &a.db->list; *pp; pp = &(*pp)->next)
            if (*pp == a.c) {
                *pp = a.c->next;
                break;
            }
        coll_free(a.c);
        a.c = NULL;
    }
    return api_end(&a, rc, out_json, err);
}

struct key_list {
    uint64_t id;
    struct pxs_buf keys; /* u16 length + key bytes */
};

static int collect_key(const void *key, size_t key_len, const void *val, size_t val_len, void *user) {
    (void)val;
    (void)val_len;
    struct key_list *kl = user;
    if (key_len < 8 || pxs_store_u64_from_key(key) != kl->id) return 1;
    uint8_t n[2];
    pxs_put_le(n, key_len, 2);
    int rc = pxs_buf_append(&kl->keys, n, 2);
    if (rc == PXS_OK) rc = pxs_buf_append(&kl->keys, key, key_len);
    return rc;
}

static int delete_prefix(pxs_store_txn *txn, const char *table, uint64_t id, struct pxs_err *err) {
    struct key_list kl = {id, {0}};
    pxs_buf_init(&kl.keys, COLL_BUF_MAX);
    uint8_t start[8];
    pxs_store_u64_key(id, start);
    int rc = pxs_store_scan(txn, table, start, 8, collect_key, &kl, err);
    if (rc > 0) rc = PXS_OK;
    if (rc < 0 && !err->code) rc = pxs_errf(err, rc, "out of memory");
    for (size_t off = 0; rc == PXS_OK && off < kl.keys.len;) {
        size_t n = (size_t)pxs_get_le((const uint8_t *)kl.keys.data + off, 2);
        rc = pxs_store_del(txn, table, kl.keys.data + off + 2, n, err);
        off += 2 + n;
    }
    pxs_buf_free(&kl.keys);
    return rc;
}

int pxs_coll_has(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, false, 1, &a, err);
    if (rc == PXS_OK) rc = cj_collection_name(a.req, &a.name, err);
    if (rc == PXS_OK)
        rc = pxs_buf_appendf(&a.out, "{\"has\":%s}", coll_find(a.db, a.name) ? "true" : "false");
    return api_end(&a, rc, out_json, err);
}

static int cmp_str(const void *x, const void *y) {
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

int pxs_coll_list(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, false, 1, &a, err);
    size_t n = 0;
    for (struct coll *c = rc == PXS_OK ? a.db->list : NULL; c; c = c->next) n++;
    const char **names = pxs_calloc(n + 1, sizeof *names);
    if (rc == PXS_OK && !names) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    if (rc == PXS_OK) {
        size_t i = 0;
        for (struct coll *c = a.db->list; c; c = c->next) names[i++] = c->schema->name;
        qsort(names, n, sizeof *names, cmp_str);
        rc = pxs_buf_append(&a.out, "[", 1);
        for (i = 0; rc == PXS_OK && i < n; i++) {
            if (i) rc = pxs_buf_append(&a.out, ",", 1);
            if (rc == PXS_OK) rc = jw_cstr(&a.out, names[i]);
        }
        if (rc == PXS_OK) rc = pxs_buf_append(&a.out, "]", 1);
    }
    pxs_free(names);
    return api_end(&a, rc, out_json, err);
}

int pxs_coll_describe(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                      struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, true, 1, &a, err);
    if (rc == PXS_OK) {
        pthread_rwlock_rdlock(&a.c->lock);
        rc = schema_describe(a.c->schema, &a.out);
        pthread_rwlock_unlock(&a.c->lock);
    }
    return api_end(&a, rc, out_json, err);
}

int pxs_coll_rename(pxs_engine *engine, const char *json, unsigned flags, char **out_json, struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, true, 2, &a, err);
    const char *nn = NULL;
    if (rc == PXS_OK) rc = cj_string(a.req, "newCollectionName", &nn, err);
    if (rc == PXS_OK && (!nn || !coll_name_valid(nn)))
        rc = pxs_errf(err, PXS_EINVAL, "newCollectionName \"%s\" is invalid", nn ? nn : "");
    if (rc == PXS_OK && coll_find(a.db, nn)) rc = pxs_errf(err, PXS_EEXIST, "collection %s already exists", nn);
    struct coll_schema *s = rc == PXS_OK ? schema_clone(a.c->schema, err) : NULL;
    if (rc == PXS_OK && !s) rc = err->code ? err->code : PXS_ENOMEM;
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) {
        snprintf(s->name, sizeof s->name, "%s", nn);
        rc = pxs_store_begin(a.db->store, 1, &txn, err);
    }
    if (rc == PXS_OK) {
        uint8_t idk[8];
        pxs_store_u64_key(s->id, idk);
        rc = pxs_store_del(txn, TABLE_C_NAMES, a.name, strlen(a.name), err);
        if (rc == PXS_OK) rc = pxs_store_put(txn, TABLE_C_NAMES, nn, strlen(nn), idk, 8, err);
        if (rc == PXS_OK) rc = coll_schema_put(txn, s, err);
        if (rc == PXS_OK) rc = pxs_store_commit(txn, err);
        else pxs_store_abort(txn);
    }
    if (rc == PXS_OK) {
        schema_free(a.c->schema); /* db write lock: nobody else holds the collection */
        a.c->schema = s;
    } else {
        schema_free(s);
    }
    return api_end(&a, rc, out_json, err);
}

int pxs_coll_get_stats(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                       struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, true, 1, &a, err);
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(a.db->store, 0, &txn, err);
    struct coll_state st;
    if (rc == PXS_OK) rc = coll_state_get(txn, a.c->schema->id, &st, err);
    pxs_store_abort(txn);
    if (rc == PXS_OK) rc = pxs_buf_appendf(&a.out, "{\"rowCount\":%llu}", (unsigned long long)st.live_rows);
    return api_end(&a, rc, out_json, err);
}

static int pxs_coll_load(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                         struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, true, 1, &a, err);
    return api_end(&a, rc, out_json, err);
}

static int pxs_coll_load_state(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                               struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, true, 1, &a, err);
    if (rc == PXS_OK) rc = pxs_buf_appendf(&a.out, "{\"loadState\":\"LoadStateLoaded\",\"loadProgress\":100}");
    return api_end(&a, rc, out_json, err);
}

/* ---- partitions ---- */

static int partition_name(const struct api *a, const char **out, struct pxs_err *err) {
    *out = NULL;
    int rc = cj_string(a->req, "partitionName", out, err);
    if (rc == PXS_OK && !*out) rc = pxs_errf(err, PXS_EINVAL, "partitionName is required");
    return rc;
}

/* Swap in a new schema after a committed change (caller holds write_mu). */
static void swap_schema(struct coll *c, struct coll_schema *s) {
    pthread_rwlock_wrlock(&c->lock);
    struct coll_schema *old = c->schema;
    c->schema = s;
    pthread_rwlock_unlock(&c->lock);
    schema_free(old);
}

int pxs_coll_partition_create(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                              struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin_write(engine, json, &a, err);
    const char *pn = NULL;
    if (rc == PXS_OK) rc = partition_name(&a, &pn, err);
    if (rc == PXS_OK && !coll_name_valid(pn)) rc = pxs_errf(err, PXS_EINVAL, "partition name \"%s\" is invalid", pn);
    if (rc == PXS_OK && schema_partition(a.c->schema, pn))
        rc = pxs_errf(err, PXS_EEXIST, "partition %s already exists in %s", pn, a.name);
    if (rc == PXS_OK && a.c->schema->nparts >= COLL_MAX_PARTITIONS)
        rc = pxs_errf(err, PXS_ELIMIT, "a collection has at most %d partitions", COLL_MAX_PARTITIONS);
    struct coll_schema *s = rc == PXS_OK ? schema_clone(a.c->schema, err) : NULL;
    if (rc == PXS_OK && !s) rc = err->code ? err->code : PXS_ENOMEM;
    if (rc == PXS_OK) {
        struct coll_partition *np = pxs_realloc(s->parts, (s->nparts + 1) * sizeof *np);
        if (!np) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        else {
            s->parts = np;
            snprintf(np[s->nparts].name, sizeof np->name, "%s", pn);
            np[s->nparts++].id = s->next_part_id++;
        }
    }
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(a.db->store, 1, &txn, err);
    if (rc == PXS_OK) {
        rc = coll_schema_put(txn, s, err);
        if (rc == PXS_OK) rc = pxs_store_commit(txn, err);
        else pxs_store_abort(txn);
    }
    if (rc == PXS_OK) swap_schema(a.c, s);
    else schema_free(s);
    return api_end(&a, rc, out_json, err);
}

struct part_del {
    const struct coll_schema *s;
    uint32_t part;
    pxs_store_txn *txn;
    struct pxs_buf victims; /* rowid u64 + pk cell copies */
    struct pxs_err *err;
};

static int collect_partition_row(uint64_t rowid, const struct row_view *rv, void *user) {
    struct part_del *pd = user;
    if (rv->part != pd->part) return 0;
    const struct cell *pk = &rv->cells[pd->s->pk];
    uint8_t key[16 + 1 + PXS_STORE_MAX_KEY];
    size_t kl = pk_key(pd->s, pk, key);
    uint8_t head[10];
    pxs_put_le(head, rowid, 8);
    pxs_put_le(head + 8, kl, 2);
    int rc = pxs_buf_append(&pd->victims, head, 10);
    if (rc == PXS_OK) rc = pxs_buf_append(&pd->victims, key, kl);
    return rc;
}

/* Delete rows whose pk keys were collected (rowid + raw pk key). */
static int delete_collected(pxs_store_txn *txn, const struct coll_schema *s, const struct pxs_buf *victims,
                            struct coll_state *st, uint64_t *count, struct pxs_err *err) {
    int rc = PXS_OK;
    for (size_t off = 0; rc == PXS_OK && off < victims->len;) {
        const uint8_t *p = (const uint8_t *)victims->data + off;
        uint64_t rowid = pxs_get_le(p, 8);
        size_t kl = (size_t)pxs_get_le(p + 8, 2);
        uint8_t key[16], v[8];
        coll_key(s->id, rowid, key);
        rc = pxs_store_del(txn, TABLE_C_ROWS, key, 16, err);
        if (rc == PXS_OK) rc = pxs_store_del(txn, TABLE_C_PKS, p + 10, kl, err);
        if (rc == PXS_OK) {
            coll_key(s->id, ++st->del_seq, key);
            pxs_store_u64_key(rowid, v);
            rc = pxs_store_put(txn, TABLE_C_DELLOG, key, 16, v, 8, err);
        }
        if (rc == PXS_ENOTFOUND) rc = PXS_CORRUPT_BKPT(err, "row without primary key entry");
        st->live_rows--;
        (*count)++;
        off += 10 + kl;
    }
    return rc;
}

int pxs_coll_partition_drop(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                            struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin_write(engine, json, &a, err);
    const char *pn = NULL;
    if (rc == PXS_OK) rc = partition_name(&a, &pn, err);
    const struct coll_partition *p = rc == PXS_OK ? schema_partition(a.c->schema, pn) : NULL;
    if (rc == PXS_OK && !p) rc = pxs_errf(err, PXS_ENOTFOUND, "partition %s does not exist in %s", pn, a.name);
    if (rc == PXS_OK && !strcmp(pn, COLL_DEFAULT_PARTITION))
        rc = pxs_errf(err, PXS_EINVAL, "the _default partition cannot be dropped");
    struct coll_schema *s = rc == PXS_OK ? schema_clone(a.c->schema, err) : NULL;
    if (rc == PXS_OK && !s) rc = err->code ? err->code : PXS_ENOMEM;
    uint32_t pid = p ? p->id : 0;
    if (rc == PXS_OK) {
        size_t i = (size_t)(schema_partition(s, pn) - s->parts);
        memmove(&s->parts[i], &s->parts[i + 1], (s->nparts - i - 1) * sizeof *s->parts);
        s->nparts--;
    }
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(a.db->store, 1, &txn, err);
    if (rc == PXS_OK) {
        struct coll_state st;
        uint64_t n = 0;
        struct row_filter all = {NULL, false, a.c->schema};
        rc = coll_state_get(txn, s->id, &st, err);
        if (rc == PXS_OK) rc = coll_delete_matching(txn, a.c->schema, pid, false, &all, &st, &n, err);
        if (rc == PXS_OK) rc = coll_state_put(txn, s->id, &st, err);
        if (rc == PXS_OK) rc = coll_schema_put(txn, s, err);
        if (rc == PXS_OK) rc = pxs_store_commit(txn, err);
        else pxs_store_abort(txn);
    }
    if (rc == PXS_OK) {
        swap_schema(a.c, s);
        rc = coll_sync(a.db, a.c, true, err);
    } else {
        schema_free(s);
    }
    return api_end(&a, rc, out_json, err);
}

struct match_del {
    const struct coll_schema *s;
    uint32_t part;
    bool any_part;
    const struct row_filter *f;
    struct part_del pd;
};

static int collect_matching(uint64_t rowid, const struct row_view *rv, void *user) {
    struct match_del *md = user;
    if (!md->any_part && rv->part != md->part) return 0;
    bool match;
    int rc = row_filter_match(md->f, rv, &match, md->pd.err);
    if (rc != PXS_OK) return rc;
    if (!match) return 0;
    md->pd.part = rv->part;
    return collect_partition_row(rowid, rv, &md->pd);
}

int coll_delete_matching(pxs_store_txn *txn, const struct coll_schema *s, uint32_t part, bool any_part,
                         const struct row_filter *f, struct coll_state *st, uint64_t *count,
                         struct pxs_err *err) {
    struct match_del md = {s, part, any_part, f, {s, part, txn, {0}, err}};
    pxs_buf_init(&md.pd.victims, COLL_BUF_MAX);
    int rc = coll_scan_rows(txn, s, collect_matching, &md, err);
    if (rc < 0 && !err->code) rc = pxs_errf(err, rc, "out of memory");
    if (rc == PXS_OK) rc = delete_collected(txn, s, &md.pd.victims, st, count, err);
    pxs_buf_free(&md.pd.victims);
    return rc;
}

int pxs_coll_partition_has(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                           struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, true, 1, &a, err);
    const char *pn = NULL;
    if (rc == PXS_OK) rc = partition_name(&a, &pn, err);
    if (rc == PXS_OK) {
        pthread_rwlock_rdlock(&a.c->lock);
        bool has = schema_partition(a.c->schema, pn) != NULL;
        pthread_rwlock_unlock(&a.c->lock);
        rc = pxs_buf_appendf(&a.out, "{\"has\":%s}", has ? "true" : "false");
    }
    return api_end(&a, rc, out_json, err);
}

int pxs_coll_partition_list(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                            struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, true, 1, &a, err);
    if (rc == PXS_OK) {
        pthread_rwlock_rdlock(&a.c->lock);
        rc = pxs_buf_append(&a.out, "[", 1);
        for (size_t i = 0; rc == PXS_OK && i < a.c->schema->nparts; i++) {
            if (i) rc = pxs_buf_append(&a.out, ",", 1);
            if (rc == PXS_OK) rc = jw_cstr(&a.out, a.c->schema->parts[i].name);
        }
        pthread_rwlock_unlock(&a.c->lock);
        if (rc == PXS_OK) rc = pxs_buf_append(&a.out, "]", 1);
    }
    return api_end(&a, rc, out_json, err);
}

/* ---- operation table ---- */

static const struct {
    const char *path;
    pxs_coll_op_fn fn;
} ops[] = {
    {"collections/create", pxs_coll_create},
    {"collections/drop", pxs_coll_drop},
    {"collections/has", pxs_coll_has},
    {"collections/list", pxs_coll_list},
    {"collections/describe", pxs_coll_describe},
    {"collections/rename", pxs_coll_rename},
    {"collections/get_stats", pxs_coll_get_stats},
    {"collections/load", pxs_coll_load},
    {"collections/get_load_state", pxs_coll_load_state},
    {"partitions/create", pxs_coll_partition_create},
    {"partitions/drop", pxs_coll_partition_drop},
    {"partitions/has", pxs_coll_partition_has},
    {"partitions/list", pxs_coll_partition_list},
    {"entities/insert", pxs_coll_insert},
    {"entities/upsert", pxs_coll_upsert},
    {"entities/delete", pxs_coll_delete},
    {"entities/get", pxs_coll_get},
    {"entities/query", pxs_coll_query},
    {"entities/search", pxs_coll_search},
    {"indexes/create", pxs_coll_index_create},
    {"indexes/describe", pxs_coll_index_describe},
    {"indexes/list", pxs_coll_index_list},
    {"indexes/drop", pxs_coll_index_drop},
};

pxs_coll_op_fn pxs_coll_find_op(const char *path) {
    if (!path) return NULL;
    if (!strncmp(path, "/v2/vectordb/", 13)) path += 13;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(ops[i].path, path)) return ops[i].fn;
    return NULL;
}
