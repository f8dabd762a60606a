/*
 * routes_v2.c — the Milvus REST API v2 subset under /v2/vectordb/:
 * collections, entities, partitions and indexes, served by the engine's
 * vector collections (engine.h, "vector collections").
 *
 * A request goes through three steps:
 *   1. pxs__v2_prepare checks the body the way Milvus binds it: whatever
 *      the Content-Type (the Milvus Node SDK sends text/plain), one JSON
 *      object; member types as Milvus's request structs declare them;
 *      collectionName and the other required names present; dbName absent,
 *      "" or "default". It adds Milvus's defaults the engine does not
 *      apply (outputFields ["*"] for query and get) and accepts "autoID",
 *      Milvus's spelling, for the engine's "autoId".
 *   2. the engine operation of the path runs (pxs_coll_find_op); int64
 *      values are strings unless the header Accept-Type-Allow-Int64 is
 *      true (Go strconv.ParseBool spellings).
 *   3. the answer goes back in Milvus's envelope:
 *        success  HTTP 200 {"code":0,"data":<the engine's data>}
 *                 search: {"code":0,"cost":0,"data":[hits of every query,
 *                 one flat list],"topks":[hits per query]}
 *        error    HTTP 200 {"code":<Milvus merr code>,"message":"..."}
 *      The server core answers a missing or wrong API token with HTTP 401
 *      and unknown paths / methods with 404 / 405, in the same shape.
 *
 * Milvus codes used (pkg/util/merr): 100 collection not found, 200
 * partition not found, 700 index not found, 800 database not found, 1100
 * invalid parameter, 1102 parameter too large, 1800 not authenticated,
 * 1801 not a JSON request of the right shape, 1802 missing required
 * parameter, 1804 insert data rejected, 65535 unexpected server error.
 * The engine's PXS_ENOTFOUND message starts with what is missing
 * ("collection", "partition", "index"), which picks 100 / 200 / 700.
 *
 * Actions pixseek answers here rather than in the engine:
 * collections/release, partitions/load and partitions/release check that
 * the objects exist and do nothing (collections are always loaded);
 * partitions/get_stats counts the partition's rows with an entities/query
 * count(*).
 */
#include "server/server_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum milvus_code {
    M_COLLECTION_NOT_FOUND = 100,
    M_PARTITION_NOT_FOUND = 200,
    M_INDEX_NOT_FOUND = 700,
    M_DATABASE_NOT_FOUND = 800,
    M_INVALID_PARAMETER = 1100,
    M_PARAMETER_TOO_LARGE = 1102,
    M_NEED_AUTHENTICATE = 1800,
    M_INCORRECT_FORMAT = 1801,
    M_MISSING_PARAMETER = 1802,
    M_INVALID_INSERT_DATA = 1804,
    M_UNEXPECTED = 65535,
};

/* Milvus's text for a code, used as the start of every message. */
static const char *milvus_text(int code) {
    switch (code) {
    case M_COLLECTION_NOT_FOUND: return "collection not found";
    case M_PARTITION_NOT_FOUND: return "partition not found";
    case M_INDEX_NOT_FOUND: return "index not found";
    case M_DATABASE_NOT_FOUND: return "database not found";
    case M_INVALID_PARAMETER: return "invalid parameter";
    case M_PARAMETER_TOO_LARGE: return "parameter too large";
    case M_NEED_AUTHENTICATE: return "user hasn't authenticated";
    case M_INCORRECT_FORMAT: return "can only accept json format request";
    case M_MISSING_PARAMETER: return "missing required parameters";
    case M_INVALID_INSERT_DATA: return "fail to deal the insert data";
    default: return "unexpected error";
    }
}

int pxs__v2_code_for(unsigned status, int code) {
    if (status == MHD_HTTP_UNAUTHORIZED) return M_NEED_AUTHENTICATE;
    if (code == PXS_ELIMIT) return M_PARAMETER_TOO_LARGE;
    if (code == PXS_EINVAL) return M_INCORRECT_FORMAT;
    if (status >= 500) return M_UNEXPECTED;
    return M_INVALID_PARAMETER;
}

/* ---- request checks ------------------------------------------------------ */

enum jtype { J_STRING, J_INT, J_BOOL, J_OBJECT, J_ARRAY, J_STRINGS };

/* Members with a declared type in Milvus's request structs (request_v2.go);
 * others are passed through to the engine, which checks what it reads. */
static const struct {
    const char *key;
    enum jtype type;
} typed_members[] = {
    {"dbName", J_STRING},           {"collectionName", J_STRING},
    {"newCollectionName", J_STRING}, {"partitionName", J_STRING},
    {"indexName", J_STRING},        {"filter", J_STRING},
    {"annsField", J_STRING},        {"groupingField", J_STRING},
    {"consistencyLevel", J_STRING}, {"metricType", J_STRING},
    {"idType", J_STRING},           {"primaryFieldName", J_STRING},
    {"vectorFieldName", J_STRING},  {"description", J_STRING},
    {"limit", J_INT},               {"offset", J_INT},
    {"dimension", J_INT},           {"groupSize", J_INT},
    {"strictGroupSize", J_BOOL},    {"autoID", J_BOOL},
    {"enableDynamicField", J_BOOL}, {"outputFields", J_STRINGS},
    {"partitionNames", J_STRINGS},  {"data", J_ARRAY},
    {"indexParams", J_ARRAY},       {"schema", J_OBJECT},
    {"searchParams", J_OBJECT},     {"params", J_OBJECT},
    {"exprParams", J_OBJECT},
};

static const char *jtype_name(enum jtype t) {
    switch (t) {
    case J_STRING: return "a string";
    case J_INT: return "an integer";
    case J_BOOL: return "true or false";
    case J_OBJECT: return "an object";
    case J_ARRAY: return "an array";
    default: return "an array of strings";
    }
}

static int has_type(const cJSON *v, enum jtype t) {
    switch (t) {
    case J_STRING: return cJSON_IsString(v);
    case J_INT:
        return cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble &&
               v->valuedouble >= -2147483648.0 && v->valuedouble <= 2147483647.0;
    case J_BOOL: return cJSON_IsBool(v);
    case J_OBJECT: return cJSON_IsObject(v);
    case J_ARRAY: return cJSON_IsArray(v);
    default:
        if (!cJSON_IsArray(v)) return 0;
        for (const cJSON *it = v->child; it; it = it->next)
            if (!cJSON_IsString(it)) return 0;
        return 1;
    }
}

/* What an action needs beyond collectionName. */
static const struct {
    const char *action;
    const char *required; /* member that must be present and non-empty */
} required_members[] = {
    {"collections/rename", "newCollectionName"}, {"partitions/create", "partitionName"},
    {"partitions/drop", "partitionName"},        {"partitions/has", "partitionName"},
    {"partitions/get_stats", "partitionName"},   {"partitions/load", "partitionNames"},
    {"partitions/release", "partitionNames"},    {"indexes/create", "indexParams"},
    {"indexes/describe", "indexName"},           {"indexes/drop", "indexName"},
    {"entities/insert", "data"},                 {"entities/upsert", "data"},
    {"entities/search", "data"},                 {"entities/get", "id"},
};

static int present(const cJSON *v) {
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsString(v)) return v->valuestring[0] != '\0';
    if (cJSON_IsArray(v) || cJSON_IsObject(v)) return v->child != NULL;
    return 1;
}

static int fail(char *msg, size_t cap, int code, const char *fmt, ...) PXS_PRINTF(4, 5);
static int fail(char *msg, size_t cap, int code, const char *fmt, ...) {
    int n = snprintf(msg, cap, "%s, error: ", milvus_text(code));
    if (n < 0 || (size_t)n >= cap) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

/* Milvus (Go encoding/json) matches "autoID" case-insensitively; the
 * engine reads "autoId". Rename in obj; 1 if renamed, -1 out of memory. */
static int normalise_auto_id(cJSON *obj) {
    if (!cJSON_IsObject(obj)) return 0;
    for (cJSON *it = obj->child; it; it = it->next) {
        if (!it->string || strcasecmp(it->string, "autoid") != 0 || !strcmp(it->string, "autoId"))
            continue;
        cJSON *v = cJSON_DetachItemViaPointer(obj, it);
        if (!cJSON_AddItemToObject(obj, "autoId", v)) {
            cJSON_Delete(v);
            return -1;
        }
        return 1;
    }
    return 0;
}

void pxs__v2_req_free(struct pxs__v2_req *r) {
    if (!r) return;
    cJSON_Delete(r->doc);
    if (r->rewritten) cJSON_free(r->rewritten);
    memset(r, 0, sizeof *r);
}

int pxs__v2_prepare(const char *action, const char *body, size_t len, struct pxs__v2_req *r,
                    char *msg, size_t cap) {
    memset(r, 0, sizeof *r);
    if (!body || len == 0)
        return fail(msg, cap, M_INCORRECT_FORMAT,
                    "the request body should not be empty (send {} for no parameters)");
    if (memchr(body, '\0', len))
        return fail(msg, cap, M_INCORRECT_FORMAT, "the request body contains a NUL byte");
    const char *end = NULL;
    r->doc = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!r->doc)
        return fail(msg, cap, M_INCORRECT_FORMAT, "malformed JSON near byte %zu",
                    end ? (size_t)(end - body) : 0);
    for (const char *p = end; p < body + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            return fail(msg, cap, M_INCORRECT_FORMAT, "data after the JSON document");
    if (!cJSON_IsObject(r->doc))
        return fail(msg, cap, M_INCORRECT_FORMAT, "the request body must be a JSON object");

    for (size_t i = 0; i < sizeof typed_members / sizeof typed_members[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->doc, typed_members[i].key);
        if (v && !cJSON_IsNull(v) && !has_type(v, typed_members[i].type))
            return fail(msg, cap, M_INCORRECT_FORMAT, "%s must be %s", typed_members[i].key,
                        jtype_name(typed_members[i].type));
    }
    const cJSON *db = cJSON_GetObjectItemCaseSensitive(r->doc, "dbName");
    if (cJSON_IsString(db) && db->valuestring[0] && strcmp(db->valuestring, "default") != 0)
        return fail(msg, cap, M_DATABASE_NOT_FOUND,
                    "database %.100s does not exist (pixseek has one database, \"default\")",
                    db->valuestring);
    if (strcmp(action, "collections/list") != 0 &&
        !present(cJSON_GetObjectItemCaseSensitive(r->doc, "collectionName")))
        return fail(msg, cap, M_MISSING_PARAMETER, "collectionName is required");
    for (size_t i = 0; i < sizeof required_members / sizeof required_members[0]; i++)
        if (!strcmp(action, required_members[i].action) &&
            !present(cJSON_GetObjectItemCaseSensitive(r->doc, required_members[i].required)))
            return fail(msg, cap, M_MISSING_PARAMETER, "%s is required",
                        required_members[i].required);
    if (!strcmp(action, "entities/delete") &&
        !present(cJSON_GetObjectItemCaseSensitive(r->doc, "filter")) &&
        !present(cJSON_GetObjectItemCaseSensitive(r->doc, "id")) &&
        !present(cJSON_GetObjectItemCaseSensitive(r->doc, "ids")))
        return fail(msg, cap, M_MISSING_PARAMETER, "delete needs a filter or id");

    /* defaults and spellings */
    int changed = 0, rc = 0;
    if (!strcmp(action, "entities/query") || !strcmp(action, "entities/get")) {
        if (!cJSON_GetObjectItemCaseSensitive(r->doc, "outputFields")) {
            const char *all[] = {"*"};
            cJSON *of = cJSON_CreateStringArray(all, 1);
            if (!of || !cJSON_AddItemToObject(r->doc, "outputFields", of)) {
                cJSON_Delete(of);
                rc = -1;
            }
            changed = 1;
        }
    } else if (!strcmp(action, "collections/create")) {
        int a = normalise_auto_id(r->doc);
        int b = normalise_auto_id(cJSON_GetObjectItemCaseSensitive(r->doc, "schema"));
        if (a < 0 || b < 0) rc = -1;
        changed = a > 0 || b > 0;
    } else if (!strcmp(action, "partitions/get_stats")) {
        /* becomes the count(*) query of the partition */
        cJSON *pn = cJSON_DetachItemFromObjectCaseSensitive(r->doc, "partitionName");
        cJSON *names = cJSON_CreateArray();
        const char *count[] = {"count(*)"};
        cJSON *of = cJSON_CreateStringArray(count, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(r->doc, "outputFields");
        cJSON_DeleteItemFromObjectCaseSensitive(r->doc, "partitionNames");
        if (!pn || !names || !of || !cJSON_AddItemToArray(names, pn) ||
            !cJSON_AddItemToObject(r->doc, "partitionNames", names)) {
            cJSON_Delete(names);
            rc = -1;
        } else if (!cJSON_AddItemToObject(r->doc, "outputFields", of)) {
            rc = -1;
        } else {
            of = NULL;
        }
        cJSON_Delete(of);
        changed = 1;
    }
    if (rc == 0 && changed && !(r->rewritten = cJSON_PrintUnformatted(r->doc))) rc = -1;
    if (rc != 0) return fail(msg, cap, M_UNEXPECTED, "out of memory");
    r->json = r->rewritten ? r->rewritten : body;
    return 0;
}

/* ---- search hits ------------------------------------------------------------- */

static size_t skip_blanks(const char *s, size_t i, size_t n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) i++;
    return i;
}

/* The end (one past) of the object starting at s[i] == '{', or 0. */
static size_t object_end(const char *s, size_t i, size_t n) {
    int depth = 0, in_str = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0) return c == '}' ? i + 1 : 0;
            if (depth < 0) return 0;
        }
    }
    return 0;
}

int pxs__v2_flatten_hits(const char *s, size_t n, struct pxs_buf *flat, struct pxs_buf *topks) {
    size_t i = skip_blanks(s, 0, n);
    if (i >= n || s[i] != '[') return PXS_EINVAL;
    i = skip_blanks(s, i + 1, n);
    int rc = PXS_OK, first_hit = 1, first_query = 1;
    if (i < n && s[i] == ']') return skip_blanks(s, i + 1, n) == n ? PXS_OK : PXS_EINVAL;
    while (rc == PXS_OK) {
        if (i >= n || s[i] != '[') return PXS_EINVAL; /* one query's hits */
        i = skip_blanks(s, i + 1, n);
        unsigned long long count = 0;
        if (i < n && s[i] == ']') {
            i++;
        } else {
            for (;;) {
                size_t e = i < n && s[i] == '{' ? object_end(s, i, n) : 0;
                if (!e) return PXS_EINVAL;
                if (!first_hit) rc = pxs_buf_append(flat, ",", 1);
                if (rc == PXS_OK) rc = pxs_buf_append(flat, s + i, e - i);
                if (rc != PXS_OK) return rc;
                first_hit = 0;
                count++;
                i = skip_blanks(s, e, n);
                if (i < n && s[i] == ',') {
                    i = skip_blanks(s, i + 1, n);
                    continue;
                }
                if (i < n && s[i] == ']') {
                    i++;
                    break;
                }
                return PXS_EINVAL;
            }
        }
        rc = pxs_buf_appendf(topks, "%s%llu", first_query ? "" : ",", count);
        first_query = 0;
        i = skip_blanks(s, i, n);
        if (i < n && s[i] == ',') {
            i = skip_blanks(s, i + 1, n);
            continue;
        }
        if (i < n && s[i] == ']') return skip_blanks(s, i + 1, n) == n ? rc : PXS_EINVAL;
        return PXS_EINVAL;
    }
    return rc;
}

/* ---- replies ------------------------------------------------------------------ */

static enum MHD_Result v2_error(struct MHD_Connection *conn, struct pxs__request *req, int code,
                                const char *text) {
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{\"code\":");
    pxs__server_json_int(&j, code);
    pxs__server_json_raw(&j, ",\"message\":");
    pxs__server_json_str(&j, text);
    pxs__server_json_raw(&j, "}");
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

/* The Milvus code and message of an engine error. */
static enum MHD_Result engine_error(struct MHD_Connection *conn, struct pxs__request *req,
                                    const char *action, int rc, const struct pxs_err *e) {
    const char *text = pxs_err_message(e, rc);
    int code;
    switch (rc) {
    case PXS_ENOTFOUND:
        code = !strncmp(text, "partition", 9) ? M_PARTITION_NOT_FOUND
               : !strncmp(text, "index", 5)   ? M_INDEX_NOT_FOUND
                                              : M_COLLECTION_NOT_FOUND;
        break;
    case PXS_EINVAL:
        code = !strcmp(action, "entities/insert") || !strcmp(action, "entities/upsert")
                   ? M_INVALID_INSERT_DATA
                   : M_INVALID_PARAMETER;
        break;
    case PXS_EEXIST:
    case PXS_EUNSUPPORTED:
    case PXS_EMISMATCH: code = M_INVALID_PARAMETER; break;
    case PXS_ELIMIT: code = M_PARAMETER_TOO_LARGE; break;
    default: code = M_UNEXPECTED; break;
    }
    if (code == M_UNEXPECTED)
        PXS_LOG_WARN("server: %s %s: %s", req->method_name, req->log_path, text);
    char msg[600];
    snprintf(msg, sizeof msg, "%s: %s", milvus_text(code), text);
    return v2_error(conn, req, code, msg);
}

/* Go's strconv.ParseBool true spellings, as Milvus reads the header. */
static int allow_int64(struct MHD_Connection *conn) {
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Type-Allow-Int64");
    if (!v) return 0;
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!strcmp(v, yes[i])) return 1;
    return 0;
}

static enum MHD_Result reply_data(struct MHD_Connection *conn, struct pxs__request *req,
                                  const char *data) {
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{\"code\":0,\"data\":");
    pxs__server_json_raw(&j, data && *data ? data : "{}");
    pxs__server_json_raw(&j, "}");
    if (j.rc == PXS_ELIMIT) {
        pxs__server_json_free(&j);
        return v2_error(conn, req, M_PARAMETER_TOO_LARGE,
                        "parameter too large: the response is over the server's limit; lower "
                        "limit or outputFields");
    }
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

static enum MHD_Result reply_search(struct MHD_Connection *conn, struct pxs__request *req,
                                    const char *data) {
    struct pxs_buf flat, topks;
    pxs_buf_init(&flat, PXS__JSON_MAX);
    pxs_buf_init(&topks, PXS__JSON_MAX);
    int rc = pxs__v2_flatten_hits(data ? data : "", data ? strlen(data) : 0, &flat, &topks);
    struct pxs__json j;
    pxs__server_json_init(&j);
    pxs__server_json_raw(&j, "{\"code\":0,\"cost\":0,\"data\":[");
    if (rc == PXS_OK && flat.len) pxs__server_json_raw(&j, flat.data);
    pxs__server_json_raw(&j, "]");
    if (rc == PXS_OK && flat.len) { /* Milvus leaves topks out when nothing was found */
        pxs__server_json_raw(&j, ",\"topks\":[");
        pxs__server_json_raw(&j, topks.data);
        pxs__server_json_raw(&j, "]");
    }
    pxs__server_json_raw(&j, "}");
    pxs_buf_free(&flat);
    pxs_buf_free(&topks);
    if (rc == PXS_ELIMIT || j.rc == PXS_ELIMIT) {
        pxs__server_json_free(&j);
        return v2_error(conn, req, M_PARAMETER_TOO_LARGE,
                        "parameter too large: the search result is over the server's limit; "
                        "lower limit or outputFields");
    }
    if (rc != PXS_OK) {
        pxs__server_json_free(&j);
        PXS_LOG_WARN("server: search hits in an unexpected shape (%s)", pxs_code_name(rc));
        return v2_error(conn, req, M_UNEXPECTED, "unexpected error: cannot read the search hits");
    }
    return pxs__server_reply_json(conn, req, MHD_HTTP_OK, &j);
}

/* partitions/load and /release: every partition named must exist. */
static int partitions_exist(pxs_engine *engine, const cJSON *doc, struct pxs_err *e) {
    const cJSON *coll = cJSON_GetObjectItemCaseSensitive(doc, "collectionName");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(doc, "partitionNames");
    int rc = PXS_OK;
    for (const cJSON *it = names ? names->child : NULL; rc == PXS_OK && it; it = it->next) {
        cJSON *q = cJSON_CreateObject();
        char *text = NULL, *out = NULL;
        if (q && cJSON_AddStringToObject(q, "collectionName", coll->valuestring) &&
            cJSON_AddStringToObject(q, "partitionName", it->valuestring))
            text = cJSON_PrintUnformatted(q);
        cJSON_Delete(q);
        if (!text) return pxs_errf(e, PXS_ENOMEM, "out of memory");
        rc = pxs_coll_partition_has(engine, text, 0, &out, e);
        cJSON_free(text);
        if (rc == PXS_OK && (!out || !strstr(out, "true")))
            rc = pxs_errf(e, PXS_ENOTFOUND, "partition %.100s does not exist in %.100s",
                          it->valuestring, coll->valuestring);
        pxs_free(out);
    }
    return rc;
}

/* [{"count(*)":N}] of the partition's query -> {"rowCount":N} */
static int row_count_data(char **out, struct pxs_err *e) {
    cJSON *rows = cJSON_Parse(*out ? *out : "");
    const cJSON *n = cJSON_IsArray(rows) && rows->child
                         ? cJSON_GetObjectItemCaseSensitive(rows->child, "count(*)")
                         : NULL;
    int rc = cJSON_IsNumber(n) ? PXS_OK : pxs_errf(e, PXS_EINTERNAL, "count(*) missing");
    char text[64];
    if (rc == PXS_OK) snprintf(text, sizeof text, "{\"rowCount\":%.0f}", n->valuedouble);
    cJSON_Delete(rows);
    pxs_free(*out);
    *out = rc == PXS_OK ? pxs_strdup(text) : NULL;
    if (rc == PXS_OK && !*out) rc = pxs_errf(e, PXS_ENOMEM, "out of memory");
    return rc;
}

enum MHD_Result pxs__h_v2(struct MHD_Connection *conn, struct pxs__request *req) {
    const char *action = req->route->path + strlen(PXS__V2_PREFIX);
    const char *db = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "DB-Name");
    if (db && *db && strcmp(db, "default") != 0) {
        char msg[200];
        fail(msg, sizeof msg, M_DATABASE_NOT_FOUND,
             "database %.100s does not exist (pixseek has one database, \"default\")", db);
        return v2_error(conn, req, M_DATABASE_NOT_FOUND, msg);
    }
    struct pxs__v2_req r;
    char msg[512];
    int code = pxs__v2_prepare(action, req->body.data, req->body.len, &r, msg, sizeof msg);
    if (code != 0) {
        pxs__v2_req_free(&r);
        return v2_error(conn, req, code, msg);
    }
    pxs_engine *engine = req->srv->engine;
    unsigned flags = allow_int64(conn) ? 0 : PXS_COLL_INT64_AS_STRING;
    char *out = NULL;
    struct pxs_err e = {0};
    int rc;
    if (!strcmp(action, "partitions/load") || !strcmp(action, "partitions/release")) {
        rc = partitions_exist(engine, r.doc, &e);
    } else if (!strcmp(action, "partitions/get_stats")) {
        rc = pxs_coll_query(engine, r.json, 0, &out, &e);
        if (rc == PXS_OK) rc = row_count_data(&out, &e);
    } else {
        /* collections are always loaded: release only checks the name */
        pxs_coll_op_fn op = pxs_coll_find_op(strcmp(action, "collections/release") == 0
                                                  ? "collections/load"
                                                  : action);
        rc = op ? op(engine, r.json, flags, &out, &e)
                : pxs_errf(&e, PXS_EINTERNAL, "no engine operation for %s", action);
    }
    pxs__v2_req_free(&r);
    enum MHD_Result res = rc != PXS_OK                        ? engine_error(conn, req, action, rc, &e)
                          : !strcmp(action, "entities/search") ? reply_search(conn, req, out)
                                                               : reply_data(conn, req, out);
    pxs_free(out);
    return res;
}

enum MHD_Result pxs__h_v2_unsupported(struct MHD_Connection *conn, struct pxs__request *req) {
    return pxs__server_reply_error(
        conn, req, MHD_HTTP_NOT_FOUND, PXS_ENOTFOUND,
        "pixseek does not implement %s %s; supported: collections/{create,describe,list,has,"
        "drop,rename,get_stats,load,release,get_load_state}, entities/{insert,upsert,delete,get,"
        "query,search}, partitions/{create,list,has,drop,get_stats,load,release}, indexes/"
        "{create,describe,list,drop}",
        req->method_name, req->log_path);
}
