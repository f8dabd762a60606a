/*
 * pixseek/image.h — image bytes in, pixels out: type sniffing by magic
 * bytes, bounded decoding with EXIF orientation and shrink-on-load
 * (libvips), JPEG encoding for thumbnails, and the built-in global
 * colour/texture descriptor used when no CNN model is configured, and the
 * CNN input preprocessing (image -> normalised float tensor).
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
    /* EXIF fields, "" when absent (filled by pxs_image_decode and the
     * pxs_image_to_tensor family; printable ASCII, trimmed). */
    char exif_date[20];     /* DateTimeOriginal (else DateTime) as "YYYY-MM-DD HH:MM:SS" */
    char camera_make[64];   /* Make, e.g. "Canon" */
    char camera_model[64];  /* Model, e.g. "Canon EOS 5D" */
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

/* ---- CNN preprocessing ------------------------------------------------- */

/* Image bytes -> normalised float32 CHW tensor for an ImageNet-style CNN.
 * The default recipe (pxs_preprocess_init_imagenet) reproduces torchvision's
 * Resize(256) + CenterCrop(224) + ToTensor + Normalize on a PIL image:
 *   - decoding ignores EXIF orientation and drops alpha, like PIL's
 *     Image.open(f).convert('RGB') (set apply_orientation to rotate);
 *   - the shorter side becomes resize_shorter, the longer one
 *     floor(resize_shorter * long / short) (torchvision's int());
 *   - resampling is PIL's BILINEAR, reimplemented exactly: a triangle filter
 *     whose support grows with the downscale factor, 22-bit fixed-point
 *     weights, horizontal pass first with an 8-bit intermediate;
 *   - the crop offset is round((size - crop) / 2) with Python's
 *     round-half-to-even; a crop larger than the image pads with black;
 *   - v -> (v * scale - mean[c]) / std[c] in float32.
 * Only the cropped region is ever resampled. JPEGs larger than needed are
 * shrunk on load (libjpeg DCT scaling) while the shorter side stays at least
 * twice the resized one; set no_shrink_on_load for a bit-exact full decode. */
enum pxs_resize_policy {
    PXS_RESIZE_SHORTER_THEN_CROP = 0, /* shorter side -> resize_shorter, centre crop */
    PXS_RESIZE_SQUASH = 1,            /* straight to width x height, aspect not kept */
};

struct pxs_preprocess {
    int width, height;      /* network input size, 1..4096 (e.g. 224) */
    int resize_shorter;     /* SHORTER_THEN_CROP: shorter side, 1..4096 (e.g. 256) */
    enum pxs_resize_policy policy;
    int bgr;                /* 0: channels R,G,B; 1: B,G,R */
    float scale;            /* pixel values 0..255 are multiplied by this first (1/255 or 1) */
    float mean[3];          /* in output channel order, applied after scale */
    float std[3];           /* in output channel order, non-zero: (v*scale - mean)/std */
    int apply_orientation;  /* 1: rotate per EXIF like pxs_image_decode; 0: ignore EXIF (PIL) */
    int no_shrink_on_load;  /* 1: always decode at full size (bit-exact with PIL, slower) */
    uint64_t max_pixels;    /* refuse larger sources; 0 = PXS_IMAGE_MAX_PIXELS */
};

/* The torchvision ImageNet preset: 224x224 crop of a 256 resize, RGB,
 * scale 1/255, mean 0.485/0.456/0.406, std 0.229/0.224/0.225, EXIF
 * ignored, shrink-on-load on. */
void pxs_preprocess_init_imagenet(struct pxs_preprocess *pp);
/* PXS_OK, or PXS_EINVAL with err naming the bad field. */
int pxs_preprocess_validate(const struct pxs_preprocess *pp, struct pxs_err *err) PXS_MUST_CHECK;
/* Number of floats the tensor needs: 3 * height * width (0 if pp is NULL). */
size_t pxs_preprocess_tensor_floats(const struct pxs_preprocess *pp);

/* Decode data and write the tensor into out (3 * height * width floats,
 * CHW, caller-owned). Errors as pxs_image_decode (PXS_EINVAL for a bad pp
 * or NULL arguments); out is left untouched on error. info may be NULL;
 * it is filled as by pxs_image_decode (width/height after EXIF orientation,
 * whether or not pp applies it). */
int pxs_image_to_tensor(const void *data, size_t len, const struct pxs_preprocess *pp,
                        float *out, struct pxs_image_info *info,
                        struct pxs_err *err) PXS_MUST_CHECK;
/* The same, and from the same decode a preview: the image with EXIF
 * orientation applied, resampled (antialiased bilinear) so its longer side
 * is at most preview_side (1..4096), 8-bit RGB (*preview: free with
 * pxs_image_free). Unlike pxs_image_decode it drops alpha and ignores ICC
 * profiles, like the tensor; it saves a second decode when both are needed
 * (ingest: model input + thumbnail + built-in descriptor). */
int pxs_image_to_tensor_preview(const void *data, size_t len, const struct pxs_preprocess *pp,
                                float *out, int preview_side, struct pxs_image *preview,
                                struct pxs_image_info *info, struct pxs_err *err) PXS_MUST_CHECK;
/* The same from already decoded full-resolution pixels (e.g. from
 * pxs_image_decode with max_side 0; note that one applies EXIF orientation
 * and flattens alpha onto white). apply_orientation, no_shrink_on_load and
 * max_pixels are not used. */
int pxs_image_pixels_to_tensor(const struct pxs_image *img, const struct pxs_preprocess *pp,
                               float *out, struct pxs_err *err) PXS_MUST_CHECK;
/* Fast path of pxs_image_to_tensor for plain JPEGs (jpeg_fast.c): libjpeg
 * straight into the same resampler, without libvips's pipeline. The tensor
 * is identical to pxs_image_to_tensor's. Returns PXS_EUNSUPPORTED (out
 * untouched) for anything it leaves to pxs_image_to_tensor: not a JPEG, an
 * EXIF block (orientation), CMYK/YCCK, any libjpeg warning or error, more
 * than max_pixels. */
int pxs_image_jpeg_to_tensor(const void *data, size_t len, const struct pxs_preprocess *pp,
                             float *out, struct pxs_err *err) PXS_MUST_CHECK;

#ifdef __cplusplus
}
#endif
#endif
