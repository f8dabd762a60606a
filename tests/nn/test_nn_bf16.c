/*
 * test_nn_bf16.c — the reduced-precision mode (pxs_nn_load_opts.precision =
 * PXS_NN_BF16): on a CPU with native bf16 (AVX512-BF16 or AMX, oneDNN
 * backend) the embeddings of the reference MobileNetV2 (dog test vector) and
 * of torchvision zoo models (scripts/export_test_models.py) stay within
 * cosine 0.999 of fp32 and are not bit-identical to it (bf16 really ran);
 * elsewhere those tests are skipped with the reason the model reports. The
 * fallback (PXS_NN_BACKEND=native) runs fp32 exactly and says why.
 */
#include <stdlib.h>

#include "../test.h"
#include "pixseek/nn.h"

struct bf16_pair {
    float *fp32, *bf16;
    size_t n;
    const char *precision; /* what the bf16 request ran */
    const char *note;
};

static double cosine(const float *a, const float *b, size_t n) {
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    return dot / (sqrt(na) * sqrt(nb) + 1e-30);
}

/* Run `path` on `batch` items at fp32 and at bf16 (1 thread: the oneDNN
 * backend needs no OpenMP wait policy then). */
static int run_both(const char *path, const float *in, int batch, struct bf16_pair *r, struct pxs_err *err) {
    memset(r, 0, sizeof *r);
    for (int k = 0; k < 2; k++) {
        struct pxs_nn_load_opts o;
        pxs_nn_load_opts_init(&o);
        o.threads = 1;
        o.precision = k ? PXS_NN_BF16 : PXS_NN_FP32;
        pxs_nn_model *m = NULL;
        int rc = pxs_nn_model_load(path, &o, &m, err);
        int64_t dims[PXS_NN_MAX_DIMS];
        int nd = 0;
        if (!rc) rc = pxs_nn_model_output_shape(m, NULL, batch, dims, PXS_NN_MAX_DIMS, &nd, err);
        size_t n = 1;
        for (int i = 0; !rc && i < nd; i++) n *= (size_t)dims[i];
        float *out = rc ? NULL : calloc(n, sizeof(float));
        size_t got = 0;
        if (!rc) rc = pxs_nn_run(m, in, batch, NULL, out, n, &got, err);
        if (!rc && k) {
            struct pxs_nn_stats st;
            pxs_nn_model_stats(m, &st);
            r->precision = st.precision;
            r->note = st.precision_note;
        }
        pxs_nn_model_free(m);
        if (rc) {
            free(out);
            free(r->fp32);
            r->fp32 = NULL;
            return rc;
        }
        *(k ? &r->bf16 : &r->fp32) = out;
        r->n = n;
    }
    return PXS_OK;
}

static float *read_shared_f32(const char *rel, size_t *n) {
    const char *path = pxs_test_shared(rel);
    char *buf;
    size_t len;
    if (!path || pxs_file_read_all(path, (size_t)1 << 28, &buf, &len, NULL) != PXS_OK) return NULL;
    *n = len / 4;
    return (float *)(void *)buf;
}

/* The reference MobileNetV2's path (into model) and the dog input tensor;
 * NULL when ../shared lacks them. */
static float *dog_input(char *model, size_t cap) {
    const char *mp = pxs_test_shared("models/mobilenet_v2_embed.onnx");
    if (!mp) return NULL;
    snprintf(model, cap, "%s", mp);
    size_t nin = 0;
    float *in = read_shared_f32("models/testvectors/dog_input_1x3x224x224.f32", &nin);
    if (in && nin != 3 * 224 * 224) {
        pxs_free(in);
        return NULL;
    }
    return in;
}

PXS_TEST(nn_bf16_mobilenet_v2_dog) {
    char model[1024];
    float *in = dog_input(model, sizeof model);
    SKIP_IF(!in, "models/mobilenet_v2_embed.onnx or its test vectors not found");
    struct pxs_err err = {0};
    struct bf16_pair r;
    int rc = run_both(model, in, 1, &r, &err);
    pxs_free(in);
    CHECK_OK(rc, &err);
    int same = r.n && !memcmp(r.fp32, r.bf16, r.n * sizeof(float));
    double cs = cosine(r.fp32, r.bf16, r.n);
    free(r.fp32);
    free(r.bf16);
    SKIP_IF(strcmp(r.precision, "bf16") != 0, "no native bf16 here (%s)", r.note ? r.note : "?");
    printf("    mobilenet_v2 dog: bf16 vs fp32 cosine %.6f\n", cs);
    CHECK_MSG(r.note == NULL, "bf16 ran but a note says '%s'", r.note);
    CHECK_MSG(!same, "bf16 output is bit-identical to fp32: bf16 did not run");
    CHECK_MSG(cs >= 0.999, "cosine %.6f < 0.999", cs);
}

/* Zoo models from scripts/export_test_models.py (see test_nn_zoo.c). */
PXS_TEST(nn_bf16_zoo) {
    static const char *names[] = {"resnet18_op13",           "resnet50_op13",        "mobilenet_v2_op13",
                                  "mobilenet_v3_large_op13", "efficientnet_b0_op13", "densenet121_op13"};
    const char *dir = getenv("PXS_NN_MODELS_DIR");
    if (!dir) dir = "/tmp/pxs_nn_models";
    char path[1024];
    snprintf(path, sizeof path, "%s/resnet18_op13/shape.txt", dir);
    FILE *f = fopen(path, "r");
    SKIP_IF(!f, "%s absent (run scripts/export_test_models.py)", dir);
    fclose(f);
    int failed = 0, skipped = 0;
    char msg[512] = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s/shape.txt", dir, names[i]);
        f = fopen(path, "r");
        int N = 0, C = 0, H = 0, W = 0, OUT = 0;
        int fields = f ? fscanf(f, "%d %d %d %d %d", &N, &C, &H, &W, &OUT) : 0;
        if (f) fclose(f);
        char *in = NULL;
        size_t in_len = 0;
        struct pxs_err err = {0};
        struct bf16_pair r = {0};
        int rc = fields == 5 && N >= 1 ? PXS_OK : PXS_ENOTFOUND;
        snprintf(path, sizeof path, "%s/%s/input.f32", dir, names[i]);
        if (!rc) rc = pxs_file_read_all(path, (size_t)1 << 30, &in, &in_len, &err);
        if (!rc && in_len != (size_t)N * C * H * W * 4) rc = PXS_ECORRUPT;
        snprintf(path, sizeof path, "%s/%s/model.onnx", dir, names[i]);
        if (!rc) rc = run_both(path, (const float *)(void *)in, N, &r, &err);
        pxs_free(in);
        if (rc) {
            printf("    FAIL %s: %s\n", names[i], err.msg);
            if (!failed++) snprintf(msg, sizeof msg, "%s: %s", names[i], err.msg);
            continue;
        }
        if (strcmp(r.precision, "bf16") != 0) {
            skipped++;
        } else {
            size_t per = r.n / (size_t)N;
            double worst = 1;
            for (int b = 0; b < N; b++) {
                double c = cosine(r.fp32 + (size_t)b * per, r.bf16 + (size_t)b * per, per);
                worst = c < worst ? c : worst;
            }
            int same = !memcmp(r.fp32, r.bf16, r.n * sizeof(float));
            printf("    %-24s bf16 vs fp32 worst cosine over %d items %.6f\n", names[i], N, worst);
            if (same || !(worst >= 0.999)) {
                if (!failed++)
                    snprintf(msg, sizeof msg, "%s: %s (cosine %.6f)", names[i],
                             same ? "bit-identical to fp32" : "cosine < 0.999", worst);
            }
        }
        free(r.fp32);
        free(r.bf16);
        if (skipped) {
            SKIP_IF(1, "no native bf16 here (%s)", r.note ? r.note : "?");
        }
    }
    CHECK_MSG(failed == 0, "%d models failed, first: %s", failed, msg);
}

/* A bf16 request the backend cannot serve natively runs fp32 — the same
 * numbers as an fp32 model — and says why. */
PXS_TEST(nn_bf16_fallback_native_backend) {
    char model[1024];
    float *in = dog_input(model, sizeof model);
    SKIP_IF(!in, "models/mobilenet_v2_embed.onnx or its test vectors not found");
    const char *old = getenv("PXS_NN_BACKEND");
    char saved[64] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("PXS_NN_BACKEND", "native", 1);
    struct pxs_err err = {0};
    struct bf16_pair r;
    int rc = run_both(model, in, 1, &r, &err);
    if (old) setenv("PXS_NN_BACKEND", saved, 1);
    else unsetenv("PXS_NN_BACKEND");
    pxs_free(in);
    CHECK_OK(rc, &err);
    int same = !memcmp(r.fp32, r.bf16, r.n * sizeof(float));
    free(r.fp32);
    free(r.bf16);
    CHECK_STR(r.precision, "fp32");
    CHECK_MSG(r.note && strstr(r.note, "PXS_NN_BACKEND=native"), "note: %s", r.note ? r.note : "(none)");
    CHECK_MSG(same, "fallback output differs from fp32");
}

PXS_TEST(nn_precision_names) {
    int p = -1;
    struct pxs_err err = {0};
    CHECK_OK(pxs_nn_precision_parse("bf16", &p, &err), &err);
    CHECK_EQ_INT(p, PXS_NN_BF16);
    CHECK_OK(pxs_nn_precision_parse("fp32", &p, &err), &err);
    CHECK_EQ_INT(p, PXS_NN_FP32);
    CHECK_EQ_INT(pxs_nn_precision_parse("int8", &p, &err), PXS_EINVAL);
    CHECK_MSG(strstr(err.msg, "fp32 or bf16") != NULL, "message: %s", err.msg);
    CHECK_EQ_INT(pxs_nn_precision_parse(NULL, &p, NULL), PXS_EINVAL);
    CHECK_STR(pxs_nn_precision_name(PXS_NN_BF16), "bf16");
    CHECK_MSG(pxs_nn_precision_name(7) == NULL, "name of precision 7");
    /* an unknown precision is refused at load, before the file is read */
    struct pxs_nn_load_opts o;
    pxs_nn_load_opts_init(&o);
    o.precision = 7;
    pxs_nn_model *m = NULL;
    CHECK_EQ_INT(pxs_nn_model_load_buffer("", 0, NULL, &o, &m, &err), PXS_EINVAL);
    CHECK_MSG(m == NULL, "model returned");
}
