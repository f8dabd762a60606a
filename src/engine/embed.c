/*
 * embed.c — image bytes to embedding (and thumbnail). Today the only
 * embedder is the image module's built-in colour/texture descriptor; the
 * CNN embedder (nn module) plugs in here.
 */
#include "engine_int.h"

#include <string.h>

int engine_embed_bytes(pxs_engine *engine, const void *data, size_t len, float *vec,
                       void **thumb, size_t *thumb_len, struct pxs_image_info *info,
                       struct pxs_err *err) {
    struct pxs_image img = {0};
    struct pxs_image_decode_opts opts = {.max_side = DECODE_SIDE, .max_pixels = 0};
    int rc = pxs_image_decode(data, len, &opts, &img, info, err);
    if (rc != PXS_OK) return rc;
    if (engine->dim != PXS_IMAGE_DESCRIPTOR_DIM) {
        pxs_image_free(&img);
        return pxs_errf(err, PXS_EINTERNAL, "embedder dimension %zu unexpected", engine->dim);
    }
    rc = pxs_image_descriptor(&img, vec, err);
    if (rc == PXS_OK && thumb) rc = pxs_image_encode_jpeg(&img, THUMB_QUALITY, thumb, thumb_len, err);
    pxs_image_free(&img);
    return rc;
}
