/*
 * conv_dnnl.c — the oneDNN (libdnnl, Debian libdnnl-dev) convolution backend.
 *
 * Chosen at load (nn_dnnl_select) when the native GEMM kernel is AVX-512,
 * oneDNN reports avx512_core, and the model runs 1 thread or the process has
 * OMP_WAIT_POLICY=passive (see there); PXS_NN_BACKEND=native forces our kernels
 * (conv.c), which stay the fallback and the oracle of the tests.
 *
 * Layout: oneDNN's fast fp32 kernels (brgconv) want channels-last
 * activations, its NCHW path is slower than ours. nn_dnnl_layouts marks a
 * Conv output NHWC (nn_value.nhwc) when every consumer is a oneDNN Conv
 * reading it as data or residual and it is not a graph output, so a chain of
 * convolutions (a whole ResNet or MobileNet trunk) runs channels-last with
 * no transposes; at the chain's edges the Conv reorders its NCHW input into
 * scratch, or writes NHWC into scratch and reorders it out. NHWC has the
 * same size as NCHW, so the arena plan does not change; batch-major too, so
 * item-parallel runs work unchanged.
 *
 * Per node: weights stay borrowed (OIHW) until a primitive for a shape is
 * first executed; primitives (with their reordered weights, shared between
 * primitives asking for the same weight layout) are cached per (input
 * shape, thread count) under the node's mutex. A fused Relu/Clip becomes an
 * eltwise post-op, a fused residual a binary-add post-op before it (a sum
 * post-op when the output is planned in the residual's buffer, see
 * nn_dnnl_layouts), a clamp before the residual (graph.c pre_act) an
 * eltwise post-op before that.
 *
 * bf16 (pxs_nn_load_opts.precision, granted by nn_dnnl_select only when
 * oneDNN reports avx512_core_bf16 or AMX): convolutions compute with bf16
 * source and weights (fp32 accumulation and post-ops), except narrow
 * depthwise ones (nn_dnnl_conv_new). A channels-last value is stored as
 * bf16 (nn_value.bf16, half the bytes: the plan's fp32 sizes still hold)
 * when its conv and every conv reading it compute bf16, else fp32; a conv
 * whose source is stored otherwise reorders it into scratch, like an NCHW
 * one.
 *
 * Threads: oneDNN here runs on OpenMP. Each call sets the calling thread's
 * OpenMP thread count to what our pool would use for the node (the model's
 * thread count layer by layer, 1 in item-parallel runs where our pool
 * already has every core busy), so the two never oversubscribe; our pool's
 * workers are idle while a oneDNN convolution runs.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <oneapi/dnnl/dnnl.h>

#include "nn/ops_int.h"

/* libgomp (oneDNN's runtime) — declared here to need no omp.h */
extern void omp_set_num_threads(int n);

#define DNNL_MAX_PRIMS 24 /* plans (batch sizes) x {pool threads, 1} */

struct dnnl_prim {
    int64_t N, H, W;
    int nthr;
    dnnl_primitive_t conv, re_src, re_res, re_dst; /* reorders: NULL when not needed */
    dnnl_memory_desc_t src_md, dst_md, res_md, w_md, b_md, src_plain, dst_plain, scratch_md;
    size_t scratch_bytes;                           /* oneDNN scratchpad, taken from our scratch */
    const void *w;                                  /* weights in w_md (in dnnl_conv.wbuf) */
};

struct dnnl_wbuf {
    dnnl_memory_desc_t md;
    void *data;
};

struct nn_dnnl_conv {
    pthread_mutex_t mu;
    dnnl_engine_t eng;      /* the model's */
    const float *w;         /* OIHW weights, borrowed from the value */
    const float *bias;      /* M floats, borrowed from conv.c's prep */
    int64_t C, M, KH, KW, G;
    int bf16; /* bf16 weights and activations (see the file comment) */
    struct dnnl_prim prim[DNNL_MAX_PRIMS];
    int n_prim;
    struct dnnl_wbuf wbuf[DNNL_MAX_PRIMS];
    int n_wbuf;
};

struct nn_dnnl_model {
    dnnl_engine_t eng;
};

static int dnnl_fail(struct pxs_err *err, const struct nn_node *n, const char *what, dnnl_status_t s) {
    return nn_node_err(err, s == dnnl_out_of_memory ? PXS_ENOMEM : PXS_EINTERNAL, n, "oneDNN %s failed (status %d)",
                       what, (int)s);
}

/* ---- selection and layout ------------------------------------------------------ */

static int dnnl_isa_has(dnnl_cpu_isa_t want) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    return (isa & (unsigned)want) == (unsigned)want;
}

static int dnnl_usable(const struct pxs_nn_model *m, const char **why) {
    const char *b = getenv("PXS_NN_BACKEND");
    if (b && !strcmp(b, "native")) {
        *why = "PXS_NN_BACKEND=native";
        return 0;
    }
    if (!m->gk || strcmp(m->gk->name, "avx512") != 0) {
        *why = "no AVX-512 GEMM kernel";
        return 0;
    }
    /* libgomp's default wait policy spins between parallel regions; with
     * our pool also running (and a shared machine) a 2-thread ResNet50 ran
     * 7x slower than our kernels. libgomp reads the policy at process start,
     * so multi-threaded models use oneDNN only when it is passive. */
    const char *wp = getenv("OMP_WAIT_POLICY");
    if (m->threads > 1 && !(wp && !strcasecmp(wp, "passive"))) {
        *why = "threads > 1 without OMP_WAIT_POLICY=passive";
        return 0;
    }
    if (!dnnl_isa_has(dnnl_cpu_isa_avx512_core)) {
        *why = "oneDNN reports no avx512_core";
        return 0;
    }
    return 1;
}

int nn_dnnl_select(struct pxs_nn_model *m) {
    const char *why = NULL;
    int want_bf16 = m->opts.precision == PXS_NN_BF16;
    m->bf16 = 0;
    m->precision_note = NULL;
    if (!dnnl_usable(m, &why)) {
        if (want_bf16) m->precision_note = why; /* shown as "bf16 unavailable (WHY): running fp32" */
        return 0;
    }
    struct nn_dnnl_model *d = pxs_calloc(1, sizeof *d);
    if (!d) return 0;
    if (dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success) {
        pxs_free(d);
        if (want_bf16) m->precision_note = "oneDNN engine unavailable";
        return 0;
    }
    m->dnnl = d;
    if (want_bf16) {
        /* native bf16 only: without AVX512-BF16 (or AMX) oneDNN would emulate */
        if (dnnl_isa_has(dnnl_cpu_isa_avx512_core_bf16)) m->bf16 = 1;
        else m->precision_note = "the CPU has no AVX512-BF16 or AMX";
    }
    return 1;
}

void nn_dnnl_model_free(struct pxs_nn_model *m) {
    struct nn_dnnl_model *d = m->dnnl;
    if (!d) return;
    dnnl_engine_destroy(d->eng);
    pxs_free(d);
    m->dnnl = NULL;
}

static int is_dnnl_conv(const struct nn_node *n) {
    return !strcmp(n->op_type, "Conv") && n->prep && nn_conv_dnnl_of(n) != NULL;
}

/* Does this conv compute in bf16 (nn_dnnl_conv_new decides)? */
static int computes_bf16(const struct nn_node *n) {
    const struct nn_dnnl_conv *d = nn_conv_dnnl_of(n);
    return d && d->bf16;
}

/* Layout of a value as a oneDNN memory: NCHW fp32 (every non-conv op's
 * format), NHWC fp32 or NHWC bf16. */
enum dnnl_lay { LAY_NCHW = 0, LAY_NHWC_F32, LAY_NHWC_BF16 };

static enum dnnl_lay lay_of(const struct pxs_nn_model *m, int v) {
    return !m->values[v].nhwc ? LAY_NCHW : m->values[v].bf16 ? LAY_NHWC_BF16 : LAY_NHWC_F32;
}

void nn_dnnl_layouts(struct pxs_nn_model *m) {
    for (int v = 0; v < m->n_values; v++) m->values[v].nhwc = m->values[v].bf16 = 0;
    if (!m->dnnl) return;
    for (int oi = 0; oi < m->n_order; oi++) {
        const struct nn_node *n = &m->nodes[m->order[oi]];
        if (!is_dnnl_conv(n) || n->n_out < 1 || n->out[0] < 0) continue;
        int v = n->out[0], ok = !m->values[v].is_output, uses = 0;
        for (int oj = 0; oj < m->n_order && ok; oj++) {
            const struct nn_node *c = &m->nodes[m->order[oj]];
            for (int j = 0; j < c->n_in; j++) {
                if (c->in[j] != v) continue;
                uses++;
                if (!is_dnnl_conv(c) || (j != 0 && j != 3)) ok = 0;
            }
        }
        m->values[v].nhwc = ok && uses > 0;
        /* bf16 storage when its conv and every conv reading it as data
         * compute bf16 (oneDNN has no fp32 conv with a bf16 destination;
         * a residual is read in either type) */
        int low = m->values[v].nhwc && computes_bf16(n);
        for (int oj = 0; oj < m->n_order && low; oj++) {
            const struct nn_node *c = &m->nodes[m->order[oj]];
            if (c->in[0] == v && !computes_bf16(c)) low = 0;
        }
        m->values[v].bf16 = low;
    }
    /* In-place residuals: oneDNN's 1x1 kernels (brgconv_1x1) take a sum
     * post-op but not a full-tensor binary add (that falls back to the
     * slower jit_1x1), so a conv whose residual (a channels-last value, not
     * its own input) dies at it writes its output over the residual. fp32
     * only: creating a bf16 AMX brgconv with a sum post-op reads past a heap
     * block inside oneDNN 2.6.3 (a SEGV under ASan, tests/nn/test_nn_bf16.c). */
    for (int oi = 0; oi < m->n_order; oi++) {
        struct nn_node *n = &m->nodes[m->order[oi]];
        n->res_inplace = 0;
        if (!is_dnnl_conv(n) || !n->res_fused || n->in[3] == n->in[0] || !m->values[n->in[3]].nhwc ||
            lay_of(m, n->in[3]) != lay_of(m, n->out[0]) || m->values[n->in[3]].is_output || computes_bf16(n))
            continue;
        int later = 0;
        for (int oj = oi + 1; oj < m->n_order && !later; oj++) {
            const struct nn_node *c = &m->nodes[m->order[oj]];
            for (int j = 0; j < c->n_in; j++) later |= c->in[j] == n->in[3];
        }
        n->res_inplace = !later;
    }
}

/* ---- per node ------------------------------------------------------------------ */

int nn_dnnl_conv_new(const struct pxs_nn_model *m, const struct nn_node *n, const float *bias,
                     struct nn_dnnl_conv **out, struct pxs_err *err) {
    const struct nn_value *wv = &m->values[n->in[1]];
    struct nn_dnnl_conv *d = pxs_calloc(1, sizeof *d);
    if (!d) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
    if (pthread_mutex_init(&d->mu, NULL) != 0) {
        pxs_free(d);
        return pxs_errf(err, PXS_ENOMEM, "nn: mutex");
    }
    d->eng = ((struct nn_dnnl_model *)m->dnnl)->eng;
    d->w = wv->data;
    d->bias = bias;
    d->M = wv->shape.d[0];
    d->KH = wv->shape.d[2];
    d->KW = wv->shape.d[3];
    d->G = nn_attr_int(n, "group", 1);
    d->C = wv->shape.d[1] * d->G;
    /* bf16 models keep narrow depthwise convs (<= 64 channels: the early,
     * high-resolution ones, memory-bound anyway) in fp32: in MobileNetV2
     * the first one alone took the worst Corel-1k embedding from cosine
     * 0.9974 to 0.9994 against fp32 (README, "Reduced precision") */
    d->bf16 = m->bf16 && !(d->G > 1 && d->G == d->C && d->G == d->M && d->C <= 64);
    *out = d;
    return PXS_OK;
}

static void prim_free(struct dnnl_prim *p) {
    if (p->conv) dnnl_primitive_destroy(p->conv);
    if (p->re_src) dnnl_primitive_destroy(p->re_src);
    if (p->re_res) dnnl_primitive_destroy(p->re_res);
    if (p->re_dst) dnnl_primitive_destroy(p->re_dst);
    memset(p, 0, sizeof *p);
}

void nn_dnnl_conv_free(struct nn_dnnl_conv *d) {
    if (!d) return;
    for (int i = 0; i < d->n_prim; i++) prim_free(&d->prim[i]);
    for (int i = 0; i < d->n_wbuf; i++) pxs_free(d->wbuf[i].data);
    pthread_mutex_destroy(&d->mu);
    pxs_free(d);
}

static dnnl_status_t reorder_new(dnnl_engine_t eng, const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to,
                                 dnnl_primitive_t *out) {
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, NULL);
    if (s != dnnl_success) return s;
    s = dnnl_primitive_create(out, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static dnnl_status_t run(dnnl_engine_t eng, dnnl_primitive_t prim, int nargs, const int *keys,
                         const dnnl_memory_desc_t *const *mds, void *const *ptrs) {
    dnnl_memory_t mem[8] = {0};
    dnnl_exec_arg_t args[8];
    dnnl_stream_t st = NULL;
    dnnl_status_t s = dnnl_stream_create(&st, eng, dnnl_stream_default_flags);
    for (int i = 0; i < nargs && s == dnnl_success; i++) {
        s = dnnl_memory_create(&mem[i], mds[i], eng, ptrs[i]);
        args[i].arg = keys[i];
        args[i].memory = mem[i];
    }
    if (s == dnnl_success) s = dnnl_primitive_execute(prim, st, nargs, args);
    if (s == dnnl_success) s = dnnl_stream_wait(st);
    for (int i = 0; i < nargs; i++)
        if (mem[i]) dnnl_memory_destroy(mem[i]);
    if (st) dnnl_stream_destroy(st);
    return s;
}

static dnnl_status_t reorder_run(dnnl_engine_t eng, dnnl_primitive_t prim, const dnnl_memory_desc_t *from,
                                 const void *src, const dnnl_memory_desc_t *to, void *dst) {
    static const int keys[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    const dnnl_memory_desc_t *mds[2] = {from, to};
    void *ptrs[2] = {(void *)(uintptr_t)src, dst};
    return run(eng, prim, 2, keys, mds, ptrs);
}

/* Weights reordered to md, shared by every primitive asking for md. */
static dnnl_status_t weights_for(struct nn_dnnl_conv *d, const dnnl_memory_desc_t *md, const void **out) {
    for (int i = 0; i < d->n_wbuf; i++)
        if (dnnl_memory_desc_equal(&d->wbuf[i].md, md)) {
            *out = d->wbuf[i].data;
            return dnnl_success;
        }
    if (d->n_wbuf == DNNL_MAX_PRIMS) return dnnl_out_of_memory;
    dnnl_memory_desc_t user;
    dnnl_status_t s;
    if (d->G > 1) {
        dnnl_dims_t wd = {d->G, d->M / d->G, d->C / d->G, d->KH, d->KW};
        s = dnnl_memory_desc_init_by_tag(&user, 5, wd, dnnl_f32, dnnl_goihw);
    } else {
        dnnl_dims_t wd = {d->M, d->C, d->KH, d->KW};
        s = dnnl_memory_desc_init_by_tag(&user, 4, wd, dnnl_f32, dnnl_oihw);
    }
    if (s != dnnl_success) return s;
    void *buf = pxs_aligned_alloc(64, (dnnl_memory_desc_get_size(md) + 63) & ~(size_t)63);
    if (!buf) return dnnl_out_of_memory;
    dnnl_primitive_t re;
    s = reorder_new(d->eng, &user, md, &re);
    if (s == dnnl_success) {
        s = reorder_run(d->eng, re, &user, d->w, md, buf);
        dnnl_primitive_destroy(re);
    }
    if (s != dnnl_success) {
        pxs_free(buf);
        return s;
    }
    d->wbuf[d->n_wbuf].md = *md;
    d->wbuf[d->n_wbuf++].data = buf;
    *out = buf;
    return dnnl_success;
}

struct conv_geom {
    int64_t N, H, W, OH, OW, sh, sw, dh, dw, pads[4];
};

static dnnl_status_t append_clamp(dnnl_post_ops_t po, float lo, float hi, dnnl_alg_kind_t clip) {
    if (lo == 0.0f && hi == INFINITY) return dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    return dnnl_post_ops_append_eltwise(po, 1.0f, clip, lo, hi);
}

/* Is the source reordered (from NCHW, or into the compute type)? */
static int src_reordered(const struct nn_dnnl_conv *d, enum dnnl_lay lin) {
    return lin == LAY_NCHW || (lin == LAY_NHWC_BF16) != d->bf16;
}

static dnnl_status_t prim_build(struct nn_dnnl_conv *d, const struct nn_node *n, const struct conv_geom *g,
                                int nthr, enum dnnl_lay lin, enum dnnl_lay lres, enum dnnl_lay lout,
                                struct dnnl_prim *p) {
    memset(p, 0, sizeof *p);
    p->N = g->N;
    p->H = g->H;
    p->W = g->W;
    p->nthr = nthr;
    dnnl_dims_t sd = {g->N, d->C, g->H, g->W}, dd = {g->N, d->M, g->OH, g->OW}, bd = {d->M};
    dnnl_dims_t strides = {g->sh, g->sw}, dil = {g->dh - 1, g->dw - 1};
    dnnl_dims_t pl = {g->pads[0], g->pads[1]}, pr = {g->pads[2], g->pads[3]};
    dnnl_memory_desc_t w_any;
    dnnl_status_t s;
    /* The source and weights are in the compute type (bf16 or fp32); the
     * source is reordered into it unless stored so; the destination and
     * the residual are channels-last in the type their value is stored in
     * (fp32 for a value leaving the chain, reordered out to NCHW). */
    dnnl_data_type_t low = d->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_data_type_t dst_t = lout == LAY_NHWC_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_data_type_t res_t = lres == LAY_NHWC_BF16 ? dnnl_bf16 : dnnl_f32;
    dnnl_data_type_t in_t = lin == LAY_NHWC_BF16 ? dnnl_bf16 : dnnl_f32;
    if ((s = dnnl_memory_desc_init_by_tag(&p->src_md, 4, sd, low, dnnl_nhwc)) ||
        (s = dnnl_memory_desc_init_by_tag(&p->src_plain, 4, sd, in_t, lin == LAY_NCHW ? dnnl_nchw : dnnl_nhwc)) ||
        (s = dnnl_memory_desc_init_by_tag(&p->dst_md, 4, dd, dst_t, dnnl_nhwc)) ||
        (s = dnnl_memory_desc_init_by_tag(&p->res_md, 4, dd, res_t, dnnl_nhwc)) ||
        (s = dnnl_memory_desc_init_by_tag(&p->dst_plain, 4, dd, dnnl_f32, dnnl_nchw)) ||
        (s = dnnl_memory_desc_init_by_tag(&p->b_md, 1, bd, dnnl_f32, dnnl_x)))
        return s;
    if (d->G > 1) {
        dnnl_dims_t wd = {d->G, d->M / d->G, d->C / d->G, d->KH, d->KW};
        s = dnnl_memory_desc_init_by_tag(&w_any, 5, wd, low, dnnl_format_tag_any);
    } else {
        dnnl_dims_t wd = {d->M, d->C, d->KH, d->KW};
        s = dnnl_memory_desc_init_by_tag(&w_any, 4, wd, low, dnnl_format_tag_any);
    }
    if (s) return s;
    dnnl_convolution_desc_t cd;
    s = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &p->src_md,
                                                   &w_any, &p->b_md, &p->dst_md, strides, dil, pl, pr);
    if (s) return s;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if ((s = dnnl_post_ops_create(&po))) return s;
    /* two clip_v2 post-ops in one primitive compute wrong results in
     * oneDNN 2.6.3 (MobileNetV2 embedding cosine 0.9987), so the pre-add
     * clamp is the (equivalent) original clip */
    if (n->pre_act) s = append_clamp(po, n->pre_lo, n->pre_hi, dnnl_eltwise_clip);
    if (!s && n->res_inplace) s = dnnl_post_ops_append_sum(po, 1.0f);
    else if (!s && n->res_fused) s = dnnl_post_ops_append_binary(po, dnnl_binary_add, &p->res_md);
    if (!s && n->act) s = append_clamp(po, n->act_lo, n->act_hi, dnnl_eltwise_clip_v2);
    if (!s) s = dnnl_primitive_attr_create(&attr);
    if (!s) s = dnnl_primitive_attr_set_post_ops(attr, po);
    /* user scratchpad: the library one is shared between threads */
    if (!s) s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (!s) s = dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, NULL);
    if (!s) {
        p->w_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        p->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        p->scratch_bytes = (dnnl_memory_desc_get_size(&p->scratch_md) + 63) & ~(size_t)63;
        s = dnnl_primitive_create(&p->conv, pd);
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
    dnnl_post_ops_destroy(po);
    if (!s) s = weights_for(d, &p->w_md, &p->w);
    if (!s && src_reordered(d, lin)) s = reorder_new(d->eng, &p->src_plain, &p->src_md, &p->re_src);
    if (!s && n->res_fused && lres == LAY_NCHW) s = reorder_new(d->eng, &p->dst_plain, &p->res_md, &p->re_res);
    if (!s && lout == LAY_NCHW) s = reorder_new(d->eng, &p->dst_md, &p->dst_plain, &p->re_dst);
    if (s) prim_free(p);
    return s;
}

static int geom(const struct nn_node *n, const struct nn_tensor *in, const struct nn_tensor *out,
                struct conv_geom *g, struct pxs_err *err) {
    g->N = in[0].shape.d[0];
    g->H = in[0].shape.d[2];
    g->W = in[0].shape.d[3];
    g->OH = out[0].shape.d[2];
    g->OW = out[0].shape.d[3];
    int64_t OH, OW;
    return nn_window_params(n, g->H, g->W, in[1].shape.d[2], in[1].shape.d[3], 0, &g->sh, &g->sw, &g->dh, &g->dw,
                            g->pads, &OH, &OW, err);
}

/* The primitive for this shape and thread count, built on first use. */
static dnnl_status_t prim_get(struct nn_dnnl_conv *d, const struct nn_node *n, const struct conv_geom *g, int nthr,
                              enum dnnl_lay lin, enum dnnl_lay lres, enum dnnl_lay lout, struct dnnl_prim **out) {
    struct dnnl_prim *p = NULL;
    dnnl_status_t s = dnnl_success;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < d->n_prim && !p; i++)
        if (d->prim[i].N == g->N && d->prim[i].H == g->H && d->prim[i].W == g->W && d->prim[i].nthr == nthr)
            p = &d->prim[i];
    if (!p) {
        /* entries are never moved or freed before the model, so p stays
         * valid outside the lock */
        omp_set_num_threads(nthr); /* oneDNN plans its work split for it */
        if (d->n_prim == DNNL_MAX_PRIMS) s = dnnl_out_of_memory;
        else s = prim_build(d, n, g, nthr, lin, lres, lout, &d->prim[d->n_prim]);
        if (s == dnnl_success) p = &d->prim[d->n_prim++];
    }
    pthread_mutex_unlock(&d->mu);
    *out = p;
    return s;
}

static size_t round64(size_t b) { return (b + 63) & ~(size_t)63; }

/* Scratch: [src NHWC][residual NHWC][dst NHWC] (each only when that value
 * is NCHW) + oneDNN's scratchpad. Builds the primitives the plan will run
 * (the model's thread count, and 1 thread for item-parallel batch-1 runs)
 * to learn their scratchpad size. */
size_t nn_dnnl_conv_ws(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                       const struct nn_tensor *out) {
    struct nn_dnnl_conv *d = nn_conv_dnnl_of(n);
    enum dnnl_lay lin = lay_of(m, n->in[0]), lout = lay_of(m, n->out[0]);
    enum dnnl_lay lres = n->res_fused ? lay_of(m, n->in[3]) : LAY_NHWC_F32;
    size_t ws = 0;
    if (!d || src_reordered(d, lin)) ws += round64(in[0].numel * sizeof(float));
    if (lres == LAY_NCHW) ws += round64(out[0].numel * sizeof(float));
    if (lout == LAY_NCHW) ws += round64(out[0].numel * sizeof(float));
    struct conv_geom g;
    if (!d || geom(n, in, out, &g, NULL) != PXS_OK) return ws;
    size_t pad = 0;
    for (int k = 0; k < 2; k++) {
        int nthr = k == 0 ? m->threads : 1;
        if (k == 1 && (m->threads == 1 || g.N != 1)) break;
        struct dnnl_prim *p;
        if (prim_get(d, n, &g, nthr, lin, lres, lout, &p) == dnnl_success && p->scratch_bytes > pad)
            pad = p->scratch_bytes;
    }
    return ws + pad;
}

int nn_dnnl_conv_exec(struct nn_exec *ex, const struct nn_node *n, struct nn_dnnl_conv *d,
                      const struct nn_tensor *in, struct nn_tensor *out) {
    const struct pxs_nn_model *m = ex->m;
    enum dnnl_lay lin = lay_of(m, n->in[0]), lout = lay_of(m, n->out[0]);
    enum dnnl_lay lres = n->res_fused ? lay_of(m, n->in[3]) : LAY_NHWC_F32;
    struct conv_geom g;
    int rc = geom(n, in, out, &g, ex->err);
    if (rc) return rc;
    int nthr = ex->pool ? nn_pool_threads(ex->pool) : 1;
    omp_set_num_threads(nthr);
    struct dnnl_prim *p = NULL;
    dnnl_status_t s = prim_get(d, n, &g, nthr, lin, lres, lout, &p);
    if (!p) return dnnl_fail(ex->err, n, "convolution setup", s);
    /* scratch layout: see nn_dnnl_conv_ws */
    char *ws = ex->ws;
    const void *src = in[0].data, *res = n->res_fused ? in[3].data : NULL;
    void *dst = out[0].data;
    if (p->re_src) {
        void *t = ws;
        ws += round64(in[0].numel * sizeof(float));
        if ((s = reorder_run(d->eng, p->re_src, &p->src_plain, src, &p->src_md, t))) goto fail;
        src = t;
    }
    if (p->re_res) {
        void *t = ws;
        ws += round64(out[0].numel * sizeof(float));
        if ((s = reorder_run(d->eng, p->re_res, &p->dst_plain, res, &p->res_md, t))) goto fail;
        res = t;
    }
    if (p->re_dst) {
        dst = ws;
        ws += round64(out[0].numel * sizeof(float));
    }
    if ((size_t)(ws - (char *)ex->ws) + p->scratch_bytes > ex->ws_bytes)
        return nn_node_err(ex->err, PXS_EINTERNAL, n, "oneDNN scratch larger than planned");
    {
        /* the residual is post-op 1 after a pre-add clamp, else 0 */
        const int keys[6] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD,
                             DNNL_ARG_ATTR_MULTIPLE_POST_OP(n->pre_act ? 1 : 0) | DNNL_ARG_SRC_1};
        const dnnl_memory_desc_t *mds[6] = {&p->src_md, &p->w_md, &p->b_md, &p->dst_md, &p->scratch_md, &p->res_md};
        void *ptrs[6] = {(void *)(uintptr_t)src, (void *)(uintptr_t)p->w, (void *)(uintptr_t)d->bias, dst, ws,
                         (void *)(uintptr_t)res};
        if (n->res_inplace && res != dst)
            return nn_node_err(ex->err, PXS_EINTERNAL, n, "in-place residual not planned in place");
        if ((s = run(d->eng, p->conv, res && !n->res_inplace ? 6 : 5, keys, mds, ptrs))) goto fail;
    }
    if (p->re_dst && (s = reorder_run(d->eng, p->re_dst, &p->dst_md, dst, &p->dst_plain, out[0].data))) goto fail;
    return PXS_OK;
fail:
    return dnnl_fail(ex->err, n, "convolution", s);
}
