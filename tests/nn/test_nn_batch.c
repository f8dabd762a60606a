/*
 * test_nn_batch.c — item-parallel batches (model.c runs a batch as
 * independent batch-1 passes spread over the threads) against
 * layer-by-layer runs of the same batch: same outputs for a conv net
 * (small in-memory graph, the shared MobileNetV2 and a zoo model when
 * present), and graphs that mix batch items (Softmax over axis 0, a
 * Transpose moving the batch axis, a batch-independent constant output)
 * must still be computed layer by layer.
 */
#include <stdlib.h>

#include "../test.h"
#include "nn/nn_int.h"
#include "onnx_build.h"
#include "pixseek/nn.h"

static uint32_t bt_rng = 777;
static float bt_rand(void) {
    bt_rng = bt_rng * 1664525u + 1013904223u;
    return (float)((bt_rng >> 8) & 0xffff) / 32768.f - 1.f;
}

/* Run m at `batch` with item mode on and off; returns the max abs diff (or
 * -1 with *rc set on error). */
static double item_vs_layer(pxs_nn_model *m, const float *x, int batch, size_t out_cap, int *rc,
                            struct pxs_err *err) {
    float *a = calloc(out_cap, sizeof(float)), *b = calloc(out_cap, sizeof(float));
    size_t na = 0, nb = 0;
    m->item_mode = 1;
    *rc = pxs_nn_run(m, x, batch, NULL, a, out_cap, &na, err);
    if (!*rc) {
        m->item_mode = 0;
        *rc = pxs_nn_run(m, x, batch, NULL, b, out_cap, &nb, err);
        m->item_mode = 1;
    }
    double md = -1;
    if (!*rc && na == nb) {
        md = 0;
        for (size_t i = 0; i < na; i++) {
            double d = fabs((double)a[i] - b[i]);
            if (d > md || d != d) md = d != d ? 1e30 : d;
        }
    }
    free(a);
    free(b);
    return md;
}

/* x [N,4,9,9] -> Conv 3x3 (8) + Relu -> depthwise 3x3 s2 -> Conv 1x1 (6)
 * -> GlobalAveragePool -> Flatten: [N,6] */
static void conv_net(struct pbw *mb) {
    static float w1[8 * 4 * 9], w2[8 * 9], w3[6 * 8], b3[6];
    for (size_t i = 0; i < sizeof w1 / 4; i++) w1[i] = bt_rand();
    for (size_t i = 0; i < sizeof w2 / 4; i++) w2[i] = bt_rand();
    for (size_t i = 0; i < sizeof w3 / 4; i++) w3[i] = bt_rand();
    for (size_t i = 0; i < sizeof b3 / 4; i++) b3[i] = bt_rand();
    struct ob ob = {{0}, 13};
    int64_t xd[4] = {-1, 4, 9, 9}, d1[4] = {8, 4, 3, 3}, d2[4] = {8, 1, 3, 3}, d3[4] = {6, 8, 1, 1}, db[1] = {6};
    ob_input(&ob, "x", 4, xd);
    ob_init_f32(&ob, "w1", 4, d1, w1);
    ob_init_f32(&ob, "w2", 4, d2, w2);
    ob_init_f32(&ob, "w3", 4, d3, w3);
    ob_init_f32(&ob, "b3", 1, db, b3);
    struct pbw a = {0};
    int64_t pads[4] = {1, 1, 1, 1}, s2[2] = {2, 2};
    attr_ints(&a, "pads", 4, pads);
    ob_node(&ob, "Conv", "x,w1", "c1", &a);
    pbw_free(&a);
    ob_node(&ob, "Relu", "c1", "r1", NULL);
    attr_ints(&a, "pads", 4, pads);
    attr_ints(&a, "strides", 2, s2);
    attr_i(&a, "group", 8);
    ob_node(&ob, "Conv", "r1,w2", "c2", &a);
    pbw_free(&a);
    ob_node(&ob, "Conv", "c2,w3,b3", "c3", NULL);
    ob_node(&ob, "GlobalAveragePool", "c3", "g", NULL);
    ob_node(&ob, "Flatten", "g", "y", NULL);
    ob_output(&ob, "y");
    ob_finish(&ob, mb);
}

PXS_TEST(nn_batch_items_match_layers) {
    struct pbw mb;
    conv_net(&mb);
    float x[16 * 4 * 81];
    for (size_t i = 0; i < sizeof x / 4; i++) x[i] = bt_rand();
    for (int threads = 1; threads <= 3; threads++) {
        struct pxs_nn_load_opts o;
        pxs_nn_load_opts_init(&o);
        o.threads = threads;
        pxs_nn_model *m = NULL;
        struct pxs_err err = {0};
        CHECK_OK(pxs_nn_model_load_buffer(mb.d, mb.len, NULL, &o, &m, &err), &err);
        static const int batches[] = {2, 3, 4, 5, 16, 1};
        for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
            int rc;
            double md = item_vs_layer(m, x, batches[bi], 16 * 6, &rc, &err);
            if (rc) pxs_nn_model_free(m);
            CHECK_OK(rc, &err);
            CHECK_MSG(md >= 0 && md <= 1e-5, "threads %d batch %d: diff %g", threads, batches[bi], md);
        }
        /* every item equals the item run alone */
        float all[16 * 6], one[6];
        size_t n;
        int rc = pxs_nn_run(m, x, 16, NULL, all, 16 * 6, &n, &err);
        for (int i = 0; i < 16 && !rc; i++) {
            rc = pxs_nn_run(m, x + (size_t)i * 4 * 81, 1, NULL, one, 6, &n, &err);
            for (int j = 0; j < 6 && !rc; j++) CHECK_NEAR(one[j], all[i * 6 + j], 1e-6);
        }
        pxs_nn_model_free(m);
        CHECK_OK(rc, &err);
    }
    pbw_free(&mb);
}

/* Graphs whose items interact: the result must be the layer-by-layer one. */
PXS_TEST(nn_batch_cross_item_graphs_run_by_layer) {
    float x[4 * 3] = {1, 2, 3, 0, -1, 5, 2, 2, 2, -3, 0.5f, 1}, y[32];
    int64_t xd[2] = {-1, 3};
    struct pxs_err err = {0};
    size_t n;
    for (int threads = 1; threads <= 2; threads++) {
        struct pxs_nn_load_opts o;
        pxs_nn_load_opts_init(&o);
        o.threads = threads;
        /* Softmax over the batch axis */
        struct ob ob = {{0}, 13};
        struct pbw a = {0}, mb;
        ob_input(&ob, "x", 2, xd);
        attr_i(&a, "axis", 0);
        ob_node(&ob, "Softmax", "x", "y", &a);
        pbw_free(&a);
        ob_output(&ob, "y");
        ob_finish(&ob, &mb);
        pxs_nn_model *m = NULL;
        CHECK_OK(pxs_nn_model_load_buffer(mb.d, mb.len, NULL, &o, &m, &err), &err);
        pbw_free(&mb);
        int rc = pxs_nn_run(m, x, 4, NULL, y, 32, &n, &err);
        pxs_nn_model_free(m);
        CHECK_OK(rc, &err);
        CHECK_EQ_INT(n, 12);
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int i = 0; i < 4; i++) s += exp(x[i * 3 + j]);
            for (int i = 0; i < 4; i++) CHECK_NEAR(y[i * 3 + j], exp(x[i * 3 + j]) / s, 1e-6);
        }
        /* Transpose [N,3] -> [3,N] then Relu */
        struct ob o2 = {{0}, 13};
        int64_t perm[2] = {1, 0};
        ob_input(&o2, "x", 2, xd);
        attr_ints(&a, "perm", 2, perm);
        ob_node(&o2, "Transpose", "x", "t", &a);
        pbw_free(&a);
        ob_node(&o2, "Relu", "t", "y", NULL);
        ob_output(&o2, "y");
        ob_finish(&o2, &mb);
        CHECK_OK(pxs_nn_model_load_buffer(mb.d, mb.len, NULL, &o, &m, &err), &err);
        pbw_free(&mb);
        rc = pxs_nn_run(m, x, 4, NULL, y, 32, &n, &err);
        pxs_nn_model_free(m);
        CHECK_OK(rc, &err);
        CHECK_EQ_INT(n, 12);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++) CHECK_NEAR(y[j * 4 + i], fmaxf(x[i * 3 + j], 0), 0);
        /* ReduceMean over axis 0 (keepdims): [1,3] whatever the batch */
        struct ob o3 = {{0}, 13};
        int64_t ax[1] = {0}, one = 1;
        ob_input(&o3, "x", 2, xd);
        attr_ints(&a, "axes", 1, ax);
        attr_i(&a, "keepdims", one);
        ob_node(&o3, "ReduceMean", "x", "s", &a);
        pbw_free(&a);
        ob_node(&o3, "Relu", "s", "y", NULL);
        ob_output(&o3, "y");
        ob_finish(&o3, &mb);
        m = NULL;
        rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, &o, &m, &err);
        pbw_free(&mb);
        if (rc == PXS_OK) {
            rc = pxs_nn_run(m, x, 4, NULL, y, 32, &n, &err);
            pxs_nn_model_free(m);
            CHECK_OK(rc, &err);
            CHECK_EQ_INT(n, 3);
            for (int j = 0; j < 3; j++) {
                float s = (x[j] + x[3 + j] + x[6 + j] + x[9 + j]) / 4;
                CHECK_NEAR(y[j], fmaxf(s, 0), 1e-5);
            }
        } else {
            CHECK_MSG(rc == PXS_EUNSUPPORTED, "ReduceMean: %s", err.msg);
            pxs_err_clear(&err);
        }
    }
}

static float *bt_read(const char *path, size_t *n) {
    char *buf;
    size_t len;
    if (pxs_file_read_all(path, (size_t)1 << 28, &buf, &len, NULL) != PXS_OK) return NULL;
    *n = len / 4;
    return (float *)(void *)buf;
}

static void real_model(const char *path, int C, int H, int W, size_t out_item, int batch) {
    struct pxs_err err = {0};
    size_t per = (size_t)C * H * W;
    float *x = malloc(per * (size_t)batch * sizeof(float));
    for (size_t i = 0; i < per * (size_t)batch; i++) x[i] = bt_rand();
    for (int threads = 1; threads <= 2; threads++) {
        struct pxs_nn_load_opts o;
        pxs_nn_load_opts_init(&o);
        o.threads = threads;
        pxs_nn_model *m = NULL;
        int rc = pxs_nn_model_load(path, &o, &m, &err);
        double md = -1;
        if (!rc) md = item_vs_layer(m, x, batch, out_item * (size_t)batch, &rc, &err);
        pxs_nn_model_free(m);
        if (rc) free(x);
        CHECK_OK(rc, &err);
        printf("    %s threads %d batch %d: item vs layer max diff %.3g\n", path, threads, batch, md);
        CHECK_MSG(md >= 0 && md <= 1e-4, "%s threads %d: diff %g", path, threads, md);
    }
    free(x);
}

PXS_TEST(nn_batch_items_real_models) {
    const char *mp = pxs_test_shared("models/mobilenet_v2_embed.onnx");
    const char *zoo = getenv("PXS_NN_MODELS_DIR");
    if (!zoo) zoo = "/tmp/pxs_nn_models";
    char zp[1024];
    snprintf(zp, sizeof zp, "%s/mobilenet_v3_small/model.onnx", zoo);
    size_t dummy;
    float *probe = bt_read(zp, &dummy);
    int have_zoo = probe != NULL;
    pxs_free(probe);
    SKIP_IF(!mp && !have_zoo, "no shared MobileNetV2 and no zoo export");
    if (mp) {
        char path[1024];
        snprintf(path, sizeof path, "%s", mp);
        real_model(path, 3, 224, 224, 1280, getenv("PXS_NN_ZOO_SMALL") ? 2 : 4);
    }
    if (have_zoo) real_model(zp, 3, 224, 224, 100, 4);
}
