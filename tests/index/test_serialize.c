/*
 * tests/index/test_serialize.c — pxs_index_serialize / deserialize: every
 * index type round-trips to identical search results and identical bytes
 * (and keeps building identically afterwards); every truncation and every
 * single-byte change of the header is rejected; payload changes are caught
 * by the checksum, and with the checksums recomputed (as the fuzz target
 * does) by the structural checks — HNSW links out of range, hostile counts,
 * invalid stored parameters — without crashing; other format versions get
 * PXS_EUNSUPPORTED.
 *
 * PXS_INDEX_WRITE_SEEDS=DIR writes the small serialized indexes built here
 * to DIR (how fuzz/corpus/index_load/ was made).
 */
#include "index/index_int.h"
#include "../test.h"
#include "index_test_util.h"

#include <stdlib.h>

#define N_KINDS 9
static const char *const kind_names[N_KINDS] = {
    "flat", "hnsw", "ivf_flat", "ivf_flat_untrained", "ivf_sq8", "ivf_pq8", "ivf_pq4",
    "bin_flat", "bin_ivf_flat"};

/* A small index of kind k (n vectors of dim 8, or 64 bits), fixed seed. */
static int build_kind(int k, size_t n, pxs_index **out) {
    struct pxs_index_params p = {.metric = PXS_METRIC_L2, .dim = 8, .ivf_nlist = 4};
    switch (k) {
    case 0: p.type = PXS_INDEX_FLAT; p.metric = PXS_METRIC_COSINE; break;
    case 1: p.type = PXS_INDEX_HNSW; p.hnsw_m = 4; p.hnsw_ef_construction = 16; break;
    case 2: p.type = PXS_INDEX_IVF_FLAT; p.metric = PXS_METRIC_IP; p.ivf_train_size = 20; break;
    case 3: p.type = PXS_INDEX_IVF_FLAT; p.ivf_train_size = 100000; break;
    case 4: p.type = PXS_INDEX_IVF_SQ8; p.ivf_train_size = 20; break;
    case 5: p.type = PXS_INDEX_IVF_PQ; p.pq_m = 2; p.pq_nbits = 8; p.ivf_train_size = 256; break;
    case 6: p.type = PXS_INDEX_IVF_PQ; p.pq_m = 4; p.pq_nbits = 4; p.ivf_train_size = 20; break;
    case 7: p.type = PXS_INDEX_BIN_FLAT; p.metric = PXS_METRIC_JACCARD; p.dim = 64; break;
    default: p.type = PXS_INDEX_BIN_IVF_FLAT; p.metric = PXS_METRIC_HAMMING; p.dim = 64;
             p.ivf_train_size = 20; break;
    }
    if (pxs_index_new(&p, out, NULL) != PXS_OK) return -1;
    struct trng r = {900 + (uint64_t)k};
    for (size_t i = 0; i < n; i++) {
        int rc;
        if (pxs_index_is_binary(*out)) {
            uint64_t bits = trng_next(&r);
            rc = pxs_index_add_binary(*out, (int64_t)i * 7 - 50, (const uint8_t *)&bits, NULL);
        } else {
            float v[8];
            trng_vec(&r, v, 8);
            rc = pxs_index_add(*out, (int64_t)i * 7 - 50, v, NULL);
        }
        if (rc != PXS_OK) return -1;
    }
    /* Exercise removal state too (tombstones for HNSW). */
    for (size_t i = 0; i < n; i += 5)
        if (pxs_index_remove(*out, (int64_t)i * 7 - 50, NULL) != PXS_OK) return -1;
    return 0;
}

/* Search a with 20 queries; 1 if b gives bit-identical answers. */
static int same_answers(const pxs_index *a, const pxs_index *b, uint64_t seed) {
    struct trng r = {seed};
    struct pxs_search_params sp = {.ef = 20, .nprobe = 2};
    for (int q = 0; q < 20; q++) {
        struct pxs_hit ha[10], hb[10];
        size_t na = 0, nb = 0;
        int ra, rb;
        if (pxs_index_is_binary(a)) {
            uint64_t bits = trng_next(&r);
            ra = pxs_index_search_binary(a, (const uint8_t *)&bits, 10, &sp, ha, &na, NULL);
            rb = pxs_index_search_binary(b, (const uint8_t *)&bits, 10, &sp, hb, &nb, NULL);
        } else {
            float v[8];
            trng_vec(&r, v, 8);
            ra = pxs_index_search_ex(a, v, 10, &sp, ha, &na, NULL);
            rb = pxs_index_search_ex(b, v, 10, &sp, hb, &nb, NULL);
        }
        if (ra != PXS_OK || rb != PXS_OK || na != nb) return 0;
        for (size_t i = 0; i < na; i++)
            if (ha[i].id != hb[i].id || memcmp(&ha[i].score, &hb[i].score, sizeof(float)) != 0)
                return 0;
    }
    return 1;
}

static int serialize(const pxs_index *ix, struct pxs_buf *b) {
    pxs_buf_init(b, 64u << 20);
    return pxs_index_serialize(ix, b, NULL);
}

PXS_TEST(index_serialize_round_trip_every_type) {
    const char *seed_dir = getenv("PXS_INDEX_WRITE_SEEDS");
    for (int k = 0; k < N_KINDS; k++) {
        pxs_index *a, *b;
        CHECK_MSG(build_kind(k, 300, &a) == 0, "build %s", kind_names[k]);
        struct pxs_buf buf;
        CHECK_OK(serialize(a, &buf), NULL);
        struct pxs_err err = {0};
        CHECK_OK(pxs_index_deserialize(buf.data, buf.len, &b, &err), &err);
        CHECK_EQ_INT(pxs_index_get_type(b), pxs_index_get_type(a));
        CHECK_EQ_INT(pxs_index_metric(b), pxs_index_metric(a));
        CHECK_EQ_INT(pxs_index_dim(b), pxs_index_dim(a));
        CHECK_EQ_INT(pxs_index_count(b), pxs_index_count(a));
        CHECK_EQ_INT(pxs_index_is_trained(b), pxs_index_is_trained(a));
        CHECK_MSG(same_answers(a, b, 5), "%s answers differ after load", kind_names[k]);
        /* Serializing the loaded index gives the same bytes. */
        struct pxs_buf again;
        CHECK_OK(serialize(b, &again), NULL);
        CHECK_EQ_INT(again.len, buf.len);
        CHECK_MSG(memcmp(again.data, buf.data, buf.len) == 0, "%s bytes differ", kind_names[k]);
        /* Both keep evolving identically (HNSW level rng, IVF lists). */
        for (int i = 0; i < 30; i++) {
            struct trng r = {4000 + (uint64_t)i};
            uint64_t bits = trng_next(&r);
            float v[8];
            trng_vec(&r, v, 8);
            if (pxs_index_is_binary(a)) {
                CHECK_OK(pxs_index_add_binary(a, 100000 + i, (const uint8_t *)&bits, NULL), NULL);
                CHECK_OK(pxs_index_add_binary(b, 100000 + i, (const uint8_t *)&bits, NULL), NULL);
            } else {
                CHECK_OK(pxs_index_add(a, 100000 + i, v, NULL), NULL);
                CHECK_OK(pxs_index_add(b, 100000 + i, v, NULL), NULL);
            }
        }
        CHECK_OK(pxs_index_remove(b, 100003, NULL), NULL);
        CHECK_OK(pxs_index_remove(a, 100003, NULL), NULL);
        CHECK_MSG(same_answers(a, b, 6), "%s answers differ after more adds", kind_names[k]);
        if (k == 1) CHECK_OK(pxs__hnsw_check(b, NULL), NULL);
        if (k >= 2) CHECK_OK(pxs__ivf_check(b, NULL), NULL);
        if (seed_dir) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s.pxi", seed_dir, kind_names[k]);
            pxs_index *tiny;
            CHECK(build_kind(k, k == 5 ? 260 : 24, &tiny) == 0);
            struct pxs_buf tb;
            CHECK_OK(serialize(tiny, &tb), NULL);
            CHECK_OK(pxs_file_write_atomic(path, tb.data, tb.len, NULL), NULL);
            pxs_buf_free(&tb);
            pxs_index_free(tiny);
        }
        pxs_buf_free(&again);
        pxs_buf_free(&buf);
        pxs_index_free(a);
        pxs_index_free(b);
    }
    /* An empty index of each family round-trips too. */
    struct pxs_index_params p = {.type = PXS_INDEX_HNSW, .metric = PXS_METRIC_IP, .dim = 3};
    pxs_index *e, *l;
    CHECK_OK(pxs_index_new(&p, &e, NULL), NULL);
    struct pxs_buf buf;
    CHECK_OK(serialize(e, &buf), NULL);
    CHECK_OK(pxs_index_deserialize(buf.data, buf.len, &l, NULL), NULL);
    CHECK_EQ_INT(pxs_index_count(l), 0);
    pxs_buf_free(&buf);
    pxs_index_free(e);
    pxs_index_free(l);
}

PXS_TEST(index_serialize_rejects_truncation_and_header_flips) {
    for (int k = 0; k < N_KINDS; k++) {
        pxs_index *a, *b = NULL;
        CHECK(build_kind(k, k == 5 ? 260 : 40, &a) == 0);
        struct pxs_buf buf;
        CHECK_OK(serialize(a, &buf), NULL);
        uint8_t *copy = pxs_malloc(buf.len);
        memcpy(copy, buf.data, buf.len);
        for (size_t len = 0; len < buf.len; len++) {
            /* Exact-size copies so ASan sees any read past the end. */
            uint8_t *t = pxs_malloc(len ? len : 1);
            memcpy(t, copy, len);
            int rc = pxs_index_deserialize(t, len, &b, NULL);
            pxs_free(t);
            CHECK_MSG(rc == PXS_ECORRUPT && b == NULL, "%s truncated to %zu: %d", kind_names[k],
                      len, rc);
        }
        const uint8_t flips[] = {0x01, 0x80, 0xff};
        for (size_t i = 0; i < 64; i++)
            for (size_t f = 0; f < sizeof flips; f++) {
                copy[i] ^= flips[f];
                struct pxs_err err = {0};
                int rc = pxs_index_deserialize(copy, buf.len, &b, &err);
                copy[i] ^= flips[f];
                CHECK_MSG(rc == PXS_ECORRUPT && b == NULL, "%s header byte %zu ^ %02x: %d %s",
                          kind_names[k], i, flips[f], rc, err.msg);
            }
        /* Payload changes: the checksum catches them. */
        for (size_t i = 64; i < buf.len; i += 1 + buf.len / 97) {
            copy[i] ^= 0x10;
            int rc = pxs_index_deserialize(copy, buf.len, &b, NULL);
            copy[i] ^= 0x10;
            CHECK_EQ_INT(rc, PXS_ECORRUPT);
        }
        /* Extra bytes after the payload. */
        uint8_t *longer = pxs_malloc(buf.len + 1);
        memcpy(longer, copy, buf.len);
        longer[buf.len] = 0;
        CHECK_EQ_INT(pxs_index_deserialize(longer, buf.len + 1, &b, NULL), PXS_ECORRUPT);
        pxs__index_fix_checksums(longer, buf.len + 1);
        CHECK_EQ_INT(pxs_index_deserialize(longer, buf.len + 1, &b, NULL), PXS_ECORRUPT);
        pxs_free(longer);
        pxs_free(copy);
        pxs_buf_free(&buf);
        pxs_index_free(a);
    }
}

/* Deserialize with fixed checksums: must not crash; if accepted, searching
 * must work and the invariants must hold. */
static int try_load(uint8_t *data, size_t len) {
    pxs__index_fix_checksums(data, len);
    pxs_index *ix = NULL;
    struct pxs_err err = {0};
    int rc = pxs_index_deserialize(data, len, &ix, &err);
    if (rc != PXS_OK) return rc;
    struct pxs_hit h[5];
    size_t n;
    uint8_t q[4096] = {0};
    int src = pxs_index_is_binary(ix)
                  ? pxs_index_search_binary(ix, q, 5, NULL, h, &n, NULL)
                  : pxs_index_search(ix, (const float *)(const void *)q, 5, h, &n, NULL);
    int ok = src == PXS_OK;
    if (pxs_index_get_type(ix) == PXS_INDEX_HNSW) ok &= pxs__hnsw_check(ix, NULL) == PXS_OK;
    else if (pxs_index_get_type(ix) >= PXS_INDEX_IVF_FLAT) ok &= pxs__ivf_check(ix, NULL) == PXS_OK;
    pxs_index_free(ix);
    return ok ? PXS_OK : PXS_EINTERNAL;
}

PXS_TEST(index_serialize_structural_checks) {
    for (int k = 0; k < N_KINDS; k++) {
        pxs_index *a;
        CHECK(build_kind(k, 30, &a) == 0);
        struct pxs_buf buf;
        CHECK_OK(serialize(a, &buf), NULL);
        uint8_t *copy = pxs_malloc(buf.len);
        /* Every payload byte changed, checksums recomputed. */
        for (size_t i = 64; i < buf.len; i++) {
            memcpy(copy, buf.data, buf.len);
            copy[i] ^= (uint8_t)(0x5a + i);
            int rc = try_load(copy, buf.len);
            CHECK_MSG(rc == PXS_OK || rc == PXS_ECORRUPT, "%s byte %zu: %d", kind_names[k], i, rc);
        }
        pxs_free(copy);
        pxs_buf_free(&buf);
        pxs_index_free(a);
    }
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

PXS_TEST(index_serialize_hostile_fields) {
    pxs_index *h;
    CHECK(build_kind(1, 50, &h) == 0);
    struct pxs_buf buf;
    CHECK_OK(serialize(h, &buf), NULL);
    uint8_t *c = pxs_malloc(buf.len);
    size_t n = 50, body = 64 + 48; /* header + params block */
    size_t level0 = body + 24 + n * 10;
    struct pxs_err err = {0};
    /* Node 0's first level-0 link -> n (one past the last node). */
    memcpy(c, buf.data, buf.len);
    put32(c + level0, 1);
    put32(c + level0 + 4, (uint32_t)n);
    pxs__index_fix_checksums(c, buf.len);
    pxs_index *out = NULL;
    CHECK_EQ_INT(pxs_index_deserialize(c, buf.len, &out, &err), PXS_ECORRUPT);
    CHECK(strstr(err.msg, "neighbour") != NULL);
    /* A link to itself. */
    memcpy(c, buf.data, buf.len);
    put32(c + level0, 1);
    put32(c + level0 + 4, 0);
    CHECK_EQ_INT(try_load(c, buf.len), PXS_ECORRUPT);
    /* Too many links for M0 = 8. */
    memcpy(c, buf.data, buf.len);
    put32(c + level0, 9);
    CHECK_EQ_INT(try_load(c, buf.len), PXS_ECORRUPT);
    /* A node count far beyond the payload: rejected before allocating. */
    memcpy(c, buf.data, buf.len);
    put64(c + body, 1ULL << 40);
    CHECK_EQ_INT(try_load(c, buf.len), PXS_ECORRUPT);
    memcpy(c, buf.data, buf.len);
    put64(c + body, UINT64_MAX);
    CHECK_EQ_INT(try_load(c, buf.len), PXS_ECORRUPT);
    /* Entry point out of range. */
    memcpy(c, buf.data, buf.len);
    put32(c + body + 16, (uint32_t)n);
    CHECK_EQ_INT(try_load(c, buf.len), PXS_ECORRUPT);
    /* Stored parameters that no index accepts (hnsw_m = 1). */
    memcpy(c, buf.data, buf.len);
    put32(c + 64, 1);
    pxs__index_fix_checksums(c, buf.len);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_index_deserialize(c, buf.len, &out, &err), PXS_ECORRUPT);
    CHECK(strstr(err.msg, "hnsw_m") != NULL);
    /* Header count disagreeing with the payload. */
    memcpy(c, buf.data, buf.len);
    put64(c + 32, 3);
    CHECK_EQ_INT(try_load(c, buf.len), PXS_ECORRUPT);
    /* Dimension changed in the header (payload sizes no longer fit). */
    memcpy(c, buf.data, buf.len);
    put64(c + 24, 9);
    CHECK_EQ_INT(try_load(c, buf.len), PXS_ECORRUPT);
    /* Other format versions: a clear "older"/"newer" message. */
    memcpy(c, buf.data, buf.len);
    put32(c + 8, 0);
    pxs__index_fix_checksums(c, buf.len);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_index_deserialize(c, buf.len, &out, &err), PXS_EUNSUPPORTED);
    CHECK(strstr(err.msg, "version 0 is older") != NULL);
    put32(c + 8, 2);
    pxs__index_fix_checksums(c, buf.len);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_index_deserialize(c, buf.len, &out, &err), PXS_EUNSUPPORTED);
    CHECK(strstr(err.msg, "version 2 is newer") != NULL);
    CHECK(out == NULL);
    /* A duplicated live id in an IVF list. */
    pxs_index *f;
    struct pxs_index_params p = {.type = PXS_INDEX_FLAT, .metric = PXS_METRIC_L2, .dim = 2};
    CHECK_OK(pxs_index_new(&p, &f, NULL), NULL);
    float v[2] = {1, 2};
    CHECK_OK(pxs_index_add(f, 10, v, NULL), NULL);
    CHECK_OK(pxs_index_add(f, 11, v, NULL), NULL);
    struct pxs_buf fb;
    CHECK_OK(serialize(f, &fb), NULL);
    uint8_t *d = pxs_malloc(fb.len);
    memcpy(d, fb.data, fb.len);
    put64(d + body + 8 + 8, 10); /* second id := first id */
    CHECK_EQ_INT(try_load(d, fb.len), PXS_ECORRUPT);
    memcpy(d, fb.data, fb.len);
    put32(d + body + 8 + 16, 0x7fc00000u); /* a NaN component */
    CHECK_EQ_INT(try_load(d, fb.len), PXS_ECORRUPT);
    /* NULL / empty input. */
    CHECK_EQ_INT(pxs_index_deserialize(NULL, 0, &out, NULL), PXS_ECORRUPT);
    CHECK_EQ_INT(pxs_index_deserialize(NULL, 5, &out, NULL), PXS_EINVAL);
    /* A buffer limit too small for the index: ELIMIT, buffer unchanged. */
    struct pxs_buf small;
    pxs_buf_init(&small, 100);
    CHECK_OK(pxs_buf_append(&small, "ab", 2), NULL);
    CHECK_EQ_INT(pxs_index_serialize(h, &small, NULL), PXS_ELIMIT);
    CHECK_EQ_INT(small.len, 2);
    /* Appending after existing bytes: the index starts at the old end. */
    pxs_buf_free(&small);
    pxs_buf_init(&small, 1 << 20);
    CHECK_OK(pxs_buf_append(&small, "ab", 2), NULL);
    CHECK_OK(pxs_index_serialize(f, &small, NULL), NULL);
    CHECK_OK(pxs_index_deserialize(small.data + 2, small.len - 2, &out, NULL), NULL);
    CHECK_EQ_INT(pxs_index_count(out), 2);
    pxs_index_free(out);
    pxs_buf_free(&small);
    pxs_free(d);
    pxs_buf_free(&fb);
    pxs_index_free(f);
    pxs_free(c);
    pxs_buf_free(&buf);
    pxs_index_free(h);
}

/* Format version 1 files written by this code (tests/index/compat/, the
 * same bytes as the fuzz seeds) must keep loading, answer searches, and
 * re-serialize byte for byte, until a new version deliberately drops them. */
PXS_TEST(index_serialize_compat_v1_files) {
    size_t loaded = 0;
    for (int k = 0; k < N_KINDS; k++) {
        char path[256];
        snprintf(path, sizeof path, "tests/index/compat/%s.pxi", kind_names[k]);
        char *data = NULL;
        size_t len = 0;
        struct pxs_err err = {0};
        if (pxs_file_read_all(path, 1 << 20, &data, &len, &err) != PXS_OK) continue;
        pxs_index *ix;
        CHECK_OK(pxs_index_deserialize(data, len, &ix, &err), &err);
        pxs_index *fresh;
        CHECK(build_kind(k, k == 5 ? 260 : 24, &fresh) == 0);
        CHECK_MSG(same_answers(ix, fresh, 9), "%s v1 file answers differently", kind_names[k]);
        struct pxs_buf again;
        CHECK_OK(serialize(ix, &again), NULL);
        CHECK_MSG(again.len == len && memcmp(again.data, data, len) == 0, "%s v1 bytes differ",
                  kind_names[k]);
        pxs_buf_free(&again);
        pxs_index_free(ix);
        pxs_index_free(fresh);
        pxs_free(data);
        loaded++;
    }
    SKIP_IF(loaded == 0, "tests/index/compat/ not found (run from the repository root)");
    CHECK_EQ_INT(loaded, N_KINDS);
}
