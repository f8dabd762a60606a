/*
 * server_int.h — private declarations shared by the files of src/server/
 * (never included from outside this directory, except by tests/server/).
 *
 *   server.c          daemon lifecycle, per-request state, body accumulation,
 *                     limits and the API token, error replies
 *   routes.c          the route table, dispatch, shared handler helpers and
 *                     the core routes (healthz, static files)
 *   routes_bootcamp.c Milvus bootcamp routes (/img/..., /progress, /data, /api/v1/...)
 *   routes_native.c   pixseek's own JSON API (/api/...)
 *   routes_meta.c     /metrics and /openapi.json
 *   routes_v2.c       Milvus REST API v2 subset (/v2/vectordb/...)
 *   body.c            request bodies: multipart, urlencoded, JSON, base64
 *   jobs.c            the background ingest job
 *   paths.c           --root directories: path checks for load and /data
 *   metrics.c         request counters and latency histograms
 *   openapi.json      the OpenAPI 3.1 document of every route (embedded)
 *   json.c            a tiny JSON writer over a capped pxs_buf, and strict parsers
 *                     for the numbers that arrive in URLs and form fields
 *   assets.c          the web page files (web/) embedded into the binary
 */
#ifndef PIXSEEK_SERVER_INT_H
#define PIXSEEK_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <microhttpd.h>

#include "pixseek/core.h"
#include "pixseek/engine.h"
#include "pixseek/server.h"

/* ---- JSON writer ---------------------------------------------------------
 * Errors are sticky: the first failing append (PXS_ELIMIT, PXS_ENOMEM) is
 * kept in rc and every later call is a no-op, so a handler writes the whole
 * document and checks rc once. */
struct pxs__json {
    struct pxs_buf buf;
    int rc;
};

#define PXS__JSON_MAX (64u * 1024 * 1024) /* largest JSON response we build */

void pxs__server_json_init(struct pxs__json *j);
void pxs__server_json_free(struct pxs__json *j);
/* Append bytes verbatim (punctuation, literal keys). */
void pxs__server_json_raw(struct pxs__json *j, const char *text);
/* Append a quoted string. Control characters are escaped; bytes that are
 * not valid UTF-8 become U+FFFD, so the output is always valid JSON even
 * for file names in other encodings. s == NULL writes null. */
void pxs__server_json_str(struct pxs__json *j, const char *s);
/* Append `"key":` (key must be plain ASCII). */
void pxs__server_json_key(struct pxs__json *j, const char *key);
/* Numbers; non-finite doubles are written as null. */
void pxs__server_json_int(struct pxs__json *j, int64_t v);
void pxs__server_json_uint(struct pxs__json *j, uint64_t v);
void pxs__server_json_num(struct pxs__json *j, double v);

/* ---- strict parsers (untrusted text from URLs and form fields) ----------
 * All return PXS_OK or PXS_EINVAL and write *out only on success. */

/* A decimal image id: 1-19 ASCII digits, no sign, value <= INT64_MAX. */
int pxs__server_parse_id(const char *s, int64_t *out);
/* An integer in [lo, hi], decimal digits only (surrounding blanks allowed). */
int pxs__server_parse_range(const char *s, long lo, long hi, long *out);
/* A finite real number in [0, 1] (surrounding blanks allowed). */
int pxs__server_parse_unit(const char *s, float *out);

/* ---- embedded web files ------------------------------------------------ */

struct pxs__asset {
    const char *name;         /* "index.html", "app.js", "style.css" */
    const char *content_type; /* full Content-Type value */
    const unsigned char *data;
    size_t len;
};

/* The embedded copy of an allow-listed file name: PXS_OK and *out filled,
 * or PXS_ENOTFOUND for any other name. This list is also the allow-list for
 * files served from --web-dir. */
int pxs__server_asset(const char *name, struct pxs__asset *out);

/* ---- request bodies (body.c) ------------------------------------------ */

#define PXS__MAX_PARTS 32

struct pxs__part {
    const char *name;       /* borrowed from the body (not NUL-terminated) */
    size_t name_len;
    const char *filename;   /* NULL if the part is not a file */
    size_t filename_len;
    const char *ctype;      /* the part's Content-Type, or NULL */
    size_t ctype_len;
    const unsigned char *data;
    size_t len;
    int is_file;
};

enum pxs__form_kind {
    PXS__FORM_NONE = 0,
    PXS__FORM_RAW,        /* the body is the image */
    PXS__FORM_MULTIPART,
    PXS__FORM_URLENCODED,
    PXS__FORM_JSON,       /* json is an object */
};

struct pxs__form {
    enum pxs__form_kind kind;
    struct pxs__part parts[PXS__MAX_PARTS];
    size_t n_parts;
    const unsigned char *raw; /* RAW: the body */
    size_t raw_len;
    char *decoded;            /* URLENCODED: decoded copy the parts point into (owned) */
    cJSON *json;              /* JSON: the document (owned) */
};

/* Parse a whole body by its Content-Type (NULL = none: raw image). Parts
 * borrow from body, which must outlive f. PXS_EINVAL (malformed) or
 * PXS_EUNSUPPORTED (type) with a message in msg; PXS_ENOMEM. Free f with
 * pxs__form_free in every case. */
int pxs__body_parse(const char *content_type, const unsigned char *body, size_t len,
                    struct pxs__form *f, char *msg, size_t cap);
void pxs__form_free(struct pxs__form *f);
/* The file part `name` (multipart) or the raw body: 1 and data/len, else 0. */
int pxs__form_file(const struct pxs__form *f, const char *name, const unsigned char **data,
                   size_t *len);
/* Text of field `name` (form field, or JSON string/number member) into out:
 * 1 found, 0 absent (or JSON null), -1 too long or wrong JSON type. */
int pxs__form_text(const struct pxs__form *f, const char *name, char *out, size_t cap);
/* Decode base64 (standard or URL-safe, optional data: URL prefix, blanks
 * ignored). *out: pxs_free. PXS_EINVAL if malformed or empty, PXS_ELIMIT
 * over max_out bytes, PXS_ENOMEM. */
int pxs__base64_decode(const char *text, size_t len, size_t max_out, unsigned char **out,
                       size_t *out_len);

/* ---- the route table (routes.c) ---------------------------------------- */

struct pxs__request;
struct pxs__server;
typedef enum MHD_Result (*pxs__handler)(struct MHD_Connection *conn, struct pxs__request *req);

enum { PXS__M_GET = 1, PXS__M_POST = 2, PXS__M_DELETE = 4 };

enum pxs__family {
    PXS__FAM_CORE = 0,  /* errors: {"error":{"code","message"},"status":N} */
    PXS__FAM_BOOTCAMP,  /* errors also carry the seed's "status":false,"msg" */
    PXS__FAM_MILVUS,    /* Milvus REST v2: body read as JSON whatever the
                           Content-Type; errors {"code":<Milvus code>,"message"} */
};

struct pxs__route {
    const char *path;      /* exact path, or a prefix when prefix = 1 */
    int prefix;            /* the rest of the URL goes to req->arg */
    unsigned methods;
    int write;             /* changes data: needs the API token when one is set */
    enum pxs__family family;
    const char *openapi;   /* the path as written in /openapi.json */
    const char *asset;     /* static file name, or NULL */
    pxs__handler handler;
};

extern const struct pxs__route pxs__routes[];
extern const size_t pxs__n_routes;

/* ---- Milvus REST v2 (routes_v2.c) -------------------------------------- */

#define PXS__V2_PREFIX "/v2/vectordb/"

/* A checked request body, completed with Milvus's defaults. */
struct pxs__v2_req {
    cJSON *doc;        /* the parsed body (owned) */
    char *rewritten;   /* cJSON-printed body when defaults were added (cJSON_free) */
    const char *json;  /* what the engine gets: rewritten, or the body itself */
};

/* Check body (len bytes) for action ("collections/create") as Milvus binds
 * it: one JSON object, member types, required names, dbName "default".
 * body[len] must be NUL (a pxs_buf is). Returns 0 and fills *r, or a
 * Milvus error code with msg. Free r with
 * pxs__v2_req_free in every case. */
int pxs__v2_prepare(const char *action, const char *body, size_t len, struct pxs__v2_req *r,
                    char *msg, size_t cap);
void pxs__v2_req_free(struct pxs__v2_req *r);
/* The engine's per-query hits [[h,..],[h,..]] as Milvus sends them: the
 * hits of every query appended to flat (comma-separated, no brackets) and
 * the count per query to topks ("n0,n1"). PXS_EINVAL if text has another
 * shape, PXS_ELIMIT / PXS_ENOMEM from the buffers. */
int pxs__v2_flatten_hits(const char *text, size_t len, struct pxs_buf *flat,
                         struct pxs_buf *topks);
/* The Milvus code for an error the server core answers on a v2 route
 * (token, body limit, method), from its HTTP status and PXS code. */
int pxs__v2_code_for(unsigned status, int code);

/* ---- --root directories (paths.c) -------------------------------------- */

/* Check a client-supplied path: absolute, no "." or ".." component, and
 * once resolved (realpath: symlinks followed) inside one of the roots (or
 * the uploads dir when allow_uploads). want_dir: 1 directory, 0 regular
 * file. Returns 0 and the resolved path in out, else an HTTP status (400,
 * 403, 404) with a message. */
unsigned pxs__server_check_path(const struct pxs__server *srv, const char *path, int want_dir,
                                int allow_uploads, char *out, size_t cap, char *msg,
                                size_t msg_cap);

/* ---- ingest job (jobs.c) ------------------------------------------------- */

#define PXS__JOB_MAX_ERRORS 200

struct pxs__job_error {
    char path[512];
    char code[16];
    char reason[200];
};

struct pxs__job {
    pthread_mutex_t mu;
    pthread_t thread;
    int has_thread;         /* a thread to join */
    int running;
    atomic_int cancel;
    uint64_t id;            /* 1, 2, ... (0 = none yet) */
    char dir[4096];
    double started, finished; /* wall clock seconds */
    uint64_t done, total, added, unchanged, duplicates, failed;
    int rc;                 /* final PXS code, valid once !running */
    char message[512];
    struct pxs__job_error errors[PXS__JOB_MAX_ERRORS];
    size_t n_errors;
    /* lifetime counters for /metrics */
    uint64_t all_jobs, all_added, all_failed, all_files;
};

/* Start indexing dir (already checked against the roots) in the
 * background. PXS_EBUSY if a job runs. */
int pxs__job_start(struct pxs__server *srv, const char *dir, struct pxs_err *err);
/* Ask the running job to stop (PXS_ENOTFOUND if none runs). */
int pxs__job_cancel(struct pxs__server *srv);
/* Stop and join (server shutdown). */
void pxs__job_shutdown(struct pxs__server *srv);
/* A consistent copy of the job state (without the mutex). */
void pxs__job_snapshot(struct pxs__server *srv, struct pxs__job *out);

/* ---- metrics (metrics.c) ------------------------------------------------- */

#define PXS__N_BUCKETS 12
extern const double pxs__bucket_seconds[PXS__N_BUCKETS]; /* upper bounds; +Inf implied */

struct pxs__route_metrics {
    atomic_uint_fast64_t by_class[6];       /* [status / 100], 0 = aborted */
    atomic_uint_fast64_t buckets[PXS__N_BUCKETS + 1];
    atomic_uint_fast64_t sum_us;
};

/* Record one finished request on route index ri (pxs__n_routes = unrouted). */
void pxs__metrics_observe(struct pxs__server *srv, size_t ri, int status, uint64_t ns);

/* ---- the OpenAPI document (src/server/openapi.json, embedded by assets.c) -- */

void pxs__server_openapi(const unsigned char **data, size_t *len);

/* ---- the server and one request ---------------------------------------- */

struct pxs__server {
    pxs_engine *engine;
    size_t max_body;          /* request body limit, bytes */
    size_t max_upload;        /* one image (part, raw body, base64, URL), bytes */
    const char *web_dir;      /* borrowed from the options, or NULL */
    const char *token;        /* API token for writes, or NULL */
    const char *collection;   /* bootcamp table name served */
    char **roots;             /* resolved --root directories */
    size_t n_roots;
    double started;           /* wall clock seconds */
    struct pxs__job job;
    struct pxs__route_metrics *metrics; /* pxs__n_routes + 1 entries */
};

struct pxs__request {
    struct pxs__server *srv;
    uint64_t t0_ns;
    const struct pxs__route *route; /* NULL: no such route */
    size_t route_index;
    unsigned method;         /* PXS__M_* */
    char method_name[16];    /* for the log line */
    char log_path[160];      /* printable, truncated copy of the URL */
    char arg[64];            /* the URL after a prefix route's path */
    int arg_too_long;
    int status;              /* status queued, 0 if none yet */

    /* body */
    struct pxs_buf body;     /* capped at max_body */
    uint64_t received;       /* body bytes seen so far */
    int too_big;
    int oom;
    struct pxs__form form;   /* parsed at the end of the body */

    /* an error found from the headers, answered once the body is drained */
    int pending_status;
    int pending_code;
    const char *pending_allow; /* Allow header for 405, or NULL */
    char pending_msg[200];
};

/* Response helpers (server.c). They record req->status. */
enum MHD_Result pxs__server_reply_json(struct MHD_Connection *conn, struct pxs__request *req,
                                       unsigned status, struct pxs__json *j);
/* An error in the route family's shape (see enum pxs__family). */
enum MHD_Result pxs__server_reply_error(struct MHD_Connection *conn, struct pxs__request *req,
                                        unsigned status, int code, const char *fmt, ...)
    PXS_PRINTF(5, 6);
/* body: if owned, freed with pxs_free by MHD once sent; otherwise static. */
enum MHD_Result pxs__server_reply_bytes(struct MHD_Connection *conn, struct pxs__request *req,
                                        unsigned status, const char *content_type,
                                        const char *cache_control, void *body, size_t len,
                                        int owned);
/* A file from disk (streamed by MHD); 404/500 JSON errors if it cannot be opened. */
enum MHD_Result pxs__server_reply_file(struct MHD_Connection *conn, struct pxs__request *req,
                                       const char *path, const char *content_type);
/* HTTP status for an engine error code. */
unsigned pxs__server_status_for(int code);

/* ---- helpers shared by the route files (routes.c) -------------------------- */

enum MHD_Result pxs__reply_engine_error(struct MHD_Connection *conn, struct pxs__request *req,
                                        int rc, const struct pxs_err *e);
/* A parameter from the body (form field / JSON member) or else the query
 * string, into out: 1 found, 0 absent or blank, -1 bad (too long, wrong type). */
int pxs__param(struct MHD_Connection *conn, const struct pxs__request *req, const char *name,
               char *out, size_t cap);
/* The members of an image's JSON object (id, path, file_name, ..., URLs). */
void pxs__json_meta_fields(struct pxs__json *j, const struct pxs_image_meta *m);
/* Check a bootcamp table name against the served collection: 0 ok, else
 * an error reply was queued into *r. */
int pxs__check_table(struct MHD_Connection *conn, struct pxs__request *req, const char *name,
                     enum MHD_Result *r);
/* "current: X, total: Y" of the job, as the bootcamp's /progress. */
enum MHD_Result pxs__reply_progress_text(struct MHD_Connection *conn, struct pxs__request *req);
/* The error of pxs__server_check_path (status 400/403/404, msg). */
enum MHD_Result pxs__reply_path_error(struct MHD_Connection *conn, struct pxs__request *req,
                                      unsigned status, const char *msg);
/* Reply a JSON string literal ("Start", ...) as the seed's jsonify(str). */
enum MHD_Result pxs__reply_json_string(struct MHD_Connection *conn, struct pxs__request *req,
                                       unsigned status, const char *text);
/* The query image of a request: multipart/raw `field`, or base64 text in
 * JSON member b64_field (decoded into *owned). 1 found, 0 absent; on a bad
 * image an error reply was queued (returns -1 and *r). */
int pxs__request_image(struct MHD_Connection *conn, struct pxs__request *req, const char *field,
                       const char *b64_field, const unsigned char **data, size_t *len,
                       unsigned char **owned, enum MHD_Result *r);

/* Search (routes_native.c): the parameters of a search request and its run. */
struct pxs__search_spec {
    const char *image_field;  /* multipart file field ("image", "file") */
    const char *topk_name;    /* "topk", "Num" */
    long topk_default;
    int native;               /* also img_base64, id, vector, page, page_size,
                                 similarity / min_similarity, filter */
};

struct pxs__search_result {
    struct pxs_match *matches; /* pxs_free */
    size_t n;                  /* all matches (after the threshold) */
    size_t offset, count;      /* the requested page: matches[offset .. offset+count) */
    long page, page_size;
    size_t first_rank;         /* ranks the engine skipped (`offset`), 0 with page */
    double took_ms;
};

/* 0 and *res filled, or -1 with an error reply queued in *r. */
int pxs__do_search(struct MHD_Connection *conn, struct pxs__request *req,
                   const struct pxs__search_spec *spec, struct pxs__search_result *res,
                   enum MHD_Result *r);

/* Tags (routes_native.c): the JSON body {"tags":{"k":"v"|number|null,...}}
 * as the engine's "k=v" strings ("k=" removes k; whole numbers printed
 * without a fraction), in one allocation: *kv (pxs_free) and *n (1..256).
 * PXS_EINVAL with msg for another shape, a key with '=', a value of another
 * type or a too long one; PXS_ENOMEM. Keys are checked by the engine. */
#define PXS__TAGS_MAX 256
#define PXS__TAG_TEXT_MAX 1200 /* key (<= 64) "=" value (<= 1024, checked by the engine) */
int pxs__tags_from_json(const cJSON *body, char ***kv, size_t *n, char *msg, size_t cap);

/* Check dir against the roots and start the ingest job: 0, or -1 with an
 * error queued in *r (busy_msg: the 409 message, NULL = the job's). */
int pxs__start_job(struct MHD_Connection *conn, struct pxs__request *req, const char *dir,
                   const char *busy_msg, enum MHD_Result *r);

/* Route handlers. */
enum MHD_Result pxs__h_static(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_healthz(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_metrics(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_openapi(struct MHD_Connection *, struct pxs__request *);
/* bootcamp */
enum MHD_Result pxs__h_img_load(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_progress(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_load_status(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_img_count(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_img_search(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_img_upload(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_img_drop(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_data(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_v1_train(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_v1_count(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_v1_search(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_v1_delete(struct MHD_Connection *, struct pxs__request *);
/* native */
enum MHD_Result pxs__h_api_search(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_api_stats(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_api_thumbnail(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_api_image(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_api_images_add(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_api_ingest(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_api_ingest_cancel(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_api_duplicates(struct MHD_Connection *, struct pxs__request *);
/* Milvus REST v2 */
enum MHD_Result pxs__h_v2(struct MHD_Connection *, struct pxs__request *);
enum MHD_Result pxs__h_v2_unsupported(struct MHD_Connection *, struct pxs__request *);

#endif
