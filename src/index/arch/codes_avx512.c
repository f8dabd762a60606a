/*
 * codes_avx512.c — AVX-512 (F+BW+DQ+VL) kernels on compressed vectors
 * (built with -mavx512* by the Makefile because of the _avx512.c suffix):
 * SQ8 L2 / inner product (16 codes widened per step, masked tail), PQ table
 * accumulation with 16-lane gathers (masked tail), unsigned-by-signed byte
 * dot products (VPDPBUSD when the CPU has AVX512_VNNI, else 16-bit
 * widening), and Hamming / Jaccard
 * with VPOPCNTDQ on 64-byte blocks. VPOPCNTDQ is not implied by the
 * Makefile flags: those two functions carry a target attribute and are used
 * only when the CPU reports the feature (__builtin_cpu_supports); otherwise
 * this set takes the generic popcount kernels. Only called when
 * pxs_cpu_features() reports PXS_CPU_AVX512F; twins of ../codes.c, checked
 * by tests/index/test_codes.c. Masked loads never touch bytes past the end.
 */
#include "index/index_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <pthread.h>

static inline __m512 load16_u8(const uint8_t *c) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)c)));
}

static inline __m512 maskload16_u8(__mmask16 m, const uint8_t *c) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, c)));
}

static float avx512_sq8_l2(const float *a, const float *w, const uint8_t *c, size_t dim) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), load16_u8(c + i));
        __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), load16_u8(c + i + 16));
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_mul_ps(d0, d0), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_mul_ps(d1, d1), s1);
    }
    for (; i + 16 <= dim; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), load16_u8(c + i));
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_mul_ps(d, d), s0);
    }
    if (i < dim) {
        __mmask16 m = (__mmask16)((1u << (dim - i)) - 1u);
        __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), maskload16_u8(m, c + i));
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_mul_ps(d, d), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static float avx512_sq8_ip(const float *a, const uint8_t *c, size_t dim) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load16_u8(c + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), load16_u8(c + i + 16), s1);
    }
    for (; i + 16 <= dim; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), load16_u8(c + i), s0);
    if (i < dim) {
        __mmask16 m = (__mmask16)((1u << (dim - i)) - 1u);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), maskload16_u8(m, c + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static void avx512_pq8_scan(const float *lut, size_t m, const uint8_t *codes, size_t n,
                            float *out) {
    const __m512i step = _mm512_setr_epi32(0, 256, 512, 768, 1024, 1280, 1536, 1792, 2048, 2304,
                                           2560, 2816, 3072, 3328, 3584, 3840);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * m;
        __m512 acc = _mm512_setzero_ps();
        size_t j = 0;
        for (; j + 16 <= m; j += 16) {
            __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(c + j)));
            idx = _mm512_add_epi32(idx, step);
            acc = _mm512_add_ps(acc, _mm512_i32gather_ps(idx, lut + j * 256, 4));
        }
        if (j < m) {
            __mmask16 k = (__mmask16)((1u << (m - j)) - 1u);
            __m512i idx = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(k, c + j));
            idx = _mm512_add_epi32(idx, step);
            acc = _mm512_add_ps(acc, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx,
                                                              lut + j * 256, 4));
        }
        out[i] = _mm512_reduce_add_ps(acc);
    }
}

static void avx512_pq4_scan(const float *lut, size_t m, const uint8_t *codes, size_t n,
                            float *out) {
    const __m512i step = _mm512_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176,
                                           192, 208, 224, 240);
    const __m512i shift = _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4);
    const __m512i low4 = _mm512_set1_epi32(15);
    size_t cs = (m + 1) / 2;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = codes + i * cs;
        __m512 acc = _mm512_setzero_ps();
        for (size_t j = 0; j < m; j += 16) {
            size_t left = m - j < 16 ? m - j : 16;
            __mmask16 k = (__mmask16)((1u << left) - 1u);
            __mmask16 kb = (__mmask16)((1u << ((left + 1) / 2)) - 1u);
            __m128i b = _mm_maskz_loadu_epi8(kb, c + j / 2);
            b = _mm_unpacklo_epi8(b, b);
            __m512i idx = _mm512_cvtepu8_epi32(b);
            idx = _mm512_and_si512(_mm512_srlv_epi32(idx, shift), low4);
            idx = _mm512_add_epi32(idx, step);
            acc = _mm512_add_ps(acc, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), k, idx,
                                                              lut + j * 16, 4));
        }
        out[i] = _mm512_reduce_add_ps(acc);
    }
}

__attribute__((target("avx512vpopcntdq"))) static uint64_t
avx512_hamming(const uint8_t *a, const uint8_t *b, size_t nbytes) {
    __m512i acc = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= nbytes; i += 64) {
        __m512i x = _mm512_loadu_si512((const void *)(a + i));
        __m512i y = _mm512_loadu_si512((const void *)(b + i));
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(x, y)));
    }
    if (i < nbytes) {
        __mmask64 m = (__mmask64)(~0ULL >> (64 - (nbytes - i)));
        __m512i x = _mm512_maskz_loadu_epi8(m, a + i), y = _mm512_maskz_loadu_epi8(m, b + i);
        acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(_mm512_xor_si512(x, y)));
    }
    return (uint64_t)_mm512_reduce_add_epi64(acc);
}

__attribute__((target("avx512vpopcntdq"))) static void
avx512_jaccard(const uint8_t *a, const uint8_t *b, size_t nbytes, uint64_t *inter,
               uint64_t *uni) {
    __m512i ai = _mm512_setzero_si512(), au = ai;
    size_t i = 0;
    for (; i + 64 <= nbytes; i += 64) {
        __m512i x = _mm512_loadu_si512((const void *)(a + i));
        __m512i y = _mm512_loadu_si512((const void *)(b + i));
        ai = _mm512_add_epi64(ai, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
        au = _mm512_add_epi64(au, _mm512_popcnt_epi64(_mm512_or_si512(x, y)));
    }
    if (i < nbytes) {
        __mmask64 m = (__mmask64)(~0ULL >> (64 - (nbytes - i)));
        __m512i x = _mm512_maskz_loadu_epi8(m, a + i), y = _mm512_maskz_loadu_epi8(m, b + i);
        ai = _mm512_add_epi64(ai, _mm512_popcnt_epi64(_mm512_and_si512(x, y)));
        au = _mm512_add_epi64(au, _mm512_popcnt_epi64(_mm512_or_si512(x, y)));
    }
    *inter = (uint64_t)_mm512_reduce_add_epi64(ai);
    *uni = (uint64_t)_mm512_reduce_add_epi64(au);
}

static inline void prefetch_row(const uint8_t *p, size_t len) {
    for (size_t o = 0; o < len; o += 64) _mm_prefetch((const char *)p + o, _MM_HINT_T0);
}

/* AVX-512 BW only: bytes widened to 16 bits, then vpmaddwd. */
static void avx512bw_u8s8_dot_rows(const int8_t *q, const uint8_t *base, size_t step,
                                   const uint32_t *ids, size_t n, size_t len, int32_t *out) {
    for (size_t j = 0; j < n; j++) {
        const uint8_t *row = base + (size_t)ids[j] * step;
        if (j + 1 < n) prefetch_row(base + (size_t)ids[j + 1] * step, len);
        __m512i a0 = _mm512_setzero_si512(), a1 = a0;
        for (size_t i = 0; i < len; i += 64) {
            __m256i r0 = _mm256_loadu_si256((const __m256i *)(const void *)(row + i));
            __m256i r1 = _mm256_loadu_si256((const __m256i *)(const void *)(row + i + 32));
            __m256i q0 = _mm256_loadu_si256((const __m256i *)(const void *)(q + i));
            __m256i q1 = _mm256_loadu_si256((const __m256i *)(const void *)(q + i + 32));
            a0 = _mm512_add_epi32(a0, _mm512_madd_epi16(_mm512_cvtepu8_epi16(r0), _mm512_cvtepi8_epi16(q0)));
            a1 = _mm512_add_epi32(a1, _mm512_madd_epi16(_mm512_cvtepu8_epi16(r1), _mm512_cvtepi8_epi16(q1)));
        }
        out[j] = _mm512_reduce_add_epi32(_mm512_add_epi32(a0, a1));
    }
}

/* AVX512_VNNI: one VPDPBUSD per 64 bytes, two accumulators. */
static void avx512vnni_u8s8_dot_rows(const int8_t *q, const uint8_t *base, size_t step,
                                     const uint32_t *ids, size_t n, size_t len, int32_t *out) {
    for (size_t j = 0; j < n; j++) {
        const uint8_t *row = base + (size_t)ids[j] * step;
        if (j + 1 < n) prefetch_row(base + (size_t)ids[j + 1] * step, len);
        __m512i a0 = _mm512_setzero_si512(), a1 = a0;
        size_t i = 0;
        for (; i + 128 <= len; i += 128) {
            a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(row + i), _mm512_loadu_si512(q + i));
            a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(row + i + 64),
                                     _mm512_loadu_si512(q + i + 64));
        }
        if (i < len) a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(row + i), _mm512_loadu_si512(q + i));
        out[j] = _mm512_reduce_add_epi32(_mm512_add_epi32(a0, a1));
    }
}

pxs__u8s8_dot_rows_fn pxs__u8s8_dot_rows_avx512(int vnni) {
    return vnni ? avx512vnni_u8s8_dot_rows : avx512bw_u8s8_dot_rows;
}

static struct pxs__code_kernels avx512_codes = {
    .name = "avx512",
    .sq8_l2 = avx512_sq8_l2,
    .sq8_ip = avx512_sq8_ip,
    .pq8_scan = avx512_pq8_scan,
    .pq4_scan = avx512_pq4_scan,
    .u8s8_dot_rows = avx512bw_u8s8_dot_rows,
    .hamming = pxs__hamming_generic,
    .jaccard = pxs__jaccard_generic,
};

static pthread_once_t isa_once = PTHREAD_ONCE_INIT;

static void isa_init(void) {
    __builtin_cpu_init();
    if (pxs_cpu_features() & PXS_CPU_AVX512VNNI) avx512_codes.u8s8_dot_rows = avx512vnni_u8s8_dot_rows;
    if (__builtin_cpu_supports("avx512vpopcntdq")) {
        avx512_codes.hamming = avx512_hamming;
        avx512_codes.jaccard = avx512_jaccard;
    }
}

const struct pxs__code_kernels *pxs__code_kernels_avx512(void) {
    pthread_once(&isa_once, isa_init);
    return &avx512_codes;
}

int pxs__code_kernels_avx512_popcnt(void) {
    return pxs__code_kernels_avx512()->hamming == avx512_hamming;
}

#else
const struct pxs__code_kernels *pxs__code_kernels_avx512(void) { return NULL; }
pxs__u8s8_dot_rows_fn pxs__u8s8_dot_rows_avx512(int vnni) {
    (void)vnni;
    return NULL;
}
int pxs__code_kernels_avx512_popcnt(void) { return 0; }
#endif
