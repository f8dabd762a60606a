/*
 * fuzz/fuzz_http_request.c — request bodies as the server reads them
 * (src/server/body.c): the input is a Content-Type line, "\n", then the
 * body. The body is parsed (multipart, urlencoded, JSON, raw), every field
 * the handlers ask for is read back, and base64 is decoded from the JSON
 * img_base64 member or, failing that, from the whole body. The body is
 * also checked as a Milvus REST v2 request for every action
 * (routes_v2.c: pxs__v2_prepare) and read as search hits
 * (pxs__v2_flatten_hits), and a JSON body as tags
 * (pxs__tags_from_json). Invariants: parts lie inside the body, decoded
 * sizes respect the limit, a prepared v2 request is one JSON object, and
 * hits of valid JSON flatten to a JSON array whose length topks sum to.
 */
#include <stdint.h>
#include <string.h>

#include "server/server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const v2_actions[] = {
    "collections/create", "collections/list",   "collections/rename", "entities/insert",
    "entities/search",    "entities/query",     "entities/get",       "entities/delete",
    "partitions/get_stats", "partitions/load",  "indexes/create",     "indexes/drop"};

/* The body as a Milvus REST v2 request and as the engine's search hits. */
static void v2_checks(const uint8_t *body, size_t len) {
    char *text = pxs_malloc(len + 1); /* a request body is NUL-terminated */
    if (!text) return;
    memcpy(text, body, len);
    text[len] = '\0';
    for (size_t i = 0; i < sizeof v2_actions / sizeof v2_actions[0]; i++) {
        struct pxs__v2_req r;
        char msg[256];
        if (pxs__v2_prepare(v2_actions[i], text, len, &r, msg, sizeof msg) == 0) {
            cJSON *again = cJSON_Parse(r.json);
            if (!cJSON_IsObject(again)) __builtin_trap();
            cJSON_Delete(again);
        } else if (!msg[0]) {
            __builtin_trap();
        }
        pxs__v2_req_free(&r);
    }
    struct pxs_buf flat, topks;
    pxs_buf_init(&flat, 1u << 20);
    pxs_buf_init(&topks, 1u << 20);
    cJSON *nested = cJSON_Parse(text); /* the invariant holds for valid JSON input */
    if (pxs__v2_flatten_hits(text, len, &flat, &topks) == PXS_OK && nested) {
        struct pxs_buf arr;
        pxs_buf_init(&arr, 1u << 21);
        cJSON *hits = NULL;
        if (pxs_buf_appendf(&arr, "[%s]", flat.len ? flat.data : "") == PXS_OK) {
            hits = cJSON_Parse(arr.data);
            if (!cJSON_IsArray(hits)) __builtin_trap();
            unsigned long long sum = 0, n = 0;
            for (const char *p = topks.len ? topks.data : ""; ; p++) {
                if (*p >= '0' && *p <= '9') {
                    n = n * 10 + (unsigned)(*p - '0');
                    continue;
                }
                sum += n;
                n = 0;
                if (!*p) break;
            }
            if (sum != (unsigned long long)cJSON_GetArraySize(hits)) __builtin_trap();
        }
        cJSON_Delete(hits);
        pxs_buf_free(&arr);
    }
    cJSON_Delete(nested);
    pxs_buf_free(&flat);
    pxs_buf_free(&topks);
    pxs_free(text);
}

/* POST /api/images/ID/tags: every "k=v" string names its JSON key (before
 * the first '=', which keys may not contain) and fits the slot. */
static void tags_checks(const cJSON *json) {
    char **kv;
    size_t n;
    char msg[200];
    int rc = pxs__tags_from_json(json, &kv, &n, msg, sizeof msg);
    if (rc != PXS_OK) {
        if (!msg[0]) __builtin_trap();
        return;
    }
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(json, "tags");
    if (n == 0 || n > PXS__TAGS_MAX || n != (size_t)cJSON_GetArraySize(obj)) __builtin_trap();
    size_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, obj) {
        const char *eq = strchr(kv[i], '=');
        size_t klen = strlen(v->string);
        if (!eq || (size_t)(eq - kv[i]) != klen || memcmp(kv[i], v->string, klen) != 0 ||
            strlen(kv[i]) >= PXS__TAG_TEXT_MAX)
            __builtin_trap();
        i++;
    }
    pxs_free(kv);
}

static const char *const names[] = {"image", "file", "topk", "Num", "table_name", "Table",
                                    "File", "img_base64", "id", "page", "page_size",
                                    "similarity", "filter", "dir", "url"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nl = memchr(data, '\n', size < 256 ? size : 256);
    char ctype[257];
    size_t clen = nl ? (size_t)(nl - data) : 0;
    memcpy(ctype, data, clen);
    ctype[clen] = '\0';
    const uint8_t *body = nl ? nl + 1 : data;
    size_t len = size - (size_t)(body - data);

    struct pxs__form f;
    char msg[256];
    int rc = pxs__body_parse(nl ? ctype : NULL, body, len, &f, msg, sizeof msg);
    if (rc == PXS_OK) {
        for (size_t i = 0; i < f.n_parts; i++) {
            const struct pxs__part *p = &f.parts[i];
            if (f.kind == PXS__FORM_MULTIPART &&
                (p->data < body || p->data + p->len > body + len))
                __builtin_trap();
        }
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            char text[64];
            (void)pxs__form_text(&f, names[i], text, sizeof text);
            const unsigned char *img;
            size_t img_len;
            if (pxs__form_file(&f, names[i], &img, &img_len) && img_len > len) __builtin_trap();
        }
    }
    if (rc == PXS_OK && f.kind == PXS__FORM_JSON) tags_checks(f.json);
    const char *b64 = (const char *)body;
    size_t b64_len = len;
    if (rc == PXS_OK && f.kind == PXS__FORM_JSON) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(f.json, "img_base64");
        if (cJSON_IsString(v)) {
            b64 = v->valuestring;
            b64_len = strlen(b64);
        }
    }
    unsigned char *out = NULL;
    size_t out_len = 0;
    if (pxs__base64_decode(b64, b64_len, 4096, &out, &out_len) == PXS_OK &&
        (out_len == 0 || out_len > 4096))
        __builtin_trap();
    pxs_free(out);
    pxs__form_free(&f);
    v2_checks(body, len);
    return 0;
}
