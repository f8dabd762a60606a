/*
 * fuzz/fuzz_expr.c — filter expressions (src/engine/expr.c) on arbitrary
 * text: compile against a schema with every field type and a dynamic
 * field; a compiled expression is evaluated on a few rows (NULLs, JSON
 * text, typed arrays, extreme numbers), and its canonical form must
 * compile back to the same form and match the same rows.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "engine/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_ID, F_PRICE, F_NAME, F_TAGS, F_META, F_RATING, F_SCORE, F_ACTIVE, F_NUMS, F_DYN, NFIELDS };

static const struct expr_field fields[NFIELDS] = {
    [F_ID] = {"id", EXPR_INT64, 0, false},
    [F_PRICE] = {"price", EXPR_DOUBLE, 0, false},
    [F_NAME] = {"name", EXPR_VARCHAR, 0, false},
    [F_TAGS] = {"tags", EXPR_ARRAY, EXPR_VARCHAR, false},
    [F_META] = {"meta", EXPR_JSON, 0, true},
    [F_RATING] = {"rating", EXPR_INT8, 0, true},
    [F_SCORE] = {"score", EXPR_FLOAT, 0, false},
    [F_ACTIVE] = {"active", EXPR_BOOL, 0, false},
    [F_NUMS] = {"nums", EXPR_ARRAY, EXPR_DOUBLE, false},
    [F_DYN] = {"$meta", EXPR_JSON, 0, false},
};
static const struct expr_schema schema = {fields, NFIELDS, F_DYN};

#define NROWS 4

static const int64_t ids[NROWS] = {0, -1, INT64_MIN, INT64_MAX};
static const double prices[NROWS] = {1.5, -0.0, 1e300, NAN};
static const char *const names[NROWS] = {"apple", "", "na\xc3\xafve %_\\", "\xff\xfe"};
static const struct expr_str tags0[] = {{"red", 3}, {"a\0b", 3}};
static const double nums1[] = {1, 2.5, -3};
static const char *const metas[NROWS] = {
    "{\"a\":1,\"b\":[1,2,[3]],\"c\":{\"d\":\"x\"},\"n\":null}", NULL, "[1,\"2\",true,{\"0\":0}]",
    "{\"a\":1e400,\"b\":-9223372036854775808,\"s\":\"apple\",\"t\":true}"};
static const char *const dyns[NROWS] = {"{\"age\":30,\"city\":\"x\"}", NULL, "{}",
                                        "{\"age\":[1,2],\"vip\":true}"};

static int get_field(void *user, size_t field, uint64_t row, struct expr_value *out,
                     struct pxs_err *err) {
    (void)user;
    (void)err;
    memset(out, 0, sizeof *out);
    switch (field) {
    case F_ID: out->kind = EXPR_V_INT; out->u.i = ids[row]; break;
    case F_PRICE: out->kind = EXPR_V_DOUBLE; out->u.d = prices[row]; break;
    case F_NAME:
        out->kind = EXPR_V_STRING;
        out->u.s.ptr = names[row];
        out->u.s.len = strlen(names[row]);
        break;
    case F_TAGS:
        if (row == 0) {
            out->kind = EXPR_V_ARRAY;
            out->u.arr.items = tags0;
            out->u.arr.n = 2;
        } else if (row == 1) {
            out->kind = EXPR_V_JSON_TEXT;
            out->u.s.ptr = "[\"x\",\"red\"]";
            out->u.s.len = 11;
        } else if (row == 2) {
            out->kind = EXPR_V_ARRAY; /* empty */
        } else {
            out->kind = EXPR_V_NULL;
        }
        break;
    case F_META:
    case F_DYN: {
        const char *t = field == F_META ? metas[row] : dyns[row];
        if (!t) break;
        out->kind = EXPR_V_JSON_TEXT;
        out->u.s.ptr = t;
        out->u.s.len = strlen(t);
        break;
    }
    case F_RATING:
        if (row % 2 == 0) {
            out->kind = EXPR_V_INT;
            out->u.i = (int64_t)row - 1;
        }
        break;
    case F_SCORE: out->kind = EXPR_V_DOUBLE; out->u.d = (double)(float)(0.1 * (double)row); break;
    case F_ACTIVE: out->kind = EXPR_V_BOOL; out->u.b = row % 2 == 1; break;
    case F_NUMS:
        if (row == 1) {
            out->kind = EXPR_V_ARRAY;
            out->u.arr.items = nums1;
            out->u.arr.n = 3;
        } else {
            out->kind = EXPR_V_ARRAY;
        }
        break;
    default: break;
    }
    return PXS_OK;
}

static unsigned eval_all(const struct expr *e) {
    struct expr_row_access acc = {get_field, NULL};
    unsigned mask = 0;
    for (unsigned r = 0; r < NROWS; r++) {
        bool hit = false;
        struct pxs_err err = {0};
        if (expr_eval(e, &acc, r, &hit, &err) != PXS_OK) __builtin_trap(); /* rows are valid */
        if (hit) mask |= 1u << r;
    }
    return mask;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct pxs_err err = {0};
    struct expr *e = NULL;
    if (expr_compile((const char *)data, size, &schema, &e, &err) != PXS_OK) {
        if (e || err.msg[0] == '\0') __builtin_trap(); /* failures always explain themselves */
        return 0;
    }
    unsigned mask = eval_all(e);
    bool cv;
    if (expr_is_constant(e, &cv) && mask != (cv ? (1u << NROWS) - 1 : 0)) __builtin_trap();

    struct pxs_buf a, b;
    pxs_buf_init(&a, 4u << 20);
    pxs_buf_init(&b, 4u << 20);
    struct expr *e2 = NULL;
    if (expr_to_string(e, &a) == PXS_OK) {
        pxs_err_clear(&err);
        int rc = expr_compile(a.data, a.len, &schema, &e2, &err);
        if (rc == PXS_OK) {
            if (expr_to_string(e2, &b) != PXS_OK || a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
                __builtin_trap(); /* canonical form is not a fixed point */
            if (eval_all(e2) != mask) __builtin_trap(); /* canonical form means something else */
        } else if (rc != PXS_ELIMIT) {
            __builtin_trap(); /* canonical form does not parse */
        }
    }
    expr_free(e2);
    pxs_buf_free(&a);
    pxs_buf_free(&b);
    expr_free(e);
    return 0;
}
