/*
 * cmd_serve.c — `pixseek serve`: open the data directory and run the HTTP
 * API and web UI until SIGINT/SIGTERM.
 */
#include "cli.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pixseek/server.h"

static const char serve_help[] =
    "usage: pixseek serve [options]\n"
    "\n"
    "Serve the HTTP API and the web UI for the data directory.\n"
    "\n"
    "options:\n"
    "  --data DIR        data directory (default $PIXSEEK_DATA or ./pixseek-data)\n"
    "  --host ADDR       address to listen on (default 127.0.0.1; 0.0.0.0 for all);\n"
    "                    --bind is the same\n"
    "  --port N          TCP port (default 8080)\n"
    "  --http-threads N  serve connections from a pool of N threads (default: a\n"
    "                    thread per connection, so concurrent searches use every CPU)\n"
    "  --max-body BYTES  largest accepted request body (default 33554432)\n"
    "  --max-upload BYTES  largest image in a request: file part, raw body or\n"
    "                    decoded base64 (default 16777216)\n"
    "  --timeout S       close connections idle for S seconds (default 30)\n"
    "  --root DIR        a directory /img/load, POST /api/ingest and /data may use\n"
    "                    (repeatable; default none: those routes answer 403)\n"
    "  --token T         API token every write must send as \"Authorization: Bearer T\"\n"
    "                    (default $PIXSEEK_TOKEN; none: writes are open)\n"
    "  --collection NAME bootcamp table name served (default milvus_img_search)\n"
    "  --web DIR         serve the web UI from DIR instead of the built-in copy\n"
    "  --query-batch N   run up to N concurrent query embeddings as one model batch\n"
    "                    (default 4; 1 = no batching)\n"
    "  --query-wait US   how long a batch waits for queries still being decoded\n"
    "                    (microseconds, default 1000; 0 = default, -1 = never)\n"
    CLI_MODEL_HELP
    "                    (serve: default --threads 1, so concurrent searches run\n"
    "                    one model per CPU instead of fighting over the cores)\n"
    "  -h, --help        this help\n";

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

int cmd_serve(int argc, char **argv) {
    static const struct option long_opts[] = {CLI_MODEL_OPTIONS,
                                              {"data", required_argument, 0, 'd'},
                                              {"bind", required_argument, 0, 'b'},
                                              {"host", required_argument, 0, 'b'},
                                              {"max-upload", required_argument, 0, 'u'},
                                              {"timeout", required_argument, 0, 'T'},
                                              {"root", required_argument, 0, 'r'},
                                              {"token", required_argument, 0, 'k'},
                                              {"collection", required_argument, 0, 'c'},
                                              {"port", required_argument, 0, 'p'},
                                              {"http-threads", required_argument, 0, 't'},
                                              {"max-body", required_argument, 0, 'm'},
                                              {"web", required_argument, 0, 'w'},
                                              {"query-batch", required_argument, 0, 'Q'},
                                              {"query-wait", required_argument, 0, 'W'},
                                              {"help", no_argument, 0, 'h'},
                                              {0, 0, 0, 0}};
    const char *data_dir = cli_default_data_dir();
    struct pxs_server_opts opts = {0};
    struct cli_model_args model = {0};
    const char *roots[64];
    size_t n_roots = 0;
    opts.token = getenv("PIXSEEK_TOKEN");
    int c, m;
    long v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if ((m = cli_model_option(c, optarg, &model)) != 0) {
            if (m < 0) return EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'd': data_dir = optarg; break;
        case 'b': opts.bind = optarg; break;
        case 'p':
            if ((v = cli_parse_long("--port", optarg, 1, 65535)) < 0) return EXIT_USAGE;
            opts.port = (int)v;
            break;
        case 't':
            if ((v = cli_parse_long("--http-threads", optarg, 1, 256)) < 0) return EXIT_USAGE;
            opts.threads = (int)v;
            break;
        case 'm':
            if ((v = cli_parse_long("--max-body", optarg, 1024, 1L << 32)) < 0) return EXIT_USAGE;
            opts.max_body_bytes = (size_t)v;
            break;
        case 'w': opts.web_dir = optarg; break;
        case 'Q':
            if ((v = cli_parse_long("--query-batch", optarg, 1, 64)) < 0) return EXIT_USAGE;
            model.query_batch = (int)v;
            break;
        case 'W':
            if (!strcmp(optarg, "-1")) model.query_wait_us = -1;
            else if ((v = cli_parse_long("--query-wait", optarg, 0, 100000)) < 0) return EXIT_USAGE;
            else model.query_wait_us = (int)v;
            break;
        case 'u':
            if ((v = cli_parse_long("--max-upload", optarg, 1024, 1L << 32)) < 0) return EXIT_USAGE;
            opts.max_upload_bytes = (size_t)v;
            break;
        case 'T':
            if ((v = cli_parse_long("--timeout", optarg, 1, 3600)) < 0) return EXIT_USAGE;
            opts.timeout_s = (int)v;
            break;
        case 'r':
            if (n_roots == sizeof roots / sizeof roots[0]) {
                cli_error("at most %zu --root directories", sizeof roots / sizeof roots[0]);
                return EXIT_USAGE;
            }
            roots[n_roots++] = optarg;
            break;
        case 'k': opts.token = optarg; break;
        case 'c': opts.collection = optarg; break;
        case 'h': fputs(serve_help, stdout); return EXIT_OK;
        default: fputs(serve_help, stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("serve takes no arguments (got \"%s\")", argv[optind]);
        return EXIT_USAGE;
    }
    opts.roots = roots;
    opts.n_roots = n_roots;
    /* serve creates the data directory if needed so an empty server starts. */
    if (!model.threads) model.threads = 1;
    pxs_engine *engine = cli_open_engine(data_dir, 0, &model);
    if (!engine) return EXIT_FAILURE_FATAL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "pixseek: serving %s on http://%s:%d/ (Ctrl-C to stop)\n", data_dir,
            opts.bind ? opts.bind : "127.0.0.1", opts.port ? opts.port : 8080);
    struct pxs_err err;
    pxs_err_clear(&err);
#ifdef M_ARENA_MAX
    /* A thread per connection (the default) means up to c threads decoding at
     * once; glibc would give each of them its own malloc arena (up to 8 per
     * CPU), whose freed memory stays in the process: RSS crept up run after
     * run at 64 connections. One arena per CPU holds it flat. */
    if (!opts.threads && !getenv("MALLOC_ARENA_MAX")) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        mallopt(M_ARENA_MAX, ncpu < 1 ? 1 : ncpu > 64 ? 64 : (int)ncpu);
    }
#endif
    int rc = pxs_server_run(engine, &opts, &stop_requested, &err);
    pxs_engine_close(engine);
    if (rc != PXS_OK) {
        cli_error("server: %s", pxs_err_message(&err, rc));
        return EXIT_FAILURE_FATAL;
    }
    fprintf(stderr, "pixseek: stopped\n");
    return EXIT_OK;
}
