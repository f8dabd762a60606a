/*
 * ingest.c — index a folder: walk, then for each batch of files
 *   1. in parallel (one worker per CPU): read, hash, look up the content
 *      hash and path in the store, sniff, decode, embed, make a thumbnail;
 *   2. in one write transaction: assign ids, write the records, commit
 *      (durable), then add the vectors to the in-memory index;
 *   3. report every file's outcome in walk order. ADDED is reported only
 *      after the commit, so an acknowledged image survives kill -9.
 * Re-running skips files whose content is already indexed (content hash);
 * a path whose content changed is re-embedded and its old entry removed.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum item_state { ITEM_PENDING, ITEM_TO_ADD, ITEM_UNCHANGED, ITEM_DUPLICATE, ITEM_FAILED };

struct item {
    const char *path;
    enum item_state state;
    int code;
    char reason[256];
    int64_t id;             /* assigned or existing id */
    int64_t replaced_id;    /* previous id of this path whose content changed, or 0 */
    struct image_record rec;
    float *vec;             /* engine->dim floats */
    float *tensor;          /* model input (ONNX embedders), NULL for the built-in */
    float desc[PXS_IMAGE_DESCRIPTOR_DIM]; /* built-in descriptor (ONNX embedders) */
    void *thumb;
    size_t thumb_len;
};

struct batch {
    pxs_engine *engine;
    struct item *items;
    size_t n;
    _Atomic size_t next;
};

static void fail_item(struct item *it, int code, const char *reason) {
    it->state = ITEM_FAILED;
    it->code = code;
    snprintf(it->reason, sizeof it->reason, "%s", reason);
}

static int lookup_id(pxs_store_txn *txn, const char *table, const uint8_t key[PXS_HASH_BYTES],
                     int64_t *id, struct pxs_err *err) {
    const void *val;
    size_t len;
    int rc = pxs_store_get(txn, table, key, PXS_HASH_BYTES, &val, &len, err);
    if (rc != PXS_OK) return rc;
    if (len != 8) return pxs_errf(err, PXS_ECORRUPT, "%s entry has %zu bytes", table, len);
    *id = (int64_t)pxs_store_u64_from_key(val);
    return PXS_OK;
}

/* Decide whether the file is new, unchanged or a duplicate, against what is
 * committed. Sets it->replaced_id when this path held other content. */
static int classify(pxs_store_txn *txn, struct item *it, struct pxs_err *err) {
    int64_t id;
    uint8_t pkey[PXS_HASH_BYTES];
    path_key(it->path, pkey);
    int rc = lookup_id(txn, TABLE_BY_HASH, it->rec.hash, &id, err);
    if (rc == PXS_OK) {
        int64_t path_id = 0;
        int prc = lookup_id(txn, TABLE_BY_PATH, pkey, &path_id, err);
        if (prc != PXS_OK && prc != PXS_ENOTFOUND) return prc;
        it->id = id;
        it->state = (prc == PXS_OK && path_id == id) ? ITEM_UNCHANGED : ITEM_DUPLICATE;
        return PXS_OK;
    }
    if (rc != PXS_ENOTFOUND) return rc;
    rc = lookup_id(txn, TABLE_BY_PATH, pkey, &id, err);
    if (rc == PXS_OK) it->replaced_id = id;
    else if (rc != PXS_ENOTFOUND) return rc;
    return PXS_OK;
}

/* Decode once for the thumbnail (and the built-in descriptor); ONNX
 * embedders also get their model input, embedded later per batch. */
static int prepare_item(pxs_engine *e, const void *data, size_t len, struct item *it,
                        struct pxs_image_info *info, struct pxs_err *err) {
    if (it->tensor) {
        int rc = embedder_preprocess(e->emb, data, len, it->tensor, info, err);
        if (rc != PXS_OK) return rc;
    }
    struct pxs_image img = {0};
    struct pxs_image_decode_opts opts = {.max_side = THUMB_SIDE};
    int rc = pxs_image_decode(data, len, &opts, &img, it->tensor ? NULL : info, err);
    if (rc == PXS_OK) rc = pxs_image_descriptor(&img, it->tensor ? it->desc : it->vec, err);
    if (rc == PXS_OK) rc = pxs_image_encode_jpeg(&img, THUMB_QUALITY, &it->thumb, &it->thumb_len, err);
    pxs_image_free(&img);
    return rc;
}

/* Run the model over the batch's new images in one call (ONNX embedders).
 * Tensors of items to add are packed to the front first. */
static int embed_batch(pxs_engine *e, struct item *items, size_t n, float *tensors,
                       float *packed_vecs, struct pxs_err *err) {
    size_t per = embedder_tensor_floats(e->emb);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (items[i].state != ITEM_TO_ADD) continue;
        if (items[i].tensor != tensors + (size_t)count * per)
            memmove(tensors + (size_t)count * per, items[i].tensor, per * sizeof(float));
        items[i].tensor = NULL; /* its slot may now hold another item's input */
        count++;
    }
    int rc = embedder_run_batch(e->emb, tensors, count, packed_vecs, err);
    if (rc != PXS_OK) return rc;
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (items[i].state == ITEM_TO_ADD)
            memcpy(items[i].vec, packed_vecs + (size_t)(k++) * e->dim, e->dim * sizeof(float));
    return PXS_OK;
}

static void process_item(pxs_engine *e, struct item *it) {
    struct pxs_err err;
    pxs_err_clear(&err);
    struct stat st;
    if (stat(it->path, &st) != 0) {
        fail_item(it, PXS_EIO, strerror(errno));
        return;
    }
    if (st.st_size == 0) {
        fail_item(it, PXS_EINVAL, "empty file (0 bytes)");
        return;
    }
    char *data;
    size_t len;
    int rc = pxs_file_read_all(it->path, PXS_ENGINE_MAX_FILE_BYTES, &data, &len, &err);
    if (rc != PXS_OK) {
        /* The message repeats the path; keep only the reason after it. */
        const char *msg = pxs_err_message(&err, rc);
        const char *colon = strstr(msg, ": ");
        fail_item(it, rc, rc == PXS_EPERM && colon ? colon + 2 : msg);
        return;
    }
    pxs_hash128(data, len, it->rec.hash);
    it->rec.size = len;
    it->rec.mtime = (int64_t)st.st_mtime;

    pxs_store_txn *txn;
    rc = pxs_store_begin(e->store, 0, &txn, &err);
    if (rc == PXS_OK) {
        rc = classify(txn, it, &err);
        pxs_store_abort(txn);
    }
    if (rc != PXS_OK) {
        fail_item(it, rc, pxs_err_message(&err, rc));
    } else if (it->state == ITEM_PENDING) {
        enum pxs_image_format fmt = pxs_image_sniff(data, len);
        if (fmt == PXS_IMAGE_UNKNOWN) {
            fail_item(it, PXS_EUNSUPPORTED, "not an image (unrecognised file signature)");
        } else {
            struct pxs_image_info info;
            rc = prepare_item(e, data, len, it, &info, &err);
            if (rc != PXS_OK) {
                fail_item(it, rc, pxs_err_message(&err, rc));
            } else {
                it->state = ITEM_TO_ADD;
                it->rec.width = info.width;
                it->rec.height = info.height;
                snprintf(it->rec.format, sizeof it->rec.format, "%s",
                         pxs_image_format_name(info.format));
            }
        }
    }
    pxs_free(data);
}

static void *worker_main(void *arg) {
    struct batch *b = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        if (i >= b->n) break;
        process_item(b->engine, &b->items[i]);
    }
    return NULL;
}

static int worker_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

static void process_parallel(struct batch *b) {
    int n_workers = worker_count();
    if ((size_t)n_workers > b->n) n_workers = (int)b->n;
    pthread_t threads[16];
    int started = 0;
    for (int i = 1; i < n_workers; i++) {
        if (pthread_create(&threads[started], NULL, worker_main, b) != 0) break;
        started++;
    }
    worker_main(b); /* the calling thread works too */
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
}

int engine_remove_image(pxs_store_txn *txn, int64_t id, struct pxs_err *err) {
    struct image_record old;
    int rc = record_load(txn, id, &old, err);
    if (rc != PXS_OK) return rc;
    uint8_t key[8];
    pxs_store_u64_key((uint64_t)id, key);
    uint8_t hash[PXS_HASH_BYTES];
    memcpy(hash, old.hash, sizeof hash);
    rc = pxs_store_del(txn, TABLE_BY_HASH, hash, sizeof hash, err);
    if (rc == PXS_OK || rc == PXS_ENOTFOUND) rc = pxs_store_del(txn, TABLE_VECTORS, key, 8, err);
    if (rc == PXS_OK || rc == PXS_ENOTFOUND) rc = pxs_store_del(txn, TABLE_THUMBS, key, 8, err);
    if (rc == PXS_OK || rc == PXS_ENOTFOUND) rc = pxs_store_del(txn, TABLE_DESC, key, 8, err);
    if (rc == PXS_OK || rc == PXS_ENOTFOUND) rc = pxs_store_del(txn, TABLE_IMAGES, key, 8, err);
    return rc == PXS_ENOTFOUND ? PXS_OK : rc;
}

static int write_image(pxs_store_txn *txn, struct item *it, size_t dim, int with_desc,
                       struct pxs_buf *scratch, struct pxs_err *err) {
    uint8_t key[8], pkey[PXS_HASH_BYTES];
    pxs_store_u64_key((uint64_t)it->id, key);
    path_key(it->path, pkey);
    pxs_buf_reset(scratch);
    it->rec.path = it->path;
    it->rec.path_len = strlen(it->path);
    int rc = record_encode(&it->rec, scratch);
    if (rc != PXS_OK) return pxs_errf(err, rc, "cannot encode record for %s", it->path);
    rc = pxs_store_put(txn, TABLE_IMAGES, key, 8, scratch->data, scratch->len, err);
    if (rc == PXS_OK) rc = pxs_store_put(txn, TABLE_VECTORS, key, 8, it->vec, dim * sizeof(float), err);
    if (rc == PXS_OK) rc = pxs_store_put(txn, TABLE_THUMBS, key, 8, it->thumb, it->thumb_len, err);
    if (rc == PXS_OK && with_desc)
        rc = pxs_store_put(txn, TABLE_DESC, key, 8, it->desc, sizeof it->desc, err);
    if (rc == PXS_OK) rc = pxs_store_put(txn, TABLE_BY_HASH, it->rec.hash, PXS_HASH_BYTES, key, 8, err);
    if (rc == PXS_OK) rc = pxs_store_put(txn, TABLE_BY_PATH, pkey, PXS_HASH_BYTES, key, 8, err);
    return rc;
}

/* Remember an exact copy (for `pixseek dups`): path -> id of the original. */
static int write_copy(pxs_store_txn *txn, const struct item *it, struct pxs_buf *scratch,
                      struct pxs_err *err) {
    uint8_t pkey[PXS_HASH_BYTES], id[8];
    path_key(it->path, pkey);
    pxs_store_u64_key((uint64_t)it->id, id);
    pxs_buf_reset(scratch);
    int rc = pxs_buf_append(scratch, id, 8);
    if (rc == PXS_OK) rc = pxs_buf_append(scratch, it->path, strlen(it->path));
    if (rc != PXS_OK) return pxs_errf(err, rc, "cannot record copy %s", it->path);
    return pxs_store_put(txn, TABLE_COPIES, pkey, sizeof pkey, scratch->data, scratch->len, err);
}

/* Write every ITEM_TO_ADD of the batch in one transaction and commit.
 * Re-checks the hash inside the write transaction: a duplicate may have
 * been committed by another writer, or appear twice in this batch. */
static int commit_batch(pxs_engine *e, struct batch *b, uint64_t *generation, uint64_t *next_id_out,
                        struct pxs_err *err) {
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 1, &txn, err);
    if (rc != PXS_OK) return rc;
    uint64_t next_id = 0, gen = 0, deletes = 0;
    rc = meta_get_u64(txn, "next_id", &next_id, err);
    if (rc == PXS_OK) rc = meta_get_u64(txn, "generation", &gen, err);
    if (rc == PXS_OK) rc = meta_get_u64(txn, "deletes", &deletes, err);
    struct pxs_buf scratch;
    pxs_buf_init(&scratch, 1 << 20);
    int wrote = 0, removed = 0;
    for (size_t i = 0; rc == PXS_OK && i < b->n; i++) {
        struct item *it = &b->items[i];
        if (it->state == ITEM_TO_ADD) {
            it->replaced_id = 0;
            rc = classify(txn, it, err);
            if (rc != PXS_OK) break;
        }
        if (it->state == ITEM_DUPLICATE) {
            rc = write_copy(txn, it, &scratch, err);
            continue;
        }
        if (it->state != ITEM_TO_ADD) continue;
        if (it->replaced_id) {
            rc = engine_remove_image(txn, it->replaced_id, err);
            if (rc != PXS_OK) break;
            removed = 1;
        }
        it->id = (int64_t)next_id++;
        rc = write_image(txn, it, e->dim, e->desc_index != NULL, &scratch, err);
        wrote = 1;
    }
    pxs_buf_free(&scratch);
    if (rc == PXS_OK && (wrote || removed)) {
        gen++;
        rc = meta_put_u64(txn, "next_id", next_id, err);
        if (rc == PXS_OK) rc = meta_put_u64(txn, "generation", gen, err);
        if (rc == PXS_OK && removed) rc = meta_put_u64(txn, "deletes", deletes + 1, err);
    }
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        return rc;
    }
    rc = pxs_store_commit(txn, err);
    *generation = gen;
    *next_id_out = next_id;
    return rc;
}

/* Make the in-memory index reflect a committed batch. */
static int publish_batch(pxs_engine *e, struct batch *b, uint64_t generation, uint64_t next_id,
                         struct pxs_err *err) {
    int rc = PXS_OK;
    int any_removed = 0;
    for (size_t i = 0; i < b->n && rc == PXS_OK; i++) {
        struct item *it = &b->items[i];
        if (it->state != ITEM_TO_ADD) continue;
        if (it->replaced_id) {
            engine_index_remove(e, it->replaced_id);
            any_removed = 1;
        }
        rc = engine_index_add(e, &it->id, it->vec, it->desc, 1, 0, 0, err);
    }
    if (rc != PXS_OK) return rc;
    /* Claim the generation only when nothing else could have happened in
     * between; engine_index_add checks loaded_generation + 1 == generation. */
    if (!any_removed) rc = engine_index_add(e, NULL, NULL, NULL, 0, generation, next_id, err);
    return rc;
}

struct walk_report {
    const struct pxs_ingest_opts *opts;
    struct pxs_ingest_summary *summary;
    int canceled;
};

static void on_walk_error(const char *path, int code, const char *reason, void *user) {
    struct walk_report *wr = user;
    wr->summary->failed++;
    if (!wr->opts->on_event) return;
    struct pxs_ingest_event ev = {PXS_INGEST_FAILED, path, 0, code, reason, 0, 0};
    if (wr->opts->on_event(&ev, wr->opts->user)) wr->canceled = 1;
}

int pxs_engine_ingest(pxs_engine *engine, const char *dir, const struct pxs_ingest_opts *opts,
                      struct pxs_ingest_summary *summary, struct pxs_err *err) {
    static const struct pxs_ingest_opts default_opts;
    if (!opts) opts = &default_opts;
    struct pxs_ingest_summary local_summary;
    if (!summary) summary = &local_summary;
    memset(summary, 0, sizeof *summary);
    if (engine->read_only) return pxs_errf(err, PXS_EPERM, "engine was opened read-only");
    double t0 = pxs_now_seconds();

    struct walk_report wr = {opts, summary, 0};
    struct walk_list list;
    int rc = walk_collect(dir, opts->follow_symlinks, &list, on_walk_error, &wr, err);
    if (rc != PXS_OK) return rc;
    summary->files = list.count;
    rc = engine_ingest_paths(engine, list.paths, list.count, opts, summary, wr.canceled, err);
    walk_list_free(&list);
    summary->seconds = pxs_now_seconds() - t0;
    return rc;
}

int engine_ingest_paths(pxs_engine *engine, char *const *paths, size_t count,
                        const struct pxs_ingest_opts *opts, struct pxs_ingest_summary *summary,
                        int canceled, struct pxs_err *err) {
    struct walk_report wr = {opts, summary, canceled};
    int rc = PXS_OK;
    size_t batch_size = opts->batch_size > 0 ? (size_t)opts->batch_size : 32;
    struct item *items = pxs_calloc(batch_size, sizeof *items);
    float *vecs = pxs_mallocarray(batch_size * engine->dim, sizeof(float));
    size_t per_tensor = embedder_tensor_floats(engine->emb);
    float *tensors = per_tensor ? pxs_mallocarray(batch_size * per_tensor, sizeof(float)) : NULL;
    float *packed = per_tensor ? pxs_mallocarray(batch_size * engine->dim, sizeof(float)) : NULL;
    if (!items || !vecs || (per_tensor && (!tensors || !packed))) {
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        goto out;
    }
    rc = engine_refresh_index(engine, err);
    uint64_t done = 0;
    for (size_t start = 0; rc == PXS_OK && !wr.canceled && start < count; start += batch_size) {
        size_t n = count - start < batch_size ? count - start : batch_size;
        memset(items, 0, n * sizeof *items);
        for (size_t i = 0; i < n; i++) {
            items[i].path = paths[start + i];
            items[i].vec = vecs + i * engine->dim;
            items[i].tensor = tensors ? tensors + i * per_tensor : NULL;
        }
        struct batch b = {engine, items, n, 0};
        process_parallel(&b);
        uint64_t generation = 0, next_id = 0;
        if (tensors) rc = embed_batch(engine, items, n, tensors, packed, err);
        if (rc == PXS_OK) rc = commit_batch(engine, &b, &generation, &next_id, err);
        if (rc == PXS_OK) rc = publish_batch(engine, &b, generation, next_id, err);
        for (size_t i = 0; i < n; i++) {
            struct item *it = &items[i];
            pxs_free(it->thumb);
            it->thumb = NULL;
            if (rc != PXS_OK) continue; /* nothing of this batch is acknowledged */
            struct pxs_ingest_event ev = {0};
            ev.path = it->path;
            ev.id = it->id;
            ev.done = ++done;
            ev.total = count;
            switch (it->state) {
            case ITEM_TO_ADD: ev.kind = PXS_INGEST_ADDED; summary->added++; break;
            case ITEM_UNCHANGED: ev.kind = PXS_INGEST_UNCHANGED; summary->unchanged++; break;
            case ITEM_DUPLICATE: ev.kind = PXS_INGEST_DUPLICATE; summary->duplicates++; break;
            default:
                ev.kind = PXS_INGEST_FAILED;
                ev.code = it->code;
                ev.reason = it->reason;
                summary->failed++;
                break;
            }
            if (opts->on_event && !wr.canceled && opts->on_event(&ev, opts->user)) wr.canceled = 1;
        }
    }
    if (rc == PXS_OK && wr.canceled) rc = pxs_errf(err, PXS_ECANCELED, "ingest cancelled");
out:
    pxs_free(items);
    pxs_free(vecs);
    pxs_free(tensors);
    pxs_free(packed);
    return rc;
}
