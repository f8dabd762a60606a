/*
 * infer_bench.c — pixseek nn inference throughput for bench/infer.sh.
 *
 *   infer_bench MODEL.onnx THREADS BATCH [SECONDS [fp32|bf16]]
 *
 * Loads the model with `threads` workers, runs it twice to warm up (plans
 * and allocates the arena for `batch`), then times rounds of runs for about
 * SECONDS (default 2) and reports the best round (best-of-N is the least
 * disturbed by other processes on a shared machine). The input is a
 * deterministic pseudo-image of the model's input shape. Prints one line:
 *
 *   RESULT pixseek threads=T batch=B precision=P img_s=X ms_per_batch=Y rss_mb=Z cpu_ms_img=C runs=R
 *
 * precision is what actually ran (a bf16 request on a CPU without native
 * bf16 runs fp32 and says why on stderr).
 *
 * rss_mb is the process's peak resident set (getrusage ru_maxrss);
 * cpu_ms_img is the process CPU time (user + sys, all threads) per image
 * over all timed runs: less sensitive than img_s to other load on the
 * machine, and with T threads T * 1000 / cpu_ms_img is the throughput the
 * run would reach with T idle cores and no spin-waiting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/time.h>

#include "pixseek/nn.h"

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           (double)ru.ru_stime.tv_usec * 1e-6;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.onnx THREADS BATCH [SECONDS [fp32|bf16]]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int threads = atoi(argv[2]), batch = atoi(argv[3]);
    double budget = argc > 4 ? atof(argv[4]) : 2.0;
    if (threads < 1 || batch < 1 || budget <= 0) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    struct pxs_nn_load_opts o;
    pxs_nn_load_opts_init(&o);
    o.threads = threads;
    struct pxs_err err = {0};
    if (argc > 5 && pxs_nn_precision_parse(argv[5], &o.precision, &err) != PXS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    pxs_nn_model *m = NULL;
    double tl = pxs_now_seconds();
    if (pxs_nn_model_load(path, &o, &m, &err) != PXS_OK) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 1;
    }
    tl = pxs_now_seconds() - tl;
    struct pxs_nn_stats st;
    pxs_nn_model_stats(m, &st);
    if (st.precision_note) fprintf(stderr, "note: bf16 unavailable (%s): running fp32\n", st.precision_note);
    int64_t dims[PXS_NN_MAX_DIMS];
    int nd = pxs_nn_model_input_shape(m, dims, PXS_NN_MAX_DIMS);
    size_t per_item = 1;
    for (int i = 1; i < nd && i < PXS_NN_MAX_DIMS; i++) per_item *= (size_t)(dims[i] > 0 ? dims[i] : 1);
    int64_t odims[PXS_NN_MAX_DIMS];
    int ond = 0;
    if (pxs_nn_model_output_shape(m, NULL, batch, odims, PXS_NN_MAX_DIMS, &ond, &err) != PXS_OK) {
        fprintf(stderr, "output shape: %s\n", err.msg);
        pxs_nn_model_free(m);
        return 1;
    }
    size_t out_n = 1;
    for (int i = 0; i < ond && i < PXS_NN_MAX_DIMS; i++) out_n *= (size_t)odims[i];
    size_t in_n = per_item * (size_t)batch;
    float *in = malloc(in_n * sizeof(float)), *out = malloc(out_n * sizeof(float));
    if (!in || !out) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint32_t s = 12345;
    for (size_t i = 0; i < in_n; i++) {
        s = s * 1664525u + 1013904223u;
        in[i] = (float)(s >> 8) / (float)(1u << 24) * 4.f - 2.f;
    }
    size_t got = 0;
    double tw = pxs_now_seconds();
    for (int i = 0; i < 2; i++)
        if (pxs_nn_run(m, in, batch, NULL, out, out_n, &got, &err) != PXS_OK) {
            fprintf(stderr, "run: %s\n", err.msg);
            return 1;
        }
    double one = (pxs_now_seconds() - tw) / 2;
    /* rounds of ~0.25 s (at least one run each) within the budget */
    int per_round = one > 0 ? (int)(0.25 / one) : 1;
    if (per_round < 1) per_round = 1;
    double best = 1e30, t_end = pxs_now_seconds() + budget, c0 = cpu_seconds();
    long runs = 0;
    do {
        double t0 = pxs_now_seconds();
        for (int i = 0; i < per_round; i++)
            if (pxs_nn_run(m, in, batch, NULL, out, out_n, &got, &err) != PXS_OK) {
                fprintf(stderr, "run: %s\n", err.msg);
                return 1;
            }
        double dt = (pxs_now_seconds() - t0) / per_round;
        if (dt < best) best = dt;
        runs += per_round;
    } while (pxs_now_seconds() < t_end);
    double cpu = cpu_seconds() - c0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double chk = 0;
    for (size_t i = 0; i < out_n; i++) chk += out[i];
    printf("# pixseek: load %.3f s, kernel %s, %.2f GFLOP/item, %d nodes, arena %.1f MB/item, checksum %.6g\n",
           tl, st.kernel, st.flops_per_item / 1e9, st.n_nodes, (double)st.arena_bytes / 1e6, chk);
    printf("RESULT pixseek threads=%d batch=%d precision=%s img_s=%.1f ms_per_batch=%.3f rss_mb=%.1f "
           "cpu_ms_img=%.3f runs=%ld\n",
           threads, batch, st.precision, batch / best, best * 1e3, (double)ru.ru_maxrss / 1024.0, cpu * 1e3 / ((double)runs * batch),
           runs);
    pxs_nn_model_free(m);
    free(in);
    free(out);
    return 0;
}
