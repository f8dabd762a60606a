/*
 * bench/dist_bench.c — ns per distance call for every kernel set this CPU
 * supports (single pair, L1-resident), and the batched flat-scan kernel over
 * a matrix larger than cache. Fixed seed; numbers are for comparison between
 * sets on one machine only.
 *
 * Build: make module-test M=index BUILD=build/h-index, then
 * sh bench/index_bench.sh build/h-index (writes build/h-index/dist_bench).
 */
#include "index/index_int.h"

#include <stdio.h>
#include <stdlib.h>

static volatile float sink;

static uint64_t rng_state = 12345;
static float rnd(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xffffff) / 16777216.0f - 0.5f;
}

static void bench_set(const struct pxs__dist_kernels *k, size_t dim) {
    float *a = pxs_aligned_alloc(64, dim * sizeof(float) + 64);
    float *b = pxs_aligned_alloc(64, dim * sizeof(float) + 64);
    for (size_t i = 0; i < dim; i++) a[i] = rnd(), b[i] = rnd();
    const struct {
        const char *name;
        pxs__dist_fn fn;
    } fns[] = {{"l2sq", k->l2sq}, {"ip", k->ip}, {"cosine", k->cosine}};
    for (int f = 0; f < 3; f++) {
        size_t iters = 200000000 / (dim + 16);
        double t0 = pxs_now_seconds();
        float acc = 0;
        for (size_t i = 0; i < iters; i++) acc += fns[f].fn(a, b, dim);
        double t = pxs_now_seconds() - t0;
        sink = acc;
        printf("%-8s %-7s dim %4zu  %8.2f ns/call  %6.2f GFLOP/s\n", k->name, fns[f].name, dim,
               t * 1e9 / (double)iters, 2.0 * (double)dim * (double)iters / t / 1e9);
    }
    pxs_free(a);
    pxs_free(b);
}

static void bench_batch(const struct pxs__dist_kernels *k, size_t dim, size_t n) {
    size_t stride = pxs__index_row_stride(dim);
    float *m = pxs_aligned_alloc(64, n * stride * sizeof(float));
    float *q = pxs_aligned_alloc(64, stride * sizeof(float));
    float *out = pxs_malloc(256 * sizeof(float));
    if (!m || !q || !out) return;
    for (size_t i = 0; i < n * stride; i++) m[i] = rnd();
    for (size_t i = 0; i < dim; i++) q[i] = rnd();
    int reps = 10;
    double t0 = pxs_now_seconds();
    for (int r = 0; r < reps; r++)
        for (size_t s = 0; s < n; s += 256) {
            size_t c = n - s < 256 ? n - s : 256;
            k->l2sq_batch(q, m + s * stride, stride, c, dim, out);
            sink = out[0];
        }
    double t = (pxs_now_seconds() - t0) / reps;
    printf("%-8s l2sq_batch dim %4zu n %zu: %.2f ms/scan, %.1f GB/s, %.2f ns/vector\n", k->name,
           dim, n, t * 1e3, (double)(n * dim * sizeof(float)) / t / 1e9, t * 1e9 / (double)n);
    pxs_free(m);
    pxs_free(q);
    pxs_free(out);
}

int main(void) {
    unsigned f = pxs_cpu_features();
    const struct pxs__dist_kernels *sets[3] = {pxs__index_kernels_generic(),
                                                (f & PXS_CPU_AVX2) ? pxs__index_kernels_avx2() : NULL,
                                                (f & PXS_CPU_AVX512F) ? pxs__index_kernels_avx512()
                                                                      : NULL};
    printf("cpu: %s; dispatched kernels: %s\n", pxs_cpu_describe(), pxs_dist_kernel_name());
    const size_t dims[] = {64, 128, 512, 784};
    for (int s = 0; s < 3; s++) {
        if (!sets[s]) continue;
        for (int d = 0; d < 4; d++) bench_set(sets[s], dims[d]);
    }
    for (int s = 0; s < 3; s++)
        if (sets[s]) bench_batch(sets[s], 512, 200000);
    return 0;
}
