/*
 * preprocess.c — CNN input preprocessing: image bytes (or decoded pixels)
 * to a normalised float32 CHW tensor, reproducing the torchvision/PIL
 * recipe the reference models were evaluated with:
 *
 *   img = PIL.Image.open(f).convert('RGB')      # EXIF ignored, alpha dropped
 *   img = transforms.Resize(256)(img)           # PIL BILINEAR (antialiased)
 *   img = transforms.CenterCrop(224)(img)
 *   x   = Normalize(mean, std)(ToTensor()(img))
 *
 * Decoding uses libvips loaders directly (not vips_thumbnail, which would
 * autorotate, import ICC profiles and resample with its own kernel):
 *   - EXIF orientation is ignored unless pp->apply_orientation, because PIL's
 *     Image.open does not apply it and the reference embeddings
 *     (shared/models/tools/verify_mbv2.py, shared/baselines/seed_replica/
 *     features.py) were made that way. The engine may opt in.
 *   - Embedded ICC profiles are ignored (PIL ignores them too).
 *   - Alpha is dropped, not flattened (PIL's convert('RGB') drops it);
 *     grey is replicated; CMYK uses PIL's naive formula
 *     r = (255-k) - (c*(255-k))/255; 16-bit samples keep their high byte
 *     (as PIL does for 16-bit RGB; for 16-bit greyscale PIL clips the raw
 *     value to 255, a Pillow quirk that is deliberately not copied).
 *   - JPEG shrink-on-load (DCT scaling by 2, 4 or 8) is used only while the
 *     shrunk image keeps at least twice the resized size on the relevant
 *     sides; the resampler then works in the shrunk image with the exact
 *     fractional source box (w/shrink), so the geometry stays identical.
 *
 * Resampling is a re-implementation of Pillow's ImagingResample (9.x) for
 * BILINEAR: per output pixel the centre (x+0.5)*scale, support
 * max(scale,1), triangle weights normalised to 1 and rounded to 22-bit fixed
 * point, horizontal pass first into an 8-bit intermediate, then vertical.
 * Given identical decoded pixels the result is bit-identical to PIL. Only
 * the pixels inside the crop are computed. Geometry follows torchvision
 * 0.14: long side int(s * long / short), crop offset
 * int(round((size - crop) / 2.0)) with Python's round-half-to-even, and
 * black padding when the crop is larger than the image.
 *
 * The loader checks (sniffed format must match the loader libvips picks,
 * PNM header sanity, pixel limit) mirror decode.c, whose helpers are static.
 */
#include "image_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <vips/vips.h>

#define PP_MAX_SIDE 4096
#define PREC_BITS 22 /* Pillow's PRECISION_BITS for 8-bit images: 32 - 8 - 2 */

/* ---- parameters ------------------------------------------------------- */

void pxs_preprocess_init_imagenet(struct pxs_preprocess *pp) {
    if (!pp) return;
    memset(pp, 0, sizeof *pp);
    pp->width = 224;
    pp->height = 224;
    pp->resize_shorter = 256;
    pp->policy = PXS_RESIZE_SHORTER_THEN_CROP;
    pp->bgr = 0;
    pp->scale = 1.0f / 255.0f;
    pp->mean[0] = 0.485f, pp->mean[1] = 0.456f, pp->mean[2] = 0.406f;
    pp->std[0] = 0.229f, pp->std[1] = 0.224f, pp->std[2] = 0.225f;
}

int pxs_preprocess_validate(const struct pxs_preprocess *pp, struct pxs_err *err) {
    if (!pp) return pxs_errf(err, PXS_EINVAL, "preprocess: parameters are NULL");
    if (pp->width < 1 || pp->width > PP_MAX_SIDE || pp->height < 1 || pp->height > PP_MAX_SIDE)
        return pxs_errf(err, PXS_EINVAL, "preprocess: input size %dx%d is outside 1..%d",
                        pp->width, pp->height, PP_MAX_SIDE);
    if (pp->policy != PXS_RESIZE_SHORTER_THEN_CROP && pp->policy != PXS_RESIZE_SQUASH)
        return pxs_errf(err, PXS_EINVAL, "preprocess: unknown resize policy %d", (int)pp->policy);
    if (pp->policy == PXS_RESIZE_SHORTER_THEN_CROP &&
        (pp->resize_shorter < 1 || pp->resize_shorter > PP_MAX_SIDE))
        return pxs_errf(err, PXS_EINVAL, "preprocess: resize_shorter %d is outside 1..%d",
                        pp->resize_shorter, PP_MAX_SIDE);
    if (pp->bgr != 0 && pp->bgr != 1)
        return pxs_errf(err, PXS_EINVAL, "preprocess: bgr must be 0 or 1, not %d", pp->bgr);
    if (!isfinite(pp->scale) || pp->scale == 0.0f)
        return pxs_errf(err, PXS_EINVAL, "preprocess: scale must be finite and non-zero");
    for (int c = 0; c < 3; c++) {
        if (!isfinite(pp->mean[c]))
            return pxs_errf(err, PXS_EINVAL, "preprocess: mean[%d] is not finite", c);
        if (!isfinite(pp->std[c]) || pp->std[c] == 0.0f)
            return pxs_errf(err, PXS_EINVAL, "preprocess: std[%d] must be finite and non-zero",
                            c);
    }
    return PXS_OK;
}

size_t pxs_preprocess_tensor_floats(const struct pxs_preprocess *pp) {
    if (!pp || pp->width < 1 || pp->height < 1 || pp->width > PP_MAX_SIDE ||
        pp->height > PP_MAX_SIDE)
        return 0;
    return (size_t)3 * (size_t)pp->width * (size_t)pp->height;
}

/* ---- geometry (torchvision) -------------------------------------------- */

/* int(round(d / 2.0)) in Python 3 for an integer d >= 0: halves go to even. */
static int64_t round_half_even_div2(int64_t d) {
    int64_t q = d / 2;
    if (d % 2 == 0) return q;
    return (q % 2 == 0) ? q : q + 1;
}

/* Offset of the crop's first pixel in the resized image (negative: padding). */
static int64_t crop_offset(int64_t size, int crop) {
    if (crop > size) return -((crop - size) / 2);
    return round_half_even_div2(size - crop);
}

/* ---- Pillow's bilinear resampler ----------------------------------------- */

/* Coefficients for outputs [first, first + n) of an axis resampled from
 * in_size input pixels (source box [in0, in1)) to out_size outputs. */
struct axis {
    int n;
    int ksize;
    int *bounds;  /* 2 per output: first input index, number of inputs */
    int32_t *k;   /* ksize per output, 22-bit fixed point */
};

static void axis_free(struct axis *a) {
    pxs_free(a->bounds);
    pxs_free(a->k);
    a->bounds = NULL;
    a->k = NULL;
}

static double triangle(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

static int axis_init(struct axis *a, int in_size, float in0, float in1, int64_t out_size,
                     int64_t first, int n, struct pxs_err *err) {
    a->n = n;
    a->bounds = NULL;
    a->k = NULL;
    double scale = (double)(in1 - in0) / (double)out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale;
    double ks = ceil(support) * 2 + 1;
    if (ks > (double)in_size + 3.0) ks = (double)in_size + 3.0; /* never more inputs than exist */
    a->ksize = (int)ks;
    a->bounds = pxs_mallocarray((size_t)n * 2, sizeof(int));
    a->k = pxs_mallocarray((size_t)n, (size_t)a->ksize * sizeof(int32_t));
    double *w = pxs_mallocarray((size_t)a->ksize, sizeof(double));
    if (!a->bounds || !a->k || !w) {
        pxs_free(w);
        axis_free(a);
        return pxs_errf(err, PXS_ENOMEM, "preprocess: out of memory for resampling weights");
    }
    double ss = 1.0 / filterscale;
    for (int i = 0; i < n; i++) {
        double center = in0 + ((double)(first + i) + 0.5) * scale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        if (xmax < 0) xmax = 0;
        if (xmax > a->ksize) xmax = a->ksize; /* cannot happen; keeps the writes in bounds */
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = triangle((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = a->k + (size_t)i * a->ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            k[x] = (int32_t)(0.5 + v * (1 << PREC_BITS)); /* weights are never negative */
        }
        for (int x = xmax; x < a->ksize; x++) k[x] = 0;
        a->bounds[2 * i] = xmin;
        a->bounds[2 * i + 1] = xmax;
    }
    pxs_free(w);
    return PXS_OK;
}

/* Accumulators are unsigned 32-bit: the weights of one output are rounded
 * from fractions summing to 1, so they add up to at most 2^22 + ksize/2,
 * and with ksize <= VIPS_MAX_COORD + 3 the largest sum,
 * 255 * (2^22 + ksize/2) + 2^21, stays below 2^32. (Pillow's are int, which
 * only overflows for absurd downscale factors; the results are the same
 * whenever Pillow's do not overflow.) */
_Static_assert(255ull * ((1ull << PREC_BITS) + (VIPS_MAX_COORD + 4ull) / 2) + (1ull << (PREC_BITS - 1)) <
                   (1ull << 32),
               "resampling accumulators can overflow");
static inline uint8_t clip8(uint32_t v) {
    v >>= PREC_BITS;
    return (uint8_t)(v > 255 ? 255 : v);
}

/* acc[j] += row[j] * k for j < n. Written in blocks of 16 with restrict
 * pointers so that compilers vectorise it at -O2. */
static void mac_row(uint32_t *restrict acc, const uint8_t *restrict row, uint32_t k, size_t n) {
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
        for (int q = 0; q < 16; q++) acc[j + q] += row[j + q] * k;
    for (; j < n; j++) acc[j] += row[j] * k;
}

/* out[j] = clip8(acc[j]), then acc[j] = the rounding term, for j < n. */
static void clip_row(uint32_t *restrict acc, uint8_t *restrict out, size_t n) {
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
        for (int q = 0; q < 16; q++) {
            uint32_t v = acc[j + q] >> PREC_BITS;
            out[j + q] = (uint8_t)(v > 255 ? 255 : v);
            acc[j + q] = 1u << (PREC_BITS - 1);
        }
    for (; j < n; j++) {
        out[j] = clip8(acc[j]);
        acc[j] = 1u << (PREC_BITS - 1);
    }
}

/* The source as the resampler sees it. */
struct src_view {
    const uint8_t *px; /* packed RGB, stride 3*w */
    int w, h;          /* decoded size */
    float box_w, box_h; /* extent of the original image in decoded pixels (w,h unless shrunk) */
    int64_t orig_w, orig_h; /* size the geometry is computed from */
};

/* The view of dw x dh pixels decoded at JPEG shrink `shrink` (1: none) from
 * an ow x oh source. */
static struct src_view decoded_view(const uint8_t *px, int dw, int dh, int shrink, int ow, int oh) {
    struct src_view s = {px, dw, dh, (float)dw, (float)dh, ow, oh};
    if (shrink > 1) s.box_w = (float)((double)ow / shrink), s.box_h = (float)((double)oh / shrink);
    return s;
}

/* Resample region [x0, x0+nx) x [y0, y0+ny) of the rw x rh resized image
 * into reg (packed RGB, nx*ny*3). */
static int resample_region(const struct src_view *s, int64_t rw, int64_t rh, int64_t x0, int nx,
                           int64_t y0, int ny, uint8_t *reg, struct pxs_err *err) {
    int need_h = rw != s->w || s->box_w != (float)rw;
    int need_v = rh != s->h || s->box_h != (float)rh;
    struct axis ax = {0}, ay = {0};
    uint8_t *tmp = NULL;
    int rc = PXS_OK;

    if (need_h && (rc = axis_init(&ax, s->w, 0.0f, s->box_w, rw, x0, nx, err)) != PXS_OK)
        return rc;
    if (need_v && (rc = axis_init(&ay, s->h, 0.0f, s->box_h, rh, y0, ny, err)) != PXS_OK) {
        axis_free(&ax);
        return rc;
    }

    /* Rows of the (horizontally resampled) source the vertical pass needs. */
    int r0, r1;
    if (need_v) {
        r0 = ay.bounds[0];
        r1 = ay.bounds[2 * (ny - 1)] + ay.bounds[2 * (ny - 1) + 1];
        if (r1 <= r0) r1 = r0 + 1; /* degenerate; keeps tmp non-empty */
        if (r1 > s->h) r1 = s->h;
        if (r0 >= r1) r0 = r1 - 1;
    } else {
        r0 = (int)y0;
        r1 = (int)y0 + ny;
    }

    const size_t sstride = (size_t)s->w * 3;
    const uint8_t *rows; /* row r of the horizontal result: rows + (r - r0) * rstride */
    size_t rstride;
    if (need_h) {
        rstride = (size_t)nx * 3;
        tmp = pxs_mallocarray((size_t)(r1 - r0), rstride);
        if (!tmp) {
            rc = pxs_errf(err, PXS_ENOMEM, "preprocess: out of memory");
            goto done;
        }
        for (int r = r0; r < r1; r++) {
            const uint8_t *in = s->px + (size_t)r * sstride;
            uint8_t *o = tmp + (size_t)(r - r0) * rstride;
            for (int j = 0; j < nx; j++) {
                const int32_t *k = ax.k + (size_t)j * ax.ksize;
                const uint8_t *p = in + (size_t)ax.bounds[2 * j] * 3;
                int cnt = ax.bounds[2 * j + 1];
                uint32_t s0 = 1u << (PREC_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < cnt; x++) {
                    uint32_t kx = (uint32_t)k[x];
                    s0 += p[3 * x + 0] * kx;
                    s1 += p[3 * x + 1] * kx;
                    s2 += p[3 * x + 2] * kx;
                }
                o[3 * j + 0] = clip8(s0);
                o[3 * j + 1] = clip8(s1);
                o[3 * j + 2] = clip8(s2);
            }
        }
        rows = tmp;
    } else {
        rstride = sstride;
        rows = s->px + (size_t)r0 * sstride + (size_t)x0 * 3;
    }

    const size_t ostride = (size_t)nx * 3;
    if (need_v) {
        /* Row by row, so the inner loop runs along a row (vectorises). */
        uint32_t *acc = pxs_mallocarray(ostride, sizeof *acc);
        if (!acc) {
            rc = pxs_errf(err, PXS_ENOMEM, "preprocess: out of memory");
            goto done;
        }
        for (size_t j = 0; j < ostride; j++) acc[j] = 1u << (PREC_BITS - 1);
        for (int i = 0; i < ny; i++) {
            const int32_t *k = ay.k + (size_t)i * ay.ksize;
            int ymin = ay.bounds[2 * i] - r0, cnt = ay.bounds[2 * i + 1];
            for (int y = 0; y < cnt; y++)
                mac_row(acc, rows + (size_t)(ymin + y) * rstride, (uint32_t)k[y], ostride);
            clip_row(acc, reg + (size_t)i * ostride, ostride);
        }
        pxs_free(acc);
    } else {
        for (int i = 0; i < ny; i++)
            memcpy(reg + (size_t)i * ostride, rows + (size_t)i * rstride, ostride);
    }

done:
    pxs_free(tmp);
    axis_free(&ax);
    axis_free(&ay);
    return rc;
}

/* Valid output range [*j0, *j1) of an axis whose crop starts at off in a
 * resized axis of length size, for out outputs. */
static void valid_range(int64_t off, int64_t size, int out, int *j0, int *j1) {
    int64_t a = off < 0 ? -off : 0;
    int64_t b = size - off;
    if (b > out) b = out;
    if (b < a) b = a;
    *j0 = (int)a;
    *j1 = (int)b;
}

static int render(const struct src_view *s, const struct pxs_preprocess *pp, float *out,
                  struct pxs_err *err) {
    const int W = pp->width, H = pp->height;
    int64_t rw, rh, ox, oy;
    if (pp->policy == PXS_RESIZE_SQUASH) {
        rw = W, rh = H, ox = 0, oy = 0;
    } else {
        int64_t w = s->orig_w, h = s->orig_h, r = pp->resize_shorter;
        if (w <= h) {
            rw = r, rh = r * h / w;
        } else {
            rh = r, rw = r * w / h;
        }
        ox = crop_offset(rw, W);
        oy = crop_offset(rh, H);
    }
    int jx0, jx1, iy0, iy1;
    valid_range(ox, rw, W, &jx0, &jx1);
    valid_range(oy, rh, H, &iy0, &iy1);
    int nx = jx1 - jx0, ny = iy1 - iy0;

    /* value tables: lut[output channel][0..255] */
    float lut[3][256];
    const int exact255 = pp->scale == 1.0f / 255.0f;
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            float x = exact255 ? (float)v / 255.0f : (float)v * pp->scale;
            lut[c][v] = (x - pp->mean[c]) / pp->std[c];
        }

    uint8_t *reg = NULL;
    if (nx > 0 && ny > 0) {
        reg = pxs_mallocarray((size_t)nx * (size_t)ny, 3);
        if (!reg) return pxs_errf(err, PXS_ENOMEM, "preprocess: out of memory");
        int rc = resample_region(s, rw, rh, ox + jx0, nx, oy + iy0, ny, reg, err);
        if (rc != PXS_OK) {
            pxs_free(reg);
            return rc;
        }
    }
    const size_t plane = (size_t)W * H;
    for (int oc = 0; oc < 3; oc++) {
        const int sc = pp->bgr ? 2 - oc : oc;
        const float *l = lut[oc];
        float *o = out + plane * oc;
        for (int i = 0; i < H; i++) {
            float *orow = o + (size_t)i * W;
            if (i < iy0 || i >= iy1) {
                for (int j = 0; j < W; j++) orow[j] = l[0];
                continue;
            }
            const uint8_t *rrow = reg + (size_t)(i - iy0) * nx * 3;
            for (int j = 0; j < jx0; j++) orow[j] = l[0];
            for (int j = jx0; j < jx1; j++) orow[j] = l[rrow[(size_t)(j - jx0) * 3 + sc]];
            for (int j = jx1; j < W; j++) orow[j] = l[0];
        }
    }
    pxs_free(reg);
    return PXS_OK;
}

int pxs_image_pixels_to_tensor(const struct pxs_image *img, const struct pxs_preprocess *pp,
                               float *out, struct pxs_err *err) {
    int rc = pxs_preprocess_validate(pp, err);
    if (rc != PXS_OK) return rc;
    if (!img || !out) return pxs_errf(err, PXS_EINVAL, "preprocess: image or output is NULL");
    if (!img->pixels || img->width < 1 || img->height < 1 || img->width > VIPS_MAX_COORD ||
        img->height > VIPS_MAX_COORD)
        return pxs_errf(err, PXS_EINVAL, "preprocess: bad image (%dx%d, pixels %s)", img->width,
                        img->height, img->pixels ? "set" : "NULL");
    struct src_view s = {img->pixels, img->width, img->height, (float)img->width,
                         (float)img->height, img->width, img->height};
    return render(&s, pp, out, err);
}

/* ---- decoding (libvips) ------------------------------------------------- */

/* Open (lazily) with the format's loader. shrink > 1 only for JPEG. */
static VipsImage *open_image(enum pxs_image_format fmt, const void *data, size_t len, int shrink,
                             VipsAccess access) {
    if (pxs__image_loader_uses_buffer(fmt))
        return vips_image_new_from_buffer(data, len, "", "access", access, "fail_on",
                                          VIPS_FAIL_ON_TRUNCATED, NULL);
    VipsSource *src = vips_source_new_from_memory(data, len);
    if (!src) return NULL;
    VipsImage *im = NULL;
    if (fmt == PXS_IMAGE_JPEG) {
        if (vips_jpegload_source(src, &im, "shrink", shrink, "access", access, "fail_on",
                                 VIPS_FAIL_ON_TRUNCATED, NULL) != 0)
            im = NULL;
    } else {
        im = vips_image_new_from_source(src, "", "access", access, "fail_on",
                                        VIPS_FAIL_ON_TRUNCATED, NULL);
    }
    g_object_unref(src);
    return im;
}

#define N_TEMPS 12

/* 8-bit samples, PIL-style: *bands_out is 3 (RGB) or 4 (CMYK, converted
 * by the caller). Intermediates go into t[]; returns NULL on failure. */
static VipsImage *to_8bit(VipsImage *in, VipsImage **t, int *k, int *bands_out) {
    VipsImage *x = in;
    VipsInterpretation interp = vips_image_guess_interpretation(x);
    int cmyk = interp == VIPS_INTERPRETATION_CMYK && x->Bands >= 4;
    if (!cmyk && interp != VIPS_INTERPRETATION_sRGB && interp != VIPS_INTERPRETATION_B_W &&
        interp != VIPS_INTERPRETATION_RGB16 && interp != VIPS_INTERPRETATION_GREY16 &&
        interp != VIPS_INTERPRETATION_MULTIBAND && vips_colourspace_issupported(x)) {
        if (vips_colourspace(x, &t[*k], VIPS_INTERPRETATION_sRGB, NULL)) return NULL;
        x = t[(*k)++];
    }
    if (x->BandFmt == VIPS_FORMAT_USHORT) { /* PIL keeps the high byte */
        if (vips_rshift_const1(x, &t[*k], 8, NULL)) return NULL;
        x = t[(*k)++];
    }
    if (x->BandFmt != VIPS_FORMAT_UCHAR) {
        if (vips_cast(x, &t[*k], VIPS_FORMAT_UCHAR, NULL)) return NULL;
        x = t[(*k)++];
    }
    if (cmyk) {
        if (x->Bands > 4) {
            if (vips_extract_band(x, &t[*k], 0, "n", 4, NULL)) return NULL;
            x = t[(*k)++];
        }
        *bands_out = 4;
        return x;
    }
    if (x->Bands < 3) { /* grey (+ alpha): replicate the grey band */
        VipsImage *g = x;
        if (x->Bands == 2) {
            if (vips_extract_band(x, &t[*k], 0, NULL)) return NULL;
            g = t[(*k)++];
        }
        VipsImage *three[3] = {g, g, g};
        if (vips_bandjoin(three, &t[*k], 3, NULL)) return NULL;
        x = t[(*k)++];
    } else if (x->Bands > 3) { /* alpha and extra bands are dropped */
        if (vips_extract_band(x, &t[*k], 0, "n", 3, NULL)) return NULL;
        x = t[(*k)++];
    }
    *bands_out = 3;
    return x;
}

/* Pillow's cmyk2rgb: nk - nk*c/255 with MULDIV255 rounding. */
static inline uint8_t cmyk_chan(int c, int nk) {
    int t = c * nk + 128;
    int v = nk - (((t >> 8) + t) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* Largest JPEG shrink (1, 2, 4, 8) that keeps the decoded image at least
 * twice the size the resampler produces on the sides that matter. */
static int pick_shrink(const struct pxs_preprocess *pp, int64_t w, int64_t h) {
    int64_t need_w, need_h;
    if (pp->policy == PXS_RESIZE_SQUASH) {
        need_w = 2 * (int64_t)pp->width, need_h = 2 * (int64_t)pp->height;
    } else { /* the shorter side must keep 2 * resize_shorter */
        int64_t n = 2 * (int64_t)pp->resize_shorter;
        need_w = w <= h ? n : 0;
        need_h = w <= h ? 0 : n;
    }
    int s = 8;
    while (s > 1 && (w / s < need_w || h / s < need_h)) s /= 2;
    return s;
}

/* EXIF orientation o (1..8) of a w x h image: source pixel of oriented
 * pixel (x, y). */
static inline void orient_source(int o, int w, int h, int x, int y, int *sx, int *sy) {
    switch (o) {
    case 2: *sx = w - 1 - x, *sy = y; break;
    case 3: *sx = w - 1 - x, *sy = h - 1 - y; break;
    case 4: *sx = x, *sy = h - 1 - y; break;
    case 5: *sx = y, *sy = x; break;
    case 6: *sx = y, *sy = h - 1 - x; break;
    case 7: *sx = w - 1 - y, *sy = h - 1 - x; break;
    case 8: *sx = w - 1 - y, *sy = x; break;
    default: *sx = x, *sy = y; break;
    }
}

/* The preview: the decoded pixels resampled (Pillow-style antialiased
 * bilinear) so the longer side is at most side, then oriented. */
static int make_preview(const struct src_view *s, int orientation, int side,
                        struct pxs_image *out, struct pxs_err *err) {
    int64_t lw = s->orig_w, lh = s->orig_h; /* the source geometry, unshrunk */
    int64_t rw = lw, rh = lh, longer = lw > lh ? lw : lh;
    if (longer > side) {
        rw = lw >= lh ? side : (int64_t)((double)lw * side / (double)lh + 0.5);
        rh = lh >= lw ? side : (int64_t)((double)lh * side / (double)lw + 0.5);
        if (rw < 1) rw = 1;
        if (rh < 1) rh = 1;
    }
    size_t n = (size_t)rw * (size_t)rh * 3;
    uint8_t *reg = pxs_malloc(n), *pix = pxs_malloc(n);
    if (!reg || !pix) {
        pxs_free(reg);
        pxs_free(pix);
        return pxs_errf(err, PXS_ENOMEM, "out of memory for a %lldx%lld preview", (long long)rw,
                        (long long)rh);
    }
    int rc = resample_region(s, rw, rh, 0, (int)rw, 0, (int)rh, reg, err);
    if (rc != PXS_OK) {
        pxs_free(reg);
        pxs_free(pix);
        return rc;
    }
    int swap = orientation >= 5 && orientation <= 8;
    int ow = swap ? (int)rh : (int)rw, oh = swap ? (int)rw : (int)rh;
    for (int y = 0; y < oh; y++)
        for (int x = 0; x < ow; x++) {
            int sx, sy;
            orient_source(orientation, (int)rw, (int)rh, x, y, &sx, &sy);
            memcpy(pix + ((size_t)y * (size_t)ow + (size_t)x) * 3,
                   reg + ((size_t)sy * (size_t)rw + (size_t)sx) * 3, 3);
        }
    pxs_free(reg);
    out->width = ow;
    out->height = oh;
    out->pixels = pix;
    return PXS_OK;
}

/* Decode with libvips (hdr: the header opened by open_image(fmt, data,
 * len, 1, sequential), consumed) to packed RGB in g_malloc'd *mem_out,
 * CMYK converted the PIL way. Rotates per EXIF when rotate is set. */
static int decode_vips(VipsImage *hdr, enum pxs_image_format fmt, const void *data, size_t len,
                       int shrink, int rotate, uint8_t **mem_out, int *dw_out, int *dh_out,
                       struct pxs_err *err) {
    /* Decode pipeline. Rotation needs random access, the rest streams. The
     * header was opened as a full-size sequential decode: reuse it when
     * that is what is needed (saves a second loader and header parse). */
    VipsImage *im = hdr;
    if (shrink != 1 || rotate) {
        g_object_unref(hdr);
        im = open_image(fmt, data, len, shrink, rotate ? VIPS_ACCESS_RANDOM : VIPS_ACCESS_SEQUENTIAL);
    }
    if (!im) return pxs__image_vips_fail(err, PXS_ECORRUPT, "decode failed");
    VipsObject *ctx = VIPS_OBJECT(vips_image_new());
    VipsImage **t = (VipsImage **)vips_object_local_array(ctx, N_TEMPS);
    t[N_TEMPS - 1] = im; /* owned by ctx from here */
    int k = 0, bands = 0;
    VipsImage *x = to_8bit(im, t, &k, &bands);
    if (x && rotate) {
        if (vips_autorot(x, &t[k], NULL)) {
            x = NULL;
        } else {
            x = t[k++];
        }
    }
    if (!x) {
        g_object_unref(ctx);
        return pxs__image_vips_fail(err, PXS_ECORRUPT, "colour conversion failed");
    }
    size_t size = 0;
    uint8_t *mem = vips_image_write_to_memory(x, &size);
    int dw = x->Xsize, dh = x->Ysize;
    g_object_unref(ctx);
    if (!mem) return pxs__image_vips_fail(err, PXS_ECORRUPT, "decode failed");
    pxs__image_vips_discard();
    size_t want;
    if (dw <= 0 || dh <= 0 || pxs_size_mul((size_t)dw * (size_t)bands, (size_t)dh, &want) != 0 ||
        size != want) {
        g_free(mem);
        return pxs_errf(err, PXS_EINTERNAL, "libvips returned %zu bytes for %dx%d x%d", size, dw,
                        dh, bands);
    }
    if (bands == 4) { /* CMYK -> RGB in place, PIL's formula */
        size_t n = (size_t)dw * (size_t)dh;
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = mem + 4 * i;
            int nk = 255 - p[3];
            uint8_t r = cmyk_chan(p[0], nk), g = cmyk_chan(p[1], nk), b = cmyk_chan(p[2], nk);
            mem[3 * i + 0] = r, mem[3 * i + 1] = g, mem[3 * i + 2] = b;
        }
    }
    *mem_out = mem;
    *dw_out = dw;
    *dh_out = dh;
    return PXS_OK;
}

int pxs_image_to_tensor(const void *data, size_t len, const struct pxs_preprocess *pp,
                        float *out, struct pxs_image_info *info, struct pxs_err *err) {
    return pxs_image_to_tensor_preview(data, len, pp, out, 0, NULL, info, err);
}

int pxs_image_to_tensor_preview(const void *data, size_t len, const struct pxs_preprocess *pp,
                                float *out, int preview_side, struct pxs_image *preview,
                                struct pxs_image_info *info, struct pxs_err *err) {
    if (preview) preview->width = preview->height = 0, preview->pixels = NULL;
    if (preview && (preview_side < 1 || preview_side > PP_MAX_SIDE))
        return pxs_errf(err, PXS_EINVAL, "preview side %d is not in 1..%d", preview_side, PP_MAX_SIDE);
    pxs__image_info_clear(info);
    int rc = pxs_preprocess_validate(pp, err);
    if (rc != PXS_OK) return rc;
    if (!out) return pxs_errf(err, PXS_EINVAL, "pxs_image_to_tensor: out is NULL");
    if (!data && len > 0) return pxs_errf(err, PXS_EINVAL, "pxs_image_to_tensor: data is NULL");
    if (len == 0) return pxs_errf(err, PXS_EINVAL, "empty file");
    uint64_t max_pixels = pp->max_pixels ? pp->max_pixels : PXS_IMAGE_MAX_PIXELS;

    enum pxs_image_format fmt;
    rc = pxs__image_precheck(data, len, &fmt, err);
    if (info && fmt != PXS_IMAGE_UNKNOWN) info->format = fmt;
    if (rc != PXS_OK) return rc;

    /* Header: size, orientation, limits. */
    VipsImage *hdr = open_image(fmt, data, len, 1, VIPS_ACCESS_SEQUENTIAL);
    if (!hdr) {
        char what[64];
        snprintf(what, sizeof what, "damaged %s header", pxs_image_format_name(fmt));
        return pxs__image_vips_fail(err, PXS_ECORRUPT, what);
    }
    int w, h, orientation;
    pxs__image_read_exif(hdr, info);
    g_object_ref(hdr); /* header_check drops one reference; hdr may be the decoder below */
    rc = pxs__image_header_check(hdr, fmt, max_pixels, &w, &h, &orientation, err);
    if (rc != PXS_OK) {
        g_object_unref(hdr);
        return rc;
    }
    const int swap = orientation >= 5;
    if (info) {
        info->width = swap ? h : w;
        info->height = swap ? w : h;
        info->orientation = orientation;
    }
    const int rotate = pp->apply_orientation && orientation != 1;
    const int ow = rotate && swap ? h : w, oh = rotate && swap ? w : h; /* geometry source */

    int shrink = 1;
    if (fmt == PXS_IMAGE_JPEG && !pp->no_shrink_on_load) shrink = pick_shrink(pp, ow, oh);

    /* The common JPEG case without rotation is decoded by libjpeg directly
     * (same pixels, much less overhead); everything else by libvips. */
    uint8_t *mem = NULL;
    int dw = 0, dh = 0, vips_mem = 0;
    if (fmt == PXS_IMAGE_JPEG && !rotate &&
        pxs__image_jpeg_fast(data, len, shrink, w, h, &mem, &dw, &dh) == 0) {
        g_object_unref(hdr);
    } else {
        rc = decode_vips(hdr, fmt, data, len, shrink, rotate, &mem, &dw, &dh, err);
        if (rc != PXS_OK) return rc;
        vips_mem = 1;
    }
    struct src_view s = decoded_view(mem, dw, dh, shrink, ow, oh);
    if (shrink == 1 && (dw != ow || dh != oh)) {
        rc = pxs_errf(err, PXS_EINTERNAL, "decoded %dx%d, header said %dx%d", dw, dh, ow, oh);
    } else {
        rc = render(&s, pp, out, err);
        /* s describes the decoded pixels (already rotated when pp asked for it). */
        if (rc == PXS_OK && preview)
            rc = make_preview(&s, rotate ? 1 : orientation, preview_side, preview, err);
    }
    if (vips_mem) g_free(mem);
    else pxs_free(mem);
    return rc;
}

/* ---- for jpeg_fast.c ------------------------------------------------------ */

int pxs__image_pick_shrink(const struct pxs_preprocess *pp, int64_t ow, int64_t oh) {
    return pp->no_shrink_on_load ? 1 : pick_shrink(pp, ow, oh);
}

int pxs__image_render_rgb(const uint8_t *rgb, int dw, int dh, int shrink, int ow, int oh,
                          const struct pxs_preprocess *pp, float *out, struct pxs_err *err) {
    struct src_view s = decoded_view(rgb, dw, dh, shrink, ow, oh);
    return render(&s, pp, out, err);
}
