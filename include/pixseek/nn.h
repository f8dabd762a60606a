/*
 * pixseek/nn.h — a small ONNX inference runtime for ImageNet-style CNNs.
 *
 * The nn module loads an ONNX model (float32 weights, opset 7..21, a single
 * float32 input whose first dimension is the batch) and runs it on NCHW
 * float32 tensors. It consumes plain float arrays, never images: turning an
 * image into a normalised tensor is the image module's job.
 *
 *   struct pxs_nn_load_opts o;
 *   pxs_nn_load_opts_init(&o);
 *   o.threads = 2;
 *   pxs_nn_model *m;
 *   if (pxs_nn_model_load("mobilenet_v2_embed.onnx", &o, &m, &err) != PXS_OK) ...
 *   float emb[1280]; size_t n;
 *   rc = pxs_nn_run(m, input_1x3x224x224, 1, NULL, emb, 1280, &n, &err);
 *   pxs_nn_model_free(m);
 *
 * Loading validates the whole graph: unsupported operators or data types,
 * malformed protobuf, inconsistent shapes and over-limit sizes are reported
 * at load time with the node and operator named in err->msg. Model bytes are
 * untrusted: every length is bounded by the bytes that remain and every size
 * is overflow-checked before anything is allocated.
 *
 * Thread-safety: a pxs_nn_model is used by one thread at a time (pxs_nn_run
 * mutates its activation arena and plan cache). Different models may run
 * concurrently; create one model per worker thread to serve in parallel.
 * The query functions that take a const model may be called concurrently
 * with each other but not with pxs_nn_run.
 *
 * Memory: activations live in one arena per model, sized by a memory plan
 * that reuses buffers between layers. The first run at a new batch size
 * plans and (re)allocates; later runs at that size allocate nothing. Plans
 * for the 8 most recent batch sizes are cached.
 *
 * Threads: a batch whose items are independent (every CNN; checked per
 * batch size from the plan: no node works across the batch axis) and
 * large enough to give each thread whole items (batch % threads == 0 or
 * batch >= 4 * threads) runs item-parallel: each thread runs complete
 * batch-1 passes on its own items, in its own batch-1-sized arena (so a
 * batch needs threads x the batch-1 memory, not batch x). Smaller batches
 * split each layer over the threads. Results do not depend on the mode.
 *
 * Kernels are chosen once per model from pxs_cpu_features() (AVX-512, AVX2,
 * generic). PXS_FORCE_GENERIC=1 forces the scalar paths; PXS_NN_ISA=avx2 or
 * PXS_NN_ISA=generic caps the GEMM kernel (for benchmarks).
 */
#ifndef PIXSEEK_NN_H
#define PIXSEEK_NN_H

#include <stddef.h>
#include <stdint.h>

#include "pixseek/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pxs_nn_model pxs_nn_model;

#define PXS_NN_MAX_DIMS 8

/* Arithmetic precision of the convolutions (pxs_nn_load_opts.precision).
 * PXS_NN_BF16 runs them in bfloat16 (weights and channels-last activations
 * between convolutions in bf16, accumulation and everything else in fp32;
 * embeddings stay within cosine 0.999 of fp32) when the CPU has
 * AVX512-BF16 or AMX and the oneDNN backend is in use. Otherwise the model
 * runs fp32 and pxs_nn_stats.precision_note says why: never emulated. */
enum pxs_nn_precision { PXS_NN_FP32 = 0, PXS_NN_BF16 = 1 };

/* "fp32" / "bf16" (NULL for an unknown value), and back: PXS_OK or
 * PXS_EINVAL with a message naming the accepted values. */
const char *pxs_nn_precision_name(int precision);
int pxs_nn_precision_parse(const char *name, int *precision, struct pxs_err *err) PXS_MUST_CHECK;

struct pxs_nn_load_opts {
    int threads;              /* worker threads for pxs_nn_run, including the caller; 0 = 1 */
    int precision;            /* enum pxs_nn_precision; 0 = PXS_NN_FP32 */
    int max_batch;            /* largest batch pxs_nn_run accepts; 0 = 256 */
    size_t max_file_bytes;    /* model file size limit; 0 = 2 GiB */
    size_t max_arena_bytes;   /* activation + scratch memory limit per plan; 0 = 8 GiB */
};

/* Defaults (all zero fields mean "default"). */
void pxs_nn_load_opts_init(struct pxs_nn_load_opts *opts);

/* Load an ONNX file. Tensors stored as external data are read from files
 * relative to the model's directory (absolute paths and ".." are refused).
 * opts may be NULL. *out is caller-freed with pxs_nn_model_free.
 * Returns PXS_OK, PXS_EIO, PXS_ECORRUPT (malformed protobuf or graph),
 * PXS_EUNSUPPORTED (operator, attribute or data type), PXS_ELIMIT, PXS_ENOMEM. */
int pxs_nn_model_load(const char *path, const struct pxs_nn_load_opts *opts,
                      pxs_nn_model **out, struct pxs_err *err) PXS_MUST_CHECK;

/* Load from a buffer (borrowed for the duration of the call only: the model
 * keeps its own copies). base_dir is where external data lives; NULL refuses
 * external data. Same returns as pxs_nn_model_load. */
int pxs_nn_model_load_buffer(const void *data, size_t len, const char *base_dir,
                             const struct pxs_nn_load_opts *opts, pxs_nn_model **out,
                             struct pxs_err *err) PXS_MUST_CHECK;

/* Free a model. NULL is a no-op. */
void pxs_nn_model_free(pxs_nn_model *m);

/* Name of the single graph input. Borrowed (valid until pxs_nn_model_free). */
const char *pxs_nn_model_input_name(const pxs_nn_model *m);

/* Shape of the input. dims[0] is -1 when the batch dimension is dynamic,
 * otherwise the fixed batch. Writes at most max_dims entries and returns the
 * rank. */
int pxs_nn_model_input_shape(const pxs_nn_model *m, int64_t *dims, int max_dims);

/* Number of graph outputs, and the name of output i (borrowed, valid until
 * pxs_nn_model_free; NULL when i is out of range). */
int pxs_nn_model_output_count(const pxs_nn_model *m);
const char *pxs_nn_model_output_name(const pxs_nn_model *m, int i);

/* Shape of an output (output_name NULL = first output) for a given batch.
 * Plans the model for that batch if needed (may allocate). *ndim gets the
 * rank; at most max_dims entries of dims are written. */
int pxs_nn_model_output_shape(pxs_nn_model *m, const char *output_name, int batch,
                              int64_t *dims, int max_dims, int *ndim,
                              struct pxs_err *err) PXS_MUST_CHECK;

/* Run the model on `batch` items of NCHW float32 input (input holds
 * batch * prod(input dims[1:]) floats, borrowed for the call). The output
 * named output_name (NULL = first) is copied into out, which holds out_cap
 * floats; *out_len gets the number of floats written (batch * prod(output
 * dims[1:])). A model whose input has a fixed batch dimension accepts only
 * that batch. Returns PXS_EINVAL for a bad batch, PXS_ENOTFOUND for an
 * unknown output name, PXS_ELIMIT when out_cap is too small (nothing is
 * written then, *out_len holds the size needed). Not re-entrant on the same
 * model (see thread-safety above). */
int pxs_nn_run(pxs_nn_model *m, const float *input, int batch, const char *output_name,
               float *out, size_t out_cap, size_t *out_len, struct pxs_err *err) PXS_MUST_CHECK;

struct pxs_nn_stats {
    int n_nodes;           /* nodes executed at run time after folding and fusion */
    int n_nodes_onnx;      /* nodes in the file */
    size_t n_params;       /* float parameters (initializers) */
    double flops_per_item; /* multiply-adds x 2 for one batch item (convs and gemms) */
    const char *kernel;    /* GEMM micro-kernel in use: "avx512", "avx2" or "generic" */
    size_t arena_bytes;    /* activations + scratch for one batch item (after buffer reuse) */
    size_t naive_bytes;    /* sum of all run-time activation sizes for one item (no reuse) */
    const char *precision; /* precision that actually runs: "fp32" or "bf16" */
    const char *precision_note; /* why a requested bf16 runs fp32 (one line), else NULL */
};

/* Fill *st (never fails for a loaded model). */
void pxs_nn_model_stats(const pxs_nn_model *m, struct pxs_nn_stats *st);

#ifdef __cplusplus
}
#endif
#endif
