/*
 * fuzz/replay_main.c — a main() for any fuzz target, so corpora can be
 * replayed in ordinary (sanitizer) builds without libFuzzer:
 *   fuzz-replay-<target> FILE|DIR...
 * feeds every regular file (directories are walked recursively, in name
 * order) to LLVMFuzzerTestOneInput once and prints "replayed N inputs".
 * Exits 1 if an argument cannot be read; a crash is the target's business.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pixseek/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (64u << 20) /* corpus files are small; refuse anything silly */

static int replay_file(const char *path, long *count) {
    char *data = NULL;
    size_t len = 0;
    struct pxs_err err = {0};
    if (pxs_file_read_all(path, REPLAY_MAX_INPUT, &data, &len, &err) != PXS_OK) {
        fprintf(stderr, "replay: %s: %s\n", path, err.msg);
        return -1;
    }
    /* An exact-size copy, so ASan catches reads one past the end. */
    uint8_t *copy = pxs_malloc(len ? len : 1);
    if (!copy) {
        pxs_free(data);
        fprintf(stderr, "replay: %s: out of memory\n", path);
        return -1;
    }
    memcpy(copy, data, len);
    pxs_free(data);
    LLVMFuzzerTestOneInput(copy, len);
    pxs_free(copy);
    (*count)++;
    return 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_path(const char *path, long *count) {
    struct stat st;
    if (stat(path, &st) != 0) {
        perror(path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) return S_ISREG(st.st_mode) ? replay_file(path, count) : 0;
    DIR *dir = opendir(path);
    if (!dir) {
        perror(path);
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') continue; /* ., .., hidden files */
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = pxs_realloc(names, cap * sizeof *names);
            if (!grown) {
                rc = -1;
                break;
            }
            names = grown;
        }
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        names[n] = pxs_malloc(len);
        if (!names[n]) {
            rc = -1;
            break;
        }
        snprintf(names[n], len, "%s/%s", path, de->d_name);
        n++;
    }
    closedir(dir);
    if (n > 1) qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && replay_path(names[i], count) != 0) rc = -1;
        pxs_free(names[i]);
    }
    pxs_free(names);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    long count = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (replay_path(argv[i], &count) != 0) rc = 1;
    printf("replayed %ld inputs\n", count);
    return rc;
}
