/*
 * depthwise_avx2.c — AVX2+FMA twin of depthwise_avx512.c: 3x3 depthwise
 * convolution of one channel, stride 1 or 2, padding <= 2, 8 output columns
 * per vector. Rows are copied into zero-padded buffers (4-slot cache keyed
 * by input row; rows outside the image read a zero row) so every load is in
 * bounds; interior blocks read the input in place. Stride 2 picks even
 * columns with shuffle + permute. The ragged tail (< 8 columns) is scalar.
 * Falls back to nn_dw_generic (the scalar twin) for wide rows.
 */
#include <immintrin.h>

#include "nn/nn_int.h"

#define ROWMAX 1024

static void pad_row(float *dst, const float *src, int n, int pad, int wp) {
    int i;
    for (i = 0; i < pad; i++) dst[i] = 0.f;
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + pad + i, _mm256_loadu_ps(src + i));
    for (; i < n; i++) dst[pad + i] = src[i];
    for (i += pad; i < wp; i++) dst[i] = 0.f;
}

static inline __m256 even8(const float *p) {
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    __m256 s = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)); /* a0 a2 b0 b2 | a4 a6 b4 b6 */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

void nn_dw3x3_avx2(const struct nn_dw_args *a) {
    int sw = a->sw, pw = a->pw;
    int wp = sw * (a->OW + 8) + 3 + 16;
    if (a->KH != 3 || a->KW != 3 || a->dh != 1 || a->dw != 1 || (sw != 1 && sw != 2) || a->sh != sw ||
        pw > 2 || a->ph > 2 || wp + 8 > ROWMAX || a->W + pw + 8 > wp) {
        nn_dw_generic(a);
        return;
    }
    float rows[5][ROWMAX] __attribute__((aligned(32)));
    int tag[4] = {-1, -1, -1, -1};
    float *zero = rows[4];
    for (int i = 0; i < wp; i++) zero[i] = 0.f;
    __m256 w[9];
    for (int i = 0; i < 9; i++) w[i] = _mm256_set1_ps(a->w[i]);
    const __m256 vb = _mm256_set1_ps(a->bias), vlo = _mm256_set1_ps(a->lo), vhi = _mm256_set1_ps(a->hi);
    int reach = sw == 1 ? 9 : 17; /* last padded index read by a block, from its first */
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
        int ow = 0;
        for (; ow + 8 <= a->OW; ow += 8) {
            int j = sw * ow;
            int inside = j >= pw && j + reach - pw <= a->W - 1;
            const float *r[3];
            for (int kh = 0; kh < 3; kh++) r[kh] = raw[kh] && inside ? raw[kh] + (j - pw) : rp[kh] + j;
            __m256 p[3];
            for (int kh = 0; kh < 3; kh++) {
                if (sw == 1) {
                    p[kh] = _mm256_mul_ps(_mm256_loadu_ps(r[kh]), w[kh * 3]);
                    p[kh] = _mm256_fmadd_ps(_mm256_loadu_ps(r[kh] + 1), w[kh * 3 + 1], p[kh]);
                    p[kh] = _mm256_fmadd_ps(_mm256_loadu_ps(r[kh] + 2), w[kh * 3 + 2], p[kh]);
                } else {
                    p[kh] = _mm256_mul_ps(even8(r[kh]), w[kh * 3]);
                    p[kh] = _mm256_fmadd_ps(even8(r[kh] + 1), w[kh * 3 + 1], p[kh]);
                    p[kh] = _mm256_fmadd_ps(even8(r[kh] + 2), w[kh * 3 + 2], p[kh]);
                }
            }
            __m256 acc = _mm256_add_ps(_mm256_add_ps(vb, p[0]), _mm256_add_ps(p[1], p[2]));
            _mm256_storeu_ps(y + ow, _mm256_min_ps(_mm256_max_ps(acc, vlo), vhi));
        }
        for (; ow < a->OW; ow++) {
            float s = a->bias;
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) s += rp[kh][sw * ow + kw] * a->w[kh * 3 + kw];
            s = s < a->lo ? a->lo : s;
            y[ow] = s > a->hi ? a->hi : s;
        }
    }
}
