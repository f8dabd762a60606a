/*
 * fuzz/fuzz_onnx.c — the ONNX loader (protobuf reader, graph build, shape
 * inference, constant folding, memory planning) on arbitrary bytes, from
 * memory with no external data, under small limits (16 MiB of activations,
 * batch <= 2). A model that loads is run once on a deterministic input when
 * it is cheap (at most 2 MFLOP and 64k parameters per item), so the
 * operators see hostile shapes and attributes too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pixseek/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct pxs_nn_load_opts o;
    pxs_nn_load_opts_init(&o);
    o.max_batch = 2;
    o.max_file_bytes = (size_t)4 << 20;
    o.max_arena_bytes = (size_t)16 << 20;
    pxs_nn_model *m = NULL;
    struct pxs_err err;
    pxs_err_clear(&err);
    if (pxs_nn_model_load_buffer(data, size, NULL, &o, &m, &err) != PXS_OK) {
        if (m) __builtin_trap(); /* failure must leave *out NULL */
        return 0;
    }
    struct pxs_nn_stats st;
    pxs_nn_model_stats(m, &st);
    int64_t dims[8];
    int nd = pxs_nn_model_input_shape(m, dims, 8);
    size_t per_item = 1;
    for (int i = 1; i < nd && i < 8; i++) per_item *= (size_t)dims[i];
    if (st.flops_per_item <= 2e6 && st.n_params <= 65536 && per_item <= 65536) {
        size_t n_in = per_item * 2;
        float *in = malloc(n_in * sizeof(float) + 4);
        if (in) {
            for (size_t i = 0; i < n_in; i++) in[i] = (float)((i * 7919) % 17) / 8.f - 1.f;
            int batch = dims[0] > 0 ? (int)dims[0] : 2;
            int64_t od[8];
            int ond = 0;
            if (pxs_nn_model_output_shape(m, NULL, batch, od, 8, &ond, &err) == PXS_OK) {
                size_t need = 1;
                for (int i = 0; i < ond && i < 8; i++) need *= (size_t)od[i];
                if (need <= ((size_t)4 << 20)) {
                    float *out = malloc(need * sizeof(float) + 4);
                    size_t got = 0;
                    if (out && batch <= 2 && pxs_nn_run(m, in, batch, NULL, out, need, &got, &err) == PXS_OK &&
                        got != need)
                        __builtin_trap();
                    free(out);
                }
            }
            free(in);
        }
    }
    pxs_nn_model_free(m);
    return 0;
}
