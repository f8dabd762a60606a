/*
 * index_int.h — private declarations of the index module: the distance
 * kernel table (one per ISA, chosen once at run time), the id -> slot hash
 * map, and the vtable every index type implements. Included only from
 * src/index/ and tests/index/.
 *
 * Internal convention: every index ranks by a "key" where smaller is
 * closer. L2 keys are the squared distance, IP and COSINE keys are the
 * negated similarity (COSINE vectors are unit length when stored, so the
 * similarity is an inner product). pxs__index_key_to_score() turns a key
 * back into the metric's raw score for struct pxs_hit.
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
    return metric == PXS_METRIC_L2 ? key : -key;
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

/* ---- index vtable -------------------------------------------------------- */

struct pxs__index_ops {
    void (*destroy)(pxs_index *ix);
    /* vec is validated (finite, dim) and, for COSINE, already unit length. */
    int (*add)(pxs_index *ix, int64_t id, const float *vec, struct pxs_err *err);
    int (*remove)(pxs_index *ix, int64_t id); /* PXS_OK or PXS_ENOTFOUND */
    size_t (*count)(const pxs_index *ix);
    size_t (*memory)(const pxs_index *ix);
    /* query is validated; qscale multiplies IP keys (1/|q| for COSINE, else 1).
     * k >= 1, hits has room for k. */
    int (*search)(const pxs_index *ix, const float *query, float qscale, size_t k,
                  const struct pxs_search_params *sp, struct pxs_hit *hits, size_t *n_hits,
                  struct pxs_err *err);
};

/* Common head of every index object (first member of each type's struct). */
struct pxs_index {
    const struct pxs__index_ops *ops;
    struct pxs_index_params params;
    float *scratch_vec; /* dim floats for normalising a vector on add */
};

int pxs__flat_new(const struct pxs_index_params *p, pxs_index **out, struct pxs_err *err);
int pxs__hnsw_new(const struct pxs_index_params *p, pxs_index **out, struct pxs_err *err);
/* Test hook: verify the HNSW invariants listed in hnsw.c (PXS_EINTERNAL
 * naming the first violation). */
int pxs__hnsw_check(const pxs_index *ix, struct pxs_err *err);

#endif
