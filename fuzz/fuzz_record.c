/*
 * fuzz/fuzz_record.c — the engine's image-record decoder (the on-disk format
 * of the "images" table, src/engine/record.c) on arbitrary bytes: it must
 * reject or decode, never read out of bounds; a decoded record must
 * re-encode to the same bytes.
 */
#include <stdint.h>
#include <string.h>

#include "engine/engine_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct image_record rec;
    struct pxs_err err;
    pxs_err_clear(&err);
    if (record_decode(data, size, &rec, &err) != PXS_OK) return 0;
    struct pxs_image_meta meta;
    record_to_meta(1, &rec, &meta);
    struct pxs_buf buf;
    pxs_buf_init(&buf, 1 << 20);
    if (record_encode(&rec, &buf) == PXS_OK) {
        /* Round trip: same length, same bytes (the format name is NUL-cut). */
        if (buf.len == size && memcmp(buf.data, data, size) != 0 && memchr(rec.format, 0, 16) == NULL)
            __builtin_trap();
    }
    pxs_buf_free(&buf);
    return 0;
}
