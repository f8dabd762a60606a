/*
 * pool_ops.c — MaxPool, AveragePool (2-D, NCHW), GlobalAveragePool,
 * GlobalMaxPool and ReduceMean/ReduceSum/ReduceMax.
 *
 * Window rules: padding never contributes to a max; an average divides by
 * the taps inside the input (count_include_pad=0) or inside the padded
 * input (count_include_pad=1; taps past the end padding that ceil_mode adds
 * are never counted), matching PyTorch and ONNX Runtime.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nn/ops_int.h"

struct pool_p {
    int64_t N, C, H, W, KH, KW, OH, OW, sh, sw, dh, dw, pads[4];
};

static int pool_params(const struct nn_node *n, const struct nn_tensor *in, struct pool_p *p,
                       struct pxs_err *err) {
    int rc = nn_need_inputs(n, in, 1, 1, err);
    if (rc) return rc;
    if (in[0].dtype != NN_DT_F32 || in[0].shape.ndim != 4)
        return nn_node_err(err, PXS_EUNSUPPORTED, n, "only 4-D float input (2-D pooling) is supported");
    const int64_t *ks;
    if (nn_attr_ints(n, "kernel_shape", &ks) != 2)
        return nn_node_err(err, PXS_EUNSUPPORTED, n, "kernel_shape must have 2 values");
    p->N = in[0].shape.d[0];
    p->C = in[0].shape.d[1];
    p->H = in[0].shape.d[2];
    p->W = in[0].shape.d[3];
    p->KH = ks[0];
    p->KW = ks[1];
    int ceil_mode = (int)nn_attr_int(n, "ceil_mode", 0);
    rc = nn_window_params(n, p->H, p->W, p->KH, p->KW, ceil_mode, &p->sh, &p->sw, &p->dh, &p->dw, p->pads,
                          &p->OH, &p->OW, err);
    if (rc) return rc;
    if (p->H > INT32_MAX / 4 || p->W > INT32_MAX / 4) return nn_node_err(err, PXS_ELIMIT, n, "too large");
    return PXS_OK;
}

static int infer_pool(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                      struct nn_tensor *out, struct pxs_err *err) {
    struct pool_p p;
    int rc = pool_params(n, in, &p, err);
    if (rc) return rc;
    if (nn_extra_outputs_used(m, n, 1)) return nn_node_err(err, PXS_EUNSUPPORTED, n, "Indices output");
    struct nn_shape s = {4, {p.N, p.C, p.OH, p.OW}};
    if (nn_set_out(&out[0], NN_DT_F32, &s) != 0) return nn_node_err(err, PXS_ELIMIT, n, "too large");
    return PXS_OK;
}

#define MAXPOOL_ROW 2048 /* widest padded row the separable MaxPool handles */

struct pool_run {
    const struct pool_p *p;
    const float *x;
    float *y;
    int is_max, incl;
};

/* One (item, channel) plane. Windows entirely inside the input along W
 * (most of them) skip the per-tap bounds checks. */
static void pool_task(void *vctx, size_t nc, int tid) {
    (void)tid;
    const struct pool_run *r = vctx;
    const struct pool_p *pp = r->p;
    const struct pool_p p = *pp;
    int64_t pt = p.pads[0], pl = p.pads[1], pb = p.pads[2], pr = p.pads[3];
    const float *xc = r->x + nc * (size_t)(p.H * p.W);
    float *yc = r->y + nc * (size_t)(p.OH * p.OW);
    int is_max = r->is_max;
    int64_t span = (p.OW - 1) * p.sw + p.KW; /* padded columns the windows cover */
    if (is_max && p.dh == 1 && p.dw == 1 && span <= MAXPOOL_ROW && p.W + pl <= MAXPOOL_ROW) {
        /* separable: the max over the window's rows, column by column (a
         * contiguous, vectorisable loop), then over each window's columns */
        float vm[MAXPOOL_ROW];
        int64_t width = span > p.W + pl ? span : p.W + pl;
        for (int64_t i = 0; i < width; i++) vm[i] = -FLT_MAX;
        for (int64_t oh = 0; oh < p.OH; oh++) {
            int64_t h0 = oh * p.sh - pt, first = 1;
            float *v = vm + pl;
            for (int64_t kh = 0; kh < p.KH; kh++) {
                int64_t ih = h0 + kh;
                if (ih < 0 || ih >= p.H) continue;
                const float *row = xc + ih * p.W;
                if (first) memcpy(v, row, (size_t)p.W * sizeof(float));
                else
                    for (int64_t i = 0; i < p.W; i++) v[i] = row[i] > v[i] ? row[i] : v[i];
                first = 0;
            }
            if (first)
                for (int64_t i = 0; i < p.W; i++) v[i] = -FLT_MAX;
            float *yr = yc + oh * p.OW;
            for (int64_t ow = 0; ow < p.OW; ow++) {
                const float *w = vm + ow * p.sw;
                float acc = w[0];
                for (int64_t kw = 1; kw < p.KW; kw++) acc = w[kw] > acc ? w[kw] : acc;
                yr[ow] = acc;
            }
        }
        return;
    }
    for (int64_t oh = 0; oh < p.OH; oh++) {
        int64_t h0 = oh * p.sh - pt, rows = 0, rows_pad = 0;
        for (int64_t kh = 0; kh < p.KH; kh++) {
            int64_t ih = h0 + kh * p.dh;
            rows += ih >= 0 && ih < p.H;
            rows_pad += ih >= -pt && ih < p.H + pb;
        }
        for (int64_t ow = 0; ow < p.OW; ow++) {
            int64_t w0 = ow * p.sw - pl;
            float acc = is_max ? -FLT_MAX : 0.f;
            int64_t cnt = 0, cnt_pad = 0;
            if (w0 >= 0 && w0 + (p.KW - 1) * p.dw < p.W) {
                for (int64_t kh = 0; kh < p.KH; kh++) {
                    int64_t ih = h0 + kh * p.dh;
                    if (ih < 0 || ih >= p.H) continue;
                    const float *row = xc + ih * p.W + w0;
                    for (int64_t kw = 0; kw < p.KW; kw++) {
                        float v = row[kw * p.dw];
                        if (is_max) acc = v > acc ? v : acc;
                        else acc += v;
                    }
                }
                cnt = rows * p.KW;
                cnt_pad = rows_pad * p.KW;
            } else {
                for (int64_t kh = 0; kh < p.KH; kh++) {
                    int64_t ih = h0 + kh * p.dh;
                    int inpad_h = ih >= -pt && ih < p.H + pb;
                    for (int64_t kw = 0; kw < p.KW; kw++) {
                        int64_t iw = w0 + kw * p.dw;
                        if (inpad_h && iw >= -pl && iw < p.W + pr) cnt_pad++;
                        if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) continue;
                        float v = xc[ih * p.W + iw];
                        if (is_max) acc = v > acc ? v : acc;
                        else acc += v;
                        cnt++;
                    }
                }
            }
            if (!is_max) {
                int64_t d = r->incl ? cnt_pad : cnt;
                acc = d > 0 ? acc / (float)d : 0.f;
            }
            yc[oh * p.OW + ow] = acc;
        }
    }
}

static int exec_pool(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                     struct nn_tensor *out) {
    struct pool_p p;
    int rc = pool_params(n, in, &p, ex->err);
    if (rc) return rc;
    struct pool_run r = {&p, in[0].data, out[0].data, !strcmp(n->op_type, "MaxPool"),
                         (int)nn_attr_int(n, "count_include_pad", 0)};
    nn_pool_run(ex->pool, (size_t)(p.N * p.C), pool_task, &r);
    return PXS_OK;
}

static int infer_global(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                        struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    int rc = nn_need_inputs(n, in, 1, 1, err);
    if (rc) return rc;
    if (in[0].dtype != NN_DT_F32 || in[0].shape.ndim < 3)
        return nn_node_err(err, PXS_EUNSUPPORTED, n, "input must be float with rank >= 3");
    struct nn_shape s = in[0].shape;
    for (int i = 2; i < s.ndim; i++) s.d[i] = 1;
    nn_set_out(&out[0], NN_DT_F32, &s);
    return PXS_OK;
}

static int exec_global(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                       struct nn_tensor *out) {
    (void)ex;
    int is_max = !strcmp(n->op_type, "GlobalMaxPool");
    size_t nc = (size_t)(in[0].shape.d[0] * in[0].shape.d[1]);
    size_t hw = nc ? in[0].numel / nc : 0;
    const float *x = in[0].data;
    float *y = out[0].data;
    for (size_t i = 0; i < nc; i++) {
        const float *xc = x + i * hw;
        if (is_max) {
            float mx = -INFINITY;
            for (size_t j = 0; j < hw; j++) mx = xc[j] > mx ? xc[j] : mx;
            y[i] = mx;
        } else {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            size_t j = 0;
            for (; j + 4 <= hw; j += 4) {
                s0 += xc[j];
                s1 += xc[j + 1];
                s2 += xc[j + 2];
                s3 += xc[j + 3];
            }
            for (; j < hw; j++) s0 += xc[j];
            y[i] = hw ? ((s0 + s1) + (s2 + s3)) / (float)hw : 0.f;
        }
    }
    return PXS_OK;
}

/* ---- Reduce* ------------------------------------------------------------------ */

static int reduce_axes(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                       int red[NN_MAX_DIMS], struct nn_shape *os, struct pxs_err *err) {
    int rank = in[0].shape.ndim, cnt = 0, rc;
    int64_t axes[NN_MAX_DIMS];
    int from_input = !strcmp(n->op_type, "ReduceSum") ? 13 : 18;
    if (m->opset < from_input) {
        const int64_t *a;
        size_t k = nn_attr_ints(n, "axes", &a);
        if (k > NN_MAX_DIMS) return nn_node_err(err, PXS_ECORRUPT, n, "too many axes");
        for (size_t i = 0; i < k; i++) axes[i] = a[i];
        cnt = (int)k;
    } else if (n->n_in >= 2 && in[1].dtype) {
        if ((rc = nn_const_ints(n, &in[1], axes, NN_MAX_DIMS, &cnt, err))) return rc;
    }
    for (int i = 0; i < rank; i++) red[i] = 0;
    if (cnt == 0) {
        if (nn_attr_int(n, "noop_with_empty_axes", 0)) {
            *os = in[0].shape;
            return PXS_OK;
        }
        for (int i = 0; i < rank; i++) red[i] = 1;
    }
    for (int i = 0; i < cnt; i++) {
        int a;
        if (nn_norm_axis(axes[i], rank, &a) != 0) return nn_node_err(err, PXS_ECORRUPT, n, "axis out of range");
        red[a] = 1;
    }
    int keep = (int)nn_attr_int(n, "keepdims", 1);
    os->ndim = 0;
    for (int i = 0; i < rank; i++) {
        if (red[i] && !keep) continue;
        os->d[os->ndim++] = red[i] ? 1 : in[0].shape.d[i];
    }
    return PXS_OK;
}

static int infer_reduce(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                        struct nn_tensor *out, struct pxs_err *err) {
    int rc = nn_need_inputs(n, in, 1, 2, err);
    if (rc) return rc;
    if (in[0].dtype != NN_DT_F32) return nn_node_err(err, PXS_EUNSUPPORTED, n, "float only");
    int red[NN_MAX_DIMS];
    struct nn_shape s;
    rc = reduce_axes(m, n, in, red, &s, err);
    if (rc) return rc;
    nn_set_out(&out[0], NN_DT_F32, &s);
    return PXS_OK;
}

static int exec_reduce(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                       struct nn_tensor *out) {
    int red[NN_MAX_DIMS];
    struct nn_shape s;
    int rc = reduce_axes(ex->m, n, in, red, &s, ex->err);
    if (rc) return rc;
    int kind = !strcmp(n->op_type, "ReduceMax") ? 2 : (!strcmp(n->op_type, "ReduceSum") ? 1 : 0);
    int rank = in[0].shape.ndim;
    /* output stride of each input dim (0 when reduced) */
    int64_t ost[NN_MAX_DIMS], k = 1, idx[NN_MAX_DIMS] = {0};
    for (int i = rank - 1; i >= 0; i--) {
        ost[i] = red[i] ? 0 : k;
        if (!red[i]) k *= in[0].shape.d[i];
    }
    float *y = out[0].data;
    const float *x = in[0].data;
    for (size_t i = 0; i < out[0].numel; i++) y[i] = kind == 2 ? -INFINITY : 0.f;
    size_t cnt = out[0].numel ? in[0].numel / out[0].numel : 0;
    int64_t o = 0;
    for (size_t i = 0; i < in[0].numel; i++) {
        if (kind == 2) y[o] = x[i] > y[o] ? x[i] : y[o];
        else y[o] += x[i];
        for (int d = rank - 1; d >= 0; d--) {
            idx[d]++;
            o += ost[d];
            if (idx[d] < in[0].shape.d[d]) break;
            o -= ost[d] * in[0].shape.d[d];
            idx[d] = 0;
        }
    }
    if (kind == 0 && cnt)
        for (size_t i = 0; i < out[0].numel; i++) y[i] /= (float)cnt;
    return PXS_OK;
}

const struct nn_op nn_pool_ops[] = {
    {"MaxPool", infer_pool, exec_pool, NULL, NULL, 0},
    {"AveragePool", infer_pool, exec_pool, NULL, NULL, 0},
    {"GlobalAveragePool", infer_global, exec_global, NULL, NULL, 0},
    {"GlobalMaxPool", infer_global, exec_global, NULL, NULL, 0},
    {"ReduceMean", infer_reduce, exec_reduce, NULL, NULL, 0},
    {"ReduceSum", infer_reduce, exec_reduce, NULL, NULL, 0},
    {"ReduceMax", infer_reduce, exec_reduce, NULL, NULL, 0},
};
const size_t nn_pool_ops_count = sizeof nn_pool_ops / sizeof nn_pool_ops[0];
