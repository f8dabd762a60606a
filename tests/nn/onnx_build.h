/*
 * tests/nn/onnx_build.h — a tiny protobuf/ONNX encoder for tests and the fuzz
 * seed generator: builds ModelProto bytes for one-off graphs (initializers as
 * raw_data, attributes int/ints/float/string) without any ONNX library.
 * Header-only (static functions); allocation failures abort the test
 * process, which is acceptable in test code only.
 */
#ifndef PIXSEEK_TESTS_NN_ONNX_BUILD_H
#define PIXSEEK_TESTS_NN_ONNX_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pbw {
    uint8_t *d;
    size_t len, cap;
};

static inline void pbw_raw(struct pbw *w, const void *p, size_t n) {
    if (w->len + n > w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        while (nc < w->len + n) nc *= 2;
        w->d = realloc(w->d, nc);
        if (!w->d) abort();
        w->cap = nc;
    }
    if (n) memcpy(w->d + w->len, p, n);
    w->len += n;
}
static inline void pbw_varint(struct pbw *w, uint64_t v) {
    uint8_t b[10];
    int n = 0;
    do {
        b[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) b[n] |= 0x80;
        n++;
    } while (v);
    pbw_raw(w, b, (size_t)n);
}
static inline void pbw_key(struct pbw *w, uint32_t num, int wire) { pbw_varint(w, ((uint64_t)num << 3) | (uint64_t)wire); }
static inline void pbw_bytes(struct pbw *w, uint32_t num, const void *p, size_t n) {
    pbw_key(w, num, 2);
    pbw_varint(w, n);
    pbw_raw(w, p, n);
}
static inline void pbw_str(struct pbw *w, uint32_t num, const char *s) { pbw_bytes(w, num, s, strlen(s)); }
static inline void pbw_msg(struct pbw *w, uint32_t num, const struct pbw *sub) { pbw_bytes(w, num, sub->d, sub->len); }
static inline void pbw_int(struct pbw *w, uint32_t num, int64_t v) {
    pbw_key(w, num, 0);
    pbw_varint(w, (uint64_t)v);
}
static inline void pbw_f32(struct pbw *w, uint32_t num, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint8_t b[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16), (uint8_t)(u >> 24)};
    pbw_key(w, num, 5);
    pbw_raw(w, b, 4);
}
static inline void pbw_free(struct pbw *w) {
    free(w->d);
    memset(w, 0, sizeof *w);
}

/* ---- attributes (append to an attribute list `a`) ---- */
static inline void attr_i(struct pbw *a, const char *name, int64_t v) {
    struct pbw t = {0};
    pbw_str(&t, 1, name);
    pbw_int(&t, 20, 2);
    pbw_int(&t, 3, v);
    pbw_msg(a, 5, &t);
    pbw_free(&t);
}
static inline void attr_f(struct pbw *a, const char *name, float v) {
    struct pbw t = {0};
    pbw_str(&t, 1, name);
    pbw_int(&t, 20, 1);
    pbw_f32(&t, 2, v);
    pbw_msg(a, 5, &t);
    pbw_free(&t);
}
static inline void attr_s(struct pbw *a, const char *name, const char *s) {
    struct pbw t = {0};
    pbw_str(&t, 1, name);
    pbw_int(&t, 20, 3);
    pbw_str(&t, 4, s);
    pbw_msg(a, 5, &t);
    pbw_free(&t);
}
static inline void attr_ints(struct pbw *a, const char *name, int n, const int64_t *v) {
    struct pbw t = {0}, p = {0};
    pbw_str(&t, 1, name);
    pbw_int(&t, 20, 7);
    for (int i = 0; i < n; i++) pbw_varint(&p, (uint64_t)v[i]);
    pbw_msg(&t, 8, &p);
    pbw_msg(a, 5, &t);
    pbw_free(&t);
    pbw_free(&p);
}

/* ---- graph ---- */
struct ob {
    struct pbw g;
    int opset;
};

static inline void ob_tensor(struct pbw *t, const char *name, int dtype, int ndim, const int64_t *dims,
                      const void *raw, size_t raw_len) {
    for (int i = 0; i < ndim; i++) pbw_int(t, 1, dims[i]);
    pbw_int(t, 2, dtype);
    if (name) pbw_str(t, 8, name);
    pbw_bytes(t, 9, raw, raw_len);
}

static inline void ob_init_f32(struct ob *b, const char *name, int ndim, const int64_t *dims, const float *data) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    struct pbw t = {0};
    ob_tensor(&t, name, 1, ndim, dims, data, n * 4);
    pbw_msg(&b->g, 5, &t);
    pbw_free(&t);
}

static inline void ob_init_i64(struct ob *b, const char *name, int ndim, const int64_t *dims, const int64_t *data) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    struct pbw t = {0};
    ob_tensor(&t, name, 7, ndim, dims, data, n * 8);
    pbw_msg(&b->g, 5, &t);
    pbw_free(&t);
}

/* value info; dims[i] < 0 -> dim_param "N" */
static inline void ob_vi(struct pbw *out, uint32_t field, const char *name, int ndim, const int64_t *dims) {
    struct pbw vi = {0}, tp = {0}, tt = {0}, sh = {0};
    for (int i = 0; i < ndim; i++) {
        struct pbw d = {0};
        if (dims[i] >= 0) pbw_int(&d, 1, dims[i]);
        else pbw_str(&d, 2, "N");
        pbw_msg(&sh, 1, &d);
        pbw_free(&d);
    }
    pbw_int(&tt, 1, 1);
    if (ndim >= 0) pbw_msg(&tt, 2, &sh);
    pbw_msg(&tp, 1, &tt);
    pbw_str(&vi, 1, name);
    pbw_msg(&vi, 2, &tp);
    pbw_msg(out, field, &vi);
    pbw_free(&vi);
    pbw_free(&tp);
    pbw_free(&tt);
    pbw_free(&sh);
}
static inline void ob_input(struct ob *b, const char *name, int ndim, const int64_t *dims) { ob_vi(&b->g, 11, name, ndim, dims); }
static inline void ob_output(struct ob *b, const char *name) { ob_vi(&b->g, 12, name, -1, NULL); }

/* inputs/outputs: comma-separated names ("x,,b" leaves input 1 empty) */
static inline void ob_names(struct pbw *n, uint32_t field, const char *list) {
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        pbw_bytes(n, field, p, len);
        if (!e) break;
        p = e + 1;
        if (!*p) pbw_bytes(n, field, "", 0);
    }
}
static inline void ob_node(struct ob *b, const char *op, const char *ins, const char *outs, const struct pbw *attrs) {
    struct pbw n = {0};
    ob_names(&n, 1, ins);
    ob_names(&n, 2, outs);
    pbw_str(&n, 3, outs);
    pbw_str(&n, 4, op);
    if (attrs) pbw_raw(&n, attrs->d, attrs->len);
    pbw_msg(&b->g, 1, &n);
    pbw_free(&n);
}
/* ModelProto bytes into out (caller frees with pbw_free); frees b. */
static inline void ob_finish(struct ob *b, struct pbw *out) {
    struct pbw os = {0};
    pbw_str(&os, 1, "");
    pbw_int(&os, 2, b->opset);
    memset(out, 0, sizeof *out);
    pbw_int(out, 1, 8);
    pbw_str(out, 2, "pixseek-test");
    pbw_msg(out, 8, &os);
    pbw_msg(out, 7, &b->g);
    pbw_free(&os);
    pbw_free(&b->g);
}

#endif
