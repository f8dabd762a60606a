/*
 * cli.h — shared pieces of the pixseek command-line program: common
 * options, output helpers and the subcommand entry points.
 */
#ifndef PIXSEEK_CLI_H
#define PIXSEEK_CLI_H

#include <stdio.h>

#include "pixseek/core.h"
#include "pixseek/engine.h"

/* Exit statuses (documented in the README and in `pixseek help`). */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_FATAL = 1,
    EXIT_USAGE = 2,
    EXIT_PARTIAL = 3, /* ran to the end but some inputs failed */
};

struct cli_common {
    const char *data_dir;
    int json;
    int quiet;
};

/* Resolve the data directory: --data, then $PIXSEEK_DATA, then ./pixseek-data. */
const char *cli_default_data_dir(void);
/* Options every engine-using command accepts. */
struct cli_model_args {
    const char *model;        /* --model */
    const char *model_config; /* --model-config */
    int threads;              /* --threads, 0 = default */
    const char *image_index;  /* --index */
    int query_batch;          /* serve --query-batch */
    int query_wait_us;        /* serve --query-wait */
    const char *precision;    /* --precision */
};
#define CLI_MODEL_OPTIONS                                        \
    {"model", required_argument, 0, 0x100},                      \
        {"model-config", required_argument, 0, 0x101},           \
        {"threads", required_argument, 0, 0x102},                \
        {"index", required_argument, 0, 0x103},                  \
        {"precision", required_argument, 0, 0x104}
#define CLI_MODEL_HELP                                                               \
    "  --model FILE        ONNX model for embeddings (default: what the data\n"      \
    "                      directory was built with, else the built-in descriptor)\n" \
    "  --model-config F    model description JSON (default FILE.json beside the\n"   \
    "                      model, then $PIXSEEK_MODELS/; examples in models/)\n"     \
    "  --threads N         inference threads (default: number of CPUs)\n"           \
    "  --index TYPE        image index: AUTO (exact FLAT up to 10k images, HNSW\n"  \
    "                      above), FLAT, HNSW or IVF_SQ8; remembered in the data\n" \
    "                      directory (default: what it remembers, else AUTO)\n" \
    CLI_PRECISION_HELP
#define CLI_PRECISION_HELP                                                           \
    "  --precision P       fp32 or bf16: bf16 runs the convolutions in bfloat16\n"  \
    "                      (about 2x faster, cosine >= 0.999 to fp32) where the\n"  \
    "                      CPU has AVX512-BF16/AMX, else fp32 with a notice;\n"     \
    "                      remembered as the collection's default (default:\n"     \
    "                      what it remembers, else fp32)\n"
/* Handle one of the CLI_MODEL_OPTIONS; returns 1 if c was one, 0 if not,
 * -1 on a bad value (message printed). */
int cli_model_option(int c, const char *arg, struct cli_model_args *m);
/* Open the engine or print the error; returns NULL on failure. */
pxs_engine *cli_open_engine(const char *data_dir, int read_only, const struct cli_model_args *m);
/* Print "pixseek: error: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse the options of a command that takes only --data, --json and
 * --help. Returns -1 to go on, else the exit status (help printed). */
int cli_data_json_options(int argc, char **argv, const char *help, const char **data_dir,
                          int *json);
/* Parse a positive integer within [lo, hi]; prints an error and returns -1 on failure. */
long cli_parse_long(const char *opt, const char *text, long lo, long hi);
/* Write s as a JSON string literal (with quotes) to f. */
void cli_json_string(FILE *f, const char *s);

#define CLI_MAX_TAGS 64
#define CLI_MAX_QUERIES 4096

int cmd_index(int argc, char **argv);
int cmd_tag(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_collections(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_dups(int argc, char **argv);

#endif
