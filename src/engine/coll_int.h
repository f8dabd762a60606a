/*
 * coll_int.h — private declarations of the vector collections (the
 * "vector collections" section of pixseek/engine.h): schema, row codec,
 * the collection database and its in-memory indexes. Only src/engine/coll_*.c
 * and the engine's open/close include this.
 */
#ifndef PIXSEEK_ENGINE_COLL_INT_H
#define PIXSEEK_ENGINE_COLL_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "engine/expr.h"
#include "pixseek/engine.h"
#include "pixseek/index.h"
#include "pixseek/store.h"

struct cJSON;

#define COLL_NAME_MAX 255
#define COLL_MAX_FIELDS 64
#define COLL_MAX_PARTITIONS 1024
#define COLL_MAX_DIM 32768
#define COLL_MAX_VARCHAR 65535
#define COLL_MAX_CAPACITY 4096
#define COLL_MAX_REQUEST (512u * 1024 * 1024) /* bytes of output JSON */
#define COLL_DEFAULT_PARTITION "_default"
#define COLL_BUF_MAX ((size_t)1 << 40) /* internal scratch buffers: bounded by memory only */

/* Field data types. Scalars share their values with enum expr_ftype. */
enum coll_dtype {
    DT_BOOL = EXPR_BOOL,
    DT_INT8 = EXPR_INT8,
    DT_INT16 = EXPR_INT16,
    DT_INT32 = EXPR_INT32,
    DT_INT64 = EXPR_INT64,
    DT_FLOAT = EXPR_FLOAT,
    DT_DOUBLE = EXPR_DOUBLE,
    DT_VARCHAR = EXPR_VARCHAR,
    DT_JSON = EXPR_JSON,
    DT_ARRAY = EXPR_ARRAY,
    DT_FLOAT_VECTOR = 100,
    DT_BINARY_VECTOR = 101,
};

/* A typed scalar value (also a decoded row cell). */
enum cell_tag { CELL_NULL = 0, CELL_FALSE = 1, CELL_TRUE = 2, CELL_INT = 3, CELL_DOUBLE = 4,
                CELL_STRING = 5, CELL_JSON = 6, CELL_BYTES = 7 };

struct cell {
    uint8_t tag;
    int64_t i;
    double d;
    const char *s; /* STRING, JSON text, BYTES: borrowed */
    uint32_t len;
};

struct coll_field {
    char name[COLL_NAME_MAX + 1];
    int type;      /* enum coll_dtype */
    int elem_type; /* DT_ARRAY */
    bool is_primary, nullable, has_default;
    uint32_t max_length, max_capacity, dim;
    struct cell def;   /* default value (STRING points into def_text) */
    char *def_text;    /* owned */
    char *def_json;    /* defaultValue as JSON text (owned), for describe and storage */
};

struct coll_partition {
    char name[COLL_NAME_MAX + 1];
    uint32_t id;
};

struct coll_index_spec {
    bool present;
    char name[COLL_NAME_MAX + 1];
    char type_name[32]; /* as requested: "HNSW", "AUTOINDEX", ... */
    struct pxs_index_params params;
    char *params_json; /* the params object as given (owned), for describe */
};

struct coll_schema {
    char name[COLL_NAME_MAX + 1];
    uint64_t id;
    bool auto_id, dynamic;
    char *description;
    struct coll_field *fields; /* owned */
    size_t nfields;
    int pk, vec; /* field indexes */
    struct coll_partition *parts;
    size_t nparts;
    uint32_t next_part_id;
    struct coll_index_spec index;
    /* expression schema: every non-vector field, then "$meta" if dynamic */
    struct expr_field *xfields;
    int *x_to_field; /* -1 for $meta */
    size_t nx;
    int x_dynamic;
};

/* ---- schema (coll_schema.c) ---- */

/* Parse a collections/create request (or a stored schema record, which is
 * the same JSON plus collectionID and partitions). */
int schema_from_request(const struct cJSON *req, bool stored, struct coll_schema **out,
                        struct pxs_err *err);
void schema_free(struct coll_schema *s);
struct coll_schema *schema_clone(const struct coll_schema *s, struct pxs_err *err);
/* The stored record (JSON text). */
int schema_to_record(const struct coll_schema *s, struct pxs_buf *out);
/* collections/describe data. */
int schema_describe(const struct coll_schema *s, struct pxs_buf *out);
/* indexes/create entry -> spec (validated against the schema). */
int schema_parse_index(const struct coll_schema *s, const struct cJSON *entry,
                       struct coll_index_spec *out, struct pxs_err *err);
void index_spec_free(struct coll_index_spec *spec);
int index_spec_copy(struct coll_index_spec *dst, const struct coll_index_spec *src);
/* Default index for a schema without indexParams. */
int schema_default_index(const struct coll_schema *s, const char *metric,
                         struct coll_index_spec *out, struct pxs_err *err);
int schema_field_index(const struct coll_schema *s, const char *name);
const struct coll_partition *schema_partition(const struct coll_schema *s, const char *name);
const struct coll_partition *schema_partition_by_id(const struct coll_schema *s, uint32_t id);
bool coll_name_valid(const char *name);
size_t schema_vector_bytes(const struct coll_schema *s);
int index_spec_describe(const struct coll_schema *s, struct pxs_buf *out);

/* ---- JSON helpers (coll_json.c) ---- */

int cj_parse(const char *text, struct cJSON **out, struct pxs_err *err);
/* Member of an object; NULL if missing or JSON null. */
const struct cJSON *cj_get(const struct cJSON *obj, const char *key);
/* Optional members: absent leaves *out; wrong type is PXS_EINVAL naming key. */
int cj_string(const struct cJSON *obj, const char *key, const char **out, struct pxs_err *err);
int cj_bool(const struct cJSON *obj, const char *key, bool *out, struct pxs_err *err);
int cj_int(const struct cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t *out,
           struct pxs_err *err);
/* A JSON value as an exact int64 (integral number within +-2^53, or a
 * decimal string): 0, or -1 if it is not one. */
int cj_to_int64(const struct cJSON *v, int64_t *out);
/* Required collectionName. */
int cj_collection_name(const struct cJSON *req, const char **out, struct pxs_err *err);
int cj_name_list(const struct cJSON *req, const char *key, const char ***names, size_t *n,
                 struct pxs_err *err);

int jw_str(struct pxs_buf *b, const char *s, size_t len);
int jw_cstr(struct pxs_buf *b, const char *s);
int jw_int64(struct pxs_buf *b, int64_t v, bool as_string);
int jw_double(struct pxs_buf *b, double v);
char *jw_detach(struct pxs_buf *b);

/* ---- rows (coll_row.c) ----
 *
 * Row record (table "rows", value; little-endian):
 *   u8  version (1)
 *   u32 partition id
 *   per schema field, in schema order (the vector field included):
 *     u8 tag (enum cell_tag); then INT: i64; DOUBLE: f64;
 *     STRING, JSON, BYTES: u32 length + bytes (JSON text is compact)
 *   if the schema has a dynamic field: u32 length + JSON object text
 *   ($meta; length 0 = no dynamic keys)
 * Bool is the tag alone; Int8..Int64 are INT; Float (the float32 value) and
 * Double are DOUBLE; VarChar STRING; JSON and Array JSON; vectors BYTES
 * (dim float32 or dim/8 bytes). */

struct row_view {
    uint32_t part;
    struct cell *cells; /* nfields, caller-owned */
    const char *dyn;
    uint32_t dyn_len;
};

/* One parsed input row, encoded (the pk value and record bytes). */
struct row_in {
    struct cell pk;      /* INT or STRING (points into pk_text) */
    char *pk_text;       /* owned copy for VarChar keys */
    bool pk_given;
    size_t rec_off, rec_len; /* in the batch buffer */
    size_t pk_off;           /* offset of an Int64 key's 8 bytes in the record */
};

/* Validate and encode one row object (index row_idx for messages) into
 * rec (appended). vec_override / pk_override: the bulk path's columns. */
int row_encode(const struct coll_schema *s, const struct cJSON *row, size_t row_idx,
               uint32_t part, const void *vec_override, const int64_t *pk_override,
               bool pk_allowed_with_auto, struct row_in *out, struct pxs_buf *rec,
               struct pxs_err *err);
/* One JSON value of field f (row index for messages) as a cell; strings
 * point into v. Arrays and JSON are not handled here (see row_encode). */
int cell_parse(const struct coll_field *f, const struct cJSON *v, size_t row, struct cell *out,
               struct pxs_err *err);
int row_decode(const struct coll_schema *s, const void *data, size_t len, struct row_view *out,
               struct pxs_err *err);

/* Output-field selection. */
struct out_fields {
    bool all;      /* "*" */
    bool count;    /* "count(*)" */
    bool *field;   /* per schema field */
    const char **dyn_keys; /* names not in the schema (dynamic keys) */
    size_t ndyn;
};
int out_fields_parse(const struct coll_schema *s, const struct cJSON *list,
                     struct out_fields *out, struct pxs_err *err);
void out_fields_free(struct out_fields *o);
/* Append the members of one row object (without braces), pk first. */
int row_write_fields(const struct coll_schema *s, const struct row_view *rv,
                     const struct out_fields *of, unsigned flags, bool *first,
                     struct pxs_buf *out);
int cell_write(const struct coll_field *f, const struct cell *c, unsigned flags,
               struct pxs_buf *out);

/* Filter evaluation on decoded rows. */
struct row_filter {
    struct expr *expr; /* NULL = all rows */
    bool constant_false;
    const struct coll_schema *schema;
};
int row_filter_compile(const struct coll_schema *s, const char *text, struct row_filter *f,
                       struct pxs_err *err);
void row_filter_free(struct row_filter *f);
int row_filter_match(const struct row_filter *f, const struct row_view *rv, bool *match,
                     struct pxs_err *err);

/* pk key of table "pks" (after the 8-byte collection id). */
size_t pk_key(const struct coll_schema *s, const struct cell *pk, uint8_t *key);

/* ---- collection database (coll_store.c) ---- */

struct coll_state {
    uint64_t next_rowid;   /* rowids of rows start at 1 and only grow */
    uint64_t next_auto_id; /* autoId primary keys */
    uint64_t del_seq;      /* deletions logged so far (table "dellog") */
    uint64_t live_rows;
    uint64_t pruned_del;   /* dellog entries <= this were removed */
};

struct coll {
    struct coll_schema *schema; /* replaced under lock (wr) */
    pthread_rwlock_t lock;      /* index, schema pointer, covered_* */
    pthread_mutex_t write_mu;   /* one writer (or index swap) at a time */
    pxs_index *index;           /* NULL without an index */
    uint64_t index_version;     /* bumped whenever the index spec changes */
    uint64_t covered_rowid;     /* rows with rowid < this are in the index */
    uint64_t covered_del;       /* dellog entries <= this are applied */
    uint64_t tombstones;        /* HNSW removals since the build */
    uint64_t saved_rowid, saved_del; /* what the index file holds */
    bool loaded_from_file;
    uint64_t builds;
    struct coll *next;
};

struct coll_db {
    pxs_store *store;
    char data_dir[4096];
    bool read_only;
    pthread_rwlock_t lock; /* catalog: list of collections (wr: create, drop, rename) */
    struct coll *list;
};

int coll_db_open(const char *data_dir, bool read_only, struct coll_db **out,
                 struct pxs_err *err);
void coll_db_close(struct coll_db *db);
struct coll *coll_find(struct coll_db *db, const char *name);
int coll_not_found(struct pxs_err *err, const char *name);
int coll_state_get(pxs_store_txn *txn, uint64_t id, struct coll_state *st, struct pxs_err *err);
int coll_state_put(pxs_store_txn *txn, uint64_t id, const struct coll_state *st,
                   struct pxs_err *err);
int coll_schema_put(pxs_store_txn *txn, const struct coll_schema *s, struct pxs_err *err);
void coll_key(uint64_t coll_id, uint64_t v, uint8_t key[16]);
/* Bring the in-memory index up to the store (reads; takes the lock). */
int coll_sync(struct coll_db *db, struct coll *c, bool have_write_mu, struct pxs_err *err);
/* Apply deletions and rows the index has not seen. Caller holds the lock
 * exclusively (or owns ix). PXS_ESTALE-like: returns 1 if a full rebuild
 * is needed (the deletion log was pruned past *covered_del). */
int coll_catch_up(pxs_store_txn *txn, const struct coll_schema *s, pxs_index *ix,
                  uint64_t *covered_rowid, uint64_t *covered_del, uint64_t *tombstones,
                  struct pxs_err *err);
/* Delete row rowid (and its pk entry) inside a write txn, logging it. */
int coll_delete_row(pxs_store_txn *txn, const struct coll_schema *s, uint64_t rowid,
                    const struct cell *pk, struct coll_state *st, struct pxs_err *err);
/* Visit every row of a collection (rowid order). */
typedef int (*coll_row_fn)(uint64_t rowid, const struct row_view *rv, void *user);
int coll_scan_rows(pxs_store_txn *txn, const struct coll_schema *s, coll_row_fn fn, void *user,
                   struct pxs_err *err);

#define TABLE_C_NAMES "c_names"
#define TABLE_C_SCHEMAS "c_schemas"
#define TABLE_C_STATE "c_state"
#define TABLE_C_ROWS "c_rows"
#define TABLE_C_PKS "c_pks"
#define TABLE_C_DELLOG "c_dellog"
#define TABLE_C_META "c_meta"

/* Request plumbing shared by the operations (coll_store.c). */
struct api {
    struct coll_db *db;
    struct cJSON *req;
    const char *name;
    struct coll *c;
    int lock; /* 0 none, 1 db read, 2 db write */
    bool write_mu;
    struct pxs_buf out;
};

/* Parse the request, take the catalog lock (lock 1 read, 2 write) and,
 * with need_name, find the collection. */
int api_begin(pxs_engine *engine, const char *json, bool need_name, int lock, struct api *a,
              struct pxs_err *err);
/* For writes to one collection: catalog read lock + its writer slot. */
int api_begin_write(pxs_engine *engine, const char *json, struct api *a, struct pxs_err *err);
/* Release everything; on success hand the output (or "{}") to *out_json. */
int api_end(struct api *a, int rc, char **out_json, struct pxs_err *err);
#define API_OUT_INIT(out_json) \
    do {                       \
        if (out_json) *(out_json) = NULL; \
    } while (0)
int coll_delete_matching(pxs_store_txn *txn, const struct coll_schema *s, uint32_t part, bool any_part,
                         const struct row_filter *f, struct coll_state *st, uint64_t *count,
                         struct pxs_err *err);

/* ---- entities (coll_data.c) ---- */

/* partitionNames of a request as partition ids (none = every partition). */
int coll_parts_resolve(const struct coll_schema *s, const struct cJSON *req, uint32_t **ids, size_t *n,
                       struct pxs_err *err);
bool coll_part_allowed(const uint32_t *ids, size_t n, uint32_t part);
int coll_get_row(pxs_store_txn *txn, const struct coll_schema *s, uint64_t rowid, struct row_view *rv,
                 struct pxs_err *err);
/* Reads: catalog read lock, index synced with the store, collection read
 * lock (held until coll_read_end when the begin succeeded). */
int coll_read_begin(pxs_engine *engine, const char *json, struct api *a, struct pxs_err *err);
int coll_read_end(struct api *a, int rc, bool locked, char **out_json, struct pxs_err *err);

/* ---- indexes (coll_index.c) ---- */

/* A new empty index for the spec. */
int coll_index_new(const struct coll_schema *s, pxs_index **out, struct pxs_err *err);
/* Build the index of c from a snapshot without blocking readers or
 * writers, then catch up and swap it in; writes the index file. */
int coll_index_rebuild(struct coll_db *db, struct coll *c, bool have_write_mu, struct pxs_err *err);
/* At open: load the index file if valid, else build; then catch up. */
int coll_index_open(struct coll_db *db, struct coll *c, struct pxs_err *err);
/* Write the index file if it is behind (caller holds write_mu). */
int coll_index_save(struct coll_db *db, struct coll *c, bool force, struct pxs_err *err);
/* After a write: compaction and periodic checkpoint (caller holds write_mu). */
int coll_index_maintain(struct coll_db *db, struct coll *c, struct pxs_err *err);
void coll_index_path(const struct coll_db *db, uint64_t coll_id, char *out, size_t cap);

/* The engine's collection database (NULL if the engine has none). */
struct coll_db *engine_coll_db(pxs_engine *engine);

#endif
