/*
 * cmd_index.c — `pixseek index DIR...`: ingest folders with a live progress
 * bar on a terminal (plain log lines otherwise, JSON lines with --json), a
 * list of failed files at the end, and exit status 3 when some files failed.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char index_help[] =
    "usage: pixseek index [options] DIR...\n"
    "\n"
    "Index every image under each DIR (recursively). Files are recognised by\n"
    "their content, not their extension. Re-running skips images already\n"
    "indexed; a file whose content changed is re-indexed. Bad files are\n"
    "reported and skipped.\n"
    "\n"
    "options:\n"
    "  --data DIR          data directory (default $PIXSEEK_DATA or ./pixseek-data)\n"
    "  --json              one JSON object per file on stdout, then a summary object\n"
    "  --quiet             no progress output, only errors and the summary\n"
    "  --follow-symlinks   descend into symbolic links (loops are detected)\n"
    "  --batch N           images per durable commit (default 32)\n"
    "  --tag KEY=VALUE     tag every image of this run (repeatable; see 'pixseek tag')\n"
    "  --store-originals   copy new images into the data directory's blob store\n"
    "                      (content-addressed, <data>/blobs/), so they stay available\n"
    "                      when the originals move or disappear\n"
    "  --prune             first forget indexed images under each DIR whose files are\n"
    "                      gone (records, vectors, thumbnails, tags, blobs); a DIR\n"
    "                      that no longer exists is only pruned\n"
    CLI_MODEL_HELP
    "  -h, --help          this help\n"
    "\n"
    "exit status: 0 all files indexed or skipped, 3 some files failed, 1 error\n";

struct failure {
    char *path;
    char *reason;
};

struct progress {
    int json, quiet, tty;
    double t0, last_draw;
    uint64_t last_done, last_total;
    uint64_t failed;
    struct failure *failures;
    size_t n_failures, cap_failures;
};

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}


static void draw_bar(struct progress *p, uint64_t done, uint64_t total, int final) {
    double now = pxs_now_seconds();
    if (!final && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    double elapsed = now - p->t0;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
    int width = 30, filled = total ? (int)((double)done / (double)total * width) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '=' : (i == filled ? '>' : ' ');
    bar[width] = '\0';
    fprintf(stderr, "\r[%s] %llu/%llu %3.0f%%  %.0f img/s  ETA %.0fs  errors %llu \x1b[K", bar,
            (unsigned long long)done, (unsigned long long)total,
            total ? 100.0 * (double)done / (double)total : 100.0, rate, eta,
            (unsigned long long)p->failed);
    if (final) fputc('\n', stderr);
}

static void remember_failure(struct progress *p, const char *path, const char *reason) {
    if (p->n_failures == p->cap_failures) {
        size_t cap = p->cap_failures ? p->cap_failures * 2 : 16;
        struct failure *f = pxs_realloc(p->failures, cap * sizeof *f);
        if (!f) return;
        p->failures = f;
        p->cap_failures = cap;
    }
    p->failures[p->n_failures].path = pxs_strdup(path);
    p->failures[p->n_failures].reason = pxs_strdup(reason ? reason : "");
    p->n_failures++;
}

static int on_event(const struct pxs_ingest_event *ev, void *user) {
    struct progress *p = user;
    if (ev->total) {
        p->last_done = ev->done;
        p->last_total = ev->total;
    }
    if (ev->kind == PXS_INGEST_FAILED) {
        p->failed++;
        remember_failure(p, ev->path, ev->reason);
    }
    if (p->json) {
        printf("{\"event\":\"%s\",\"path\":", pxs_ingest_kind_name(ev->kind));
        cli_json_string(stdout, ev->path);
        if (ev->kind == PXS_INGEST_FAILED) {
            printf(",\"code\":\"%s\",\"reason\":", pxs_code_name(ev->code));
            cli_json_string(stdout, ev->reason ? ev->reason : "");
        } else {
            printf(",\"id\":%lld", (long long)ev->id);
        }
        printf(",\"done\":%llu,\"total\":%llu}\n", (unsigned long long)ev->done,
               (unsigned long long)ev->total);
        fflush(stdout); /* each line is an acknowledgement: get it out now */
    } else if (!p->quiet) {
        if (p->tty) {
            if (ev->kind == PXS_INGEST_FAILED) {
                fprintf(stderr, "\r\x1b[Kfailed: %s: %s\n", ev->path, ev->reason);
            }
            if (ev->total) draw_bar(p, ev->done, ev->total, 0);
        } else if (ev->kind == PXS_INGEST_FAILED) {
            fprintf(stderr, "failed: %s: %s\n", ev->path, ev->reason);
        } else if (ev->total && (ev->done % 100 == 0 || ev->done == ev->total)) {
            fprintf(stderr, "indexed %llu/%llu files\n", (unsigned long long)ev->done,
                    (unsigned long long)ev->total);
        }
    }
    return interrupted ? 1 : 0;
}

static void on_pruned(int64_t id, const char *path, void *user) {
    struct progress *p = user;
    if (p->json) {
        printf("{\"event\":\"pruned\",\"path\":");
        cli_json_string(stdout, path);
        printf(",\"id\":%lld}\n", (long long)id);
        fflush(stdout);
    } else if (!p->quiet) {
        fprintf(stderr, "pruned: %s\n", path);
    }
}

int cmd_index(int argc, char **argv) {
    static const struct option long_opts[] = {CLI_MODEL_OPTIONS,
                                              {"data", required_argument, 0, 'd'},
                                              {"json", no_argument, 0, 'j'},
                                              {"quiet", no_argument, 0, 'q'},
                                              {"follow-symlinks", no_argument, 0, 'L'},
                                              {"batch", required_argument, 0, 'b'},
                                              {"tag", required_argument, 0, 't'},
                                              {"store-originals", no_argument, 0, 'O'},
                                              {"prune", no_argument, 0, 'P'},
                                              {"help", no_argument, 0, 'h'},
                                              {0, 0, 0, 0}};
    const char *data_dir = cli_default_data_dir();
    struct progress prog = {0};
    struct pxs_ingest_opts opts = {0};
    struct cli_model_args model = {0};
    const char *tags[CLI_MAX_TAGS];
    size_t n_tags = 0;
    int prune = 0;
    int c, m;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if ((m = cli_model_option(c, optarg, &model)) != 0) {
            if (m < 0) return EXIT_USAGE;
            continue;
        }
        switch (c) {
        case 'd': data_dir = optarg; break;
        case 'j': prog.json = 1; break;
        case 'q': prog.quiet = 1; break;
        case 'L': opts.follow_symlinks = 1; break;
        case 'b': {
            long v = cli_parse_long("--batch", optarg, 1, 4096);
            if (v < 0) return EXIT_USAGE;
            opts.batch_size = (int)v;
            break;
        }
        case 't':
            if (n_tags == CLI_MAX_TAGS) {
                cli_error("at most %d --tag options", CLI_MAX_TAGS);
                return EXIT_USAGE;
            }
            tags[n_tags++] = optarg;
            break;
        case 'O': opts.store_originals = 1; break;
        case 'P': prune = 1; break;
        case 'h': fputs(index_help, stdout); return EXIT_OK;
        default: fputs(index_help, stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error("index needs at least one folder (see 'pixseek index --help')");
        return EXIT_USAGE;
    }
    struct pxs_err terr;
    pxs_err_clear(&terr);
    if (pxs_engine_check_tags(tags, n_tags, &terr) != PXS_OK) {
        cli_error("%s", terr.msg);
        return EXIT_USAGE;
    }
    opts.tags = tags;
    opts.n_tags = n_tags;
    pxs_engine *engine = cli_open_engine(data_dir, 0, &model);
    if (!engine) return EXIT_FAILURE_FATAL;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    prog.tty = isatty(STDERR_FILENO) && !prog.json;
    opts.on_event = on_event;
    opts.user = &prog;

    struct pxs_ingest_summary total = {0};
    uint64_t pruned = 0;
    int status = EXIT_OK;
    for (int i = optind; i < argc && status != EXIT_FAILURE_FATAL; i++) {
        struct pxs_err err;
        pxs_err_clear(&err);
        if (prune) {
            struct pxs_prune_summary ps;
            int prc = pxs_engine_prune(engine, argv[i], on_pruned, &prog, &ps, &err);
            if (prc != PXS_OK) {
                cli_error("pruning %s: %s", argv[i], pxs_err_message(&err, prc));
                status = EXIT_FAILURE_FATAL;
                break;
            }
            pruned += ps.removed;
            struct stat st;
            if (stat(argv[i], &st) != 0 && errno == ENOENT) {
                /* The whole folder is gone: pruning it was the job. */
                if (!prog.quiet && !prog.json)
                    fprintf(stderr, "%s no longer exists: pruned %llu image(s) under it\n",
                            argv[i], (unsigned long long)ps.removed);
                continue;
            }
        }
        struct pxs_ingest_summary s;
        prog.t0 = pxs_now_seconds();
        int rc = pxs_engine_ingest(engine, argv[i], &opts, &s, &err);
        if (prog.tty && !prog.quiet && prog.last_total) draw_bar(&prog, prog.last_done, prog.last_total, 1);
        prog.last_total = 0;
        total.files += s.files;
        total.added += s.added;
        total.unchanged += s.unchanged;
        total.duplicates += s.duplicates;
        total.failed += s.failed;
        total.seconds += s.seconds;
        if (rc != PXS_OK) {
            cli_error("indexing %s: %s", argv[i], pxs_err_message(&err, rc));
            /* A folder that cannot be opened does not stop the others. */
            int input_problem = rc == PXS_ENOTFOUND || rc == PXS_EINVAL || rc == PXS_EPERM;
            status = EXIT_FAILURE_FATAL;
            if (input_problem && i + 1 < argc) status = EXIT_OK, total.failed++;
        }
    }
    if (status == EXIT_OK && total.failed) status = EXIT_PARTIAL;
    double rate = total.seconds > 0 ? (double)total.added / total.seconds : 0;
    if (prog.json) {
        printf("{\"event\":\"summary\",\"files\":%llu,\"added\":%llu,\"unchanged\":%llu,"
               "\"duplicates\":%llu,\"failed\":%llu,\"pruned\":%llu,\"seconds\":%.3f,"
               "\"exit\":%d}\n",
               (unsigned long long)total.files, (unsigned long long)total.added,
               (unsigned long long)total.unchanged, (unsigned long long)total.duplicates,
               (unsigned long long)total.failed, (unsigned long long)pruned, total.seconds,
               status);
    } else {
        if (prog.n_failures && !prog.quiet) {
            fprintf(stderr, "\n%zu file(s) could not be indexed:\n", prog.n_failures);
            for (size_t i = 0; i < prog.n_failures; i++)
                fprintf(stderr, "  %s: %s\n", prog.failures[i].path, prog.failures[i].reason);
        }
        if (prune)
            fprintf(stderr, "pruned %llu image(s) whose files are gone\n",
                    (unsigned long long)pruned);
        fprintf(stderr,
                "indexed %llu new image(s), %llu unchanged, %llu duplicate(s), %llu failed "
                "in %.1f s (%.0f img/s)\n",
                (unsigned long long)total.added, (unsigned long long)total.unchanged,
                (unsigned long long)total.duplicates, (unsigned long long)total.failed,
                total.seconds, rate);
    }
    for (size_t i = 0; i < prog.n_failures; i++) {
        pxs_free(prog.failures[i].path);
        pxs_free(prog.failures[i].reason);
    }
    pxs_free(prog.failures);
    pxs_engine_close(engine);
    return status;
}
