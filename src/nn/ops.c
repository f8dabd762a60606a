/*
 * ops.c — the operator table and the element-wise, broadcasting and
 * shape-manipulating operators (float32 NCHW; int64 for shape arithmetic,
 * which is always evaluated while planning).
 *
 * Each operator has an infer function (output dtype and shape from the
 * inputs; inputs known at plan time carry data) and an exec function. Infer
 * validates everything exec relies on, so exec never fails on float data;
 * int64 arithmetic (plan time only) reports division by zero and
 * out-of-range indices. Broadcasting follows numpy/ONNX multidirectional
 * rules; the iteration coalesces dimensions so per-channel and scalar
 * operands run in a contiguous inner loop.
 */
#include <math.h>
#include <string.h>

#include "nn/ops_int.h"

size_t nn_dtype_size(int dtype) { return dtype == NN_DT_I64 ? 8 : 4; }

int nn_shape_numel(const struct nn_shape *s, size_t *out) {
    size_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->d[i] < 0) return -1;
        if (pxs_size_mul(n, (size_t)s->d[i], &n) != 0) return -1;
    }
    if (n > ((size_t)1 << 40)) return -1;
    *out = n;
    return 0;
}

void nn_shape_fmt(const struct nn_shape *s, char *buf, size_t cap) {
    size_t k = 0;
    if (cap == 0) return;
    buf[0] = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < s->ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%lld", i ? "," : "", (long long)s->d[i]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

int nn_node_err(struct pxs_err *err, int code, const struct nn_node *n, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pxs_errf(err, code, "%s node '%s': %s", n->op_type, n->name, msg);
}

int nn_set_out(struct nn_tensor *o, int dtype, const struct nn_shape *s) {
    o->dtype = dtype;
    o->shape = *s;
    return nn_shape_numel(s, &o->numel);
}

int nn_norm_axis(int64_t axis, int rank, int *out) {
    if (axis < -rank || axis >= rank) return -1;
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

int nn_extra_outputs_used(const struct pxs_nn_model *m, const struct nn_node *n, int first) {
    for (int i = first; i < n->n_out; i++) {
        int v = n->out[i];
        if (v >= 0 && (m->values[v].n_consumers > 0 || m->values[v].is_output)) return 1;
    }
    return 0;
}

static int need_inputs(const struct nn_node *n, const struct nn_tensor *in, int lo, int hi,
                       struct pxs_err *err) {
    if (n->n_in < lo || n->n_in > hi)
        return nn_node_err(err, PXS_ECORRUPT, n, "expects %d..%d inputs, has %d", lo, hi, n->n_in);
    for (int i = 0; i < lo; i++)
        if (!in[i].dtype) return nn_node_err(err, PXS_ECORRUPT, n, "input %d is missing", i);
    if (n->n_out < 1 || n->out[0] < 0) return nn_node_err(err, PXS_ECORRUPT, n, "has no output");
    return PXS_OK;
}
int nn_need_inputs(const struct nn_node *n, const struct nn_tensor *in, int lo, int hi, struct pxs_err *err) {
    return need_inputs(n, in, lo, hi, err);
}

/* Read a plan-time int64 (or float) 1-D tensor into a small array. */
int nn_const_ints(const struct nn_node *n, const struct nn_tensor *t, int64_t *out, int max, int *count,
                  struct pxs_err *err) {
    if (!t->data) return nn_node_err(err, PXS_EUNSUPPORTED, n, "a shape/axes input must be constant");
    if (t->numel > (size_t)max) return nn_node_err(err, PXS_EUNSUPPORTED, n, "too many values in a shape input");
    for (size_t i = 0; i < t->numel; i++) {
        if (t->dtype == NN_DT_I64) {
            out[i] = ((const int64_t *)t->data)[i];
            continue;
        }
        float f = ((const float *)t->data)[i];
        if (!(f > -9.2e18f && f < 9.2e18f)) return nn_node_err(err, PXS_ECORRUPT, n, "shape value out of range");
        out[i] = (int64_t)f;
    }
    *count = (int)t->numel;
    return PXS_OK;
}

/* ---- unary ------------------------------------------------------------- */

static int infer_same(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                      struct nn_tensor *out, struct pxs_err *err) {
    int rc = need_inputs(n, in, 1, n->n_in > 0 ? n->n_in : 1, err);
    if (rc) return rc;
    if (nn_extra_outputs_used(m, n, 1)) return nn_node_err(err, PXS_EUNSUPPORTED, n, "extra outputs are not supported");
    nn_set_out(&out[0], in[0].dtype, &in[0].shape);
    return PXS_OK;
}

static int infer_unary_f(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                         struct nn_tensor *out, struct pxs_err *err) {
    int rc = need_inputs(n, in, 1, 1, err);
    if (rc) return rc;
    (void)m;
    if (in[0].dtype != NN_DT_F32) return nn_node_err(err, PXS_EUNSUPPORTED, n, "only float input is supported");
    nn_set_out(&out[0], NN_DT_F32, &in[0].shape);
    return PXS_OK;
}

static int exec_copy(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                     struct nn_tensor *out) {
    (void)ex;
    (void)n;
    if (out[0].data != in[0].data) memmove(out[0].data, in[0].data, in[0].numel * nn_dtype_size(in[0].dtype));
    return PXS_OK;
}

/* Element-wise maps run in chunks of 32k floats over the pool. */
struct map_ctx {
    const float *x;
    float *y;
    size_t n, chunk;
    float p0, p1; /* alpha/beta or lo/hi */
    void (*fn)(const float *x, float *y, size_t n, float p0, float p1);
};

static void map_task(void *vctx, size_t t, int tid) {
    (void)tid;
    const struct map_ctx *c = vctx;
    size_t i0 = t * c->chunk, i1 = i0 + c->chunk < c->n ? i0 + c->chunk : c->n;
    c->fn(c->x + i0, c->y + i0, i1 - i0, c->p0, c->p1);
}

static int map_run(struct nn_exec *ex, const struct nn_tensor *in, struct nn_tensor *out,
                   void (*fn)(const float *, float *, size_t, float, float), float p0, float p1) {
    struct map_ctx c = {in[0].data, out[0].data, in[0].numel, 32768, p0, p1, fn};
    nn_pool_run(ex->pool, (c.n + c.chunk - 1) / c.chunk, map_task, &c);
    return PXS_OK;
}

#define UNARY_OP(fname, expr)                                                                  \
    static void fname##_map(const float *x, float *y, size_t cnt, float alpha, float beta) {   \
        (void)alpha;                                                                           \
        (void)beta;                                                                            \
        for (size_t i = 0; i < cnt; i++) {                                                     \
            float v = x[i];                                                                    \
            y[i] = (expr);                                                                     \
        }                                                                                      \
    }                                                                                          \
    static int fname(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,  \
                     struct nn_tensor *out) {                                                  \
        return map_run(ex, in, out, fname##_map, nn_attr_float(n, "alpha", DEF_ALPHA),         \
                       nn_attr_float(n, "beta", DEF_BETA));                                    \
    }

#define DEF_ALPHA 0.f
#define DEF_BETA 0.f
UNARY_OP(exec_relu, v > 0.f ? v : 0.f)
UNARY_OP(exec_sigmoid, 1.f / (1.f + expf(-v)))
UNARY_OP(exec_tanh, tanhf(v))
UNARY_OP(exec_hardswish, v * fminf(fmaxf(v / 6.f + 0.5f, 0.f), 1.f))
UNARY_OP(exec_exp, expf(v))
UNARY_OP(exec_neg, -v)
UNARY_OP(exec_sqrt, sqrtf(v))
UNARY_OP(exec_erf, erff(v))
#undef DEF_ALPHA
#define DEF_ALPHA 0.01f
UNARY_OP(exec_leakyrelu, v >= 0.f ? v : v * alpha)
#undef DEF_ALPHA
#undef DEF_BETA
#define DEF_ALPHA 0.2f
#define DEF_BETA 0.5f
UNARY_OP(exec_hardsigmoid, fminf(fmaxf(alpha * v + beta, 0.f), 1.f))
#undef DEF_ALPHA
#undef DEF_BETA

static void clip_map(const float *x, float *y, size_t cnt, float lo, float hi) {
    for (size_t i = 0; i < cnt; i++) {
        float v = x[i];
        v = v < lo ? lo : v;
        y[i] = v > hi ? hi : v;
    }
}

/* Clip bounds: attributes before opset 11, optional constant inputs after. */
int nn_clip_bounds(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                   float *lo, float *hi, struct pxs_err *err) {
    *lo = -INFINITY;
    *hi = INFINITY;
    if (m->opset < 11) {
        *lo = nn_attr_float(n, "min", -INFINITY);
        *hi = nn_attr_float(n, "max", INFINITY);
        return PXS_OK;
    }
    for (int i = 1; i < n->n_in && i < 3; i++) {
        if (!in[i].dtype) continue;
        if (!in[i].data || in[i].numel != 1)
            return nn_node_err(err, PXS_EUNSUPPORTED, n, "min/max must be constant scalars");
        float v = in[i].dtype == NN_DT_F32 ? ((const float *)in[i].data)[0]
                                           : (float)((const int64_t *)in[i].data)[0];
        if (i == 1) *lo = v;
        else *hi = v;
    }
    return PXS_OK;
}

static int infer_clip(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                      struct nn_tensor *out, struct pxs_err *err) {
    int rc = need_inputs(n, in, 1, 3, err);
    if (rc) return rc;
    if (in[0].dtype != NN_DT_F32) return nn_node_err(err, PXS_EUNSUPPORTED, n, "only float input is supported");
    float lo, hi;
    rc = nn_clip_bounds(m, n, in, &lo, &hi, err);
    if (rc) return rc;
    nn_set_out(&out[0], NN_DT_F32, &in[0].shape);
    return PXS_OK;
}

static int exec_clip(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                     struct nn_tensor *out) {
    float lo, hi;
    int rc = nn_clip_bounds(ex->m, n, in, &lo, &hi, ex->err);
    if (rc) return rc;
    return map_run(ex, in, out, clip_map, lo, hi);
}

/* ---- binary with broadcasting --------------------------------------------- */

int nn_broadcast_shape(const struct nn_shape *a, const struct nn_shape *b, struct nn_shape *o) {
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    o->ndim = nd;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        if (da == db || db == 1) o->d[i] = da;
        else if (da == 1) o->d[i] = db;
        else return -1;
    }
    return 0;
}

/* Coalesced broadcast iteration: dims (outer to inner) with per-operand strides. */
struct bcast {
    int nd;
    int64_t d[NN_MAX_DIMS];
    int64_t sa[NN_MAX_DIMS], sb[NN_MAX_DIMS];
};

static void bcast_init(struct bcast *bc, const struct nn_shape *o, const struct nn_shape *a,
                       const struct nn_shape *b) {
    int64_t d[NN_MAX_DIMS], sa[NN_MAX_DIMS], sb[NN_MAX_DIMS];
    int nd = o->ndim;
    int64_t ka = 1, kb = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->d[ia] : 1, db = ib >= 0 ? b->d[ib] : 1;
        d[i] = o->d[i];
        sa[i] = da == 1 ? 0 : ka;
        sb[i] = db == 1 ? 0 : kb;
        ka *= da;
        kb *= db;
    }
    /* drop size-1 dims, then merge adjacent dims with compatible strides */
    bc->nd = 0;
    for (int i = 0; i < nd; i++) {
        if (d[i] == 1) continue;
        if (bc->nd > 0) {
            int j = bc->nd - 1;
            if (bc->sa[j] == sa[i] * d[i] && bc->sb[j] == sb[i] * d[i]) {
                bc->d[j] *= d[i];
                bc->sa[j] = sa[i];
                bc->sb[j] = sb[i];
                continue;
            }
        }
        bc->d[bc->nd] = d[i];
        bc->sa[bc->nd] = sa[i];
        bc->sb[bc->nd] = sb[i];
        bc->nd++;
    }
    if (bc->nd == 0) {
        bc->nd = 1;
        bc->d[0] = 1;
        bc->sa[0] = bc->sb[0] = 0;
    }
}

enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_POW, BIN_MAX, BIN_MIN };

static int bin_kind(const char *op) {
    if (!strcmp(op, "Add")) return BIN_ADD;
    if (!strcmp(op, "Sub")) return BIN_SUB;
    if (!strcmp(op, "Mul")) return BIN_MUL;
    if (!strcmp(op, "Div")) return BIN_DIV;
    if (!strcmp(op, "Pow")) return BIN_POW;
    if (!strcmp(op, "Max")) return BIN_MAX;
    return BIN_MIN;
}

static int infer_binary(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                        struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    int rc = need_inputs(n, in, 2, 2, err);
    if (rc) return rc;
    if (in[0].dtype != in[1].dtype) return nn_node_err(err, PXS_EUNSUPPORTED, n, "mixed input types");
    struct nn_shape o;
    if (nn_broadcast_shape(&in[0].shape, &in[1].shape, &o) != 0) {
        char sa[96], sb[96];
        nn_shape_fmt(&in[0].shape, sa, sizeof sa);
        nn_shape_fmt(&in[1].shape, sb, sizeof sb);
        return nn_node_err(err, PXS_ECORRUPT, n, "shapes %s and %s do not broadcast", sa, sb);
    }
    if (in[0].dtype == NN_DT_I64 && (bin_kind(n->op_type) == BIN_POW || n->act))
        return nn_node_err(err, PXS_EUNSUPPORTED, n, "integer Pow or Clip");
    nn_set_out(&out[0], in[0].dtype, &o);
    return PXS_OK;
}

static inline float bin_f(int k, float a, float b) {
    switch (k) {
    case BIN_ADD: return a + b;
    case BIN_SUB: return a - b;
    case BIN_MUL: return a * b;
    case BIN_DIV: return a / b;
    case BIN_POW: return powf(a, b);
    case BIN_MAX: return a > b ? a : b;
    default: return a < b ? a : b;
    }
}

static int bin_i(int k, int64_t a, int64_t b, int64_t *r) {
    switch (k) {
    case BIN_ADD: *r = (int64_t)((uint64_t)a + (uint64_t)b); return 0;
    case BIN_SUB: *r = (int64_t)((uint64_t)a - (uint64_t)b); return 0;
    case BIN_MUL: *r = (int64_t)((uint64_t)a * (uint64_t)b); return 0;
    case BIN_DIV:
        if (b == 0 || (a == INT64_MIN && b == -1)) return -1;
        /* ONNX integer Div truncates like C */
        *r = a / b;
        return 0;
    case BIN_MAX: *r = a > b ? a : b; return 0;
    case BIN_MIN: *r = a < b ? a : b; return 0;
    default: return -1;
    }
}

/* Inner loop over the last coalesced dim, specialised by operator and strides
 * so the common cases vectorise. */
#define BIN_INNER(OPEXPR)                                                         \
    do {                                                                          \
        if (sa == 1 && sb == 1)                                                   \
            for (int64_t j = 0; j < len; j++) { float x = pa[j], y = pb[j]; po[j] = (OPEXPR); } \
        else if (sa == 1 && sb == 0) {                                            \
            float y = pb[0];                                                      \
            for (int64_t j = 0; j < len; j++) { float x = pa[j]; po[j] = (OPEXPR); } \
        } else if (sa == 0 && sb == 1) {                                          \
            float x = pa[0];                                                      \
            for (int64_t j = 0; j < len; j++) { float y = pb[j]; po[j] = (OPEXPR); } \
        } else                                                                    \
            for (int64_t j = 0; j < len; j++) { float x = pa[j * sa], y = pb[j * sb]; po[j] = (OPEXPR); } \
    } while (0)

/* Same-shape Add (residual connections): unrolled by 8 so that GCC's -O2
 * (SLP) vectorises it. Outputs never alias inputs (the memory planner gives
 * a step's outputs blocks distinct from its live inputs). */
static void add_same(const float *restrict a, const float *restrict b, float *restrict o, int64_t n) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        o[j] = a[j] + b[j];
        o[j + 1] = a[j + 1] + b[j + 1];
        o[j + 2] = a[j + 2] + b[j + 2];
        o[j + 3] = a[j + 3] + b[j + 3];
        o[j + 4] = a[j + 4] + b[j + 4];
        o[j + 5] = a[j + 5] + b[j + 5];
        o[j + 6] = a[j + 6] + b[j + 6];
        o[j + 7] = a[j + 7] + b[j + 7];
    }
    for (; j < n; j++) o[j] = a[j] + b[j];
}

static void bin_row_f(int k, const float *pa, const float *pb, float *po, int64_t len, int64_t sa,
                      int64_t sb) {
    if (k == BIN_ADD && sa == 1 && sb == 1) {
        add_same(pa, pb, po, len);
        return;
    }
    switch (k) {
    case BIN_ADD: BIN_INNER(x + y); break;
    case BIN_SUB: BIN_INNER(x - y); break;
    case BIN_MUL: BIN_INNER(x * y); break;
    case BIN_DIV: BIN_INNER(x / y); break;
    default: BIN_INNER(bin_f(k, x, y)); break;
    }
}

struct bin_ctx {
    const struct nn_tensor *in;
    struct nn_tensor *out;
    const struct bcast *bc;
    int k, act;
    float lo, hi;
    size_t rows, per_task;
};

/* Rows [r0, r1) of the coalesced iteration (float only). */
static void bin_rows(void *vctx, size_t t, int tid) {
    (void)tid;
    const struct bin_ctx *c = vctx;
    const struct bcast *bc = c->bc;
    int last = bc->nd - 1;
    int64_t len = bc->d[last], sa = bc->sa[last], sb = bc->sb[last];
    size_t r0 = t * c->per_task, r1 = r0 + c->per_task < c->rows ? r0 + c->per_task : c->rows;
    /* multi-index of row r0 over the outer dims */
    int64_t idx[NN_MAX_DIMS] = {0}, oa = 0, ob = 0;
    size_t r = r0;
    for (int i = last - 1; i >= 0; i--) {
        idx[i] = (int64_t)(r % (size_t)bc->d[i]);
        r /= (size_t)bc->d[i];
        oa += idx[i] * bc->sa[i];
        ob += idx[i] * bc->sb[i];
    }
    for (r = r0; r < r1; r++) {
        float *po = (float *)c->out[0].data + r * (size_t)len;
        bin_row_f(c->k, (const float *)c->in[0].data + oa, (const float *)c->in[1].data + ob, po, len, sa, sb);
        if (c->act)
            for (int64_t j = 0; j < len; j++) {
                float v = po[j] < c->lo ? c->lo : po[j];
                po[j] = v > c->hi ? c->hi : v;
            }
        for (int i = last - 1; i >= 0; i--) {
            idx[i]++;
            oa += bc->sa[i];
            ob += bc->sb[i];
            if (idx[i] < bc->d[i]) break;
            oa -= bc->sa[i] * bc->d[i];
            ob -= bc->sb[i] * bc->d[i];
            idx[i] = 0;
        }
    }
}

/* Tasks of at least ~32k elements each, so small tensors stay inline. */
static size_t rows_per_task(size_t rows, size_t row_len) {
    size_t want = (32768 + row_len - 1) / (row_len ? row_len : 1);
    return want < 1 ? 1 : (want > rows ? rows : want);
}

static int exec_binary(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                       struct nn_tensor *out) {
    int k = bin_kind(n->op_type);
    struct bcast bc;
    bcast_init(&bc, &out[0].shape, &in[0].shape, &in[1].shape);
    int last = bc.nd - 1;
    int64_t len = bc.d[last], sa = bc.sa[last], sb = bc.sb[last];
    if (out[0].numel == 0) return PXS_OK;
    size_t rows = out[0].numel / (size_t)(len ? len : 1);
    if (in[0].dtype == NN_DT_F32) {
        struct bin_ctx c = {in, out, &bc, k, n->act, n->act_lo, n->act_hi, rows, 0};
        c.per_task = rows_per_task(rows, (size_t)len);
        nn_pool_run(ex->pool, (rows + c.per_task - 1) / c.per_task, bin_rows, &c);
        return PXS_OK;
    }
    int64_t idx[NN_MAX_DIMS] = {0};
    int64_t oa = 0, ob = 0;
    for (size_t r = 0; r < rows; r++) {
        const int64_t *pa = (const int64_t *)in[0].data + oa, *pb = (const int64_t *)in[1].data + ob;
        int64_t *po = (int64_t *)out[0].data + r * (size_t)len;
        for (int64_t j = 0; j < len; j++)
            if (bin_i(k, pa[j * sa], pb[j * sb], &po[j]) != 0)
                return nn_node_err(ex->err, PXS_EINVAL, n, "integer division by zero or overflow");
        for (int i = last - 1; i >= 0; i--) {
            idx[i]++;
            oa += bc.sa[i];
            ob += bc.sb[i];
            if (idx[i] < bc.d[i]) break;
            oa -= bc.sa[i] * bc.d[i];
            ob -= bc.sb[i] * bc.d[i];
            idx[i] = 0;
        }
    }
    return PXS_OK;
}

/* ---- BatchNormalization (inference) -------------------------------------- */

static int infer_bn(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                    struct nn_tensor *out, struct pxs_err *err) {
    int rc = need_inputs(n, in, 5, 5, err);
    if (rc) return rc;
    if (nn_extra_outputs_used(m, n, 1)) return nn_node_err(err, PXS_EUNSUPPORTED, n, "training mode outputs");
    if (in[0].dtype != NN_DT_F32 || in[0].shape.ndim < 2)
        return nn_node_err(err, PXS_EUNSUPPORTED, n, "input must be float with rank >= 2");
    int64_t c = in[0].shape.d[1];
    for (int i = 1; i < 5; i++)
        if (in[i].dtype != NN_DT_F32 || in[i].numel != (size_t)c || !in[i].data)
            return nn_node_err(err, PXS_EUNSUPPORTED, n, "parameters must be constant [C] floats");
    nn_set_out(&out[0], NN_DT_F32, &in[0].shape);
    return PXS_OK;
}

static int exec_bn(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                   struct nn_tensor *out) {
    (void)ex;
    float eps = nn_attr_float(n, "epsilon", 1e-5f);
    const float *s = in[1].data, *b = in[2].data, *mean = in[3].data, *var = in[4].data;
    size_t N = (size_t)in[0].shape.d[0], C = (size_t)in[0].shape.d[1];
    size_t inner = (N && C) ? in[0].numel / N / C : 0;
    const float *x = in[0].data;
    float *y = out[0].data;
    for (size_t i = 0; i < N; i++)
        for (size_t c = 0; c < C; c++) {
            float a = s[c] / sqrtf(var[c] + eps), bb = b[c] - mean[c] * a;
            const float *xp = x + (i * C + c) * inner;
            float *yp = y + (i * C + c) * inner;
            for (size_t j = 0; j < inner; j++) yp[j] = xp[j] * a + bb;
        }
    return PXS_OK;
}

/* ---- Softmax ---------------------------------------------------------------- */

static int softmax_split(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_shape *s,
                         size_t *outer, size_t *len, size_t *inner) {
    int rank = s->ndim, axis;
    int64_t def = m->opset >= 13 ? -1 : 1;
    if (nn_norm_axis(nn_attr_int(n, "axis", def), rank, &axis) != 0) return -1;
    size_t o = 1, l = 1, in = 1;
    for (int i = 0; i < rank; i++) {
        if (i < axis) o *= (size_t)s->d[i];
        else if (m->opset >= 13 && i > axis) in *= (size_t)s->d[i];
        else l *= (size_t)s->d[i];
    }
    *outer = o;
    *len = l;
    *inner = in;
    return 0;
}

static int infer_softmax(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                         struct nn_tensor *out, struct pxs_err *err) {
    int rc = infer_unary_f(m, n, in, out, err);
    if (rc) return rc;
    size_t a, b, c;
    if (softmax_split(m, n, &in[0].shape, &a, &b, &c) != 0)
        return nn_node_err(err, PXS_ECORRUPT, n, "axis out of range");
    return PXS_OK;
}

static int exec_softmax(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                        struct nn_tensor *out) {
    size_t outer, len, inner;
    softmax_split(ex->m, n, &in[0].shape, &outer, &len, &inner);
    int logsm = !strcmp(n->op_type, "LogSoftmax");
    const float *x = in[0].data;
    float *y = out[0].data;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            const float *xp = x + o * len * inner + i;
            float *yp = y + o * len * inner + i;
            float mx = -INFINITY;
            for (size_t j = 0; j < len; j++) mx = xp[j * inner] > mx ? xp[j * inner] : mx;
            double sum = 0;
            for (size_t j = 0; j < len; j++) {
                float e = expf(xp[j * inner] - mx);
                yp[j * inner] = e;
                sum += e;
            }
            if (logsm) {
                float ls = (float)log(sum);
                for (size_t j = 0; j < len; j++) yp[j * inner] = xp[j * inner] - mx - ls;
            } else {
                float inv = (float)(1.0 / sum);
                for (size_t j = 0; j < len; j++) yp[j * inner] *= inv;
            }
        }
    return PXS_OK;
}

/* ---- shape operators --------------------------------------------------------- */

static int infer_flatten(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                         struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    int rc = need_inputs(n, in, 1, 1, err);
    if (rc) return rc;
    int rank = in[0].shape.ndim, axis;
    int64_t a = nn_attr_int(n, "axis", 1);
    if (a < -rank || a > rank) return nn_node_err(err, PXS_ECORRUPT, n, "axis out of range");
    axis = (int)(a < 0 ? a + rank : a);
    struct nn_shape s = {2, {1, 1}};
    for (int i = 0; i < rank; i++) s.d[i < axis ? 0 : 1] *= in[0].shape.d[i];
    nn_set_out(&out[0], in[0].dtype, &s);
    return PXS_OK;
}

static int infer_reshape(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                         struct nn_tensor *out, struct pxs_err *err) {
    int rc;
    int64_t want[NN_MAX_DIMS];
    int cnt = 0;
    if (m->opset < 5 || (n->n_in == 1 && nn_attr_get(n, "shape"))) {
        rc = need_inputs(n, in, 1, 1, err);
        if (rc) return rc;
        const int64_t *sh;
        size_t k = nn_attr_ints(n, "shape", &sh);
        if (k > NN_MAX_DIMS) return nn_node_err(err, PXS_EUNSUPPORTED, n, "too many dims");
        for (size_t i = 0; i < k; i++) want[i] = sh[i];
        cnt = (int)k;
    } else {
        rc = need_inputs(n, in, 2, 2, err);
        if (rc) return rc;
        rc = nn_const_ints(n, &in[1], want, NN_MAX_DIMS, &cnt, err);
        if (rc) return rc;
    }
    int allowzero = (int)nn_attr_int(n, "allowzero", 0);
    struct nn_shape s;
    s.ndim = cnt;
    int neg = -1;
    size_t known = 1;
    for (int i = 0; i < cnt; i++) {
        int64_t d = want[i];
        if (d == 0 && !allowzero) {
            if (i >= in[0].shape.ndim) return nn_node_err(err, PXS_ECORRUPT, n, "0 dim out of range");
            d = in[0].shape.d[i];
        }
        if (d == -1) {
            if (neg >= 0) return nn_node_err(err, PXS_ECORRUPT, n, "more than one -1");
            neg = i;
            d = 1;
        } else if (d < 0) {
            return nn_node_err(err, PXS_ECORRUPT, n, "negative dim");
        }
        s.d[i] = d;
        if (pxs_size_mul(known, (size_t)d, &known) != 0) return nn_node_err(err, PXS_ELIMIT, n, "too large");
    }
    if (neg >= 0) {
        if (known == 0 || in[0].numel % known != 0)
            return nn_node_err(err, PXS_ECORRUPT, n, "cannot infer -1 dim");
        s.d[neg] = (int64_t)(in[0].numel / known);
        known *= (size_t)s.d[neg];
    }
    if (known != in[0].numel) {
        char a[96], b[96];
        nn_shape_fmt(&in[0].shape, a, sizeof a);
        nn_shape_fmt(&s, b, sizeof b);
        return nn_node_err(err, PXS_ECORRUPT, n, "cannot reshape %s to %s", a, b);
    }
    nn_set_out(&out[0], in[0].dtype, &s);
    return PXS_OK;
}

/* axes from attribute (old opsets) or the second input */
static int get_axes(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                    int input_from_opset, int64_t *axes, int *cnt, struct pxs_err *err) {
    *cnt = 0;
    if (m->opset < input_from_opset) {
        const int64_t *a;
        size_t k = nn_attr_ints(n, "axes", &a);
        if (k > NN_MAX_DIMS) return nn_node_err(err, PXS_EUNSUPPORTED, n, "too many axes");
        for (size_t i = 0; i < k; i++) axes[i] = a[i];
        *cnt = (int)k;
        return PXS_OK;
    }
    if (n->n_in >= 2 && in[1].dtype) return nn_const_ints(n, &in[1], axes, NN_MAX_DIMS, cnt, err);
    return PXS_OK;
}

static int infer_squeeze(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                         struct nn_tensor *out, struct pxs_err *err) {
    int rc = need_inputs(n, in, 1, 2, err);
    if (rc) return rc;
    int64_t axes[NN_MAX_DIMS];
    int cnt;
    rc = get_axes(m, n, in, 13, axes, &cnt, err);
    if (rc) return rc;
    int rank = in[0].shape.ndim, drop[NN_MAX_DIMS] = {0};
    for (int i = 0; i < cnt; i++) {
        int a;
        if (nn_norm_axis(axes[i], rank, &a) != 0 || in[0].shape.d[a] != 1)
            return nn_node_err(err, PXS_ECORRUPT, n, "bad squeeze axis");
        drop[a] = 1;
    }
    struct nn_shape s = {0, {0}};
    for (int i = 0; i < rank; i++) {
        if (cnt == 0 && in[0].shape.d[i] == 1) continue;
        if (drop[i]) continue;
        s.d[s.ndim++] = in[0].shape.d[i];
    }
    nn_set_out(&out[0], in[0].dtype, &s);
    return PXS_OK;
}

static int infer_unsqueeze(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                           struct nn_tensor *out, struct pxs_err *err) {
    int rc = need_inputs(n, in, 1, 2, err);
    if (rc) return rc;
    int64_t axes[NN_MAX_DIMS];
    int cnt;
    rc = get_axes(m, n, in, 13, axes, &cnt, err);
    if (rc) return rc;
    int rank = in[0].shape.ndim + cnt;
    if (cnt == 0 || rank > NN_MAX_DIMS) return nn_node_err(err, PXS_EUNSUPPORTED, n, "bad axes");
    int ins[NN_MAX_DIMS] = {0};
    for (int i = 0; i < cnt; i++) {
        int a;
        if (nn_norm_axis(axes[i], rank, &a) != 0 || ins[a]) return nn_node_err(err, PXS_ECORRUPT, n, "bad axis");
        ins[a] = 1;
    }
    struct nn_shape s = {rank, {0}};
    for (int i = 0, k = 0; i < rank; i++) s.d[i] = ins[i] ? 1 : in[0].shape.d[k++];
    nn_set_out(&out[0], in[0].dtype, &s);
    return PXS_OK;
}

static int infer_concat(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                        struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    int rc = need_inputs(n, in, 1, n->n_in, err);
    if (rc) return rc;
    int rank = in[0].shape.ndim, axis;
    if (nn_norm_axis(nn_attr_int(n, "axis", 1), rank, &axis) != 0)
        return nn_node_err(err, PXS_ECORRUPT, n, "axis out of range");
    struct nn_shape s = in[0].shape;
    s.d[axis] = 0;
    for (int i = 0; i < n->n_in; i++) {
        if (!in[i].dtype) return nn_node_err(err, PXS_ECORRUPT, n, "missing input");
        if (in[i].dtype != in[0].dtype || in[i].shape.ndim != rank)
            return nn_node_err(err, PXS_ECORRUPT, n, "inputs differ in type or rank");
        for (int j = 0; j < rank; j++)
            if (j != axis && in[i].shape.d[j] != in[0].shape.d[j])
                return nn_node_err(err, PXS_ECORRUPT, n, "input shapes differ off the axis");
        s.d[axis] += in[i].shape.d[axis];
    }
    if (nn_set_out(&out[0], in[0].dtype, &s) != 0) return nn_node_err(err, PXS_ELIMIT, n, "too large");
    return PXS_OK;
}

static int exec_concat(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                       struct nn_tensor *out) {
    int rank = in[0].shape.ndim, axis = 0;
    nn_norm_axis(nn_attr_int(n, "axis", 1), rank, &axis);
    size_t es = nn_dtype_size(out[0].dtype), outer = 1, inner = es;
    for (int i = 0; i < axis; i++) outer *= (size_t)out[0].shape.d[i];
    for (int i = axis + 1; i < rank; i++) inner *= (size_t)out[0].shape.d[i];
    size_t orow = (size_t)out[0].shape.d[axis] * inner, off = 0;
    (void)ex;
    for (int k = 0; k < n->n_in; k++) {
        size_t row = (size_t)in[k].shape.d[axis] * inner;
        for (size_t o = 0; o < outer; o++)
            memcpy((char *)out[0].data + o * orow + off, (const char *)in[k].data + o * row, row);
        off += row;
    }
    return PXS_OK;
}

static int get_perm(const struct nn_node *n, int rank, int *perm, struct pxs_err *err) {
    const int64_t *p;
    size_t k = nn_attr_ints(n, "perm", &p);
    if (k == 0) {
        for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
        return PXS_OK;
    }
    if (k != (size_t)rank) return nn_node_err(err, PXS_ECORRUPT, n, "perm length differs from rank");
    int seen[NN_MAX_DIMS] = {0};
    for (int i = 0; i < rank; i++) {
        if (p[i] < 0 || p[i] >= rank || seen[p[i]]) return nn_node_err(err, PXS_ECORRUPT, n, "bad perm");
        seen[p[i]] = 1;
        perm[i] = (int)p[i];
    }
    return PXS_OK;
}

static int infer_transpose(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                           struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    int rc = need_inputs(n, in, 1, 1, err);
    if (rc) return rc;
    int perm[NN_MAX_DIMS], rank = in[0].shape.ndim;
    rc = get_perm(n, rank, perm, err);
    if (rc) return rc;
    struct nn_shape s = {rank, {0}};
    for (int i = 0; i < rank; i++) s.d[i] = in[0].shape.d[perm[i]];
    nn_set_out(&out[0], in[0].dtype, &s);
    return PXS_OK;
}

static int exec_transpose(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                          struct nn_tensor *out) {
    int perm[NN_MAX_DIMS], rank = in[0].shape.ndim;
    get_perm(n, rank, perm, ex->err);
    size_t es = nn_dtype_size(in[0].dtype);
    int64_t istride[NN_MAX_DIMS], st[NN_MAX_DIMS], idx[NN_MAX_DIMS] = {0};
    int64_t k = 1;
    for (int i = rank - 1; i >= 0; i--) {
        istride[i] = k;
        k *= in[0].shape.d[i];
    }
    for (int i = 0; i < rank; i++) st[i] = istride[perm[i]];
    if (out[0].numel == 0) return PXS_OK;
    int64_t src = 0;
    const char *x = in[0].data;
    char *y = out[0].data;
    for (size_t o = 0; o < out[0].numel; o++) {
        memcpy(y + o * es, x + (size_t)src * es, es);
        for (int i = rank - 1; i >= 0; i--) {
            idx[i]++;
            src += st[i];
            if (idx[i] < out[0].shape.d[i]) break;
            src -= st[i] * out[0].shape.d[i];
            idx[i] = 0;
        }
    }
    return PXS_OK;
}

static int infer_shape(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                       struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    int rc = need_inputs(n, in, 1, 1, err);
    if (rc) return rc;
    int rank = in[0].shape.ndim;
    int64_t s0 = nn_attr_int(n, "start", 0), e0 = nn_attr_int(n, "end", rank);
    if (s0 < 0) s0 += rank;
    if (e0 < 0) e0 += rank;
    s0 = s0 < 0 ? 0 : (s0 > rank ? rank : s0);
    e0 = e0 < 0 ? 0 : (e0 > rank ? rank : e0);
    struct nn_shape s = {1, {e0 > s0 ? e0 - s0 : 0}};
    nn_set_out(&out[0], NN_DT_I64, &s);
    return PXS_OK;
}

static int exec_shape(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                      struct nn_tensor *out) {
    (void)ex;
    int rank = in[0].shape.ndim;
    int64_t s0 = nn_attr_int(n, "start", 0);
    if (s0 < 0) s0 += rank;
    s0 = s0 < 0 ? 0 : (s0 > rank ? rank : s0);
    int64_t *y = out[0].data;
    for (size_t i = 0; i < out[0].numel; i++) y[i] = in[0].shape.d[s0 + (int64_t)i];
    return PXS_OK;
}

static int infer_gather(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                        struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    int rc = need_inputs(n, in, 2, 2, err);
    if (rc) return rc;
    int rank = in[0].shape.ndim, axis;
    if (rank < 1 || nn_norm_axis(nn_attr_int(n, "axis", 0), rank, &axis) != 0)
        return nn_node_err(err, PXS_ECORRUPT, n, "axis out of range");
    if (in[1].dtype != NN_DT_I64) return nn_node_err(err, PXS_EUNSUPPORTED, n, "indices must be integers");
    if (!in[1].data) return nn_node_err(err, PXS_EUNSUPPORTED, n, "indices must be constant");
    int64_t dim = in[0].shape.d[axis];
    for (size_t i = 0; i < in[1].numel; i++) {
        int64_t v = ((const int64_t *)in[1].data)[i];
        if (v < -dim || v >= dim) return nn_node_err(err, PXS_ECORRUPT, n, "index out of range");
    }
    int orank = rank - 1 + in[1].shape.ndim;
    if (orank > NN_MAX_DIMS) return nn_node_err(err, PXS_EUNSUPPORTED, n, "too many dims");
    struct nn_shape s = {orank, {0}};
    int k = 0;
    for (int i = 0; i < axis; i++) s.d[k++] = in[0].shape.d[i];
    for (int i = 0; i < in[1].shape.ndim; i++) s.d[k++] = in[1].shape.d[i];
    for (int i = axis + 1; i < rank; i++) s.d[k++] = in[0].shape.d[i];
    if (nn_set_out(&out[0], in[0].dtype, &s) != 0) return nn_node_err(err, PXS_ELIMIT, n, "too large");
    return PXS_OK;
}

static int exec_gather(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                       struct nn_tensor *out) {
    (void)ex;
    int rank = in[0].shape.ndim, axis = 0;
    nn_norm_axis(nn_attr_int(n, "axis", 0), rank, &axis);
    size_t es = nn_dtype_size(in[0].dtype), outer = 1, inner = es;
    for (int i = 0; i < axis; i++) outer *= (size_t)in[0].shape.d[i];
    for (int i = axis + 1; i < rank; i++) inner *= (size_t)in[0].shape.d[i];
    int64_t dim = in[0].shape.d[axis];
    const int64_t *ix = in[1].data;
    size_t ni = in[1].numel;
    char *y = out[0].data;
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < ni; i++) {
            int64_t v = ix[i] < 0 ? ix[i] + dim : ix[i];
            memcpy(y, (const char *)in[0].data + (o * (size_t)dim + (size_t)v) * inner, inner);
            y += inner;
        }
    return PXS_OK;
}

static int infer_constant(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                          struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    (void)in;
    if (n->n_out < 1 || n->out[0] < 0) return nn_node_err(err, PXS_ECORRUPT, n, "has no output");
    const struct nn_attr *a = nn_attr_get(n, "value");
    struct nn_shape s = {0, {0}};
    if (a && a->type == NN_AT_TENSOR && a->t) return nn_set_out(&out[0], a->t->dtype, &a->t->shape), PXS_OK;
    if ((a = nn_attr_get(n, "value_float"))) return nn_set_out(&out[0], NN_DT_F32, &s), PXS_OK;
    if ((a = nn_attr_get(n, "value_int"))) return nn_set_out(&out[0], NN_DT_I64, &s), PXS_OK;
    s.ndim = 1;
    if ((a = nn_attr_get(n, "value_floats")) && a->type == NN_AT_FLOATS) {
        s.d[0] = (int64_t)a->n;
        return nn_set_out(&out[0], NN_DT_F32, &s), PXS_OK;
    }
    if ((a = nn_attr_get(n, "value_ints")) && a->type == NN_AT_INTS) {
        s.d[0] = (int64_t)a->n;
        return nn_set_out(&out[0], NN_DT_I64, &s), PXS_OK;
    }
    return nn_node_err(err, PXS_EUNSUPPORTED, n, "unsupported Constant form");
}

static int exec_constant(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                         struct nn_tensor *out) {
    (void)ex;
    (void)in;
    const struct nn_attr *a;
    size_t bytes = out[0].numel * nn_dtype_size(out[0].dtype);
    if ((a = nn_attr_get(n, "value")) && a->t) memcpy(out[0].data, a->t->data, bytes);
    else if ((a = nn_attr_get(n, "value_float"))) *(float *)out[0].data = a->f;
    else if ((a = nn_attr_get(n, "value_int"))) *(int64_t *)out[0].data = a->i;
    else if ((a = nn_attr_get(n, "value_floats")) && a->floats) memcpy(out[0].data, a->floats, bytes);
    else if ((a = nn_attr_get(n, "value_ints")) && a->ints) memcpy(out[0].data, a->ints, bytes);
    return PXS_OK;
}

static int infer_cast(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                      struct nn_tensor *out, struct pxs_err *err) {
    (void)m;
    int rc = need_inputs(n, in, 1, 1, err);
    if (rc) return rc;
    int64_t to = nn_attr_int(n, "to", 0);
    int dt;
    if (to == 1 || to == 11) dt = NN_DT_F32;
    else if (to == 6 || to == 7 || to == 12 || to == 13) dt = NN_DT_I64;
    else return nn_node_err(err, PXS_EUNSUPPORTED, n, "cast to type %lld", (long long)to);
    nn_set_out(&out[0], dt, &in[0].shape);
    return PXS_OK;
}

static int exec_cast(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                     struct nn_tensor *out) {
    (void)ex;
    (void)n;
    size_t cnt = in[0].numel;
    if (in[0].dtype == out[0].dtype) return exec_copy(ex, n, in, out);
    if (out[0].dtype == NN_DT_F32) {
        for (size_t i = 0; i < cnt; i++) ((float *)out[0].data)[i] = (float)((const int64_t *)in[0].data)[i];
    } else {
        for (size_t i = 0; i < cnt; i++) {
            float v = ((const float *)in[0].data)[i];
            int64_t r = 0;
            if (v == v && v > -9.2e18f && v < 9.2e18f) r = (int64_t)v;
            ((int64_t *)out[0].data)[i] = r;
        }
    }
    return PXS_OK;
}

/* Slice (opset >= 10 input form; opset < 10 attribute form) */
struct slice_spec {
    int64_t start[NN_MAX_DIMS], step[NN_MAX_DIMS];
};

static int slice_prepare(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                         struct nn_shape *os, struct slice_spec *sp, struct pxs_err *err) {
    int rank = in[0].shape.ndim;
    int64_t st[NN_MAX_DIMS], en[NN_MAX_DIMS], ax[NN_MAX_DIMS], stp[NN_MAX_DIMS];
    int ns = 0, ne = 0, na = 0, nst = 0, rc;
    if (m->opset < 10) {
        const int64_t *p;
        size_t k = nn_attr_ints(n, "starts", &p);
        if (k > NN_MAX_DIMS) return nn_node_err(err, PXS_EUNSUPPORTED, n, "too many dims");
        for (size_t i = 0; i < k; i++) st[i] = p[i];
        ns = (int)k;
        k = nn_attr_ints(n, "ends", &p);
        if (k > NN_MAX_DIMS) return nn_node_err(err, PXS_EUNSUPPORTED, n, "too many dims");
        for (size_t i = 0; i < k; i++) en[i] = p[i];
        ne = (int)k;
        k = nn_attr_ints(n, "axes", &p);
        if (k > NN_MAX_DIMS) return nn_node_err(err, PXS_EUNSUPPORTED, n, "too many dims");
        for (size_t i = 0; i < k; i++) ax[i] = p[i];
        na = (int)k;
    } else {
        if (n->n_in < 3 || !in[1].dtype || !in[2].dtype) return nn_node_err(err, PXS_ECORRUPT, n, "needs starts and ends");
        if ((rc = nn_const_ints(n, &in[1], st, NN_MAX_DIMS, &ns, err))) return rc;
        if ((rc = nn_const_ints(n, &in[2], en, NN_MAX_DIMS, &ne, err))) return rc;
        if (n->n_in > 3 && in[3].dtype && (rc = nn_const_ints(n, &in[3], ax, NN_MAX_DIMS, &na, err))) return rc;
        if (n->n_in > 4 && in[4].dtype && (rc = nn_const_ints(n, &in[4], stp, NN_MAX_DIMS, &nst, err))) return rc;
    }
    if (ns != ne || (na && na != ns) || (nst && nst != ns))
        return nn_node_err(err, PXS_ECORRUPT, n, "starts/ends/axes/steps lengths differ");
    *os = in[0].shape;
    for (int i = 0; i < rank; i++) {
        sp->start[i] = 0;
        sp->step[i] = 1;
    }
    int seen[NN_MAX_DIMS] = {0};
    for (int i = 0; i < ns; i++) {
        int a;
        if (nn_norm_axis(na ? ax[i] : i, rank, &a) != 0 || seen[a]) return nn_node_err(err, PXS_ECORRUPT, n, "bad axis");
        seen[a] = 1;
        int64_t d = in[0].shape.d[a], s = st[i], e = en[i], k = nst ? stp[i] : 1;
        if (k == 0 || k == INT64_MIN) return nn_node_err(err, PXS_ECORRUPT, n, "bad step");
        if (s < 0) s += d;
        if (e < 0 && e > INT64_MIN / 2) e += d;
        int64_t cnt;
        if (k > 0) {
            s = s < 0 ? 0 : (s > d ? d : s);
            e = e < 0 ? 0 : (e > d ? d : e);
            cnt = e > s ? (e - s - 1) / k + 1 : 0;
        } else {
            s = s < 0 ? -1 : (s > d - 1 ? d - 1 : s);
            e = e < -1 ? -1 : (e > d - 1 ? d - 1 : e);
            cnt = s > e ? (s - e - 1) / (-k) + 1 : 0;
        }
        os->d[a] = cnt;
        sp->start[a] = cnt ? s : 0;
        sp->step[a] = cnt > 1 ? k : 1; /* keeps step * stride small */
    }
    return PXS_OK;
}

static int infer_slice(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                       struct nn_tensor *out, struct pxs_err *err) {
    int rc = need_inputs(n, in, 1, 5, err);
    if (rc) return rc;
    struct nn_shape s;
    struct slice_spec sp;
    rc = slice_prepare(m, n, in, &s, &sp, err);
    if (rc) return rc;
    nn_set_out(&out[0], in[0].dtype, &s);
    return PXS_OK;
}

static int exec_slice(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                      struct nn_tensor *out) {
    struct nn_shape s;
    struct slice_spec sp;
    int rc = slice_prepare(ex->m, n, in, &s, &sp, ex->err);
    if (rc) return rc;
    int rank = in[0].shape.ndim;
    size_t es = nn_dtype_size(in[0].dtype);
    int64_t istr[NN_MAX_DIMS], idx[NN_MAX_DIMS] = {0}, k = 1;
    for (int i = rank - 1; i >= 0; i--) {
        istr[i] = k;
        k *= in[0].shape.d[i];
    }
    if (out[0].numel == 0) return PXS_OK;
    int64_t src = 0;
    for (int i = 0; i < rank; i++) src += sp.start[i] * istr[i];
    for (size_t o = 0; o < out[0].numel; o++) {
        memcpy((char *)out[0].data + o * es, (const char *)in[0].data + (size_t)src * es, es);
        for (int i = rank - 1; i >= 0; i--) {
            idx[i]++;
            src += sp.step[i] * istr[i];
            if (idx[i] < s.d[i]) break;
            src -= sp.step[i] * istr[i] * s.d[i];
            idx[i] = 0;
        }
    }
    return PXS_OK;
}

/* Split: equal parts or the 'split' attribute/input */
static int split_sizes(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                       int *axis, int64_t *sizes, struct pxs_err *err) {
    int rank = in[0].shape.ndim;
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), rank, axis) != 0)
        return nn_node_err(err, PXS_ECORRUPT, n, "axis out of range");
    int64_t d = in[0].shape.d[*axis], sum = 0;
    int no = n->n_out;
    if (no > 64) return nn_node_err(err, PXS_EUNSUPPORTED, n, "too many outputs");
    const int64_t *p = NULL;
    size_t k = 0;
    int64_t buf[64];
    if (m->opset >= 13 && n->n_in >= 2 && in[1].dtype) {
        int c;
        int rc = nn_const_ints(n, &in[1], buf, 64, &c, err);
        if (rc) return rc;
        p = buf;
        k = (size_t)c;
    } else if (m->opset < 13) {
        k = nn_attr_ints(n, "split", &p);
    }
    if (k) {
        if (k != (size_t)no) return nn_node_err(err, PXS_ECORRUPT, n, "split count differs from outputs");
        for (int i = 0; i < no; i++) {
            if (p[i] < 0) return nn_node_err(err, PXS_ECORRUPT, n, "negative split");
            sizes[i] = p[i];
            sum += p[i];
        }
        if (sum != d) return nn_node_err(err, PXS_ECORRUPT, n, "split sizes do not sum to the dim");
        return PXS_OK;
    }
    if (no < 1) return nn_node_err(err, PXS_ECORRUPT, n, "no outputs");
    int64_t part = (d + no - 1) / no;
    for (int i = 0; i < no; i++) {
        sizes[i] = d - sum < part ? d - sum : part;
        sum += sizes[i];
    }
    return PXS_OK;
}

static int infer_split(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                       struct nn_tensor *out, struct pxs_err *err) {
    int rc = need_inputs(n, in, 1, 2, err);
    if (rc) return rc;
    int axis;
    int64_t sizes[64];
    rc = split_sizes(m, n, in, &axis, sizes, err);
    if (rc) return rc;
    for (int i = 0; i < n->n_out; i++) {
        struct nn_shape s = in[0].shape;
        s.d[axis] = sizes[i];
        nn_set_out(&out[i], in[0].dtype, &s);
    }
    return PXS_OK;
}

static int exec_split(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                      struct nn_tensor *out) {
    int axis;
    int64_t sizes[64];
    int rc = split_sizes(ex->m, n, in, &axis, sizes, ex->err);
    if (rc) return rc;
    size_t es = nn_dtype_size(in[0].dtype), outer = 1, inner = es;
    for (int i = 0; i < axis; i++) outer *= (size_t)in[0].shape.d[i];
    for (int i = axis + 1; i < in[0].shape.ndim; i++) inner *= (size_t)in[0].shape.d[i];
    size_t irow = (size_t)in[0].shape.d[axis] * inner, off = 0;
    for (int k = 0; k < n->n_out; k++) {
        size_t row = (size_t)sizes[k] * inner;
        if (out[k].data)
            for (size_t o = 0; o < outer; o++)
                memcpy((char *)out[k].data + o * row, (const char *)in[0].data + o * irow + off, row);
        off += row;
    }
    return PXS_OK;
}

/* Pad: constant / reflect / edge */
struct pad_spec {
    int mode; /* 0 constant 1 reflect 2 edge */
    float value;
    int64_t pb[NN_MAX_DIMS], pe[NN_MAX_DIMS];
};

static int pad_prepare(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                       struct pad_spec *ps, struct nn_shape *os, struct pxs_err *err) {
    int rank = in[0].shape.ndim, cnt = 0, rc;
    int64_t pads[2 * NN_MAX_DIMS], axes[NN_MAX_DIMS];
    int naxes = 0;
    const char *mode = nn_attr_str(n, "mode", "constant");
    if (!strcmp(mode, "constant")) ps->mode = 0;
    else if (!strcmp(mode, "reflect")) ps->mode = 1;
    else if (!strcmp(mode, "edge")) ps->mode = 2;
    else return nn_node_err(err, PXS_EUNSUPPORTED, n, "pad mode '%s'", mode);
    ps->value = 0.f;
    if (m->opset < 11) {
        const int64_t *p;
        size_t k = nn_attr_ints(n, "pads", &p);
        if (k > 2 * NN_MAX_DIMS) return nn_node_err(err, PXS_ECORRUPT, n, "bad pads");
        for (size_t i = 0; i < k; i++) pads[i] = p[i];
        cnt = (int)k;
        ps->value = nn_attr_float(n, "value", 0.f);
    } else {
        if (n->n_in < 2 || !in[1].dtype) return nn_node_err(err, PXS_ECORRUPT, n, "missing pads");
        if ((rc = nn_const_ints(n, &in[1], pads, 2 * NN_MAX_DIMS, &cnt, err))) return rc;
        if (n->n_in > 2 && in[2].dtype) {
            if (!in[2].data || in[2].numel != 1) return nn_node_err(err, PXS_EUNSUPPORTED, n, "pad value must be a constant scalar");
            ps->value = in[2].dtype == NN_DT_F32 ? *(const float *)in[2].data : (float)*(const int64_t *)in[2].data;
        }
        if (n->n_in > 3 && in[3].dtype && (rc = nn_const_ints(n, &in[3], axes, NN_MAX_DIMS, &naxes, err))) return rc;
    }
    for (int i = 0; i < rank; i++) ps->pb[i] = ps->pe[i] = 0;
    if (naxes) {
        if (cnt != 2 * naxes) return nn_node_err(err, PXS_ECORRUPT, n, "pads length differs from axes");
        for (int i = 0; i < naxes; i++) {
            int a;
            if (nn_norm_axis(axes[i], rank, &a) != 0) return nn_node_err(err, PXS_ECORRUPT, n, "bad axis");
            ps->pb[a] = pads[i];
            ps->pe[a] = pads[i + naxes];
        }
    } else {
        if (cnt != 2 * rank) return nn_node_err(err, PXS_ECORRUPT, n, "pads length must be 2*rank");
        for (int i = 0; i < rank; i++) {
            ps->pb[i] = pads[i];
            ps->pe[i] = pads[i + rank];
        }
    }
    *os = in[0].shape;
    for (int i = 0; i < rank; i++) {
        int64_t d = in[0].shape.d[i];
        if (ps->pb[i] < -d || ps->pe[i] < -d || ps->pb[i] > (1 << 20) || ps->pe[i] > (1 << 20))
            return nn_node_err(err, PXS_ECORRUPT, n, "pad out of range");
        os->d[i] = d + ps->pb[i] + ps->pe[i];
        if (os->d[i] < 0) return nn_node_err(err, PXS_ECORRUPT, n, "negative output dim");
        if (ps->mode != 0 && (ps->pb[i] > 0 || ps->pe[i] > 0) && d == 0)
            return nn_node_err(err, PXS_ECORRUPT, n, "cannot pad an empty dim");
        if (ps->mode == 1 && (ps->pb[i] >= d || ps->pe[i] >= d) && (ps->pb[i] > 0 || ps->pe[i] > 0) && d > 1)
            return nn_node_err(err, PXS_EUNSUPPORTED, n, "reflect pad larger than the dim");
    }
    return PXS_OK;
}

static int infer_pad(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                     struct nn_tensor *out, struct pxs_err *err) {
    int rc = need_inputs(n, in, 1, 4, err);
    if (rc) return rc;
    if (in[0].dtype != NN_DT_F32) return nn_node_err(err, PXS_EUNSUPPORTED, n, "only float input");
    struct pad_spec ps;
    struct nn_shape s;
    rc = pad_prepare(m, n, in, &ps, &s, err);
    if (rc) return rc;
    if (nn_set_out(&out[0], NN_DT_F32, &s) != 0) return nn_node_err(err, PXS_ELIMIT, n, "too large");
    return PXS_OK;
}

static int64_t pad_src(int mode, int64_t i, int64_t d) {
    if (i >= 0 && i < d) return i;
    if (mode == 0) return -1;
    if (mode == 2 || d == 1) return i < 0 ? 0 : d - 1;
    /* reflect (pad < d guaranteed) */
    if (i < 0) return -i;
    return 2 * (d - 1) - i;
}

static int exec_pad(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                    struct nn_tensor *out) {
    struct pad_spec ps;
    struct nn_shape s;
    int rc = pad_prepare(ex->m, n, in, &ps, &s, ex->err);
    if (rc) return rc;
    int rank = s.ndim;
    if (out[0].numel == 0) return PXS_OK;
    if (rank == 0) return exec_copy(ex, n, in, out);
    int64_t istr[NN_MAX_DIMS], k = 1, idx[NN_MAX_DIMS] = {0};
    for (int i = rank - 1; i >= 0; i--) {
        istr[i] = k;
        k *= in[0].shape.d[i];
    }
    const float *x = in[0].data;
    float *y = out[0].data;
    int64_t W = s.d[rank - 1], iw = in[0].shape.d[rank - 1];
    size_t rows = out[0].numel / (size_t)W;
    for (size_t r = 0; r < rows; r++) {
        int64_t base = 0;
        int valid = 1;
        for (int i = 0; i < rank - 1; i++) {
            int64_t si = pad_src(ps.mode, idx[i] - ps.pb[i], in[0].shape.d[i]);
            if (si < 0) { valid = 0; break; }
            base += si * istr[i];
        }
        float *yr = y + r * (size_t)W;
        for (int64_t j = 0; j < W; j++) {
            int64_t sj = valid ? pad_src(ps.mode, j - ps.pb[rank - 1], iw) : -1;
            yr[j] = sj < 0 ? ps.value : x[base + sj];
        }
        for (int i = rank - 2; i >= 0; i--) {
            if (++idx[i] < s.d[i]) break;
            idx[i] = 0;
        }
    }
    return PXS_OK;
}

/* ---- table ------------------------------------------------------------------- */

static const struct nn_op ops[] = {
    {"Identity", infer_same, exec_copy, NULL, NULL, 0},
    {"Dropout", infer_same, exec_copy, NULL, NULL, 0},
    {"Relu", infer_unary_f, exec_relu, NULL, NULL, 0},
    {"Sigmoid", infer_unary_f, exec_sigmoid, NULL, NULL, 0},
    {"Tanh", infer_unary_f, exec_tanh, NULL, NULL, 0},
    {"HardSwish", infer_unary_f, exec_hardswish, NULL, NULL, 0},
    {"HardSigmoid", infer_unary_f, exec_hardsigmoid, NULL, NULL, 0},
    {"LeakyRelu", infer_unary_f, exec_leakyrelu, NULL, NULL, 0},
    {"Exp", infer_unary_f, exec_exp, NULL, NULL, 0},
    {"Neg", infer_unary_f, exec_neg, NULL, NULL, 0},
    {"Sqrt", infer_unary_f, exec_sqrt, NULL, NULL, 0},
    {"Erf", infer_unary_f, exec_erf, NULL, NULL, 0},
    {"Clip", infer_clip, exec_clip, NULL, NULL, 0},
    {"Add", infer_binary, exec_binary, NULL, NULL, 0},
    {"Sub", infer_binary, exec_binary, NULL, NULL, 0},
    {"Mul", infer_binary, exec_binary, NULL, NULL, 0},
    {"Div", infer_binary, exec_binary, NULL, NULL, 0},
    {"Pow", infer_binary, exec_binary, NULL, NULL, 0},
    {"Max", infer_binary, exec_binary, NULL, NULL, 0},
    {"Min", infer_binary, exec_binary, NULL, NULL, 0},
    {"BatchNormalization", infer_bn, exec_bn, NULL, NULL, 0},
    {"Softmax", infer_softmax, exec_softmax, NULL, NULL, 0},
    {"LogSoftmax", infer_softmax, exec_softmax, NULL, NULL, 0},
    {"Flatten", infer_flatten, exec_copy, NULL, NULL, 0},
    {"Reshape", infer_reshape, exec_copy, NULL, NULL, 0},
    {"Squeeze", infer_squeeze, exec_copy, NULL, NULL, 0},
    {"Unsqueeze", infer_unsqueeze, exec_copy, NULL, NULL, 0},
    {"Concat", infer_concat, exec_concat, NULL, NULL, 0},
    {"Transpose", infer_transpose, exec_transpose, NULL, NULL, 0},
    {"Shape", infer_shape, exec_shape, NULL, NULL, 1},
    {"Gather", infer_gather, exec_gather, NULL, NULL, 0},
    {"Constant", infer_constant, exec_constant, NULL, NULL, 0},
    {"Cast", infer_cast, exec_cast, NULL, NULL, 0},
    {"Slice", infer_slice, exec_slice, NULL, NULL, 0},
    {"Split", infer_split, exec_split, NULL, NULL, 0},
    {"Pad", infer_pad, exec_pad, NULL, NULL, 0},
};

const struct nn_op *nn_op_find(const char *name) {
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(ops[i].name, name)) return &ops[i];
    return nn_op_find_heavy(name);
}
