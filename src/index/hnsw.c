/*
 * hnsw.c — Hierarchical Navigable Small World graph index (PXS_INDEX_HNSW),
 * after Malkov & Yashunin (2016) and the layout of hnswlib.
 *
 * Storage (one record per node, nodes numbered 0..n-1 in insertion order):
 *
 *   level0  cap * node_bytes, 64-byte aligned. Node u's record:
 *             [uint32 pad | uint32 count | uint32 links[M0] | pad to 64] [body]
 *           so a hop reads one contiguous record: links, then the body.
 *           The body is the float vector (stride floats) for IP, and the
 *           SQ8 code (dim bytes rounded up to 64) for L2 and COSINE.
 *   vecs    L2 and COSINE only: the float vectors, cap * stride floats,
 *           64-byte aligned, read only to re-rank and to save.
 *   cnorm   L2 and COSINE only: per node |c|^2 - 256 * sum(c) of its code,
 *           and csq: |c|^2.
 *   upper   per node: NULL, or level * (1 + M) uint32 for levels 1..level,
 *           each level laid out as [count | links[M]].
 *   labels  the caller's int64 id of each node; levels; deleted flags.
 *   map     id -> node for live nodes only.
 *
 * Quantised traversal (L2 and COSINE): the graph is walked on 8-bit codes
 * c[i] = round((x[i] - lo[i]) / s) clamped to 0..255, with a per-dimension
 * offset lo and one scale s for all dimensions, so squared distances
 * between codes are proportional to squared distances between vectors
 * (up to rounding and clamping); COSINE vectors are unit length, where L2
 * ranks like the cosine. A query is coded the same way and stored as
 * c - 128 (signed), so |cq - cx|^2 = |cq|^2 + cnorm[x] - 2 * (cx . (cq-128))
 * is exact integer arithmetic: one VPDPBUSD per 64 dimensions, a quarter of
 * the bytes of the float vector. The ef results of the level-0 search are
 * then re-ranked with exact float distances, so every returned score is
 * exact and only the path through the graph sees quantisation. Insertion
 * (search, neighbour selection, pruning) uses the same code distances.
 * The quantiser is fitted (min and max per dimension over nodes 0..F-1) at
 * F = HNSW_QUANT_MIN nodes and refitted, re-encoding every node, whenever
 * the node count reaches 2F, 4F, ...: F is a function of n alone, so a
 * loaded index refits to exactly the codes it was saved with (codes are not
 * stored; the file format is unchanged). Below HNSW_QUANT_MIN nodes, and
 * for IP, traversal uses float distances.
 *
 * Invariants: every link target is < n and != its owner; count <= M0 at
 * level 0 and <= M above; entry has level max_level (or n == 0 and
 * max_level == -1); map holds exactly n - n_deleted entries, each naming a
 * node whose deleted flag is 0.
 *
 * Removal and replacement leave a tombstone: the node keeps routing
 * searches but is never returned, and its memory stays until the index is
 * rebuilt. A replaced id gets a fresh node. Searches keep expanding past
 * tombstones until ef live results are found.
 *
 * Levels come from a splitmix64 stream seeded by params->hnsw_seed, so the
 * same sequence of adds builds the same graph.
 *
 * Filtered search: nodes the caller's filter refuses route like tombstones.
 * When few rows pass (the caller's allow_count hint, or else a sample of
 * HNSW_FILTER_SAMPLE nodes, below HNSW_BRUTE_FRACTION of the live count)
 * the graph would have to be walked almost entirely and fragments, so the
 * search becomes an exact scan of the allowed nodes instead.
 *
 * Range search: the level-0 search runs with ef, and ef doubles until k hits
 * lie inside the range, the worst result found is already outside the
 * radius, or ef covers every live node.
 *
 * Serialized payload (after the common header and params, serialize.c):
 *   u64 n | u64 rng state | u32 entry | u32 max_level (0xffffffff: empty)
 *   i64 labels[n] | u8 levels[n] | u8 deleted[n]
 *   level 0, per node: u32 count | u32 links[2*M]   (unused slots are 0)
 *   f32 vectors[n][dim]
 *   upper levels, per node with level > 0, levels 1..level:
 *     u32 count | u32 links[M]
 * Load checks every invariant above (link targets < n, != owner, target
 * level high enough, counts within M, entry level, live labels unique,
 * finite vectors) before the index is handed out.
 *
 * Threads: add/remove need exclusive access (one construction scratch lives
 * in the index). Searches take a scratch (visited epochs + heaps) from a
 * lock-free pool of atomic slots and return it afterwards; when every slot
 * is busy a search allocates its own. After warm-up searches do not
 * allocate.
 */
#include "index/index_int.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define HNSW_DEFAULT_M 16
#define HNSW_DEFAULT_EF_CONSTRUCTION 200
#define HNSW_DEFAULT_EF_SEARCH 64
#define HNSW_DEFAULT_SEED 0x5eed5eed2024ULL
#define HNSW_MAX_LEVEL 32
#define HNSW_MAX_NODES (UINT32_MAX - 1u)
#define HNSW_POOL 64
#define HNSW_MIN_CAP 64u
#define HNSW_BRUTE_FRACTION 0.05
#define HNSW_FILTER_SAMPLE 256u
#define HNSW_QUANT_MIN 1024u

struct cand {
    float d;
    uint32_t id;
};

struct hnsw_scratch {
    /* visited[u] == epoch means u was seen this search; 16 bits keep the
     * array small enough to stay in L2 (cleared once per 65535 searches). */
    uint16_t *visited;
    size_t visited_cap;
    uint16_t epoch;
    struct cand *cand; /* min-heap of nodes to expand */
    size_t cand_cap;
    struct cand *res; /* max-heap of the best ef found */
    size_t res_cap;
    struct cand *sel; /* construction only: selection in/out buffers */
    struct cand *tmp;
    size_t sel_cap;
    /* One expansion: unvisited neighbour ids, their keys, raw dot products. */
    uint32_t *ids;
    float *keys;
    int32_t *dots;
    size_t nbr_cap;
    int8_t *qcode; /* the query's code minus 128 (code_len bytes) */
    int8_t *qcode2; /* construction only: a second node's code minus 128 */
};

/* A query as the distance functions see it: the float vector and, when the
 * traversal is quantised, its signed code and |code|^2. */
struct hquery {
    const float *f;
    const int8_t *c;
    int64_t cn;
    int quant;
};

struct hnsw_index {
    struct pxs_index base;
    const struct pxs__dist_kernels *kern;
    pxs__dist_fn dist; /* l2sq or ip */
    float sign;        /* key = sign * dist: +1 for L2, -1 for IP/COSINE */
    size_t dim;
    size_t m, m0, ef_construction, ef_search;
    double level_mult; /* 1 / ln(M) */
    uint64_t rng;

    char *level0;
    size_t node_bytes, links_bytes;
    /* Float vector of node u at fbase + u * fstep (inside level0 records,
     * or in vecs for the quantised layout). */
    char *fbase;
    size_t fstep;
    float *vecs;
    /* SQ8 traversal (see the top of the file). */
    const struct pxs__code_kernels *ck;
    int quant_layout; /* metric is L2 or COSINE: records hold codes */
    int quant;        /* traversal uses codes (fitted and not switched off) */
    int quant_off;    /* test/bench hook: force float traversal */
    size_t quant_fit_n; /* nodes the quantiser was fitted on, 0 = not yet */
    size_t code_len;
    float *q_lo, *q_hi; /* one allocation of 2 * dim floats */
    float q_scale, q_inv;
    int32_t *cnorm;
    int32_t *csq; /* |c|^2 of each node's code (node as a query) */
    int64_t *labels;
    uint8_t *levels;
    uint8_t *deleted;
    uint32_t **upper;
    size_t upper_bytes;
    size_t n, cap, n_deleted;
    uint32_t entry;
    int max_level;
    struct pxs__idmap map;

    struct hnsw_scratch build;
    _Atomic(struct hnsw_scratch *) pool[HNSW_POOL];
};

/* ---- node access ---------------------------------------------------------- */

static inline uint32_t *links_at(const struct hnsw_index *h, uint32_t u, int level) {
    if (level == 0) return (uint32_t *)(void *)(h->level0 + (size_t)u * h->node_bytes) + 1;
    return h->upper[u] + (size_t)(level - 1) * (h->m + 1);
}

static inline float *vec_mut(const struct hnsw_index *h, uint32_t u) {
    return (float *)(void *)(h->fbase + (size_t)u * h->fstep);
}

static inline const float *vec_of(const struct hnsw_index *h, uint32_t u) { return vec_mut(h, u); }

static inline uint8_t *code_of(const struct hnsw_index *h, uint32_t u) {
    return (uint8_t *)(h->level0 + (size_t)u * h->node_bytes + h->links_bytes);
}

static inline float key_dist(const struct hnsw_index *h, const float *a, const float *b) {
    return h->sign * h->dist(a, b, h->dim);
}

static inline void prefetch_node_vec(const struct hnsw_index *h, uint32_t u) {
    const char *p = (const char *)vec_of(h, u);
    __builtin_prefetch(p, 0, 3);
    __builtin_prefetch(p + 64, 0, 3);
}

/* ---- SQ8 codes ------------------------------------------------------------ */

static inline int code_value(const struct hnsw_index *h, size_t i, float x) {
    float t = (x - h->q_lo[i]) * h->q_inv;
    t = t < 0.0f ? 0.0f : t > 255.0f ? 255.0f : t;
    return (int)(t + 0.5f);
}

/* Code of node u from its float vector, and its cnorm. */
static void encode_node(struct hnsw_index *h, uint32_t u) {
    const float *v = vec_of(h, u);
    uint8_t *c = code_of(h, u);
    int64_t sq = 0, sum = 0;
    for (size_t i = 0; i < h->dim; i++) {
        int x = code_value(h, i, v[i]);
        c[i] = (uint8_t)x;
        sq += x * x;
        sum += x;
    }
    memset(c + h->dim, 0, h->code_len - h->dim);
    h->cnorm[u] = (int32_t)(sq - 256 * sum);
    h->csq[u] = (int32_t)sq;
}

/* Nodes the quantiser is fitted on once the index holds n nodes. */
static size_t quant_fit_count(size_t n) {
    if (n < HNSW_QUANT_MIN) return 0;
    size_t f = HNSW_QUANT_MIN;
    while (f <= n / 2) f *= 2;
    return f;
}

/* Fit lo and the scale on nodes 0..nfit-1 (row by row), then re-encode
 * every node. */
static void quant_fit(struct hnsw_index *h, size_t nfit) {
    float range = 0.0f;
    memcpy(h->q_lo, vec_of(h, 0), h->dim * sizeof(float));
    float *hi = h->q_hi;
    memcpy(hi, vec_of(h, 0), h->dim * sizeof(float));
    for (uint32_t u = 1; u < nfit; u++) {
        const float *v = vec_of(h, u);
        for (size_t i = 0; i < h->dim; i++) {
            h->q_lo[i] = v[i] < h->q_lo[i] ? v[i] : h->q_lo[i];
            hi[i] = v[i] > hi[i] ? v[i] : hi[i];
        }
    }
    for (size_t i = 0; i < h->dim; i++)
        if (hi[i] - h->q_lo[i] > range) range = hi[i] - h->q_lo[i];
    h->q_scale = range > 0.0f ? range / 255.0f : 1.0f;
    h->q_inv = 1.0f / h->q_scale;
    for (uint32_t u = 0; u < h->n; u++) encode_node(h, u);
    h->quant_fit_n = nfit;
    h->quant = !h->quant_off;
}

/* A query for traversal: x scaled by mult (COSINE: 1/|x|) and coded into
 * qc, unless the traversal is on floats. */
static struct hquery make_query(const struct hnsw_index *h, const float *x, float mult, int8_t *qc) {
    struct hquery q = {.f = x, .c = qc, .cn = 0, .quant = h->quant};
    if (!q.quant) return q;
    for (size_t i = 0; i < h->dim; i++) {
        int c = code_value(h, i, x[i] * mult);
        qc[i] = (int8_t)(c - 128);
        q.cn += c * c;
    }
    memset(qc + h->dim, 0, h->code_len - h->dim);
    return q;
}

/* Node u as a query (construction), from its stored code. */
static struct hquery node_query(const struct hnsw_index *h, uint32_t u, int8_t *qc) {
    struct hquery q = {.f = vec_of(h, u), .c = qc, .cn = 0, .quant = h->quant};
    if (!q.quant) return q;
    const uint8_t *c = code_of(h, u);
    for (size_t i = 0; i < h->code_len; i += 8) { /* c - 128 == c ^ 0x80, 8 bytes a step */
        uint64_t w;
        memcpy(&w, c + i, 8);
        w ^= 0x8080808080808080ULL;
        memcpy(qc + i, &w, 8);
    }
    q.cn = h->csq[u];
    return q;
}

/* keys[j] = key of ids[j] for query q (code units when quantised). */
static void dist_rows(const struct hnsw_index *h, const struct hquery *q, const uint32_t *ids,
                      size_t n, float *keys, int32_t *dots) {
    if (q->quant) {
        h->ck->u8s8_dot_rows(q->c, (const uint8_t *)h->level0 + h->links_bytes, h->node_bytes, ids,
                             n, h->code_len, dots);
        for (size_t j = 0; j < n; j++)
            keys[j] = (float)(q->cn + h->cnorm[ids[j]] - 2 * (int64_t)dots[j]);
        return;
    }
    for (size_t j = 0; j < n; j++) {
        if (j + 1 < n) prefetch_node_vec(h, ids[j + 1]);
        keys[j] = key_dist(h, q->f, vec_of(h, ids[j]));
    }
}

static float dist_one(const struct hnsw_index *h, const struct hquery *q, uint32_t u) {
    float key;
    int32_t dot;
    dist_rows(h, q, &u, 1, &key, &dot);
    return key;
}

/* ---- heaps of (d, id) ----------------------------------------------------- */

static void max_push(struct cand *hp, size_t *n, struct cand x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (hp[p].d >= x.d) break;
        hp[i] = hp[p];
        i = p;
    }
    hp[i] = x;
}

static void max_pop(struct cand *hp, size_t *n) {
    struct cand x = hp[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && hp[c + 1].d > hp[c].d) c++;
        if (hp[c].d <= x.d) break;
        hp[i] = hp[c];
        i = c;
    }
    if (m) hp[i] = x;
}

static void min_push(struct cand *hp, size_t *n, struct cand x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (hp[p].d <= x.d) break;
        hp[i] = hp[p];
        i = p;
    }
    hp[i] = x;
}

static struct cand min_pop(struct cand *hp, size_t *n) {
    struct cand top = hp[0], x = hp[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && hp[c + 1].d < hp[c].d) c++;
        if (hp[c].d >= x.d) break;
        hp[i] = hp[c];
        i = c;
    }
    if (m) hp[i] = x;
    return top;
}

/* ---- scratch -------------------------------------------------------------- */

static void scratch_free(struct hnsw_scratch *s) {
    if (!s) return;
    pxs_free(s->visited);
    pxs_free(s->cand);
    pxs_free(s->res);
    pxs_free(s->sel);
    pxs_free(s->tmp);
    pxs_free(s->ids);
    pxs_free(s->keys);
    pxs_free(s->dots);
    pxs_free(s->qcode);
    pxs_free(s->qcode2);
}

static int grow_cands(struct cand **p, size_t *cap, size_t need) {
    if (need <= *cap) return PXS_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    struct cand *q = pxs_realloc(*p, c * sizeof *q);
    if (!q) return PXS_ENOMEM;
    *p = q;
    *cap = c;
    return PXS_OK;
}

/* Make s usable for a graph of n nodes and a result list of ef entries.
 * cand_need is the candidate heap room to guarantee up front. */
static int scratch_reserve(const struct hnsw_index *h, struct hnsw_scratch *s, size_t n, size_t ef,
                           size_t cand_need) {
    if (!s->ids) {
        s->nbr_cap = h->m0 + 1;
        s->ids = pxs_mallocarray(s->nbr_cap, sizeof *s->ids);
        s->keys = pxs_mallocarray(s->nbr_cap, sizeof *s->keys);
        s->dots = pxs_mallocarray(s->nbr_cap, sizeof *s->dots);
        s->qcode = pxs_aligned_alloc(64, h->code_len ? h->code_len : 64);
        s->qcode2 = pxs_aligned_alloc(64, h->code_len ? h->code_len : 64);
        if (!s->ids || !s->keys || !s->dots || !s->qcode || !s->qcode2) {
            pxs_free(s->ids);
            pxs_free(s->keys);
            pxs_free(s->dots);
            pxs_free(s->qcode);
            pxs_free(s->qcode2);
            s->ids = NULL;
            s->keys = NULL;
            s->dots = NULL;
            s->qcode = s->qcode2 = NULL;
            return PXS_ENOMEM;
        }
    }
    if (n > s->visited_cap) {
        size_t c = s->visited_cap ? s->visited_cap : 1024;
        while (c < n) c *= 2;
        uint16_t *v = pxs_realloc(s->visited, c * sizeof *v);
        if (!v) return PXS_ENOMEM;
        memset(v + s->visited_cap, 0, (c - s->visited_cap) * sizeof *v);
        s->visited = v;
        s->visited_cap = c;
    }
    if (grow_cands(&s->res, &s->res_cap, ef + 1) != PXS_OK) return PXS_ENOMEM;
    if (grow_cands(&s->cand, &s->cand_cap, cand_need) != PXS_OK) return PXS_ENOMEM;
    return PXS_OK;
}

static void scratch_new_epoch(struct hnsw_scratch *s) {
    if (++s->epoch == 0) { /* wrapped: old marks could collide, clear them */
        memset(s->visited, 0, s->visited_cap * sizeof *s->visited);
        s->epoch = 1;
    }
}

static struct hnsw_scratch *pool_take(struct hnsw_index *h) {
    for (int i = 0; i < HNSW_POOL; i++) {
        struct hnsw_scratch *s = atomic_exchange(&h->pool[i], NULL);
        if (s) return s;
    }
    return pxs_calloc(1, sizeof(struct hnsw_scratch));
}

static void pool_give(struct hnsw_index *h, struct hnsw_scratch *s) {
    for (int i = 0; i < HNSW_POOL; i++) {
        struct hnsw_scratch *expected = NULL;
        if (atomic_compare_exchange_strong(&h->pool[i], &expected, s)) return;
    }
    scratch_free(s);
    pxs_free(s);
}

/* ---- graph search --------------------------------------------------------- */

/* Greedy walk at one upper level: move to any closer neighbour until none. */
static uint32_t greedy_step(const struct hnsw_index *h, struct hnsw_scratch *s,
                            const struct hquery *q, uint32_t cur, float *cur_d, int level) {
    for (int changed = 1; changed;) {
        changed = 0;
        const uint32_t *l = links_at(h, cur, level);
        uint32_t cnt = l[0];
        dist_rows(h, q, l + 1, cnt, s->keys, s->dots);
        for (uint32_t j = 0; j < cnt; j++) {
            float d = s->keys[j];
            if (d < *cur_d) {
                *cur_d = d;
                cur = l[1 + j];
                changed = 1;
            }
        }
    }
    return cur;
}

/* Best-first search of one level from ep, keeping the ef closest in s->res
 * (a max-heap, size returned). With skip_deleted, tombstones route but are
 * not kept. The candidate heap grows on demand (PXS_ENOMEM only when the
 * caller did not reserve enough and growth fails). */
static inline int node_kept(const struct hnsw_index *h, uint32_t v, pxs_index_allow_fn allow,
                            void *user) {
    return !h->deleted[v] && (!allow || allow(h->labels[v], user));
}

/* With skip_deleted, nodes that are tombstones or refused by allow route
 * the search but are not kept. */
static int search_level(const struct hnsw_index *h, struct hnsw_scratch *s, const struct hquery *q,
                        uint32_t ep, float ep_d, size_t ef, int level, int skip_deleted,
                        pxs_index_allow_fn allow, void *user, size_t *n_res) {
    size_t nc = 0, nr = 0;
    uint16_t epoch = s->epoch;
    uint16_t *visited = s->visited;
    float bound = INFINITY;
    visited[ep] = epoch;
    s->cand[nc++] = (struct cand){ep_d, ep};
    if (!skip_deleted || node_kept(h, ep, allow, user)) {
        s->res[nr++] = (struct cand){ep_d, ep};
        bound = ep_d;
    }
    int filtering = skip_deleted && (h->n_deleted > 0 || allow);
    while (nc > 0) {
        struct cand c = s->cand[0];
        if (c.d > bound && (nr >= ef || !filtering)) break;
        min_pop(s->cand, &nc);
        if (nc > 0) { /* the likely next expansion: prefetch its links */
            const char *nl = (const char *)links_at(h, s->cand[0].id, level);
            __builtin_prefetch(nl, 0, 3);
            __builtin_prefetch(nl + 64, 0, 3);
        }
        const uint32_t *l = links_at(h, c.id, level);
        uint32_t cnt = l[0], m = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t v = l[1 + j];
            if (visited[v] == epoch) continue;
            visited[v] = epoch;
            s->ids[m++] = v;
        }
        if (m == 0) continue;
        if (q->quant) {
            __builtin_prefetch(code_of(h, s->ids[0]), 0, 3);
            __builtin_prefetch(code_of(h, s->ids[0]) + 64, 0, 3);
            for (uint32_t j = 0; j < m; j++) __builtin_prefetch(&h->cnorm[s->ids[j]], 0, 3);
        } else {
            prefetch_node_vec(h, s->ids[0]);
        }
        dist_rows(h, q, s->ids, m, s->keys, s->dots);
        for (uint32_t j = 0; j < m; j++) {
            uint32_t v = s->ids[j];
            float d = s->keys[j];
            if (nr < ef || d < bound) {
                if (nc + 1 > s->cand_cap &&
                    grow_cands(&s->cand, &s->cand_cap, nc + 1) != PXS_OK)
                    return PXS_ENOMEM;
                min_push(s->cand, &nc, (struct cand){d, v});
                if (!skip_deleted || node_kept(h, v, allow, user)) {
                    max_push(s->res, &nr, (struct cand){d, v});
                    if (nr > ef) max_pop(s->res, &nr);
                    bound = s->res[0].d;
                }
            }
        }
    }
    *n_res = nr;
    return PXS_OK;
}

/* ---- construction --------------------------------------------------------- */

static int cand_cmp(const void *pa, const void *pb) {
    const struct cand *a = pa, *b = pb;
    if (a->d != b->d) return a->d < b->d ? -1 : 1;
    return a->id < b->id ? -1 : (a->id > b->id);
}

/* hnswlib's heuristic: walk candidates nearest first and keep one only if
 * it is closer to the base than to every neighbour kept so far, so links
 * spread in different directions. in[] is sorted ascending; out may alias
 * nothing in in. Returns the number kept (<= max). */
static size_t select_neighbors(struct hnsw_index *h, const struct cand *in, size_t n_in,
                               size_t max, struct cand *out) {
    if (n_in <= max) {
        memcpy(out, in, n_in * sizeof *in);
        return n_in;
    }
    size_t n_out = 0;
    for (size_t i = 0; i < n_in && n_out < max; i++) {
        int good = 1;
        if (n_out > 0) {
            struct hquery qe = node_query(h, in[i].id, h->build.qcode2);
            for (size_t j = 0; j < n_out && good; j++)
                if (dist_one(h, &qe, out[j].id) < in[i].d) good = 0;
        }
        if (good) out[n_out++] = in[i];
    }
    return n_out;
}

/* Add link u to node s at level, pruning s's list with the heuristic when
 * it is full. Uses h->build.sel/tmp (room >= m0 + 1). */
static void add_link(struct hnsw_index *h, uint32_t s, uint32_t u, int level) {
    size_t max = level == 0 ? h->m0 : h->m;
    uint32_t *l = links_at(h, s, level);
    uint32_t cnt = l[0];
    for (uint32_t j = 0; j < cnt; j++)
        if (l[1 + j] == u) return;
    if (cnt < max) {
        l[1 + cnt] = u;
        l[0] = cnt + 1;
        return;
    }
    struct hnsw_scratch *b = &h->build;
    struct hquery qs = node_query(h, s, b->qcode2);
    struct cand *in = b->tmp, *out = b->sel;
    memcpy(b->ids, l + 1, cnt * sizeof *b->ids);
    b->ids[cnt] = u;
    dist_rows(h, &qs, b->ids, (size_t)cnt + 1, b->keys, b->dots);
    for (uint32_t j = 0; j <= cnt; j++) in[j] = (struct cand){b->keys[j], b->ids[j]};
    qsort(in, (size_t)cnt + 1, sizeof *in, cand_cmp);
    size_t kept = select_neighbors(h, in, (size_t)cnt + 1, max, out);
    for (size_t j = 0; j < kept; j++) l[1 + j] = out[j].id;
    l[0] = (uint32_t)kept;
}

static int random_level(struct hnsw_index *h) {
    uint64_t z = (h->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    double u = ((double)(z >> 11) + 1.0) * (1.0 / 9007199254740992.0); /* (0, 1] */
    double lv = -log(u) * h->level_mult;
    return lv >= HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : (int)lv;
}

static int hnsw_grow(struct hnsw_index *h, struct pxs_err *err) {
    size_t cap = h->cap ? h->cap * 2 : HNSW_MIN_CAP, bytes;
    if (cap > (size_t)HNSW_MAX_NODES + 1) cap = (size_t)HNSW_MAX_NODES + 1;
    if (pxs_size_mul(cap, h->node_bytes, &bytes) != 0)
        return pxs_errf(err, PXS_ELIMIT, "hnsw index cannot hold more than %zu vectors", h->n);
    char *l0 = pxs_aligned_alloc(64, bytes);
    if (!l0) return pxs_errf(err, PXS_ENOMEM, "hnsw index: out of memory growing to %zu", cap);
    size_t stride = pxs__index_row_stride(h->dim), vbytes = 0;
    float *vecs = NULL;
    if (h->quant_layout) {
        int32_t *cn = pxs_realloc(h->cnorm, cap * sizeof *cn);
        if (cn) h->cnorm = cn;
        int32_t *sq = cn ? pxs_realloc(h->csq, cap * sizeof *sq) : NULL;
        if (sq) h->csq = sq;
        if (sq && pxs_size_mul(cap, stride * sizeof(float), &vbytes) == 0)
            vecs = pxs_aligned_alloc(64, vbytes);
        if (!vecs) {
            pxs_free(l0);
            return pxs_errf(err, PXS_ENOMEM, "hnsw index: out of memory growing to %zu", cap);
        }
    }
    /* Each array is swapped in as soon as it is grown: a bigger array is
     * harmless if a later one fails, and cap moves only when all succeeded. */
    int64_t *labels = pxs_realloc(h->labels, cap * sizeof *labels);
    if (labels) h->labels = labels;
    uint8_t *levels = labels ? pxs_realloc(h->levels, cap) : NULL;
    if (levels) h->levels = levels;
    uint8_t *deleted = levels ? pxs_realloc(h->deleted, cap) : NULL;
    if (deleted) h->deleted = deleted;
    uint32_t **upper = deleted ? pxs_realloc(h->upper, cap * sizeof *upper) : NULL;
    if (upper) h->upper = upper;
    if (!upper) {
        pxs_free(l0);
        pxs_free(vecs);
        return pxs_errf(err, PXS_ENOMEM, "hnsw index: out of memory growing to %zu", cap);
    }
    if (h->n) memcpy(l0, h->level0, h->n * h->node_bytes);
    pxs_free(h->level0);
    h->level0 = l0;
    if (h->quant_layout) {
        if (h->n) memcpy(vecs, h->vecs, h->n * stride * sizeof(float));
        pxs_free(h->vecs);
        h->vecs = vecs;
        h->fbase = (char *)vecs;
    } else {
        h->fbase = l0 + h->links_bytes;
    }
    h->cap = cap;
    return PXS_OK;
}

static int reserve_select(struct hnsw_scratch *s, size_t need) {
    if (need <= s->sel_cap) return PXS_OK;
    size_t cap = s->sel_cap;
    if (grow_cands(&s->sel, &cap, need) != PXS_OK) return PXS_ENOMEM;
    cap = s->sel_cap;
    if (grow_cands(&s->tmp, &cap, need) != PXS_OK) return PXS_ENOMEM;
    s->sel_cap = cap;
    return PXS_OK;
}

static int hnsw_add(pxs_index *ix, int64_t id, const void *vvec, struct pxs_err *err) {
    struct hnsw_index *h = (struct hnsw_index *)ix;
    const float *vec = vvec;
    size_t old = 0;
    int had = pxs__idmap_get(&h->map, id, &old);
    if (h->n >= HNSW_MAX_NODES)
        return pxs_errf(err, PXS_ELIMIT, "hnsw index is full (%zu nodes incl. tombstones)", h->n);

    /* Reserve everything that can fail before the graph changes, so a
     * failed add leaves the index as it was. */
    if (h->n == h->cap) {
        int rc = hnsw_grow(h, err);
        if (rc != PXS_OK) return rc;
    }
    if (!had && pxs__idmap_reserve(&h->map, h->map.n + 1) != PXS_OK)
        return pxs_errf(err, PXS_ENOMEM, "hnsw index: out of memory growing the id map");
    size_t ef = h->ef_construction;
    /* The candidate heap never holds a node twice, so n + 1 suffices. */
    if (scratch_reserve(h, &h->build, h->n + 1, ef, h->n + 1) != PXS_OK ||
        reserve_select(&h->build, (ef > h->m0 ? ef : h->m0) + 2) != PXS_OK)
        return pxs_errf(err, PXS_ENOMEM, "hnsw index: out of memory for construction scratch");
    uint64_t rng_before = h->rng;
    int level = random_level(h);
    uint32_t *up = NULL;
    if (level > 0) {
        size_t words = (size_t)level * (h->m + 1);
        up = pxs_calloc(words, sizeof(uint32_t));
        if (!up) {
            h->rng = rng_before;
            return pxs_errf(err, PXS_ENOMEM, "hnsw index: out of memory for links");
        }
        h->upper_bytes += words * sizeof(uint32_t);
    }

    /* ---- nothing below can fail ---- */
    uint32_t u = (uint32_t)h->n;
    memset(h->level0 + (size_t)u * h->node_bytes, 0, h->node_bytes);
    float *row = vec_mut(h, u);
    memcpy(row, vec, h->dim * sizeof(float));
    memset(row + h->dim, 0, (pxs__index_row_stride(h->dim) - h->dim) * sizeof(float));
    h->labels[u] = id;
    h->levels[u] = (uint8_t)level;
    h->deleted[u] = 0;
    h->upper[u] = up;
    h->n++;
    if (h->quant_layout) {
        size_t fit = quant_fit_count(h->n);
        if (fit != h->quant_fit_n)
            quant_fit(h, fit);
        else if (fit)
            encode_node(h, u);
    }
    if (had) {
        h->deleted[old] = 1;
        h->n_deleted++;
        pxs__idmap_update(&h->map, id, u);
    } else if (pxs__idmap_put(&h->map, id, u) != PXS_OK) {
        return pxs_errf(err, PXS_EINTERNAL, "hnsw index: id map refused a reserved insert");
    }
    if (h->max_level < 0) {
        h->entry = u;
        h->max_level = level;
        return PXS_OK;
    }

    struct hnsw_scratch *s = &h->build;
    struct hquery q = node_query(h, u, s->qcode);
    uint32_t cur = h->entry;
    float cur_d = dist_one(h, &q, cur);
    for (int l = h->max_level; l > level; l--) cur = greedy_step(h, s, &q, cur, &cur_d, l);
    for (int l = level < h->max_level ? level : h->max_level; l >= 0; l--) {
        size_t nr = 0;
        scratch_new_epoch(s);
        s->visited[u] = s->epoch; /* never link to itself */
        if (search_level(h, s, &q, cur, cur_d, ef, l, 0, NULL, NULL, &nr) != PXS_OK)
            return pxs_errf(err, PXS_EINTERNAL, "hnsw index: reserved scratch was too small");
        if (nr == 0) continue;
        /* Results nearest first, then the heuristic picks at most M. */
        memcpy(s->tmp, s->res, nr * sizeof *s->res);
        qsort(s->tmp, nr, sizeof *s->tmp, cand_cmp);
        cur = s->tmp[0].id;
        cur_d = s->tmp[0].d;
        size_t kept = select_neighbors(h, s->tmp, nr, h->m, s->sel);
        uint32_t *l_u = links_at(h, u, l);
        for (size_t j = 0; j < kept; j++) l_u[1 + j] = s->sel[j].id;
        l_u[0] = (uint32_t)kept;
        /* add_link reuses sel/tmp, so read the chosen ids from u's list. */
        for (size_t j = 0; j < kept; j++) add_link(h, l_u[1 + j], u, l);
    }
    if (level > h->max_level) {
        h->entry = u;
        h->max_level = level;
    }
    return PXS_OK;
}

static int hnsw_remove(pxs_index *ix, int64_t id) {
    struct hnsw_index *h = (struct hnsw_index *)ix;
    size_t u;
    if (!pxs__idmap_get(&h->map, id, &u)) return PXS_ENOTFOUND;
    pxs__idmap_del(&h->map, id);
    h->deleted[u] = 1;
    h->n_deleted++;
    return PXS_OK;
}

static size_t hnsw_count(const pxs_index *ix) {
    const struct hnsw_index *h = (const struct hnsw_index *)ix;
    return h->n - h->n_deleted;
}

static size_t scratch_memory(const struct hnsw_scratch *s) {
    return s->visited_cap * sizeof(uint16_t) +
           (s->cand_cap + s->res_cap + 2 * s->sel_cap) * sizeof(struct cand) +
           s->nbr_cap * (sizeof *s->ids + sizeof *s->keys + sizeof *s->dots);
}

static size_t hnsw_memory(const pxs_index *ix) {
    const struct hnsw_index *h = (const struct hnsw_index *)ix;
    size_t vec_row = h->quant_layout ? pxs__index_row_stride(h->dim) * sizeof(float) + 8 : 0;
    return sizeof *h + h->cap * (h->node_bytes + vec_row + sizeof(int64_t) + 2 + sizeof(uint32_t *)) +
           h->upper_bytes + pxs__idmap_memory(&h->map) + scratch_memory(&h->build) +
           (h->q_lo ? 2 * h->dim * sizeof(float) : 0);
}

/* Codes (in the level-0 records) plus float vectors, tombstones included. */
static size_t hnsw_vector_bytes(const pxs_index *ix) {
    const struct hnsw_index *h = (const struct hnsw_index *)ix;
    return h->n * (h->node_bytes - h->links_bytes + (h->quant_layout ? h->fstep : 0));
}

/* Exact scan of the live nodes the filter allows (few rows pass). */
static void hnsw_scan(const struct hnsw_index *h, const float *query, float scale,
                      const struct pxs__search_ctx *ctx, struct pxs__topk *top) {
    for (uint32_t u = 0; u < h->n; u++) {
        if (h->deleted[u] || !ctx->allow(h->labels[u], ctx->allow_user)) continue;
        float key = key_dist(h, query, vec_of(h, u)) * scale;
        if (ctx->ranged && !(key >= ctx->key_lo && key < ctx->key_hi)) continue;
        pxs__topk_push(top, h->labels[u], key);
    }
}

/* Estimated number of live nodes the filter allows. */
static double allowed_estimate(const struct hnsw_index *h, const struct pxs__search_ctx *ctx) {
    size_t live = h->n - h->n_deleted;
    if (ctx->allow_count) return (double)ctx->allow_count;
    size_t step = h->n / HNSW_FILTER_SAMPLE;
    if (step == 0) step = 1;
    size_t seen = 0, ok = 0;
    for (size_t u = step / 2; u < h->n; u += step) {
        if (h->deleted[u]) continue;
        seen++;
        ok += ctx->allow(h->labels[u], ctx->allow_user) != 0;
    }
    return seen ? (double)live * (double)ok / (double)seen : 0.0;
}

/* Replace the code-space keys of res[0..n) by exact float keys. */
static void rerank(const struct hnsw_index *h, const float *query, struct cand *res, size_t n) {
    size_t lines = h->dim * sizeof(float) / 64;
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n) {
            const char *next = (const char *)vec_of(h, res[i + 1].id);
            for (size_t o = 0; o <= lines; o++) __builtin_prefetch(next + o * 64, 0, 3);
        }
        res[i].d = key_dist(h, query, vec_of(h, res[i].id));
    }
}

static int hnsw_search(const pxs_index *ix, const void *vquery, float qscale, size_t k,
                       const struct pxs__search_ctx *ctx, struct pxs_hit *hits, size_t *n_hits,
                       struct pxs_err *err) {
    const struct hnsw_index *h = (const struct hnsw_index *)ix;
    const float *query = vquery;
    size_t ef = ctx->ef > 0 ? ctx->ef : h->ef_search;
    if (ef < k) ef = k;
    if (h->max_level < 0) return PXS_OK;
    /* COSINE keys are -ip(q, x) of the raw query; scale to -cos. */
    float scale = h->base.params.metric == PXS_METRIC_COSINE ? qscale : 1.0f;
    size_t live = h->n - h->n_deleted;
    struct pxs__topk top;
    pxs__topk_init(&top, hits, k);
    if (ctx->allow) {
        double est = allowed_estimate(h, ctx);
        if (est < HNSW_BRUTE_FRACTION * (double)live || est <= (double)ef) {
            hnsw_scan(h, query, scale, ctx, &top);
            *n_hits = pxs__topk_finish(&top, h->base.params.metric);
            return PXS_OK;
        }
    }
    /* The pool is the only state a search writes; it is atomic, and the
     * index object itself was allocated non-const. */
    struct hnsw_index *hm = (struct hnsw_index *)(uintptr_t)h;
    struct hnsw_scratch *s = pool_take(hm);
    if (!s || scratch_reserve(h, s, h->n, ef, ef * 4) != PXS_OK) {
        if (s) pool_give(hm, s);
        return pxs_errf(err, PXS_ENOMEM, "hnsw search: out of memory for scratch");
    }
    /* COSINE: the code of the unit-length query (traversal is L2 on codes). */
    struct hquery q = make_query(h, query, scale, s->qcode);
    uint32_t cur = h->entry;
    float cur_d = dist_one(h, &q, cur);
    for (int l = h->max_level; l > 0; l--) cur = greedy_step(h, s, &q, cur, &cur_d, l);
    size_t nr = 0;
    for (;;) {
        scratch_new_epoch(s);
        int rc = search_level(h, s, &q, cur, cur_d, ef, 0, 1, ctx->allow, ctx->allow_user, &nr);
        if (rc != PXS_OK) {
            pool_give(hm, s);
            return pxs_errf(err, rc, "hnsw search: out of memory for candidates");
        }
        if (q.quant) rerank(h, query, s->res, nr);
        if (!ctx->ranged || ef >= live) break;
        size_t inside = 0;
        float worst = -INFINITY;
        for (size_t i = 0; i < nr; i++) {
            float key = s->res[i].d * scale;
            inside += key >= ctx->key_lo && key < ctx->key_hi;
            if (key > worst) worst = key;
        }
        if (inside >= k || worst >= ctx->key_hi || nr < ef) break;
        ef = ef * 2 < live ? ef * 2 : live;
        if (scratch_reserve(h, s, h->n, ef, ef * 4) != PXS_OK) {
            pool_give(hm, s);
            return pxs_errf(err, PXS_ENOMEM, "hnsw search: out of memory for scratch");
        }
    }
    for (size_t i = 0; i < nr; i++) {
        float key = s->res[i].d * scale;
        if (ctx->ranged && !(key >= ctx->key_lo && key < ctx->key_hi)) continue;
        pxs__topk_push(&top, h->labels[s->res[i].id], key);
    }
    pool_give(hm, s);
    *n_hits = pxs__topk_finish(&top, h->base.params.metric);
    return PXS_OK;
}

static void hnsw_save(const pxs_index *ix, struct pxs__writer *w) {
    const struct hnsw_index *h = (const struct hnsw_index *)ix;
    pxs__w_u64(w, h->n);
    pxs__w_u64(w, h->rng);
    pxs__w_u32(w, h->entry);
    pxs__w_u32(w, h->max_level < 0 ? 0xffffffffu : (uint32_t)h->max_level);
    pxs__w_i64s(w, h->labels, h->n);
    pxs__w_bytes(w, h->levels, h->n);
    pxs__w_bytes(w, h->deleted, h->n);
    for (uint32_t u = 0; u < h->n; u++) pxs__w_u32s(w, links_at(h, u, 0), 1 + h->m0);
    for (uint32_t u = 0; u < h->n; u++) pxs__w_f32s(w, vec_of(h, u), h->dim);
    for (uint32_t u = 0; u < h->n; u++)
        if (h->levels[u] > 0) pxs__w_u32s(w, h->upper[u], (size_t)h->levels[u] * (h->m + 1));
}

/* Links of node u at level l are valid for a graph of n nodes. */
static int links_valid(const struct hnsw_index *h, uint32_t u, int l) {
    const uint32_t *lk = links_at(h, u, l);
    if (lk[0] > (l == 0 ? h->m0 : h->m)) return 0;
    for (uint32_t j = 0; j < lk[0]; j++) {
        uint32_t v = lk[1 + j];
        if (v >= h->n || v == u || h->levels[v] < l) return 0;
    }
    return 1;
}

static int hnsw_load(pxs_index *ix, struct pxs__reader *r) {
    struct hnsw_index *h = (struct hnsw_index *)ix;
    uint64_t n, rng;
    uint32_t entry, max_level;
    int rc;
    if ((rc = pxs__r_u64(r, &n)) != PXS_OK || (rc = pxs__r_u64(r, &rng)) != PXS_OK ||
        (rc = pxs__r_u32(r, &entry)) != PXS_OK || (rc = pxs__r_u32(r, &max_level)) != PXS_OK)
        return rc;
    size_t per_node = 8 + 1 + 1 + 4 * (1 + h->m0) + 4 * h->dim;
    if (n > HNSW_MAX_NODES || pxs__r_need(r, (size_t)n, per_node) != PXS_OK)
        return PXS__CORRUPT(r, "hnsw index: node count exceeds the payload");
    if (n == 0) {
        if (max_level != 0xffffffffu || entry != 0)
            return PXS__CORRUPT(r, "hnsw index: empty graph with an entry point");
        h->rng = rng;
        return PXS_OK;
    }
    if (max_level > HNSW_MAX_LEVEL || entry >= n)
        return PXS__CORRUPT(r, "hnsw index: entry point or top level out of range");
    while (h->cap < n)
        if ((rc = hnsw_grow(h, r->err)) != PXS_OK) return rc;
    memset(h->upper, 0, (size_t)n * sizeof *h->upper);
    h->n = (size_t)n; /* destroy frees upper[0..n) from here on */
    h->rng = rng;
    h->entry = entry;
    h->max_level = (int)max_level;
    if ((rc = pxs__r_i64s(r, h->labels, h->n)) != PXS_OK ||
        (rc = pxs__r_bytes(r, h->levels, h->n)) != PXS_OK ||
        (rc = pxs__r_bytes(r, h->deleted, h->n)) != PXS_OK)
        return rc;
    if (h->levels[entry] != max_level)
        return PXS__CORRUPT(r, "hnsw index: entry point is not on the top level");
    if (pxs__idmap_reserve(&h->map, h->n) != PXS_OK)
        return pxs_errf(r->err, PXS_ENOMEM, "hnsw index: out of memory loading");
    for (uint32_t u = 0; u < h->n; u++) {
        if (h->levels[u] > max_level || h->deleted[u] > 1)
            return PXS__CORRUPT(r, "hnsw index: node level or deleted flag out of range");
        if (h->deleted[u]) {
            h->n_deleted++;
            continue;
        }
        size_t old;
        if (pxs__idmap_get(&h->map, h->labels[u], &old))
            return PXS__CORRUPT(r, "hnsw index: two live nodes share an id");
        if (pxs__idmap_put(&h->map, h->labels[u], u) != PXS_OK)
            return pxs_errf(r->err, PXS_EINTERNAL, "hnsw index: id map refused a reserved insert");
    }
    for (uint32_t u = 0; u < h->n; u++) {
        memset(h->level0 + (size_t)u * h->node_bytes, 0, h->node_bytes);
        if ((rc = pxs__r_u32s(r, links_at(h, u, 0), 1 + h->m0)) != PXS_OK) return rc;
    }
    for (uint32_t u = 0; u < h->n; u++) {
        float *v = vec_mut(h, u);
        if ((rc = pxs__r_f32s(r, v, h->dim)) != PXS_OK) return rc;
        size_t stride = pxs__index_row_stride(h->dim);
        if (stride > h->dim) memset(v + h->dim, 0, (stride - h->dim) * sizeof(float));
    }
    for (uint32_t u = 0; u < h->n; u++) {
        if (h->levels[u] == 0) continue;
        size_t words = (size_t)h->levels[u] * (h->m + 1);
        if (pxs__r_need(r, words, 4) != PXS_OK)
            return PXS__CORRUPT(r, "hnsw index: upper links exceed the payload");
        h->upper[u] = pxs_mallocarray(words, sizeof(uint32_t));
        if (!h->upper[u]) return pxs_errf(r->err, PXS_ENOMEM, "hnsw index: out of memory loading");
        h->upper_bytes += words * sizeof(uint32_t);
        if ((rc = pxs__r_u32s(r, h->upper[u], words)) != PXS_OK) return rc;
    }
    for (uint32_t u = 0; u < h->n; u++)
        for (int l = 0; l <= h->levels[u]; l++)
            if (!links_valid(h, u, l)) return PXS__CORRUPT(r, "hnsw index: bad neighbour list");
    if (h->quant_layout && quant_fit_count(h->n)) quant_fit(h, quant_fit_count(h->n));
    return PXS_OK;
}

static void hnsw_destroy(pxs_index *ix) {
    struct hnsw_index *h = (struct hnsw_index *)ix;
    for (size_t i = 0; i < h->n; i++) pxs_free(h->upper[i]);
    pxs_free(h->upper);
    pxs_free(h->level0);
    pxs_free(h->vecs);
    pxs_free(h->cnorm);
    pxs_free(h->csq);
    pxs_free(h->q_lo);
    pxs_free(h->labels);
    pxs_free(h->levels);
    pxs_free(h->deleted);
    pxs__idmap_free(&h->map);
    scratch_free(&h->build);
    for (int i = 0; i < HNSW_POOL; i++) {
        struct hnsw_scratch *s = atomic_exchange(&h->pool[i], NULL);
        scratch_free(s);
        pxs_free(s);
    }
    pxs_free(h);
}

static const struct pxs__index_ops hnsw_ops = {
    .destroy = hnsw_destroy,
    .add = hnsw_add,
    .remove = hnsw_remove,
    .count = hnsw_count,
    .memory = hnsw_memory,
    .vector_bytes = hnsw_vector_bytes,
    .search = hnsw_search,
    .save = hnsw_save,
    .load = hnsw_load,
};

int pxs__hnsw_check(const pxs_index *ix, struct pxs_err *err) {
    if (!ix || ix->ops != &hnsw_ops) return pxs_errf(err, PXS_EINVAL, "not an hnsw index");
    const struct hnsw_index *h = (const struct hnsw_index *)ix;
    if (h->n == 0) return h->max_level == -1 ? PXS_OK : pxs_errf(err, PXS_EINTERNAL, "empty, level");
    if (h->entry >= h->n || h->levels[h->entry] != h->max_level)
        return pxs_errf(err, PXS_EINTERNAL, "entry %u has the wrong level", h->entry);
    size_t live = 0;
    for (uint32_t u = 0; u < h->n; u++) {
        if (!h->deleted[u]) {
            live++;
            size_t got;
            if (!pxs__idmap_get(&h->map, h->labels[u], &got) || got != u)
                return pxs_errf(err, PXS_EINTERNAL, "node %u not mapped from its id", u);
        }
        if ((h->levels[u] > 0) != (h->upper[u] != NULL))
            return pxs_errf(err, PXS_EINTERNAL, "node %u upper links mismatch", u);
        for (int l = 0; l <= h->levels[u]; l++) {
            const uint32_t *lk = links_at(h, u, l);
            if (lk[0] > (l == 0 ? h->m0 : h->m))
                return pxs_errf(err, PXS_EINTERNAL, "node %u level %d has %u links", u, l, lk[0]);
            for (uint32_t j = 0; j < lk[0]; j++) {
                uint32_t v = lk[1 + j];
                if (v >= h->n || v == u || h->levels[v] < l)
                    return pxs_errf(err, PXS_EINTERNAL, "node %u level %d bad link %u", u, l, v);
            }
        }
    }
    if (live != h->map.n || live != h->n - h->n_deleted)
        return pxs_errf(err, PXS_EINTERNAL, "live count %zu, map %zu", live, h->map.n);
    if (h->quant_layout) {
        if (h->quant_fit_n != quant_fit_count(h->n))
            return pxs_errf(err, PXS_EINTERNAL, "quantiser fitted on %zu of %zu nodes",
                            h->quant_fit_n, h->n);
        for (uint32_t u = 0; u < h->n && h->quant_fit_n; u++) {
            const uint8_t *c = code_of(h, u);
            int64_t sq = 0, sum = 0;
            for (size_t i = 0; i < h->code_len; i++) {
                int want = i < h->dim ? code_value(h, i, vec_of(h, u)[i]) : 0;
                if (c[i] != want)
                    return pxs_errf(err, PXS_EINTERNAL, "node %u code %zu is %d, not %d", u, i,
                                    c[i], want);
                sq += want * want;
                sum += want;
            }
            if (h->cnorm[u] != (int32_t)(sq - 256 * sum) || h->csq[u] != (int32_t)sq)
                return pxs_errf(err, PXS_EINTERNAL, "node %u code norm is stale", u);
        }
    }
    return PXS_OK;
}

int pxs__hnsw_quantized(const pxs_index *ix) {
    return ix && ix->ops == &hnsw_ops && ((const struct hnsw_index *)ix)->quant;
}

void pxs__hnsw_set_float_traversal(pxs_index *ix, int on) {
    if (!ix || ix->ops != &hnsw_ops) return;
    struct hnsw_index *h = (struct hnsw_index *)ix;
    h->quant_off = on != 0;
    h->quant = !h->quant_off && h->quant_fit_n > 0;
}

int pxs__hnsw_new(const struct pxs_index_params *p, pxs_index **out, struct pxs_err *err) {
    int m = p->hnsw_m ? p->hnsw_m : HNSW_DEFAULT_M;
    int efc = p->hnsw_ef_construction ? p->hnsw_ef_construction : HNSW_DEFAULT_EF_CONSTRUCTION;
    int efs = p->hnsw_ef_search ? p->hnsw_ef_search : HNSW_DEFAULT_EF_SEARCH;
    if (m < 2 || m > 128) return pxs_errf(err, PXS_EINVAL, "hnsw_m %d is outside 2..128", m);
    if (efc < 1 || efc > 10000)
        return pxs_errf(err, PXS_EINVAL, "hnsw_ef_construction %d is outside 1..10000", efc);
    if (efs < 1 || efs > 100000)
        return pxs_errf(err, PXS_EINVAL, "hnsw_ef_search %d is outside 1..100000", efs);
    struct hnsw_index *h = pxs_calloc(1, sizeof *h);
    if (!h) return pxs_errf(err, PXS_ENOMEM, "hnsw index: out of memory");
    h->base.ops = &hnsw_ops;
    h->base.params = *p;
    h->base.params.hnsw_m = m;
    h->base.params.hnsw_ef_construction = efc;
    h->base.params.hnsw_ef_search = efs;
    h->kern = pxs__index_kernels();
    h->dist = p->metric == PXS_METRIC_L2 ? h->kern->l2sq : h->kern->ip;
    h->sign = p->metric == PXS_METRIC_L2 ? 1.0f : -1.0f;
    h->dim = p->dim;
    h->m = (size_t)m;
    h->m0 = 2 * (size_t)m;
    h->ef_construction = (size_t)(efc > m ? efc : m);
    h->ef_search = (size_t)efs;
    h->level_mult = 1.0 / log((double)m);
    h->rng = p->hnsw_seed ? p->hnsw_seed : HNSW_DEFAULT_SEED;
    h->links_bytes = ((2 + h->m0) * sizeof(uint32_t) + 63) & ~(size_t)63;
    h->ck = pxs__code_kernels();
    h->quant_layout = p->metric == PXS_METRIC_L2 || p->metric == PXS_METRIC_COSINE;
    if (h->quant_layout) {
        h->code_len = (p->dim + 63) & ~(size_t)63;
        h->node_bytes = h->links_bytes + h->code_len;
        h->fstep = pxs__index_row_stride(p->dim) * sizeof(float);
        h->q_lo = pxs_calloc(2 * p->dim, sizeof(float));
        h->q_hi = h->q_lo ? h->q_lo + p->dim : NULL;
        if (!h->q_lo) {
            pxs_free(h);
            return pxs_errf(err, PXS_ENOMEM, "hnsw index: out of memory");
        }
    } else {
        h->node_bytes = h->links_bytes + pxs__index_row_stride(p->dim) * sizeof(float);
        h->fstep = h->node_bytes;
    }
    h->max_level = -1;
    pxs__idmap_init(&h->map);
    for (int i = 0; i < HNSW_POOL; i++) atomic_init(&h->pool[i], NULL);
    *out = &h->base;
    return PXS_OK;
}
