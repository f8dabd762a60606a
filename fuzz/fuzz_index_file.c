/*
 * fuzz/fuzz_index_file.c — the engine's index files (src/engine/index_file.c:
 * the header in front of a serialized index, as written for the image
 * collection, "PXSIMGIX", and for vector collections, "PXSCOLIX") on
 * arbitrary bytes. Each input is parsed with both magics, as given and
 * with the header checksum recomputed so mutations reach the length and
 * payload checks. An accepted file's index must answer a small search.
 * Inputs over 1 MiB are skipped.
 */
#include <stdint.h>
#include <string.h>

#include "engine/index_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int refuse_odd(const char *path, const uint64_t *words, void *user, struct pxs_err *err) {
    (void)user;
    return words[0] & 1 ? pxs_errf(err, PXS_EMISMATCH, "%s: odd first word", path) : PXS_OK;
}

static void exercise(const uint8_t *data, size_t size, const char *magic) {
    struct index_file_head head = {.magic = magic, .version = 1, .n_words = 5};
    pxs_index *ix = NULL;
    struct pxs_err err = {0};
    if (index_file_parse("fuzz", data, size, &head, refuse_odd, NULL, &ix, &err) != PXS_OK) {
        if (ix || !err.msg[0]) __builtin_trap(); /* failures say why and hand out nothing */
        return;
    }
    if (head.words[0] & 1) __builtin_trap();
    size_t dim = pxs_index_dim(ix), n = 0;
    struct pxs_hit hits[4];
    if (!pxs_index_is_binary(ix)) {
        float *q = pxs_calloc(dim, sizeof(float));
        if (q) {
            q[0] = 1;
            int rc = pxs_index_search(ix, q, 4, hits, &n, NULL);
            if (rc != PXS_OK && rc != PXS_ENOMEM) __builtin_trap();
        }
        pxs_free(q);
    }
    pxs_index_free(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    uint8_t *copy = pxs_malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    index_file_fix_checksum(copy, size, 5);
    static const char *const magics[] = {"PXSIMGIX", "PXSCOLIX"};
    for (int m = 0; m < 2; m++) {
        exercise(data, size, magics[m]);
        exercise(copy, size, magics[m]);
    }
    pxs_free(copy);
    return 0;
}
