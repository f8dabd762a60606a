/*
 * test_nn_ops.c — per-operator tests: tiny ONNX graphs built in memory
 * (onnx_build.h), run through the public API, compared with naive reference
 * implementations written here (conv, pools) or hand-computed values
 * (broadcasting, padding modes, softmax axes, shape chains).
 */
#include <stdlib.h>

#include "../test.h"
#include "onnx_build.h"
#include "pixseek/nn.h"

static uint32_t rng_state = 12345;
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.f - 1.f;
}
static void fill(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = frand();
}

/* Load model bytes, run on x (batch from the input shape), copy the first
 * output into out (cap floats). Returns PXS_OK or the error. */
static int run_model(struct pbw *mb, const float *x, int batch, float *out, size_t cap, size_t *n,
                     struct pxs_err *err, int threads) {
    struct pxs_nn_load_opts o;
    pxs_nn_load_opts_init(&o);
    o.threads = threads;
    pxs_nn_model *m = NULL;
    int rc = pxs_nn_model_load_buffer(mb->d, mb->len, NULL, &o, &m, err);
    if (rc == PXS_OK) rc = pxs_nn_run(m, x, batch, NULL, out, cap, n, err);
    pxs_nn_model_free(m);
    return rc;
}

static double max_diff(const float *a, const float *b, size_t n) {
    double md = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > md || d != d) md = d != d ? 1e30 : d;
    }
    return md;
}

/* ---- Conv ---- */
struct conv_cfg {
    int N, C, H, W, M, KH, KW, G, sh, sw, dh, dw, pt, pl, pb, pr, bias;
    const char *auto_pad; /* NULL = explicit pads */
};

static void ref_conv(const struct conv_cfg *c, const float *x, const float *w, const float *b, float *y,
                     int OH, int OW) {
    int Cg = c->C / c->G, Mg = c->M / c->G;
    for (int n = 0; n < c->N; n++)
        for (int m = 0; m < c->M; m++) {
            int g = m / Mg;
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double s = c->bias ? b[m] : 0;
                    for (int ci = 0; ci < Cg; ci++)
                        for (int kh = 0; kh < c->KH; kh++)
                            for (int kw = 0; kw < c->KW; kw++) {
                                int ih = oh * c->sh - c->pt + kh * c->dh, iw = ow * c->sw - c->pl + kw * c->dw;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                s += (double)x[((n * c->C + g * Cg + ci) * c->H + ih) * c->W + iw] *
                                     w[((m * Cg + ci) * c->KH + kh) * c->KW + kw];
                            }
                    y[((n * c->M + m) * OH + oh) * OW + ow] = (float)s;
                }
        }
}

static int conv_case(struct conv_cfg c, double *md_out, struct pxs_err *err) {
    int ekh = (c.KH - 1) * c.dh + 1, ekw = (c.KW - 1) * c.dw + 1, OH, OW;
    if (c.auto_pad && c.auto_pad[0] == 'S') {
        OH = (c.H + c.sh - 1) / c.sh;
        OW = (c.W + c.sw - 1) / c.sw;
        int th = (OH - 1) * c.sh + ekh - c.H, tw = (OW - 1) * c.sw + ekw - c.W;
        th = th < 0 ? 0 : th;
        tw = tw < 0 ? 0 : tw;
        int upper = !strcmp(c.auto_pad, "SAME_UPPER");
        c.pt = upper ? th / 2 : th - th / 2;
        c.pl = upper ? tw / 2 : tw - tw / 2;
        c.pb = th - c.pt;
        c.pr = tw - c.pl;
    }
    OH = (c.H + c.pt + c.pb - ekh) / c.sh + 1;
    OW = (c.W + c.pl + c.pr - ekw) / c.sw + 1;
    size_t nx = (size_t)c.N * c.C * c.H * c.W, nw = (size_t)c.M * (c.C / c.G) * c.KH * c.KW;
    size_t ny = (size_t)c.N * c.M * OH * OW;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)c.M * 4), *y = malloc(ny * 4),
          *r = malloc(ny * 4);
    fill(x, nx);
    fill(w, nw);
    fill(b, (size_t)c.M);
    ref_conv(&c, x, w, b, r, OH, OW);
    struct ob ob = {{0}, 13};
    int64_t xd[4] = {c.N, c.C, c.H, c.W}, wd[4] = {c.M, c.C / c.G, c.KH, c.KW}, bd[1] = {c.M};
    ob_input(&ob, "x", 4, xd);
    ob_init_f32(&ob, "w", 4, wd, w);
    if (c.bias) ob_init_f32(&ob, "b", 1, bd, b);
    struct pbw a = {0};
    int64_t st[2] = {c.sh, c.sw}, dl[2] = {c.dh, c.dw}, pd[4] = {c.pt, c.pl, c.pb, c.pr};
    attr_ints(&a, "strides", 2, st);
    attr_ints(&a, "dilations", 2, dl);
    if (c.auto_pad) attr_s(&a, "auto_pad", c.auto_pad);
    else attr_ints(&a, "pads", 4, pd);
    attr_i(&a, "group", c.G);
    ob_node(&ob, "Conv", c.bias ? "x,w,b" : "x,w", "y", &a);
    pbw_free(&a);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    size_t n = 0;
    int rc = run_model(&mb, x, c.N, y, ny, &n, err, 2);
    *md_out = rc == PXS_OK && n == ny ? max_diff(y, r, ny) : 1e30;
    pbw_free(&mb);
    free(x);
    free(w);
    free(b);
    free(y);
    free(r);
    return rc;
}

PXS_TEST(nn_op_conv_variants) {
    static const struct conv_cfg cases[] = {
        /* N C H W M KH KW G sh sw dh dw pt pl pb pr bias */
        {1, 3, 9, 11, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, NULL},
        {2, 4, 10, 10, 6, 3, 3, 2, 2, 2, 1, 1, 1, 0, 1, 2, 1, NULL},  /* groups, strides, asym pads */
        {1, 8, 12, 13, 8, 3, 3, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, NULL},  /* depthwise s1 */
        {2, 8, 12, 13, 8, 3, 3, 8, 2, 2, 1, 1, 1, 1, 1, 1, 0, NULL},  /* depthwise s2 */
        {1, 6, 15, 9, 6, 5, 5, 6, 2, 2, 1, 1, 2, 2, 2, 2, 1, NULL},   /* depthwise 5x5 */
        {1, 4, 11, 11, 5, 3, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1, NULL},  /* dilation */
        {1, 16, 7, 7, 40, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, NULL},  /* pointwise, M not a tile multiple */
        {3, 33, 5, 6, 17, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, NULL},
        {1, 3, 10, 9, 4, 3, 3, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, "SAME_UPPER"},
        {1, 3, 10, 9, 4, 4, 4, 1, 3, 3, 1, 1, 0, 0, 0, 0, 1, "SAME_LOWER"},
        {1, 3, 10, 9, 4, 3, 2, 1, 1, 2, 1, 1, 0, 0, 0, 0, 1, "VALID"},
        {1, 300, 6, 6, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, NULL}, /* K = 2700 > KC blocks */
        {1, 2, 5, 5, 4, 7, 7, 2, 1, 1, 1, 1, 3, 3, 3, 3, 1, NULL},   /* kernel > input */
        {2, 6, 9, 8, 10, 3, 3, 2, 1, 1, 1, 1, 2, 0, 1, 1, 1, NULL},  /* direct: groups, asym pads, batch */
        {1, 5, 13, 15, 26, 3, 1, 1, 1, 1, 2, 1, 1, 0, 2, 0, 0, NULL}, /* direct: 3x1, dilation */
        {1, 3, 20, 20, 16, 7, 7, 1, 2, 2, 1, 1, 3, 3, 3, 3, 1, NULL}, /* stem-like, packed */
        {1, 8, 6, 3, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, NULL},    /* narrow output: packed */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pxs_err err = {0};
        double md;
        int rc = conv_case(cases[i], &md, &err);
        CHECK_MSG(rc == PXS_OK, "case %zu: %s", i, err.msg);
        CHECK_MSG(md < 1e-4, "case %zu: max diff %g", i, md);
    }
}

/* Finish the graph in ob, load it, keep its stats and run it on x. */
static int finish_and_run(struct ob *ob, const float *x, int batch, float *y, size_t ny, struct pxs_nn_stats *st,
                          struct pxs_err *err) {
    struct pbw mb;
    ob_finish(ob, &mb);
    pxs_nn_model *m = NULL;
    int rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, err);
    pbw_free(&mb);
    if (rc) return rc;
    pxs_nn_model_stats(m, st);
    size_t n;
    rc = pxs_nn_run(m, x, batch, NULL, y, ny, &n, err);
    pxs_nn_model_free(m);
    return rc;
}

/* Conv -> BatchNormalization -> Relu and Conv -> Clip: fused at load, same result */
PXS_TEST(nn_op_conv_bn_relu_fused) {
    struct conv_cfg c = {2, 3, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, NULL};
    size_t nx = 2 * 3 * 8 * 8, nw = 5 * 3 * 9, ny = 2 * 5 * 8 * 8;
    float x[2 * 3 * 8 * 8], w[5 * 3 * 9], y[2 * 5 * 8 * 8], r[2 * 5 * 8 * 8];
    float sc[5] = {1.5f, 0.5f, -1.f, 2.f, 1.f}, bb[5] = {0.1f, -0.2f, 0.3f, 0.f, 1.f};
    float mean[5] = {0.f, 0.1f, -0.1f, 0.5f, 0.2f}, var[5] = {1.f, 0.5f, 2.f, 0.25f, 1.f};
    fill(x, nx);
    fill(w, nw);
    ref_conv(&c, x, w, NULL, r, 8, 8);
    for (size_t i = 0; i < ny; i++) {
        int m = (int)(i / 64) % 5;
        float v = (r[i] - mean[m]) / sqrtf(var[m] + 1e-5f) * sc[m] + bb[m];
        r[i] = v > 0 ? v : 0;
    }
    struct ob ob = {{0}, 13};
    int64_t xd[4] = {-1, 3, 8, 8}, wd[4] = {5, 3, 3, 3}, cd[1] = {5};
    ob_input(&ob, "x", 4, xd);
    ob_init_f32(&ob, "w", 4, wd, w);
    ob_init_f32(&ob, "s", 1, cd, sc);
    ob_init_f32(&ob, "bb", 1, cd, bb);
    ob_init_f32(&ob, "mean", 1, cd, mean);
    ob_init_f32(&ob, "var", 1, cd, var);
    struct pbw a = {0};
    int64_t pd[4] = {1, 1, 1, 1};
    attr_ints(&a, "pads", 4, pd);
    ob_node(&ob, "Conv", "x,w", "c", &a);
    pbw_free(&a);
    ob_node(&ob, "BatchNormalization", "c,s,bb,mean,var", "n", NULL);
    ob_node(&ob, "Relu", "n", "y", NULL);
    ob_output(&ob, "y");
    struct pxs_nn_stats st;
    struct pxs_err err = {0};
    CHECK_OK(finish_and_run(&ob, x, 2, y, ny, &st, &err), &err);
    CHECK_EQ_INT(st.n_nodes, 1); /* BN and Relu folded into the Conv */
    CHECK_EQ_INT(st.n_nodes_onnx, 3);
    CHECK(max_diff(y, r, ny) < 1e-4);
}

/* Conv -> Add(conv, other) -> Relu (a ResNet block ending): the Add and Relu
 * become the Conv's epilogue; same result as unfused. Both a 3x3 (direct)
 * and a 1x1 (pointwise) conv take the residual. */
PXS_TEST(nn_op_conv_residual_fused) {
    for (int k3 = 0; k3 < 2; k3++) {
        int K = k3 ? 3 : 1, P = k3 ? 1 : 0;
        struct conv_cfg c1 = {2, 4, 7, 9, 6, K, K, 1, 1, 1, 1, 1, P, P, P, P, 1, NULL};
        struct conv_cfg c2 = {2, 4, 7, 9, 6, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, NULL};
        size_t nx = 2 * 4 * 7 * 9, ny = 2 * 6 * 7 * 9;
        float x[2 * 4 * 7 * 9], w1[6 * 4 * 9], b1[6], w2[6 * 4], y[2 * 6 * 7 * 9], r1[2 * 6 * 7 * 9],
            r2[2 * 6 * 7 * 9];
        fill(x, nx);
        fill(w1, (size_t)(6 * 4 * K * K));
        fill(b1, 6);
        fill(w2, 24);
        ref_conv(&c1, x, w1, b1, r1, 7, 9);
        ref_conv(&c2, x, w2, NULL, r2, 7, 9);
        for (size_t i = 0; i < ny; i++) r1[i] = fmaxf(r1[i] + r2[i], 0.f);
        struct ob ob = {{0}, 13};
        int64_t xd[4] = {-1, 4, 7, 9}, wd1[4] = {6, 4, K, K}, wd2[4] = {6, 4, 1, 1}, bd[1] = {6};
        ob_input(&ob, "x", 4, xd);
        ob_init_f32(&ob, "w1", 4, wd1, w1);
        ob_init_f32(&ob, "b1", 1, bd, b1);
        ob_init_f32(&ob, "w2", 4, wd2, w2);
        struct pbw a = {0};
        int64_t pd[4] = {P, P, P, P};
        attr_ints(&a, "pads", 4, pd);
        ob_node(&ob, "Conv", "x,w2", "s", NULL);
        ob_node(&ob, "Conv", "x,w1,b1", "c", &a);
        pbw_free(&a);
        ob_node(&ob, "Add", k3 ? "s,c" : "c,s", "t", NULL);
        ob_node(&ob, "Relu", "t", "y", NULL);
        ob_output(&ob, "y");
        struct pxs_nn_stats st;
        struct pxs_err err = {0};
        CHECK_OK(finish_and_run(&ob, x, 2, y, ny, &st, &err), &err);
        CHECK_EQ_INT(st.n_nodes, 2); /* Add and Relu folded into the later Conv */
        CHECK(max_diff(y, r1, ny) < 1e-4);
    }
}

/* single-node graph on input x of shape xd; extra initializers via callback */
static int unary_graph(int opset, const char *op, int ndim, const int64_t *xd, const float *x, const struct pbw *attrs,
                       float *y, size_t cap, size_t *n, struct pxs_err *err) {
    struct ob ob = {{0}, opset};
    ob_input(&ob, "x", ndim, xd);
    ob_node(&ob, op, "x", "y", attrs);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    int rc = run_model(&mb, x, (int)xd[0], y, cap, n, err, 1);
    pbw_free(&mb);
    return rc;
}

PXS_TEST(nn_op_activations) {
    float x[8] = {-3.f, -1.f, -0.25f, 0.f, 0.5f, 1.f, 2.5f, 7.f}, y[8];
    int64_t xd[2] = {1, 8};
    struct pxs_err err = {0};
    size_t n;
    struct pbw a = {0};
    attr_f(&a, "alpha", 0.1f);
    CHECK_OK(unary_graph(13, "LeakyRelu", 2, xd, x, &a, y, 8, &n, &err), &err);
    pbw_free(&a);
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], x[i] < 0 ? 0.1f * x[i] : x[i], 1e-6);
    CHECK_OK(unary_graph(13, "HardSigmoid", 2, xd, x, NULL, y, 8, &n, &err), &err);
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], fminf(fmaxf(0.2f * x[i] + 0.5f, 0), 1), 1e-6);
    CHECK_OK(unary_graph(14, "HardSwish", 2, xd, x, NULL, y, 8, &n, &err), &err);
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], x[i] * fminf(fmaxf(x[i] / 6 + 0.5f, 0), 1), 1e-6);
    CHECK_OK(unary_graph(13, "Sigmoid", 2, xd, x, NULL, y, 8, &n, &err), &err);
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], 1 / (1 + exp(-x[i])), 1e-6);
    CHECK_OK(unary_graph(13, "Tanh", 2, xd, x, NULL, y, 8, &n, &err), &err);
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], tanh(x[i]), 1e-6);
    CHECK_OK(unary_graph(13, "Relu", 2, xd, x, NULL, y, 8, &n, &err), &err);
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], x[i] > 0 ? x[i] : 0, 0);
    /* Clip, attribute form (opset 9) */
    attr_f(&a, "min", -0.5f);
    attr_f(&a, "max", 2.f);
    CHECK_OK(unary_graph(9, "Clip", 2, xd, x, &a, y, 8, &n, &err), &err);
    pbw_free(&a);
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], fminf(fmaxf(x[i], -0.5f), 2.f), 0);
    /* Clip, input form (opset 13), max only */
    struct ob ob = {{0}, 13};
    float hi = 1.f;
    ob_input(&ob, "x", 2, xd);
    ob_init_f32(&ob, "hi", 0, NULL, &hi);
    ob_node(&ob, "Clip", "x,,hi", "y", NULL);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    int rc = run_model(&mb, x, 1, y, 8, &n, &err, 1);
    pbw_free(&mb);
    CHECK_OK(rc, &err);
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], fminf(x[i], 1.f), 0);
}

static int binary_graph(const char *op, int na, const int64_t *ad, int nb, const int64_t *bd, const float *a,
                        const float *b, float *y, size_t cap, size_t *n, struct pxs_err *err) {
    struct ob ob = {{0}, 13};
    ob_input(&ob, "a", na, ad);
    ob_init_f32(&ob, "b", nb, bd, b);
    ob_node(&ob, op, "a,b", "y", NULL);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    int rc = run_model(&mb, a, (int)ad[0], y, cap, n, err, 1);
    pbw_free(&mb);
    return rc;
}

PXS_TEST(nn_op_broadcasting) {
    float a[2 * 3 * 4 * 5], b[3 * 4 * 5], y[2 * 3 * 4 * 5];
    fill(a, 120);
    fill(b, 60);
    for (int i = 0; i < 60; i++) b[i] = b[i] == 0 ? 0.5f : b[i];
    struct pxs_err err = {0};
    size_t n;
    /* [2,3,4,5] + [3,1,1] (per channel) */
    int64_t ad[4] = {2, 3, 4, 5}, bd3[3] = {3, 1, 1};
    CHECK_OK(binary_graph("Add", 4, ad, 3, bd3, a, b, y, 120, &n, &err), &err);
    CHECK_EQ_INT(n, 120);
    for (int i = 0; i < 120; i++) CHECK_NEAR(y[i], a[i] + b[(i / 20) % 3], 1e-6);
    /* [2,3,4,5] * scalar */
    CHECK_OK(binary_graph("Mul", 4, ad, 0, NULL, a, b, y, 120, &n, &err), &err);
    for (int i = 0; i < 120; i++) CHECK_NEAR(y[i], a[i] * b[0], 1e-6);
    /* [2,3,4,5] - [4,1] */
    int64_t bd2[2] = {4, 1};
    CHECK_OK(binary_graph("Sub", 4, ad, 2, bd2, a, b, y, 120, &n, &err), &err);
    for (int i = 0; i < 120; i++) CHECK_NEAR(y[i], a[i] - b[(i / 5) % 4], 1e-6);
    /* [2,3,4,5] / [5] */
    int64_t bd1[1] = {5};
    CHECK_OK(binary_graph("Div", 4, ad, 1, bd1, a, b, y, 120, &n, &err), &err);
    for (int i = 0; i < 120; i++) CHECK_NEAR(y[i], a[i] / b[i % 5], 1e-6);
    /* both sides broadcast: [2,1,1,5] + [1,3,4,1] -> [2,3,4,5] */
    int64_t a2[4] = {2, 1, 1, 5}, b2[4] = {1, 3, 4, 1};
    CHECK_OK(binary_graph("Add", 4, a2, 4, b2, a, b, y, 120, &n, &err), &err);
    CHECK_EQ_INT(n, 120);
    for (int i = 0; i < 120; i++) {
        int nn = i / 60, w = i % 5, hc = (i / 5) % 12;
        CHECK_NEAR(y[i], a[nn * 5 + w] + b[hc], 1e-6);
    }
    /* incompatible shapes -> load error */
    int64_t bad[1] = {4};
    int rc = binary_graph("Add", 4, ad, 1, bad, a, b, y, 120, &n, &err);
    CHECK_EQ_INT(rc, PXS_ECORRUPT);
    CHECK(strstr(err.msg, "broadcast") != NULL);
}

/* ---- pooling ---- */
static void ref_pool(int is_max, int incl, const float *x, int C, int H, int W, int K, int s, int p, int ceil_mode,
                     float *y, int *OHp, int *OWp) {
    int OH = ceil_mode ? (H + 2 * p - K + s - 1) / s + 1 : (H + 2 * p - K) / s + 1;
    int OW = ceil_mode ? (W + 2 * p - K + s - 1) / s + 1 : (W + 2 * p - K) / s + 1;
    if (ceil_mode && (OH - 1) * s >= H + p) OH--;
    if (ceil_mode && (OW - 1) * s >= W + p) OW--;
    for (int c = 0; c < C; c++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int h0 = oh * s - p, w0 = ow * s - p;
                int h1 = h0 + K < H + p ? h0 + K : H + p, w1 = w0 + K < W + p ? w0 + K : W + p;
                int pool = (h1 - h0) * (w1 - w0);
                double acc = is_max ? -1e30 : 0;
                int cnt = 0;
                for (int ih = h0 < 0 ? 0 : h0; ih < (h1 < H ? h1 : H); ih++)
                    for (int iw = w0 < 0 ? 0 : w0; iw < (w1 < W ? w1 : W); iw++) {
                        float v = x[(c * H + ih) * W + iw];
                        if (is_max) acc = v > acc ? v : acc;
                        else acc += v;
                        cnt++;
                    }
                y[(c * OH + oh) * OW + ow] = (float)(is_max ? acc : acc / (incl ? pool : cnt));
            }
    *OHp = OH;
    *OWp = OW;
}

PXS_TEST(nn_op_pools) {
    enum { C = 3, H = 9, W = 8 };
    float x[C * H * W], y[C * H * W * 4], r[C * H * W * 4];
    fill(x, C * H * W);
    int64_t xd[4] = {1, C, H, W};
    static const int cfg[][6] = {
        /* max incl K s p ceil */
        {1, 0, 3, 2, 0, 0}, {1, 0, 3, 2, 1, 1}, {1, 0, 2, 2, 0, 1}, {0, 0, 3, 2, 1, 0},
        {0, 1, 3, 2, 1, 0}, {0, 0, 3, 2, 1, 1}, {0, 1, 3, 2, 1, 1}, {0, 1, 2, 2, 0, 1},
        {1, 0, 3, 1, 1, 0}, {1, 0, 5, 3, 2, 1}, {1, 0, 4, 3, 0, 1},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        const int *c = cfg[i];
        int OH, OW;
        ref_pool(c[0], c[1], x, C, H, W, c[2], c[3], c[4], c[5], r, &OH, &OW);
        struct pbw a = {0};
        int64_t ks[2] = {c[2], c[2]}, st[2] = {c[3], c[3]}, pd[4] = {c[4], c[4], c[4], c[4]};
        attr_ints(&a, "kernel_shape", 2, ks);
        attr_ints(&a, "strides", 2, st);
        attr_ints(&a, "pads", 4, pd);
        attr_i(&a, "ceil_mode", c[5]);
        if (!c[0]) attr_i(&a, "count_include_pad", c[1]);
        struct pxs_err err = {0};
        size_t n = 0;
        int rc = unary_graph(13, c[0] ? "MaxPool" : "AveragePool", 4, xd, x, &a, y, sizeof y / 4, &n, &err);
        pbw_free(&a);
        CHECK_MSG(rc == PXS_OK, "case %zu: %s", i, err.msg);
        CHECK_MSG(n == (size_t)(C * OH * OW), "case %zu: %zu floats, want %d", i, n, C * OH * OW);
        CHECK_MSG(max_diff(y, r, n) < 1e-5, "case %zu: diff %g", i, max_diff(y, r, n));
    }
    /* global pools */
    struct pxs_err err = {0};
    size_t n;
    CHECK_OK(unary_graph(13, "GlobalAveragePool", 4, xd, x, NULL, y, 16, &n, &err), &err);
    CHECK_EQ_INT(n, C);
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int i = 0; i < H * W; i++) s += x[c * H * W + i];
        CHECK_NEAR(y[c], s / (H * W), 1e-5);
    }
    CHECK_OK(unary_graph(13, "GlobalMaxPool", 4, xd, x, NULL, y, 16, &n, &err), &err);
    for (int c = 0; c < C; c++) {
        float mx = -1e30f;
        for (int i = 0; i < H * W; i++) mx = fmaxf(mx, x[c * H * W + i]);
        CHECK_NEAR(y[c], mx, 0);
    }
    /* ReduceMean: axes attribute (opset 13), keepdims 0 */
    struct pbw a = {0};
    int64_t axes[2] = {2, 3};
    attr_ints(&a, "axes", 2, axes);
    attr_i(&a, "keepdims", 0);
    CHECK_OK(unary_graph(13, "ReduceMean", 4, xd, x, &a, y, 16, &n, &err), &err);
    pbw_free(&a);
    CHECK_EQ_INT(n, C);
    for (int c = 0; c < C; c++) {
        double s = 0;
        for (int i = 0; i < H * W; i++) s += x[c * H * W + i];
        CHECK_NEAR(y[c], s / (H * W), 1e-5);
    }
    /* ReduceMean: axes input (opset 18), axis 1 kept */
    struct ob ob = {{0}, 18};
    int64_t ax1 = 1, one = 1;
    ob_input(&ob, "x", 4, xd);
    ob_init_i64(&ob, "axes", 1, &one, &ax1);
    ob_node(&ob, "ReduceMean", "x,axes", "y", NULL);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    int rc = run_model(&mb, x, 1, y, sizeof y / 4, &n, &err, 1);
    pbw_free(&mb);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(n, H * W);
    for (int i = 0; i < H * W; i++) CHECK_NEAR(y[i], (x[i] + x[H * W + i] + x[2 * H * W + i]) / 3, 1e-5);
}

PXS_TEST(nn_op_gemm_matmul) {
    enum { M = 3, K = 37, N = 45 };
    float a[K * M], b[N * K], c[N], y[M * N], r[M * N];
    fill(a, sizeof a / 4);
    fill(b, sizeof b / 4);
    fill(c, N);
    /* Gemm transA=1 (a is K x M), transB=1 (b is N x K), alpha 0.5, beta 2, C [N] */
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int p = 0; p < K; p++) s += (double)a[p * M + i] * b[j * K + p];
            r[i * N + j] = (float)(0.5 * s + 2.0 * c[j]);
        }
    struct ob ob = {{0}, 13};
    int64_t ad[2] = {K, M}, bd[2] = {N, K}, cd[1] = {N};
    ob_input(&ob, "a", 2, ad);
    ob_init_f32(&ob, "b", 2, bd, b);
    ob_init_f32(&ob, "c", 1, cd, c);
    struct pbw at = {0};
    attr_i(&at, "transA", 1);
    attr_i(&at, "transB", 1);
    attr_f(&at, "alpha", 0.5f);
    attr_f(&at, "beta", 2.f);
    ob_node(&ob, "Gemm", "a,b,c", "y", &at);
    pbw_free(&at);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    struct pxs_err err = {0};
    size_t n;
    int rc = run_model(&mb, a, K, y, M * N, &n, &err, 2);
    pbw_free(&mb);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(n, M * N);
    CHECK(max_diff(y, r, M * N) < 1e-4);
    /* MatMul [2,M,K] x [K,N] */
    float a2[2 * M * K], y2[2 * M * N], r2[2 * M * N];
    fill(a2, sizeof a2 / 4);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int p = 0; p < K; p++) s += (double)a2[(t * M + i) * K + p] * b[p * N + j];
                r2[(t * M + i) * N + j] = (float)s;
            }
    struct ob o2 = {{0}, 13};
    int64_t a2d[3] = {2, M, K}, b2d[2] = {K, N};
    ob_input(&o2, "a", 3, a2d);
    ob_init_f32(&o2, "b", 2, b2d, b);
    ob_node(&o2, "MatMul", "a,b", "y", NULL);
    ob_output(&o2, "y");
    ob_finish(&o2, &mb);
    rc = run_model(&mb, a2, 2, y2, 2 * M * N, &n, &err, 1);
    pbw_free(&mb);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(n, 2 * M * N);
    CHECK(max_diff(y2, r2, 2 * M * N) < 1e-4);
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape (torch's x.view(x.size(0), -1)),
 * then Transpose, Squeeze, Flatten, Identity, Dropout; dynamic batch. */
PXS_TEST(nn_op_shape_chain) {
    struct ob ob = {{0}, 13};
    int64_t xd[4] = {-1, 2, 3, 4}, one = 1, zero = 0, minus1 = -1, ax0 = 0;
    ob_input(&ob, "x", 4, xd);
    ob_init_i64(&ob, "idx0", 0, NULL, &zero);
    ob_init_i64(&ob, "m1", 1, &one, &minus1);
    ob_init_i64(&ob, "axes0", 1, &one, &ax0);
    ob_node(&ob, "Shape", "x", "s", NULL);
    struct pbw a = {0};
    attr_i(&a, "axis", 0);
    ob_node(&ob, "Gather", "s,idx0", "n0", &a);
    ob_node(&ob, "Unsqueeze", "n0,axes0", "n1", NULL);
    ob_node(&ob, "Concat", "n1,m1", "shp", &a);
    pbw_free(&a);
    ob_node(&ob, "Reshape", "x,shp", "r", NULL); /* [N, 24] */
    int64_t perm[2] = {1, 0};
    attr_ints(&a, "perm", 2, perm);
    ob_node(&ob, "Transpose", "r", "t", &a); /* [24, N] */
    pbw_free(&a);
    ob_node(&ob, "Identity", "t", "t2", NULL);
    ob_node(&ob, "Dropout", "t2", "y", NULL);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    float x[3 * 24], y[3 * 24];
    for (int i = 0; i < 72; i++) x[i] = (float)i;
    struct pxs_err err = {0};
    size_t n;
    for (int batch = 1; batch <= 3; batch += 2) {
        int rc = run_model(&mb, x, batch, y, 72, &n, &err, 1);
        CHECK_OK(rc, &err);
        CHECK_EQ_INT(n, 24 * batch);
        for (int i = 0; i < 24; i++)
            for (int b = 0; b < batch; b++) CHECK_NEAR(y[i * batch + b], x[b * 24 + i], 0);
    }
    pbw_free(&mb);
    /* Squeeze/Unsqueeze attribute form (opset 11), Flatten axis 2 */
    struct ob o2 = {{0}, 11};
    int64_t xd2[4] = {2, 1, 3, 1}, sq[2] = {1, 3}, us[1] = {0};
    ob_input(&o2, "x", 4, xd2);
    attr_ints(&a, "axes", 2, sq);
    ob_node(&o2, "Squeeze", "x", "s", &a); /* [2,3] */
    pbw_free(&a);
    attr_ints(&a, "axes", 1, us);
    ob_node(&o2, "Unsqueeze", "s", "u", &a); /* [1,2,3] */
    pbw_free(&a);
    attr_i(&a, "axis", 2);
    ob_node(&o2, "Flatten", "u", "y", &a); /* [2,3] */
    pbw_free(&a);
    ob_output(&o2, "y");
    ob_finish(&o2, &mb);
    struct pxs_nn_model *m = NULL;
    CHECK_OK(pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err), &err);
    pbw_free(&mb);
    int64_t od[8];
    int nd = 0;
    int rc = pxs_nn_model_output_shape(m, NULL, 2, od, 8, &nd, &err);
    pxs_nn_model_free(m);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(nd, 2);
    CHECK_EQ_INT(od[0], 2);
    CHECK_EQ_INT(od[1], 3);
}

PXS_TEST(nn_op_concat_softmax) {
    /* Concat on axis 1 of x and a constant, then Softmax */
    float x[2 * 3], c[2 * 2] = {0.5f, -1.f, 2.f, 0.f}, y[2 * 5];
    fill(x, 6);
    for (int opset = 11; opset <= 13; opset += 2) {
        struct ob ob = {{0}, opset};
        int64_t xd[2] = {2, 3}, cd[2] = {2, 2};
        ob_input(&ob, "x", 2, xd);
        ob_init_f32(&ob, "c", 2, cd, c);
        struct pbw a = {0};
        attr_i(&a, "axis", 1);
        ob_node(&ob, "Concat", "x,c", "k", &a);
        pbw_free(&a);
        ob_node(&ob, "Softmax", "k", "y", NULL); /* default axis: 1 (opset 11) / -1 (13): same for 2-D */
        ob_output(&ob, "y");
        struct pbw mb;
        ob_finish(&ob, &mb);
        struct pxs_err err = {0};
        size_t n;
        int rc = run_model(&mb, x, 2, y, 10, &n, &err, 1);
        pbw_free(&mb);
        CHECK_OK(rc, &err);
        for (int r = 0; r < 2; r++) {
            float row[5] = {x[r * 3], x[r * 3 + 1], x[r * 3 + 2], c[r * 2], c[r * 2 + 1]};
            double s = 0;
            for (int j = 0; j < 5; j++) s += exp(row[j]);
            for (int j = 0; j < 5; j++) CHECK_NEAR(y[r * 5 + j], exp(row[j]) / s, 1e-6);
        }
    }
    /* 3-D: opset 11 axis=1 normalises over the flattened [1:], opset 13 over axis 1 only */
    float x3[1 * 2 * 2] = {1.f, 2.f, 3.f, 4.f}, y3[4];
    int64_t xd3[3] = {1, 2, 2};
    struct pxs_err err = {0};
    size_t n;
    struct pbw a = {0};
    attr_i(&a, "axis", 1);
    CHECK_OK(unary_graph(11, "Softmax", 3, xd3, x3, &a, y3, 4, &n, &err), &err);
    double s = exp(1) + exp(2) + exp(3) + exp(4);
    CHECK_NEAR(y3[0], exp(1) / s, 1e-6);
    CHECK_NEAR(y3[3], exp(4) / s, 1e-6);
    CHECK_OK(unary_graph(13, "Softmax", 3, xd3, x3, &a, y3, 4, &n, &err), &err);
    pbw_free(&a);
    CHECK_NEAR(y3[0], exp(1) / (exp(1) + exp(3)), 1e-6);
    CHECK_NEAR(y3[1], exp(2) / (exp(2) + exp(4)), 1e-6);
}

PXS_TEST(nn_op_pad_modes) {
    float x[1 * 1 * 2 * 3] = {1, 2, 3, 4, 5, 6}, y[64];
    int64_t xd[4] = {1, 1, 2, 3}, pads[8] = {0, 0, 1, 2, 0, 0, 0, 1}, eight = 8;
    static const char *modes[3] = {"constant", "reflect", "edge"};
    static const float want[3][3 * 6] = {
        {9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9},
        {6, 5, 4, 5, 6, 5, 3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5},
        {1, 1, 1, 2, 3, 3, 1, 1, 1, 2, 3, 3, 4, 4, 4, 5, 6, 6},
    };
    for (int mi = 0; mi < 3; mi++) {
        struct ob ob = {{0}, 13};
        float val = 9.f;
        ob_input(&ob, "x", 4, xd);
        ob_init_i64(&ob, "pads", 1, &eight, pads);
        ob_init_f32(&ob, "v", 0, NULL, &val);
        struct pbw a = {0};
        attr_s(&a, "mode", modes[mi]);
        ob_node(&ob, "Pad", mi == 0 ? "x,pads,v" : "x,pads", "y", &a);
        pbw_free(&a);
        ob_output(&ob, "y");
        struct pbw mb;
        ob_finish(&ob, &mb);
        struct pxs_err err = {0};
        size_t n;
        int rc = run_model(&mb, x, 1, y, 64, &n, &err, 1);
        pbw_free(&mb);
        CHECK_OK(rc, &err);
        CHECK_EQ_INT(n, 18);
        for (int i = 0; i < 18; i++) CHECK_MSG(y[i] == want[mi][i], "%s [%d]: %g vs %g", modes[mi], i, y[i], want[mi][i]);
    }
}

PXS_TEST(nn_op_batchnorm_standalone) {
    float x[2 * 2 * 3], y[12], s[2] = {2.f, 0.5f}, b[2] = {1.f, -1.f}, mean[2] = {0.5f, 0.f}, var[2] = {4.f, 1.f};
    fill(x, 12);
    struct ob ob = {{0}, 13};
    int64_t xd[3] = {2, 2, 3}, cd[1] = {2};
    ob_input(&ob, "x", 3, xd);
    ob_init_f32(&ob, "s", 1, cd, s);
    ob_init_f32(&ob, "b", 1, cd, b);
    ob_init_f32(&ob, "m", 1, cd, mean);
    ob_init_f32(&ob, "v", 1, cd, var);
    ob_node(&ob, "BatchNormalization", "x,s,b,m,v", "y", NULL);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    struct pxs_err err = {0};
    size_t n;
    int rc = run_model(&mb, x, 2, y, 12, &n, &err, 1);
    pbw_free(&mb);
    CHECK_OK(rc, &err);
    for (int i = 0; i < 12; i++) {
        int c = (i / 3) % 2;
        CHECK_NEAR(y[i], (x[i] - mean[c]) / sqrtf(var[c] + 1e-5f) * s[c] + b[c], 1e-5);
    }
}

/* Slice (negative step, clamped ends), Split, Gather on data, Cast in a shape
 * chain, Max/Min/Pow, Exp/Neg/Sqrt, LogSoftmax, ReduceSum/ReduceMax */
PXS_TEST(nn_op_slice_split_gather_misc) {
    float x[2 * 6], y[64];
    for (int i = 0; i < 12; i++) x[i] = (float)i + 1.f;
    int64_t xd[2] = {2, 6}, three = 3, one = 1;
    struct pxs_err err = {0};
    size_t n;
    /* Slice axis 1, starts 5, ends -100 (clamped), step -2 -> cols 5,3,1 */
    {
        struct ob ob = {{0}, 13};
        int64_t st = 5, en = -100, ax = 1, sp = -2;
        ob_input(&ob, "x", 2, xd);
        ob_init_i64(&ob, "st", 1, &one, &st);
        ob_init_i64(&ob, "en", 1, &one, &en);
        ob_init_i64(&ob, "ax", 1, &one, &ax);
        ob_init_i64(&ob, "sp", 1, &one, &sp);
        ob_node(&ob, "Slice", "x,st,en,ax,sp", "y", NULL);
        ob_output(&ob, "y");
        struct pbw mb;
        ob_finish(&ob, &mb);
        int rc = run_model(&mb, x, 2, y, 64, &n, &err, 1);
        pbw_free(&mb);
        CHECK_OK(rc, &err);
        CHECK_EQ_INT(n, 6);
        static const float want[6] = {6, 4, 2, 12, 10, 8};
        for (int i = 0; i < 6; i++) CHECK_NEAR(y[i], want[i], 0);
    }
    /* Split [2,6] axis 1 into 1,2,3 (input form); output the last part via Concat(c,a) */
    {
        struct ob ob = {{0}, 13};
        int64_t parts[3] = {1, 2, 3};
        ob_input(&ob, "x", 2, xd);
        ob_init_i64(&ob, "parts", 1, &three, parts);
        struct pbw a = {0};
        attr_i(&a, "axis", 1);
        ob_node(&ob, "Split", "x,parts", "a,b,c", &a);
        ob_node(&ob, "Concat", "c,a", "y", &a);
        pbw_free(&a);
        ob_output(&ob, "y");
        struct pbw mb;
        ob_finish(&ob, &mb);
        int rc = run_model(&mb, x, 2, y, 64, &n, &err, 1);
        pbw_free(&mb);
        CHECK_OK(rc, &err);
        CHECK_EQ_INT(n, 8);
        static const float want[8] = {4, 5, 6, 1, 10, 11, 12, 7};
        for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], want[i], 0);
    }
    /* Gather columns {5,-6,2} of x (axis 1); then Max with a constant, Pow 2 */
    {
        struct ob ob = {{0}, 13};
        int64_t idx[3] = {5, -6, 2};
        float c3[3] = {3.f, 3.f, 3.f}, two = 2.f;
        ob_input(&ob, "x", 2, xd);
        ob_init_i64(&ob, "idx", 1, &three, idx);
        ob_init_f32(&ob, "c3", 1, &three, c3);
        ob_init_f32(&ob, "two", 0, NULL, &two);
        struct pbw a = {0};
        attr_i(&a, "axis", 1);
        ob_node(&ob, "Gather", "x,idx", "g", &a);
        pbw_free(&a);
        ob_node(&ob, "Max", "g,c3", "mx", NULL);
        ob_node(&ob, "Pow", "mx,two", "y", NULL);
        ob_output(&ob, "y");
        struct pbw mb;
        ob_finish(&ob, &mb);
        int rc = run_model(&mb, x, 2, y, 64, &n, &err, 1);
        pbw_free(&mb);
        CHECK_OK(rc, &err);
        CHECK_EQ_INT(n, 6);
        static const float want[6] = {36, 9, 9, 144, 49, 81};
        for (int i = 0; i < 6; i++) CHECK_NEAR(y[i], want[i], 1e-4);
    }
    /* Shape -> Cast(float) -> Cast(int64) -> Reshape: [2,6] -> [2,6] via float round trip; then
     * Neg, Exp, Sqrt, LogSoftmax(axis 1), ReduceSum(axes input, opset 13), ReduceMax */
    {
        struct ob ob = {{0}, 13};
        ob_input(&ob, "x", 2, xd);
        ob_node(&ob, "Shape", "x", "s", NULL);
        struct pbw a = {0};
        attr_i(&a, "to", 1);
        ob_node(&ob, "Cast", "s", "sf", &a);
        pbw_free(&a);
        attr_i(&a, "to", 7);
        ob_node(&ob, "Cast", "sf", "si", &a);
        pbw_free(&a);
        ob_node(&ob, "Reshape", "x,si", "r", NULL);
        ob_node(&ob, "Neg", "r", "ng", NULL);
        ob_node(&ob, "Exp", "ng", "e", NULL);
        ob_node(&ob, "Sqrt", "e", "q", NULL); /* exp(-x/2) */
        ob_node(&ob, "LogSoftmax", "q", "ls", NULL);
        ob_init_i64(&ob, "ax1", 1, &one, &one);
        attr_i(&a, "keepdims", 0);
        ob_node(&ob, "ReduceSum", "ls,ax1", "y", &a);
        pbw_free(&a);
        ob_output(&ob, "y");
        struct pbw mb;
        ob_finish(&ob, &mb);
        int rc = run_model(&mb, x, 2, y, 64, &n, &err, 1);
        pbw_free(&mb);
        CHECK_OK(rc, &err);
        CHECK_EQ_INT(n, 2);
        for (int r = 0; r < 2; r++) {
            double q[6], mx = -1e30, s = 0, want = 0;
            for (int j = 0; j < 6; j++) {
                q[j] = exp(-x[r * 6 + j] / 2.0);
                mx = q[j] > mx ? q[j] : mx;
            }
            for (int j = 0; j < 6; j++) s += exp(q[j] - mx);
            for (int j = 0; j < 6; j++) want += q[j] - mx - log(s);
            CHECK_NEAR(y[r], want, 1e-4);
        }
    }
    {
        struct pbw a = {0};
        int64_t ax[1] = {0};
        attr_ints(&a, "axes", 1, ax);
        CHECK_OK(unary_graph(13, "ReduceMax", 2, xd, x, &a, y, 64, &n, &err), &err);
        pbw_free(&a);
        CHECK_EQ_INT(n, 6);
        for (int j = 0; j < 6; j++) CHECK_NEAR(y[j], x[6 + j], 0);
    }
}
