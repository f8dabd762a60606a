/*
 * test_nn_load.c — hostile and malformed models: truncation at many offsets,
 * random garbage, unknown operator, absurd dims, mismatched data sizes,
 * unsafe external-data paths, cycles; plus the protobuf reader edge cases
 * and differential tests of the SIMD GEMM micro-kernels against the scalar
 * twin (habit 14).
 */
#include <stdlib.h>

#include "../test.h"
#include "nn/nn_int.h"
#include "onnx_build.h"
#include "pixseek/nn.h"

/* A small valid model: Conv(3x3) -> Relu -> GlobalAveragePool -> Flatten -> Gemm */
static void small_model(struct pbw *out) {
    struct ob ob = {{0}, 13};
    int64_t xd[4] = {-1, 2, 6, 6}, wd[4] = {4, 2, 3, 3}, bd[1] = {4}, gd[2] = {3, 4}, gb[1] = {3};
    float w[72], b[4], g[12], gbias[3];
    for (int i = 0; i < 72; i++) w[i] = (float)((i * 37) % 11) / 11.f - 0.5f;
    for (int i = 0; i < 4; i++) b[i] = 0.1f * (float)i;
    for (int i = 0; i < 12; i++) g[i] = (float)i / 12.f;
    for (int i = 0; i < 3; i++) gbias[i] = (float)i;
    ob_input(&ob, "x", 4, xd);
    ob_init_f32(&ob, "w", 4, wd, w);
    ob_init_f32(&ob, "b", 1, bd, b);
    ob_init_f32(&ob, "g", 2, gd, g);
    ob_init_f32(&ob, "gb", 1, gb, gbias);
    struct pbw a = {0};
    int64_t pads[4] = {1, 1, 1, 1};
    attr_ints(&a, "pads", 4, pads);
    ob_node(&ob, "Conv", "x,w,b", "c", &a);
    pbw_free(&a);
    ob_node(&ob, "Relu", "c", "r", NULL);
    ob_node(&ob, "GlobalAveragePool", "r", "p", NULL);
    ob_node(&ob, "Flatten", "p", "f", NULL);
    attr_i(&a, "transB", 1);
    ob_node(&ob, "Gemm", "f,g,gb", "y", &a);
    pbw_free(&a);
    ob_output(&ob, "y");
    ob_finish(&ob, out);
}

PXS_TEST(nn_load_small_model_runs) {
    struct pbw mb;
    small_model(&mb);
    struct pxs_err err = {0};
    pxs_nn_model *m = NULL;
    int rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err);
    pbw_free(&mb);
    CHECK_OK(rc, &err);
    float x[2 * 72], y[6];
    for (int i = 0; i < 144; i++) x[i] = (float)(i % 7) - 3.f;
    size_t n;
    rc = pxs_nn_run(m, x, 2, NULL, y, 6, &n, &err);
    size_t n_ok = n;
    int rc_bad_batch = pxs_nn_run(m, x, 0, NULL, y, 6, &n, NULL);
    pxs_nn_model_free(m);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(n_ok, 6);
    CHECK_EQ_INT(rc_bad_batch, PXS_EINVAL);
}

PXS_TEST(nn_load_truncated_everywhere) {
    struct pbw mb;
    small_model(&mb);
    int ok_count = 0;
    for (size_t cut = 0; cut < mb.len; cut++) {
        struct pxs_err err = {0};
        pxs_nn_model *m = NULL;
        /* copy so ASan catches reads past the cut */
        uint8_t *buf = malloc(cut ? cut : 1);
        memcpy(buf, mb.d, cut);
        int rc = pxs_nn_model_load_buffer(buf, cut, NULL, NULL, &m, &err);
        free(buf);
        if (rc == PXS_OK) {
            ok_count++;
            pxs_nn_model_free(m);
            continue;
        }
        CHECK_MSG(rc < 0 && err.msg[0], "cut %zu: rc %d without message", cut, rc);
    }
    pbw_free(&mb);
    /* a prefix can only be valid if it ends on a field boundary and keeps the graph */
    CHECK(ok_count < 5);
}

PXS_TEST(nn_load_random_garbage) {
    uint32_t s = 99;
    for (int t = 0; t < 300; t++) {
        size_t len = (size_t)(t * 7 % 300) + 1;
        uint8_t *buf = malloc(len);
        for (size_t i = 0; i < len; i++) {
            s = s * 1103515245u + 12345u;
            buf[i] = (uint8_t)(s >> 16);
        }
        struct pxs_err err = {0};
        pxs_nn_model *m = NULL;
        int rc = pxs_nn_model_load_buffer(buf, len, NULL, NULL, &m, &err);
        free(buf);
        pxs_nn_model_free(m);
        CHECK_MSG(rc < 0, "garbage %d accepted", t);
    }
    /* flip bytes of a valid model */
    struct pbw mb;
    small_model(&mb);
    for (size_t i = 0; i < mb.len; i += 3) {
        uint8_t *buf = malloc(mb.len);
        memcpy(buf, mb.d, mb.len);
        buf[i] ^= (uint8_t)(0x5a + i);
        pxs_nn_model *m = NULL;
        int rc = pxs_nn_model_load_buffer(buf, mb.len, NULL, NULL, &m, NULL);
        if (rc == PXS_OK) {
            float x[72] = {0}, y[3];
            size_t n;
            int rr = pxs_nn_run(m, x, 1, NULL, y, 3, &n, NULL);
            (void)rr;
        }
        pxs_nn_model_free(m);
        free(buf);
    }
    pbw_free(&mb);
}

PXS_TEST(nn_load_unknown_op) {
    struct ob ob = {{0}, 13};
    int64_t xd[2] = {1, 4};
    ob_input(&ob, "x", 2, xd);
    ob_node(&ob, "Relu", "x", "r", NULL);
    ob_node(&ob, "FrobnicateV2", "r", "y", NULL);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    struct pxs_err err = {0};
    pxs_nn_model *m = NULL;
    int rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err);
    pbw_free(&mb);
    CHECK_EQ_INT(rc, PXS_EUNSUPPORTED);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "FrobnicateV2") != NULL);
    CHECK(strstr(err.msg, "node 'y'") != NULL);
}

PXS_TEST(nn_load_absurd_dims) {
    /* an initializer claiming 2^40 elements with 16 bytes of data */
    struct ob ob = {{0}, 13};
    int64_t xd[2] = {1, 4}, big[2] = {(int64_t)1 << 20, (int64_t)1 << 20};
    ob_input(&ob, "x", 2, xd);
    struct pbw t = {0};
    float four[4] = {1, 2, 3, 4};
    ob_tensor(&t, "w", 1, 2, big, four, sizeof four);
    pbw_msg(&ob.g, 5, &t);
    pbw_free(&t);
    ob_node(&ob, "Add", "x,w", "y", NULL);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    struct pxs_err err = {0};
    pxs_nn_model *m = NULL;
    int rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err);
    pbw_free(&mb);
    CHECK(rc == PXS_ECORRUPT || rc == PXS_ELIMIT);
    CHECK(err.msg[0]);

    /* dims whose product overflows size_t */
    struct ob o2 = {{0}, 13};
    int64_t huge[4] = {(int64_t)1 << 40, (int64_t)1 << 40, 1 << 20, 7};
    ob_input(&o2, "x", 2, xd);
    ob_tensor(&t, "w", 1, 4, huge, four, sizeof four);
    pbw_msg(&o2.g, 5, &t);
    pbw_free(&t);
    ob_node(&o2, "Add", "x,w", "y", NULL);
    ob_output(&o2, "y");
    ob_finish(&o2, &mb);
    pxs_err_clear(&err);
    rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err);
    pbw_free(&mb);
    CHECK_EQ_INT(rc, PXS_ELIMIT);

    /* a Reshape to a huge activation is refused by the memory limit */
    struct ob o3 = {{0}, 13};
    int64_t shp[3] = {1, 4, 1}, three = 3, xd3[2] = {-1, 4};
    ob_input(&o3, "x", 2, xd3);
    ob_init_i64(&o3, "shape", 1, &three, shp);
    ob_node(&o3, "Reshape", "x,shape", "r", NULL);
    struct pbw a = {0};
    int64_t pads[6] = {0, 0, 0, 0, 0, 1 << 20};
    int64_t six = 6;
    ob_init_i64(&o3, "pads", 1, &six, pads);
    ob_node(&o3, "Pad", "r,pads", "y", &a);
    ob_output(&o3, "y");
    ob_finish(&o3, &mb);
    struct pxs_nn_load_opts o;
    pxs_nn_load_opts_init(&o);
    o.max_arena_bytes = 1 << 20;
    pxs_err_clear(&err);
    rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, &o, &m, &err);
    pbw_free(&mb);
    CHECK_EQ_INT(rc, PXS_ELIMIT);
}

PXS_TEST(nn_load_data_size_mismatch_and_types) {
    struct ob ob = {{0}, 13};
    int64_t xd[2] = {1, 4}, wd[1] = {4};
    float three[3] = {1, 2, 3};
    ob_input(&ob, "x", 2, xd);
    struct pbw t = {0};
    ob_tensor(&t, "w", 1, 1, wd, three, sizeof three);
    pbw_msg(&ob.g, 5, &t);
    pbw_free(&t);
    ob_node(&ob, "Add", "x,w", "y", NULL);
    ob_output(&ob, "y");
    struct pbw mb;
    ob_finish(&ob, &mb);
    struct pxs_err err = {0};
    pxs_nn_model *m = NULL;
    int rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err);
    pbw_free(&mb);
    CHECK_EQ_INT(rc, PXS_ECORRUPT);
    CHECK(strstr(err.msg, "'w'") != NULL);

    /* FLOAT16 initializer: unsupported type, named */
    struct ob o2 = {{0}, 13};
    uint16_t h[4] = {0};
    ob_input(&o2, "x", 2, xd);
    ob_tensor(&t, "half", 10, 1, wd, h, sizeof h);
    pbw_msg(&o2.g, 5, &t);
    pbw_free(&t);
    ob_node(&o2, "Add", "x,half", "y", NULL);
    ob_output(&o2, "y");
    ob_finish(&o2, &mb);
    pxs_err_clear(&err);
    rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err);
    pbw_free(&mb);
    CHECK_EQ_INT(rc, PXS_EUNSUPPORTED);
    CHECK(strstr(err.msg, "FLOAT16") != NULL);
}

static void external_model(struct pbw *out, const char *location) {
    struct ob ob = {{0}, 13};
    int64_t xd[2] = {1, 4}, wd[1] = {4};
    ob_input(&ob, "x", 2, xd);
    struct pbw t = {0}, e = {0};
    pbw_int(&t, 1, wd[0]);
    pbw_int(&t, 2, 1);
    pbw_str(&t, 8, "w");
    pbw_str(&e, 1, "location");
    pbw_str(&e, 2, location);
    pbw_msg(&t, 13, &e);
    pbw_free(&e);
    pbw_str(&e, 1, "offset");
    pbw_str(&e, 2, "4");
    pbw_msg(&t, 13, &e);
    pbw_free(&e);
    pbw_int(&t, 14, 1);
    pbw_msg(&ob.g, 5, &t);
    pbw_free(&t);
    ob_node(&ob, "Add", "x,w", "y", NULL);
    ob_output(&ob, "y");
    ob_finish(&ob, out);
}

PXS_TEST(nn_load_external_data) {
    const char *dir = pxs_test_tmpdir();
    char path[1024];
    float data[5] = {0, 1, 2, 3, 4}; /* offset 4 bytes: w = {1,2,3,4} */
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    struct pxs_err err = {0};
    CHECK_OK(pxs_file_write_atomic(path, data, sizeof data, &err), &err);
    struct pbw mb;
    external_model(&mb, "weights.bin");
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    CHECK_OK(pxs_file_write_atomic(path, mb.d, mb.len, &err), &err);
    pxs_nn_model *m = NULL;
    CHECK_OK(pxs_nn_model_load(path, NULL, &m, &err), &err);
    float x[4] = {10, 20, 30, 40}, y[4];
    size_t n;
    int rc = pxs_nn_run(m, x, 1, NULL, y, 4, &n, &err);
    pxs_nn_model_free(m);
    CHECK_OK(rc, &err);
    CHECK_NEAR(y[0], 11, 0);
    CHECK_NEAR(y[3], 44, 0);
    /* from memory: refused */
    pxs_err_clear(&err);
    rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err);
    CHECK_EQ_INT(rc, PXS_EUNSUPPORTED);
    pbw_free(&mb);
    /* unsafe paths */
    static const char *bad[] = {"../weights.bin", "/etc/passwd", "a/../../b", ""};
    for (size_t i = 0; i < 4; i++) {
        external_model(&mb, bad[i]);
        pxs_err_clear(&err);
        rc = pxs_nn_model_load_buffer(mb.d, mb.len, dir, NULL, &m, &err);
        pbw_free(&mb);
        CHECK_MSG(rc == PXS_EPERM, "%s: rc %d", bad[i], rc);
    }
    /* missing file, and data past the end of the file */
    external_model(&mb, "nope.bin");
    pxs_err_clear(&err);
    rc = pxs_nn_model_load_buffer(mb.d, mb.len, dir, NULL, &m, &err);
    pbw_free(&mb);
    CHECK_EQ_INT(rc, PXS_EIO);
    snprintf(path, sizeof path, "%s/short.bin", dir);
    CHECK_OK(pxs_file_write_atomic(path, data, 8, &err), &err);
    external_model(&mb, "short.bin");
    pxs_err_clear(&err);
    rc = pxs_nn_model_load_buffer(mb.d, mb.len, dir, NULL, &m, &err);
    pbw_free(&mb);
    CHECK_EQ_INT(rc, PXS_ECORRUPT);
}

PXS_TEST(nn_load_cycle_and_undefined) {
    struct ob ob = {{0}, 13};
    int64_t xd[2] = {1, 4};
    ob_input(&ob, "x", 2, xd);
    ob_node(&ob, "Add", "x,b", "a", NULL);
    ob_node(&ob, "Relu", "a", "b", NULL);
    ob_output(&ob, "b");
    struct pbw mb;
    ob_finish(&ob, &mb);
    struct pxs_err err = {0};
    pxs_nn_model *m = NULL;
    int rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err);
    pbw_free(&mb);
    CHECK_EQ_INT(rc, PXS_ECORRUPT);
    CHECK(strstr(err.msg, "cycle") != NULL);
    struct ob o2 = {{0}, 13};
    ob_input(&o2, "x", 2, xd);
    ob_node(&o2, "Add", "x,ghost", "y", NULL);
    ob_output(&o2, "y");
    ob_finish(&o2, &mb);
    pxs_err_clear(&err);
    rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err);
    pbw_free(&mb);
    CHECK_EQ_INT(rc, PXS_ECORRUPT);
    CHECK(strstr(err.msg, "ghost") != NULL);
}

PXS_TEST(nn_pb_reader_bounds) {
    struct pxs_err err = {0};
    /* varint longer than 10 bytes */
    uint8_t v11[12] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    struct nn_pb r = {v11, v11 + sizeof v11};
    struct nn_pb_field f;
    CHECK(nn_pb_next(&r, &f, &err) < 0);
    /* length past the end */
    uint8_t ln[3] = {0x0a, 0x05, 0x00};
    r.p = ln;
    r.end = ln + 3;
    pxs_err_clear(&err);
    CHECK(nn_pb_next(&r, &f, &err) < 0);
    /* group wire type */
    uint8_t gr[2] = {0x0b, 0x00};
    r.p = gr;
    r.end = gr + 2;
    CHECK(nn_pb_next(&r, &f, NULL) < 0);
    /* truncated fixed32 */
    uint8_t f32[3] = {0x15, 0x00, 0x00};
    r.p = f32;
    r.end = f32 + 3;
    CHECK(nn_pb_next(&r, &f, NULL) < 0);
    /* good: field 1 varint 300, field 2 fixed64 */
    uint8_t ok[12] = {0x08, 0xac, 0x02, 0x11, 1, 2, 3, 4, 5, 6, 7, 8};
    r.p = ok;
    r.end = ok + 12;
    CHECK_EQ_INT(nn_pb_next(&r, &f, NULL), 1);
    CHECK_EQ_INT(f.num, 1);
    CHECK_EQ_INT(f.v, 300);
    CHECK_EQ_INT(nn_pb_next(&r, &f, NULL), 1);
    CHECK_EQ_INT(f.wire, NN_PB_I64);
    CHECK(f.v == 0x0807060504030201ull);
    CHECK_EQ_INT(nn_pb_next(&r, &f, NULL), 0);
}

/* ---- SIMD micro-kernels vs the scalar twin ---- */

static void gemm_with(const struct nn_gemm_kernel *k, size_t M, size_t N, size_t K, const float *a, const float *b,
                      const float *bias, float lo, float hi, float *c, int packed_b) {
    float *ap = pxs_aligned_alloc(64, nn_gemm_packed_a_floats(k, M, K) * sizeof(float) + 64);
    float *pb = pxs_aligned_alloc(64, (size_t)NN_GEMM_KC * (NN_GEMM_NC + NN_GEMM_MAX_NR) * sizeof(float));
    nn_gemm_pack_a(k, M, K, a, K, 1, ap);
    struct nn_gemm_call call = {.k = k, .M = M, .N = N, .K = K, .ap = ap, .b = b, .b_rs = N, .b_cs = 1,
                                .c = c, .ldc = N, .bias = bias, .lo = lo, .hi = hi};
    float *bt = NULL;
    if (packed_b) { /* B given transposed (column stride K): the packing path */
        bt = malloc(K * N * 4 + 4);
        for (size_t p = 0; p < K; p++)
            for (size_t j = 0; j < N; j++) bt[j * K + p] = b[p * N + j];
        call.b = bt;
        call.b_rs = 1;
        call.b_cs = K;
    }
    nn_gemm_run(NULL, &pb, &call);
    free(bt);
    pxs_free(ap);
    pxs_free(pb);
}

/* B read in place through a row-offset table (direct convolution), with a
 * residual added before the clamp, in both loop orders: every SIMD kernel
 * against the generic twin and a plain reference. */
PXS_TEST(nn_gemm_offsets_residual_match_generic) {
    static const size_t shapes[][3] = {{12, 32, 9}, {13, 63, 300}, {64, 49, 576}, {7, 17, 5}, {30, 200, 700}};
    float *pb = pxs_aligned_alloc(64, (size_t)NN_GEMM_KC * (NN_GEMM_NC + NN_GEMM_MAX_NR) * sizeof(float));
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], span = K * (N + 3) + 2 * NN_GEMM_MAX_NR;
        float *a = malloc(M * K * 4), *src = malloc(span * 4), *bx = malloc(K * N * 4), *res = malloc(M * N * 4);
        float *bias = malloc(M * 4), *cr = malloc(M * N * 4), *c0 = malloc(M * N * 4), *c1 = malloc(M * N * 4);
        uint32_t *off = malloc(K * sizeof *off);
        uint32_t st = (uint32_t)(s * 31 + 7);
        for (size_t i = 0; i < M * K; i++) a[i] = (float)((st = st * 1664525u + 1013904223u) >> 9) / 8388608.f - 1.f;
        for (size_t i = 0; i < span; i++) src[i] = (float)((st = st * 1664525u + 1013904223u) >> 9) / 8388608.f - 1.f;
        for (size_t i = 0; i < M * N; i++) res[i] = (float)(i % 11) * 0.1f - 0.5f;
        for (size_t i = 0; i < M; i++) bias[i] = (float)i * 0.01f;
        for (size_t p = 0; p < K; p++) {
            off[p] = (uint32_t)(p * (N + 1) + p % 3); /* shifted, overlapping-free rows */
            for (size_t j = 0; j < N; j++) bx[p * N + j] = src[off[p] + j];
        }
        nn_gemm_ref(M, N, K, a, bx, cr, bias);
        for (size_t i = 0; i < M * N; i++) cr[i] = fminf(fmaxf(cr[i] + res[i], -2.f), 3.f);
        for (int isa = NN_ISA_GENERIC; isa <= NN_ISA_AVX512; isa++) {
            const struct nn_gemm_kernel *k = nn_gemm_kernel_for(isa);
            if (!k) continue;
            for (int ki = 0; ki < 2; ki++) {
                float *ap = pxs_aligned_alloc(64, nn_gemm_packed_a_floats(k, M, K) * sizeof(float) + 64);
                nn_gemm_pack_a(k, M, K, a, K, 1, ap);
                struct nn_gemm_call call = {.k = k, .M = M, .N = N, .K = K, .ap = ap, .b = src, .boff = off,
                                            .c = isa == NN_ISA_GENERIC ? c0 : c1, .ldc = N, .bias = bias,
                                            .res = res, .lo = -2.f, .hi = 3.f, .k_inner = ki};
                nn_gemm_run(NULL, &pb, &call);
                pxs_free(ap);
                double md = 0;
                for (size_t i = 0; i < M * N; i++) md = fmax(md, fabs((double)call.c[i] - cr[i]));
                CHECK_MSG(md < 1e-5 * (double)K, "%s %zux%zux%zu k_inner %d: vs reference %g", k->name, M, N, K,
                          ki, md);
                if (isa != NN_ISA_GENERIC) {
                    md = 0;
                    for (size_t i = 0; i < M * N; i++) md = fmax(md, fabs((double)c0[i] - c1[i]));
                    CHECK_MSG(md < 1e-5 * (double)K, "%s vs generic %g", k->name, md);
                }
            }
        }
        free(a); free(src); free(bx); free(res); free(bias); free(cr); free(c0); free(c1); free(off);
    }
    pxs_free(pb);
}

PXS_TEST(nn_gemm_kernels_match_generic) {
    static const size_t shapes[][3] = {{1, 1, 1}, {12, 32, 16}, {13, 33, 7}, {6, 16, 300}, {25, 70, 513},
                                       {5, 400, 9}, {40, 3, 260}, {96, 784, 24}, {20, 49, 320}, {64, 196, 40},
                                       {16, 17, 5}, {7, 16, 3}};
    const struct nn_gemm_kernel *gen = nn_gemm_kernel_for(NN_ISA_GENERIC);
    CHECK(gen != NULL);
    int tested = 0;
    for (int isa = NN_ISA_AVX2; isa <= NN_ISA_AVX512; isa++) {
        const struct nn_gemm_kernel *k = nn_gemm_kernel_for(isa);
        if (!k) continue;
        tested++;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            float *a = malloc(M * K * 4), *b = malloc(K * N * 4), *bias = malloc(M * 4);
            float *c0 = malloc(M * N * 4), *c1 = malloc(M * N * 4), *cr = malloc(M * N * 4);
            uint32_t st = (uint32_t)(s * 77 + 1);
            for (size_t i = 0; i < M * K; i++) a[i] = (float)((st = st * 1664525u + 1013904223u) >> 9) / 8388608.f - 1.f;
            for (size_t i = 0; i < K * N; i++) b[i] = (float)((st = st * 1664525u + 1013904223u) >> 9) / 8388608.f - 1.f;
            for (size_t i = 0; i < M; i++) bias[i] = (float)i * 0.01f;
            for (int mode = 0; mode < 4; mode++) {
                float lo = (mode & 1) ? 0.f : -INFINITY, hi = (mode & 1) ? 1.5f : INFINITY;
                gemm_with(gen, M, N, K, a, b, (mode & 1) ? bias : NULL, lo, hi, c0, mode >> 1);
                gemm_with(k, M, N, K, a, b, (mode & 1) ? bias : NULL, lo, hi, c1, !(mode >> 1));
                nn_gemm_ref(M, N, K, a, b, cr, (mode & 1) ? bias : NULL);
                double md = 0, mr = 0;
                for (size_t i = 0; i < M * N; i++) {
                    float r = cr[i];
                    if (mode & 1) r = r < lo ? lo : (r > hi ? hi : r);
                    md = fmax(md, fabs((double)c0[i] - c1[i]));
                    mr = fmax(mr, fabs((double)c0[i] - r));
                }
                double tol = 1e-5 * (double)K;
                if (md > tol || mr > tol) {
                    free(a); free(b); free(bias); free(c0); free(c1); free(cr);
                    CHECK_MSG(0, "%s %zux%zux%zu mode %d: simd-generic %g generic-ref %g", k->name, M, N, K, mode, md, mr);
                }
            }
            free(a); free(b); free(bias); free(c0); free(c1); free(cr);
        }
    }
    if (!tested) pxs_test_skip("no SIMD kernel on this CPU (or PXS_FORCE_GENERIC=1)");
}

/* Writes the fuzz seed corpus when PXS_NN_WRITE_CORPUS=<dir> is set:
 *   PXS_NN_WRITE_CORPUS=fuzz/corpus/onnx build/h-nn/test-nn nn_write_fuzz_corpus */
static void seed(const char *dir, const char *name, struct pbw *mb) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct pxs_err err = {0};
    if (pxs_file_write_atomic(path, mb->d, mb->len, &err) != PXS_OK) pxs_test_fail(__FILE__, __LINE__, "%s", err.msg);
    pbw_free(mb);
}

PXS_TEST(nn_write_fuzz_corpus) {
    const char *dir = getenv("PXS_NN_WRITE_CORPUS");
    SKIP_IF(!dir, "set PXS_NN_WRITE_CORPUS=<dir> to write the fuzz seeds");
    struct pbw mb;
    small_model(&mb);
    seed(dir, "conv_relu_gap_gemm.onnx", &mb);
    external_model(&mb, "w.bin");
    seed(dir, "external.onnx", &mb);
    /* shape chain + transpose */
    struct ob ob = {{0}, 13};
    int64_t xd[4] = {-1, 2, 3, 4}, one = 1, zero = 0, minus1 = -1;
    ob_input(&ob, "x", 4, xd);
    ob_init_i64(&ob, "i0", 0, NULL, &zero);
    ob_init_i64(&ob, "m1", 1, &one, &minus1);
    ob_init_i64(&ob, "a0", 1, &one, &zero);
    ob_node(&ob, "Shape", "x", "s", NULL);
    struct pbw a = {0};
    attr_i(&a, "axis", 0);
    ob_node(&ob, "Gather", "s,i0", "n0", &a);
    ob_node(&ob, "Unsqueeze", "n0,a0", "n1", NULL);
    ob_node(&ob, "Concat", "n1,m1", "shp", &a);
    pbw_free(&a);
    ob_node(&ob, "Reshape", "x,shp", "r", NULL);
    ob_node(&ob, "Transpose", "r", "t", NULL);
    ob_node(&ob, "Softmax", "t", "y", NULL);
    ob_output(&ob, "y");
    ob_finish(&ob, &mb);
    seed(dir, "shape_chain.onnx", &mb);
    /* pools, pad, BN, depthwise conv with Clip, Split/Concat, MatMul */
    struct ob o2 = {{0}, 13};
    int64_t x2[4] = {1, 4, 7, 7}, wd[4] = {4, 1, 3, 3}, cd[1] = {4}, pd[1] = {8};
    int64_t pads[8] = {0, 0, 1, 1, 0, 0, 1, 1};
    float w[36], c4[4] = {1, 0.5f, 2, 1}, z4[4] = {0, 0.1f, 0, 0.2f}, lohi[2] = {0, 6};
    for (int i = 0; i < 36; i++) w[i] = (float)(i % 5) - 2;
    ob_input(&o2, "x", 4, x2);
    ob_init_f32(&o2, "w", 4, wd, w);
    ob_init_f32(&o2, "s", 1, cd, c4);
    ob_init_f32(&o2, "b", 1, cd, z4);
    ob_init_f32(&o2, "lo", 0, NULL, &lohi[0]);
    ob_init_f32(&o2, "hi", 0, NULL, &lohi[1]);
    ob_init_i64(&o2, "pads", 1, pd, pads);
    attr_i(&a, "group", 4);
    ob_node(&o2, "Conv", "x,w", "c", &a);
    pbw_free(&a);
    ob_node(&o2, "BatchNormalization", "c,s,b,b,s", "bn", NULL);
    ob_node(&o2, "Clip", "bn,lo,hi", "cl", NULL);
    attr_s(&a, "mode", "reflect");
    ob_node(&o2, "Pad", "cl,pads", "p", &a);
    pbw_free(&a);
    int64_t ks[2] = {3, 3}, st2[2] = {2, 2};
    attr_ints(&a, "kernel_shape", 2, ks);
    attr_ints(&a, "strides", 2, st2);
    attr_i(&a, "ceil_mode", 1);
    ob_node(&o2, "AveragePool", "p", "ap", &a);
    pbw_free(&a);
    attr_i(&a, "axis", 1);
    ob_node(&o2, "Split", "ap", "s1,s2", &a);
    ob_node(&o2, "Concat", "s2,s1", "cc", &a);
    pbw_free(&a);
    ob_node(&o2, "GlobalMaxPool", "cc", "g", NULL);
    ob_node(&o2, "Flatten", "g", "f", NULL);
    int64_t md[2] = {4, 3};
    float mm[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    ob_init_f32(&o2, "mm", 2, md, mm);
    ob_node(&o2, "MatMul", "f,mm", "mmo", NULL);
    ob_node(&o2, "HardSwish", "mmo", "y", NULL);
    ob_output(&o2, "y");
    ob_finish(&o2, &mb);
    seed(dir, "mixed_ops.onnx", &mb);
    /* opset 9 attribute forms */
    struct ob o3 = {{0}, 9};
    int64_t x3[4] = {1, 2, 4, 4}, sq[1] = {0};
    ob_input(&o3, "x", 4, x3);
    attr_f(&a, "min", -1);
    attr_f(&a, "max", 1);
    ob_node(&o3, "Clip", "x", "c", &a);
    pbw_free(&a);
    int64_t k2[2] = {2, 2};
    attr_ints(&a, "kernel_shape", 2, k2);
    ob_node(&o3, "MaxPool", "c", "mp", &a);
    pbw_free(&a);
    attr_ints(&a, "axes", 1, sq);
    ob_node(&o3, "Squeeze", "mp", "sq", &a);
    ob_node(&o3, "Unsqueeze", "sq", "us", &a);
    pbw_free(&a);
    attr_ints(&a, "axes", 2, k2);
    attr_i(&a, "keepdims", 0);
    ob_node(&o3, "ReduceMean", "us", "y", &a);
    pbw_free(&a);
    ob_output(&o3, "y");
    ob_finish(&o3, &mb);
    seed(dir, "opset9.onnx", &mb);
}

PXS_TEST(nn_depthwise_kernels_match_generic) {
    int tested = 0;
    for (int isa = NN_ISA_AVX2; isa <= NN_ISA_AVX512; isa++) {
        nn_dw_fn fast = nn_dw3x3_for(isa);
        if (!fast) continue;
        tested++;
        static const int cfg[][4] = {/* H W stride pad */
                                     {1, 1, 1, 1}, {5, 7, 1, 1}, {16, 16, 1, 1}, {17, 33, 2, 1}, {112, 112, 1, 1},
                                     {112, 112, 2, 1}, {7, 7, 1, 0}, {9, 40, 2, 0}, {6, 19, 2, 2}, {3, 50, 1, 2},
                                     {14, 14, 1, 1}, {14, 14, 2, 1}, {7, 7, 1, 1}, {28, 28, 2, 1}, {2, 3, 2, 1},
                                     {4, 2, 1, 2}, {5, 31, 2, 2}, {3, 1500, 1, 1}, {3, 1500, 2, 1}};
        for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
            int H = cfg[c][0], W = cfg[c][1], s = cfg[c][2], p = cfg[c][3];
            int OH = (H + 2 * p - 3) / s + 1, OW = (W + 2 * p - 3) / s + 1;
            if (OH < 1 || OW < 1) continue;
            float *x = malloc((size_t)H * W * 4), *y0 = malloc((size_t)OH * OW * 4), *y1 = malloc((size_t)OH * OW * 4);
            float w[9];
            for (int i = 0; i < H * W; i++) x[i] = (float)((i * 7 + 3) % 13) / 6.f - 1.f;
            for (int i = 0; i < 9; i++) w[i] = (float)(i - 4) / 4.f;
            for (int act = 0; act < 2; act++) {
                struct nn_dw_args a = {x, y0, w, 0.25f, H, W, OH, OW, 3, 3, s, s, p, p, 1, 1,
                                       act ? 0.f : -INFINITY, act ? 0.5f : INFINITY};
                nn_dw_generic(&a);
                a.out = y1;
                fast(&a);
                double md = 0;
                for (int i = 0; i < OH * OW; i++) md = fmax(md, fabs((double)y0[i] - y1[i]));
                if (md > 1e-5) {
                    free(x); free(y0); free(y1);
                    CHECK_MSG(0, "isa %d case %zu act %d: diff %g", isa, c, act, md);
                }
            }
            free(x);
            free(y0);
            free(y1);
        }
    }
    SKIP_IF(!tested, "no SIMD depthwise kernel on this CPU (or PXS_FORCE_GENERIC=1)");
}

/* Every allocation of the loader can fail: the result is an error, never a
 * crash or a leak (LeakSanitizer checks the latter in the ASan build). */
PXS_TEST(nn_load_allocation_failures) {
    struct pbw mb;
    small_model(&mb);
    int ok_streak = 0, n;
    for (n = 1; n < 5000 && ok_streak < 3; n++) {
        struct pxs_err err = {0};
        pxs_nn_model *m = NULL;
        struct pxs_nn_load_opts o;
        pxs_nn_load_opts_init(&o);
        o.threads = 2;
        pxs_alloc_fail_after(n);
        int rc = pxs_nn_model_load_buffer(mb.d, mb.len, NULL, &o, &m, &err);
        pxs_alloc_fail_after(0);
        if (rc == PXS_OK) {
            ok_streak++;
            pxs_nn_model_free(m);
            continue;
        }
        ok_streak = 0;
        CHECK_MSG(m == NULL, "n=%d: model returned with an error", n);
        CHECK_MSG(rc == PXS_ENOMEM, "n=%d: rc %d (%s)", n, rc, err.msg);
    }
    pbw_free(&mb);
    CHECK(n > 20);
}

/* After the first run at a batch size, runs allocate nothing (habit 9). */
PXS_TEST(nn_run_does_not_allocate_after_warmup) {
    struct pbw mb;
    small_model(&mb);
    for (int threads = 1; threads <= 2; threads++) {
        struct pxs_err err = {0};
        struct pxs_nn_load_opts o;
        pxs_nn_load_opts_init(&o);
        o.threads = threads;
        pxs_nn_model *m = NULL;
        CHECK_OK(pxs_nn_model_load_buffer(mb.d, mb.len, NULL, &o, &m, &err), &err);
        float x[3 * 72], y[9];
        for (int i = 0; i < 3 * 72; i++) x[i] = (float)(i % 5);
        size_t n;
        int rc = pxs_nn_run(m, x, 3, NULL, y, 9, &n, &err); /* warm-up: plans batch 3 */
        pxs_alloc_fail_after(1);
        int rc2 = pxs_nn_run(m, x, 3, NULL, y, 9, &n, &err);
        void *probe = pxs_malloc(16); /* NULL if the armed failure is still pending */
        pxs_alloc_fail_after(0);
        pxs_free(probe);
        pxs_nn_model_free(m);
        CHECK_OK(rc, &err);
        CHECK_OK(rc2, &err);
        CHECK_MSG(probe == NULL, "pxs_nn_run allocated after warm-up (threads %d)", threads);
    }
    pbw_free(&mb);
}

/* Degenerate graphs: the output is the input itself, or a constant (no
 * run-time steps at all, so the activation arena is empty). */
PXS_TEST(nn_load_degenerate_graphs) {
    int64_t xd[2] = {-1, 3};
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6];
    struct pxs_err err = {0};
    size_t n;
    struct pbw mb;
    struct ob ob = {{0}, 13};
    ob_input(&ob, "x", 2, xd);
    ob_output(&ob, "x");
    ob_finish(&ob, &mb);
    pxs_nn_model *m = NULL;
    CHECK_OK(pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err), &err);
    pbw_free(&mb);
    int rc = pxs_nn_run(m, x, 2, NULL, y, 6, &n, &err);
    pxs_nn_model_free(m);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(n, 6);
    CHECK_NEAR(y[5], 6, 0);
    /* output = Constant (not depending on the input) */
    struct ob o2 = {{0}, 13};
    int64_t cd[1] = {2};
    float c[2] = {7, 8};
    ob_input(&o2, "x", 2, xd);
    ob_init_f32(&o2, "c", 1, cd, c);
    ob_node(&o2, "Identity", "c", "y", NULL);
    ob_output(&o2, "y");
    ob_finish(&o2, &mb);
    CHECK_OK(pxs_nn_model_load_buffer(mb.d, mb.len, NULL, NULL, &m, &err), &err);
    pbw_free(&mb);
    rc = pxs_nn_run(m, x, 1, NULL, y, 6, &n, &err);
    pxs_nn_model_free(m);
    CHECK_OK(rc, &err);
    CHECK_EQ_INT(n, 2);
    CHECK_NEAR(y[1], 8, 0);
}
