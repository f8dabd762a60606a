/*
 * expr.c — filter expressions: lexer, recursive-descent parser, binder
 * (name resolution, type checks, constant folding) and the canonical
 * printer. Evaluation is in expr_eval.c. Grammar and semantics: expr.h.
 *
 * Everything a compiled expression owns lives in one arena, so error paths
 * never free node by node. Recursion is bounded: the parser counts nesting
 * (EXPR_MAX_DEPTH) and every node records its height (EXPR_MAX_HEIGHT), and
 * and/or chains are n-ary, so `a or b or c ...` stays flat.
 */
#define EXPR_INTERNALS
#include "engine/expr.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_MAX (32u << 20) /* bytes one compiled expression may use */
#define ARENA_CHUNK 16384u

/* ---- arena ------------------------------------------------------------ */

struct xchunk {
    struct xchunk *next;
    size_t used, cap;
    max_align_t data[];
};

static void *arena_alloc(struct xarena *a, size_t n) {
    n = (n + 15u) & ~(size_t)15u;
    if (n == 0 || n > ARENA_MAX) {
        a->limit_hit = true;
        return NULL;
    }
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
        if (a->total + cap > ARENA_MAX) {
            a->limit_hit = true;
            return NULL;
        }
        struct xchunk *c = pxs_malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        a->total += cap;
    }
    void *p = (unsigned char *)a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

static void arena_release(struct xarena *a) {
    struct xchunk *c = a->head;
    while (c) {
        struct xchunk *next = c->next;
        pxs_free(c);
        c = next;
    }
    a->head = NULL;
}

/* ---- lexer ------------------------------------------------------------ */

enum tk {
    TK_EOF = 0, TK_INT, TK_FLOAT, TK_STR, TK_IDENT, TK_META, TK_TRUE, TK_FALSE,
    TK_AND, TK_OR, TK_NOT, TK_IN, TK_LIKE,
    TK_LP, TK_RP, TK_LB, TK_RB, TK_COMMA,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
    TK_ADD, TK_SUB, TK_MUL, TK_DIV, TK_MOD, TK_POW,
};

struct tok {
    int k;
    size_t pos, end;
    uint64_t ival; /* TK_INT magnitude (<= 2^63) */
    double dval;
    struct expr_str sval; /* TK_STR decoded (arena), TK_IDENT raw */
};

struct parser {
    const char *s;
    size_t len;
    struct tok cur, prev;
    int depth;
    struct xarena *arena;
    struct pxs_err *err;
    int rc;
};

static void fail(struct parser *p, int code, const char *fmt, ...) PXS_PRINTF(3, 4);
static void fail(struct parser *p, int code, const char *fmt, ...) {
    if (p->rc) return;
    p->rc = code;
    char msg[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pxs_errf(p->err, code, "%s", msg);
}

static void fail_oom(struct parser *p) {
    if (p->arena->limit_hit)
        fail(p, PXS_ELIMIT, "expression too complex (more than %u MiB of syntax tree)",
             ARENA_MAX >> 20);
    else
        fail(p, PXS_ENOMEM, "out of memory compiling the expression");
}

static void *palloc(struct parser *p, size_t n) {
    void *m = arena_alloc(p->arena, n);
    if (!m) fail_oom(p);
    return m;
}

static bool is_ident_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_ident_char(int c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool word_is(const char *w, size_t n, const char *a, const char *b, const char *c) {
    return (strlen(a) == n && memcmp(w, a, n) == 0) || (b && strlen(b) == n && memcmp(w, b, n) == 0) ||
           (c && strlen(c) == n && memcmp(w, c, n) == 0);
}

static size_t put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A quoted string at s[at]; decoded bytes never outnumber the raw ones. */
static int lex_string(struct parser *p, size_t at, struct tok *t) {
    const char *s = p->s;
    char q = s[at];
    size_t i = at + 1, raw_end = at + 1;
    while (raw_end < p->len && s[raw_end] != q) raw_end += s[raw_end] == '\\' ? 2 : 1;
    char *o = palloc(p, (raw_end < p->len ? raw_end : p->len) - at + 1);
    if (!o) return -1;
    size_t n = 0;
    for (;;) {
        if (i >= p->len) {
            fail(p, PXS_EINVAL, "syntax error at position %zu: unterminated string", at);
            return -1;
        }
        char c = s[i];
        if (c == q) {
            i++;
            break;
        }
        if (c != '\\') {
            o[n++] = c;
            i++;
            continue;
        }
        size_t esc = i;
        if (i + 1 >= p->len) {
            fail(p, PXS_EINVAL, "syntax error at position %zu: unterminated string", at);
            return -1;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'a': o[n++] = '\a'; break;
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'v': o[n++] = '\v'; break;
        case '\\': o[n++] = '\\'; break;
        case '\'': o[n++] = '\''; break;
        case '"': o[n++] = '"'; break;
        case '%':
        case '_': /* like wildcards stay escaped */
            o[n++] = '\\';
            o[n++] = e;
            break;
        case 'x': {
            int h1 = i < p->len ? hexval((unsigned char)s[i]) : -1;
            int h2 = i + 1 < p->len ? hexval((unsigned char)s[i + 1]) : -1;
            if (h1 < 0 || h2 < 0) {
                fail(p, PXS_EINVAL, "syntax error at position %zu: \\x needs two hex digits", esc);
                return -1;
            }
            o[n++] = (char)(h1 * 16 + h2);
            i += 2;
            break;
        }
        case 'u':
        case 'U': {
            int digits = e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int d = 0; d < digits; d++) {
                int h = i < p->len ? hexval((unsigned char)s[i]) : -1;
                if (h < 0) {
                    fail(p, PXS_EINVAL, "syntax error at position %zu: \\%c needs %d hex digits", esc,
                         e, digits);
                    return -1;
                }
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                fail(p, PXS_EINVAL, "syntax error at position %zu: invalid code point U+%04" PRIX32,
                     esc, cp);
                return -1;
            }
            n += put_utf8(o + n, cp);
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                int v = e - '0';
                for (int d = 0; d < 2; d++) {
                    if (i >= p->len || s[i] < '0' || s[i] > '7') {
                        fail(p, PXS_EINVAL,
                             "syntax error at position %zu: octal escape needs three digits", esc);
                        return -1;
                    }
                    v = v * 8 + (s[i] - '0');
                    i++;
                }
                if (v > 255) {
                    fail(p, PXS_EINVAL, "syntax error at position %zu: octal escape above \\377", esc);
                    return -1;
                }
                o[n++] = (char)v;
                break;
            }
            if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7F)
                fail(p, PXS_EINVAL, "syntax error at position %zu: invalid escape sequence '\\%c'",
                     esc, e);
            else
                fail(p, PXS_EINVAL, "syntax error at position %zu: invalid escape sequence", esc);
            return -1;
        }
    }
    o[n] = '\0';
    t->k = TK_STR;
    t->sval.ptr = o;
    t->sval.len = n;
    t->end = i;
    return 0;
}

static int lex_number(struct parser *p, size_t at, struct tok *t) {
    const char *s = p->s;
    size_t i = at;
    /* prefixed integers: 0x, 0b, leading-zero octal */
    if (s[i] == '0' && i + 1 < p->len && (s[i + 1] == 'x' || s[i + 1] == 'X' || s[i + 1] == 'b' ||
                                          s[i + 1] == 'B')) {
        int base = (s[i + 1] == 'x' || s[i + 1] == 'X') ? 16 : 2;
        i += 2;
        uint64_t v = 0;
        size_t start = i;
        for (; i < p->len; i++) {
            int d = hexval((unsigned char)s[i]);
            if (d < 0 || d >= base) break;
            if (v > (UINT64_C(1) << 63) / (uint64_t)base) goto range;
            v = v * (uint64_t)base + (uint64_t)d;
            if (v > (UINT64_C(1) << 63)) goto range;
        }
        if (i == start) {
            fail(p, PXS_EINVAL, "syntax error at position %zu: missing digits after '%.2s'", at, s + at);
            return -1;
        }
        if (i < p->len && is_ident_char((unsigned char)s[i])) goto bad;
        t->k = TK_INT;
        t->ival = v;
        t->end = i;
        return 0;
    }
    bool is_float = false;
    while (i < p->len && is_digit((unsigned char)s[i])) i++;
    if (i < p->len && s[i] == '.') {
        is_float = true;
        i++;
        while (i < p->len && is_digit((unsigned char)s[i])) i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < p->len && (s[j] == '+' || s[j] == '-')) j++;
        if (j < p->len && is_digit((unsigned char)s[j])) {
            is_float = true;
            i = j;
            while (i < p->len && is_digit((unsigned char)s[i])) i++;
        }
    }
    if (i < p->len && (is_ident_char((unsigned char)s[i]) || s[i] == '.')) goto bad;
    if (is_float) {
        char buf[128];
        if (i - at >= sizeof buf) {
            fail(p, PXS_EINVAL, "syntax error at position %zu: number too long", at);
            return -1;
        }
        memcpy(buf, s + at, i - at);
        buf[i - at] = '\0';
        char *end = NULL;
        errno = 0;
        double d = strtod(buf, &end);
        if (end != buf + (i - at)) goto bad;
        if (!isfinite(d)) {
            fail(p, PXS_EINVAL, "syntax error at position %zu: float literal out of range", at);
            return -1;
        }
        t->k = TK_FLOAT;
        t->dval = d;
        t->end = i;
        return 0;
    }
    int base = (s[at] == '0' && i - at > 1) ? 8 : 10;
    uint64_t v = 0;
    for (size_t j = at; j < i; j++) {
        int d = s[j] - '0';
        if (d >= base) {
            fail(p, PXS_EINVAL, "syntax error at position %zu: invalid digit '%c' in octal literal",
                 j, s[j]);
            return -1;
        }
        if (v > (UINT64_C(1) << 63) / (uint64_t)base) goto range;
        v = v * (uint64_t)base + (uint64_t)d;
        if (v > (UINT64_C(1) << 63)) goto range;
    }
    t->k = TK_INT;
    t->ival = v;
    t->end = i;
    return 0;
range:
    fail(p, PXS_EINVAL, "syntax error at position %zu: integer literal out of range", at);
    return -1;
bad:
    fail(p, PXS_EINVAL, "syntax error at position %zu: malformed number", at);
    return -1;
}

/* Lex the token starting at or after byte `at`. */
static int lex(struct parser *p, size_t at, struct tok *t) {
    const char *s = p->s;
    while (at < p->len && (s[at] == ' ' || s[at] == '\t' || s[at] == '\n' || s[at] == '\r'))
        at++;
    memset(t, 0, sizeof *t);
    t->pos = at;
    if (at >= p->len) {
        t->k = TK_EOF;
        t->end = at;
        return 0;
    }
    unsigned char c = (unsigned char)s[at];
    unsigned char c1 = at + 1 < p->len ? (unsigned char)s[at + 1] : 0;
    t->end = at + 1;
    if (is_ident_start(c)) {
        size_t i = at + 1;
        while (i < p->len && is_ident_char((unsigned char)s[i])) i++;
        const char *w = s + at;
        size_t n = i - at;
        t->end = i;
        t->sval.ptr = w;
        t->sval.len = n;
        if (word_is(w, n, "and", "AND", NULL)) t->k = TK_AND;
        else if (word_is(w, n, "or", "OR", NULL)) t->k = TK_OR;
        else if (word_is(w, n, "not", "NOT", NULL)) t->k = TK_NOT;
        else if (word_is(w, n, "in", "IN", NULL)) t->k = TK_IN;
        else if (word_is(w, n, "like", "LIKE", NULL)) t->k = TK_LIKE;
        else if (word_is(w, n, "true", "True", "TRUE")) t->k = TK_TRUE;
        else if (word_is(w, n, "false", "False", "FALSE")) t->k = TK_FALSE;
        else t->k = TK_IDENT;
        return 0;
    }
    if (is_digit(c) || (c == '.' && is_digit(c1))) return lex_number(p, at, t);
    if (c == '"' || c == '\'') return lex_string(p, at, t);
    switch (c) {
    case '(': t->k = TK_LP; return 0;
    case ')': t->k = TK_RP; return 0;
    case '[': t->k = TK_LB; return 0;
    case ']': t->k = TK_RB; return 0;
    case ',': t->k = TK_COMMA; return 0;
    case '+': t->k = TK_ADD; return 0;
    case '-': t->k = TK_SUB; return 0;
    case '/': t->k = TK_DIV; return 0;
    case '%': t->k = TK_MOD; return 0;
    case '*':
        if (c1 == '*') {
            t->k = TK_POW;
            t->end = at + 2;
        } else {
            t->k = TK_MUL;
        }
        return 0;
    case '=':
        if (c1 == '=') {
            t->k = TK_EQ;
            t->end = at + 2;
            return 0;
        }
        fail(p, PXS_EINVAL, "syntax error at position %zu: unexpected '=' (use '==')", at);
        return -1;
    case '!':
        if (c1 == '=') {
            t->k = TK_NE;
            t->end = at + 2;
        } else if (c1 == '~') {
            break;
        } else {
            t->k = TK_NOT;
        }
        return 0;
    case '<':
        if (c1 == '<') break;
        if (c1 == '=') {
            t->k = TK_LE;
            t->end = at + 2;
        } else {
            t->k = TK_LT;
        }
        return 0;
    case '>':
        if (c1 == '>') break;
        if (c1 == '=') {
            t->k = TK_GE;
            t->end = at + 2;
        } else {
            t->k = TK_GT;
        }
        return 0;
    case '&':
        if (c1 == '&') {
            t->k = TK_AND;
            t->end = at + 2;
            return 0;
        }
        break;
    case '|':
        if (c1 == '|') {
            t->k = TK_OR;
            t->end = at + 2;
            return 0;
        }
        break;
    case '$':
        if (p->len - at >= 5 && memcmp(s + at, "$meta", 5) == 0 &&
            (at + 5 >= p->len || !is_ident_char((unsigned char)s[at + 5]))) {
            t->k = TK_META;
            t->end = at + 5;
            t->sval.ptr = s + at;
            t->sval.len = 5;
            return 0;
        }
        fail(p, PXS_EINVAL, "syntax error at position %zu: unexpected '$' (only $meta)", at);
        return -1;
    default:
        break;
    }
    if (c == '&' || c == '|' || c == '^' || c == '~' || c == '<' || c == '>' || c == '!') {
        int two = (c == '<' || c == '>' || c == '!') ? 2 : 1;
        fail(p, PXS_EINVAL, "syntax error at position %zu: operator '%.*s' is not supported", at, two,
             s + at);
        return -1;
    }
    if (c >= 0x20 && c < 0x7F)
        fail(p, PXS_EINVAL, "syntax error at position %zu: unexpected character '%c'", at, c);
    else
        fail(p, PXS_EINVAL, "syntax error at position %zu: unexpected byte 0x%02x", at, c);
    return -1;
}

static int next(struct parser *p) {
    p->prev = p->cur;
    return lex(p, p->cur.end, &p->cur);
}

/* Token text for messages: 'xyz' or "end of input". */
static void tok_desc(const struct parser *p, const struct tok *t, char *buf, size_t cap) {
    if (t->k == TK_EOF) {
        snprintf(buf, cap, "end of input");
        return;
    }
    size_t n = t->end - t->pos;
    if (n > 24) n = 24;
    snprintf(buf, cap, "'%.*s%s'", (int)n, p->s + t->pos, t->end - t->pos > 24 ? "..." : "");
}

static void fail_expected(struct parser *p, const char *what) {
    char found[40], after[40];
    tok_desc(p, &p->cur, found, sizeof found);
    if (p->prev.end > 0 && p->prev.k != TK_EOF) {
        tok_desc(p, &p->prev, after, sizeof after);
        fail(p, PXS_EINVAL, "syntax error at position %zu: expected %s after %s, found %s",
             p->cur.pos, what, after, found);
    } else {
        fail(p, PXS_EINVAL, "syntax error at position %zu: expected %s, found %s", p->cur.pos, what,
             found);
    }
}

/* ---- parser ----------------------------------------------------------- */

static struct node *mk(struct parser *p, int kind, size_t pos) {
    struct node *n = palloc(p, sizeof *n);
    if (!n) return NULL;
    memset(n, 0, sizeof *n);
    n->kind = (uint8_t)kind;
    n->pos = (uint32_t)pos;
    n->height = 1;
    return n;
}

static int add_kid(struct parser *p, struct node *n, struct node *kid) {
    if (n->u.kids.n == n->u.kids.cap) {
        uint32_t cap = n->u.kids.cap ? n->u.kids.cap * 2 : 2;
        struct node **k = palloc(p, cap * sizeof *k);
        if (!k) return -1;
        if (n->u.kids.n) memcpy(k, n->u.kids.k, n->u.kids.n * sizeof *k);
        n->u.kids.k = k;
        n->u.kids.cap = cap;
    }
    n->u.kids.k[n->u.kids.n++] = kid;
    if (kid->height + 1 > n->height) n->height = (uint16_t)(kid->height + 1);
    if (n->height > EXPR_MAX_HEIGHT) {
        fail(p, PXS_ELIMIT, "expression too complex at position %u (syntax tree deeper than %d)",
             n->pos, EXPR_MAX_HEIGHT);
        return -1;
    }
    return 0;
}

static struct node *mk2(struct parser *p, int kind, int op, size_t pos, struct node *a, struct node *b) {
    struct node *n = mk(p, kind, pos);
    if (!n || add_kid(p, n, a) || (b && add_kid(p, n, b))) return NULL;
    n->op = (uint8_t)op;
    return n;
}

static bool enter(struct parser *p) {
    if (++p->depth > EXPR_MAX_DEPTH) {
        fail(p, PXS_ELIMIT, "expression nested too deeply at position %zu (limit %d)", p->cur.pos,
             EXPR_MAX_DEPTH);
        return false;
    }
    return true;
}

static struct node *parse_or(struct parser *p);
static struct node *parse_unary(struct parser *p);

static int fn_lookup(const struct expr_str *w) {
    static const struct {
        const char *lo, *up;
        int fn;
    } fns[] = {
        {"json_contains", "JSON_CONTAINS", FN_JSON_CONTAINS},
        {"json_contains_all", "JSON_CONTAINS_ALL", FN_JSON_CONTAINS_ALL},
        {"json_contains_any", "JSON_CONTAINS_ANY", FN_JSON_CONTAINS_ANY},
        {"array_contains", "ARRAY_CONTAINS", FN_ARRAY_CONTAINS},
        {"array_contains_all", "ARRAY_CONTAINS_ALL", FN_ARRAY_CONTAINS_ALL},
        {"array_contains_any", "ARRAY_CONTAINS_ANY", FN_ARRAY_CONTAINS_ANY},
        {"array_length", "ARRAY_LENGTH", FN_ARRAY_LENGTH},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++)
        if (word_is(w->ptr, w->len, fns[i].lo, fns[i].up, NULL)) return fns[i].fn;
    return 0;
}

static const char *fn_name(int fn) {
    switch (fn) {
    case FN_JSON_CONTAINS: return "json_contains";
    case FN_JSON_CONTAINS_ALL: return "json_contains_all";
    case FN_JSON_CONTAINS_ANY: return "json_contains_any";
    case FN_ARRAY_CONTAINS: return "array_contains";
    case FN_ARRAY_CONTAINS_ALL: return "array_contains_all";
    case FN_ARRAY_CONTAINS_ANY: return "array_contains_any";
    case FN_ARRAY_LENGTH: return "array_length";
    default: return "?";
    }
}

static struct node *parse_call(struct parser *p, int fn, size_t pos) {
    struct node *n = mk(p, N_CALL, pos);
    if (!n) return NULL;
    n->op = (uint8_t)fn;
    size_t lp = p->cur.pos;
    if (next(p)) return NULL; /* '(' */
    if (p->cur.k != TK_RP) {
        for (;;) {
            struct node *a = parse_or(p);
            if (!a || add_kid(p, n, a)) return NULL;
            if (p->cur.k == TK_COMMA) {
                if (next(p)) return NULL;
                continue;
            }
            if (p->cur.k == TK_RP) break;
            char buf[64];
            snprintf(buf, sizeof buf, "',' or ')' to close '(' at position %zu", lp);
            fail_expected(p, buf);
            return NULL;
        }
    }
    uint32_t want = fn == FN_ARRAY_LENGTH ? 1 : 2;
    if (n->u.kids.n != want) {
        fail(p, PXS_EINVAL, "syntax error at position %zu: %s takes %u argument%s, got %u", pos,
             fn_name(fn), want, want == 1 ? "" : "s", n->u.kids.n);
        return NULL;
    }
    if (next(p)) return NULL; /* ')' */
    return n;
}

static struct node *parse_name(struct parser *p) {
    struct node *n = mk(p, N_NAME, p->cur.pos);
    if (!n) return NULL;
    n->u.f.name = p->cur.sval;
    if (p->cur.k == TK_META) n->flags |= F_META;
    if (next(p)) return NULL;
    size_t cap = 0;
    while (p->cur.k == TK_LB) {
        size_t lb = p->cur.pos;
        if (next(p)) return NULL;
        struct pcomp c = {0};
        if (p->cur.k == TK_STR) {
            c.key = p->cur.sval;
        } else if (p->cur.k == TK_INT) {
            char *d = palloc(p, 24);
            if (!d) return NULL;
            if (p->cur.ival > (uint64_t)INT64_MAX) {
                fail(p, PXS_EINVAL, "syntax error at position %zu: index out of range", p->cur.pos);
                return NULL;
            }
            c.key.len = (size_t)snprintf(d, 24, "%" PRIu64, p->cur.ival);
            c.key.ptr = d;
            c.is_index = true;
        } else {
            fail_expected(p, "a string key or an integer index");
            return NULL;
        }
        if (next(p)) return NULL;
        if (p->cur.k != TK_RB) {
            char buf[64];
            snprintf(buf, sizeof buf, "']' to close '[' at position %zu", lb);
            fail_expected(p, buf);
            return NULL;
        }
        if (n->u.f.npath == EXPR_MAX_DEPTH) {
            fail(p, PXS_ELIMIT, "syntax error at position %zu: JSON path longer than %d keys", lb,
                 EXPR_MAX_DEPTH);
            return NULL;
        }
        if (n->u.f.npath == cap) {
            cap = cap ? cap * 2 : 4;
            struct pcomp *np = palloc(p, cap * sizeof *np);
            if (!np) return NULL;
            if (n->u.f.npath) memcpy(np, n->u.f.path, n->u.f.npath * sizeof *np);
            n->u.f.path = np;
        }
        n->u.f.path[n->u.f.npath++] = c;
        if (next(p)) return NULL;
    }
    return n;
}

static struct node *parse_primary(struct parser *p) {
    struct tok t = p->cur;
    struct node *n;
    switch (t.k) {
    case TK_INT:
        n = mk(p, N_CONST, t.pos);
        if (!n) return NULL;
        n->u.c.k = C_INT;
        if (t.ival == (UINT64_C(1) << 63)) {
            n->u.c.u.i = INT64_MIN;
            n->flags |= F_INTMIN;
        } else {
            n->u.c.u.i = (int64_t)t.ival;
        }
        return next(p) ? NULL : n;
    case TK_FLOAT:
        n = mk(p, N_CONST, t.pos);
        if (!n) return NULL;
        n->u.c.k = C_DBL;
        n->u.c.u.d = t.dval;
        return next(p) ? NULL : n;
    case TK_STR:
        n = mk(p, N_CONST, t.pos);
        if (!n) return NULL;
        n->u.c.k = C_STR;
        n->u.c.u.s = t.sval;
        return next(p) ? NULL : n;
    case TK_TRUE:
    case TK_FALSE:
        n = mk(p, N_CONST, t.pos);
        if (!n) return NULL;
        n->u.c.k = C_BOOL;
        n->u.c.u.b = t.k == TK_TRUE;
        return next(p) ? NULL : n;
    case TK_LP: {
        if (next(p)) return NULL;
        n = parse_or(p);
        if (!n) return NULL;
        if (p->cur.k != TK_RP) {
            char buf[64];
            snprintf(buf, sizeof buf, "')' to close '(' at position %zu", t.pos);
            fail_expected(p, buf);
            return NULL;
        }
        return next(p) ? NULL : n;
    }
    case TK_LB: {
        if (!enter(p)) return NULL;
        n = mk(p, N_LIST, t.pos);
        if (!n || next(p)) return NULL;
        while (p->cur.k != TK_RB) {
            if (n->u.kids.n == EXPR_MAX_ARRAY) {
                fail(p, PXS_ELIMIT, "array at position %zu has more than %d elements", t.pos,
                     EXPR_MAX_ARRAY);
                return NULL;
            }
            struct node *e = parse_or(p);
            if (!e || add_kid(p, n, e)) return NULL;
            if (p->cur.k == TK_COMMA) {
                if (next(p)) return NULL;
                continue;
            }
            if (p->cur.k != TK_RB) {
                char buf[64];
                snprintf(buf, sizeof buf, "',' or ']' to close '[' at position %zu", t.pos);
                fail_expected(p, buf);
                return NULL;
            }
        }
        p->depth--;
        return next(p) ? NULL : n;
    }
    case TK_IDENT: {
        int fn = fn_lookup(&t.sval);
        struct tok after;
        if (lex(p, t.end, &after)) return NULL;
        if (after.k == TK_LP) {
            if (!fn) {
                fail(p, PXS_EINVAL, "syntax error at position %zu: unknown function '%.*s'", t.pos,
                     (int)(t.sval.len > 40 ? 40 : t.sval.len), t.sval.ptr);
                return NULL;
            }
            if (next(p)) return NULL;
            return parse_call(p, fn, t.pos);
        }
        return parse_name(p);
    }
    case TK_META:
        return parse_name(p);
    default:
        fail_expected(p, "a value");
        return NULL;
    }
}

/* Negation; a '-' directly on the literal 9223372036854775808 makes INT64_MIN. */
static struct node *make_neg(struct parser *p, size_t pos, struct node *x) {
    if (x->kind == N_CONST && (x->flags & F_INTMIN)) {
        x->flags &= (uint8_t)~F_INTMIN;
        x->pos = (uint32_t)pos;
        return x;
    }
    return mk2(p, N_NEG, 0, pos, x, NULL);
}

static struct node *parse_pow_operand(struct parser *p) {
    if (p->cur.k == TK_ADD || p->cur.k == TK_SUB) {
        bool neg = p->cur.k == TK_SUB;
        size_t pos = p->cur.pos;
        if (!enter(p) || next(p)) return NULL;
        struct node *x = parse_pow_operand(p);
        if (!x) return NULL;
        p->depth--;
        return neg ? make_neg(p, pos, x) : x;
    }
    return parse_primary(p);
}

static struct node *parse_pow(struct parser *p) {
    struct node *l = parse_primary(p);
    while (l && p->cur.k == TK_POW) {
        size_t pos = p->cur.pos;
        if (next(p)) return NULL;
        struct node *r = parse_pow_operand(p);
        if (!r) return NULL;
        l = mk2(p, N_ARITH, OP_POW, pos, l, r);
    }
    return l;
}

static struct node *parse_unary(struct parser *p) {
    if (p->cur.k == TK_ADD || p->cur.k == TK_SUB) {
        bool neg = p->cur.k == TK_SUB;
        size_t pos = p->cur.pos;
        if (!enter(p) || next(p)) return NULL;
        struct node *x = parse_unary(p);
        if (!x) return NULL;
        p->depth--;
        return neg ? make_neg(p, pos, x) : x;
    }
    return parse_pow(p);
}

static struct node *parse_prod(struct parser *p) {
    struct node *l = parse_unary(p);
    while (l && (p->cur.k == TK_MUL || p->cur.k == TK_DIV || p->cur.k == TK_MOD)) {
        int op = p->cur.k == TK_MUL ? OP_MUL : p->cur.k == TK_DIV ? OP_DIV : OP_MOD;
        size_t pos = p->cur.pos;
        if (next(p)) return NULL;
        struct node *r = parse_unary(p);
        if (!r) return NULL;
        l = mk2(p, N_ARITH, op, pos, l, r);
    }
    return l;
}

static struct node *parse_sum(struct parser *p) {
    struct node *l = parse_prod(p);
    while (l && (p->cur.k == TK_ADD || p->cur.k == TK_SUB)) {
        int op = p->cur.k == TK_ADD ? OP_ADD : OP_SUB;
        size_t pos = p->cur.pos;
        if (next(p)) return NULL;
        struct node *r = parse_prod(p);
        if (!r) return NULL;
        l = mk2(p, N_ARITH, op, pos, l, r);
    }
    return l;
}

static int rel_op(int k) {
    switch (k) {
    case TK_LT: return OP_LT;
    case TK_LE: return OP_LE;
    case TK_GT: return OP_GT;
    case TK_GE: return OP_GE;
    default: return 0;
    }
}

static bool is_word(const struct tok *t, const char *lo, const char *up) {
    return t->k == TK_IDENT && word_is(t->sval.ptr, t->sval.len, lo, up, NULL);
}

static struct node *parse_rel(struct parser *p) {
    struct node *l = parse_sum(p);
    if (!l) return NULL;
    int op = rel_op(p->cur.k);
    if (op) {
        size_t pos = p->cur.pos;
        if (next(p)) return NULL;
        struct node *m = parse_sum(p);
        if (!m) return NULL;
        int op2 = rel_op(p->cur.k);
        if (!op2) return mk2(p, N_CMP, op, pos, l, m);
        bool up1 = op == OP_LT || op == OP_LE, up2 = op2 == OP_LT || op2 == OP_LE;
        if (up1 != up2) {
            fail(p, PXS_EINVAL,
                 "syntax error at position %zu: a range must use '<'/'<=' or '>'/'>=' on both sides",
                 p->cur.pos);
            return NULL;
        }
        if (next(p)) return NULL;
        struct node *h = parse_sum(p);
        if (!h) return NULL;
        if (rel_op(p->cur.k)) {
            fail(p, PXS_EINVAL, "syntax error at position %zu: a range compares at most three values",
                 p->cur.pos);
            return NULL;
        }
        struct node *r = mk2(p, N_RANGE, op, pos, l, m);
        if (!r || add_kid(p, r, h)) return NULL;
        r->op2 = (uint8_t)op2;
        return r;
    }
    bool negate = false;
    if (p->cur.k == TK_NOT) {
        struct tok after;
        if (lex(p, p->cur.end, &after)) return NULL;
        if (after.k != TK_IN) return l; /* leave 'not' to the caller's error */
        negate = true;
        if (next(p)) return NULL;
    }
    if (p->cur.k == TK_IN) {
        size_t pos = p->cur.pos;
        if (next(p)) return NULL;
        struct node *r = parse_sum(p);
        if (!r) return NULL;
        struct node *in = mk2(p, N_IN, 0, pos, l, r);
        if (!in) return NULL;
        return negate ? mk2(p, N_NOT, 0, pos, in, NULL) : in;
    }
    if (p->cur.k == TK_LIKE) {
        size_t pos = p->cur.pos;
        if (next(p)) return NULL;
        if (p->cur.k != TK_STR) {
            fail_expected(p, "a string pattern");
            return NULL;
        }
        struct node *n = mk2(p, N_LIKE, 0, pos, l, NULL);
        if (!n) return NULL;
        n->u.kids.pat = p->cur.sval;
        return next(p) ? NULL : n;
    }
    if (is_word(&p->cur, "is", "IS")) {
        size_t pos = p->cur.pos;
        if (next(p)) return NULL;
        bool isnot = false;
        if (p->cur.k == TK_NOT) {
            isnot = true;
            if (next(p)) return NULL;
        }
        if (!is_word(&p->cur, "null", "NULL")) {
            fail_expected(p, "'null'");
            return NULL;
        }
        if (l->kind != N_NAME) {
            fail(p, PXS_EINVAL, "syntax error at position %zu: 'is null' applies to a field", pos);
            return NULL;
        }
        struct node *n = mk2(p, N_ISNULL, 0, pos, l, NULL);
        if (!n) return NULL;
        if (isnot) n->flags |= F_NEGATE;
        return next(p) ? NULL : n;
    }
    return l;
}

static struct node *parse_eq(struct parser *p) {
    struct node *l = parse_rel(p);
    while (l && (p->cur.k == TK_EQ || p->cur.k == TK_NE)) {
        int op = p->cur.k == TK_EQ ? OP_EQ : OP_NE;
        size_t pos = p->cur.pos;
        if (next(p)) return NULL;
        struct node *r = parse_rel(p);
        if (!r) return NULL;
        l = mk2(p, N_CMP, op, pos, l, r);
    }
    return l;
}

static struct node *parse_not(struct parser *p) {
    if (p->cur.k == TK_NOT) {
        size_t pos = p->cur.pos;
        if (!enter(p) || next(p)) return NULL;
        struct node *x = parse_not(p);
        if (!x) return NULL;
        p->depth--;
        return mk2(p, N_NOT, 0, pos, x, NULL);
    }
    return parse_eq(p);
}

static struct node *parse_chain(struct parser *p, int tk, int kind, struct node *(*sub)(struct parser *)) {
    struct node *l = sub(p);
    struct node *chain = NULL;
    while (l && p->cur.k == tk) {
        size_t pos = p->cur.pos;
        if (next(p)) return NULL;
        struct node *r = sub(p);
        if (!r) return NULL;
        if (!chain) {
            chain = mk2(p, kind, 0, pos, l, NULL);
            if (!chain) return NULL;
            l = chain;
        }
        if (add_kid(p, chain, r)) return NULL;
    }
    return l;
}

static struct node *parse_and(struct parser *p) { return parse_chain(p, TK_AND, N_AND, parse_not); }

static struct node *parse_or(struct parser *p) {
    if (!enter(p)) return NULL;
    struct node *n = parse_chain(p, TK_OR, N_OR, parse_and);
    p->depth--;
    return n;
}

/* ---- binder ----------------------------------------------------------- */

struct binder {
    struct expr *e;
    const struct expr_schema *schema;
    struct parser *p;
};

static const char *ftype_name(int t) {
    switch (t) {
    case EXPR_BOOL: return "BOOL";
    case EXPR_INT8: return "INT8";
    case EXPR_INT16: return "INT16";
    case EXPR_INT32: return "INT32";
    case EXPR_INT64: return "INT64";
    case EXPR_FLOAT: return "FLOAT";
    case EXPR_DOUBLE: return "DOUBLE";
    case EXPR_VARCHAR: return "VARCHAR";
    case EXPR_JSON: return "JSON";
    case EXPR_ARRAY: return "ARRAY";
    default: return "?";
    }
}

static int ftype_to_x(int ft) {
    switch (ft) {
    case EXPR_BOOL: return T_BOOL;
    case EXPR_INT8:
    case EXPR_INT16:
    case EXPR_INT32:
    case EXPR_INT64: return T_INT;
    case EXPR_FLOAT:
    case EXPR_DOUBLE: return T_FLOAT;
    case EXPR_VARCHAR: return T_STRING;
    case EXPR_JSON: return T_JSON;
    case EXPR_ARRAY: return T_ARRAY;
    default: return 0;
    }
}

static const char *xtype_name(int t) {
    switch (t) {
    case T_BOOL: return "a boolean";
    case T_INT: return "an integer";
    case T_FLOAT: return "a float";
    case T_STRING: return "a string";
    case T_JSON: return "a JSON value";
    case T_NUM: return "a number";
    case T_ARRAY: return "an array";
    case T_LIST: return "a list";
    default: return "a value";
    }
}

static int ckind_type(int k) {
    switch (k) {
    case C_BOOL: return T_BOOL;
    case C_INT: return T_INT;
    case C_DBL: return T_FLOAT;
    case C_STR: return T_STRING;
    default: return T_LIST;
    }
}

/* "field 'price' (DOUBLE)" or "a string". */
static void describe(const struct binder *b, const struct node *n, char *buf, size_t cap) {
    if (n->kind == N_FIELD) {
        const struct xslot *s = &b->e->slots[n->u.f.slot];
        if (n->u.f.npath && s->ftype == EXPR_ARRAY)
            snprintf(buf, cap, "an element of '%.40s' (ARRAY of %s)", s->name, ftype_name(s->etype));
        else if (n->u.f.npath || (n->flags & F_META))
            snprintf(buf, cap, "a JSON value of '%.40s'", s->name);
        else if (s->ftype == EXPR_ARRAY)
            snprintf(buf, cap, "field '%.40s' (ARRAY of %s)", s->name, ftype_name(s->etype));
        else
            snprintf(buf, cap, "field '%.40s' (%s)", s->name, ftype_name(s->ftype));
        return;
    }
    if (n->kind == N_CONST) {
        snprintf(buf, cap, "%s constant", xtype_name(ckind_type(n->u.c.k)));
        return;
    }
    if (n->kind == N_ARITH || n->kind == N_NEG) {
        snprintf(buf, cap, "arithmetic giving %s", xtype_name(n->type));
        return;
    }
    snprintf(buf, cap, "%s", n->type == T_BOOL ? "a boolean expression" : xtype_name(n->type));
}

static int type_err(struct binder *b, const struct node *at, const char *fmt, ...) PXS_PRINTF(3, 4);
static int type_err(struct binder *b, const struct node *at, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail(b->p, PXS_EINVAL, "type error at position %u: %s", at->pos, msg);
    return b->p->rc;
}

static bool is_num(int t) { return t == T_INT || t == T_FLOAT || t == T_NUM; }
static bool is_pred(int t) { return t == T_BOOL || t == T_JSON; }

/* May a value of type a be ==/!= compared to one of type b? */
static bool eq_compat(int a, int b) {
    if (a == T_JSON || b == T_JSON) return true;
    if (is_num(a) && is_num(b)) return true;
    if (a == T_NUM || b == T_NUM) return false;
    if ((a == T_ARRAY || a == T_LIST) && (b == T_ARRAY || b == T_LIST)) return true;
    return a == b;
}

static bool rel_compat(int a, int b) {
    if (a == T_JSON) return b == T_JSON || is_num(b) || b == T_STRING;
    if (b == T_JSON) return is_num(a) || a == T_STRING;
    if (is_num(a) && is_num(b)) return true;
    return a == T_STRING && b == T_STRING;
}

/* Constant list items against an ARRAY element type. */
static int check_items(struct binder *b, const struct node *at, const struct cval *items, size_t n,
                       int etype, const char *what) {
    int et = ftype_to_x(etype);
    for (size_t i = 0; i < n; i++) {
        int t = ckind_type(items[i].k);
        if (t == T_LIST || !eq_compat(et, t))
            return type_err(b, at, "%s: element %zu is %s, the array holds %s", what, i,
                            xtype_name(t), ftype_name(etype));
    }
    return 0;
}

static int slot_for(struct binder *b, const struct node *at, size_t field) {
    struct expr *e = b->e;
    for (size_t i = 0; i < e->nslots; i++)
        if (e->slots[i].field == field) return (int)i;
    if (e->nslots == EXPR_MAX_FIELDS) {
        fail(b->p, PXS_ELIMIT, "expression reads more than %d fields (position %u)", EXPR_MAX_FIELDS,
             at->pos);
        return -1;
    }
    const struct expr_field *f = &b->schema->fields[field];
    const char *src = f->name ? f->name : "";
    size_t len = strlen(src);
    char *name = palloc(b->p, len + 1);
    if (!name) return -1;
    memcpy(name, src, len + 1);
    struct xslot *s = &e->slots[e->nslots];
    s->field = field;
    s->name = name;
    s->ftype = (uint8_t)f->type;
    s->etype = (uint8_t)f->elem_type;
    return (int)e->nslots++;
}

static int bind_name(struct binder *b, struct node *n) {
    const struct expr_schema *sc = b->schema;
    int dyn = sc->dynamic_field;
    bool dynamic = false;
    size_t field = 0;
    if (n->flags & F_META) {
        if (dyn < 0) return type_err(b, n, "$meta needs a collection with a dynamic field");
        field = (size_t)dyn;
    } else {
        bool found = false;
        for (size_t i = 0; i < sc->nfields; i++) {
            const char *fn = sc->fields[i].name;
            if (fn && strlen(fn) == n->u.f.name.len && memcmp(fn, n->u.f.name.ptr, n->u.f.name.len) == 0) {
                field = i;
                found = true;
                break;
            }
        }
        if (!found) {
            if (dyn < 0)
                return type_err(b, n, "unknown field '%.*s'", (int)(n->u.f.name.len > 64 ? 64 : n->u.f.name.len),
                                n->u.f.name.ptr);
            field = (size_t)dyn;
            dynamic = true;
        }
    }
    if (dynamic) { /* name -> $meta["name"] + path */
        if (n->u.f.npath == EXPR_MAX_DEPTH) {
            fail(b->p, PXS_ELIMIT, "JSON path at position %u longer than %d keys", n->pos, EXPR_MAX_DEPTH);
            return b->p->rc;
        }
        struct pcomp *np = palloc(b->p, (n->u.f.npath + 1) * sizeof *np);
        if (!np) return b->p->rc;
        char *key = palloc(b->p, n->u.f.name.len + 1); /* the text is only borrowed */
        if (!key) return b->p->rc;
        memcpy(key, n->u.f.name.ptr, n->u.f.name.len);
        key[n->u.f.name.len] = '\0';
        np[0].key.ptr = key;
        np[0].key.len = n->u.f.name.len;
        np[0].is_index = false;
        if (n->u.f.npath) memcpy(np + 1, n->u.f.path, n->u.f.npath * sizeof *np);
        n->u.f.path = np;
        n->u.f.npath++;
    }
    if (dynamic || (n->flags & F_META)) n->flags |= F_META;
    const struct expr_field *f = &sc->fields[field];
    if ((dynamic || (n->flags & F_META)) && f->type != EXPR_JSON)
        return type_err(b, n, "the dynamic field must be of type JSON");
    int s = slot_for(b, n, field);
    if (s < 0) return b->p->rc;
    n->kind = N_FIELD;
    n->u.f.slot = (uint32_t)s;
    switch (f->type) {
    case EXPR_JSON:
        n->type = T_JSON;
        break;
    case EXPR_ARRAY:
        if (ftype_to_x(f->elem_type) == 0 || f->elem_type == EXPR_JSON || f->elem_type == EXPR_ARRAY)
            return type_err(b, n, "field '%s' has an unsupported element type", f->name);
        n->etype = (uint8_t)f->elem_type;
        if (n->u.f.npath == 0) {
            n->type = T_ARRAY;
        } else if (n->u.f.npath == 1 && n->u.f.path[0].is_index) {
            n->type = (uint8_t)ftype_to_x(f->elem_type);
            if (f->elem_type == EXPR_FLOAT) n->flags |= F_F32FIELD;
        } else {
            return type_err(b, n, "array field '%s' takes a single integer index", f->name);
        }
        break;
    default:
        if (ftype_to_x(f->type) == 0) return type_err(b, n, "field '%s' has an unknown type", f->name);
        if (n->u.f.npath)
            return type_err(b, n, "field '%s' (%s) is not JSON or ARRAY and has no keys", f->name,
                            ftype_name(f->type));
        n->type = (uint8_t)ftype_to_x(f->type);
        if (f->type == EXPR_FLOAT) n->flags |= F_F32FIELD;
        break;
    }
    return 0;
}

static bool cval_is_zero(const struct cval *c) {
    return (c->k == C_INT && c->u.i == 0) || (c->k == C_DBL && c->u.d == 0);
}

/* Replace *np (all of whose operands are constants) by its value. */
static int fold(struct binder *b, struct node **np) {
    struct node *n = *np;
    struct xeval x;
    memset(&x, 0, sizeof x);
    x.e = b->e;
    x.err = b->p->err;
    struct cval c;
    memset(&c, 0, sizeof c);
    if (n->type == T_BOOL) {
        int t = expr_i_pred(&x, n);
        if (x.rc) return b->p->rc = x.rc;
        if (t == TRI_U) return type_err(b, n, "constant expression has no value");
        c.k = C_BOOL;
        c.u.b = t == TRI_T;
    } else {
        struct rv v;
        expr_i_val(&x, n, &v);
        if (x.rc) return b->p->rc = x.rc;
        switch (v.k) {
        case RV_INT: c.k = C_INT; c.u.i = v.u.i; break;
        case RV_DBL:
            if (!isfinite(v.u.d)) return type_err(b, n, "constant arithmetic overflows");
            c.k = C_DBL;
            c.u.d = v.u.d;
            break;
        case RV_STR: c.k = C_STR; c.u.s = v.u.s; break;
        case RV_BOOL: c.k = C_BOOL; c.u.b = v.u.b; break;
        default: return type_err(b, n, "constant expression has no value");
        }
    }
    struct node *f = n->kind == N_CONST ? n : mk(b->p, N_CONST, n->pos);
    if (!f) return b->p->rc;
    f->u.c = c;
    f->type = (uint8_t)ckind_type(c.k);
    f->flags = 0;
    *np = f;
    return 0;
}

static bool all_const(const struct node *n) {
    for (uint32_t i = 0; i < n->u.kids.n; i++)
        if (n->u.kids.k[i]->kind != N_CONST) return false;
    return true;
}

static int cmp_cval_sort(const void *a, const void *b) {
    const struct cval *x = a, *y = b;
    if (x->k == C_INT) return x->u.i < y->u.i ? -1 : x->u.i > y->u.i;
    size_t n = x->u.s.len < y->u.s.len ? x->u.s.len : y->u.s.len;
    int c = n ? memcmp(x->u.s.ptr, y->u.s.ptr, n) : 0;
    if (c) return c;
    return x->u.s.len < y->u.s.len ? -1 : x->u.s.len > y->u.s.len;
}

static const char *op_text(int op) {
    static const char *const t[] = {"?", "+", "-", "*", "/", "%", "**", "==", "!=", "<", "<=", ">", ">="};
    return op >= 1 && op <= OP_GE ? t[op] : "?";
}

static int bind(struct binder *b, struct node **np);

static int bind_kids(struct binder *b, struct node *n) {
    for (uint32_t i = 0; i < n->u.kids.n; i++)
        if (bind(b, &n->u.kids.k[i])) return b->p->rc;
    return 0;
}

static bool f32_vs_const(const struct node *a, const struct node *c) {
    return (a->flags & F_F32FIELD) && a->kind == N_FIELD && c->kind == N_CONST;
}

static int bind_logic(struct binder *b, struct node **np) {
    struct node *n = *np;
    const char *name = n->kind == N_AND ? "and" : n->kind == N_OR ? "or" : "not";
    if (bind_kids(b, n)) return b->p->rc;
    char d[96];
    for (uint32_t i = 0; i < n->u.kids.n; i++) {
        struct node *k = n->u.kids.k[i];
        if (!is_pred(k->type)) {
            describe(b, k, d, sizeof d);
            return type_err(b, k, "'%s' needs boolean operands, got %s", name, d);
        }
    }
    n->type = T_BOOL;
    if (n->kind == N_NOT) return n->u.kids.k[0]->kind == N_CONST ? fold(b, np) : 0;
    /* drop neutral constants; a dominant constant decides */
    bool neutral = n->kind == N_AND;
    uint32_t w = 0;
    for (uint32_t i = 0; i < n->u.kids.n; i++) {
        struct node *k = n->u.kids.k[i];
        if (k->kind == N_CONST) {
            if (k->u.c.k != C_BOOL) return type_err(b, k, "'%s' needs boolean operands", name);
            if (k->u.c.u.b == neutral) continue;
            *np = k;
            return 0;
        }
        n->u.kids.k[w++] = k;
    }
    n->u.kids.n = w;
    if (w == 0) {
        struct node *c = mk(b->p, N_CONST, n->pos);
        if (!c) return b->p->rc;
        c->u.c.k = C_BOOL;
        c->u.c.u.b = neutral;
        c->type = T_BOOL;
        *np = c;
    } else if (w == 1 && n->u.kids.k[0]->type == T_BOOL) {
        *np = n->u.kids.k[0];
    }
    return 0;
}

static int bind(struct binder *b, struct node **np) {
    struct node *n = *np;
    char d1[96], d2[96];
    switch (n->kind) {
    case N_CONST:
        if (n->flags & F_INTMIN) return type_err(b, n, "integer literal out of range");
        n->type = (uint8_t)ckind_type(n->u.c.k);
        return 0;
    case N_NAME:
        return bind_name(b, n);
    case N_FIELD:
        return 0;
    case N_LIST: {
        if (bind_kids(b, n)) return b->p->rc;
        struct cval *items = NULL;
        if (n->u.kids.n) {
            items = palloc(b->p, n->u.kids.n * sizeof *items);
            if (!items) return b->p->rc;
        }
        for (uint32_t i = 0; i < n->u.kids.n; i++) {
            struct node *k = n->u.kids.k[i];
            if (k->kind != N_CONST) return type_err(b, k, "array elements must be constants");
            items[i] = k->u.c;
        }
        struct node *c = mk(b->p, N_CONST, n->pos);
        if (!c) return b->p->rc;
        c->u.c.k = C_LIST;
        c->u.c.u.list.items = items;
        c->u.c.u.list.n = n->u.kids.n;
        c->type = T_LIST;
        *np = c;
        return 0;
    }
    case N_NEG: {
        if (bind_kids(b, n)) return b->p->rc;
        struct node *k = n->u.kids.k[0];
        if (!is_num(k->type) && k->type != T_JSON) {
            describe(b, k, d1, sizeof d1);
            return type_err(b, n, "'-' needs a number, got %s", d1);
        }
        n->type = k->type == T_JSON ? T_NUM : k->type;
        return k->kind == N_CONST ? fold(b, np) : 0;
    }
    case N_ARITH: {
        if (bind_kids(b, n)) return b->p->rc;
        struct node *l = n->u.kids.k[0], *r = n->u.kids.k[1];
        for (int i = 0; i < 2; i++) {
            struct node *k = i ? r : l;
            if (!is_num(k->type) && k->type != T_JSON) {
                describe(b, k, d1, sizeof d1);
                return type_err(b, n, "'%s' needs numbers, got %s", op_text(n->op), d1);
            }
        }
        if (n->op == OP_MOD && (l->type == T_FLOAT || r->type == T_FLOAT))
            return type_err(b, n, "'%%' needs integers");
        bool dyn = l->type == T_JSON || l->type == T_NUM || r->type == T_JSON || r->type == T_NUM;
        if (n->op == OP_POW) n->type = T_FLOAT;
        else if (dyn) n->type = T_NUM;
        else if (l->type == T_FLOAT || r->type == T_FLOAT) n->type = T_FLOAT;
        else n->type = T_INT;
        if ((n->op == OP_DIV || n->op == OP_MOD) && r->kind == N_CONST && cval_is_zero(&r->u.c))
            return type_err(b, n, "division by zero");
        return l->kind == N_CONST && r->kind == N_CONST ? fold(b, np) : 0;
    }
    case N_CMP: {
        if (bind_kids(b, n)) return b->p->rc;
        struct node *l = n->u.kids.k[0], *r = n->u.kids.k[1];
        bool eq = n->op == OP_EQ || n->op == OP_NE;
        if (eq ? !eq_compat(l->type, r->type) : !rel_compat(l->type, r->type)) {
            describe(b, l, d1, sizeof d1);
            describe(b, r, d2, sizeof d2);
            return type_err(b, n, "cannot compare %s with %s using '%s'", d1, d2, op_text(n->op));
        }
        if (eq && l->type == T_ARRAY && r->kind == N_CONST && r->u.c.k == C_LIST &&
            check_items(b, r, r->u.c.u.list.items, r->u.c.u.list.n, l->etype, "array comparison"))
            return b->p->rc;
        if (eq && r->type == T_ARRAY && l->kind == N_CONST && l->u.c.k == C_LIST &&
            check_items(b, l, l->u.c.u.list.items, l->u.c.u.list.n, r->etype, "array comparison"))
            return b->p->rc;
        if (f32_vs_const(l, r) || f32_vs_const(r, l)) n->flags |= F_F32;
        n->type = T_BOOL;
        return all_const(n) ? fold(b, np) : 0;
    }
    case N_RANGE: {
        if (bind_kids(b, n)) return b->p->rc;
        struct node *lo = n->u.kids.k[0], *m = n->u.kids.k[1], *hi = n->u.kids.k[2];
        if (!rel_compat(lo->type, m->type) || !rel_compat(m->type, hi->type)) {
            describe(b, m, d1, sizeof d1);
            describe(b, rel_compat(lo->type, m->type) ? hi : lo, d2, sizeof d2);
            return type_err(b, n, "cannot compare %s with %s in a range", d1, d2);
        }
        if (lo->kind == N_CONST && hi->kind == N_CONST) {
            struct rv a, c;
            expr_i_cval_to_rv(&lo->u.c, &a);
            expr_i_cval_to_rv(&hi->u.c, &c);
            int cmp = expr_i_cmp(&a, &c, false);
            bool up = n->op == OP_LT || n->op == OP_LE;
            bool incl = (n->op == OP_LE || n->op == OP_GE) && (n->op2 == OP_LE || n->op2 == OP_GE);
            if (cmp == CMP_NA) return type_err(b, n, "range bounds are not comparable");
            if (up ? (incl ? cmp > 0 : cmp >= 0) : (incl ? cmp < 0 : cmp <= 0))
                return type_err(b, n, "invalid range: the lower bound is not below the upper bound");
        }
        if (f32_vs_const(m, lo) && hi->kind == N_CONST) n->flags |= F_F32;
        n->type = T_BOOL;
        return all_const(n) ? fold(b, np) : 0;
    }
    case N_IN: {
        if (bind_kids(b, n)) return b->p->rc;
        struct node *l = n->u.kids.k[0], *r = n->u.kids.k[1];
        if (r->kind != N_CONST || r->u.c.k != C_LIST)
            return type_err(b, r, "the right side of 'in' must be a constant list like [1, 2]");
        if (l->type == T_BOOL && l->kind != N_CONST && l->kind != N_FIELD)
            return type_err(b, n, "'in' needs a field or value on the left");
        const struct cval *items = r->u.c.u.list.items;
        size_t cnt = r->u.c.u.list.n;
        for (size_t i = 0; i < cnt; i++) {
            int t = ckind_type(items[i].k);
            bool ok = t == T_LIST ? (l->type == T_JSON || l->type == T_ARRAY) : eq_compat(l->type, t);
            if (!ok || (l->type == T_ARRAY && t != T_LIST)) {
                describe(b, l, d1, sizeof d1);
                return type_err(b, r, "list element %zu is %s, which cannot equal %s", i, xtype_name(t),
                                d1);
            }
            if (t == T_LIST && l->type == T_ARRAY &&
                check_items(b, r, items[i].u.list.items, items[i].u.list.n, l->etype, "'in' list"))
                return b->p->rc;
        }
        if (f32_vs_const(l, r)) n->flags |= F_F32;
        n->type = T_BOOL;
        if (l->kind == N_CONST) return fold(b, np);
        int want = l->type == T_INT ? C_INT : l->type == T_STRING ? C_STR : 0;
        bool uniform = want != 0 && cnt > 0;
        for (size_t i = 0; uniform && i < cnt; i++) uniform = items[i].k == want;
        if (uniform) {
            struct cval *copy = palloc(b->p, cnt * sizeof *copy);
            if (!copy) return b->p->rc;
            memcpy(copy, items, cnt * sizeof *copy);
            qsort(copy, cnt, sizeof *copy, cmp_cval_sort);
            r->u.c.u.list.items = copy;
            n->flags |= F_SORTED;
        }
        return 0;
    }
    case N_LIKE: {
        if (bind_kids(b, n)) return b->p->rc;
        struct node *l = n->u.kids.k[0];
        if (l->type != T_STRING && l->type != T_JSON) {
            describe(b, l, d1, sizeof d1);
            return type_err(b, n, "'like' needs a string, got %s", d1);
        }
        n->type = T_BOOL;
        return l->kind == N_CONST ? fold(b, np) : 0;
    }
    case N_ISNULL:
        if (bind_kids(b, n)) return b->p->rc;
        n->type = T_BOOL;
        return 0;
    case N_NOT:
    case N_AND:
    case N_OR:
        return bind_logic(b, np);
    case N_CALL: {
        if (bind_kids(b, n)) return b->p->rc;
        struct node *f = n->u.kids.k[0];
        if (f->kind != N_FIELD || (f->type != T_JSON && f->type != T_ARRAY)) {
            describe(b, f, d1, sizeof d1);
            return type_err(b, f, "%s needs a JSON or ARRAY field, got %s", fn_name(n->op), d1);
        }
        if (n->op == FN_ARRAY_LENGTH) {
            n->type = T_INT;
            return 0;
        }
        struct node *v = n->u.kids.k[1];
        if (v->kind != N_CONST)
            return type_err(b, v, "the second argument of %s must be a constant", fn_name(n->op));
        bool many = n->op != FN_JSON_CONTAINS && n->op != FN_ARRAY_CONTAINS;
        if (many && v->u.c.k != C_LIST)
            return type_err(b, v, "the second argument of %s must be a list like [1, 2]", fn_name(n->op));
        if (f->type == T_ARRAY) {
            if (many) {
                if (check_items(b, v, v->u.c.u.list.items, v->u.c.u.list.n, f->etype, fn_name(n->op)))
                    return b->p->rc;
            } else if (check_items(b, v, &v->u.c, 1, f->etype, fn_name(n->op))) {
                return b->p->rc;
            }
        }
        n->type = T_BOOL;
        return 0;
    }
    default:
        fail(b->p, PXS_EINTERNAL, "expr: unexpected node kind %d", n->kind);
        return b->p->rc;
    }
}

/* Which fields the folded tree still reads. */
static void mark_used(struct expr *e, const struct node *n) {
    if (n->kind == N_FIELD) {
        e->slots[n->u.f.slot].used = true;
        e->reads_rows = true;
        return;
    }
    if (n->kind == N_CONST) return;
    for (uint32_t i = 0; i < n->u.kids.n; i++) mark_used(e, n->u.kids.k[i]);
}

/* ---- public ----------------------------------------------------------- */

int expr_compile(const char *text, size_t len, const struct expr_schema *schema, struct expr **out,
                 struct pxs_err *err) {
    if (!out) return pxs_errf(err, PXS_EINVAL, "expr_compile: out is NULL");
    *out = NULL;
    if (!text || !schema || (schema->nfields && !schema->fields))
        return pxs_errf(err, PXS_EINVAL, "expr_compile: text and schema are required");
    if (schema->dynamic_field >= 0 && (size_t)schema->dynamic_field >= schema->nfields)
        return pxs_errf(err, PXS_EINVAL, "expr_compile: dynamic_field %d out of range",
                        schema->dynamic_field);
    if (len == SIZE_MAX) len = strnlen(text, (size_t)EXPR_MAX_LEN + 1);
    if (len > EXPR_MAX_LEN)
        return pxs_errf(err, PXS_ELIMIT, "expression too long: more than %u bytes", EXPR_MAX_LEN);
    struct expr *e = pxs_calloc(1, sizeof *e);
    if (!e) return pxs_errf(err, PXS_ENOMEM, "out of memory compiling the expression");
    struct parser p;
    memset(&p, 0, sizeof p);
    p.s = text;
    p.len = len;
    p.arena = &e->arena;
    p.err = err;
    struct node *root = NULL;
    if (lex(&p, 0, &p.cur) == 0) {
        if (p.cur.k == TK_EOF) {
            root = mk(&p, N_CONST, 0);
            if (root) {
                root->u.c.k = C_BOOL;
                root->u.c.u.b = true;
            }
        } else {
            root = parse_or(&p);
            if (root && p.cur.k != TK_EOF) {
                char found[40];
                tok_desc(&p, &p.cur, found, sizeof found);
                fail(&p, PXS_EINVAL,
                     "syntax error at position %zu: unexpected %s after a complete expression",
                     p.cur.pos, found);
            }
        }
    }
    if (!p.rc && root) {
        struct binder b = {e, schema, &p};
        if (bind(&b, &root) == 0 && !is_pred(root->type)) {
            char d[96];
            describe(&b, root, d, sizeof d);
            fail(&p, PXS_EINVAL, "type error at position %u: the filter must be a boolean expression, got %s",
                 root->pos, d);
        }
    }
    if (p.rc || !root) {
        int rc = p.rc ? p.rc : PXS_EINTERNAL;
        if (!p.rc) pxs_errf(err, rc, "expr: parse produced no tree");
        expr_free(e);
        return rc;
    }
    e->root = root;
    mark_used(e, root);
    *out = e;
    return PXS_OK;
}

void expr_free(struct expr *e) {
    if (!e) return;
    arena_release(&e->arena);
    pxs_free(e);
}

bool expr_is_constant(const struct expr *e, bool *value) {
    if (!e || e->root->kind != N_CONST || e->root->u.c.k != C_BOOL) return false;
    if (value) *value = e->root->u.c.u.b;
    return true;
}

bool expr_reads_field(const struct expr *e, size_t field) {
    if (!e) return false;
    for (size_t i = 0; i < e->nslots; i++)
        if (e->slots[i].field == field && e->slots[i].used) return true;
    return false;
}

/* ---- printer ---------------------------------------------------------- */

static int put_str(struct pxs_buf *o, const struct expr_str *s) {
    if (pxs_buf_append(o, "\"", 1)) return PXS_ELIMIT;
    for (size_t i = 0; i < s->len; i++) {
        unsigned char c = (unsigned char)s->ptr[i];
        int rc;
        if (c == '"' || c == '\\') {
            /* a kept \% or \_ prints as itself, any other backslash doubled */
            if (c == '\\' && i + 1 < s->len && (s->ptr[i + 1] == '%' || s->ptr[i + 1] == '_'))
                rc = pxs_buf_append(o, "\\", 1);
            else
                rc = pxs_buf_appendf(o, "\\%c", c);
        } else if (c < 0x20 || c == 0x7F) {
            rc = pxs_buf_appendf(o, "\\x%02x", c);
        } else {
            rc = pxs_buf_append(o, &s->ptr[i], 1);
        }
        if (rc) return rc;
    }
    return pxs_buf_append(o, "\"", 1);
}

static int put_cval(struct pxs_buf *o, const struct cval *c) {
    switch (c->k) {
    case C_BOOL: return pxs_buf_appendf(o, "%s", c->u.b ? "true" : "false");
    case C_INT: return pxs_buf_appendf(o, "%" PRId64, c->u.i);
    case C_DBL: {
        char buf[40];
        snprintf(buf, sizeof buf, "%.17g", c->u.d);
        if (!strpbrk(buf, ".en")) strcat(buf, ".0");
        return pxs_buf_appendf(o, "%s", buf);
    }
    case C_STR: return put_str(o, &c->u.s);
    case C_LIST: {
        if (pxs_buf_append(o, "[", 1)) return PXS_ELIMIT;
        for (size_t i = 0; i < c->u.list.n; i++) {
            if (i && pxs_buf_append(o, ", ", 2)) return PXS_ELIMIT;
            int rc = put_cval(o, &c->u.list.items[i]);
            if (rc) return rc;
        }
        return pxs_buf_append(o, "]", 1);
    }
    default: return PXS_EINTERNAL;
    }
}

static int put_node(const struct expr *e, struct pxs_buf *o, const struct node *n) {
    int rc = 0;
    const struct node *const *k = (const struct node *const *)n->u.kids.k;
    switch (n->kind) {
    case N_CONST: return put_cval(o, &n->u.c);
    case N_FIELD: {
        const struct xslot *s = &e->slots[n->u.f.slot];
        rc = pxs_buf_appendf(o, "%s", (n->flags & F_META) ? "$meta" : s->name);
        for (size_t i = 0; !rc && i < n->u.f.npath; i++) {
            const struct pcomp *c = &n->u.f.path[i];
            if (c->is_index) {
                rc = pxs_buf_appendf(o, "[%.*s]", (int)c->key.len, c->key.ptr);
            } else {
                rc = pxs_buf_append(o, "[", 1);
                if (!rc) rc = put_str(o, &c->key);
                if (!rc) rc = pxs_buf_append(o, "]", 1);
            }
        }
        return rc;
    }
    case N_NEG:
        if (pxs_buf_append(o, "(-", 2)) return PXS_ELIMIT;
        if ((rc = put_node(e, o, k[0]))) return rc;
        return pxs_buf_append(o, ")", 1);
    case N_ARITH:
    case N_CMP: {
        /* "-2 ** x" would reparse as -(2 ** x) */
        const struct node *l = k[0];
        bool wrap = n->op == OP_POW && l->kind == N_CONST &&
                    ((l->u.c.k == C_INT && l->u.c.u.i < 0) || (l->u.c.k == C_DBL && signbit(l->u.c.u.d)));
        if (pxs_buf_append(o, wrap ? "((" : "(", wrap ? 2 : 1)) return PXS_ELIMIT;
        if ((rc = put_node(e, o, l))) return rc;
        if (wrap && pxs_buf_append(o, ")", 1)) return PXS_ELIMIT;
        if ((rc = pxs_buf_appendf(o, " %s ", op_text(n->op)))) return rc;
        if ((rc = put_node(e, o, k[1]))) return rc;
        return pxs_buf_append(o, ")", 1);
    }
    case N_RANGE:
        if (pxs_buf_append(o, "(", 1)) return PXS_ELIMIT;
        if ((rc = put_node(e, o, k[0]))) return rc;
        if ((rc = pxs_buf_appendf(o, " %s ", op_text(n->op)))) return rc;
        if ((rc = put_node(e, o, k[1]))) return rc;
        if ((rc = pxs_buf_appendf(o, " %s ", op_text(n->op2)))) return rc;
        if ((rc = put_node(e, o, k[2]))) return rc;
        return pxs_buf_append(o, ")", 1);
    case N_IN:
        if (pxs_buf_append(o, "(", 1)) return PXS_ELIMIT;
        if ((rc = put_node(e, o, k[0]))) return rc;
        if (pxs_buf_append(o, " in ", 4)) return PXS_ELIMIT;
        if ((rc = put_node(e, o, k[1]))) return rc;
        return pxs_buf_append(o, ")", 1);
    case N_LIKE:
        if (pxs_buf_append(o, "(", 1)) return PXS_ELIMIT;
        if ((rc = put_node(e, o, k[0]))) return rc;
        if (pxs_buf_append(o, " like ", 6)) return PXS_ELIMIT;
        if ((rc = put_str(o, &n->u.kids.pat))) return rc;
        return pxs_buf_append(o, ")", 1);
    case N_ISNULL:
        if (pxs_buf_append(o, "(", 1)) return PXS_ELIMIT;
        if ((rc = put_node(e, o, k[0]))) return rc;
        if ((rc = pxs_buf_appendf(o, " is %snull)", (n->flags & F_NEGATE) ? "not " : ""))) return rc;
        return 0;
    case N_NOT:
        if (pxs_buf_append(o, "(not ", 5)) return PXS_ELIMIT;
        if ((rc = put_node(e, o, k[0]))) return rc;
        return pxs_buf_append(o, ")", 1);
    case N_AND:
    case N_OR:
        if (pxs_buf_append(o, "(", 1)) return PXS_ELIMIT;
        for (uint32_t i = 0; i < n->u.kids.n; i++) {
            if (i && (rc = pxs_buf_appendf(o, " %s ", n->kind == N_AND ? "and" : "or"))) return rc;
            if ((rc = put_node(e, o, k[i]))) return rc;
        }
        /* one kept operand (a JSON value as predicate): print the neutral
         * constant the binder dropped, so the form reparses to this node */
        if (n->u.kids.n == 1 && (rc = pxs_buf_appendf(o, "%s", n->kind == N_AND ? " and true" : " or false")))
            return rc;
        return pxs_buf_append(o, ")", 1);
    case N_CALL:
        if ((rc = pxs_buf_appendf(o, "%s(", fn_name(n->op)))) return rc;
        for (uint32_t i = 0; i < n->u.kids.n; i++) {
            if (i && pxs_buf_append(o, ", ", 2)) return PXS_ELIMIT;
            if ((rc = put_node(e, o, k[i]))) return rc;
        }
        return pxs_buf_append(o, ")", 1);
    default:
        return PXS_EINTERNAL;
    }
}

int expr_to_string(const struct expr *e, struct pxs_buf *out) {
    if (!e || !out) return PXS_EINVAL;
    return put_node(e, out, e->root);
}
