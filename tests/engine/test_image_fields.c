/*
 * tests/engine/test_image_fields.c — per-image fields and what uses them:
 * image record version 2 (EXIF date, camera, blob flag) and reading
 * version 1 records; EXIF and tags through ingest; search filters over the
 * fields (format, width, camera, tags), "more like this" by id, paging;
 * --prune; the blob store (--store-originals) serving originals after the
 * files are gone; the streaming walk reporting "found so far" totals.
 */
#include "pixseek/engine.h"
#include "engine/engine_int.h"
#include "../test.h"

#include <stdlib.h>
#include <unistd.h>

PXS_TEST(record_v2_roundtrip_and_v1_compat) {
    struct image_record rec = {0}, back;
    rec.size = 99;
    rec.mtime = 1600000000;
    rec.width = 4000;
    rec.height = 3000;
    snprintf(rec.format, sizeof rec.format, "jpeg");
    rec.path = "/p/IMG_1.jpg";
    rec.path_len = strlen(rec.path);
    rec.flags = RECORD_FLAG_BLOB;
    snprintf(rec.exif_date, sizeof rec.exif_date, "2019-07-14 10:22:01");
    snprintf(rec.camera_make, sizeof rec.camera_make, "Canon");
    snprintf(rec.camera_model, sizeof rec.camera_model, "Canon EOS 5D");
    struct pxs_buf buf;
    pxs_buf_init(&buf, 4096);
    CHECK_EQ_INT(record_encode(&rec, &buf), PXS_OK);
    struct pxs_err err = {0};
    CHECK_EQ_INT(buf.data[0], 2);
    CHECK_OK(record_decode(buf.data, buf.len, &back, &err), &err);
    CHECK_STR(back.exif_date, "2019-07-14 10:22:01");
    CHECK_STR(back.camera_make, "Canon");
    CHECK_STR(back.camera_model, "Canon EOS 5D");
    CHECK_EQ_INT(back.flags, RECORD_FLAG_BLOB);
    struct pxs_image_meta meta;
    record_to_meta(7, &back, &meta);
    CHECK_STR(meta.camera, "Canon EOS 5D"); /* the make is not repeated */
    CHECK_EQ_INT(meta.original_stored, 1);
    for (size_t cut = 0; cut < buf.len; cut++) {
        pxs_err_clear(&err);
        CHECK_EQ_INT(record_decode(buf.data, cut, &back, &err), PXS_ECORRUPT);
    }
    CHECK_OK(pxs_buf_append(&buf, "x", 1), &err);
    CHECK_EQ_INT(record_decode(buf.data, buf.len, &back, &err), PXS_ECORRUPT);

    /* A version 1 record (written by pixseek before EXIF support): the same
     * bytes up to the path, nothing after. */
    size_t v1_len = 44 + 4 + rec.path_len;
    buf.data[0] = 1;
    CHECK_OK(record_decode(buf.data, v1_len, &back, &err), &err);
    CHECK_EQ_INT(back.width, 4000);
    CHECK(back.path_len == rec.path_len && memcmp(back.path, rec.path, rec.path_len) == 0);
    CHECK_STR(back.exif_date, "");
    CHECK_STR(back.camera_model, "");
    CHECK_EQ_INT(back.flags, 0);
    CHECK_EQ_INT(record_decode(buf.data, v1_len + 1, &back, &err), PXS_ECORRUPT);
    pxs_buf_free(&buf);

    struct image_record cam = {0};
    char out[130];
    snprintf(cam.camera_make, sizeof cam.camera_make, "NIKON CORPORATION");
    snprintf(cam.camera_model, sizeof cam.camera_model, "D750");
    record_camera(&cam, out, sizeof out);
    CHECK_STR(out, "NIKON CORPORATION D750");
}

#define corel pxs_test_corel

static uint64_t max_total, first_total;
static int count_events(const struct pxs_ingest_event *ev, void *user) {
    (void)user;
    if (ev->total > max_total) max_total = ev->total;
    if (!first_total) first_total = ev->total;
    return 0;
}

static int search_ids(pxs_engine *e, const char *query, int64_t by_id, const char *filter,
                      size_t k, size_t offset, int64_t *ids, size_t *n) {
    struct pxs_search_opts so = {.k = k};
    so.offset = offset;
    so.filter = filter;
    struct pxs_match *m = NULL;
    struct pxs_err err = {0};
    int rc = query ? pxs_engine_search_file(e, query, &so, &m, n, &err)
                   : pxs_engine_search_id(e, by_id, &so, &m, n, &err);
    if (rc != PXS_OK) return rc;
    for (size_t i = 0; i < *n; i++) ids[i] = m[i].meta.id;
    pxs_free(m);
    return PXS_OK;
}

static int64_t id_of(pxs_engine *e, const char *name) {
    for (int64_t id = 1; id < 64; id++) {
        struct pxs_image_meta m;
        struct pxs_err err = {0};
        if (pxs_engine_get_meta(e, id, &m, &err) != PXS_OK) continue;
        const char *slash = strrchr(m.path, '/');
        if (slash && strcmp(slash + 1, name) == 0) return id;
    }
    return 0;
}

PXS_TEST(engine_fields_filters_paging_prune_blobs) {
    SKIP_IF(!corel(0), "../shared not found");
    const char *tmp = pxs_test_tmpdir();
    char photos[600], data[600], q[700];
    snprintf(photos, sizeof photos, "%s/photos", tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(q, sizeof q, "%s/query.jpg", tmp);
    CHECK_EQ_INT(pxs_test_system("mkdir -p %s/sub && cp %s %s/a.jpg && cp %s %s/b.jpg && "
                                 "cp %s %s/sub/c.jpg && cp %s %s && vips copy %s %s/small.png && "
                                 "vips resize %s %s/big.png 4 && "
                                 "/usr/bin/python3 -c \"from PIL import Image; im = Image.open('%s'); "
                                 "ex = Image.Exif(); ex[0x010f] = 'Canon'; ex[0x0110] = 'Canon EOS 5D'; "
                                 "ex[0x8769] = {0x9003: '2019:07:14 10:22:01'}; "
                                 "im.save('%s/canon.jpg', exif=ex.tobytes())\"",
                                 photos, corel(1), photos, corel(2), photos, corel(500), photos,
                                 corel(0), q, corel(3), photos, corel(4), photos, corel(5), photos),
                 0);
    struct pxs_err err = {0};
    struct pxs_engine_opts eo = {.data_dir = data};
    pxs_engine *e;
    CHECK_OK(pxs_engine_open(&eo, &e, &err), &err);
    const char *tags[] = {"album=rome", "rating=4"};
    struct pxs_ingest_opts io = {.on_event = count_events, .tags = tags, .n_tags = 2,
                                 .store_originals = 1, .batch_size = 2};
    struct pxs_ingest_summary sum;
    max_total = 0;
    int rc = pxs_engine_ingest(e, photos, &io, &sum, &err);
    if (rc != PXS_OK) pxs_engine_close(e);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(sum.added, 6);
    CHECK_EQ_INT(max_total, 6);

    int64_t canon = id_of(e, "canon.jpg"), big = id_of(e, "big.png"), a = id_of(e, "a.jpg");
    struct pxs_image_meta meta;
    CHECK_OK(pxs_engine_get_meta(e, canon, &meta, &err), &err);
    CHECK_STR(meta.date, "2019-07-14 10:22:01");
    CHECK_STR(meta.camera, "Canon EOS 5D");
    CHECK_EQ_INT(meta.original_stored, 1);

    int64_t ids[16];
    size_t n;
    CHECK_OK(search_ids(e, q, 0, "format == \"png\" and width > 1000", 10, 0, ids, &n), &err);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ids[0], big);
    CHECK_OK(search_ids(e, q, 0, "camera like \"Canon%\" and date >= \"2019\"", 10, 0, ids, &n), &err);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ids[0], canon);
    CHECK_OK(search_ids(e, q, 0, "album == \"rome\" and rating >= 4", 10, 0, ids, &n), &err);
    CHECK_EQ_INT(n, 6);
    CHECK_OK(search_ids(e, q, 0, "album == \"paris\"", 10, 0, ids, &n), &err);
    CHECK_EQ_INT(n, 0);
    CHECK_OK(search_ids(e, q, 0, "camera is null and name like \"%.jpg\"", 10, 0, ids, &n), &err);
    CHECK_EQ_INT(n, 3);
    const char *retag[] = {"rating=1", "album="};
    CHECK_OK(pxs_engine_set_tags(e, a, retag, 2, &err), &err);
    CHECK_OK(search_ids(e, q, 0, "rating < 3", 10, 0, ids, &n), &err);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ids[0], a);
    char *tj;
    CHECK_OK(pxs_engine_get_tags(e, a, &tj, &err), &err);
    CHECK_STR(tj, "{\"rating\":1}");
    pxs_free(tj);
    struct pxs_search_opts bad = {.k = 3, .filter = "width >"};
    struct pxs_match *m;
    CHECK_EQ_INT(pxs_engine_search_file(e, q, &bad, &m, &n, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "position") != NULL);
    CHECK_EQ_INT(pxs_engine_check_filter("widht > 3 and", &err), PXS_EINVAL);
    const char *badtag[] = {"1x=2"};
    CHECK_EQ_INT(pxs_engine_set_tags(e, a, badtag, 1, &err), PXS_EINVAL);

    /* More like this leaves the image out; paging continues the ranking. */
    int64_t all[16], page[16];
    size_t n_all, n_page;
    CHECK_OK(search_ids(e, NULL, a, NULL, 5, 0, all, &n_all), &err);
    CHECK_EQ_INT(n_all, 5);
    for (size_t i = 0; i < n_all; i++) CHECK(all[i] != a);
    CHECK_OK(search_ids(e, NULL, a, NULL, 2, 2, page, &n_page), &err);
    CHECK_EQ_INT(n_page, 2);
    CHECK(page[0] == all[2] && page[1] == all[3]);
    CHECK_OK(search_ids(e, NULL, a, NULL, 5, 4, page, &n_page), &err);
    CHECK_EQ_INT(n_page, 1);
    CHECK_EQ_INT(search_ids(e, NULL, 999, NULL, 5, 0, page, &n_page), PXS_ENOTFOUND);

    /* The original survives in the blob store; prune forgets gone files. */
    void *orig;
    size_t olen;
    CHECK_EQ_INT(pxs_test_system("rm %s/big.png %s/sub/c.jpg", photos, photos), 0);
    CHECK_OK(pxs_engine_get_original(e, big, &orig, &olen, NULL, &err), &err);
    CHECK(olen > 1000 && memcmp(orig, "\x89PNG", 4) == 0);
    pxs_free(orig);
    struct pxs_prune_summary ps;
    CHECK_OK(pxs_engine_prune(e, photos, NULL, NULL, &ps, &err), &err);
    CHECK_EQ_INT(ps.removed, 2);
    CHECK_EQ_INT(pxs_engine_get_original(e, big, &orig, &olen, NULL, &err), PXS_ENOTFOUND);
    CHECK_EQ_INT(pxs_test_system("test $(find %s/blobs -type f | wc -l) -eq 4", data), 0);
    struct pxs_engine_stats st;
    CHECK_OK(pxs_engine_stats(e, &st, &err), &err);
    CHECK_EQ_INT(st.images, 4);
    CHECK_OK(search_ids(e, q, 0, NULL, 10, 0, ids, &n), &err);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(pxs_engine_get_tags(e, big, &tj, &err), PXS_OK); /* gone with the image */
    CHECK_STR(tj, "{}");
    pxs_free(tj);
    /* Pruning a folder elsewhere removes nothing. */
    CHECK_OK(pxs_engine_prune(e, "/nonexistent/folder", NULL, NULL, &ps, &err), &err);
    CHECK_EQ_INT(ps.removed, 0);
    pxs_engine_close(e);

    /* A second handle (another process) sees the removal. */
    eo.read_only = 1;
    CHECK_OK(pxs_engine_open(&eo, &e, &err), &err);
    CHECK_OK(search_ids(e, q, 0, NULL, 10, 0, ids, &n), &err);
    CHECK_EQ_INT(n, 4);
    pxs_engine_close(e);
}

PXS_TEST(engine_image_collections) {
    SKIP_IF(!corel(0), "../shared not found");
    const char *tmp = pxs_test_tmpdir();
    char photos[600], data[600];
    snprintf(photos, sizeof photos, "%s/photos", tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    CHECK_EQ_INT(pxs_test_system("mkdir -p %s && cp %s %s/a.jpg && cp %s %s/b.jpg", photos,
                                 corel(0), photos, corel(1), photos),
                 0);
    struct pxs_err err = {0};
    struct pxs_collection_info *list;
    size_t n;
    CHECK_OK(pxs_engine_list_collections(data, &list, &n, &err), &err); /* nothing yet */
    CHECK_EQ_INT(n, 0);
    pxs_free(list);
    /* "default" is the data directory itself; "trips" lives under collections/. */
    const char *names[] = {NULL, "trips", "default"};
    uint64_t want_images[] = {2, 1, 2};
    for (int i = 0; i < 3; i++) {
        struct pxs_engine_opts eo = {.data_dir = data, .collection = names[i]};
        pxs_engine *e;
        CHECK_OK(pxs_engine_open(&eo, &e, &err), &err);
        char one[700];
        snprintf(one, sizeof one, "%s/a.jpg", photos);
        int rc = i == 2 ? PXS_OK : pxs_engine_ingest(e, i == 0 ? photos : one, NULL, NULL, &err);
        struct pxs_engine_stats st;
        if (rc == PXS_OK) rc = pxs_engine_stats(e, &st, &err);
        pxs_engine_close(e);
        CHECK_OK(rc, &err);
        CHECK_EQ_INT(st.images, want_images[i]);
    }
    CHECK_EQ_INT(pxs_test_system("test -d %s/store && test -d %s/collections/trips/store", data, data), 0);
    CHECK_OK(pxs_engine_list_collections(data, &list, &n, &err), &err);
    int ok = n == 2 && strcmp(list[0].name, "default") == 0 && list[0].images == 2 &&
             strcmp(list[1].name, "trips") == 0 && list[1].images == 1 &&
             strcmp(list[1].embedder, PXS_IMAGE_DESCRIPTOR_NAME) == 0 && list[1].dim == 256;
    pxs_free(list);
    CHECK_MSG(ok, "collection list");
    const char *bad[] = {"", "../x", ".hidden", "-x", "a/b", "a b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct pxs_engine_opts eo = {.data_dir = data, .collection = bad[i]};
        pxs_engine *e = NULL;
        pxs_err_clear(&err);
        CHECK_EQ_INT(pxs_engine_open(&eo, &e, &err), PXS_EINVAL);
        CHECK(e == NULL);
    }
    struct pxs_engine_opts ro = {.data_dir = data, .collection = "missing", .read_only = 1};
    pxs_engine *e = NULL;
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_engine_open(&ro, &e, &err), PXS_ENOTFOUND);
}

/* The walk streams: with a ring of 3 batches of 2, the walker is at most a
 * few files ahead when the first outcome is reported, so the first event's
 * "found so far" total is far below the folder's 60 files. */
PXS_TEST(engine_ingest_walk_streams) {
    SKIP_IF(!corel(0), "../shared not found");
    const char *tmp = pxs_test_tmpdir();
    char photos[600], data[600];
    snprintf(photos, sizeof photos, "%s/photos", tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    CHECK_EQ_INT(pxs_test_system("mkdir -p %s && for i in $(seq 10 69); do cp %s %s/$i.jpg; done",
                                 photos, corel(0), photos),
                 0);
    struct pxs_err err = {0};
    struct pxs_engine_opts eo = {.data_dir = data};
    pxs_engine *e;
    CHECK_OK(pxs_engine_open(&eo, &e, &err), &err);
    struct pxs_ingest_opts io = {.on_event = count_events, .batch_size = 2};
    struct pxs_ingest_summary sum;
    max_total = first_total = 0;
    int rc = pxs_engine_ingest(e, photos, &io, &sum, &err);
    pxs_engine_close(e);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(sum.files, 60);
    CHECK_EQ_INT(sum.added + sum.duplicates, 60);
    CHECK_EQ_INT(max_total, 60);
    CHECK_MSG(first_total >= 1 && first_total <= 3 * 2 + 2, "first event saw %llu files found",
              (unsigned long long)first_total);
}
