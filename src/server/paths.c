/*
 * paths.c — which server-side paths a client may name (/img/load,
 * /api/v1/train, POST /api/ingest, GET /data).
 *
 * Only directories given with `serve --root DIR` (resolved once at start)
 * and, for reading images, the data directory's uploads/ are allowed. With
 * no --root nothing but uploads is allowed: a server that serves files
 * must be told which ones. A path must be absolute and free of "." and
 * ".." components (refused before touching the file system), then it is
 * resolved with realpath(3) — every symlink followed — and the result
 * must be a root itself or lie below one ("/data/a" is not below
 * "/data/ab"). Races with a client who can also write inside a root (a
 * symlink swapped in after the check) are out of scope: such a client
 * already controls what is under the root.
 */
#include "server/server_int.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int under(const char *path, const char *root) {
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/') return 1;
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int has_dot_component(const char *p) {
    while (*p) {
        while (*p == '/') p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 1;
        p += n;
    }
    return 0;
}

unsigned pxs__server_check_path(const struct pxs__server *srv, const char *path, int want_dir,
                                int allow_uploads, char *out, size_t cap, char *msg,
                                size_t msg_cap) {
    if (path[0] != '/') {
        snprintf(msg, msg_cap, "the path must be absolute");
        return MHD_HTTP_BAD_REQUEST;
    }
    if (has_dot_component(path)) {
        snprintf(msg, msg_cap, "the path must not contain \".\" or \"..\" components");
        return MHD_HTTP_BAD_REQUEST;
    }
    /* resolved per call: uploads/ appears with the first upload */
    char uploads[PATH_MAX];
    if (!allow_uploads || !realpath(pxs_engine_uploads_dir(srv->engine), uploads))
        uploads[0] = '\0';
    if (srv->n_roots == 0 && !uploads[0]) {
        snprintf(msg, msg_cap, "this server allows no directories: start it with "
                               "`pixseek serve --root DIR`");
        return MHD_HTTP_FORBIDDEN;
    }
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        int e = errno;
        snprintf(msg, msg_cap, "%s: %s", want_dir ? "no such directory" : "no such image",
                 strerror(e));
        /* Do not tell apart "missing" and "outside the roots" for paths outside. */
        int inside = 0;
        for (size_t i = 0; i < srv->n_roots; i++) inside |= under(path, srv->roots[i]);
        if (uploads[0]) inside |= under(path, uploads);
        if (!inside) {
            snprintf(msg, msg_cap, "the path is outside the directories this server may use");
            return MHD_HTTP_FORBIDDEN;
        }
        return MHD_HTTP_NOT_FOUND;
    }
    int ok = 0;
    for (size_t i = 0; i < srv->n_roots && !ok; i++) ok = under(real, srv->roots[i]);
    if (!ok && uploads[0]) ok = under(real, uploads);
    if (!ok) {
        snprintf(msg, msg_cap, "the path is outside the directories this server may use");
        return MHD_HTTP_FORBIDDEN;
    }
    struct stat st;
    if (stat(real, &st) != 0 || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
        snprintf(msg, msg_cap, want_dir ? "not a directory" : "not a regular file");
        return want_dir ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_NOT_FOUND;
    }
    if (strlen(real) >= cap) {
        snprintf(msg, msg_cap, "path too long");
        return MHD_HTTP_BAD_REQUEST;
    }
    snprintf(out, cap, "%s", real);
    return 0;
}
