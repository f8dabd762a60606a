/*
 * err.c — the error model: code names, messages, and the first-error-wins
 * recording into a caller-owned struct pxs_err. No global error state.
 */
#include "pixseek/core.h"

#include <stdio.h>
#include <string.h>

static const struct {
    int code;
    const char *name;
    const char *text;
} code_table[] = {
    {PXS_OK, "OK", "success"},
    {PXS_EINVAL, "EINVAL", "invalid argument"},
    {PXS_ENOMEM, "ENOMEM", "out of memory"},
    {PXS_EIO, "EIO", "input/output error"},
    {PXS_ECORRUPT, "ECORRUPT", "data is corrupt"},
    {PXS_ENOTFOUND, "ENOTFOUND", "not found"},
    {PXS_EEXIST, "EEXIST", "already exists"},
    {PXS_EUNSUPPORTED, "EUNSUPPORTED", "not supported"},
    {PXS_ELIMIT, "ELIMIT", "limit exceeded"},
    {PXS_EBUSY, "EBUSY", "resource busy"},
    {PXS_ECANCELED, "ECANCELED", "operation cancelled"},
    {PXS_EINTERNAL, "EINTERNAL", "internal error"},
    {PXS_EMISMATCH, "EMISMATCH", "incompatible with existing data"},
    {PXS_EPERM, "EPERM", "permission denied"},
};

_Static_assert(sizeof(code_table) / sizeof(code_table[0]) == (size_t)(-PXS_CODE_MIN) + 1,
               "every pxs_code needs a row in code_table");

const char *pxs_strerror(int code) {
    if (code <= 0 && code >= PXS_CODE_MIN) return code_table[-code].text;
    return "unknown error";
}

const char *pxs_code_name(int code) {
    if (code <= 0 && code >= PXS_CODE_MIN) return code_table[-code].name;
    return "EUNKNOWN";
}

int pxs_verrf(struct pxs_err *err, int code, const char *fmt, va_list ap) {
    if (!err || err->code != PXS_OK) return code;
    err->code = code;
    err->sys_errno = 0;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    /* Messages are single lines: they end up in logs and JSON. */
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return code;
}

int pxs_errf(struct pxs_err *err, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    pxs_verrf(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int pxs_errf_sys(struct pxs_err *err, int code, int errnum, const char *fmt, ...) {
    if (!err || err->code != PXS_OK) return code;
    char head[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    pxs_errf(err, code, "%s: %s", head, strerror(errnum));
    err->sys_errno = errnum;
    return code;
}

void pxs_err_clear(struct pxs_err *err) {
    if (!err) return;
    err->code = PXS_OK;
    err->sys_errno = 0;
    err->msg[0] = '\0';
}

const char *pxs_err_message(const struct pxs_err *err, int code) {
    if (err && err->msg[0]) return err->msg;
    return pxs_strerror(code);
}

int pxs__corrupt(struct pxs_err *err, const char *file, int line, const char *what) {
    const char *base = strrchr(file, '/');
    pxs_log(PXS_LOG_DEBUG, "corruption detected at %s:%d: %s", base ? base + 1 : file, line, what);
    return pxs_errf(err, PXS_ECORRUPT, "%s", what);
}
