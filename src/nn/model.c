/*
 * model.c — the public nn API: load (file or buffer), free, queries and run.
 *
 * Load = parse (onnx_load.c) -> build (graph.c) -> plan for the default
 * batch (fixed batch or 1), so every shape or operator error is reported at
 * load time. Run binds the plan's arena offsets, executes the steps in order
 * and copies the requested output out; after the first run at a batch size
 * it allocates nothing. A batch of independent items (items_separable) with
 * enough items per thread runs item-parallel instead: the pool's tasks are
 * the items, each runs the batch-1 plan in its thread's own arena and view
 * array (struct nn_ictx), with no synchronisation between layers.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "nn/nn_int.h"

#define NN_DEFAULT_MAX_BATCH 256
#define NN_DEFAULT_MAX_FILE ((size_t)2 << 30)
#define NN_DEFAULT_MAX_ARENA ((size_t)8 << 30)

void pxs_nn_load_opts_init(struct pxs_nn_load_opts *opts) {
    memset(opts, 0, sizeof *opts);
    opts->threads = 1;
    opts->max_batch = NN_DEFAULT_MAX_BATCH;
    opts->max_file_bytes = NN_DEFAULT_MAX_FILE;
    opts->max_arena_bytes = NN_DEFAULT_MAX_ARENA;
}

static void ictx_free(struct pxs_nn_model *m);

void pxs_nn_model_free(pxs_nn_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_plans; i++) nn_plan_free(m->plans[i]);
    for (int i = 0; i < m->n_nodes; i++) {
        struct nn_node *n = &m->nodes[i];
        pxs_free(n->name);
        pxs_free(n->op_type);
        pxs_free(n->in);
        pxs_free(n->out);
        if (n->attrs)
            for (int k = 0; k < n->n_attrs; k++) nn_attr_free(&n->attrs[k]);
        pxs_free(n->attrs);
        if (n->prep && n->prep_free) n->prep_free(n->prep);
    }
    pxs_free(m->nodes);
    for (int i = 0; i < m->n_values; i++) {
        pxs_free(m->values[i].name);
        nn_value_free_data(&m->values[i]);
    }
    pxs_free(m->values);
    pxs_free(m->htab);
    pxs_free(m->order);
    pxs_free(m->outputs);
    pxs_free(m->base_dir);
    pxs_free(m->arena);
    ictx_free(m);
    if (m->packb) {
        for (int i = 0; i < m->threads; i++) pxs_free(m->packb[i]);
        pxs_free(m->packb);
    }
    pxs_free(m->tin);
    pxs_free(m->tout);
    nn_pool_free(m->pool);
    nn_dnnl_model_free(m); /* after the nodes: their primitives use its engine */
    pxs_free(m);
}

int pxs_nn_model_load_buffer(const void *data, size_t len, const char *base_dir,
                             const struct pxs_nn_load_opts *opts, pxs_nn_model **out,
                             struct pxs_err *err) {
    if (!out) return pxs_errf(err, PXS_EINVAL, "nn: out is NULL");
    *out = NULL;
    if (!data && len) return pxs_errf(err, PXS_EINVAL, "nn: data is NULL");
    struct pxs_nn_model *m = pxs_calloc(1, sizeof *m);
    if (!m) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
    pxs_nn_load_opts_init(&m->opts);
    if (opts) {
        if (opts->threads > 0) m->opts.threads = opts->threads;
        if (opts->max_batch > 0) m->opts.max_batch = opts->max_batch;
        if (opts->max_file_bytes) m->opts.max_file_bytes = opts->max_file_bytes;
        if (opts->max_arena_bytes) m->opts.max_arena_bytes = opts->max_arena_bytes;
        m->opts.precision = opts->precision;
    }
    int rc = PXS_OK;
    if (!pxs_nn_precision_name(m->opts.precision)) {
        rc = pxs_errf(err, PXS_EINVAL, "nn: unknown precision %d", m->opts.precision);
        goto fail;
    }
    if (m->opts.threads > 64) {
        rc = pxs_errf(err, PXS_EINVAL, "nn: threads must be 1..64");
        goto fail;
    }
    if (len > m->opts.max_file_bytes) {
        rc = pxs_errf(err, PXS_ELIMIT, "nn: model of %zu bytes is over the limit", len);
        goto fail;
    }
    m->gk = nn_gemm_kernel_best();
    m->item_mode = 1;
    m->threads = m->opts.threads;
    m->input = -1;
    if (base_dir) {
        m->base_dir = pxs_strdup(base_dir);
        if (!m->base_dir) {
            rc = pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
            goto fail;
        }
    }
    m->packb = pxs_calloc((size_t)m->threads, sizeof *m->packb);
    if (!m->packb) {
        rc = pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
        goto fail;
    }
    m->packb_floats = (size_t)NN_GEMM_KC * (NN_GEMM_NC + NN_GEMM_MAX_NR);
    for (int i = 0; i < m->threads; i++) {
        m->packb[i] = pxs_aligned_alloc(64, m->packb_floats * sizeof(float));
        if (!m->packb[i]) {
            rc = pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
            goto fail;
        }
    }
    nn_dnnl_select(m);
    rc = nn_onnx_parse(m, data, len, err);
    if (rc) goto fail;
    rc = nn_graph_build(m, err);
    if (rc) goto fail;
    if (m->fixed_batch > m->opts.max_batch) {
        rc = pxs_errf(err, PXS_EUNSUPPORTED, "nn: fixed batch %lld exceeds max_batch", (long long)m->fixed_batch);
        goto fail;
    }
    if (m->threads > 1) {
        rc = nn_pool_new(m->threads, &m->pool, err);
        if (rc) goto fail;
    }
    struct nn_plan *p;
    rc = nn_plan_get(m, m->fixed_batch ? (int)m->fixed_batch : 1, &p, err);
    if (rc) goto fail;
    m->stat_steps = p->n_steps;
    m->stat_flops = p->flops / (double)p->batch;
    m->stat_arena = (p->arena_bytes + p->ws_bytes) / (size_t)p->batch;
    for (int s = 0; s < p->n_steps; s++) {
        const struct nn_node *n = &m->nodes[p->steps[s]];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) m->stat_naive += p->t[n->out[k]].numel * 4 / (size_t)p->batch;
    }
    *out = m;
    return PXS_OK;
fail:
    pxs_nn_model_free(m);
    return rc;
}

int pxs_nn_model_load(const char *path, const struct pxs_nn_load_opts *opts, pxs_nn_model **out,
                      struct pxs_err *err) {
    if (!out || !path) return pxs_errf(err, PXS_EINVAL, "nn: NULL argument");
    *out = NULL;
    size_t max = opts && opts->max_file_bytes ? opts->max_file_bytes : NN_DEFAULT_MAX_FILE;
    char *buf = NULL;
    size_t len = 0;
    int rc = pxs_file_read_all(path, max, &buf, &len, err);
    if (rc) return rc;
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        snprintf(dir, sizeof dir, ".");
    } else {
        size_t dl = (size_t)(slash - path);
        if (dl >= sizeof dir) {
            pxs_free(buf);
            return pxs_errf(err, PXS_ELIMIT, "nn: path too long");
        }
        memcpy(dir, path, dl);
        dir[dl] = 0;
        if (dl == 0) snprintf(dir, sizeof dir, "/");
    }
    rc = pxs_nn_model_load_buffer(buf, len, dir, opts, out, err);
    pxs_free(buf);
    return rc;
}

const char *pxs_nn_model_input_name(const pxs_nn_model *m) {
    return m && m->input >= 0 ? m->values[m->input].name : NULL;
}

int pxs_nn_model_input_shape(const pxs_nn_model *m, int64_t *dims, int max_dims) {
    if (!m || m->input < 0) return 0;
    const struct nn_shape *s = &m->values[m->input].shape;
    for (int i = 0; i < s->ndim && i < max_dims; i++) dims[i] = i == 0 && !m->fixed_batch ? -1 : s->d[i];
    return s->ndim;
}

int pxs_nn_model_output_count(const pxs_nn_model *m) { return m ? m->n_outputs : 0; }

const char *pxs_nn_model_output_name(const pxs_nn_model *m, int i) {
    if (!m || i < 0 || i >= m->n_outputs) return NULL;
    return m->values[m->outputs[i]].name;
}

static int find_output(const pxs_nn_model *m, const char *name, struct pxs_err *err) {
    if (!name) return m->outputs[0];
    for (int i = 0; i < m->n_outputs; i++)
        if (!strcmp(m->values[m->outputs[i]].name, name)) return m->outputs[i];
    return pxs_errf(err, PXS_ENOTFOUND, "nn: the model has no output '%s'", name);
}

static int check_batch(const pxs_nn_model *m, int batch, struct pxs_err *err) {
    if (batch < 1 || batch > m->opts.max_batch)
        return pxs_errf(err, PXS_EINVAL, "nn: batch %d is outside 1..%d", batch, m->opts.max_batch);
    if (m->fixed_batch && batch != m->fixed_batch)
        return pxs_errf(err, PXS_EINVAL, "nn: the model has a fixed batch of %lld", (long long)m->fixed_batch);
    return PXS_OK;
}

int pxs_nn_model_output_shape(pxs_nn_model *m, const char *output_name, int batch, int64_t *dims,
                              int max_dims, int *ndim, struct pxs_err *err) {
    if (!m) return pxs_errf(err, PXS_EINVAL, "nn: model is NULL");
    int rc = check_batch(m, batch, err);
    if (rc) return rc;
    int v = find_output(m, output_name, err);
    if (v < 0) return v;
    struct nn_plan *p;
    rc = nn_plan_get(m, batch, &p, err);
    if (rc) return rc;
    const struct nn_shape *s = &p->t[v].shape;
    for (int i = 0; i < s->ndim && i < max_dims; i++) dims[i] = s->d[i];
    if (ndim) *ndim = s->ndim;
    return PXS_OK;
}

/* Bind plan p's run-time values to `arena` in the view array t, run its
 * steps and leave the results in the arena. */
static int run_steps(struct pxs_nn_model *m, const struct nn_plan *p, struct nn_tensor *t, struct nn_tensor *tin,
                     struct nn_tensor *tout, char *arena, const float *input, struct nn_pool *pool,
                     float **packb, struct pxs_err *err) {
    for (int s = 0; s < p->n_steps; s++) {
        const struct nn_node *n = &m->nodes[p->steps[s]];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) t[n->out[k]].data = arena + p->off[n->out[k]];
    }
    t[m->input].data = (void *)(uintptr_t)input;
    size_t ws_off = (p->arena_bytes + 63) & ~(size_t)63;
    struct nn_exec ex = {m, err, arena + ws_off, p->ws_bytes, 0, pool, packb};
    int rc = PXS_OK;
    for (int s = 0; s < p->n_steps && !rc; s++) {
        const struct nn_node *n = &m->nodes[p->steps[s]];
        for (int j = 0; j < n->n_in; j++) {
            if (n->in[j] >= 0) tin[j] = t[n->in[j]];
            else memset(&tin[j], 0, sizeof tin[j]);
        }
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] >= 0) tout[k] = t[n->out[k]];
            else memset(&tout[k], 0, sizeof tout[k]);
        }
        rc = n->op->exec(&ex, n, tin, tout);
    }
    return rc;
}

/* Value v has shape [1, rest...] in p1 and [B, rest...] in pb. */
static int batch_major(const struct nn_plan *p1, const struct nn_plan *pb, int v) {
    const struct nn_tensor *a = &p1->t[v], *b = &pb->t[v];
    if (a->dtype != b->dtype || a->shape.ndim != b->shape.ndim || a->shape.ndim < 1) return 0;
    if (a->shape.d[0] != 1 || b->shape.d[0] != pb->batch) return 0;
    for (int i = 1; i < a->shape.ndim; i++)
        if (a->shape.d[i] != b->shape.d[i]) return 0;
    return 1;
}

static int axis_is_batch(int64_t axis, int rank) { return rank > 0 && (axis == 0 || axis == -(int64_t)rank); }

/* Can the batch-pb run be done as pb->batch independent runs of p1? Every
 * run-time value and every output must be batch-major with the same
 * per-item shape, the step lists must agree, and no node may work across
 * the batch axis (axis/axes naming axis 0, a Transpose moving it, Gemm with
 * transA). Reshapes that merge items change a shape and are caught above. */
static int items_separable(const struct pxs_nn_model *m, const struct nn_plan *p1, const struct nn_plan *pb) {
    if (p1->n_steps != pb->n_steps) return 0;
    for (int i = 0; i < m->n_outputs; i++)
        if (!batch_major(p1, pb, m->outputs[i])) return 0;
    for (int s = 0; s < pb->n_steps; s++) {
        if (p1->steps[s] != pb->steps[s]) return 0;
        const struct nn_node *n = &m->nodes[pb->steps[s]];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && pb->t[n->out[k]].dtype && !batch_major(p1, pb, n->out[k])) return 0;
        int rank = n->n_in > 0 && n->in[0] >= 0 ? pb->t[n->in[0]].shape.ndim : 0;
        for (int a = 0; a < n->n_attrs; a++) {
            const struct nn_attr *at = &n->attrs[a];
            if (!at->name) continue;
            if (!strcmp(at->name, "axis") && at->type == NN_AT_INT && axis_is_batch(at->i, rank)) return 0;
            if (!strcmp(at->name, "axes") && at->type == NN_AT_INTS)
                for (size_t i = 0; i < at->n; i++)
                    if (axis_is_batch(at->ints[i], rank)) return 0;
            if (!strcmp(at->name, "perm") && at->type == NN_AT_INTS && at->n > 0 && at->ints[0] != 0) return 0;
            if (!strcmp(at->name, "transA") && at->type == NN_AT_INT && at->i != 0) return 0;
        }
    }
    return 1;
}

static void ictx_free(struct pxs_nn_model *m) {
    if (!m->ictx) return;
    for (int i = 0; i < m->threads; i++) {
        pxs_free(m->ictx[i].arena);
        pxs_free(m->ictx[i].t);
        pxs_free(m->ictx[i].tin);
        pxs_free(m->ictx[i].tout);
    }
    pxs_free(m->ictx);
    m->ictx = NULL;
}

static int ictx_ensure(struct pxs_nn_model *m, const struct nn_plan *p1, struct pxs_err *err) {
    if (!m->ictx) {
        m->ictx = pxs_calloc((size_t)m->threads, sizeof *m->ictx);
        if (!m->ictx) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
        for (int i = 0; i < m->threads; i++) {
            struct nn_ictx *c = &m->ictx[i];
            c->t = pxs_calloc((size_t)m->n_values + 1, sizeof *c->t);
            c->tin = pxs_calloc((size_t)m->max_io + 1, sizeof *c->tin);
            c->tout = pxs_calloc((size_t)m->max_io + 1, sizeof *c->tout);
            if (!c->t || !c->tin || !c->tout) {
                ictx_free(m);
                return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
            }
        }
    }
    for (int i = 0; i < m->threads; i++) {
        int rc = nn_arena_reserve(&m->ictx[i].arena, &m->ictx[i].arena_cap, p1, err);
        if (rc) return rc;
    }
    return PXS_OK;
}

struct item_run {
    struct pxs_nn_model *m;
    const struct nn_plan *p1;
    int ov;
    const float *input;
    float *out;
    size_t in_item, out_item;
    atomic_int failed;
};

static void item_task(void *vctx, size_t i, int tid) {
    struct item_run *r = vctx;
    if (atomic_load(&r->failed)) return;
    struct pxs_nn_model *m = r->m;
    struct nn_ictx *c = &m->ictx[tid];
    memcpy(c->t, r->p1->t, (size_t)m->n_values * sizeof *c->t);
    int rc = run_steps(m, r->p1, c->t, c->tin, c->tout, c->arena, r->input + i * r->in_item, NULL,
                       &m->packb[tid], &c->err);
    if (rc) {
        if (!c->rc) c->rc = rc;
        atomic_store(&r->failed, 1);
        return;
    }
    if (r->out_item) memcpy(r->out + i * r->out_item, c->t[r->ov].data, r->out_item * sizeof(float));
}

/* Item-parallel run: each thread runs whole batch-1 passes on its own items
 * (no per-layer synchronisation, and each item's activations stay in the
 * thread's cache). Returns 1 when done (rc in *rc), 0 when the batch must
 * run layer by layer instead. */
static int run_items(struct pxs_nn_model *m, struct nn_plan *pb, const float *input, int ov, float *out,
                     int *rc, struct pxs_err *err) {
    struct nn_plan *p1;
    struct pxs_err lerr = {0};
    if (nn_plan_get(m, 1, &p1, &lerr) != PXS_OK) {
        pb->items = 0;
        return 0;
    }
    if (pb->items < 0) pb->items = items_separable(m, p1, pb);
    if (!pb->items) return 0;
    *rc = ictx_ensure(m, p1, err);
    if (*rc) return 1;
    struct item_run r = {m, p1, ov, input, out, p1->t[m->input].numel, p1->t[ov].numel, 0};
    atomic_init(&r.failed, 0);
    for (int i = 0; i < m->threads; i++) {
        m->ictx[i].rc = PXS_OK;
        pxs_err_clear(&m->ictx[i].err);
    }
    nn_pool_run(m->pool, (size_t)pb->batch, item_task, &r);
    *rc = PXS_OK;
    for (int i = 0; i < m->threads && !*rc; i++)
        if (m->ictx[i].rc) *rc = pxs_errf(err, m->ictx[i].rc, "%s", m->ictx[i].err.msg);
    return 1;
}

int pxs_nn_run(pxs_nn_model *m, const float *input, int batch, const char *output_name, float *out,
               size_t out_cap, size_t *out_len, struct pxs_err *err) {
    if (out_len) *out_len = 0;
    if (!m || !input || (!out && out_cap)) return pxs_errf(err, PXS_EINVAL, "nn: NULL argument");
    int rc = check_batch(m, batch, err);
    if (rc) return rc;
    int ov = find_output(m, output_name, err);
    if (ov < 0) return ov;
    struct nn_plan *p;
    rc = nn_plan_get(m, batch, &p, err);
    if (rc) return rc;
    size_t need = p->t[ov].numel;
    if (out_len) *out_len = need;
    if (out_cap < need)
        return pxs_errf(err, PXS_ELIMIT, "nn: output '%s' needs %zu floats, buffer holds %zu",
                        m->values[ov].name, need, out_cap);
    /* Item-parallel when every thread gets whole items with little imbalance. */
    int T = m->threads;
    if (m->item_mode && batch > 1 && !m->fixed_batch && p->items != 0 &&
        (T == 1 || batch % T == 0 || batch >= 4 * T) && run_items(m, p, input, ov, out, &rc, err))
        return rc;
    rc = nn_arena_reserve(&m->arena, &m->arena_cap, p, err);
    if (rc) return rc;
    rc = run_steps(m, p, p->t, m->tin, m->tout, m->arena, input, m->pool, m->packb, err);
    if (!rc && need) memcpy(out, p->t[ov].data, need * sizeof(float));
    p->t[m->input].data = NULL;
    return rc;
}

void pxs_nn_model_stats(const pxs_nn_model *m, struct pxs_nn_stats *st) {
    memset(st, 0, sizeof *st);
    if (!m) return;
    st->n_nodes_onnx = m->n_nodes_onnx;
    st->n_params = m->n_params;
    st->kernel = m->gk ? m->gk->name : "generic";
    if (m->dnnl) st->kernel = "avx512+onednn";
    st->n_nodes = m->stat_steps;
    st->flops_per_item = m->stat_flops;
    st->arena_bytes = m->stat_arena;
    st->naive_bytes = m->stat_naive;
    st->precision = m->bf16 ? "bf16" : "fp32";
    st->precision_note = m->precision_note;
}

const char *pxs_nn_precision_name(int precision) {
    switch (precision) {
    case PXS_NN_FP32: return "fp32";
    case PXS_NN_BF16: return "bf16";
    default: return NULL;
    }
}

int pxs_nn_precision_parse(const char *name, int *precision, struct pxs_err *err) {
    for (int p = PXS_NN_FP32; p <= PXS_NN_BF16; p++)
        if (name && !strcmp(name, pxs_nn_precision_name(p))) {
            *precision = p;
            return PXS_OK;
        }
    return pxs_errf(err, PXS_EINVAL, "unknown precision '%s' (expected fp32 or bf16)", name ? name : "");
}
