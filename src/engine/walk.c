/*
 * walk.c — streaming recursive directory walk for ingest. Hands absolute
 * paths of regular files to a callback one at a time, sorted by name within
 * each directory so runs are reproducible. Memory is bounded by the entry
 * names of the directories on the current path (one directory's names are
 * held while it is walked, for sorting), never by the size of the tree.
 * Symlinks are skipped unless asked for; when followed, a (device, inode)
 * set of visited directories breaks cycles. Depth is capped.
 */
#include "engine_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WALK_MAX_DEPTH 64

struct dir_id {
    dev_t dev;
    ino_t ino;
};

struct walker {
    int follow_symlinks;
    walk_file_fn on_file;
    walk_error_fn on_error;
    void *user;
    struct dir_id *seen;
    size_t n_seen, cap_seen;
};

static int seen_before(struct walker *w, const struct stat *st) {
    for (size_t i = 0; i < w->n_seen; i++)
        if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino) return 1;
    if (w->n_seen == w->cap_seen) {
        size_t cap = w->cap_seen ? w->cap_seen * 2 : 64;
        struct dir_id *p = pxs_realloc(w->seen, cap * sizeof *p);
        if (!p) return -1;
        w->seen = p;
        w->cap_seen = cap;
    }
    w->seen[w->n_seen++] = (struct dir_id){st->st_dev, st->st_ino};
    return 0;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void report(struct walker *w, const char *path, int code, const char *reason) {
    if (w->on_error) w->on_error(path, code, reason, w->user);
}

static int walk_dir(struct walker *w, const char *dir, int depth, struct pxs_err *err) {
    if (depth > WALK_MAX_DEPTH) {
        report(w, dir, PXS_ELIMIT, "directory nesting deeper than 64 levels; not descended");
        return PXS_OK;
    }
    DIR *d = opendir(dir);
    if (!d) {
        report(w, dir, errno == EACCES ? PXS_EPERM : PXS_EIO, strerror(errno));
        return PXS_OK;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = PXS_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = pxs_realloc(names, cap * sizeof *p);
            if (!p) {
                rc = PXS_ENOMEM;
                break;
            }
            names = p;
        }
        if (!(names[n] = pxs_strdup(de->d_name))) {
            rc = PXS_ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == PXS_OK && n > 1) qsort(names, n, sizeof *names, by_name); /* names is NULL when empty */

    char path[PATH_MAX];
    for (size_t i = 0; i < n && rc == PXS_OK; i++) {
        int len = snprintf(path, sizeof path, "%s/%s", strcmp(dir, "/") ? dir : "", names[i]);
        if (len < 0 || (size_t)len >= sizeof path) {
            report(w, names[i], PXS_ELIMIT, "path too long");
            continue;
        }
        struct stat st;
        if (lstat(path, &st) != 0) {
            report(w, path, PXS_EIO, strerror(errno));
            continue;
        }
        if (S_ISLNK(st.st_mode)) {
            if (!w->follow_symlinks) continue;
            if (stat(path, &st) != 0) {
                report(w, path, PXS_ENOTFOUND, "dangling symbolic link");
                continue;
            }
        }
        if (S_ISDIR(st.st_mode)) {
            int seen = seen_before(w, &st);
            if (seen < 0) {
                rc = PXS_ENOMEM;
            } else if (seen) {
                report(w, path, PXS_EINVAL, "directory already visited (symlink loop); skipped");
            } else {
                rc = walk_dir(w, path, depth + 1, err);
            }
        } else if (S_ISREG(st.st_mode)) {
            if (w->on_file(path, w->user) != 0) rc = PXS_ECANCELED;
        }
    }
    for (size_t i = 0; i < n; i++) pxs_free(names[i]);
    pxs_free(names);
    if (rc == PXS_ENOMEM) return pxs_errf(err, PXS_ENOMEM, "out of memory listing %s", dir);
    if (rc == PXS_ECANCELED) return pxs_errf(err, rc, "walk stopped");
    return rc;
}

int walk_stream(const char *dir, int follow_symlinks, walk_file_fn on_file,
                walk_error_fn on_error, void *user, struct pxs_err *err) {
    char root[PATH_MAX];
    if (!realpath(dir, root))
        return pxs_errf_sys(err, errno == ENOENT ? PXS_ENOTFOUND : PXS_EIO, errno,
                            "cannot open %s", dir);
    struct stat st;
    if (stat(root, &st) != 0) return pxs_errf_sys(err, PXS_EIO, errno, "cannot stat %s", root);
    struct walker w = {follow_symlinks, on_file, on_error, user, NULL, 0, 0};
    int rc;
    if (S_ISREG(st.st_mode)) {
        rc = on_file(root, user) != 0 ? pxs_errf(err, PXS_ECANCELED, "walk stopped") : PXS_OK;
    } else if (!S_ISDIR(st.st_mode)) {
        rc = pxs_errf(err, PXS_EINVAL, "%s is neither a directory nor a regular file", root);
    } else if (seen_before(&w, &st) < 0) {
        rc = pxs_errf(err, PXS_ENOMEM, "out of memory");
    } else {
        rc = walk_dir(&w, root, 0, err);
    }
    pxs_free(w.seen);
    return rc;
}
