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
 *   tags      key: u64 id                value: JSON object text of user tags
 *                                        ({"key": "string" | number, ...}, at most
 *                                        TAGS_MAX_BYTES); absent = no tags
 *
 * Image record, version 2 (little-endian, packed), written by this pixseek:
 *   offset size field
 *   0      1    version (2)
 *   1      8    file size in bytes
 *   9      8    mtime, seconds since the epoch (signed)
 *   17     4    width  (signed, of the oriented image)
 *   21     4    height
 *   25     16   content hash (XXH3-128)
 *   41     1    format name length F (<= 15)
 *   42     F    format name ("jpeg", ...)
 *   42+F   2    path length P (u16)
 *   44+F   P    absolute path, UTF-8/bytes, no NUL
 *   then, at q = 44+F+P:
 *   q      1    flags: bit 0 = the original is kept in the blob store
 *                      (<data>/blobs/, named by the content hash); others 0
 *   q+1    1    EXIF date length D (0 or 19), then D bytes "YYYY-MM-DD HH:MM:SS"
 *                (DateTimeOriginal, else DateTime)
 *   ...    1    camera make length M (<= 63), then M bytes (EXIF Make)
 *   ...    1    camera model length L (<= 63), then L bytes (EXIF Model)
 *   The record ends exactly there.
 * Version 1 (pixseek before EXIF support) is the same up to the path and
 * ends there; it reads as flags 0 and no EXIF fields. Both are read; only
 * version 2 is written. Readers reject records shorter or longer than
 * their declared lengths and versions they do not know.
 */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>


#define RECORD_V1 1
#define RECORD_V2 2

/* Append a u8-length-prefixed string of at most max bytes. */
static int put_short_string(struct pxs_buf *out, const char *s, size_t max) {
    uint8_t n = (uint8_t)strnlen(s, max);
    int rc = pxs_buf_append(out, &n, 1);
    return rc == PXS_OK ? pxs_buf_append(out, s, n) : rc;
}

int record_encode(const struct image_record *rec, struct pxs_buf *out) {
    size_t flen = strnlen(rec->format, sizeof rec->format - 1);
    if (rec->path_len > 0xffff) return PXS_ELIMIT;
    uint8_t head[44 + 15];
    head[0] = RECORD_V2;
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
    if (rc == PXS_OK) rc = pxs_buf_append(out, &rec->flags, 1);
    if (rc == PXS_OK) rc = put_short_string(out, rec->exif_date, sizeof rec->exif_date - 1);
    if (rc == PXS_OK) rc = put_short_string(out, rec->camera_make, sizeof rec->camera_make - 1);
    if (rc == PXS_OK) rc = put_short_string(out, rec->camera_model, sizeof rec->camera_model - 1);
    return rc;
}

/* Read a u8-length-prefixed string at *pos into out (cap bytes with NUL). */
static int get_short_string(const uint8_t *p, size_t len, size_t *pos, char *out, size_t cap) {
    if (*pos >= len) return -1;
    size_t n = p[(*pos)++];
    if (n >= cap || n > len - *pos) return -1;
    memcpy(out, p + *pos, n);
    out[n] = '\0';
    *pos += n;
    return 0;
}

int record_decode(const void *data, size_t len, struct image_record *rec, struct pxs_err *err) {
    const uint8_t *p = data;
    memset(rec, 0, sizeof *rec);
    if (len < 44) return PXS_CORRUPT_BKPT(err, "image record too short");
    if (p[0] != RECORD_V1 && p[0] != RECORD_V2)
        return pxs_errf(err, PXS_ECORRUPT, "image record version %u unknown", p[0]);
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
    size_t pos = 44 + flen + plen;
    if (pos > len || (p[0] == RECORD_V1 && pos != len))
        return PXS_CORRUPT_BKPT(err, "image record path length");
    rec->path = (const char *)p + 44 + flen;
    rec->path_len = plen;
    if (p[0] == RECORD_V1) return PXS_OK;
    if (pos >= len) return PXS_CORRUPT_BKPT(err, "image record flags");
    rec->flags = p[pos++];
    if (get_short_string(p, len, &pos, rec->exif_date, sizeof rec->exif_date) != 0 ||
        get_short_string(p, len, &pos, rec->camera_make, sizeof rec->camera_make) != 0 ||
        get_short_string(p, len, &pos, rec->camera_model, sizeof rec->camera_model) != 0 ||
        pos != len)
        return PXS_CORRUPT_BKPT(err, "image record EXIF fields");
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
    memcpy(meta->date, rec->exif_date, sizeof meta->date);
    memcpy(meta->camera_make, rec->camera_make, sizeof meta->camera_make);
    memcpy(meta->camera_model, rec->camera_model, sizeof meta->camera_model);
    record_camera(rec, meta->camera, sizeof meta->camera);
    meta->original_stored = (rec->flags & RECORD_FLAG_BLOB) != 0;
}

void record_camera(const struct image_record *rec, char *out, size_t cap) {
    size_t mk = strlen(rec->camera_make);
    /* Models usually repeat the make ("Canon" + "Canon EOS 5D"). */
    if (!rec->camera_model[0] || (mk && strncmp(rec->camera_model, rec->camera_make, mk) == 0))
        snprintf(out, cap, "%s", rec->camera_model[0] ? rec->camera_model : rec->camera_make);
    else if (!mk)
        snprintf(out, cap, "%s", rec->camera_model);
    else
        snprintf(out, cap, "%s %s", rec->camera_make, rec->camera_model);
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
