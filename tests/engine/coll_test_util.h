/*
 * tests/engine/coll_test_util.h — helpers for the vector collection tests:
 * open an engine in the test's directory, run an operation with a
 * printf-formatted JSON request, and read numbers out of the JSON result.
 */
#ifndef PIXSEEK_TESTS_COLL_TEST_UTIL_H
#define PIXSEEK_TESTS_COLL_TEST_UTIL_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "pixseek/engine.h"

static inline pxs_engine *coll_test_open(const char *dir) {
    struct pxs_engine_opts eo = {.data_dir = dir, .threads = 1};
    pxs_engine *e = NULL;
    struct pxs_err err = {0};
    if (pxs_engine_open(&eo, &e, &err) != PXS_OK) {
        fprintf(stdout, "    engine open failed: %s\n", err.msg);
        return NULL;
    }
    return e;
}

/* Run op with the formatted request; *out (caller frees with pxs_free)
 * receives the result (NULL allowed). Returns the code; err gets the message. */
static inline int coll_call(pxs_engine *e, pxs_coll_op_fn op, char **out, struct pxs_err *err,
                            const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline int coll_call(pxs_engine *e, pxs_coll_op_fn op, char **out, struct pxs_err *err,
                            const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *req = NULL;
    int n = vasprintf(&req, fmt, ap);
    va_end(ap);
    if (n < 0) return PXS_ENOMEM;
    pxs_err_clear(err);
    char *res = NULL;
    int rc = op(e, req, 0, &res, err);
    free(req);
    if (out) *out = res;
    else pxs_free(res);
    return rc;
}

/* Append a JSON array of dim floats to a malloc'd string builder. */
static inline char *coll_vec_json(const float *v, size_t dim) {
    size_t cap = dim * 16 + 8, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[len++] = '[';
    for (size_t i = 0; i < dim; i++) len += (size_t)snprintf(s + len, cap - len, "%s%.9g", i ? "," : "", v[i]);
    s[len++] = ']';
    s[len] = 0;
    return s;
}

/* Deterministic pseudo-random floats in [-1, 1). */
static inline float coll_rand(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*state >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

#endif
