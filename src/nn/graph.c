/*
 * graph.c — everything done to the loaded graph before it runs:
 *
 *   1. operator lookup (unknown operator -> PXS_EUNSUPPORTED naming the node);
 *   2. topological order (Kahn; a cycle is PXS_ECORRUPT);
 *   3. constant folding at load: a node whose inputs are all constants is
 *      evaluated once and its outputs become constants (Constant nodes,
 *      weight transposes, shape arithmetic on constants). Conv is never
 *      folded (it needs prepared weights);
 *   4. fusion: BatchNormalization following a Conv is folded into the Conv
 *      weights and bias; a following Relu or constant Clip becomes the clamp
 *      of the Conv (or of an Add/Sub/Mul/Div). Only when the intermediate
 *      value has no other consumer; an Add of a Conv's output and another
 *      run-time value of the same shape becomes the Conv's residual input
 *      (added in the GEMM epilogue, before a Relu that follows the Add);
 *   5. liveness from the graph outputs; dead nodes are dropped;
 *   6. Conv weight packing, Gemm weight transposition (conv.c), or with the
 *      oneDNN backend the channels-last layout of conv chains (conv_dnnl.c).
 *
 * Planning (per batch size, cached): shapes are inferred for the batch; nodes
 * whose inputs are known at plan time (constants, or shapes for Shape) are
 * evaluated right away, which folds Shape -> Gather -> Concat -> Reshape
 * chains; the remaining nodes become run-time steps. Run-time values get
 * offsets in one arena by a greedy first-fit over their lifetimes (a value
 * lives from its producing step to its last consuming step; graph outputs to
 * the end), so buffers are reused and nothing is allocated per run.
 */
#include <math.h>
#include <string.h>

#include "nn/ops_int.h"

/* ---- attributes ---------------------------------------------------------- */

const struct nn_attr *nn_attr_get(const struct nn_node *n, const char *name) {
    for (int i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].name && !strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t nn_attr_int(const struct nn_node *n, const char *name, int64_t def) {
    const struct nn_attr *a = nn_attr_get(n, name);
    return a && a->type == NN_AT_INT ? a->i : def;
}

float nn_attr_float(const struct nn_node *n, const char *name, float def) {
    const struct nn_attr *a = nn_attr_get(n, name);
    if (!a) return def;
    if (a->type == NN_AT_FLOAT) return a->f;
    if (a->type == NN_AT_INT) return (float)a->i;
    return def;
}

const char *nn_attr_str(const struct nn_node *n, const char *name, const char *def) {
    const struct nn_attr *a = nn_attr_get(n, name);
    return a && a->type == NN_AT_STRING && a->s ? a->s : def;
}

size_t nn_attr_ints(const struct nn_node *n, const char *name, const int64_t **out) {
    const struct nn_attr *a = nn_attr_get(n, name);
    *out = NULL;
    if (!a || a->type != NN_AT_INTS || !a->ints) return 0;
    *out = a->ints;
    return a->n;
}

/* ---- helpers ----------------------------------------------------------------- */

static size_t align64(size_t x) { return (x + 63) & ~(size_t)63; }

static void value_view(const struct nn_value *v, struct nn_tensor *t) {
    memset(t, 0, sizeof *t);
    t->dtype = v->dtype;
    t->shape = v->shape;
    t->data = v->data;
    if (nn_shape_numel(&v->shape, &t->numel) != 0) t->numel = 0;
}

static size_t op_ws(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *in,
                    const struct nn_tensor *out) {
    return n->op->workspace ? n->op->workspace(m, n, in, out) : 0;
}

/* Evaluate a node whose inputs are known, allocating its outputs.
 * bufs[i] receives the buffer of output i (owned by the caller). */
static int eval_now(struct pxs_nn_model *m, struct nn_node *n, struct nn_tensor *tin, struct nn_tensor *tout,
                    void **bufs, struct pxs_err *err) {
    for (int i = 0; i < n->n_out; i++) bufs[i] = NULL;
    for (int i = 0; i < n->n_out; i++) {
        if (n->out[i] < 0) continue;
        size_t bytes;
        if (pxs_size_mul(tout[i].numel, nn_dtype_size(tout[i].dtype), &bytes) != 0 ||
            bytes > m->opts.max_arena_bytes)
            return nn_node_err(err, PXS_ELIMIT, n, "constant output too large");
        bufs[i] = pxs_malloc(bytes ? bytes : 1);
        if (!bufs[i]) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
        tout[i].data = bufs[i];
    }
    size_t ws = op_ws(m, n, tin, tout);
    if (ws > m->opts.max_arena_bytes) return nn_node_err(err, PXS_ELIMIT, n, "scratch too large");
    void *wsb = ws ? pxs_aligned_alloc(64, align64(ws)) : NULL;
    if (ws && !wsb) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
    struct nn_exec ex = {m, err, wsb, ws, 1, NULL, m->packb};
    int rc = n->op->exec(&ex, n, tin, tout);
    pxs_free(wsb);
    return rc;
}

static int check_outputs(const struct pxs_nn_model *m, const struct nn_node *n, const struct nn_tensor *tout,
                         struct pxs_err *err) {
    for (int i = 0; i < n->n_out; i++) {
        if (n->out[i] < 0) continue;
        if (!tout[i].dtype) {
            if (m->values[n->out[i]].n_consumers || m->values[n->out[i]].is_output)
                return nn_node_err(err, PXS_EUNSUPPORTED, n, "output %d is not produced", i);
            continue;
        }
        size_t numel, bytes;
        if (nn_shape_numel(&tout[i].shape, &numel) != 0 || numel != tout[i].numel ||
            pxs_size_mul(numel, nn_dtype_size(tout[i].dtype), &bytes) != 0 || bytes > m->opts.max_arena_bytes)
            return nn_node_err(err, PXS_ELIMIT, n, "output too large");
    }
    return PXS_OK;
}

/* ---- build --------------------------------------------------------------------- */

static int topo_sort(struct pxs_nn_model *m, int **order_out, struct pxs_err *err) {
    int nn = m->n_nodes;
    int *indeg = pxs_calloc((size_t)nn + 1, sizeof(int));
    int *order = pxs_calloc((size_t)nn + 1, sizeof(int));
    int *cstart = pxs_calloc((size_t)m->n_values + 1, sizeof(int));
    size_t total = 0;
    for (int i = 0; i < nn; i++) total += (size_t)m->nodes[i].n_in;
    int *cons = pxs_calloc(total + 1, sizeof(int));
    int *fill = pxs_calloc((size_t)m->n_values + 1, sizeof(int));
    int rc = PXS_OK;
    if (!indeg || !order || !cstart || !cons || !fill) {
        rc = pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
        goto out;
    }
    for (int i = 0; i < nn; i++)
        for (int j = 0; j < m->nodes[i].n_in; j++) {
            int v = m->nodes[i].in[j];
            if (v < 0) continue;
            cstart[v + 1]++;
            if (m->values[v].producer >= 0) indeg[i]++;
        }
    for (int v = 0; v < m->n_values; v++) cstart[v + 1] += cstart[v];
    for (int i = 0; i < nn; i++)
        for (int j = 0; j < m->nodes[i].n_in; j++) {
            int v = m->nodes[i].in[j];
            if (v >= 0) cons[cstart[v] + fill[v]++] = i;
        }
    int head = 0, tail = 0;
    for (int i = 0; i < nn; i++)
        if (indeg[i] == 0) order[tail++] = i;
    while (head < tail) {
        int i = order[head++];
        for (int k = 0; k < m->nodes[i].n_out; k++) {
            int v = m->nodes[i].out[k];
            if (v < 0) continue;
            for (int c = cstart[v]; c < cstart[v + 1]; c++)
                if (--indeg[cons[c]] == 0) order[tail++] = cons[c];
        }
    }
    if (tail != nn) {
        rc = pxs_errf(err, PXS_ECORRUPT, "onnx: the graph has a cycle");
        goto out;
    }
    *order_out = order;
    order = NULL;
out:
    pxs_free(indeg);
    pxs_free(order);
    pxs_free(cstart);
    pxs_free(cons);
    pxs_free(fill);
    return rc;
}

static int fold_constants(struct pxs_nn_model *m, const int *order, struct pxs_err *err) {
    for (int oi = 0; oi < m->n_nodes; oi++) {
        struct nn_node *n = &m->nodes[order[oi]];
        if (!strcmp(n->op_type, "Conv") || n->n_out < 1) continue;
        int ok = 1;
        for (int j = 0; j < n->n_in && ok; j++)
            if (n->in[j] >= 0 && !m->values[n->in[j]].data) ok = 0;
        if (!ok) continue;
        for (int j = 0; j < n->n_in; j++) {
            if (n->in[j] >= 0) value_view(&m->values[n->in[j]], &m->tin[j]);
            else memset(&m->tin[j], 0, sizeof m->tin[j]);
        }
        memset(m->tout, 0, (size_t)n->n_out * sizeof *m->tout);
        int rc = n->op->infer(m, n, m->tin, m->tout, err);
        if (!rc) rc = check_outputs(m, n, m->tout, err);
        if (rc) return rc;
        void *bufs[64];
        if (n->n_out > 64) return nn_node_err(err, PXS_EUNSUPPORTED, n, "too many outputs");
        rc = eval_now(m, n, m->tin, m->tout, bufs, err);
        if (rc) {
            for (int i = 0; i < n->n_out; i++) pxs_free(bufs[i]);
            return rc;
        }
        for (int i = 0; i < n->n_out; i++) {
            if (n->out[i] < 0) continue;
            struct nn_value *v = &m->values[n->out[i]];
            v->data = bufs[i];
            v->dtype = m->tout[i].dtype;
            v->shape = m->tout[i].shape;
            v->nbytes = m->tout[i].numel * nn_dtype_size(v->dtype);
            v->producer = -1;
        }
        n->dead = 1;
    }
    return PXS_OK;
}

/* The only consumer node of value v, or -1. */
static int sole_consumer(const struct pxs_nn_model *m, int v) {
    if (v < 0 || m->values[v].n_consumers != 1 || m->values[v].is_output) return -1;
    for (int i = 0; i < m->n_nodes; i++) {
        const struct nn_node *n = &m->nodes[i];
        if (n->dead) continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] == v) return i;
    }
    return -1;
}

static void rewire_output(struct pxs_nn_model *m, int conv, int absorbed) {
    struct nn_node *c = &m->nodes[conv], *a = &m->nodes[absorbed];
    int old = c->out[0], nv = a->out[0];
    c->out[0] = nv;
    m->values[nv].producer = conv;
    m->values[old].producer = -1;
    m->values[old].n_consumers = 0;
    for (int j = 0; j < a->n_in; j++)
        if (a->in[j] >= 0 && m->values[a->in[j]].n_consumers > 0) m->values[a->in[j]].n_consumers--;
    a->dead = 1;
}

static int fuse_bn(struct pxs_nn_model *m, int ci, struct pxs_err *err) {
    struct nn_node *c = &m->nodes[ci];
    int bi = sole_consumer(m, c->out[0]);
    if (bi < 0) return PXS_OK;
    struct nn_node *b = &m->nodes[bi];
    if (strcmp(b->op_type, "BatchNormalization") || b->n_in != 5 || b->in[0] != c->out[0] || b->n_out < 1 ||
        b->out[0] < 0 || nn_extra_outputs_used(m, b, 1))
        return PXS_OK;
    if (c->n_in < 2 || c->in[1] < 0) return PXS_OK;
    struct nn_value *w = &m->values[c->in[1]];
    if (!w->data || w->dtype != NN_DT_F32 || w->shape.ndim != 4 || w->n_consumers != 1) return PXS_OK;
    size_t M = (size_t)w->shape.d[0], per = M ? w->nbytes / 4 / M : 0;
    const float *prm[4];
    for (int k = 0; k < 4; k++) {
        int v = b->in[k + 1];
        if (v < 0 || !m->values[v].data || m->values[v].dtype != NN_DT_F32 || m->values[v].nbytes != M * 4)
            return PXS_OK;
        prm[k] = m->values[v].data;
    }
    int bias_v = c->n_in >= 3 ? c->in[2] : -1;
    if (bias_v >= 0) {
        struct nn_value *bv = &m->values[bias_v];
        if (!bv->data || bv->dtype != NN_DT_F32 || bv->nbytes != M * 4 || bv->n_consumers != 1) return PXS_OK;
    } else {
        char name[300];
        snprintf(name, sizeof name, "%.200s::fused_bias", c->name);
        for (int k = 0; nn_value_find(m, name) >= 0; k++)
            snprintf(name, sizeof name, "%.200s::fused_bias%d", c->name, k);
        bias_v = nn_value_add(m, name, strlen(name), err);
        if (bias_v < 0) return bias_v;
        struct nn_value *bv = &m->values[bias_v];
        bv->data = pxs_calloc(M ? M : 1, sizeof(float));
        if (!bv->data) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
        bv->dtype = NN_DT_F32;
        bv->shape.ndim = 1;
        bv->shape.d[0] = (int64_t)M;
        bv->nbytes = M * 4;
        bv->n_consumers = 1;
        c = &m->nodes[ci];
        c->in[2] = bias_v;
        c->n_in = 3;
    }
    b = &m->nodes[bi];
    w = &m->values[c->in[1]];
    float *wd = w->data, *bd = m->values[bias_v].data;
    float eps = nn_attr_float(b, "epsilon", 1e-5f);
    for (size_t o = 0; o < M; o++) {
        float s = prm[0][o] / sqrtf(prm[3][o] + eps);
        for (size_t k = 0; k < per; k++) wd[o * per + k] *= s;
        bd[o] = (bd[o] - prm[2][o]) * s + prm[1][o];
    }
    rewire_output(m, ci, bi);
    return PXS_OK;
}

/* Relu / constant Clip after a Conv (or a float Add/Sub/Mul/Div) becomes
 * the producer's clamp. */
static void fuse_act(struct pxs_nn_model *m, int ci) {
    struct nn_node *c = &m->nodes[ci];
    if (c->act || c->n_out < 1 || c->out[0] < 0) return;
    int ai = sole_consumer(m, c->out[0]);
    if (ai < 0) return;
    struct nn_node *a = &m->nodes[ai];
    if (a->n_out < 1 || a->out[0] < 0 || a->in[0] != c->out[0]) return;
    float lo, hi;
    if (!strcmp(a->op_type, "Relu")) {
        lo = 0.f;
        hi = INFINITY;
    } else if (!strcmp(a->op_type, "Clip")) {
        struct nn_tensor t[3];
        memset(t, 0, sizeof t);
        for (int j = 1; j < a->n_in && j < 3; j++)
            if (a->in[j] >= 0) {
                if (!m->values[a->in[j]].data) return;
                value_view(&m->values[a->in[j]], &t[j]);
            }
        if (nn_clip_bounds(m, a, t, &lo, &hi, NULL) != 0) return;
    } else {
        return;
    }
    c->act = NN_ACT_CLAMP;
    c->act_lo = lo;
    c->act_hi = hi;
    rewire_output(m, ci, ai);
}

/* Add(conv_out, other) where conv_out's only use is this Add: the Conv
 * takes `other` as a fourth input and produces the sum. The Conv chosen is
 * the later one (in topological order) of the Add's Conv inputs, and
 * `other` must be produced before it, so the order stays valid. Not for
 * depthwise convs; a conv that already clamps only with the oneDNN backend
 * (the clamp becomes its pre_act, conv_dnnl.c). The shapes are checked when
 * planning (conv.c): a broadcasting Add would fail there, so both inputs
 * must be run-time values (the broadcasting adds in CNNs add constants). */
static int fuse_residual(struct pxs_nn_model *m, const int *pos, int ai, struct pxs_err *err) {
    struct nn_node *a = &m->nodes[ai];
    if (a->dead || a->act || strcmp(a->op_type, "Add") || a->n_in != 2 || a->n_out < 1 || a->out[0] < 0) return PXS_OK;
    int best = -1, best_k = -1;
    for (int k = 0; k < 2; k++) {
        int v = a->in[k], vo = a->in[1 - k];
        if (v < 0 || vo < 0 || v == vo || m->values[v].data || m->values[vo].data) return PXS_OK;
        int ci = m->values[v].producer;
        if (ci < 0 || sole_consumer(m, v) != ai) continue;
        const struct nn_node *c = &m->nodes[ci];
        /* a clamped conv only where oneDNN runs it (as a pre-add post-op) */
        if (c->dead || strcmp(c->op_type, "Conv") || (c->act && !m->dnnl) || c->res_fused || c->n_in < 2 ||
            c->n_in > 3 ||
            c->in[1] < 0 || c->out[0] != v)
            continue;
        const struct nn_value *w = &m->values[c->in[1]];
        if (!w->data || w->shape.ndim != 4 || (w->shape.d[1] == 1 && nn_attr_int(c, "group", 1) == w->shape.d[0]))
            continue; /* depthwise */
        int po = m->values[vo].producer;
        if (po >= 0 && pos[po] >= pos[ci]) continue;
        if (best < 0 || pos[ci] > pos[best]) {
            best = ci;
            best_k = k;
        }
    }
    if (best < 0) return PXS_OK;
    struct nn_node *c = &m->nodes[best];
    int *in = pxs_realloc(c->in, 4 * sizeof(int));
    if (!in) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
    c->in = in;
    if (c->n_in < 3) in[2] = -1;
    int other = a->in[1 - best_k];
    in[3] = other;
    c->n_in = 4;
    c->res_fused = 1;
    if (c->act) {
        c->pre_act = 1;
        c->pre_lo = c->act_lo;
        c->pre_hi = c->act_hi;
        c->act = NN_ACT_NONE;
    }
    rewire_output(m, best, ai);
    m->values[other].n_consumers++; /* the Conv now uses it instead of the Add */
    fuse_act(m, best);
    return PXS_OK;
}

int nn_graph_build(struct pxs_nn_model *m, struct pxs_err *err) {
    int rc;
    m->max_io = 1;
    for (int i = 0; i < m->n_nodes; i++) {
        struct nn_node *n = &m->nodes[i];
        n->op = nn_op_find(n->op_type);
        if (!n->op)
            return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: unsupported operator '%s' (node '%s')", n->op_type,
                            n->name);
        if (n->n_in > m->max_io) m->max_io = n->n_in;
        if (n->n_out > m->max_io) m->max_io = n->n_out;
    }
    m->max_io += 1;
    if (m->max_io < 5) m->max_io = 5; /* Conv: x, w, bias, residual (fusion) */
    m->tin = pxs_calloc((size_t)m->max_io, sizeof *m->tin);
    m->tout = pxs_calloc((size_t)m->max_io, sizeof *m->tout);
    if (!m->tin || !m->tout) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
    int *order = NULL;
    rc = topo_sort(m, &order, err);
    if (rc) return rc;
    rc = fold_constants(m, order, err);
    if (rc) goto out;
    for (int oi = 0; oi < m->n_nodes; oi++) {
        int ci = order[oi];
        if (m->nodes[ci].dead || strcmp(m->nodes[ci].op_type, "Conv") || m->nodes[ci].n_out < 1 ||
            m->nodes[ci].out[0] < 0)
            continue;
        rc = fuse_bn(m, ci, err);
        if (rc) goto out;
        fuse_act(m, ci);
    }
    {
        int *pos = pxs_calloc((size_t)m->n_nodes + 1, sizeof(int));
        if (!pos) {
            rc = pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
            goto out;
        }
        for (int oi = 0; oi < m->n_nodes; oi++) pos[order[oi]] = oi;
        for (int oi = 0; oi < m->n_nodes && !rc; oi++) rc = fuse_residual(m, pos, order[oi], err);
        pxs_free(pos);
        if (rc) goto out;
    }
    for (int oi = 0; oi < m->n_nodes; oi++) {
        struct nn_node *n = &m->nodes[order[oi]];
        if (n->dead || n->n_in != 2) continue;
        if (strcmp(n->op_type, "Add") && strcmp(n->op_type, "Sub") && strcmp(n->op_type, "Mul") &&
            strcmp(n->op_type, "Div"))
            continue;
        /* only when the result is float at run time: an input is produced by a node */
        int v0 = n->in[0], v1 = n->in[1];
        if (v0 < 0 || v1 < 0 || (m->values[v0].data && m->values[v1].data)) continue;
        int vr = m->values[v0].data ? v1 : v0;
        if (m->values[vr].dtype == NN_DT_I64) continue;
        fuse_act(m, order[oi]);
    }
    /* liveness */
    char *need = pxs_calloc((size_t)m->n_values + 1, 1);
    if (!need) {
        rc = pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
        goto out;
    }
    for (int i = 0; i < m->n_outputs; i++) need[m->outputs[i]] = 1;
    for (int oi = m->n_nodes - 1; oi >= 0; oi--) {
        struct nn_node *n = &m->nodes[order[oi]];
        if (n->dead) continue;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && need[n->out[k]]) n->live = 1;
        if (!n->live) continue;
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0) need[n->in[j]] = 1;
    }
    pxs_free(need);
    m->n_order = 0;
    for (int oi = 0; oi < m->n_nodes; oi++) {
        struct nn_node *n = &m->nodes[order[oi]];
        if (n->dead || !n->live) continue;
        order[m->n_order++] = order[oi];
        if (!strcmp(n->op_type, "Conv")) {
            rc = nn_conv_prepare(m, n, err);
            if (rc) goto out;
        } else if (!strcmp(n->op_type, "Gemm")) {
            rc = nn_gemm_prepare(m, n, err);
            if (rc) goto out;
        }
    }
    m->order = order;
    order = NULL;
    nn_dnnl_layouts(m);
out:
    pxs_free(order);
    return rc;
}

/* ---- plan ------------------------------------------------------------------------ */

void nn_plan_free(struct nn_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->n_owned; i++) pxs_free(p->owned[i]);
    pxs_free(p->owned);
    pxs_free(p->t);
    pxs_free(p->off);
    pxs_free(p->steps);
    pxs_free(p);
}

struct block {
    size_t off, size;
    int v;
};

static int plan_memory(struct pxs_nn_model *m, struct nn_plan *p, struct pxs_err *err) {
    int *last = pxs_mallocarray((size_t)m->n_values + 1, sizeof(int));
    struct block *live = pxs_mallocarray((size_t)m->n_values + 1, sizeof *live);
    int n_live = 0, rc = PXS_OK;
    if (!last || !live) {
        rc = pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
        goto out;
    }
    for (int v = 0; v < m->n_values; v++) last[v] = m->values[v].is_output ? p->n_steps : -1;
    for (int s = 0; s < p->n_steps; s++) {
        const struct nn_node *n = &m->nodes[p->steps[s]];
        for (int j = 0; j < n->n_in; j++)
            if (n->in[j] >= 0 && last[n->in[j]] < s) last[n->in[j]] = s;
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0 && last[n->out[k]] < s) last[n->out[k]] = s;
    }
    size_t top = 0;
    for (int s = 0; s < p->n_steps; s++) {
        const struct nn_node *n = &m->nodes[p->steps[s]];
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v < 0 || p->off[v] != SIZE_MAX) continue;
            if (k == 0 && n->res_inplace && p->off[n->in[3]] != SIZE_MAX && last[n->in[3]] == s) {
                /* conv_dnnl.c: the output takes over the residual's buffer */
                int pos = 0;
                while (pos < n_live && live[pos].v != n->in[3]) pos++;
                if (pos < n_live && p->t[v].numel == p->t[n->in[3]].numel) {
                    live[pos].v = v;
                    p->off[v] = live[pos].off;
                    continue;
                }
            }
            size_t size = align64(p->t[v].numel * nn_dtype_size(p->t[v].dtype));
            if (size == 0) size = 64;
            size_t cand = 0;
            int pos = 0;
            for (; pos < n_live; pos++) {
                if (live[pos].off >= cand && live[pos].off - cand >= size) break;
                size_t e = live[pos].off + live[pos].size;
                if (e > cand) cand = e;
            }
            memmove(&live[pos + 1], &live[pos], (size_t)(n_live - pos) * sizeof *live);
            live[pos].off = cand;
            live[pos].size = size;
            live[pos].v = v;
            n_live++;
            p->off[v] = cand;
            if (cand + size > top) top = cand + size;
            if (top > m->opts.max_arena_bytes) {
                rc = pxs_errf(err, PXS_ELIMIT, "nn: activations for batch %d exceed the memory limit", p->batch);
                goto out;
            }
        }
        /* release values whose last use is this step */
        for (int i = 0; i < n_live;) {
            if (last[live[i].v] <= s) {
                memmove(&live[i], &live[i + 1], (size_t)(n_live - i - 1) * sizeof *live);
                n_live--;
            } else {
                i++;
            }
        }
    }
    p->arena_bytes = top;
out:
    pxs_free(last);
    pxs_free(live);
    return rc;
}

static int plan_build(struct pxs_nn_model *m, int batch, struct nn_plan **out, struct pxs_err *err) {
    struct nn_plan *p = pxs_calloc(1, sizeof *p);
    if (!p) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
    p->batch = batch;
    p->t = pxs_calloc((size_t)m->n_values + 1, sizeof *p->t);
    p->off = pxs_mallocarray((size_t)m->n_values + 1, sizeof *p->off);
    p->steps = pxs_calloc((size_t)m->n_order + 1, sizeof *p->steps);
    p->owned = pxs_calloc((size_t)m->n_order * 2 + 2, sizeof *p->owned);
    int rc = PXS_OK, cap_owned = m->n_order * 2 + 2;
    if (!p->t || !p->off || !p->steps || !p->owned) {
        rc = pxs_errf(err, PXS_ENOMEM, "nn: out of memory");
        goto fail;
    }
    for (int v = 0; v < m->n_values; v++) {
        p->off[v] = SIZE_MAX;
        if (m->values[v].data) value_view(&m->values[v], &p->t[v]);
    }
    struct nn_tensor *ti = &p->t[m->input];
    ti->dtype = NN_DT_F32;
    ti->shape = m->values[m->input].shape;
    ti->shape.d[0] = batch;
    if (nn_shape_numel(&ti->shape, &ti->numel) != 0) {
        rc = pxs_errf(err, PXS_ELIMIT, "nn: input too large");
        goto fail;
    }
    for (int oi = 0; oi < m->n_order; oi++) {
        struct nn_node *n = &m->nodes[m->order[oi]];
        int known = 1;
        for (int j = 0; j < n->n_in; j++) {
            if (n->in[j] < 0) {
                memset(&m->tin[j], 0, sizeof m->tin[j]);
                continue;
            }
            m->tin[j] = p->t[n->in[j]];
            if (!m->tin[j].dtype) {
                rc = nn_node_err(err, PXS_EINTERNAL, n, "input '%s' not computed", m->values[n->in[j]].name);
                goto fail;
            }
            if (!m->tin[j].data) known = 0;
        }
        memset(m->tout, 0, (size_t)n->n_out * sizeof *m->tout);
        rc = n->op->infer(m, n, m->tin, m->tout, err);
        if (!rc) rc = check_outputs(m, n, m->tout, err);
        if (rc) goto fail;
        int now = n->op->shape_only || (known && strcmp(n->op_type, "Conv") != 0);
        if (now) {
            void *bufs[64];
            if (n->n_out > 64 || p->n_owned + n->n_out > cap_owned) {
                rc = nn_node_err(err, PXS_EUNSUPPORTED, n, "too many outputs");
                goto fail;
            }
            rc = eval_now(m, n, m->tin, m->tout, bufs, err);
            for (int i = 0; i < n->n_out; i++)
                if (bufs[i]) p->owned[p->n_owned++] = bufs[i];
            if (rc) goto fail;
        } else {
            for (int i = 0; i < n->n_out; i++)
                if (n->out[i] >= 0 && m->tout[i].dtype && m->tout[i].dtype != NN_DT_F32) {
                    rc = nn_node_err(err, PXS_EUNSUPPORTED, n, "integer values computed at run time");
                    goto fail;
                }
            p->steps[p->n_steps++] = m->order[oi];
            size_t ws = op_ws(m, n, m->tin, m->tout);
            if (ws > m->opts.max_arena_bytes) {
                rc = nn_node_err(err, PXS_ELIMIT, n, "scratch memory over the limit");
                goto fail;
            }
            if (ws > p->ws_bytes) p->ws_bytes = ws;
            if (n->op->flops) p->flops += n->op->flops(n, m->tin, m->tout);
        }
        for (int i = 0; i < n->n_out; i++)
            if (n->out[i] >= 0) p->t[n->out[i]] = m->tout[i];
    }
    for (int i = 0; i < m->n_outputs; i++)
        if (!p->t[m->outputs[i]].dtype) {
            rc = pxs_errf(err, PXS_ECORRUPT, "onnx: output '%s' is not computed", m->values[m->outputs[i]].name);
            goto fail;
        } else if (p->t[m->outputs[i]].dtype != NN_DT_F32) {
            rc = pxs_errf(err, PXS_EUNSUPPORTED, "onnx: output '%s' is not float", m->values[m->outputs[i]].name);
            goto fail;
        }
    rc = plan_memory(m, p, err);
    if (rc) goto fail;
    size_t total;
    if (pxs_size_add(align64(p->arena_bytes), align64(p->ws_bytes), &total) != 0 || total > m->opts.max_arena_bytes) {
        rc = pxs_errf(err, PXS_ELIMIT, "nn: memory for batch %d exceeds the limit", batch);
        goto fail;
    }
    *out = p;
    return PXS_OK;
fail:
    nn_plan_free(p);
    return rc;
}

int nn_arena_reserve(void **arena, size_t *cap, const struct nn_plan *p, struct pxs_err *err) {
    size_t need = align64(p->arena_bytes) + align64(p->ws_bytes);
    if (need < 64) need = 64; /* never a NULL arena, even with no run-time steps */
    if (need <= *cap && *arena) return PXS_OK;
    void *a = pxs_aligned_alloc(64, need);
    if (!a) return pxs_errf(err, PXS_ENOMEM, "nn: out of memory for %zu bytes of activations", need);
    pxs_free(*arena);
    *arena = a;
    *cap = need;
    return PXS_OK;
}

int nn_plan_get(struct pxs_nn_model *m, int batch, struct nn_plan **out, struct pxs_err *err) {
    for (int i = 0; i < m->n_plans; i++)
        if (m->plans[i]->batch == batch) {
            *out = m->plans[i];
            return PXS_OK;
        }
    struct nn_plan *p;
    int rc = plan_build(m, batch, &p, err);
    if (rc) return rc;
    p->items = -1;
    int cap = (int)(sizeof m->plans / sizeof m->plans[0]);
    if (m->n_plans == cap) {
        /* evict the oldest plan, but keep batch 1 (item-parallel runs hold it) */
        int victim = m->plans[0]->batch == 1 ? 1 : 0;
        nn_plan_free(m->plans[victim]);
        memmove(&m->plans[victim], &m->plans[victim + 1], (size_t)(cap - 1 - victim) * sizeof m->plans[0]);
        m->n_plans--;
    }
    m->plans[m->n_plans++] = p;
    *out = p;
    return PXS_OK;
}
