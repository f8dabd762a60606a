/*
 * record.c — encodings of the engine's store tables. These bytes are the
 * store of record, so the format is specified here and only grows.
 *
 * Tables (all keys and integers big-endian unless stated):
 *
 *   meta      key: ASCII name            value: see below
 *               "format"     "pixseek-data-v1"
 *               "embedder"   embedder name, e.g. "builtin-colortexture-v1"
 *               "dim"        u64, embedding dimension
 *               "metric"     "COSINE" | "L2" | "IP"
 *               "next_id"    u64, next image id to assign (ids start at 1)
 *               "generation" u64, +1 on every committed change
 *               "deletes"    u64, +1 on every committed removal
 *   images    key: u64 id                value: image record (below)
 *   vectors   key: u64 id                value: dim x float32, little-endian
 *   thumbs    key: u64 id                value: JPEG bytes, longer side <= 256
 *   desc      key: u64 id                value: 256 x float32, the built-in descriptor
 *                                        (only when the embedder is a CNN; used to
 *                                        fuse scores in near-duplicate search)
 *   copies    key: 16-byte hash of path  value: u64 id of the indexed image with the
 *                                        same content, then the copy's path (no NUL);
 *                                        exact copies are not indexed twice
 *   by_hash   key: 16-byte content hash  value: u64 id
 *   by_path   key: 16-byte hash of path  value: u64 id
 *
 * Image record, version 1 (little-endian, packed):
 *   offset size field
 *   0      1    version (1)
 *   1      8    file size in bytes
 *   9      8    mtime, seconds since the epoch (signed)
 *   17     4    width  (signed, of the oriented image)
 *   21     4    height
 *   25     16   content hash (XXH3-128)
 *   41     1    format name length F (<= 15)
 *   42     F    format name ("jpeg", ...)
 *   42+F   2    path length P (u16)
 *   44+F   P    absolute path, UTF-8/bytes, no NUL
 * Readers reject records shorter than their declared lengths and versions
 * they do not know.
 */
#include "engine_int.h"

#include <string.h>


int record_encode(const struct image_record *rec, struct pxs_buf *out) {
    size_t flen = strnlen(rec->format, sizeof rec->format - 1);
    if (rec->path_len > 0xffff) return PXS_ELIMIT;
    uint8_t head[44 + 15];
    head[0] = 1;
    pxs_put_le(head + 1, rec->size, 8);
    pxs_put_le(head + 9, (uint64_t)rec->mtime, 8);
    pxs_put_le(head + 17, (uint32_t)rec->width, 4);
    pxs_put_le(head + 21, (uint32_t)rec->height, 4);
    memcpy(head + 25, rec->hash, PXS_HASH_BYTES);
    head[41] = (uint8_t)flen;
    memcpy(head + 42, rec->format, flen);
    pxs_put_le(head + 42 + flen, rec->path_len, 2);
    int rc = pxs_buf_append(out, head, 44 + flen);
    if (rc == PXS_OK) rc = pxs_buf_append(out, rec->path, rec->path_len);
    return rc;
}

int record_decode(const void *data, size_t len, struct image_record *rec, struct pxs_err *err) {
    const uint8_t *p = data;
    memset(rec, 0, sizeof *rec);
    if (len < 44) return PXS_CORRUPT_BKPT(err, "image record too short");
    if (p[0] != 1) return pxs_errf(err, PXS_ECORRUPT, "image record version %u unknown", p[0]);
    rec->size = pxs_get_le(p + 1, 8);
    rec->mtime = (int64_t)pxs_get_le(p + 9, 8);
    rec->width = (int32_t)pxs_get_le(p + 17, 4);
    rec->height = (int32_t)pxs_get_le(p + 21, 4);
    memcpy(rec->hash, p + 25, PXS_HASH_BYTES);
    size_t flen = p[41];
    if (flen > 15 || 44 + flen > len) return PXS_CORRUPT_BKPT(err, "image record format field");
    memcpy(rec->format, p + 42, flen);
    rec->format[flen] = '\0';
    size_t plen = (size_t)pxs_get_le(p + 42 + flen, 2);
    if (44 + flen + plen != len) return PXS_CORRUPT_BKPT(err, "image record path length");
    rec->path = (const char *)p + 44 + flen;
    rec->path_len = plen;
    return PXS_OK;
}

void record_to_meta(int64_t id, const struct image_record *rec, struct pxs_image_meta *meta) {
    memset(meta, 0, sizeof *meta);
    meta->id = id;
    size_t n = rec->path_len < sizeof meta->path - 1 ? rec->path_len : sizeof meta->path - 1;
    memcpy(meta->path, rec->path, n);
    meta->path[n] = '\0';
    pxs_hash_to_hex(rec->hash, meta->hash);
    memcpy(meta->format, rec->format, sizeof meta->format);
    meta->width = rec->width;
    meta->height = rec->height;
    meta->size = rec->size;
    meta->mtime = rec->mtime;
}

int record_load(pxs_store_txn *txn, int64_t id, struct image_record *rec, struct pxs_err *err) {
    uint8_t key[8];
    pxs_store_u64_key((uint64_t)id, key);
    const void *val;
    size_t len;
    int rc = pxs_store_get(txn, TABLE_IMAGES, key, 8, &val, &len, err);
    if (rc != PXS_OK) return rc;
    return record_decode(val, len, rec, err);
}

/* Vector of image id stored in table (dim floats) into out: 1 if found, 0 if
 * absent, or a negative PXS_E* (a record of the wrong size is corrupt). */
int engine_load_vector(pxs_store_txn *txn, const char *table, int64_t id, float *out, size_t dim,
                       struct pxs_err *err) {
    uint8_t key[8];
    pxs_store_u64_key((uint64_t)id, key);
    const void *val;
    size_t len;
    int rc = pxs_store_get(txn, table, key, 8, &val, &len, err);
    if (rc == PXS_ENOTFOUND) return 0;
    if (rc != PXS_OK) return rc;
    if (len != dim * sizeof(float))
        return pxs_errf(err, PXS_ECORRUPT, "%s record of image %lld has %zu bytes", table,
                        (long long)id, len);
    memcpy(out, val, len);
    return 1;
}

int meta_get_u64(pxs_store_txn *txn, const char *key, uint64_t *out, struct pxs_err *err) {
    const void *val;
    size_t len;
    int rc = pxs_store_get(txn, TABLE_META, key, strlen(key), &val, &len, err);
    if (rc != PXS_OK) return rc;
    if (len != 8) return pxs_errf(err, PXS_ECORRUPT, "meta %s: bad length %zu", key, len);
    *out = pxs_store_u64_from_key(val);
    return PXS_OK;
}

int meta_put_u64(pxs_store_txn *txn, const char *key, uint64_t value, struct pxs_err *err) {
    uint8_t be[8];
    pxs_store_u64_key(value, be);
    return pxs_store_put(txn, TABLE_META, key, strlen(key), be, 8, err);
}

int meta_get_str(pxs_store_txn *txn, const char *key, char *out, size_t cap,
                 struct pxs_err *err) {
    const void *val;
    size_t len;
    int rc = pxs_store_get(txn, TABLE_META, key, strlen(key), &val, &len, err);
    if (rc != PXS_OK) return rc;
    if (len >= cap) return pxs_errf(err, PXS_ECORRUPT, "meta %s: value too long", key);
    memcpy(out, val, len);
    out[len] = '\0';
    return PXS_OK;
}

int meta_put_str(pxs_store_txn *txn, const char *key, const char *value, struct pxs_err *err) {
    return pxs_store_put(txn, TABLE_META, key, strlen(key), value, strlen(value), err);
}

void path_key(const char *path, uint8_t key[PXS_HASH_BYTES]) {
    pxs_hash128(path, strlen(path), key);
}
