/*
 * pixseek/image.h — image bytes in, pixels out: type sniffing by magic
 * bytes, bounded decoding with EXIF orientation and shrink-on-load
 * (libvips), JPEG encoding for thumbnails, and the built-in global
 * colour/texture descriptor used when no CNN model is configured.
 *
 * The image module knows nothing of models, indexes or storage.
 * Thread-safety: every function may be called from any thread once
 * pxs_image_global_init has succeeded.
 */
#ifndef PIXSEEK_IMAGE_H
#define PIXSEEK_IMAGE_H

#include "pixseek/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum pxs_image_format {
    PXS_IMAGE_UNKNOWN = 0,
    PXS_IMAGE_JPEG,
    PXS_IMAGE_PNG,
    PXS_IMAGE_GIF,
    PXS_IMAGE_WEBP,
    PXS_IMAGE_TIFF,
    PXS_IMAGE_BMP,
    PXS_IMAGE_HEIF, /* HEIC and AVIF (ISO-BMFF 'ftyp' brands) */
    PXS_IMAGE_PNM,
};

/* Identify the container from its first bytes (at most 32 are looked at).
 * Extensions are never consulted. */
enum pxs_image_format pxs_image_sniff(const void *data, size_t len);
/* "jpeg", "png", ... ; "unknown" for PXS_IMAGE_UNKNOWN. Never NULL. */
const char *pxs_image_format_name(enum pxs_image_format format);
/* "image/jpeg", ...; "application/octet-stream" for unknown. */
const char *pxs_image_format_mime(enum pxs_image_format format);

/* Initialise libvips once per process (idempotent, thread-safe). */
int pxs_image_global_init(struct pxs_err *err) PXS_MUST_CHECK;

/* 8-bit sRGB pixels, 3 channels interleaved, rows packed (stride = 3*width). */
struct pxs_image {
    int width;
    int height;
    uint8_t *pixels; /* caller frees with pxs_image_free */
};

struct pxs_image_info {
    enum pxs_image_format format;
    int width;       /* of the stored image after EXIF orientation */
    int height;
    int orientation; /* EXIF orientation tag 1..8 (1 if absent) */
};

struct pxs_image_decode_opts {
    int max_side;        /* shrink (never enlarge) so the longer side <= max_side; 0 = full size */
    uint64_t max_pixels; /* refuse sources with more pixels than this; 0 = PXS_IMAGE_MAX_PIXELS */
};
#define PXS_IMAGE_MAX_PIXELS (200ull * 1000 * 1000)

/* Decode an image held in memory. Applies EXIF orientation, converts to
 * sRGB, flattens alpha onto white, takes the first frame of animations, and
 * uses shrink-on-load when max_side is set. Truncated or corrupt data gives
 * PXS_ECORRUPT, unknown formats PXS_EUNSUPPORTED, oversized sources
 * PXS_ELIMIT; err says why. info may be NULL. */
int pxs_image_decode(const void *data, size_t len, const struct pxs_image_decode_opts *opts,
                     struct pxs_image *out, struct pxs_image_info *info,
                     struct pxs_err *err) PXS_MUST_CHECK;
/* Frees pixels; NULL or an already-freed image is a no-op. */
void pxs_image_free(struct pxs_image *img);

/* Encode pixels as baseline JPEG. *out: caller frees with pxs_free. */
int pxs_image_encode_jpeg(const struct pxs_image *img, int quality, void **out, size_t *out_len,
                          struct pxs_err *err) PXS_MUST_CHECK;

/* The built-in descriptor: a global colour + texture signature that needs no
 * model. Deterministic, L2-normalised, compare with inner product (cosine).
 * Works on any image size; decoding with max_side = 256 is plenty. */
#define PXS_IMAGE_DESCRIPTOR_DIM 256
#define PXS_IMAGE_DESCRIPTOR_NAME "builtin-colortexture-v1"
int pxs_image_descriptor(const struct pxs_image *img, float out[PXS_IMAGE_DESCRIPTOR_DIM],
                         struct pxs_err *err) PXS_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
