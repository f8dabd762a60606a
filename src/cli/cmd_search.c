/*
 * cmd_search.c — `pixseek search IMAGE...|--id ID...` (top-k similar
 * images with paging, filters and a threshold; a table for people or one
 * JSON line per query) and `pixseek stats`.
 */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char search_help[] =
    "usage: pixseek search [options] IMAGE...\n"
    "       pixseek search [options] --id ID [--id ID...]\n"
    "\n"
    "Find the indexed images most similar to each IMAGE, or to indexed image\n"
    "ID (\"more like this\"; the image itself is left out). Exact search.\n"
    "\n"
    "options:\n"
    "  --data DIR             data directory (default $PIXSEEK_DATA or ./pixseek-data)\n"
    "  --id ID                query with an indexed image (repeatable)\n"
    "  -k, --top N            number of results per query (default 10, max 16384)\n"
    "  --offset N             skip the first N results (paging; default 0)\n"
    "  --min-similarity S     drop results with similarity below S (0..1)\n"
    "  --filter EXPR          only images matching a Milvus-style expression over\n"
    "                         id path name size width height mtime format hash date\n"
    "                         camera make model tags, e.g.\n"
    "                         'format == \"png\" and width > 1000 and camera like \"Canon%\"'\n"
    "                         'date >= \"2019-01-01\" and album == \"rome\"' (album: a tag)\n"
    "  --near-duplicates      look for copies of the query (rotated, recompressed,\n"
    "                         cropped, recoloured...) rather than similar content\n"
    "  --json                 one JSON object per query on stdout\n"
    CLI_MODEL_HELP
    "  -h, --help             this help\n"
    "\n"
    "Similarity is 0..1 (1 = identical); distance is the metric's raw value.\n"
    "exit status: 0 ok, 3 some queries failed, 1 error\n";

static void print_json(const char *query, int64_t query_id, const struct pxs_match *m, size_t n,
                       size_t offset) {
    if (query) {
        printf("{\"query\":");
        cli_json_string(stdout, query);
    } else {
        printf("{\"query_id\":%lld", (long long)query_id);
    }
    printf(",\"results\":[");
    for (size_t i = 0; i < n; i++) {
        const struct pxs_image_meta *mm = &m[i].meta;
        printf("%s{\"rank\":%zu,\"id\":%lld,\"path\":", i ? "," : "", offset + i + 1,
               (long long)mm->id);
        cli_json_string(stdout, mm->path);
        printf(",\"distance\":%.6f,\"similarity\":%.6f,\"width\":%d,\"height\":%d,\"format\":",
               m[i].distance, m[i].similarity, mm->width, mm->height);
        cli_json_string(stdout, mm->format);
        printf(",\"size\":%llu,\"mtime\":%lld", (unsigned long long)mm->size, (long long)mm->mtime);
        if (mm->date[0]) {
            printf(",\"date\":");
            cli_json_string(stdout, mm->date);
        }
        if (mm->camera[0]) {
            printf(",\"camera\":");
            cli_json_string(stdout, mm->camera);
        }
        printf("}");
    }
    printf("]}\n");
}

static void print_table(const char *query, int64_t query_id, const struct pxs_match *m, size_t n,
                        size_t offset) {
    if (query) printf("%s\n", query);
    else printf("image %lld\n", (long long)query_id);
    if (n == 0) printf("  (no matches)\n");
    for (size_t i = 0; i < n; i++)
        printf("  %3zu  %6.2f%%  %.4f  %s\n", offset + i + 1, 100.0 * m[i].similarity,
               m[i].distance, m[i].meta.path);
}

int cmd_search(int argc, char **argv) {
    static const struct option long_opts[] = {CLI_MODEL_OPTIONS,
                                              {"data", required_argument, 0, 'd'},
                                              {"top", required_argument, 0, 'k'},
                                              {"offset", required_argument, 0, 'o'},
                                              {"id", required_argument, 0, 'i'},
                                              {"filter", required_argument, 0, 'f'},
                                              {"min-similarity", required_argument, 0, 's'},
                                              {"near-duplicates", no_argument, 0, 'D'},
                                              {"json", no_argument, 0, 'j'},
                                              {"help", no_argument, 0, 'h'},
                                              {0, 0, 0, 0}};
    const char *data_dir = cli_default_data_dir();
    struct pxs_search_opts opts = {.k = 10, .min_similarity = 0};
    int json = 0, c, m;
    struct cli_model_args model = {0};
    static int64_t ids[CLI_MAX_QUERIES];
    size_t n_ids = 0;
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
        case 'o': {
            long v = cli_parse_long("--offset", optarg, 0, 1000000);
            if (v < 0) return EXIT_USAGE;
            opts.offset = (size_t)v;
            break;
        }
        case 'i': {
            long v = cli_parse_long("--id", optarg, 1, LONG_MAX);
            if (v < 0) return EXIT_USAGE;
            if (n_ids == CLI_MAX_QUERIES) {
                cli_error("at most %d --id queries per call", CLI_MAX_QUERIES);
                return EXIT_USAGE;
            }
            ids[n_ids++] = v;
            break;
        }
        case 'f': opts.filter = optarg; break;
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
    if (optind >= argc && n_ids == 0) {
        cli_error("search needs at least one image or --id (see 'pixseek search --help')");
        return EXIT_USAGE;
    }
    struct pxs_err ferr;
    pxs_err_clear(&ferr);
    if (opts.filter && pxs_engine_check_filter(opts.filter, &ferr) != PXS_OK) {
        cli_error("--filter: %s", ferr.msg);
        return EXIT_USAGE;
    }
    pxs_engine *engine = cli_open_engine(data_dir, 1, &model);
    if (!engine) return EXIT_FAILURE_FATAL;
    int status = EXIT_OK;
    size_t n_queries = n_ids + (size_t)(argc - optind);
    for (size_t q = 0; q < n_queries; q++) {
        const char *path = q < n_ids ? NULL : argv[optind + (int)(q - n_ids)];
        int64_t id = q < n_ids ? ids[q] : 0;
        struct pxs_err err;
        pxs_err_clear(&err);
        struct pxs_match *matches;
        size_t n;
        int rc = path ? pxs_engine_search_file(engine, path, &opts, &matches, &n, &err)
                      : pxs_engine_search_id(engine, id, &opts, &matches, &n, &err);
        if (rc != PXS_OK) {
            char label[64];
            snprintf(label, sizeof label, "image %lld", (long long)id);
            if (json) {
                if (path) {
                    printf("{\"query\":");
                    cli_json_string(stdout, path);
                } else {
                    printf("{\"query_id\":%lld", (long long)id);
                }
                printf(",\"error\":{\"code\":\"%s\",\"message\":", pxs_code_name(rc));
                cli_json_string(stdout, pxs_err_message(&err, rc));
                printf("}}\n");
            }
            cli_error("%s: %s", path ? path : label, pxs_err_message(&err, rc));
            status = EXIT_PARTIAL;
            continue;
        }
        if (json) print_json(path, id, matches, n, opts.offset);
        else print_table(path, id, matches, n, opts.offset);
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
    const char *data_dir;
    int json;
    int status = cli_data_json_options(argc, argv, stats_help, &data_dir, &json);
    if (status >= 0) return status;
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
               "\"kernel\":\"%s\",\"index_type\":\"%s\",\"index_bytes\":%zu,\"precision\":\"%s\","
               "\"precision_default\":\"%s\"}\n",
               (unsigned long long)st.images, st.embedder, st.dim, st.metric, st.kernel,
               st.index_type, st.index_bytes, st.precision, st.precision_default);
    } else {
        printf("data directory  %s\nimages          %llu\nembedder        %s (%zu-d, %s)\n"
               "index           %s, %zu bytes, %s kernels\nprecision       %s (collection default %s)\n",
               data_dir, (unsigned long long)st.images, st.embedder, st.dim, st.metric,
               st.index_type, st.index_bytes, st.kernel, st.precision, st.precision_default);
    }
    return EXIT_OK;
}
