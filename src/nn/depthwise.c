/*
 * depthwise.c — direct depthwise convolution of one channel (any kernel,
 * stride, padding, dilation), the generic twin of the 3x3 kernels in arch/.
 * For each kernel tap the range of output columns whose input column is
 * inside the image is computed once, so the inner loop has no bounds checks.
 */
#include "nn/nn_int.h"

void nn_dw_generic(const struct nn_dw_args *a) {
    for (int oh = 0; oh < a->OH; oh++) {
        float *restrict y = a->out + (size_t)oh * (size_t)a->OW;
        for (int ow = 0; ow < a->OW; ow++) y[ow] = a->bias;
        for (int kh = 0; kh < a->KH; kh++) {
            int ih = oh * a->sh - a->ph + kh * a->dh;
            if (ih < 0 || ih >= a->H) continue;
            const float *restrict x = a->in + (size_t)ih * (size_t)a->W;
            for (int kw = 0; kw < a->KW; kw++) {
                float wv = a->w[kh * a->KW + kw];
                int off = kw * a->dw - a->pw; /* iw = ow*sw + off */
                int lo = off < 0 ? (-off + a->sw - 1) / a->sw : 0;
                int hi = a->W - 1 - off < 0 ? -1 : (a->W - 1 - off) / a->sw;
                if (hi > a->OW - 1) hi = a->OW - 1;
                if (a->sw == 1) {
                    for (int ow = lo; ow <= hi; ow++) y[ow] += wv * x[ow + off];
                } else {
                    for (int ow = lo; ow <= hi; ow++) y[ow] += wv * x[ow * a->sw + off];
                }
            }
        }
        for (int ow = 0; ow < a->OW; ow++) {
            float v = y[ow];
            v = v < a->lo ? a->lo : v;
            y[ow] = v > a->hi ? a->hi : v;
        }
    }
}

nn_dw_fn nn_dw3x3_for(int isa) {
#if defined(__x86_64__)
    if (isa == NN_ISA_AVX512 && (pxs_cpu_features() & PXS_CPU_AVX512F)) return nn_dw3x3_avx512;
    if (isa == NN_ISA_AVX2 && (pxs_cpu_features() & PXS_CPU_AVX2)) return nn_dw3x3_avx2;
#endif
    (void)isa;
    return NULL;
}
