/*
 * blob.c — the content-addressed blob store for `--store-originals`, and
 * reading an indexed image's original bytes back.
 *
 * Layout: <data>/blobs/<h0h1>/<32 hex digits of the content hash>, where
 * h0h1 are the hash's first two hex digits (256 prefix directories keep
 * directories small). A blob is the file's bytes, unchanged. Workers write
 * it to a unique temporary name beside it and rename it into place;
 * before the batch's transaction commits, the committer makes every blob of
 * the batch durable with one syncfs (data, inodes and the renames) instead
 * of two fsyncs per file. So a committed record (flag RECORD_FLAG_BLOB,
 * record.c) never points to a missing or partial blob. A crash between the two leaves an unreferenced blob,
 * which the next ingest of the same content reuses. Blobs are removed when
 * their image is removed (content replaced, --prune) after that commit.
 */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int blob_path(const pxs_engine *e, const uint8_t hash[PXS_HASH_BYTES], char *out,
                     size_t cap, int dir_only) {
    char hex[33];
    pxs_hash_to_hex(hash, hex);
    int n = dir_only ? snprintf(out, cap, "%s/blobs/%.2s", e->data_dir, hex)
                     : snprintf(out, cap, "%s/blobs/%.2s/%s", e->data_dir, hex, hex);
    return n < 0 || (size_t)n >= cap ? PXS_ELIMIT : PXS_OK;
}

int engine_blob_write(pxs_engine *e, const uint8_t hash[PXS_HASH_BYTES], const void *data,
                      size_t len, struct pxs_err *err) {
    char dir[4200], path[4300];
    if (blob_path(e, hash, dir, sizeof dir, 1) != PXS_OK ||
        blob_path(e, hash, path, sizeof path, 0) != PXS_OK)
        return pxs_errf(err, PXS_ELIMIT, "data directory path too long for the blob store");
    struct stat st;
    if (stat(path, &st) == 0 && (uint64_t)st.st_size == len) {
        /* Same name = same content (a blob left by a crash, or a copy). */
        return PXS_OK;
    }
    int rc = pxs_mkdirs(dir, err);
    if (rc == PXS_OK) rc = pxs_file_write_replace(path, data, len, err); /* synced per batch */
    return rc;
}

int engine_blob_sync(pxs_engine *e, struct pxs_err *err) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/blobs", e->data_dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return pxs_errf_sys(err, PXS_EIO, errno, "cannot open %s", dir);
    int rc = syncfs(fd) == 0 ? PXS_OK : pxs_errf_sys(err, PXS_EIO, errno, "syncfs %s", dir);
    close(fd);
    return rc;
}

void engine_blob_remove(pxs_engine *e, const uint8_t hash[PXS_HASH_BYTES]) {
    char path[4300];
    if (blob_path(e, hash, path, sizeof path, 0) == PXS_OK && unlink(path) != 0 && errno != ENOENT)
        pxs_log(PXS_LOG_WARN, "cannot remove blob %s: %s", path, strerror(errno));
}

int pxs_engine_get_original(pxs_engine *engine, int64_t id, void **data, size_t *len,
                            struct pxs_image_meta *meta, struct pxs_err *err) {
    *data = NULL;
    *len = 0;
    pxs_store_txn *txn;
    int rc = pxs_store_begin(engine->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    struct image_record rec;
    rc = record_load(txn, id, &rec, err);
    char path[4300];
    uint8_t hash[PXS_HASH_BYTES];
    int from_blob = 0;
    if (rc == PXS_OK) {
        if (meta) record_to_meta(id, &rec, meta);
        memcpy(hash, rec.hash, sizeof hash);
        from_blob = (rec.flags & RECORD_FLAG_BLOB) != 0;
        if (from_blob) {
            if (blob_path(engine, hash, path, sizeof path, 0) != PXS_OK)
                rc = pxs_errf(err, PXS_ELIMIT, "blob path too long");
        } else {
            size_t n = rec.path_len < sizeof path - 1 ? rec.path_len : sizeof path - 1;
            memcpy(path, rec.path, n);
            path[n] = '\0';
        }
    }
    pxs_store_abort(txn);
    if (rc == PXS_ENOTFOUND) return pxs_errf(err, PXS_ENOTFOUND, "no image with id %lld", (long long)id);
    if (rc != PXS_OK) return rc;
    char *bytes;
    size_t n;
    rc = pxs_file_read_all(path, PXS_ENGINE_MAX_FILE_BYTES, &bytes, &n, err);
    if (rc != PXS_OK) {
        if (rc == PXS_EIO && err->sys_errno == ENOENT)
            return pxs_errf(err, PXS_ENOTFOUND, "%s of image %lld is gone (%s)",
                            from_blob ? "the stored original" : "the original file",
                            (long long)id, path);
        return rc;
    }
    uint8_t now[PXS_HASH_BYTES];
    pxs_hash128(bytes, n, now);
    if (memcmp(now, hash, sizeof now) != 0) {
        pxs_free(bytes);
        return pxs_errf(err, from_blob ? PXS_ECORRUPT : PXS_EMISMATCH,
                        "%s changed since image %lld was indexed (re-run pixseek index)", path,
                        (long long)id);
    }
    *data = bytes;
    *len = n;
    return PXS_OK;
}
