/*
 * ops.c — single-image writes and direct lookups used by the HTTP API:
 * add an uploaded image, delete one image, drop everything, search by a
 * stored id or a given vector, and bulk-add precomputed vectors.
 *
 * Uploads: <data>/uploads/<content hash hex>.<format> (the file name is the
 * XXH3-128 of the bytes, so the same upload maps to the same file and an
 * upload can never name another file). The file is made durable before it
 * is indexed; the index record then points at it like any ingested file.
 *
 * Every store change here runs in one write transaction that bumps meta
 * "generation" (and "deletes" for removals), as record.c specifies, and is
 * committed (fsync) before the in-memory index is touched, so an
 * acknowledged write survives kill -9 and a crash mid-way leaves the store
 * as it was.
 */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *pxs_engine_uploads_dir(const pxs_engine *engine) { return engine->uploads_dir; }

const char *pxs_ingest_kind_name(enum pxs_ingest_kind kind) {
    switch (kind) {
    case PXS_INGEST_ADDED: return "added";
    case PXS_INGEST_UNCHANGED: return "unchanged";
    case PXS_INGEST_DUPLICATE: return "duplicate";
    default: return "failed";
    }
}

static int in_uploads(const pxs_engine *e, const char *path) {
    size_t n = strlen(e->uploads_dir);
    return strncmp(path, e->uploads_dir, n) == 0 && path[n] == '/' && !strchr(path + n + 1, '/');
}

static int lookup_hash(pxs_engine *e, const uint8_t hash[PXS_HASH_BYTES], int64_t *id,
                       struct pxs_err *err) {
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    const void *val;
    size_t len;
    rc = pxs_store_get(txn, TABLE_BY_HASH, hash, PXS_HASH_BYTES, &val, &len, err);
    if (rc == PXS_OK && len == 8) *id = (int64_t)pxs_store_u64_from_key(val);
    else if (rc == PXS_OK) rc = pxs_errf(err, PXS_ECORRUPT, "by_hash entry has %zu bytes", len);
    pxs_store_abort(txn);
    return rc;
}

struct add_capture {
    struct pxs_add_result *out;
    int code;
    char reason[512];
    int seen;
};

static int on_add_event(const struct pxs_ingest_event *ev, void *user) {
    struct add_capture *c = user;
    c->seen = 1;
    c->out->id = ev->id;
    c->out->kind = ev->kind;
    if (ev->kind == PXS_INGEST_FAILED) {
        c->code = ev->code;
        snprintf(c->reason, sizeof c->reason, "%s", ev->reason ? ev->reason : "not indexed");
    }
    return 0;
}

int pxs_engine_add_image(pxs_engine *engine, const void *data, size_t len,
                         struct pxs_add_result *out, struct pxs_err *err) {
    memset(out, 0, sizeof *out);
    if (engine->read_only) return pxs_errf(err, PXS_EPERM, "engine was opened read-only");
    if (!data || len == 0) return pxs_errf(err, PXS_EINVAL, "empty image");
    if (len > PXS_ENGINE_MAX_FILE_BYTES)
        return pxs_errf(err, PXS_ELIMIT, "image of %zu bytes is over the limit of %u", len,
                        PXS_ENGINE_MAX_FILE_BYTES);
    enum pxs_image_format fmt = pxs_image_sniff(data, len);
    if (fmt == PXS_IMAGE_UNKNOWN)
        return pxs_errf(err, PXS_EUNSUPPORTED, "not an image (unrecognised file signature)");
    uint8_t hash[PXS_HASH_BYTES];
    pxs_hash128(data, len, hash);
    char hex[PXS_HASH_HEX_LEN + 1];
    pxs_hash_to_hex(hash, hex);
    int64_t existing = 0;
    int rc = lookup_hash(engine, hash, &existing, err);
    if (rc == PXS_OK) {
        struct pxs_image_meta meta;
        rc = pxs_engine_get_meta(engine, existing, &meta, err);
        if (rc != PXS_OK) return rc;
        out->id = existing;
        snprintf(out->path, sizeof out->path, "%s", meta.path);
        out->kind = in_uploads(engine, meta.path) ? PXS_INGEST_UNCHANGED : PXS_INGEST_DUPLICATE;
        return PXS_OK;
    }
    if (rc != PXS_ENOTFOUND) return rc;

    rc = pxs_mkdirs(engine->uploads_dir, err);
    if (rc != PXS_OK) return rc;
    if (snprintf(out->path, sizeof out->path, "%s/%s.%s", engine->uploads_dir, hex,
                 pxs_image_format_name(fmt)) >= (int)sizeof out->path)
        return pxs_errf(err, PXS_EINVAL, "uploads path too long");
    struct stat st;
    int existed = stat(out->path, &st) == 0;
    if (!existed) {
        rc = pxs_file_write_atomic(out->path, data, len, err);
        if (rc != PXS_OK) return rc;
    }
    struct add_capture cap = {out, 0, "", 0};
    struct pxs_ingest_opts io = {.batch_size = 1, .on_event = on_add_event, .user = &cap};
    struct pxs_ingest_summary sum;
    memset(&sum, 0, sizeof sum);
    char *paths[1] = {out->path};
    rc = engine_ingest_paths(engine, paths, 1, &io, &sum, err);
    if (rc == PXS_OK && (!cap.seen || out->kind == PXS_INGEST_FAILED))
        rc = pxs_errf(err, cap.code ? cap.code : PXS_EINVAL, "%s",
                      cap.reason[0] ? cap.reason : "image not indexed");
    if (rc != PXS_OK && !existed) unlink(out->path);
    return rc;
}

/* ---- removal ------------------------------------------------------------ */

/* Keys of a table, collected so they can be deleted after the scan. */
struct key_list {
    struct pxs_buf buf; /* each key: u16 length (native) + bytes */
    size_t count;
    int64_t match_id;   /* copies table: only entries pointing at this id (0 = all) */
};

static int collect_key(const void *key, size_t key_len, const void *val, size_t val_len,
                       void *user) {
    struct key_list *kl = user;
    if (kl->match_id) {
        if (val_len < 8 || (int64_t)pxs_store_u64_from_key(val) != kl->match_id) return 0;
    }
    uint16_t n = (uint16_t)key_len;
    if (pxs_buf_append(&kl->buf, &n, sizeof n) != PXS_OK ||
        pxs_buf_append(&kl->buf, key, key_len) != PXS_OK)
        return PXS_ENOMEM;
    kl->count++;
    return 0;
}

static int delete_keys(pxs_store_txn *txn, const char *table, int64_t match_id, uint64_t *count,
                       struct pxs_err *err) {
    struct key_list kl = {.count = 0, .match_id = match_id};
    pxs_buf_init(&kl.buf, (size_t)1 << 40); /* no real cap: keys of one table */
    int rc = pxs_store_scan(txn, table, NULL, 0, collect_key, &kl, err);
    if (rc == PXS_ENOMEM) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    size_t pos = 0;
    while (rc == PXS_OK && pos < kl.buf.len) {
        uint16_t n;
        memcpy(&n, kl.buf.data + pos, sizeof n);
        rc = pxs_store_del(txn, table, kl.buf.data + pos + sizeof n, n, err);
        if (rc == PXS_ENOTFOUND) rc = PXS_OK;
        pos += sizeof n + n;
    }
    if (count) *count = kl.count;
    pxs_buf_free(&kl.buf);
    return rc;
}

/* Bump generation and deletes in txn; returns the new values. */
static int bump_deletes(pxs_store_txn *txn, uint64_t *gen, uint64_t *deletes, struct pxs_err *err) {
    int rc = meta_get_u64(txn, "generation", gen, err);
    if (rc == PXS_OK) rc = meta_get_u64(txn, "deletes", deletes, err);
    if (rc != PXS_OK) return rc;
    ++*gen;
    ++*deletes;
    rc = meta_put_u64(txn, "generation", *gen, err);
    if (rc == PXS_OK) rc = meta_put_u64(txn, "deletes", *deletes, err);
    return rc;
}

int pxs_engine_delete_image(pxs_engine *engine, int64_t id, struct pxs_err *err) {
    if (engine->read_only) return pxs_errf(err, PXS_EPERM, "engine was opened read-only");
    pxs_store_txn *txn;
    int rc = pxs_store_begin(engine->store, 1, &txn, err);
    if (rc != PXS_OK) return rc;
    struct image_record rec;
    char path[4096] = "";
    rc = record_load(txn, id, &rec, err);
    if (rc == PXS_ENOTFOUND) {
        pxs_store_abort(txn);
        return pxs_errf(err, PXS_ENOTFOUND, "no image with id %lld", (long long)id);
    }
    if (rc == PXS_OK) {
        size_t n = rec.path_len < sizeof path - 1 ? rec.path_len : sizeof path - 1;
        memcpy(path, rec.path, n);
        path[n] = '\0';
    }
    uint8_t blob_hash[PXS_HASH_BYTES];
    int had_blob = 0;
    if (rc == PXS_OK) rc = engine_remove_image(txn, id, blob_hash, &had_blob, err);
    if (rc == PXS_OK) rc = delete_keys(txn, TABLE_COPIES, id, NULL, err);
    uint64_t gen = 0, deletes = 0;
    if (rc == PXS_OK) rc = bump_deletes(txn, &gen, &deletes, err);
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        return rc;
    }
    rc = pxs_store_commit(txn, err);
    if (rc != PXS_OK) return rc;

    /* The index follows without a rebuild when it saw every earlier change. */
    if (engine_index_remove(engine, id, gen, deletes) != PXS_OK) {
        /* not in the index: added by another process and not scanned in yet */
    }
    if (had_blob) engine_blob_remove(engine, blob_hash);
    if (in_uploads(engine, path) && unlink(path) != 0 && errno != ENOENT)
        PXS_LOG_WARN("engine: cannot remove upload %s: %s", path, strerror(errno));
    return PXS_OK;
}

static void remove_upload_files(pxs_engine *e) {
    DIR *d = opendir(e->uploads_dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *dot = strchr(de->d_name, '.');
        /* only our own names: 32 hex digits, '.', a format name */
        if (!dot || dot - de->d_name != PXS_HASH_HEX_LEN) continue;
        uint8_t h[PXS_HASH_BYTES];
        char hex[PXS_HASH_HEX_LEN + 1];
        memcpy(hex, de->d_name, PXS_HASH_HEX_LEN);
        hex[PXS_HASH_HEX_LEN] = '\0';
        if (pxs_hash_from_hex(hex, h) != PXS_OK) continue;
        if (unlinkat(dirfd(d), de->d_name, 0) != 0)
            PXS_LOG_WARN("engine: cannot remove upload %s: %s", de->d_name, strerror(errno));
    }
    closedir(d);
}

int pxs_engine_drop_all(pxs_engine *engine, uint64_t *removed, struct pxs_err *err) {
    if (removed) *removed = 0;
    if (engine->read_only) return pxs_errf(err, PXS_EPERM, "engine was opened read-only");
    static const char *const tables[] = {TABLE_VECTORS, TABLE_THUMBS, TABLE_DESC, TABLE_COPIES,
                                         TABLE_BY_HASH, TABLE_BY_PATH, TABLE_TAGS};
    pxs_store_txn *txn;
    int rc = pxs_store_begin(engine->store, 1, &txn, err);
    if (rc != PXS_OK) return rc;
    uint64_t n_images = 0;
    rc = delete_keys(txn, TABLE_IMAGES, 0, &n_images, err);
    for (size_t i = 0; rc == PXS_OK && i < sizeof tables / sizeof tables[0]; i++)
        rc = delete_keys(txn, tables[i], 0, NULL, err);
    uint64_t gen, deletes;
    if (rc == PXS_OK) rc = bump_deletes(txn, &gen, &deletes, err);
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        return rc;
    }
    rc = pxs_store_commit(txn, err);
    if (rc != PXS_OK) return rc;
    if (removed) *removed = n_images;
    remove_upload_files(engine);
    return engine_refresh_index(engine, err); /* "deletes" moved: rebuilds, empty */
}

/* ---- lookups -------------------------------------------------------------- */

int pxs_engine_get_vector(pxs_engine *engine, int64_t id, float *out, size_t dim,
                          struct pxs_err *err) {
    if (dim != engine->dim)
        return pxs_errf(err, PXS_EINVAL, "vector dimension %zu, the collection's is %zu", dim,
                        engine->dim);
    pxs_store_txn *txn;
    int rc = pxs_store_begin(engine->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    rc = engine_load_vector(txn, TABLE_VECTORS, id, out, dim, err);
    pxs_store_abort(txn);
    if (rc == 0) return pxs_errf(err, PXS_ENOTFOUND, "no image with id %lld", (long long)id);
    return rc < 0 ? rc : PXS_OK;
}

int pxs_engine_search_vector(pxs_engine *engine, const float *vec, size_t dim,
                             const struct pxs_search_opts *opts, struct pxs_match **matches,
                             size_t *n_matches, struct pxs_err *err) {
    *matches = NULL;
    *n_matches = 0;
    if (dim != engine->dim)
        return pxs_errf(err, PXS_EINVAL, "query vector has %zu dimensions, the collection %zu",
                        dim, engine->dim);
    for (size_t i = 0; i < dim; i++)
        if (!isfinite(vec[i])) return pxs_errf(err, PXS_EINVAL, "query vector is not finite");
    int rc = engine_refresh_index(engine, err);
    if (rc != PXS_OK) return rc;
    return engine_search_vector(engine, vec, opts, matches, n_matches, err);
}

/* ---- bulk vectors ----------------------------------------------------------- */

int pxs_engine_add_vectors(pxs_engine *engine, const char *const *paths, const float *vecs,
                           size_t n, int64_t *ids, struct pxs_err *err) {
    if (engine->read_only) return pxs_errf(err, PXS_EPERM, "engine was opened read-only");
    size_t dim = engine->dim;
    for (size_t i = 0; i < n; i++) {
        if (!paths[i] || !paths[i][0] || strlen(paths[i]) > 4095)
            return pxs_errf(err, PXS_EINVAL, "vector %zu: path must be 1..4095 bytes", i);
        for (size_t k = 0; k < dim; k++)
            if (!isfinite(vecs[i * dim + k]))
                return pxs_errf(err, PXS_EINVAL, "vector %zu is not finite", i);
    }
    int64_t *own_ids = ids ? NULL : pxs_mallocarray(n ? n : 1, sizeof *own_ids);
    if (!ids && !own_ids) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    if (!ids) ids = own_ids;
    pxs_store_txn *txn;
    int rc = pxs_store_begin(engine->store, 1, &txn, err);
    if (rc != PXS_OK) {
        pxs_free(own_ids);
        return rc;
    }
    uint64_t next_id = 0, gen = 0;
    rc = meta_get_u64(txn, "next_id", &next_id, err);
    if (rc == PXS_OK) rc = meta_get_u64(txn, "generation", &gen, err);
    struct pxs_buf scratch;
    pxs_buf_init(&scratch, 1 << 20);
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; rc == PXS_OK && i < n; i++) {
        const float *v = vecs + i * dim;
        struct image_record rec = {0};
        rec.mtime = now;
        snprintf(rec.format, sizeof rec.format, "vector");
        pxs_hash128(v, dim * sizeof(float), rec.hash);
        rec.path = paths[i];
        rec.path_len = strlen(paths[i]);
        uint8_t key[8], pkey[PXS_HASH_BYTES];
        path_key(paths[i], pkey);
        const void *val;
        size_t len;
        int r = pxs_store_get(txn, TABLE_BY_PATH, pkey, sizeof pkey, &val, &len, err);
        if (r == PXS_OK) {
            rc = pxs_errf(err, PXS_EEXIST, "%s is already in the collection", paths[i]);
            break;
        }
        if (r != PXS_ENOTFOUND) {
            rc = r;
            break;
        }
        ids[i] = (int64_t)next_id++;
        pxs_store_u64_key((uint64_t)ids[i], key);
        pxs_buf_reset(&scratch);
        rc = record_encode(&rec, &scratch);
        if (rc == PXS_OK) rc = pxs_store_put(txn, TABLE_IMAGES, key, 8, scratch.data, scratch.len, err);
        if (rc == PXS_OK) rc = pxs_store_put(txn, TABLE_VECTORS, key, 8, v, dim * sizeof(float), err);
        if (rc == PXS_OK) rc = pxs_store_put(txn, TABLE_BY_PATH, pkey, sizeof pkey, key, 8, err);
        if (rc == PXS_OK) {
            r = pxs_store_get(txn, TABLE_BY_HASH, rec.hash, PXS_HASH_BYTES, &val, &len, err);
            if (r == PXS_ENOTFOUND)
                rc = pxs_store_put(txn, TABLE_BY_HASH, rec.hash, PXS_HASH_BYTES, key, 8, err);
            else if (r != PXS_OK)
                rc = r;
        }
    }
    pxs_buf_free(&scratch);
    if (rc == PXS_OK && n > 0) {
        gen++;
        rc = meta_put_u64(txn, "next_id", next_id, err);
        if (rc == PXS_OK) rc = meta_put_u64(txn, "generation", gen, err);
    }
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        pxs_free(own_ids);
        return rc;
    }
    rc = pxs_store_commit(txn, err);
    if (rc == PXS_OK && n > 0) rc = engine_index_add(engine, ids, vecs, NULL, n, gen, next_id, err);
    pxs_free(own_ids);
    return rc;
}
