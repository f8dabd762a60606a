/*
 * serialize.c — pxs_index_serialize / pxs_index_deserialize: the byte
 * format of a saved index, the little-endian writer and the bounds-checked
 * reader every index type uses for its payload. The module does no file
 * I/O; the caller stores the bytes wherever it likes.
 *
 * Format (version 1). All integers little-endian, fixed width; floats are
 * IEEE-754 binary32, little-endian.
 *
 *   offset size field
 *   0      8    magic "PXSINDEX"
 *   8      4    format version (PXS_INDEX_FORMAT_VERSION = 1)
 *   12     4    index type (enum pxs_index_type)
 *   16     4    metric (enum pxs_metric)
 *   20     4    flags, 0 (reserved)
 *   24     8    dim (floats, or bits for binary indexes)
 *   32     8    count: live vectors
 *   40     8    payload length P; the input is exactly 64 + P bytes
 *   48     8    payload checksum: pxs_hash64 (XXH3-64) of the P payload bytes
 *   56     8    header checksum: pxs_hash64 of bytes 0..55
 *   64     P    payload:
 *                 params block, 48 bytes:
 *                   u32 hnsw_m, u32 hnsw_ef_construction, u32 hnsw_ef_search,
 *                   u64 hnsw_seed, u32 ivf_nlist, u32 pq_m, u32 pq_nbits,
 *                   u64 ivf_train_size, u64 ivf_seed
 *                   (the effective values, defaults filled in; a stored
 *                   value a constructor would change is rejected, so
 *                   load -> save reproduces the input byte for byte)
 *                 then the type's own body, specified at the top of the
 *                 file of the type: flat.c (FLAT), hnsw.c (HNSW), ivf.c
 *                 (IVF_FLAT, IVF_SQ8, IVF_PQ, BIN_FLAT, BIN_IVF_FLAT).
 *
 * Validity rules, checked in this order on load: length >= 64, magic,
 * header checksum, version (other versions: PXS_EUNSUPPORTED naming it),
 * type and metric known, flags 0, payload length == input length - 64,
 * payload checksum; then the params must make a valid index, the body must
 * parse with every count checked against the bytes left before anything is
 * allocated, every id, link and code must be in range, no byte may be left
 * over, and the loaded count must equal the header count. Any failure is
 * PXS_ECORRUPT with the file:line of the check (PXS_CORRUPT_BKPT).
 */
#include "index/index_int.h"

#include <math.h>
#include <string.h>

#define FORMAT_VERSION 1u
#define HEADER_BYTES 64u
static const char MAGIC[8] = {'P', 'X', 'S', 'I', 'N', 'D', 'E', 'X'};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_LE 1
#else
#define HOST_LE 0
#endif

/* ---- writer ------------------------------------------------------------------ */

void pxs__w_bytes(struct pxs__writer *w, const void *p, size_t n) {
    if (w->rc == PXS_OK) w->rc = pxs_buf_append(w->out, p, n);
}

void pxs__w_u8(struct pxs__writer *w, uint8_t v) { pxs__w_bytes(w, &v, 1); }

void pxs__w_u32(struct pxs__writer *w, uint32_t v) {
    uint8_t b[4];
    pxs_put_le(b, v, 4);
    pxs__w_bytes(w, b, 4);
}

void pxs__w_u64(struct pxs__writer *w, uint64_t v) {
    uint8_t b[8];
    pxs_put_le(b, v, 8);
    pxs__w_bytes(w, b, 8);
}

void pxs__w_u32s(struct pxs__writer *w, const uint32_t *v, size_t n) {
    if (HOST_LE) {
        pxs__w_bytes(w, v, n * 4);
        return;
    }
    for (size_t i = 0; i < n; i++) pxs__w_u32(w, v[i]);
}

void pxs__w_i64s(struct pxs__writer *w, const int64_t *v, size_t n) {
    if (HOST_LE) {
        pxs__w_bytes(w, v, n * 8);
        return;
    }
    for (size_t i = 0; i < n; i++) pxs__w_u64(w, (uint64_t)v[i]);
}

void pxs__w_f32s(struct pxs__writer *w, const float *v, size_t n) {
    if (HOST_LE) {
        pxs__w_bytes(w, v, n * 4);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        pxs__w_u32(w, u);
    }
}

/* ---- reader ------------------------------------------------------------------ */

int pxs__r_need(struct pxs__reader *r, size_t n, size_t size) {
    size_t bytes;
    if (pxs_size_mul(n, size, &bytes) != 0 || bytes > (size_t)(r->end - r->p))
        return PXS__CORRUPT(r, "index payload is truncated");
    return PXS_OK;
}

int pxs__r_bytes(struct pxs__reader *r, void *dst, size_t n) {
    int rc = pxs__r_need(r, n, 1);
    if (rc != PXS_OK) return rc;
    if (n) memcpy(dst, r->p, n);
    r->p += n;
    return PXS_OK;
}

int pxs__r_u8(struct pxs__reader *r, uint8_t *v) { return pxs__r_bytes(r, v, 1); }

int pxs__r_u32(struct pxs__reader *r, uint32_t *v) {
    int rc = pxs__r_need(r, 1, 4);
    if (rc != PXS_OK) return rc;
    *v = (uint32_t)pxs_get_le(r->p, 4);
    r->p += 4;
    return PXS_OK;
}

int pxs__r_u64(struct pxs__reader *r, uint64_t *v) {
    int rc = pxs__r_need(r, 1, 8);
    if (rc != PXS_OK) return rc;
    *v = pxs_get_le(r->p, 8);
    r->p += 8;
    return PXS_OK;
}

int pxs__r_u32s(struct pxs__reader *r, uint32_t *dst, size_t n) {
    int rc = pxs__r_need(r, n, 4);
    if (rc != PXS_OK) return rc;
    if (HOST_LE) {
        if (n) memcpy(dst, r->p, n * 4);
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = (uint32_t)pxs_get_le(r->p + 4 * i, 4);
    }
    r->p += n * 4;
    return PXS_OK;
}

int pxs__r_i64s(struct pxs__reader *r, int64_t *dst, size_t n) {
    int rc = pxs__r_need(r, n, 8);
    if (rc != PXS_OK) return rc;
    if (HOST_LE) {
        if (n) memcpy(dst, r->p, n * 8);
    } else {
        for (size_t i = 0; i < n; i++) dst[i] = (int64_t)pxs_get_le(r->p + 8 * i, 8);
    }
    r->p += n * 8;
    return PXS_OK;
}

int pxs__r_f32s(struct pxs__reader *r, float *dst, size_t n) {
    int rc = pxs__r_u32s(r, (uint32_t *)(void *)dst, n);
    if (rc != PXS_OK) return rc;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i])) return PXS__CORRUPT(r, "index payload holds a non-finite value");
    return PXS_OK;
}

/* ---- whole index ------------------------------------------------------------- */

static void write_params(struct pxs__writer *w, const struct pxs_index_params *p) {
    pxs__w_u32(w, (uint32_t)p->hnsw_m);
    pxs__w_u32(w, (uint32_t)p->hnsw_ef_construction);
    pxs__w_u32(w, (uint32_t)p->hnsw_ef_search);
    pxs__w_u64(w, p->hnsw_seed);
    pxs__w_u32(w, (uint32_t)p->ivf_nlist);
    pxs__w_u32(w, (uint32_t)p->pq_m);
    pxs__w_u32(w, (uint32_t)p->pq_nbits);
    pxs__w_u64(w, p->ivf_train_size);
    pxs__w_u64(w, p->ivf_seed);
}

/* Stored ints above INT32_MAX would wrap to negative values, which the
 * constructors reject, so no separate range check is needed here. */
static int read_params(struct pxs__reader *r, struct pxs_index_params *p) {
    uint32_t m, efc, efs, nlist, pqm, nbits;
    uint64_t seed, train, iseed;
    int rc;
    if ((rc = pxs__r_u32(r, &m)) != PXS_OK || (rc = pxs__r_u32(r, &efc)) != PXS_OK ||
        (rc = pxs__r_u32(r, &efs)) != PXS_OK || (rc = pxs__r_u64(r, &seed)) != PXS_OK ||
        (rc = pxs__r_u32(r, &nlist)) != PXS_OK || (rc = pxs__r_u32(r, &pqm)) != PXS_OK ||
        (rc = pxs__r_u32(r, &nbits)) != PXS_OK || (rc = pxs__r_u64(r, &train)) != PXS_OK ||
        (rc = pxs__r_u64(r, &iseed)) != PXS_OK)
        return rc;
    if (m > INT32_MAX || efc > INT32_MAX || efs > INT32_MAX || nlist > INT32_MAX ||
        pqm > INT32_MAX || nbits > INT32_MAX || train > SIZE_MAX)
        return PXS__CORRUPT(r, "index parameter out of range");
    p->hnsw_m = (int)m;
    p->hnsw_ef_construction = (int)efc;
    p->hnsw_ef_search = (int)efs;
    p->hnsw_seed = seed;
    p->ivf_nlist = (int)nlist;
    p->pq_m = (int)pqm;
    p->pq_nbits = (int)nbits;
    p->ivf_train_size = (size_t)train;
    p->ivf_seed = iseed;
    return PXS_OK;
}

static void fill_checksums(uint8_t *hdr, const uint8_t *payload, size_t plen) {
    pxs_put_le(hdr + 48, pxs_hash64(payload, plen), 8);
    pxs_put_le(hdr + 56, pxs_hash64(hdr, 56), 8);
}

void pxs__index_fix_checksums(uint8_t *buf, size_t len) {
    if (len < HEADER_BYTES) return;
    fill_checksums(buf, buf + HEADER_BYTES, len - HEADER_BYTES);
}

int pxs_index_serialize(const pxs_index *index, struct pxs_buf *out, struct pxs_err *err) {
    if (!index || !out) return pxs_errf(err, PXS_EINVAL, "index_serialize: NULL argument");
    if (!index->ops->save)
        return pxs_errf(err, PXS_EUNSUPPORTED, "index_serialize: %s cannot be saved",
                        pxs_index_type_name(index->params.type));
    size_t start = out->len;
    uint8_t hdr[HEADER_BYTES] = {0};
    struct pxs__writer w = {out, PXS_OK};
    pxs__w_bytes(&w, hdr, sizeof hdr); /* placeholder, patched below */
    write_params(&w, &index->params);
    index->ops->save(index, &w);
    if (w.rc != PXS_OK) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
        return pxs_errf(err, w.rc, "index_serialize: %s",
                        w.rc == PXS_ELIMIT ? "output exceeds the buffer limit" : "out of memory");
    }
    size_t plen = out->len - start - HEADER_BYTES;
    memcpy(hdr, MAGIC, 8);
    pxs_put_le(hdr + 8, FORMAT_VERSION, 4);
    pxs_put_le(hdr + 12, (uint32_t)index->params.type, 4);
    pxs_put_le(hdr + 16, (uint32_t)index->params.metric, 4);
    pxs_put_le(hdr + 20, 0, 4);
    pxs_put_le(hdr + 24, index->params.dim, 8);
    pxs_put_le(hdr + 32, index->ops->count(index), 8);
    pxs_put_le(hdr + 40, plen, 8);
    uint8_t *base = (uint8_t *)out->data + start;
    fill_checksums(hdr, base + HEADER_BYTES, plen);
    memcpy(base, hdr, HEADER_BYTES);
    return PXS_OK;
}

int pxs_index_deserialize(const void *data, size_t len, pxs_index **out, struct pxs_err *err) {
    if (out) *out = NULL;
    if (!out || (!data && len)) return pxs_errf(err, PXS_EINVAL, "index_deserialize: NULL argument");
    const uint8_t *b = data;
    if (len < HEADER_BYTES) return PXS_CORRUPT_BKPT(err, "index data is shorter than its header");
    if (memcmp(b, MAGIC, 8) != 0) return PXS_CORRUPT_BKPT(err, "index data has a bad magic");
    if (pxs_get_le(b + 56, 8) != pxs_hash64(b, 56))
        return PXS_CORRUPT_BKPT(err, "index header checksum mismatch");
    uint32_t version = (uint32_t)pxs_get_le(b + 8, 4);
    if (version != FORMAT_VERSION)
        return pxs_errf(err, PXS_EUNSUPPORTED,
                        "index format version %u is %s than this build reads (%u); rebuild the "
                        "index from its vectors",
                        version, version < FORMAT_VERSION ? "older" : "newer", FORMAT_VERSION);
    uint32_t type = (uint32_t)pxs_get_le(b + 12, 4), metric = (uint32_t)pxs_get_le(b + 16, 4);
    uint64_t dim = pxs_get_le(b + 24, 8), count = pxs_get_le(b + 32, 8), plen = pxs_get_le(b + 40, 8);
    if (type > PXS_INDEX_BIN_IVF_FLAT || metric > PXS_METRIC_JACCARD)
        return PXS_CORRUPT_BKPT(err, "index header names an unknown type or metric");
    if (pxs_get_le(b + 20, 4) != 0) return PXS_CORRUPT_BKPT(err, "index header has unknown flags");
    if (plen != len - HEADER_BYTES)
        return PXS_CORRUPT_BKPT(err, "index payload length does not match the data length");
    if (pxs_get_le(b + 48, 8) != pxs_hash64(b + HEADER_BYTES, (size_t)plen))
        return PXS_CORRUPT_BKPT(err, "index payload checksum mismatch");
    if (dim == 0 || dim > PXS_INDEX_DIM_MAX)
        return PXS_CORRUPT_BKPT(err, "index dimension out of range");

    struct pxs__reader r = {b + HEADER_BYTES, b + len, err};
    struct pxs_index_params p;
    memset(&p, 0, sizeof p);
    p.type = (enum pxs_index_type)type;
    p.metric = (enum pxs_metric)metric;
    p.dim = (size_t)dim;
    int rc = read_params(&r, &p);
    if (rc != PXS_OK) return rc;
    pxs_index *ix = NULL;
    struct pxs_err perr = {0};
    rc = pxs_index_new(&p, &ix, &perr);
    if (rc == PXS_ENOMEM) return pxs_errf(err, rc, "index_deserialize: out of memory");
    if (rc != PXS_OK) {
        return pxs_errf(err, PXS_ECORRUPT, "stored index parameters are invalid: %s", perr.msg);
    }
    /* Writers store the effective values, so anything a constructor would
     * have changed (a 0 meaning "default", a field of another type) marks
     * bytes no writer produced. Keeps load -> save byte-exact. */
    const struct pxs_index_params *e = &ix->params;
    if (e->hnsw_m != p.hnsw_m || e->hnsw_ef_construction != p.hnsw_ef_construction ||
        e->hnsw_ef_search != p.hnsw_ef_search || e->hnsw_seed != p.hnsw_seed ||
        e->ivf_nlist != p.ivf_nlist || e->pq_m != p.pq_m || e->pq_nbits != p.pq_nbits ||
        e->ivf_train_size != p.ivf_train_size || e->ivf_seed != p.ivf_seed) {
        pxs_index_free(ix);
        return PXS_CORRUPT_BKPT(err, "stored index parameters are not in canonical form");
    }
    rc = ix->ops->load(ix, &r);
    if (rc == PXS_OK && r.p != r.end) rc = PXS_CORRUPT_BKPT(err, "index payload has trailing bytes");
    if (rc == PXS_OK && ix->ops->count(ix) != count)
        rc = PXS_CORRUPT_BKPT(err, "index count does not match the header");
    if (rc != PXS_OK) {
        pxs_index_free(ix);
        return rc;
    }
    *out = ix;
    return PXS_OK;
}
