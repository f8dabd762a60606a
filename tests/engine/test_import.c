/*
 * tests/engine/test_import.c — the bulk import readers (src/engine/import*.c):
 * every format built byte by byte in memory (npy v1/v2/v3 with several
 * dtypes and byte orders, fvecs/ivecs/bvecs, IDX, JSON lines), gzip'd
 * single- and multi-member streams, element conversions and value checks,
 * and the bad files: truncated headers, shapes larger than the data,
 * trailing bytes, rows of different dimensions, wrong magics, damaged and
 * oversized gzip streams.
 */
#include "../test.h"

#include <stdio.h>
#include <zlib.h>

#include "pixseek/engine.h"

struct bytes {
    uint8_t d[8192];
    size_t n;
};

static void put(struct bytes *b, const void *p, size_t n) {
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void put_u32le(struct bytes *b, uint32_t v) {
    uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, t, 4);
}
static void put_u32be(struct bytes *b, uint32_t v) {
    uint8_t t[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, t, 4);
}

/* A .npy file: version major, header dict text, then data. */
static void npy(struct bytes *b, int major, const char *dict, const void *data, size_t n) {
    b->n = 0;
    put(b, "\x93NUMPY", 6);
    uint8_t v[2] = {(uint8_t)major, 0};
    put(b, v, 2);
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict) + 1;
    size_t pad = (64 - (pre + hl) % 64) % 64;
    if (major == 1) {
        uint8_t l[2] = {(uint8_t)(hl + pad), (uint8_t)((hl + pad) >> 8)};
        put(b, l, 2);
    } else {
        put_u32le(b, (uint32_t)(hl + pad));
    }
    put(b, dict, strlen(dict));
    for (size_t i = 0; i < pad; i++) put(b, " ", 1);
    put(b, "\n", 1);
    put(b, data, n);
}

static void gzip(const struct bytes *in, struct bytes *out) {
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)in->d;
    z.avail_in = (uInt)in->n;
    z.next_out = out->d + out->n;
    z.avail_out = (uInt)(sizeof out->d - out->n);
    deflate(&z, Z_FINISH);
    out->n += z.total_out;
    deflateEnd(&z);
}

static int open_b(const struct bytes *b, const char *name, pxs_import_file **f, struct pxs_err *err) {
    pxs_err_clear(err);
    return pxs_import_open_mem(b->d, b->n, name, PXS_IMPORT_AUTO, 1u << 20, f, err);
}

/* Open must fail with code and a message containing what. */
static int open_fails(const struct bytes *b, const char *name, int code, const char *what) {
    pxs_import_file *f = NULL;
    struct pxs_err err;
    int rc = open_b(b, name, &f, &err);
    pxs_import_close(f);
    if (rc != code || !strstr(err.msg, what)) {
        fprintf(stderr, "    open %s: rc %d msg \"%s\" (wanted %d, \"%s\")\n", name, rc, err.msg, code, what);
        return 0;
    }
    return 1;
}

/* Read everything as as; returns rc of the first failing read. */
static int read_all(pxs_import_file *f, enum pxs_import_elem as, void *out, size_t per, size_t *rows,
                    struct pxs_err *err) {
    size_t esz = as == PXS_ELEM_U8 ? 1 : as == PXS_ELEM_F32 ? 4 : 8;
    size_t dim = pxs_import_get_info(f)->dim, n;
    *rows = 0;
    int rc;
    do {
        rc = pxs_import_read(f, as, (char *)out + *rows * dim * esz, per, &n, err);
        *rows += n;
    } while (rc == PXS_OK && n);
    return rc;
}

PXS_TEST(import_npy_versions_and_dtypes) {
    const float v[6] = {1.5f, -2, 3, 4, 5.25f, 6};
    struct bytes b;
    struct pxs_err err;
    for (int major = 1; major <= 3; major++) {
        npy(&b, major, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", v, sizeof v);
        pxs_import_file *f;
        CHECK_EQ_INT(open_b(&b, "a.npy", &f, &err), PXS_OK);
        const struct pxs_import_info *in = pxs_import_get_info(f);
        CHECK_EQ_INT(in->format, PXS_IMPORT_NPY);
        CHECK_EQ_INT(in->rows, 3);
        CHECK_EQ_INT(in->dim, 2);
        CHECK(!strcmp(in->shape, "(3, 2)"));
        float out[6];
        size_t rows;
        CHECK_EQ_INT(read_all(f, PXS_ELEM_F32, out, 2, &rows, &err), PXS_OK); /* batches of 2 rows */
        CHECK_EQ_INT(rows, 3);
        CHECK(!memcmp(out, v, sizeof v));
        pxs_import_close(f);
    }
    /* big-endian float64, N-D flattened, Python 2 long */
    uint8_t be[4 * 8];
    const double dv[4] = {0.5, -1, 1e10, 2};
    for (int i = 0; i < 4; i++) {
        uint64_t u;
        memcpy(&u, &dv[i], 8);
        for (int k = 0; k < 8; k++) be[i * 8 + k] = (uint8_t)(u >> (56 - 8 * k));
    }
    npy(&b, 1, "{\"descr\": \">f8\", \"fortran_order\": False, \"shape\": (1L, 2L, 2L)}", be, sizeof be);
    pxs_import_file *f;
    CHECK_EQ_INT(open_b(&b, "b.npy", &f, &err), PXS_OK);
    CHECK_EQ_INT(pxs_import_get_info(f)->dim, 4);
    double d[4];
    size_t rows;
    CHECK_EQ_INT(read_all(f, PXS_ELEM_F64, d, 8, &rows, &err), PXS_OK);
    CHECK_EQ_INT(rows, 1);
    CHECK(!memcmp(d, dv, sizeof dv));
    pxs_import_close(f);
    /* 1-D int64 labels; int8; uint8 as bytes */
    const int64_t lab[3] = {7, -1, 1LL << 40};
    npy(&b, 1, "{'descr': '<i8', 'fortran_order': True, 'shape': (3,), }", lab, sizeof lab);
    CHECK_EQ_INT(open_b(&b, "l.npy", &f, &err), PXS_OK);
    CHECK(pxs_import_get_info(f)->one_d);
    int64_t li[3];
    CHECK_EQ_INT(read_all(f, PXS_ELEM_I64, li, 100, &rows, &err), PXS_OK);
    CHECK(rows == 3 && li[0] == 7 && li[1] == -1 && li[2] == 1LL << 40);
    pxs_import_close(f);
    const int8_t i8[4] = {-128, 127, 0, 5};
    npy(&b, 1, "{'descr': '|i1', 'fortran_order': False, 'shape': (2, 2), }", i8, 4);
    CHECK_EQ_INT(open_b(&b, "i.npy", &f, &err), PXS_OK);
    float fo[4];
    CHECK_EQ_INT(read_all(f, PXS_ELEM_F32, fo, 1, &rows, &err), PXS_OK);
    CHECK(fo[0] == -128 && fo[1] == 127 && fo[3] == 5);
    pxs_import_close(f);
}

PXS_TEST(import_npy_bad_headers) {
    const float v[4] = {1, 2, 3, 4};
    struct bytes b;
    npy(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", v, sizeof v);
    CHECK(open_fails(&b, "short.npy", PXS_ECORRUPT, "truncated"));            /* shape larger than the data */
    npy(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", v, sizeof v);
    CHECK(open_fails(&b, "long.npy", PXS_ECORRUPT, "trailing data"));
    npy(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", v, sizeof v);
    CHECK(open_fails(&b, "key.npy", PXS_ECORRUPT, "unknown or repeated key"));
    npy(&b, 1, "{'descr': '<f4', 'shape': (2, 2), }", v, sizeof v);
    CHECK(open_fails(&b, "miss.npy", PXS_ECORRUPT, "all required"));
    npy(&b, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", v, sizeof v);
    CHECK(open_fails(&b, "f.npy", PXS_EUNSUPPORTED, "Fortran"));
    npy(&b, 1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", v, 8);
    CHECK(open_fails(&b, "s.npy", PXS_ECORRUPT, "structured"));
    npy(&b, 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", v, 16);
    CHECK(open_fails(&b, "c.npy", PXS_EUNSUPPORTED, "dtype"));
    npy(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", v, 4);
    CHECK(open_fails(&b, "0d.npy", PXS_EINVAL, "0-d"));
    npy(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 2), }", v, 4);
    CHECK(open_fails(&b, "big.npy", PXS_ECORRUPT, "shape must hold"));
    npy(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387903, 2), }", v, 4);
    CHECK(open_fails(&b, "huge.npy", PXS_ECORRUPT, "impossible size"));
    npy(&b, 4, "{}", v, 0);
    CHECK(open_fails(&b, "v4.npy", PXS_EUNSUPPORTED, "version 4.0"));
    /* header length beyond the file */
    npy(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", v, 4);
    b.n = 30;
    CHECK(open_fails(&b, "cut.npy", PXS_ECORRUPT, "ends inside the .npy header"));
    b.n = 9;
    CHECK(open_fails(&b, "cut2.npy", PXS_ECORRUPT, "ends inside the .npy header length"));
}

PXS_TEST(import_value_checks) {
    const float v[4] = {1, 2, NAN, 4};
    struct bytes b;
    struct pxs_err err;
    pxs_import_file *f;
    npy(&b, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", v, sizeof v);
    CHECK_EQ_INT(open_b(&b, "nan.npy", &f, &err), PXS_OK);
    float out[4];
    size_t rows;
    CHECK_EQ_INT(read_all(f, PXS_ELEM_F32, out, 4, &rows, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "row 1, column 0") != NULL);
    pxs_import_close(f);
    const double big[2] = {1e300, 2.5};
    npy(&b, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", big, sizeof big);
    CHECK_EQ_INT(open_b(&b, "big.npy", &f, &err), PXS_OK);
    CHECK_EQ_INT(read_all(f, PXS_ELEM_F32, out, 4, &rows, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "float32 range") != NULL);
    pxs_import_close(f);
    CHECK_EQ_INT(open_b(&b, "big.npy", &f, &err), PXS_OK);
    int64_t iv[2];
    CHECK_EQ_INT(read_all(f, PXS_ELEM_I64, iv, 4, &rows, &err), PXS_EINVAL); /* 1e300 is no int64 */
    pxs_import_close(f);
    CHECK_EQ_INT(open_b(&b, "big.npy", &f, &err), PXS_OK);
    CHECK_EQ_INT(pxs_import_read(f, PXS_ELEM_U8, iv, 1, &rows, &err), PXS_EINVAL); /* not bytes */
    pxs_import_close(f);
}

/* TEXMEX rows: float32 values (esz 4) or bytes (esz 1) r * 10 + i. */
static void vecs(struct bytes *b, int rows, const int *dims, size_t esz) {
    b->n = 0;
    for (int r = 0; r < rows; r++) {
        put_u32le(b, (uint32_t)dims[r]);
        for (int i = 0; i < dims[r]; i++) {
            float x = (float)(r * 10 + i);
            uint8_t u = (uint8_t)(r * 10 + i);
            if (esz == 1) put(b, &u, 1);
            else put(b, &x, 4);
        }
    }
}

PXS_TEST(import_vecs_files) {
    struct bytes b, z;
    struct pxs_err err;
    pxs_import_file *f;
    const int same[3] = {2, 2, 2}, mixed[3] = {2, 3, 2};
    vecs(&b, 3, same, 4);
    CHECK_EQ_INT(open_b(&b, "x.fvecs", &f, &err), PXS_OK);
    CHECK(pxs_import_get_info(f)->rows == 3 && pxs_import_get_info(f)->dim == 2);
    float out[6];
    size_t rows;
    CHECK_EQ_INT(read_all(f, PXS_ELEM_F32, out, 2, &rows, &err), PXS_OK);
    CHECK(rows == 3 && out[0] == 0 && out[3] == 11 && out[5] == 21);
    pxs_import_close(f);
    /* compressed: rows unknown until streamed */
    z.n = 0;
    gzip(&b, &z);
    CHECK_EQ_INT(open_b(&z, "x.fvecs.gz", &f, &err), PXS_OK);
    CHECK(!pxs_import_get_info(f)->rows_known && pxs_import_get_info(f)->compressed);
    CHECK_EQ_INT(read_all(f, PXS_ELEM_F32, out, 2, &rows, &err), PXS_OK);
    CHECK(rows == 3 && out[5] == 21);
    pxs_import_close(f);
    /* rows of different dimensions */
    vecs(&b, 3, mixed, 4);
    CHECK(open_fails(&b, "m.fvecs", PXS_ECORRUPT, "not a multiple of the row size"));
    z.n = 0;
    gzip(&b, &z);
    CHECK_EQ_INT(open_b(&z, "m.fvecs.gz", &f, &err), PXS_OK);
    CHECK_EQ_INT(read_all(f, PXS_ELEM_F32, out, 1, &rows, &err), PXS_ECORRUPT);
    CHECK(strstr(err.msg, "row 1 has dimension 3") != NULL);
    pxs_import_close(f);
    /* bvecs as bytes, ivecs as ints */
    vecs(&b, 3, same, 1);
    CHECK_EQ_INT(open_b(&b, "x.bvecs", &f, &err), PXS_OK);
    uint8_t u[6];
    CHECK_EQ_INT(read_all(f, PXS_ELEM_U8, u, 10, &rows, &err), PXS_OK);
    CHECK(rows == 3 && u[2] == 10 && u[5] == 21);
    pxs_import_close(f);
    b.n = 0;
    put_u32le(&b, 0);
    CHECK(open_fails(&b, "z.ivecs", PXS_ECORRUPT, "dimension 0"));
    b.n = 2;
    CHECK(open_fails(&b, "t.ivecs", PXS_ECORRUPT, "ends inside the first row"));
    b.n = 0;
    CHECK(open_fails(&b, "e.ivecs", PXS_EINVAL, "empty"));
}

static void idx(struct bytes *b, uint8_t type, int nd, const uint32_t *dims, const void *data, size_t n) {
    b->n = 0;
    uint8_t h[4] = {0, 0, type, (uint8_t)nd};
    put(b, h, 4);
    for (int i = 0; i < nd; i++) put_u32be(b, dims[i]);
    put(b, data, n);
}

PXS_TEST(import_idx_files) {
    struct bytes b, z;
    struct pxs_err err;
    pxs_import_file *f;
    const uint8_t px[8] = {0, 255, 3, 4, 5, 6, 7, 8};
    const uint32_t d3[3] = {2, 2, 2}, d1[1] = {8};
    idx(&b, 0x08, 3, d3, px, 8);
    CHECK_EQ_INT(open_b(&b, "train-images-idx3-ubyte", &f, &err), PXS_OK);
    CHECK(pxs_import_get_info(f)->format == PXS_IMPORT_IDX && pxs_import_get_info(f)->dim == 4);
    CHECK(!strcmp(pxs_import_get_info(f)->shape, "(2, 2, 2)"));
    float out[8];
    size_t rows;
    CHECK_EQ_INT(read_all(f, PXS_ELEM_F32, out, 16, &rows, &err), PXS_OK);
    CHECK(rows == 2 && out[1] == 255 && out[7] == 8);
    pxs_import_close(f);
    idx(&b, 0x08, 1, d1, px, 8);
    z.n = 0;
    gzip(&b, &z);
    gzip(&b, &z); /* two gzip members: the file is their concatenation */
    CHECK_EQ_INT(open_b(&z, "labels.gz", &f, &err), PXS_OK);
    CHECK(pxs_import_get_info(f)->one_d && pxs_import_get_info(f)->rows == 8);
    int64_t lab[8];
    CHECK_EQ_INT(read_all(f, PXS_ELEM_I64, lab, 3, &rows, &err), PXS_ECORRUPT); /* second member = trailing data */
    CHECK(strstr(err.msg, "after the last row") != NULL);
    pxs_import_close(f);
    /* big-endian int32 */
    const uint8_t be[8] = {0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 0};
    const uint32_t d2[1] = {2};
    idx(&b, 0x0C, 1, d2, be, 8);
    CHECK_EQ_INT(open_b(&b, "i32-idx1", &f, &err), PXS_OK);
    CHECK_EQ_INT(read_all(f, PXS_ELEM_I64, lab, 3, &rows, &err), PXS_OK);
    CHECK(lab[0] == -2 && lab[1] == 256);
    pxs_import_close(f);
    /* bad files */
    idx(&b, 0x08, 3, d3, px, 7);
    CHECK(open_fails(&b, "short-idx3-ubyte", PXS_ECORRUPT, "truncated"));
    idx(&b, 0x08, 3, d3, px, 8);
    b.d[1] = 1;
    CHECK(open_fails(&b, "magic-idx3-ubyte", PXS_ECORRUPT, "not an IDX file"));
    CHECK(open_fails(&b, "x.dat", PXS_EUNSUPPORTED, "cannot tell the format"));
    b.d[1] = 0;
    b.d[2] = 0x07;
    CHECK_EQ_INT(pxs_import_open_mem(b.d, b.n, "t", PXS_IMPORT_IDX, 0, &f, &err), PXS_ECORRUPT);
    CHECK(strstr(err.msg, "unknown IDX value type") != NULL);
    /* truncated gzip of a good file */
    idx(&b, 0x08, 3, d3, px, 8);
    z.n = 0;
    gzip(&b, &z);
    z.n -= 12;
    CHECK_EQ_INT(open_b(&z, "cut.gz", &f, &err), PXS_OK);
    CHECK_EQ_INT(read_all(f, PXS_ELEM_F32, out, 16, &rows, &err), PXS_ECORRUPT);
    pxs_import_close(f);
}

PXS_TEST(import_gzip_limit) {
    static struct bytes b, z;
    b.n = 0;
    const uint32_t d[2] = {2000, 4};
    static uint8_t zeros[8000];
    idx(&b, 0x08, 2, d, zeros, sizeof zeros);
    z.n = 0;
    gzip(&b, &z);
    pxs_import_file *f;
    struct pxs_err err = {0};
    CHECK_EQ_INT(pxs_import_open_mem(z.d, z.n, "z.gz", PXS_IMPORT_AUTO, 4096, &f, &err), PXS_OK);
    float out[2000 * 4];
    size_t rows;
    CHECK_EQ_INT(read_all(f, PXS_ELEM_F32, out, 2000, &rows, &err), PXS_ELIMIT);
    pxs_import_close(f);
}

PXS_TEST(import_jsonl) {
    struct bytes b = {{0}, 0};
    const char *text = "\xef\xbb\xbf{\"id\":1,\"vector\":[1,2]}\r\n\n  \n{\"id\":2}\n{\"id\":3}";
    put(&b, text, strlen(text));
    pxs_import_file *f;
    struct pxs_err err;
    CHECK_EQ_INT(open_b(&b, "rows.jsonl", &f, &err), PXS_OK);
    const char *line;
    size_t len;
    CHECK_EQ_INT(pxs_import_read_line(f, &line, &len, &err), PXS_OK);
    CHECK(line && !strcmp(line, "{\"id\":1,\"vector\":[1,2]}"));
    CHECK_EQ_INT(pxs_import_skip(f, 1, &err), PXS_OK);
    CHECK_EQ_INT(pxs_import_read_line(f, &line, &len, &err), PXS_OK);
    CHECK(line && !strcmp(line, "{\"id\":3}"));
    CHECK_EQ_INT(pxs_import_read_line(f, &line, &len, &err), PXS_OK);
    CHECK(line == NULL);
    float v;
    size_t rows;
    CHECK_EQ_INT(pxs_import_read(f, PXS_ELEM_F32, &v, 1, &rows, &err), PXS_EINVAL);
    pxs_import_close(f);
    const char *bad[] = {"{\"a\":1}\n{\"a\":\n", "{\"a\":1}\n[1,2]\n", "{\"a\":1} x\n"};
    const char *why[] = {"line 2 is not valid JSON", "line 2 is not one JSON object", "line 1 is not one JSON object"};
    for (int i = 0; i < 3; i++) {
        b.n = 0;
        put(&b, bad[i], strlen(bad[i]));
        CHECK_EQ_INT(open_b(&b, "bad.jsonl", &f, &err), PXS_OK);
        int rc;
        do rc = pxs_import_read_line(f, &line, &len, &err);
        while (rc == PXS_OK && line);
        CHECK_MSG(rc == PXS_EINVAL && strstr(err.msg, why[i]), "case %d: %s", i, err.msg);
        pxs_import_close(f);
    }
    /* detected by content without a name */
    b.n = 0;
    put(&b, "  {\"x\":1}\n", 10);
    CHECK_EQ_INT(open_b(&b, "", &f, &err), PXS_OK);
    CHECK_EQ_INT(pxs_import_get_info(f)->format, PXS_IMPORT_JSONL);
    pxs_import_close(f);
}

PXS_TEST(import_files_on_disk) {
    char path[4200];
    snprintf(path, sizeof path, "%s/v.fvecs", pxs_test_tmpdir());
    struct bytes b;
    const int same[2] = {3, 3};
    vecs(&b, 2, same, 4);
    FILE *fp = fopen(path, "wb");
    CHECK(fp);
    fwrite(b.d, 1, b.n, fp);
    fclose(fp);
    pxs_import_file *f;
    struct pxs_err err = {0};
    CHECK_EQ_INT(pxs_import_open(path, PXS_IMPORT_AUTO, &f, &err), PXS_OK);
    CHECK_EQ_INT(pxs_import_skip(f, 1, &err), PXS_OK);
    float out[3];
    size_t rows;
    CHECK_EQ_INT(pxs_import_read(f, PXS_ELEM_F32, out, 5, &rows, &err), PXS_OK);
    CHECK(rows == 1 && out[0] == 10 && out[2] == 12);
    CHECK_EQ_INT(pxs_import_skip(f, 1, &err), PXS_ECORRUPT);
    pxs_import_close(f);
    pxs_err_clear(&err);
    snprintf(path, sizeof path, "%s/missing.npy", pxs_test_tmpdir());
    CHECK_EQ_INT(pxs_import_open(path, PXS_IMPORT_AUTO, &f, &err), PXS_ENOTFOUND);
    CHECK_EQ_INT(pxs_import_open(pxs_test_tmpdir(), PXS_IMPORT_AUTO, &f, &err), PXS_EINVAL);
}
