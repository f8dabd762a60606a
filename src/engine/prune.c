/*
 * prune.c — `pixseek index --prune`: forget images whose files are gone.
 *
 *   1. in one read transaction, list the ids of indexed images under the
 *      folder whose path no longer exists (stat: ENOENT or ENOTDIR; any
 *      other error, e.g. an unmounted disk giving EIO or EACCES, keeps the
 *      image), and the recorded exact copies (table copies) that are gone
 *      or whose original is being removed;
 *   2. remove them in write transactions of PRUNE_BATCH images (every table,
 *      see engine_remove_image), each bumping "generation" and "deletes",
 *      committed durably; then delete the removed images' blobs and drop
 *      them from the in-memory index.
 * Memory: the list of gone ids (8 bytes each) and copy keys (16 bytes each).
 */
#include "engine_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRUNE_BATCH 256

struct gone_list {
    int64_t *ids;
    size_t n, cap;
    uint8_t (*copy_keys)[PXS_HASH_BYTES];
    size_t n_copies, cap_copies;
};

struct prune_scan {
    const char *prefix; /* absolute folder, no trailing slash; NULL = everything */
    size_t prefix_len;
    struct gone_list *gone;
    struct pxs_prune_summary *summary;
    struct pxs_err *err;
};

static int under_prefix(const struct prune_scan *s, const char *path, size_t len) {
    if (!s->prefix) return 1;
    if (s->prefix_len == 1) return len > 0 && path[0] == '/'; /* "/" */
    return len >= s->prefix_len && memcmp(path, s->prefix, s->prefix_len) == 0 &&
           (len == s->prefix_len || path[s->prefix_len] == '/');
}

/* 1 if the file at path (len bytes, not NUL-terminated) is gone. */
static int file_gone(const char *path, size_t len) {
    char buf[PATH_MAX];
    if (len >= sizeof buf) return 0;
    memcpy(buf, path, len);
    buf[len] = '\0';
    struct stat st;
    return stat(buf, &st) != 0 && (errno == ENOENT || errno == ENOTDIR);
}

static int grow(void **p, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return PXS_OK;
    size_t c = *cap ? *cap * 2 : 256;
    void *q = pxs_realloc(*p, c * elem);
    if (!q) return PXS_ENOMEM;
    *p = q;
    *cap = c;
    return PXS_OK;
}

static int visit_image(const void *key, size_t key_len, const void *val, size_t val_len,
                       void *user) {
    struct prune_scan *s = user;
    if (key_len != 8) return pxs_errf(s->err, PXS_ECORRUPT, "image key of %zu bytes", key_len);
    struct image_record rec;
    int rc = record_decode(val, val_len, &rec, s->err);
    if (rc != PXS_OK) return rc;
    if (!under_prefix(s, rec.path, rec.path_len)) return 0;
    s->summary->checked++;
    if (!file_gone(rec.path, rec.path_len)) return 0;
    struct gone_list *g = s->gone;
    if (grow((void **)&g->ids, &g->cap, g->n, sizeof *g->ids) != PXS_OK)
        return pxs_errf(s->err, PXS_ENOMEM, "out of memory");
    g->ids[g->n++] = (int64_t)pxs_store_u64_from_key(key);
    return 0;
}

static int is_gone_id(const struct gone_list *g, int64_t id) {
    for (size_t lo = 0, hi = g->n; lo < hi;) { /* ids were collected in key order */
        size_t mid = lo + (hi - lo) / 2;
        if (g->ids[mid] == id) return 1;
        if (g->ids[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return 0;
}

/* copies: value = u64 id of the original, then the copy's path. */
static int visit_copy(const void *key, size_t key_len, const void *val, size_t val_len,
                      void *user) {
    struct prune_scan *s = user;
    if (key_len != PXS_HASH_BYTES || val_len < 8) return 0; /* not ours to judge; leave it */
    int64_t id = (int64_t)pxs_store_u64_from_key(val);
    const char *path = (const char *)val + 8;
    size_t len = val_len - 8;
    int drop = is_gone_id(s->gone, id);
    if (!drop && under_prefix(s, path, len)) {
        s->summary->checked++;
        drop = file_gone(path, len);
    }
    if (!drop) return 0;
    struct gone_list *g = s->gone;
    if (grow((void **)&g->copy_keys, &g->cap_copies, g->n_copies, sizeof *g->copy_keys) != PXS_OK)
        return pxs_errf(s->err, PXS_ENOMEM, "out of memory");
    memcpy(g->copy_keys[g->n_copies++], key, PXS_HASH_BYTES);
    return 0;
}

/* The folder as an absolute path without trailing slashes (it may be gone,
 * so realpath is tried first and the text is used as given otherwise). */
static int folder_prefix(const char *dir, char *out, size_t cap, struct pxs_err *err) {
    char resolved[PATH_MAX];
    int n;
    if (realpath(dir, resolved)) {
        n = snprintf(out, cap, "%s", resolved);
    } else if (dir[0] == '/') {
        n = snprintf(out, cap, "%s", dir);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return pxs_errf_sys(err, PXS_EIO, errno, "getcwd");
        n = snprintf(out, cap, "%s/%s", cwd, dir);
    }
    if (n < 0 || (size_t)n >= cap) return pxs_errf(err, PXS_ELIMIT, "path too long: %s", dir);
    while (n > 1 && out[n - 1] == '/') out[--n] = '\0';
    return PXS_OK;
}

/* Remove ids[0..n) and (with the first batch) the copy keys; durable. */
static int remove_batch(pxs_engine *e, const int64_t *ids, size_t n,
                        uint8_t (*copy_keys)[PXS_HASH_BYTES], size_t n_copies,
                        uint8_t (*hashes)[PXS_HASH_BYTES], int *blobs, char **paths,
                        struct pxs_err *err) {
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 1, &txn, err);
    if (rc != PXS_OK) return rc;
    uint64_t gen = 0, deletes = 0;
    rc = meta_get_u64(txn, "generation", &gen, err);
    if (rc == PXS_OK) rc = meta_get_u64(txn, "deletes", &deletes, err);
    for (size_t i = 0; rc == PXS_OK && i < n; i++) {
        struct image_record rec;
        paths[i] = NULL;
        rc = record_load(txn, ids[i], &rec, err);
        if (rc == PXS_ENOTFOUND) { /* removed meanwhile by another process */
            rc = PXS_OK;
            blobs[i] = -1;
            continue;
        }
        if (rc == PXS_OK) {
            paths[i] = pxs_malloc(rec.path_len + 1);
            if (!paths[i]) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
            else memcpy(paths[i], rec.path, rec.path_len), paths[i][rec.path_len] = '\0';
        }
        if (rc == PXS_OK) rc = engine_remove_image(txn, ids[i], hashes[i], &blobs[i], err);
    }
    for (size_t i = 0; rc == PXS_OK && i < n_copies; i++) {
        rc = pxs_store_del(txn, TABLE_COPIES, copy_keys[i], PXS_HASH_BYTES, err);
        if (rc == PXS_ENOTFOUND) rc = PXS_OK;
    }
    if (rc == PXS_OK) rc = meta_put_u64(txn, "generation", gen + 1, err);
    if (rc == PXS_OK) rc = meta_put_u64(txn, "deletes", deletes + 1, err);
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        return rc;
    }
    return pxs_store_commit(txn, err);
}

int pxs_engine_prune(pxs_engine *engine, const char *dir, pxs_prune_fn on_removed, void *user,
                     struct pxs_prune_summary *summary, struct pxs_err *err) {
    struct pxs_prune_summary local;
    if (!summary) summary = &local;
    memset(summary, 0, sizeof *summary);
    if (engine->read_only) return pxs_errf(err, PXS_EPERM, "engine was opened read-only");
    char prefix[PATH_MAX];
    struct gone_list gone = {0};
    struct prune_scan scan = {NULL, 0, &gone, summary, err};
    int rc = PXS_OK;
    if (dir) {
        rc = folder_prefix(dir, prefix, sizeof prefix, err);
        scan.prefix = prefix;
        scan.prefix_len = strlen(prefix);
    }
    pxs_store_txn *txn = NULL;
    if (rc == PXS_OK) rc = pxs_store_begin(engine->store, 0, &txn, err);
    if (rc == PXS_OK) rc = pxs_store_scan(txn, TABLE_IMAGES, NULL, 0, visit_image, &scan, err);
    if (rc == PXS_OK) rc = pxs_store_scan(txn, TABLE_COPIES, NULL, 0, visit_copy, &scan, err);
    pxs_store_abort(txn);

    uint8_t(*hashes)[PXS_HASH_BYTES] = pxs_mallocarray(PRUNE_BATCH, sizeof *hashes);
    int *blobs = pxs_mallocarray(PRUNE_BATCH, sizeof *blobs);
    char **paths = pxs_calloc(PRUNE_BATCH, sizeof *paths);
    if (rc == PXS_OK && (!hashes || !blobs || !paths)) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    int copies_done = gone.n_copies == 0;
    for (size_t start = 0; rc == PXS_OK && (start < gone.n || !copies_done); start += PRUNE_BATCH) {
        size_t n = gone.n - start < PRUNE_BATCH ? gone.n - start : PRUNE_BATCH;
        if (start >= gone.n) n = 0;
        rc = remove_batch(engine, gone.ids + start, n, gone.copy_keys,
                          copies_done ? 0 : gone.n_copies, hashes, blobs, paths, err);
        if (rc == PXS_OK && !copies_done) {
            summary->copies_removed = gone.n_copies;
            copies_done = 1;
        }
        for (size_t i = 0; i < n; i++) {
            if (rc == PXS_OK && blobs[i] >= 0) {
                summary->removed++;
                if (blobs[i] == 1) engine_blob_remove(engine, hashes[i]);
                engine_index_remove(engine, gone.ids[start + i], 0, 0);
                if (on_removed) on_removed(gone.ids[start + i], paths[i] ? paths[i] : "", user);
            }
            pxs_free(paths[i]);
            paths[i] = NULL;
        }
    }
    pxs_free(hashes);
    pxs_free(blobs);
    pxs_free(paths);
    pxs_free(gone.ids);
    pxs_free(gone.copy_keys);
    /* "deletes" moved: the next refresh rebuilds the index from the store. */
    if (rc == PXS_OK && (summary->removed || summary->copies_removed))
        rc = engine_refresh_index(engine, err);
    return rc;
}
