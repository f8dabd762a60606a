/*
 * test_precision.c — the engine's inference precision (precision.c): a
 * --precision choice becomes the collection's default, a later open
 * without one uses it, another choice replaces it, a read-only open does
 * not write it, and a bad value is refused. What actually runs is
 * pxs_embedder_precision: bf16 where the CPU has it, else fp32 with a note.
 */
#include "../test.h"
#include "engine/engine_int.h"

static int open_at(const char *dir, const char *model, const char *precision, int read_only, pxs_engine **e,
                   struct pxs_err *err) {
    struct pxs_engine_opts o = {.data_dir = dir, .model_path = model, .model_config = "models/mobilenet_v2_embed.onnx.json",
                                .threads = 1, .precision = precision, .read_only = read_only};
    return pxs_engine_open(&o, e, err);
}

PXS_TEST(engine_precision_remembered) {
    const char *mp = pxs_test_shared("models/mobilenet_v2_embed.onnx");
    SKIP_IF(!mp, "no shared MobileNetV2");
    char model[1024], dir[1100];
    snprintf(model, sizeof model, "%s", mp);
    snprintf(dir, sizeof dir, "%s/prec", pxs_test_tmpdir());
    struct pxs_err err = {0};
    pxs_engine *e = NULL;
    struct pxs_engine_stats st;

    CHECK_OK(open_at(dir, model, NULL, 0, &e, &err), &err);
    CHECK_OK(pxs_engine_stats(e, &st, &err), &err);
    pxs_engine_close(e);
    CHECK_STR(st.precision, "fp32");
    CHECK_STR(st.precision_default, "fp32");

    CHECK_OK(open_at(dir, model, "bf16", 0, &e, &err), &err);
    const char *runs = pxs_embedder_precision(e->emb), *note = pxs_embedder_precision_note(e->emb);
    CHECK_MSG((!strcmp(runs, "bf16") && !note) || (!strcmp(runs, "fp32") && note), "runs %s, note %s", runs,
              note ? note : "(none)");
    printf("    bf16 requested: runs %s%s%s\n", runs, note ? ", " : "", note ? note : "");
    pxs_engine_close(e);

    /* remembered: an open without a choice asks for bf16 again */
    CHECK_OK(open_at(dir, NULL, NULL, 1, &e, &err), &err);
    CHECK_OK(pxs_engine_stats(e, &st, &err), &err);
    CHECK_STR(e->precision, "bf16");
    CHECK_STR(st.precision_default, "bf16");
    CHECK_STR(st.precision, runs);
    pxs_engine_close(e);

    /* a read-only open at fp32 runs fp32 and leaves the default alone */
    CHECK_OK(open_at(dir, NULL, "fp32", 1, &e, &err), &err);
    CHECK_OK(pxs_engine_stats(e, &st, &err), &err);
    CHECK_STR(st.precision, "fp32");
    CHECK_STR(st.precision_default, "bf16");
    pxs_engine_close(e);

    /* a writable open at fp32 replaces it */
    CHECK_OK(open_at(dir, NULL, "fp32", 0, &e, &err), &err);
    pxs_engine_close(e);
    CHECK_OK(open_at(dir, NULL, NULL, 1, &e, &err), &err);
    CHECK_OK(pxs_engine_stats(e, &st, &err), &err);
    pxs_engine_close(e);
    CHECK_STR(st.precision_default, "fp32");

    CHECK_EQ_INT(open_at(dir, NULL, "int8", 0, &e, &err), PXS_EINVAL);
    CHECK_MSG(strstr(err.msg, "fp32 or bf16") != NULL, "message: %s", err.msg);
}
