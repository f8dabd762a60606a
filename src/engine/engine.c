/*
 * engine.c — opening a data directory, keeping the in-memory vector index in
 * step with the store, and the read side: search, metadata, thumbnails,
 * statistics. Ingest lives in ingest.c.
 *
 * Index freshness: every committed change bumps meta "generation". Before a
 * search the engine compares it with the generation its index reflects; if
 * another process (pixseek index while pixseek serve runs) added images, the
 * new ids (all >= loaded_next_id, ids only grow) are scanned in; if anything
 * was removed meanwhile ("deletes" moved) the index is rebuilt.
 */
#include "engine_int.h"
#include "engine/coll_int.h"
#include "engine/embed_batch.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* What a data directory says about itself (meta table); found = 0 when it
 * holds no pixseek data yet. */
struct stored_meta {
    int found;
    char format[64];
    char embedder[128];
    char model_path[4096];
    char model_config[1024];
};

static int read_stored_meta(pxs_engine *e, struct stored_meta *m, struct pxs_err *err) {
    memset(m, 0, sizeof *m);
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    rc = meta_get_str(txn, "format", m->format, sizeof m->format, err);
    if (rc == PXS_OK) {
        m->found = 1;
        rc = meta_get_str(txn, "embedder", m->embedder, sizeof m->embedder, err);
        if (rc == PXS_ENOTFOUND) rc = pxs_errf(err, PXS_ECORRUPT, "%s: meta has no embedder", e->data_dir);
        int r2 = PXS_OK;
        if (rc == PXS_OK) r2 = meta_get_str(txn, "model_path", m->model_path, sizeof m->model_path, err);
        if (rc == PXS_OK && r2 == PXS_OK)
            r2 = meta_get_str(txn, "model_config", m->model_config, sizeof m->model_config, err);
        if (r2 != PXS_OK && r2 != PXS_ENOTFOUND) rc = r2;
    } else if (rc == PXS_ENOTFOUND) {
        rc = PXS_OK;
    }
    pxs_store_abort(txn);
    return rc;
}

/* Record what a new data directory is built with. Done in a write
 * transaction that re-checks, since another process may be first. */
static int init_meta(pxs_engine *e, struct pxs_err *err) {
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 1, &txn, err);
    if (rc != PXS_OK) return rc;
    char format[64];
    rc = meta_get_str(txn, "format", format, sizeof format, err);
    if (rc == PXS_OK) {
        pxs_store_abort(txn);
        return PXS_EEXIST; /* someone else initialised it: caller re-reads */
    }
    rc = meta_put_str(txn, "format", DATA_FORMAT, err);
    if (rc == PXS_OK) rc = meta_put_str(txn, "embedder", pxs_embedder_name(e->emb), err);
    if (rc == PXS_OK) rc = meta_put_u64(txn, "dim", e->dim, err);
    if (rc == PXS_OK) rc = meta_put_str(txn, "metric", pxs_metric_name(e->metric), err);
    if (rc == PXS_OK) rc = meta_put_str(txn, "model_path", pxs_embedder_model_path(e->emb), err);
    if (rc == PXS_OK) rc = meta_put_str(txn, "model_config", pxs_embedder_config_json(e->emb), err);
    if (rc == PXS_OK) rc = meta_put_u64(txn, "next_id", 1, err);
    if (rc == PXS_OK) rc = meta_put_u64(txn, "generation", 0, err);
    if (rc == PXS_OK) rc = meta_put_u64(txn, "deletes", 0, err);
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        return rc;
    }
    return pxs_store_commit(txn, err);
}

/* Choose the embedder: the one asked for, else the one the directory was
 * built with, else the built-in descriptor; then check they agree. */
static int open_embedder_recheck(pxs_engine *e, struct pxs_err *err) {
    struct stored_meta m;
    int rc = read_stored_meta(e, &m, err);
    if (rc != PXS_OK) return rc;
    if (strcmp(m.embedder, pxs_embedder_name(e->emb)) != 0)
        return pxs_errf(err, PXS_EMISMATCH, "%s was just initialised by another process with "
                        "embedder %s, not %s", e->data_dir, m.embedder, pxs_embedder_name(e->emb));
    return PXS_OK;
}

static int open_embedder(pxs_engine *e, const struct pxs_engine_opts *opts, struct pxs_err *err) {
    struct stored_meta m;
    int rc = read_stored_meta(e, &m, err);
    if (rc != PXS_OK) return rc;
    if (!m.found && e->read_only)
        return pxs_errf(err, PXS_ENOTFOUND, "%s holds no pixseek data yet (run pixseek index)",
                        e->data_dir);
    if (m.found && strcmp(m.format, DATA_FORMAT) != 0)
        return pxs_errf(err, PXS_EMISMATCH, "%s has data format \"%s\"; this pixseek reads \"%s\"",
                        e->data_dir, m.format, DATA_FORMAT);
    struct pxs_embedder_opts eo = {.threads = opts->threads, .precision = e->precision};
    if (opts->model_path) {
        eo.model_path = opts->model_path;
        eo.model_config = opts->model_config;
    } else if (m.found && m.model_path[0]) {
        eo.model_path = m.model_path;
        eo.model_config_json = m.model_config;
    }
    rc = pxs_embedder_open(&eo, &e->emb, err);
    if (rc != PXS_OK) {
        if (!opts->model_path && m.found && m.model_path[0])
            pxs_log(PXS_LOG_ERROR, "%s was built with the model %s", e->data_dir, m.model_path);
        return rc;
    }
    e->dim = pxs_embedder_dim(e->emb);
    e->metric = e->emb->builtin ? PXS_METRIC_COSINE : e->emb->cfg.metric;
    if (m.found && strcmp(m.embedder, pxs_embedder_name(e->emb)) != 0)
        return pxs_errf(err, PXS_EMISMATCH,
                        "%s was indexed with embedder %s but %s is configured; use another "
                        "--data directory, or the same model and description",
                        e->data_dir, m.embedder, pxs_embedder_name(e->emb));
    if (!m.found) {
        rc = init_meta(e, err);
        if (rc == PXS_EEXIST) return open_embedder_recheck(e, err);
    }
    return rc;
}

static int load_all_descriptors(pxs_engine *e, struct pxs_err *err);

int pxs_engine_open(const struct pxs_engine_opts *opts, pxs_engine **out, struct pxs_err *err) {
    *out = NULL;
    if (!opts || !opts->data_dir || !opts->data_dir[0])
        return pxs_errf(err, PXS_EINVAL, "no data directory given");
    int rc = pxs_image_global_init(err);
    if (rc != PXS_OK) return rc;
    const char *coll = opts->collection;
    if (coll && strcmp(coll, PXS_COLLECTION_DEFAULT) == 0) coll = NULL;
    if (coll && (rc = pxs_collection_name_check(coll, err)) != PXS_OK) return rc;
    pxs_engine *e = pxs_calloc(1, sizeof *e);
    if (!e) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    /* A named collection is a data directory of its own under collections/. */
    int n = coll ? snprintf(e->data_dir, sizeof e->data_dir, "%s/collections/%s", opts->data_dir, coll)
                 : snprintf(e->data_dir, sizeof e->data_dir, "%s", opts->data_dir);
    if (n < 0 || n >= (int)sizeof e->data_dir) {
        pxs_free(e);
        return pxs_errf(err, PXS_EINVAL, "data directory path too long");
    }
    e->read_only = opts->read_only;
    snprintf(e->uploads_dir, sizeof e->uploads_dir, "%s/uploads", e->data_dir);
    pthread_rwlock_init(&e->index_lock, NULL);

    char store_dir[4200];
    snprintf(store_dir, sizeof store_dir, "%s/store", e->data_dir);
    struct stat st;
    if (e->read_only && stat(store_dir, &st) != 0)
        rc = pxs_errf(err, PXS_ENOTFOUND, "%s holds no pixseek data yet (run pixseek index)",
                      e->data_dir);
    else if (!e->read_only)
        rc = pxs_mkdirs(e->data_dir, err);
    struct pxs_store_opts sopts = {.map_size = 0, .read_only = e->read_only};
    if (rc == PXS_OK) rc = pxs_store_open(store_dir, &sopts, &e->store, err);
    if (rc == PXS_OK) rc = precision_resolve(e, opts->precision, err);
    if (rc == PXS_OK) rc = open_embedder(e, opts, err);
    if (rc == PXS_OK) rc = precision_remember(e, err);
    if (rc == PXS_OK) rc = image_index_configure(e, opts->image_index, err);
    if (rc == PXS_OK) rc = image_index_new(e, 0, &e->index, err);
    struct pxs_index_params dp = {.type = PXS_INDEX_FLAT, .metric = PXS_METRIC_COSINE,
                                  .dim = PXS_IMAGE_DESCRIPTOR_DIM};
    if (rc == PXS_OK && !e->emb->builtin) rc = pxs_index_new(&dp, &e->desc_index, err);
    if (rc == PXS_OK && image_index_load(e, NULL) == PXS_OK && e->desc_index)
        rc = load_all_descriptors(e, err);
    if (rc == PXS_OK) rc = engine_refresh_index(e, err);
    if (rc == PXS_OK) rc = coll_db_open(e->data_dir, e->read_only, &e->colls, err);
    if (rc == PXS_OK) rc = engine_start_batcher(e, opts, err);
    if (rc != PXS_OK) {
        pxs_engine_close(e);
        return rc;
    }
    *out = e;
    return PXS_OK;
}

void pxs_engine_close(pxs_engine *engine) {
    if (!engine) return;
    struct pxs_err serr = {0};
    if (engine->store && engine->index && image_index_save(engine, 0, &serr) != PXS_OK)
        PXS_LOG_WARN("engine: image index file not written: %s", serr.msg);
    embed_batcher_free(engine->batcher);
    coll_db_close(engine->colls);
    pxs_index_free(engine->index);
    pxs_index_free(engine->desc_index);
    pxs_store_close(engine->store);
    pxs_embedder_close(engine->emb);
    pthread_rwlock_destroy(&engine->index_lock);
    pxs_free(engine);
}

struct coll_db *engine_coll_db(pxs_engine *engine) { return engine ? engine->colls : NULL; }

/* ---- index sync ---- */

struct load_ctx {
    pxs_index *index;
    size_t dim;
    uint64_t max_id;
    struct pxs_err *err;
    float *scratch;
};

static int load_vector(const void *key, size_t key_len, const void *val, size_t val_len,
                       void *user) {
    struct load_ctx *ctx = user;
    if (key_len != 8 || val_len != ctx->dim * sizeof(float))
        return pxs_errf(ctx->err, PXS_ECORRUPT, "vector record of %zu bytes (expected %zu)",
                        val_len, ctx->dim * sizeof(float));
    uint64_t id = pxs_store_u64_from_key(key);
    memcpy(ctx->scratch, val, val_len); /* store values need not be float-aligned */
    int rc = pxs_index_add(ctx->index, (int64_t)id, ctx->scratch, ctx->err);
    if (rc != PXS_OK) return rc;
    if (id > ctx->max_id) ctx->max_id = id;
    return 0;
}

/* Descriptors of every stored image into desc_index (after the CNN index
 * came from its file, which holds no descriptors). */
static int load_all_descriptors(pxs_engine *e, struct pxs_err *err) {
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    struct load_ctx ctx = {e->desc_index, PXS_IMAGE_DESCRIPTOR_DIM, 0, err, NULL};
    ctx.scratch = pxs_mallocarray(PXS_IMAGE_DESCRIPTOR_DIM, sizeof(float));
    uint8_t start[8];
    pxs_store_u64_key(1, start);
    pthread_rwlock_wrlock(&e->index_lock);
    if (!ctx.scratch) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    else rc = pxs_store_scan(txn, TABLE_DESC, start, 8, load_vector, &ctx, err);
    pthread_rwlock_unlock(&e->index_lock);
    pxs_free(ctx.scratch);
    pxs_store_abort(txn);
    return rc;
}

int engine_refresh_index(pxs_engine *e, struct pxs_err *err) {
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    uint64_t generation = 0, next_id = 1, deletes = 0;
    rc = meta_get_u64(txn, "generation", &generation, err);
    if (rc == PXS_OK) rc = meta_get_u64(txn, "next_id", &next_id, err);
    if (rc == PXS_OK) rc = meta_get_u64(txn, "deletes", &deletes, err);
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        return rc;
    }
    pthread_rwlock_rdlock(&e->index_lock);
    int fresh = e->loaded_generation == generation && e->loaded_next_id != 0 &&
                !image_index_want_rebuild(e);
    pthread_rwlock_unlock(&e->index_lock);
    if (fresh) {
        pxs_store_abort(txn);
        return PXS_OK;
    }

    int rebuilt = 0;
    pthread_rwlock_wrlock(&e->index_lock);
    struct load_ctx ctx = {e->index, e->dim, 0, err, NULL};
    ctx.scratch = pxs_mallocarray(e->dim > PXS_IMAGE_DESCRIPTOR_DIM ? e->dim : PXS_IMAGE_DESCRIPTOR_DIM,
                                  sizeof(float));
    if (!ctx.scratch) {
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        goto done;
    }
    uint64_t from = e->loaded_next_id;
    if (deletes != e->loaded_deletes || from == 0 || image_index_want_rebuild(e)) {
        pxs_index *fresh_index;
        uint64_t count = 0;
        rc = pxs_store_count(txn, TABLE_VECTORS, &count, err);
        if (rc == PXS_OK) rc = image_index_new(e, (size_t)count, &fresh_index, err);
        if (rc != PXS_OK) goto done;
        pxs_index_free(e->index);
        e->index = ctx.index = fresh_index;
        if (e->desc_index) {
            struct pxs_index_params dp = {.type = PXS_INDEX_FLAT, .metric = PXS_METRIC_COSINE,
                                          .dim = PXS_IMAGE_DESCRIPTOR_DIM};
            rc = pxs_index_new(&dp, &fresh_index, err);
            if (rc != PXS_OK) goto done;
            pxs_index_free(e->desc_index);
            e->desc_index = fresh_index;
        }
        from = 1;
        rebuilt = 1;
        if (count > 10000) PXS_LOG_INFO("engine: building the %s index of %llu images",
                                        pxs_index_type_name(pxs_index_get_type(e->index)),
                                        (unsigned long long)count);
    }
    uint8_t start[8];
    pxs_store_u64_key(from, start);
    rc = pxs_store_scan(txn, TABLE_VECTORS, start, 8, load_vector, &ctx, err);
    if (rc == PXS_OK && e->desc_index) {
        struct load_ctx dctx = {e->desc_index, PXS_IMAGE_DESCRIPTOR_DIM, 0, err, ctx.scratch};
        rc = pxs_store_scan(txn, TABLE_DESC, start, 8, load_vector, &dctx, err);
    }
    if (rc == PXS_OK && rebuilt && !pxs_index_is_trained(e->index)) {
        struct pxs_err terr = {0};
        if (pxs_index_train(e->index, &terr) != PXS_OK) { /* too few vectors: stays exact until trained */
        }
    }
    if (rc == PXS_OK) {
        e->loaded_generation = generation;
        e->loaded_next_id = next_id;
        e->loaded_deletes = deletes;
    } else {
        e->loaded_next_id = 0; /* force a full rebuild next time */
    }
done:
    pthread_rwlock_unlock(&e->index_lock);
    pxs_free(ctx.scratch);
    pxs_store_abort(txn);
    if (rc == PXS_OK && rebuilt && !e->read_only) {
        struct pxs_err serr = {0};
        if (image_index_save(e, 1, &serr) != PXS_OK)
            PXS_LOG_WARN("engine: image index file not written: %s", serr.msg);
    }
    return rc;
}

int engine_index_add(pxs_engine *e, const int64_t *ids, const float *vecs, const float *descs,
                     size_t n, uint64_t generation, uint64_t next_id, struct pxs_err *err) {
    int rc = PXS_OK;
    pthread_rwlock_wrlock(&e->index_lock);
    for (size_t i = 0; i < n && rc == PXS_OK; i++) {
        rc = pxs_index_add(e->index, ids[i], vecs + i * e->dim, err);
        if (rc == PXS_OK && e->desc_index && descs)
            rc = pxs_index_add(e->desc_index, ids[i], descs + i * PXS_IMAGE_DESCRIPTOR_DIM, err);
    }
    /* Only claim the new generation if the index saw every earlier one;
     * otherwise the next refresh scans in what other writers added. */
    if (rc == PXS_OK && e->loaded_generation + 1 == generation) {
        e->loaded_generation = generation;
        e->loaded_next_id = next_id;
    }
    pthread_rwlock_unlock(&e->index_lock);
    return rc;
}

int engine_index_remove(pxs_engine *e, int64_t id, uint64_t generation, uint64_t deletes) {
    pthread_rwlock_wrlock(&e->index_lock);
    int rc = pxs_index_remove(e->index, id, NULL);
    if (e->desc_index && pxs_index_remove(e->desc_index, id, NULL) != PXS_OK) {
        /* absent: the image had no descriptor (indexed by an older pixseek) */
    }
    /* As in engine_index_add: claim the counters only if the index saw every
     * earlier change, so the next refresh needs no rebuild. */
    if (generation && e->loaded_generation + 1 == generation && e->loaded_deletes + 1 == deletes) {
        e->loaded_generation = generation;
        e->loaded_deletes = deletes;
    }
    pthread_rwlock_unlock(&e->index_lock);
    return rc;
}

/* ---- read side ---- */

int engine_read_meta(pxs_store_txn *txn, int64_t id, struct pxs_image_meta *out,
                     struct pxs_err *err) {
    struct image_record rec;
    int rc = record_load(txn, id, &rec, err);
    if (rc == PXS_OK) record_to_meta(id, &rec, out);
    return rc;
}

int pxs_engine_get_meta(pxs_engine *engine, int64_t id, struct pxs_image_meta *out,
                        struct pxs_err *err) {
    pxs_store_txn *txn;
    int rc = pxs_store_begin(engine->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    rc = engine_read_meta(txn, id, out, err);
    pxs_store_abort(txn);
    if (rc == PXS_ENOTFOUND) return pxs_errf(err, PXS_ENOTFOUND, "no image with id %lld", (long long)id);
    return rc;
}

int engine_get_value(pxs_engine *e, const char *table, int64_t id, void **out, size_t *len,
                     struct pxs_err *err) {
    *out = NULL;
    *len = 0;
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    uint8_t key[8];
    pxs_store_u64_key((uint64_t)id, key);
    const void *val;
    size_t n;
    rc = pxs_store_get(txn, table, key, 8, &val, &n, err);
    if (rc == PXS_OK) {
        char *copy = pxs_malloc(n + 1);
        if (copy) {
            memcpy(copy, val, n);
            copy[n] = '\0';
            *out = copy;
            *len = n;
        } else {
            rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        }
    }
    pxs_store_abort(txn);
    return rc;
}

int pxs_engine_get_thumbnail(pxs_engine *engine, int64_t id, void **jpeg, size_t *len,
                             struct pxs_err *err) {
    int rc = engine_get_value(engine, TABLE_THUMBS, id, jpeg, len, err);
    if (rc == PXS_ENOTFOUND)
        return pxs_errf(err, PXS_ENOTFOUND, "no thumbnail for image id %lld", (long long)id);
    return rc;
}

static int engine_search_bytes(pxs_engine *engine, const void *data, size_t len,
                               const struct pxs_search_opts *opts, int64_t exclude_id,
                               struct pxs_match **matches, size_t *n_matches,
                               struct pxs_err *err);

static float score_to_distance(enum pxs_metric m, float score) {
    return m == PXS_METRIC_COSINE ? 1.0f - score : m == PXS_METRIC_IP ? -score : score;
}

static float score_to_similarity(enum pxs_metric m, float score) {
    float s;
    if (m == PXS_METRIC_L2)
        s = 1.0f - score / 4.0f; /* unit vectors: squared distance in [0, 4] */
    else
        s = score;
    return s < 0 ? 0 : s > 1 ? 1 : s;
}

#define SEARCH_MAX_K 16384
#define SEARCH_MAX_OFFSET 1000000

int engine_search_limits(const struct pxs_search_opts *opts, size_t *k, size_t *offset,
                         struct pxs_err *err) {
    *k = opts && opts->k ? opts->k : 10;
    *offset = opts ? opts->offset : 0;
    if (*k > SEARCH_MAX_K)
        return pxs_errf(err, PXS_EINVAL, "top-k %zu is over the limit of %d", *k, SEARCH_MAX_K);
    if (*offset > SEARCH_MAX_OFFSET)
        return pxs_errf(err, PXS_EINVAL, "offset %zu is over the limit of %d", *offset,
                        SEARCH_MAX_OFFSET);
    return PXS_OK;
}

int engine_page_matches(pxs_engine *e, const struct ranked_hit *hits, size_t n_hits,
                        const struct pxs_search_opts *opts, int64_t exclude_id,
                        struct pxs_match **matches, size_t *n_matches, struct pxs_err *err) {
    size_t k, offset;
    int rc = engine_search_limits(opts, &k, &offset, err);
    if (rc != PXS_OK) return rc;
    float min_sim = opts ? opts->min_similarity : 0;
    struct pxs_match *out = pxs_calloc(k, sizeof *out);
    if (!out) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    size_t n = 0, skipped = 0;
    pxs_store_txn *txn = NULL;
    rc = pxs_store_begin(e->store, 0, &txn, err);
    for (size_t i = 0; rc == PXS_OK && i < n_hits && n < k; i++) {
        if (hits[i].id == exclude_id || hits[i].similarity < min_sim) continue;
        int r = engine_read_meta(txn, hits[i].id, &out[n].meta, err);
        if (r == PXS_ENOTFOUND) continue; /* removed since the index was read */
        if (r != PXS_OK) {
            rc = r;
            break;
        }
        if (skipped < offset) {
            skipped++;
            continue;
        }
        out[n].distance = hits[i].distance;
        out[n].similarity = hits[i].similarity;
        n++;
    }
    pxs_store_abort(txn);
    if (rc != PXS_OK) {
        pxs_free(out);
        return rc;
    }
    *matches = out;
    *n_matches = n;
    return PXS_OK;
}

static int search_vector(pxs_engine *e, const float *vec, const struct pxs_search_opts *opts,
                         const struct image_filter *f, int64_t exclude_id,
                         struct pxs_match **matches, size_t *n_matches, struct pxs_err *err) {
    size_t k, offset;
    int rc = engine_search_limits(opts, &k, &offset, err);
    if (rc != PXS_OK) return rc;
    size_t want = offset + k + (exclude_id ? 1 : 0);
    struct pxs_hit *hits = pxs_mallocarray(want, sizeof *hits);
    struct ranked_hit *ranked = pxs_mallocarray(want, sizeof *ranked);
    if (!hits || !ranked) {
        pxs_free(hits);
        pxs_free(ranked);
        return pxs_errf(err, PXS_ENOMEM, "out of memory");
    }
    size_t n_hits = 0;
    struct pxs_search_params sp;
    engine_filter_params(f, &sp);
    if (!f || !f->active || f->n > 0) {
        pthread_rwlock_rdlock(&e->index_lock);
        rc = pxs_index_search_ex(e->index, vec, want, &sp, hits, &n_hits, err);
        pthread_rwlock_unlock(&e->index_lock);
    }
    for (size_t i = 0; rc == PXS_OK && i < n_hits; i++) {
        ranked[i].id = hits[i].id;
        ranked[i].distance = score_to_distance(e->metric, hits[i].score);
        ranked[i].similarity = score_to_similarity(e->metric, hits[i].score);
    }
    pxs_free(hits);
    if (rc == PXS_OK)
        rc = engine_page_matches(e, ranked, n_hits, opts, exclude_id, matches, n_matches, err);
    pxs_free(ranked);
    return rc;
}

int engine_search_vector(pxs_engine *e, const float *vec, const struct pxs_search_opts *opts,
                         struct pxs_match **matches, size_t *n_matches, struct pxs_err *err) {
    struct image_filter f = {0};
    int rc = engine_filter_build(e, opts ? opts->filter : NULL, &f, err);
    if (rc == PXS_OK) rc = search_vector(e, vec, opts, &f, 0, matches, n_matches, err);
    engine_filter_free(&f);
    return rc;
}

int pxs_engine_search_image(pxs_engine *engine, const void *data, size_t len,
                            const struct pxs_search_opts *opts, struct pxs_match **matches,
                            size_t *n_matches, struct pxs_err *err) {
    return engine_search_bytes(engine, data, len, opts, 0, matches, n_matches, err);
}

/* Search with image bytes, leaving out exclude_id (0 = none). */
static int engine_search_bytes(pxs_engine *engine, const void *data, size_t len,
                               const struct pxs_search_opts *opts, int64_t exclude_id,
                               struct pxs_match **matches, size_t *n_matches,
                               struct pxs_err *err) {
    *matches = NULL;
    *n_matches = 0;
    if (!data || len == 0) return pxs_errf(err, PXS_EINVAL, "empty image");
    int rc = engine_refresh_index(engine, err);
    if (rc != PXS_OK) return rc;
    struct image_filter f;
    rc = engine_filter_build(engine, opts ? opts->filter : NULL, &f, err);
    if (rc != PXS_OK) return rc;
    if (opts && opts->near_duplicate && !engine->emb->builtin) {
        rc = engine_search_near_duplicate(engine, data, len, opts, &f, exclude_id, matches,
                                          n_matches, err);
        engine_filter_free(&f);
        return rc;
    }
    float *vec = pxs_mallocarray(engine->dim, sizeof(float));
    if (!vec) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    if (rc == PXS_OK) rc = engine_embed_query(engine, data, len, vec, err);
    if (rc == PXS_OK) rc = search_vector(engine, vec, opts, &f, exclude_id, matches, n_matches, err);
    pxs_free(vec);
    engine_filter_free(&f);
    return rc;
}

int pxs_engine_search_id(pxs_engine *engine, int64_t id, const struct pxs_search_opts *opts,
                         struct pxs_match **matches, size_t *n_matches, struct pxs_err *err) {
    *matches = NULL;
    *n_matches = 0;
    if (opts && opts->near_duplicate && !engine->emb->builtin) {
        void *data;
        size_t len;
        int rc = pxs_engine_get_original(engine, id, &data, &len, NULL, err);
        if (rc != PXS_OK) return rc;
        rc = engine_search_bytes(engine, data, len, opts, id, matches, n_matches, err);
        pxs_free(data);
        return rc;
    }
    int rc = engine_refresh_index(engine, err);
    if (rc != PXS_OK) return rc;
    float *vec = pxs_mallocarray(engine->dim, sizeof(float));
    if (!vec) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    pxs_store_txn *txn;
    rc = pxs_store_begin(engine->store, 0, &txn, err);
    if (rc == PXS_OK) {
        int found = engine_load_vector(txn, TABLE_VECTORS, id, vec, engine->dim, err);
        pxs_store_abort(txn);
        if (found == 0) rc = pxs_errf(err, PXS_ENOTFOUND, "no image with id %lld", (long long)id);
        else if (found < 0) rc = found;
    }
    struct image_filter f = {0};
    if (rc == PXS_OK) rc = engine_filter_build(engine, opts ? opts->filter : NULL, &f, err);
    if (rc == PXS_OK) rc = search_vector(engine, vec, opts, &f, id, matches, n_matches, err);
    engine_filter_free(&f);
    pxs_free(vec);
    return rc;
}

int pxs_engine_search_file(pxs_engine *engine, const char *path,
                           const struct pxs_search_opts *opts, struct pxs_match **matches,
                           size_t *n_matches, struct pxs_err *err) {
    *matches = NULL;
    *n_matches = 0;
    char *data;
    size_t len;
    int rc = pxs_file_read_all(path, PXS_ENGINE_MAX_FILE_BYTES, &data, &len, err);
    if (rc != PXS_OK) return rc;
    rc = pxs_engine_search_image(engine, data, len, opts, matches, n_matches, err);
    pxs_free(data);
    return rc;
}

int pxs_engine_stats(pxs_engine *engine, struct pxs_engine_stats *out, struct pxs_err *err) {
    memset(out, 0, sizeof *out);
    pxs_store_txn *txn;
    int rc = pxs_store_begin(engine->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    rc = pxs_store_count(txn, TABLE_IMAGES, &out->images, err);
    pxs_store_abort(txn);
    if (rc != PXS_OK) return rc;
    out->dim = engine->dim;
    snprintf(out->embedder, sizeof out->embedder, "%s", pxs_embedder_name(engine->emb));
    snprintf(out->metric, sizeof out->metric, "%s", pxs_metric_name(engine->metric));
    snprintf(out->kernel, sizeof out->kernel, "%s", pxs_dist_kernel_name());
    snprintf(out->precision, sizeof out->precision, "%s", pxs_embedder_precision(engine->emb));
    snprintf(out->precision_default, sizeof out->precision_default, "%s",
             engine->precision_stored[0] ? engine->precision_stored : "fp32");
    pthread_rwlock_rdlock(&engine->index_lock);
    out->index_bytes = pxs_index_memory(engine->index);
    snprintf(out->index_type, sizeof out->index_type, "%s",
             pxs_index_type_name(pxs_index_get_type(engine->index)));
    if (engine->batcher) {
        struct embed_batcher_stats bs;
        embed_batcher_stats(engine->batcher, &bs);
        out->query_embeddings = bs.items;
        out->query_batches = bs.batches;
        out->query_decode_ns = bs.decode_ns;
        out->query_wait_ns = bs.wait_ns;
        out->query_model_ns = bs.model_ns;
    }
    pthread_rwlock_unlock(&engine->index_lock);
    return PXS_OK;
}

/* ---- image collections ---- */

int pxs_collection_name_check(const char *name, struct pxs_err *err) {
    size_t n = name ? strlen(name) : 0;
    int ok = n >= 1 && n <= PXS_COLLECTION_NAME_MAX && name[0] != '.' && name[0] != '-';
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || c == '.';
    }
    if (ok) return PXS_OK;
    return pxs_errf(err, PXS_EINVAL,
                    "collection name \"%s\" must be 1 to %d letters, digits, '_', '-' or '.' "
                    "(not starting with '.' or '-')",
                    name ? name : "", PXS_COLLECTION_NAME_MAX);
}

/* Describe the collection whose store is root/store; found = 0 if none. */
static int describe_collection(const char *root, const char *name, struct pxs_collection_info *ci,
                               int *found, struct pxs_err *err) {
    char store_dir[4600];
    struct stat st;
    *found = 0;
    snprintf(store_dir, sizeof store_dir, "%s/store", root);
    if (stat(store_dir, &st) != 0 || !S_ISDIR(st.st_mode)) return PXS_OK;
    memset(ci, 0, sizeof *ci);
    snprintf(ci->name, sizeof ci->name, "%s", name);
    pxs_store *store;
    struct pxs_store_opts so = {.read_only = 1};
    int rc = pxs_store_open(store_dir, &so, &store, err);
    if (rc != PXS_OK) return rc;
    pxs_store_txn *txn;
    rc = pxs_store_begin(store, 0, &txn, err);
    if (rc == PXS_OK) {
        uint64_t dim = 0;
        int r = meta_get_str(txn, "embedder", ci->embedder, sizeof ci->embedder, err);
        if (r == PXS_OK) r = meta_get_str(txn, "metric", ci->metric, sizeof ci->metric, err);
        if (r == PXS_OK) r = meta_get_u64(txn, "dim", &dim, err);
        if (r == PXS_OK) {
            r = meta_get_str(txn, "model_path", ci->model_path, sizeof ci->model_path, err);
            if (r == PXS_ENOTFOUND) r = PXS_OK;
        }
        if (r == PXS_OK) r = pxs_store_count(txn, TABLE_IMAGES, &ci->images, err);
        ci->dim = (size_t)dim;
        if (r == PXS_OK) *found = 1;
        else if (r != PXS_ENOTFOUND) rc = r; /* a store never initialised is skipped */
        pxs_store_abort(txn);
    }
    pxs_store_close(store);
    return rc;
}

static int by_collection_name(const void *a, const void *b) {
    return strcmp(((const struct pxs_collection_info *)a)->name,
                  ((const struct pxs_collection_info *)b)->name);
}

int pxs_engine_list_collections(const char *data_dir, struct pxs_collection_info **out,
                                size_t *n, struct pxs_err *err) {
    *out = NULL;
    *n = 0;
    size_t cap = 8, count = 0;
    struct pxs_collection_info *list = pxs_calloc(cap, sizeof *list);
    if (!list) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    int found = 0;
    int rc = describe_collection(data_dir, PXS_COLLECTION_DEFAULT, &list[0], &found, err);
    if (rc == PXS_OK && found) count++;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/collections", data_dir);
    DIR *d = rc == PXS_OK ? opendir(dir) : NULL;
    size_t first_named = count;
    for (struct dirent *de; d && rc == PXS_OK && (de = readdir(d)) != NULL;) {
        if (pxs_collection_name_check(de->d_name, NULL) != PXS_OK) continue;
        if (count == cap) {
            struct pxs_collection_info *p = pxs_realloc(list, 2 * cap * sizeof *p);
            if (!p) {
                rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
                break;
            }
            list = p;
            cap *= 2;
        }
        char root[4200 + 260];
        snprintf(root, sizeof root, "%s/%s", dir, de->d_name);
        rc = describe_collection(root, de->d_name, &list[count], &found, err);
        if (rc == PXS_OK && found) count++;
    }
    if (d) closedir(d);
    if (rc != PXS_OK) {
        pxs_free(list);
        return rc;
    }
    qsort(list + first_named, count - first_named, sizeof *list, by_collection_name);
    *out = list;
    *n = count;
    return PXS_OK;
}
