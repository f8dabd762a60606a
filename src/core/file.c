/*
 * file.c — whole-file reads with a size cap, durable atomic replacement
 * (temp → fsync → rename → fsync dir, the Redis rdbSave recipe) and mkdir -p.
 */
#include "pixseek/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pxs_file_read_all(const char *path, size_t max_bytes, char **out, size_t *len,
                      struct pxs_err *err) {
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return pxs_errf_sys(err, e == EACCES ? PXS_EPERM : e == ENOENT ? PXS_ENOTFOUND : PXS_EIO,
                            e, "cannot open %s", path);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return pxs_errf_sys(err, PXS_EIO, e, "cannot stat %s", path);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return pxs_errf(err, PXS_EINVAL, "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return pxs_errf(err, PXS_ELIMIT, "%s is %lld bytes, over the %zu-byte limit", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t size = (size_t)st.st_size;
    char *data = pxs_malloc(size + 1);
    if (!data) {
        close(fd);
        return pxs_errf(err, PXS_ENOMEM, "out of memory reading %s (%zu bytes)", path, size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            pxs_free(data);
            close(fd);
            return pxs_errf_sys(err, e == EISDIR ? PXS_EINVAL : PXS_EIO, e, "cannot read %s",
                                path);
        }
        if (n == 0) break; /* file shrank while reading */
        got += (size_t)n;
    }
    close(fd);
    data[got] = '\0';
    *out = data;
    *len = got;
    return PXS_OK;
}

static int fsync_dir_of(const char *path, struct pxs_err *err) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1;
        if (n >= sizeof dir) return pxs_errf(err, PXS_EINVAL, "path too long: %s", path);
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return pxs_errf_sys(err, PXS_EIO, errno, "cannot open directory %s", dir);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0) return pxs_errf_sys(err, PXS_EIO, e, "fsync %s", dir);
    return PXS_OK;
}

/* Write data to a fresh temporary file beside path (unique per process and
 * call, so concurrent writers of one path do not share it), fsync it if
 * durable, and rename it over path. */
static int write_and_rename(const char *path, const void *data, size_t len, int durable,
                            struct pxs_err *err) {
    static _Atomic unsigned long counter;
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%lu", path, (long)getpid(),
                         (unsigned long)atomic_fetch_add(&counter, 1)) >= sizeof tmp)
        return pxs_errf(err, PXS_EINVAL, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return pxs_errf_sys(err, PXS_EIO, errno, "cannot create %s", tmp);
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return pxs_errf_sys(err, PXS_EIO, e, "cannot write %s", tmp);
        }
        p += n;
        left -= (size_t)n;
    }
    if (durable && fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return pxs_errf_sys(err, PXS_EIO, e, "fsync %s", tmp);
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return pxs_errf_sys(err, PXS_EIO, e, "cannot rename %s to %s", tmp, path);
    }
    return PXS_OK;
}

int pxs_file_write_atomic(const char *path, const void *data, size_t len, struct pxs_err *err) {
    int rc = write_and_rename(path, data, len, 1, err);
    return rc == PXS_OK ? fsync_dir_of(path, err) : rc;
}

int pxs_file_write_replace(const char *path, const void *data, size_t len, struct pxs_err *err) {
    return write_and_rename(path, data, len, 0, err);
}

int pxs_mkdirs(const char *path, struct pxs_err *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return pxs_errf(err, PXS_EINVAL, "bad directory path");
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return pxs_errf_sys(err, PXS_EIO, errno, "cannot create directory %s", buf);
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return pxs_errf(err, PXS_EIO, "%s exists and is not a directory", path);
    return PXS_OK;
}
