/*
 * fuzz/fuzz_coll_json.c — the vector collections' JSON parsers
 * (src/engine/coll_schema.c, coll_row.c) on arbitrary bytes. The first byte
 * chooses the parser:
 *   even: a collections/create request. An accepted schema must survive
 *         its stored record: record -> parse -> record gives the same bytes,
 *         and describe output is valid JSON.
 *   odd:  a batch of rows for a fixed schema with every field type and a
 *         dynamic field. Each accepted row must decode from its record, and
 *         its "*" output must be valid JSON.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>

#include "engine/coll_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *row_schema_json =
    "{\"collectionName\":\"f\",\"schema\":{\"enableDynamicField\":true,\"fields\":["
    "{\"fieldName\":\"pk\",\"dataType\":\"VarChar\",\"isPrimary\":true,\"elementTypeParams\":{\"max_length\":16}},"
    "{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":3}},"
    "{\"fieldName\":\"b\",\"dataType\":\"Bool\",\"nullable\":true},"
    "{\"fieldName\":\"i8\",\"dataType\":\"Int8\",\"defaultValue\":-1},"
    "{\"fieldName\":\"i64\",\"dataType\":\"Int64\",\"nullable\":true},"
    "{\"fieldName\":\"fl\",\"dataType\":\"Float\",\"defaultValue\":0.25},"
    "{\"fieldName\":\"d\",\"dataType\":\"Double\",\"nullable\":true},"
    "{\"fieldName\":\"s\",\"dataType\":\"VarChar\",\"nullable\":true,\"elementTypeParams\":{\"max_length\":8}},"
    "{\"fieldName\":\"j\",\"dataType\":\"JSON\",\"nullable\":true},"
    "{\"fieldName\":\"a\",\"dataType\":\"Array\",\"elementDataType\":\"Int16\",\"nullable\":true,"
    "\"elementTypeParams\":{\"max_capacity\":4}}]}}";

static void check_valid_json(const char *text, size_t len) {
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!j) __builtin_trap();
    cJSON_Delete(j);
}

static void fuzz_create(const char *text) {
    cJSON *req = NULL;
    if (cj_parse(text, &req, NULL) != PXS_OK) return;
    struct coll_schema *s = NULL;
    if (schema_from_request(req, false, &s, NULL) == PXS_OK) {
        s->id = 7;
        struct pxs_buf r1, r2, d;
        pxs_buf_init(&r1, 1 << 24);
        pxs_buf_init(&r2, 1 << 24);
        pxs_buf_init(&d, 1 << 24);
        if (schema_to_record(s, &r1) != PXS_OK) __builtin_trap();
        struct coll_schema *back = schema_clone(s, NULL);
        if (!back || schema_to_record(back, &r2) != PXS_OK || r1.len != r2.len || memcmp(r1.data, r2.data, r1.len))
            __builtin_trap();
        if (schema_describe(s, &d) != PXS_OK) __builtin_trap();
        check_valid_json(d.data, d.len);
        schema_free(back);
        pxs_buf_free(&r1);
        pxs_buf_free(&r2);
        pxs_buf_free(&d);
        schema_free(s);
    }
    cJSON_Delete(req);
}

static void fuzz_rows(const char *text) {
    cJSON *sreq = cJSON_Parse(row_schema_json), *rows = cJSON_Parse(text);
    struct coll_schema *s = NULL;
    if (!sreq || schema_from_request(sreq, false, &s, NULL) != PXS_OK) __builtin_trap();
    s->id = 1;
    struct cell cells[16];
    struct out_fields all;
    cJSON *star = cJSON_Parse("[\"*\"]");
    if (out_fields_parse(s, star, &all, NULL) != PXS_OK) __builtin_trap();
    size_t i = 0;
    for (const cJSON *r = cJSON_IsArray(rows) ? rows->child : rows; r; r = r->next, i++) {
        struct pxs_buf rec, out;
        pxs_buf_init(&rec, 1 << 24);
        pxs_buf_init(&out, 1 << 24);
        struct row_in in;
        if (row_encode(s, r, i, 0, NULL, NULL, false, &in, &rec, NULL) == PXS_OK) {
            struct row_view rv = {.cells = cells};
            if (row_decode(s, rec.data + in.rec_off, in.rec_len, &rv, NULL) != PXS_OK) __builtin_trap();
            bool first = true;
            if (pxs_buf_append(&out, "{", 1) != PXS_OK ||
                row_write_fields(s, &rv, &all, 0, &first, &out) != PXS_OK || pxs_buf_append(&out, "}", 1) != PXS_OK)
                __builtin_trap();
            check_valid_json(out.data, out.len);
            pxs_free(in.pk_text);
        }
        pxs_buf_free(&rec);
        pxs_buf_free(&out);
        if (!cJSON_IsArray(rows)) break;
    }
    out_fields_free(&all);
    cJSON_Delete(star);
    schema_free(s);
    cJSON_Delete(sreq);
    cJSON_Delete(rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1 << 16)) return 0;
    char *text = pxs_strndup((const char *)data + 1, size - 1);
    if (!text) return 0;
    if (data[0] & 1) fuzz_rows(text);
    else fuzz_create(text);
    pxs_free(text);
    return 0;
}
