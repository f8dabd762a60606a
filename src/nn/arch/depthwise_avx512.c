/*
 * depthwise_avx512.c — AVX-512 3x3 depthwise convolution of one channel,
 * stride 1 or 2, padding <= 2, 16 output columns per vector. Every tap is a
 * masked load straight from the input row (masks computed once per column
 * block, rows up to 1024 output columns): lanes whose input column falls
 * in the zero padding (or past the row) are masked off, which both supplies
 * the zeros and suppresses faults, so nothing is copied and there is no
 * store-to-load forwarding stall on small rows (the 14x14 and 7x7 layers of
 * MobileNets). Input rows outside the image are skipped. Stride 2 gathers
 * the even columns of two masked loads with one permutex2var. Addresses of
 * masked-off lanes are formed with integer arithmetic (never dereferenced).
 * Scalar twin: nn_dw_generic (depthwise.c); tests compare them.
 */
#include <immintrin.h>
#include <stdint.h>

#include "nn/nn_int.h"

#define MAXBLK 64 /* output rows up to 1024 columns; wider ones use the twin */

/* Bits [lo, hi) of a 32-bit mask, clamped to [0, n). */
static inline uint32_t range_mask(int64_t lo, int64_t hi, int n) {
    if (lo < 0) lo = 0;
    if (hi > n) hi = n;
    if (hi <= lo) return 0;
    uint64_t m = ((uint64_t)1 << hi) - 1;
    return (uint32_t)(m & ~(((uint64_t)1 << lo) - 1));
}

static inline const float *at(const float *row, int64_t off) {
    return (const float *)(uintptr_t)((uintptr_t)row + (uintptr_t)(off * (int64_t)sizeof(float)));
}

void nn_dw3x3_avx512(const struct nn_dw_args *a) {
    int sw = a->sw;
    if (a->KH != 3 || a->KW != 3 || a->dh != 1 || a->dw != 1 || (sw != 1 && sw != 2) || a->sh != sw || a->pw > 2 ||
        a->ph > 2 || a->OW > MAXBLK * 16) {
        nn_dw_generic(a);
        return;
    }
    const __m512 wv[9] = {_mm512_set1_ps(a->w[0]), _mm512_set1_ps(a->w[1]), _mm512_set1_ps(a->w[2]),
                          _mm512_set1_ps(a->w[3]), _mm512_set1_ps(a->w[4]), _mm512_set1_ps(a->w[5]),
                          _mm512_set1_ps(a->w[6]), _mm512_set1_ps(a->w[7]), _mm512_set1_ps(a->w[8])};
    const __m512 vb = _mm512_set1_ps(a->bias), vlo = _mm512_set1_ps(a->lo), vhi = _mm512_set1_ps(a->hi);
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const int W = a->W, nblk = (a->OW + 15) / 16;
    /* per block and tap column kw: lanes whose input column is in the row */
    __mmask16 m0[MAXBLK][3], m1[MAXBLK][3];
    for (int b = 0; b < nblk; b++)
        for (int kw = 0; kw < 3; kw++) {
            int64_t base = (int64_t)sw * b * 16 - a->pw + kw;
            uint32_t m = range_mask(-base, W - base, sw == 1 ? 16 : 32);
            m0[b][kw] = (__mmask16)(m & 0xffff);
            m1[b][kw] = (__mmask16)(m >> 16);
        }
    const int rem = a->OW - (nblk - 1) * 16;
    for (int oh = 0; oh < a->OH; oh++) {
        const float *rows[3];
        for (int kh = 0; kh < 3; kh++) {
            int ih = oh * a->sh - a->ph + kh;
            rows[kh] = ih < 0 || ih >= a->H ? NULL : a->in + (size_t)ih * (size_t)W;
        }
        float *y = a->out + (size_t)oh * (size_t)a->OW;
        for (int b = 0; b < nblk; b++) {
            int64_t b0 = (int64_t)sw * b * 16 - a->pw;
            __m512 p0 = vb, p1 = _mm512_setzero_ps(), p2 = _mm512_setzero_ps();
            if (sw == 1) {
#define TAPS(r, p, k)                                                                                   \
    if (r) {                                                                                            \
        p = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0[b][0], at(r, b0)), wv[k], p);                      \
        p = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0[b][1], at(r, b0 + 1)), wv[k + 1], p);              \
        p = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0[b][2], at(r, b0 + 2)), wv[k + 2], p);              \
    }
                TAPS(rows[0], p0, 0)
                TAPS(rows[1], p1, 3)
                TAPS(rows[2], p2, 6)
#undef TAPS
            } else {
#define EV(r, k)                                                                                        \
    _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m0[b][k], at(r, b0 + (k))), even,                      \
                           _mm512_maskz_loadu_ps(m1[b][k], at(r, b0 + (k) + 16)))
#define TAPS(r, p, k)                                                                                   \
    if (r) {                                                                                            \
        p = _mm512_fmadd_ps(EV(r, 0), wv[k], p);                                                        \
        p = _mm512_fmadd_ps(EV(r, 1), wv[k + 1], p);                                                    \
        p = _mm512_fmadd_ps(EV(r, 2), wv[k + 2], p);                                                    \
    }
                TAPS(rows[0], p0, 0)
                TAPS(rows[1], p1, 3)
                TAPS(rows[2], p2, 6)
#undef TAPS
#undef EV
            }
            __m512 acc = _mm512_add_ps(p0, _mm512_add_ps(p1, p2));
            acc = _mm512_min_ps(_mm512_max_ps(acc, vlo), vhi);
            if (b + 1 < nblk || rem == 16) _mm512_storeu_ps(y + b * 16, acc);
            else _mm512_mask_storeu_ps(y + b * 16, (__mmask16)((1u << rem) - 1), acc);
        }
    }
}
