/*
 * jpeg_fast.c — the common JPEG case decoded with libjpeg(-turbo) directly,
 * skipping libvips' per-image pipeline (operation objects, regions, a
 * worker thread hand-off), which costs about as much as the decoding itself
 * on photos of a few hundred pixels. Two callers:
 *
 *  - ingest (pxs__image_jpeg_fast, from preprocess.c): a JPEG whose header
 *    libvips already read and which needs no rotation, decoded at full size
 *    to packed RGB. DCT-scaled decodes stay with libvips there.
 *  - search queries (pxs_image_jpeg_to_tensor): JPEG bytes straight to the
 *    CNN input tensor through preprocess.c's resampler, with the same
 *    shrink-on-load factor pxs_image_to_tensor picks; files with an APP1
 *    "Exif" block (orientation would matter) are left to the full path.
 *
 * Identity with libvips: its jpegload decodes with libjpeg's defaults
 * (islow DCT, fancy upsampling), RGB output, DCT scaling by the shrink
 * factor; this file sets libjpeg up the same way, so pixels and tensors are
 * the same (tests/image/test_preprocess.c, tests/image/test_jpeg_fast.c,
 * fuzz/fuzz_jpeg_fast.c with the libvips path as oracle).
 *
 * Anything else — CMYK/YCCK, a libjpeg warning (truncated or damaged data),
 * an error, an unexpected size, too many pixels — is declined and the
 * caller decodes with libvips, which gives the canonical pixels or error.
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

static void bail_on_error(j_common_ptr ci) { longjmp(((struct bail_mgr *)(void *)ci->err)->jump, 1); }

/* level < 0: a warning (corrupt or truncated data); give the image to libvips. */
static void bail_on_warning(j_common_ptr ci, int level) {
    if (level < 0) bail_on_error(ci);
}

static int has_exif(j_decompress_ptr ci) {
    for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next)
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0)
            return 1;
    return 0;
}

/* What a caller accepts, checked after jpeg_read_header. */
struct want {
    const struct pxs_preprocess *pp; /* query path: pick the shrink, refuse EXIF; NULL: ingest */
    int shrink;                      /* ingest: the factor (only 1 is taken) */
    int w, h;                        /* ingest: the size libvips' header reported */
};

/* After jpeg_read_header: can this path decode it? Sets *shrink. */
static int supported(j_decompress_ptr ci, const struct want *want, int *shrink) {
    if ((ci->jpeg_color_space != JCS_YCbCr && ci->jpeg_color_space != JCS_RGB &&
         ci->jpeg_color_space != JCS_GRAYSCALE) ||
        (ci->num_components != 3 && ci->num_components != 1) || ci->image_width == 0 ||
        ci->image_height == 0)
        return 0;
    if (!want->pp) {
        *shrink = 1;
        return want->shrink == 1 && (int64_t)ci->image_width == want->w &&
               (int64_t)ci->image_height == want->h;
    }
    uint64_t max_pixels = want->pp->max_pixels ? want->pp->max_pixels : PXS_IMAGE_MAX_PIXELS;
    if ((uint64_t)ci->image_width * ci->image_height > max_pixels || has_exif(ci)) return 0;
    *shrink = pxs__image_pick_shrink(want->pp, ci->image_width, ci->image_height);
    return 1;
}

/* Decode into *px (packed RGB, pxs_alloc'd) or return 0 for "not here".
 * Kept apart from the callers so no local of theirs lives across setjmp. */
static int decode(const void *data, size_t len, const struct want *want, uint8_t **px, int *dw,
                  int *dh, int *shrink, int *ow, int *oh) {
    struct jpeg_decompress_struct ci;
    struct bail_mgr em;
    uint8_t *volatile pixels = NULL;
    memset(&em, 0, sizeof em);
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
    if (want->pp) jpeg_save_markers(&ci, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&ci, TRUE);
    int s = 1;
    if (!supported(&ci, want, &s)) {
        jpeg_destroy_decompress(&ci);
        return 0;
    }
    *shrink = s;
    *ow = (int)ci.image_width;
    *oh = (int)ci.image_height;
    ci.scale_num = 1;
    ci.scale_denom = (unsigned)s;
    ci.out_color_space = JCS_RGB; /* greyscale is replicated into R, G, B */
    jpeg_start_decompress(&ci);
    if (ci.output_components != 3) {
        jpeg_destroy_decompress(&ci);
        return 0;
    }
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

int pxs__image_jpeg_fast(const void *data, size_t len, int shrink, int w, int h, uint8_t **pixels,
                         int *out_w, int *out_h) {
    *pixels = NULL;
    const struct want want = {NULL, shrink, w, h};
    int s = 1, ow = 0, oh = 0;
    if (shrink != 1 || !decode(data, len, &want, pixels, out_w, out_h, &s, &ow, &oh)) return -1;
    return 0;
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
    const struct want want = {pp, 0, 0, 0};
    uint8_t *px = NULL;
    int dw = 0, dh = 0, shrink = 1, ow = 0, oh = 0;
    if (!decode(data, len, &want, &px, &dw, &dh, &shrink, &ow, &oh))
        return pxs_errf(err, PXS_EUNSUPPORTED, "not for the JPEG fast path");
    rc = pxs__image_render_rgb(px, dw, dh, shrink, ow, oh, pp, out, err);
    pxs_free(px);
    return rc;
}
