/*
 * main.c — the pixseek program: subcommand dispatch, global help, and the
 * helpers every subcommand shares. Only the CLI chooses process-wide policy
 * (log level, signals, exit codes).
 */
#include "cli.h"
#include "coll_cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PIXSEEK_VERSION "0.1.0"

static const char usage_text[] =
    "pixseek " PIXSEEK_VERSION " — reverse image search in one binary\n"
    "\n"
    "usage: pixseek <command> [options] [arguments]\n"
    "\n"
    "commands:\n"
    "  index DIR...      index every image under the folders (recursive, resumable)\n"
    "  search IMAGE...   find the most similar indexed images (--id ID: more like this)\n"
    "  tag ID K=V...     set user tags on an indexed image (usable in --filter)\n"
    "  show ID           an indexed image's fields, tags and original\n"
    "  serve             run the HTTP API and web UI\n"
    "  stats             show what the data directory holds\n"
    "  dups              list exact copies and near-duplicate groups\n"
    "  collections       list the image collections with counts and models\n"
    "  embed IMAGE...    print embeddings (also of raw tensors, for checking models)\n"
    "\n"
    "vector collections (Milvus-like):\n"
    "  collection SUB    create | list | describe | stats | index | drop | rename | ...\n"
    "  import C FILE...  bulk-load .npy / .fvecs / .bvecs / IDX / JSON-lines files\n"
    "  query C           rows matching a filter expression (or --count)\n"
    "  vsearch C         nearest neighbours of vectors (inline or from a file)\n"
    "  get C --id K      rows by primary key\n"
    "  delete C          delete rows by --id or --filter\n"
    "\n"
    "  help [COMMAND]    show help for a command\n"
    "\n"
    "common options:\n"
    "  --data DIR        data directory (default $PIXSEEK_DATA or ./pixseek-data)\n"
    "  --json            machine-readable output\n"
    "  --collection NAME image collection within the data directory (default\n"
    "                    \"default\"); each remembers its own model (index, search,\n"
    "                    dups, serve, stats, tag, show; list them: pixseek collections)\n"
    "  --log-level L     error | warn | info | debug (default warn)\n"
    "\n"
    "exit status: 0 success, 1 error, 2 usage error, 3 finished but some inputs failed\n"
    "run 'pixseek COMMAND --help' for a command's options\n";

const char *cli_default_data_dir(void) {
    const char *env = getenv("PIXSEEK_DATA");
    return env && env[0] ? env : "./pixseek-data";
}

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("pixseek: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_model_option(int c, const char *arg, struct cli_model_args *m) {
    switch (c) {
    case 0x100: m->model = arg; return 1;
    case 0x101: m->model_config = arg; return 1;
    case 0x103: m->image_index = arg; return 1;
    case 0x104:
        if (strcmp(arg, "fp32") != 0 && strcmp(arg, "bf16") != 0) {
            cli_error("--precision must be fp32 or bf16, not '%s'", arg);
            return -1;
        }
        m->precision = arg;
        return 1;
    case 0x102: {
        long v = cli_parse_long("--threads", arg, 1, 256);
        if (v < 0) return -1;
        m->threads = (int)v;
        return 1;
    }
    default: return 0;
    }
}

/* --collection, taken from the command line by main (NULL = default). */
static const char *cli_collection;

pxs_engine *cli_open_engine(const char *data_dir, int read_only, const struct cli_model_args *m) {
    struct pxs_err err;
    pxs_err_clear(&err);
    struct pxs_engine_opts opts = {.data_dir = data_dir, .read_only = read_only};
    opts.collection = cli_collection;
    if (m) {
        opts.model_path = m->model;
        opts.model_config = m->model_config;
        opts.threads = m->threads;
        opts.image_index = m->image_index;
        opts.precision = m->precision;
        opts.query_batch = m->query_batch;
        opts.query_wait_us = m->query_wait_us;
    }
    pxs_engine *engine;
    int rc = pxs_engine_open(&opts, &engine, &err);
    if (rc != PXS_OK) {
        if (cli_collection)
            cli_error("cannot open collection %s of data directory %s: %s", cli_collection,
                      data_dir, pxs_err_message(&err, rc));
        else
            cli_error("cannot open data directory %s: %s", data_dir, pxs_err_message(&err, rc));
        return NULL;
    }
    return engine;
}

int cli_data_json_options(int argc, char **argv, const char *help, const char **data_dir,
                          int *json) {
    static const struct option long_opts[] = {{"data", required_argument, 0, 'd'},
                                              {"json", no_argument, 0, 'j'},
                                              {"help", no_argument, 0, 'h'},
                                              {0, 0, 0, 0}};
    *data_dir = cli_default_data_dir();
    *json = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': *data_dir = optarg; break;
        case 'j': *json = 1; break;
        case 'h': fputs(help, stdout); return EXIT_OK;
        default: fputs(help, stderr); return EXIT_USAGE;
        }
    }
    return -1;
}

long cli_parse_long(const char *opt, const char *text, long lo, long hi) {
    char *end;
    long v = strtol(text, &end, 10);
    if (!text[0] || *end || v < lo || v > hi) {
        cli_error("%s expects a whole number from %ld to %ld, got \"%s\"", opt, lo, hi, text);
        return -1;
    }
    return v;
}

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20) fprintf(f, "\\u%04x", *p);
            else fputc(*p, f);
        }
    }
    fputc('"', f);
}

/* Strip "--NAME VALUE" / "--NAME=VALUE" anywhere on the command line,
 * handing each value to apply (non-zero: stop with a usage error). */
static int take_global_option(int *argc, char **argv, const char *name,
                              int (*apply)(const char *value)) {
    size_t n = strlen(name);
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        const char *value;
        if (strcmp(argv[i], name) == 0 && i + 1 < *argc) {
            value = argv[++i];
        } else if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') {
            value = argv[i] + n + 1;
        } else {
            argv[out++] = argv[i];
            continue;
        }
        if (apply(value) != 0) return -1;
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

/* oneDNN (the convolution backend of src/nn on AVX-512) runs on OpenMP, whose
 * default is to spin-wait between parallel regions: with our own thread pool
 * beside it that costs several times the work on 2 threads. libgomp reads
 * OMP_WAIT_POLICY once, when it is loaded, so the policy is set by re-executing
 * the binary once with it in the environment (an explicit setting is kept). */
static void ensure_passive_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY") != NULL) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc): carry on; only multi-threaded oneDNN is affected. */
}

static int apply_log_level(const char *value) {
    enum pxs_log_level level;
    if (pxs_log_parse_level(value, &level) != PXS_OK) {
        cli_error("--log-level expects error, warn, info or debug, got \"%s\"", value);
        return -1;
    }
    pxs_log_set_level(level);
    return 0;
}

static int apply_collection(const char *value) {
    struct pxs_err err;
    pxs_err_clear(&err);
    if (pxs_collection_name_check(value, &err) != PXS_OK) {
        cli_error("--collection: %s", err.msg);
        return -1;
    }
    cli_collection = value;
    return 0;
}

int main(int argc, char **argv) {
    ensure_passive_openmp(argv);
    if (take_global_option(&argc, argv, "--log-level", apply_log_level) != 0) return EXIT_USAGE;
    if (take_global_option(&argc, argv, "--collection", apply_collection) != 0) return EXIT_USAGE;
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } commands[] = {
        {"index", cmd_index}, {"search", cmd_search}, {"serve", cmd_serve}, {"stats", cmd_stats},
        {"embed", cmd_embed}, {"dups", cmd_dups}, {"tag", cmd_tag}, {"show", cmd_show},
        {"collections", cmd_collections},
        {"collection", cmd_collection}, {"import", cmd_import}, {"query", cmd_query},
        {"vsearch", cmd_vsearch}, {"get", cmd_get}, {"delete", cmd_delete}};
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("pixseek %s (cpu: %s)\n", PIXSEEK_VERSION, pxs_cpu_describe());
        return EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        if (argc >= 3) {
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *sub_argv[] = {argv[2], "--help", NULL};
                    return commands[i].fn(2, sub_argv);
                }
            }
            cli_error("unknown command \"%s\"", argv[2]);
            return EXIT_USAGE;
        }
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    cli_error("unknown command \"%s\" (try 'pixseek help')", cmd);
    return EXIT_USAGE;
}
