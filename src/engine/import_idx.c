/*
 * import_idx.c — headers of the fixed-layout vector files:
 *
 * IDX (LeCun's MNIST format, as Fashion-MNIST ships it), big-endian:
 *   u8 0, u8 0, u8 type (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32,
 *   0x0E f64), u8 ndims (1..8), then ndims u32 sizes; then the values.
 *   idx1 (ndims 1) is a column (labels); otherwise rows = size[0] and each
 *   row is the product of the other sizes (28 x 28 images -> 784 values).
 *
 * TEXMEX .fvecs / .ivecs / .bvecs, little-endian: every row is an int32
 *   dimension d followed by d float32 / int32 / uint8 values; all rows must
 *   share the first row's dimension.
 */
#include "engine/import_int.h"

#include <stdio.h>
#include <string.h>

#define IDX_MAX_NDIM 8

static enum pxs_import_elem idx_type(uint8_t t) {
    switch (t) {
    case 0x08: return PXS_ELEM_U8;
    case 0x09: return PXS_ELEM_I8;
    case 0x0B: return PXS_ELEM_I16;
    case 0x0C: return PXS_ELEM_I32;
    case 0x0D: return PXS_ELEM_F32;
    case 0x0E: return PXS_ELEM_F64;
    default: return PXS_ELEM_NONE;
    }
}

bool imp_idx_sniff(const uint8_t *head, size_t len) {
    return len >= 4 && head[0] == 0 && head[1] == 0 && idx_type(head[2]) != PXS_ELEM_NONE && head[3] >= 1 &&
           head[3] <= IDX_MAX_NDIM;
}

int imp_idx_open(pxs_import_file *f, struct pxs_err *err) {
    uint8_t h[4 + 4 * IDX_MAX_NDIM];
    int rc = imp_read_exact(f, h, 4, "the IDX header", err);
    if (rc != PXS_OK) return rc;
    if (h[0] != 0 || h[1] != 0)
        return imp_err(f, err, PXS_ECORRUPT, "not an IDX file (magic %02x %02x %02x %02x, expected 00 00 TYPE NDIMS)",
                       h[0], h[1], h[2], h[3]);
    enum pxs_import_elem e = idx_type(h[2]);
    if (e == PXS_ELEM_NONE) return imp_err(f, err, PXS_ECORRUPT, "unknown IDX value type 0x%02x", h[2]);
    if (h[3] < 1 || h[3] > IDX_MAX_NDIM)
        return imp_err(f, err, PXS_ECORRUPT, "IDX header declares %u dimensions (1..%d)", h[3], IDX_MAX_NDIM);
    size_t nd = h[3];
    if ((rc = imp_read_exact(f, h + 4, 4 * nd, "the IDX dimension sizes", err)) != PXS_OK) return rc;
    uint64_t dims[IDX_MAX_NDIM];
    for (size_t i = 0; i < nd; i++)
        dims[i] = (uint64_t)h[4 + 4 * i] << 24 | (uint64_t)h[5 + 4 * i] << 16 | (uint64_t)h[6 + 4 * i] << 8 |
                  h[7 + 4 * i];
    f->info.elem = e;
    f->esz = imp_elem_size(e);
    f->big_endian = f->esz > 1;
    if ((rc = imp_set_shape(f, dims, nd, err)) != PXS_OK) return rc;
    return imp_check_size(f, 4 + 4 * nd, err);
}

int imp_vecs_open(pxs_import_file *f, struct pxs_err *err) {
    const struct imp_src *s = &f->src;
    enum pxs_import_format fmt = f->info.format;
    f->info.elem = fmt == PXS_IMPORT_FVECS ? PXS_ELEM_F32 : fmt == PXS_IMPORT_IVECS ? PXS_ELEM_I32 : PXS_ELEM_U8;
    f->esz = imp_elem_size(f->info.elem);
    f->prefix = 4;
    if (s->head_len == 0) return imp_err(f, err, PXS_EINVAL, "the file is empty");
    if (s->head_len < 4) return imp_err(f, err, PXS_ECORRUPT, "the file ends inside the first row's dimension");
    int32_t d = (int32_t)(uint32_t)pxs_get_le(s->head, 4); /* row 0's prefix, left in place */
    if (d <= 0 || d > PXS_IMPORT_MAX_DIM)
        return imp_err(f, err, PXS_ECORRUPT, "the first row declares dimension %d (1..%d): not a .%s file?", (int)d,
                       PXS_IMPORT_MAX_DIM, pxs_import_format_name(fmt));
    f->info.dim = (size_t)d;
    f->row_bytes = (size_t)d * f->esz;
    size_t rec = f->prefix + f->row_bytes;
    if (s->gz || s->raw_size == UINT64_MAX) {
        snprintf(f->info.shape, sizeof f->info.shape, "(?, %d)", (int)d);
        return PXS_OK; /* rows counted while streaming */
    }
    if (s->raw_size % rec)
        return imp_err(f, err, PXS_ECORRUPT,
                       "size %llu is not a multiple of the row size %zu (4 + %d x %zu bytes): truncated, or rows "
                       "of different dimensions", (unsigned long long)s->raw_size, rec, (int)d, f->esz);
    f->info.rows = s->raw_size / rec;
    f->info.rows_known = 1;
    snprintf(f->info.shape, sizeof f->info.shape, "(%llu, %d)", (unsigned long long)f->info.rows, (int)d);
    return PXS_OK;
}
