/*
 * cmd_import.c — `pixseek import COLLECTION FILE...`: bulk-load vectors
 * (.npy, .fvecs/.bvecs/.ivecs, IDX, optionally gzip'd) with primary keys
 * (sequential or from a file) and scalar columns (--field NAME=FILE), or
 * Milvus row objects from JSON lines, into a vector collection.
 *
 * Consistency: every input file is read once before anything is written
 * (headers, sizes, values, row counts agreeing across files), so a bad
 * file imports nothing. Rows are then committed in batches (each batch
 * atomic and durable); if the engine refuses a batch (e.g. a key already
 * present) or the run is interrupted, the rows before it stay, and the
 * message says which --from-row resumes. Memory is bounded by the batch.
 */
#include "coll_cli.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char import_help[] =
    "usage: pixseek import [options] COLLECTION FILE...\n"
    "\n"
    "Load vectors into a collection. FILEs (concatenated, in order) are .npy\n"
    "(float32/float64/uint8/int, 2-D C order), .fvecs / .bvecs / .ivecs, IDX\n"
    "(e.g. train-images-idx3-ubyte: 28x28 images become 784 values), or JSON lines\n"
    "(.jsonl: one Milvus row object per line, with its own keys and fields);\n"
    "any of them may be gzip-compressed (.gz).\n"
    "\n"
    "options:\n"
    "  --ids seq|FILE      primary keys: sequential (default; from --id-start) or a\n"
    "                      1-D integer file (.npy, idx1, .ivecs with dim 1)\n"
    "  --id-start N        first sequential key (default 0)\n"
    "  --field NAME=FILE   a scalar column from a 1-D numeric file (e.g.\n"
    "                      label=train-labels-idx1-ubyte.gz), repeatable\n"
    "  --partition P       insert into partition P (default _default)\n"
    "  --upsert            replace rows whose keys exist instead of failing\n"
    "  --batch N           rows per atomic commit (default: about 4 MiB of vectors)\n"
    "  --from-row N        skip the first N input rows (resume a stopped import)\n"
    "  --format F          npy | fvecs | ivecs | bvecs | idx | jsonl (default: detect)\n"
    "  --no-check          skip the validation pass (faster; a bad file may then\n"
    "                      stop the import half-way)\n"
    "  --create            create the collection if missing, from the file's\n"
    "                      dimension (key \"id\", vector \"vector\", --field columns\n"
    "                      typed Int64 or Double), with:\n"
    INDEX_HELP
    "  --auto-id           (with --create) generate keys instead of --ids\n"
    "  --binary            (with --create) BinaryVector: rows of bytes, dim = 8 x bytes\n"
    "  --vector-field K    (JSON lines with --create) key holding the vector (default vector)\n"
    "  --data DIR          data directory (default $PIXSEEK_DATA or ./pixseek-data)\n"
    "  --json              print a JSON summary on stdout\n"
    "  --quiet             no progress output\n"
    "  -h, --help          this help\n"
    "\n"
    "Progress: a bar on a terminal, plain lines otherwise.\n"
    "example (Fashion-MNIST):\n"
    "  D=/usr/share/datasets/fashion-mnist\n"
    "  pixseek import --create --metric L2 --index HNSW --param M=16 \\\n"
    "      --field label=$D/train-labels-idx1-ubyte.gz fmnist $D/train-images-idx3-ubyte.gz\n";

#define MAX_COLUMNS 32
#define BATCH_TARGET_BYTES (4u << 20)
#define JSONL_BATCH_BYTES (32u << 20)

struct column {
    const char *name, *path;
    pxs_import_file *f;
    bool as_int;   /* integer values (else double) */
    bool as_bool;
    int64_t *ibuf;
    double *dbuf;
};

struct import {
    const char *coll;
    char **files;
    int nfiles;
    enum pxs_import_format format;
    const char *ids_path; /* NULL = sequential */
    int64_t id_start;
    uint64_t from_row;
    const char *partition;
    bool upsert, check, create, auto_id, binary, json, quiet, tty;
    const char *vector_field;
    const char *data_dir;
    size_t batch;
    struct index_opts ix;
    struct column cols[MAX_COLUMNS];
    size_t ncols;

    pxs_engine *engine;
    struct coll_info ci;
    bool jsonl;
    size_t file_dim;      /* values per row of the vector files */
    uint64_t total_rows;  /* input rows (after the check pass, else 0 if unknown) */
    uint64_t committed;   /* rows committed by this run */
    double t0, last_draw;
};

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static int open_input(const char *path, enum pxs_import_format fmt, pxs_import_file **f) {
    struct pxs_err err;
    pxs_err_clear(&err);
    int rc = pxs_import_open(path, fmt, f, &err);
    if (rc != PXS_OK) cli_error("%s", pxs_err_message(&err, rc));
    return rc;
}

static int report(struct pxs_err *err, int rc) {
    cli_error("%s", pxs_err_message(err, rc));
    return rc;
}

/* ---- validation pass ---- */

/* Read a whole numeric file once (values checked); *rows counted. */
static int scan_numeric(const char *path, enum pxs_import_format fmt, enum pxs_import_elem as, uint64_t *rows) {
    pxs_import_file *f;
    int rc = open_input(path, fmt, &f);
    if (rc != PXS_OK) return rc;
    const struct pxs_import_info *in = pxs_import_get_info(f);
    size_t per = in->dim ? (BATCH_TARGET_BYTES / 8) / in->dim : 1;
    if (per < 1) per = 1;
    void *buf = pxs_mallocarray(per * in->dim, 8);
    struct pxs_err err;
    pxs_err_clear(&err);
    *rows = 0;
    size_t n = 0;
    if (!buf) rc = pxs_errf(&err, PXS_ENOMEM, "out of memory");
    do {
        if (rc == PXS_OK) rc = pxs_import_read(f, as, buf, per, &n, &err);
        *rows += n;
    } while (rc == PXS_OK && n);
    if (rc != PXS_OK) report(&err, rc);
    pxs_free(buf);
    pxs_import_close(f);
    return rc;
}

static int scan_jsonl(const char *path, uint64_t *rows) {
    pxs_import_file *f;
    int rc = open_input(path, PXS_IMPORT_JSONL, &f);
    if (rc != PXS_OK) return rc;
    struct pxs_err err;
    pxs_err_clear(&err);
    const char *line;
    size_t len;
    *rows = 0;
    while ((rc = pxs_import_read_line(f, &line, &len, &err)) == PXS_OK && line) (*rows)++;
    if (rc != PXS_OK) report(&err, rc);
    pxs_import_close(f);
    return rc;
}

/* ---- collection ---- */

static enum pxs_import_elem vector_elem(const struct import *im) { return im->ci.binary ? PXS_ELEM_U8 : PXS_ELEM_F32; }

/* The dimension of JSON lines: length of the first row's vector. */
static int jsonl_dim(struct import *im, size_t *dim, bool *has_id) {
    pxs_import_file *f;
    int rc = open_input(im->files[0], PXS_IMPORT_JSONL, &f);
    if (rc != PXS_OK) return rc;
    struct pxs_err err;
    pxs_err_clear(&err);
    const char *line;
    size_t len;
    rc = pxs_import_read_line(f, &line, &len, &err);
    if (rc != PXS_OK) {
        report(&err, rc);
    } else if (!line) {
        cli_error("%s has no rows", im->files[0]);
        rc = PXS_EINVAL;
    } else {
        cJSON *row = cJSON_Parse(line);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, im->vector_field);
        if (!cJSON_IsArray(v) || !cJSON_GetArraySize(v)) {
            cli_error("%s: the first row has no \"%s\" array to take the dimension from (--vector-field)",
                      im->files[0], im->vector_field);
            rc = PXS_EINVAL;
        } else {
            *dim = (size_t)cJSON_GetArraySize(v);
            *has_id = cJSON_GetObjectItemCaseSensitive(row, "id") != NULL;
        }
        cJSON_Delete(row);
    }
    pxs_import_close(f);
    return rc;
}

static int load_collection(struct import *im, bool *missing) {
    struct pxs_err err;
    pxs_err_clear(&err);
    coll_info_free(&im->ci);
    int rc = coll_info_get(im->engine, im->coll, &im->ci, &err);
    *missing = rc == PXS_ENOTFOUND;
    if (rc == PXS_ENOTFOUND && im->create) return PXS_OK;
    if (rc == PXS_ENOTFOUND) {
        cli_error("collection %s does not exist (add --create, or run 'pixseek collection create %s --dim D')",
                  im->coll, im->coll);
        return rc;
    }
    if (rc != PXS_OK) report(&err, rc);
    return rc;
}

static int create_collection(struct import *im) {
    const char *specs[MAX_COLUMNS];
    char text[MAX_COLUMNS][300];
    size_t dim = im->file_dim;
    bool auto_id = im->auto_id;
    if (im->jsonl) {
        bool has_id = false;
        int rc = jsonl_dim(im, &dim, &has_id);
        if (rc != PXS_OK) return rc;
        auto_id = auto_id || !has_id;
    }
    for (size_t i = 0; i < im->ncols; i++) {
        snprintf(text[i], sizeof text[i], "%s:%s", im->cols[i].name, im->cols[i].as_int ? "Int64" : "Double");
        specs[i] = text[i];
    }
    if (im->binary) dim *= 8;
    int st = coll_create_simple(im->engine, im->coll, dim, im->binary, auto_id, &im->ix, specs, im->ncols);
    if (st == EXIT_OK && !im->quiet && !im->json)
        fprintf(stderr, "created collection %s (dim %zu%s)\n", im->coll, dim, auto_id ? ", auto ids" : "");
    return st == EXIT_OK ? PXS_OK : PXS_EINVAL;
}

/* ---- progress ---- */

static void progress(struct import *im, bool final) {
    if (im->quiet || im->json) return;
    double now = pxs_now_seconds();
    uint64_t done = im->committed, total = im->total_rows > im->from_row ? im->total_rows - im->from_row : 0;
    double el = now - im->t0, rate = el > 0 ? (double)done / el : 0;
    if (im->tty) {
        if (!final && now - im->last_draw < 0.1) return;
        im->last_draw = now;
        int width = 30, filled = total ? (int)((double)done / (double)total * width) : 0;
        char bar[40];
        for (int i = 0; i < width; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
        bar[width] = '\0';
        double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
        fprintf(stderr, "\r[%s] %llu/%llu rows %3.0f%%  %.0f rows/s  ETA %.0fs \x1b[K", bar,
                (unsigned long long)done, (unsigned long long)total, total ? 100.0 * (double)done / (double)total : 0,
                rate, eta);
        if (final) fputc('\n', stderr);
    } else if (final || now - im->last_draw >= 5.0) {
        im->last_draw = now;
        fprintf(stderr, "imported %llu/%llu rows (%.0f rows/s)\n", (unsigned long long)done,
                (unsigned long long)total, rate);
    }
}

/* ---- streaming ---- */

static int column_read(struct import *im, struct column *c, size_t n, struct pxs_err *err) {
    size_t got = 0;
    int rc = pxs_import_read(c->f, c->as_int ? PXS_ELEM_I64 : PXS_ELEM_F64, c->as_int ? (void *)c->ibuf : (void *)c->dbuf,
                             n, &got, err);
    if (rc == PXS_OK && got != n)
        rc = pxs_errf(err, PXS_EINVAL, "%s has fewer rows than the vectors", c->path);
    for (size_t i = 0; rc == PXS_OK && c->as_bool && i < n; i++)
        if (c->ibuf[i] != 0 && c->ibuf[i] != 1)
            rc = pxs_errf(err, PXS_EINVAL, "%s: row %llu: %lld is not a Bool (0 or 1)", c->path,
                          (unsigned long long)(pxs_import_rows_read(c->f) - n + i), (long long)c->ibuf[i]);
    (void)im;
    return rc;
}

static int commit_numeric(struct import *im, const void *vecs, size_t n, const int64_t *ids, struct pxs_buf *sj,
                          size_t *off, const char **rows_json, struct pxs_err *err) {
    int rc = PXS_OK;
    if (im->ncols) { /* offsets first, pointers once the buffer stops moving */
        pxs_buf_reset(sj);
        for (size_t r = 0; rc == PXS_OK && r < n; r++) {
            off[r] = sj->len;
            rc = pxs_buf_append(sj, "{", 1);
            for (size_t i = 0; rc == PXS_OK && i < im->ncols; i++) {
                const struct column *c = &im->cols[i];
                rc = pxs_buf_appendf(sj, "%s", i ? "," : "");
                if (rc == PXS_OK) rc = jb_str(sj, c->name);
                if (rc != PXS_OK) break;
                if (c->as_bool) rc = pxs_buf_appendf(sj, ":%s", c->ibuf[r] ? "true" : "false");
                else if (c->as_int) rc = pxs_buf_appendf(sj, ":%lld", (long long)c->ibuf[r]);
                else rc = pxs_buf_appendf(sj, ":%.17g", c->dbuf[r]);
            }
            if (rc == PXS_OK) rc = pxs_buf_append(sj, "}", 2); /* with the NUL: rows are C strings */
        }
        if (rc != PXS_OK) return pxs_errf(err, PXS_ENOMEM, "out of memory");
        for (size_t r = 0; r < n; r++) rows_json[r] = sj->data + off[r];
    }
    return pxs_coll_insert_columns(im->engine, im->coll, im->partition, n, ids, vecs,
                                   im->ncols ? (const char *const *)rows_json : NULL, im->upsert, 0, NULL, err);
}

static int stream_numeric(struct import *im, struct pxs_err *err) {
    size_t dim = im->file_dim, bytes_per = im->ci.binary ? dim : dim * sizeof(float);
    size_t batch = im->batch ? im->batch : (BATCH_TARGET_BYTES / bytes_per ? BATCH_TARGET_BYTES / bytes_per : 1);
    if (batch > 100000) batch = 100000;
    void *vecs = pxs_mallocarray(batch, bytes_per);
    int64_t *ids = pxs_mallocarray(batch, sizeof *ids);
    const char **rows_json = pxs_mallocarray(batch, sizeof *rows_json);
    size_t *offsets = pxs_mallocarray(batch, sizeof *offsets);
    struct pxs_buf sj;
    pxs_buf_init(&sj, SIZE_MAX);
    int rc = vecs && ids && rows_json && offsets ? PXS_OK : pxs_errf(err, PXS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == PXS_OK && i < im->ncols; i++) {
        struct column *c = &im->cols[i];
        if (c->as_int) c->ibuf = pxs_mallocarray(batch, sizeof *c->ibuf);
        else c->dbuf = pxs_mallocarray(batch, sizeof *c->dbuf);
        if (!c->ibuf && !c->dbuf) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
        if (rc == PXS_OK) rc = pxs_import_open(c->path, PXS_IMPORT_AUTO, &c->f, err);
        if (rc == PXS_OK) rc = pxs_import_skip(c->f, im->from_row, err);
    }
    pxs_import_file *idf = NULL;
    if (rc == PXS_OK && im->ids_path) {
        rc = pxs_import_open(im->ids_path, PXS_IMPORT_AUTO, &idf, err);
        if (rc == PXS_OK) rc = pxs_import_skip(idf, im->from_row, err);
    }
    uint64_t row = 0; /* global input row of the next batch */
    uint64_t skip = im->from_row;
    for (int fi = 0; rc == PXS_OK && fi < im->nfiles && !interrupted; fi++) {
        pxs_import_file *f = NULL;
        rc = pxs_import_open(im->files[fi], im->format, &f, err);
        if (rc == PXS_OK && pxs_import_get_info(f)->dim != dim)
            rc = pxs_errf(err, PXS_EINVAL, "%s has %zu values per row, %s has %zu", im->files[fi],
                          pxs_import_get_info(f)->dim, im->files[0], dim);
        while (rc == PXS_OK && skip) { /* --from-row: whole files, then part of one */
            size_t n = 0;
            rc = pxs_import_read(f, vector_elem(im), vecs, skip < batch ? (size_t)skip : batch, &n, err);
            if (!n) break;
            skip -= n;
            row += n;
        }
        while (rc == PXS_OK && !interrupted) {
            size_t n = 0;
            rc = pxs_import_read(f, vector_elem(im), vecs, batch, &n, err);
            if (rc != PXS_OK || !n) break;
            if (idf) {
                size_t got = 0;
                rc = pxs_import_read(idf, PXS_ELEM_I64, ids, n, &got, err);
                if (rc == PXS_OK && got != n)
                    rc = pxs_errf(err, PXS_EINVAL, "%s has fewer rows than the vectors", im->ids_path);
            } else {
                for (size_t i = 0; i < n; i++) ids[i] = im->id_start + (int64_t)(row + i);
            }
            for (size_t i = 0; rc == PXS_OK && i < im->ncols; i++) rc = column_read(im, &im->cols[i], n, err);
            bool keys = im->ci.pk_int && !im->ci.auto_id;
            if (rc == PXS_OK) rc = commit_numeric(im, vecs, n, keys ? ids : NULL, &sj, offsets, rows_json, err);
            if (rc != PXS_OK) break;
            row += n;
            im->committed += n;
            progress(im, false);
        }
        pxs_import_close(f);
    }
    for (size_t i = 0; i < im->ncols; i++) {
        pxs_import_close(im->cols[i].f);
        im->cols[i].f = NULL;
        pxs_free(im->cols[i].ibuf);
        pxs_free(im->cols[i].dbuf);
    }
    pxs_import_close(idf);
    pxs_buf_free(&sj);
    pxs_free(vecs);
    pxs_free(ids);
    pxs_free(rows_json);
    pxs_free(offsets);
    return rc;
}

static int flush_jsonl(struct import *im, struct pxs_buf *req, size_t n, struct pxs_err *err) {
    if (!n) return PXS_OK;
    int rc = pxs_buf_append(req, "]}", 2);
    if (rc == PXS_OK) rc = (im->upsert ? pxs_coll_upsert : pxs_coll_insert)(im->engine, req->data, 0, NULL, err);
    else rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    if (rc == PXS_OK) {
        im->committed += n;
        progress(im, false);
    }
    return rc;
}

static int jsonl_request_start(struct import *im, struct pxs_buf *req) {
    pxs_buf_reset(req);
    int rc = pxs_buf_append(req, "{\"collectionName\":", 18);
    if (rc == PXS_OK) rc = jb_str(req, im->coll);
    if (rc == PXS_OK && im->partition) {
        rc = pxs_buf_append(req, ",\"partitionName\":", 17);
        if (rc == PXS_OK) rc = jb_str(req, im->partition);
    }
    return rc == PXS_OK ? pxs_buf_append(req, ",\"data\":[", 9) : rc;
}

static int stream_jsonl(struct import *im, struct pxs_err *err) {
    size_t batch = im->batch ? im->batch : 1000;
    struct pxs_buf req;
    pxs_buf_init(&req, SIZE_MAX);
    int rc = jsonl_request_start(im, &req) == PXS_OK ? PXS_OK : pxs_errf(err, PXS_ENOMEM, "out of memory");
    size_t n = 0;
    uint64_t skip = im->from_row;
    for (int fi = 0; rc == PXS_OK && fi < im->nfiles && !interrupted; fi++) {
        pxs_import_file *f = NULL;
        rc = pxs_import_open(im->files[fi], PXS_IMPORT_JSONL, &f, err);
        while (rc == PXS_OK && !interrupted) {
            const char *line;
            size_t len;
            rc = pxs_import_read_line(f, &line, &len, err);
            if (rc != PXS_OK || !line) break;
            if (skip) {
                skip--;
                continue;
            }
            if (n && pxs_buf_append(&req, ",", 1) != PXS_OK) rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
            if (rc == PXS_OK && pxs_buf_append(&req, line, len) != PXS_OK)
                rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
            n++;
            if (rc == PXS_OK && (n >= batch || req.len >= JSONL_BATCH_BYTES)) {
                rc = flush_jsonl(im, &req, n, err);
                n = 0;
                if (rc == PXS_OK && jsonl_request_start(im, &req) != PXS_OK)
                    rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
            }
        }
        pxs_import_close(f);
    }
    if (rc == PXS_OK && !interrupted) rc = flush_jsonl(im, &req, n, err);
    pxs_buf_free(&req);
    return rc;
}

/* ---- checks before writing ---- */

static int check_inputs(struct import *im) {
    /* Kinds and dimensions from the headers. */
    for (int i = 0; i < im->nfiles; i++) {
        pxs_import_file *f;
        if (open_input(im->files[i], im->format, &f) != PXS_OK) return EXIT_FAILURE_FATAL;
        const struct pxs_import_info *in = pxs_import_get_info(f);
        bool jl = in->format == PXS_IMPORT_JSONL;
        size_t dim = in->dim;
        pxs_import_close(f);
        if (i == 0) {
            im->jsonl = jl;
            im->file_dim = dim;
        } else if (jl != im->jsonl || dim != im->file_dim) {
            cli_error("%s does not match %s (all files must be JSON lines, or vectors of the same dimension)",
                      im->files[i], im->files[0]);
            return EXIT_USAGE;
        }
    }
    if (im->jsonl && (im->ncols || im->ids_path)) {
        cli_error("--field and --ids apply to vector files; JSON lines carry their keys and fields in each row");
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < im->ncols; i++) {
        pxs_import_file *f;
        if (open_input(im->cols[i].path, PXS_IMPORT_AUTO, &f) != PXS_OK) return EXIT_FAILURE_FATAL;
        const struct pxs_import_info *in = pxs_import_get_info(f);
        bool ok = in->format != PXS_IMPORT_JSONL && in->dim == 1;
        im->cols[i].as_int = in->elem != PXS_ELEM_F32 && in->elem != PXS_ELEM_F64;
        pxs_import_close(f);
        if (!ok) {
            cli_error("--field %s=%s: a column file needs one value per row (1-D)", im->cols[i].name, im->cols[i].path);
            return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

/* Types of the --field columns in the collection's schema. */
static int match_columns(struct import *im) {
    for (size_t i = 0; i < im->ncols; i++) {
        struct column *c = &im->cols[i];
        const char *t = coll_field_type(&im->ci, c->name);
        if (!t) {
            bool dynamic = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(im->ci.describe, "enableDynamicField"));
            if (!dynamic) {
                cli_error("collection %s has no field %s (and no dynamic field)", im->coll, c->name);
                return EXIT_FAILURE_FATAL;
            }
            continue; /* kept in the dynamic field, typed by the file */
        }
        if (!strcmp(t, "Bool")) {
            c->as_int = c->as_bool = true;
        } else if (!strncmp(t, "Int", 3)) {
            c->as_int = true;
        } else if (!strcmp(t, "Float") || !strcmp(t, "Double")) {
            c->as_int = false;
        } else {
            cli_error("field %s of %s is %s: a numeric column file can fill only numeric or Bool fields", c->name,
                      im->coll, t);
            return EXIT_FAILURE_FATAL;
        }
        if (!strcmp(c->name, im->ci.pk) || !strcmp(c->name, im->ci.vec)) {
            cli_error("--field %s: that is the %s; use %s", c->name, !strcmp(c->name, im->ci.pk) ? "primary key" : "vector field",
                      !strcmp(c->name, im->ci.pk) ? "--ids FILE" : "the FILE arguments");
            return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

static int check_against_collection(struct import *im) {
    if (im->jsonl) return EXIT_OK; /* the engine checks each row */
    size_t want = im->ci.binary ? im->ci.dim / 8 : im->ci.dim;
    if (im->file_dim != want) {
        cli_error("%s has %zu values per row but collection %s has %s vectors of dim %zu%s", im->files[0],
                  im->file_dim, im->coll, im->ci.binary ? "binary" : "float", im->ci.dim,
                  im->ci.binary ? " (bits: rows must hold dim/8 bytes)" : "");
        return EXIT_FAILURE_FATAL;
    }
    if (!im->ci.pk_int) {
        cli_error("collection %s has a VarChar primary key: import JSON lines with the keys in the rows", im->coll);
        return EXIT_FAILURE_FATAL;
    }
    if (im->ci.auto_id && im->ids_path) {
        cli_error("collection %s generates its keys (autoId): drop --ids", im->coll);
        return EXIT_USAGE;
    }
    return match_columns(im);
}

static int validation_pass(struct import *im) {
    uint64_t total = 0, n;
    for (int i = 0; i < im->nfiles; i++) {
        int rc = im->jsonl ? scan_jsonl(im->files[i], &n)
                           : scan_numeric(im->files[i], im->format, im->binary || im->ci.binary ? PXS_ELEM_U8 : PXS_ELEM_F32, &n);
        if (rc != PXS_OK) return EXIT_FAILURE_FATAL;
        total += n;
    }
    if (total == 0) {
        cli_error("nothing to import: the files hold no rows");
        return EXIT_FAILURE_FATAL;
    }
    for (size_t i = 0; i <= im->ncols; i++) {
        const char *path = i < im->ncols ? im->cols[i].path : im->ids_path;
        if (!path) continue;
        bool as_int = i == im->ncols || im->cols[i].as_int;
        if (scan_numeric(path, PXS_IMPORT_AUTO, as_int ? PXS_ELEM_I64 : PXS_ELEM_F64, &n) != PXS_OK)
            return EXIT_FAILURE_FATAL;
        if (n != total) {
            cli_error("%s has %llu rows but the vectors have %llu", path, (unsigned long long)n,
                      (unsigned long long)total);
            return EXIT_FAILURE_FATAL;
        }
    }
    if (im->from_row >= total) {
        cli_error("--from-row %llu: the input has only %llu rows", (unsigned long long)im->from_row,
                  (unsigned long long)total);
        return EXIT_USAGE;
    }
    im->total_rows = total;
    return EXIT_OK;
}

static int parse_args(int argc, char **argv, struct import *im) {
    static const struct option lo[] = {INDEX_OPTIONS,
                                       {"ids", required_argument, 0, 'i'},
                                       {"id-start", required_argument, 0, 'S'},
                                       {"field", required_argument, 0, 'f'},
                                       {"partition", required_argument, 0, 'p'},
                                       {"upsert", no_argument, 0, 'u'},
                                       {"batch", required_argument, 0, 'b'},
                                       {"from-row", required_argument, 0, 'r'},
                                       {"format", required_argument, 0, 'F'},
                                       {"no-check", no_argument, 0, 'n'},
                                       {"create", no_argument, 0, 'c'},
                                       {"auto-id", no_argument, 0, 'A'},
                                       {"binary", no_argument, 0, 'B'},
                                       {"vector-field", required_argument, 0, 'V'},
                                       {"data", required_argument, 0, 'd'},
                                       {"json", no_argument, 0, 'j'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    int c, m;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", lo, NULL)) != -1) {
        if ((m = index_option(c, optarg, &im->ix)) != 0) {
            if (m < 0) return EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'i': im->ids_path = strcmp(optarg, "seq") ? optarg : NULL; break;
        case 'S': {
            char *end;
            long long v = strtoll(optarg, &end, 10);
            if (!optarg[0] || *end) {
                cli_error("--id-start expects an integer, got \"%s\"", optarg);
                return EXIT_USAGE;
            }
            im->id_start = v;
            break;
        }
        case 'f': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1] || im->ncols == MAX_COLUMNS) {
                cli_error("--field expects NAME=FILE (e.g. label=labels.npy), got \"%s\"", optarg);
                return EXIT_USAGE;
            }
            *eq = '\0';
            im->cols[im->ncols].name = optarg;
            im->cols[im->ncols++].path = eq + 1;
            break;
        }
        case 'p': im->partition = optarg; break;
        case 'u': im->upsert = true; break;
        case 'b': {
            long v = cli_parse_long("--batch", optarg, 1, 100000);
            if (v < 0) return EXIT_USAGE;
            im->batch = (size_t)v;
            break;
        }
        case 'r': {
            long v = cli_parse_long("--from-row", optarg, 0, 0x7fffffffffffffffL);
            if (v < 0) return EXIT_USAGE;
            im->from_row = (uint64_t)v;
            break;
        }
        case 'F': {
            static const enum pxs_import_format fmts[] = {PXS_IMPORT_NPY, PXS_IMPORT_FVECS, PXS_IMPORT_IVECS,
                                                          PXS_IMPORT_BVECS, PXS_IMPORT_IDX, PXS_IMPORT_JSONL};
            im->format = PXS_IMPORT_AUTO;
            for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++)
                if (!strcmp(optarg, pxs_import_format_name(fmts[i]))) im->format = fmts[i];
            if (im->format == PXS_IMPORT_AUTO) {
                cli_error("--format expects npy, fvecs, ivecs, bvecs, idx or jsonl, got \"%s\"", optarg);
                return EXIT_USAGE;
            }
            break;
        }
        case 'n': im->check = false; break;
        case 'c': im->create = true; break;
        case 'A': im->auto_id = true; break;
        case 'B': im->binary = true; break;
        case 'V': im->vector_field = optarg; break;
        case 'd': im->data_dir = optarg; break;
        case 'j': im->json = true; break;
        case 'q': im->quiet = true; break;
        case 'h': fputs(import_help, stdout); return -1;
        default: fputs(import_help, stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind < 2) {
        cli_error("import needs a COLLECTION and at least one FILE (see 'pixseek import --help')");
        return EXIT_USAGE;
    }
    im->coll = argv[optind];
    im->files = argv + optind + 1;
    im->nfiles = argc - optind - 1;
    return EXIT_OK;
}

static void summary(struct import *im, int status, const struct pxs_err *err, int rc) {
    double secs = pxs_now_seconds() - im->t0;
    double rate = secs > 0 ? (double)im->committed / secs : 0;
    uint64_t resume = im->from_row + im->committed;
    if (im->json) {
        printf("{\"event\":\"summary\",\"collection\":");
        cli_json_string(stdout, im->coll);
        printf(",\"rows\":%llu,\"files\":%d,\"seconds\":%.3f,\"rows_per_s\":%.1f,\"exit\":%d",
               (unsigned long long)im->committed, im->nfiles, secs, rate, status);
        if (status != EXIT_OK) {
            printf(",\"error\":");
            cli_json_string(stdout, interrupted ? "interrupted" : pxs_err_message(err, rc));
            printf(",\"resume_from_row\":%llu", (unsigned long long)resume);
        }
        puts("}");
        return;
    }
    if (status != EXIT_OK) {
        if (im->committed)
            fprintf(stderr,
                    "%llu rows were committed (input rows %llu..%llu); after fixing the cause, resume with "
                    "--from-row %llu\n",
                    (unsigned long long)im->committed, (unsigned long long)im->from_row,
                    (unsigned long long)(resume - 1), (unsigned long long)resume);
        else
            fprintf(stderr, "nothing was imported\n");
        return;
    }
    if (!im->quiet)
        fprintf(stderr, "imported %llu rows into %s in %.2f s (%.0f rows/s)\n", (unsigned long long)im->committed,
                im->coll, secs, rate);
}

int cmd_import(int argc, char **argv) {
    struct import im = {.check = true, .vector_field = "vector", .data_dir = cli_default_data_dir()};
    int st = parse_args(argc, argv, &im);
    if (st != EXIT_OK) return st < 0 ? EXIT_OK : st;
    im.tty = isatty(STDERR_FILENO) && !im.json && !im.quiet;
    if ((st = check_inputs(&im)) != EXIT_OK) return st;
    im.engine = cli_open_engine(im.data_dir, 0, NULL);
    if (!im.engine) return EXIT_FAILURE_FATAL;
    bool missing = false;
    struct pxs_err err;
    pxs_err_clear(&err);
    int rc = PXS_OK;
    st = load_collection(&im, &missing) == PXS_OK ? EXIT_OK : EXIT_FAILURE_FATAL;
    if (st == EXIT_OK && !missing) st = check_against_collection(&im);
    if (st == EXIT_OK && im.check) {
        if (!im.quiet && !im.json) fprintf(stderr, "checking %d file(s)...\n", im.nfiles);
        st = validation_pass(&im);
    }
    if (st == EXIT_OK && missing) {
        st = create_collection(&im) == PXS_OK ? EXIT_OK : EXIT_FAILURE_FATAL;
        if (st == EXIT_OK) st = load_collection(&im, &missing) == PXS_OK ? EXIT_OK : EXIT_FAILURE_FATAL;
        if (st == EXIT_OK) st = check_against_collection(&im);
    }
    if (st == EXIT_OK) {
        signal(SIGINT, on_sigint);
        signal(SIGTERM, on_sigint);
        im.t0 = pxs_now_seconds();
        im.last_draw = im.t0;
        rc = im.jsonl ? stream_jsonl(&im, &err) : stream_numeric(&im, &err);
        progress(&im, true);
        if (rc != PXS_OK) {
            cli_error("import stopped at input row %llu: %s", (unsigned long long)(im.from_row + im.committed),
                      pxs_err_message(&err, rc));
            st = EXIT_FAILURE_FATAL;
        } else if (interrupted) {
            cli_error("interrupted");
            st = EXIT_FAILURE_FATAL;
        }
        summary(&im, st, &err, rc);
    }
    coll_info_free(&im.ci);
    pxs_engine_close(im.engine);
    return st;
}
