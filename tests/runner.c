/*
 * tests/runner.c — runs every registered unit test (or those whose name
 * contains one of the arguments), each in the same process, in name order,
 * and ends with the line "N passed, N failed, N skipped".
 */
#include "test.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct pxs_test_case *all_tests;
static int current_failed, current_skipped;
static char current_tmpdir[512];
static char shared_path[4096];

void pxs_test_register(struct pxs_test_case *tc) {
    tc->next = all_tests;
    all_tests = tc;
}

void pxs_test_fail(const char *file, int line, const char *fmt, ...) {
    if (current_failed) return;
    current_failed = 1;
    const char *base = strrchr(file, '/');
    fprintf(stdout, "    %s:%d: ", base ? base + 1 : file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

void pxs_test_skip(const char *fmt, ...) {
    current_skipped = 1;
    fprintf(stdout, "    skipped: ");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
}

const char *pxs_test_tmpdir(void) {
    if (current_tmpdir[0]) return current_tmpdir;
    const char *base = getenv("TMPDIR");
    snprintf(current_tmpdir, sizeof current_tmpdir, "%s/pxs-test-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(current_tmpdir)) {
        perror("mkdtemp");
        exit(2);
    }
    return current_tmpdir;
}

const char *pxs_test_shared(const char *relative) {
    const char *root = getenv("PXS_SHARED");
    snprintf(shared_path, sizeof shared_path, "%s/%s", root ? root : "../shared", relative);
    struct stat st;
    return stat(shared_path, &st) == 0 ? shared_path : NULL;
}

const char *pxs_test_corel(int i) {
    static char path[4][sizeof shared_path];
    static int slot;
    char rel[64];
    snprintf(rel, sizeof rel, "data/corel1k_wang/images/%d.jpg", i);
    const char *p = pxs_test_shared(rel);
    if (!p) return NULL;
    slot = (slot + 1) % 4;
    snprintf(path[slot], sizeof path[slot], "%s", p);
    return path[slot];
}

const char *pxs_test_bin(void) {
    const char *bin = getenv("PXS_BIN");
    return bin ? bin : "build/release-cc/pixseek";
}

int pxs_test_system(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

static int by_name(const void *a, const void *b) {
    const struct pxs_test_case *x = *(const struct pxs_test_case *const *)a;
    const struct pxs_test_case *y = *(const struct pxs_test_case *const *)b;
    return strcmp(x->name, y->name);
}

static int selected(const char *name, int argc, char **argv) {
    if (argc <= 1) return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i])) return 1;
    return 0;
}

int main(int argc, char **argv) {
    size_t n = 0;
    for (struct pxs_test_case *t = all_tests; t; t = t->next) n++;
    struct pxs_test_case **list = calloc(n ? n : 1, sizeof *list);
    size_t i = 0;
    for (struct pxs_test_case *t = all_tests; t; t = t->next) list[i++] = t;
    qsort(list, n, sizeof *list, by_name);

    int passed = 0, failed = 0, skipped = 0;
    for (i = 0; i < n; i++) {
        if (!selected(list[i]->name, argc, argv)) continue;
        current_failed = current_skipped = 0;
        current_tmpdir[0] = '\0';
        fprintf(stdout, "%-48s ", list[i]->name);
        fflush(stdout);
        double t0 = (double)clock() / CLOCKS_PER_SEC;
        fputc('\n', stdout);
        list[i]->fn();
        double dt = (double)clock() / CLOCKS_PER_SEC - t0;
        if (current_failed) {
            failed++;
            fprintf(stdout, "  FAIL %s (%s)\n", list[i]->name, list[i]->file);
        } else if (current_skipped) {
            skipped++;
            fprintf(stdout, "  skip %s\n", list[i]->name);
        } else {
            passed++;
            fprintf(stdout, "  ok   %s (%.2fs cpu)\n", list[i]->name, dt);
            if (current_tmpdir[0]) pxs_test_system("rm -rf '%s'", current_tmpdir);
        }
        fflush(stdout);
    }
    free(list);
    fprintf(stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
