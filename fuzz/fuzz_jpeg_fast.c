/*
 * fuzz/fuzz_jpeg_fast.c — the JPEG fast path of query preprocessing
 * (src/image/jpeg_fast.c) on arbitrary bytes, against its oracle: it must
 * either decline (PXS_EUNSUPPORTED) or produce exactly the tensor of
 * pxs_image_to_tensor on the same bytes (small 32x32 recipe, at most 4
 * million source pixels, so every input stays cheap).
 */
#include <stdint.h>
#include <string.h>

#include "pixseek/core.h"
#include "pixseek/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SIDE 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init_rc = 1;
    if (init_rc == 1) {
        pxs_log_set_level(PXS_LOG_ERROR);
        init_rc = pxs_image_global_init(NULL);
    }
    if (init_rc != PXS_OK) __builtin_trap();
    struct pxs_preprocess pp;
    pxs_preprocess_init_imagenet(&pp);
    pp.width = pp.height = SIDE;
    pp.resize_shorter = 36;
    pp.apply_orientation = 1;
    pp.max_pixels = 4u * 1000 * 1000;
    static float fast[3 * SIDE * SIDE], slow[3 * SIDE * SIDE];
    struct pxs_err err = {0};
    int rc = pxs_image_jpeg_to_tensor(data, size, &pp, fast, &err);
    if (rc == PXS_EUNSUPPORTED) return 0;
    if (rc != PXS_OK) __builtin_trap(); /* the recipe is valid: declining is the only failure */
    if (pxs_image_to_tensor(data, size, &pp, slow, NULL, &err) != PXS_OK) __builtin_trap();
    if (memcmp(fast, slow, sizeof fast) != 0) __builtin_trap();
    return 0;
}
