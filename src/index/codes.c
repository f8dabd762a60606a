/*
 * codes.c — kernels on compressed vectors: SQ8 (8-bit scalar quantisation)
 * L2 and inner product in code space, PQ look-up-table accumulation for
 * 8-bit and 4-bit sub-codes, the unsigned-by-signed byte dot products of
 * HNSW's quantised graph traversal, and Hamming / Jaccard popcounts for binary
 * vectors. This file holds the portable scalar set ("generic"), the oracle
 * of tests/index/test_codes.c and the path of PXS_FORCE_GENERIC=1, and the
 * run-time choice between it and the ISA sets in arch/codes_*.c.
 *
 * Dispatch happens once (pthread_once) from pxs_cpu_features(): AVX-512
 * first, then AVX2, then generic. The AVX-512 set uses VPOPCNTDQ for the
 * binary kernels only when the CPU reports it (it checks that itself).
 */
#include "index/index_int.h"

#include <pthread.h>
#include <string.h>

static float generic_sq8_l2(const float *a, const float *w, const uint8_t *c, size_t dim) {
    float acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= dim; i += 4)
        for (size_t j = 0; j < 4; j++) {
            float d = a[i + j] - (float)c[i + j];
            acc[j] += w[i + j] * (d * d);
        }
    for (; i < dim; i++) {
        float d = a[i] - (float)c[i];
        acc[0] += w[i] * (d * d);
    }
    return (acc[0] + acc[2]) + (acc[1] + acc[3]);
}

static float generic_sq8_ip(const float *a, const uint8_t *c, size_t dim) {
    float acc[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= dim; i += 4)
        for (size_t j = 0; j < 4; j++) acc[j] += a[i + j] * (float)c[i + j];
    for (; i < dim; i++) acc[0] += a[i] * (float)c[i];
    return (acc[0] + acc[2]) + (acc[1] + acc[3]);
}

static void generic_pq8_scan(const float *lut, size_t m, const uint8_t *codes, size_t n,
                             float *out) {
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * m;
        float s0 = 0, s1 = 0;
        size_t j = 0;
        for (; j + 2 <= m; j += 2) {
            s0 += lut[j * 256 + c[j]];
            s1 += lut[(j + 1) * 256 + c[j + 1]];
        }
        if (j < m) s0 += lut[j * 256 + c[j]];
        out[i] = s0 + s1;
    }
}

static void generic_pq4_scan(const float *lut, size_t m, const uint8_t *codes, size_t n,
                             float *out) {
    size_t cs = (m + 1) / 2;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * cs;
        float s0 = 0, s1 = 0;
        size_t j = 0;
        for (; j + 2 <= m; j += 2) {
            uint8_t b = c[j / 2];
            s0 += lut[j * 16 + (b & 15)];
            s1 += lut[(j + 1) * 16 + (b >> 4)];
        }
        if (j < m) s0 += lut[j * 16 + (c[j / 2] & 15)];
        out[i] = s0 + s1;
    }
}

static void generic_u8s8_dot_rows(const int8_t *q, const uint8_t *base, size_t step,
                                  const uint32_t *ids, size_t n, size_t len, int32_t *out) {
    for (size_t j = 0; j < n; j++) {
        const uint8_t *row = base + (size_t)ids[j] * step;
        if (j + 1 < n) __builtin_prefetch(base + (size_t)ids[j + 1] * step, 0, 3);
        int32_t acc[4] = {0, 0, 0, 0};
        for (size_t i = 0; i < len; i += 4)
            for (size_t t = 0; t < 4; t++) acc[t] += (int32_t)row[i + t] * (int32_t)q[i + t];
        out[j] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    }
}

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

uint64_t pxs__hamming_generic(const uint8_t *a, const uint8_t *b, size_t nbytes) {
    uint64_t s = 0;
    size_t i = 0;
    for (; i + 8 <= nbytes; i += 8) s += (uint64_t)__builtin_popcountll(load64(a + i) ^ load64(b + i));
    for (; i < nbytes; i++) s += (uint64_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));
    return s;
}

void pxs__jaccard_generic(const uint8_t *a, const uint8_t *b, size_t nbytes, uint64_t *inter,
                          uint64_t *uni) {
    uint64_t si = 0, su = 0;
    size_t i = 0;
    for (; i + 8 <= nbytes; i += 8) {
        uint64_t x = load64(a + i), y = load64(b + i);
        si += (uint64_t)__builtin_popcountll(x & y);
        su += (uint64_t)__builtin_popcountll(x | y);
    }
    for (; i < nbytes; i++) {
        si += (uint64_t)__builtin_popcount((unsigned)(a[i] & b[i]));
        su += (uint64_t)__builtin_popcount((unsigned)(a[i] | b[i]));
    }
    *inter = si;
    *uni = su;
}

static const struct pxs__code_kernels generic_codes = {
    .name = "generic",
    .sq8_l2 = generic_sq8_l2,
    .sq8_ip = generic_sq8_ip,
    .pq8_scan = generic_pq8_scan,
    .pq4_scan = generic_pq4_scan,
    .u8s8_dot_rows = generic_u8s8_dot_rows,
    .hamming = pxs__hamming_generic,
    .jaccard = pxs__jaccard_generic,
};

const struct pxs__code_kernels *pxs__code_kernels_generic(void) { return &generic_codes; }

static pthread_once_t codes_once = PTHREAD_ONCE_INIT;
static const struct pxs__code_kernels *codes_chosen = &generic_codes;

static void codes_init(void) {
    unsigned f = pxs_cpu_features();
    const struct pxs__code_kernels *k = NULL;
    if ((f & PXS_CPU_AVX512F) && (k = pxs__code_kernels_avx512()) != NULL)
        codes_chosen = k;
    else if ((f & PXS_CPU_AVX2) && (k = pxs__code_kernels_avx2()) != NULL)
        codes_chosen = k;
    else
        codes_chosen = &generic_codes;
}

const struct pxs__code_kernels *pxs__code_kernels(void) {
    pthread_once(&codes_once, codes_init);
    return codes_chosen;
}
