/*
 * encode.c — pixels to baseline JPEG bytes (thumbnails), with libvips.
 * Metadata is stripped; the result is copied into pxs_malloc'd memory.
 * Huffman tables are the standard ones (no optimize_coding): on 256-px
 * thumbnails optimising them halves the encode speed for 4 % fewer bytes.
 */
#include "image_int.h"

#include <string.h>
#include <vips/vips.h>

int pxs_image_encode_jpeg(const struct pxs_image *img, int quality, void **out, size_t *out_len,
                          struct pxs_err *err) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!img || !out || !out_len)
        return pxs_errf(err, PXS_EINVAL, "pxs_image_encode_jpeg: NULL argument");
    if (!img->pixels || img->width <= 0 || img->height <= 0)
        return pxs_errf(err, PXS_EINVAL, "pxs_image_encode_jpeg: empty image %dx%d", img->width,
                        img->height);
    if (quality < 1 || quality > 100)
        return pxs_errf(err, PXS_EINVAL, "JPEG quality %d is outside 1..100", quality);
    /* libjpeg cannot store more than 65500 pixels per side. */
    if (img->width > 65500 || img->height > 65500)
        return pxs_errf(err, PXS_ELIMIT, "%dx%d is too large for JPEG", img->width, img->height);
    size_t size;
    if (pxs_size_mul((size_t)img->width * 3, (size_t)img->height, &size) != 0)
        return pxs_errf(err, PXS_ELIMIT, "image size overflows");
    int rc = pxs_image_global_init(err);
    if (rc != PXS_OK) return rc;

    VipsImage *mem = vips_image_new_from_memory(img->pixels, size, img->width, img->height, 3,
                                                VIPS_FORMAT_UCHAR);
    if (!mem) return pxs__image_vips_fail(err, PXS_ENOMEM, "libvips image");
    VipsImage *rgb = NULL;
    if (vips_copy(mem, &rgb, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) != 0) {
        g_object_unref(mem);
        return pxs__image_vips_fail(err, PXS_EINTERNAL, "libvips copy");
    }
    void *buf = NULL;
    size_t len = 0;
    rc = vips_jpegsave_buffer(rgb, &buf, &len, "Q", quality, "strip", TRUE, "optimize_coding",
                              FALSE, "interlace", FALSE, NULL);
    g_object_unref(rgb);
    g_object_unref(mem);
    if (rc != 0) return pxs__image_vips_fail(err, PXS_EINTERNAL, "JPEG encode failed");
    pxs__image_vips_discard();
    void *copy = pxs_malloc(len ? len : 1);
    if (!copy) {
        g_free(buf);
        return pxs_errf(err, PXS_ENOMEM, "out of memory for a %zu-byte JPEG", len);
    }
    memcpy(copy, buf, len);
    g_free(buf);
    *out = copy;
    *out_len = len;
    return PXS_OK;
}
