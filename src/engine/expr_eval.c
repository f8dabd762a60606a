/*
 * expr_eval.c — evaluation of bound filter expressions (expr.h) on one row
 * at a time: a tree walk over runtime values (struct rv) with SQL
 * three-valued logic for NULLs and Milvus' rules for JSON values. The
 * binder also uses it to fold constant sub-expressions (no row access).
 *
 * All evaluation state lives in struct xeval on the caller's stack; the
 * only allocation is cJSON parsing of EXPR_V_JSON_TEXT values, freed before
 * expr_eval returns.
 */
#define EXPR_INTERNALS
#include "engine/expr.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define EQ_MAX_DEPTH 32 /* nested list equality */

/* ---- values ----------------------------------------------------------- */

void expr_i_cval_to_rv(const struct cval *c, struct rv *o) {
    memset(o, 0, sizeof *o);
    switch (c->k) {
    case C_BOOL: o->k = RV_BOOL; o->u.b = c->u.b; break;
    case C_INT: o->k = RV_INT; o->u.i = c->u.i; break;
    case C_DBL: o->k = RV_DBL; o->u.d = c->u.d; break;
    case C_STR: o->k = RV_STR; o->u.s = c->u.s; break;
    case C_LIST:
        o->k = RV_LIST;
        o->u.l.items = c->u.list.items;
        o->u.l.n = c->u.list.n;
        break;
    default: o->k = RV_MISSING; break;
    }
}

/* JSON numbers that are whole and fit int64 become RV_INT (so % works). */
static void json_to_rv(const cJSON *j, struct rv *o) {
    memset(o, 0, sizeof *o);
    if (!j) {
        o->k = RV_MISSING;
    } else if (cJSON_IsNull(j)) {
        o->k = RV_JNULL;
    } else if (cJSON_IsBool(j)) {
        o->k = RV_BOOL;
        o->u.b = cJSON_IsTrue(j);
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == trunc(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
            o->k = RV_INT;
            o->u.i = (int64_t)d;
        } else {
            o->k = RV_DBL;
            o->u.d = d;
        }
    } else if (cJSON_IsString(j) && j->valuestring) {
        o->k = RV_STR;
        o->u.s.ptr = j->valuestring;
        o->u.s.len = strlen(j->valuestring);
    } else if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        o->k = RV_JSON;
        o->u.j = j;
    } else {
        o->k = RV_MISSING;
    }
}

static bool is_numv(const struct rv *v) { return v->k == RV_INT || v->k == RV_DBL; }

static bool listlike(const struct rv *v) {
    return v->k == RV_ARR || v->k == RV_LIST || (v->k == RV_JSON && cJSON_IsArray(v->u.j));
}

static void arr_elem(const struct rv *a, size_t i, struct rv *o) {
    memset(o, 0, sizeof *o);
    switch (a->et) {
    case EXPR_BOOL:
        o->k = RV_BOOL;
        o->u.b = ((const bool *)a->u.a.items)[i];
        break;
    case EXPR_INT8:
    case EXPR_INT16:
    case EXPR_INT32:
    case EXPR_INT64:
        o->k = RV_INT;
        o->u.i = ((const int64_t *)a->u.a.items)[i];
        break;
    case EXPR_FLOAT:
    case EXPR_DOUBLE:
        o->k = RV_DBL;
        o->u.d = ((const double *)a->u.a.items)[i];
        break;
    case EXPR_VARCHAR:
        o->k = RV_STR;
        o->u.s = ((const struct expr_str *)a->u.a.items)[i];
        break;
    default:
        o->k = RV_MISSING;
        break;
    }
}

struct iter {
    const struct rv *v;
    size_t i;
    const cJSON *c;
};

static void it_init(struct iter *t, const struct rv *v) {
    t->v = v;
    t->i = 0;
    t->c = v->k == RV_JSON ? v->u.j->child : NULL;
}

static bool it_next(struct iter *t, struct rv *o) {
    switch (t->v->k) {
    case RV_ARR:
        if (t->i >= t->v->u.a.n) return false;
        arr_elem(t->v, t->i++, o);
        return true;
    case RV_LIST:
        if (t->i >= t->v->u.l.n) return false;
        expr_i_cval_to_rv(&t->v->u.l.items[t->i++], o);
        return true;
    case RV_JSON:
        if (!t->c) return false;
        json_to_rv(t->c, o);
        t->c = t->c->next;
        return true;
    default:
        return false;
    }
}

/* ---- comparison ------------------------------------------------------- */

/* int64 vs double, exactly. */
static int cmp_id(int64_t i, double d) {
    if (isnan(d)) return CMP_NA;
    if (d >= 9223372036854775808.0) return CMP_LT;
    if (d < -9223372036854775808.0) return CMP_GT;
    int64_t t = (int64_t)d; /* trunc(d), exactly representable */
    if (i < t) return CMP_LT;
    if (i > t) return CMP_GT;
    double frac = d - (double)t;
    return frac > 0 ? CMP_LT : frac < 0 ? CMP_GT : CMP_EQ;
}

static double to_f32(double d) {
    if (isnan(d) || fabs(d) > FLT_MAX) return d;
    return (double)(float)d;
}

static double as_dbl(const struct rv *v) { return v->k == RV_INT ? (double)v->u.i : v->u.d; }

static int cmp_dd(double a, double b) {
    if (isnan(a) || isnan(b)) return CMP_NA;
    return a < b ? CMP_LT : a > b ? CMP_GT : CMP_EQ;
}

static int cmp_bytes(const struct expr_str *a, const struct expr_str *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->ptr, b->ptr, n) : 0;
    if (c) return c < 0 ? CMP_LT : CMP_GT;
    return a->len < b->len ? CMP_LT : a->len > b->len ? CMP_GT : CMP_EQ;
}

int expr_i_cmp(const struct rv *a, const struct rv *b, bool f32) {
    if (is_numv(a) && is_numv(b)) {
        if (f32) return cmp_dd(to_f32(as_dbl(a)), to_f32(as_dbl(b)));
        if (a->k == RV_INT && b->k == RV_INT) return a->u.i < b->u.i ? CMP_LT : a->u.i > b->u.i ? CMP_GT : CMP_EQ;
        if (a->k == RV_INT) return cmp_id(a->u.i, b->u.d);
        if (b->k == RV_INT) {
            int c = cmp_id(b->u.i, a->u.d);
            return c == CMP_LT ? CMP_GT : c == CMP_GT ? CMP_LT : c;
        }
        return cmp_dd(a->u.d, b->u.d);
    }
    if (a->k == RV_STR && b->k == RV_STR) return cmp_bytes(&a->u.s, &b->u.s);
    if (a->k == RV_BOOL && b->k == RV_BOOL) return a->u.b == b->u.b ? CMP_EQ : CMP_NE;
    return CMP_NA;
}

static bool eq_rv(const struct rv *a, const struct rv *b, bool f32, int depth) {
    bool la = listlike(a), lb = listlike(b);
    if (!la && !lb) return expr_i_cmp(a, b, f32) == CMP_EQ;
    if (!la || !lb || depth > EQ_MAX_DEPTH) return false;
    struct iter ia, ib;
    it_init(&ia, a);
    it_init(&ib, b);
    for (;;) {
        struct rv ea, eb;
        bool ha = it_next(&ia, &ea), hb = it_next(&ib, &eb);
        if (!ha || !hb) return ha == hb;
        if (!eq_rv(&ea, &eb, f32, depth + 1)) return false;
    }
}

static bool op_holds(int op, int c) {
    switch (op) {
    case OP_EQ: return c == CMP_EQ;
    case OP_NE: return c != CMP_EQ;
    case OP_LT: return c == CMP_LT;
    case OP_LE: return c == CMP_LT || c == CMP_EQ;
    case OP_GT: return c == CMP_GT;
    case OP_GE: return c == CMP_GT || c == CMP_EQ;
    default: return false;
    }
}

/* ---- like ------------------------------------------------------------- */

static size_t utf8_len(const char *s, size_t n) {
    unsigned char c = (unsigned char)s[0];
    size_t l = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF8 ? 4 : 1;
    return l > n ? n : l;
}

/* Anchored match: % any run, _ one UTF-8 character, \x the byte x.
 * Greedy with one backtrack point: O(n*m), no recursion. */
bool expr_i_like(const char *s, size_t n, const char *p, size_t m) {
    size_t si = 0, pi = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < n) {
        if (pi < m) {
            char c = p[pi];
            if (c == '%') {
                star_p = ++pi;
                star_s = si;
                continue;
            }
            if (c == '_') {
                si += utf8_len(s + si, n - si);
                pi++;
                continue;
            }
            size_t plen = 1;
            if (c == '\\' && pi + 1 < m) {
                c = p[pi + 1];
                plen = 2;
            }
            if (s[si] == c) {
                si++;
                pi += plen;
                continue;
            }
        }
        if (star_p == SIZE_MAX) return false;
        star_s += utf8_len(s + star_s, n - star_s);
        si = star_s;
        pi = star_p;
    }
    while (pi < m && p[pi] == '%') pi++;
    return pi == m;
}

/* ---- fields ----------------------------------------------------------- */

static void eval_fail(struct xeval *x, int code, const char *fmt, ...) PXS_PRINTF(3, 4);
static void eval_fail(struct xeval *x, int code, const char *fmt, ...) {
    if (x->rc) return;
    x->rc = code;
    va_list ap;
    va_start(ap, fmt);
    pxs_verrf(x->err, code, fmt, ap);
    va_end(ap);
}

static bool kind_ok(int ftype, int kind) {
    if (kind == EXPR_V_NULL) return true;
    switch (ftype) {
    case EXPR_BOOL: return kind == EXPR_V_BOOL;
    case EXPR_INT8:
    case EXPR_INT16:
    case EXPR_INT32:
    case EXPR_INT64: return kind == EXPR_V_INT;
    case EXPR_FLOAT:
    case EXPR_DOUBLE: return kind == EXPR_V_DOUBLE || kind == EXPR_V_INT;
    case EXPR_VARCHAR: return kind == EXPR_V_STRING;
    case EXPR_JSON: return kind == EXPR_V_JSON || kind == EXPR_V_JSON_TEXT;
    case EXPR_ARRAY: return kind == EXPR_V_ARRAY || kind == EXPR_V_JSON || kind == EXPR_V_JSON_TEXT;
    default: return false;
    }
}

static struct xevslot *fetch(struct xeval *x, uint32_t slot) {
    struct xevslot *s = &x->slots[slot];
    if (s->fetched) return s;
    const struct xslot *d = &x->e->slots[slot];
    if (!x->acc) {
        eval_fail(x, PXS_EINTERNAL, "expr: field '%s' read without a row", d->name);
        return NULL;
    }
    memset(&s->v, 0, sizeof s->v);
    int rc = x->acc->get(x->acc->user, d->field, x->row, &s->v, x->err);
    if (rc != PXS_OK) {
        eval_fail(x, rc < 0 && rc >= PXS_CODE_MIN ? rc : PXS_EINTERNAL,
                  "reading field '%s' of row %llu failed", d->name, (unsigned long long)x->row);
        return NULL;
    }
    s->fetched = true;
    struct expr_value *v = &s->v;
    if (!kind_ok(d->ftype, v->kind)) {
        eval_fail(x, PXS_EINVAL, "row %llu: value kind %d does not fit field '%s'",
                  (unsigned long long)x->row, (int)v->kind, d->name);
        return NULL;
    }
    if ((v->kind == EXPR_V_STRING || v->kind == EXPR_V_JSON_TEXT) && !v->u.s.ptr && v->u.s.len) {
        eval_fail(x, PXS_EINVAL, "row %llu: field '%s' has a NULL string", (unsigned long long)x->row,
                  d->name);
        return NULL;
    }
    if (v->kind == EXPR_V_ARRAY && !v->u.arr.items && v->u.arr.n) {
        eval_fail(x, PXS_EINVAL, "row %llu: field '%s' has a NULL array", (unsigned long long)x->row,
                  d->name);
        return NULL;
    }
    if (v->kind == EXPR_V_JSON_TEXT) {
        s->owned = cJSON_ParseWithLength(v->u.s.ptr ? v->u.s.ptr : "", v->u.s.len);
        if (!s->owned) {
            eval_fail(x, PXS_ECORRUPT, "row %llu: field '%s' holds invalid JSON",
                      (unsigned long long)x->row, d->name);
            return NULL;
        }
        v->kind = EXPR_V_JSON;
        v->u.json = s->owned;
    }
    if (v->kind == EXPR_V_JSON && !v->u.json) v->kind = EXPR_V_NULL;
    return s;
}

/* Canonical decimal index ("0", "12", not "012"). */
static bool canon_index(const struct expr_str *k, size_t *out) {
    if (k->len == 0 || k->len > 18 || (k->len > 1 && k->ptr[0] == '0')) return false;
    size_t v = 0;
    for (size_t i = 0; i < k->len; i++) {
        if (k->ptr[i] < '0' || k->ptr[i] > '9') return false;
        v = v * 10 + (size_t)(k->ptr[i] - '0');
    }
    *out = v;
    return true;
}

/* JSON pointer step: object key, or array index. */
static const cJSON *json_step(const cJSON *j, const struct expr_str *key) {
    if (cJSON_IsObject(j)) {
        for (const cJSON *c = j->child; c; c = c->next)
            if (c->string && strlen(c->string) == key->len && memcmp(c->string, key->ptr, key->len) == 0)
                return c;
        return NULL;
    }
    if (cJSON_IsArray(j)) {
        size_t idx;
        if (!canon_index(key, &idx)) return NULL;
        const cJSON *c = j->child;
        while (c && idx--) c = c->next;
        return c;
    }
    return NULL;
}

static void field_val(struct xeval *x, const struct node *n, struct rv *o) {
    memset(o, 0, sizeof *o);
    struct xevslot *s = fetch(x, n->u.f.slot);
    if (!s) return;
    const struct expr_value *v = &s->v;
    switch (v->kind) {
    case EXPR_V_NULL:
        /* a row without dynamic data has no dynamic keys */
        if ((n->flags & F_META) && n->u.f.npath) o->k = RV_MISSING;
        return;
    case EXPR_V_BOOL: o->k = RV_BOOL; o->u.b = v->u.b; return;
    case EXPR_V_INT: o->k = RV_INT; o->u.i = v->u.i; return;
    case EXPR_V_DOUBLE: o->k = RV_DBL; o->u.d = v->u.d; return;
    case EXPR_V_STRING: o->k = RV_STR; o->u.s = v->u.s; return;
    case EXPR_V_JSON: {
        const cJSON *j = v->u.json;
        for (size_t i = 0; j && i < n->u.f.npath; i++) j = json_step(j, &n->u.f.path[i].key);
        json_to_rv(j, o);
        return;
    }
    case EXPR_V_ARRAY: {
        struct rv a;
        memset(&a, 0, sizeof a);
        a.k = RV_ARR;
        a.et = x->e->slots[n->u.f.slot].etype;
        a.u.a.items = v->u.arr.items;
        a.u.a.n = v->u.arr.n;
        if (n->u.f.npath == 0) {
            *o = a;
            return;
        }
        size_t idx;
        if (n->u.f.npath == 1 && canon_index(&n->u.f.path[0].key, &idx) && idx < a.u.a.n)
            arr_elem(&a, idx, o);
        else
            o->k = RV_MISSING;
        return;
    }
    default:
        o->k = RV_MISSING;
        return;
    }
}

/* ---- arithmetic ------------------------------------------------------- */

static void arith(int op, const struct rv *a, const struct rv *b, struct rv *o) {
    memset(o, 0, sizeof *o);
    if (a->k == RV_NULL || b->k == RV_NULL) return;
    if (!is_numv(a) || !is_numv(b)) {
        o->k = RV_MISSING;
        return;
    }
    if (op == OP_POW) {
        o->k = RV_DBL;
        o->u.d = pow(as_dbl(a), as_dbl(b));
        return;
    }
    if (a->k == RV_INT && b->k == RV_INT) {
        int64_t x = a->u.i, y = b->u.i;
        o->k = RV_INT;
        switch (op) { /* wrap like two's complement hardware, without UB */
        case OP_ADD: o->u.i = (int64_t)((uint64_t)x + (uint64_t)y); return;
        case OP_SUB: o->u.i = (int64_t)((uint64_t)x - (uint64_t)y); return;
        case OP_MUL: o->u.i = (int64_t)((uint64_t)x * (uint64_t)y); return;
        case OP_DIV:
            if (y == 0) o->k = RV_MISSING;
            else o->u.i = (x == INT64_MIN && y == -1) ? INT64_MIN : x / y;
            return;
        case OP_MOD:
            if (y == 0) o->k = RV_MISSING;
            else o->u.i = y == -1 ? 0 : x % y;
            return;
        default: o->k = RV_MISSING; return;
        }
    }
    double x = as_dbl(a), y = as_dbl(b);
    o->k = RV_DBL;
    switch (op) {
    case OP_ADD: o->u.d = x + y; return;
    case OP_SUB: o->u.d = x - y; return;
    case OP_MUL: o->u.d = x * y; return;
    case OP_DIV: o->u.d = x / y; return;
    default: o->k = RV_MISSING; return; /* % needs integers */
    }
}

/* ---- evaluation ------------------------------------------------------- */

static int tri_of(const struct rv *v) {
    if (v->k == RV_NULL) return TRI_U;
    return v->k == RV_BOOL && v->u.b ? TRI_T : TRI_F;
}

static bool contains(const struct rv *f, const struct rv *item) {
    struct iter it;
    it_init(&it, f);
    struct rv e;
    while (it_next(&it, &e))
        if (eq_rv(&e, item, false, 0)) return true;
    return false;
}

static bool in_sorted(const struct rv *v, const struct cval *items, size_t n) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c;
        if (v->k == RV_INT) c = v->u.i < items[mid].u.i ? CMP_LT : v->u.i > items[mid].u.i ? CMP_GT : CMP_EQ;
        else c = cmp_bytes(&v->u.s, &items[mid].u.s);
        if (c == CMP_EQ) return true;
        if (c == CMP_LT) hi = mid;
        else lo = mid + 1;
    }
    return false;
}

static int pred_in(struct xeval *x, const struct node *n) {
    struct rv v;
    expr_i_val(x, n->u.kids.k[0], &v);
    if (v.k == RV_NULL) return TRI_U;
    const struct cval *list = &n->u.kids.k[1]->u.c;
    const struct cval *items = list->u.list.items;
    size_t cnt = list->u.list.n;
    bool sorted_kind = (v.k == RV_INT && cnt && items[0].k == C_INT) || (v.k == RV_STR && cnt && items[0].k == C_STR);
    if ((n->flags & F_SORTED) && sorted_kind) return in_sorted(&v, items, cnt) ? TRI_T : TRI_F;
    bool f32 = (n->flags & F_F32) != 0;
    for (size_t i = 0; i < cnt; i++) {
        struct rv e;
        expr_i_cval_to_rv(&items[i], &e);
        if (eq_rv(&v, &e, f32, 0)) return TRI_T;
    }
    return TRI_F;
}

static int pred_call(struct xeval *x, const struct node *n) {
    struct rv f, v;
    expr_i_val(x, n->u.kids.k[0], &f);
    if (f.k == RV_NULL) return TRI_U;
    if (!listlike(&f)) return TRI_F;
    expr_i_cval_to_rv(&n->u.kids.k[1]->u.c, &v);
    switch (n->op) {
    case FN_JSON_CONTAINS:
    case FN_ARRAY_CONTAINS:
        return contains(&f, &v) ? TRI_T : TRI_F;
    case FN_JSON_CONTAINS_ALL:
    case FN_ARRAY_CONTAINS_ALL: {
        struct iter it;
        it_init(&it, &v);
        struct rv e;
        while (it_next(&it, &e))
            if (!contains(&f, &e)) return TRI_F;
        return TRI_T;
    }
    case FN_JSON_CONTAINS_ANY:
    case FN_ARRAY_CONTAINS_ANY: {
        struct iter it;
        it_init(&it, &v);
        struct rv e;
        while (it_next(&it, &e))
            if (contains(&f, &e)) return TRI_T;
        return TRI_F;
    }
    default:
        return TRI_F;
    }
}

int expr_i_pred(struct xeval *x, const struct node *n) {
    if (x->rc) return TRI_U;
    const struct node *const *k = (const struct node *const *)n->u.kids.k;
    switch (n->kind) {
    case N_CONST:
        return n->u.c.k == C_BOOL && n->u.c.u.b ? TRI_T : TRI_F;
    case N_NOT: {
        int t = expr_i_pred(x, k[0]);
        return t == TRI_U ? TRI_U : t == TRI_T ? TRI_F : TRI_T;
    }
    case N_AND:
    case N_OR: {
        int stop = n->kind == N_AND ? TRI_F : TRI_T;
        bool unknown = false;
        for (uint32_t i = 0; i < n->u.kids.n; i++) {
            int t = expr_i_pred(x, k[i]);
            if (t == stop) return stop;
            if (t == TRI_U) unknown = true;
        }
        return unknown ? TRI_U : (stop == TRI_F ? TRI_T : TRI_F);
    }
    case N_CMP: {
        struct rv a, b;
        expr_i_val(x, k[0], &a);
        expr_i_val(x, k[1], &b);
        if (a.k == RV_NULL || b.k == RV_NULL) return TRI_U;
        bool f32 = (n->flags & F_F32) != 0;
        if (n->op == OP_EQ || n->op == OP_NE) {
            bool eq = eq_rv(&a, &b, f32, 0);
            return (n->op == OP_EQ) == eq ? TRI_T : TRI_F;
        }
        return op_holds(n->op, expr_i_cmp(&a, &b, f32)) ? TRI_T : TRI_F;
    }
    case N_RANGE: {
        struct rv lo, m, hi;
        expr_i_val(x, k[1], &m);
        if (m.k == RV_NULL) return TRI_U;
        expr_i_val(x, k[0], &lo);
        expr_i_val(x, k[2], &hi);
        if (lo.k == RV_NULL || hi.k == RV_NULL) return TRI_U;
        bool f32 = (n->flags & F_F32) != 0;
        return op_holds(n->op, expr_i_cmp(&lo, &m, f32)) && op_holds(n->op2, expr_i_cmp(&m, &hi, f32)) ? TRI_T
                                                                                                 : TRI_F;
    }
    case N_IN:
        return pred_in(x, n);
    case N_LIKE: {
        struct rv v;
        expr_i_val(x, k[0], &v);
        if (v.k == RV_NULL) return TRI_U;
        if (v.k != RV_STR) return TRI_F;
        return expr_i_like(v.u.s.ptr, v.u.s.len, n->u.kids.pat.ptr, n->u.kids.pat.len) ? TRI_T : TRI_F;
    }
    case N_ISNULL: {
        struct rv v;
        expr_i_val(x, k[0], &v);
        if (x->rc) return TRI_U;
        bool isnull = v.k == RV_NULL || v.k == RV_MISSING || v.k == RV_JNULL;
        return isnull != ((n->flags & F_NEGATE) != 0) ? TRI_T : TRI_F;
    }
    case N_CALL:
        if (n->op != FN_ARRAY_LENGTH) return pred_call(x, n);
        return TRI_F; /* array_length is not a predicate (the binder rejects it) */
    default: {
        struct rv v;
        expr_i_val(x, n, &v);
        return tri_of(&v);
    }
    }
}

void expr_i_val(struct xeval *x, const struct node *n, struct rv *o) {
    memset(o, 0, sizeof *o);
    if (x->rc) return;
    const struct node *const *k = (const struct node *const *)n->u.kids.k;
    switch (n->kind) {
    case N_CONST:
        expr_i_cval_to_rv(&n->u.c, o);
        return;
    case N_FIELD:
        field_val(x, n, o);
        return;
    case N_NEG: {
        struct rv a;
        expr_i_val(x, k[0], &a);
        if (a.k == RV_NULL) return;
        if (a.k == RV_INT) {
            o->k = RV_INT;
            o->u.i = (int64_t)(0 - (uint64_t)a.u.i);
        } else if (a.k == RV_DBL) {
            o->k = RV_DBL;
            o->u.d = -a.u.d;
        } else {
            o->k = RV_MISSING;
        }
        return;
    }
    case N_ARITH: {
        struct rv a, b;
        expr_i_val(x, k[0], &a);
        expr_i_val(x, k[1], &b);
        arith(n->op, &a, &b, o);
        return;
    }
    case N_CALL:
        if (n->op == FN_ARRAY_LENGTH) {
            struct rv f;
            expr_i_val(x, k[0], &f);
            if (f.k == RV_NULL) return;
            if (f.k == RV_ARR) {
                o->k = RV_INT;
                o->u.i = (int64_t)f.u.a.n;
            } else if (f.k == RV_JSON && cJSON_IsArray(f.u.j)) {
                o->k = RV_INT;
                o->u.i = cJSON_GetArraySize(f.u.j);
            } else {
                o->k = RV_MISSING;
            }
            return;
        }
        break;
    default:
        break;
    }
    int t = expr_i_pred(x, n);
    if (t != TRI_U) {
        o->k = RV_BOOL;
        o->u.b = t == TRI_T;
    }
}

void expr_i_release(struct xeval *x) {
    for (size_t i = 0; i < x->e->nslots; i++) {
        if (x->slots[i].owned) cJSON_Delete(x->slots[i].owned);
        x->slots[i].owned = NULL;
        x->slots[i].fetched = false;
    }
}

int expr_eval(const struct expr *e, const struct expr_row_access *access, uint64_t row, bool *match,
              struct pxs_err *err) {
    if (!e || !match || (e->reads_rows && (!access || !access->get)))
        return pxs_errf(err, PXS_EINVAL, "expr_eval: expression, accessor and match are required");
    struct xeval x;
    x.e = e;
    x.acc = access;
    x.row = row;
    x.err = err;
    x.rc = 0;
    for (size_t i = 0; i < e->nslots; i++) {
        x.slots[i].fetched = false;
        x.slots[i].owned = NULL;
    }
    int t = expr_i_pred(&x, e->root);
    expr_i_release(&x);
    *match = x.rc == 0 && t == TRI_T;
    return x.rc;
}

int expr_eval_rows(const struct expr *e, const struct expr_row_access *access, const uint64_t *rows,
                   size_t n, uint8_t *bits, struct pxs_err *err) {
    if (n && (!rows || !bits)) return pxs_errf(err, PXS_EINVAL, "expr_eval_rows: rows and bits are required");
    if (n) memset(bits, 0, (n + 7) / 8);
    for (size_t i = 0; i < n; i++) {
        bool hit;
        int rc = expr_eval(e, access, rows[i], &hit, err);
        if (rc) return rc;
        if (hit) bits[i / 8] |= (uint8_t)(1u << (i % 8));
    }
    return PXS_OK;
}
