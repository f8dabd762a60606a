/*
 * flat.c — the exact index (PXS_INDEX_FLAT), and the oracle every
 * approximate index is tested against.
 *
 * Layout: one 64-byte-aligned row-major float matrix (rows padded to a
 * multiple of 16 floats, padding zeroed), a parallel id array, and an
 * id -> row hash map. Invariants: rows 0..n-1 are live and dense;
 * map[ids[r]] == r for every live row r; map holds exactly n entries.
 *
 *   add     O(dim) amortised; an existing id has its row overwritten.
 *   remove  O(dim): the last row moves into the hole (swap-with-last), so
 *           rows stay dense and the scan never skips holes.
 *   search  O(n * dim): batched kernel over blocks of rows into a stack
 *           buffer, keys pushed into a k-bounded heap held in the caller's
 *           hits array. No allocation, no shared mutable state, so any
 *           number of threads may search at once. A filter or range is
 *           applied only to rows that beat the current k-th best.
 *
 * Serialized payload (after the common header and params, serialize.c):
 *   u64 n | i64 ids[n] | f32 vectors[n][dim]   (rows unpadded, in row order)
 * Load checks: n fits the bytes left, ids are unique, values are finite.
 */
#include "index/index_int.h"

#include <string.h>

#define FLAT_MIN_CAP 16u
#define FLAT_BLOCK 256u

struct flat_index {
    struct pxs_index base;
    float *data;  /* cap * stride floats, 64-byte aligned */
    int64_t *ids; /* cap */
    size_t n, cap, stride;
    struct pxs__idmap map;
};

static void flat_destroy(pxs_index *ix) {
    struct flat_index *f = (struct flat_index *)ix;
    pxs_free(f->data);
    pxs_free(f->ids);
    pxs__idmap_free(&f->map);
    pxs_free(f);
}

static int flat_grow(struct flat_index *f, struct pxs_err *err) {
    size_t cap = f->cap ? f->cap * 2 : FLAT_MIN_CAP, bytes;
    if (cap < f->cap || pxs_size_mul(cap, f->stride * sizeof(float), &bytes) != 0 ||
        cap > SIZE_MAX / sizeof(int64_t))
        return pxs_errf(err, PXS_ELIMIT, "flat index cannot hold more than %zu vectors", f->n);
    float *data = pxs_aligned_alloc(64, bytes);
    int64_t *ids = pxs_mallocarray(cap, sizeof(int64_t));
    if (!data || !ids) {
        pxs_free(data);
        pxs_free(ids);
        return pxs_errf(err, PXS_ENOMEM, "flat index: out of memory growing to %zu vectors", cap);
    }
    if (f->n) {
        memcpy(data, f->data, f->n * f->stride * sizeof(float));
        memcpy(ids, f->ids, f->n * sizeof(int64_t));
    }
    pxs_free(f->data);
    pxs_free(f->ids);
    f->data = data;
    f->ids = ids;
    f->cap = cap;
    return PXS_OK;
}

static void write_row(struct flat_index *f, size_t row, const float *vec) {
    float *dst = f->data + row * f->stride;
    size_t dim = f->base.params.dim;
    memcpy(dst, vec, dim * sizeof(float));
    if (f->stride > dim) memset(dst + dim, 0, (f->stride - dim) * sizeof(float));
}

static int flat_add(pxs_index *ix, int64_t id, const void *vvec, struct pxs_err *err) {
    struct flat_index *f = (struct flat_index *)ix;
    const float *vec = vvec;
    size_t row;
    if (pxs__idmap_get(&f->map, id, &row)) {
        write_row(f, row, vec);
        return PXS_OK;
    }
    /* Reserve everything first so a failure leaves the index unchanged. */
    if (f->n == f->cap) {
        int rc = flat_grow(f, err);
        if (rc != PXS_OK) return rc;
    }
    if (pxs__idmap_reserve(&f->map, f->n + 1) != PXS_OK)
        return pxs_errf(err, PXS_ENOMEM, "flat index: out of memory growing the id map");
    row = f->n;
    write_row(f, row, vec);
    f->ids[row] = id;
    if (pxs__idmap_put(&f->map, id, row) != PXS_OK) /* cannot fail after reserve */
        return pxs_errf(err, PXS_EINTERNAL, "flat index: id map refused a reserved insert");
    f->n++;
    return PXS_OK;
}

static int flat_remove(pxs_index *ix, int64_t id) {
    struct flat_index *f = (struct flat_index *)ix;
    size_t row;
    if (!pxs__idmap_get(&f->map, id, &row)) return PXS_ENOTFOUND;
    size_t last = f->n - 1;
    if (row != last) {
        memcpy(f->data + row * f->stride, f->data + last * f->stride, f->stride * sizeof(float));
        f->ids[row] = f->ids[last];
        pxs__idmap_update(&f->map, f->ids[row], row);
    }
    pxs__idmap_del(&f->map, id);
    f->n--;
    return PXS_OK;
}

static size_t flat_count(const pxs_index *ix) { return ((const struct flat_index *)ix)->n; }

static size_t flat_memory(const pxs_index *ix) {
    const struct flat_index *f = (const struct flat_index *)ix;
    return sizeof *f + f->cap * f->stride * sizeof(float) + f->cap * sizeof(int64_t) +
           pxs__idmap_memory(&f->map);
}

static size_t flat_vector_bytes(const pxs_index *ix) {
    const struct flat_index *f = (const struct flat_index *)ix;
    return f->n * f->stride * sizeof(float);
}

static int flat_search(const pxs_index *ix, const void *vquery, float qscale, size_t k,
                       const struct pxs__search_ctx *ctx, struct pxs_hit *hits, size_t *n_hits,
                       struct pxs_err *err) {
    (void)err;
    const float *query = vquery;
    int plain = !ctx->allow && !ctx->ranged;
    const struct flat_index *f = (const struct flat_index *)ix;
    const struct pxs__dist_kernels *kern = pxs__index_kernels();
    enum pxs_metric metric = f->base.params.metric;
    size_t dim = f->base.params.dim;
    pxs__dist_batch_fn batch = metric == PXS_METRIC_L2 ? kern->l2sq_batch : kern->ip_batch;
    /* Negating turns "larger is closer" into the smaller-is-closer key. */
    float sign = metric == PXS_METRIC_L2 ? 1.0f : -qscale;
    struct pxs__topk top;
    pxs__topk_init(&top, hits, k < f->n ? k : f->n);
    float buf[FLAT_BLOCK];
    for (size_t start = 0; start < f->n; start += FLAT_BLOCK) {
        size_t m = f->n - start < FLAT_BLOCK ? f->n - start : FLAT_BLOCK;
        batch(query, f->data + start * f->stride, f->stride, m, dim, buf);
        for (size_t i = 0; i < m; i++) {
            float key = buf[i] * sign;
            /* Cheap rejection before touching the heap (ties still go in). */
            if (key > pxs__topk_bound(&top)) continue;
            if (!plain && !pxs__ctx_keep(ctx, f->ids[start + i], key)) continue;
            pxs__topk_push(&top, f->ids[start + i], key);
        }
    }
    *n_hits = pxs__topk_finish(&top, metric);
    return PXS_OK;
}

static void flat_save(const pxs_index *ix, struct pxs__writer *w) {
    const struct flat_index *f = (const struct flat_index *)ix;
    size_t dim = f->base.params.dim;
    pxs__w_u64(w, f->n);
    pxs__w_i64s(w, f->ids, f->n);
    for (size_t r = 0; r < f->n; r++) pxs__w_f32s(w, f->data + r * f->stride, dim);
}

static int flat_load(pxs_index *ix, struct pxs__reader *r) {
    struct flat_index *f = (struct flat_index *)ix;
    size_t dim = f->base.params.dim;
    uint64_t n;
    int rc = pxs__r_u64(r, &n);
    if (rc != PXS_OK) return rc;
    /* Each row needs 8 + 4 * dim bytes: check before allocating anything. */
    if (n > SIZE_MAX / 8 || pxs__r_need(r, (size_t)n, 8 + 4 * dim) != PXS_OK)
        return PXS__CORRUPT(r, "flat index: row count exceeds the payload");
    while (f->cap < n)
        if (flat_grow(f, r->err) != PXS_OK) return PXS_ENOMEM;
    if (pxs__idmap_reserve(&f->map, (size_t)n) != PXS_OK)
        return pxs_errf(r->err, PXS_ENOMEM, "flat index: out of memory loading");
    if ((rc = pxs__r_i64s(r, f->ids, (size_t)n)) != PXS_OK) return rc;
    for (size_t row = 0; row < n; row++) {
        size_t old;
        if (pxs__idmap_get(&f->map, f->ids[row], &old))
            return PXS__CORRUPT(r, "flat index: duplicate id");
        if (pxs__idmap_put(&f->map, f->ids[row], row) != PXS_OK)
            return pxs_errf(r->err, PXS_EINTERNAL, "flat index: id map refused a reserved insert");
        float *dst = f->data + row * f->stride;
        if ((rc = pxs__r_f32s(r, dst, dim)) != PXS_OK) return rc;
        if (f->stride > dim) memset(dst + dim, 0, (f->stride - dim) * sizeof(float));
        f->n = row + 1;
    }
    return PXS_OK;
}

static const struct pxs__index_ops flat_ops = {
    .destroy = flat_destroy,
    .add = flat_add,
    .remove = flat_remove,
    .count = flat_count,
    .memory = flat_memory,
    .vector_bytes = flat_vector_bytes,
    .search = flat_search,
    .save = flat_save,
    .load = flat_load,
};

int pxs__flat_new(const struct pxs_index_params *p, pxs_index **out, struct pxs_err *err) {
    struct flat_index *f = pxs_calloc(1, sizeof *f);
    if (!f) return pxs_errf(err, PXS_ENOMEM, "flat index: out of memory");
    f->base.ops = &flat_ops;
    f->base.params = *p;
    f->stride = pxs__index_row_stride(p->dim);
    pxs__idmap_init(&f->map);
    *out = &f->base;
    return PXS_OK;
}
