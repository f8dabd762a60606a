/*
 * fuzz/fuzz_image.c — the image module on arbitrary bytes: sniff, decode
 * (bounded: max_side 64, at most 4 million source pixels) and, when decoding
 * succeeds, the descriptor. It must return an error or pixels, never crash,
 * and a success must honour the contract (3-band pixels within max_side, a
 * unit-norm descriptor).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "pixseek/core.h"
#include "pixseek/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init_rc = 1;
    if (init_rc == 1) {
        /* Keep libvips' GLib warnings out of the fuzzer's output. */
        pxs_log_set_level(PXS_LOG_ERROR);
        init_rc = pxs_image_global_init(NULL);
    }
    if (init_rc != PXS_OK) __builtin_trap();

    enum pxs_image_format fmt = pxs_image_sniff(data, size);
    (void)pxs_image_format_name(fmt);
    (void)pxs_image_format_mime(fmt);

    struct pxs_image_decode_opts opts = {.max_side = 64, .max_pixels = 4u * 1000 * 1000};
    struct pxs_image img = {0};
    struct pxs_image_info info;
    struct pxs_err err = {0};
    int rc = pxs_image_decode(data, size, &opts, &img, &info, &err);
    if (rc != PXS_OK) {
        if (rc >= 0 || img.pixels || err.code != rc) __builtin_trap();
        return 0;
    }
    if (!img.pixels || img.width <= 0 || img.height <= 0 || img.width > 64 || img.height > 64 ||
        info.format != fmt || info.orientation < 1 || info.orientation > 8)
        __builtin_trap();
    float d[PXS_IMAGE_DESCRIPTOR_DIM];
    if (pxs_image_descriptor(&img, d, NULL) != PXS_OK) __builtin_trap();
    double ss = 0;
    for (int i = 0; i < PXS_IMAGE_DESCRIPTOR_DIM; i++) ss += (double)d[i] * d[i];
    if (fabs(ss - 1.0) > 1e-3) __builtin_trap();
    pxs_image_free(&img);
    return 0;
}
