/*
 * index_file.c — reading and writing the engine's index files.
 *
 * Layout (little-endian), n = the number of header words the caller uses:
 *    0        8  magic (caller's, e.g. "PXSCOLIX", "PXSIMGIX")
 *    8        4  format version (caller's)
 *   12        4  reserved (0)
 *   16      8*n  the caller's words (what the index covers, a spec hash, ...)
 *   16+8n     8  payload length
 *   24+8n     8  XXH3-64 of bytes 0 .. 24+8n-1
 *   32+8n        payload: pxs_index_serialize output (own magic and checksums)
 * Files are written with pxs_file_write_atomic, so a reader sees the old
 * file or the new one, never a mix. A file is a cache of the store: any
 * damage makes the caller rebuild from the store.
 */
#include "engine/index_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t header_bytes(int n_words) { return 32 + 8 * (size_t)n_words; }

int index_file_encode(const struct index_file_head *head, const pxs_index *ix, struct pxs_buf *out,
                      struct pxs_err *err) {
    if (head->n_words < 0 || head->n_words > INDEX_FILE_MAX_WORDS || strlen(head->magic) != 8)
        return pxs_errf(err, PXS_EINTERNAL, "index file: bad header description");
    size_t hb = header_bytes(head->n_words), start = out->len;
    uint8_t h[32 + 8 * INDEX_FILE_MAX_WORDS] = {0};
    memcpy(h, head->magic, 8);
    pxs_put_le(h + 8, head->version, 4);
    for (int i = 0; i < head->n_words; i++) pxs_put_le(h + 16 + 8 * i, head->words[i], 8);
    int rc = pxs_buf_append(out, h, hb);
    if (rc == PXS_OK) rc = pxs_index_serialize(ix, out, err);
    else rc = pxs_errf(err, rc, "index file: out of memory");
    if (rc != PXS_OK) {
        out->len = start;
        return rc;
    }
    uint8_t *p = (uint8_t *)out->data + start;
    pxs_put_le(p + hb - 16, out->len - start - hb, 8);
    pxs_put_le(p + hb - 8, pxs_hash64(p, hb - 8), 8);
    return PXS_OK;
}

int index_file_write(const char *path, const struct pxs_buf *bytes, struct pxs_err *err) {
    char dir[4200];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return pxs_errf(err, PXS_EINVAL, "index file path too long");
    int rc = pxs_mkdirs(dirname(dir), err);
    if (rc == PXS_OK) rc = pxs_file_write_atomic(path, bytes->data, bytes->len, err);
    return rc;
}

int index_file_parse(const char *path, const void *data, size_t len, struct index_file_head *head,
                     index_file_check_fn check, void *user, pxs_index **ix, struct pxs_err *err) {
    *ix = NULL;
    if (head->n_words < 0 || head->n_words > INDEX_FILE_MAX_WORDS || strlen(head->magic) != 8)
        return pxs_errf(err, PXS_EINTERNAL, "index file: bad header description");
    int rc = PXS_OK;
    const uint8_t *p = data;
    size_t hb = header_bytes(head->n_words);
    if (len < hb || memcmp(p, head->magic, 8)) rc = pxs_errf(err, PXS_ECORRUPT, "%s: not an index file", path);
    else if (pxs_get_le(p + hb - 8, 8) != pxs_hash64(p, hb - 8))
        rc = pxs_errf(err, PXS_ECORRUPT, "%s: header checksum", path);
    else if (pxs_get_le(p + 8, 4) != head->version)
        rc = pxs_errf(err, PXS_EUNSUPPORTED, "%s: format version %u", path, (unsigned)pxs_get_le(p + 8, 4));
    else if (pxs_get_le(p + hb - 16, 8) != len - hb) rc = pxs_errf(err, PXS_ECORRUPT, "%s: truncated", path);
    for (int i = 0; rc == PXS_OK && i < head->n_words; i++) head->words[i] = pxs_get_le(p + 16 + 8 * i, 8);
    if (rc == PXS_OK && check) rc = check(path, head->words, user, err);
    if (rc == PXS_OK) rc = pxs_index_deserialize(p + hb, len - hb, ix, err);
    return rc;
}

/* The file is mapped rather than read, so loading a large index does not
 * hold the file's bytes and the index in memory twice. */
int index_file_read(const char *path, struct index_file_head *head, index_file_check_fn check,
                    void *user, pxs_index **ix, struct pxs_err *err) {
    *ix = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pxs_errf_sys(err, errno == ENOENT ? PXS_ENOTFOUND : PXS_EIO, errno, "cannot open %s", path);
    struct stat st;
    int rc = PXS_OK;
    if (fstat(fd, &st) != 0) rc = pxs_errf_sys(err, PXS_EIO, errno, "cannot stat %s", path);
    else if ((uint64_t)st.st_size > INDEX_FILE_MAX_BYTES)
        rc = pxs_errf(err, PXS_ELIMIT, "%s: %lld bytes is over the limit", path, (long long)st.st_size);
    else if (st.st_size == 0) rc = pxs_errf(err, PXS_ECORRUPT, "%s: empty", path);
    void *map = MAP_FAILED;
    size_t len = (size_t)st.st_size;
    if (rc == PXS_OK && (map = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0)) == MAP_FAILED)
        rc = pxs_errf_sys(err, PXS_EIO, errno, "cannot map %s", path);
    close(fd);
    if (rc != PXS_OK) return rc;
    rc = index_file_parse(path, map, len, head, check, user, ix, err);
    munmap(map, len);
    return rc;
}

void index_file_fix_checksum(void *data, size_t len, int n_words) {
    size_t hb = header_bytes(n_words);
    if (n_words < 0 || n_words > INDEX_FILE_MAX_WORDS || len < hb) return;
    pxs_put_le((uint8_t *)data + hb - 8, pxs_hash64(data, hb - 8), 8);
}
