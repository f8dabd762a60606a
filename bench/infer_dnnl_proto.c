/*
 * infer_dnnl_proto.c — oneDNN (libdnnl, C API) timing of the ResNet50 and
 * MobileNetV2 convolution layer shapes at batch 1, fp32, to decide whether
 * oneDNN's kernels are worth a conv backend in src/nn (see README,
 * "Inference runtime"). Not part of the build; compile and run with
 *
 *   cc -O2 -fopenmp bench/infer_dnnl_proto.c -ldnnl -o /tmp/dnnl_proto
 *   /tmp/dnnl_proto THREADS [plain|nhwc|blocked] [ROUNDS]
 *
 * plain:   src/dst NCHW, weights reordered once to what oneDNN asks for.
 * nhwc:    src/dst NHWC (channels last, no channel padding).
 * blocked: src/dst format_tag any (oneDNN picks nChw16c/...), as they would
 *          be if activations stayed blocked across consecutive convs.
 * Each layer gets fused bias + ReLU. Prints per-layer best-of-ROUNDS ms,
 * the implementation oneDNN chose, and the per-model sum (layers weighted
 * by how often they occur), plus the process CPU ms per image.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>

#define CHK(x)                                                                                   \
    do {                                                                                         \
        dnnl_status_t s_ = (x);                                                                  \
        if (s_ != dnnl_success) {                                                                \
            fprintf(stderr, "%s:%d: %s -> %d\n", __FILE__, __LINE__, #x, (int)s_);               \
            exit(1);                                                                             \
        }                                                                                        \
    } while (0)

struct layer {
    const char *model;
    int count, C, M, H, K, stride, group;
};

/* ResNet50 (torchvision v1.5: stride in the 3x3) and MobileNetV2 layer shapes, batch 1, 224x224. */
static const struct layer layers[] = {
    {"resnet50", 1, 3, 64, 224, 7, 2, 1},
    {"resnet50", 1, 64, 64, 56, 1, 1, 1},     {"resnet50", 3, 64, 64, 56, 3, 1, 1},
    {"resnet50", 4, 64, 256, 56, 1, 1, 1},    {"resnet50", 2, 256, 64, 56, 1, 1, 1},
    {"resnet50", 1, 256, 128, 56, 1, 1, 1},   {"resnet50", 1, 128, 128, 56, 3, 2, 1},
    {"resnet50", 1, 256, 512, 56, 1, 2, 1},   {"resnet50", 4, 128, 512, 28, 1, 1, 1},
    {"resnet50", 3, 512, 128, 28, 1, 1, 1},   {"resnet50", 3, 128, 128, 28, 3, 1, 1},
    {"resnet50", 1, 512, 256, 28, 1, 1, 1},   {"resnet50", 1, 256, 256, 28, 3, 2, 1},
    {"resnet50", 1, 512, 1024, 28, 1, 2, 1},  {"resnet50", 6, 256, 1024, 14, 1, 1, 1},
    {"resnet50", 5, 1024, 256, 14, 1, 1, 1},  {"resnet50", 5, 256, 256, 14, 3, 1, 1},
    {"resnet50", 1, 1024, 512, 14, 1, 1, 1},  {"resnet50", 1, 512, 512, 14, 3, 2, 1},
    {"resnet50", 1, 1024, 2048, 14, 1, 2, 1}, {"resnet50", 3, 512, 2048, 7, 1, 1, 1},
    {"resnet50", 2, 2048, 512, 7, 1, 1, 1},   {"resnet50", 2, 512, 512, 7, 3, 1, 1},
    /* MobileNetV2: a depthwise + pointwise pair at three resolutions */
    {"mnv2", 1, 144, 144, 56, 3, 1, 144},     {"mnv2", 1, 144, 24, 56, 1, 1, 1},
    {"mnv2", 1, 384, 384, 14, 3, 1, 384},     {"mnv2", 1, 384, 64, 14, 1, 1, 1},
    {"mnv2", 1, 960, 960, 7, 3, 1, 960},      {"mnv2", 1, 960, 160, 7, 1, 1, 1},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

static dnnl_memory_t alloc_mem(const dnnl_memory_desc_t *md, dnnl_engine_t eng) {
    dnnl_memory_t m;
    CHK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    void *p;
    CHK(dnnl_memory_get_data_handle(m, &p));
    size_t n = dnnl_memory_desc_get_size(md) / 4;
    for (size_t i = 0; i < n; i++) ((float *)p)[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    return m;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int blocked = argc > 2 && strcmp(argv[2], "plain") != 0;
    int nhwc = argc > 2 && !strcmp(argv[2], "nhwc");
    int rounds = argc > 3 ? atoi(argv[3]) : 20;
    omp_set_num_threads(threads);
    const dnnl_version_t *v = dnnl_version();
    printf("oneDNN %d.%d.%d (%s) cpu_runtime=%s isa=%#x threads=%d layout=%s\n", v->major, v->minor, v->patch,
           v->hash, v->cpu_runtime == DNNL_RUNTIME_OMP ? "omp" : "other", (unsigned)dnnl_get_effective_cpu_isa(),
           threads, nhwc ? "nhwc" : blocked ? "blocked" : "plain");
    dnnl_engine_t eng;
    dnnl_stream_t st;
    CHK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHK(dnnl_stream_create(&st, eng, dnnl_stream_default_flags));
    double sum_rn = 0, sum_mn = 0, cpu_rn = 0, cpu_mn = 0;
    for (size_t li = 0; li < sizeof layers / sizeof layers[0]; li++) {
        const struct layer *L = &layers[li];
        int pad = L->K / 2, OH = (L->H + 2 * pad - L->K) / L->stride + 1;
        dnnl_dims_t sd = {1, L->C, L->H, L->H}, dd = {1, L->M, OH, OH}, bd = {L->M};
        dnnl_dims_t wd = {L->M, L->C / L->group, L->K, L->K}, gwd = {L->group, L->M / L->group, L->C / L->group, L->K, L->K};
        dnnl_dims_t strides = {L->stride, L->stride}, pads = {pad, pad};
        dnnl_memory_desc_t s_md, d_md, w_md, b_md, w_user_md, s_user_md;
        dnnl_format_tag_t act = nhwc ? dnnl_nhwc : blocked ? dnnl_format_tag_any : dnnl_nchw;
        CHK(dnnl_memory_desc_init_by_tag(&s_md, 4, sd, dnnl_f32, act));
        CHK(dnnl_memory_desc_init_by_tag(&s_user_md, 4, sd, dnnl_f32, dnnl_nchw));
        CHK(dnnl_memory_desc_init_by_tag(&d_md, 4, dd, dnnl_f32, act));
        CHK(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_x));
        if (L->group > 1) {
            CHK(dnnl_memory_desc_init_by_tag(&w_md, 5, gwd, dnnl_f32, dnnl_format_tag_any));
            CHK(dnnl_memory_desc_init_by_tag(&w_user_md, 5, gwd, dnnl_f32, dnnl_goihw));
        } else {
            CHK(dnnl_memory_desc_init_by_tag(&w_md, 4, wd, dnnl_f32, dnnl_format_tag_any));
            CHK(dnnl_memory_desc_init_by_tag(&w_user_md, 4, wd, dnnl_f32, dnnl_oihw));
        }
        dnnl_convolution_desc_t cd;
        CHK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &s_md, &w_md,
                                               &b_md, &d_md, strides, pads, pads));
        dnnl_post_ops_t po;
        CHK(dnnl_post_ops_create(&po));
        CHK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        dnnl_primitive_attr_t attr;
        CHK(dnnl_primitive_attr_create(&attr));
        CHK(dnnl_primitive_attr_set_post_ops(attr, po));
        dnnl_primitive_desc_t pd;
        CHK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
        const char *impl = "?";
        CHK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
        const dnnl_memory_desc_t *ps = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        const dnnl_memory_desc_t *pw = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *pdst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        const dnnl_memory_desc_t *pscr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        dnnl_memory_t src = alloc_mem(ps, eng), dst = alloc_mem(pdst, eng), bias = alloc_mem(&b_md, eng);
        dnnl_memory_t wu = alloc_mem(&w_user_md, eng), w = alloc_mem(pw, eng), scr = alloc_mem(pscr, eng);
        /* weights reordered once (at load in a real backend) */
        dnnl_primitive_desc_t rpd;
        dnnl_primitive_t rp;
        CHK(dnnl_reorder_primitive_desc_create(&rpd, &w_user_md, eng, pw, eng, NULL));
        CHK(dnnl_primitive_create(&rp, rpd));
        dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, wu}, {DNNL_ARG_TO, w}};
        CHK(dnnl_primitive_execute(rp, st, 2, rargs));
        /* blocked mode: an NCHW->blocked reorder of the input (the cost of
         * entering the blocked domain once per model) timed separately */
        double reorder_ms = 0;
        dnnl_primitive_t ip = NULL;
        dnnl_memory_t su = NULL;
        if (blocked && !dnnl_memory_desc_equal(ps, &s_user_md)) {
            dnnl_primitive_desc_t ipd;
            CHK(dnnl_reorder_primitive_desc_create(&ipd, &s_user_md, eng, ps, eng, NULL));
            CHK(dnnl_primitive_create(&ip, ipd));
            su = alloc_mem(&s_user_md, eng);
            dnnl_primitive_desc_destroy(ipd);
        }
        dnnl_primitive_t prim;
        CHK(dnnl_primitive_create(&prim, pd));
        dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src},       {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, bias},
                                   {DNNL_ARG_DST, dst},       {DNNL_ARG_SCRATCHPAD, scr}};
        double best = 1e9, cpu0 = cpu_now();
        for (int r = 0; r < rounds + 2; r++) {
            if (r == 2) cpu0 = cpu_now();
            double t = now();
            CHK(dnnl_primitive_execute(prim, st, 5, args));
            CHK(dnnl_stream_wait(st));
            t = now() - t;
            if (r >= 2 && t < best) best = t;
        }
        double cpu_ms = (cpu_now() - cpu0) * 1e3 / rounds;
        if (ip) {
            dnnl_exec_arg_t iargs[2] = {{DNNL_ARG_FROM, su}, {DNNL_ARG_TO, src}};
            reorder_ms = 1e9;
            for (int r = 0; r < 10; r++) {
                double t = now();
                CHK(dnnl_primitive_execute(ip, st, 2, iargs));
                CHK(dnnl_stream_wait(st));
                t = now() - t;
                if (t * 1e3 < reorder_ms) reorder_ms = t * 1e3;
            }
        }
        double gflop = 2.0 * L->M * OH * OH * (double)(L->C / L->group) * L->K * L->K * 1e-9;
        printf("%-8s x%d C=%4d M=%4d H=%3d K=%d s=%d g=%3d  %7.3f ms (cpu %7.3f) %6.1f GF/s  nchw->blk %.3f ms  %s\n",
               L->model, L->count, L->C, L->M, L->H, L->K, L->stride, L->group, best * 1e3, cpu_ms,
               gflop / best, reorder_ms, impl);
        if (!strcmp(L->model, "resnet50")) {
            sum_rn += best * 1e3 * L->count;
            cpu_rn += cpu_ms * L->count;
        } else {
            sum_mn += best * 1e3 * L->count;
            cpu_mn += cpu_ms * L->count;
        }
        dnnl_primitive_destroy(prim);
        dnnl_primitive_destroy(rp);
        dnnl_primitive_desc_destroy(rpd);
        if (ip) dnnl_primitive_destroy(ip);
        if (su) dnnl_memory_destroy(su);
        dnnl_primitive_desc_destroy(pd);
        dnnl_primitive_attr_destroy(attr);
        dnnl_post_ops_destroy(po);
        dnnl_memory_destroy(src);
        dnnl_memory_destroy(dst);
        dnnl_memory_destroy(bias);
        dnnl_memory_destroy(wu);
        dnnl_memory_destroy(w);
        dnnl_memory_destroy(scr);
    }
    printf("SUM resnet50 convs: %.2f ms wall (cpu %.2f ms)   mnv2 dw+pw pairs: %.3f ms (cpu %.3f)\n", sum_rn, cpu_rn,
           sum_mn, cpu_mn);
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return 0;
}
