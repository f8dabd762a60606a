/*
 * ivf.c — inverted-file indexes (Milvus IVF_FLAT, IVF_SQ8, IVF_PQ,
 * BIN_IVF_FLAT) and the exact binary index BIN_FLAT, which is the same
 * machinery without training.
 *
 * Layout:
 *   pending   ids + raw vectors (dim floats, or dim/8 bytes for binary)
 *             added before training; searched exactly. BIN_FLAT keeps
 *             everything here and never trains.
 *   centroids nlist coarse centroids (floats; bytes for binary), from
 *             k-means on a sample of the pending vectors.
 *   lists     nlist inverted lists of (id, code). Codes per kind:
 *               IVF_FLAT      the raw vector, dim floats
 *               IVF_SQ8       dim bytes: c = round((x - min) / scale), where
 *                             min and scale = (max - min) / 255 are per
 *                             dimension, from the training sample; values
 *                             outside the sample's range clamp to 0 / 255
 *               IVF_PQ        residual x - centroid split into pq_m
 *                             sub-vectors, each replaced by the index of its
 *                             nearest of 2^nbits codewords: pq_m bytes
 *                             (nbits 8) or (pq_m + 1) / 2 bytes (nbits 4,
 *                             sub-code j in the low nibble of byte j/2 for
 *                             even j, the high nibble for odd j)
 *               BIN_IVF_FLAT  the raw binary vector, dim/8 bytes
 *   map       id -> slot, slot = (list + 1) << 40 | position, list + 1 = 0
 *             naming pending.
 *
 * Invariants: untrained => every list is empty; trained => pending is
 * empty; map holds exactly n entries and map[ids[l][p]] names (l, p).
 *
 * Coarse assignment (of added vectors, and of the lists a query probes):
 * L2 and binary metrics by nearest centroid (L2, Hamming); IP by largest
 * inner product; COSINE by largest inner product with unit-length
 * centroids (spherical k-means). Binary centroids are float k-means
 * centroids over 0/1 bits, rounded to bits (faiss IndexBinaryIVF does the
 * same).
 *
 * Training (k-means): sample of at most KMEANS_PER_CENTROID points per
 * centroid, chosen by a seeded Fisher-Yates shuffle; init = distinct random
 * sample points; KMEANS_ITERS Lloyd iterations; an empty cluster takes a
 * perturbed copy of the largest one's centroid. IVF_PQ then trains each
 * sub-quantizer the same way on residuals of a larger sample (at most
 * KMEANS_PQ_PER_CENTROID points per codeword, KMEANS_PQ_ITERS iterations;
 * the coarse k-means uses the sample's first part). Training builds
 * everything aside and swaps it in, so a failure leaves the index as it
 * was (untrained). Adds trigger training when ivf_train_size vectors are
 * pending; a failed automatic training is retried on the next add.
 *
 *   add     trained: O(nlist * dim) to assign (+ O(2^nbits * dim) to
 *           encode for PQ); untrained: O(dim).
 *   remove  O(code size): the last entry of the list moves into the hole.
 *   search  O(nlist * dim) to pick nprobe lists, then a scan of the codes of
 *           those lists with the batched kernels of distance.c / codes.c.
 *           IVF_PQ with L2 keeps precomputed tables derived from the
 *           centroids and codebooks at training and load (see
 *           build_pq_pre; not stored, the file format is unchanged), so a
 *           probed list costs one table addition, not pq_m * 2^nbits
 *           sub-distances.
 *           The per-search buffers come from a lock-free pool, so searches
 *           may run concurrently and do not allocate after warm-up.
 *
 * Serialized payload (after the common header and params, serialize.c):
 *   u32 trained (0 or 1)
 *   u64 n_pending | i64 ids[n_pending] | raw vectors[n_pending]
 *       (f32[dim] each, or u8[dim/8] for binary)
 *   if trained:
 *     centroids: f32[nlist][dim], or u8[nlist][dim/8] for binary
 *     IVF_SQ8: f32 min[dim] | f32 scale[dim]   (scale >= 0)
 *     IVF_PQ:  f32 codebooks[pq_m][2^nbits][dim/pq_m]
 *     per list: u64 count | i64 ids[count] | u8 codes[count][code size]
 * Load checks: trained is 0/1 (and 0 for BIN_FLAT), trained => no pending,
 * counts fit the bytes left, ids unique over the whole index, floats finite.
 * Every byte value is a valid code, so codes need no further check.
 */
#include "index/index_int.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

_Static_assert(sizeof(size_t) >= 8, "ivf slots pack a list number and a position in size_t");

#define IVF_DEFAULT_NLIST 128
#define IVF_MAX_NLIST 65536
#define IVF_DEFAULT_NPROBE 8
#define IVF_DEFAULT_SEED 0x1f5eed2024ULL
#define IVF_TRAIN_PER_LIST 40
#define IVF_PQ_TABLE_MAX ((size_t)256 << 20)
#define KMEANS_ITERS 10
/* Sub-quantizers: low-dimensional, so more points and iterations are
 * affordable (FAISS trains them on up to 256 points per codeword). */
#define KMEANS_PQ_ITERS 15
#define KMEANS_PQ_PER_CENTROID 256
#define KMEANS_PER_CENTROID 64
#define IVF_POOL 32
#define IVF_BLOCK 256
#define SLOT_SHIFT 40

enum ivf_kind { K_FLAT, K_SQ8, K_PQ, K_BIN };

struct ivf_list {
    int64_t *ids;
    uint8_t *codes;
    size_t n, cap;
};

struct ivf_index {
    struct pxs_index base;
    enum ivf_kind kind;
    int exact_only; /* BIN_FLAT */
    size_t dim;       /* floats, or bits */
    size_t raw_size;  /* bytes of one raw vector */
    size_t code_size; /* bytes of one code in a list */
    size_t nlist, train_size;
    uint64_t seed;
    int trained;
    float *centroids; /* float kinds: nlist * dim */
    uint8_t *bcent;   /* binary: nlist * raw_size */
    float *sq_min, *sq_scale;
    size_t pq_m, pq_nbits, pq_ksub, pq_dsub;
    float *pq_cb; /* pq_m * ksub * dsub */
    /* IVF_PQ with L2, derived (never stored): per list, sub-quantizer and
     * codeword |cw|^2 + 2 <centroid part, cw>, nlist * pq_m * ksub floats;
     * NULL when over IVF_PQ_TABLE_MAX bytes (then tables are per list). */
    float *pq_pre;
    float *pq_cbt; /* with pq_pre (same allocation): codebooks transposed,
                      pq_m * dsub rows of ksub floats */
    struct ivf_list *lists;
    struct ivf_list pending;
    struct pxs__idmap map;
    size_t n;
    float *add_tmp; /* writer scratch: nlist + dim + ksub floats */
    size_t search_floats; /* size of one search scratch */
    _Atomic(float *) pool[IVF_POOL];
};

static inline size_t slot_make(size_t list_plus1, size_t pos) {
    return list_plus1 << SLOT_SHIFT | pos;
}

/* ---- rng ---------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- lists -------------------------------------------------------------------- */

static void list_free(struct ivf_list *l) {
    pxs_free(l->ids);
    pxs_free(l->codes);
    memset(l, 0, sizeof *l);
}

/* Room for need entries. Growth doubles (amortised O(1) adds); exact
 * sizes the list to need (training and loading know the final size). */
static int list_reserve(struct ivf_list *l, size_t need, size_t code_size, int exact) {
    if (need <= l->cap) return PXS_OK;
    size_t cap = need;
    if (!exact) {
        cap = l->cap ? l->cap : 8;
        while (cap < need) cap *= 2;
    }
    size_t bytes;
    if (pxs_size_mul(cap, code_size ? code_size : 1, &bytes) != 0) return PXS_ENOMEM;
    int64_t *ids = pxs_realloc(l->ids, cap * sizeof *ids);
    if (!ids) return PXS_ENOMEM;
    l->ids = ids;
    uint8_t *codes = pxs_realloc(l->codes, bytes);
    if (!codes) return PXS_ENOMEM;
    l->codes = codes;
    l->cap = cap;
    return PXS_OK;
}

static struct ivf_list *list_of(struct ivf_index *v, size_t list_plus1) {
    return list_plus1 == 0 ? &v->pending : &v->lists[list_plus1 - 1];
}

static size_t list_code_size(const struct ivf_index *v, size_t list_plus1) {
    return list_plus1 == 0 ? v->raw_size : v->code_size;
}

/* Remove entry pos of a list: the last entry moves into the hole. */
static void list_remove_at(struct ivf_index *v, size_t list_plus1, size_t pos) {
    struct ivf_list *l = list_of(v, list_plus1);
    size_t cs = list_code_size(v, list_plus1), last = l->n - 1;
    if (pos != last) {
        l->ids[pos] = l->ids[last];
        memcpy(l->codes + pos * cs, l->codes + last * cs, cs);
        pxs__idmap_update(&v->map, l->ids[pos], slot_make(list_plus1, pos));
    }
    l->n--;
}

/* ---- coarse assignment and encoding ----------------------------------------- */

static int metric_is_ip(const struct ivf_index *v) {
    return v->base.params.metric == PXS_METRIC_IP || v->base.params.metric == PXS_METRIC_COSINE;
}

static float bin_key(const struct pxs__code_kernels *ck, enum pxs_metric m, const uint8_t *a,
                     const uint8_t *b, size_t nbytes) {
    if (m == PXS_METRIC_HAMMING) return (float)ck->hamming(a, b, nbytes);
    uint64_t in, un;
    ck->jaccard(a, b, nbytes, &in, &un);
    return un ? 1.0f - (float)((double)in / (double)un) : 0.0f;
}

/* Keys (smaller is closer) of a raw vector against every centroid. */
static void coarse_keys(const struct ivf_index *v, const void *raw, float *out) {
    if (v->kind == K_BIN) {
        const struct pxs__code_kernels *ck = pxs__code_kernels();
        for (size_t c = 0; c < v->nlist; c++)
            out[c] = (float)ck->hamming(raw, v->bcent + c * v->raw_size, v->raw_size);
        return;
    }
    const struct pxs__dist_kernels *k = pxs__index_kernels();
    if (metric_is_ip(v)) {
        k->ip_batch(raw, v->centroids, v->dim, v->nlist, v->dim, out);
        for (size_t c = 0; c < v->nlist; c++) out[c] = -out[c];
    } else {
        k->l2sq_batch(raw, v->centroids, v->dim, v->nlist, v->dim, out);
    }
}

/* IVF_PQ, L2: fill pq_pre (see struct ivf_index) from the centroids and
 * codebooks, if it fits IVF_PQ_TABLE_MAX and memory allows. Then
 *   |q - c - r|^2 = |q - c|^2 + sum_j (pre[c][j][code_j] - 2 <q_j, cw_j>)
 * where |q - c|^2 is the coarse key already computed to pick the lists
 * and the <q_j, cw_j> table is built once per query: a list costs a table
 * addition instead of pq_m * ksub sub-distances (FAISS's precomputed
 * tables for IndexIVFPQ). */
static void build_pq_pre(struct ivf_index *v) {
    size_t m = v->pq_m, ks = v->pq_ksub, ds = v->pq_dsub, per = m * ks, bytes;
    if (v->kind != K_PQ || metric_is_ip(v) || v->pq_pre) return;
    if (pxs_size_mul(v->nlist + ds, per * sizeof(float), &bytes) != 0 || bytes > IVF_PQ_TABLE_MAX)
        return;
    float *pre = pxs_aligned_alloc(64, bytes);
    if (!pre) return; /* optional: searches build per-list tables instead */
    float *cbt = pre + v->nlist * per;
    for (size_t j = 0; j < m; j++)
        for (size_t c = 0; c < ks; c++)
            for (size_t d = 0; d < ds; d++)
                cbt[(j * ds + d) * ks + c] = v->pq_cb[(j * ks + c) * ds + d];
    v->pq_cbt = cbt;
    const struct pxs__dist_kernels *k = pxs__index_kernels();
    for (size_t l = 0; l < v->nlist; l++) {
        float *t = pre + l * per;
        const float *cent = v->centroids + l * v->dim;
        for (size_t j = 0; j < m; j++) {
            const float *cb = v->pq_cb + j * ks * ds;
            k->ip_batch(cent + j * ds, cb, ds, ks, ds, t + j * ks);
            for (size_t c = 0; c < ks; c++)
                t[j * ks + c] = 2.0f * t[j * ks + c] + k->ip(cb + c * ds, cb + c * ds, ds);
        }
    }
    v->pq_pre = pre;
}

/* First index of the smallest of x[0..n), n >= 1. The minimum is found with
 * 8 independent lanes (no compare-to-compare dependency chain, which made a
 * plain loop the bottleneck of k-means), then located. */
static size_t argmin(const float *x, size_t n) {
    float m[8];
    size_t i = 0;
    for (int l = 0; l < 8; l++) m[l] = x[0];
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) m[l] = x[i + l] < m[l] ? x[i + l] : m[l];
    for (; i < n; i++) m[0] = x[i] < m[0] ? x[i] : m[0];
    float best = m[0];
    for (int l = 1; l < 8; l++) best = m[l] < best ? m[l] : best;
    for (i = 0; i < n; i++)
        if (x[i] == best) return i;
    return 0; /* only if every x is NaN */
}

/* out[c] = |x - cent_c|^2 for k centroids of d floats. Very short vectors
 * (PQ sub-vectors of 1..7 floats) skip the batch kernel, whose per-row
 * setup would dominate. */
static void l2_to_all(const float *x, const float *cent, size_t k, size_t d, float *out) {
    if (d >= 8) {
        pxs__index_kernels()->l2sq_batch(x, cent, d, k, d, out);
        return;
    }
    for (size_t c = 0; c < k; c++) {
        const float *y = cent + c * d;
        float s = 0;
        for (size_t j = 0; j < d; j++) {
            float t = x[j] - y[j];
            s += t * t;
        }
        out[c] = s;
    }
}

/* Index of the nearest of k codewords (dsub floats each) to x. */
static size_t nearest_codeword(const float *x, const float *cb, size_t k, size_t dsub,
                               float *tmp) {
    l2_to_all(x, cb, k, dsub, tmp);
    return argmin(tmp, k);
}

/* Encode raw vector (assigned to list) into code. tmp: dim + ksub floats. */
static void encode(const struct ivf_index *v, const void *raw, size_t list, uint8_t *code,
                   float *tmp) {
    switch (v->kind) {
    case K_FLAT:
    case K_BIN:
        memcpy(code, raw, v->raw_size);
        return;
    case K_SQ8: {
        const float *x = raw;
        for (size_t i = 0; i < v->dim; i++) {
            float q = v->sq_scale[i] > 0 ? (x[i] - v->sq_min[i]) / v->sq_scale[i] : 0.0f;
            q = q < 0 ? 0 : q > 255 ? 255 : q;
            code[i] = (uint8_t)lrintf(q);
        }
        return;
    }
    case K_PQ: {
        const float *x = raw, *c = v->centroids + list * v->dim;
        float *r = tmp, *d = tmp + v->dim;
        for (size_t i = 0; i < v->dim; i++) r[i] = x[i] - c[i];
        if (v->pq_nbits == 4) memset(code, 0, v->code_size);
        for (size_t j = 0; j < v->pq_m; j++) {
            size_t q = nearest_codeword(r + j * v->pq_dsub,
                                        v->pq_cb + j * v->pq_ksub * v->pq_dsub, v->pq_ksub,
                                        v->pq_dsub, d);
            if (v->pq_nbits == 8)
                code[j] = (uint8_t)q;
            else
                code[j / 2] |= (uint8_t)(q << (4 * (j & 1)));
        }
        return;
    }
    }
}

/* ---- k-means ------------------------------------------------------------------ */

/* Lloyd k-means of n points (d floats each) into k centroids (cent, k * d).
 * spherical: assign by inner product and keep centroids unit length.
 * Needs n >= k. Returns PXS_ENOMEM or PXS_OK. */
static int kmeans(const float *x, size_t n, size_t d, size_t k, int spherical, uint64_t seed,
                  int iters, float *cent) {
    const struct pxs__dist_kernels *kern = pxs__index_kernels();
    size_t *perm = pxs_mallocarray(n, sizeof *perm);
    size_t *assign = pxs_mallocarray(n, sizeof *assign);
    size_t *cnt = pxs_mallocarray(k, sizeof *cnt);
    float *dist = pxs_mallocarray(k, sizeof *dist);
    float *sum = pxs_mallocarray(k, d * sizeof *sum);
    int rc = PXS_ENOMEM;
    if (!perm || !assign || !cnt || !dist || !sum) goto out;
    uint64_t rng = seed;
    for (size_t i = 0; i < n; i++) perm[i] = i;
    for (size_t i = 0; i < k; i++) { /* first k of a partial shuffle */
        size_t j = i + (size_t)(rng_next(&rng) % (n - i));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        memcpy(cent + i * d, x + perm[i] * d, d * sizeof(float));
        if (spherical) pxs_vec_normalize(cent + i * d, d);
    }
    for (int it = 0; it < iters; it++) {
        for (size_t i = 0; i < n; i++) {
            if (spherical) {
                kern->ip_batch(x + i * d, cent, d, k, d, dist);
                for (size_t c = 0; c < k; c++) dist[c] = -dist[c];
            } else {
                l2_to_all(x + i * d, cent, k, d, dist);
            }
            assign[i] = argmin(dist, k);
        }
        memset(sum, 0, k * d * sizeof *sum);
        memset(cnt, 0, k * sizeof *cnt);
        for (size_t i = 0; i < n; i++) {
            float *s = sum + assign[i] * d;
            const float *p = x + i * d;
            for (size_t j = 0; j < d; j++) s[j] += p[j];
            cnt[assign[i]]++;
        }
        for (size_t c = 0; c < k; c++) {
            if (!cnt[c]) continue;
            float inv = 1.0f / (float)cnt[c];
            for (size_t j = 0; j < d; j++) cent[c * d + j] = sum[c * d + j] * inv;
        }
        /* Empty cluster: split the largest one with a small symmetric nudge. */
        for (size_t c = 0; c < k; c++) {
            if (cnt[c]) continue;
            size_t big = 0;
            for (size_t b = 1; b < k; b++)
                if (cnt[b] > cnt[big]) big = b;
            for (size_t j = 0; j < d; j++) {
                float base = cent[big * d + j];
                float eps = (fabsf(base) + 1e-3f) * (1.0f / 1024);
                cent[c * d + j] = base + ((j & 1) ? eps : -eps);
                cent[big * d + j] = base - ((j & 1) ? eps : -eps);
            }
            cnt[c] = cnt[big] / 2;
            cnt[big] -= cnt[c];
        }
        if (spherical)
            for (size_t c = 0; c < k; c++) pxs_vec_normalize(cent + c * d, d);
    }
    rc = PXS_OK;
out:
    pxs_free(perm);
    pxs_free(assign);
    pxs_free(cnt);
    pxs_free(dist);
    pxs_free(sum);
    return rc;
}

/* ---- training ----------------------------------------------------------------- */

static size_t min_train(const struct ivf_index *v) {
    size_t need = v->nlist;
    if (v->kind == K_PQ && v->pq_ksub > need) need = v->pq_ksub;
    return need;
}

/* Pending vector i as floats into dst (bits become 0/1 for binary). */
static void pending_floats(const struct ivf_index *v, size_t i, float *dst) {
    const uint8_t *raw = v->pending.codes + i * v->raw_size;
    if (v->kind != K_BIN) {
        memcpy(dst, raw, v->dim * sizeof(float));
        return;
    }
    for (size_t b = 0; b < v->dim; b++) dst[b] = (float)((raw[b / 8] >> (b % 8)) & 1);
}

struct trained {
    float *centroids;
    uint8_t *bcent;
    float *sq_min, *sq_scale;
    float *pq_cb;
    struct ivf_list *lists;
};

static void trained_free(struct trained *t, size_t nlist) {
    pxs_free(t->centroids);
    pxs_free(t->bcent);
    pxs_free(t->sq_min);
    pxs_free(t->sq_scale);
    pxs_free(t->pq_cb);
    if (t->lists)
        for (size_t l = 0; l < nlist; l++) list_free(&t->lists[l]);
    pxs_free(t->lists);
    memset(t, 0, sizeof *t);
}

/* Train the quantizers of t from a sample of pending (v unchanged). */
static int train_quantizers(struct ivf_index *v, struct trained *t) {
    size_t np = v->pending.n, d = v->dim;
    size_t ns = v->nlist * KMEANS_PER_CENTROID;
    if (v->kind == K_PQ && v->pq_ksub * KMEANS_PQ_PER_CENTROID > ns)
        ns = v->pq_ksub * KMEANS_PQ_PER_CENTROID;
    if (ns > np) ns = np;
    /* The coarse k-means uses the first part of the (random) sample. */
    size_t ns_coarse = v->nlist * KMEANS_PER_CENTROID;
    if (ns_coarse > ns) ns_coarse = ns;
    float *sample = pxs_mallocarray(ns, d * sizeof(float));
    size_t *perm = pxs_mallocarray(np, sizeof *perm);
    float *sub = NULL, *tmp = NULL;
    int rc = PXS_ENOMEM;
    if (!sample || !perm) goto out;
    uint64_t rng = v->seed ^ 0xa5a5a5a5a5a5a5a5ULL;
    for (size_t i = 0; i < np; i++) perm[i] = i;
    for (size_t i = 0; i < ns; i++) {
        size_t j = i + (size_t)(rng_next(&rng) % (np - i));
        size_t s = perm[i];
        perm[i] = perm[j];
        perm[j] = s;
        pending_floats(v, perm[i], sample + i * d);
    }
    t->centroids = pxs_mallocarray(v->nlist, d * sizeof(float));
    if (!t->centroids) goto out;
    int spherical = v->base.params.metric == PXS_METRIC_COSINE;
    if ((rc = kmeans(sample, ns_coarse, d, v->nlist, spherical, v->seed, KMEANS_ITERS,
                     t->centroids)) != PXS_OK) goto out;
    rc = PXS_ENOMEM;
    if (v->kind == K_BIN) {
        t->bcent = pxs_calloc(v->nlist, v->raw_size);
        if (!t->bcent) goto out;
        for (size_t c = 0; c < v->nlist; c++)
            for (size_t b = 0; b < d; b++)
                if (t->centroids[c * d + b] > 0.5f)
                    t->bcent[c * v->raw_size + b / 8] |= (uint8_t)(1u << (b % 8));
        pxs_free(t->centroids);
        t->centroids = NULL;
    } else if (v->kind == K_SQ8) {
        t->sq_min = pxs_mallocarray(d, sizeof(float));
        t->sq_scale = pxs_mallocarray(d, sizeof(float));
        if (!t->sq_min || !t->sq_scale) goto out;
        for (size_t j = 0; j < d; j++) {
            float lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < ns; i++) {
                float x = sample[i * d + j];
                lo = x < lo ? x : lo;
                hi = x > hi ? x : hi;
            }
            t->sq_min[j] = lo;
            t->sq_scale[j] = (hi - lo) / 255.0f;
        }
    } else if (v->kind == K_PQ) {
        /* Residuals of the sample against their centroid, then one k-means
         * per sub-space. */
        size_t m = v->pq_m, ks = v->pq_ksub, ds = v->pq_dsub;
        size_t nsub = ns < ks * KMEANS_PQ_PER_CENTROID ? ns : ks * KMEANS_PQ_PER_CENTROID;
        t->pq_cb = pxs_mallocarray(m * ks, ds * sizeof(float));
        sub = pxs_mallocarray(nsub, ds * sizeof(float));
        tmp = pxs_mallocarray(v->nlist, sizeof(float));
        if (!t->pq_cb || !sub || !tmp) goto out;
        const struct pxs__dist_kernels *kern = pxs__index_kernels();
        for (size_t i = 0; i < nsub; i++) {
            float *x = sample + i * d;
            if (metric_is_ip(v)) {
                kern->ip_batch(x, t->centroids, d, v->nlist, d, tmp);
                for (size_t c = 0; c < v->nlist; c++) tmp[c] = -tmp[c];
            } else {
                kern->l2sq_batch(x, t->centroids, d, v->nlist, d, tmp);
            }
            const float *c = t->centroids + argmin(tmp, v->nlist) * d;
            for (size_t j = 0; j < d; j++) x[j] -= c[j];
        }
        for (size_t j = 0; j < m; j++) {
            for (size_t i = 0; i < nsub; i++)
                memcpy(sub + i * ds, sample + i * d + j * ds, ds * sizeof(float));
            rc = kmeans(sub, nsub, ds, ks, 0, v->seed + 1 + j, KMEANS_PQ_ITERS,
                        t->pq_cb + j * ks * ds);
            if (rc != PXS_OK) goto out;
        }
    }
    rc = PXS_OK;
out:
    pxs_free(sample);
    pxs_free(perm);
    pxs_free(sub);
    pxs_free(tmp);
    return rc;
}

static int ivf_train(pxs_index *ix, struct pxs_err *err) {
    struct ivf_index *v = (struct ivf_index *)ix;
    if (v->trained || v->exact_only) return PXS_OK;
    size_t need = min_train(v);
    if (v->pending.n < need)
        return pxs_errf(err, PXS_EINVAL, "%s needs at least %zu vectors to train, has %zu",
                        pxs_index_type_name(v->base.params.type), need, v->pending.n);
    struct trained t = {0};
    size_t *where = NULL, *counts = NULL;
    int rc = train_quantizers(v, &t);
    if (rc == PXS_OK) {
        t.lists = pxs_calloc(v->nlist, sizeof *t.lists);
        where = pxs_mallocarray(v->pending.n, sizeof *where);
        counts = pxs_calloc(v->nlist, sizeof *counts);
        if (!t.lists || !where || !counts) rc = PXS_ENOMEM;
    }
    if (rc == PXS_OK) {
        /* Install the new quantizers so coarse_keys() and encode() see them
         * (all NULL while untrained); taken back out if anything fails. */
        v->centroids = t.centroids;
        v->bcent = t.bcent;
        v->sq_min = t.sq_min;
        v->sq_scale = t.sq_scale;
        v->pq_cb = t.pq_cb;
        for (size_t i = 0; i < v->pending.n; i++) {
            coarse_keys(v, v->pending.codes + i * v->raw_size, v->add_tmp);
            where[i] = argmin(v->add_tmp, v->nlist);
            counts[where[i]]++;
        }
        for (size_t l = 0; rc == PXS_OK && l < v->nlist; l++)
            if (counts[l] && list_reserve(&t.lists[l], counts[l], v->code_size, 1) != PXS_OK)
                rc = PXS_ENOMEM;
        for (size_t i = 0; rc == PXS_OK && i < v->pending.n; i++) {
            struct ivf_list *l = &t.lists[where[i]];
            encode(v, v->pending.codes + i * v->raw_size, where[i],
                   l->codes + l->n * v->code_size, v->add_tmp + v->nlist);
            l->ids[l->n++] = v->pending.ids[i];
        }
        if (rc != PXS_OK) {
            v->centroids = NULL;
            v->bcent = NULL;
            v->sq_min = v->sq_scale = v->pq_cb = NULL;
        }
    }
    pxs_free(where);
    pxs_free(counts);
    if (rc != PXS_OK) {
        trained_free(&t, v->nlist);
        return pxs_errf(err, PXS_ENOMEM, "%s: out of memory while training",
                        pxs_index_type_name(v->base.params.type));
    }
    /* Nothing below can fail. */
    v->lists = t.lists;
    for (size_t l = 0; l < v->nlist; l++)
        for (size_t p = 0; p < v->lists[l].n; p++)
            pxs__idmap_update(&v->map, v->lists[l].ids[p], slot_make(l + 1, p));
    list_free(&v->pending);
    v->trained = 1;
    build_pq_pre(v);
    return PXS_OK;
}

static int ivf_is_trained(const pxs_index *ix) {
    const struct ivf_index *v = (const struct ivf_index *)ix;
    return v->exact_only || v->trained;
}

/* ---- add / remove --------------------------------------------------------------- */

static int ivf_add(pxs_index *ix, int64_t id, const void *vec, struct pxs_err *err) {
    struct ivf_index *v = (struct ivf_index *)ix;
    size_t old = 0;
    int had = pxs__idmap_get(&v->map, id, &old);
    size_t list_plus1 = 0;
    if (v->trained) {
        coarse_keys(v, vec, v->add_tmp);
        list_plus1 = argmin(v->add_tmp, v->nlist) + 1;
    }
    struct ivf_list *l = list_of(v, list_plus1);
    size_t cs = list_code_size(v, list_plus1);
    /* Reserve first, so a failure leaves the index unchanged. */
    if (list_reserve(l, l->n + 1, cs, 0) != PXS_OK ||
        (!had && pxs__idmap_reserve(&v->map, v->map.n + 1) != PXS_OK))
        return pxs_errf(err, PXS_ENOMEM, "%s: out of memory adding a vector",
                        pxs_index_type_name(v->base.params.type));
    if (had) {
        list_remove_at(v, old >> SLOT_SHIFT, old & (((size_t)1 << SLOT_SHIFT) - 1));
        v->n--;
    }
    uint8_t *dst = l->codes + l->n * cs;
    if (list_plus1 == 0)
        memcpy(dst, vec, v->raw_size);
    else
        encode(v, vec, list_plus1 - 1, dst, v->add_tmp + v->nlist);
    l->ids[l->n] = id;
    size_t slot = slot_make(list_plus1, l->n);
    l->n++;
    v->n++;
    if (had)
        pxs__idmap_update(&v->map, id, slot);
    else if (pxs__idmap_put(&v->map, id, slot) != PXS_OK)
        return pxs_errf(err, PXS_EINTERNAL, "ivf index: id map refused a reserved insert");
    if (!v->trained && !v->exact_only && v->pending.n >= v->train_size) {
        struct pxs_err terr = {0};
        if (ivf_train(ix, &terr) != PXS_OK)
            pxs_log(PXS_LOG_DEBUG, "automatic training deferred: %s", terr.msg);
    }
    return PXS_OK;
}

static int ivf_remove(pxs_index *ix, int64_t id) {
    struct ivf_index *v = (struct ivf_index *)ix;
    size_t slot;
    if (!pxs__idmap_get(&v->map, id, &slot)) return PXS_ENOTFOUND;
    list_remove_at(v, slot >> SLOT_SHIFT, slot & (((size_t)1 << SLOT_SHIFT) - 1));
    pxs__idmap_del(&v->map, id);
    v->n--;
    return PXS_OK;
}

static size_t ivf_count(const pxs_index *ix) { return ((const struct ivf_index *)ix)->n; }

static size_t ivf_memory(const pxs_index *ix) {
    const struct ivf_index *v = (const struct ivf_index *)ix;
    size_t bytes = sizeof *v + v->pending.cap * (8 + v->raw_size) + pxs__idmap_memory(&v->map);
    if (v->lists)
        for (size_t l = 0; l < v->nlist; l++) bytes += v->lists[l].cap * (8 + v->code_size);
    if (v->trained) {
        bytes += v->nlist * sizeof(struct ivf_list);
        bytes += v->kind == K_BIN ? v->nlist * v->raw_size : v->nlist * v->dim * sizeof(float);
        if (v->kind == K_SQ8) bytes += 2 * v->dim * sizeof(float);
        if (v->kind == K_PQ) bytes += v->pq_m * v->pq_ksub * v->pq_dsub * sizeof(float);
        if (v->pq_pre) bytes += (v->nlist + v->pq_dsub) * v->pq_m * v->pq_ksub * sizeof(float);
    }
    bytes += (v->nlist + v->dim + v->pq_ksub) * sizeof(float) + v->code_size;
    return bytes;
}

int pxs__ivf_pq_tables(pxs_index *ix, int on) {
    struct ivf_index *v = (struct ivf_index *)ix;
    if (!on) {
        pxs_free(v->pq_pre);
        v->pq_pre = v->pq_cbt = NULL;
    } else if (v->trained) {
        build_pq_pre(v);
    }
    return v->pq_pre != NULL;
}

size_t pxs__ivf_vector_bytes(const pxs_index *ix) {
    const struct ivf_index *v = (const struct ivf_index *)ix;
    size_t bytes = v->pending.n * v->raw_size;
    if (v->lists)
        for (size_t l = 0; l < v->nlist; l++) bytes += v->lists[l].n * v->code_size;
    return bytes;
}

/* ---- search ------------------------------------------------------------------------ */

static float *scratch_take(struct ivf_index *v) {
    for (int i = 0; i < IVF_POOL; i++) {
        float *s = atomic_exchange(&v->pool[i], NULL);
        if (s) return s;
    }
    return pxs_aligned_alloc(64, v->search_floats * sizeof(float));
}

static void scratch_give(struct ivf_index *v, float *s) {
    for (int i = 0; i < IVF_POOL; i++) {
        float *expected = NULL;
        if (atomic_compare_exchange_strong(&v->pool[i], &expected, s)) return;
    }
    pxs_free(s);
}

/* Push keys[0..n) of ids[0..n) into top, honouring the filter and range. */
static inline void push_block(struct pxs__topk *top, const struct pxs__search_ctx *ctx,
                              const int64_t *ids, const float *keys, size_t n) {
    int plain = !ctx->allow && !ctx->ranged;
    for (size_t i = 0; i < n; i++) {
        if (keys[i] > pxs__topk_bound(top)) continue;
        if (!plain && !pxs__ctx_keep(ctx, ids[i], keys[i])) continue;
        pxs__topk_push(top, ids[i], keys[i]);
    }
}

/* Per-query state of the list scans. */
struct query_prep {
    const void *q;
    float qscale;
    float *a, *w; /* SQ8 transformed query and weights */
    float sq_const;
    float *lut, *resid; /* PQ */
    float *qcw;         /* PQ with pq_pre: -2 <q_j, codeword> */
    float coarse;       /* PQ with pq_pre: |q - centroid|^2 of the list */
    float *keys;        /* IVF_BLOCK */
};

/* Scan n raw entries (pending, IVF_FLAT lists, binary lists). */
static void scan_raw(const struct ivf_index *v, const struct query_prep *qp, const int64_t *ids,
                     const uint8_t *codes, size_t n, const struct pxs__search_ctx *ctx,
                     struct pxs__topk *top) {
    enum pxs_metric metric = v->base.params.metric;
    if (v->kind == K_BIN) {
        const struct pxs__code_kernels *ck = pxs__code_kernels();
        for (size_t s = 0; s < n; s += IVF_BLOCK) {
            size_t m = n - s < IVF_BLOCK ? n - s : IVF_BLOCK;
            for (size_t i = 0; i < m; i++)
                qp->keys[i] = bin_key(ck, metric, qp->q, codes + (s + i) * v->raw_size, v->raw_size);
            push_block(top, ctx, ids + s, qp->keys, m);
        }
        return;
    }
    const struct pxs__dist_kernels *k = pxs__index_kernels();
    pxs__dist_batch_fn batch = metric == PXS_METRIC_L2 ? k->l2sq_batch : k->ip_batch;
    float sign = metric == PXS_METRIC_L2 ? 1.0f : -qp->qscale;
    const float *base = (const float *)(const void *)codes;
    for (size_t s = 0; s < n; s += IVF_BLOCK) {
        size_t m = n - s < IVF_BLOCK ? n - s : IVF_BLOCK;
        batch(qp->q, base + s * v->dim, v->dim, m, v->dim, qp->keys);
        for (size_t i = 0; i < m; i++) qp->keys[i] *= sign;
        push_block(top, ctx, ids + s, qp->keys, m);
    }
}

/* out = a + b over n floats, n a multiple of 16 (pq_m * ksub, ksub 16 or
 * 256): fixed 16-float steps so the compiler vectorises it. */
static void add_tables(const float *restrict a, const float *restrict b, size_t n,
                       float *restrict out) {
    for (size_t i = 0; i < n; i += 16)
        for (size_t t = 0; t < 16; t++) out[i + t] = a[i + t] + b[i + t];
}

/* qcw[j][c] = -2 <q_j, codeword c of sub-quantizer j>, from the transposed
 * codebooks: 16 codewords at a time, summed over the sub-vector's
 * dimensions in a 16-float accumulator the compiler keeps in registers. */
static void query_codeword_table(const struct ivf_index *v, const float *q, float *restrict qcw) {
    size_t ks = v->pq_ksub, ds = v->pq_dsub;
    for (size_t j = 0; j < v->pq_m; j++) {
        const float *qj = q + j * ds;
        const float *cbt = v->pq_cbt + j * ds * ks;
        for (size_t c = 0; c < ks; c += 16) {
            float acc[16] = {0};
            for (size_t d = 0; d < ds; d++) {
                float x = qj[d];
                const float *restrict row = cbt + d * ks + c;
                for (size_t u = 0; u < 16; u++) acc[u] += x * row[u];
            }
            for (size_t u = 0; u < 16; u++) qcw[j * ks + c + u] = -2.0f * acc[u];
        }
    }
}

static void scan_list(const struct ivf_index *v, struct query_prep *qp, size_t list,
                      const struct pxs__search_ctx *ctx, struct pxs__topk *top) {
    const struct ivf_list *l = &v->lists[list];
    if (l->n == 0) return;
    if (v->kind == K_FLAT || v->kind == K_BIN) {
        scan_raw(v, qp, l->ids, l->codes, l->n, ctx, top);
        return;
    }
    const struct pxs__code_kernels *ck = pxs__code_kernels();
    int ip = metric_is_ip(v);
    if (v->kind == K_SQ8) {
        for (size_t s = 0; s < l->n; s += IVF_BLOCK) {
            size_t m = l->n - s < IVF_BLOCK ? l->n - s : IVF_BLOCK;
            const uint8_t *c = l->codes + s * v->dim;
            for (size_t i = 0; i < m; i++)
                qp->keys[i] = ip ? -qp->qscale * (qp->sq_const + ck->sq8_ip(qp->a, c + i * v->dim, v->dim))
                                 : qp->sq_const + ck->sq8_l2(qp->a, qp->w, c + i * v->dim, v->dim);
            push_block(top, ctx, l->ids + s, qp->keys, m);
        }
        return;
    }
    /* PQ: L2 tables depend on the list (residual of the query); IP tables
     * were built once per query, the list adds <q, centroid>. */
    const struct pxs__dist_kernels *k = pxs__index_kernels();
    const float *cent = v->centroids + list * v->dim;
    size_t ks = v->pq_ksub, ds = v->pq_dsub;
    float base = 0;
    if (ip) {
        base = k->ip(qp->q, cent, v->dim);
    } else if (v->pq_pre) {
        add_tables(v->pq_pre + list * v->pq_m * ks, qp->qcw, v->pq_m * ks, qp->lut);
        base = qp->coarse;
    } else {
        const float *q = qp->q;
        for (size_t i = 0; i < v->dim; i++) qp->resid[i] = q[i] - cent[i];
        for (size_t j = 0; j < v->pq_m; j++)
            l2_to_all(qp->resid + j * ds, v->pq_cb + j * ks * ds, ks, ds, qp->lut + j * ks);
    }
    for (size_t s = 0; s < l->n; s += IVF_BLOCK) {
        size_t m = l->n - s < IVF_BLOCK ? l->n - s : IVF_BLOCK;
        const uint8_t *c = l->codes + s * v->code_size;
        if (v->pq_nbits == 8)
            ck->pq8_scan(qp->lut, v->pq_m, c, m, qp->keys);
        else
            ck->pq4_scan(qp->lut, v->pq_m, c, m, qp->keys);
        if (ip)
            for (size_t i = 0; i < m; i++) qp->keys[i] = -qp->qscale * (base + qp->keys[i]);
        else if (base != 0.0f)
            for (size_t i = 0; i < m; i++) qp->keys[i] += base;
        push_block(top, ctx, l->ids + s, qp->keys, m);
    }
}

static int ivf_search(const pxs_index *ix, const void *query, float qscale, size_t k,
                      const struct pxs__search_ctx *ctx, struct pxs_hit *hits, size_t *n_hits,
                      struct pxs_err *err) {
    const struct ivf_index *v = (const struct ivf_index *)ix;
    /* The pool is the only state a search writes; it is atomic, and the
     * index object itself was allocated non-const. */
    struct ivf_index *vm = (struct ivf_index *)(uintptr_t)v;
    float *s = scratch_take(vm);
    if (!s) return pxs_errf(err, PXS_ENOMEM, "ivf search: out of memory for scratch");
    /* Scratch layout: probe hits (4 floats each) | coarse keys | block keys |
     * a | w | resid | lut. */
    struct pxs_hit *probe = (struct pxs_hit *)(void *)s;
    float *ckeys = s + 4 * v->nlist;
    struct query_prep qp = {.q = query, .qscale = qscale};
    qp.keys = ckeys + v->nlist;
    qp.a = qp.keys + IVF_BLOCK;
    qp.w = qp.a + v->dim;
    qp.resid = qp.w + v->dim;
    qp.lut = qp.resid + v->dim;
    qp.qcw = qp.lut + v->pq_m * v->pq_ksub;
    struct pxs__topk top;
    pxs__topk_init(&top, hits, k);
    if (!v->trained) {
        scan_raw(v, &qp, v->pending.ids, v->pending.codes, v->pending.n, ctx, &top);
    } else {
        size_t nprobe = ctx->nprobe ? ctx->nprobe : IVF_DEFAULT_NPROBE;
        if (nprobe > v->nlist) nprobe = v->nlist;
        coarse_keys(v, query, ckeys);
        struct pxs__topk pt;
        pxs__topk_init(&pt, probe, nprobe);
        for (size_t c = 0; c < v->nlist; c++) pxs__topk_push(&pt, (int64_t)c, ckeys[c]);
        nprobe = pxs__topk_finish(&pt, PXS_METRIC_L2);
        const float *q = query;
        if (v->kind == K_SQ8) {
            qp.sq_const = 0;
            for (size_t i = 0; i < v->dim; i++) {
                float sc = v->sq_scale[i], mn = v->sq_min[i];
                if (metric_is_ip(v)) {
                    qp.a[i] = q[i] * sc;
                    qp.sq_const += q[i] * mn;
                } else if (sc > 0) {
                    qp.a[i] = (q[i] - mn) / sc;
                    qp.w[i] = sc * sc;
                } else {
                    qp.a[i] = qp.w[i] = 0;
                    qp.sq_const += (q[i] - mn) * (q[i] - mn);
                }
            }
        } else if (v->kind == K_PQ && v->pq_pre) {
            query_codeword_table(v, q, qp.qcw);
        } else if (v->kind == K_PQ && metric_is_ip(v)) {
            const struct pxs__dist_kernels *kern = pxs__index_kernels();
            size_t ks = v->pq_ksub, ds = v->pq_dsub;
            for (size_t j = 0; j < v->pq_m; j++)
                kern->ip_batch(q + j * ds, v->pq_cb + j * ks * ds, ds, ks, ds, qp.lut + j * ks);
        }
        for (size_t p = 0; p < nprobe; p++) {
            size_t list = (size_t)probe[p].id;
            qp.coarse = ckeys[list];
            scan_list(v, &qp, list, ctx, &top);
        }
    }
    scratch_give(vm, s);
    *n_hits = pxs__topk_finish(&top, v->base.params.metric);
    return PXS_OK;
}

/* ---- persistence -------------------------------------------------------------------- */

static void ivf_save(const pxs_index *ix, struct pxs__writer *w) {
    const struct ivf_index *v = (const struct ivf_index *)ix;
    pxs__w_u32(w, (uint32_t)v->trained);
    pxs__w_u64(w, v->pending.n);
    pxs__w_i64s(w, v->pending.ids, v->pending.n);
    if (v->kind == K_BIN)
        pxs__w_bytes(w, v->pending.codes, v->pending.n * v->raw_size);
    else
        pxs__w_f32s(w, (const float *)(const void *)v->pending.codes, v->pending.n * v->dim);
    if (!v->trained) return;
    if (v->kind == K_BIN)
        pxs__w_bytes(w, v->bcent, v->nlist * v->raw_size);
    else
        pxs__w_f32s(w, v->centroids, v->nlist * v->dim);
    if (v->kind == K_SQ8) {
        pxs__w_f32s(w, v->sq_min, v->dim);
        pxs__w_f32s(w, v->sq_scale, v->dim);
    }
    if (v->kind == K_PQ) pxs__w_f32s(w, v->pq_cb, v->pq_m * v->pq_ksub * v->pq_dsub);
    for (size_t l = 0; l < v->nlist; l++) {
        const struct ivf_list *li = &v->lists[l];
        pxs__w_u64(w, li->n);
        pxs__w_i64s(w, li->ids, li->n);
        if (v->kind == K_FLAT)
            pxs__w_f32s(w, (const float *)(const void *)li->codes, li->n * v->dim);
        else
            pxs__w_bytes(w, li->codes, li->n * v->code_size);
    }
}

/* Read count entries into list (list_plus1), mapping every id. */
static int load_entries(struct ivf_index *v, struct pxs__reader *r, size_t list_plus1) {
    struct ivf_list *l = list_of(v, list_plus1);
    size_t cs = list_code_size(v, list_plus1);
    uint64_t n;
    int rc = pxs__r_u64(r, &n);
    if (rc != PXS_OK) return rc;
    if (n > SIZE_MAX / 8 || pxs__r_need(r, (size_t)n, 8 + cs) != PXS_OK)
        return PXS__CORRUPT(r, "ivf index: list length exceeds the payload");
    if (n == 0) return PXS_OK;
    if (list_reserve(l, (size_t)n, cs, 1) != PXS_OK ||
        pxs__idmap_reserve(&v->map, v->map.n + (size_t)n) != PXS_OK)
        return pxs_errf(r->err, PXS_ENOMEM, "ivf index: out of memory loading");
    if ((rc = pxs__r_i64s(r, l->ids, (size_t)n)) != PXS_OK) return rc;
    int floats = v->kind == K_FLAT || (list_plus1 == 0 && v->kind != K_BIN);
    rc = floats ? pxs__r_f32s(r, (float *)(void *)l->codes, (size_t)n * v->dim)
                : pxs__r_bytes(r, l->codes, (size_t)n * cs);
    if (rc != PXS_OK) return rc;
    for (size_t p = 0; p < n; p++) {
        size_t old;
        if (pxs__idmap_get(&v->map, l->ids[p], &old)) return PXS__CORRUPT(r, "ivf index: duplicate id");
        if (pxs__idmap_put(&v->map, l->ids[p], slot_make(list_plus1, p)) != PXS_OK)
            return pxs_errf(r->err, PXS_EINTERNAL, "ivf index: id map refused a reserved insert");
        l->n = p + 1;
        v->n++;
    }
    return PXS_OK;
}

static int ivf_load(pxs_index *ix, struct pxs__reader *r) {
    struct ivf_index *v = (struct ivf_index *)ix;
    uint32_t trained;
    int rc = pxs__r_u32(r, &trained);
    if (rc != PXS_OK) return rc;
    if (trained > 1 || (trained && v->exact_only))
        return PXS__CORRUPT(r, "ivf index: bad trained flag");
    if ((rc = load_entries(v, r, 0)) != PXS_OK) return rc;
    if (!trained) return PXS_OK;
    if (v->pending.n) return PXS__CORRUPT(r, "ivf index: trained index with pending vectors");
    size_t d = v->dim;
    if (v->kind == K_BIN) {
        if (pxs__r_need(r, v->nlist, v->raw_size) != PXS_OK) return PXS__CORRUPT(r, "ivf: centroids");
        v->bcent = pxs_mallocarray(v->nlist, v->raw_size);
        if (!v->bcent) return pxs_errf(r->err, PXS_ENOMEM, "ivf index: out of memory loading");
        if ((rc = pxs__r_bytes(r, v->bcent, v->nlist * v->raw_size)) != PXS_OK) return rc;
    } else {
        if (pxs__r_need(r, v->nlist, d * 4) != PXS_OK) return PXS__CORRUPT(r, "ivf: centroids");
        v->centroids = pxs_mallocarray(v->nlist, d * sizeof(float));
        if (!v->centroids) return pxs_errf(r->err, PXS_ENOMEM, "ivf index: out of memory loading");
        if ((rc = pxs__r_f32s(r, v->centroids, v->nlist * d)) != PXS_OK) return rc;
    }
    if (v->kind == K_SQ8) {
        v->sq_min = pxs_mallocarray(d, sizeof(float));
        v->sq_scale = pxs_mallocarray(d, sizeof(float));
        if (!v->sq_min || !v->sq_scale)
            return pxs_errf(r->err, PXS_ENOMEM, "ivf index: out of memory loading");
        if ((rc = pxs__r_f32s(r, v->sq_min, d)) != PXS_OK ||
            (rc = pxs__r_f32s(r, v->sq_scale, d)) != PXS_OK)
            return rc;
        for (size_t j = 0; j < d; j++)
            if (v->sq_scale[j] < 0) return PXS__CORRUPT(r, "ivf index: negative SQ8 scale");
    }
    if (v->kind == K_PQ) {
        size_t nf = v->pq_m * v->pq_ksub * v->pq_dsub;
        if (pxs__r_need(r, nf, 4) != PXS_OK) return PXS__CORRUPT(r, "ivf: codebooks");
        v->pq_cb = pxs_mallocarray(nf, sizeof(float));
        if (!v->pq_cb) return pxs_errf(r->err, PXS_ENOMEM, "ivf index: out of memory loading");
        if ((rc = pxs__r_f32s(r, v->pq_cb, nf)) != PXS_OK) return rc;
    }
    v->lists = pxs_calloc(v->nlist, sizeof *v->lists);
    if (!v->lists) return pxs_errf(r->err, PXS_ENOMEM, "ivf index: out of memory loading");
    v->trained = 1;
    for (size_t l = 0; l < v->nlist; l++)
        if ((rc = load_entries(v, r, l + 1)) != PXS_OK) return rc;
    build_pq_pre(v);
    return PXS_OK;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static void ivf_destroy(pxs_index *ix) {
    struct ivf_index *v = (struct ivf_index *)ix;
    if (v->lists)
        for (size_t l = 0; l < v->nlist; l++) list_free(&v->lists[l]);
    pxs_free(v->lists);
    list_free(&v->pending);
    pxs_free(v->centroids);
    pxs_free(v->bcent);
    pxs_free(v->sq_min);
    pxs_free(v->sq_scale);
    pxs_free(v->pq_cb);
    pxs_free(v->pq_pre);
    pxs_free(v->add_tmp);
    pxs__idmap_free(&v->map);
    for (int i = 0; i < IVF_POOL; i++) pxs_free(atomic_exchange(&v->pool[i], NULL));
    pxs_free(v);
}

static const struct pxs__index_ops ivf_ops = {
    .destroy = ivf_destroy,
    .add = ivf_add,
    .remove = ivf_remove,
    .count = ivf_count,
    .memory = ivf_memory,
    .vector_bytes = pxs__ivf_vector_bytes,
    .search = ivf_search,
    .train = ivf_train,
    .is_trained = ivf_is_trained,
    .save = ivf_save,
    .load = ivf_load,
};

int pxs__ivf_check(const pxs_index *ix, struct pxs_err *err) {
    if (!ix || ix->ops != &ivf_ops) return pxs_errf(err, PXS_EINVAL, "not an ivf index");
    const struct ivf_index *v = (const struct ivf_index *)ix;
    size_t total = v->pending.n;
    if (v->trained && v->pending.n) return pxs_errf(err, PXS_EINTERNAL, "trained with pending");
    if (!v->trained && v->lists) return pxs_errf(err, PXS_EINTERNAL, "lists before training");
    for (size_t lp = 0; lp <= (v->lists ? v->nlist : 0); lp++) {
        const struct ivf_list *l = lp == 0 ? &v->pending : &v->lists[lp - 1];
        if (lp) total += l->n;
        for (size_t p = 0; p < l->n; p++) {
            size_t slot;
            if (!pxs__idmap_get(&v->map, l->ids[p], &slot) || slot != slot_make(lp, p))
                return pxs_errf(err, PXS_EINTERNAL, "list %zu entry %zu not mapped", lp, p);
        }
    }
    if (total != v->n || v->map.n != v->n)
        return pxs_errf(err, PXS_EINTERNAL, "count %zu, lists %zu, map %zu", v->n, total, v->map.n);
    return PXS_OK;
}

int pxs__ivf_new(const struct pxs_index_params *p, pxs_index **out, struct pxs_err *err) {
    const char *tname = pxs_index_type_name(p->type);
    enum ivf_kind kind = p->type == PXS_INDEX_IVF_SQ8   ? K_SQ8
                         : p->type == PXS_INDEX_IVF_PQ  ? K_PQ
                         : p->type == PXS_INDEX_IVF_FLAT ? K_FLAT
                                                          : K_BIN;
    int exact_only = p->type == PXS_INDEX_BIN_FLAT;
    int nlist = exact_only ? 0 : (p->ivf_nlist ? p->ivf_nlist : IVF_DEFAULT_NLIST);
    if (!exact_only && (nlist < 1 || nlist > IVF_MAX_NLIST))
        return pxs_errf(err, PXS_EINVAL, "%s: ivf_nlist (nlist) %d is outside 1..%d", tname, nlist,
                        IVF_MAX_NLIST);
    int m = 0, nbits = 0;
    if (kind == K_PQ) {
        m = p->pq_m;
        nbits = p->pq_nbits ? p->pq_nbits : 8;
        if (m <= 0)
            return pxs_errf(err, PXS_EINVAL,
                            "IVF_PQ needs pq_m (Milvus m), the number of sub-quantizers: a "
                            "divisor of dim %zu",
                            p->dim);
        if (p->dim % (size_t)m != 0)
            return pxs_errf(err, PXS_EINVAL, "IVF_PQ: dim %zu is not a multiple of pq_m (m) %d",
                            p->dim, m);
        if (nbits != 4 && nbits != 8)
            return pxs_errf(err, PXS_EINVAL, "IVF_PQ: pq_nbits (nbits) %d is not supported (4 or 8)",
                            nbits);
    }
    size_t ksub = kind == K_PQ ? (size_t)1 << nbits : 0;
    size_t train = p->ivf_train_size;
    size_t need = (size_t)nlist > ksub ? (size_t)nlist : ksub;
    if (!exact_only) {
        if (train == 0) train = IVF_TRAIN_PER_LIST * need;
        if (train < need)
            return pxs_errf(err, PXS_EINVAL,
                            "%s: ivf_train_size %zu is below the %zu vectors training needs", tname,
                            train, need);
    }
    struct ivf_index *v = pxs_calloc(1, sizeof *v);
    if (!v) return pxs_errf(err, PXS_ENOMEM, "%s: out of memory", tname);
    v->base.ops = &ivf_ops;
    v->base.params = *p;
    v->base.params.ivf_nlist = nlist;
    v->base.params.pq_m = m;
    v->base.params.pq_nbits = nbits;
    v->base.params.ivf_train_size = train;
    v->base.params.ivf_seed = p->ivf_seed ? p->ivf_seed : IVF_DEFAULT_SEED;
    v->kind = kind;
    v->exact_only = exact_only;
    v->dim = p->dim;
    v->raw_size = kind == K_BIN ? p->dim / 8 : p->dim * sizeof(float);
    v->code_size = kind == K_SQ8 ? p->dim : kind == K_PQ ? (nbits == 8 ? (size_t)m : ((size_t)m + 1) / 2)
                                                         : v->raw_size;
    v->nlist = (size_t)nlist;
    v->train_size = train;
    v->seed = v->base.params.ivf_seed;
    v->pq_m = (size_t)m;
    v->pq_nbits = (size_t)nbits;
    v->pq_ksub = ksub;
    v->pq_dsub = m ? p->dim / (size_t)m : 0;
    pxs__idmap_init(&v->map);
    for (int i = 0; i < IVF_POOL; i++) atomic_init(&v->pool[i], NULL);
    v->search_floats = 5 * v->nlist + IVF_BLOCK + 3 * v->dim + 2 * v->pq_m * ksub + 16;
    v->add_tmp = pxs_mallocarray(v->nlist + v->dim + ksub + 1, sizeof(float));
    if (!v->add_tmp) {
        ivf_destroy(&v->base);
        return pxs_errf(err, PXS_ENOMEM, "%s: out of memory", tname);
    }
    *out = &v->base;
    return PXS_OK;
}
