/*
 * tests/core/test_core.c — the error model, capped buffers, allocation
 * failure injection, hashing and file helpers.
 */
#include "pixseek/core.h"
#include "../test.h"

#include <pthread.h>
#include <stdlib.h>

PXS_TEST(core_every_code_has_text) {
    for (int code = 0; code >= PXS_CODE_MIN; code--) {
        CHECK(strcmp(pxs_strerror(code), "unknown error") != 0);
        CHECK(strcmp(pxs_code_name(code), "EUNKNOWN") != 0);
    }
    CHECK_STR(pxs_strerror(42), "unknown error");
}

PXS_TEST(core_first_error_wins) {
    struct pxs_err err;
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_errf(&err, PXS_EINVAL, "first %d", 1), PXS_EINVAL);
    CHECK_EQ_INT(pxs_errf(&err, PXS_EIO, "second"), PXS_EIO);
    CHECK_EQ_INT(err.code, PXS_EINVAL);
    CHECK_STR(err.msg, "first 1");
    CHECK_EQ_INT(pxs_errf(NULL, PXS_ENOMEM, "nobody listens"), PXS_ENOMEM);
    pxs_err_clear(&err);
    pxs_errf(&err, PXS_EINVAL, "line one\nline two");
    CHECK(strchr(err.msg, '\n') == NULL);
}

PXS_TEST(core_err_sys_keeps_errno) {
    struct pxs_err err;
    pxs_err_clear(&err);
    pxs_errf_sys(&err, PXS_EIO, 2, "open %s", "x");
    CHECK_EQ_INT(err.sys_errno, 2);
    CHECK(strstr(err.msg, "open x: ") == err.msg);
}

PXS_TEST(core_buf_respects_cap) {
    struct pxs_buf b;
    pxs_buf_init(&b, 10);
    CHECK_EQ_INT(pxs_buf_append(&b, "0123456789", 10), PXS_OK);
    CHECK_EQ_INT(pxs_buf_append(&b, "x", 1), PXS_ELIMIT);
    CHECK_EQ_INT(b.len, 10);
    CHECK_STR(b.data, "0123456789");
    pxs_buf_reset(&b);
    CHECK_EQ_INT(pxs_buf_appendf(&b, "%d-%s", 42, "ab"), PXS_OK);
    CHECK_STR(b.data, "42-ab");
    CHECK_EQ_INT(pxs_buf_appendf(&b, "%s", "too long for it"), PXS_ELIMIT);
    size_t len;
    char *p = pxs_buf_detach(&b, &len);
    CHECK_EQ_INT(len, 5);
    CHECK(b.data == NULL);
    pxs_free(p);
    pxs_buf_free(&b);
}

/* An uncapped buffer (max SIZE_MAX) grows like any other: max + 1 wraps. */
PXS_TEST(core_buf_uncapped_grows) {
    struct pxs_buf b;
    pxs_buf_init(&b, SIZE_MAX);
    for (int i = 0; i < 100; i++) CHECK_EQ_INT(pxs_buf_append(&b, "0123456789", 10), PXS_OK);
    CHECK_EQ_INT(b.len, 1000);
    CHECK(b.cap > 1000);
    CHECK(memcmp(b.data + 990, "0123456789", 10) == 0 && b.data[1000] == '\0');
    pxs_buf_free(&b);
}

PXS_TEST(core_alloc_failure_injection) {
    pxs_alloc_fail_after(2);
    void *a = pxs_malloc(8);
    void *b = pxs_malloc(8);
    void *c = pxs_malloc(8);
    pxs_alloc_fail_after(0);
    CHECK(a != NULL);
    CHECK(b == NULL);
    CHECK(c != NULL);
    pxs_free(a);
    pxs_free(c);
    CHECK(pxs_calloc(SIZE_MAX / 2, 4) == NULL);
    CHECK(pxs_mallocarray(SIZE_MAX / 2, 4) == NULL);
}

PXS_TEST(core_buf_reports_enomem) {
    struct pxs_buf b;
    pxs_buf_init(&b, 1000);
    pxs_alloc_fail_after(1);
    int rc = pxs_buf_append(&b, "abc", 3);
    pxs_alloc_fail_after(0);
    CHECK_EQ_INT(rc, PXS_ENOMEM);
    CHECK_EQ_INT(b.len, 0);
    pxs_buf_free(&b);
}

PXS_TEST(core_hash_hex_roundtrip) {
    uint8_t h[PXS_HASH_BYTES], back[PXS_HASH_BYTES];
    char hex[PXS_HASH_HEX_LEN + 1];
    pxs_hash128("hello", 5, h);
    pxs_hash_to_hex(h, hex);
    CHECK_EQ_INT(strlen(hex), 32);
    CHECK_EQ_INT(pxs_hash_from_hex(hex, back), PXS_OK);
    CHECK(memcmp(h, back, sizeof h) == 0);
    uint8_t h2[PXS_HASH_BYTES];
    pxs_hash128("hellp", 5, h2);
    CHECK(memcmp(h, h2, sizeof h) != 0);
    CHECK_EQ_INT(pxs_hash_from_hex("zz", back), PXS_EINVAL);
    CHECK(pxs_hash64("a", 1) != pxs_hash64("b", 1));
}

PXS_TEST(core_file_roundtrip_and_limits) {
    struct pxs_err err;
    pxs_err_clear(&err);
    char path[600];
    snprintf(path, sizeof path, "%s/a/b/c", pxs_test_tmpdir());
    CHECK_OK(pxs_mkdirs(path, &err), &err);
    snprintf(path, sizeof path, "%s/a/b/c/file.bin", pxs_test_tmpdir());
    CHECK_OK(pxs_file_write_atomic(path, "payload", 7, &err), &err);
    char *data;
    size_t len;
    CHECK_OK(pxs_file_read_all(path, 100, &data, &len, &err), &err);
    CHECK_EQ_INT(len, 7);
    CHECK_STR(data, "payload");
    pxs_free(data);
    CHECK_EQ_INT(pxs_file_read_all(path, 3, &data, &len, &err), PXS_ELIMIT);
    CHECK(strstr(err.msg, "limit") != NULL);
    pxs_err_clear(&err);
    snprintf(path, sizeof path, "%s/missing", pxs_test_tmpdir());
    CHECK_EQ_INT(pxs_file_read_all(path, 3, &data, &len, &err), PXS_ENOTFOUND);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_file_read_all(pxs_test_tmpdir(), 3, &data, &len, &err), PXS_EINVAL);
}

struct replace_job {
    const char *path;
    char fill;
    int rc;
};

static void *replace_many(void *arg) {
    struct replace_job *j = arg;
    char buf[65536];
    memset(buf, j->fill, sizeof buf);
    struct pxs_err err;
    pxs_err_clear(&err);
    for (int i = 0; i < 20 && j->rc == PXS_OK; i++)
        j->rc = pxs_file_write_replace(j->path, buf, sizeof buf, &err);
    return NULL;
}

/* Two threads replacing one path: the file is always one writer's whole
 * content, and no temporary file is left behind. */
PXS_TEST(core_file_write_replace_concurrent) {
    char path[600];
    snprintf(path, sizeof path, "%s/blob", pxs_test_tmpdir());
    struct replace_job jobs[2] = {{path, 'a', PXS_OK}, {path, 'b', PXS_OK}};
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, replace_many, &jobs[0]), 0);
    replace_many(&jobs[1]);
    pthread_join(t, NULL);
    CHECK_EQ_INT(jobs[0].rc, PXS_OK);
    CHECK_EQ_INT(jobs[1].rc, PXS_OK);
    struct pxs_err err;
    pxs_err_clear(&err);
    char *data;
    size_t len;
    CHECK_OK(pxs_file_read_all(path, 1 << 20, &data, &len, &err), &err);
    int uniform = len == 65536;
    for (size_t i = 1; uniform && i < len; i++) uniform = data[i] == data[0];
    pxs_free(data);
    CHECK_MSG(uniform, "replaced file is not one writer's content (%zu bytes)", len);
    CHECK_EQ_INT(pxs_test_system("test $(ls -A %s | wc -l) -eq 1", pxs_test_tmpdir()), 0);
}

PXS_TEST(core_cpu_force_generic_reported) {
    const char *d = pxs_cpu_describe();
    CHECK(d != NULL && d[0] != '\0');
    if (getenv("PXS_FORCE_GENERIC") && strcmp(getenv("PXS_FORCE_GENERIC"), "1") == 0)
        CHECK_EQ_INT(pxs_cpu_features(), 0);
}

PXS_TEST(core_log_levels_parse) {
    enum pxs_log_level lv;
    CHECK_EQ_INT(pxs_log_parse_level("debug", &lv), PXS_OK);
    CHECK_EQ_INT(lv, PXS_LOG_DEBUG);
    CHECK_EQ_INT(pxs_log_parse_level("loud", &lv), PXS_EINVAL);
}
