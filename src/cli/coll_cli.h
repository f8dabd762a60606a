/*
 * coll_cli.h — shared pieces of the vector-collection commands
 * (collection, import, query, vsearch, get, delete): calling the engine's
 * JSON operations with clear errors, what a collection looks like
 * (from collections/describe), JSON request writing and result tables.
 */
#ifndef PIXSEEK_CLI_COLL_CLI_H
#define PIXSEEK_CLI_COLL_CLI_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "cli.h"

/* A collection as the commands need it. */
struct coll_info {
    char pk[256];
    bool pk_int;      /* Int64 primary key (else VarChar) */
    bool auto_id;
    char vec[256];
    bool binary;      /* BinaryVector (dim in bits) */
    size_t dim;
    bool has_index;
    cJSON *describe;  /* collections/describe data (owned) */
};

/* Describe collection name. Returns PXS_ENOTFOUND (err filled) if missing. */
int coll_info_get(pxs_engine *engine, const char *name, struct coll_info *out, struct pxs_err *err);
void coll_info_free(struct coll_info *ci);
/* The same, printing the error: EXIT_OK or EXIT_FAILURE_FATAL. */
int coll_info_load(pxs_engine *engine, const char *name, struct coll_info *out);
/* The declared data type of a field ("Int64", "VarChar", ...) or NULL. */
const char *coll_field_type(const struct coll_info *ci, const char *field);

/* Run an operation; on failure print the engine's message (prefixed with
 * what) and return EXIT_FAILURE_FATAL, else EXIT_OK with *out (may be NULL
 * when out is NULL). */
int coll_call(pxs_engine *engine, pxs_coll_op_fn op, const char *request, char **out, const char *what);

/* JSON writers (return PXS_OK or PXS_ENOMEM / PXS_ELIMIT from the buffer). */
int jb_str(struct pxs_buf *b, const char *s);
int jb_f32(struct pxs_buf *b, const float *v, size_t n);  /* [..] */
int jb_u8(struct pxs_buf *b, const uint8_t *v, size_t n); /* [..] */

/* Index options shared by collection create / index and import --create. */
struct index_opts {
    const char *type;    /* NULL = AUTOINDEX */
    const char *metric;  /* NULL = the engine's default */
    const char *params[32];
    size_t nparams;
};
#define INDEX_OPTIONS                                   \
    {"index", required_argument, 0, 0x200},             \
        {"metric", required_argument, 0, 0x201},        \
        {"param", required_argument, 0, 0x202}
#define INDEX_HELP                                                                  \
    "  --metric M          L2 | IP | COSINE (default) | HAMMING | JACCARD\n"          \
    "  --index T           AUTOINDEX (HNSW; BIN_FLAT for binary) | FLAT | HNSW |\n"     \
    "                      IVF_FLAT | IVF_SQ8 | IVF_PQ | BIN_FLAT | BIN_IVF_FLAT\n"     \
    "  --param K=V         index parameter, repeatable: M, efConstruction (HNSW),\n"    \
    "                      nlist (IVF), m, nbits (IVF_PQ)\n"
/* 1 if c was an index option, 0 if not, -1 on error (printed). */
int index_option(int c, const char *arg, struct index_opts *o);
/* The indexParams entry for vector field vec (caller deletes), or NULL. */
cJSON *index_params_json(const struct index_opts *o, const char *vec);

/* Create collection name (primary key "id" Int64, given by the caller or
 * auto_id, vector field "vector" of dim, dynamic field) with the index
 * options and --field specs NAME:TYPE[:ARG]. Returns an exit status (the
 * error printed). */
int coll_create_simple(pxs_engine *engine, const char *name, size_t dim, bool binary, bool auto_id,
                       const struct index_opts *ix, const char *const *fields, size_t nfields);

/* Print rows (a JSON array of objects): --json one object per line, else
 * a table. */
void print_rows(const cJSON *rows, bool json);

int cmd_collection(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_delete(int argc, char **argv);
int cmd_vsearch(int argc, char **argv);

#endif
