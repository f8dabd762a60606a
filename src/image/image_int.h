/*
 * image_int.h — declarations shared by the files of src/image/ only: the
 * libvips error hand-off and the descriptor's block layout (which
 * bench/descriptor_eval.c uses to tune block weights). Not public API.
 */
#ifndef PIXSEEK_IMAGE_INT_H
#define PIXSEEK_IMAGE_INT_H

#include "pixseek/image.h"

/* Move libvips' process-global error text into err as "<what>: <text>"
 * (copied and cleared in one locked step), and return code. */
/* loader.c: sniff + PNM sanity + expected-loader check before decoding.
 * *fmt is set (PXS_IMAGE_UNKNOWN when not an image). */
int pxs__image_precheck(const void *data, size_t len, enum pxs_image_format *fmt,
                        struct pxs_err *err);
/* Size, orientation and pixel limit of a lazily opened header, which this
 * call releases (g_object_unref) whatever the outcome. */
struct _VipsImage;
int pxs__image_header_check(struct _VipsImage *header, enum pxs_image_format fmt,
                            uint64_t max_pixels, int *w, int *h, int *orientation,
                            struct pxs_err *err);
/* Copy the EXIF date and camera of a lazily opened header into info
 * (which may be NULL); the header stays referenced. */
void pxs__image_read_exif(struct _VipsImage *header, struct pxs_image_info *info);
/* Reset info to "nothing known" (format unknown, 0x0, orientation 1, no EXIF). */
void pxs__image_info_clear(struct pxs_image_info *info);
/* 1 if the format's expected loader is reached through the buffer API. */
int pxs__image_loader_uses_buffer(enum pxs_image_format fmt);

/* Decode a w x h JPEG (header already checked) to packed RGB with libjpeg
 * directly (jpeg_fast.c). Returns 0 and a pxs_malloc'd *pixels, or -1 when
 * it is not the simple case (shrink != 1, CMYK, warnings, errors): decode
 * it with libvips then. */
int pxs__image_jpeg_fast(const void *data, size_t len, int shrink, int w, int h, uint8_t **pixels,
                         int *out_w, int *out_h);

int pxs__image_vips_fail(struct pxs_err *err, int code, const char *what);
/* Drop whatever libvips left in its error buffer after a call that
 * succeeded (some loaders log harmless messages there). */
void pxs__image_vips_discard(void);

/* preprocess.c, for jpeg_fast.c: the JPEG shrink-on-load factor (1, 2, 4, 8)
 * pxs_image_to_tensor uses for an ow x oh source, and its resample + crop +
 * normalise step on packed RGB pixels decoded at that shrink (dw x dh). */
int pxs__image_pick_shrink(const struct pxs_preprocess *pp, int64_t ow, int64_t oh);
int pxs__image_render_rgb(const uint8_t *rgb, int dw, int dh, int shrink, int ow, int oh,
                          const struct pxs_preprocess *pp, float *out, struct pxs_err *err);

/* The built-in descriptor is a concatenation of blocks; each block is an
 * L1-normalised histogram mapped through sqrt (Hellinger), so it has unit L2
 * norm (or is all zero), and weight^2 is its share of the cosine. */
struct pxs__desc_block {
    const char *name;
    int offset;
    int dim;
    float weight;
};
#define PXS__DESC_N_BLOCKS 5
extern const struct pxs__desc_block pxs__desc_blocks[PXS__DESC_N_BLOCKS];

/* The descriptor before block weights and the final L2 normalisation. */
int pxs__image_descriptor_blocks(const struct pxs_image *img,
                                 float out[PXS_IMAGE_DESCRIPTOR_DIM], struct pxs_err *err);
/* Weight the blocks of raw in place and L2-normalise (PXS_EINVAL if zero). */
int pxs__image_descriptor_finish(float v[PXS_IMAGE_DESCRIPTOR_DIM], const float *weights,
                                 struct pxs_err *err);

#endif
