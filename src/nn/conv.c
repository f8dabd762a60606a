/*
 * conv.c — Conv, Gemm and MatMul.
 *
 * Conv (2-D, NCHW) has two paths chosen at load by nn_conv_prepare:
 *   - depthwise (group == C == M): direct per-channel kernel (depthwise.c,
 *     arch/ 3x3 specialisation), channels split over the thread pool;
 *   - everything else: per (batch item, group) GEMM of the weights
 *     [M/g x C/g*KH*KW] (packed once at load for the selected micro-kernel)
 *     with the input as an implicit im2col matrix: the GEMM driver packs
 *     B block by block straight from the input (conv_pack_b), so no
 *     im2col buffer is built and no scratch is needed.
 * A Relu/Clip folded into the node at load (graph.c) becomes the GEMM /
 * depthwise clamp, BatchNormalization folded at load is already in the
 * weights and bias, and a residual Add folded at load arrives as a fourth
 * input that the GEMM epilogue adds before the clamp.
 *
 * Gemm and MatMul pack their A operand per call into scratch and reuse the
 * same GEMM driver.
 */
#include <math.h>
#include <string.h>

#include "nn/ops_int.h"

struct conv_p {
    int64_t N, C, H, W, M, KH, KW, OH, OW, G, sh, sw, dh, dw, pt, pl, pb, pr;
};

static int read_pair(const struct nn_node *n, const char *name, int64_t def, int64_t *a, int64_t *b,
                     struct pxs_err *err) {
    const int64_t *p;
    size_t k = nn_attr_ints(n, name, &p);
    if (k == 0) {
        *a = *b = def;
        return PXS_OK;
    }
    if (k != 2) return nn_node_err(err, PXS_EUNSUPPORTED, n, "attribute %s must have 2 values (2-D only)", name);
    *a = p[0];
    *b = p[1];
    return PXS_OK;
}

/* Shared by Conv and the pools: output size and padding from the attributes. */
int nn_window_params(const struct nn_node *n, int64_t H, int64_t W, int64_t KH, int64_t KW, int ceil_mode,
                     int64_t *sh, int64_t *sw, int64_t *dh, int64_t *dw, int64_t pads[4], int64_t *OH,
                     int64_t *OW, struct pxs_err *err) {
    int rc;
    if ((rc = read_pair(n, "strides", 1, sh, sw, err))) return rc;
    if ((rc = read_pair(n, "dilations", 1, dh, dw, err))) return rc;
    if (*sh < 1 || *sw < 1 || *dh < 1 || *dw < 1 || *sh > 65536 || *sw > 65536 || *dh > 65536 || *dw > 65536)
        return nn_node_err(err, PXS_ECORRUPT, n, "bad strides or dilations");
    if (KH < 1 || KW < 1 || KH > 65536 || KW > 65536) return nn_node_err(err, PXS_ECORRUPT, n, "bad kernel size");
    const char *ap = nn_attr_str(n, "auto_pad", "NOTSET");
    int64_t ekh = (KH - 1) * *dh + 1, ekw = (KW - 1) * *dw + 1;
    if (!strcmp(ap, "NOTSET")) {
        const int64_t *p;
        size_t k = nn_attr_ints(n, "pads", &p);
        if (k == 0) {
            pads[0] = pads[1] = pads[2] = pads[3] = 0;
        } else if (k == 4) {
            for (int i = 0; i < 4; i++) {
                if (p[i] < 0 || p[i] > 65536) return nn_node_err(err, PXS_ECORRUPT, n, "bad pads");
                pads[i] = p[i];
            }
        } else {
            return nn_node_err(err, PXS_EUNSUPPORTED, n, "pads must have 4 values (2-D only)");
        }
        int64_t hh = H + pads[0] + pads[2] - ekh, ww = W + pads[1] + pads[3] - ekw;
        if (hh < 0 || ww < 0) return nn_node_err(err, PXS_ECORRUPT, n, "kernel larger than the padded input");
        if (ceil_mode) {
            *OH = (hh + *sh - 1) / *sh + 1;
            *OW = (ww + *sw - 1) / *sw + 1;
            if ((*OH - 1) * *sh >= H + pads[0]) (*OH)--;
            if ((*OW - 1) * *sw >= W + pads[1]) (*OW)--;
        } else {
            *OH = hh / *sh + 1;
            *OW = ww / *sw + 1;
        }
    } else if (!strcmp(ap, "VALID")) {
        pads[0] = pads[1] = pads[2] = pads[3] = 0;
        if (H < ekh || W < ekw) return nn_node_err(err, PXS_ECORRUPT, n, "kernel larger than the input");
        *OH = (H - ekh) / *sh + 1;
        *OW = (W - ekw) / *sw + 1;
    } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
        int upper = !strcmp(ap, "SAME_UPPER");
        *OH = (H + *sh - 1) / *sh;
        *OW = (W + *sw - 1) / *sw;
        int64_t th = (*OH - 1) * *sh + ekh - H, tw = (*OW - 1) * *sw + ekw - W;
        if (th < 0) th = 0;
        if (tw < 0) tw = 0;
        pads[0] = upper ? th / 2 : th - th / 2;
        pads[2] = th - pads[0];
        pads[1] = upper ? tw / 2 : tw - tw / 2;
        pads[3] = tw - pads[1];
    } else {
        return nn_node_err(err, PXS_EUNSUPPORTED, n, "auto_pad '%s'", ap);
    }
    if (*OH < 1 || *OW < 1) return nn_node_err(err, PXS_ECORRUPT, n, "empty output");
    return PXS_OK;
}

static int conv_params(const struct nn_node *n, const struct nn_tensor *in, struct conv_p *p, struct pxs_err *err) {
    int rc = nn_need_inputs(n, in, 2, n->res_fused ? 4 : 3, err);
    if (rc) return rc;
    const struct nn_tensor *x = &in[0], *w = &in[1];
    if (x->dtype != NN_DT_F32 || x->shape.ndim != 4)
        return nn_node_err(err, PXS_EUNSUPPORTED, n, "only 4-D float input (2-D conv) is supported");
    if (w->dtype != NN_DT_F32 || w->shape.ndim != 4 || !w->data)
        return nn_node_err(err, PXS_EUNSUPPORTED, n, "weights must be a constant 4-D float tensor");
    p->N = x->shape.d[0];
    p->C = x->shape.d[1];
    p->H = x->shape.d[2];
    p->W = x->shape.d[3];
    p->M = w->shape.d[0];
    p->KH = w->shape.d[2];
    p->KW = w->shape.d[3];
    p->G = nn_attr_int(n, "group", 1);
    if (p->G < 1 || p->C % p->G != 0 || p->M % p->G != 0 || w->shape.d[1] != p->C / p->G || p->M < 1 || p->C < 1)
        return nn_node_err(err, PXS_ECORRUPT, n, "weights/group do not match the input channels");
    const int64_t *ks;
    size_t k = nn_attr_ints(n, "kernel_shape", &ks);
    if (k && (k != 2 || ks[0] != p->KH || ks[1] != p->KW))
        return nn_node_err(err, PXS_ECORRUPT, n, "kernel_shape does not match the weights");
    if (n->n_in == 3 && in[2].dtype) {
        if (in[2].dtype != NN_DT_F32 || !in[2].data || in[2].numel != (size_t)p->M)
            return nn_node_err(err, PXS_EUNSUPPORTED, n, "bias must be a constant [M] float tensor");
    }
    int64_t pads[4];
    rc = nn_window_params(n, p->H, p->W, p->KH, p->KW, 0, &p->sh, &p->sw, &p->dh, &p->dw, pads, &p->OH, &p->OW, err);
    if (rc) return rc;
    p->pt = pads[0];
    p->pl = pads[1];
    p->pb = pads[2];
    p->pr = pads[3];
    /* keep every index computation inside int */
    if (p->H > INT32_MAX / 4 || p->W > INT32_MAX / 4 || p->OH > INT32_MAX / 4 || p->OW > INT32_MAX / 4)
        return nn_node_err(err, PXS_ELIMIT, n, "spatial size too large");
    return PXS_OK;
}

static int infer_conv(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                      struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    struct conv_p p;
    int rc = conv_params(n, in, &p, err);
    if (rc) return rc;
    struct nn_shape s = {4, {p.N, p.M, p.OH, p.OW}};
    if (n->res_fused) {
        /* residual fused at load (graph.c): same shape as the output */
        const struct nn_shape *r = &in[3].shape;
        if (in[3].dtype != NN_DT_F32 || r->ndim != 4 || memcmp(r->d, s.d, sizeof s.d[0] * 4) != 0)
            return nn_node_err(err, PXS_ECORRUPT, n, "residual input does not match the output shape");
    }
    if (nn_set_out(&out[0], NN_DT_F32, &s) != 0) return nn_node_err(err, PXS_ELIMIT, n, "output too large");
    return PXS_OK;
}

struct conv_prep {
    int depthwise;
    const struct nn_gemm_kernel *k;
    float *wp;          /* packed weights, one block per group */
    size_t wp_group;    /* floats per group block */
    float *bias;        /* M floats (zeros when absent) */
    const float *w;     /* raw weights (depthwise), borrowed from the value */
    struct nn_dnnl_conv *dnnl; /* oneDNN backend (conv_dnnl.c): then no packed weights */
};

struct nn_dnnl_conv *nn_conv_dnnl_of(const struct nn_node *n) {
    const struct conv_prep *cp = n->prep;
    return cp ? cp->dnnl : NULL;
}

static void conv_prep_free(void *v) {
    struct conv_prep *cp = v;
    if (!cp) return;
    nn_dnnl_conv_free(cp->dnnl);
    pxs_free(cp->wp);
    pxs_free(cp->bias);
    pxs_free(cp);
}

int nn_conv_prepare(struct pxs_nn_model *m, struct nn_node *n, struct pxs_err *err) {
    if (n->n_in < 2 || n->in[0] < 0 || n->in[1] < 0) return nn_node_err(err, PXS_ECORRUPT, n, "missing inputs");
    const struct nn_value *wv = &m->values[n->in[1]];
    if (!wv->data || wv->dtype != NN_DT_F32 || wv->shape.ndim != 4)
        return nn_node_err(err, PXS_EUNSUPPORTED, n, "weights must be a constant 4-D float tensor");
    int64_t M = wv->shape.d[0], Cg = wv->shape.d[1], G = nn_attr_int(n, "group", 1);
    size_t K = (size_t)Cg * (size_t)wv->shape.d[2] * (size_t)wv->shape.d[3];
    if (G < 1 || M < 1 || M % G != 0 || K == 0) return nn_node_err(err, PXS_ECORRUPT, n, "bad weights/group");
    struct conv_prep *cp = pxs_calloc(1, sizeof *cp);
    if (!cp) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
    cp->k = m->gk;
    cp->bias = pxs_calloc((size_t)M, sizeof(float));
    if (!cp->bias) {
        conv_prep_free(cp);
        return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
    }
    if (n->n_in >= 3 && n->in[2] >= 0) {
        const struct nn_value *bv = &m->values[n->in[2]];
        if (!bv->data || bv->dtype != NN_DT_F32 || bv->nbytes != (size_t)M * 4) {
            conv_prep_free(cp);
            return nn_node_err(err, PXS_EUNSUPPORTED, n, "bias must be a constant [M] float tensor");
        }
        memcpy(cp->bias, bv->data, (size_t)M * 4);
    }
    cp->depthwise = Cg == 1 && G == M;
    cp->w = wv->data;
    if (m->dnnl) {
        int rc = nn_dnnl_conv_new(m, n, cp->bias, &cp->dnnl, err);
        if (rc) {
            conv_prep_free(cp);
            return rc;
        }
    } else if (!cp->depthwise) {
        size_t Mg = (size_t)(M / G);
        cp->wp_group = nn_gemm_packed_a_floats(cp->k, Mg, K);
        size_t total;
        if (pxs_size_mul(cp->wp_group, (size_t)G, &total) != 0 || total > ((size_t)1 << 34)) {
            conv_prep_free(cp);
            return nn_node_err(err, PXS_ELIMIT, n, "weights too large");
        }
        cp->wp = pxs_aligned_alloc(64, total * sizeof(float));
        if (!cp->wp) {
            conv_prep_free(cp);
            return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
        }
        const float *w = wv->data;
        for (int64_t g = 0; g < G; g++)
            nn_gemm_pack_a(cp->k, Mg, K, w + (size_t)g * Mg * K, K, 1, cp->wp + (size_t)g * cp->wp_group);
    }
    n->prep = cp;
    n->prep_free = conv_prep_free;
    return PXS_OK;
}

static double flops_conv(const struct nn_node *n, const struct nn_tensor *in, const struct nn_tensor *out) {
    (void)n;
    if (in[1].shape.ndim != 4) return 0;
    double k = (double)in[1].shape.d[1] * (double)in[1].shape.d[2] * (double)in[1].shape.d[3];
    return 2.0 * k * (double)out[0].numel;
}

/* Implicit im2col: B of the convolution GEMM has rows p = (c, kh, kw) and
 * columns j = (oh, ow); element (p, j) is input pixel (c, oh*sh - pt +
 * kh*dh, ow*sw - pl + kw*dw), or 0 in the padding. The GEMM driver asks for
 * one kc x nc block at a time, packed into nr-wide panels; nothing the size
 * of the whole im2col matrix is ever built. A panel's columns are cut into
 * runs along output rows once, then each B row is filled run by run (a
 * memcpy with zeroed edges at stride 1). */
struct conv_pack {
    const float *x;     /* input of batch item 0, group 0 */
    const struct conv_p *p;
    size_t item_floats; /* C * H * W */
    size_t group_floats; /* C/G * H * W */
};

static void conv_pack_b(const void *vctx, size_t bi, size_t k0, size_t kc, size_t j0, size_t nc, size_t nr,
                        float *out) {
    const struct conv_pack *cx = vctx;
    const struct conv_p *p = cx->p;
    size_t G = (size_t)p->G;
    const float *x = cx->x + (bi / G) * cx->item_floats + (bi % G) * cx->group_floats;
    int64_t H = p->H, W = p->W, OW = p->OW, KK = p->KH * p->KW, HW = H * W;
    int64_t seg_ih[NN_GEMM_MAX_NR], seg_iw[NN_GEMM_MAX_NR], seg_len[NN_GEMM_MAX_NR];
    for (size_t jp = 0; jp < nc; jp += nr) {
        float *dst = out + (jp / nr) * kc * nr;
        size_t w = nc - jp < nr ? nc - jp : nr;
        int ns = 0;
        for (size_t j = j0 + jp, end = j0 + jp + w; j < end; ns++) {
            int64_t oh = (int64_t)j / OW, ow = (int64_t)j % OW;
            int64_t len = OW - ow < (int64_t)(end - j) ? OW - ow : (int64_t)(end - j);
            seg_ih[ns] = oh * p->sh - p->pt;
            seg_iw[ns] = ow * p->sw - p->pl;
            seg_len[ns] = len;
            j += (size_t)len;
        }
        for (size_t q = 0; q < kc; q++) {
            int64_t pk = (int64_t)(k0 + q), c = pk / KK, r = pk % KK, kh = r / p->KW, kw = r % p->KW;
            const float *xc = x + c * HW;
            float *d = dst + q * nr;
            for (int s = 0; s < ns; s++) {
                int64_t ih = seg_ih[s] + kh * p->dh, iw = seg_iw[s] + kw * p->dw, len = seg_len[s];
                if (ih < 0 || ih >= H) {
                    memset(d, 0, (size_t)len * sizeof(float));
                } else if (p->sw == 1) {
                    const float *src = xc + ih * W;
                    int64_t a = iw < 0 ? -iw : 0, b = W - iw < len ? W - iw : len;
                    if (b < a) b = a;
                    if (a > len) a = b = len;
                    if (a) memset(d, 0, (size_t)a * sizeof(float));
                    if (b > a) memcpy(d + a, src + iw + a, (size_t)(b - a) * sizeof(float));
                    if (len > b) memset(d + b, 0, (size_t)(len - b) * sizeof(float));
                } else {
                    /* t in [a, b) reads inside the row: iw + t*sw in [0, W) */
                    const float *src = xc + ih * W;
                    int64_t sw = p->sw, a = iw < 0 ? (-iw + sw - 1) / sw : 0;
                    int64_t b = iw >= W ? 0 : (W - iw + sw - 1) / sw;
                    if (b > len) b = len;
                    if (a > b) a = b;
                    for (int64_t t = 0; t < a; t++) d[t] = 0.f;
                    for (int64_t t = a; t < b; t++) d[t] = src[iw + t * sw];
                    for (int64_t t = b; t < len; t++) d[t] = 0.f;
                }
                d += len;
            }
            if (w < nr) memset(d, 0, (nr - w) * sizeof(float));
        }
    }
}

/* ---- direct stride-1 convolution -------------------------------------------
 * With the input zero-padded into a Hp x Wp plane per channel (plus slack),
 * B row p = (c, kh, kw) of the GEMM, taken over "padded" output columns
 * j' = oh * Wp + ow, is the padded input read from offset c*Hp*Wp +
 * kh*dh*Wp + kw*dw + j': a shifted view. The micro-kernel reads those views
 * in place through a row-offset table, so B is never copied. Columns with
 * ow >= OW are computed and dropped when the result is copied out (Wp - OW
 * of every Wp). Workspace: the padded input (one batch item), the offset
 * table, and the padded output of one item. */
/* Bytes of B (read in place) one N block may span for the K-inner GEMM
 * order: about half the L2 of current x86 cores. */
#define L2_BUDGET ((size_t)1 << 20)

enum { CONV_PACKED = 0, CONV_POINTWISE = 1, CONV_DIRECT = 2 };

struct direct_geom {
    size_t Hp, Wp, plane, xpad_floats, off_words, ypad_floats;
};

static void direct_geom(const struct conv_p *p, struct direct_geom *g) {
    g->Hp = (size_t)(p->H + p->pt + p->pb);
    g->Wp = (size_t)(p->W + p->pl + p->pr);
    g->plane = g->Hp * g->Wp;
    /* reads reach the last plane's end plus (KW-1)*dw + NR columns */
    g->xpad_floats = ((size_t)(p->C / p->G) * (size_t)p->G * g->plane + g->Wp + 2 * NN_GEMM_MAX_NR + 15) / 16 * 16;
    g->off_words = ((size_t)(p->C / p->G) * (size_t)(p->KH * p->KW) + 15) / 16 * 16;
    g->ypad_floats = (size_t)p->M * (size_t)p->OH * g->Wp;
}

static int conv_mode(const struct conv_p *p) {
    if (p->sh != 1 || p->sw != 1) return CONV_PACKED;
    if (p->KH == 1 && p->KW == 1 && !p->pt && !p->pl && !p->pb && !p->pr) return CONV_POINTWISE;
    struct direct_geom g;
    direct_geom(p, &g);
    /* offsets are 32-bit; tiny outputs waste more on the dropped columns */
    if (g.xpad_floats >= ((size_t)1 << 31) || p->OW < 4) return CONV_PACKED;
    return CONV_DIRECT;
}

struct direct_ctx {
    const struct conv_p *p;
    const struct direct_geom *g;
    const float *x;     /* one item */
    float *xpad;
    const float *ypad;
    float *y;           /* one item */
    const float *res;   /* one item, or NULL */
    float lo, hi;
};

static void pad_task(void *vctx, size_t c, int tid) {
    (void)tid;
    const struct direct_ctx *d = vctx;
    const struct conv_p *p = d->p;
    size_t Wp = d->g->Wp, W = (size_t)p->W;
    const float *src = d->x + c * (size_t)(p->H * p->W);
    float *dst = d->xpad + c * d->g->plane;
    memset(dst, 0, (size_t)p->pt * Wp * sizeof(float));
    for (int64_t h = 0; h < p->H; h++) {
        float *row = dst + ((size_t)(h + p->pt)) * Wp;
        memset(row, 0, (size_t)p->pl * sizeof(float));
        memcpy(row + p->pl, src + (size_t)h * W, W * sizeof(float));
        memset(row + p->pl + W, 0, (size_t)p->pr * sizeof(float));
    }
    memset(dst + (size_t)(p->H + p->pt) * Wp, 0, (size_t)p->pb * Wp * sizeof(float));
}

/* Copy one output channel out of the padded result, adding the residual and
 * clamping. */
static void unpad_task(void *vctx, size_t m, int tid) {
    (void)tid;
    const struct direct_ctx *d = vctx;
    const struct conv_p *p = d->p;
    size_t OW = (size_t)p->OW, OHW = (size_t)(p->OH * p->OW);
    const float *src = d->ypad + m * (size_t)p->OH * d->g->Wp;
    float *dst = d->y + m * OHW;
    const float *r = d->res ? d->res + m * OHW : NULL;
    for (int64_t oh = 0; oh < p->OH; oh++, src += d->g->Wp, dst += OW) {
        if (!r) {
            memcpy(dst, src, OW * sizeof(float));
            continue;
        }
        for (size_t ow = 0; ow < OW; ow++) {
            float v = src[ow] + r[ow];
            v = v < d->lo ? d->lo : v;
            dst[ow] = v > d->hi ? d->hi : v;
        }
        r += OW;
    }
}

static void conv_direct(struct nn_exec *ex, const struct conv_p *p, const struct conv_prep *cp, const float *x,
                        float *y, const float *res, float lo, float hi) {
    struct direct_geom g;
    direct_geom(p, &g);
    float *xpad = ex->ws, *ypad = xpad + g.xpad_floats;
    uint32_t *off = (uint32_t *)(ypad + g.ypad_floats);
    size_t Cg = (size_t)(p->C / p->G), Mg = (size_t)(p->M / p->G), KK = (size_t)(p->KH * p->KW);
    size_t K = Cg * KK, Np = (size_t)p->OH * g.Wp;
    for (size_t k = 0; k < K; k++) {
        size_t c = k / KK, r = k % KK, kh = r / (size_t)p->KW, kw = r % (size_t)p->KW;
        off[k] = (uint32_t)(c * g.plane + kh * (size_t)p->dh * g.Wp + kw * (size_t)p->dw);
    }
    size_t slack0 = (size_t)(p->C) * g.plane;
    memset(xpad + slack0, 0, (g.xpad_floats - slack0) * sizeof(float));
    size_t item_in = (size_t)(p->C * p->H * p->W), item_out = (size_t)p->M * (size_t)(p->OH * p->OW);
    for (int64_t b = 0; b < p->N; b++) {
        struct direct_ctx d = {p, &g, x + (size_t)b * item_in, xpad, ypad, y + (size_t)b * item_out,
                               res ? res + (size_t)b * item_out : NULL, lo, hi};
        nn_pool_run(ex->pool, (size_t)p->C, pad_task, &d);
        /* with a residual, the clamp waits for the copy-out */
        struct nn_gemm_call c = {
            .k = cp->k, .M = Mg, .N = Np, .K = K, .ap = cp->wp, .b = xpad, .boff = off, .c = ypad, .ldc = Np,
            .bias = cp->bias, .lo = res ? -INFINITY : lo, .hi = res ? INFINITY : hi,
            .batch = (size_t)p->G, .a_mod = (size_t)p->G, .a_stride = cp->wp_group, .bias_stride = Mg,
            .b_stride = Cg * g.plane, .c_stride = Mg * Np,
            .k_inner = Cg * ((Np < NN_GEMM_NC ? Np : NN_GEMM_NC) + (size_t)(p->KH * p->dh + 1) * g.Wp) *
                           sizeof(float) <= L2_BUDGET,
        };
        nn_gemm_run(ex->pool, ex->packb, &c);
        nn_pool_run(ex->pool, (size_t)p->M, unpad_task, &d);
    }
}

static size_t ws_conv(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                      const struct nn_tensor *out) {
    struct conv_p p;
    if (conv_params(n, in, &p, NULL) != 0) return 0;
    if (nn_conv_dnnl_of(n)) return nn_dnnl_conv_ws(m, n, in, out);
    if ((p.G == p.C && p.M == p.G) || conv_mode(&p) != CONV_DIRECT) return 0;
    struct direct_geom g;
    direct_geom(&p, &g);
    return (g.xpad_floats + g.ypad_floats + g.off_words) * sizeof(float);
}

struct dw_ctx {
    const struct conv_p *p;
    const struct conv_prep *cp;
    const float *x;
    float *y;
    float lo, hi;
    nn_dw_fn fn3;
};

static void dw_task(void *vctx, size_t t, int tid) {
    (void)tid;
    const struct dw_ctx *d = vctx;
    const struct conv_p *p = d->p;
    size_t c = t % (size_t)p->C;
    struct nn_dw_args a = {
        .in = d->x + t * (size_t)(p->H * p->W),
        .out = d->y + t * (size_t)(p->OH * p->OW),
        .w = d->cp->w + c * (size_t)(p->KH * p->KW),
        .bias = d->cp->bias[c],
        .H = (int)p->H, .W = (int)p->W, .OH = (int)p->OH, .OW = (int)p->OW,
        .KH = (int)p->KH, .KW = (int)p->KW, .sh = (int)p->sh, .sw = (int)p->sw,
        .ph = (int)p->pt, .pw = (int)p->pl, .dh = (int)p->dh, .dw = (int)p->dw,
        .lo = d->lo, .hi = d->hi,
    };
    if (d->fn3 && a.KH == 3 && a.KW == 3 && a.dh == 1 && a.dw == 1 && a.sh <= 2 && a.sh == a.sw)
        d->fn3(&a);
    else
        nn_dw_generic(&a);
}

static int exec_conv(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                     struct nn_tensor *out) {
    struct conv_p p;
    int rc = conv_params(n, in, &p, ex->err);
    if (rc) return rc;
    const struct conv_prep *cp = n->prep;
    if (!cp) return nn_node_err(ex->err, PXS_EINTERNAL, n, "conv not prepared");
    if (cp->dnnl) return nn_dnnl_conv_exec(ex, n, cp->dnnl, in, out);
    if (n->pre_act) /* graph.c fuses it only for oneDNN models */
        return nn_node_err(ex->err, PXS_EINTERNAL, n, "pre-add clamp without the oneDNN backend");
    float lo = n->act ? n->act_lo : -INFINITY, hi = n->act ? n->act_hi : INFINITY;
    const float *x = in[0].data;
    float *y = out[0].data;
    if (cp->depthwise) {
        struct dw_ctx d = {&p, cp, x, y, lo, hi, NULL};
        if (ex->m->gk && strcmp(ex->m->gk->name, "avx512") == 0) d.fn3 = nn_dw3x3_for(NN_ISA_AVX512);
        else if (ex->m->gk && strcmp(ex->m->gk->name, "avx2") == 0) d.fn3 = nn_dw3x3_for(NN_ISA_AVX2);
        nn_pool_run(ex->pool, (size_t)(p.N * p.C), dw_task, &d);
        return PXS_OK;
    }
    size_t Cg = (size_t)(p.C / p.G), Mg = (size_t)(p.M / p.G), HW = (size_t)(p.H * p.W);
    size_t N = (size_t)(p.OH * p.OW), K = Cg * (size_t)(p.KH * p.KW);
    struct nn_gemm_call c = {
        .k = cp->k, .M = Mg, .N = N, .K = K, .ap = cp->wp, .c = y, .ldc = N, .bias = cp->bias,
        .res = n->res_fused ? in[3].data : NULL, .lo = lo, .hi = hi,
        .batch = (size_t)(p.N * p.G), .a_mod = (size_t)p.G, .a_stride = cp->wp_group, .bias_stride = Mg,
        .c_stride = Mg * N,
    };
    switch (conv_mode(&p)) {
    case CONV_POINTWISE: /* B is the input itself */
        c.b = x;
        c.b_rs = HW;
        c.b_cs = 1;
        c.b_stride = Cg * HW;
        c.k_inner = K * (N < NN_GEMM_NC ? N : NN_GEMM_NC) * sizeof(float) <= L2_BUDGET;
        nn_gemm_run(ex->pool, ex->packb, &c);
        return PXS_OK;
    case CONV_DIRECT:
        conv_direct(ex, &p, cp, x, y, c.res, lo, hi);
        return PXS_OK;
    default: { /* implicit im2col, packed block by block */
        struct conv_pack pk = {x, &p, (size_t)p.C * HW, Cg * HW};
        c.pack = conv_pack_b;
        c.pack_ctx = &pk;
        nn_gemm_run(ex->pool, ex->packb, &c);
        return PXS_OK;
    }
    }
}

/* ---- Gemm -------------------------------------------------------------------- */

static int infer_gemm(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                      struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    int rc = nn_need_inputs(n, in, 2, 3, err);
    if (rc) return rc;
    if (in[0].dtype != NN_DT_F32 || in[1].dtype != NN_DT_F32 || in[0].shape.ndim != 2 || in[1].shape.ndim != 2)
        return nn_node_err(err, PXS_EUNSUPPORTED, n, "inputs must be 2-D float");
    int ta = (int)nn_attr_int(n, "transA", 0), tb = (int)nn_attr_int(n, "transB", 0);
    int64_t M = in[0].shape.d[ta ? 1 : 0], K = in[0].shape.d[ta ? 0 : 1];
    int64_t K2 = in[1].shape.d[tb ? 1 : 0], N = in[1].shape.d[tb ? 0 : 1];
    if (K != K2 || K == 0) return nn_node_err(err, PXS_ECORRUPT, n, "inner dimensions differ");
    struct nn_shape s = {2, {M, N}};
    if (n->n_in == 3 && in[2].dtype) {
        struct nn_shape t;
        if (in[2].dtype != NN_DT_F32 || nn_broadcast_shape(&s, &in[2].shape, &t) != 0 || t.d[0] != M ||
            t.d[1] != N || t.ndim != 2)
            return nn_node_err(err, PXS_ECORRUPT, n, "C does not broadcast to [M,N]");
    }
    if (nn_set_out(&out[0], NN_DT_F32, &s) != 0) return nn_node_err(err, PXS_ELIMIT, n, "too large");
    return PXS_OK;
}

static size_t ws_gemm(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                      const struct nn_tensor *out) {
    (void)out;
    const struct nn_shape *a = &in[0].shape;
    if (a->ndim < 1) return 0;
    size_t M, K;
    if (!strcmp(n->op_type, "Gemm")) {
        if (a->ndim != 2) return 0;
        int ta = nn_attr_int(n, "transA", 0) != 0;
        M = (size_t)a->d[ta ? 1 : 0];
        K = (size_t)a->d[ta ? 0 : 1];
    } else {
        M = a->ndim == 1 ? 1 : (size_t)a->d[a->ndim - 2];
        K = (size_t)a->d[a->ndim - 1];
    }
    size_t fl;
    if (pxs_size_mul(nn_gemm_packed_a_floats(m->gk, M, 1), K, &fl) != 0 || fl > ((size_t)1 << 40)) return SIZE_MAX;
    return fl * sizeof(float);
}

static double flops_gemm(const struct nn_node *n, const struct nn_tensor *in, const struct nn_tensor *out) {
    int ta = !strcmp(n->op_type, "Gemm") && nn_attr_int(n, "transA", 0);
    int r = in[0].shape.ndim;
    double K = r == 0 ? 0 : (double)in[0].shape.d[ta ? 0 : r - 1];
    return 2.0 * K * (double)out[0].numel;
}

/* Gemm with constant transposed weights (a classifier head): the weights
 * are transposed once at load, so each run reads B row by row in place
 * instead of packing the whole matrix again. */
static void gemm_prep_free(void *v) { pxs_free(v); }

int nn_gemm_prepare(struct pxs_nn_model *m, struct nn_node *n, struct pxs_err *err) {
    if (n->n_in < 2 || n->in[1] < 0 || !nn_attr_int(n, "transB", 0)) return PXS_OK;
    const struct nn_value *wv = &m->values[n->in[1]];
    if (!wv->data || wv->dtype != NN_DT_F32 || wv->shape.ndim != 2) return PXS_OK;
    size_t N = (size_t)wv->shape.d[0], K = (size_t)wv->shape.d[1];
    float *t = pxs_aligned_alloc(64, N * K * sizeof(float) + 64);
    if (!t) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
    const float *w = wv->data;
    for (size_t j = 0; j < N; j++)
        for (size_t p = 0; p < K; p++) t[p * N + j] = w[j * K + p];
    n->prep = t;
    n->prep_free = gemm_prep_free;
    return PXS_OK;
}

static int exec_gemm(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                     struct nn_tensor *out) {
    int ta = (int)nn_attr_int(n, "transA", 0), tb = (int)nn_attr_int(n, "transB", 0);
    float alpha = nn_attr_float(n, "alpha", 1.f), beta = nn_attr_float(n, "beta", 1.f);
    size_t M = (size_t)out[0].shape.d[0], N = (size_t)out[0].shape.d[1];
    size_t K = (size_t)in[0].shape.d[ta ? 0 : 1];
    const float *A = in[0].data, *B = in[1].data;
    float *Y = out[0].data, *ap = ex->ws;
    const struct nn_gemm_kernel *k = ex->m->gk;
    nn_gemm_pack_a(k, M, K, A, ta ? 1 : K, ta ? M : 1, ap);
    struct nn_gemm_call c = {
        .k = k, .M = M, .N = N, .K = K, .ap = ap, .b = B, .b_rs = tb ? 1 : N, .b_cs = tb ? K : 1,
        .c = Y, .ldc = N, .bias = NULL, .lo = -INFINITY, .hi = INFINITY,
    };
    if (n->prep && tb) { /* weights transposed at load */
        c.b = n->prep;
        c.b_rs = N;
        c.b_cs = 1;
    }
    nn_gemm_run(ex->pool, ex->packb, &c);
    int has_c = n->n_in == 3 && in[2].dtype && beta != 0.f;
    if (alpha != 1.f || has_c) {
        const float *C = has_c ? in[2].data : NULL;
        int cr = 0, cc = 0; /* C strides under broadcasting */
        if (has_c) {
            const struct nn_shape *cs = &in[2].shape;
            int64_t d0 = cs->ndim == 2 ? cs->d[0] : 1, d1 = cs->ndim >= 1 ? cs->d[cs->ndim - 1] : 1;
            cr = d0 == 1 ? 0 : (int)d1;
            cc = d1 == 1 ? 0 : 1;
        }
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                float v = alpha * Y[i * N + j];
                if (C) v += beta * C[i * (size_t)cr + j * (size_t)cc];
                Y[i * N + j] = v;
            }
    }
    return PXS_OK;
}

/* ---- MatMul ------------------------------------------------------------------- */

static int matmul_shape(const struct nn_node *n, const struct nn_tensor *in, struct nn_shape *o,
                        struct nn_shape *batch, int64_t *M, int64_t *K, int64_t *N, struct pxs_err *err) {
    const struct nn_shape *a = &in[0].shape, *b = &in[1].shape;
    if (a->ndim < 1 || b->ndim < 1) return nn_node_err(err, PXS_ECORRUPT, n, "scalar operand");
    *M = a->ndim == 1 ? 1 : a->d[a->ndim - 2];
    *K = a->d[a->ndim - 1];
    int64_t K2 = b->ndim == 1 ? b->d[0] : b->d[b->ndim - 2];
    *N = b->ndim == 1 ? 1 : b->d[b->ndim - 1];
    if (*K != K2 || *K == 0) return nn_node_err(err, PXS_ECORRUPT, n, "inner dimensions differ");
    struct nn_shape ba = {a->ndim > 2 ? a->ndim - 2 : 0, {0}}, bb = {b->ndim > 2 ? b->ndim - 2 : 0, {0}};
    for (int i = 0; i < ba.ndim; i++) ba.d[i] = a->d[i];
    for (int i = 0; i < bb.ndim; i++) bb.d[i] = b->d[i];
    if (nn_broadcast_shape(&ba, &bb, batch) != 0) return nn_node_err(err, PXS_ECORRUPT, n, "batch dims differ");
    *o = *batch;
    if (a->ndim > 1) o->d[o->ndim++] = *M;
    if (b->ndim > 1) {
        if (o->ndim >= NN_MAX_DIMS) return nn_node_err(err, PXS_EUNSUPPORTED, n, "too many dims");
        o->d[o->ndim++] = *N;
    }
    return PXS_OK;
}

static int infer_matmul(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                        struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    int rc = nn_need_inputs(n, in, 2, 2, err);
    if (rc) return rc;
    if (in[0].dtype != NN_DT_F32 || in[1].dtype != NN_DT_F32) return nn_node_err(err, PXS_EUNSUPPORTED, n, "float only");
    struct nn_shape o, batch;
    int64_t M, K, N;
    rc = matmul_shape(n, in, &o, &batch, &M, &K, &N, err);
    if (rc) return rc;
    if (nn_set_out(&out[0], NN_DT_F32, &o) != 0) return nn_node_err(err, PXS_ELIMIT, n, "too large");
    return PXS_OK;
}

static int exec_matmul(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                       struct nn_tensor *out) {
    struct nn_shape o, batch;
    int64_t M, K, N;
    int rc = matmul_shape(n, in, &o, &batch, &M, &K, &N, ex->err);
    if (rc) return rc;
    const struct nn_shape *as = &in[0].shape, *bs = &in[1].shape;
    size_t nb = 1;
    for (int i = 0; i < batch.ndim; i++) nb *= (size_t)batch.d[i];
    int64_t idx[NN_MAX_DIMS] = {0};
    const struct nn_gemm_kernel *k = ex->m->gk;
    for (size_t t = 0; t < nb; t++) {
        /* offsets of this batch item in a and b (broadcast dims repeat) */
        size_t oa = 0, ob = 0, sa = 1, sb = 1;
        int na = as->ndim > 2 ? as->ndim - 2 : 0, nbd = bs->ndim > 2 ? bs->ndim - 2 : 0;
        for (int i = batch.ndim - 1; i >= 0; i--) {
            int ia = i - (batch.ndim - na), ib = i - (batch.ndim - nbd);
            if (ia >= 0) {
                if (as->d[ia] != 1) oa += (size_t)idx[i] * sa;
                sa *= (size_t)as->d[ia];
            }
            if (ib >= 0) {
                if (bs->d[ib] != 1) ob += (size_t)idx[i] * sb;
                sb *= (size_t)bs->d[ib];
            }
        }
        const float *A = (const float *)in[0].data + oa * (size_t)(M * K);
        const float *B = (const float *)in[1].data + ob * (size_t)(K * N);
        float *Y = (float *)out[0].data + t * (size_t)(M * N);
        nn_gemm_pack_a(k, (size_t)M, (size_t)K, A, (size_t)K, 1, ex->ws);
        struct nn_gemm_call c = {
            .k = k, .M = (size_t)M, .N = (size_t)N, .K = (size_t)K, .ap = ex->ws, .b = B, .b_rs = (size_t)N,
            .b_cs = 1, .c = Y, .ldc = (size_t)N, .bias = NULL, .lo = -INFINITY, .hi = INFINITY,
        };
        nn_gemm_run(ex->pool, ex->packb, &c);
        for (int i = batch.ndim - 1; i >= 0; i--) {
            if (++idx[i] < batch.d[i]) break;
            idx[i] = 0;
        }
    }
    return PXS_OK;
}

static const struct nn_op heavy_ops[] = {
    {"Conv", infer_conv, exec_conv, ws_conv, flops_conv, 0},
    {"Gemm", infer_gemm, exec_gemm, ws_gemm, flops_gemm, 0},
    {"MatMul", infer_matmul, exec_matmul, ws_gemm, flops_gemm, 0},
};

const struct nn_op *nn_op_find_heavy(const char *name) {
    for (size_t i = 0; i < sizeof heavy_ops / sizeof heavy_ops[0]; i++)
        if (!strcmp(heavy_ops[i].name, name)) return &heavy_ops[i];
    for (size_t i = 0; i < nn_pool_ops_count; i++)
        if (!strcmp(nn_pool_ops[i].name, name)) return &nn_pool_ops[i];
    return NULL;
}
