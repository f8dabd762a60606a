/*
 * import_npy.c — the .npy header (NumPy format specification, versions
 * 1.0, 2.0 and 3.0):
 *   6 bytes  "\x93NUMPY"
 *   u8 u8    major, minor version
 *   u16 LE   header length (version 1) | u32 LE (versions 2 and 3)
 *   header   a Python dict literal, ASCII (UTF-8 in version 3), padded
 *            with spaces and ending in '\n', e.g.
 *            {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }
 *   data     the array in C order (or Fortran order, accepted for 1-D only)
 * The dict is parsed strictly: exactly the keys descr, fortran_order and
 * shape, string / True / False / tuple-of-integers values (Python 2's "3L"
 * included), nothing after the closing brace but padding.
 */
#include "engine/import_int.h"

#include <string.h>

#define NPY_MAX_HEADER 65536
#define NPY_MAX_NDIM 32

struct npy_parser {
    const char *s;
    size_t n, i;
};

static void skip_ws(struct npy_parser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool eat(struct npy_parser *p, char c) {
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == c) {
        p->i++;
        return true;
    }
    return false;
}

/* A quoted string without escapes into out (cap bytes). */
static bool parse_str(struct npy_parser *p, char *out, size_t cap) {
    skip_ws(p);
    if (p->i >= p->n || (p->s[p->i] != '\'' && p->s[p->i] != '"')) return false;
    char q = p->s[p->i++];
    size_t k = 0;
    while (p->i < p->n && p->s[p->i] != q) {
        char c = p->s[p->i++];
        if (c == '\\' || (unsigned char)c < 0x20 || k + 1 >= cap) return false;
        out[k++] = c;
    }
    if (p->i >= p->n) return false;
    p->i++;
    out[k] = '\0';
    return true;
}

static bool parse_word(struct npy_parser *p, const char *w) {
    skip_ws(p);
    size_t k = strlen(w);
    if (p->n - p->i < k || memcmp(p->s + p->i, w, k) != 0) return false;
    p->i += k;
    return true;
}

static bool parse_uint(struct npy_parser *p, uint64_t *out) {
    skip_ws(p);
    uint64_t v = 0;
    size_t start = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = (unsigned)(p->s[p->i++] - '0');
        if (v > (UINT64_MAX / 4 - d) / 10) return false; /* far beyond any real shape */
        v = v * 10 + d;
    }
    if (p->i == start) return false;
    if (p->i < p->n && p->s[p->i] == 'L') p->i++; /* Python 2 long */
    *out = v;
    return true;
}

static int parse_descr(pxs_import_file *f, const char *d, struct pxs_err *err) {
    static const struct {
        const char *code;
        enum pxs_import_elem elem;
    } types[] = {{"f4", PXS_ELEM_F32}, {"f8", PXS_ELEM_F64}, {"u1", PXS_ELEM_U8}, {"i1", PXS_ELEM_I8},
                 {"b1", PXS_ELEM_U8},  {"i2", PXS_ELEM_I16}, {"i4", PXS_ELEM_I32}, {"i8", PXS_ELEM_I64}};
    char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return imp_err(f, err, PXS_EUNSUPPORTED, "dtype '%s' is not supported (float32, float64, uint8, int8, "
                       "int16, int32, int64)", d);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(d + 1, types[i].code) != 0) continue;
        f->info.elem = types[i].elem;
        f->esz = imp_elem_size(types[i].elem);
        if (order == '|' && f->esz != 1)
            return imp_err(f, err, PXS_ECORRUPT, "dtype '%s': '|' (no byte order) on a multi-byte type", d);
        f->big_endian = order == '>' && f->esz > 1;
        return PXS_OK;
    }
    return imp_err(f, err, PXS_EUNSUPPORTED,
                   "dtype '%s' is not supported (float32, float64, uint8, int8, int16, int32, int64)", d);
}

int imp_npy_open(pxs_import_file *f, struct pxs_err *err) {
    uint8_t pre[8];
    int rc = imp_read_exact(f, pre, 8, "the .npy preamble", err);
    if (rc != PXS_OK) return rc;
    if (memcmp(pre, "\x93NUMPY", 6) != 0) return imp_err(f, err, PXS_ECORRUPT, "not a .npy file (bad magic)");
    if (pre[6] < 1 || pre[6] > 3)
        return imp_err(f, err, PXS_EUNSUPPORTED, ".npy format version %u.%u is not supported (1.0, 2.0, 3.0)",
                       pre[6], pre[7]);
    uint8_t lenb[4];
    size_t lsize = pre[6] == 1 ? 2 : 4;
    if ((rc = imp_read_exact(f, lenb, lsize, "the .npy header length", err)) != PXS_OK) return rc;
    uint64_t hlen = pxs_get_le(lenb, (int)lsize);
    if (hlen == 0 || hlen > NPY_MAX_HEADER)
        return imp_err(f, err, PXS_ECORRUPT, ".npy header length %llu is out of range (1..%d)",
                       (unsigned long long)hlen, NPY_MAX_HEADER);
    char *h = pxs_malloc((size_t)hlen + 1);
    if (!h) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    rc = imp_read_exact(f, h, (size_t)hlen, "the .npy header", err);
    h[rc == PXS_OK ? hlen : 0] = '\0';

    struct npy_parser p = {h, (size_t)hlen, 0};
    char descr[32] = "", key[32];
    bool have_descr = false, have_order = false, have_shape = false, fortran = false;
    uint64_t dims[NPY_MAX_NDIM];
    size_t ndims = 0;
    const char *bad = NULL;
    if (rc == PXS_OK && !eat(&p, '{')) bad = "it does not start with '{'";
    while (rc == PXS_OK && !bad && !eat(&p, '}')) {
        if (!parse_str(&p, key, sizeof key)) { bad = "expected a quoted key"; break; }
        if (!eat(&p, ':')) { bad = "expected ':' after a key"; break; }
        if (!strcmp(key, "descr") && !have_descr) {
            have_descr = true;
            skip_ws(&p);
            if (p.i < p.n && p.s[p.i] == '[') { bad = "structured dtypes are not supported"; break; }
            if (!parse_str(&p, descr, sizeof descr)) { bad = "descr must be a dtype string like '<f4'"; break; }
        } else if (!strcmp(key, "fortran_order") && !have_order) {
            have_order = true;
            if (parse_word(&p, "True")) fortran = true;
            else if (!parse_word(&p, "False")) { bad = "fortran_order must be True or False"; break; }
        } else if (!strcmp(key, "shape") && !have_shape) {
            have_shape = true;
            if (!eat(&p, '(')) { bad = "shape must be a tuple"; break; }
            while (!eat(&p, ')')) {
                if (ndims == NPY_MAX_NDIM) { bad = "shape has too many dimensions"; break; }
                if (!parse_uint(&p, &dims[ndims++])) { bad = "shape must hold non-negative integers"; break; }
                if (!eat(&p, ',')) {
                    if (!eat(&p, ')')) bad = "expected ',' or ')' in the shape";
                    break;
                }
            }
        } else {
            bad = "unknown or repeated key (expected descr, fortran_order, shape)";
            break;
        }
        if (bad) break;
        if (!eat(&p, ',')) {
            if (!eat(&p, '}')) bad = "expected ',' or '}'";
            break;
        }
    }
    if (rc == PXS_OK && !bad) {
        skip_ws(&p);
        if (p.i != p.n) bad = "unexpected text after the closing '}'";
        else if (!have_descr || !have_order || !have_shape) bad = "descr, fortran_order and shape are all required";
    }
    if (rc == PXS_OK && bad) {
        size_t at = p.i;
        rc = imp_err(f, err, PXS_ECORRUPT, "bad .npy header (%s, at byte %zu)", bad, at);
    }
    pxs_free(h);
    if (rc != PXS_OK) return rc;
    if ((rc = parse_descr(f, descr, err)) != PXS_OK) return rc;
    if ((rc = imp_set_shape(f, dims, ndims, err)) != PXS_OK) return rc;
    if (fortran && ndims > 1 && f->info.rows > 1 && f->info.dim > 1)
        return imp_err(f, err, PXS_EUNSUPPORTED,
                       "Fortran-order arrays are not supported (save with numpy.ascontiguousarray)");
    return imp_check_size(f, 8 + lsize + hlen, err);
}
