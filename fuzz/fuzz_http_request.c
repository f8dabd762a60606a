/*
 * fuzz/fuzz_http_request.c — request bodies as the server reads them
 * (src/server/body.c): the input is a Content-Type line, "\n", then the
 * body. The body is parsed (multipart, urlencoded, JSON, raw), every field
 * the handlers ask for is read back, and base64 is decoded from the JSON
 * img_base64 member or, failing that, from the whole body. Invariants:
 * parts lie inside the body, decoded sizes respect the limit.
 */
#include <stdint.h>
#include <string.h>

#include "server/server_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    return 0;
}
