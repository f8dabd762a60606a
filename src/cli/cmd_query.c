/*
 * cmd_query.c — reading and deleting rows of a vector collection from the
 * command line: `pixseek query` (filter expressions, output fields, paging,
 * count), `pixseek get` (by primary key), `pixseek delete` (by key or
 * filter) and `pixseek vsearch` (vector search with query vectors given
 * inline or read from a .npy / .fvecs / IDX file, searched in parallel
 * batches).
 */
#include "coll_cli.h"

#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LIST 256

static const char query_help[] =
    "usage: pixseek query [options] COLLECTION\n"
    "\n"
    "Rows matching a filter expression (Milvus syntax, e.g. 'label in [1, 2] and\n"
    "price > 3.5', 'name like \"ab%\"', 'json_contains(tags, \"x\")').\n"
    "\n"
    "options:\n"
    "  --filter EXPR         which rows (default: all)\n"
    "  --output-fields A,B   fields to print (default: the primary key; * = all)\n"
    "  --limit N             at most N rows (default 100, max 16384)\n"
    "  --offset N            skip the first N matches\n"
    "  --count               print the number of matching rows\n"
    "  --partition P         only partition P (repeatable)\n"
    "  --data DIR, --json (one JSON object per row), -h/--help\n";

static const char get_help[] =
    "usage: pixseek get [options] COLLECTION --id K[,K...]\n"
    "\n"
    "Rows by primary key.\n"
    "\n"
    "options:\n"
    "  --id K[,K...]         keys (repeatable)\n"
    "  --output-fields A,B   fields to print (default *: all)\n"
    "  --data DIR, --json, -h/--help\n";

static const char delete_help[] =
    "usage: pixseek delete [options] COLLECTION (--id K[,K...] | --filter EXPR)\n"
    "\n"
    "Delete rows by primary key or by filter expression (durable when it returns).\n"
    "\n"
    "options:\n"
    "  --id K[,K...]         keys (repeatable)\n"
    "  --filter EXPR         every row matching EXPR\n"
    "  --partition P         only in partition P\n"
    "  --data DIR, --json, -h/--help\n";

static const char vsearch_help[] =
    "usage: pixseek vsearch [options] COLLECTION (--vector V | --vectors FILE)\n"
    "\n"
    "Nearest neighbours of query vectors.\n"
    "\n"
    "options:\n"
    "  --vector V            a query vector: '[0.1, 0.2, ...]' or '0.1,0.2,...'\n"
    "                        (repeatable; bytes 0..255 for binary collections)\n"
    "  --vectors FILE        query vectors from a .npy, .fvecs, .bvecs, IDX file\n"
    "  --row I[..J]          only rows I to J-1 of FILE (default all)\n"
    "  --limit K             neighbours per query (default 10)\n"
    "  --offset N            skip the first N neighbours\n"
    "  --filter EXPR         only rows matching EXPR (see 'pixseek query --help')\n"
    "  --output-fields A,B   fields to print with each hit\n"
    "  --metric M            must match the index's metric (checked)\n"
    "  --ef N                HNSW search breadth (default: the index's)\n"
    "  --nprobe N            IVF lists to visit\n"
    "  --radius R            range search: only hits within R ...\n"
    "  --range-filter F      ... and beyond F (Milvus semantics per metric)\n"
    "  --group-by FIELD      one hit per value of FIELD (--group-size N per group,\n"
    "                        --strict-group-size)\n"
    "  --partition P         only partition P (repeatable)\n"
    "  --batch N             queries per engine call (default 64)\n"
    "  --threads N           parallel searches (default: number of CPUs)\n"
    "  --data DIR, --quiet\n"
    "  --json                one JSON object per query: {\"query\":I,\"hits\":[{\"id\":..,\n"
    "                        \"distance\":..,fields..}]}; the timing summary goes to\n"
    "                        stderr as JSON\n"
    "  -h, --help\n";

struct read_opts {
    const char *data_dir;
    const char *filter;
    const char *fields[MAX_LIST];
    size_t nfields;
    const char *parts[MAX_LIST];
    size_t nparts;
    const char *ids[MAX_LIST];
    size_t nids;
    long limit, offset;
    bool count, json, quiet;
};

static int add_list(const char **list, size_t *n, char *arg, const char *opt) {
    for (char *save = NULL, *t = strtok_r(arg, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        if (!*t) continue;
        if (*n == MAX_LIST) {
            cli_error("too many values for %s", opt);
            return -1;
        }
        list[(*n)++] = t;
    }
    return 0;
}

static void add_strings(cJSON *req, const char *key, const char *const *v, size_t n) {
    if (!n) return;
    cJSON *a = cJSON_AddArrayToObject(req, key);
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
}

/* Primary keys as JSON values: numbers (as decimal strings, exact) for Int64 keys. */
static int add_ids(cJSON *req, const char *key, const struct read_opts *o, const struct coll_info *ci) {
    cJSON *a = cJSON_AddArrayToObject(req, key);
    for (size_t i = 0; i < o->nids; i++) {
        if (ci->pk_int) {
            char *end;
            long long v = strtoll(o->ids[i], &end, 10);
            if (*end) {
                cli_error("--id %s: collection %s has Int64 keys", o->ids[i], cJSON_GetStringValue(
                              cJSON_GetObjectItemCaseSensitive(ci->describe, "collectionName")));
                return -1;
            }
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", v);
            cJSON_AddItemToArray(a, cJSON_CreateString(buf));
        } else {
            cJSON_AddItemToArray(a, cJSON_CreateString(o->ids[i]));
        }
    }
    return 0;
}

enum { OPT_FILTER = 0x300, OPT_FIELDS, OPT_LIMIT, OPT_OFFSET, OPT_COUNT, OPT_PART, OPT_ID, OPT_DATA, OPT_JSON,
       OPT_QUIET, OPT_VECTOR, OPT_VECTORS, OPT_ROW, OPT_METRIC, OPT_EF, OPT_NPROBE, OPT_RADIUS, OPT_RANGE,
       OPT_GROUP, OPT_GROUP_SIZE, OPT_STRICT, OPT_BATCH, OPT_THREADS };

#define READ_OPTIONS                                                                                  \
    {"filter", required_argument, 0, OPT_FILTER}, {"output-fields", required_argument, 0, OPT_FIELDS}, \
        {"limit", required_argument, 0, OPT_LIMIT}, {"offset", required_argument, 0, OPT_OFFSET},     \
        {"count", no_argument, 0, OPT_COUNT}, {"partition", required_argument, 0, OPT_PART},          \
        {"id", required_argument, 0, OPT_ID}, {"data", required_argument, 0, OPT_DATA},               \
        {"json", no_argument, 0, OPT_JSON}, {"quiet", no_argument, 0, OPT_QUIET},                     \
        {"help", no_argument, 0, 'h'}

/* 1 if handled, 0 if not a read option, -1 on error. */
static int read_option(int c, char *arg, struct read_opts *o) {
    switch (c) {
    case OPT_FILTER: o->filter = arg; return 1;
    case OPT_FIELDS: return add_list(o->fields, &o->nfields, arg, "--output-fields") ? -1 : 1;
    case OPT_LIMIT: return (o->limit = cli_parse_long("--limit", arg, 1, PXS_COLL_MAX_TOPK)) < 0 ? -1 : 1;
    case OPT_OFFSET: return (o->offset = cli_parse_long("--offset", arg, 0, PXS_COLL_MAX_TOPK)) < 0 ? -1 : 1;
    case OPT_COUNT: o->count = true; return 1;
    case OPT_PART: return add_list(o->parts, &o->nparts, arg, "--partition") ? -1 : 1;
    case OPT_ID: return add_list(o->ids, &o->nids, arg, "--id") ? -1 : 1;
    case OPT_DATA: o->data_dir = arg; return 1;
    case OPT_JSON: o->json = true; return 1;
    case OPT_QUIET: o->quiet = true; return 1;
    default: return 0;
    }
}

static int parse_read(int argc, char **argv, const char *help, const struct option *lo, struct read_opts *o,
                      const char **coll) {
    int c, m;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if ((m = read_option(c, optarg, o)) != 0) {
            if (m < 0) return EXIT_USAGE;
            continue;
        }
        if (c == 'h') {
            fputs(help, stdout);
            return -1;
        }
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        cli_error("%s needs one COLLECTION (see 'pixseek %s --help')", argv[0], argv[0]);
        return EXIT_USAGE;
    }
    *coll = argv[optind];
    return EXIT_OK;
}

/* Open the engine and describe the collection (errors printed). */
static pxs_engine *open_coll(const char *data_dir, bool read_only, const char *coll, struct coll_info *ci) {
    pxs_engine *e = cli_open_engine(data_dir, read_only, NULL);
    if (e && coll_info_load(e, coll, ci) != EXIT_OK) {
        pxs_engine_close(e);
        return NULL;
    }
    return e;
}

/* A read command: options, engine, collection and the request object with
 * collectionName. Returns EXIT_OK, -1 after --help, or an exit status. */
struct read_cmd {
    struct read_opts o;
    const char *coll;
    struct coll_info ci;
    pxs_engine *e;
    cJSON *req;
};

static int read_start(int argc, char **argv, const char *help, bool writes, struct read_cmd *rc_) {
    static const struct option lo[] = {READ_OPTIONS, {0, 0, 0, 0}};
    rc_->o.data_dir = cli_default_data_dir();
    int st = parse_read(argc, argv, help, lo, &rc_->o, &rc_->coll);
    if (st) return st;
    if (!strcmp(argv[0], "query") && rc_->o.nids) {
        cli_error("query takes --filter; use 'pixseek get --id' for keys");
        return EXIT_USAGE;
    }
    if (!strcmp(argv[0], "get") && !rc_->o.nids) {
        cli_error("get needs --id K[,K...]");
        return EXIT_USAGE;
    }
    if (!strcmp(argv[0], "delete") && (!rc_->o.nids == !rc_->o.filter || rc_->o.nparts > 1)) {
        cli_error("delete needs either --id K[,K...] or --filter EXPR (and at most one --partition)");
        return EXIT_USAGE;
    }
    rc_->e = open_coll(rc_->o.data_dir, !writes, rc_->coll, &rc_->ci);
    if (!rc_->e) return EXIT_FAILURE_FATAL;
    rc_->req = cJSON_CreateObject();
    cJSON_AddStringToObject(rc_->req, "collectionName", rc_->coll);
    return EXIT_OK;
}

static int read_end(struct read_cmd *r, int st) {
    cJSON_Delete(r->req);
    coll_info_free(&r->ci);
    pxs_engine_close(r->e);
    return st;
}

static int run_and_print(pxs_engine *e, pxs_coll_op_fn op, cJSON *req, const struct read_opts *o, const char *what) {
    char *t = cJSON_PrintUnformatted(req);
    char *out = NULL;
    int st = coll_call(e, op, t, &out, what);
    cJSON_free(t);
    if (st != EXIT_OK) return st;
    cJSON *rows = cJSON_Parse(out);
    pxs_free(out);
    if (o->count) {
        double n = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(rows, 0), "count(*)"));
        if (o->json) printf("{\"count\":%.0f}\n", n);
        else printf("%.0f\n", n);
    } else {
        print_rows(rows, o->json);
        int n = cJSON_GetArraySize(rows);
        if (!o->json && !o->quiet) {
            if (!n) fputs("no rows\n", stderr);
            else if (op == pxs_coll_query && n == (o->limit ? o->limit : 100))
                fprintf(stderr, "(%d rows shown; more may match: use --limit / --offset)\n", n);
        }
    }
    cJSON_Delete(rows);
    return EXIT_OK;
}

int cmd_query(int argc, char **argv) {
    struct read_cmd r = {0};
    int st = read_start(argc, argv, query_help, false, &r);
    if (st) return st < 0 ? EXIT_OK : st;
    if (r.o.filter) cJSON_AddStringToObject(r.req, "filter", r.o.filter);
    if (r.o.count) {
        const char *cnt = "count(*)";
        add_strings(r.req, "outputFields", &cnt, 1);
    } else {
        add_strings(r.req, "outputFields", r.o.fields, r.o.nfields);
    }
    if (r.o.limit) cJSON_AddNumberToObject(r.req, "limit", (double)r.o.limit);
    if (r.o.offset) cJSON_AddNumberToObject(r.req, "offset", (double)r.o.offset);
    add_strings(r.req, "partitionNames", r.o.parts, r.o.nparts);
    return read_end(&r, run_and_print(r.e, pxs_coll_query, r.req, &r.o, "query"));
}

int cmd_get(int argc, char **argv) {
    struct read_cmd r = {0};
    int st = read_start(argc, argv, get_help, false, &r);
    if (st) return st < 0 ? EXIT_OK : st;
    st = add_ids(r.req, "id", &r.o, &r.ci) ? EXIT_USAGE : EXIT_OK;
    const char *all = "*";
    if (r.o.nfields) add_strings(r.req, "outputFields", r.o.fields, r.o.nfields);
    else add_strings(r.req, "outputFields", &all, 1);
    if (st == EXIT_OK) st = run_and_print(r.e, pxs_coll_get, r.req, &r.o, "get");
    return read_end(&r, st);
}

int cmd_delete(int argc, char **argv) {
    struct read_cmd r = {0};
    int st = read_start(argc, argv, delete_help, true, &r);
    if (st) return st < 0 ? EXIT_OK : st;
    if (r.o.filter) cJSON_AddStringToObject(r.req, "filter", r.o.filter);
    st = r.o.nids && add_ids(r.req, "ids", &r.o, &r.ci) ? EXIT_USAGE : EXIT_OK;
    if (r.o.nparts) cJSON_AddStringToObject(r.req, "partitionName", r.o.parts[0]);
    char *t = cJSON_PrintUnformatted(r.req);
    char *out = NULL;
    if (st == EXIT_OK) st = coll_call(r.e, pxs_coll_delete, t, &out, "delete");
    cJSON_free(t);
    if (st == EXIT_OK) {
        cJSON *res = cJSON_Parse(out);
        double n = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(res, "deleteCount"));
        if (r.o.json) printf("{\"deleteCount\":%.0f}\n", n);
        else printf("deleted %.0f row(s) from %s\n", n, r.coll);
        cJSON_Delete(res);
    }
    pxs_free(out);
    return read_end(&r, st);
}

/* ---- vsearch ---- */

struct vs_job {
    pxs_engine *engine;
    const char *prefix, *suffix; /* request around the data array */
    const void *queries;         /* nq vectors */
    size_t nq, vbytes, dim;
    bool binary;
    char *out;                   /* search data (caller frees) */
    int rc;
    struct pxs_err err;
};

static void *vs_run(void *arg) {
    struct vs_job *j = arg;
    struct pxs_buf b;
    pxs_buf_init(&b, SIZE_MAX);
    int rc = pxs_buf_appendf(&b, "%s[", j->prefix);
    for (size_t q = 0; rc == PXS_OK && q < j->nq; q++) {
        const char *v = (const char *)j->queries + q * j->vbytes;
        if (q) rc = pxs_buf_append(&b, ",", 1);
        if (rc == PXS_OK) rc = j->binary ? jb_u8(&b, (const uint8_t *)v, j->dim) : jb_f32(&b, (const float *)v, j->dim);
    }
    if (rc == PXS_OK) rc = pxs_buf_appendf(&b, "]%s", j->suffix);
    if (rc != PXS_OK) j->rc = pxs_errf(&j->err, PXS_ENOMEM, "out of memory");
    else j->rc = pxs_coll_search(j->engine, b.data, 0, &j->out, &j->err);
    pxs_buf_free(&b);
    return NULL;
}

/* Parse '[1, 2.5, 3]' or '1,2.5,3' into out (n values expected). */
static int parse_vector(const char *text, float *out, size_t n, bool binary) {
    size_t k = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ' || *p == '[' || *p == ']' || *p == ',' || *p == '\t' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v) || (binary && (v < 0 || v > 255 || v != floor(v)))) {
            cli_error("--vector: bad value at \"%.20s\"%s", p, binary ? " (binary vectors take bytes 0..255)" : "");
            return -1;
        }
        if (k < n) out[k] = (float)v;
        k++;
        p = end;
    }
    if (k != n) {
        cli_error("--vector has %zu values but the collection's vectors have %zu", k, n);
        return -1;
    }
    return 0;
}

struct vs_opts {
    struct read_opts r;
    const char *vectors[MAX_LIST];
    size_t nvectors;
    const char *file;
    uint64_t row_lo, row_hi; /* hi 0 = to the end */
    const char *metric, *group;
    long ef, nprobe, group_size, batch, threads;
    const char *radius, *range_filter;
    bool strict;
};

static int parse_rows(const char *s, uint64_t *lo, uint64_t *hi) {
    char *end;
    unsigned long long a = strtoull(s, &end, 10), b = 0;
    if (end == s) return -1;
    if (!*end) {
        b = a + 1;
    } else if (!strncmp(end, "..", 2)) {
        const char *t = end + 2;
        if (*t) {
            b = strtoull(t, &end, 10);
            if (*end || b <= a) return -1;
        }
    } else {
        return -1;
    }
    *lo = a;
    *hi = b;
    return 0;
}

static char *search_prefix(const char *coll) {
    struct pxs_buf b;
    pxs_buf_init(&b, 1u << 20);
    if (pxs_buf_append(&b, "{\"collectionName\":", 18) != PXS_OK || jb_str(&b, coll) != PXS_OK ||
        pxs_buf_append(&b, ",\"data\":", 8) != PXS_OK) {
        pxs_buf_free(&b);
        return NULL;
    }
    return pxs_buf_detach(&b, NULL);
}

static char *search_suffix(const struct vs_opts *o, const struct coll_info *ci) {
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "annsField", ci->vec);
    cJSON_AddNumberToObject(req, "limit", (double)(o->r.limit ? o->r.limit : 10));
    if (o->r.offset) cJSON_AddNumberToObject(req, "offset", (double)o->r.offset);
    if (o->r.filter) cJSON_AddStringToObject(req, "filter", o->r.filter);
    add_strings(req, "outputFields", o->r.fields, o->r.nfields);
    add_strings(req, "partitionNames", o->r.parts, o->r.nparts);
    cJSON *sp = cJSON_AddObjectToObject(req, "searchParams");
    if (o->metric) cJSON_AddStringToObject(sp, "metricType", o->metric);
    cJSON *p = cJSON_AddObjectToObject(sp, "params");
    if (o->ef) cJSON_AddNumberToObject(p, "ef", (double)o->ef);
    if (o->nprobe) cJSON_AddNumberToObject(p, "nprobe", (double)o->nprobe);
    if (o->radius) cJSON_AddNumberToObject(p, "radius", atof(o->radius));
    if (o->range_filter) cJSON_AddNumberToObject(p, "range_filter", atof(o->range_filter));
    if (o->group) {
        cJSON_AddStringToObject(req, "groupingField", o->group);
        if (o->group_size) cJSON_AddNumberToObject(req, "groupSize", (double)o->group_size);
        if (o->strict) cJSON_AddTrueToObject(req, "strictGroupSize");
    }
    char *t = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    char *copy = t ? pxs_strdup(t) : NULL;
    cJSON_free(t);
    if (copy) copy[0] = ','; /* not an object: it continues the request after "data" */
    return copy;
}

static int check_number(const char *opt, const char *v) {
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || !isfinite(d)) {
        cli_error("%s expects a number, got \"%s\"", opt, v);
        return -1;
    }
    return 0;
}

static int parse_vsearch(int argc, char **argv, struct vs_opts *o, const char **coll) {
    static const struct option lo[] = {READ_OPTIONS,
                                       {"vector", required_argument, 0, OPT_VECTOR},
                                       {"vectors", required_argument, 0, OPT_VECTORS},
                                       {"row", required_argument, 0, OPT_ROW},
                                       {"metric", required_argument, 0, OPT_METRIC},
                                       {"ef", required_argument, 0, OPT_EF},
                                       {"nprobe", required_argument, 0, OPT_NPROBE},
                                       {"radius", required_argument, 0, OPT_RADIUS},
                                       {"range-filter", required_argument, 0, OPT_RANGE},
                                       {"group-by", required_argument, 0, OPT_GROUP},
                                       {"group-size", required_argument, 0, OPT_GROUP_SIZE},
                                       {"strict-group-size", no_argument, 0, OPT_STRICT},
                                       {"batch", required_argument, 0, OPT_BATCH},
                                       {"threads", required_argument, 0, OPT_THREADS},
                                       {0, 0, 0, 0}};
    int c, m;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if ((m = read_option(c, optarg, &o->r)) != 0) {
            if (m < 0) return EXIT_USAGE;
            continue;
        }
        long v = 0;
        switch (c) {
        case OPT_VECTOR:
            if (o->nvectors == MAX_LIST) {
                cli_error("too many --vector options (use --vectors FILE)");
                return EXIT_USAGE;
            }
            o->vectors[o->nvectors++] = optarg;
            break;
        case OPT_VECTORS: o->file = optarg; break;
        case OPT_ROW:
            if (parse_rows(optarg, &o->row_lo, &o->row_hi)) {
                cli_error("--row expects I, I..J or I.. (0-based, J excluded), got \"%s\"", optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_METRIC: o->metric = optarg; break;
        case OPT_EF: v = o->ef = cli_parse_long("--ef", optarg, 1, 100000); break;
        case OPT_NPROBE: v = o->nprobe = cli_parse_long("--nprobe", optarg, 1, 65536); break;
        case OPT_RADIUS: v = check_number("--radius", optarg); o->radius = optarg; break;
        case OPT_RANGE: v = check_number("--range-filter", optarg); o->range_filter = optarg; break;
        case OPT_GROUP: o->group = optarg; break;
        case OPT_GROUP_SIZE: v = o->group_size = cli_parse_long("--group-size", optarg, 1, PXS_COLL_MAX_TOPK); break;
        case OPT_STRICT: o->strict = true; break;
        case OPT_BATCH: v = o->batch = cli_parse_long("--batch", optarg, 1, PXS_COLL_MAX_NQ); break;
        case OPT_THREADS: v = o->threads = cli_parse_long("--threads", optarg, 1, 256); break;
        case 'h': fputs(vsearch_help, stdout); return -1;
        default: fputs(vsearch_help, stderr); return EXIT_USAGE;
        }
        if (v < 0) return EXIT_USAGE;
    }
    if (optind + 1 != argc) {
        cli_error("vsearch needs one COLLECTION (see 'pixseek vsearch --help')");
        return EXIT_USAGE;
    }
    if (!o->nvectors == !o->file) {
        cli_error("vsearch needs query vectors: --vector V (repeatable) or --vectors FILE");
        return EXIT_USAGE;
    }
    if (o->r.count || o->r.nids) {
        cli_error("vsearch takes neither --count nor --id");
        return EXIT_USAGE;
    }
    *coll = argv[optind];
    return EXIT_OK;
}

/* Print the results of one engine call (queries numbered from first). */
static int print_results(const char *out, uint64_t first, bool json) {
    cJSON *res = cJSON_Parse(out);
    if (!cJSON_IsArray(res)) {
        cJSON_Delete(res);
        cli_error("search returned malformed JSON");
        return -1;
    }
    uint64_t q = first;
    const cJSON *hits;
    cJSON_ArrayForEach(hits, res) {
        if (json) {
            char *t = cJSON_PrintUnformatted(hits);
            printf("{\"query\":%llu,\"hits\":%s}\n", (unsigned long long)q, t ? t : "[]");
            cJSON_free(t);
        } else {
            printf("query %llu: %d hit(s)\n", (unsigned long long)q, cJSON_GetArraySize(hits));
            print_rows(hits, false);
        }
        q++;
    }
    cJSON_Delete(res);
    return 0;
}

int cmd_vsearch(int argc, char **argv) {
    struct vs_opts o = {.r.data_dir = cli_default_data_dir()};
    const char *coll;
    int st = parse_vsearch(argc, argv, &o, &coll);
    if (st) return st < 0 ? EXIT_OK : st;
    struct coll_info ci;
    pxs_engine *e = open_coll(o.r.data_dir, true, coll, &ci);
    if (!e) return EXIT_FAILURE_FATAL;
    size_t dim = ci.binary ? ci.dim / 8 : ci.dim;
    size_t vbytes = ci.binary ? dim : dim * sizeof(float);
    long threads = o.threads ? o.threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    size_t batch = (size_t)(o.batch ? o.batch : 64);
    size_t chunk = batch * (size_t)threads; /* queries in memory at once */
    pxs_import_file *qf = NULL;
    struct pxs_err err;
    pxs_err_clear(&err);
    int rc = PXS_OK;
    if (!ci.has_index) {
        cli_error("collection %s has no index: create one with 'pixseek collection index %s --index FLAT|HNSW ...'",
                  coll, coll);
        st = EXIT_FAILURE_FATAL;
    }
    if (st == EXIT_OK && o.file) {
        rc = pxs_import_open(o.file, PXS_IMPORT_AUTO, &qf, &err);
        if (rc == PXS_OK && pxs_import_get_info(qf)->dim != dim)
            rc = pxs_errf(&err, PXS_EINVAL, "%s has %zu values per row but collection %s has dim %zu%s", o.file,
                          pxs_import_get_info(qf)->dim, coll, ci.dim, ci.binary ? " bits" : "");
        if (rc == PXS_OK && o.row_lo) rc = pxs_import_skip(qf, o.row_lo, &err);
        if (rc != PXS_OK) {
            cli_error("%s", pxs_err_message(&err, rc));
            st = EXIT_FAILURE_FATAL;
        }
    }
    void *qbuf = st == EXIT_OK ? pxs_mallocarray(chunk, vbytes) : NULL;
    struct vs_job *jobs = st == EXIT_OK ? pxs_calloc((size_t)threads, sizeof *jobs) : NULL;
    pthread_t *tids = st == EXIT_OK ? pxs_calloc((size_t)threads, sizeof *tids) : NULL;
    char *prefix = st == EXIT_OK ? search_prefix(coll) : NULL, *suffix = st == EXIT_OK ? search_suffix(&o, &ci) : NULL;
    if (st == EXIT_OK && (!qbuf || !jobs || !tids || !prefix || !suffix)) {
        cli_error("out of memory");
        st = EXIT_FAILURE_FATAL;
    }
    uint64_t next = o.file ? o.row_lo : 0, done = 0;
    double searching = 0;
    size_t inline_used = 0;
    while (st == EXIT_OK) {
        size_t n = 0;
        if (o.file) { /* the next chunk of rows */
            size_t want = chunk;
            if (o.row_hi && o.row_hi - next < want) want = (size_t)(o.row_hi - next);
            while (n < want && rc == PXS_OK) {
                size_t got = 0;
                rc = pxs_import_read(qf, ci.binary ? PXS_ELEM_U8 : PXS_ELEM_F32, (char *)qbuf + n * vbytes, want - n,
                                     &got, &err);
                if (!got) break;
                n += got;
            }
            if (rc == PXS_OK && o.row_hi && n < want)
                rc = pxs_errf(&err, PXS_EINVAL, "%s has only %llu rows (--row asks up to %llu)", o.file,
                              (unsigned long long)(next + n), (unsigned long long)o.row_hi);
            if (rc != PXS_OK) {
                cli_error("%s", pxs_err_message(&err, rc));
                st = EXIT_FAILURE_FATAL;
                break;
            }
        } else {
            while (n < chunk && inline_used < o.nvectors) {
                float *dst = ci.binary ? NULL : (float *)((char *)qbuf + n * vbytes);
                float *scratch = dst ? dst : pxs_mallocarray(dim, sizeof(float));
                int bad = !scratch || parse_vector(o.vectors[inline_used], scratch, dim, ci.binary);
                if (!bad && ci.binary)
                    for (size_t i = 0; i < dim; i++) ((uint8_t *)qbuf)[n * vbytes + i] = (uint8_t)scratch[i];
                if (!dst) pxs_free(scratch);
                if (bad) {
                    st = EXIT_USAGE;
                    break;
                }
                inline_used++;
                n++;
            }
        }
        if (st != EXIT_OK || !n) break;
        double t0 = pxs_now_seconds();
        size_t nj = 0;
        for (size_t off = 0; off < n; off += batch, nj++) {
            struct vs_job *j = &jobs[nj];
            *j = (struct vs_job){e, prefix, suffix, (char *)qbuf + off * vbytes, n - off < batch ? n - off : batch,
                                 vbytes, dim, ci.binary, NULL, PXS_OK, {0}};
            if (nj && pthread_create(&tids[nj], NULL, vs_run, j) != 0) tids[nj] = 0, vs_run(j);
        }
        vs_run(&jobs[0]);
        for (size_t i = 1; i < nj; i++)
            if (tids[i]) pthread_join(tids[i], NULL), tids[i] = 0;
        searching += pxs_now_seconds() - t0;
        for (size_t i = 0; i < nj; i++) {
            if (st == EXIT_OK && jobs[i].rc != PXS_OK) {
                cli_error("search: %s", pxs_err_message(&jobs[i].err, jobs[i].rc));
                st = EXIT_FAILURE_FATAL;
            }
            if (st == EXIT_OK && print_results(jobs[i].out, next + i * batch, o.r.json)) st = EXIT_FAILURE_FATAL;
            pxs_free(jobs[i].out);
        }
        next += n;
        done += n;
        if (o.file && o.row_hi && next >= o.row_hi) break;
    }
    if (st == EXIT_OK && !o.r.quiet) {
        double qps = searching > 0 ? (double)done / searching : 0;
        if (o.r.json)
            fprintf(stderr, "{\"event\":\"summary\",\"queries\":%llu,\"seconds\":%.4f,\"qps\":%.1f,\"threads\":%ld}\n",
                    (unsigned long long)done, searching, qps, threads);
        else
            fprintf(stderr, "%llu quer%s in %.3f s (%.0f queries/s, %ld thread(s))\n", (unsigned long long)done,
                    done == 1 ? "y" : "ies", searching, qps, threads);
    }
    pxs_free(prefix);
    pxs_free(suffix);
    pxs_free(qbuf);
    pxs_free(jobs);
    pxs_free(tids);
    pxs_import_close(qf);
    coll_info_free(&ci);
    pxs_engine_close(e);
    return st;
}
