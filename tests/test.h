/*
 * tests/test.h — the tiny unit-test framework. A test is a function declared
 * with PXS_TEST(name); it registers itself at start-up, so adding a test file
 * under tests/<module>/ needs no other edit. Checks stop the current test on
 * the first failure and report file:line.
 *
 *   PXS_TEST(buf_grows) {
 *       struct pxs_buf b; pxs_buf_init(&b, 16);
 *       CHECK_EQ_INT(pxs_buf_append(&b, "abc", 3), PXS_OK);
 *       pxs_buf_free(&b);
 *   }
 */
#ifndef PIXSEEK_TESTS_TEST_H
#define PIXSEEK_TESTS_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

struct pxs_test_case {
    const char *name;
    const char *file;
    void (*fn)(void);
    struct pxs_test_case *next;
};

void pxs_test_register(struct pxs_test_case *tc);
/* Record a failure for the running test (message printed once). */
void pxs_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Mark the running test as skipped with a reason (e.g. missing ../shared). */
void pxs_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fresh empty directory for this test, removed after a passing run. */
const char *pxs_test_tmpdir(void);
/* Path under the shared reference folder (env PXS_SHARED, default ../shared),
 * or NULL if the file does not exist. Borrowed until the next call. */
const char *pxs_test_shared(const char *relative);
/* Path of Corel-1k image i under the shared folder, or NULL; four paths
 * stay valid at once (a small ring of buffers). */
const char *pxs_test_corel(int i);
/* Path of the pixseek binary under test (env PXS_BIN). */
const char *pxs_test_bin(void);
/* Run a shell command, return its exit status (or -1). */
int pxs_test_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define PXS_TEST(name)                                                          \
    static void test_##name(void);                                              \
    static struct pxs_test_case test_case_##name = {#name, __FILE__, test_##name, \
                                                    NULL};                      \
    __attribute__((constructor)) static void register_##name(void) {            \
        pxs_test_register(&test_case_##name);                                   \
    }                                                                           \
    static void test_##name(void)

#define CHECK(cond)                                                  \
    do {                                                             \
        if (!(cond)) {                                               \
            pxs_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);   \
            return;                                                  \
        }                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                  \
    do {                                                      \
        if (!(cond)) {                                        \
            pxs_test_fail(__FILE__, __LINE__, __VA_ARGS__);   \
            return;                                           \
        }                                                     \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                 \
    do {                                                                                   \
        long long va_ = (long long)(a), vb_ = (long long)(b);                              \
        if (va_ != vb_) {                                                                  \
            pxs_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, va_, vb_); \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double va_ = (double)(a), vb_ = (double)(b);                                       \
        if (!(fabs(va_ - vb_) <= (tol))) {                                                 \
            pxs_test_fail(__FILE__, __LINE__, "%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b,   \
                          va_, vb_, (double)(tol));                                        \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        const char *sa_ = (a), *sb_ = (b);                                                 \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) {                                       \
            pxs_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"", #a, #b,        \
                          sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                     \
            return;                                                                        \
        }                                                                                  \
    } while (0)

/* Check that a pixseek call returned PXS_OK; print err's message if not. */
#define CHECK_OK(call, errp)                                                               \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        if (rc_ != 0) {                                                                    \
            const struct pxs_err *e_ = (errp);                                             \
            pxs_test_fail(__FILE__, __LINE__, "%s failed: %d %s", #call, rc_,              \
                          e_ ? e_->msg : "");                                              \
            return;                                                                        \
        }                                                                                  \
    } while (0)

#define SKIP_IF(cond, ...)              \
    do {                                \
        if (cond) {                     \
            pxs_test_skip(__VA_ARGS__); \
            return;                     \
        }                               \
    } while (0)

#endif
