/*
 * depthwise_avx512.c — 3x3 depthwise convolution of one channel, stride 1
 * or 2, padding <= 2, 16 output columns per vector. Input rows are copied
 * into zero-padded row buffers (a 4-slot cache keyed by input row, so with
 * stride 1 each row is copied once), which makes every load unmasked and in
 * bounds (rows outside the image read a zero row); stride 2 gathers the even columns of two loads with one
 * permutex2var. Only the last partial column block uses a masked store.
 * Rows wider than the buffer fall back to nn_dw_generic, the scalar twin.
 */
#include <immintrin.h>
#include <string.h>

#include "nn/nn_int.h"

#define ROWMAX 1024

/* Copy n floats of src to dst + pad, zero dst[0..pad) and dst[pad+n..wp). */
static void pad_row(float *dst, const float *src, int n, int pad, int wp) {
    __m512 z = _mm512_setzero_ps();
    _mm512_storeu_ps(dst, z); /* pad <= 2 */
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + pad + i, _mm512_loadu_ps(src + i));
    if (i < n) {
        __mmask16 mk = (__mmask16)((1u << (n - i)) - 1);
        _mm512_storeu_ps(dst + pad + i, _mm512_maskz_loadu_ps(mk, src + i));
        i += 16;
    } else {
        _mm512_storeu_ps(dst + pad + i, z);
        i += 16;
    }
    for (i += pad; i < wp; i += 16) _mm512_storeu_ps(dst + i, z);
}

void nn_dw3x3_avx512(const struct nn_dw_args *a) {
    int sw = a->sw, pw = a->pw;
    int wp = sw * (a->OW + 16) + 3 + 32;
    if (a->KH != 3 || a->KW != 3 || a->dh != 1 || a->dw != 1 || (sw != 1 && sw != 2) || a->sh != sw ||
        pw > 2 || a->ph > 2 || wp + 16 > ROWMAX || a->W + pw + 16 > wp) {
        nn_dw_generic(a);
        return;
    }
    float rows[5][ROWMAX] __attribute__((aligned(64)));
    int tag[4] = {-1, -1, -1, -1};
    float *zero = rows[4];
    for (int i = 0; i < wp; i += 16) _mm512_storeu_ps(zero + i, _mm512_setzero_ps());
    const __m512 w0 = _mm512_set1_ps(a->w[0]), w1 = _mm512_set1_ps(a->w[1]), w2 = _mm512_set1_ps(a->w[2]);
    const __m512 w3 = _mm512_set1_ps(a->w[3]), w4 = _mm512_set1_ps(a->w[4]), w5 = _mm512_set1_ps(a->w[5]);
    const __m512 w6 = _mm512_set1_ps(a->w[6]), w7 = _mm512_set1_ps(a->w[7]), w8 = _mm512_set1_ps(a->w[8]);
    const __m512 vb = _mm512_set1_ps(a->bias), vlo = _mm512_set1_ps(a->lo), vhi = _mm512_set1_ps(a->hi);
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    /* last padded index a block reads, relative to its first: 2 (+15) for
     * stride 1, 2 + 16 (+15) for stride 2 */
    int reach = sw == 1 ? 17 : 33;
    for (int oh = 0; oh < a->OH; oh++) {
        const float *rp[3], *raw[3];
        for (int kh = 0; kh < 3; kh++) {
            int ih = oh * a->sh - a->ph + kh;
            if (ih < 0 || ih >= a->H) {
                rp[kh] = zero;
                raw[kh] = NULL;
                continue;
            }
            raw[kh] = a->in + (size_t)ih * (size_t)a->W;
            int slot = ih & 3;
            if (tag[slot] != ih) {
                pad_row(rows[slot], raw[kh], a->W, pw, wp);
                tag[slot] = ih;
            }
            rp[kh] = rows[slot];
        }
        float *y = a->out + (size_t)oh * (size_t)a->OW;
        for (int ow = 0; ow < a->OW; ow += 16) {
            int j = sw * ow; /* first padded index of the block */
            /* interior blocks read the input rows in place (no store-to-load
             * forwarding stall on the freshly written row buffer) */
            int inside = j >= pw && j + reach - pw <= a->W - 1;
            const float *r0 = raw[0] && inside ? raw[0] + (j - pw) : rp[0] + j;
            const float *r1 = raw[1] && inside ? raw[1] + (j - pw) : rp[1] + j;
            const float *r2 = raw[2] && inside ? raw[2] + (j - pw) : rp[2] + j;
            __m512 p0, p1, p2;
            if (sw == 1) {
                p0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0), w0, vb);
                p1 = _mm512_mul_ps(_mm512_loadu_ps(r1), w3);
                p2 = _mm512_mul_ps(_mm512_loadu_ps(r2), w6);
                p0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + 1), w1, p0);
                p1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + 1), w4, p1);
                p2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + 1), w7, p2);
                p0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + 2), w2, p0);
                p1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + 2), w5, p1);
                p2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + 2), w8, p2);
            } else {
#define EV(r, off) _mm512_permutex2var_ps(_mm512_loadu_ps((r) + (off)), even, _mm512_loadu_ps((r) + (off) + 16))
                p0 = _mm512_fmadd_ps(EV(r0, 0), w0, vb);
                p1 = _mm512_mul_ps(EV(r1, 0), w3);
                p2 = _mm512_mul_ps(EV(r2, 0), w6);
                p0 = _mm512_fmadd_ps(EV(r0, 1), w1, p0);
                p1 = _mm512_fmadd_ps(EV(r1, 1), w4, p1);
                p2 = _mm512_fmadd_ps(EV(r2, 1), w7, p2);
                p0 = _mm512_fmadd_ps(EV(r0, 2), w2, p0);
                p1 = _mm512_fmadd_ps(EV(r1, 2), w5, p1);
                p2 = _mm512_fmadd_ps(EV(r2, 2), w8, p2);
#undef EV
            }
            __m512 acc = _mm512_add_ps(p0, _mm512_add_ps(p1, p2));
            acc = _mm512_min_ps(_mm512_max_ps(acc, vlo), vhi);
            int rem = a->OW - ow;
            if (rem >= 16) _mm512_storeu_ps(y + ow, acc);
            else _mm512_mask_storeu_ps(y + ow, (__mmask16)((1u << rem) - 1), acc);
        }
    }
}
