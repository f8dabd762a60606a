/*
 * pixseek/index.h — vector search: distance kernels (chosen once at run time
 * from what the CPU reports) and in-memory indexes over (int64 id, vector)
 * pairs. FLAT (exact) is the oracle every approximate index is tested
 * against.
 *
 * The index module knows nothing of images or storage. Indexes are not
 * internally locked: concurrent searches are safe, but adds and removes
 * need exclusive access (the engine holds a read-write lock).
 */
#ifndef PIXSEEK_INDEX_H
#define PIXSEEK_INDEX_H

#include "pixseek/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum pxs_metric {
    PXS_METRIC_L2 = 0,  /* squared Euclidean distance, smaller is closer (Milvus convention) */
    PXS_METRIC_IP,      /* inner product, larger is closer */
    PXS_METRIC_COSINE,  /* cosine similarity, larger is closer */
    PXS_METRIC_HAMMING, /* binary vectors, smaller is closer */
    PXS_METRIC_JACCARD, /* binary vectors, distance 1 - |a&b|/|a|b|, smaller is closer */
};

/* "L2", "IP", "COSINE", ...; parse is case-insensitive. */
const char *pxs_metric_name(enum pxs_metric metric);
int pxs_metric_parse(const char *name, enum pxs_metric *out) PXS_MUST_CHECK;
/* 1 if larger scores are closer (IP, COSINE), else 0. */
int pxs_metric_higher_is_closer(enum pxs_metric metric);

/* ---- distance kernels (float32), dispatched to AVX-512 / AVX2 / scalar ---- */
float pxs_dist_l2sq(const float *a, const float *b, size_t dim);
float pxs_dist_ip(const float *a, const float *b, size_t dim);
float pxs_dist_cosine(const float *a, const float *b, size_t dim);
/* Name of the kernel set in use: "avx512", "avx2" or "generic". */
const char *pxs_dist_kernel_name(void);
/* Normalise v to unit length in place; returns the original norm (0 leaves v). */
float pxs_vec_normalize(float *v, size_t dim);

/* ---- indexes ------------------------------------------------------------ */

enum pxs_index_type {
    PXS_INDEX_FLAT = 0, /* exact scan; the oracle for every approximate index */
    PXS_INDEX_HNSW = 1, /* graph ANN (Malkov & Yashunin); removal leaves a tombstone */
};

/* Zero-initialise, then set type, metric and dim; zero HNSW fields mean
 * "use the default". FLAT ignores the HNSW fields. Metrics: L2, IP, COSINE
 * (HAMMING/JACCARD give PXS_EUNSUPPORTED); dim in 1..32768. */
struct pxs_index_params {
    enum pxs_index_type type;
    enum pxs_metric metric;
    size_t dim;
    int hnsw_m;               /* links per node above level 0 (2*M at level 0); 2..128, default 16 */
    int hnsw_ef_construction; /* candidate list size while inserting; 1..10000, default 200 */
    int hnsw_ef_search;       /* default search-time ef when pxs_search_params.ef is 0; default 64 */
    uint64_t hnsw_seed;       /* seed of the level generator (0 = fixed default), so builds repeat */
};

/* Per-search knobs (all zero = index defaults). */
struct pxs_search_params {
    int ef; /* HNSW candidate list size, raised to k if smaller; ignored by FLAT; 0..100000 */
};

struct pxs_hit {
    int64_t id;
    float score; /* the metric's raw value: distance for L2, similarity for IP/COSINE */
};

typedef struct pxs_index pxs_index;

int pxs_index_new(const struct pxs_index_params *params, pxs_index **out,
                  struct pxs_err *err) PXS_MUST_CHECK;
/* NULL is a no-op. */
void pxs_index_free(pxs_index *index);
/* Add one vector (copied). An id already present is replaced. A vector with
 * a NaN/Inf component gives PXS_EINVAL (message names the position); the
 * index is then unchanged. COSINE indexes store the vector normalised. */
int pxs_index_add(pxs_index *index, int64_t id, const float *vec,
                  struct pxs_err *err) PXS_MUST_CHECK;
/* Remove an id; PXS_ENOTFOUND (err untouched) if absent. FLAT frees the
 * slot at once (the last vector moves into it); HNSW marks the node as a
 * tombstone: it is never returned, still routes searches, and its memory is
 * kept until the index is rebuilt. */
int pxs_index_remove(pxs_index *index, int64_t id, struct pxs_err *err) PXS_MUST_CHECK;
size_t pxs_index_count(const pxs_index *index);
size_t pxs_index_dim(const pxs_index *index);
enum pxs_metric pxs_index_metric(const pxs_index *index);
/* Bytes of memory held by the index. */
size_t pxs_index_memory(const pxs_index *index);

/* The k best hits, best first (ties broken by smaller id), written to hits
 * (caller-owned, room for k). *n_hits = min(k, count) for FLAT; an
 * approximate index may return fewer. k == 0 gives *n_hits = 0 (hits may
 * then be NULL). A query with a NaN/Inf component gives PXS_EINVAL.
 * Safe to call from many threads at once (no locks, no allocation after
 * warm-up); not concurrently with add/remove. */
int pxs_index_search(const pxs_index *index, const float *query, size_t k, struct pxs_hit *hits,
                     size_t *n_hits, struct pxs_err *err) PXS_MUST_CHECK;
/* Same, with per-search parameters (sp may be NULL). */
int pxs_index_search_ex(const pxs_index *index, const float *query, size_t k,
                        const struct pxs_search_params *sp, struct pxs_hit *hits, size_t *n_hits,
                        struct pxs_err *err) PXS_MUST_CHECK;
/* Index type of an index. */
enum pxs_index_type pxs_index_get_type(const pxs_index *index);

#ifdef __cplusplus
}
#endif
#endif
