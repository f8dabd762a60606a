/*
 * cmd_coll.c — `pixseek collection create|list|describe|drop|stats|index|
 * rename|partition|call`: manage the Milvus-like vector collections of a
 * data directory with friendly flags (or a raw REST v2 request body with
 * --request / call, for experts).
 */
#include "coll_cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char coll_help[] =
    "usage: pixseek collection <subcommand> [options]\n"
    "\n"
    "Manage vector collections (Milvus-like: a primary key, scalar fields and one\n"
    "vector field per collection; see also import, query, vsearch, get, delete).\n"
    "\n"
    "subcommands:\n"
    "  create NAME --dim D [options]   create a collection (see 'collection create --help')\n"
    "  list                            collections and their row counts\n"
    "  describe NAME                   schema, index and row count\n"
    "  stats NAME                      rows, index type, memory, tombstones\n"
    "  index NAME [--index T ...]      show the index, or replace it (rebuilds)\n"
    "  drop NAME [--if-exists]         delete a collection and its rows\n"
    "  rename NAME NEW                 rename a collection\n"
    "  partition NAME list|create P|drop P   manage partitions\n"
    "  call OP [JSON|-]                run any REST v2 operation (e.g. entities/query)\n"
    "                                  with a raw request body; prints its data\n"
    "\n"
    "common options: --data DIR, --json (machine-readable output), -h/--help\n";

static const char create_help[] =
    "usage: pixseek collection create NAME --dim D [options]\n"
    "\n"
    "Create a collection: primary key \"id\" (Int64), vector field \"vector\"\n"
    "(FloatVector of D dimensions), a dynamic field for undeclared keys, and an index.\n"
    "\n"
    "options:\n"
    "  --dim D             vector dimension (bits with --binary)\n"
    "  --binary            BinaryVector instead of FloatVector (HAMMING/JACCARD)\n"
    INDEX_HELP
    "  --field NAME:TYPE[:ARG]  a scalar field, repeatable. TYPE: Bool, Int8, Int16,\n"
    "                      Int32, Int64, Float, Double, VarChar (ARG = max_length,\n"
    "                      default 65535), JSON, Array (ARG = element type, e.g.\n"
    "                      tags:Array:VarChar). Append ? to NAME for a nullable field.\n"
    "  --id-field NAME     primary key name (default id)\n"
    "  --id-type T         Int64 (default) or VarChar[:max_length]\n"
    "  --auto-id           generate Int64 keys\n"
    "  --vector-field NAME vector field name (default vector)\n"
    "  --no-dynamic        reject undeclared keys instead of keeping them\n"
    "  --description TEXT\n"
    "  --if-not-exists     succeed if the collection already exists\n"
    "  --request JSON      expert: the whole collections/create body (REST v2)\n"
    "  --data DIR, --json, -h/--help\n"
    "\n"
    "example: pixseek collection create fmnist --dim 784 --metric L2 --index HNSW \\\n"
    "           --param M=16 --param efConstruction=200 --field label:Int64\n";

struct common {
    const char *data_dir;
    bool json;
};

static char *req_name(const char *name) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "collectionName", name);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return t;
}

/* Run op with {"collectionName":name} and return the parsed data (NULL on error, printed). */
static cJSON *call_named(pxs_engine *e, pxs_coll_op_fn op, const char *name, const char *what) {
    char *req = req_name(name);
    char *out = NULL;
    int st = req ? coll_call(e, op, req, &out, what) : EXIT_FAILURE_FATAL;
    cJSON_free(req);
    if (st != EXIT_OK) return NULL;
    cJSON *j = cJSON_Parse(out ? out : "{}");
    pxs_free(out);
    return j;
}

static int print_json_data(const char *out, bool json) {
    cJSON *j = cJSON_Parse(out ? out : "{}");
    char *t = j ? (json ? cJSON_PrintUnformatted(j) : cJSON_Print(j)) : NULL;
    puts(t ? t : (out ? out : "{}"));
    cJSON_free(t);
    cJSON_Delete(j);
    return EXIT_OK;
}

static const char *milvus_type(const char *t) {
    static const char *const names[] = {"Bool", "Int8", "Int16", "Int32", "Int64", "Float",
                                        "Double", "VarChar", "JSON", "Array"};
    if (!strcasecmp(t, "string")) return "VarChar";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(t, names[i])) return names[i];
    return NULL;
}

/* NAME:TYPE[:ARG] -> a schema field object (NULL on error, printed). */
static cJSON *parse_field(const char *spec) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", spec);
    char *type = strchr(buf, ':');
    if (!type || type == buf) {
        cli_error("--field expects NAME:TYPE[:ARG] (e.g. label:Int64, title:VarChar:256), got \"%s\"", spec);
        return NULL;
    }
    *type++ = '\0';
    char *arg = strchr(type, ':');
    if (arg) *arg++ = '\0';
    bool nullable = false;
    size_t nl = strlen(buf);
    if (buf[nl - 1] == '?') {
        buf[nl - 1] = '\0';
        nullable = true;
    }
    const char *mt = milvus_type(type);
    if (!mt) {
        cli_error("--field %s: unknown type \"%s\" (Bool, Int8, Int16, Int32, Int64, Float, Double, VarChar, "
                  "JSON, Array)", spec, type);
        return NULL;
    }
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "fieldName", buf);
    cJSON_AddStringToObject(f, "dataType", mt);
    if (nullable) cJSON_AddTrueToObject(f, "nullable");
    cJSON *tp = cJSON_AddObjectToObject(f, "elementTypeParams");
    if (!strcmp(mt, "VarChar")) {
        cJSON_AddNumberToObject(tp, "max_length", arg ? atof(arg) : 65535);
    } else if (!strcmp(mt, "Array")) {
        const char *et = arg ? milvus_type(arg) : NULL;
        if (!et || !strcmp(et, "Array") || !strcmp(et, "JSON")) {
            cli_error("--field %s: Array needs a scalar element type (e.g. tags:Array:VarChar)", spec);
            cJSON_Delete(f);
            return NULL;
        }
        cJSON_AddStringToObject(f, "elementDataType", et);
        cJSON_AddNumberToObject(tp, "max_capacity", 4096);
        if (!strcmp(et, "VarChar")) cJSON_AddNumberToObject(tp, "max_length", 65535);
    } else if (arg) {
        cli_error("--field %s: type %s takes no argument", spec, mt);
        cJSON_Delete(f);
        return NULL;
    }
    return f;
}

/* Build a collections/create body. Exposed to import --create through
 * coll_create_request (below). */
struct create_opts {
    size_t dim;
    bool binary, auto_id, no_dynamic;
    const char *id_field, *id_type, *vec_field, *description;
    const char *fields[64];
    size_t nfields;
    struct index_opts ix;
};

static char *create_request(const char *name, const struct create_opts *o) {
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "collectionName", name);
    if (o->description) cJSON_AddStringToObject(req, "description", o->description);
    cJSON *schema = cJSON_AddObjectToObject(req, "schema");
    cJSON_AddBoolToObject(schema, "autoId", o->auto_id);
    cJSON_AddBoolToObject(schema, "enableDynamicField", !o->no_dynamic);
    cJSON *fields = cJSON_AddArrayToObject(schema, "fields");
    cJSON *pk = cJSON_CreateObject();
    cJSON_AddStringToObject(pk, "fieldName", o->id_field ? o->id_field : "id");
    char idt[64];
    snprintf(idt, sizeof idt, "%s", o->id_type ? o->id_type : "Int64");
    char *len = strchr(idt, ':');
    if (len) *len++ = '\0';
    const char *mt = milvus_type(idt);
    if (!mt || (strcmp(mt, "Int64") && strcmp(mt, "VarChar"))) {
        cli_error("--id-type must be Int64 or VarChar[:max_length], got \"%s\"", o->id_type);
        cJSON_Delete(req);
        cJSON_Delete(pk);
        return NULL;
    }
    cJSON_AddStringToObject(pk, "dataType", mt);
    cJSON_AddTrueToObject(pk, "isPrimary");
    if (!strcmp(mt, "VarChar"))
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(pk, "elementTypeParams"), "max_length", len ? atof(len) : 256);
    cJSON_AddItemToArray(fields, pk);
    cJSON *vf = cJSON_CreateObject();
    const char *vec = o->vec_field ? o->vec_field : "vector";
    cJSON_AddStringToObject(vf, "fieldName", vec);
    cJSON_AddStringToObject(vf, "dataType", o->binary ? "BinaryVector" : "FloatVector");
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(vf, "elementTypeParams"), "dim", (double)o->dim);
    cJSON_AddItemToArray(fields, vf);
    for (size_t i = 0; i < o->nfields; i++) {
        cJSON *f = parse_field(o->fields[i]);
        if (!f) {
            cJSON_Delete(req);
            return NULL;
        }
        cJSON_AddItemToArray(fields, f);
    }
    cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "indexParams"), index_params_json(&o->ix, vec));
    char *t = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    return t;
}

int coll_create_simple(pxs_engine *e, const char *name, size_t dim, bool binary, bool auto_id,
                       const struct index_opts *ix, const char *const *fields, size_t nfields) {
    struct create_opts o = {.dim = dim, .binary = binary, .auto_id = auto_id, .ix = *ix};
    for (size_t i = 0; i < nfields && i < 64; i++) o.fields[o.nfields++] = fields[i];
    char *req = create_request(name, &o);
    if (!req) return EXIT_USAGE;
    int st = coll_call(e, pxs_coll_create, req, NULL, "cannot create the collection");
    cJSON_free(req);
    return st;
}

static int sub_create(int argc, char **argv, struct common *cm) {
    static const struct option lo[] = {INDEX_OPTIONS,
                                       {"dim", required_argument, 0, 'D'},
                                       {"binary", no_argument, 0, 'B'},
                                       {"field", required_argument, 0, 'f'},
                                       {"id-field", required_argument, 0, 'I'},
                                       {"id-type", required_argument, 0, 'T'},
                                       {"auto-id", no_argument, 0, 'A'},
                                       {"vector-field", required_argument, 0, 'V'},
                                       {"no-dynamic", no_argument, 0, 'N'},
                                       {"description", required_argument, 0, 'S'},
                                       {"if-not-exists", no_argument, 0, 'E'},
                                       {"request", required_argument, 0, 'R'},
                                       {"data", required_argument, 0, 'd'},
                                       {"json", no_argument, 0, 'j'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    struct create_opts o = {0};
    const char *raw = NULL;
    bool if_not_exists = false;
    int c, m;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if ((m = index_option(c, optarg, &o.ix)) != 0) {
            if (m < 0) return EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'D': {
            long v = cli_parse_long("--dim", optarg, 1, 32768);
            if (v < 0) return EXIT_USAGE;
            o.dim = (size_t)v;
            break;
        }
        case 'B': o.binary = true; break;
        case 'f':
            if (o.nfields == 64) {
                cli_error("too many --field options");
                return EXIT_USAGE;
            }
            o.fields[o.nfields++] = optarg;
            break;
        case 'I': o.id_field = optarg; break;
        case 'T': o.id_type = optarg; break;
        case 'A': o.auto_id = true; break;
        case 'V': o.vec_field = optarg; break;
        case 'N': o.no_dynamic = true; break;
        case 'S': o.description = optarg; break;
        case 'E': if_not_exists = true; break;
        case 'R': raw = optarg; break;
        case 'd': cm->data_dir = optarg; break;
        case 'j': cm->json = true; break;
        case 'h': fputs(create_help, stdout); return EXIT_OK;
        default: fputs(create_help, stderr); return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        cli_error("collection create needs one NAME (see 'pixseek collection create --help')");
        return EXIT_USAGE;
    }
    const char *name = argv[optind];
    if (!raw && !o.dim) {
        cli_error("collection create needs --dim (or --request JSON)");
        return EXIT_USAGE;
    }
    char *req = NULL;
    if (raw) {
        cJSON *j = cJSON_Parse(raw);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            cli_error("--request is not a JSON object");
            return EXIT_USAGE;
        }
        if (!cJSON_GetObjectItemCaseSensitive(j, "collectionName")) cJSON_AddStringToObject(j, "collectionName", name);
        req = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
    } else {
        req = create_request(name, &o);
        if (!req) return EXIT_USAGE;
    }
    pxs_engine *e = cli_open_engine(cm->data_dir, 0, NULL);
    if (!e) {
        cJSON_free(req);
        return EXIT_FAILURE_FATAL;
    }
    struct pxs_err err;
    pxs_err_clear(&err);
    int rc = pxs_coll_create(e, req, 0, NULL, &err);
    cJSON_free(req);
    int st = EXIT_OK;
    if (rc == PXS_EEXIST && if_not_exists) {
        if (!cm->json) fprintf(stderr, "collection %s already exists\n", name);
    } else if (rc != PXS_OK) {
        cli_error("cannot create collection %s: %s", name, pxs_err_message(&err, rc));
        st = EXIT_FAILURE_FATAL;
    } else if (cm->json) {
        printf("{\"created\":");
        cli_json_string(stdout, name);
        puts("}");
    } else {
        printf("created collection %s\n", name);
    }
    pxs_engine_close(e);
    return st;
}

static uint64_t row_count(pxs_engine *e, const char *name) {
    cJSON *st = call_named(e, pxs_coll_get_stats, name, "stats");
    double n = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "rowCount"));
    cJSON_Delete(st);
    return isnan(n) ? 0 : (uint64_t)n;
}

static int sub_list(pxs_engine *e, struct common *cm) {
    char *out = NULL;
    int st = coll_call(e, pxs_coll_list, "{}", &out, "cannot list collections");
    if (st != EXIT_OK) return st;
    cJSON *names = cJSON_Parse(out);
    pxs_free(out);
    const cJSON *n;
    if (cm->json) {
        cJSON *arr = cJSON_CreateArray();
        cJSON_ArrayForEach(n, names) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", n->valuestring);
            cJSON_AddNumberToObject(o, "rows", (double)row_count(e, n->valuestring));
            cJSON_AddItemToArray(arr, o);
        }
        print_rows(arr, true);
        cJSON_Delete(arr);
    } else {
        if (!cJSON_GetArraySize(names)) fputs("no collections (create one with 'pixseek collection create')\n", stderr);
        cJSON_ArrayForEach(n, names)
            printf("%-32s %12llu rows\n", n->valuestring, (unsigned long long)row_count(e, n->valuestring));
    }
    cJSON_Delete(names);
    return EXIT_OK;
}

static int sub_describe(pxs_engine *e, const char *name, struct common *cm) {
    struct coll_info ci;
    if (coll_info_load(e, name, &ci) != EXIT_OK) return EXIT_FAILURE_FATAL;
    uint64_t rows = row_count(e, name);
    if (cm->json) {
        cJSON_AddNumberToObject(ci.describe, "rowCount", (double)rows);
        char *t = cJSON_PrintUnformatted(ci.describe);
        puts(t ? t : "{}");
        cJSON_free(t);
        coll_info_free(&ci);
        return EXIT_OK;
    }
    printf("collection %s: %llu rows, %s\n", name, (unsigned long long)rows,
           ci.auto_id ? "auto ids" : "ids given on insert");
    printf("fields:\n");
    const cJSON *f;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(ci.describe, "fields")) {
        const char *fname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "name"));
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "type"));
        const char *et = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "elementDataType"));
        printf("  %-24s %s%s%s", fname ? fname : "?", type ? type : "?", et ? "<" : "", et ? et : "");
        if (et) putchar('>');
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(f, "params"))
            printf(" %s=%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "key")),
                   cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "value")));
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "primaryKey"))) printf("  primary key");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "nullable"))) printf("  nullable");
        putchar('\n');
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ci.describe, "enableDynamicField")))
        printf("  (dynamic field: undeclared keys are kept and filterable)\n");
    const cJSON *ix;
    cJSON_ArrayForEach(ix, cJSON_GetObjectItemCaseSensitive(ci.describe, "indexes")) {
        char *p = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(ix, "params"));
        printf("index: %s %s on %s, params %s\n",
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ix, "indexType")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ix, "metricType")),
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ix, "fieldName")), p ? p : "{}");
        cJSON_free(p);
    }
    if (!ci.has_index) printf("index: none (create one with 'pixseek collection index %s --index HNSW')\n", name);
    printf("partitions: %d\n", (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ci.describe, "partitionsNum")));
    coll_info_free(&ci);
    return EXIT_OK;
}

static int sub_stats(pxs_engine *e, const char *name, struct common *cm) {
    cJSON *st = call_named(e, pxs_coll_get_stats, name, "cannot read statistics");
    if (!st) return EXIT_FAILURE_FATAL;
    uint64_t rows = (uint64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(st, "rowCount"));
    cJSON_Delete(st);
    struct pxs_coll_index_stats is = {0};
    struct pxs_err err;
    pxs_err_clear(&err);
    int rc = pxs_coll_index_stats(e, name, &is, &err);
    bool has_index = rc == PXS_OK;
    if (rc != PXS_OK && rc != PXS_ENOTFOUND) {
        cli_error("index statistics of %s: %s", name, pxs_err_message(&err, rc));
        return EXIT_FAILURE_FATAL;
    }
    if (cm->json) {
        printf("{\"collection\":");
        cli_json_string(stdout, name);
        printf(",\"rowCount\":%llu", (unsigned long long)rows);
        if (has_index)
            printf(",\"index\":{\"type\":\"%s\",\"metric\":\"%s\",\"rows\":%llu,\"tombstones\":%llu,"
                   "\"memoryBytes\":%zu,\"loadedFromFile\":%s,\"builds\":%llu}",
                   is.index_type, is.metric, (unsigned long long)is.rows, (unsigned long long)is.tombstones,
                   is.memory_bytes, is.loaded_from_file ? "true" : "false", (unsigned long long)is.builds);
        puts("}");
    } else {
        printf("collection:   %s\nrows:         %llu\n", name, (unsigned long long)rows);
        if (has_index)
            printf("index:        %s %s\nindexed rows: %llu (%llu tombstones)\nindex memory: %.1f MiB\n"
                   "index source: %s\n",
                   is.index_type, is.metric, (unsigned long long)is.rows, (unsigned long long)is.tombstones,
                   (double)is.memory_bytes / 1048576.0, is.loaded_from_file ? "loaded from its file" : "built");
        else
            printf("index:        none\n");
    }
    return EXIT_OK;
}

static int sub_index(pxs_engine *e, const char *name, const struct index_opts *ix, struct common *cm) {
    struct coll_info ci;
    if (coll_info_load(e, name, &ci) != EXIT_OK) return EXIT_FAILURE_FATAL;
    char *out = NULL;
    int st;
    if (!ix->type && !ix->metric && !ix->nparams) { /* show */
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "collectionName", name);
        cJSON_AddStringToObject(req, "indexName", ci.vec);
        char *t = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        st = coll_call(e, pxs_coll_index_describe, t, &out, "cannot describe the index");
        cJSON_free(t);
        if (st == EXIT_OK) print_json_data(out, cm->json);
    } else {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "collectionName", name);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "indexParams"), index_params_json(ix, ci.vec));
        char *t = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        double t0 = pxs_now_seconds();
        if (!cm->json) fprintf(stderr, "building the index of %s...\n", name);
        st = coll_call(e, pxs_coll_index_create, t, NULL, "cannot build the index");
        cJSON_free(t);
        if (st == EXIT_OK) {
            if (cm->json) printf("{\"indexed\":true,\"seconds\":%.3f}\n", pxs_now_seconds() - t0);
            else printf("index of %s built in %.1f s\n", name, pxs_now_seconds() - t0);
        }
    }
    pxs_free(out);
    coll_info_free(&ci);
    return st;
}

static int sub_partition(pxs_engine *e, int argc, char **argv, struct common *cm) {
    if (argc < 2) {
        cli_error("usage: pixseek collection partition NAME list|create P|drop P");
        return EXIT_USAGE;
    }
    const char *name = argv[0], *action = argv[1];
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "collectionName", name);
    pxs_coll_op_fn op = NULL;
    if (!strcmp(action, "list") && argc == 2) op = pxs_coll_partition_list;
    else if (!strcmp(action, "create") && argc == 3) op = pxs_coll_partition_create;
    else if (!strcmp(action, "drop") && argc == 3) op = pxs_coll_partition_drop;
    if (!op) {
        cJSON_Delete(req);
        cli_error("usage: pixseek collection partition NAME list|create P|drop P");
        return EXIT_USAGE;
    }
    if (argc == 3) cJSON_AddStringToObject(req, "partitionName", argv[2]);
    char *t = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    char *out = NULL;
    int st = coll_call(e, op, t, &out, "partition");
    cJSON_free(t);
    if (st == EXIT_OK) {
        if (op == pxs_coll_partition_list || cm->json) print_json_data(out, cm->json);
        else printf("%s partition %s of %s\n", action[0] == 'c' ? "created" : "dropped", argv[2], name);
    }
    pxs_free(out);
    return st;
}

static int sub_call(pxs_engine *e, const char *op_name, const char *body, struct common *cm) {
    pxs_coll_op_fn op = pxs_coll_find_op(op_name);
    if (!op) {
        cli_error("unknown operation \"%s\" (REST v2 paths such as collections/describe, entities/query)", op_name);
        return EXIT_USAGE;
    }
    char *text = NULL;
    if (body && !strcmp(body, "-")) {
        struct pxs_buf b;
        pxs_buf_init(&b, 1u << 30);
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
            if (pxs_buf_append(&b, chunk, n) != PXS_OK) {
                pxs_buf_free(&b);
                cli_error("request body too large");
                return EXIT_USAGE;
            }
        }
        text = pxs_buf_detach(&b, &n);
    }
    char *out = NULL;
    int st = coll_call(e, op, text ? text : body ? body : "{}", &out, op_name);
    pxs_free(text);
    if (st == EXIT_OK) print_json_data(out, cm->json);
    pxs_free(out);
    return st;
}

int cmd_collection(int argc, char **argv) {
    struct common cm = {cli_default_data_dir(), false};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(coll_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    const char *sub = argv[1];
    optind = 1;
    if (!strcmp(sub, "create")) return sub_create(argc - 1, argv + 1, &cm);
    static const struct option lo[] = {INDEX_OPTIONS,
                                       {"data", required_argument, 0, 'd'},
                                       {"json", no_argument, 0, 'j'},
                                       {"if-exists", no_argument, 0, 'E'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    struct index_opts ix = {0};
    bool if_exists = false;
    int c, m;
    while ((c = getopt_long(argc - 1, argv + 1, "h", lo, NULL)) != -1) {
        if ((m = index_option(c, optarg, &ix)) != 0) {
            if (m < 0) return EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'd': cm.data_dir = optarg; break;
        case 'j': cm.json = true; break;
        case 'E': if_exists = true; break;
        case 'h':
            fputs(!strcmp(sub, "index") ? "usage: pixseek collection index NAME [options]\n\n"
                                          "Without options: show the index. With them: replace it (the new\n"
                                          "index is built without blocking inserts or searches).\n\noptions:\n" INDEX_HELP
                                        : coll_help, stdout);
            return EXIT_OK;
        default: fputs(coll_help, stderr); return EXIT_USAGE;
        }
    }
    char **args = argv + 1 + optind;
    int nargs = argc - 1 - optind;
    static const struct {
        const char *name;
        int min, max;
    } subs[] = {{"list", 0, 0},  {"describe", 1, 1}, {"stats", 1, 1},     {"index", 1, 1},
                {"drop", 1, 1},  {"rename", 2, 2},   {"partition", 2, 3}, {"call", 1, 2}};
    size_t si = 0;
    while (si < sizeof subs / sizeof subs[0] && strcmp(subs[si].name, sub)) si++;
    if (si == sizeof subs / sizeof subs[0]) {
        cli_error("unknown subcommand \"collection %s\" (try 'pixseek collection --help')", sub);
        return EXIT_USAGE;
    }
    if (nargs < subs[si].min || nargs > subs[si].max) {
        cli_error("collection %s: wrong number of arguments (see 'pixseek collection --help')", sub);
        return EXIT_USAGE;
    }
    bool writes = !strcmp(sub, "index") ? (ix.type || ix.metric || ix.nparams)
                                        : (!strcmp(sub, "drop") || !strcmp(sub, "rename") ||
                                           !strcmp(sub, "partition") || !strcmp(sub, "call"));
    pxs_engine *e = cli_open_engine(cm.data_dir, !writes, NULL);
    if (!e) return EXIT_FAILURE_FATAL;
    int st = EXIT_OK;
    if (!strcmp(sub, "list")) {
        st = sub_list(e, &cm);
    } else if (!strcmp(sub, "describe")) {
        st = sub_describe(e, args[0], &cm);
    } else if (!strcmp(sub, "stats")) {
        st = sub_stats(e, args[0], &cm);
    } else if (!strcmp(sub, "index")) {
        st = sub_index(e, args[0], &ix, &cm);
    } else if (!strcmp(sub, "drop")) {
        char *req = req_name(args[0]);
        struct pxs_err err;
        pxs_err_clear(&err);
        int rc = pxs_coll_drop(e, req, 0, NULL, &err);
        cJSON_free(req);
        if (rc == PXS_ENOTFOUND && if_exists) {
            rc = PXS_OK;
        } else if (rc != PXS_OK) {
            cli_error("cannot drop %s: %s", args[0], pxs_err_message(&err, rc));
            st = EXIT_FAILURE_FATAL;
        }
        if (rc == PXS_OK && !cm.json) printf("dropped collection %s\n", args[0]);
        else if (rc == PXS_OK) puts("{}");
    } else if (!strcmp(sub, "rename")) {
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "collectionName", args[0]);
        cJSON_AddStringToObject(req, "newCollectionName", args[1]);
        char *t = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        st = coll_call(e, pxs_coll_rename, t, NULL, "cannot rename");
        cJSON_free(t);
        if (st == EXIT_OK && !cm.json) printf("renamed %s to %s\n", args[0], args[1]);
    } else if (!strcmp(sub, "partition")) {
        st = sub_partition(e, nargs, args, &cm);
    } else {
        st = sub_call(e, args[0], nargs > 1 ? args[1] : NULL, &cm);
    }
    pxs_engine_close(e);
    return st;
}
