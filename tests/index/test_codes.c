/*
 * tests/index/test_codes.c — kernels on compressed vectors (codes.c and
 * arch/codes_*.c): the generic set against plain double-precision loops,
 * and every SIMD set this CPU supports against the generic set
 * (differential test, AESTHETICS habit 14): SQ8 L2 / IP, PQ table scans
 * with 8-bit and 4-bit codes, Hamming and Jaccard popcounts, and the
 * unsigned-by-signed byte dot products of HNSW's quantised walk (generic,
 * AVX2, AVX-512 BW and AVX-512 VNNI, exact). Sizes cover
 * every tail length; code arrays end exactly at the end of their
 * allocation so ASan catches any read past the last byte.
 */
#include "index/index_int.h"
#include "../test.h"
#include "index_test_util.h"

#include <stdlib.h>
#include <string.h>

static const struct pxs__code_kernels *simd_sets(int i) {
    unsigned f = pxs_cpu_features();
    if (i == 0) return (f & PXS_CPU_AVX2) ? pxs__code_kernels_avx2() : NULL;
    return (f & PXS_CPU_AVX512F) ? pxs__code_kernels_avx512() : NULL;
}

static void fill_bytes(struct trng *r, uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)trng_next(r);
}

PXS_TEST(index_codes_generic_matches_reference) {
    const struct pxs__code_kernels *g = pxs__code_kernels_generic();
    struct trng r = {11};
    for (size_t dim = 1; dim <= 70; dim++) {
        float *a = malloc(dim * sizeof(float)), *w = malloc(dim * sizeof(float));
        uint8_t *c = malloc(dim), *d = malloc(dim);
        trng_vec(&r, a, dim);
        for (size_t i = 0; i < dim; i++) w[i] = (trng_float(&r) + 1.0f) * 0.5f;
        fill_bytes(&r, c, dim);
        fill_bytes(&r, d, dim);
        double l2 = 0, ip = 0;
        uint64_t ham = 0, in = 0, un = 0;
        for (size_t i = 0; i < dim; i++) {
            double x = (double)a[i] - c[i];
            l2 += w[i] * x * x;
            ip += (double)a[i] * c[i];
            ham += (uint64_t)__builtin_popcount((unsigned)(c[i] ^ d[i]));
            in += (uint64_t)__builtin_popcount((unsigned)(c[i] & d[i]));
            un += (uint64_t)__builtin_popcount((unsigned)(c[i] | d[i]));
        }
        CHECK_NEAR(g->sq8_l2(a, w, c, dim), l2, 1e-5 * l2 + 1e-4);
        CHECK_NEAR(g->sq8_ip(a, c, dim), ip, 1e-5 * 255 * dim);
        CHECK_EQ_INT(g->hamming(c, d, dim), ham);
        uint64_t gi, gu;
        g->jaccard(c, d, dim, &gi, &gu);
        CHECK_EQ_INT(gi, in);
        CHECK_EQ_INT(gu, un);
        free(a);
        free(w);
        free(c);
        free(d);
    }
    /* PQ scans against the definition. */
    for (size_t m = 1; m <= 40; m++) {
        float *lut = malloc(m * 256 * sizeof(float));
        trng_vec(&r, lut, m * 256);
        uint8_t *codes = malloc(3 * m);
        fill_bytes(&r, codes, 3 * m);
        float out[3];
        g->pq8_scan(lut, m, codes, 3, out);
        for (size_t i = 0; i < 3; i++) {
            double s = 0;
            for (size_t j = 0; j < m; j++) s += lut[j * 256 + codes[i * m + j]];
            CHECK_NEAR(out[i], s, 1e-4 * m);
        }
        size_t cs = (m + 1) / 2;
        g->pq4_scan(lut, m, codes, 3, out);
        for (size_t i = 0; i < 3; i++) {
            double s = 0;
            for (size_t j = 0; j < m; j++) {
                uint8_t b = codes[i * cs + j / 2];
                s += lut[j * 16 + ((j & 1) ? b >> 4 : b & 15)];
            }
            CHECK_NEAR(out[i], s, 1e-4 * m);
        }
        free(lut);
        free(codes);
    }
}

PXS_TEST(index_codes_simd_match_generic) {
    const struct pxs__code_kernels *g = pxs__code_kernels_generic();
    int ran = 0;
    for (int set = 0; set < 2; set++) {
        const struct pxs__code_kernels *s = simd_sets(set);
        if (!s) continue;
        ran++;
        struct trng r = {100 + (uint64_t)set};
        for (size_t dim = 1; dim <= 200; dim++) {
            float *a = malloc(dim * sizeof(float)), *w = malloc(dim * sizeof(float));
            uint8_t *c = malloc(dim), *d = malloc(dim);
            trng_vec(&r, a, dim);
            for (size_t i = 0; i < dim; i++) w[i] = (trng_float(&r) + 1.0f) * 0.5f;
            fill_bytes(&r, c, dim);
            fill_bytes(&r, d, dim);
            double gl2 = g->sq8_l2(a, w, c, dim), gip = g->sq8_ip(a, c, dim);
            CHECK_MSG(fabs(s->sq8_l2(a, w, c, dim) - gl2) <= 1e-5 * fabs(gl2) + 1e-3,
                      "%s sq8_l2 dim %zu", s->name, dim);
            CHECK_MSG(fabs(s->sq8_ip(a, c, dim) - gip) <= 2e-6 * 255 * (double)dim + 1e-3,
                      "%s sq8_ip dim %zu", s->name, dim);
            CHECK_MSG(s->hamming(c, d, dim) == g->hamming(c, d, dim), "%s hamming %zu", s->name,
                      dim);
            uint64_t si, su, gi, gu;
            s->jaccard(c, d, dim, &si, &su);
            g->jaccard(c, d, dim, &gi, &gu);
            CHECK_MSG(si == gi && su == gu, "%s jaccard %zu", s->name, dim);
            free(a);
            free(w);
            free(c);
            free(d);
        }
        for (size_t m = 1; m <= 70; m++) {
            enum { N = 5 };
            float *lut = malloc(m * 256 * sizeof(float));
            trng_vec(&r, lut, m * 256);
            uint8_t *codes = malloc(N * m);
            fill_bytes(&r, codes, N * m);
            float a8[N], b8[N];
            g->pq8_scan(lut, m, codes, N, a8);
            s->pq8_scan(lut, m, codes, N, b8);
            for (int i = 0; i < N; i++)
                CHECK_MSG(fabs(a8[i] - b8[i]) <= 1e-5 * (double)m, "%s pq8 m %zu", s->name, m);
            free(codes);
            /* 4-bit codes: exactly (m + 1) / 2 bytes per code. */
            size_t cs = (m + 1) / 2;
            codes = malloc(N * cs);
            fill_bytes(&r, codes, N * cs);
            g->pq4_scan(lut, m, codes, N, a8);
            s->pq4_scan(lut, m, codes, N, b8);
            for (int i = 0; i < N; i++)
                CHECK_MSG(fabs(a8[i] - b8[i]) <= 1e-5 * (double)m, "%s pq4 m %zu", s->name, m);
            /* One code alone, ending at the allocation end. */
            uint8_t *one = malloc(cs);
            memcpy(one, codes, cs);
            s->pq4_scan(lut, m, one, 1, b8);
            CHECK_MSG(fabs(a8[0] - b8[0]) <= 1e-5 * (double)m, "%s pq4 tail m %zu", s->name, m);
            free(one);
            free(codes);
            free(lut);
        }
    }
    printf("    code kernel sets checked: %d (chosen: %s, avx512 popcount: %s)\n", ran,
           pxs__code_kernels()->name, pxs__code_kernels_avx512_popcnt() ? "vpopcntdq" : "generic");
    SKIP_IF(ran == 0, "no SIMD code kernels on this CPU (or PXS_FORCE_GENERIC=1)");
}

/* HNSW traversal kernel: every set (and both AVX-512 variants) against the
 * definition, exact in integers, with the extreme bytes 0/255 x -128/127
 * and rows gathered by id from a strided table. */
PXS_TEST(index_codes_u8s8_dot_rows_all_sets_exact) {
    struct trng r = {23};
    const size_t lens[] = {64, 128, 192, 832, 4096};
    const size_t step_extra = 64, nrows = 9;
    const uint32_t ids[] = {3, 0, 8, 3, 5, 1, 7, 2, 6, 4};
    const size_t nids = sizeof ids / sizeof ids[0];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t len = lens[li], step = len + step_extra;
        uint8_t *base = malloc(step * nrows);
        int8_t *q = malloc(len);
        for (int pass = 0; pass < 3; pass++) {
            for (size_t i = 0; i < step * nrows; i++)
                base[i] = pass == 1 ? 255 : (uint8_t)trng_next(&r);
            for (size_t i = 0; i < len; i++)
                q[i] = pass == 1 ? -128 : pass == 2 ? 127 : (int8_t)(trng_next(&r) & 0xff);
            int32_t want[10], got[10];
            for (size_t j = 0; j < nids; j++) {
                int64_t s = 0;
                for (size_t i = 0; i < len; i++) s += (int64_t)base[ids[j] * step + i] * q[i];
                want[j] = (int32_t)s;
            }
            pxs__code_kernels_generic()->u8s8_dot_rows(q, base, step, ids, nids, len, got);
            for (size_t j = 0; j < nids; j++) CHECK_EQ_INT(got[j], want[j]);
            unsigned f = pxs_cpu_features();
            for (int v = 0; v < 3; v++) {
                pxs__u8s8_dot_rows_fn fn = NULL;
                if (v == 0 && (f & PXS_CPU_AVX2)) fn = pxs__code_kernels_avx2()->u8s8_dot_rows;
                if (v == 1 && (f & PXS_CPU_AVX512F)) fn = pxs__u8s8_dot_rows_avx512(0);
                if (v == 2 && (f & PXS_CPU_AVX512F) && (f & PXS_CPU_AVX512VNNI))
                    fn = pxs__u8s8_dot_rows_avx512(1);
                if (!fn) continue;
                memset(got, 0, sizeof got);
                fn(q, base, step, ids, nids, len, got);
                for (size_t j = 0; j < nids; j++) CHECK_EQ_INT(got[j], want[j]);
            }
        }
        free(base);
        free(q);
    }
}
