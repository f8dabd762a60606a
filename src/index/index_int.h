/*
 * index_int.h — private declarations of the index module: the distance
 * kernel table (one per ISA, chosen once at run time), the id -> slot hash
 * map, and the vtable every index type implements. Included only from
 * src/index/ and tests/index/.
 *
 * Internal convention: every index ranks by a "key" where smaller is
 * closer. L2 keys are the squared distance, IP and COSINE keys are the
 * negated similarity (COSINE vectors are unit length when stored, so the
 * similarity is an inner product), HAMMING and JACCARD keys are the
 * distance itself. pxs__index_key_to_score() turns a key back into the
 * metric's raw score for struct pxs_hit.
 */
#ifndef PIXSEEK_INDEX_INT_H
#define PIXSEEK_INDEX_INT_H

#include "pixseek/core.h"
#include "pixseek/index.h"

#include <stddef.h>
#include <stdint.h>

/* Largest dimension any index accepts. */
#define PXS_INDEX_DIM_MAX 32768u
/* Floats per stored row are rounded up to this (64 bytes), so every row of
 * a 64-byte-aligned matrix starts on a cache line. */
#define PXS_INDEX_ROW_ALIGN_FLOATS 16u

/* ---- distance kernels ---------------------------------------------------- */

typedef float (*pxs__dist_fn)(const float *a, const float *b, size_t dim);
/* One query against n rows: rows[i] starts at base + i * stride (floats).
 * out[i] receives dist(q, row i). Pointers need no particular alignment. */
typedef void (*pxs__dist_batch_fn)(const float *q, const float *base, size_t stride, size_t n,
                                   size_t dim, float *out);

struct pxs__dist_kernels {
    const char *name; /* "generic", "avx2", "avx512" */
    pxs__dist_fn l2sq;
    pxs__dist_fn ip;
    pxs__dist_fn cosine; /* ip / (|a| |b|), 0 if either norm is 0 */
    pxs__dist_batch_fn l2sq_batch;
    pxs__dist_batch_fn ip_batch;
};

/* The kernel set picked for this CPU (pthread_once; never NULL). */
const struct pxs__dist_kernels *pxs__index_kernels(void);
/* Individual sets, for differential tests. The ISA sets return NULL when
 * not compiled for this architecture; calling their functions on a CPU
 * without the ISA is undefined, so check pxs_cpu_features() first. */
const struct pxs__dist_kernels *pxs__index_kernels_generic(void);
const struct pxs__dist_kernels *pxs__index_kernels_avx2(void);
const struct pxs__dist_kernels *pxs__index_kernels_avx512(void);

/* ---- helpers shared by index types --------------------------------------- */

/* PXS_OK if all dim components are finite, else PXS_EINVAL naming the first
 * bad position. what is "vector" or "query" for the message. */
int pxs__index_check_finite(const float *v, size_t dim, const char *what, struct pxs_err *err);

/* Key (smaller is closer) -> raw score of the metric. */
static inline float pxs__index_key_to_score(enum pxs_metric metric, float key) {
    return (metric == PXS_METRIC_IP || metric == PXS_METRIC_COSINE) ? -key : key;
}

/* Round dim up to a whole number of 64-byte rows. */
static inline size_t pxs__index_row_stride(size_t dim) {
    return (dim + PXS_INDEX_ROW_ALIGN_FLOATS - 1) & ~(size_t)(PXS_INDEX_ROW_ALIGN_FLOATS - 1);
}

/* Order of hits by key, ties by smaller id: returns 1 if a is worse than b. */
static inline int pxs__hit_worse(const struct pxs_hit *a, const struct pxs_hit *b) {
    return a->score > b->score || (a->score == b->score && a->id > b->id);
}

/* Bounded top-k over keys held in the caller's hits array, used as a binary
 * max-heap of the worst kept hit. push() keeps the k best seen; finish()
 * sorts best first and converts keys to scores. No allocation. */
struct pxs__topk {
    struct pxs_hit *h;
    size_t k;
    size_t n;
};
void pxs__topk_init(struct pxs__topk *t, struct pxs_hit *storage, size_t k);
void pxs__topk_push(struct pxs__topk *t, int64_t id, float key);
/* Key that a new hit must beat (for early rejection); +inf until full. */
float pxs__topk_bound(const struct pxs__topk *t);
size_t pxs__topk_finish(struct pxs__topk *t, enum pxs_metric metric);

/* ---- id -> slot map: open addressing, linear probing, backward-shift delete */

struct pxs__idmap_entry {
    int64_t id;
    uint64_t slot_plus1; /* 0 = empty */
};

struct pxs__idmap {
    struct pxs__idmap_entry *t;
    size_t cap; /* power of two, or 0 */
    size_t n;
};

void pxs__idmap_init(struct pxs__idmap *m);
void pxs__idmap_free(struct pxs__idmap *m);
/* 1 and *slot if present, else 0. */
int pxs__idmap_get(const struct pxs__idmap *m, int64_t id, size_t *slot);
/* Insert or overwrite. PXS_ENOMEM if growing fails (map unchanged). */
int pxs__idmap_put(struct pxs__idmap *m, int64_t id, size_t slot) PXS_MUST_CHECK;
/* Change the slot of an id already present (never allocates); 0 if absent. */
int pxs__idmap_update(struct pxs__idmap *m, int64_t id, size_t slot);
/* Make room for n entries in total, so later puts up to n cannot fail. */
int pxs__idmap_reserve(struct pxs__idmap *m, size_t n) PXS_MUST_CHECK;
/* 1 if removed, 0 if absent. */
int pxs__idmap_del(struct pxs__idmap *m, int64_t id);
size_t pxs__idmap_memory(const struct pxs__idmap *m);

/* ---- kernels on codes: SQ8, PQ look-up tables, binary ------------------ */

struct pxs__code_kernels {
    const char *name; /* "generic", "avx2", "avx512" */
    /* SQ8 L2 in code space: sum_i w[i] * (a[i] - c[i])^2. */
    float (*sq8_l2)(const float *a, const float *w, const uint8_t *c, size_t dim);
    /* SQ8 inner product in code space: sum_i a[i] * c[i]. */
    float (*sq8_ip)(const float *a, const uint8_t *c, size_t dim);
    /* PQ, 8-bit codes (m bytes each, n codes back to back): out[i] =
     * sum_j lut[j * 256 + code_i[j]]. */
    void (*pq8_scan)(const float *lut, size_t m, const uint8_t *codes, size_t n, float *out);
    /* PQ, 4-bit codes ((m + 1) / 2 bytes each; sub-code j is the low nibble
     * of byte j/2 for even j, the high nibble for odd j): out[i] =
     * sum_j lut[j * 16 + nibble_j]. */
    void (*pq4_scan)(const float *lut, size_t m, const uint8_t *codes, size_t n, float *out);
    /* SQ8 graph traversal (hnsw.c): out[j] = sum_i row_j[i] * q[i] over len
     * bytes (unsigned codes times signed query bytes, exact in int32 for
     * len <= 65536), where row j starts at base + ids[j] * step. len is a
     * multiple of 64 and every row is readable for len bytes. Prefetches
     * the next row while scoring one. */
    void (*u8s8_dot_rows)(const int8_t *q, const uint8_t *base, size_t step, const uint32_t *ids,
                          size_t n, size_t len, int32_t *out);
    /* Number of differing bits of two nbytes-long vectors. */
    uint64_t (*hamming)(const uint8_t *a, const uint8_t *b, size_t nbytes);
    /* |a & b| and |a | b| in bits. */
    void (*jaccard)(const uint8_t *a, const uint8_t *b, size_t nbytes, uint64_t *inter,
                    uint64_t *uni);
};

/* The portable popcount kernels, also used by the ISA sets when the CPU
 * lacks a fast popcount. */
uint64_t pxs__hamming_generic(const uint8_t *a, const uint8_t *b, size_t nbytes);
void pxs__jaccard_generic(const uint8_t *a, const uint8_t *b, size_t nbytes, uint64_t *inter,
                          uint64_t *uni);

/* Chosen once for this CPU (never NULL); the ISA sets return NULL when not
 * compiled for this architecture (avx512 needs AVX-512 F+BW and, for its
 * popcount kernels, VPOPCNTDQ: it falls back to generic ones without). */
const struct pxs__code_kernels *pxs__code_kernels(void);
const struct pxs__code_kernels *pxs__code_kernels_generic(void);
const struct pxs__code_kernels *pxs__code_kernels_avx2(void);
const struct pxs__code_kernels *pxs__code_kernels_avx512(void);
/* 1 if the AVX-512 set uses VPOPCNTDQ (for tests and benchmarks). */
int pxs__code_kernels_avx512_popcnt(void);
/* The AVX-512 set's u8s8_dot_rows: with VNNI (VPDPBUSD; calling it on a CPU
 * without AVX512_VNNI is undefined) or with AVX-512 BW widening only. The
 * set itself uses the VNNI one when the CPU reports it. For tests. */
typedef void (*pxs__u8s8_dot_rows_fn)(const int8_t *q, const uint8_t *base, size_t step,
                                      const uint32_t *ids, size_t n, size_t len, int32_t *out);
pxs__u8s8_dot_rows_fn pxs__u8s8_dot_rows_avx512(int vnni);

/* ---- searches: the checked form of struct pxs_search_params ------------- */

/* Built by index.c from the caller's pxs_search_params: every type sees
 * validated values and a key range instead of the metric's raw radius. */
struct pxs__search_ctx {
    size_t ef;     /* 0 = index default */
    size_t nprobe; /* 0 = index default */
    pxs_index_allow_fn allow; /* NULL = no filter */
    void *allow_user;
    size_t allow_count; /* hint, 0 = unknown */
    int ranged;         /* keep only key_lo <= key < key_hi */
    float key_lo, key_hi;
};

/* 1 if a hit (id, key) may be returned. */
static inline int pxs__ctx_keep(const struct pxs__search_ctx *c, int64_t id, float key) {
    if (c->ranged && !(key >= c->key_lo && key < c->key_hi)) return 0;
    return !c->allow || c->allow(id, c->allow_user);
}

/* ---- serialization helpers (serialize.c) --------------------------------- */

/* Appends little-endian fields to a pxs_buf; the first failure sticks in rc
 * and later writes are skipped. */
struct pxs__writer {
    struct pxs_buf *out;
    int rc;
};
void pxs__w_u8(struct pxs__writer *w, uint8_t v);
void pxs__w_u32(struct pxs__writer *w, uint32_t v);
void pxs__w_u64(struct pxs__writer *w, uint64_t v);
void pxs__w_bytes(struct pxs__writer *w, const void *p, size_t n);
void pxs__w_u32s(struct pxs__writer *w, const uint32_t *v, size_t n);
void pxs__w_i64s(struct pxs__writer *w, const int64_t *v, size_t n);
void pxs__w_f32s(struct pxs__writer *w, const float *v, size_t n);

/* Bounds-checked cursor over untrusted bytes. Every getter returns PXS_OK,
 * or PXS_ECORRUPT (recorded in err with the file:line of the check) when
 * fewer bytes remain than asked for. Counts are multiplied with overflow
 * checks before use, so a hostile count can never allocate more than the
 * input could fill. */
struct pxs__reader {
    const uint8_t *p, *end;
    struct pxs_err *err;
};
int pxs__r_u8(struct pxs__reader *r, uint8_t *v);
int pxs__r_u32(struct pxs__reader *r, uint32_t *v);
int pxs__r_u64(struct pxs__reader *r, uint64_t *v);
/* n items of size bytes: PXS_ECORRUPT unless n * size bytes remain. */
int pxs__r_need(struct pxs__reader *r, size_t n, size_t size);
int pxs__r_bytes(struct pxs__reader *r, void *dst, size_t n);
int pxs__r_u32s(struct pxs__reader *r, uint32_t *dst, size_t n);
int pxs__r_i64s(struct pxs__reader *r, int64_t *dst, size_t n);
/* Also rejects non-finite values (PXS_ECORRUPT). */
int pxs__r_f32s(struct pxs__reader *r, float *dst, size_t n);
#define PXS__CORRUPT(r, what) PXS_CORRUPT_BKPT((r)->err, (what))

/* Recompute both checksums of a serialized index in place (no-op if buf is
 * shorter than a header). For the fuzz target and tests, which mutate
 * payloads and still want the structural checks to run. */
void pxs__index_fix_checksums(uint8_t *buf, size_t len);

/* ---- index vtable -------------------------------------------------------- */

struct pxs__index_ops {
    void (*destroy)(pxs_index *ix);
    /* vec is validated (finite floats, or dim/8 bytes for binary indexes)
     * and, for COSINE, already unit length. */
    int (*add)(pxs_index *ix, int64_t id, const void *vec, struct pxs_err *err);
    int (*remove)(pxs_index *ix, int64_t id); /* PXS_OK or PXS_ENOTFOUND */
    size_t (*count)(const pxs_index *ix);
    size_t (*memory)(const pxs_index *ix);
    /* Bytes of vector data held (raw vectors and codes, without ids, maps
     * and graph links); NULL if the type does not say. */
    size_t (*vector_bytes)(const pxs_index *ix);
    /* query is validated; qscale multiplies IP keys (1/|q| for COSINE, else 1).
     * k >= 1, hits has room for k. Hits outside ctx's range or refused by its
     * filter are never returned. */
    int (*search)(const pxs_index *ix, const void *query, float qscale, size_t k,
                  const struct pxs__search_ctx *ctx, struct pxs_hit *hits, size_t *n_hits,
                  struct pxs_err *err);
    /* Optional (NULL: nothing to train / always trained). */
    int (*train)(pxs_index *ix, struct pxs_err *err);
    int (*is_trained)(const pxs_index *ix);
    /* Type-specific payload after the common params block (serialize.c). */
    void (*save)(const pxs_index *ix, struct pxs__writer *w);
    /* ix is freshly made from the stored params; fill it from r. */
    int (*load)(pxs_index *ix, struct pxs__reader *r);
};

/* Common head of every index object (first member of each type's struct). */
struct pxs_index {
    const struct pxs__index_ops *ops;
    struct pxs_index_params params;
    float *scratch_vec; /* dim floats for normalising a vector on add */
};

/* ops->vector_bytes, or 0 (benchmarks: bytes per vector of each type). */
size_t pxs__index_vector_bytes(const pxs_index *ix);

int pxs__flat_new(const struct pxs_index_params *p, pxs_index **out, struct pxs_err *err);
int pxs__hnsw_new(const struct pxs_index_params *p, pxs_index **out, struct pxs_err *err);
/* IVF_FLAT, IVF_SQ8, IVF_PQ, BIN_FLAT and BIN_IVF_FLAT (ivf.c). */
int pxs__ivf_new(const struct pxs_index_params *p, pxs_index **out, struct pxs_err *err);
/* Test hook: verify the IVF invariants listed in ivf.c. */
int pxs__ivf_check(const pxs_index *ix, struct pxs_err *err);
/* Test hook: IVF_PQ (L2) precomputed tables dropped (on = 0) or built
 * (on = 1); returns 1 if the index now has them. */
int pxs__ivf_pq_tables(pxs_index *ix, int on);
/* Test hook: bytes of vector payload (codes or raw vectors) held. */
size_t pxs__ivf_vector_bytes(const pxs_index *ix);
/* Test hook: verify the HNSW invariants listed in hnsw.c (PXS_EINTERNAL
 * naming the first violation). */
int pxs__hnsw_check(const pxs_index *ix, struct pxs_err *err);
/* Test hook: 1 if the HNSW graph is walked on SQ8 codes (hnsw.c). */
int pxs__hnsw_quantized(const pxs_index *ix);
/* Test and benchmark hook: on = 1 walks the graph on float vectors even
 * where codes exist (construction too), for A/B comparisons. */
void pxs__hnsw_set_float_traversal(pxs_index *ix, int on);

#endif
