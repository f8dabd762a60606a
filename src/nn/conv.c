/*
 * conv.c — Conv, Gemm and MatMul.
 *
 * Conv (2-D, NCHW) has two paths chosen at load by nn_conv_prepare:
 *   - depthwise (group == C == M): direct per-channel kernel (depthwise.c,
 *     arch/ 3x3 specialisation), channels split over the thread pool;
 *   - everything else: per (batch item, group) GEMM of the weights
 *     [M/g x C/g*KH*KW] (packed once at load for the selected micro-kernel)
 *     with the input: 1x1 stride-1 unpadded convs use the input as B directly,
 *     others go through im2col into the plan's scratch buffer.
 * A Relu/Clip folded into the node at load (graph.c) becomes the GEMM /
 * depthwise clamp, BatchNormalization folded at load is already in the
 * weights and bias.
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
    int rc = nn_need_inputs(n, in, 2, 3, err);
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
};

static void conv_prep_free(void *v) {
    struct conv_prep *cp = v;
    if (!cp) return;
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
    if (!cp->depthwise) {
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

static int is_pointwise(const struct conv_p *p) {
    return p->KH == 1 && p->KW == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0 && p->pl == 0 && p->pb == 0 &&
           p->pr == 0;
}

static size_t ws_conv(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                      const struct nn_tensor *out) {
    (void)m;
    (void)out;
    struct conv_p p;
    if (conv_params(n, in, &p, NULL) != 0) return 0;
    if (p.G == p.C && p.M == p.G) return 0;
    if (is_pointwise(&p)) return 0;
    return (size_t)(p.C / p.G) * (size_t)(p.KH * p.KW) * (size_t)(p.OH * p.OW) * sizeof(float);
}

static double flops_conv(const struct nn_node *n, const struct nn_tensor *in, const struct nn_tensor *out) {
    (void)n;
    if (in[1].shape.ndim != 4) return 0;
    double k = (double)in[1].shape.d[1] * (double)in[1].shape.d[2] * (double)in[1].shape.d[3];
    return 2.0 * k * (double)out[0].numel;
}

/* im2col of one input channel c: rows (c, kh, kw) of col, each OH*OW long. */
static void im2col_channel(const float *x, int64_t c, int64_t H, int64_t W, const struct conv_p *p, float *col) {
    size_t N = (size_t)(p->OH * p->OW);
    for (int64_t kh = 0; kh < p->KH; kh++)
        for (int64_t kw = 0; kw < p->KW; kw++) {
            float *dst = col + ((size_t)((c * p->KH + kh) * p->KW + kw)) * N;
            const float *src = x + (size_t)c * (size_t)(H * W);
            for (int64_t oh = 0; oh < p->OH; oh++) {
                int64_t ih = oh * p->sh - p->pt + kh * p->dh;
                float *d = dst + (size_t)(oh * p->OW);
                if (ih < 0 || ih >= H) {
                    memset(d, 0, (size_t)p->OW * sizeof(float));
                    continue;
                }
                const float *s = src + (size_t)(ih * W);
                int64_t off = kw * p->dw - p->pl;
                if (p->sw == 1) {
                    for (int64_t ow = 0; ow < p->OW; ow++) {
                        int64_t iw = ow + off;
                        d[ow] = (iw >= 0 && iw < W) ? s[iw] : 0.f;
                    }
                } else {
                    for (int64_t ow = 0; ow < p->OW; ow++) {
                        int64_t iw = ow * p->sw + off;
                        d[ow] = (iw >= 0 && iw < W) ? s[iw] : 0.f;
                    }
                }
            }
        }
}

struct im2col_ctx {
    const float *x;
    const struct conv_p *p;
    float *col;
};

static void im2col_task(void *vctx, size_t t, int tid) {
    (void)tid;
    const struct im2col_ctx *c = vctx;
    im2col_channel(c->x, (int64_t)t, c->p->H, c->p->W, c->p, c->col);
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
        .k = cp->k, .M = Mg, .N = N, .K = K, .ap = cp->wp, .b = x, .b_rs = HW, .b_cs = 1,
        .c = y, .ldc = N, .bias = cp->bias, .lo = lo, .hi = hi,
        .a_mod = (size_t)p.G, .a_stride = cp->wp_group, .bias_stride = Mg,
    };
    if (is_pointwise(&p)) {
        /* one dispatch for every (batch item, group) product */
        c.batch = (size_t)(p.N * p.G);
        c.b_stride = Cg * HW;
        c.c_stride = Mg * N;
        nn_gemm_run(ex->pool, ex->packb, &c);
        return PXS_OK;
    }
    for (int64_t b = 0; b < p.N; b++)
        for (int64_t g = 0; g < p.G; g++) {
            float *col = ex->ws;
            struct im2col_ctx ic = {x + ((size_t)b * (size_t)p.C + (size_t)g * Cg) * HW, &p, col};
            nn_pool_run(ex->pool, Cg, im2col_task, &ic);
            c.ap = cp->wp + (size_t)g * cp->wp_group;
            c.bias = cp->bias + (size_t)g * Mg;
            c.a_mod = 0;
            c.b = col;
            c.b_rs = N;
            c.c = y + ((size_t)b * (size_t)p.M + (size_t)g * Mg) * N;
            nn_gemm_run(ex->pool, ex->packb, &c);
        }
    return PXS_OK;
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
