/*
 * cmd_dups.c — `pixseek dups`: exact copies and near-duplicate groups of the
 * indexed collection, for people or as JSON.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char dups_help[] =
    "usage: pixseek dups [options]\n"
    "\n"
    "List groups of duplicate images: exact copies (byte-identical files; only\n"
    "one of them is indexed) and near-duplicates (recompressed, resized,\n"
    "cropped, rotated... versions), joined when their similarity reaches the\n"
    "threshold.\n"
    "\n"
    "options:\n"
    "  --data DIR          data directory (default $PIXSEEK_DATA or ./pixseek-data)\n"
    "  --threshold S       near-duplicate similarity 0..1 (default 0.95; lower finds\n"
    "                      more, looser groups)\n"
    "  --neighbors N       neighbours examined per image (default 32)\n"
    "  --json              one JSON object with \"exact\" and \"near\" group lists\n"
    "  -h, --help          this help\n";

static void print_json(const struct pxs_dup_group *g, size_t n) {
    printf("{");
    for (int exact = 1; exact >= 0; exact--) {
        printf("%s\"%s\":[", exact ? "" : ",", exact ? "exact" : "near");
        int first = 1;
        for (size_t i = 0; i < n; i++) {
            if (g[i].exact != exact) continue;
            printf("%s{\"images\":[", first ? "" : ",");
            first = 0;
            for (size_t m = 0; m < g[i].n; m++) {
                printf("%s{\"id\":%lld,\"path\":", m ? "," : "", (long long)g[i].members[m].id);
                cli_json_string(stdout, g[i].members[m].path);
                printf(",\"similarity\":%.4f}", g[i].members[m].similarity);
            }
            printf("]}");
        }
        printf("]");
    }
    printf("}\n");
}

static void print_human(const struct pxs_dup_group *g, size_t n) {
    size_t n_exact = 0, n_near = 0;
    for (size_t i = 0; i < n; i++) {
        if (g[i].exact) n_exact++;
        else n_near++;
    }
    for (int exact = 1; exact >= 0; exact--) {
        printf("%s (%zu group%s)\n", exact ? "exact copies" : "near-duplicates",
               exact ? n_exact : n_near, (exact ? n_exact : n_near) == 1 ? "" : "s");
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (g[i].exact != exact) continue;
            printf("  group %zu (%zu images)\n", ++k, g[i].n);
            for (size_t m = 0; m < g[i].n; m++) {
                if (exact) printf("    %s\n", g[i].members[m].path);
                else printf("    %6.2f%%  %s\n", 100.0 * g[i].members[m].similarity,
                            g[i].members[m].path);
            }
        }
    }
}

int cmd_dups(int argc, char **argv) {
    static const struct option long_opts[] = {{"data", required_argument, 0, 'd'},
                                              {"threshold", required_argument, 0, 't'},
                                              {"neighbors", required_argument, 0, 'n'},
                                              {"json", no_argument, 0, 'j'},
                                              {"help", no_argument, 0, 'h'},
                                              {0, 0, 0, 0}};
    const char *data_dir = cli_default_data_dir();
    struct pxs_dups_opts opts = {0};
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': data_dir = optarg; break;
        case 't': {
            char *end;
            double v = strtod(optarg, &end);
            if (!optarg[0] || *end || !(v > 0 && v <= 1)) {
                cli_error("--threshold expects a number above 0 and at most 1, got \"%s\"", optarg);
                return EXIT_USAGE;
            }
            opts.threshold = (float)v;
            break;
        }
        case 'n': {
            long v = cli_parse_long("--neighbors", optarg, 1, 16384);
            if (v < 0) return EXIT_USAGE;
            opts.max_neighbors = (size_t)v;
            break;
        }
        case 'j': json = 1; break;
        case 'h': fputs(dups_help, stdout); return EXIT_OK;
        default: fputs(dups_help, stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("dups takes no arguments (got \"%s\")", argv[optind]);
        return EXIT_USAGE;
    }
    pxs_engine *engine = cli_open_engine(data_dir, 1, NULL);
    if (!engine) return EXIT_FAILURE_FATAL;
    struct pxs_err err;
    pxs_err_clear(&err);
    struct pxs_dup_group *groups;
    size_t n;
    int rc = pxs_engine_find_duplicates(engine, &opts, &groups, &n, &err);
    pxs_engine_close(engine);
    if (rc != PXS_OK) {
        cli_error("%s", pxs_err_message(&err, rc));
        return EXIT_FAILURE_FATAL;
    }
    if (json) print_json(groups, n);
    else print_human(groups, n);
    pxs_engine_dup_groups_free(groups, n);
    return EXIT_OK;
}
