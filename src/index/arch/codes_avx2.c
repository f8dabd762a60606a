/*
 * codes_avx2.c — AVX2+FMA kernels on compressed vectors (built with -mavx2
 * -mfma by the Makefile because of the _avx2.c suffix): SQ8 L2 / inner
 * product (8 codes widened to floats per step), PQ table accumulation with
 * 8-lane gathers, unsigned-by-signed byte dot products (widened to 16 bits,
 * vpmaddwd), and Hamming / Jaccard with the nibble-lookup popcount
 * (vpshufb + vpsadbw, after Mula). Only called when pxs_cpu_features()
 * reports PXS_CPU_AVX2; twins of the generic kernels in ../codes.c, checked
 * against them by tests/index/test_codes.c. Loads never go past the end:
 * tails of fewer than one vector step run in scalar code.
 */
#include "index/index_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

static inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    __m128 sh = _mm_movehdup_ps(lo);
    lo = _mm_add_ps(lo, sh);
    sh = _mm_movehl_ps(sh, lo);
    return _mm_cvtss_f32(_mm_add_ss(lo, sh));
}

static inline __m256 load8_u8(const uint8_t *c) {
    __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)c);
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
}

static float avx2_sq8_l2(const float *a, const float *w, const uint8_t *c, size_t dim) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), load8_u8(c + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), load8_u8(c + i + 8));
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(d0, d0), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_mul_ps(d1, d1), s1);
    }
    for (; i + 8 <= dim; i += 8) {
        __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), load8_u8(c + i));
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_mul_ps(d, d), s0);
    }
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < dim; i++) {
        float d = a[i] - (float)c[i];
        s += w[i] * (d * d);
    }
    return s;
}

static float avx2_sq8_ip(const float *a, const uint8_t *c, size_t dim) {
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8_u8(c + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load8_u8(c + i + 8), s1);
    }
    for (; i + 8 <= dim; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8_u8(c + i), s0);
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; i < dim; i++) s += a[i] * (float)c[i];
    return s;
}

static void avx2_pq8_scan(const float *lut, size_t m, const uint8_t *codes, size_t n,
                          float *out) {
    const __m256i step = _mm256_setr_epi32(0, 256, 512, 768, 1024, 1280, 1536, 1792);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * m;
        __m256 acc = _mm256_setzero_ps();
        size_t j = 0;
        for (; j + 8 <= m; j += 8) {
            __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(c + j)));
            idx = _mm256_add_epi32(idx, step);
            acc = _mm256_add_ps(acc, _mm256_i32gather_ps(lut + j * 256, idx, 4));
        }
        float s = hsum(acc);
        for (; j < m; j++) s += lut[j * 256 + c[j]];
        out[i] = s;
    }
}

static void avx2_pq4_scan(const float *lut, size_t m, const uint8_t *codes, size_t n,
                          float *out) {
    const __m256i step = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
    const __m256i shift = _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4);
    const __m256i low4 = _mm256_set1_epi32(15);
    size_t cs = (m + 1) / 2;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * cs;
        __m256 acc = _mm256_setzero_ps();
        size_t j = 0;
        for (; j + 8 <= m; j += 8) {
            uint32_t four;
            memcpy(&four, c + j / 2, 4);
            __m128i b = _mm_cvtsi32_si128((int)four);
            b = _mm_unpacklo_epi8(b, b); /* b0 b0 b1 b1 b2 b2 b3 b3 */
            __m256i idx = _mm256_cvtepu8_epi32(b);
            idx = _mm256_and_si256(_mm256_srlv_epi32(idx, shift), low4);
            idx = _mm256_add_epi32(idx, step);
            acc = _mm256_add_ps(acc, _mm256_i32gather_ps(lut + j * 16, idx, 4));
        }
        float s = hsum(acc);
        for (; j < m; j++) {
            uint8_t byte = c[j / 2];
            s += lut[j * 16 + ((j & 1) ? (byte >> 4) : (byte & 15))];
        }
        out[i] = s;
    }
}

/* Per-byte popcount of v, summed into 4 u64 lanes. */
static inline __m256i popcnt_sad(__m256i v) {
    const __m256i lookup = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1,
                                            1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    __m256i lo = _mm256_and_si256(v, low);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
    __m256i cnt = _mm256_add_epi8(_mm256_shuffle_epi8(lookup, lo), _mm256_shuffle_epi8(lookup, hi));
    return _mm256_sad_epu8(cnt, _mm256_setzero_si256());
}

static inline uint64_t hsum64(__m256i v) {
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    return (uint64_t)_mm_cvtsi128_si64(s) + (uint64_t)_mm_extract_epi64(s, 1);
}

static uint64_t avx2_hamming(const uint8_t *a, const uint8_t *b, size_t nbytes) {
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= nbytes; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        acc = _mm256_add_epi64(acc, popcnt_sad(_mm256_xor_si256(x, y)));
    }
    return hsum64(acc) + pxs__hamming_generic(a + i, b + i, nbytes - i);
}

static void avx2_jaccard(const uint8_t *a, const uint8_t *b, size_t nbytes, uint64_t *inter,
                         uint64_t *uni) {
    __m256i ai = _mm256_setzero_si256(), au = ai;
    size_t i = 0;
    for (; i + 32 <= nbytes; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        ai = _mm256_add_epi64(ai, popcnt_sad(_mm256_and_si256(x, y)));
        au = _mm256_add_epi64(au, popcnt_sad(_mm256_or_si256(x, y)));
    }
    uint64_t ti, tu;
    pxs__jaccard_generic(a + i, b + i, nbytes - i, &ti, &tu);
    *inter = hsum64(ai) + ti;
    *uni = hsum64(au) + tu;
}

static inline int32_t hsum_epi32(__m256i v) {
    __m128i x = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0x4e));
    x = _mm_add_epi32(x, _mm_shuffle_epi32(x, 0xb1));
    return _mm_cvtsi128_si32(x);
}

/* Bytes widened to 16 bits, then vpmaddwd (exact: |pair sum| <= 65280). */
static void avx2_u8s8_dot_rows(const int8_t *q, const uint8_t *base, size_t step,
                               const uint32_t *ids, size_t n, size_t len, int32_t *out) {
    for (size_t j = 0; j < n; j++) {
        const uint8_t *row = base + (size_t)ids[j] * step;
        if (j + 1 < n) {
            const char *next = (const char *)(base + (size_t)ids[j + 1] * step);
            for (size_t o = 0; o < len; o += 64) _mm_prefetch(next + o, _MM_HINT_T0);
        }
        __m256i a0 = _mm256_setzero_si256(), a1 = a0;
        for (size_t i = 0; i < len; i += 32) {
            __m128i r0 = _mm_loadu_si128((const __m128i *)(const void *)(row + i));
            __m128i r1 = _mm_loadu_si128((const __m128i *)(const void *)(row + i + 16));
            __m128i q0 = _mm_loadu_si128((const __m128i *)(const void *)(q + i));
            __m128i q1 = _mm_loadu_si128((const __m128i *)(const void *)(q + i + 16));
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_cvtepu8_epi16(r0), _mm256_cvtepi8_epi16(q0)));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_cvtepu8_epi16(r1), _mm256_cvtepi8_epi16(q1)));
        }
        out[j] = hsum_epi32(_mm256_add_epi32(a0, a1));
    }
}

static const struct pxs__code_kernels avx2_codes = {
    .name = "avx2",
    .sq8_l2 = avx2_sq8_l2,
    .sq8_ip = avx2_sq8_ip,
    .pq8_scan = avx2_pq8_scan,
    .pq4_scan = avx2_pq4_scan,
    .u8s8_dot_rows = avx2_u8s8_dot_rows,
    .hamming = avx2_hamming,
    .jaccard = avx2_jaccard,
};

const struct pxs__code_kernels *pxs__code_kernels_avx2(void) { return &avx2_codes; }

#else
const struct pxs__code_kernels *pxs__code_kernels_avx2(void) { return NULL; }
#endif
