/*
 * neardup.c — near-duplicate search: "is this a copy of an indexed image?"
 * rather than "what looks like this?". A CNN embedding is robust to most
 * edits but not to 90-degree rotation, very heavy JPEG compression or strong
 * rescaling; the built-in colour/texture descriptor is the opposite (blind
 * to content, exact under rotation and rescaling, fooled by colour changes).
 * So:
 *   1. the query is embedded four times, rotated by 0/90/180/270 degrees,
 *      and the CNN score of a candidate is the best of the four;
 *   2. candidates are the union of the CNN top-N (each rotation) and the
 *      descriptor top-N;
 *   3. the fused score is cnn + W * descriptor, except for greyscale queries,
 *      where the colour descriptor is meaningless and the CNN score alone is
 *      used.
 * W = 3.5 was chosen on the generated near-duplicate set
 * (../shared/data/nearduplicate_generated_corel): recall@1 0.988 over 2200
 * copies of 22 edits, every edit >= 0.91 (bench/neardup_eval.sh); the CNN
 * alone gives 0.932. Reported similarity is the fused score divided by 1 + W
 * (or the CNN score for greyscale queries), so 1 still means identical.
 */
#include "engine_int.h"

#include <stdlib.h>
#include <string.h>

#define FUSION_WEIGHT NEARDUP_FUSION_WEIGHT
#define N_ROTATIONS 4
#define DECODE_MAX_SIDE 1024

struct candidate {
    int64_t id;
    float cnn;
    float desc;
    float fused;
};

/* Rotate 8-bit RGB pixels by 90 degrees clockwise into dst (h x w). */
static void rotate90(const struct pxs_image *src, struct pxs_image *dst) {
    int w = src->width, h = src->height;
    dst->width = h;
    dst->height = w;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *s = src->pixels + ((size_t)y * w + x) * 3;
            uint8_t *d = dst->pixels + ((size_t)x * h + (h - 1 - y)) * 3;
            d[0] = s[0];
            d[1] = s[1];
            d[2] = s[2];
        }
}

/* Greyscale: (almost) every pixel has R = G = B, allowing JPEG chroma noise. */
static int is_greyscale(const struct pxs_image *img) {
    size_t n = (size_t)img->width * img->height, coloured = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->pixels + i * 3;
        int dr = abs(p[0] - p[1]), db = abs(p[1] - p[2]);
        if (dr > 10 || db > 10) coloured++;
    }
    return coloured * 100 <= n; /* at most 1 % coloured pixels */
}

static int by_fused(const void *a, const void *b) {
    const struct candidate *x = a, *y = b;
    if (x->fused != y->fused) return x->fused < y->fused ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static float dot(const float *a, const float *b, size_t n) { return pxs_dist_ip(a, b, n); }

/* Query features: CNN vectors of the four rotations, the descriptor, and
 * whether the query is greyscale. */
static int query_features(pxs_engine *e, const void *data, size_t len, float *qvecs, float *qdesc,
                          int *grey, struct pxs_err *err) {
    struct pxs_image img = {0}, small = {0}, rot[2] = {{0}, {0}};
    float *tensors = NULL;
    struct pxs_image_decode_opts o = {.max_side = DECODE_MAX_SIDE};
    int rc = pxs_image_decode(data, len, &o, &img, NULL, err);
    struct pxs_image_decode_opts so = {.max_side = BUILTIN_DECODE_SIDE};
    if (rc == PXS_OK) rc = pxs_image_decode(data, len, &so, &small, NULL, err);
    if (rc == PXS_OK) rc = pxs_image_descriptor(&small, qdesc, err);
    if (rc != PXS_OK) goto done;
    *grey = is_greyscale(&small);

    size_t per = embedder_tensor_floats(e->emb);
    size_t n_px = (size_t)img.width * img.height * 3;
    tensors = pxs_mallocarray(per * N_ROTATIONS, sizeof *tensors);
    rot[0].pixels = pxs_malloc(n_px);
    rot[1].pixels = pxs_malloc(n_px);
    if (!tensors || !rot[0].pixels || !rot[1].pixels) {
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        goto done;
    }
    struct pxs_preprocess pp;
    embedder_fill_preprocess(e->emb, &pp);
    const struct pxs_image *cur = &img;
    for (int r = 0; r < N_ROTATIONS && rc == PXS_OK; r++) {
        if (r > 0) {
            rotate90(cur, &rot[r & 1]);
            cur = &rot[r & 1];
        }
        rc = pxs_image_pixels_to_tensor(cur, &pp, tensors + (size_t)r * per, err);
    }
    if (rc == PXS_OK) rc = embedder_run_batch(e->emb, tensors, N_ROTATIONS, qvecs, err);
done:
    pxs_free(tensors);
    pxs_free(rot[0].pixels);
    pxs_free(rot[1].pixels);
    pxs_image_free(&img);
    pxs_image_free(&small);
    return rc;
}

static int add_candidates(struct candidate *c, size_t *n, size_t cap, const struct pxs_hit *hits,
                          size_t n_hits) {
    for (size_t i = 0; i < n_hits; i++) {
        size_t j = 0;
        while (j < *n && c[j].id != hits[i].id) j++;
        if (j == *n) {
            if (*n == cap) return PXS_EINTERNAL;
            c[(*n)++].id = hits[i].id;
        }
    }
    return PXS_OK;
}

int engine_search_near_duplicate(pxs_engine *e, const void *data, size_t len,
                                 const struct pxs_search_opts *opts,
                                 const struct image_filter *f, int64_t exclude_id,
                                 struct pxs_match **matches, size_t *n_matches,
                                 struct pxs_err *err) {
    size_t k, offset;
    int rc = engine_search_limits(opts, &k, &offset, err);
    if (rc != PXS_OK) return rc;
    size_t want = k + offset + (exclude_id ? 1 : 0);
    size_t pool = want * 4 < 64 ? 64 : want * 4; /* candidates per list */
    struct pxs_search_params sp;
    engine_filter_params(f, &sp);
    int allow_none = f && f->active && f->n == 0;
    size_t cap = pool * (N_ROTATIONS + 1);
    size_t dim = e->dim;
    float *qvecs = pxs_mallocarray(dim * N_ROTATIONS, sizeof(float));
    float *vec = pxs_mallocarray(dim, sizeof(float));
    float qdesc[PXS_IMAGE_DESCRIPTOR_DIM], desc[PXS_IMAGE_DESCRIPTOR_DIM];
    struct pxs_hit *hits = pxs_mallocarray(pool, sizeof *hits);
    struct candidate *cand = pxs_calloc(cap, sizeof *cand);
    struct ranked_hit *ranked = NULL;
    pxs_store_txn *txn = NULL;
    int grey = 0;
    if (!qvecs || !vec || !hits || !cand) {
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        goto done;
    }
    rc = query_features(e, data, len, qvecs, qdesc, &grey, err);
    if (rc != PXS_OK) goto done;

    size_t n_cand = 0, n_hits = 0;
    pthread_rwlock_rdlock(&e->index_lock);
    for (int r = 0; r < N_ROTATIONS && rc == PXS_OK && !allow_none; r++) {
        rc = pxs_index_search_ex(e->index, qvecs + (size_t)r * dim, pool, &sp, hits, &n_hits, err);
        if (rc == PXS_OK) rc = add_candidates(cand, &n_cand, cap, hits, n_hits);
    }
    if (rc == PXS_OK && !grey && e->desc_index && !allow_none) {
        rc = pxs_index_search_ex(e->desc_index, qdesc, pool, &sp, hits, &n_hits, err);
        if (rc == PXS_OK) rc = add_candidates(cand, &n_cand, cap, hits, n_hits);
    }
    pthread_rwlock_unlock(&e->index_lock);
    if (rc == PXS_OK) rc = pxs_store_begin(e->store, 0, &txn, err);
    if (rc != PXS_OK) goto done;

    for (size_t i = 0; i < n_cand; i++) {
        struct candidate *c = &cand[i];
        int found = engine_load_vector(txn, TABLE_VECTORS, c->id, vec, dim, err);
        if (found < 0) {
            rc = found;
            goto done;
        }
        c->cnn = -1;
        for (int r = 0; found && r < N_ROTATIONS; r++) {
            float s = dot(qvecs + (size_t)r * dim, vec, dim);
            if (s > c->cnn) c->cnn = s;
        }
        int has_desc = grey ? 0 : engine_load_vector(txn, TABLE_DESC, c->id, desc, PXS_IMAGE_DESCRIPTOR_DIM, err);
        if (has_desc < 0) {
            rc = has_desc;
            goto done;
        }
        c->desc = has_desc ? dot(qdesc, desc, PXS_IMAGE_DESCRIPTOR_DIM) : 0;
        c->fused = grey ? c->cnn : (c->cnn + FUSION_WEIGHT * c->desc) / (1 + FUSION_WEIGHT);
        if (!found) c->fused = -2; /* removed since the index was read */
    }
    qsort(cand, n_cand, sizeof *cand, by_fused);

    pxs_store_abort(txn);
    txn = NULL;
    ranked = pxs_mallocarray(n_cand ? n_cand : 1, sizeof *ranked);
    if (!ranked) {
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_cand; i++) {
        if (cand[i].fused == -2) continue; /* removed since the index was read */
        float sim = cand[i].fused < 0 ? 0 : cand[i].fused > 1 ? 1 : cand[i].fused;
        ranked[n++] = (struct ranked_hit){cand[i].id, 1 - sim, sim};
    }
    rc = engine_page_matches(e, ranked, n, opts, exclude_id, matches, n_matches, err);
done:
    pxs_store_abort(txn);
    pxs_free(ranked);
    pxs_free(qvecs);
    pxs_free(vec);
    pxs_free(hits);
    pxs_free(cand);
    return rc;
}
