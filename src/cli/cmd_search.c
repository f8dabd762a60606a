/*
 * cmd_search.c — `pixseek search IMAGE...` (top-k similar images, a table
 * for people or one JSON line per query) and `pixseek stats`.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char search_help[] =
    "usage: pixseek search [options] IMAGE...\n"
    "\n"
    "Find the indexed images most similar to each IMAGE (exact search).\n"
    "\n"
    "options:\n"
    "  --data DIR             data directory (default $PIXSEEK_DATA or ./pixseek-data)\n"
    "  -k, --top N            number of results per query (default 10, max 16384)\n"
    "  --min-similarity S     drop results with similarity below S (0..1)\n"
    "  --near-duplicates      look for copies of the query (rotated, recompressed,\n"
    "                         cropped, recoloured...) rather than similar content\n"
    "  --json                 one JSON object per query on stdout\n"
    CLI_MODEL_HELP
    "  -h, --help             this help\n"
    "\n"
    "Similarity is 0..1 (1 = identical); distance is the metric's raw value.\n"
    "exit status: 0 ok, 3 some queries failed, 1 error\n";

static void print_json(const char *query, const struct pxs_match *m, size_t n) {
    printf("{\"query\":");
    cli_json_string(stdout, query);
    printf(",\"results\":[");
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"rank\":%zu,\"id\":%lld,\"path\":", i ? "," : "", i + 1, (long long)m[i].meta.id);
        cli_json_string(stdout, m[i].meta.path);
        printf(",\"distance\":%.6f,\"similarity\":%.6f,\"width\":%d,\"height\":%d,\"format\":\"%s\"}",
               m[i].distance, m[i].similarity, m[i].meta.width, m[i].meta.height, m[i].meta.format);
    }
    printf("]}\n");
}

static void print_table(const char *query, const struct pxs_match *m, size_t n) {
    printf("%s\n", query);
    if (n == 0) printf("  (no matches)\n");
    for (size_t i = 0; i < n; i++)
        printf("  %3zu  %6.2f%%  %.4f  %s\n", i + 1, 100.0 * m[i].similarity, m[i].distance,
               m[i].meta.path);
}

int cmd_search(int argc, char **argv) {
    static const struct option long_opts[] = {CLI_MODEL_OPTIONS,
                                              {"data", required_argument, 0, 'd'},
                                              {"top", required_argument, 0, 'k'},
                                              {"min-similarity", required_argument, 0, 's'},
                                              {"near-duplicates", no_argument, 0, 'D'},
                                              {"json", no_argument, 0, 'j'},
                                              {"help", no_argument, 0, 'h'},
                                              {0, 0, 0, 0}};
    const char *data_dir = cli_default_data_dir();
    struct pxs_search_opts opts = {.k = 10, .min_similarity = 0};
    int json = 0, c, m;
    struct cli_model_args model = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "k:h", long_opts, NULL)) != -1) {
        if ((m = cli_model_option(c, optarg, &model)) != 0) {
            if (m < 0) return EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'd': data_dir = optarg; break;
        case 'k': {
            long v = cli_parse_long("-k", optarg, 1, 16384);
            if (v < 0) return EXIT_USAGE;
            opts.k = (size_t)v;
            break;
        }
        case 's': {
            char *end;
            double v = strtod(optarg, &end);
            if (!optarg[0] || *end || !(v >= 0 && v <= 1)) {
                cli_error("--min-similarity expects a number from 0 to 1, got \"%s\"", optarg);
                return EXIT_USAGE;
            }
            opts.min_similarity = (float)v;
            break;
        }
        case 'j': json = 1; break;
        case 'D': opts.near_duplicate = 1; break;
        case 'h': fputs(search_help, stdout); return EXIT_OK;
        default: fputs(search_help, stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("search needs at least one image (see 'pixseek search --help')");
        return EXIT_USAGE;
    }
    pxs_engine *engine = cli_open_engine(data_dir, 1, &model);
    if (!engine) return EXIT_FAILURE_FATAL;
    int status = EXIT_OK;
    for (int i = optind; i < argc; i++) {
        struct pxs_err err;
        pxs_err_clear(&err);
        struct pxs_match *matches;
        size_t n;
        int rc = pxs_engine_search_file(engine, argv[i], &opts, &matches, &n, &err);
        if (rc != PXS_OK) {
            if (json) {
                printf("{\"query\":");
                cli_json_string(stdout, argv[i]);
                printf(",\"error\":{\"code\":\"%s\",\"message\":", pxs_code_name(rc));
                cli_json_string(stdout, pxs_err_message(&err, rc));
                printf("}}\n");
            }
            cli_error("%s: %s", argv[i], pxs_err_message(&err, rc));
            status = EXIT_PARTIAL;
            continue;
        }
        if (json) print_json(argv[i], matches, n);
        else print_table(argv[i], matches, n);
        pxs_free(matches);
    }
    pxs_engine_close(engine);
    return status;
}

static const char stats_help[] =
    "usage: pixseek stats [--data DIR] [--json]\n"
    "\n"
    "Show the number of indexed images, the embedder and the index in use.\n";

int cmd_stats(int argc, char **argv) {
    static const struct option long_opts[] = {{"data", required_argument, 0, 'd'},
                                              {"json", no_argument, 0, 'j'},
                                              {"help", no_argument, 0, 'h'},
                                              {0, 0, 0, 0}};
    const char *data_dir = cli_default_data_dir();
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': data_dir = optarg; break;
        case 'j': json = 1; break;
        case 'h': fputs(stats_help, stdout); return EXIT_OK;
        default: fputs(stats_help, stderr); return EXIT_USAGE;
        }
    }
    pxs_engine *engine = cli_open_engine(data_dir, 1, NULL);
    if (!engine) return EXIT_FAILURE_FATAL;
    struct pxs_err err;
    pxs_err_clear(&err);
    struct pxs_engine_stats st;
    int rc = pxs_engine_stats(engine, &st, &err);
    pxs_engine_close(engine);
    if (rc != PXS_OK) {
        cli_error("%s", pxs_err_message(&err, rc));
        return EXIT_FAILURE_FATAL;
    }
    if (json) {
        printf("{\"data\":");
        cli_json_string(stdout, data_dir);
        printf(",\"images\":%llu,\"embedder\":\"%s\",\"dim\":%zu,\"metric\":\"%s\","
               "\"kernel\":\"%s\",\"index_type\":\"%s\",\"index_bytes\":%zu}\n",
               (unsigned long long)st.images, st.embedder, st.dim, st.metric, st.kernel,
               st.index_type, st.index_bytes);
    } else {
        printf("data directory  %s\nimages          %llu\nembedder        %s (%zu-d, %s)\n"
               "index           %s, %zu bytes, %s kernels\n",
               data_dir, (unsigned long long)st.images, st.embedder, st.dim, st.metric,
               st.index_type, st.index_bytes, st.kernel);
    }
    return EXIT_OK;
}
