/*
 * fuzz/fuzz_index_load.c — pxs_index_deserialize (src/index/serialize.c and
 * the load functions of flat.c, hnsw.c, ivf.c) on arbitrary bytes. Each
 * input is tried twice: as given (the checksums reject almost everything),
 * and with both checksums recomputed, so mutations reach the structural
 * checks of every index type. An accepted index must pass its invariant
 * check, answer one small search (float or binary query, with a filter and
 * a range, so those paths run on loaded data too), and serialize back to
 * the same bytes. Work is bounded: inputs over 1 MiB are skipped.
 */
#include <stdint.h>
#include <string.h>

#include "index/index_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int allow_odd(int64_t id, void *user) {
    (void)user;
    return (id & 1) != 0;
}

static void exercise(const uint8_t *data, size_t size) {
    pxs_index *ix = NULL;
    struct pxs_err err;
    pxs_err_clear(&err);
    if (pxs_index_deserialize(data, size, &ix, &err) != PXS_OK) return;
    enum pxs_index_type t = pxs_index_get_type(ix);
    if (t == PXS_INDEX_HNSW && pxs__hnsw_check(ix, NULL) != PXS_OK) __builtin_trap();
    if (t >= PXS_INDEX_IVF_FLAT && pxs__ivf_check(ix, NULL) != PXS_OK) __builtin_trap();
    size_t dim = pxs_index_dim(ix), n;
    struct pxs_hit hits[8];
    struct pxs_search_params sp = {.ef = 16, .nprobe = 2};
    struct pxs_search_params fp = {.allow = allow_odd, .range = 1, .radius = 1e30f};
    if (pxs_index_is_binary(ix)) {
        uint8_t *q = pxs_calloc(1, dim / 8 + 1);
        if (q) {
            memcpy(q, data, size < dim / 8 ? size : dim / 8);
            if (pxs_index_search_binary(ix, q, 8, &sp, hits, &n, NULL) != PXS_OK) __builtin_trap();
            int rc = pxs_index_search_binary(ix, q, 8, &fp, hits, &n, NULL);
            if (rc != PXS_OK && rc != PXS_ENOMEM) __builtin_trap();
        }
        pxs_free(q);
    } else {
        float *q = pxs_calloc(dim, sizeof(float));
        if (q) {
            for (size_t i = 0; i < dim; i++) q[i] = (float)(data[i % size] & 15) - 7.0f;
            int rc = pxs_index_search_ex(ix, q, 8, &sp, hits, &n, NULL);
            if (rc != PXS_OK && rc != PXS_ENOMEM) __builtin_trap();
            if (pxs_index_metric(ix) == PXS_METRIC_IP || pxs_index_metric(ix) == PXS_METRIC_COSINE)
                fp.radius = -1e30f;
            rc = pxs_index_search_ex(ix, q, 8, &fp, hits, &n, NULL);
            if (rc != PXS_OK && rc != PXS_ENOMEM) __builtin_trap();
        }
        pxs_free(q);
    }
    /* Loaded state serializes back to the bytes it came from. */
    struct pxs_buf out;
    pxs_buf_init(&out, 4u << 20);
    if (pxs_index_serialize(ix, &out, NULL) == PXS_OK && (out.len != size || memcmp(out.data, data, size) != 0))
        __builtin_trap();
    pxs_buf_free(&out);
    pxs_index_free(ix);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    exercise(data, size);
    uint8_t *copy = pxs_malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    pxs__index_fix_checksums(copy, size);
    exercise(copy, size);
    pxs_free(copy);
    return 0;
}
