/*
 * jpeg_fast.c — JPEG bytes to a CNN input tensor with libjpeg(-turbo)
 * directly, for the common case of a search query: a plain JPEG without
 * EXIF. It skips libvips's pipeline machinery (objects, regions, a worker
 * thread hand-off), which costs more than the JPEG decode itself for
 * photos of a few hundred pixels (~0.7 ms of CPU and ~1 ms of wall time
 * per 384x256 Corel image).
 *
 * Identity with pxs_image_to_tensor: libvips's jpegload decodes with
 * libjpeg's defaults (islow DCT, fancy upsampling), RGB output, and DCT
 * scaling by the shrink-on-load factor; this file does the same and hands
 * the pixels to the same resampler (pxs__image_render_rgb) with the same
 * shrink (pxs__image_pick_shrink), so the tensor is bit-identical (tested
 * in tests/image/test_jpeg_fast.c against pxs_image_to_tensor).
 *
 * Everything else is left to pxs_image_to_tensor by returning
 * PXS_EUNSUPPORTED: an APP1 "Exif" block (its orientation would matter),
 * CMYK/YCCK, more pixels than the limit, and any libjpeg warning or error
 * (truncated or corrupt data get libvips's handling and error messages).
 */
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

#include "image_int.h"

struct bail_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
};

static void bail_on_error(j_common_ptr ci) { longjmp(((struct bail_mgr *)ci->err)->jump, 1); }

/* level < 0: a warning (corrupt or truncated data); give the image to libvips. */
static void bail_on_warning(j_common_ptr ci, int level) {
    if (level < 0) longjmp(((struct bail_mgr *)ci->err)->jump, 1);
}

static int has_exif(j_decompress_ptr ci) {
    for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0)
            return 1;
    return 0;
}

/* After jpeg_read_header: can this path decode it? Sets *shrink. */
static int supported(j_decompress_ptr ci, const struct pxs_preprocess *pp, int *shrink) {
    uint64_t max_pixels = pp->max_pixels ? pp->max_pixels : PXS_IMAGE_MAX_PIXELS;
    if (ci->jpeg_color_space != JCS_YCbCr && ci->jpeg_color_space != JCS_RGB &&
        ci->jpeg_color_space != JCS_GRAYSCALE)
        return 0;
    if (ci->image_width == 0 || ci->image_height == 0 ||
        (uint64_t)ci->image_width * ci->image_height > max_pixels || has_exif(ci))
        return 0;
    *shrink = pxs__image_pick_shrink(pp, ci->image_width, ci->image_height);
    return 1;
}

/* Decode into *px (packed RGB, pxs_alloc'd) or return 0 for "not here".
 * Kept apart from the caller so no local of the caller lives across setjmp. */
static int decode(const void *data, size_t len, const struct pxs_preprocess *pp, uint8_t **px,
                  int *dw, int *dh, int *shrink, int *ow, int *oh) {
    struct jpeg_decompress_struct ci;
    struct bail_mgr em;
    uint8_t *volatile pixels = NULL;
    ci.err = jpeg_std_error(&em.pub);
    em.pub.error_exit = bail_on_error;
    em.pub.emit_message = bail_on_warning;
    if (setjmp(em.jump)) {
        jpeg_destroy_decompress(&ci);
        pxs_free(pixels);
        return 0;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, (const unsigned char *)data, (unsigned long)len);
    jpeg_save_markers(&ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&ci, TRUE);
    int s = 1;
    if (!supported(&ci, pp, &s)) {
        jpeg_destroy_decompress(&ci);
        return 0;
    }
    *shrink = s;
    *ow = (int)ci.image_width;
    *oh = (int)ci.image_height;
    ci.scale_num = 1;
    ci.scale_denom = (unsigned)s;
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    size_t stride = (size_t)ci.output_width * 3;
    pixels = pxs_mallocarray(stride, ci.output_height);
    if (!pixels) {
        jpeg_destroy_decompress(&ci);
        return 0;
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = pixels + (size_t)ci.output_scanline * stride;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    *dw = (int)ci.output_width;
    *dh = (int)ci.output_height;
    jpeg_destroy_decompress(&ci); /* no finish: trailing bytes after the scan are not read */
    *px = pixels;
    return 1;
}

int pxs_image_jpeg_to_tensor(const void *data, size_t len, const struct pxs_preprocess *pp,
                             float *out, struct pxs_err *err) {
    int rc = pxs_preprocess_validate(pp, err);
    if (rc != PXS_OK) return rc;
    if (!out || !data || len < 3) return pxs_errf(err, PXS_EUNSUPPORTED, "not for the JPEG fast path");
    const unsigned char *b = data;
    if (b[0] != 0xFF || b[1] != 0xD8 || b[2] != 0xFF)
        return pxs_errf(err, PXS_EUNSUPPORTED, "not a JPEG");
    enum pxs_image_format fmt;
    struct pxs_err ignored = {0};
    if (pxs__image_precheck(data, len, &fmt, &ignored) != PXS_OK || fmt != PXS_IMAGE_JPEG)
        return pxs_errf(err, PXS_EUNSUPPORTED, "not for the JPEG fast path");
    uint8_t *px = NULL;
    int dw = 0, dh = 0, shrink = 1, ow = 0, oh = 0;
    if (!decode(data, len, pp, &px, &dw, &dh, &shrink, &ow, &oh))
        return pxs_errf(err, PXS_EUNSUPPORTED, "not for the JPEG fast path");
    rc = pxs__image_render_rgb(px, dw, dh, shrink, ow, oh, pp, out, err);
    pxs_free(px);
    return rc;
}
