/*
 * import.c — bulk import readers (see "bulk import files" in
 * pixseek/engine.h): the byte source (file or memory, gunzipped on the fly
 * with zlib when it starts with the gzip magic, multi-member streams
 * included), format detection, batched row reads with element conversion
 * and value checks, end-of-data checks, and JSON lines. The header of each
 * format is parsed in import_npy.c and import_idx.c.
 */
#include "engine/import_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZIN_CAP (256u * 1024)
#define LINE_CHUNK (64u * 1024)

int imp_err(const struct pxs_import_file *f, struct pxs_err *err, int code, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pxs_errf(err, code, "%s: %s", f->name, msg);
}

size_t imp_elem_size(enum pxs_import_elem e) {
    switch (e) {
    case PXS_ELEM_U8:
    case PXS_ELEM_I8: return 1;
    case PXS_ELEM_I16: return 2;
    case PXS_ELEM_I32:
    case PXS_ELEM_F32: return 4;
    case PXS_ELEM_I64:
    case PXS_ELEM_F64: return 8;
    default: return 0;
    }
}

const char *pxs_import_format_name(enum pxs_import_format format) {
    static const char *const names[] = {"auto", "npy", "fvecs", "ivecs", "bvecs", "idx", "jsonl"};
    return (unsigned)format < sizeof names / sizeof names[0] ? names[format] : "?";
}

const char *pxs_import_elem_name(enum pxs_import_elem elem) {
    static const char *const names[] = {"json", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"};
    return (unsigned)elem < sizeof names / sizeof names[0] ? names[elem] : "?";
}

/* ---- byte source ---- */

static int raw_read(struct pxs_import_file *f, void *out, size_t n, size_t *got, struct pxs_err *err) {
    struct imp_src *s = &f->src;
    *got = 0;
    if (s->fd < 0) {
        size_t left = s->mem_len - s->mem_pos;
        size_t k = n < left ? n : left;
        if (k) memcpy(out, s->mem + s->mem_pos, k);
        s->mem_pos += k;
        *got = k;
        return PXS_OK;
    }
    while (*got < n) {
        ssize_t r = read(s->fd, (char *)out + *got, n - *got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return pxs_errf_sys(err, PXS_EIO, errno, "%s: read failed", f->name);
        if (r == 0) break;
        *got += (size_t)r;
    }
    return PXS_OK;
}

/* Top up the compressed input, keeping what inflate has not consumed. */
static int zin_fill(struct pxs_import_file *f, struct pxs_err *err) {
    struct imp_src *s = &f->src;
    size_t left = s->z.avail_in;
    if (left && s->z.next_in != s->zin) memmove(s->zin, s->z.next_in, left);
    size_t got = 0;
    int rc = s->raw_eof ? PXS_OK : raw_read(f, s->zin + left, ZIN_CAP - left, &got, err);
    if (rc != PXS_OK) return rc;
    if (got == 0) s->raw_eof = true;
    s->z.next_in = s->zin;
    s->z.avail_in = (uInt)(left + got);
    return PXS_OK;
}

static int gz_read(struct pxs_import_file *f, uint8_t *out, size_t n, size_t *got, struct pxs_err *err) {
    struct imp_src *s = &f->src;
    *got = 0;
    while (*got < n) {
        if (s->z_member_done) { /* another gzip member, or the end */
            if (s->z.avail_in < 2 && !s->raw_eof) {
                int rc = zin_fill(f, err);
                if (rc != PXS_OK) return rc;
                continue;
            }
            if (s->z.avail_in == 0) break;
            if (s->z.avail_in < 2 || s->z.next_in[0] != 0x1f || s->z.next_in[1] != 0x8b)
                return imp_err(f, err, PXS_ECORRUPT, "unexpected bytes after the gzip data");
            if (inflateReset(&s->z) != Z_OK) return imp_err(f, err, PXS_EINTERNAL, "inflateReset failed");
            s->z_member_done = false;
        }
        if (s->z.avail_in == 0 && !s->raw_eof) {
            int rc = zin_fill(f, err);
            if (rc != PXS_OK) return rc;
        }
        size_t want = n - *got;
        if (want > (1u << 30)) want = 1u << 30;
        s->z.next_out = out + *got;
        s->z.avail_out = (uInt)want;
        int zr = inflate(&s->z, Z_NO_FLUSH);
        size_t made = want - s->z.avail_out;
        *got += made;
        s->out_bytes += made;
        if (s->max_bytes && s->out_bytes > s->max_bytes)
            return imp_err(f, err, PXS_ELIMIT, "decompresses to more than %llu bytes",
                           (unsigned long long)s->max_bytes);
        if (zr == Z_STREAM_END) {
            s->z_member_done = true;
        } else if (zr == Z_BUF_ERROR || (zr == Z_OK && made == 0)) {
            if (s->z.avail_in == 0 && s->raw_eof)
                return imp_err(f, err, PXS_ECORRUPT, "the gzip stream is truncated");
        } else if (zr != Z_OK) {
            return imp_err(f, err, PXS_ECORRUPT, "damaged gzip data (%s)", s->z.msg ? s->z.msg : "zlib error");
        }
    }
    return PXS_OK;
}

int imp_src_read(struct pxs_import_file *f, void *out, size_t n, size_t *got, struct pxs_err *err) {
    struct imp_src *s = &f->src;
    size_t from_head = 0;
    if (s->head_pos < s->head_len) {
        from_head = s->head_len - s->head_pos;
        if (from_head > n) from_head = n;
        memcpy(out, s->head + s->head_pos, from_head);
        s->head_pos += from_head;
    }
    size_t more = 0;
    int rc = PXS_OK;
    if (from_head < n)
        rc = s->gz ? gz_read(f, (uint8_t *)out + from_head, n - from_head, &more, err)
                   : raw_read(f, (uint8_t *)out + from_head, n - from_head, &more, err);
    *got = from_head + more;
    return rc;
}

int imp_read_exact(struct pxs_import_file *f, void *out, size_t n, const char *what, struct pxs_err *err) {
    size_t got;
    int rc = imp_src_read(f, out, n, &got, err);
    if (rc != PXS_OK) return rc;
    if (got < n) return imp_err(f, err, PXS_ECORRUPT, "the file ends inside %s (truncated?)", what);
    return PXS_OK;
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
    (void)opaque;
    return pxs_calloc(items, size);
}
static void z_free(voidpf opaque, voidpf p) {
    (void)opaque;
    pxs_free(p);
}

/* Detect gzip and fill head with the first (decompressed) bytes. */
static int src_start(struct pxs_import_file *f, struct pxs_err *err) {
    struct imp_src *s = &f->src;
    uint8_t magic[2];
    size_t got;
    int rc = raw_read(f, magic, 2, &got, err);
    if (rc != PXS_OK) return rc;
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        s->zin = pxs_malloc(ZIN_CAP);
        if (!s->zin) return pxs_errf(err, PXS_ENOMEM, "out of memory");
        memcpy(s->zin, magic, 2);
        s->z.zalloc = z_alloc;
        s->z.zfree = z_free;
        s->z.next_in = s->zin;
        s->z.avail_in = 2;
        if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) return pxs_errf(err, PXS_ENOMEM, "out of memory (zlib)");
        s->z_init = true;
        s->gz = true;
        f->info.compressed = 1;
        return imp_src_read(f, s->head, sizeof s->head, &s->head_len, err);
    }
    memcpy(s->head, magic, got);
    size_t more = 0;
    rc = raw_read(f, s->head + got, sizeof s->head - got, &more, err);
    s->head_len = got + more;
    return rc;
}

/* ---- shapes ---- */

int imp_set_shape(struct pxs_import_file *f, const uint64_t *dims, size_t ndims, struct pxs_err *err) {
    if (ndims == 0) return imp_err(f, err, PXS_EINVAL, "a 0-d array (one value) cannot be imported");
    uint64_t dim = 1;
    for (size_t i = 1; i < ndims; i++) {
        if (dims[i] == 0) return imp_err(f, err, PXS_EINVAL, "dimension %zu of the shape is 0: rows have no values", i);
        if (dims[i] > PXS_IMPORT_MAX_DIM || dim * dims[i] > PXS_IMPORT_MAX_DIM)
            return imp_err(f, err, PXS_ELIMIT, "rows of more than %u values are not supported", PXS_IMPORT_MAX_DIM);
        dim *= dims[i];
    }
    f->info.rows = dims[0];
    f->info.rows_known = 1;
    f->info.dim = (size_t)dim;
    f->info.one_d = ndims == 1;
    f->row_bytes = (size_t)dim * f->esz;
    uint64_t total;
    if (f->info.rows > UINT64_MAX / (f->prefix + f->row_bytes) ||
        (total = f->info.rows * (f->prefix + f->row_bytes)) > (UINT64_MAX >> 2))
        return imp_err(f, err, PXS_ECORRUPT, "the shape declares an impossible size");
    (void)total;
    char *p = f->info.shape;
    size_t cap = sizeof f->info.shape, len = 0;
    len += (size_t)snprintf(p, cap, "(");
    for (size_t i = 0; i < ndims && len < cap; i++)
        len += (size_t)snprintf(p + len, cap - len, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (len < cap) snprintf(p + len, cap - len, ndims == 1 ? ",)" : ")");
    return PXS_OK;
}

int imp_check_size(struct pxs_import_file *f, uint64_t header_bytes, struct pxs_err *err) {
    if (f->src.gz || f->src.raw_size == UINT64_MAX) return PXS_OK; /* checked while streaming */
    uint64_t need = header_bytes + f->info.rows * (f->prefix + f->row_bytes);
    if (need != f->src.raw_size)
        return imp_err(f, err, PXS_ECORRUPT,
                       "shape %s of %s needs %llu bytes but the file has %llu (%s)", f->info.shape,
                       pxs_import_elem_name(f->info.elem), (unsigned long long)need,
                       (unsigned long long)f->src.raw_size, need > f->src.raw_size ? "truncated" : "trailing data");
    return PXS_OK;
}

/* ---- open / close ---- */

static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static enum pxs_import_format detect(const struct pxs_import_file *f) {
    const struct imp_src *s = &f->src;
    if (s->head_len >= 6 && memcmp(s->head, "\x93NUMPY", 6) == 0) return PXS_IMPORT_NPY;
    if (imp_idx_sniff(s->head, s->head_len)) return PXS_IMPORT_IDX;
    char base[512];
    snprintf(base, sizeof base, "%s", f->name);
    if (has_suffix(base, ".gz")) base[strlen(base) - 3] = '\0';
    if (has_suffix(base, ".fvecs")) return PXS_IMPORT_FVECS;
    if (has_suffix(base, ".ivecs")) return PXS_IMPORT_IVECS;
    if (has_suffix(base, ".bvecs")) return PXS_IMPORT_BVECS;
    if (strstr(base, "-ubyte") || has_suffix(base, ".idx")) return PXS_IMPORT_IDX; /* MNIST names */
    if (has_suffix(base, ".jsonl") || has_suffix(base, ".ndjson") || has_suffix(base, ".json"))
        return PXS_IMPORT_JSONL;
    size_t i = 0;
    if (s->head_len >= 3 && memcmp(s->head, "\xef\xbb\xbf", 3) == 0) i = 3; /* UTF-8 BOM */
    while (i < s->head_len && (s->head[i] == ' ' || s->head[i] == '\t' || s->head[i] == '\r' || s->head[i] == '\n'))
        i++;
    if (i < s->head_len && s->head[i] == '{') return PXS_IMPORT_JSONL;
    return PXS_IMPORT_AUTO;
}

static int open_common(pxs_import_file *f, enum pxs_import_format format, struct pxs_err *err) {
    int rc = src_start(f, err);
    if (rc != PXS_OK) return rc;
    if (format == PXS_IMPORT_AUTO) format = detect(f);
    f->info.format = format;
    switch (format) {
    case PXS_IMPORT_NPY: return imp_npy_open(f, err);
    case PXS_IMPORT_IDX: return imp_idx_open(f, err);
    case PXS_IMPORT_FVECS:
    case PXS_IMPORT_IVECS:
    case PXS_IMPORT_BVECS: return imp_vecs_open(f, err);
    case PXS_IMPORT_JSONL:
        f->info.elem = PXS_ELEM_NONE;
        snprintf(f->info.shape, sizeof f->info.shape, "(?,)");
        return PXS_OK;
    default:
        if (f->src.head_len == 0 && !f->info.compressed) return imp_err(f, err, PXS_EINVAL, "the file is empty");
        return imp_err(f, err, PXS_EUNSUPPORTED,
                       "cannot tell the format: expected .npy, IDX (idx1/idx3-ubyte), .fvecs, .ivecs, "
                       ".bvecs or JSON lines (.jsonl), optionally gzip-compressed");
    }
}

static pxs_import_file *file_new(const char *name) {
    pxs_import_file *f = pxs_calloc(1, sizeof *f);
    if (!f) return NULL;
    f->src.fd = -1;
    f->src.raw_size = UINT64_MAX;
    snprintf(f->name, sizeof f->name, "%s", name && name[0] ? name : "(input)");
    return f;
}

int pxs_import_open(const char *path, enum pxs_import_format format, pxs_import_file **out, struct pxs_err *err) {
    *out = NULL;
    pxs_import_file *f = file_new(path);
    if (!f) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    f->src.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->src.fd < 0) {
        int e = errno;
        pxs_free(f);
        return pxs_errf_sys(err, e == ENOENT ? PXS_ENOTFOUND : e == EACCES ? PXS_EPERM : PXS_EIO, e,
                            "cannot open %s", path);
    }
    struct stat st;
    int rc = PXS_OK;
    if (fstat(f->src.fd, &st) != 0) {
        rc = pxs_errf_sys(err, PXS_EIO, errno, "cannot stat %s", path);
    } else if (S_ISDIR(st.st_mode)) {
        rc = pxs_errf(err, PXS_EINVAL, "%s is a directory", path);
    } else if (S_ISREG(st.st_mode)) {
        f->src.raw_size = (uint64_t)st.st_size;
        posix_fadvise(f->src.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    if (rc == PXS_OK) rc = open_common(f, format, err);
    if (rc != PXS_OK) {
        pxs_import_close(f);
        return rc;
    }
    *out = f;
    return PXS_OK;
}

int pxs_import_open_mem(const void *data, size_t len, const char *name, enum pxs_import_format format,
                        uint64_t max_bytes, pxs_import_file **out, struct pxs_err *err) {
    *out = NULL;
    pxs_import_file *f = file_new(name);
    if (!f) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    f->src.mem = data;
    f->src.mem_len = data ? len : 0;
    f->src.raw_size = f->src.mem_len;
    f->src.max_bytes = max_bytes;
    int rc = open_common(f, format, err);
    if (rc != PXS_OK) {
        pxs_import_close(f);
        return rc;
    }
    *out = f;
    return PXS_OK;
}

void pxs_import_close(pxs_import_file *f) {
    if (!f) return;
    if (f->src.fd >= 0) close(f->src.fd);
    if (f->src.z_init) inflateEnd(&f->src.z);
    pxs_free(f->src.zin);
    pxs_free(f->scratch);
    pxs_free(f->line);
    pxs_free(f->buf);
    pxs_free(f);
}

const struct pxs_import_info *pxs_import_get_info(const pxs_import_file *f) { return &f->info; }
uint64_t pxs_import_rows_read(const pxs_import_file *f) { return f->row; }

/* ---- numeric rows ---- */

static uint64_t load_bits(const uint8_t *p, size_t esz, bool be) {
    uint64_t v = 0;
    if (be)
        for (size_t i = 0; i < esz; i++) v = v << 8 | p[i];
    else
        v = pxs_get_le(p, (int)esz);
    return v;
}

static bool elem_is_float(enum pxs_import_elem e) { return e == PXS_ELEM_F32 || e == PXS_ELEM_F64; }

static int64_t load_int(const uint8_t *p, enum pxs_import_elem e, bool be) {
    uint64_t b = load_bits(p, imp_elem_size(e), be);
    switch (e) {
    case PXS_ELEM_U8: return (int64_t)(uint8_t)b;
    case PXS_ELEM_I8: return (int8_t)(uint8_t)b;
    case PXS_ELEM_I16: return (int16_t)(uint16_t)b;
    case PXS_ELEM_I32: return (int32_t)(uint32_t)b;
    default: return (int64_t)b;
    }
}

static double load_float(const uint8_t *p, enum pxs_import_elem e, bool be) {
    uint64_t b = load_bits(p, imp_elem_size(e), be);
    if (e == PXS_ELEM_F32) {
        uint32_t u = (uint32_t)b;
        float x;
        memcpy(&x, &u, 4);
        return x;
    }
    double d;
    memcpy(&d, &b, 8);
    return d;
}

static int bad_value(const pxs_import_file *f, struct pxs_err *err, uint64_t row, size_t col, const char *what,
                     double v) {
    return imp_err(f, err, PXS_EINVAL, "row %llu, column %zu: %s (%g)", (unsigned long long)row, col, what, v);
}

/* Convert n rows starting at absolute row row0 from src (row_bytes each). */
static int convert_rows(const pxs_import_file *f, const uint8_t *src, size_t n, uint64_t row0,
                        enum pxs_import_elem as, void *out, struct pxs_err *err) {
    const enum pxs_import_elem e = f->info.elem;
    const size_t dim = f->info.dim, esz = f->esz, total = n * dim;
    const bool be = f->big_endian;
    if (as == PXS_ELEM_U8) {
        memcpy(out, src, total);
        return PXS_OK;
    }
    if (as == PXS_ELEM_F32 && e == PXS_ELEM_U8) { /* images */
        float *o = out;
        for (size_t i = 0; i < total; i++) o[i] = src[i];
        return PXS_OK;
    }
    if (as == PXS_ELEM_F32 && e == PXS_ELEM_F32 && !be) {
        float *o = out;
        memcpy(o, src, total * 4);
        for (size_t i = 0; i < total; i++)
            if (!isfinite(o[i])) return bad_value(f, err, row0 + i / dim, i % dim, "not a finite number", o[i]);
        return PXS_OK;
    }
    for (size_t i = 0; i < total; i++) {
        const uint8_t *p = src + i * esz;
        uint64_t row = row0 + i / dim;
        size_t col = i % dim;
        if (elem_is_float(e)) {
            double v = load_float(p, e, be);
            if (!isfinite(v)) return bad_value(f, err, row, col, "not a finite number", v);
            if (as == PXS_ELEM_F32) {
                if (fabs(v) > FLT_MAX) return bad_value(f, err, row, col, "out of float32 range", v);
                ((float *)out)[i] = (float)v;
            } else if (as == PXS_ELEM_F64) {
                ((double *)out)[i] = v;
            } else {
                if (v != floor(v) || v < -9223372036854775808.0 || v >= 9223372036854775808.0)
                    return bad_value(f, err, row, col, "not an int64 integer", v);
                ((int64_t *)out)[i] = (int64_t)v;
            }
        } else {
            int64_t v = load_int(p, e, be);
            if (as == PXS_ELEM_F32) ((float *)out)[i] = (float)v;
            else if (as == PXS_ELEM_F64) ((double *)out)[i] = (double)v;
            else ((int64_t *)out)[i] = v;
        }
    }
    return PXS_OK;
}

/* After the last row: nothing may follow. */
static int check_end(pxs_import_file *f, struct pxs_err *err) {
    uint8_t extra;
    size_t got;
    int rc = imp_src_read(f, &extra, 1, &got, err);
    if (rc != PXS_OK) return rc;
    if (got) return imp_err(f, err, PXS_ECORRUPT, "unexpected data after the last row (%llu rows declared)",
                            (unsigned long long)f->info.rows);
    f->ended = true;
    return PXS_OK;
}

/* Read up to max_rows; out NULL skips (no conversion). */
static int read_rows(pxs_import_file *f, enum pxs_import_elem as, void *out, size_t max_rows, size_t *n_rows,
                     struct pxs_err *err) {
    *n_rows = 0;
    if (f->ended) return PXS_OK;
    size_t rec = f->prefix + f->row_bytes;
    size_t want = max_rows;
    if (f->info.rows_known && (uint64_t)want > f->info.rows - f->row) want = (size_t)(f->info.rows - f->row);
    if (want == 0) return f->info.rows_known ? check_end(f, err) : PXS_OK;
    size_t bytes;
    if (pxs_size_mul(want, rec, &bytes) != 0) return imp_err(f, err, PXS_ELIMIT, "batch too large");
    if (bytes > f->scratch_cap) {
        uint8_t *s = pxs_realloc(f->scratch, bytes);
        if (!s) return pxs_errf(err, PXS_ENOMEM, "out of memory (batch of %zu bytes)", bytes);
        f->scratch = s;
        f->scratch_cap = bytes;
    }
    size_t got;
    int rc = imp_src_read(f, f->scratch, bytes, &got, err);
    if (rc != PXS_OK) return rc;
    size_t rows = got / rec;
    if (f->info.rows_known && got < bytes)
        return imp_err(f, err, PXS_ECORRUPT, "the file ends in row %llu of %llu (truncated)",
                       (unsigned long long)(f->row + rows), (unsigned long long)f->info.rows);
    if (got % rec)
        return imp_err(f, err, PXS_ECORRUPT,
                       "the file ends inside row %llu (truncated, or rows of different dimensions)",
                       (unsigned long long)(f->row + rows));
    if (rows == 0) {
        f->ended = true;
        return PXS_OK;
    }
    if (f->prefix) { /* vecs: every row repeats the dimension */
        for (size_t r = 0; r < rows; r++) {
            uint64_t d = pxs_get_le(f->scratch + r * rec, 4);
            if (d != f->info.dim)
                return imp_err(f, err, PXS_ECORRUPT, "row %llu has dimension %lld but the first row has %zu",
                               (unsigned long long)(f->row + r), (long long)(int32_t)(uint32_t)d, f->info.dim);
            if (r) memmove(f->scratch + r * f->row_bytes, f->scratch + r * rec + 4, f->row_bytes);
            else memmove(f->scratch, f->scratch + 4, f->row_bytes);
        }
    }
    if (out) {
        rc = convert_rows(f, f->scratch, rows, f->row, as, out, err);
        if (rc != PXS_OK) return rc;
    }
    f->row += rows;
    *n_rows = rows;
    return PXS_OK;
}

int pxs_import_read(pxs_import_file *f, enum pxs_import_elem as, void *out, size_t max_rows, size_t *n_rows,
                    struct pxs_err *err) {
    *n_rows = 0;
    if (f->info.format == PXS_IMPORT_JSONL)
        return imp_err(f, err, PXS_EINVAL, "JSON lines hold rows, not a numeric array");
    if (!out || !max_rows) return pxs_errf(err, PXS_EINVAL, "pxs_import_read needs a buffer and max_rows > 0");
    switch (as) {
    case PXS_ELEM_U8:
        if (f->info.elem != PXS_ELEM_U8 && f->info.elem != PXS_ELEM_I8)
            return imp_err(f, err, PXS_EINVAL, "holds %s values, not bytes", pxs_import_elem_name(f->info.elem));
        break;
    case PXS_ELEM_F32:
    case PXS_ELEM_F64:
    case PXS_ELEM_I64: break;
    default: return pxs_errf(err, PXS_EINVAL, "pxs_import_read: unsupported output type");
    }
    return read_rows(f, as, out, max_rows, n_rows, err);
}

/* ---- JSON lines ---- */

/* The next raw line (without its newline) into f->line; *eof at the end. */
static int next_line(pxs_import_file *f, size_t *len, bool *eof, struct pxs_err *err) {
    *len = 0;
    *eof = false;
    bool any = false;
    if (!f->buf && !(f->buf = pxs_malloc(LINE_CHUNK))) return pxs_errf(err, PXS_ENOMEM, "out of memory");
    for (;;) {
        if (f->buf_pos == f->buf_len) {
            f->buf_pos = 0;
            int rc = imp_src_read(f, f->buf, LINE_CHUNK, &f->buf_len, err);
            if (rc != PXS_OK) return rc;
            if (f->buf_len == 0) {
                *eof = !any;
                break;
            }
        }
        any = true;
        const uint8_t *start = f->buf + f->buf_pos;
        size_t avail = f->buf_len - f->buf_pos;
        const uint8_t *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if (*len + take + 1 > PXS_IMPORT_MAX_LINE)
            return imp_err(f, err, PXS_ELIMIT, "line %llu is longer than %u bytes",
                           (unsigned long long)(f->line_no + 1), PXS_IMPORT_MAX_LINE);
        if (*len + take + 1 > f->line_cap) {
            size_t cap = f->line_cap ? f->line_cap : 4096;
            while (cap < *len + take + 1) cap *= 2;
            if (cap > PXS_IMPORT_MAX_LINE) cap = PXS_IMPORT_MAX_LINE;
            char *l = pxs_realloc(f->line, cap);
            if (!l) return pxs_errf(err, PXS_ENOMEM, "out of memory");
            f->line = l;
            f->line_cap = cap;
        }
        memcpy(f->line + *len, start, take);
        *len += take;
        f->buf_pos += take + (nl ? 1 : 0);
        if (nl) break;
    }
    if (f->line) f->line[*len] = '\0';
    return PXS_OK;
}

static bool blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return false;
    return true;
}

int pxs_import_read_line(pxs_import_file *f, const char **line, size_t *len, struct pxs_err *err) {
    *line = NULL;
    *len = 0;
    if (f->info.format != PXS_IMPORT_JSONL) return imp_err(f, err, PXS_EINVAL, "is not a JSON lines file");
    for (;;) {
        size_t n;
        bool eof;
        int rc = next_line(f, &n, &eof, err);
        if (rc != PXS_OK) return rc;
        if (eof) return PXS_OK;
        f->line_no++;
        char *s = f->line;
        if (n && s[n - 1] == '\r') s[--n] = '\0';
        if (f->line_no == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
            s += 3;
            n -= 3;
        }
        if (blank(s, n)) continue;
        if (memchr(s, '\0', n))
            return imp_err(f, err, PXS_EINVAL, "line %llu contains a NUL byte", (unsigned long long)f->line_no);
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
        bool object = j && cJSON_IsObject(j);
        cJSON_Delete(j);
        if (!j)
            return imp_err(f, err, PXS_EINVAL, "line %llu is not valid JSON (near byte %zu)",
                           (unsigned long long)f->line_no, end && end >= s ? (size_t)(end - s) : (size_t)0);
        if (!object || (end && !blank(end, n - (size_t)(end - s))))
            return imp_err(f, err, PXS_EINVAL, "line %llu is not one JSON object (one row object per line)",
                           (unsigned long long)f->line_no);
        f->row++;
        *line = s;
        *len = n;
        return PXS_OK;
    }
}

int pxs_import_skip(pxs_import_file *f, uint64_t n, struct pxs_err *err) {
    uint64_t target = f->row + n;
    while (f->row < target) {
        size_t got = 0;
        int rc;
        if (f->info.format == PXS_IMPORT_JSONL) {
            const char *l;
            rc = pxs_import_read_line(f, &l, &got, err);
            got = l ? 1 : 0;
        } else {
            uint64_t left = target - f->row;
            rc = read_rows(f, PXS_ELEM_NONE, NULL, left > 4096 ? 4096 : (size_t)left, &got, err);
        }
        if (rc != PXS_OK) return rc;
        if (!got)
            return imp_err(f, err, PXS_ECORRUPT, "has only %llu rows, cannot skip %llu",
                           (unsigned long long)f->row, (unsigned long long)n);
    }
    return PXS_OK;
}
