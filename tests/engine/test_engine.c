/*
 * tests/engine/test_engine.c — the engine through its public API: record
 * codec, ingest of a small folder (added, unchanged, duplicate, failed),
 * search, metadata and thumbnails, a second engine handle seeing another
 * handle's writes, changed files re-indexed, and embedder mismatch refusal.
 */
#include "pixseek/engine.h"
#include "engine/engine_int.h"
#include "../test.h"

#include <stdlib.h>
#include <unistd.h>

#define corel pxs_test_corel

PXS_TEST(engine_record_roundtrip_and_corruption) {
    struct image_record rec = {0}, back;
    rec.size = 12345;
    rec.mtime = -5;
    rec.width = 640;
    rec.height = 480;
    for (int i = 0; i < PXS_HASH_BYTES; i++) rec.hash[i] = (uint8_t)i;
    snprintf(rec.format, sizeof rec.format, "jpeg");
    rec.path = "/photos/cat.jpg";
    rec.path_len = strlen(rec.path);
    struct pxs_buf buf;
    pxs_buf_init(&buf, 4096);
    CHECK_EQ_INT(record_encode(&rec, &buf), PXS_OK);
    struct pxs_err err;
    pxs_err_clear(&err);
    CHECK_OK(record_decode(buf.data, buf.len, &back, &err), &err);
    CHECK_EQ_INT(back.size, 12345);
    CHECK_EQ_INT(back.mtime, -5);
    CHECK_EQ_INT(back.width, 640);
    CHECK_STR(back.format, "jpeg");
    CHECK(back.path_len == rec.path_len && memcmp(back.path, rec.path, rec.path_len) == 0);
    /* Every truncation and a wrong version are rejected. */
    for (size_t cut = 0; cut < buf.len; cut++) {
        pxs_err_clear(&err);
        CHECK_EQ_INT(record_decode(buf.data, cut, &back, &err), PXS_ECORRUPT);
    }
    buf.data[0] = 9;
    pxs_err_clear(&err);
    CHECK_EQ_INT(record_decode(buf.data, buf.len, &back, &err), PXS_ECORRUPT);
    CHECK(strstr(err.msg, "version") != NULL);
    pxs_buf_free(&buf);
}

static int count_kind[4];
static int on_event(const struct pxs_ingest_event *ev, void *user) {
    (void)user;
    count_kind[ev->kind]++;
    return 0;
}

PXS_TEST(engine_ingest_search_and_reopen) {
    SKIP_IF(!corel(0), "../shared not found");
    const char *tmp = pxs_test_tmpdir();
    char photos[600], data[600];
    snprintf(photos, sizeof photos, "%s/photos", tmp);
    snprintf(data, sizeof data, "%s/data", tmp);
    CHECK_EQ_INT(pxs_test_system("mkdir -p %s/sub && cp %s %s/a.jpg && cp %s %s/sub/b.jpg && "
                                 "cp %s %s/copy_of_a.jpg && echo hi > %s/note.txt",
                                 photos, corel(0), photos, corel(500), photos, corel(0), photos,
                                 photos),
                 0);
    struct pxs_err err;
    pxs_err_clear(&err);
    struct pxs_engine_opts eo = {.data_dir = data};
    pxs_engine *e;
    CHECK_OK(pxs_engine_open(&eo, &e, &err), &err);
    memset(count_kind, 0, sizeof count_kind);
    struct pxs_ingest_opts io = {.on_event = on_event, .batch_size = 2};
    struct pxs_ingest_summary s;
    CHECK_OK(pxs_engine_ingest(e, photos, &io, &s, &err), &err);
    CHECK_EQ_INT(s.files, 4);
    CHECK_EQ_INT(s.added, 2);
    CHECK_EQ_INT(s.duplicates, 1);
    CHECK_EQ_INT(s.failed, 1);
    CHECK_EQ_INT(count_kind[PXS_INGEST_ADDED], 2);

    /* The same file again: unchanged. */
    CHECK_OK(pxs_engine_ingest(e, photos, &io, &s, &err), &err);
    CHECK_EQ_INT(s.added, 0);
    CHECK_EQ_INT(s.unchanged, 2);

    struct pxs_match *m;
    size_t n;
    struct pxs_search_opts so = {.k = 5};
    CHECK_OK(pxs_engine_search_file(e, corel(500), &so, &m, &n, &err), &err);
    CHECK_EQ_INT(n, 2);
    CHECK(strstr(m[0].meta.path, "/sub/b.jpg") != NULL);
    CHECK(m[0].similarity > 0.999f);
    CHECK(m[0].distance < 0.001f);
    CHECK(m[1].similarity < m[0].similarity);
    CHECK_STR(m[0].meta.format, "jpeg");
    CHECK(m[0].meta.width > 0 && m[0].meta.height > 0);
    int64_t id = m[0].meta.id;
    pxs_free(m);

    /* min_similarity filters. */
    so.min_similarity = 0.999f;
    CHECK_OK(pxs_engine_search_file(e, corel(500), &so, &m, &n, &err), &err);
    CHECK_EQ_INT(n, 1);
    pxs_free(m);

    struct pxs_image_meta meta;
    CHECK_OK(pxs_engine_get_meta(e, id, &meta, &err), &err);
    CHECK(strstr(meta.path, "b.jpg") != NULL);
    CHECK_EQ_INT(pxs_engine_get_meta(e, 9999, &meta, &err), PXS_ENOTFOUND);
    pxs_err_clear(&err);
    void *jpeg;
    size_t len;
    CHECK_OK(pxs_engine_get_thumbnail(e, id, &jpeg, &len, &err), &err);
    CHECK(len > 100 && ((unsigned char *)jpeg)[0] == 0xff && ((unsigned char *)jpeg)[1] == 0xd8);
    pxs_free(jpeg);

    /* Another process (`pixseek index` next to `pixseek serve`) adds an
     * image: this engine sees it at its next search. */
    char extra[700];
    snprintf(extra, sizeof extra, "%s/extra", tmp);
    CHECK_EQ_INT(pxs_test_system("mkdir -p %s && cp %s %s/c.jpg && %s index --quiet --data %s %s",
                                 extra, corel(900), extra, pxs_test_bin(), data, extra),
                 0);
    so.min_similarity = 0;
    CHECK_OK(pxs_engine_search_file(e, corel(900), &so, &m, &n, &err), &err);
    CHECK_EQ_INT(n, 3);
    CHECK(strstr(m[0].meta.path, "/extra/c.jpg") != NULL);
    pxs_free(m);

    /* A changed file is re-embedded; its old entry disappears. */
    CHECK_EQ_INT(pxs_test_system("cp %s %s/c.jpg", corel(300), extra), 0);
    CHECK_OK(pxs_engine_ingest(e, extra, &io, &s, &err), &err);
    CHECK_EQ_INT(s.added, 1);
    CHECK_OK(pxs_engine_search_file(e, corel(300), &so, &m, &n, &err), &err);
    CHECK_EQ_INT(n, 3);
    CHECK(strstr(m[0].meta.path, "/extra/c.jpg") != NULL && m[0].similarity > 0.999f);
    pxs_free(m);
    struct pxs_engine_stats st;
    CHECK_OK(pxs_engine_stats(e, &st, &err), &err);
    CHECK_EQ_INT(st.images, 3);
    CHECK_EQ_INT(st.dim, PXS_IMAGE_DESCRIPTOR_DIM);
    pxs_engine_close(e);

    /* Reopen: everything is still there. */
    CHECK_OK(pxs_engine_open(&eo, &e, &err), &err);
    CHECK_OK(pxs_engine_stats(e, &st, &err), &err);
    CHECK_EQ_INT(st.images, 3);
    CHECK_EQ_INT(pxs_engine_search_image(e, "garbage", 7, &so, &m, &n, &err), PXS_EUNSUPPORTED);
    pxs_engine_close(e);
}

PXS_TEST(engine_refuses_other_data_format) {
    const char *tmp = pxs_test_tmpdir();
    struct pxs_err err;
    pxs_err_clear(&err);
    struct pxs_engine_opts eo = {.data_dir = tmp};
    pxs_engine *e;
    CHECK_OK(pxs_engine_open(&eo, &e, &err), &err);
    /* Pretend the directory was built with another embedder. */
    pxs_store_txn *txn;
    CHECK_OK(pxs_store_begin(e->store, 1, &txn, &err), &err);
    CHECK_OK(meta_put_str(txn, "embedder", "some-cnn", &err), &err);
    CHECK_OK(pxs_store_commit(txn, &err), &err);
    pxs_engine_close(e);
    CHECK_EQ_INT(pxs_engine_open(&eo, &e, &err), PXS_EMISMATCH);
    CHECK(strstr(err.msg, "some-cnn") != NULL);
}

PXS_TEST(engine_open_errors) {
    struct pxs_err err;
    pxs_err_clear(&err);
    pxs_engine *e;
    struct pxs_engine_opts none = {0};
    CHECK_EQ_INT(pxs_engine_open(&none, &e, &err), PXS_EINVAL);
    pxs_err_clear(&err);
    char path[600];
    snprintf(path, sizeof path, "%s/absent", pxs_test_tmpdir());
    struct pxs_engine_opts ro = {.data_dir = path, .read_only = 1};
    CHECK(pxs_engine_open(&ro, &e, &err) != PXS_OK);
    CHECK(err.msg[0] != '\0');
}
