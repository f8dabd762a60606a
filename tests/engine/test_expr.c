/*
 * tests/engine/test_expr.c — filter expressions (src/engine/expr.h): a
 * 20-row in-memory collection with every field type, a table of
 * expressions and the ids they must match, syntax and type errors with
 * their positions, limits, the canonical printer (and its round trip),
 * accessor errors and allocation failures.
 */
#include "../test.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#include "engine/expr.h"
#include "pixseek/core.h"

enum { F_ID, F_PRICE, F_NAME, F_TAGS, F_META, F_RATING, F_SCORE, F_ACTIVE, F_NUMS, F_DYN, NFIELDS };

static const struct expr_field fields[NFIELDS] = {
    [F_ID] = {"id", EXPR_INT64, 0, false},
    [F_PRICE] = {"price", EXPR_DOUBLE, 0, false},
    [F_NAME] = {"name", EXPR_VARCHAR, 0, false},
    [F_TAGS] = {"tags", EXPR_ARRAY, EXPR_VARCHAR, false},
    [F_META] = {"meta", EXPR_JSON, 0, true},
    [F_RATING] = {"rating", EXPR_INT32, 0, true},
    [F_SCORE] = {"score", EXPR_FLOAT, 0, false},
    [F_ACTIVE] = {"active", EXPR_BOOL, 0, false},
    [F_NUMS] = {"nums", EXPR_ARRAY, EXPR_INT64, false},
    [F_DYN] = {"$meta", EXPR_JSON, 0, false},
};
static const struct expr_schema schema = {fields, NFIELDS, F_DYN};
static const struct expr_schema schema_static = {fields, F_DYN, -1}; /* no dynamic field */

#define NROWS 20

struct trow {
    int64_t id;
    double price;
    const char *name;
    const char *tags[4];
    size_t ntags;
    const char *meta; /* JSON text, NULL = SQL NULL */
    int rating;
    bool rating_null;
    float score;
    bool active;
    int64_t nums[4];
    size_t nnums;
    const char *dyn; /* JSON text, NULL = no dynamic data */
};

static const struct trow fixed_rows[10] = {
    {0, 5.0, "apple", {"red", "fruit"}, 2, "{\"color\":\"red\",\"size\":1,\"tags\":[\"a\",\"b\"]}", 5,
     false, 0.1f, true, {1, 2, 3}, 3, "{\"age\":30,\"city\":\"Paris\"}"},
    {1, 15.5, "banana", {"yellow", "fruit"}, 2, "{\"color\":\"yellow\",\"size\":2,\"tags\":[\"b\"]}", 0,
     true, 0.5f, false, {4}, 1, "{\"age\":25}"},
    {2, 100, "cherry", {"red", "fruit", "small"}, 3, "{\"color\":\"red\",\"size\":0.5,\"tags\":[]}", 3,
     false, 1.5f, true, {0}, 0, "{\"city\":\"Rome\"}"},
    {3, 250.25, "Apple pie", {"dessert"}, 1, "{\"color\":\"brown\",\"nested\":{\"k\":[1,2,{\"z\":true}]}}",
     4, false, 2.0f, false, {10, 20}, 2, NULL},
    {4, 0, "", {NULL}, 0, "{}", 0, true, 0.0f, true, {0}, 1, "{\"age\":\"thirty\"}"},
    {5, -3.5, "50%_off", {"sale"}, 1, "{\"price\":10,\"color\":null}", 1, false, -1.25f, false, {5, 5}, 2,
     "{\"age\":40,\"vip\":true}"},
    {6, 42, "na\xc3\xafve", {"unicode", "\xc3\xa9"}, 2, "{\"size\":3,\"tags\":[\"a\",\"c\"]}", 2, false,
     42.0f, true, {6}, 1, "{\"age\":30}"},
    {7, 99.99, "a_b", {"x", "y", "z"}, 3, NULL, 5, false, 99.99f, false, {7, 8, 9}, 3, "{}"},
    {8, 1e6, "zebra", {"animal"}, 1, "{\"size\":1e20}", 3, false, 1e6f, true, {-1}, 1, "{\"age\":18.5}"},
    {9, 7, "apple", {"red"}, 1, "{\"color\":\"Red\",\"size\":7}", 0, true, 7.0f, false, {1, 1, 1}, 3,
     "{\"tags\":[\"vip\",\"new\"]}"},
};

struct dataset {
    struct trow rows[NROWS];
    char names[NROWS][16];
    char metas[NROWS][64];
    char dyns[NROWS][32];
    struct expr_str tags[NROWS][4];
    cJSON *meta_parsed[NROWS]; /* even rows hand the evaluator a parsed tree */
    int fail_field;            /* -1, or a field whose read fails with fail_code */
    int fail_code;
    int bad_kind_field; /* -1, or a field returned with the wrong kind */
};

static void dataset_init(struct dataset *d) {
    memset(d, 0, sizeof *d);
    d->fail_field = -1;
    d->bad_kind_field = -1;
    for (int i = 0; i < NROWS; i++) {
        struct trow *r = &d->rows[i];
        if (i < 10) {
            *r = fixed_rows[i];
        } else {
            r->id = i;
            r->price = i * 10.0;
            snprintf(d->names[i], sizeof d->names[i], "item%d", i);
            r->name = d->names[i];
            r->tags[0] = "gen";
            r->tags[1] = i % 2 ? "odd" : "even";
            r->ntags = 2;
            snprintf(d->metas[i], sizeof d->metas[i], "{\"size\":%d,\"group\":%d}", i, i % 3);
            r->meta = d->metas[i];
            r->rating = i % 5;
            r->rating_null = i % 4 == 0;
            r->score = (float)(i * 0.5);
            r->active = i % 2 == 0;
            r->nums[0] = i;
            r->nums[1] = i + 1;
            r->nnums = 2;
            snprintf(d->dyns[i], sizeof d->dyns[i], "{\"age\":%d}", 20 + i);
            r->dyn = d->dyns[i];
        }
        for (size_t t = 0; t < r->ntags; t++) {
            d->tags[i][t].ptr = r->tags[t];
            d->tags[i][t].len = strlen(r->tags[t]);
        }
        if (i % 2 == 0 && r->meta) d->meta_parsed[i] = cJSON_Parse(r->meta);
    }
}

static void dataset_free(struct dataset *d) {
    for (int i = 0; i < NROWS; i++) cJSON_Delete(d->meta_parsed[i]);
}

static int get_field(void *user, size_t field, uint64_t row, struct expr_value *out, struct pxs_err *err) {
    struct dataset *d = user;
    if (row >= NROWS) return pxs_errf(err, PXS_ENOTFOUND, "no row %llu", (unsigned long long)row);
    if ((int)field == d->fail_field) return pxs_errf(err, d->fail_code, "injected failure");
    const struct trow *r = &d->rows[row];
    memset(out, 0, sizeof *out);
    if ((int)field == d->bad_kind_field) {
        out->kind = EXPR_V_BOOL;
        return PXS_OK;
    }
    switch (field) {
    case F_ID: out->kind = EXPR_V_INT; out->u.i = r->id; break;
    case F_PRICE: out->kind = EXPR_V_DOUBLE; out->u.d = r->price; break;
    case F_NAME:
        out->kind = EXPR_V_STRING;
        out->u.s.ptr = r->name;
        out->u.s.len = strlen(r->name);
        break;
    case F_TAGS:
        out->kind = EXPR_V_ARRAY;
        out->u.arr.items = d->tags[row];
        out->u.arr.n = r->ntags;
        break;
    case F_META:
        if (!r->meta) {
            out->kind = EXPR_V_NULL;
        } else if (d->meta_parsed[row]) {
            out->kind = EXPR_V_JSON;
            out->u.json = d->meta_parsed[row];
        } else {
            out->kind = EXPR_V_JSON_TEXT;
            out->u.s.ptr = r->meta;
            out->u.s.len = strlen(r->meta);
        }
        break;
    case F_RATING:
        if (r->rating_null) out->kind = EXPR_V_NULL;
        else { out->kind = EXPR_V_INT; out->u.i = r->rating; }
        break;
    case F_SCORE: out->kind = EXPR_V_DOUBLE; out->u.d = r->score; break;
    case F_ACTIVE: out->kind = EXPR_V_BOOL; out->u.b = r->active; break;
    case F_NUMS:
        out->kind = EXPR_V_ARRAY;
        out->u.arr.items = r->nums;
        out->u.arr.n = r->nnums;
        break;
    case F_DYN:
        if (!r->dyn) {
            out->kind = EXPR_V_NULL;
        } else {
            out->kind = EXPR_V_JSON_TEXT;
            out->u.s.ptr = r->dyn;
            out->u.s.len = strlen(r->dyn);
        }
        break;
    default: return pxs_errf(err, PXS_EINVAL, "no field %zu", field);
    }
    return PXS_OK;
}

/* "1,3,10-12" -> bitmask of rows. */
static uint32_t parse_ids(const char *s) {
    uint32_t m = 0;
    while (*s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (*end == '-') b = strtol(end + 1, &end, 10);
        for (long i = a; i <= b; i++) m |= 1u << i;
        s = *end == ',' ? end + 1 : end;
    }
    return m;
}

static void ids_text(uint32_t m, char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < NROWS; i++)
        if (m >> i & 1) n += (size_t)snprintf(buf + n, cap - n, "%s%d", n ? "," : "", i);
}

struct match_case {
    const char *expr;
    const char *ids;
};

static const struct match_case match_cases[] = {
    {"id < 3", "0-2"},
    {"id in [1, 3, 5, 100]", "1,3,5"},
    {"id not in [0,1,2,3,4,5,6,7,8,9]", "10-19"},
    {"id IN [0x10, 0b11, 010]", "3,8,16"},
    {"price > 100", "3,8,11-19"},
    {"100 <= price < 200", "2,10-19"},
    {"200 > price >= 99.99", "2,7,10-19"},
    {"-5 < price < 5", "4,5"},
    {"price * 2 > 100", "2,3,7,8,10-19"},
    {"200+300 < price", "8"},
    {"price == 1e6", "8"},
    {"price > 1.5e2", "3,8,16-19"},
    {"price < -1 || price > 1e5", "5,8"},
    {"price != price", ""},
    {"name == \"apple\"", "0,9"},
    {"name == 'apple'", "0,9"},
    {"name == \"na\\u00efve\"", "6"},
    {"name > \"y\"", "8"},
    {"name like \"app%\"", "0,9"},
    {"name LIKE \"%pie\"", "3"},
    {"name like \"a_b\"", "7"},
    {"name like \"a\\\\_b\"", "7"},
    {"name like \"a\\_b\"", "7"},
    {"name like \"50\\\\%%\"", "5"},
    {"name like \"na_ve\"", "6"},
    {"name like \"%\"", "0-19"},
    {"name like \"_%\"", "0-3,5-19"},
    {"name like \"item1_\"", "10-19"},
    {"name like \"%e%e\"", "3"},
    {"tags[0] == \"red\"", "0,2,9"},
    {"array_contains(tags, \"fruit\")", "0-2"},
    {"array_contains_all(tags, [\"red\", \"fruit\"])", "0,2"},
    {"array_contains_any(tags, [\"sale\", \"animal\", \"\\u00e9\"])", "5,6,8"},
    {"ARRAY_CONTAINS(tags, \"x\") OR JSON_CONTAINS(meta[\"tags\"], \"c\")", "6,7"},
    {"array_length(tags) == 0", "4"},
    {"array_length(nums) >= 3", "0,7,9"},
    {"nums == [1, 2, 3]", "0"},
    {"nums[1] == 5", "5"},
    {"nums[0] in [1, 10]", "0,3,9,10"},
    {"array_contains(nums, 5)", "5"},
    {"array_contains_all(tags, [])", "0-19"},
    {"array_contains_any(tags, [])", ""},
    {"meta[\"color\"] == \"red\"", "0,2"},
    {"meta[\"color\"] != \"red\"", "1,3-6,8-19"},
    {"meta[\"color\"] in [\"red\", \"brown\"]", "0,2,3"},
    {"meta[\"size\"] > 1", "1,6,8-19"},
    {"meta[\"size\"] >= 1 && meta[\"size\"] <= 2", "0,1"},
    {"1 <= meta[\"size\"] <= 2", "0,1"},
    {"meta[\"size\"] % 2 == 0", "1,10,12,14,16,18"},
    {"meta[\"group\"] == 1", "10,13,16,19"},
    {"meta[\"nested\"][\"k\"][2][\"z\"] == true", "3"},
    {"meta[\"nested\"][\"k\"][0] == 1", "3"},
    {"meta['nested']['k'][\"2\"]['z']", "3"},
    {"json_contains(meta[\"tags\"], \"b\")", "0,1"},
    {"json_contains_any(meta[\"tags\"], [\"c\", \"zz\"])", "6"},
    {"json_contains_all(meta[\"tags\"], [\"a\", \"b\"])", "0"},
    {"array_length(meta[\"tags\"]) == 0", "2"},
    {"meta is null", "7"},
    {"meta is not null", "0-6,8-19"},
    {"meta[\"color\"] is null", "4-8,10-19"},
    {"rating is null", "1,4,9,12,16"},
    {"rating IS NOT NULL", "0,2,3,5-8,10,11,13-15,17-19"},
    {"rating != 3", "0,3,5-7,10,11,14,15,17,19"},
    {"not (rating > 2)", "5,6,10,11,15,17"},
    {"not rating > 2", "5,6,10,11,15,17"},
    {"rating > 2 or id == 1", "0-3,7,8,13,14,18,19"},
    {"rating > 2 and id == 1", ""},
    {"age > 25", "0,5,6,10-19"},
    {"age is null", "2,3,7,9"},
    {"city == \"Paris\" or city == \"Rome\"", "0,2"},
    {"vip == true", "5"},
    {"vip", "5"},
    {"$meta[\"age\"] == 30", "0,6,10"},
    {"json_contains($meta[\"tags\"], \"new\")", "9"},
    {"active", "0,2,4,6,8,10,12,14,16,18"},
    {"not active and id < 4", "1,3"},
    {"active == false && price < 10", "5,9"},
    {"!(id > 1)", "0,1"},
    {"score == 0.1", "0"},
    {"score in [0.5, 1.5]", "1,2"},
    {"score > 99.98 and score < 99.999", "7"},
    {"id % 2 == 0 and id > 14", "16,18"},
    {"id ** 2 > 300", "18,19"},
    {"-id < -17", "18,19"},
    {"(id + 1) * 2 == 10", "4"},
    {"id / 3 == 2", "6-8"},
    {"id == 1 or id == 2 or id == 3", "1-3"},
    {"id > 2 == true", "3-19"},
    {"(id > 10) == (price > 100)", "0-2,4-7,9-19"},
    {"", "0-19"},
    {"  \t\n", "0-19"},
    {"true", "0-19"},
    {"False", ""},
    {"1 < 2", "0-19"},
    {"id >= 0 and false", ""},
    {"name in []", ""},
    {"not (name in [])", "0-19"},
    {"id == -9223372036854775808 or id == 9223372036854775807", ""},
    {"id > -9223372036854775808", "0-19"},
    {"id > 18446744073709551615.0", ""},
    {"id < 1e300 and id > -1e300", "0-19"},
};

static bool eval_mask(const struct expr *e, struct dataset *d, uint32_t *mask, struct pxs_err *err) {
    struct expr_row_access acc = {get_field, d};
    uint64_t rows[NROWS];
    for (int i = 0; i < NROWS; i++) rows[i] = (uint64_t)i;
    uint8_t bits[(NROWS + 7) / 8];
    if (expr_eval_rows(e, &acc, rows, NROWS, bits, err) != PXS_OK) return false;
    *mask = 0;
    for (int i = 0; i < NROWS; i++) {
        bool hit;
        if (expr_eval(e, &acc, (uint64_t)i, &hit, err) != PXS_OK) return false;
        if (hit != (bits[i / 8] >> (i % 8) & 1)) return false;
        if (hit) *mask |= 1u << i;
    }
    return true;
}

PXS_TEST(expr_matches) {
    struct dataset d;
    dataset_init(&d);
    int failures = 0;
    for (size_t c = 0; c < sizeof match_cases / sizeof match_cases[0]; c++) {
        const struct match_case *mc = &match_cases[c];
        struct pxs_err err = {0};
        struct expr *e = NULL;
        if (expr_compile(mc->expr, SIZE_MAX, &schema, &e, &err) != PXS_OK) {
            printf("    compile %s: %s\n", mc->expr, err.msg);
            failures++;
            continue;
        }
        uint32_t got = 0;
        if (!eval_mask(e, &d, &got, &err)) {
            printf("    eval %s: %s\n", mc->expr, err.msg);
            failures++;
        } else if (got != parse_ids(mc->ids)) {
            char buf[128];
            ids_text(got, buf, sizeof buf);
            printf("    %s: got {%s}, want {%s}\n", mc->expr, buf, mc->ids);
            failures++;
        }
        /* the canonical form compiles back to itself and matches the same rows */
        struct pxs_buf a, b;
        pxs_buf_init(&a, 1 << 20);
        pxs_buf_init(&b, 1 << 20);
        struct expr *e2 = NULL;
        uint32_t got2 = 0;
        if (expr_to_string(e, &a) != PXS_OK || expr_compile(a.data, a.len, &schema, &e2, &err) != PXS_OK ||
            expr_to_string(e2, &b) != PXS_OK || a.len != b.len || memcmp(a.data, b.data, a.len) != 0 ||
            !eval_mask(e2, &d, &got2, &err) || got2 != got) {
            printf("    round trip of %s: '%s' -> '%s' (%s)\n", mc->expr, a.data ? a.data : "",
                   b.data ? b.data : "", err.msg);
            failures++;
        }
        pxs_buf_free(&a);
        pxs_buf_free(&b);
        expr_free(e2);
        expr_free(e);
    }
    dataset_free(&d);
    CHECK_EQ_INT(failures, 0);
}

struct error_case {
    const char *expr;
    int code;
    const char *msg; /* expected substring */
};

static const struct error_case error_cases[] = {
    /* syntax */
    {"price == ", PXS_EINVAL, "syntax error at position 9: expected a value after '==', found end of input"},
    {"price > 10 and", PXS_EINVAL, "position 14: expected a value after 'and'"},
    {"(price > 10", PXS_EINVAL, "position 11: expected ')' to close '(' at position 0"},
    {"price >> 3", PXS_EINVAL, "position 6: operator '>>' is not supported"},
    {"price & 3", PXS_EINVAL, "position 6: operator '&' is not supported"},
    {"name = \"x\"", PXS_EINVAL, "position 5: unexpected '=' (use '==')"},
    {"name == \"abc", PXS_EINVAL, "position 8: unterminated string"},
    {"id in [1, 2", PXS_EINVAL, "position 11: expected ',' or ']' to close '[' at position 6"},
    {"foo(1)", PXS_EINVAL, "position 0: unknown function 'foo'"},
    {"json_contains(meta)", PXS_EINVAL, "position 0: json_contains takes 2 arguments, got 1"},
    {"1 < id > 3", PXS_EINVAL, "position 7: a range must use"},
    {"1 < id < 3 < 4", PXS_EINVAL, "position 11: a range compares at most three values"},
    {"id == 1 2", PXS_EINVAL, "position 8: unexpected '2' after a complete expression"},
    {"name == \"a\\q\"", PXS_EINVAL, "position 10: invalid escape sequence '\\q'"},
    {"name == \"\\ud800\"", PXS_EINVAL, "position 9: invalid code point"},
    {"id == 0x", PXS_EINVAL, "position 6: missing digits"},
    {"id == 12abc", PXS_EINVAL, "position 6: malformed number"},
    {"id == 09", PXS_EINVAL, "position 7: invalid digit '9' in octal literal"},
    {"id == 99999999999999999999", PXS_EINVAL, "position 6: integer literal out of range"},
    {"price > 1e999", PXS_EINVAL, "position 8: float literal out of range"},
    {"rating is nul", PXS_EINVAL, "position 10: expected 'null'"},
    {"id + 1 is null", PXS_EINVAL, "'is null' applies to a field"},
    {"meta[1.5] == 1", PXS_EINVAL, "position 5: expected a string key or an integer index"},
    {"id == #", PXS_EINVAL, "position 6: unexpected character '#'"},
    {"$foo == 1", PXS_EINVAL, "position 0: unexpected '$'"},
    {"and id > 1", PXS_EINVAL, "position 0: expected a value, found 'and'"},
    {"id not like \"a\"", PXS_EINVAL, "unexpected 'not' after a complete expression"},
    {"()", PXS_EINVAL, "position 1: expected a value after '(', found ')'"},
    /* types */
    {"name == 1", PXS_EINVAL, "type error at position 5: cannot compare field 'name' (VARCHAR) with an integer constant"},
    {"price like \"a%\"", PXS_EINVAL, "type error at position 6: 'like' needs a string, got field 'price' (DOUBLE)"},
    {"array_contains(price, 1)", PXS_EINVAL, "needs a JSON or ARRAY field, got field 'price' (DOUBLE)"},
    {"array_contains(tags, 1)", PXS_EINVAL, "element 0 is an integer, the array holds VARCHAR"},
    {"json_contains_all(meta, 1)", PXS_EINVAL, "must be a list"},
    {"name + 1 > 2", PXS_EINVAL, "type error at position 5: '+' needs numbers, got field 'name' (VARCHAR)"},
    {"id in [1, \"a\"]", PXS_EINVAL, "list element 1 is a string"},
    {"id in 5", PXS_EINVAL, "the right side of 'in' must be a constant list"},
    {"id in [id]", PXS_EINVAL, "array elements must be constants"},
    {"price % 2 == 0", PXS_EINVAL, "'%' needs integers"},
    {"id", PXS_EINVAL, "the filter must be a boolean expression, got field 'id' (INT64)"},
    {"1 + 2", PXS_EINVAL, "must be a boolean expression"},
    {"id / 0 > 1", PXS_EINVAL, "type error at position 3: division by zero"},
    {"id > 5 % 0", PXS_EINVAL, "division by zero"},
    {"1 < id < 0", PXS_EINVAL, "invalid range"},
    {"1 < id < 1", PXS_EINVAL, "invalid range"},
    {"tags > 1", PXS_EINVAL, "cannot compare field 'tags' (ARRAY of VARCHAR) with an integer constant"},
    {"price[\"k\"] == 1", PXS_EINVAL, "field 'price' (DOUBLE) is not JSON or ARRAY"},
    {"tags[\"k\"] == \"a\"", PXS_EINVAL, "array field 'tags' takes a single integer index"},
    {"not id", PXS_EINVAL, "'not' needs boolean operands"},
    {"id > 1 and price", PXS_EINVAL, "'and' needs boolean operands"},
    {"active < true", PXS_EINVAL, "cannot compare"},
    {"id == 9223372036854775808", PXS_EINVAL, "integer literal out of range"},
    {"1e308 * 10 > id", PXS_EINVAL, "constant arithmetic overflows"},
    {"nums == [\"a\"]", PXS_EINVAL, "array comparison: element 0 is a string"},
    /* limits */
    {"not not not not not not not not not not not not not not not not not not not not not not not not "
     "not not not not not not not not not not not not not not not not not not not not not not not not "
     "not not not not not not not not not not not not not not not not not not not not not not not not "
     "active",
     PXS_ELIMIT, "nested too deeply"},
};

PXS_TEST(expr_errors) {
    int failures = 0;
    for (size_t c = 0; c < sizeof error_cases / sizeof error_cases[0]; c++) {
        const struct error_case *ec = &error_cases[c];
        struct pxs_err err = {0};
        struct expr *e = NULL;
        int rc = expr_compile(ec->expr, SIZE_MAX, &schema, &e, &err);
        if (rc != ec->code || !strstr(err.msg, ec->msg) || e) {
            printf("    %s: rc %d, '%s'; want %d, '%s'\n", ec->expr, rc, err.msg, ec->code, ec->msg);
            failures++;
        }
        expr_free(e);
    }
    CHECK_EQ_INT(failures, 0);
}

PXS_TEST(expr_unknown_field_without_dynamic) {
    struct pxs_err err = {0};
    struct expr *e = NULL;
    CHECK_EQ_INT(expr_compile("id > 1 and age > 3", SIZE_MAX, &schema_static, &e, &err), PXS_EINVAL);
    CHECK_STR(err.msg, "type error at position 11: unknown field 'age'");
    pxs_err_clear(&err);
    CHECK_EQ_INT(expr_compile("$meta[\"a\"] == 1", SIZE_MAX, &schema_static, &e, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "needs a collection with a dynamic field") != NULL);
    CHECK_OK(expr_compile("id > 1", SIZE_MAX, &schema_static, &e, &err), &err);
    expr_free(e);
}

static void repeat(struct pxs_buf *b, const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (pxs_buf_append(b, s, strlen(s)) != PXS_OK) return;
}

PXS_TEST(expr_limits) {
    struct pxs_err err = {0};
    struct expr *e = NULL;
    struct pxs_buf b;
    pxs_buf_init(&b, 1 << 22);

    /* deep parentheses */
    repeat(&b, "(", 1000);
    repeat(&b, "id > 1", 1);
    repeat(&b, ")", 1000);
    CHECK_EQ_INT(expr_compile(b.data, b.len, &schema, &e, &err), PXS_ELIMIT);
    CHECK(strstr(err.msg, "nested too deeply at position") != NULL);

    /* 63 levels are fine */
    pxs_buf_reset(&b);
    pxs_err_clear(&err);
    repeat(&b, "(", 62);
    repeat(&b, "id > 1", 1);
    repeat(&b, ")", 62);
    CHECK_OK(expr_compile(b.data, b.len, &schema, &e, &err), &err);
    expr_free(e);

    /* deep brackets and unary minus */
    pxs_buf_reset(&b);
    pxs_err_clear(&err);
    repeat(&b, "meta == ", 1);
    repeat(&b, "[", 5000);
    CHECK_EQ_INT(expr_compile(b.data, b.len, &schema, &e, &err), PXS_ELIMIT);
    pxs_buf_reset(&b);
    pxs_err_clear(&err);
    repeat(&b, "id == ", 1);
    repeat(&b, "-", 5000);
    repeat(&b, "1", 1);
    CHECK_EQ_INT(expr_compile(b.data, b.len, &schema, &e, &err), PXS_ELIMIT);

    /* too long */
    pxs_buf_reset(&b);
    pxs_err_clear(&err);
    repeat(&b, "id > 1 and ", 7000);
    repeat(&b, "true", 1);
    CHECK(b.len > EXPR_MAX_LEN);
    CHECK_EQ_INT(expr_compile(b.data, b.len, &schema, &e, &err), PXS_ELIMIT);
    CHECK(strstr(err.msg, "expression too long") != NULL);

    /* long arithmetic chain: tree height */
    pxs_buf_reset(&b);
    pxs_err_clear(&err);
    repeat(&b, "id", 1);
    repeat(&b, " + 1", 400);
    repeat(&b, " > 5", 1);
    CHECK_EQ_INT(expr_compile(b.data, b.len, &schema, &e, &err), PXS_ELIMIT);
    CHECK(strstr(err.msg, "too complex") != NULL);

    /* array literal size */
    pxs_buf_reset(&b);
    pxs_err_clear(&err);
    repeat(&b, "id in [", 1);
    repeat(&b, "1,", EXPR_MAX_ARRAY + 1);
    repeat(&b, "1]", 1);
    CHECK_EQ_INT(expr_compile(b.data, b.len, &schema, &e, &err), PXS_ELIMIT);
    CHECK(strstr(err.msg, "more than 16384 elements") != NULL);

    /* a long flat or-chain (common: id == 1 or id == 2 ...) compiles and runs */
    pxs_buf_reset(&b);
    pxs_err_clear(&err);
    for (int i = 0; i < 4000; i++)
        CHECK_EQ_INT(pxs_buf_appendf(&b, "%sid == %d", i ? " or " : "", i * 5), PXS_OK);
    CHECK(b.len < EXPR_MAX_LEN);
    CHECK_OK(expr_compile(b.data, b.len, &schema, &e, &err), &err);
    struct dataset d;
    dataset_init(&d);
    uint32_t mask = 0;
    bool ok = eval_mask(e, &d, &mask, &err);
    dataset_free(&d);
    expr_free(e);
    CHECK(ok);
    CHECK_EQ_INT(mask, parse_ids("0,5,10,15"));

    /* thousands of string literals */
    pxs_buf_reset(&b);
    repeat(&b, "name in [", 1);
    for (int i = 0; i < 8000; i++) CHECK_EQ_INT(pxs_buf_appendf(&b, "\"s%d\",", i), PXS_OK);
    repeat(&b, "\"zebra\"]", 1);
    CHECK(b.len < EXPR_MAX_LEN);
    CHECK_OK(expr_compile(b.data, b.len, &schema, &e, &err), &err);
    dataset_init(&d);
    ok = eval_mask(e, &d, &mask, &err);
    dataset_free(&d);
    expr_free(e);
    CHECK(ok);
    CHECK_EQ_INT(mask, parse_ids("8"));

    /* a big in-list uses binary search and still matches */
    pxs_buf_reset(&b);
    repeat(&b, "id in [", 1);
    for (int i = 10000; i > 0; i--) CHECK_EQ_INT(pxs_buf_appendf(&b, "%d,", i * 3), PXS_OK);
    repeat(&b, "0] and name not in [\"zebra\", \"apple\", \"cherry\"]", 1);
    CHECK_OK(expr_compile(b.data, b.len, &schema, &e, &err), &err);
    dataset_init(&d);
    ok = eval_mask(e, &d, &mask, &err);
    dataset_free(&d);
    expr_free(e);
    CHECK(ok);
    CHECK_EQ_INT(mask, parse_ids("3,6,12,15,18"));
    pxs_buf_free(&b);
}

struct print_case {
    const char *expr, *canon;
};

static const struct print_case print_cases[] = {
    {"price * 2 > 100", "((price * 2) > 100)"},
    {"200+300 < price", "(500 < price)"},
    {"100 <= price < 200", "(100 <= price < 200)"},
    {"not id == 1", "(not (id == 1))"},
    {"age > 25", "($meta[\"age\"] > 25)"},
    {"id == 2 ** 3 ** 2", "(id == 64.0)"},
    {"id == -2 ** 2", "(id == -4.0)"},
    {"id == 2 ** -1", "(id == 0.5)"},
    {"id == 7 / 2 + 7 % 3 - -1", "(id == 5)"},
    {"id == 1 + 2 * 3 - 4", "(id == 3)"},
    {"true and id > 1", "(id > 1)"},
    {"id > 1 or false or price < 2", "((id > 1) or (price < 2))"},
    {"id > 1 or true", "true"},
    {"a and b && c and (d or e || f)", "($meta[\"a\"] and $meta[\"b\"] and $meta[\"c\"] and ($meta[\"d\"] or $meta[\"e\"] or $meta[\"f\"]))"},
    {"id in [3, 1, 2]", "(id in [1, 2, 3])"},
    {"id not in [1]", "(not (id in [1]))"},
    {"name like 'a\\\\_b%'", "(name like \"a\\_b%\")"},
    {"name == \"tab\\there \\\"q\\\" \\x01\"", "(name == \"tab\\x09here \\\"q\\\" \\x01\")"},
    {"meta[\"a\"][0]['b'] is not null", "(meta[\"a\"][0][\"b\"] is not null)"},
    {"JSON_CONTAINS_ANY(meta, [1, [2, 3], \"x\", true, 1.5])",
     "json_contains_any(meta, [1, [2, 3], \"x\", true, 1.5])"},
    {"array_length(tags) > 1 + 1", "(array_length(tags) > 2)"},
    {"id == -9223372036854775808", "(id == -9223372036854775808)"},
    {"score == -0.0", "(score == -0.0)"},
    {"\"b\" > \"a\"", "true"},
    {"1 == 1.0 and 2 < 2.5 and not (3 != 3)", "true"},
    {"\"abc\" like \"a%c\" and 'x' in ['x']", "true"},
    {"price > 1e21", "(price > 1e+21)"},
    {"(-2) ** id > 0", "(((-2) ** id) > 0)"},
    {"-2 ** id > 0", "((-(2 ** id)) > 0)"},
    {"(-0.0) ** price < 1", "(((-0.0) ** price) < 1)"},
    {"vip or 2 > 1e18", "($meta[\"vip\"] or false)"},
    {"true and vip", "($meta[\"vip\"] and true)"},
};

PXS_TEST(expr_canonical_form) {
    int failures = 0;
    for (size_t c = 0; c < sizeof print_cases / sizeof print_cases[0]; c++) {
        struct pxs_err err = {0};
        struct expr *e = NULL;
        struct pxs_buf b;
        pxs_buf_init(&b, 1 << 16);
        if (expr_compile(print_cases[c].expr, SIZE_MAX, &schema, &e, &err) != PXS_OK ||
            expr_to_string(e, &b) != PXS_OK || strcmp(b.data, print_cases[c].canon) != 0) {
            printf("    %s: got '%s' (%s), want '%s'\n", print_cases[c].expr, b.data ? b.data : "",
                   err.msg, print_cases[c].canon);
            failures++;
        }
        pxs_buf_free(&b);
        expr_free(e);
    }
    CHECK_EQ_INT(failures, 0);
}

PXS_TEST(expr_constant_and_fields) {
    struct pxs_err err = {0};
    struct expr *e = NULL;
    bool v = false;
    CHECK_OK(expr_compile("1 < 2 or id > 3", SIZE_MAX, &schema, &e, &err), &err);
    CHECK(expr_is_constant(e, &v) && v);
    CHECK(!expr_reads_field(e, F_ID));
    bool hit = false;
    CHECK_OK(expr_eval(e, NULL, 0, &hit, &err), &err); /* no accessor needed */
    CHECK(hit);
    expr_free(e);
    CHECK_OK(expr_compile("id > 3 and age < 9", SIZE_MAX, &schema, &e, &err), &err);
    CHECK(!expr_is_constant(e, &v));
    CHECK(expr_reads_field(e, F_ID) && expr_reads_field(e, F_DYN) && !expr_reads_field(e, F_NAME));
    expr_free(e);
    expr_free(NULL);
}

PXS_TEST(expr_accessor_errors) {
    struct dataset d;
    dataset_init(&d);
    struct expr_row_access acc = {get_field, &d};
    struct pxs_err err = {0};
    struct expr *e = NULL;
    bool hit = true;
    CHECK_OK(expr_compile("price > 1 and meta[\"x\"] == 1", SIZE_MAX, &schema, &e, &err), &err);

    d.fail_field = F_META;
    d.fail_code = PXS_EIO;
    CHECK_EQ_INT(expr_eval(e, &acc, 3, &hit, &err), PXS_EIO);
    CHECK(!hit);
    CHECK_STR(err.msg, "injected failure");
    d.fail_field = -1;

    pxs_err_clear(&err);
    d.bad_kind_field = F_PRICE;
    CHECK_EQ_INT(expr_eval(e, &acc, 3, &hit, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "does not fit field 'price'") != NULL);
    d.bad_kind_field = -1;

    pxs_err_clear(&err);
    d.rows[3].meta = "{\"x\": ";
    CHECK_EQ_INT(expr_eval(e, &acc, 3, &hit, &err), PXS_ECORRUPT);
    CHECK(strstr(err.msg, "invalid JSON") != NULL);

    pxs_err_clear(&err);
    CHECK_EQ_INT(expr_eval(e, &acc, 99, &hit, &err), PXS_ENOTFOUND);
    CHECK_EQ_INT(expr_eval(e, NULL, 1, &hit, &err), PXS_EINVAL);
    expr_free(e);
    dataset_free(&d);
}

PXS_TEST(expr_alloc_failures) {
    const char *text = "(price * 2 > 100 or name like \"a%\") and meta[\"k\"][0] in [1, 2, [3]] and "
                       "age is not null and json_contains_any(tags, [\"x\", \"y\"]) and 1 < id <= 10";
    for (long n = 1; n < 200; n++) {
        struct pxs_err err = {0};
        struct expr *e = NULL;
        pxs_alloc_fail_after(n);
        int rc = expr_compile(text, SIZE_MAX, &schema, &e, &err);
        pxs_alloc_fail_after(0);
        if (rc == PXS_OK) {
            expr_free(e);
            CHECK(n > 1);
            return;
        }
        CHECK_EQ_INT(rc, PXS_ENOMEM);
        CHECK(e == NULL);
    }
    CHECK_MSG(0, "compile never succeeded");
}
