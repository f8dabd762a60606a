/*
 * decode.c — bytes in memory to 8-bit sRGB RGB pixels, with libvips.
 *
 * Order of checks (nothing is decoded before the size is known to be OK):
 *   1. sniff the magic bytes; unknown -> PXS_EUNSUPPORTED, empty -> PXS_EINVAL
 *   2. ask libvips which loader it would use and require it to match the
 *      sniffed format (so a damaged TIFF cannot fall through to ImageMagick)
 *   3. read the header only; width*height > max_pixels -> PXS_ELIMIT
 *   4. decode with vips_thumbnail (shrink-on-load, EXIF autorotation, ICC /
 *      CMYK import to sRGB) and fail-on=truncated, so truncated files are
 *      errors (PXS_ECORRUPT) and not silently grey-filled
 *   5. normalise to sRGB, 8 bits, 3 bands: alpha flattened onto white,
 *      grey expanded, 16-bit scaled down, extra bands dropped
 *   6. copy the pixels into pxs_malloc'd memory
 * libvips decodes lazily, so the actual pixel decode, and most corruption
 * errors, happen in step 6.
 */
#include "image_int.h"

#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

/* vips_thumbnail's width/height argument range. */
#define THUMB_MAX_SIDE 10000000

void pxs_image_free(struct pxs_image *img) {
    if (!img) return;
    pxs_free(img->pixels);
    img->pixels = NULL;
    img->width = 0;
    img->height = 0;
}

static VipsImage *open_header(enum pxs_image_format fmt, const void *data, size_t len) {
    if (pxs__image_loader_uses_buffer(fmt)) return vips_image_new_from_buffer(data, len, "", NULL);
    VipsSource *src = vips_source_new_from_memory(data, len);
    if (!src) return NULL;
    VipsImage *im = vips_image_new_from_source(src, "", NULL);
    g_object_unref(src);
    return im;
}

/* libvips' VipsThumbnail takes loader options as a string; fail-on=truncated
 * turns "premature end of data" into an error instead of grey fill. (8.14's
 * thumbnail "fail_on" property is not passed on by vips_thumbnail_buffer.) */
#define LOADER_OPTIONS "fail-on=truncated"

static int thumbnail(enum pxs_image_format fmt, const void *data, size_t len, int side,
                     VipsImage **out) {
    if (pxs__image_loader_uses_buffer(fmt))
        return vips_thumbnail_buffer((void *)data, len, out, side, "height", side, "size",
                                     VIPS_SIZE_DOWN, "option_string", LOADER_OPTIONS, NULL);
    VipsSource *src = vips_source_new_from_memory(data, len);
    if (!src) return -1;
    int rc = vips_thumbnail_source(src, out, side, "height", side, "size", VIPS_SIZE_DOWN,
                                   "option_string", LOADER_OPTIONS, NULL);
    g_object_unref(src);
    return rc;
}

/* Step 5. Every intermediate goes into t[], owned by the caller's context
 * object, so one unref releases them all. Returns the final image or NULL. */
static VipsImage *to_srgb8(VipsImage *in, VipsImage **t) {
    VipsImage *x = in;
    int k = 0;

    /* Colour: whatever libvips understands (B_W, GREY16, RGB16, CMYK, LAB,
     * scRGB, ...) goes through vips_colourspace, which also brings 16-bit and
     * float down to 8 bits. Extra bands such as alpha are carried along. */
    VipsInterpretation interp = vips_image_guess_interpretation(x);
    if (interp != VIPS_INTERPRETATION_sRGB && vips_colourspace_issupported(x)) {
        if (vips_colourspace(x, &t[k], VIPS_INTERPRETATION_sRGB, NULL)) return NULL;
        x = t[k++];
    }
    /* Anything not understood as colour: scale 16-bit down, clip the rest. */
    if (x->BandFmt == VIPS_FORMAT_USHORT) {
        if (vips_rshift_const1(x, &t[k], 8, NULL)) return NULL;
        x = t[k++];
    }
    if (x->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_cast(x, &t[k], VIPS_FORMAT_UCHAR, NULL)) return NULL;
        x = t[k++];
    }
    /* Alpha: 2 bands (grey + alpha) or 4 bands (RGB + alpha) -> white. */
    if (x->Bands == 2 || x->Bands == 4) {
        VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
        int rc = vips_flatten(x, &t[k], "background", white, "max_alpha", 255.0, NULL);
        vips_area_unref(VIPS_AREA(white));
        if (rc) return NULL;
        x = t[k++];
    }
    if (x->Bands > 3) {
        if (vips_extract_band(x, &t[k], 0, "n", 3, NULL)) return NULL;
        x = t[k++];
    } else if (x->Bands == 2) { /* only if flatten was skipped: never, but be safe */
        if (vips_extract_band(x, &t[k], 0, NULL)) return NULL;
        x = t[k++];
    }
    if (x->Bands == 1) {
        VipsImage *three[3] = {x, x, x};
        if (vips_bandjoin(three, &t[k], 3, NULL)) return NULL;
        x = t[k++];
    }
    if (x->Bands != 3 || x->BandFmt != VIPS_FORMAT_UCHAR) return NULL;
    return x;
}

#define N_TEMPS 16

int pxs_image_decode(const void *data, size_t len, const struct pxs_image_decode_opts *opts,
                     struct pxs_image *out, struct pxs_image_info *info, struct pxs_err *err) {
    pxs__image_info_clear(info);
    if (!out) return pxs_errf(err, PXS_EINVAL, "pxs_image_decode: out is NULL");
    out->width = out->height = 0;
    out->pixels = NULL;
    if (!data && len > 0) return pxs_errf(err, PXS_EINVAL, "pxs_image_decode: data is NULL");
    if (len == 0) return pxs_errf(err, PXS_EINVAL, "empty file");
    int max_side = opts ? opts->max_side : 0;
    if (max_side < 0) return pxs_errf(err, PXS_EINVAL, "max_side %d is negative", max_side);
    if (max_side > THUMB_MAX_SIDE) max_side = THUMB_MAX_SIDE;
    uint64_t max_pixels = opts && opts->max_pixels ? opts->max_pixels : PXS_IMAGE_MAX_PIXELS;

    enum pxs_image_format fmt;
    int rc = pxs__image_precheck(data, len, &fmt, err);
    if (info && fmt != PXS_IMAGE_UNKNOWN) info->format = fmt;
    if (rc != PXS_OK) return rc;

    /* Step 3: header only. */
    VipsImage *header = open_header(fmt, data, len);
    if (!header) {
        char what[64];
        snprintf(what, sizeof what, "damaged %s header", pxs_image_format_name(fmt));
        return pxs__image_vips_fail(err, PXS_ECORRUPT, what);
    }
    int w, h, orientation;
    pxs__image_read_exif(header, info);
    rc = pxs__image_header_check(header, fmt, max_pixels, &w, &h, &orientation, err);
    if (rc != PXS_OK) return rc;
    if (info) {
        int swap = orientation >= 5; /* 5..8 are the transposing orientations */
        info->width = swap ? h : w;
        info->height = swap ? w : h;
        info->orientation = orientation;
    }

    /* Step 4-5: build the pipeline. Full size = a box as big as the source. */
    int side = max_side > 0 ? max_side : (w > h ? w : h);
    if (side > THUMB_MAX_SIDE) side = THUMB_MAX_SIDE;
    VipsImage *thumb = NULL;
    if (thumbnail(fmt, data, len, side, &thumb) != 0)
        return pxs__image_vips_fail(err, PXS_ECORRUPT, "decode failed");
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, N_TEMPS);
    t[N_TEMPS - 1] = thumb; /* now owned by ctx */
    VipsImage *rgb = to_srgb8(thumb, t);
    if (!rgb) {
        g_object_unref(ctx);
        return pxs__image_vips_fail(err, PXS_ECORRUPT, "colour conversion failed");
    }

    /* Step 6: this is where the pixels are actually decoded. */
    size_t size = 0;
    void *mem = vips_image_write_to_memory(rgb, &size);
    int ow = rgb->Xsize, oh = rgb->Ysize;
    g_object_unref(ctx);
    if (!mem) return pxs__image_vips_fail(err, PXS_ECORRUPT, "decode failed");
    pxs__image_vips_discard();
    size_t want;
    if (ow <= 0 || oh <= 0 || pxs_size_mul((size_t)ow * 3, (size_t)oh, &want) != 0 ||
        size != want) {
        g_free(mem);
        return pxs_errf(err, PXS_EINTERNAL, "libvips returned %zu bytes for %dx%d RGB", size,
                        ow, oh);
    }
    uint8_t *pix = pxs_malloc(want);
    if (!pix) {
        g_free(mem);
        return pxs_errf(err, PXS_ENOMEM, "out of memory for %dx%d pixels", ow, oh);
    }
    memcpy(pix, mem, want);
    g_free(mem);
    out->width = ow;
    out->height = oh;
    out->pixels = pix;
    return PXS_OK;
}
