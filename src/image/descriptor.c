/*
 * descriptor.c — the built-in 256-d colour/texture descriptor
 * ("builtin-colortexture-v1"), used when no CNN model is configured.
 *
 * Goal: a usable retrieval signal and a strong near-duplicate signal that
 * survives re-encoding, rescaling, 90-degree rotation, flips and mild crops.
 * So every block is a global statistic (no spatial grid), computed on a
 * working copy resampled to WORK_SIDE pixels on the longer side, which makes
 * it independent of the input size.
 *
 * Blocks (offsets and weights in pxs__desc_blocks):
 *   hsv    116  HSV colour histogram: 12 hue x 3 sat x 3 val, soft-binned,
 *               for chromatic pixels + 8 soft value bins for near-grey ones
 *               (chroma membership ramps with saturation and value)
 *   centre  36  the same on a coarser grid (8x2x2 + 4 grey) for the central
 *               ellipse only: a coarse layout cue that 90-degree turns and
 *               flips preserve
 *   grad    16  gradient-magnitude histogram (Sobel, log bins), 2 scales
 *   lbp     30  rotation-invariant uniform LBP (riu2, P=8, R=1) at 3 scales
 *   orient   6  |DFT| of the edge-orientation histogram (k=1..6 over k=0):
 *               anisotropy, unchanged by rotations (circular shift) and
 *               mirroring (reversal)
 *   (pad)   52  zero
 * Histogram blocks are L1-normalised and square-rooted (Hellinger); orient is
 * square-rooted and L2-normalised. Each block then has unit norm and is
 * multiplied by its weight, and the whole vector is L2-normalised, so the
 * inner product is a weighted mean of per-block Bhattacharyya coefficients.
 *
 * Measured with bench/descriptor_eval.c (weights tuned there): Corel-1k
 * leave-one-out mAP 0.550, P@10 0.778 (a plain colour histogram: 0.484 /
 * 0.706); near-duplicate recall@1 0.84 over 22 edits. Weak spots: greyscale
 * copies and strong contrast changes (colour dominates the signature).
 * Tried and dropped: colour coherence, luminance histogram, contrast-
 * normalised gradient histogram (no gain).
 *
 * Cost: O(source pixels) for resampling (each source row is resampled
 * horizontally once) plus O(WORK_SIDE^2) for the blocks; one pxs_malloc of
 * scratch: about 300 KB plus a ring of horizontally resampled rows as tall
 * as the vertical filter (a few KB for previews, O(source height /
 * WORK_SIDE) rows in general) and the source width's tap weights and offsets.
 * Deterministic: no threads, no randomness, fixed evaluation order.
 */
#include "image_int.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#define WORK_SIDE 128

enum { HSV_OFF = 0, HSV_DIM = 116 };
enum { CTR_OFF = HSV_OFF + HSV_DIM, CTR_DIM = 36 };
enum { GRAD_OFF = CTR_OFF + CTR_DIM, GRAD_DIM = 16 };
enum { LBP_OFF = GRAD_OFF + GRAD_DIM, LBP_DIM = 30 };
enum { ORI_OFF = LBP_OFF + LBP_DIM, ORI_DIM = 6 };
enum { USED_DIM = ORI_OFF + ORI_DIM };
_Static_assert(USED_DIM <= PXS_IMAGE_DESCRIPTOR_DIM, "descriptor blocks exceed 256 floats");

const struct pxs__desc_block pxs__desc_blocks[PXS__DESC_N_BLOCKS] = {
    {"hsv", HSV_OFF, HSV_DIM, 1.0f}, {"centre", CTR_OFF, CTR_DIM, 0.665f},
    {"grad", GRAD_OFF, GRAD_DIM, 1.0f}, {"lbp", LBP_OFF, LBP_DIM, 1.2f},
    {"orient", ORI_OFF, ORI_DIM, 1.0f},
};

/* ---- resampling to the working size ---------------------------------- */

/* Separable tent filter whose support widens with the reduction factor:
 * an area-like average when shrinking, bilinear when enlarging. Taps past
 * the edge are clamped onto the edge pixel. A span stores only its range and
 * normalisation, so scratch stays O(working size) whatever the source. */
struct span {
    int lo, hi;      /* source taps lo..hi (unclamped) */
    float centre;    /* in source pixel coordinates */
    float inv_supp;  /* 1 / support */
    float inv_sum;   /* 1 / sum of the weights */
};

static struct span make_span(double scale, int i) {
    double support = scale > 1.0 ? scale : 1.0;
    double centre = (i + 0.5) * scale - 0.5;
    struct span sp;
    sp.lo = (int)ceil(centre - support);
    sp.hi = (int)floor(centre + support);
    sp.centre = (float)centre;
    sp.inv_supp = (float)(1.0 / support);
    double sum = 0;
    for (int x = sp.lo; x <= sp.hi; x++) {
        double w = 1.0 - fabs(x - centre) / support;
        if (w > 0) sum += w;
    }
    if (!(sum > 0)) { /* cannot happen for support >= 1, but stay total */
        sp.lo = sp.hi = (int)floor(centre + 0.5);
        sp.inv_supp = 0.0f;
        sum = 1.0;
    }
    sp.inv_sum = (float)(1.0 / sum);
    return sp;
}

static float span_weight(const struct span *sp, int x) {
    float w = 1.0f - fabsf((float)x - sp->centre) * sp->inv_supp;
    return w > 0 ? w * sp->inv_sum : 0.0f;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- scratch ---------------------------------------------------------- */

struct work {
    int w, h;        /* working size */
    int w2, h2;      /* half size for the second texture scale */
    int w4, h4;      /* quarter size for the third */
    float *rgb;      /* w*h*3, 0..255 */
    float *lum;      /* w*h */
    float *lum2;     /* w2*h2 */
    float *lum4;     /* w4*h4 */
    struct span *hs; /* w */
    float *hw;       /* the horizontal tap weights, span after span */
    int *hoff;       /* per tap: byte offset of its (edge-clamped) source pixel in a row */
    int ring_rows;   /* >= the taps of any vertical span */
    int *ring_src;   /* ring_rows: source row held by each ring slot */
    float *ring;     /* ring_rows x w x 3: horizontally resampled source rows */
    void *mem;
};

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Taps of all horizontal spans from src_w source columns to w. */
static size_t span_taps(int src_w, int w) {
    size_t n = 0;
    for (int x = 0; x < w; x++) {
        struct span sp = make_span((double)src_w / w, x);
        n += (size_t)(sp.hi - sp.lo + 1);
    }
    return n;
}

static int work_alloc(struct work *wk, int src_w, int src_h, struct pxs_err *err) {
    int longer = src_w > src_h ? src_w : src_h;
    double s = (double)longer / WORK_SIDE;
    int w = (int)floor(src_w / s + 0.5), h = (int)floor(src_h / s + 0.5);
    wk->w = w < 1 ? 1 : w > WORK_SIDE ? WORK_SIDE : w;
    wk->h = h < 1 ? 1 : h > WORK_SIDE ? WORK_SIDE : h;
    wk->w2 = wk->w / 2;
    wk->h2 = wk->h / 2;
    wk->w4 = wk->w2 / 2;
    wk->h4 = wk->h2 / 2;
    size_t n = (size_t)wk->w * wk->h;
    int ring_rows = 0;
    for (int y = 0; y < wk->h; y++) {
        struct span vs = make_span((double)src_h / wk->h, y);
        if (vs.hi - vs.lo + 1 > ring_rows) ring_rows = vs.hi - vs.lo + 1;
    }
    size_t sizes[] = {
        align16(n * 3 * sizeof(float)),                   /* rgb */
        align16(n * sizeof(float)),                       /* lum */
        align16((size_t)wk->w2 * wk->h2 * sizeof(float)), /* lum2 */
        align16((size_t)wk->w4 * wk->h4 * sizeof(float)), /* lum4 */
        align16((size_t)wk->w * sizeof(struct span)),     /* hs */
        align16(span_taps(src_w, wk->w) * sizeof(float)), /* hw */
        align16(span_taps(src_w, wk->w) * sizeof(int)),   /* hoff */
        align16((size_t)ring_rows * sizeof(int)),         /* ring_src */
        align16((size_t)ring_rows * wk->w * 3 * sizeof(float)), /* ring */
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
    char *p = pxs_malloc(total);
    if (!p) return pxs_errf(err, PXS_ENOMEM, "descriptor scratch (%zu bytes)", total);
    wk->mem = p;
    wk->rgb = (float *)p;
    p += sizes[0];
    wk->lum = (float *)p;
    p += sizes[1];
    wk->lum2 = (float *)p;
    p += sizes[2];
    wk->lum4 = (float *)p;
    p += sizes[3];
    wk->hs = (struct span *)(void *)p;
    p += sizes[4];
    wk->hw = (float *)(void *)p;
    p += sizes[5];
    wk->hoff = (int *)(void *)p;
    p += sizes[6];
    wk->ring_src = (int *)(void *)p;
    p += sizes[7];
    wk->ring = (float *)(void *)p;
    wk->ring_rows = ring_rows;
    return PXS_OK;
}

/* 2x2 box average: src (stride sw) into dst of dw x dh. */
static void halve(const float *src, int sw, float *dst, int dw, int dh) {
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
            const float *a = src + (size_t)(2 * y) * sw + 2 * x;
            dst[(size_t)y * dw + x] = 0.25f * (a[0] + a[1] + a[sw] + a[sw + 1]);
        }
}

/* dst[j] += w * src[j], j < n; in blocks so that compilers vectorise it
 * (each element's arithmetic is unchanged). */
static void add_scaled(float *restrict dst, const float *restrict src, float w, size_t n) {
    size_t j = 0;
    for (; j + 16 <= n; j += 16)
        for (int q = 0; q < 16; q++) dst[j + q] += w * src[j + q];
    for (; j < n; j++) dst[j] += w * src[j];
}

/* Horizontal pass of source row sy (clamped to the image) into out
 * (w x 3 floats): the taps of hs[x] weighted by hw at the clamped offsets
 * hoff, left to right. */
static void resample_row(const struct work *wk, const struct pxs_image *img, int sy, float *out) {
    const uint8_t *row = img->pixels + (size_t)clampi(sy, 0, img->height - 1) * img->width * 3;
    const float *wx = wk->hw;
    const int *off = wk->hoff;
    for (int x = 0; x < wk->w; x++) {
        const int taps = wk->hs[x].hi - wk->hs[x].lo + 1;
        float r = 0, g = 0, b = 0;
        for (int t = 0; t < taps; t++, wx++, off++) {
            const uint8_t *px = row + *off;
            r += *wx * px[0];
            g += *wx * px[1];
            b += *wx * px[2];
        }
        out[x * 3 + 0] = r;
        out[x * 3 + 1] = g;
        out[x * 3 + 2] = b;
    }
}

/* Each source row is resampled horizontally once and kept in a ring of
 * wk->ring_rows rows (the vertical spans of consecutive outputs overlap);
 * the tap weights are computed once per column. The arithmetic, and its
 * order, is that of the direct double loop, so the result is the same. */
static void resample(struct work *wk, const struct pxs_image *img) {
    double sx = (double)img->width / wk->w, sy = (double)img->height / wk->h;
    float *wx = wk->hw;
    int *off = wk->hoff;
    for (int x = 0; x < wk->w; x++) {
        wk->hs[x] = make_span(sx, x);
        for (int sx_i = wk->hs[x].lo; sx_i <= wk->hs[x].hi; sx_i++) {
            *wx++ = span_weight(&wk->hs[x], sx_i);
            *off++ = clampi(sx_i, 0, img->width - 1) * 3;
        }
    }
    for (int i = 0; i < wk->ring_rows; i++) wk->ring_src[i] = INT_MIN;
    const size_t rw = (size_t)wk->w * 3;
    for (int y = 0; y < wk->h; y++) {
        float *dst = wk->rgb + (size_t)y * rw;
        memset(dst, 0, rw * sizeof(float));
        struct span vs = make_span(sy, y);
        for (int sy_i = vs.lo; sy_i <= vs.hi; sy_i++) {
            float wy = span_weight(&vs, sy_i);
            if (wy <= 0) continue;
            int slot = (int)(((long)sy_i % wk->ring_rows + wk->ring_rows) % wk->ring_rows);
            float *hrow = wk->ring + (size_t)slot * rw;
            if (wk->ring_src[slot] != sy_i) {
                resample_row(wk, img, sy_i, hrow);
                wk->ring_src[slot] = sy_i;
            }
            add_scaled(dst, hrow, wy, rw);
        }
    }
    size_t n = (size_t)wk->w * wk->h;
    for (size_t i = 0; i < n; i++) {
        const float *c = wk->rgb + i * 3;
        wk->lum[i] = 0.299f * c[0] + 0.587f * c[1] + 0.114f * c[2];
    }
    halve(wk->lum, wk->w, wk->lum2, wk->w2, wk->h2);
    halve(wk->lum2, wk->w2, wk->lum4, wk->w4, wk->h4);
}

/* ---- colour ----------------------------------------------------------- */

static float ramp(float x, float lo, float hi) {
    return x <= lo ? 0.0f : x >= hi ? 1.0f : (x - lo) / (hi - lo);
}

/* Soft (linear) assignment of x in [0,1] to n bins centred at (i+0.5)/n;
 * values past the outer centres go wholly to the edge bin. */
static inline __attribute__((always_inline)) void soft_bin(float x, int n, int *b0, float *w0, int *b1) {
    float f = x * (float)n - 0.5f;
    if (f <= 0) {
        *b0 = 0, *b1 = 0, *w0 = 1.0f;
        return;
    }
    if (f >= (float)(n - 1)) {
        *b0 = n - 1, *b1 = n - 1, *w0 = 1.0f;
        return;
    }
    int i = (int)f;
    *b0 = i, *b1 = i + 1, *w0 = 1.0f - (f - (float)i);
}

/* Circular version for hue in [0,1). */
static inline __attribute__((always_inline)) void soft_hue(float x, int n, int *b0, float *w0, int *b1) {
    float f = x * (float)n - 0.5f;
    /* floorf without the library call (baseline x86-64 has no roundss);
     * exact for |f| < 2^24, where every float is an integer or has one
     * below it that int holds */
    int i;
    if (f > -16777216.0f && f < 16777216.0f) {
        i = (int)f;
        if ((float)i > f) i--;
    } else {
        i = (int)floorf(f);
    }
    float fl = (float)i;
    *w0 = 1.0f - (f - fl);
    /* x in [0,1) gives i in -1..n-1: wrap without dividing (the hot path) */
    *b0 = i >= 0 && i < n ? i : i == -1 ? n - 1 : ((i % n) + n) % n;
    *b1 = *b0 + 1 == n ? 0 : *b0 + 1;
}

struct hsv {
    float h, s, v; /* each 0..1 */
    float chroma;  /* 0..1 membership of the chromatic part */
};

static inline struct hsv to_hsv(const float *c) {
    float r = c[0], g = c[1], b = c[2];
    float mx = r > g ? (r > b ? r : b) : (g > b ? g : b);
    float mn = r < g ? (r < b ? r : b) : (g < b ? g : b);
    struct hsv o;
    float d = mx - mn;
    o.v = mx / 255.0f;
    o.s = mx > 0 ? d / mx : 0.0f;
    float h = 0;
    if (d > 1e-6f) {
        if (mx == r)
            h = (g - b) / d;
        else if (mx == g)
            h = 2.0f + (b - r) / d;
        else
            h = 4.0f + (r - g) / d;
        h /= 6.0f;
        if (h < 0) h += 1.0f;
        if (h >= 1.0f) h -= 1.0f;
    }
    o.h = h;
    /* Hue is noise for washed-out and for dark pixels. */
    o.chroma = ramp(o.s, 0.10f, 0.25f) * ramp(o.v, 0.08f, 0.20f);
    return o;
}

/* Add pixel p with weight wt to a (nh x ns x nv chroma + ng grey) histogram. */
static inline __attribute__((always_inline)) void add_colour(float *hist, const struct hsv *p, int nh, int ns, int nv, int ng,
                       float wt) {
    float wc = wt * p->chroma, wg = wt - wc;
    if (wc > 0) {
        int h0, h1, s0, s1, v0, v1;
        float hw, sw, vw;
        soft_hue(p->h, nh, &h0, &hw, &h1);
        soft_bin(p->s, ns, &s0, &sw, &s1);
        soft_bin(p->v, nv, &v0, &vw, &v1);
        int hb[2] = {h0, h1}, sb[2] = {s0, s1}, vb[2] = {v0, v1};
        float hwv[2] = {hw, 1 - hw}, swv[2] = {sw, 1 - sw}, vwv[2] = {vw, 1 - vw};
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++)
                for (int c = 0; c < 2; c++)
                    hist[(hb[a] * ns + sb[b]) * nv + vb[c]] += wc * hwv[a] * swv[b] * vwv[c];
    }
    if (wg > 0) {
        int g0, g1;
        float gw;
        soft_bin(p->v, ng, &g0, &gw, &g1);
        hist[nh * ns * nv + g0] += wg * gw;
        hist[nh * ns * nv + g1] += wg * (1 - gw);
    }
}

static void colour_blocks(const struct work *wk, float *out) {
    float *hsv = out + HSV_OFF, *ctr = out + CTR_OFF;
    int w = wk->w, h = wk->h;
    float cx = 0.5f * (float)w, cy = 0.5f * (float)h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            struct hsv p = to_hsv(wk->rgb + i * 3);
            add_colour(hsv, &p, 12, 3, 3, 8, 1.0f);
            float dx = ((float)x + 0.5f - cx) / cx, dy = ((float)y + 0.5f - cy) / cy;
            if (dx * dx + dy * dy < 0.65f * 0.65f) add_colour(ctr, &p, 8, 2, 2, 4, 1.0f);
        }
}

/* ---- texture ---------------------------------------------------------- */

/* riu2 bin of each 8-neighbour bit pattern (bit k = neighbour k in circular
 * order): the number of ones when the circular pattern has at most two
 * 0/1 transitions, else 9. */
static uint8_t riu2_bin[256];
static pthread_once_t riu2_once = PTHREAD_ONCE_INIT;

static void riu2_init(void) {
    for (unsigned code = 0; code < 256; code++) {
        int ones = 0, trans = 0;
        for (int k = 0; k < 8; k++) {
            ones += (code >> k) & 1;
            trans += ((code >> k) & 1) != ((code >> ((k + 1) % 8)) & 1);
        }
        riu2_bin[code] = (uint8_t)(trans <= 2 ? ones : 9);
    }
}

/* One luminance plane: gradient magnitude in log bins (grad, 8), edge
 * orientation (ori, 16 bins over 180 degrees, magnitude-weighted, summed
 * across scales) and riu2 LBP (lbp, 10). grad and ori may be NULL. */
static void texture(const float *lum, int w, int h, float *grad, float *lbp, float *ori) {
    static const int nb[8][2] = {{-1, -1}, {0, -1}, {1, -1}, {1, 0},
                                 {1, 1},   {0, 1},  {-1, 1}, {-1, 0}}; /* circular order */
    const float lbp_tol = 3.0f; /* JPEG noise should not flip flat-region bits */
    /* LBP counts in integers, two tables by column parity: neighbouring
     * pixels often share a bin, and one float sum through memory would make
     * every pixel wait for the previous one. Counts stay far below 2^24, so
     * adding them at the end gives exactly the floats of adding 1.0f each. */
    uint32_t lbp_count[2][10] = {{0}};
    for (int y = 1; y < h - 1; y++)
        for (int x = 1; x < w - 1; x++) {
            const float *c = lum + (size_t)y * w + x;
            float gx = (c[-w + 1] + 2 * c[1] + c[w + 1]) - (c[-w - 1] + 2 * c[-1] + c[w - 1]);
            float gy = (c[w - 1] + 2 * c[w] + c[w + 1]) - (c[-w - 1] + 2 * c[-w] + c[-w + 1]);
            float m = sqrtf(gx * gx + gy * gy) / 8.0f; /* ~ intensity step per pixel */
            int g0, g1;
            float gw;
            if (grad) { /* log2(1 + m) over 0..7, i.e. steps of 0..127 */
                soft_bin(log2f(1.0f + m) / 7.0f, 8, &g0, &gw, &g1);
                grad[g0] += gw;
                grad[g1] += 1 - gw;
            }
            if (ori && m > 2.0f) {
                float o = atan2f(gy, gx) / (float)M_PI; /* -1..1 -> 0..1 mod 180 deg */
                if (o < 0) o += 1.0f;
                if (o >= 1.0f) o -= 1.0f;
                soft_hue(o, 16, &g0, &gw, &g1);
                ori[g0] += m * gw;
                ori[g1] += m * (1 - gw);
            }
            const float thr = c[0] + lbp_tol;
            unsigned code = 0;
            for (int k = 0; k < 8; k++) code |= (unsigned)(c[nb[k][1] * w + nb[k][0]] >= thr) << k;
            lbp_count[x & 1][riu2_bin[code]]++;
        }
    for (int b = 0; b < 10; b++) lbp[b] += (float)(lbp_count[0][b] + lbp_count[1][b]);
}

/* |DFT_k| / DFT_0 for k = 1..ORI_DIM of the 16-bin orientation histogram:
 * invariant to circular shifts (rotation) and reversal (mirror). */
static void orientation_block(const float *ori, float *out) {
    double total = 0;
    for (int i = 0; i < 16; i++) total += ori[i];
    if (total <= 0) return;
    for (int k = 1; k <= ORI_DIM; k++) {
        double re = 0, im = 0;
        for (int i = 0; i < 16; i++) {
            double a = 2.0 * M_PI * k * i / 16.0;
            re += ori[i] * cos(a);
            im -= ori[i] * sin(a);
        }
        out[k - 1] = (float)(sqrt(re * re + im * im) / total);
    }
}

static void hellinger(float *v, int n) {
    double sum = 0;
    for (int i = 0; i < n; i++) sum += v[i];
    if (sum <= 0) return;
    for (int i = 0; i < n; i++) v[i] = (float)sqrt(v[i] / sum);
}

int pxs__image_descriptor_blocks(const struct pxs_image *img,
                                 float out[PXS_IMAGE_DESCRIPTOR_DIM], struct pxs_err *err) {
    if (!out) return pxs_errf(err, PXS_EINVAL, "pxs_image_descriptor: out is NULL");
    memset(out, 0, PXS_IMAGE_DESCRIPTOR_DIM * sizeof(float));
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0)
        return pxs_errf(err, PXS_EINVAL, "pxs_image_descriptor: empty image");
    struct work wk = {0};
    int rc = work_alloc(&wk, img->width, img->height, err);
    if (rc != PXS_OK) return rc;
    resample(&wk, img);

    colour_blocks(&wk, out);
    float ori[16] = {0};
    pthread_once(&riu2_once, riu2_init);
    texture(wk.lum, wk.w, wk.h, out + GRAD_OFF, out + LBP_OFF, ori);
    texture(wk.lum2, wk.w2, wk.h2, out + GRAD_OFF + 8, out + LBP_OFF + 10, ori);
    texture(wk.lum4, wk.w4, wk.h4, NULL, out + LBP_OFF + 20, NULL);
    orientation_block(ori, out + ORI_OFF);
    pxs_free(wk.mem);

    for (int b = 0; b < PXS__DESC_N_BLOCKS; b++) {
        const struct pxs__desc_block *blk = &pxs__desc_blocks[b];
        if (blk->offset == ORI_OFF) { /* already scale-free ratios: compress only */
            for (int i = 0; i < blk->dim; i++) out[blk->offset + i] = sqrtf(out[blk->offset + i]);
            double ss = 0;
            for (int i = 0; i < blk->dim; i++) ss += out[blk->offset + i] * out[blk->offset + i];
            if (ss > 0)
                for (int i = 0; i < blk->dim; i++) out[blk->offset + i] /= (float)sqrt(ss);
        } else {
            hellinger(out + blk->offset, blk->dim);
        }
    }
    return PXS_OK;
}

int pxs__image_descriptor_finish(float v[PXS_IMAGE_DESCRIPTOR_DIM], const float *weights,
                                 struct pxs_err *err) {
    for (int b = 0; b < PXS__DESC_N_BLOCKS; b++) {
        const struct pxs__desc_block *blk = &pxs__desc_blocks[b];
        float wt = weights ? weights[b] : blk->weight;
        for (int i = 0; i < blk->dim; i++) v[blk->offset + i] *= wt;
    }
    double ss = 0;
    for (int i = 0; i < PXS_IMAGE_DESCRIPTOR_DIM; i++) ss += (double)v[i] * v[i];
    if (!(ss > 0)) return pxs_errf(err, PXS_EINVAL, "descriptor is all zero");
    float inv = (float)(1.0 / sqrt(ss));
    for (int i = 0; i < PXS_IMAGE_DESCRIPTOR_DIM; i++) v[i] *= inv;
    return PXS_OK;
}

int pxs_image_descriptor(const struct pxs_image *img, float out[PXS_IMAGE_DESCRIPTOR_DIM],
                         struct pxs_err *err) {
    int rc = pxs__image_descriptor_blocks(img, out, err);
    if (rc != PXS_OK) return rc;
    return pxs__image_descriptor_finish(out, NULL, err);
}
