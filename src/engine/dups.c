/*
 * dups.c — duplicate groups for `pixseek dups`.
 *
 * Exact copies: files with the same content hash are indexed once; the
 * others are recorded in the "copies" table at ingest. A group is the indexed
 * image plus its copies.
 *
 * Near-duplicates: for every indexed image, a range search around its own
 * vector finds neighbours whose primary score clears a permissive
 * pre-threshold; each pair is then scored like near-duplicate search (the
 * fused CNN + descriptor score, see neardup.c, or the descriptor cosine for
 * the built-in embedder) and joined with union-find when it reaches the
 * threshold. Groups are the connected components of size >= 2. Cost: one
 * search per image (exact scans today: O(n^2 d) overall).
 */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUPS_DEFAULT_THRESHOLD 0.95f
#define DUPS_DEFAULT_NEIGHBORS 32

static int64_t uf_find(int64_t *parent, int64_t x) {
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void uf_union(int64_t *parent, int64_t a, int64_t b) {
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a != b) parent[a < b ? b : a] = a < b ? a : b; /* smallest id is the root */
}

static int group_push(struct pxs_dup_group **groups, size_t *n, size_t *cap,
                      struct pxs_dup_group g) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct pxs_dup_group *p = pxs_realloc(*groups, nc * sizeof *p);
        if (!p) return PXS_ENOMEM;
        *groups = p;
        *cap = nc;
    }
    (*groups)[(*n)++] = g;
    return PXS_OK;
}

static int member_push(struct pxs_dup_group *g, size_t *cap, int64_t id, const char *path,
                       size_t path_len, float similarity) {
    if (g->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        struct pxs_dup_member *p = pxs_realloc(g->members, nc * sizeof *p);
        if (!p) return PXS_ENOMEM;
        g->members = p;
        *cap = nc;
    }
    struct pxs_dup_member *m = &g->members[g->n++];
    m->id = id;
    if (path_len >= sizeof m->path) path_len = sizeof m->path - 1;
    memcpy(m->path, path, path_len);
    m->path[path_len] = '\0';
    m->similarity = similarity;
    return PXS_OK;
}

void pxs_engine_dup_groups_free(struct pxs_dup_group *groups, size_t n_groups) {
    if (!groups) return;
    for (size_t i = 0; i < n_groups; i++) pxs_free(groups[i].members);
    pxs_free(groups);
}

struct exact_ctx {
    pxs_store_txn *txn;
    struct pxs_dup_group **groups;
    size_t *n, *cap;
    struct pxs_err *err;
};

/* Copies sorted by the id they duplicate, so each group is built in one go. */
struct copy_ref {
    int64_t id;
    char *path;
};

static int by_copy_id(const void *a, const void *b) {
    const struct copy_ref *x = a, *y = b;
    if (x->id != y->id) return x->id < y->id ? -1 : 1;
    return strcmp(x->path, y->path);
}

struct copy_list {
    struct copy_ref *items;
    size_t n, cap;
};

static int collect_copy(const void *key, size_t key_len, const void *val, size_t val_len,
                        void *user) {
    (void)key;
    (void)key_len;
    struct copy_list *l = user;
    if (val_len < 8) return PXS_ECORRUPT;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        struct copy_ref *p = pxs_realloc(l->items, nc * sizeof *p);
        if (!p) return PXS_ENOMEM;
        l->items = p;
        l->cap = nc;
    }
    char *path = pxs_strndup((const char *)val + 8, val_len - 8);
    if (!path) return PXS_ENOMEM;
    l->items[l->n].id = (int64_t)pxs_store_u64_from_key(val);
    l->items[l->n++].path = path;
    return 0;
}

static int exact_groups(struct exact_ctx *c) {
    struct copy_list l = {0};
    int rc = pxs_store_scan(c->txn, TABLE_COPIES, NULL, 0, collect_copy, &l, c->err);
    if (rc == PXS_ECORRUPT) rc = pxs_errf(c->err, rc, "damaged copies record");
    if (rc == PXS_ENOMEM) rc = pxs_errf(c->err, rc, "out of memory");
    if (rc == PXS_OK && l.n > 0) qsort(l.items, l.n, sizeof *l.items, by_copy_id);
    for (size_t i = 0; rc == PXS_OK && i < l.n;) {
        size_t j = i;
        while (j < l.n && l.items[j].id == l.items[i].id) j++;
        struct image_record rec;
        int r = record_load(c->txn, l.items[i].id, &rec, c->err);
        if (r == PXS_ENOTFOUND) { /* the original changed since: stale copies */
            i = j;
            continue;
        }
        if (r != PXS_OK) {
            rc = r;
            break;
        }
        struct pxs_dup_group g = {1, 0, NULL};
        size_t cap = 0;
        rc = member_push(&g, &cap, l.items[i].id, rec.path, rec.path_len, 1.0f);
        for (size_t k = i; rc == PXS_OK && k < j; k++)
            if (strlen(l.items[k].path) != rec.path_len ||
                memcmp(l.items[k].path, rec.path, rec.path_len) != 0)
                rc = member_push(&g, &cap, l.items[i].id, l.items[k].path,
                                 strlen(l.items[k].path), 1.0f);
        if (rc == PXS_OK && g.n >= 2) rc = group_push(c->groups, c->n, c->cap, g);
        else pxs_free(g.members);
        if (rc == PXS_ENOMEM) rc = pxs_errf(c->err, rc, "out of memory");
        i = j;
    }
    for (size_t i = 0; i < l.n; i++) pxs_free(l.items[i].path);
    pxs_free(l.items);
    return rc;
}

struct near_ctx {
    pxs_engine *e;
    pxs_store_txn *txn;
    int64_t *parent;
    uint64_t n_ids;
    float threshold;
    size_t k;
    struct pxs_hit *hits;
    float *vec, *desc_a, *desc_b;
    struct pxs_err *err;
};

static int visit_vector(const void *key, size_t key_len, const void *val, size_t val_len,
                        void *user) {
    struct near_ctx *c = user;
    pxs_engine *e = c->e;
    if (key_len != 8 || val_len != e->dim * sizeof(float))
        return pxs_errf(c->err, PXS_ECORRUPT, "vector record of %zu bytes", val_len);
    int64_t id = (int64_t)pxs_store_u64_from_key(key);
    if ((uint64_t)id >= c->n_ids) return 0;
    memcpy(c->vec, val, val_len);
    int has_desc = e->desc_index ? engine_load_vector(c->txn, TABLE_DESC, id, c->desc_a, PXS_IMAGE_DESCRIPTOR_DIM, c->err) : 0;
    if (has_desc < 0) return has_desc;
    /* Pre-threshold on the primary score: the fused score can reach the
     * threshold only if cnn >= (1 + W) * t - W (descriptor cosine <= 1). */
    float pre = e->desc_index ? (1 + NEARDUP_FUSION_WEIGHT) * c->threshold - NEARDUP_FUSION_WEIGHT
                              : c->threshold;
    struct pxs_search_params sp = {0};
    sp.range = 1;
    sp.radius = pre - 1e-6f;
    size_t n_hits = 0;
    pthread_rwlock_rdlock(&e->index_lock);
    int rc = pxs_index_search_ex(e->index, c->vec, c->k, &sp, c->hits, &n_hits, c->err);
    pthread_rwlock_unlock(&e->index_lock);
    if (rc != PXS_OK) return rc;
    for (size_t i = 0; i < n_hits; i++) {
        int64_t other = c->hits[i].id;
        if (other <= id || (uint64_t)other >= c->n_ids) continue;
        float score = c->hits[i].score;
        if (e->desc_index && has_desc) {
            int r = engine_load_vector(c->txn, TABLE_DESC, other, c->desc_b, PXS_IMAGE_DESCRIPTOR_DIM, c->err);
            if (r < 0) return r;
            float d = r ? pxs_dist_ip(c->desc_a, c->desc_b, PXS_IMAGE_DESCRIPTOR_DIM) : 0;
            score = (score + NEARDUP_FUSION_WEIGHT * d) / (1 + NEARDUP_FUSION_WEIGHT);
        }
        if (score >= c->threshold) uf_union(c->parent, id, other);
    }
    return 0;
}

struct root_id {
    int64_t root;
    int64_t id;
};

static int by_root_id(const void *a, const void *b) {
    const struct root_id *x = a, *y = b;
    if (x->root != y->root) return x->root < y->root ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The score `pixseek dups` joins on, between two stored images. */
static int pair_similarity(pxs_engine *e, pxs_store_txn *txn, struct near_ctx *c, float *other,
                           int64_t a, int64_t b, float *sim) {
    int rc = engine_load_vector(txn, TABLE_VECTORS, a, c->vec, e->dim, c->err);
    if (rc > 0) rc = engine_load_vector(txn, TABLE_VECTORS, b, other, e->dim, c->err);
    if (rc <= 0)
        return rc < 0 ? rc : pxs_errf(c->err, PXS_ECORRUPT, "image %lld or %lld has no vector",
                                      (long long)a, (long long)b);
    *sim = pxs_dist_ip(c->vec, other, e->dim);
    if (!e->desc_index) return PXS_OK;
    int ra = engine_load_vector(txn, TABLE_DESC, a, c->desc_a, PXS_IMAGE_DESCRIPTOR_DIM, c->err);
    int rb = ra > 0 ? engine_load_vector(txn, TABLE_DESC, b, c->desc_b, PXS_IMAGE_DESCRIPTOR_DIM, c->err) : 0;
    if (ra < 0 || rb < 0) return ra < 0 ? ra : rb;
    if (rb > 0)
        *sim = (*sim + NEARDUP_FUSION_WEIGHT *
                           pxs_dist_ip(c->desc_a, c->desc_b, PXS_IMAGE_DESCRIPTOR_DIM)) /
               (1 + NEARDUP_FUSION_WEIGHT);
    return PXS_OK;
}

static int near_groups(pxs_engine *e, pxs_store_txn *txn, float threshold, size_t k,
                       struct pxs_dup_group **groups, size_t *n, size_t *cap, struct pxs_err *err) {
    uint64_t next_id = 1;
    int rc = meta_get_u64(txn, "next_id", &next_id, err);
    if (rc != PXS_OK) return rc;
    struct near_ctx c = {e, txn, NULL, next_id, threshold, k, NULL, NULL, NULL, NULL, err};
    c.parent = pxs_mallocarray(next_id, sizeof *c.parent);
    c.hits = pxs_mallocarray(k, sizeof *c.hits);
    c.vec = pxs_mallocarray(e->dim, sizeof(float));
    c.desc_a = pxs_mallocarray(PXS_IMAGE_DESCRIPTOR_DIM, sizeof(float));
    c.desc_b = pxs_mallocarray(PXS_IMAGE_DESCRIPTOR_DIM, sizeof(float));
    float *other = pxs_mallocarray(e->dim, sizeof(float));
    struct root_id *members = NULL;
    uint32_t *sizes = NULL;
    if (!c.parent || !c.hits || !c.vec || !c.desc_a || !c.desc_b || !other) {
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory for %llu ids", (unsigned long long)next_id);
        goto done;
    }
    for (uint64_t i = 0; i < next_id; i++) c.parent[i] = (int64_t)i;
    rc = pxs_store_scan(txn, TABLE_VECTORS, NULL, 0, visit_vector, &c, err);
    if (rc != PXS_OK) goto done;

    /* Emit components of two or more, ordered by root id; similarity is
     * measured to the root (the smallest id). Component sizes first, then
     * members sorted by (root, id): O(n log n). */
    members = pxs_calloc(next_id, sizeof *members);
    sizes = pxs_calloc(next_id, sizeof *sizes);
    if (!members || !sizes) {
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        goto done;
    }
    for (uint64_t id = 1; id < next_id; id++) sizes[uf_find(c.parent, (int64_t)id)]++;
    size_t n_members = 0;
    for (uint64_t id = 1; id < next_id; id++) {
        int64_t root = uf_find(c.parent, (int64_t)id);
        if (sizes[root] >= 2) members[n_members++] = (struct root_id){root, (int64_t)id};
    }
    qsort(members, n_members, sizeof *members, by_root_id);
    for (size_t i = 0; rc == PXS_OK && i < n_members;) {
        size_t j = i;
        while (j < n_members && members[j].root == members[i].root) j++;
        int64_t root = members[i].root;
        struct pxs_dup_group g = {0, 0, NULL};
        size_t gcap = 0;
        for (size_t m = i; rc == PXS_OK && m < j; m++) {
            int64_t id = members[m].id;
            struct image_record rec;
            int r = record_load(txn, id, &rec, err);
            if (r == PXS_ENOTFOUND) continue;
            if (r != PXS_OK) {
                rc = r;
                break;
            }
            float sim = 1;
            if (id != root) {
                rc = pair_similarity(e, txn, &c, other, root, id, &sim);
                if (rc != PXS_OK) break; /* rec stays valid: a read txn never moves data */
            }
            rc = member_push(&g, &gcap, id, rec.path, rec.path_len, sim > 1 ? 1 : sim);
            if (rc != PXS_OK) rc = pxs_errf(err, rc, "out of memory");
        }
        if (rc == PXS_OK && g.n >= 2) {
            rc = group_push(groups, n, cap, g);
            if (rc != PXS_OK) rc = pxs_errf(err, rc, "out of memory");
        } else {
            pxs_free(g.members);
        }
        i = j;
    }
done:
    pxs_free(members);
    pxs_free(sizes);
    pxs_free(c.parent);
    pxs_free(c.hits);
    pxs_free(c.vec);
    pxs_free(c.desc_a);
    pxs_free(c.desc_b);
    pxs_free(other);
    return rc;
}

int pxs_engine_find_duplicates(pxs_engine *engine, const struct pxs_dups_opts *opts,
                               struct pxs_dup_group **groups, size_t *n_groups,
                               struct pxs_err *err) {
    *groups = NULL;
    *n_groups = 0;
    float threshold = opts && opts->threshold > 0 ? opts->threshold : DUPS_DEFAULT_THRESHOLD;
    size_t k = opts && opts->max_neighbors ? opts->max_neighbors : DUPS_DEFAULT_NEIGHBORS;
    if (threshold > 1) return pxs_errf(err, PXS_EINVAL, "threshold %g is over 1", threshold);
    if (k > 16384) return pxs_errf(err, PXS_EINVAL, "max_neighbors %zu is over 16384", k);
    int rc = engine_refresh_index(engine, err);
    if (rc != PXS_OK) return rc;
    pxs_store_txn *txn;
    rc = pxs_store_begin(engine->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    struct pxs_dup_group *out = NULL;
    size_t n = 0, cap = 0;
    struct exact_ctx ec = {txn, &out, &n, &cap, err};
    rc = exact_groups(&ec);
    if (rc == PXS_OK) rc = near_groups(engine, txn, threshold, k + 1, &out, &n, &cap, err);
    pxs_store_abort(txn);
    if (rc != PXS_OK) {
        pxs_engine_dup_groups_free(out, n);
        return rc;
    }
    *groups = out;
    *n_groups = n;
    return PXS_OK;
}
