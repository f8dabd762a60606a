/*
 * index.c — the public face of the index module: metric names, argument
 * checking shared by every index type, COSINE normalisation, the bounded
 * top-k heap, and dispatch through struct pxs__index_ops to flat.c, hnsw.c
 * and ivf.c (IVF_* and BIN_*).
 *
 * Everything that can be checked once is checked here, so the index types
 * receive only valid input: a finite vector of the right dimension (unit
 * length for COSINE) or a binary vector for a binary index, k >= 1, a hits
 * array with room for k, and search parameters turned into a
 * struct pxs__search_ctx (range bounds already in key space).
 */
#include "index/index_int.h"

#include <math.h>
#include <string.h>

/* ---- metrics -------------------------------------------------------------- */

static const char *const metric_names[] = {"L2", "IP", "COSINE", "HAMMING", "JACCARD"};
_Static_assert(sizeof metric_names / sizeof metric_names[0] == PXS_METRIC_JACCARD + 1,
               "one name per metric");

const char *pxs_metric_name(enum pxs_metric metric) {
    if ((unsigned)metric > (unsigned)PXS_METRIC_JACCARD) return "UNKNOWN";
    return metric_names[metric];
}

static int ascii_upper(int c) { return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c; }

int pxs_metric_parse(const char *name, enum pxs_metric *out) {
    if (!name || !out) return PXS_EINVAL;
    for (size_t m = 0; m < sizeof metric_names / sizeof metric_names[0]; m++) {
        const char *a = name, *b = metric_names[m];
        while (*a && *b && ascii_upper((unsigned char)*a) == *b) a++, b++;
        if (*a == '\0' && *b == '\0') {
            *out = (enum pxs_metric)m;
            return PXS_OK;
        }
    }
    return PXS_EINVAL;
}

int pxs_metric_higher_is_closer(enum pxs_metric metric) {
    return metric == PXS_METRIC_IP || metric == PXS_METRIC_COSINE;
}

static const char *const type_names[] = {"FLAT",    "HNSW",     "IVF_FLAT",    "IVF_SQ8",
                                         "IVF_PQ",  "BIN_FLAT", "BIN_IVF_FLAT"};
_Static_assert(sizeof type_names / sizeof type_names[0] == PXS_INDEX_BIN_IVF_FLAT + 1,
               "one name per index type");

const char *pxs_index_type_name(enum pxs_index_type type) {
    if ((unsigned)type > (unsigned)PXS_INDEX_BIN_IVF_FLAT) return "UNKNOWN";
    return type_names[type];
}

static int name_eq(const char *a, const char *b) {
    while (*a && *b && ascii_upper((unsigned char)*a) == *b) a++, b++;
    return *a == '\0' && *b == '\0';
}

int pxs_index_type_parse(const char *name, enum pxs_index_type *out) {
    if (!name || !out) return PXS_EINVAL;
    for (size_t t = 0; t < sizeof type_names / sizeof type_names[0]; t++)
        if (name_eq(name, type_names[t])) {
            *out = (enum pxs_index_type)t;
            return PXS_OK;
        }
    return PXS_EINVAL;
}

static int type_is_binary(enum pxs_index_type t) {
    return t == PXS_INDEX_BIN_FLAT || t == PXS_INDEX_BIN_IVF_FLAT;
}

/* ---- top-k ---------------------------------------------------------------- */

void pxs__topk_init(struct pxs__topk *t, struct pxs_hit *storage, size_t k) {
    t->h = storage;
    t->k = k;
    t->n = 0;
}

static void sift_down(struct pxs_hit *h, size_t n, size_t i) {
    struct pxs_hit x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pxs__hit_worse(&h[c + 1], &h[c])) c++;
        if (!pxs__hit_worse(&h[c], &x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

void pxs__topk_push(struct pxs__topk *t, int64_t id, float key) {
    if (key != key) key = INFINITY; /* NaN (e.g. inf - inf) ranks last */
    struct pxs_hit x = {id, key};
    if (t->n < t->k) {
        size_t i = t->n++;
        while (i > 0) {
            size_t p = (i - 1) / 2;
            if (!pxs__hit_worse(&x, &t->h[p])) break;
            t->h[i] = t->h[p];
            i = p;
        }
        t->h[i] = x;
    } else if (t->k > 0 && pxs__hit_worse(&t->h[0], &x)) {
        t->h[0] = x;
        sift_down(t->h, t->n, 0);
    }
}

float pxs__topk_bound(const struct pxs__topk *t) {
    return (t->n < t->k || t->k == 0) ? INFINITY : t->h[0].score;
}

size_t pxs__topk_finish(struct pxs__topk *t, enum pxs_metric metric) {
    /* Heap sort: moving the worst to the end each time leaves best first. */
    for (size_t n = t->n; n > 1; n--) {
        struct pxs_hit tmp = t->h[0];
        t->h[0] = t->h[n - 1];
        t->h[n - 1] = tmp;
        sift_down(t->h, n - 1, 0);
    }
    for (size_t i = 0; i < t->n; i++) t->h[i].score = pxs__index_key_to_score(metric, t->h[i].score);
    return t->n;
}

/* ---- index lifecycle ------------------------------------------------------ */

int pxs_index_new(const struct pxs_index_params *params, pxs_index **out, struct pxs_err *err) {
    if (out) *out = NULL;
    if (!params || !out) return pxs_errf(err, PXS_EINVAL, "index_new: NULL argument");
    if ((unsigned)params->type > (unsigned)PXS_INDEX_BIN_IVF_FLAT)
        return pxs_errf(err, PXS_EINVAL, "unknown index type %d", (int)params->type);
    if ((unsigned)params->metric > (unsigned)PXS_METRIC_JACCARD)
        return pxs_errf(err, PXS_EINVAL, "unknown metric %d", (int)params->metric);
    int binary = type_is_binary(params->type);
    int bin_metric = params->metric == PXS_METRIC_HAMMING || params->metric == PXS_METRIC_JACCARD;
    if (binary != bin_metric)
        return pxs_errf(err, PXS_EUNSUPPORTED, "metric %s needs a %s index (%s is %s)",
                        pxs_metric_name(params->metric), bin_metric ? "binary" : "float",
                        pxs_index_type_name(params->type), binary ? "binary" : "float");
    if (params->dim == 0 || params->dim > PXS_INDEX_DIM_MAX)
        return pxs_errf(err, PXS_EINVAL, "index dimension %zu is outside 1..%u", params->dim,
                        PXS_INDEX_DIM_MAX);
    if (binary && params->dim % 8 != 0)
        return pxs_errf(err, PXS_EINVAL,
                        "binary index dimension %zu (bits) is not a multiple of 8", params->dim);
    pxs_index *ix = NULL;
    int rc;
    switch (params->type) {
    case PXS_INDEX_FLAT:
        rc = pxs__flat_new(params, &ix, err);
        break;
    case PXS_INDEX_HNSW:
        rc = pxs__hnsw_new(params, &ix, err);
        break;
    default:
        rc = pxs__ivf_new(params, &ix, err);
        break;
    }
    if (rc != PXS_OK) return rc;
    if (params->metric == PXS_METRIC_COSINE) {
        ix->scratch_vec = pxs_mallocarray(params->dim, sizeof(float));
        if (!ix->scratch_vec) {
            pxs_index_free(ix);
            return pxs_errf(err, PXS_ENOMEM, "index_new: out of memory");
        }
    }
    *out = ix;
    return PXS_OK;
}

void pxs_index_free(pxs_index *index) {
    if (!index) return;
    float *scratch = index->scratch_vec;
    index->ops->destroy(index);
    pxs_free(scratch);
}

int pxs_index_add(pxs_index *index, int64_t id, const float *vec, struct pxs_err *err) {
    if (!index || !vec) return pxs_errf(err, PXS_EINVAL, "index_add: NULL argument");
    if (type_is_binary(index->params.type))
        return pxs_errf(err, PXS_EINVAL, "%s index holds binary vectors: use pxs_index_add_binary",
                        pxs_index_type_name(index->params.type));
    size_t dim = index->params.dim;
    int rc = pxs__index_check_finite(vec, dim, "vector", err);
    if (rc != PXS_OK) return rc;
    if (index->params.metric == PXS_METRIC_COSINE) {
        memcpy(index->scratch_vec, vec, dim * sizeof(float));
        pxs_vec_normalize(index->scratch_vec, dim);
        vec = index->scratch_vec;
    }
    return index->ops->add(index, id, vec, err);
}

int pxs_index_add_binary(pxs_index *index, int64_t id, const uint8_t *vec, struct pxs_err *err) {
    if (!index || !vec) return pxs_errf(err, PXS_EINVAL, "index_add_binary: NULL argument");
    if (!type_is_binary(index->params.type))
        return pxs_errf(err, PXS_EINVAL, "%s index holds float vectors: use pxs_index_add",
                        pxs_index_type_name(index->params.type));
    return index->ops->add(index, id, vec, err);
}

int pxs_index_is_binary(const pxs_index *index) {
    return index ? type_is_binary(index->params.type) : 0;
}

int pxs_index_train(pxs_index *index, struct pxs_err *err) {
    if (!index) return pxs_errf(err, PXS_EINVAL, "index_train: NULL index");
    return index->ops->train ? index->ops->train(index, err) : PXS_OK;
}

int pxs_index_is_trained(const pxs_index *index) {
    if (!index) return 0;
    return index->ops->is_trained ? index->ops->is_trained(index) : 1;
}

int pxs_index_remove(pxs_index *index, int64_t id, struct pxs_err *err) {
    if (!index) return pxs_errf(err, PXS_EINVAL, "index_remove: NULL index");
    return index->ops->remove(index, id);
}

size_t pxs_index_count(const pxs_index *index) { return index ? index->ops->count(index) : 0; }

size_t pxs_index_dim(const pxs_index *index) { return index ? index->params.dim : 0; }

enum pxs_metric pxs_index_metric(const pxs_index *index) {
    return index ? index->params.metric : PXS_METRIC_L2;
}

enum pxs_index_type pxs_index_get_type(const pxs_index *index) {
    return index ? index->params.type : PXS_INDEX_FLAT;
}

size_t pxs_index_memory(const pxs_index *index) {
    if (!index) return 0;
    size_t extra = index->scratch_vec ? index->params.dim * sizeof(float) : 0;
    return index->ops->memory(index) + extra;
}

size_t pxs__index_vector_bytes(const pxs_index *index) {
    return index && index->ops->vector_bytes ? index->ops->vector_bytes(index) : 0;
}

/* Validate sp and turn it into the key-space form the index types use. */
static int make_ctx(const pxs_index *index, const struct pxs_search_params *sp,
                    struct pxs__search_ctx *c, struct pxs_err *err) {
    memset(c, 0, sizeof *c);
    if (!sp) return PXS_OK;
    if (sp->ef < 0 || sp->ef > 100000)
        return pxs_errf(err, PXS_EINVAL, "search ef %d is outside 0..100000", sp->ef);
    if (sp->nprobe < 0 || sp->nprobe > 65536)
        return pxs_errf(err, PXS_EINVAL, "search nprobe %d is outside 0..65536", sp->nprobe);
    c->ef = (size_t)sp->ef;
    c->nprobe = (size_t)sp->nprobe;
    c->allow = sp->allow;
    c->allow_user = sp->allow_user;
    c->allow_count = sp->allow_count;
    if (!sp->range) {
        if (sp->has_range_filter)
            return pxs_errf(err, PXS_EINVAL, "range_filter needs radius (set range)");
        return PXS_OK;
    }
    if (isnan(sp->radius) || (sp->has_range_filter && isnan(sp->range_filter)))
        return pxs_errf(err, PXS_EINVAL, "range search: radius and range_filter must not be NaN");
    enum pxs_metric m = index->params.metric;
    c->ranged = 1;
    if (pxs_metric_higher_is_closer(m)) {
        /* keep radius < s <= range_filter, i.e. -range_filter <= key < -radius */
        if (sp->has_range_filter && !(sp->range_filter > sp->radius))
            return pxs_errf(err, PXS_EINVAL,
                            "range search with %s: range_filter %g must be greater than radius %g",
                            pxs_metric_name(m), (double)sp->range_filter, (double)sp->radius);
        c->key_hi = -sp->radius;
        c->key_lo = sp->has_range_filter ? -sp->range_filter : -INFINITY;
    } else {
        /* keep range_filter <= d < radius */
        if (sp->has_range_filter && !(sp->range_filter < sp->radius))
            return pxs_errf(err, PXS_EINVAL,
                            "range search with %s: range_filter %g must be less than radius %g",
                            pxs_metric_name(m), (double)sp->range_filter, (double)sp->radius);
        c->key_hi = sp->radius;
        c->key_lo = sp->has_range_filter ? sp->range_filter : -INFINITY;
    }
    return PXS_OK;
}

int pxs_index_search_ex(const pxs_index *index, const float *query, size_t k,
                        const struct pxs_search_params *sp, struct pxs_hit *hits, size_t *n_hits,
                        struct pxs_err *err) {
    if (n_hits) *n_hits = 0;
    if (!index || !query || !n_hits || (k > 0 && !hits))
        return pxs_errf(err, PXS_EINVAL, "index_search: NULL argument");
    if (type_is_binary(index->params.type))
        return pxs_errf(err, PXS_EINVAL,
                        "%s index holds binary vectors: use pxs_index_search_binary",
                        pxs_index_type_name(index->params.type));
    struct pxs__search_ctx ctx;
    int rc = make_ctx(index, sp, &ctx, err);
    if (rc != PXS_OK) return rc;
    size_t dim = index->params.dim;
    rc = pxs__index_check_finite(query, dim, "query", err);
    if (rc != PXS_OK) return rc;
    if (k == 0 || index->ops->count(index) == 0) return PXS_OK;
    float qscale = 1.0f;
    float *normed = NULL;
    if (index->params.metric == PXS_METRIC_COSINE) {
        /* COSINE: stored rows are unit length, so cos = ip(q, row) / |q|.
         * Scaling the keys instead of copying the query keeps the hot path
         * allocation-free; only a query whose norm could overflow or
         * underflow a float dot product is normalised into a copy. */
        double ss = 0;
        for (size_t i = 0; i < dim; i++) ss += (double)query[i] * (double)query[i];
        if (ss == 0) {
            qscale = 0.0f;
        } else if (ss > 1e-30 && ss < 1e30) {
            qscale = (float)(1.0 / sqrt(ss));
        } else {
            normed = pxs_mallocarray(dim, sizeof(float));
            if (!normed) return pxs_errf(err, PXS_ENOMEM, "index_search: out of memory");
            memcpy(normed, query, dim * sizeof(float));
            pxs_vec_normalize(normed, dim);
            query = normed;
        }
    }
    rc = index->ops->search(index, query, qscale, k, &ctx, hits, n_hits, err);
    pxs_free(normed);
    return rc;
}

int pxs_index_search(const pxs_index *index, const float *query, size_t k, struct pxs_hit *hits,
                     size_t *n_hits, struct pxs_err *err) {
    return pxs_index_search_ex(index, query, k, NULL, hits, n_hits, err);
}

int pxs_index_search_binary(const pxs_index *index, const uint8_t *query, size_t k,
                            const struct pxs_search_params *sp, struct pxs_hit *hits,
                            size_t *n_hits, struct pxs_err *err) {
    if (n_hits) *n_hits = 0;
    if (!index || !query || !n_hits || (k > 0 && !hits))
        return pxs_errf(err, PXS_EINVAL, "index_search_binary: NULL argument");
    if (!type_is_binary(index->params.type))
        return pxs_errf(err, PXS_EINVAL, "%s index holds float vectors: use pxs_index_search",
                        pxs_index_type_name(index->params.type));
    struct pxs__search_ctx ctx;
    int rc = make_ctx(index, sp, &ctx, err);
    if (rc != PXS_OK) return rc;
    if (k == 0 || index->ops->count(index) == 0) return PXS_OK;
    return index->ops->search(index, query, 1.0f, k, &ctx, hits, n_hits, err);
}
