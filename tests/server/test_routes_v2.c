/*
 * tests/server/test_routes_v2.c — the Milvus REST v2 request checks and
 * search-hit flattening of src/server/routes_v2.c, without a server: the
 * Milvus code for each kind of bad body, the defaults added, and the flat
 * hit list with topks. (The routes end to end: tests/integration/
 * test_milvus_sdk.sh.)
 */
#include "server/server_int.h"
#include "../test.h"

#include <string.h>

/* Prepare body for action: the Milvus code (0 = accepted); the engine's
 * JSON copied into json (if accepted and json != NULL). */
static int prepare(const char *action, const char *body, char *json, size_t cap) {
    struct pxs__v2_req r;
    char msg[256] = "";
    int code = pxs__v2_prepare(action, body, strlen(body), &r, msg, sizeof msg);
    if (code == 0 && json) snprintf(json, cap, "%s", r.json);
    if (code != 0 && !msg[0]) code = -1; /* every error has a message */
    pxs__v2_req_free(&r);
    return code;
}

PXS_TEST(v2_prepare_milvus_codes) {
    CHECK_EQ_INT(prepare("entities/search", "", NULL, 0), 1801);
    CHECK_EQ_INT(prepare("entities/search", "{\"collectionName\":\"c\",", NULL, 0), 1801);
    CHECK_EQ_INT(prepare("entities/search", "[1,2]", NULL, 0), 1801);
    CHECK_EQ_INT(prepare("entities/search", "{} {}", NULL, 0), 1801);
    CHECK_EQ_INT(prepare("entities/query", "{\"collectionName\":\"c\",\"limit\":\"5\"}", NULL, 0), 1801);
    CHECK_EQ_INT(prepare("entities/query", "{\"collectionName\":\"c\",\"limit\":1.5}", NULL, 0), 1801);
    CHECK_EQ_INT(prepare("entities/query", "{\"collectionName\":5}", NULL, 0), 1801);
    CHECK_EQ_INT(prepare("entities/query", "{\"collectionName\":\"c\",\"outputFields\":[1]}", NULL, 0),
                 1801);
    CHECK_EQ_INT(prepare("entities/insert", "{\"collectionName\":\"c\",\"data\":{}}", NULL, 0), 1801);
    CHECK_EQ_INT(prepare("entities/query", "{\"filter\":\"a > 1\"}", NULL, 0), 1802);
    CHECK_EQ_INT(prepare("entities/query", "{\"collectionName\":\"\"}", NULL, 0), 1802);
    CHECK_EQ_INT(prepare("entities/insert", "{\"collectionName\":\"c\",\"data\":[]}", NULL, 0), 1802);
    CHECK_EQ_INT(prepare("entities/delete", "{\"collectionName\":\"c\"}", NULL, 0), 1802);
    CHECK_EQ_INT(prepare("collections/rename", "{\"collectionName\":\"c\"}", NULL, 0), 1802);
    CHECK_EQ_INT(prepare("indexes/drop", "{\"collectionName\":\"c\"}", NULL, 0), 1802);
    CHECK_EQ_INT(prepare("entities/query", "{\"collectionName\":\"c\",\"dbName\":\"x\"}", NULL, 0), 800);
    CHECK_EQ_INT(prepare("entities/query", "{\"collectionName\":\"c\",\"dbName\":\"default\"}", NULL, 0), 0);
    CHECK_EQ_INT(prepare("entities/query", "{\"collectionName\":\"c\",\"dbName\":\"\"}", NULL, 0), 0);
    CHECK_EQ_INT(prepare("collections/list", "{}", NULL, 0), 0);
    CHECK_EQ_INT(prepare("entities/delete", "{\"collectionName\":\"c\",\"id\":[1]}", NULL, 0), 0);
    /* a NUL inside the body */
    struct pxs__v2_req r;
    char msg[128];
    CHECK_EQ_INT(pxs__v2_prepare("collections/list", "{}\0{}", 5, &r, msg, sizeof msg), 1801);
    pxs__v2_req_free(&r);
}

PXS_TEST(v2_prepare_defaults) {
    char json[512];
    /* query and get: outputFields ["*"] unless given */
    CHECK_EQ_INT(prepare("entities/query", "{\"collectionName\":\"c\"}", json, sizeof json), 0);
    CHECK_STR(json, "{\"collectionName\":\"c\",\"outputFields\":[\"*\"]}");
    CHECK_EQ_INT(prepare("entities/get", "{\"collectionName\":\"c\",\"id\":1,\"outputFields\":[]}", json,
                         sizeof json),
                 0);
    CHECK_STR(json, "{\"collectionName\":\"c\",\"id\":1,\"outputFields\":[]}");
    /* search: passed through untouched */
    const char *search = "{ \"collectionName\":\"c\", \"data\":[[1,2]] }";
    CHECK_EQ_INT(prepare("entities/search", search, json, sizeof json), 0);
    CHECK_STR(json, search);
    /* Milvus's autoID, top level and in the schema */
    CHECK_EQ_INT(prepare("collections/create",
                         "{\"collectionName\":\"c\",\"autoID\":true,\"schema\":{\"AutoID\":false}}", json,
                         sizeof json),
                 0);
    CHECK(strstr(json, "\"autoId\":true") && strstr(json, "\"schema\":{\"autoId\":false}"));
    CHECK(!strstr(json, "autoID") && !strstr(json, "AutoID"));
    /* partitions/get_stats becomes the partition's count(*) query */
    CHECK_EQ_INT(prepare("partitions/get_stats", "{\"collectionName\":\"c\",\"partitionName\":\"p\"}",
                         json, sizeof json),
                 0);
    CHECK_STR(json, "{\"collectionName\":\"c\",\"partitionNames\":[\"p\"],\"outputFields\":[\"count(*)\"]}");
}

static int flatten(const char *text, char *flat_out, char *topks_out) {
    struct pxs_buf flat, topks;
    pxs_buf_init(&flat, 1 << 16);
    pxs_buf_init(&topks, 1 << 16);
    int rc = pxs__v2_flatten_hits(text, strlen(text), &flat, &topks);
    snprintf(flat_out, 256, "%s", flat.len ? flat.data : "");
    snprintf(topks_out, 64, "%s", topks.len ? topks.data : "");
    pxs_buf_free(&flat);
    pxs_buf_free(&topks);
    return rc;
}

PXS_TEST(v2_flatten_hits) {
    char flat[256], topks[64];
    CHECK_EQ_INT(flatten("[[{\"id\":\"1\",\"s\":\"]},[{\"},{\"id\":2}], [] ,[{\"v\":[1,{\"a\":[]}]}]]",
                         flat, topks),
                 PXS_OK);
    CHECK_STR(flat, "{\"id\":\"1\",\"s\":\"]},[{\"},{\"id\":2},{\"v\":[1,{\"a\":[]}]}");
    CHECK_STR(topks, "2,0,1");
    CHECK_EQ_INT(flatten("[]", flat, topks), PXS_OK);
    CHECK_STR(flat, "");
    CHECK_STR(topks, "");
    CHECK_EQ_INT(flatten("[[]]", flat, topks), PXS_OK);
    CHECK_STR(topks, "0");
    const char *bad[] = {"", "[", "[[{}]", "[{}]", "[[{}]]x", "[[{},]]", "[[{}][{}]]", "[[{\"a\":1]]",
                         "[[1]]", "{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(flatten(bad[i], flat, topks) == PXS_EINVAL, "accepted %s", bad[i]);
}

PXS_TEST(v2_codes_for_server_errors) {
    CHECK_EQ_INT(pxs__v2_code_for(401, PXS_EPERM), 1800);
    CHECK_EQ_INT(pxs__v2_code_for(413, PXS_ELIMIT), 1102);
    CHECK_EQ_INT(pxs__v2_code_for(400, PXS_EINVAL), 1801);
    CHECK_EQ_INT(pxs__v2_code_for(404, PXS_ENOTFOUND), 1100);
    CHECK_EQ_INT(pxs__v2_code_for(500, PXS_ENOMEM), 65535);
}
