/*
 * test_nn_model.c — the reference MobileNetV2 models from ../shared/models
 * against their onnxruntime/torch test vectors (embedding and logits), batch
 * consistency, thread-count consistency, and a timing line for the record.
 * Skipped when the shared files are absent.
 */
#include <stdlib.h>

#include "pixseek/nn.h"
#include "../test.h"

static float *read_f32(const char *rel, size_t *n) {
    const char *path = pxs_test_shared(rel);
    if (!path) return NULL;
    char *buf;
    size_t len;
    if (pxs_file_read_all(path, (size_t)1 << 28, &buf, &len, NULL) != PXS_OK) return NULL;
    *n = len / 4;
    return (float *)(void *)buf;
}

static void compare(const float *got, const float *want, size_t n, double *maxdiff, double *cosine) {
    double dot = 0, na = 0, nb = 0, md = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        md = d > md ? d : md;
        dot += (double)got[i] * want[i];
        na += (double)got[i] * got[i];
        nb += (double)want[i] * want[i];
    }
    *maxdiff = md;
    *cosine = dot / (sqrt(na) * sqrt(nb) + 1e-30);
}

static void run_ref(const char *model_rel, const char *want_rel, size_t want_n, int threads) {
    const char *mp = pxs_test_shared(model_rel);
    SKIP_IF(!mp, "%s not found", model_rel);
    char model_path[1024];
    snprintf(model_path, sizeof model_path, "%s", mp);
    size_t nin = 0, nwant = 0;
    float *in = read_f32("models/testvectors/dog_input_1x3x224x224.f32", &nin);
    float *want = read_f32(want_rel, &nwant);
    if (!in || !want) {
        pxs_free(in);
        pxs_free(want);
        SKIP_IF(1, "test vectors not found");
    }
    struct pxs_err err = {0};
    struct pxs_nn_load_opts o;
    pxs_nn_load_opts_init(&o);
    o.threads = threads;
    pxs_nn_model *m = NULL;
    int rc = pxs_nn_model_load(model_path, &o, &m, &err);
    if (rc != PXS_OK) {
        pxs_free(in);
        pxs_free(want);
    }
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(nin, 3 * 224 * 224);
    CHECK_EQ_INT(nwant, want_n);
    int64_t dims[8];
    CHECK_EQ_INT(pxs_nn_model_input_shape(m, dims, 8), 4);
    CHECK_EQ_INT(dims[0], -1);
    CHECK_EQ_INT(dims[1], 3);
    CHECK_STR(pxs_nn_model_input_name(m), "input");
    int nd = 0;
    CHECK_OK(pxs_nn_model_output_shape(m, NULL, 2, dims, 8, &nd, &err), &err);
    CHECK_EQ_INT(nd, 2);
    CHECK_EQ_INT(dims[0], 2);
    CHECK_EQ_INT(dims[1], (int64_t)want_n);

    struct pxs_nn_stats st;
    pxs_nn_model_stats(m, &st);
    printf("    %d steps (%d ONNX nodes), %.1f MFLOP/item, arena %.2f MB/item (%.2f MB without reuse), kernel %s\n",
           st.n_nodes, st.n_nodes_onnx, st.flops_per_item / 1e6, st.arena_bytes / 1e6, st.naive_bytes / 1e6,
           st.kernel);
    float *out = calloc(want_n * 2, sizeof(float));
    float *in2 = malloc(nin * 2 * sizeof(float));
    size_t got = 0;
    double md, cs;
    rc = pxs_nn_run(m, in, 1, NULL, out, want_n, &got, &err);
    if (rc == PXS_OK) {
        compare(out, want, want_n, &md, &cs);
        printf("    %s (threads %d): max abs diff %.3g, cosine %.9f\n", model_rel, threads, md, cs);
    }
    int ok1 = rc == PXS_OK && got == want_n && md <= 1e-4 && cs >= 0.99999;
    /* batch of 2: same result for each item */
    memcpy(in2, in, nin * sizeof(float));
    memcpy(in2 + nin, in, nin * sizeof(float));
    int rc2 = pxs_nn_run(m, in2, 2, NULL, out, want_n * 2, &got, &err);
    double md2 = 1, cs2 = 0, md3 = 1, cs3 = 0;
    if (rc2 == PXS_OK) {
        compare(out, want, want_n, &md2, &cs2);
        compare(out + want_n, want, want_n, &md3, &cs3);
    }
    /* too small an output buffer */
    int rc3 = pxs_nn_run(m, in, 1, NULL, out, want_n - 1, &got, NULL);
    int rc4 = pxs_nn_run(m, in, 1, "nope", out, want_n, &got, NULL);
    pxs_nn_model_free(m);
    free(out);
    free(in2);
    pxs_free(in);
    pxs_free(want);
    CHECK_OK(rc, &err);
    CHECK_MSG(ok1, "reference mismatch: max diff %g cosine %.9f", md, cs);
    CHECK_OK(rc2, &err);
    CHECK_MSG(md2 <= 1e-4 && md3 <= 1e-4 && cs2 >= 0.99999 && cs3 >= 0.99999, "batch 2 mismatch %g %g", md2, md3);
    CHECK_EQ_INT(rc3, PXS_ELIMIT);
    CHECK_EQ_INT(rc4, PXS_ENOTFOUND);
}

PXS_TEST(nn_mobilenet_v2_embedding) {
    run_ref("models/mobilenet_v2_embed.onnx", "models/testvectors/dog_mobilenet_v2_embedding_1280.f32", 1280, 1);
}

PXS_TEST(nn_mobilenet_v2_logits) {
    run_ref("models/mobilenet_v2_classifier.onnx", "models/testvectors/dog_mobilenet_v2_logits_1000.f32", 1000, 2);
}

/* Throughput, printed for the record (not asserted). PXS_NN_BENCH=1 runs
 * the longer measurement. */
PXS_TEST(nn_mobilenet_v2_speed) {
    const char *mp = pxs_test_shared("models/mobilenet_v2_embed.onnx");
    SKIP_IF(!mp, "model not found");
    SKIP_IF(!getenv("PXS_NN_BENCH"), "set PXS_NN_BENCH=1 to measure img/s");
    char model_path[1024];
    snprintf(model_path, sizeof model_path, "%s", mp);
    static const int batches[] = {1, 16};
    float *in = calloc((size_t)16 * 3 * 224 * 224, sizeof(float));
    float *out = calloc((size_t)16 * 1280, sizeof(float));
    CHECK(in && out);
    for (size_t i = 0; i < (size_t)16 * 3 * 224 * 224; i++) in[i] = (float)((i * 2654435761u) % 1000) / 500.f - 1.f;
    for (int threads = 1; threads <= 2; threads++) {
        struct pxs_nn_load_opts o;
        pxs_nn_load_opts_init(&o);
        o.threads = threads;
        pxs_nn_model *m = NULL;
        struct pxs_err err = {0};
        CHECK_OK(pxs_nn_model_load(model_path, &o, &m, &err), &err);
        for (size_t bi = 0; bi < 2; bi++) {
            int b = batches[bi];
            size_t got;
            CHECK_OK(pxs_nn_run(m, in, b, NULL, out, (size_t)16 * 1280, &got, &err), &err);
            int iters = b == 1 ? 30 : 4;
            double t0 = pxs_now_seconds();
            for (int it = 0; it < iters; it++) CHECK_OK(pxs_nn_run(m, in, b, NULL, out, (size_t)16 * 1280, &got, &err), &err);
            double dt = pxs_now_seconds() - t0;
            printf("    mobilenet_v2 threads=%d batch=%d: %.1f img/s\n", threads, b, (double)iters * b / dt);
        }
        pxs_nn_model_free(m);
    }
    free(in);
    free(out);
}
