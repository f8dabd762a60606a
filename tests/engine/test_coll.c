/*
 * tests/engine/test_coll.c — vector collections through the public JSON
 * API: schema validation errors, the catalog (create, describe, list, has,
 * rename, drop), insert / get / query / delete / upsert round trips,
 * count(*) after deletes, every bad row rejected with nothing applied,
 * dynamic fields, defaults and nulls, partitions.
 */
#include "../test.h"

#include <string.h>

#include "coll_test_util.h"

static int row_count(pxs_engine *e, const char *name) {
    struct pxs_err err;
    char *out = NULL;
    if (coll_call(e, pxs_coll_get_stats, &out, &err, "{\"collectionName\":\"%s\"}", name) != PXS_OK) return -1;
    cJSON *j = cJSON_Parse(out);
    int n = j ? (int)cJSON_GetObjectItem(j, "rowCount")->valuedouble : -1;
    cJSON_Delete(j);
    pxs_free(out);
    return n;
}

static int query_count(pxs_engine *e, const char *name, const char *filter) {
    struct pxs_err err;
    char *out = NULL;
    if (coll_call(e, pxs_coll_query, &out, &err,
                  "{\"collectionName\":\"%s\",\"filter\":\"%s\",\"outputFields\":[\"count(*)\"]}", name, filter) != PXS_OK) {
        fprintf(stdout, "    query failed: %s\n", err.msg);
        return -1;
    }
    cJSON *j = cJSON_Parse(out);
    int n = j ? (int)cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "count(*)")->valuedouble : -1;
    cJSON_Delete(j);
    pxs_free(out);
    return n;
}

PXS_TEST(coll_schema_errors) {
    pxs_engine *e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    static const struct {
        const char *req;
        const char *msg;
    } bad[] = {
        {"{}", "collectionName is required"},
        {"{\"collectionName\":\"1abc\",\"dimension\":4}", "collectionName"},
        {"{\"collectionName\":\"a-b\",\"dimension\":4}", "invalid"},
        {"{\"collectionName\":\"c\"}", "dimension is required"},
        {"{\"collectionName\":\"c\",\"dimension\":0}", "dimension"},
        {"{\"collectionName\":\"c\",\"dimension\":32769}", "dimension"},
        {"{\"collectionName\":\"c\",\"dimension\":4,\"idType\":\"VarChar\"}", "max_length"},
        {"{\"collectionName\":\"c\",\"dimension\":4,\"idType\":\"Float\"}", "idType"},
        {"{\"collectionName\":\"c\",\"dimension\":4,\"metricType\":\"HAMMING\"}", "HAMMING"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"v\",\"dataType\":\"FloatVector\","
         "\"elementTypeParams\":{\"dim\":4}}]}}", "no primary key"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
         "\"isPrimary\":true}]}}", "no vector field"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
         "\"isPrimary\":true},{\"fieldName\":\"id2\",\"dataType\":\"Int64\",\"isPrimary\":true},{\"fieldName\":"
         "\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}", "more than one primary"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Double\","
         "\"isPrimary\":true},{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}",
         "Int64 or VarChar"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
         "\"isPrimary\":true},{\"fieldName\":\"v\",\"dataType\":\"BinaryVector\",\"elementTypeParams\":{\"dim\":12}}]}}",
         "multiple of 8"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
         "\"isPrimary\":true},{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}},"
         "{\"fieldName\":\"w\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}", "more than one vector"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
         "\"isPrimary\":true},{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}},"
         "{\"fieldName\":\"s\",\"dataType\":\"VarChar\"}]}}", "max_length"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
         "\"isPrimary\":true},{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}},"
         "{\"fieldName\":\"a\",\"dataType\":\"Array\",\"elementDataType\":\"Int32\"}]}}", "max_capacity"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
         "\"isPrimary\":true},{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}},"
         "{\"fieldName\":\"a\",\"dataType\":\"Array\",\"elementDataType\":\"JSON\",\"elementTypeParams\":"
         "{\"max_capacity\":4}}]}}", "elementDataType"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
         "\"isPrimary\":true},{\"fieldName\":\"v\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}},"
         "{\"fieldName\":\"n\",\"dataType\":\"Int8\",\"defaultValue\":300}]}}", "out of range"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
         "\"isPrimary\":true},{\"fieldName\":\"id\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}}]}}",
         "used twice"},
        {"{\"collectionName\":\"c\",\"schema\":{\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"Int64\","
         "\"isPrimary\":true},{\"fieldName\":\"v\",\"dataType\":\"Vector\",\"elementTypeParams\":{\"dim\":4}}]}}",
         "not supported"},
        {"{\"collectionName\":\"c\",\"schema\":{\"autoId\":true,\"fields\":[{\"fieldName\":\"id\",\"dataType\":\"VarChar\","
         "\"isPrimary\":true,\"elementTypeParams\":{\"max_length\":8}},{\"fieldName\":\"v\",\"dataType\":\"FloatVector\","
         "\"elementTypeParams\":{\"dim\":4}}]}}", "autoId"},
        {"{\"collectionName\":\"c\",\"dimension\":4,\"indexParams\":[{\"fieldName\":\"vector\",\"indexType\":\"HNSW\","
         "\"metricType\":\"L2\",\"params\":{\"M\":1}}]}", "M must be"},
        {"{\"collectionName\":\"c\",\"dimension\":4,\"indexParams\":[{\"fieldName\":\"vector\",\"indexType\":\"IVF_PQ\","
         "\"metricType\":\"L2\",\"params\":{\"m\":3}}]}", "IVF_PQ"},
        {"{\"collectionName\":\"c\",\"dimension\":4,\"indexParams\":[{\"fieldName\":\"vector\",\"indexType\":\"DISKANN\"}]}",
         "not supported"},
        {"{\"collectionName\":\"c\",\"dimension\":4,\"indexParams\":[{\"fieldName\":\"nope\",\"indexType\":\"FLAT\"}]}",
         "no such field"},
        {"{\"collectionName\":\"c\",\"dimension\":4", "not valid JSON"},
    };
    struct pxs_err err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pxs_err_clear(&err);
        int rc = pxs_coll_create(e, bad[i].req, 0, NULL, &err);
        CHECK_MSG(rc == PXS_EINVAL, "case %zu: rc %d (%s)", i, rc, err.msg);
        CHECK_MSG(strstr(err.msg, bad[i].msg), "case %zu: message \"%s\" lacks \"%s\"", i, err.msg, bad[i].msg);
    }
    char *out = NULL;
    CHECK_OK(coll_call(e, pxs_coll_list, &out, &err, "{}"), &err);
    CHECK_STR(out, "[]"); /* nothing was created */
    pxs_free(out);
    pxs_engine_close(e);
}

PXS_TEST(coll_catalog) {
    pxs_engine *e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    struct pxs_err err;
    char *out = NULL;
    CHECK_OK(coll_call(e, pxs_coll_create, NULL, &err, "{\"collectionName\":\"b\",\"dimension\":8}"), &err);
    CHECK_OK(coll_call(e, pxs_coll_create, NULL, &err, "{\"collectionName\":\"a\",\"dimension\":4,"
                       "\"metricType\":\"L2\",\"idType\":\"VarChar\",\"params\":{\"max_length\":16}}"), &err);
    CHECK_EQ_INT(coll_call(e, pxs_coll_create, NULL, &err, "{\"collectionName\":\"a\",\"dimension\":4}"), PXS_EEXIST);
    CHECK_OK(coll_call(e, pxs_coll_list, &out, &err, "{}"), &err);
    CHECK_STR(out, "[\"a\",\"b\"]");
    pxs_free(out);
    CHECK_OK(coll_call(e, pxs_coll_has, &out, &err, "{\"collectionName\":\"a\"}"), &err);
    CHECK_STR(out, "{\"has\":true}");
    pxs_free(out);
    CHECK_OK(coll_call(e, pxs_coll_has, &out, &err, "{\"collectionName\":\"zz\"}"), &err);
    CHECK_STR(out, "{\"has\":false}");
    pxs_free(out);
    CHECK_OK(coll_call(e, pxs_coll_describe, &out, &err, "{\"collectionName\":\"a\"}"), &err);
    cJSON *d = cJSON_Parse(out);
    pxs_free(out);
    CHECK(d);
    CHECK_STR(cJSON_GetObjectItem(d, "collectionName")->valuestring, "a");
    cJSON *fields = cJSON_GetObjectItem(d, "fields");
    CHECK_EQ_INT(cJSON_GetArraySize(fields), 2);
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetArrayItem(fields, 0), "type")->valuestring, "VarChar");
    cJSON *idx = cJSON_GetArrayItem(cJSON_GetObjectItem(d, "indexes"), 0);
    CHECK_STR(cJSON_GetObjectItem(idx, "metricType")->valuestring, "L2");
    cJSON_Delete(d);

    CHECK_EQ_INT(coll_call(e, pxs_coll_describe, NULL, &err, "{\"collectionName\":\"zz\"}"), PXS_ENOTFOUND);
    CHECK(strstr(err.msg, "collection zz does not exist"));
    CHECK_EQ_INT(coll_call(e, pxs_coll_insert, NULL, &err, "{\"collectionName\":\"zz\",\"data\":[]}"), PXS_ENOTFOUND);
    CHECK_EQ_INT(coll_call(e, pxs_coll_search, NULL, &err, "{\"collectionName\":\"zz\",\"data\":[[1]]}"), PXS_ENOTFOUND);

    CHECK_OK(coll_call(e, pxs_coll_insert, NULL, &err, "{\"collectionName\":\"a\",\"data\":[{\"id\":\"x\","
                       "\"vector\":[1,2,3,4]}]}"), &err);
    CHECK_EQ_INT(coll_call(e, pxs_coll_rename, NULL, &err, "{\"collectionName\":\"a\",\"newCollectionName\":\"b\"}"),
                 PXS_EEXIST);
    CHECK_OK(coll_call(e, pxs_coll_rename, NULL, &err, "{\"collectionName\":\"a\",\"newCollectionName\":\"c\"}"), &err);
    CHECK_EQ_INT(row_count(e, "c"), 1);
    CHECK_OK(coll_call(e, pxs_coll_drop, NULL, &err, "{\"collectionName\":\"b\"}"), &err);
    CHECK_EQ_INT(coll_call(e, pxs_coll_drop, NULL, &err, "{\"collectionName\":\"b\"}"), PXS_ENOTFOUND);
    pxs_engine_close(e);
    /* survives reopening */
    e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    CHECK_OK(coll_call(e, pxs_coll_list, &out, &err, "{}"), &err);
    CHECK_STR(out, "[\"c\"]");
    pxs_free(out);
    CHECK_OK(coll_call(e, pxs_coll_get, &out, &err, "{\"collectionName\":\"c\",\"id\":[\"x\"],\"outputFields\":[\"*\"]}"),
             &err);
    CHECK_STR(out, "[{\"id\":\"x\",\"vector\":[1,2,3,4]}]");
    pxs_free(out);
    CHECK(pxs_coll_find_op("/v2/vectordb/entities/search") == pxs_coll_search);
    CHECK(pxs_coll_find_op("collections/create") == pxs_coll_create);
    CHECK(pxs_coll_find_op("entities/nope") == NULL);
    pxs_engine_close(e);
}

static const char *full_schema =
    "{\"collectionName\":\"t\",\"schema\":{\"autoId\":false,\"enableDynamicField\":true,\"fields\":["
    "{\"fieldName\":\"pk\",\"dataType\":\"Int64\",\"isPrimary\":true},"
    "{\"fieldName\":\"vec\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":4}},"
    "{\"fieldName\":\"price\",\"dataType\":\"Double\"},"
    "{\"fieldName\":\"name\",\"dataType\":\"VarChar\",\"elementTypeParams\":{\"max_length\":8}},"
    "{\"fieldName\":\"tags\",\"dataType\":\"Array\",\"elementDataType\":\"VarChar\",\"elementTypeParams\":"
    "{\"max_length\":8,\"max_capacity\":3},\"nullable\":true},"
    "{\"fieldName\":\"meta\",\"dataType\":\"JSON\",\"nullable\":true},"
    "{\"fieldName\":\"n\",\"dataType\":\"Int8\",\"defaultValue\":5},"
    "{\"fieldName\":\"ok\",\"dataType\":\"Bool\",\"nullable\":true},"
    "{\"fieldName\":\"f\",\"dataType\":\"Float\",\"defaultValue\":0.5}]},"
    "\"indexParams\":[{\"fieldName\":\"vec\",\"indexType\":\"FLAT\",\"metricType\":\"L2\"}]}";

#define ROW(pk, extra) "{\"pk\":" #pk ",\"vec\":[" #pk ",0,0,0],\"price\":" #pk ".5,\"name\":\"n" #pk "\"" extra "}"

PXS_TEST(coll_rows_round_trip) {
    pxs_engine *e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    struct pxs_err err;
    char *out = NULL;
    CHECK_OK(coll_call(e, pxs_coll_create, NULL, &err, "%s", full_schema), &err);
    CHECK_OK(coll_call(e, pxs_coll_insert, &out, &err, "{\"collectionName\":\"t\",\"data\":["
                       ROW(1, ",\"tags\":[\"a\",\"b\"],\"meta\":{\"k\":1},\"ok\":true,\"color\":\"red\"") ","
                       ROW(2, ",\"tags\":[],\"color\":\"blue\",\"n\":-3") ","
                       ROW(3, ",\"meta\":{\"k\":[1,2]},\"ok\":false,\"f\":1.25") "]}"), &err);
    CHECK_STR(out, "{\"insertCount\":3,\"insertIds\":[1,2,3]}");
    pxs_free(out);
    CHECK_OK(coll_call(e, pxs_coll_get, &out, &err, "{\"collectionName\":\"t\",\"id\":[3,1,99],"
                       "\"outputFields\":[\"*\"]}"), &err);
    CHECK_STR(out, "[{\"pk\":3,\"vec\":[3,0,0,0],\"price\":3.5,\"name\":\"n3\",\"tags\":null,\"meta\":{\"k\":[1,2]},"
                   "\"n\":5,\"ok\":false,\"f\":1.25},"
                   "{\"pk\":1,\"vec\":[1,0,0,0],\"price\":1.5,\"name\":\"n1\",\"tags\":[\"a\",\"b\"],\"meta\":{\"k\":1},"
                   "\"n\":5,\"ok\":true,\"f\":0.5,\"color\":\"red\"}]");
    pxs_free(out);
    /* int64 as strings, selected and dynamic output fields */
    pxs_err_clear(&err);
    CHECK_OK(pxs_coll_get(e, "{\"collectionName\":\"t\",\"id\":2,\"outputFields\":[\"n\",\"color\"]}",
                          PXS_COLL_INT64_AS_STRING, &out, &err), &err);
    CHECK_STR(out, "[{\"pk\":\"2\",\"n\":-3,\"color\":\"blue\"}]");
    pxs_free(out);
    /* query: filters on scalar, array, JSON and dynamic fields */
    CHECK_EQ_INT(query_count(e, "t", "price > 2"), 2);
    CHECK_EQ_INT(query_count(e, "t", "array_contains(tags, 'b')"), 1);
    CHECK_EQ_INT(query_count(e, "t", "meta['k'] == 1"), 1);
    CHECK_EQ_INT(query_count(e, "t", "color in ['red', 'blue']"), 2);
    CHECK_EQ_INT(query_count(e, "t", "ok is null"), 1);
    CHECK_EQ_INT(query_count(e, "t", "name like 'n%' and n == 5"), 2);
    CHECK_EQ_INT(query_count(e, "t", ""), 3);
    CHECK_OK(coll_call(e, pxs_coll_query, &out, &err, "{\"collectionName\":\"t\",\"filter\":\"pk >= 1\","
                       "\"limit\":1,\"offset\":1}"), &err);
    CHECK_STR(out, "[{\"pk\":2}]");
    pxs_free(out);
    CHECK_EQ_INT(coll_call(e, pxs_coll_query, NULL, &err, "{\"collectionName\":\"t\",\"filter\":\"price >\"}"),
                 PXS_EINVAL);
    CHECK(strstr(err.msg, "position"));
    CHECK_EQ_INT(coll_call(e, pxs_coll_query, NULL, &err, "{\"collectionName\":\"t\",\"limit\":16000,\"offset\":1000}"),
                 PXS_ELIMIT);

    /* upsert replaces by key; count stays exact */
    CHECK_OK(coll_call(e, pxs_coll_upsert, &out, &err, "{\"collectionName\":\"t\",\"data\":["
                       "{\"pk\":2,\"vec\":[9,9,9,9],\"price\":100,\"name\":\"new\"},"
                       "{\"pk\":4,\"vec\":[4,0,0,0],\"price\":4,\"name\":\"n4\"}]}"), &err);
    CHECK_STR(out, "{\"upsertCount\":2,\"upsertIds\":[2,4]}");
    pxs_free(out);
    CHECK_EQ_INT(row_count(e, "t"), 4);
    CHECK_OK(coll_call(e, pxs_coll_get, &out, &err, "{\"collectionName\":\"t\",\"id\":[2],\"outputFields\":"
                       "[\"name\",\"color\"]}"), &err);
    CHECK_STR(out, "[{\"pk\":2,\"name\":\"new\"}]");
    pxs_free(out);
    /* insert of an existing key is refused */
    CHECK_EQ_INT(coll_call(e, pxs_coll_insert, NULL, &err, "{\"collectionName\":\"t\",\"data\":[" ROW(4, "") "]}"),
                 PXS_EEXIST);

    /* delete by filter and by ids; count(*) exact */
    CHECK_OK(coll_call(e, pxs_coll_delete, &out, &err, "{\"collectionName\":\"t\",\"filter\":\"price > 50\"}"), &err);
    CHECK_STR(out, "{\"deleteCount\":1}");
    pxs_free(out);
    CHECK_OK(coll_call(e, pxs_coll_delete, &out, &err, "{\"collectionName\":\"t\",\"ids\":[1,77]}"), &err);
    CHECK_STR(out, "{\"deleteCount\":1}");
    pxs_free(out);
    CHECK_EQ_INT(query_count(e, "t", ""), 2);
    CHECK_EQ_INT(row_count(e, "t"), 2);
    CHECK_OK(coll_call(e, pxs_coll_search, &out, &err, "{\"collectionName\":\"t\",\"data\":[[2,0,0,0]],\"limit\":5}"),
             &err);
    CHECK_STR(out, "[[{\"pk\":3,\"distance\":1},{\"pk\":4,\"distance\":4}]]");
    pxs_free(out);
    pxs_engine_close(e);
}

PXS_TEST(coll_bad_rows_apply_nothing) {
    pxs_engine *e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    struct pxs_err err;
    CHECK_OK(coll_call(e, pxs_coll_create, NULL, &err, "%s", full_schema), &err);
    CHECK_OK(coll_call(e, pxs_coll_insert, NULL, &err, "{\"collectionName\":\"t\",\"data\":[" ROW(1, "") "]}"), &err);
    static const struct {
        const char *rows;
        const char *msg;
        int code;
    } bad[] = {
        {ROW(2, "") ",{\"pk\":3,\"vec\":[1,2,3],\"price\":1,\"name\":\"x\"}", "row 1: field vec: vector has 3", PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3,\"vec\":[1,2,3,\"x\"],\"price\":1,\"name\":\"x\"}", "component 3", PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3,\"vec\":[1,2,3,1e39],\"price\":1,\"name\":\"x\"}", "component 3", PXS_EINVAL},
        {ROW(2, "") "," ROW(2, ""), "row 1: duplicate primary key", PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3,\"vec\":[1,2,3,4],\"price\":1,\"name\":\"123456789\"}", "max_length 8", PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3,\"vec\":[1,2,3,4],\"price\":\"1\",\"name\":\"x\"}", "row 1: field price: expected Double",
         PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3,\"vec\":[1,2,3,4],\"name\":\"x\"}", "row 1: field price is missing", PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3,\"vec\":[1,2,3,4],\"price\":1,\"name\":\"x\",\"n\":128}", "out of range for Int8",
         PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3.5,\"vec\":[1,2,3,4],\"price\":1,\"name\":\"x\"}", "row 1: field pk", PXS_EINVAL},
        {ROW(2, "") ",{\"vec\":[1,2,3,4],\"price\":1,\"name\":\"x\"}", "primary key field pk is missing", PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3,\"price\":1,\"name\":\"x\"}", "vector field vec is missing", PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3,\"vec\":[1,2,3,4],\"price\":1,\"name\":\"x\",\"tags\":[\"a\",\"b\",\"c\",\"d\"]}",
         "max_capacity 3", PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3,\"vec\":[1,2,3,4],\"price\":1,\"name\":\"x\",\"tags\":[1]}", "array elements",
         PXS_EINVAL},
        {ROW(2, "") ",{\"pk\":3,\"vec\":[1,2,3,4],\"price\":1,\"name\":\"x\",\"ok\":1}", "expected Bool", PXS_EINVAL},
        {ROW(2, "") ",[1,2]", "row 1: must be a JSON object", PXS_EINVAL},
        {ROW(2, "") "," ROW(1, ""), "row 1: primary key 1 already exists", PXS_EEXIST},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = coll_call(e, pxs_coll_insert, NULL, &err, "{\"collectionName\":\"t\",\"data\":[%s]}", bad[i].rows);
        CHECK_MSG(rc == bad[i].code, "case %zu: rc %d (%s)", i, rc, err.msg);
        CHECK_MSG(strstr(err.msg, bad[i].msg), "case %zu: message \"%s\" lacks \"%s\"", i, err.msg, bad[i].msg);
        CHECK_EQ_INT(row_count(e, "t"), 1); /* row 0 (pk 2) was not applied */
        CHECK_EQ_INT(query_count(e, "t", "pk == 2"), 0);
    }
    /* a collection without dynamic field refuses unknown fields */
    CHECK_OK(coll_call(e, pxs_coll_create, NULL, &err, "{\"collectionName\":\"s\",\"dimension\":2,"
                       "\"enableDynamicField\":false}"), &err);
    CHECK_EQ_INT(coll_call(e, pxs_coll_insert, NULL, &err, "{\"collectionName\":\"s\",\"data\":[{\"id\":1,"
                           "\"vector\":[1,2],\"extra\":1}]}"), PXS_EINVAL);
    CHECK(strstr(err.msg, "row 0: field extra is not in the schema"));
    /* bad search requests */
    CHECK_EQ_INT(coll_call(e, pxs_coll_search, NULL, &err, "{\"collectionName\":\"t\",\"data\":[[1,2]]}"), PXS_EINVAL);
    CHECK_EQ_INT(coll_call(e, pxs_coll_search, NULL, &err, "{\"collectionName\":\"t\",\"data\":[[1,2,3,4]],"
                           "\"limit\":16384,\"offset\":1}"), PXS_ELIMIT);
    CHECK_EQ_INT(coll_call(e, pxs_coll_search, NULL, &err, "{\"collectionName\":\"t\",\"data\":[[1,2,3,4]],"
                           "\"searchParams\":{\"metricType\":\"IP\"}}"), PXS_EINVAL);
    CHECK_EQ_INT(coll_call(e, pxs_coll_search, NULL, &err, "{\"collectionName\":\"t\",\"data\":[[1,2,3,4]],"
                           "\"filter\":\"nosuch(1)\"}"), PXS_EINVAL);
    CHECK_EQ_INT(coll_call(e, pxs_coll_delete, NULL, &err, "{\"collectionName\":\"t\",\"filter\":\"pk ==\"}"), PXS_EINVAL);
    CHECK_EQ_INT(row_count(e, "t"), 1);
    pxs_engine_close(e);
}

PXS_TEST(coll_auto_id_and_partitions) {
    pxs_engine *e = coll_test_open(pxs_test_tmpdir());
    CHECK(e);
    struct pxs_err err;
    char *out = NULL;
    CHECK_OK(coll_call(e, pxs_coll_create, NULL, &err, "{\"collectionName\":\"p\",\"dimension\":2,\"autoId\":true,"
                       "\"metricType\":\"L2\"}"), &err);
    CHECK_EQ_INT(coll_call(e, pxs_coll_insert, NULL, &err, "{\"collectionName\":\"p\",\"data\":[{\"id\":5,"
                           "\"vector\":[1,2]}]}"), PXS_EINVAL);
    CHECK_OK(coll_call(e, pxs_coll_partition_create, NULL, &err, "{\"collectionName\":\"p\",\"partitionName\":\"q\"}"), &err);
    CHECK_EQ_INT(coll_call(e, pxs_coll_partition_create, NULL, &err, "{\"collectionName\":\"p\",\"partitionName\":\"q\"}"),
                 PXS_EEXIST);
    CHECK_OK(coll_call(e, pxs_coll_partition_list, &out, &err, "{\"collectionName\":\"p\"}"), &err);
    CHECK_STR(out, "[\"_default\",\"q\"]");
    pxs_free(out);
    CHECK_OK(coll_call(e, pxs_coll_insert, &out, &err, "{\"collectionName\":\"p\",\"data\":[{\"vector\":[0,0]},"
                       "{\"vector\":[1,0]}]}"), &err);
    CHECK_STR(out, "{\"insertCount\":2,\"insertIds\":[1,2]}");
    pxs_free(out);
    CHECK_OK(coll_call(e, pxs_coll_insert, &out, &err, "{\"collectionName\":\"p\",\"partitionName\":\"q\",\"data\":["
                       "{\"vector\":[0,0.5]},{\"vector\":[3,3]}]}"), &err);
    CHECK_STR(out, "{\"insertCount\":2,\"insertIds\":[3,4]}");
    pxs_free(out);
    CHECK_EQ_INT(coll_call(e, pxs_coll_insert, NULL, &err, "{\"collectionName\":\"p\",\"partitionName\":\"zz\","
                           "\"data\":[{\"vector\":[0,0]}]}"), PXS_ENOTFOUND);
    CHECK_OK(coll_call(e, pxs_coll_search, &out, &err, "{\"collectionName\":\"p\",\"data\":[[0,0]],\"limit\":2,"
                       "\"partitionNames\":[\"q\"]}"), &err);
    CHECK_STR(out, "[[{\"id\":3,\"distance\":0.25},{\"id\":4,\"distance\":18}]]");
    pxs_free(out);
    CHECK_OK(coll_call(e, pxs_coll_search, &out, &err, "{\"collectionName\":\"p\",\"data\":[[0,0]],\"limit\":2}"), &err);
    CHECK_STR(out, "[[{\"id\":1,\"distance\":0},{\"id\":3,\"distance\":0.25}]]");
    pxs_free(out);
    /* upsert on autoId: the old row goes, a new key is generated (as Milvus) */
    CHECK_OK(coll_call(e, pxs_coll_upsert, &out, &err, "{\"collectionName\":\"p\",\"data\":[{\"id\":1,\"vector\":[7,7]}]}"),
             &err);
    CHECK_STR(out, "{\"upsertCount\":1,\"upsertIds\":[5]}");
    pxs_free(out);
    CHECK_EQ_INT(row_count(e, "p"), 4);
    CHECK_EQ_INT(coll_call(e, pxs_coll_partition_drop, NULL, &err, "{\"collectionName\":\"p\",\"partitionName\":"
                           "\"_default\"}"), PXS_EINVAL);
    CHECK_OK(coll_call(e, pxs_coll_partition_drop, NULL, &err, "{\"collectionName\":\"p\",\"partitionName\":\"q\"}"), &err);
    CHECK_EQ_INT(row_count(e, "p"), 2);
    CHECK_OK(coll_call(e, pxs_coll_search, &out, &err, "{\"collectionName\":\"p\",\"data\":[[0,0]],\"limit\":5}"), &err);
    CHECK_STR(out, "[[{\"id\":2,\"distance\":1},{\"id\":5,\"distance\":98}]]");
    pxs_free(out);
    CHECK_EQ_INT(coll_call(e, pxs_coll_search, NULL, &err, "{\"collectionName\":\"p\",\"data\":[[0,0]],"
                           "\"partitionNames\":[\"q\"]}"), PXS_ENOTFOUND);
    pxs_engine_close(e);
}
