/*
 * coll_index.c — the vector index of each collection: building it from the
 * stored rows on a snapshot (without blocking inserts or searches), its
 * file under <data>/indexes/, loading that file at open, compaction of HNSW
 * tombstones, and the indexes operations.
 *
 * Index file <data>/indexes/coll-<collection id>.pxi, in the layout of
 * index_file.c (written atomically) with five header words:
 *    0  8  magic "PXSCOLIX"
 *    8  4  format version (1)
 *   12  4  reserved (0)
 *   16  8  collection id
 *   24  8  covered_rowid: rows with rowid below this are in the index
 *   32  8  covered_del: deletion-log entries up to this are applied
 *   40  8  HNSW tombstones in the index
 *   48  8  XXH3-64 of the index description (type, metric, params), so a
 *          file of another index spec is never loaded
 *   56  8  payload length
 *   64  8  XXH3-64 of bytes 0..63
 *   72     payload: pxs_index_serialize output (own magic and checksums)
 * At open a valid file is loaded and caught up with the store (deletion log
 * entries after covered_del, rows from covered_rowid on); a missing,
 * damaged, older-format or foreign file, or one whose deletions were pruned
 * from the log, is replaced by a build from the stored rows.
 */
#include "engine/coll_int.h"
#include "engine/index_file.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define IDX_MAGIC "PXSCOLIX"
#define IDX_VERSION 1
#define COMPACT_MIN_TOMBSTONES 1000
#define COMPACT_FRACTION 0.2
#define CHECKPOINT_MIN_CHANGES 100000

void coll_index_path(const struct coll_db *db, uint64_t coll_id, char *out, size_t cap) {
    snprintf(out, cap, "%s/indexes/coll-%llu.pxi", db->data_dir, (unsigned long long)coll_id);
}

int coll_index_new(const struct coll_schema *s, pxs_index **out, struct pxs_err *err) {
    struct pxs_index_params ip = s->index.params;
    return pxs_index_new(&ip, out, err);
}

static uint64_t spec_hash(const struct coll_schema *s) {
    struct pxs_buf b;
    pxs_buf_init(&b, 1 << 20);
    uint64_t h = 0;
    if (index_spec_describe(s, &b) == PXS_OK) h = pxs_hash64(b.data, b.len);
    pxs_buf_free(&b);
    return h;
}

static void set_covered_to_state(struct coll_db *db, struct coll *c) {
    pxs_store_txn *txn;
    struct coll_state st;
    if (pxs_store_begin(db->store, 0, &txn, NULL) != PXS_OK) return;
    if (coll_state_get(txn, c->schema->id, &st, NULL) == PXS_OK) {
        c->covered_rowid = st.next_rowid;
        c->covered_del = st.del_seq;
    }
    pxs_store_abort(txn);
}

int coll_index_rebuild(struct coll_db *db, struct coll *c, bool have_write_mu, struct pxs_err *err) {
    pthread_rwlock_rdlock(&c->lock);
    uint64_t version = c->index_version;
    struct coll_schema *s = schema_clone(c->schema, err);
    pthread_rwlock_unlock(&c->lock);
    if (!s) return err && err->code ? err->code : PXS_ENOMEM;
    pxs_index *ix = NULL;
    uint64_t cr = 0, cd = 0, tomb = 0;
    int rc = PXS_OK;
    if (s->index.present) {
        rc = coll_index_new(s, &ix, err);
        pxs_store_txn *txn = NULL;
        struct coll_state st;
        if (rc == PXS_OK) rc = pxs_store_begin(db->store, 0, &txn, err);
        if (rc == PXS_OK) rc = coll_state_get(txn, s->id, &st, err);
        if (rc == PXS_OK) {
            cd = st.del_seq; /* the snapshot holds no deleted rows */
            rc = coll_catch_up(txn, s, ix, &cr, &cd, &tomb, err);
        }
        pxs_store_abort(txn);
        if (rc == PXS_OK && !pxs_index_is_trained(ix)) {
            struct pxs_err terr = {0};
            if (pxs_index_train(ix, &terr) != PXS_OK) { /* too few rows: stays exact until trained */
            }
        }
    }
    if (!have_write_mu) pthread_mutex_lock(&c->write_mu);
    if (rc == PXS_OK) {
        pthread_rwlock_wrlock(&c->lock);
        if (c->index_version == version) {
            pxs_store_txn *txn = NULL;
            if (ix) {
                rc = pxs_store_begin(db->store, 0, &txn, err);
                if (rc == PXS_OK) rc = coll_catch_up(txn, s, ix, &cr, &cd, &tomb, err);
                if (rc == 1) rc = pxs_errf(err, PXS_EBUSY, "collection %s changed too fast to index", s->name);
                pxs_store_abort(txn);
            }
            if (rc == PXS_OK) {
                pxs_index_free(c->index);
                c->index = ix;
                ix = NULL;
                c->tombstones = tomb;
                c->loaded_from_file = false;
                c->builds++;
                c->saved_rowid = c->saved_del = 0;
                if (c->index) {
                    c->covered_rowid = cr;
                    c->covered_del = cd;
                }
            }
        }
        pthread_rwlock_unlock(&c->lock);
        if (rc == PXS_OK && !c->index) set_covered_to_state(db, c);
        if (rc == PXS_OK && !db->read_only && c->index) {
            struct pxs_err serr = {0};
            if (coll_index_save(db, c, true, &serr) != PXS_OK)
                PXS_LOG_WARN("collection %s: index file not written: %s", s->name, serr.msg);
        }
    }
    if (!have_write_mu) pthread_mutex_unlock(&c->write_mu);
    pxs_index_free(ix);
    schema_free(s);
    return rc;
}

static int prune_dellog(struct coll_db *db, uint64_t id, uint64_t upto, struct pxs_err *err) {
    pxs_store_txn *txn;
    int rc = pxs_store_begin(db->store, 1, &txn, err);
    if (rc != PXS_OK) return rc;
    struct coll_state st;
    rc = coll_state_get(txn, id, &st, err);
    for (uint64_t seq = st.pruned_del + 1; rc == PXS_OK && seq <= upto; seq++) {
        uint8_t key[16];
        coll_key(id, seq, key);
        rc = pxs_store_del(txn, TABLE_C_DELLOG, key, 16, err);
        if (rc == PXS_ENOTFOUND) rc = PXS_OK;
    }
    if (rc == PXS_OK && upto > st.pruned_del) {
        st.pruned_del = upto;
        rc = coll_state_put(txn, id, &st, err);
    }
    if (rc == PXS_OK) return pxs_store_commit(txn, err);
    pxs_store_abort(txn);
    return rc;
}

int coll_index_save(struct coll_db *db, struct coll *c, bool force, struct pxs_err *err) {
    struct pxs_buf b;
    pxs_buf_init(&b, INDEX_FILE_MAX_BYTES);
    pthread_rwlock_rdlock(&c->lock);
    if (!c->index || (!force && c->saved_rowid == c->covered_rowid && c->saved_del == c->covered_del)) {
        pthread_rwlock_unlock(&c->lock);
        return PXS_OK;
    }
    uint64_t id = c->schema->id, cr = c->covered_rowid, cd = c->covered_del;
    struct index_file_head head = {.magic = IDX_MAGIC, .version = IDX_VERSION, .n_words = 5,
                                   .words = {id, cr, cd, c->tombstones, spec_hash(c->schema)}};
    int rc = index_file_encode(&head, c->index, &b, err);
    pthread_rwlock_unlock(&c->lock);
    if (rc == PXS_OK) {
        char path[4300];
        coll_index_path(db, id, path, sizeof path);
        rc = index_file_write(path, &b, err);
    } else if (rc == PXS_ELIMIT || rc == PXS_ENOMEM) {
        rc = pxs_errf(err, rc, "index of %s too large to write", c->schema->name);
    }
    pxs_buf_free(&b);
    if (rc != PXS_OK) return rc;
    c->saved_rowid = cr;
    c->saved_del = cd;
    return prune_dellog(db, id, cd, err);
}

static int check_file(const char *path, const uint64_t *words, void *user, struct pxs_err *err) {
    const struct coll_schema *s = user;
    if (words[0] != s->id || words[4] != spec_hash(s))
        return pxs_errf(err, PXS_EMISMATCH, "%s: made for another index", path);
    return PXS_OK;
}

/* Load the index file; PXS_OK with *ix set, or an error saying why not. */
static int load_file(struct coll_db *db, struct coll *c, pxs_index **ix, uint64_t *cr, uint64_t *cd,
                     uint64_t *tomb, struct pxs_err *err) {
    char path[4300];
    coll_index_path(db, c->schema->id, path, sizeof path);
    struct index_file_head head = {.magic = IDX_MAGIC, .version = IDX_VERSION, .n_words = 5};
    int rc = index_file_read(path, &head, check_file, c->schema, ix, err);
    if (rc == PXS_OK) {
        *cr = head.words[1];
        *cd = head.words[2];
        *tomb = head.words[3];
    }
    return rc;
}

int coll_index_open(struct coll_db *db, struct coll *c, struct pxs_err *err) {
    if (!c->schema->index.present) {
        set_covered_to_state(db, c);
        return PXS_OK;
    }
    pxs_index *ix = NULL;
    uint64_t cr = 0, cd = 0, tomb = 0;
    struct pxs_err ferr = {0};
    int rc = load_file(db, c, &ix, &cr, &cd, &tomb, &ferr);
    if (rc == PXS_OK) {
        c->index = ix;
        c->covered_rowid = c->saved_rowid = cr;
        c->covered_del = c->saved_del = cd;
        c->tombstones = tomb;
        c->loaded_from_file = true;
        return coll_sync(db, c, false, err);
    }
    if (rc != PXS_ENOTFOUND && ferr.sys_errno != 2)
        PXS_LOG_WARN("collection %s: rebuilding the index: %s", c->schema->name, ferr.msg);
    return coll_index_rebuild(db, c, false, err);
}

int coll_index_maintain(struct coll_db *db, struct coll *c, struct pxs_err *err) {
    pthread_rwlock_rdlock(&c->lock);
    size_t live = c->index ? pxs_index_count(c->index) : 0;
    bool compact = c->index && pxs_index_get_type(c->index) == PXS_INDEX_HNSW &&
                   c->tombstones >= COMPACT_MIN_TOMBSTONES &&
                   (double)c->tombstones > COMPACT_FRACTION * (double)(live + c->tombstones);
    uint64_t changes = (c->covered_rowid - c->saved_rowid) + (c->covered_del - c->saved_del);
    bool checkpoint = c->index && changes >= CHECKPOINT_MIN_CHANGES && changes >= live / 2;
    pthread_rwlock_unlock(&c->lock);
    if (db->read_only) return PXS_OK;
    if (compact) return coll_index_rebuild(db, c, false, err);
    if (!checkpoint) return PXS_OK;
    pthread_mutex_lock(&c->write_mu);
    int rc = coll_index_save(db, c, false, err);
    pthread_mutex_unlock(&c->write_mu);
    return rc;
}

/* ---- indexes operations ---- */

static int index_name_arg(struct api *a, bool required, struct pxs_err *err) {
    const char *name = NULL;
    int rc = cj_string(a->req, "indexName", &name, err);
    if (rc != PXS_OK) return rc;
    if (!name && !required) return PXS_OK;
    if (!name) return pxs_errf(err, PXS_EINVAL, "indexName is required");
    if (!a->c->schema->index.present || strcmp(a->c->schema->index.name, name))
        return pxs_errf(err, PXS_ENOTFOUND, "index %s does not exist on collection %s", name, a->name);
    return PXS_OK;
}

static int replace_index_spec(struct coll_db *db, struct coll *c, const struct coll_index_spec *spec,
                              struct pxs_err *err) {
    struct coll_schema *s = schema_clone(c->schema, err);
    if (!s) return err && err->code ? err->code : PXS_ENOMEM;
    index_spec_free(&s->index);
    int rc = spec ? index_spec_copy(&s->index, spec) : PXS_OK;
    if (rc != PXS_OK) rc = pxs_errf(err, rc, "out of memory");
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(db->store, 1, &txn, err);
    if (rc == PXS_OK) {
        rc = coll_schema_put(txn, s, err);
        if (rc == PXS_OK) rc = pxs_store_commit(txn, err);
        else pxs_store_abort(txn);
    }
    if (rc != PXS_OK) {
        schema_free(s);
        return rc;
    }
    pthread_rwlock_wrlock(&c->lock);
    struct coll_schema *old = c->schema;
    c->schema = s;
    c->index_version++;
    if (!spec) {
        pxs_index_free(c->index);
        c->index = NULL;
    }
    pthread_rwlock_unlock(&c->lock);
    schema_free(old);
    if (!spec) {
        char path[4300];
        coll_index_path(db, s->id, path, sizeof path);
        remove(path);
    }
    return PXS_OK;
}

int pxs_coll_index_create(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                          struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin_write(engine, json, &a, err);
    const cJSON *ips = rc == PXS_OK ? cj_get(a.req, "indexParams") : NULL;
    if (rc == PXS_OK && (!cJSON_IsArray(ips) || cJSON_GetArraySize(ips) != 1))
        rc = pxs_errf(err, PXS_EINVAL, "indexParams must be an array with one index (on the vector field)");
    struct coll_index_spec spec = {0};
    if (rc == PXS_OK) rc = schema_parse_index(a.c->schema, ips->child, &spec, err);
    if (rc == PXS_OK) rc = replace_index_spec(a.db, a.c, &spec, err);
    index_spec_free(&spec);
    if (a.write_mu) pthread_mutex_unlock(&a.c->write_mu);
    a.write_mu = false;
    /* build on a snapshot; inserts and searches go on meanwhile */
    if (rc == PXS_OK) rc = coll_index_rebuild(a.db, a.c, false, err);
    return api_end(&a, rc, out_json, err);
}

int pxs_coll_index_drop(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                        struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin_write(engine, json, &a, err);
    if (rc == PXS_OK) rc = index_name_arg(&a, true, err);
    if (rc == PXS_OK) rc = replace_index_spec(a.db, a.c, NULL, err);
    return api_end(&a, rc, out_json, err);
}

int pxs_coll_index_list(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                        struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, true, 1, &a, err);
    if (rc == PXS_OK) {
        pthread_rwlock_rdlock(&a.c->lock);
        rc = pxs_buf_append(&a.out, "[", 1);
        if (rc == PXS_OK && a.c->schema->index.present) rc = jw_cstr(&a.out, a.c->schema->index.name);
        if (rc == PXS_OK) rc = pxs_buf_append(&a.out, "]", 1);
        pthread_rwlock_unlock(&a.c->lock);
    }
    return api_end(&a, rc, out_json, err);
}

static void fill_stats(struct coll *c, struct pxs_coll_index_stats *out) {
    memset(out, 0, sizeof *out);
    if (c->index) {
        snprintf(out->index_type, sizeof out->index_type, "%s", pxs_index_type_name(pxs_index_get_type(c->index)));
        snprintf(out->metric, sizeof out->metric, "%s", pxs_metric_name(pxs_index_metric(c->index)));
        out->rows = pxs_index_count(c->index);
        out->memory_bytes = pxs_index_memory(c->index);
    }
    out->tombstones = c->tombstones;
    out->loaded_from_file = c->loaded_from_file;
    out->builds = c->builds;
}

int pxs_coll_index_describe(pxs_engine *engine, const char *json, unsigned flags, char **out_json,
                            struct pxs_err *err) {
    (void)flags;
    API_OUT_INIT(out_json);
    struct api a;
    int rc = api_begin(engine, json, true, 1, &a, err);
    if (rc == PXS_OK) rc = coll_sync(a.db, a.c, false, err);
    if (rc == PXS_OK) rc = index_name_arg(&a, false, err);
    if (rc == PXS_OK) {
        pthread_rwlock_rdlock(&a.c->lock);
        rc = pxs_buf_append(&a.out, "[", 1);
        if (rc == PXS_OK && a.c->schema->index.present) {
            struct pxs_coll_index_stats st;
            fill_stats(a.c, &st);
            rc = index_spec_describe(a.c->schema, &a.out);
            if (rc == PXS_OK) {
                a.out.len--; /* reopen the object */
                rc = pxs_buf_appendf(&a.out, ",\"indexState\":\"Finished\",\"totalRows\":%llu,\"indexedRows\":%llu,"
                                     "\"pendingRows\":0,\"engineIndexType\":\"%s\",\"memoryBytes\":%zu,"
                                     "\"tombstones\":%llu,\"loadedFromFile\":%s,\"builds\":%llu}",
                                     (unsigned long long)st.rows, (unsigned long long)st.rows, st.index_type,
                                     st.memory_bytes, (unsigned long long)st.tombstones,
                                     st.loaded_from_file ? "true" : "false", (unsigned long long)st.builds);
            }
        }
        if (rc == PXS_OK) rc = pxs_buf_append(&a.out, "]", 1);
        pthread_rwlock_unlock(&a.c->lock);
    }
    return api_end(&a, rc, out_json, err);
}

int pxs_coll_index_stats(pxs_engine *engine, const char *name, struct pxs_coll_index_stats *out,
                         struct pxs_err *err) {
    memset(out, 0, sizeof *out);
    struct coll_db *db = engine_coll_db(engine);
    if (!db) return pxs_errf(err, PXS_EUNSUPPORTED, "this engine has no vector collections");
    pthread_rwlock_rdlock(&db->lock);
    struct coll *c = name ? coll_find(db, name) : NULL;
    int rc = c ? coll_sync(db, c, false, err) : coll_not_found(err, name ? name : "(null)");
    if (rc == PXS_OK) {
        pthread_rwlock_rdlock(&c->lock);
        fill_stats(c, out);
        pthread_rwlock_unlock(&c->lock);
    }
    pthread_rwlock_unlock(&db->lock);
    return rc;
}

int pxs_coll_checkpoint(pxs_engine *engine, struct pxs_err *err) {
    struct coll_db *db = engine_coll_db(engine);
    if (!db || db->read_only) return PXS_OK;
    pthread_rwlock_rdlock(&db->lock);
    int rc = PXS_OK;
    for (struct coll *c = db->list; c && rc == PXS_OK; c = c->next) {
        pthread_mutex_lock(&c->write_mu);
        rc = coll_index_save(db, c, false, err);
        pthread_mutex_unlock(&c->write_mu);
    }
    pthread_rwlock_unlock(&db->lock);
    return rc;
}
