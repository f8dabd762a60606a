/*
 * onnx_load.c — ONNX ModelProto -> nn graph (values, nodes, attributes).
 *
 * Field numbers follow onnx/onnx.proto (IR version 3..10):
 *   ModelProto:   ir_version=1 opset_import=8 graph=7
 *   OperatorSetIdProto: domain=1 version=2
 *   GraphProto:   node=1 initializer=5 input=11 output=12 value_info=13
 *   NodeProto:    input=1 output=2 name=3 op_type=4 attribute=5 domain=7
 *   AttributeProto: name=1 f=2 i=3 s=4 t=5 g=6 floats=7 ints=8 type=20
 *   TensorProto:  dims=1 data_type=2 float_data=4 int32_data=5 int64_data=7
 *                 name=8 raw_data=9 double_data=10 external_data=13
 *                 data_location=14
 *   ValueInfoProto: name=1 type=2; TypeProto: tensor_type=1;
 *   TypeProto.Tensor: elem_type=1 shape=2; TensorShapeProto: dim=1;
 *   Dimension: dim_value=1 dim_param=2; StringStringEntryProto: key=1 value=2
 *
 * Every count is derived from bytes actually present, so a tensor's
 * allocation is bounded by the payload (or external file) that backs it.
 * Element data is converted to the two runtime types: float32 (from FLOAT,
 * DOUBLE) and int64 (from INT64, INT32, and small integer types).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nn/nn_int.h"

#define NN_MAX_VALUES (1 << 20)
#define NN_MAX_NODES (1 << 20)
#define NN_MAX_NAME 65536
#define NN_MAX_ATTRS 1024
#define NN_MAX_IO 65536

/* ---- names ------------------------------------------------------------- */

static uint64_t name_hash(const char *s, size_t n) { return pxs_hash64(s, n); }

static int htab_grow(struct pxs_nn_model *m) {
    size_t ncap = m->hcap ? m->hcap * 2 : 256;
    int *nt = pxs_mallocarray(ncap, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < ncap; i++) nt[i] = -1;
    for (int v = 0; v < m->n_values; v++) {
        const char *nm = m->values[v].name;
        size_t h = (size_t)name_hash(nm, strlen(nm)) & (ncap - 1);
        while (nt[h] >= 0) h = (h + 1) & (ncap - 1);
        nt[h] = v;
    }
    pxs_free(m->htab);
    m->htab = nt;
    m->hcap = ncap;
    return 0;
}

static int find_n(const struct pxs_nn_model *m, const char *name, size_t len) {
    if (!m->hcap) return -1;
    size_t h = (size_t)name_hash(name, len) & (m->hcap - 1);
    while (m->htab[h] >= 0) {
        const char *nm = m->values[m->htab[h]].name;
        if (strlen(nm) == len && memcmp(nm, name, len) == 0) return m->htab[h];
        h = (h + 1) & (m->hcap - 1);
    }
    return -1;
}

int nn_value_find(const struct pxs_nn_model *m, const char *name) {
    return find_n(m, name, strlen(name));
}

int nn_value_add(struct pxs_nn_model *m, const char *name, size_t name_len, struct pxs_err *err) {
    if (m->n_values >= NN_MAX_VALUES) return pxs_errf(err, PXS_ELIMIT, "onnx: too many values");
    if (memchr(name, 0, name_len)) return PXS_CORRUPT_BKPT(err, "onnx: NUL in a value name");
    if ((size_t)(m->n_values + 1) * 2 > m->hcap && htab_grow(m) != 0)
        return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
    if (m->n_values == m->cap_values) {
        int nc = m->cap_values ? m->cap_values * 2 : 64;
        void *nv = pxs_realloc(m->values, (size_t)nc * sizeof *m->values);
        if (!nv) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
        m->values = nv;
        m->cap_values = nc;
    }
    struct nn_value *v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    v->name = pxs_strndup(name, name_len);
    if (!v->name) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
    v->producer = -1;
    size_t h = (size_t)name_hash(name, name_len) & (m->hcap - 1);
    while (m->htab[h] >= 0) h = (h + 1) & (m->hcap - 1);
    m->htab[h] = m->n_values;
    return m->n_values++;
}

int nn_node_add(struct pxs_nn_model *m, struct pxs_err *err) {
    if (m->n_nodes >= NN_MAX_NODES) return pxs_errf(err, PXS_ELIMIT, "onnx: too many nodes");
    if (m->n_nodes == m->cap_nodes) {
        int nc = m->cap_nodes ? m->cap_nodes * 2 : 64;
        void *nv = pxs_realloc(m->nodes, (size_t)nc * sizeof *m->nodes);
        if (!nv) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
        m->nodes = nv;
        m->cap_nodes = nc;
    }
    memset(&m->nodes[m->n_nodes], 0, sizeof m->nodes[0]);
    return m->n_nodes++;
}

void nn_value_free_data(struct nn_value *v) {
    pxs_free(v->data);
    v->data = NULL;
    v->nbytes = 0;
}

void nn_attr_free(struct nn_attr *a) {
    pxs_free(a->name);
    pxs_free(a->s);
    pxs_free(a->floats);
    pxs_free(a->ints);
    if (a->t) {
        pxs_free(a->t->name);
        nn_value_free_data(a->t);
        pxs_free(a->t);
    }
    memset(a, 0, sizeof *a);
}

/* ---- repeated scalars ---------------------------------------------------- */

/* Collect repeated int64 field `num` (packed or not) of a message. */
static int rep_i64(const uint8_t *msg, size_t len, uint32_t num, int64_t **out, size_t *n,
                   struct pxs_err *err) {
    struct nn_pb r = {msg, msg + len};
    struct nn_pb_field f;
    size_t count = 0;
    int rc;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.num != num) continue;
        if (f.wire == NN_PB_VARINT) {
            count++;
        } else if (f.wire == NN_PB_LEN) {
            for (size_t i = 0; i < f.len; i++)
                if (!(f.data[i] & 0x80)) count++;
        } else {
            return PXS_CORRUPT_BKPT(err, "onnx: bad wire type for an int list");
        }
    }
    if (rc < 0) return rc;
    *out = NULL;
    *n = 0;
    if (count == 0) return PXS_OK;
    int64_t *a = pxs_mallocarray(count, sizeof *a);
    if (!a) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
    size_t k = 0;
    r.p = msg;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.num != num) continue;
        if (f.wire == NN_PB_VARINT) {
            a[k++] = (int64_t)f.v;
        } else {
            struct nn_pb sub = {f.data, f.data + f.len};
            while (sub.p < sub.end) {
                uint64_t v;
                if (nn_pb_varint(&sub, &v) != 0 || k >= count) {
                    pxs_free(a);
                    return PXS_CORRUPT_BKPT(err, "onnx: bad packed varint");
                }
                a[k++] = (int64_t)v;
            }
        }
    }
    if (rc < 0 || k != count) {
        pxs_free(a);
        return rc < 0 ? rc : PXS_CORRUPT_BKPT(err, "onnx: packed list count mismatch");
    }
    *out = a;
    *n = count;
    return PXS_OK;
}

static float f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)pxs_get_le(p, 4); }
static uint64_t le64(const uint8_t *p) { return pxs_get_le(p, 8); }

/* Repeated float field (packed or fixed32). */
static int rep_f32(const uint8_t *msg, size_t len, uint32_t num, float **out, size_t *n,
                   struct pxs_err *err) {
    struct nn_pb r = {msg, msg + len};
    struct nn_pb_field f;
    size_t count = 0;
    int rc;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.num != num) continue;
        if (f.wire == NN_PB_I32) count++;
        else if (f.wire == NN_PB_LEN && f.len % 4 == 0) count += f.len / 4;
        else return PXS_CORRUPT_BKPT(err, "onnx: bad wire type for a float list");
    }
    if (rc < 0) return rc;
    *out = NULL;
    *n = 0;
    if (count == 0) return PXS_OK;
    float *a = pxs_mallocarray(count, sizeof *a);
    if (!a) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
    size_t k = 0;
    r.p = msg;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.num != num) continue;
        if (f.wire == NN_PB_I32) a[k++] = f32_from_bits((uint32_t)f.v);
        else
            for (size_t i = 0; i + 4 <= f.len; i += 4) a[k++] = f32_from_bits(le32(f.data + i));
    }
    if (rc < 0) {
        pxs_free(a);
        return rc;
    }
    *out = a;
    *n = count;
    return PXS_OK;
}

/* ---- tensors -------------------------------------------------------------- */

enum {
    ONNX_FLOAT = 1, ONNX_UINT8 = 2, ONNX_INT8 = 3, ONNX_UINT16 = 4, ONNX_INT16 = 5,
    ONNX_INT32 = 6, ONNX_INT64 = 7, ONNX_BOOL = 9, ONNX_DOUBLE = 11, ONNX_UINT32 = 12,
};

static const char *onnx_type_name(int64_t t) {
    static const char *names[] = {"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16",
                                  "INT32", "INT64", "STRING", "BOOL", "FLOAT16", "DOUBLE",
                                  "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16"};
    if (t >= 0 && t < (int64_t)(sizeof names / sizeof names[0])) return names[t];
    return "unknown";
}

static int path_is_safe(const char *loc) {
    if (!loc[0] || loc[0] == '/') return 0;
    const char *p = loc;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return 0;
        if (!e) break;
        p = e + 1;
    }
    return strchr(loc, '\\') == NULL;
}

static int parse_u64_str(const char *s, uint64_t *out) {
    if (!s[0] || strlen(s) > 19) return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

/* Read `bytes` bytes of external data described by the external_data entries. */
static int read_external(const struct pxs_nn_model *m, const uint8_t *msg, size_t len,
                         const char *tname, size_t bytes, void **out, struct pxs_err *err) {
    char loc[1024] = "";
    uint64_t off = 0, length = UINT64_MAX;
    struct nn_pb r = {msg, msg + len};
    struct nn_pb_field f;
    int rc;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.num != 13 || f.wire != NN_PB_LEN) continue;
        struct nn_pb e = {f.data, f.data + f.len};
        struct nn_pb_field g;
        char key[32] = "", val[1024] = "";
        while ((rc = nn_pb_next(&e, &g, err)) > 0) {
            if (g.wire != NN_PB_LEN) continue;
            if (g.num == 1 && g.len < sizeof key) {
                memcpy(key, g.data, g.len);
                key[g.len] = 0;
            } else if (g.num == 2) {
                if (g.len >= sizeof val)
                    return pxs_errf(err, PXS_ELIMIT, "onnx: tensor '%s': external data value too long", tname);
                memcpy(val, g.data, g.len);
                val[g.len] = 0;
            }
        }
        if (rc < 0) return rc;
        if (strcmp(key, "location") == 0) {
            memcpy(loc, val, sizeof loc);
        } else if (strcmp(key, "offset") == 0) {
            if (parse_u64_str(val, &off) != 0)
                return PXS_CORRUPT_BKPT(err, "onnx: bad external data offset");
        } else if (strcmp(key, "length") == 0) {
            if (parse_u64_str(val, &length) != 0)
                return PXS_CORRUPT_BKPT(err, "onnx: bad external data length");
        }
    }
    if (rc < 0) return rc;
    if (!m->base_dir)
        return pxs_errf(err, PXS_EUNSUPPORTED,
                        "onnx: tensor '%s' uses external data but the model was loaded from memory", tname);
    if (memchr(loc, 0, sizeof loc) == NULL || !path_is_safe(loc))
        return pxs_errf(err, PXS_EPERM, "onnx: tensor '%s': unsafe external data location '%s'",
                        tname, loc);
    if (length != UINT64_MAX && length != bytes)
        return pxs_errf(err, PXS_ECORRUPT, "onnx: tensor '%s': external length %llu, expected %zu",
                        tname, (unsigned long long)length, bytes);
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", m->base_dir, loc);
    if (n < 0 || (size_t)n >= sizeof path)
        return pxs_errf(err, PXS_ELIMIT, "onnx: tensor '%s': external path too long", tname);
    FILE *fp = fopen(path, "rb");
    if (!fp) return pxs_errf_sys(err, PXS_EIO, errno, "onnx: open external data %s", path);
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return pxs_errf(err, PXS_EIO, "onnx: external data %s is not a regular file", path);
    }
    if (off > (uint64_t)st.st_size || bytes > (uint64_t)st.st_size - off) {
        fclose(fp);
        return pxs_errf(err, PXS_ECORRUPT, "onnx: tensor '%s': external data past end of %s",
                        tname, path);
    }
    void *buf = pxs_malloc(bytes ? bytes : 1);
    if (!buf) {
        fclose(fp);
        return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory for tensor '%s'", tname);
    }
    if (fseeko(fp, (off_t)off, SEEK_SET) != 0 || fread(buf, 1, bytes, fp) != bytes) {
        fclose(fp);
        pxs_free(buf);
        return pxs_errf(err, PXS_EIO, "onnx: read external data %s", path);
    }
    fclose(fp);
    *out = buf;
    return PXS_OK;
}

/* Parse a TensorProto into v (name, dtype, shape, data). */
static int parse_tensor(const struct pxs_nn_model *m, const uint8_t *msg, size_t len,
                        struct nn_value *v, int want_name, struct pxs_err *err) {
    struct nn_pb r = {msg, msg + len};
    struct nn_pb_field f;
    int rc;
    int64_t dtype = 0, location = 0;
    const uint8_t *raw = NULL;
    size_t raw_len = 0;
    int has_raw = 0;
    const uint8_t *name = NULL;
    size_t name_len = 0;
    size_t ndims = 0;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        switch (f.num) {
        case 2: if (f.wire == NN_PB_VARINT) dtype = (int64_t)f.v; break;
        case 8: if (f.wire == NN_PB_LEN) { name = f.data; name_len = f.len; } break;
        case 9: if (f.wire == NN_PB_LEN) { raw = f.data; raw_len = f.len; has_raw = 1; } break;
        case 14: if (f.wire == NN_PB_VARINT) location = (int64_t)f.v; break;
        case 3: return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: segmented tensors are not supported");
        default: break;
        }
    }
    if (rc < 0) return rc;
    char tname[128] = "";
    if (name) snprintf(tname, sizeof tname, "%.*s", (int)(name_len < 100 ? name_len : 100), (const char *)name);
    if (want_name) {
        if (!name || name_len == 0) return PXS_CORRUPT_BKPT(err, "onnx: initializer without a name");
        if (name_len > NN_MAX_NAME) return pxs_errf(err, PXS_ELIMIT, "onnx: name too long");
    }
    int64_t *dims = NULL;
    rc = rep_i64(msg, len, 1, &dims, &ndims, err);
    if (rc) return rc;
    if (ndims > NN_MAX_DIMS) {
        pxs_free(dims);
        return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: tensor '%s' has %zu dims (max %d)", tname,
                        ndims, NN_MAX_DIMS);
    }
    v->shape.ndim = (int)ndims;
    for (size_t i = 0; i < ndims; i++) {
        if (dims[i] < 0) {
            pxs_free(dims);
            return pxs_errf(err, PXS_ECORRUPT, "onnx: tensor '%s' has a negative dim", tname);
        }
        v->shape.d[i] = dims[i];
    }
    pxs_free(dims);
    size_t numel;
    if (nn_shape_numel(&v->shape, &numel) != 0)
        return pxs_errf(err, PXS_ELIMIT, "onnx: tensor '%s' is too large", tname);

    size_t src_es; /* element size in raw_data */
    switch (dtype) {
    case ONNX_FLOAT: case ONNX_INT32: case ONNX_UINT32: src_es = 4; break;
    case ONNX_INT64: case ONNX_DOUBLE: src_es = 8; break;
    case ONNX_UINT8: case ONNX_INT8: case ONNX_BOOL: src_es = 1; break;
    case ONNX_UINT16: case ONNX_INT16: src_es = 2; break;
    default:
        return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: tensor '%s' has unsupported data type %s (%lld)",
                        tname, onnx_type_name(dtype), (long long)dtype);
    }
    int is_float = dtype == ONNX_FLOAT || dtype == ONNX_DOUBLE;
    v->dtype = is_float ? NN_DT_F32 : NN_DT_I64;
    size_t es = nn_dtype_size(v->dtype), src_bytes, bytes;
    if (pxs_size_mul(numel, src_es, &src_bytes) != 0 || pxs_size_mul(numel, es, &bytes) != 0)
        return pxs_errf(err, PXS_ELIMIT, "onnx: tensor '%s' is too large", tname);

    void *ext = NULL;
    if (location == 1) {
        rc = read_external(m, msg, len, tname, src_bytes, &ext, err);
        if (rc) return rc;
        raw = ext;
        raw_len = src_bytes;
        has_raw = 1;
    } else if (location != 0) {
        return PXS_CORRUPT_BKPT(err, "onnx: bad data_location");
    }

    void *data = NULL;
    if (has_raw) {
        if (raw_len != src_bytes) {
            pxs_free(ext);
            return pxs_errf(err, PXS_ECORRUPT, "onnx: tensor '%s': raw_data has %zu bytes, shape needs %zu",
                            tname, raw_len, src_bytes);
        }
        data = pxs_malloc(bytes ? bytes : 1);
        if (!data) {
            pxs_free(ext);
            return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory for tensor '%s'", tname);
        }
        float *fd = data;
        int64_t *id = data;
        for (size_t i = 0; i < numel; i++) {
            const uint8_t *p = raw + i * src_es;
            switch (dtype) {
            case ONNX_FLOAT: fd[i] = f32_from_bits(le32(p)); break;
            case ONNX_DOUBLE: { uint64_t u = le64(p); double d; memcpy(&d, &u, 8); fd[i] = (float)d; break; }
            case ONNX_INT32: id[i] = (int32_t)le32(p); break;
            case ONNX_UINT32: id[i] = le32(p); break;
            case ONNX_INT64: id[i] = (int64_t)le64(p); break;
            case ONNX_UINT8: case ONNX_BOOL: id[i] = p[0]; break;
            case ONNX_INT8: id[i] = (int8_t)p[0]; break;
            case ONNX_UINT16: id[i] = (uint16_t)(p[0] | p[1] << 8); break;
            case ONNX_INT16: id[i] = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
            default: break;
            }
        }
        pxs_free(ext);
    } else {
        size_t n = 0;
        if (dtype == ONNX_FLOAT) {
            float *a;
            rc = rep_f32(msg, len, 4, &a, &n, err);
            if (rc) return rc;
            data = a;
        } else if (dtype == ONNX_DOUBLE) {
            /* double_data=10: fixed64 values, packed */
            struct nn_pb rr = {msg, msg + len};
            size_t cnt = 0;
            while ((rc = nn_pb_next(&rr, &f, err)) > 0) {
                if (f.num != 10) continue;
                if (f.wire == NN_PB_I64) cnt++;
                else if (f.wire == NN_PB_LEN && f.len % 8 == 0) cnt += f.len / 8;
                else return PXS_CORRUPT_BKPT(err, "onnx: bad double_data");
            }
            if (rc < 0) return rc;
            if (cnt != numel)
                return pxs_errf(err, PXS_ECORRUPT, "onnx: tensor '%s': %zu values, shape needs %zu",
                                tname, cnt, numel);
            float *a = pxs_mallocarray(cnt ? cnt : 1, sizeof *a);
            if (!a) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
            size_t k = 0;
            rr.p = msg;
            while ((rc = nn_pb_next(&rr, &f, err)) > 0) {
                if (f.num != 10) continue;
                double d;
                if (f.wire == NN_PB_I64) {
                    uint64_t u = f.v;
                    memcpy(&d, &u, 8);
                    a[k++] = (float)d;
                } else {
                    for (size_t i = 0; i + 8 <= f.len; i += 8) {
                        uint64_t u = le64(f.data + i);
                        memcpy(&d, &u, 8);
                        a[k++] = (float)d;
                    }
                }
            }
            data = a;
            n = cnt;
        } else {
            int64_t *a;
            uint32_t fld = dtype == ONNX_INT64 ? 7 : (dtype == ONNX_UINT32 ? 11 : 5);
            rc = rep_i64(msg, len, fld, &a, &n, err);
            if (rc) return rc;
            if (dtype != ONNX_INT64 && dtype != ONNX_UINT32)
                for (size_t i = 0; i < n; i++) a[i] = (int32_t)(uint32_t)(uint64_t)a[i];
            data = a;
        }
        if (n != numel) {
            pxs_free(data);
            return pxs_errf(err, PXS_ECORRUPT, "onnx: tensor '%s': %zu values, shape needs %zu",
                            tname, n, numel);
        }
        if (!data) {
            data = pxs_malloc(1);
            if (!data) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
        }
    }
    v->data = data;
    v->nbytes = bytes;
    return PXS_OK;
}

/* ---- value info ------------------------------------------------------------ */

struct vinfo {
    const uint8_t *name;
    size_t name_len;
    int64_t elem_type;
    int has_shape;
    struct nn_shape shape; /* -1 for symbolic/unknown dims */
};

static int parse_value_info(const uint8_t *msg, size_t len, struct vinfo *vi, struct pxs_err *err) {
    memset(vi, 0, sizeof *vi);
    struct nn_pb r = {msg, msg + len};
    struct nn_pb_field f;
    int rc;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.wire != NN_PB_LEN) continue;
        if (f.num == 1) {
            vi->name = f.data;
            vi->name_len = f.len;
        } else if (f.num == 2) {
            struct nn_pb tr = {f.data, f.data + f.len};
            struct nn_pb_field g;
            while ((rc = nn_pb_next(&tr, &g, err)) > 0) {
                if (g.num != 1 || g.wire != NN_PB_LEN) continue;
                struct nn_pb tt = {g.data, g.data + g.len};
                struct nn_pb_field h;
                while ((rc = nn_pb_next(&tt, &h, err)) > 0) {
                    if (h.num == 1 && h.wire == NN_PB_VARINT) vi->elem_type = (int64_t)h.v;
                    if (h.num != 2 || h.wire != NN_PB_LEN) continue;
                    vi->has_shape = 1;
                    vi->shape.ndim = 0;
                    struct nn_pb sr = {h.data, h.data + h.len};
                    struct nn_pb_field d;
                    while ((rc = nn_pb_next(&sr, &d, err)) > 0) {
                        if (d.num != 1 || d.wire != NN_PB_LEN) continue;
                        if (vi->shape.ndim >= NN_MAX_DIMS)
                            return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: value has more than %d dims",
                                            NN_MAX_DIMS);
                        int64_t dv = -1;
                        struct nn_pb dr = {d.data, d.data + d.len};
                        struct nn_pb_field e;
                        while ((rc = nn_pb_next(&dr, &e, err)) > 0)
                            if (e.num == 1 && e.wire == NN_PB_VARINT) dv = (int64_t)e.v;
                        if (rc < 0) return rc;
                        vi->shape.d[vi->shape.ndim++] = dv <= 0 ? -1 : dv;
                    }
                    if (rc < 0) return rc;
                }
                if (rc < 0) return rc;
            }
            if (rc < 0) return rc;
        }
    }
    return rc;
}

/* ---- nodes -------------------------------------------------------------- */

static int parse_attr(const struct pxs_nn_model *m, const uint8_t *msg, size_t len, struct nn_attr *a,
                      struct pxs_err *err) {
    struct nn_pb r = {msg, msg + len};
    struct nn_pb_field f;
    int rc;
    int64_t type = 0;
    int seen = 0;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        switch (f.num) {
        case 1:
            if (f.wire != NN_PB_LEN) return PXS_CORRUPT_BKPT(err, "onnx: bad attribute name");
            if (a->name) break;
            if (f.len > NN_MAX_NAME) return pxs_errf(err, PXS_ELIMIT, "onnx: name too long");
            a->name = pxs_strndup((const char *)f.data, f.len);
            if (!a->name) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
            break;
        case 20: if (f.wire == NN_PB_VARINT) type = (int64_t)f.v; break;
        case 2:
            if (f.wire != NN_PB_I32) return PXS_CORRUPT_BKPT(err, "onnx: bad attribute f");
            a->f = f32_from_bits((uint32_t)f.v);
            seen = seen ? seen : NN_AT_FLOAT;
            break;
        case 3:
            if (f.wire != NN_PB_VARINT) return PXS_CORRUPT_BKPT(err, "onnx: bad attribute i");
            a->i = (int64_t)f.v;
            seen = seen ? seen : NN_AT_INT;
            break;
        case 4:
            if (f.wire != NN_PB_LEN) return PXS_CORRUPT_BKPT(err, "onnx: bad attribute s");
            if (f.len > NN_MAX_NAME) return pxs_errf(err, PXS_ELIMIT, "onnx: attribute string too long");
            pxs_free(a->s);
            a->s = pxs_strndup((const char *)f.data, f.len);
            if (!a->s) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
            seen = seen ? seen : NN_AT_STRING;
            break;
        case 5:
            if (f.wire != NN_PB_LEN) return PXS_CORRUPT_BKPT(err, "onnx: bad attribute t");
            if (a->t) return PXS_CORRUPT_BKPT(err, "onnx: repeated attribute tensor");
            a->t = pxs_calloc(1, sizeof *a->t);
            if (!a->t) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
            a->t->producer = -1;
            rc = parse_tensor(m, f.data, f.len, a->t, 0, err);
            if (rc) return rc;
            seen = seen ? seen : NN_AT_TENSOR;
            break;
        case 7: seen = seen ? seen : NN_AT_FLOATS; break;
        case 8: seen = seen ? seen : NN_AT_INTS; break;
        default: break;
        }
    }
    if (rc < 0) return rc;
    if (!a->name) return PXS_CORRUPT_BKPT(err, "onnx: attribute without a name");
    if (type == 0) type = seen;
    a->type = (int)type;
    if (type == NN_AT_FLOATS) {
        rc = rep_f32(msg, len, 7, &a->floats, &a->n, err);
        if (rc) return rc;
    } else if (type == NN_AT_INTS) {
        rc = rep_i64(msg, len, 8, &a->ints, &a->n, err);
        if (rc) return rc;
    } else if (type == NN_AT_TENSOR && !a->t) {
        return PXS_CORRUPT_BKPT(err, "onnx: tensor attribute without a tensor");
    }
    return PXS_OK;
}

/* Count occurrences of a LEN field. */
static size_t count_field(const uint8_t *msg, size_t len, uint32_t num) {
    struct nn_pb r = {msg, msg + len};
    struct nn_pb_field f;
    size_t n = 0;
    while (nn_pb_next(&r, &f, NULL) > 0)
        if (f.num == num) n++;
    return n;
}

static int parse_node(struct pxs_nn_model *m, const uint8_t *msg, size_t len, struct pxs_err *err) {
    int ni = nn_node_add(m, err);
    if (ni < 0) return ni;
    struct nn_node *n = &m->nodes[ni];
    size_t nin = count_field(msg, len, 1), nout = count_field(msg, len, 2);
    size_t nattr = count_field(msg, len, 5);
    if (nin > NN_MAX_IO || nout > NN_MAX_IO || nattr > NN_MAX_ATTRS)
        return pxs_errf(err, PXS_ELIMIT, "onnx: node with too many inputs/outputs/attributes");
    n->in = pxs_calloc(nin + 1, sizeof(int));
    n->out = pxs_calloc(nout + 1, sizeof(int));
    n->attrs = pxs_calloc(nattr + 1, sizeof *n->attrs);
    if (!n->in || !n->out || !n->attrs) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
    struct nn_pb r = {msg, msg + len};
    struct nn_pb_field f;
    int rc;
    const uint8_t *domain = NULL;
    size_t domain_len = 0;
    /* first pass: name, op_type, domain, attributes */
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.wire != NN_PB_LEN) continue;
        if (f.num == 3 || f.num == 4) {
            if (f.len > NN_MAX_NAME) return pxs_errf(err, PXS_ELIMIT, "onnx: name too long");
            char *s = pxs_strndup((const char *)f.data, f.len);
            if (!s) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
            char **dst = f.num == 3 ? &n->name : &n->op_type;
            pxs_free(*dst);
            *dst = s;
        } else if (f.num == 7) {
            domain = f.data;
            domain_len = f.len;
        } else if (f.num == 5) {
            struct nn_attr *a = &n->attrs[n->n_attrs++];
            rc = parse_attr(m, f.data, f.len, a, err);
            if (rc) return rc;
        }
    }
    if (rc < 0) return rc;
    if (!n->name) {
        n->name = pxs_strdup("");
        if (!n->name) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
    }
    if (!n->op_type || !n->op_type[0]) return pxs_errf(err, PXS_ECORRUPT, "onnx: node '%s' has no op_type", n->name);
    if (domain_len && !(domain_len == 7 && memcmp(domain, "ai.onnx", 7) == 0))
        return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: node '%s': operator '%s' from domain '%.*s' is not supported",
                        n->name, n->op_type, (int)(domain_len > 64 ? 64 : domain_len), (const char *)domain);
    /* second pass: inputs and outputs, by name */
    r.p = msg;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.wire != NN_PB_LEN || (f.num != 1 && f.num != 2)) continue;
        if (f.len > NN_MAX_NAME) return pxs_errf(err, PXS_ELIMIT, "onnx: name too long");
        int vi = -1;
        if (f.len > 0) {
            vi = find_n(m, (const char *)f.data, f.len);
            if (vi < 0) {
                vi = nn_value_add(m, (const char *)f.data, f.len, err);
                if (vi < 0) return vi;
                n = &m->nodes[ni];
            }
        }
        if (f.num == 1) {
            n->in[n->n_in++] = vi;
            if (vi >= 0) m->values[vi].n_consumers++;
        } else {
            if (vi < 0) {
                n->out[n->n_out++] = -1;
                continue;
            }
            struct nn_value *v = &m->values[vi];
            if (v->producer >= 0 || v->data || v->is_input)
                return pxs_errf(err, PXS_ECORRUPT, "onnx: node '%s': output '%s' is defined twice",
                                n->name, v->name);
            v->producer = ni;
            n->out[n->n_out++] = vi;
        }
    }
    return rc;
}

/* ---- graph ----------------------------------------------------------------- */

static int parse_graph(struct pxs_nn_model *m, const uint8_t *msg, size_t len, struct pxs_err *err) {
    struct nn_pb r = {msg, msg + len};
    struct nn_pb_field f;
    int rc;
    /* pass 1: initializers */
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.num == 15) return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: sparse initializers are not supported");
        if (f.num != 5 || f.wire != NN_PB_LEN) continue;
        struct nn_value tmp;
        memset(&tmp, 0, sizeof tmp);
        rc = parse_tensor(m, f.data, f.len, &tmp, 1, err);
        if (rc) {
            nn_value_free_data(&tmp);
            return rc;
        }
        /* name is the TensorProto name field (8); re-read it */
        struct nn_pb tr = {f.data, f.data + f.len};
        struct nn_pb_field g;
        const uint8_t *nm = NULL;
        size_t nl = 0;
        while (nn_pb_next(&tr, &g, NULL) > 0)
            if (g.num == 8 && g.wire == NN_PB_LEN) { nm = g.data; nl = g.len; }
        if (!nm || find_n(m, (const char *)nm, nl) >= 0) {
            nn_value_free_data(&tmp);
            return pxs_errf(err, PXS_ECORRUPT, "onnx: duplicate initializer '%.*s'",
                            (int)(nl > 100 ? 100 : nl), nm ? (const char *)nm : "");
        }
        int vi = nn_value_add(m, (const char *)nm, nl, err);
        if (vi < 0) {
            nn_value_free_data(&tmp);
            return vi;
        }
        struct nn_value *v = &m->values[vi];
        v->dtype = tmp.dtype;
        v->shape = tmp.shape;
        v->data = tmp.data;
        v->nbytes = tmp.nbytes;
        if (v->dtype == NN_DT_F32) m->n_params += v->nbytes / 4;
    }
    if (rc < 0) return rc;
    /* pass 2: inputs */
    m->input = -1;
    r.p = msg;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.num != 11 || f.wire != NN_PB_LEN) continue;
        struct vinfo vi;
        rc = parse_value_info(f.data, f.len, &vi, err);
        if (rc) return rc;
        if (!vi.name || !vi.name_len) return PXS_CORRUPT_BKPT(err, "onnx: graph input without a name");
        if (vi.name_len > NN_MAX_NAME) return pxs_errf(err, PXS_ELIMIT, "onnx: name too long");
        int idx = find_n(m, (const char *)vi.name, vi.name_len);
        if (idx >= 0 && m->values[idx].data) continue; /* initializer listed as input */
        if (idx >= 0) return pxs_errf(err, PXS_ECORRUPT, "onnx: duplicate graph input '%s'", m->values[idx].name);
        if (m->input >= 0)
            return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: models with more than one input are not supported");
        idx = nn_value_add(m, (const char *)vi.name, vi.name_len, err);
        if (idx < 0) return idx;
        struct nn_value *v = &m->values[idx];
        if (vi.elem_type != ONNX_FLOAT)
            return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: input '%s' has type %s, only FLOAT is supported",
                            v->name, onnx_type_name(vi.elem_type));
        if (!vi.has_shape || vi.shape.ndim < 1)
            return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: input '%s' has no shape", v->name);
        for (int i = 1; i < vi.shape.ndim; i++)
            if (vi.shape.d[i] < 0)
                return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: input '%s': only the batch dimension may be dynamic",
                                v->name);
        v->is_input = 1;
        v->dtype = NN_DT_F32;
        v->shape = vi.shape;
        m->input = idx;
        m->fixed_batch = vi.shape.d[0] > 0 ? vi.shape.d[0] : 0;
    }
    if (rc < 0) return rc;
    if (m->input < 0) return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: the graph has no (non-initializer) input");
    /* pass 3: nodes */
    r.p = msg;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.num != 1 || f.wire != NN_PB_LEN) continue;
        rc = parse_node(m, f.data, f.len, err);
        if (rc) return rc;
    }
    if (rc < 0) return rc;
    /* pass 4: outputs */
    size_t nout = count_field(msg, len, 12);
    if (nout == 0) return pxs_errf(err, PXS_ECORRUPT, "onnx: the graph has no outputs");
    if (nout > NN_MAX_IO) return pxs_errf(err, PXS_ELIMIT, "onnx: too many outputs");
    m->outputs = pxs_calloc(nout, sizeof(int));
    if (!m->outputs) return pxs_errf(err, PXS_ENOMEM, "onnx: out of memory");
    r.p = msg;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.num != 12 || f.wire != NN_PB_LEN) continue;
        struct vinfo vi;
        rc = parse_value_info(f.data, f.len, &vi, err);
        if (rc) return rc;
        int idx = vi.name ? find_n(m, (const char *)vi.name, vi.name_len) : -1;
        if (idx < 0)
            return pxs_errf(err, PXS_ECORRUPT, "onnx: graph output '%.*s' is not produced by any node",
                            (int)(vi.name_len > 100 ? 100 : vi.name_len), vi.name ? (const char *)vi.name : "");
        m->values[idx].is_output = 1;
        m->outputs[m->n_outputs++] = idx;
    }
    if (rc < 0) return rc;
    /* every used value must be defined */
    for (int i = 0; i < m->n_values; i++) {
        struct nn_value *v = &m->values[i];
        if (v->producer < 0 && !v->data && !v->is_input)
            return pxs_errf(err, PXS_ECORRUPT, "onnx: value '%s' is used but never defined", v->name);
    }
    m->n_nodes_onnx = m->n_nodes;
    return PXS_OK;
}

int nn_onnx_parse(struct pxs_nn_model *m, const uint8_t *data, size_t len, struct pxs_err *err) {
    struct nn_pb r = {data, data + len};
    struct nn_pb_field f;
    int rc;
    const uint8_t *graph = NULL;
    size_t graph_len = 0;
    int64_t opset = -1;
    while ((rc = nn_pb_next(&r, &f, err)) > 0) {
        if (f.num == 1 && f.wire == NN_PB_VARINT) {
            m->ir_version = (int64_t)f.v;
        } else if (f.num == 7 && f.wire == NN_PB_LEN) {
            if (graph) return pxs_errf(err, PXS_ECORRUPT, "onnx: more than one graph");
            graph = f.data;
            graph_len = f.len;
        } else if (f.num == 8 && f.wire == NN_PB_LEN) {
            struct nn_pb o = {f.data, f.data + f.len};
            struct nn_pb_field g;
            const uint8_t *dom = NULL;
            size_t dl = 0;
            int64_t ver = -1;
            while ((rc = nn_pb_next(&o, &g, err)) > 0) {
                if (g.num == 1 && g.wire == NN_PB_LEN) { dom = g.data; dl = g.len; }
                if (g.num == 2 && g.wire == NN_PB_VARINT) ver = (int64_t)g.v;
            }
            if (rc < 0) return rc;
            if (!dom || dl == 0 || (dl == 7 && memcmp(dom, "ai.onnx", 7) == 0)) opset = ver;
        }
    }
    if (rc < 0) return rc;
    if (!graph) return pxs_errf(err, PXS_ECORRUPT, "onnx: no graph in the model (not an ONNX file?)");
    if (opset < 0) opset = 1;
    if (opset < 6 || opset > 22)
        return pxs_errf(err, PXS_EUNSUPPORTED, "onnx: opset %lld is not supported (6..22)", (long long)opset);
    m->opset = opset;
    return parse_graph(m, graph, graph_len, err);
}
