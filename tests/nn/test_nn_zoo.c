/*
 * test_nn_zoo.c — torchvision CNNs with random weights exported by
 * scripts/export_test_models.py (resnet18, mobilenet_v3_small, squeezenet,
 * shufflenet, efficientnet_b0, densenet121, googlenet, vgg16 features)
 * against torch's outputs: max |diff| <= 1e-4 * max |reference| + 1e-6.
 * The directory is $PXS_NN_MODELS_DIR or /tmp/pxs_nn_models; the test is
 * skipped when it is absent. Under ASan ($PXS_NN_ZOO_SMALL=1) only the
 * cheaper models run.
 */
#include <stdlib.h>

#include "../test.h"
#include "pixseek/nn.h"

/* Every model the export script is expected to write (each at opsets 11
 * and 13); a missing one fails the test once the directory exists. */
static const char *zoo_names[] = {"resnet18",        "resnet50",          "mobilenet_v2",
                                  "mobilenet_v3_large", "mobilenet_v3_small", "squeezenet1_1",
                                  "shufflenet_v2_x0_5", "efficientnet_b0",  "densenet121",
                                  "googlenet",       "vgg16_features"};
static const int zoo_opsets[] = {11, 13};

static int zoo_one(const char *dir, const char *name, char *msg, size_t msg_cap) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/shape.txt", dir, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(msg, msg_cap, "%s: not exported (no shape.txt)", name);
        return -1;
    }
    int N = 0, C = 0, H = 0, W = 0, OUT = 0;
    int got_fields = fscanf(f, "%d %d %d %d %d", &N, &C, &H, &W, &OUT);
    fclose(f);
    if (got_fields != 5 || N < 1 || OUT < 1) {
        snprintf(msg, msg_cap, "%s: bad shape.txt", name);
        return -1;
    }
    char *in = NULL, *want = NULL;
    size_t in_len = 0, want_len = 0;
    struct pxs_err err = {0};
    snprintf(path, sizeof path, "%s/%s/input.f32", dir, name);
    int rc = pxs_file_read_all(path, (size_t)1 << 30, &in, &in_len, &err);
    snprintf(path, sizeof path, "%s/%s/output.f32", dir, name);
    if (!rc) rc = pxs_file_read_all(path, (size_t)1 << 30, &want, &want_len, &err);
    pxs_nn_model *m = NULL;
    struct pxs_nn_load_opts o;
    pxs_nn_load_opts_init(&o);
    o.threads = 2;
    snprintf(path, sizeof path, "%s/%s/model.onnx", dir, name);
    if (!rc) rc = pxs_nn_model_load(path, &o, &m, &err);
    float *out = calloc((size_t)N * (size_t)OUT, sizeof(float));
    size_t got = 0;
    double t0 = pxs_now_seconds();
    if (!rc) rc = pxs_nn_run(m, (const float *)(void *)in, N, NULL, out, (size_t)N * OUT, &got, &err);
    double dt = pxs_now_seconds() - t0;
    int result = 0;
    if (rc) {
        snprintf(msg, msg_cap, "%s: %s", name, err.msg);
        result = -1;
    } else if (got != (size_t)N * OUT || want_len != got * 4) {
        snprintf(msg, msg_cap, "%s: %zu floats, want %zu", name, got, want_len / 4);
        result = -1;
    } else {
        const float *w = (const float *)(void *)want;
        double md = 0, mx = 0;
        for (size_t i = 0; i < got; i++) {
            md = fmax(md, fabs((double)out[i] - w[i]));
            mx = fmax(mx, fabs((double)w[i]));
        }
        struct pxs_nn_stats st;
        pxs_nn_model_stats(m, &st);
        printf("    %-20s max diff %.3g (scale %.3g)  %d/%d nodes  %.2f GFLOP/item  %.0f ms/batch %d\n", name, md,
               mx, st.n_nodes, st.n_nodes_onnx, st.flops_per_item / 1e9, dt * 1e3, N);
        if (!(md <= 1e-4 * mx + 1e-6)) {
            snprintf(msg, msg_cap, "%s: max diff %g > 1e-4 * %g", name, md, mx);
            result = -1;
        }
    }
    pxs_nn_model_free(m);
    pxs_free(in);
    pxs_free(want);
    free(out);
    return result;
}

PXS_TEST(nn_zoo_torchvision) {
    const char *dir = getenv("PXS_NN_MODELS_DIR");
    if (!dir) dir = "/tmp/pxs_nn_models";
    char probe[1024];
    snprintf(probe, sizeof probe, "%s/resnet18_op13/shape.txt", dir);
    FILE *f = fopen(probe, "r");
    SKIP_IF(!f, "%s absent (run scripts/export_test_models.py)", dir);
    fclose(f);
    int small = getenv("PXS_NN_ZOO_SMALL") != NULL;
    int failed = 0;
    char msg[512] = "";
    for (size_t j = 0; j < sizeof zoo_names / sizeof zoo_names[0] * 2; j++) {
        size_t i = j / 2;
        if (small && strcmp(zoo_names[i], "mobilenet_v3_small") != 0 &&
            strcmp(zoo_names[i], "shufflenet_v2_x0_5") != 0)
            continue;
        char name[96], one[512] = "";
        snprintf(name, sizeof name, "%s_op%d", zoo_names[i], zoo_opsets[j % 2]);
        if (zoo_one(dir, name, one, sizeof one) < 0) {
            printf("    FAIL %s\n", one);
            if (!failed) snprintf(msg, sizeof msg, "%s", one);
            failed++;
        }
    }
    CHECK_MSG(failed == 0, "%d models failed, first: %s", failed, msg);
}
