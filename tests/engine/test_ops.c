/*
 * tests/engine/test_ops.c — the engine operations behind the HTTP API
 * (src/engine/ops.c): add an uploaded image (content-addressed file,
 * duplicate detection, non-images refused and not kept), delete one image
 * (index, store and upload file; survives reopen), search by stored id and
 * by vector, bulk-add vectors, drop everything.
 */
#include "../test.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pixseek/engine.h"

static const char *corel_path(int i) {
    static char buf[8][600];
    static int slot;
    char rel[64];
    snprintf(rel, sizeof rel, "data/corel1k_wang/images/%d.jpg", i);
    const char *p = pxs_test_shared(rel);
    if (!p) return NULL;
    char *out = buf[slot++ % 8];
    snprintf(out, 600, "%s", p);
    return out;
}

static char *slurp(const char *path, size_t *len) {
    char *d = NULL;
    struct pxs_err e = {0};
    if (pxs_file_read_all(path, 1u << 26, &d, len, &e) != PXS_OK) return NULL;
    return d;
}

PXS_TEST(engine_ops_add_delete_search_drop) {
    SKIP_IF(!corel_path(0), "../shared not found");
    const char *tmp = pxs_test_tmpdir();
    char photos[600], data[600];
    snprintf(photos, sizeof photos, "%s/photos", tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    CHECK_EQ_INT(pxs_test_system("mkdir -p %s && cp %s %s/a.jpg && cp %s %s/b.jpg", photos,
                                 corel_path(0), photos, corel_path(500), photos),
                 0);
    struct pxs_err err;
    pxs_err_clear(&err);
    struct pxs_engine_opts eo = {.data_dir = data};
    pxs_engine *e;
    CHECK_OK(pxs_engine_open(&eo, &e, &err), &err);
    struct pxs_ingest_summary s;
    CHECK_OK(pxs_engine_ingest(e, photos, NULL, &s, &err), &err);
    CHECK_EQ_INT(s.added, 2);

    /* upload a new image: stored under uploads/ by content hash, indexed */
    size_t len;
    char *img = slurp(corel_path(300), &len);
    CHECK(img);
    struct pxs_add_result add;
    CHECK_OK(pxs_engine_add_image(e, img, len, &add, &err), &err);
    CHECK_EQ_INT(add.kind, PXS_INGEST_ADDED);
    CHECK(strncmp(add.path, pxs_engine_uploads_dir(e), strlen(pxs_engine_uploads_dir(e))) == 0);
    size_t stored_len;
    char *stored = slurp(add.path, &stored_len);
    CHECK(stored && stored_len == len && memcmp(stored, img, len) == 0);
    free(stored);
    int64_t up_id = add.id;
    /* the same bytes again: unchanged, same id; an indexed file's bytes: duplicate */
    CHECK_OK(pxs_engine_add_image(e, img, len, &add, &err), &err);
    CHECK_EQ_INT(add.kind, PXS_INGEST_UNCHANGED);
    CHECK_EQ_INT(add.id, up_id);
    size_t a_len;
    char *a = slurp(corel_path(0), &a_len);
    CHECK_OK(pxs_engine_add_image(e, a, a_len, &add, &err), &err);
    CHECK_EQ_INT(add.kind, PXS_INGEST_DUPLICATE);
    /* not an image, and a truncated JPEG: refused, nothing kept */
    CHECK_EQ_INT(pxs_engine_add_image(e, "hello", 5, &add, &err), PXS_EUNSUPPORTED);
    CHECK(pxs_engine_add_image(e, img, 200, &add, &err) != PXS_OK);
    struct stat st;
    CHECK(stat(add.path, &st) != 0);
    free(a);

    /* search by id ("more like this"): the image itself is left out; by its
     * vector: itself first */
    struct pxs_match *m;
    size_t n;
    struct pxs_search_opts so = {.k = 3};
    CHECK_OK(pxs_engine_search_id(e, up_id, &so, &m, &n, &err), &err);
    CHECK(n == 2); /* the other two images */
    for (size_t i = 0; i < n; i++) CHECK(m[i].meta.id != up_id);
    pxs_free(m);
    struct pxs_engine_stats stats;
    CHECK_OK(pxs_engine_stats(e, &stats, &err), &err);
    float *vec = calloc(stats.dim, sizeof(float));
    CHECK_OK(pxs_engine_get_vector(e, up_id, vec, stats.dim, &err), &err);
    CHECK_OK(pxs_engine_search_vector(e, vec, stats.dim, &so, &m, &n, &err), &err);
    CHECK(n >= 1 && m[0].meta.id == up_id);
    pxs_free(m);
    CHECK_EQ_INT(pxs_engine_search_vector(e, vec, stats.dim - 1, &so, &m, &n, &err), PXS_EINVAL);
    CHECK_EQ_INT(pxs_engine_search_id(e, 987654, &so, &m, &n, &err), PXS_ENOTFOUND);

    /* bulk vectors: jittered copies of the upload's vector */
    const char *paths[3] = {"vec/one", "vec/two", "vec/three"};
    float *vecs = calloc(3 * stats.dim, sizeof(float));
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < stats.dim; k++)
            vecs[i * stats.dim + k] = vec[k] + (k % 7 == i ? 0.01f : 0.0f);
    int64_t ids[3];
    CHECK_OK(pxs_engine_add_vectors(e, paths, vecs, 3, ids, &err), &err);
    CHECK_EQ_INT(pxs_engine_add_vectors(e, paths, vecs, 1, ids, &err), PXS_EEXIST);
    vecs[0] = NAN;
    CHECK_EQ_INT(pxs_engine_add_vectors(e, paths, vecs, 1, NULL, &err), PXS_EINVAL);
    so.k = 10;
    CHECK_OK(pxs_engine_search_vector(e, vec, stats.dim, &so, &m, &n, &err), &err);
    CHECK_EQ_INT(n, 6);
    pxs_free(m);

    /* delete: gone from search, metadata, store (after reopen) and uploads/ */
    CHECK_OK(pxs_engine_delete_image(e, up_id, &err), &err);
    CHECK_EQ_INT(pxs_engine_delete_image(e, up_id, &err), PXS_ENOTFOUND);
    CHECK(stat(add.path, &st) != 0);
    CHECK_OK(pxs_engine_search_vector(e, vec, stats.dim, &so, &m, &n, &err), &err);
    CHECK_EQ_INT(n, 5);
    for (size_t i = 0; i < n; i++) CHECK(m[i].meta.id != up_id);
    pxs_free(m);
    pxs_engine_close(e);
    CHECK_OK(pxs_engine_open(&eo, &e, &err), &err);
    struct pxs_image_meta meta;
    CHECK_EQ_INT(pxs_engine_get_meta(e, up_id, &meta, &err), PXS_ENOTFOUND);
    CHECK_OK(pxs_engine_stats(e, &stats, &err), &err);
    CHECK_EQ_INT(stats.images, 5);
    /* the deleted upload can be added again (new id) */
    CHECK_OK(pxs_engine_add_image(e, img, len, &add, &err), &err);
    CHECK_EQ_INT(add.kind, PXS_INGEST_ADDED);
    CHECK(add.id > up_id);

    /* drop: empty, durable, and the index follows */
    uint64_t removed = 0;
    CHECK_OK(pxs_engine_drop_all(e, &removed, &err), &err);
    CHECK_EQ_INT(removed, 6);
    CHECK_OK(pxs_engine_search_vector(e, vec, stats.dim, &so, &m, &n, &err), &err);
    CHECK_EQ_INT(n, 0);
    pxs_free(m);
    CHECK(stat(add.path, &st) != 0);
    pxs_engine_close(e);
    CHECK_OK(pxs_engine_open(&eo, &e, &err), &err);
    CHECK_OK(pxs_engine_stats(e, &stats, &err), &err);
    CHECK_EQ_INT(stats.images, 0);
    /* ingest works again after a drop */
    CHECK_OK(pxs_engine_ingest(e, photos, NULL, &s, &err), &err);
    CHECK_EQ_INT(s.added, 2);
    pxs_engine_close(e);
    free(vec);
    free(vecs);
    free(img);
}
