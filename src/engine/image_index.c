/*
 * image_index.c — which vector index the image collection uses, and its
 * file: <data>/indexes/images.pxi, so `pixseek serve` on a large collection
 * starts without rebuilding the index from the store.
 *
 * Choice (meta "image_index", set by `pixseek index|serve --index`, kept
 * until changed): AUTO (the default) is an exact FLAT scan up to
 * IMAGE_INDEX_AUTO_HNSW vectors and HNSW above (a FLAT index that grows past
 * the threshold is rebuilt as HNSW at the next refresh); FLAT, HNSW and
 * IVF_SQ8 force that type at any size.
 *
 * Index file: the layout of index_file.c, magic "PXSIMGIX", version 1, with
 * five header words:
 *   0  generation  meta "generation" the index reflects
 *   1  next_id     ids below this are in the index
 *   2  deletes     meta "deletes" the index reflects
 *   3  XXH3-64 of the index description (choice, type, metric, dim, params)
 *   4  XXH3-64 of the embedder's identity
 * At open a file whose description and embedder match is loaded and caught
 * up like any stale index (engine_refresh_index: ids from next_id on are
 * scanned in; if deletes moved, or the file is missing, damaged or foreign,
 * the index is rebuilt from the store). The file is only a cache of the
 * store: it is rewritten after a rebuild and at close when the index moved.
 */
#include "engine_int.h"
#include "engine/index_file.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define IMG_MAGIC "PXSIMGIX"
#define IMG_VERSION 1
#define IMG_HNSW_M 16
#define IMG_HNSW_EF_CONSTRUCTION 100
#define IMG_HNSW_EF_SEARCH 128

static const char *const kind_names[] = {"AUTO", "FLAT", "HNSW", "IVF_SQ8"};

const char *image_index_kind_name(enum image_index_kind kind) {
    return (unsigned)kind < sizeof kind_names / sizeof *kind_names ? kind_names[kind] : "?";
}

int image_index_kind_parse(const char *name, enum image_index_kind *out) {
    for (size_t i = 0; i < sizeof kind_names / sizeof *kind_names; i++)
        if (strcasecmp(name, kind_names[i]) == 0) {
            *out = (enum image_index_kind)i;
            return PXS_OK;
        }
    return PXS_EINVAL;
}

int image_index_configure(pxs_engine *e, const char *choice, struct pxs_err *err) {
    char stored[32] = "";
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    rc = meta_get_str(txn, "image_index", stored, sizeof stored, err);
    pxs_store_abort(txn);
    if (rc != PXS_OK && rc != PXS_ENOTFOUND) return rc;
    e->index_kind = IMAGE_INDEX_AUTO;
    if (stored[0] && image_index_kind_parse(stored, &e->index_kind) != PXS_OK)
        return pxs_errf(err, PXS_ECORRUPT, "%s: unknown image index \"%s\" in meta", e->data_dir, stored);
    if (!choice || !choice[0]) return PXS_OK;
    enum image_index_kind want;
    if (image_index_kind_parse(choice, &want) != PXS_OK)
        return pxs_errf(err, PXS_EINVAL, "unknown index \"%s\" (AUTO, FLAT, HNSW or IVF_SQ8)", choice);
    e->index_kind = want;
    if (e->read_only || (stored[0] && strcasecmp(stored, image_index_kind_name(want)) == 0)) return PXS_OK;
    rc = pxs_store_begin(e->store, 1, &txn, err);
    if (rc != PXS_OK) return rc;
    rc = meta_put_str(txn, "image_index", image_index_kind_name(want), err);
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        return rc;
    }
    return pxs_store_commit(txn, err);
}

static enum pxs_index_type type_for(const pxs_engine *e, size_t count) {
    switch (e->index_kind) {
    case IMAGE_INDEX_FLAT: return PXS_INDEX_FLAT;
    case IMAGE_INDEX_HNSW: return PXS_INDEX_HNSW;
    case IMAGE_INDEX_IVF_SQ8: return PXS_INDEX_IVF_SQ8;
    case IMAGE_INDEX_AUTO: break;
    }
    return count > IMAGE_INDEX_AUTO_HNSW ? PXS_INDEX_HNSW : PXS_INDEX_FLAT;
}

static void params_for(const pxs_engine *e, enum pxs_index_type type, struct pxs_index_params *p) {
    memset(p, 0, sizeof *p);
    p->type = type;
    p->metric = e->metric;
    p->dim = e->dim;
    p->hnsw_m = IMG_HNSW_M;
    p->hnsw_ef_construction = IMG_HNSW_EF_CONSTRUCTION;
    p->hnsw_ef_search = IMG_HNSW_EF_SEARCH;
}

int image_index_new(const pxs_engine *e, size_t count, pxs_index **out, struct pxs_err *err) {
    struct pxs_index_params p;
    params_for(e, type_for(e, count), &p);
    return pxs_index_new(&p, out, err);
}

int image_index_want_rebuild(const pxs_engine *e) {
    if (!e->index) return 0;
    enum pxs_index_type have = pxs_index_get_type(e->index);
    return have != type_for(e, pxs_index_count(e->index)) &&
           !(e->index_kind == IMAGE_INDEX_AUTO && have == PXS_INDEX_HNSW); /* AUTO never shrinks back */
}

static uint64_t spec_hash(const pxs_engine *e, enum pxs_index_type type) {
    char d[256];
    int n = snprintf(d, sizeof d, "choice=%s type=%s metric=%s dim=%zu m=%d efc=%d ef=%d",
                     image_index_kind_name(e->index_kind), pxs_index_type_name(type),
                     pxs_metric_name(e->metric), e->dim, IMG_HNSW_M, IMG_HNSW_EF_CONSTRUCTION,
                     IMG_HNSW_EF_SEARCH);
    return pxs_hash64(d, (size_t)n);
}

static uint64_t embedder_hash(const pxs_engine *e) {
    const char *name = pxs_embedder_name(e->emb);
    return pxs_hash64(name, strlen(name));
}

void image_index_path(const pxs_engine *e, char *out, size_t cap) {
    snprintf(out, cap, "%s/indexes/images.pxi", e->data_dir);
}

struct check_ctx {
    const pxs_engine *e;
};

static int check_file(const char *path, const uint64_t *words, void *user, struct pxs_err *err) {
    const pxs_engine *e = ((struct check_ctx *)user)->e;
    if (words[4] != embedder_hash(e))
        return pxs_errf(err, PXS_EMISMATCH, "%s: made with another embedder", path);
    for (int t = PXS_INDEX_FLAT; t <= PXS_INDEX_IVF_SQ8; t++)
        if (words[3] == spec_hash(e, (enum pxs_index_type)t)) return PXS_OK;
    return pxs_errf(err, PXS_EMISMATCH, "%s: made for another index choice (now %s)", path,
                    image_index_kind_name(e->index_kind));
}

int image_index_load(pxs_engine *e, struct pxs_err *err) {
    char path[4200];
    image_index_path(e, path, sizeof path);
    struct index_file_head head = {.magic = IMG_MAGIC, .version = IMG_VERSION, .n_words = 5};
    struct check_ctx ctx = {e};
    pxs_index *ix = NULL;
    struct pxs_err ferr = {0};
    int rc = index_file_read(path, &head, check_file, &ctx, &ix, &ferr);
    if (rc == PXS_OK && (pxs_index_dim(ix) != e->dim || pxs_index_metric(ix) != e->metric ||
                         spec_hash(e, pxs_index_get_type(ix)) != head.words[3])) {
        rc = pxs_errf(&ferr, PXS_EMISMATCH, "%s: index does not match its header", path);
        pxs_index_free(ix);
        ix = NULL;
    }
    if (rc != PXS_OK) {
        if (rc != PXS_ENOTFOUND || ferr.sys_errno != 2)
            PXS_LOG_WARN("engine: rebuilding the image index from the store: %s", ferr.msg);
        return rc == PXS_ENOTFOUND ? rc : pxs_errf(err, rc, "%s", ferr.msg);
    }
    pthread_rwlock_wrlock(&e->index_lock);
    pxs_index_free(e->index);
    e->index = ix;
    e->loaded_generation = e->saved_generation = head.words[0];
    e->loaded_next_id = e->saved_next_id = head.words[1];
    e->loaded_deletes = e->saved_deletes = head.words[2];
    e->index_from_file = 1;
    pthread_rwlock_unlock(&e->index_lock);
    return PXS_OK;
}

int image_index_save(pxs_engine *e, int force, struct pxs_err *err) {
    if (e->read_only) return PXS_OK;
    struct pxs_buf b;
    pxs_buf_init(&b, INDEX_FILE_MAX_BYTES);
    pthread_rwlock_rdlock(&e->index_lock);
    uint64_t gen = e->loaded_generation, next = e->loaded_next_id, del = e->loaded_deletes;
    if (!e->index || next == 0 || image_index_want_rebuild(e) || /* the next open rebuilds it */
        (!force && gen == e->saved_generation && next == e->saved_next_id && del == e->saved_deletes)) {
        pthread_rwlock_unlock(&e->index_lock);
        return PXS_OK;
    }
    struct index_file_head head = {
        .magic = IMG_MAGIC, .version = IMG_VERSION, .n_words = 5,
        .words = {gen, next, del, spec_hash(e, pxs_index_get_type(e->index)), embedder_hash(e)}};
    int rc = index_file_encode(&head, e->index, &b, err);
    pthread_rwlock_unlock(&e->index_lock);
    char path[4200];
    image_index_path(e, path, sizeof path);
    if (rc == PXS_OK) rc = index_file_write(path, &b, err);
    pxs_buf_free(&b);
    if (rc != PXS_OK) return rc;
    pthread_rwlock_wrlock(&e->index_lock);
    e->saved_generation = gen;
    e->saved_next_id = next;
    e->saved_deletes = del;
    pthread_rwlock_unlock(&e->index_lock);
    return PXS_OK;
}
