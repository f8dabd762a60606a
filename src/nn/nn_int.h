/*
 * nn_int.h — private declarations of the nn module: the protobuf reader, the
 * loaded graph (values, nodes, attributes), the per-batch plan, the operator
 * table, the GEMM kernels and the thread pool. Included only from src/nn/
 * and tests/nn/.
 *
 * Invariants kept by the loader (onnx_load.c, graph.c):
 *   - every node input/output index is -1 (absent optional) or < n_values;
 *   - model->order lists live nodes in topological order;
 *   - a value with const data has dtype, shape and nbytes consistent with
 *     each other (nbytes == numel * element size);
 *   - runtime (non-constant) values are float32.
 */
#ifndef PIXSEEK_NN_INT_H
#define PIXSEEK_NN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pixseek/core.h"
#include "pixseek/nn.h"

#define NN_MAX_DIMS PXS_NN_MAX_DIMS

/* ---- protobuf wire format (pb.c) --------------------------------------- */

enum nn_pb_wire { NN_PB_VARINT = 0, NN_PB_I64 = 1, NN_PB_LEN = 2, NN_PB_I32 = 5 };

struct nn_pb {
    const uint8_t *p;
    const uint8_t *end;
};

struct nn_pb_field {
    uint32_t num;
    int wire;
    uint64_t v;            /* varint / fixed value */
    const uint8_t *data;   /* NN_PB_LEN payload */
    size_t len;
};

/* Next field: 1 = got one, 0 = end of message, <0 = PXS_ECORRUPT. Groups
 * (wire types 3/4) are rejected. */
int nn_pb_next(struct nn_pb *r, struct nn_pb_field *f, struct pxs_err *err);
int nn_pb_varint(struct nn_pb *r, uint64_t *v);

/* ---- tensors and shapes ------------------------------------------------ */

enum nn_dtype { NN_DT_F32 = 1, NN_DT_I64 = 7 };

struct nn_shape {
    int ndim;
    int64_t d[NN_MAX_DIMS];
};

/* A view: dtype + shape + data (not owned). */
struct nn_tensor {
    int dtype;
    struct nn_shape shape;
    size_t numel;
    void *data;
};

size_t nn_dtype_size(int dtype);
int nn_shape_numel(const struct nn_shape *s, size_t *out); /* 0 or -1 on overflow/negative */
void nn_shape_fmt(const struct nn_shape *s, char *buf, size_t cap);

/* ---- graph --------------------------------------------------------------- */

enum nn_attr_type {
    NN_AT_FLOAT = 1, NN_AT_INT = 2, NN_AT_STRING = 3, NN_AT_TENSOR = 4,
    NN_AT_FLOATS = 6, NN_AT_INTS = 7,
};

struct nn_value;

struct nn_attr {
    char *name;
    int type;
    float f;
    int64_t i;
    char *s;             /* NUL-terminated copy */
    float *floats;
    int64_t *ints;
    size_t n;            /* count of floats/ints */
    struct nn_value *t;  /* tensor attribute (owned) */
};

struct nn_value {
    char *name;
    int dtype;             /* for constants and graph inputs */
    struct nn_shape shape; /* for constants and graph inputs */
    void *data;            /* constant data (owned) or NULL */
    size_t nbytes;
    int producer;          /* node index or -1 */
    int n_consumers;
    int is_output;
    int is_input;
    int nhwc;              /* run-time data laid out N,H,W,C (conv_dnnl.c) */
    int bf16;              /* an NHWC value stored as bfloat16 (conv_dnnl.c) */
};

struct nn_op;

enum nn_act { NN_ACT_NONE = 0, NN_ACT_CLAMP = 1 };

struct nn_node {
    char *name;
    char *op_type;
    const struct nn_op *op;
    int n_in, n_out;
    int *in, *out;
    struct nn_attr *attrs;
    int n_attrs;
    int dead;
    int live;
    /* fused activation (Conv): clamp to [lo, hi] */
    int act;
    float act_lo, act_hi;
    /* Conv only: a residual Add folded in at load; in[3] is added before
     * the activation */
    int res_fused;
    /* Conv with res_fused, oneDNN backend only: a clamp to [pre_lo, pre_hi]
     * applied before the residual add (Conv -> Clip -> Add -> Clip) */
    int pre_act;
    float pre_lo, pre_hi;
    /* Conv with res_fused, oneDNN backend (nn_dnnl_layouts): the output is
     * planned in the residual's buffer (its last use), which the
     * convolution accumulates into (a oneDNN sum post-op) */
    int res_inplace;
    void *prep;              /* op-prepared data (packed weights), owned */
    void (*prep_free)(void *);
};

/* ---- plan ---------------------------------------------------------------- */

struct nn_plan {
    int batch;
    struct nn_tensor *t;   /* per value */
    size_t *off;           /* arena offset per runtime value, SIZE_MAX otherwise */
    void **owned;          /* plan-time constant buffers */
    int n_owned;
    int *steps;            /* node indices executed at run time */
    int n_steps;
    size_t arena_bytes;    /* activation bytes */
    size_t ws_bytes;       /* scratch bytes (shared by all nodes) */
    double flops;
    int items;             /* batch > 1 may run as `batch` runs of the batch-1
                              plan: -1 not checked yet, 0 no, 1 yes (model.c) */
};

/* Per-thread context for item-parallel runs (model.c): each worker runs
 * whole batch-1 passes of the graph in its own arena. */
struct nn_ictx {
    void *arena;
    size_t arena_cap;
    struct nn_tensor *t;     /* n_values + 1 views, bound to this arena */
    struct nn_tensor *tin, *tout;
    struct pxs_err err;
    int rc;
};

struct nn_pool;
struct nn_gemm_kernel;

struct pxs_nn_model {
    struct nn_value *values;
    int n_values, cap_values;
    struct nn_node *nodes;
    int n_nodes, cap_nodes;
    int n_nodes_onnx;
    int *order;          /* topological order of live nodes */
    int n_order;
    int input;           /* value index of the graph input */
    int *outputs;
    int n_outputs;
    int64_t opset;
    int64_t ir_version;
    int64_t fixed_batch; /* >0 when the input batch dimension is fixed */
    /* name -> value index hash table (open addressing, power of two) */
    int *htab;
    size_t hcap;
    struct pxs_nn_load_opts opts;
    char *base_dir;
    const struct nn_gemm_kernel *gk;
    struct nn_pool *pool;
    int threads;
    /* plan cache */
    struct nn_plan *plans[8];
    int n_plans;
    /* arena (layer-by-layer runs) */
    void *arena;
    size_t arena_cap;
    /* item-parallel runs: one context per thread, allocated on first use;
     * item_mode = 0 forces layer-by-layer runs (tests, benchmarks) */
    struct nn_ictx *ictx;
    int item_mode;
    /* per-thread GEMM packing buffers */
    float **packb;
    size_t packb_floats;
    size_t n_params;
    /* per-node input/output views, sized for the widest node */
    struct nn_tensor *tin, *tout;
    int max_io;
    int stat_steps;
    double stat_flops;
    size_t stat_arena, stat_naive;
    void *dnnl;          /* oneDNN conv backend in use (conv_dnnl.c), or NULL */
    int bf16;            /* convolutions run bf16 (conv_dnnl.c; opts.precision granted) */
    const char *precision_note; /* static text: why a requested bf16 runs fp32, or NULL */
};

/* Value table */
int nn_value_find(const struct pxs_nn_model *m, const char *name); /* -1 if absent */
int nn_value_add(struct pxs_nn_model *m, const char *name, size_t name_len, struct pxs_err *err);
int nn_node_add(struct pxs_nn_model *m, struct pxs_err *err); /* returns index or <0 */

/* Attributes */
const struct nn_attr *nn_attr_get(const struct nn_node *n, const char *name);
int64_t nn_attr_int(const struct nn_node *n, const char *name, int64_t def);
float nn_attr_float(const struct nn_node *n, const char *name, float def);
const char *nn_attr_str(const struct nn_node *n, const char *name, const char *def);
/* ints attribute: returns count (0 if absent), *out borrowed */
size_t nn_attr_ints(const struct nn_node *n, const char *name, const int64_t **out);

void nn_attr_free(struct nn_attr *a);
void nn_value_free_data(struct nn_value *v);

/* Loader pieces */
int nn_onnx_parse(struct pxs_nn_model *m, const uint8_t *data, size_t len, struct pxs_err *err);
int nn_graph_build(struct pxs_nn_model *m, struct pxs_err *err);
/* Plan for a batch size (cached; the batch-1 plan is never evicted, so a
 * pointer to it stays valid while other plans are built). Allocates no
 * arena: see nn_arena_reserve. */
int nn_plan_get(struct pxs_nn_model *m, int batch, struct nn_plan **out, struct pxs_err *err);
/* Grow *arena (64-aligned, *cap bytes) to hold p's activations + scratch. */
int nn_arena_reserve(void **arena, size_t *cap, const struct nn_plan *p, struct pxs_err *err);
void nn_plan_free(struct nn_plan *p);

/* ---- operators ---------------------------------------------------------- */

struct nn_exec {
    struct pxs_nn_model *m;
    struct pxs_err *err;
    void *ws;              /* scratch of plan->ws_bytes */
    size_t ws_bytes;
    int plan_time;         /* evaluating constants while planning */
    struct nn_pool *pool;  /* pool to split the node over, NULL = run inline */
    float **packb;         /* GEMM B-packing buffers, indexed by pool tid */
};

/* Shape inference context: constant inputs have data != NULL. */
struct nn_op {
    const char *name;
    /* Fill out[i].dtype and out[i].shape from the inputs (in[i].data is set
     * for inputs known at plan time). Returns PXS_OK or an error. */
    int (*infer)(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                 struct nn_tensor *out, struct pxs_err *err);
    int (*exec)(struct nn_exec *ex, const struct nn_node *n, const struct nn_tensor *in,
                struct nn_tensor *out);
    /* optional: scratch bytes needed (0 if NULL) */
    size_t (*workspace)(const struct pxs_nn_model *m, const struct nn_node *n,
                        const struct nn_tensor *in, const struct nn_tensor *out);
    /* optional: multiply-adds x2 for the whole call */
    double (*flops)(const struct nn_node *n, const struct nn_tensor *in, const struct nn_tensor *out);
    int shape_only;        /* output depends only on input shapes (Shape) */
};

const struct nn_op *nn_op_find(const char *name);
int nn_conv_prepare(struct pxs_nn_model *m, struct nn_node *n, struct pxs_err *err);
int nn_gemm_prepare(struct pxs_nn_model *m, struct nn_node *n, struct pxs_err *err);

/* oneDNN convolution backend (conv_dnnl.c). */
struct nn_dnnl_conv;
int nn_dnnl_select(struct pxs_nn_model *m);      /* 1 = use oneDNN for Conv (sets m->dnnl) */
void nn_dnnl_model_free(struct pxs_nn_model *m);
void nn_dnnl_layouts(struct pxs_nn_model *m);    /* sets nn_value.nhwc after the graph is built */
int nn_dnnl_conv_new(const struct pxs_nn_model *m, const struct nn_node *n, const float *bias,
                     struct nn_dnnl_conv **out, struct pxs_err *err);
void nn_dnnl_conv_free(struct nn_dnnl_conv *d);
struct nn_dnnl_conv *nn_conv_dnnl_of(const struct nn_node *n); /* conv.c: the node's backend or NULL */
size_t nn_dnnl_conv_ws(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                       const struct nn_tensor *out);
int nn_dnnl_conv_exec(struct nn_exec *ex, const struct nn_node *n, struct nn_dnnl_conv *d,
                      const struct nn_tensor *in, struct nn_tensor *out);

/* ---- GEMM ---------------------------------------------------------------- */

#define NN_GEMM_KC 256
#define NN_GEMM_NC 384
#define NN_GEMM_MAX_MR 16
#define NN_GEMM_MAX_NR 32

enum { NN_UKR_FIRST = 1, NN_UKR_LAST = 2 };

/* C[m x n] (+)= A(kc x MR packed) * B(kc x NR); m <= MR, n <= NR valid.
 * Row p of B starts at b + p * ldb, or at b + boff[p] when boff != NULL
 * (direct convolution: B rows are shifted views of the padded input).
 * FIRST: start from bias[row] (or 0 if bias NULL), else accumulate into C.
 * LAST: add the residual tile r (same layout as C, NULL = none), then clamp
 * the result to [lo, hi]. Rows past m are neither computed nor stored. */
typedef void (*nn_ukr_fn)(size_t kc, const float *a, const float *b, size_t ldb, const uint32_t *boff, float *c,
              size_t ldc, int m, int n, int flags, const float *bias, const float *r, float lo, float hi);

struct nn_gemm_kernel {
    const char *name;
    int mr, nr;
    nn_ukr_fn ukr;
};

enum { NN_ISA_GENERIC = 0, NN_ISA_AVX2 = 1, NN_ISA_AVX512 = 2 };
/* Kernel for an ISA, or NULL if not compiled/supported by the CPU. */
const struct nn_gemm_kernel *nn_gemm_kernel_for(int isa);
const struct nn_gemm_kernel *nn_gemm_kernel_best(void);

void nn_ukr_generic(size_t kc, const float *a, const float *b, size_t ldb, const uint32_t *boff, float *c,
                    size_t ldc, int m, int n, int flags, const float *bias, const float *r, float lo, float hi);
void nn_ukr_avx2(size_t kc, const float *a, const float *b, size_t ldb, const uint32_t *boff, float *c, size_t ldc,
                 int m, int n, int flags, const float *bias, const float *r, float lo, float hi);
void nn_ukr_avx512(size_t kc, const float *a, const float *b, size_t ldb, const uint32_t *boff, float *c,
                   size_t ldc, int m, int n, int flags, const float *bias, const float *r, float lo, float hi);

/* Size in floats of A packed for kernel k (M x K). */
size_t nn_gemm_packed_a_floats(const struct nn_gemm_kernel *k, size_t M, size_t K);
/* Pack A (element (i,p) at a[i*rs + p*cs]) into MR panels: panel q holds
 * rows q*MR.. as K x MR, zero padded. */
void nn_gemm_pack_a(const struct nn_gemm_kernel *k, size_t M, size_t K, const float *a, size_t rs,
                    size_t cs, float *out);

struct nn_gemm_call {
    const struct nn_gemm_kernel *k;
    size_t M, N, K;
    const float *ap;       /* packed A */
    const float *b;        /* B element (p,j) at b[p*b_rs + j*b_cs] */
    const uint32_t *boff;  /* or, when set, at b[boff[p] + j] (read in place) */
    size_t b_rs, b_cs;
    float *c;              /* C element (i,j) at c[i*ldc + j] */
    size_t ldc;
    const float *bias;     /* per row of C, may be NULL */
    const float *res;      /* residual added before the clamp, laid out like C (ldc), may be NULL */
    float lo, hi;
    /* Optional batch of same-shaped products, i in [0, batch) (0 means 1):
     * A_i = ap + (i % a_mod) * a_stride, bias_i = bias + (i % a_mod) *
     * bias_stride, B_i = b + i * b_stride, C_i = c + i * c_stride,
     * res_i = res + i * c_stride. */
    size_t batch, a_mod, a_stride, bias_stride, b_stride, c_stride;
    /* Optional B producer (implicit im2col): fills the packed panels of
     * rows [k0, k0+kc) and columns [j0, j0+nc) of B_i: panel q holds columns
     * j0+q*nr.. as kc x nr, zero padded past nc. b/b_rs/b_cs are then unused. */
    void (*pack)(const void *ctx, size_t i, size_t k0, size_t kc, size_t j0, size_t nc, size_t nr, float *out);
    const void *pack_ctx;
    /* Hint for B read in place: the B rows of one N block fit in L2, so
     * sweep all of K per A panel (weights streamed once, in order). */
    int k_inner;
};

/* Multi-threaded over the model's pool when pool != NULL. packb: per-thread
 * buffers of NN_GEMM_KC * NN_GEMM_NC floats. */
void nn_gemm_run(struct nn_pool *pool, float **packb, const struct nn_gemm_call *c);

/* Plain reference: C = A*B (+bias), used by tests. */
void nn_gemm_ref(size_t M, size_t N, size_t K, const float *a, const float *b, float *c,
                 const float *bias);

/* Depthwise convolution kernels (depthwise.c + arch/). */
struct nn_dw_args {
    const float *in;    /* one channel: H x W */
    float *out;         /* one channel: OH x OW */
    const float *w;     /* KH x KW */
    float bias;
    int H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw;
    float lo, hi;
};
void nn_dw_generic(const struct nn_dw_args *a);
typedef void (*nn_dw_fn)(const struct nn_dw_args *a);
/* 3x3 specialisations: NULL when unavailable */
nn_dw_fn nn_dw3x3_for(int isa);
void nn_dw3x3_avx512(const struct nn_dw_args *a);
void nn_dw3x3_avx2(const struct nn_dw_args *a);

/* ---- thread pool ------------------------------------------------------- */

typedef void (*nn_task_fn)(void *ctx, size_t task, int tid);
int nn_pool_new(int threads, struct nn_pool **out, struct pxs_err *err);
void nn_pool_free(struct nn_pool *p);
int nn_pool_threads(const struct nn_pool *p);
/* Run fn(ctx, t, tid) for t in [0, n); the caller participates (tid 0).
 * pool may be NULL (runs inline). */
void nn_pool_run(struct nn_pool *p, size_t n, nn_task_fn fn, void *ctx);

#endif
