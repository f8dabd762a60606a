/*
 * cmd_tag.c — per-image and per-collection commands: `pixseek tag ID
 * KEY=VALUE...` (set or remove user tags of an indexed image), `pixseek show
 * ID` (an image's fields and tags, and optionally its original bytes) and
 * `pixseek collections` (the image collections of a data directory).
 */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <string.h>

static const char tag_help[] =
    "usage: pixseek tag [--data DIR] ID KEY=VALUE...\n"
    "\n"
    "Set user tags on indexed image ID. KEY is letters, digits and _ (not\n"
    "starting with a digit, at most 64 bytes); a VALUE that is a whole number\n"
    "(3, -2.5) is stored as a number, anything else as text; KEY= removes KEY.\n"
    "Tags are usable in search filters: --filter 'album == \"rome\" and rating >= 4'.\n"
    "Tags can also be given at index time: pixseek index --tag album=rome DIR.\n";

int cmd_tag(int argc, char **argv) {
    static const struct option long_opts[] = {{"data", required_argument, 0, 'd'},
                                              {"help", no_argument, 0, 'h'},
                                              {0, 0, 0, 0}};
    const char *data_dir = cli_default_data_dir();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': data_dir = optarg; break;
        case 'h': fputs(tag_help, stdout); return EXIT_OK;
        default: fputs(tag_help, stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind < 2) {
        cli_error("tag needs an image id and at least one KEY=VALUE (see 'pixseek tag --help')");
        return EXIT_USAGE;
    }
    long id = cli_parse_long("ID", argv[optind], 1, LONG_MAX);
    if (id < 0) return EXIT_USAGE;
    const char *const *kv = (const char *const *)argv + optind + 1;
    size_t n = (size_t)(argc - optind - 1);
    struct pxs_err err;
    pxs_err_clear(&err);
    if (pxs_engine_check_tags(kv, n, &err) != PXS_OK) {
        cli_error("%s", err.msg);
        return EXIT_USAGE;
    }
    pxs_engine *engine = cli_open_engine(data_dir, 0, NULL);
    if (!engine) return EXIT_FAILURE_FATAL;
    int rc = pxs_engine_set_tags(engine, id, kv, n, &err);
    char *json = NULL;
    if (rc == PXS_OK) rc = pxs_engine_get_tags(engine, id, &json, &err);
    pxs_engine_close(engine);
    if (rc != PXS_OK) {
        cli_error("%s", pxs_err_message(&err, rc));
        return EXIT_FAILURE_FATAL;
    }
    printf("%s\n", json);
    pxs_free(json);
    return EXIT_OK;
}

static const char show_help[] =
    "usage: pixseek show [--data DIR] [--json] [--original FILE] ID\n"
    "\n"
    "Print the fields of indexed image ID (path, size, dimensions, format,\n"
    "content hash, EXIF date and camera, tags). --original FILE writes the\n"
    "original image (from the blob store if it was indexed with\n"
    "--store-originals, else from its path, checked against the content hash).\n";

int cmd_show(int argc, char **argv) {
    static const struct option long_opts[] = {{"data", required_argument, 0, 'd'},
                                              {"json", no_argument, 0, 'j'},
                                              {"original", required_argument, 0, 'o'},
                                              {"help", no_argument, 0, 'h'},
                                              {0, 0, 0, 0}};
    const char *data_dir = cli_default_data_dir(), *out_path = NULL;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case 'd': data_dir = optarg; break;
        case 'j': json = 1; break;
        case 'o': out_path = optarg; break;
        case 'h': fputs(show_help, stdout); return EXIT_OK;
        default: fputs(show_help, stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        cli_error("show needs one image id (see 'pixseek show --help')");
        return EXIT_USAGE;
    }
    long id = cli_parse_long("ID", argv[optind], 1, LONG_MAX);
    if (id < 0) return EXIT_USAGE;
    pxs_engine *engine = cli_open_engine(data_dir, 1, NULL);
    if (!engine) return EXIT_FAILURE_FATAL;
    struct pxs_err err;
    pxs_err_clear(&err);
    struct pxs_image_meta meta;
    char *tags = NULL;
    void *data = NULL;
    size_t len = 0;
    int rc = pxs_engine_get_meta(engine, id, &meta, &err);
    if (rc == PXS_OK) rc = pxs_engine_get_tags(engine, id, &tags, &err);
    if (rc == PXS_OK && out_path) rc = pxs_engine_get_original(engine, id, &data, &len, NULL, &err);
    if (rc == PXS_OK && out_path) rc = pxs_file_write_atomic(out_path, data, len, &err);
    pxs_engine_close(engine);
    pxs_free(data);
    if (rc != PXS_OK) {
        pxs_free(tags);
        cli_error("%s", pxs_err_message(&err, rc));
        return rc == PXS_ENOTFOUND ? EXIT_PARTIAL : EXIT_FAILURE_FATAL;
    }
    if (json) {
        printf("{\"id\":%lld,\"path\":", (long long)meta.id);
        cli_json_string(stdout, meta.path);
        printf(",\"size\":%llu,\"width\":%d,\"height\":%d,\"mtime\":%lld,\"format\":",
               (unsigned long long)meta.size, meta.width, meta.height, (long long)meta.mtime);
        cli_json_string(stdout, meta.format);
        printf(",\"hash\":\"%s\",\"date\":", meta.hash);
        if (meta.date[0]) cli_json_string(stdout, meta.date);
        else printf("null");
        printf(",\"camera\":");
        if (meta.camera[0]) cli_json_string(stdout, meta.camera);
        else printf("null");
        printf(",\"original_stored\":%s,\"tags\":%s}\n", meta.original_stored ? "true" : "false",
               tags);
    } else {
        printf("id        %lld\npath      %s\nsize      %llu bytes\nimage     %dx%d %s\n"
               "mtime     %lld\nhash      %s\ndate      %s\ncamera    %s\noriginal  %s\n"
               "tags      %s\n",
               (long long)meta.id, meta.path, (unsigned long long)meta.size, meta.width,
               meta.height, meta.format, (long long)meta.mtime, meta.hash,
               meta.date[0] ? meta.date : "-", meta.camera[0] ? meta.camera : "-",
               meta.original_stored ? "stored in the blob store" : "referenced by path", tags);
    }
    pxs_free(tags);
    return EXIT_OK;
}

static const char collections_help[] =
    "usage: pixseek collections [--data DIR] [--json]\n"
    "\n"
    "List the image collections of the data directory with their image counts\n"
    "and models. Use one with --collection NAME on index, search, dups, serve,\n"
    "stats, tag and show; indexing into a new NAME creates it (with the model\n"
    "given by --model, else the built-in descriptor).\n";

int cmd_collections(int argc, char **argv) {
    const char *data_dir;
    int json;
    int status = cli_data_json_options(argc, argv, collections_help, &data_dir, &json);
    if (status >= 0) return status;
    struct pxs_err err;
    pxs_err_clear(&err);
    struct pxs_collection_info *list;
    size_t n;
    int rc = pxs_engine_list_collections(data_dir, &list, &n, &err);
    if (rc != PXS_OK) {
        cli_error("%s: %s", data_dir, pxs_err_message(&err, rc));
        return EXIT_FAILURE_FATAL;
    }
    if (!json) printf("%-20s %10s  %-6s %s\n", "COLLECTION", "IMAGES", "DIM", "MODEL");
    for (size_t i = 0; i < n; i++) {
        const struct pxs_collection_info *ci = &list[i];
        if (json) {
            printf("{\"collection\":");
            cli_json_string(stdout, ci->name);
            printf(",\"images\":%llu,\"dim\":%zu,\"metric\":", (unsigned long long)ci->images,
                   ci->dim);
            cli_json_string(stdout, ci->metric);
            printf(",\"embedder\":");
            cli_json_string(stdout, ci->embedder);
            printf(",\"model\":");
            cli_json_string(stdout, ci->model_path);
            printf("}\n");
        } else {
            printf("%-20s %10llu  %-6zu %s\n", ci->name, (unsigned long long)ci->images, ci->dim,
                   ci->model_path[0] ? ci->model_path : ci->embedder);
        }
    }
    if (!json && n == 0) printf("(no collections yet: run pixseek index)\n");
    pxs_free(list);
    return EXIT_OK;
}
