/*
 * model.c — the public nn API: load (file or buffer), free, queries and run.
 *
 * Load = parse (onnx_load.c) -> build (graph.c) -> plan for the default
 * batch (fixed batch or 1), so every shape or operator error is reported at
 * load time. Run binds the plan's arena offsets, executes the steps in order
 * and copies the requested output out; after the first run at a batch size
 * it allocates nothing.
 */
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
    if (m->packb) {
        for (int i = 0; i < m->threads; i++) pxs_free(m->packb[i]);
        pxs_free(m->packb);
    }
    pxs_free(m->tin);
    pxs_free(m->tout);
    nn_pool_free(m->pool);
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
    }
    int rc = PXS_OK;
    if (m->opts.threads > 64) {
        rc = pxs_errf(err, PXS_EINVAL, "nn: threads must be 1..64");
        goto fail;
    }
    if (len > m->opts.max_file_bytes) {
        rc = pxs_errf(err, PXS_ELIMIT, "nn: model of %zu bytes is over the limit", len);
        goto fail;
    }
    m->gk = nn_gemm_kernel_best();
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
    /* bind */
    char *arena = m->arena;
    for (int s = 0; s < p->n_steps; s++) {
        const struct nn_node *n = &m->nodes[p->steps[s]];
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0) p->t[n->out[k]].data = arena + p->off[n->out[k]];
    }
    p->t[m->input].data = (void *)(uintptr_t)input;
    size_t ws_off = (p->arena_bytes + 63) & ~(size_t)63;
    struct nn_exec ex = {m, err, arena + ws_off, p->ws_bytes, 0};
    for (int s = 0; s < p->n_steps; s++) {
        const struct nn_node *n = &m->nodes[p->steps[s]];
        for (int j = 0; j < n->n_in; j++) {
            if (n->in[j] >= 0) m->tin[j] = p->t[n->in[j]];
            else memset(&m->tin[j], 0, sizeof m->tin[j]);
        }
        for (int k = 0; k < n->n_out; k++) {
            if (n->out[k] >= 0) m->tout[k] = p->t[n->out[k]];
            else memset(&m->tout[k], 0, sizeof m->tout[k]);
        }
        rc = n->op->exec(&ex, n, m->tin, m->tout);
        if (rc) {
            p->t[m->input].data = NULL;
            return rc;
        }
    }
    if (need) memcpy(out, p->t[ov].data, need * sizeof(float));
    p->t[m->input].data = NULL;
    return PXS_OK;
}

void pxs_nn_model_stats(const pxs_nn_model *m, struct pxs_nn_stats *st) {
    memset(st, 0, sizeof *st);
    if (!m) return;
    st->n_nodes_onnx = m->n_nodes_onnx;
    st->n_params = m->n_params;
    st->kernel = m->gk ? m->gk->name : "generic";
    st->n_nodes = m->stat_steps;
    st->flops_per_item = m->stat_flops;
    st->arena_bytes = m->stat_arena;
    st->naive_bytes = m->stat_naive;
}
