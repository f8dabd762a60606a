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
    PXS_INDEX_FLAT = 0,         /* exact scan; the oracle for every approximate index */
    PXS_INDEX_HNSW = 1,         /* graph ANN (Malkov & Yashunin); removal leaves a tombstone */
    PXS_INDEX_IVF_FLAT = 2,     /* k-means lists of raw vectors (Milvus IVF_FLAT) */
    PXS_INDEX_IVF_SQ8 = 3,      /* lists of 8-bit scalar-quantised vectors (~4x smaller) */
    PXS_INDEX_IVF_PQ = 4,       /* lists of product-quantised residuals (pq_m bytes or less) */
    PXS_INDEX_BIN_FLAT = 5,     /* exact scan of binary vectors (HAMMING, JACCARD) */
    PXS_INDEX_BIN_IVF_FLAT = 6, /* k-means lists of binary vectors (HAMMING, JACCARD) */
};
/* "FLAT", "HNSW", "IVF_FLAT", ... (Milvus names); parse is case-insensitive. */
const char *pxs_index_type_name(enum pxs_index_type type);
int pxs_index_type_parse(const char *name, enum pxs_index_type *out) PXS_MUST_CHECK;

/* Zero-initialise, then set type, metric and dim; zero fields mean "use the
 * default", and fields of other index types are ignored.
 *
 * Float indexes (FLAT, HNSW, IVF_*) take L2, IP or COSINE and dim in
 * 1..32768 floats. Binary indexes (BIN_*) take HAMMING or JACCARD and dim in
 * bits: a multiple of 8 in 8..32768; their vectors are dim/8 bytes, bit i of
 * the vector is bit (i % 8) of byte i / 8. Any other combination gives
 * PXS_EUNSUPPORTED; an out-of-range parameter gives PXS_EINVAL naming it.
 *
 * IVF indexes buffer vectors unsorted (searched exactly) until trained:
 * automatically when ivf_train_size vectors are buffered, or on
 * pxs_index_train(). Training runs k-means (fixed seed, random init on a
 * sample, 10 Lloyd iterations) and moves every buffered vector into the list
 * of its nearest centroid; later vectors go straight to their nearest list. */
struct pxs_index_params {
    enum pxs_index_type type;
    enum pxs_metric metric;
    size_t dim;
    int hnsw_m;               /* links per node above level 0 (2*M at level 0); 2..128, default 16 */
    int hnsw_ef_construction; /* candidate list size while inserting; 1..10000, default 200 */
    int hnsw_ef_search;       /* default search-time ef when pxs_search_params.ef is 0; default 64 */
    uint64_t hnsw_seed;       /* seed of the level generator (0 = fixed default), so builds repeat */
    int ivf_nlist;            /* IVF_*, BIN_IVF_FLAT: lists (Milvus nlist); 1..65536, default 128 */
    int pq_m;                 /* IVF_PQ: sub-quantizers (Milvus m); required, dim % pq_m == 0 */
    int pq_nbits;             /* IVF_PQ: bits per sub-code (Milvus nbits); 4 or 8, default 8 */
    size_t ivf_train_size;    /* buffered vectors that trigger training; 0 = 40 * nlist
                               * (IVF_PQ: at least 40 * 2^nbits) */
    uint64_t ivf_seed;        /* k-means seed (0 = fixed default), so training repeats */
};

/* Filter callback: nonzero if id may be returned. Called from the
 * searching thread, possibly many times per search; it must not call back
 * into the index and must be thread-safe if searches run concurrently. */
typedef int (*pxs_index_allow_fn)(int64_t id, void *user);

/* Per-search knobs (all zero = index defaults, no filter, top-k search). */
struct pxs_search_params {
    int ef;     /* HNSW candidate list size, raised to k if smaller; ignored by FLAT; 0..100000 */
    int nprobe; /* IVF lists scanned (Milvus nprobe); 0 = 8; clipped to nlist; 0..65536 */
    /* Filtered search (Milvus-style): only ids with allow(id, allow_user) != 0
     * are returned. allow_count, if nonzero, is the caller's count of allowed
     * ids: HNSW uses it to switch to an exact scan of the allowed ids when
     * few rows pass (without it HNSW estimates the fraction by sampling). */
    pxs_index_allow_fn allow;
    void *allow_user;
    size_t allow_count;
    /* Range search (Milvus semantics): with range set, only hits inside the
     * range are returned, still at most k, best first. For L2, HAMMING and
     * JACCARD (smaller is closer): range_filter <= d < radius. For IP and
     * COSINE (larger is closer): radius < s <= range_filter. range_filter
     * applies only when has_range_filter is set, and must then lie on the
     * closer side of radius (else PXS_EINVAL). HNSW widens its search until
     * k hits are found or the search front leaves the radius. */
    int range;
    float radius;
    int has_range_filter;
    float range_filter;
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
/* Remove an id; PXS_ENOTFOUND (err untouched) if absent. Honoured at once
 * by every type. FLAT, IVF_* and BIN_* free the slot (the last vector of
 * the same list moves into it); HNSW marks the node as a tombstone: it is
 * never returned, still routes searches, and its memory is kept until the
 * index is rebuilt. */
int pxs_index_remove(pxs_index *index, int64_t id, struct pxs_err *err) PXS_MUST_CHECK;
size_t pxs_index_count(const pxs_index *index);
size_t pxs_index_dim(const pxs_index *index);
enum pxs_metric pxs_index_metric(const pxs_index *index);
/* Bytes of memory held by the index. */
size_t pxs_index_memory(const pxs_index *index);

/* The k best hits, best first (ties broken by smaller id), written to hits
 * (caller-owned, room for k). *n_hits = min(k, count) for FLAT and
 * BIN_FLAT without filter or range; an approximate index, a filter or a
 * range may give fewer. k == 0 gives *n_hits = 0 (hits may
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

/* ---- binary vectors (BIN_FLAT, BIN_IVF_FLAT) ------------------------------
 * vec and query are dim/8 bytes (see struct pxs_index_params). Scores:
 * HAMMING is the number of differing bits; JACCARD is 1 - |a&b| / |a|b|
 * (0 when both vectors are all zero). The float entry points give PXS_EINVAL
 * on a binary index and these give PXS_EINVAL on a float index. */
int pxs_index_add_binary(pxs_index *index, int64_t id, const uint8_t *vec,
                         struct pxs_err *err) PXS_MUST_CHECK;
int pxs_index_search_binary(const pxs_index *index, const uint8_t *query, size_t k,
                            const struct pxs_search_params *sp, struct pxs_hit *hits,
                            size_t *n_hits, struct pxs_err *err) PXS_MUST_CHECK;
/* 1 if binary (BIN_*), else 0. */
int pxs_index_is_binary(const pxs_index *index);

/* ---- training (IVF family) -------------------------------------------------
 * Train now on the vectors buffered so far (PXS_EINVAL if fewer than nlist,
 * or for IVF_PQ fewer than 2^nbits). Already trained, or an index type that
 * needs no training: PXS_OK, nothing done. On failure the index is unchanged
 * and still usable (untrained). */
int pxs_index_train(pxs_index *index, struct pxs_err *err) PXS_MUST_CHECK;
/* 1 if searches use the trained structure (always 1 for FLAT, HNSW, BIN_FLAT). */
int pxs_index_is_trained(const pxs_index *index);

/* ---- persistence -----------------------------------------------------------
 * The index module does no file I/O: it turns an index into bytes and back.
 * The format (magic "PXSINDEX", format version, type, metric, dim, count,
 * payload length, XXH3-64 checksums of header and payload; little-endian)
 * is specified at the top of src/index/serialize.c.
 *
 * serialize appends the whole index to out (which must be initialised; its
 * max bounds the size: PXS_ELIMIT if exceeded, out->len then restored).
 * Not concurrently with add/remove; concurrent searches are fine.
 *
 * deserialize builds a new index (caller frees with pxs_index_free) from
 * len bytes at data (borrowed for the call only). Searches on the result
 * return exactly what the serialized index returned. Damaged or hostile
 * input gives PXS_ECORRUPT (every count, length, id and link is checked
 * before use); a format version this build cannot read gives
 * PXS_EUNSUPPORTED with the version in the message. */
int pxs_index_serialize(const pxs_index *index, struct pxs_buf *out,
                        struct pxs_err *err) PXS_MUST_CHECK;
int pxs_index_deserialize(const void *data, size_t len, pxs_index **out,
                          struct pxs_err *err) PXS_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
