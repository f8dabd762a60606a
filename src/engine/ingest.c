/*
 * ingest.c — index a folder as a three-stage pipeline over a bounded ring
 * of item slots (RING_BATCHES batches), so memory does not grow with the
 * collection:
 *   walker thread   streams file paths (walk.c) into free slots, in walk
 *                   order; it blocks while the ring is full;
 *   prepare workers (one per CPU) claim walked slots in order and read,
 *                   hash, classify against the store, sniff, decode with
 *                   shrink-on-load, compute the model input, the built-in
 *                   descriptor and the thumbnail;
 *   committer       (the calling thread) takes the ring one batch at a time
 *                   once every slot of it is prepared, runs the model over
 *                   the batch, writes it in one transaction and commits
 *                   (durable), adds the vectors to the in-memory index, and
 *                   reports every file's outcome in walk order. ADDED is
 *                   reported only after the commit, so an acknowledged image
 *                   survives kill -9.
 * The workers keep preparing the next batches while the model runs on
 * this one (decode and inference overlap). With --store-originals the
 * workers also write each new file's blob (blob.c), made durable by one
 * syncfs before the batch's records commit. Tags given to the run are
 * merged into every image it adds or finds (tags.c).
 * Re-running skips files whose content is already indexed (content hash);
 * a path whose content changed is re-embedded, inherits the old entry's
 * tags, and the old entry is removed.
 */
#include "engine_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum item_state { ITEM_PENDING, ITEM_TO_ADD, ITEM_UNCHANGED, ITEM_DUPLICATE, ITEM_FAILED };

struct item {
    char *path;             /* owned (pxs_strdup by the walker) */
    int from_walk;          /* failure reported by the walk (unreadable directory, loop) */
    enum item_state state;
    int code;
    char reason[256];
    int64_t id;             /* assigned or existing id */
    int64_t replaced_id;    /* previous id of this path whose content changed, or 0 */
    uint8_t replaced_hash[PXS_HASH_BYTES]; /* its content hash */
    int replaced_blob;      /* its original was in the blob store */
    struct image_record rec;
    float *vec;             /* engine->dim floats */
    float *tensor;          /* model input (ONNX embedders), NULL for the built-in */
    float desc[PXS_IMAGE_DESCRIPTOR_DIM]; /* built-in descriptor (ONNX embedders) */
    void *thumb;
    size_t thumb_len;
};

/* A run of consecutive items (in walk order) committed together. */
struct batch {
    struct item *items;
    size_t n;
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

/* Decode once. ONNX embedders: the model input (embedded later per batch)
 * and, from the same pixels, the preview that gives the thumbnail and the
 * built-in descriptor. Built-in embedder: the descriptor is the vector. */
static int prepare_item(pxs_engine *e, const void *data, size_t len, struct item *it,
                        struct pxs_image_info *info, struct pxs_err *err) {
    struct pxs_image img = {0};
    int rc;
    if (it->tensor) {
        rc = embedder_preprocess_preview(e->emb, data, len, it->tensor, THUMB_SIDE, &img, info, err);
    } else {
        struct pxs_image_decode_opts opts = {.max_side = THUMB_SIDE};
        rc = pxs_image_decode(data, len, &opts, &img, info, err);
    }
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

static void process_item(pxs_engine *e, int store_originals, struct item *it) {
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
            if (rc == PXS_OK && store_originals) {
                rc = engine_blob_write(e, it->rec.hash, data, len, &err);
                it->rec.flags |= RECORD_FLAG_BLOB;
            }
            if (rc != PXS_OK) {
                fail_item(it, rc, pxs_err_message(&err, rc));
            } else {
                it->state = ITEM_TO_ADD;
                it->rec.width = info.width;
                it->rec.height = info.height;
                snprintf(it->rec.format, sizeof it->rec.format, "%s",
                         pxs_image_format_name(info.format));
                memcpy(it->rec.exif_date, info.exif_date, sizeof it->rec.exif_date);
                memcpy(it->rec.camera_make, info.camera_make, sizeof it->rec.camera_make);
                memcpy(it->rec.camera_model, info.camera_model, sizeof it->rec.camera_model);
            }
        }
    }
    pxs_free(data);
}

int engine_remove_image(pxs_store_txn *txn, int64_t id, uint8_t hash[PXS_HASH_BYTES],
                        int *had_blob, struct pxs_err *err) {
    struct image_record old;
    int rc = record_load(txn, id, &old, err);
    if (rc != PXS_OK) return rc;
    uint8_t key[8], pkey[PXS_HASH_BYTES];
    pxs_store_u64_key((uint64_t)id, key);
    memcpy(hash, old.hash, PXS_HASH_BYTES);
    *had_blob = (old.flags & RECORD_FLAG_BLOB) != 0;
    pxs_hash128(old.path, old.path_len, pkey); /* = path_key of the NUL-terminated path */
    int64_t path_id = 0;
    rc = lookup_id(txn, TABLE_BY_PATH, pkey, &path_id, err);
    if (rc == PXS_OK && path_id == id) rc = pxs_store_del(txn, TABLE_BY_PATH, pkey, sizeof pkey, err);
    if (rc == PXS_OK || rc == PXS_ENOTFOUND) rc = pxs_store_del(txn, TABLE_BY_HASH, hash, PXS_HASH_BYTES, err);
    const char *tables[] = {TABLE_VECTORS, TABLE_THUMBS, TABLE_DESC, TABLE_TAGS, TABLE_IMAGES};
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++)
        if (rc == PXS_OK || rc == PXS_ENOTFOUND) rc = pxs_store_del(txn, tables[i], key, 8, err);
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
static int commit_batch(pxs_engine *e, struct batch *b, const char *const *tags, size_t n_tags,
                        uint64_t *generation, uint64_t *next_id_out, struct pxs_err *err) {
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
            if (rc == PXS_OK) rc = engine_tags_merge(txn, it->id, tags, n_tags, err);
            continue;
        }
        if (it->state == ITEM_UNCHANGED) rc = engine_tags_merge(txn, it->id, tags, n_tags, err);
        if (it->state != ITEM_TO_ADD) continue;
        it->id = (int64_t)next_id++;
        if (it->replaced_id) {
            int had_blob = 0;
            rc = engine_tags_move(txn, it->replaced_id, it->id, err);
            if (rc == PXS_OK) rc = engine_remove_image(txn, it->replaced_id, it->replaced_hash, &had_blob, err);
            if (rc != PXS_OK) break;
            it->replaced_blob = had_blob;
            removed = 1;
        }
        rc = write_image(txn, it, e->dim, e->desc_index != NULL, &scratch, err);
        if (rc == PXS_OK) rc = engine_tags_merge(txn, it->id, tags, n_tags, err);
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
            engine_index_remove(e, it->replaced_id, 0, 0);
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

/* ---- the pipeline ---- */

#define RING_BATCHES 3
#define MAX_WORKERS 16

enum slot_state { SLOT_FREE, SLOT_WALKED, SLOT_CLAIMED, SLOT_READY };

struct pipeline {
    pxs_engine *engine;
    const struct pxs_ingest_opts *opts;
    size_t batch_size, cap; /* cap = RING_BATCHES * batch_size slots */
    struct item *items;     /* ring; item of sequence number s is items[s % cap] */
    enum slot_state *state;
    float *vecs, *tensors, *packed;
    size_t per_tensor;

    pthread_mutex_t mu;
    pthread_cond_t cv_space; /* walker: a slot was released */
    pthread_cond_t cv_work;  /* workers: a slot was walked, or the end */
    pthread_cond_t cv_ready; /* committer: a slot is ready, or the walk ended */
    uint64_t walked;   /* slots handed out by the walker */
    uint64_t files;    /* of which regular files (the rest are walk errors) */
    uint64_t claimed;  /* slots taken by workers */
    uint64_t released; /* slots consumed by the committer */
    int walk_done, stop;
    int walk_rc;
    struct pxs_err walk_err;
};

/* Wait for a free slot and fill it; called by the walker thread only. */
static int push_slot(struct pipeline *p, const char *path, int code, const char *reason) {
    char *copy = pxs_strdup(path);
    if (!copy) return PXS_ENOMEM;
    pthread_mutex_lock(&p->mu);
    while (!p->stop && p->walked - p->released >= p->cap) pthread_cond_wait(&p->cv_space, &p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        pxs_free(copy);
        return PXS_ECANCELED;
    }
    size_t s = (size_t)(p->walked % p->cap);
    struct item *it = &p->items[s];
    memset(it, 0, sizeof *it);
    it->path = copy;
    it->vec = p->vecs + s * p->engine->dim;
    it->tensor = p->tensors ? p->tensors + s * p->per_tensor : NULL;
    if (reason) {
        it->from_walk = 1;
        fail_item(it, code, reason);
        p->state[s] = SLOT_READY;
        pthread_cond_broadcast(&p->cv_ready);
    } else {
        p->files++;
        p->state[s] = SLOT_WALKED;
        pthread_cond_signal(&p->cv_work);
    }
    p->walked++;
    pthread_mutex_unlock(&p->mu);
    return PXS_OK;
}

static int on_walk_file(const char *path, void *user) {
    return push_slot(user, path, 0, NULL) != PXS_OK;
}

static void on_walk_error(const char *path, int code, const char *reason, void *user) {
    (void)push_slot(user, path, code, reason); /* only fails when stopping or out of memory */
}

/* What the walker thread feeds the pipeline: a directory tree, or a list of
 * files (engine_ingest_paths: uploads added through the API). */
struct walk_job {
    struct pipeline *p;
    const char *dir;
    char *const *paths;
    size_t n_paths;
};

static int feed_paths(const struct walk_job *job) {
    for (size_t i = 0; i < job->n_paths; i++)
        if (on_walk_file(job->paths[i], job->p) != 0) break;
    return PXS_OK;
}

static void *walker_main(void *arg) {
    struct walk_job *job = arg;
    struct pipeline *p = job->p;
    struct pxs_err err;
    pxs_err_clear(&err);
    int rc = job->paths ? feed_paths(job)
                        : walk_stream(job->dir, p->opts->follow_symlinks, on_walk_file,
                                      on_walk_error, p, &err);
    pthread_mutex_lock(&p->mu);
    p->walk_done = 1;
    if (rc != PXS_OK && !p->stop) {
        p->walk_rc = rc;
        p->walk_err = err;
    }
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_ready);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static void *worker_main(void *arg) {
    struct pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        /* Walk errors are ready without a worker, so the committer may have
         * released slots this counter has not passed yet. */
        if (p->claimed < p->released) p->claimed = p->released;
        while (!p->stop && p->claimed < p->walked &&
               p->state[p->claimed % p->cap] != SLOT_WALKED)
            p->claimed++; /* walk errors are ready already */
        if (p->stop) break;
        if (p->claimed == p->walked) {
            if (p->walk_done) break;
            pthread_cond_wait(&p->cv_work, &p->mu);
            continue;
        }
        size_t s = (size_t)(p->claimed++ % p->cap);
        p->state[s] = SLOT_CLAIMED;
        pthread_mutex_unlock(&p->mu);
        process_item(p->engine, p->opts->store_originals, &p->items[s]);
        pthread_mutex_lock(&p->mu);
        p->state[s] = SLOT_READY;
        pthread_cond_broadcast(&p->cv_ready);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Wait until the next batch (starting at p->released) is walked and
 * prepared. Returns its size (0 at the end of the walk). */
static size_t wait_batch(struct pipeline *p) {
    pthread_mutex_lock(&p->mu);
    size_t n = 0;
    for (;;) {
        if (p->stop) break;
        uint64_t avail = p->walked - p->released;
        if (avail >= p->batch_size || p->walk_done) {
            n = avail < p->batch_size ? (size_t)avail : p->batch_size;
            size_t i = 0;
            while (i < n && p->state[(p->released + i) % p->cap] == SLOT_READY) i++;
            if (i == n) break;
        }
        pthread_cond_wait(&p->cv_ready, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return p->stop ? 0 : n;
}

static void release_batch(struct pipeline *p, size_t n) {
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < n; i++) {
        size_t s = (size_t)((p->released + i) % p->cap);
        pxs_free(p->items[s].path);
        pxs_free(p->items[s].thumb);
        memset(&p->items[s], 0, sizeof p->items[s]);
        p->state[s] = SLOT_FREE;
    }
    p->released += n;
    pthread_cond_broadcast(&p->cv_space);
    pthread_mutex_unlock(&p->mu);
}

static void stop_pipeline(struct pipeline *p) {
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_space);
    pthread_cond_broadcast(&p->cv_work);
    pthread_cond_broadcast(&p->cv_ready);
    pthread_mutex_unlock(&p->mu);
}

static int worker_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

/* Report a committed batch's outcomes in walk order. */
static void report_batch(struct pipeline *p, struct batch *b, uint64_t *done,
                         struct pxs_ingest_summary *summary, int *canceled) {
    const struct pxs_ingest_opts *opts = p->opts;
    pthread_mutex_lock(&p->mu);
    uint64_t total = p->files;
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < b->n; i++) {
        struct item *it = &b->items[i];
        struct pxs_ingest_event ev = {0};
        ev.path = it->path;
        ev.id = it->id;
        if (!it->from_walk) {
            ev.done = ++*done;
            ev.total = total;
        }
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
        if (opts->on_event && !*canceled && opts->on_event(&ev, opts->user)) *canceled = 1;
    }
}

static void pipeline_free(struct pipeline *p) {
    if (p->items)
        for (size_t i = 0; i < p->cap; i++) {
            pxs_free(p->items[i].path);
            pxs_free(p->items[i].thumb);
        }
    pxs_free(p->items);
    pxs_free(p->state);
    pxs_free(p->vecs);
    pxs_free(p->tensors);
    pxs_free(p->packed);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_space);
    pthread_cond_destroy(&p->cv_work);
    pthread_cond_destroy(&p->cv_ready);
}

static int pipeline_init(struct pipeline *p, pxs_engine *e, const struct pxs_ingest_opts *opts,
                         struct pxs_err *err) {
    memset(p, 0, sizeof *p);
    p->engine = e;
    p->opts = opts;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_space, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_ready, NULL);
    p->batch_size = opts->batch_size > 0 ? (size_t)opts->batch_size : 32;
    p->cap = RING_BATCHES * p->batch_size;
    p->per_tensor = embedder_tensor_floats(e->emb);
    p->items = pxs_calloc(p->cap, sizeof *p->items);
    p->state = pxs_calloc(p->cap, sizeof *p->state);
    p->vecs = pxs_mallocarray(p->cap * e->dim, sizeof(float));
    if (p->per_tensor) {
        p->tensors = pxs_mallocarray(p->cap * p->per_tensor, sizeof(float));
        p->packed = pxs_mallocarray(p->batch_size * e->dim, sizeof(float));
    }
    if (!p->items || !p->state || !p->vecs || (p->per_tensor && (!p->tensors || !p->packed)))
        return pxs_errf(err, PXS_ENOMEM, "out of memory for the ingest pipeline");
    return PXS_OK;
}

static int ingest_run(pxs_engine *engine, struct walk_job job, const struct pxs_ingest_opts *opts,
                      struct pxs_ingest_summary *summary, struct pxs_err *err) {
    static const struct pxs_ingest_opts default_opts;
    if (!opts) opts = &default_opts;
    struct pxs_ingest_summary local_summary;
    if (!summary) summary = &local_summary;
    memset(summary, 0, sizeof *summary);
    if (engine->read_only) return pxs_errf(err, PXS_EPERM, "engine was opened read-only");
    double t0 = pxs_now_seconds();

    int rc = pxs_engine_check_tags(opts->tags, opts->n_tags, err);
    if (rc != PXS_OK) return rc;
    struct pipeline p;
    rc = pipeline_init(&p, engine, opts, err);
    if (rc == PXS_OK) rc = engine_refresh_index(engine, err);
    if (rc != PXS_OK) {
        pipeline_free(&p);
        return rc;
    }
    job.p = &p;
    pthread_t walker, workers[MAX_WORKERS];
    int n_workers = 0, walker_started = pthread_create(&walker, NULL, walker_main, &job) == 0;
    if (!walker_started) {
        pipeline_free(&p);
        return pxs_errf(err, PXS_ENOMEM, "cannot start the walker thread");
    }
    for (int i = 0; i < worker_count(); i++)
        if (pthread_create(&workers[n_workers], NULL, worker_main, &p) == 0) n_workers++;
    if (n_workers == 0) rc = pxs_errf(err, PXS_ENOMEM, "cannot start worker threads");

    uint64_t done = 0;
    int canceled = 0;
    while (rc == PXS_OK && !canceled) {
        size_t n = wait_batch(&p);
        if (n == 0) break;
        struct batch b = {&p.items[p.released % p.cap], n};
        uint64_t generation = 0, next_id = 0;
        /* Batches start at multiples of batch_size, so a batch's model
         * inputs are contiguous in the ring. */
        float *tensors = p.tensors ? p.tensors + (size_t)(p.released % p.cap) * p.per_tensor : NULL;
        if (tensors) rc = embed_batch(engine, b.items, n, tensors, p.packed, err);
        int blobs = 0;
        for (size_t i = 0; i < n; i++)
            blobs |= b.items[i].state == ITEM_TO_ADD && (b.items[i].rec.flags & RECORD_FLAG_BLOB);
        if (rc == PXS_OK && blobs) rc = engine_blob_sync(engine, err); /* before the records */
        if (rc == PXS_OK) rc = commit_batch(engine, &b, opts->tags, opts->n_tags, &generation, &next_id, err);
        for (size_t i = 0; rc == PXS_OK && i < n; i++) /* durable now: drop replaced blobs */
            if (b.items[i].state == ITEM_TO_ADD && b.items[i].replaced_blob)
                engine_blob_remove(engine, b.items[i].replaced_hash);
        if (rc == PXS_OK) rc = publish_batch(engine, &b, generation, next_id, err);
        if (rc == PXS_OK) report_batch(&p, &b, &done, summary, &canceled);
        release_batch(&p, n);
    }
    stop_pipeline(&p);
    pthread_join(walker, NULL);
    for (int i = 0; i < n_workers; i++) pthread_join(workers[i], NULL);
    summary->files = p.files;
    if (rc == PXS_OK && p.walk_rc != PXS_OK) {
        rc = p.walk_rc;
        *err = p.walk_err;
    }
    if (rc == PXS_OK && canceled) rc = pxs_errf(err, PXS_ECANCELED, "ingest cancelled");
    pipeline_free(&p);
    summary->seconds = pxs_now_seconds() - t0;
    return rc;
}

int pxs_engine_ingest(pxs_engine *engine, const char *dir, const struct pxs_ingest_opts *opts,
                      struct pxs_ingest_summary *summary, struct pxs_err *err) {
    struct walk_job job = {NULL, dir, NULL, 0};
    return ingest_run(engine, job, opts, summary, err);
}

int engine_ingest_paths(pxs_engine *engine, char *const *paths, size_t count,
                        const struct pxs_ingest_opts *opts, struct pxs_ingest_summary *summary,
                        struct pxs_err *err) {
    struct walk_job job = {NULL, NULL, paths, count};
    return ingest_run(engine, job, opts, summary, err);
}
