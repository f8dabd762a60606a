/*
 * pixseek/core.h — the pieces every pixseek module shares: the error model,
 * logging, allocation hooks, a capped byte buffer, file helpers, content
 * hashing, CPU feature detection and a monotonic clock.
 *
 * Error model (used by every module):
 *   - A function that can fail returns int: PXS_OK (0) or a negative
 *     PXS_E* code. Constructors return their object through an out-param.
 *   - The caller passes a struct pxs_err (may be NULL). The first error
 *     written wins; later writes are ignored so the root cause survives.
 *   - The OS errno travels in err->sys_errno, never in the return value.
 *   - Library code never aborts or exits on bad input.
 *
 * Ownership words used in comments across the public headers:
 *   borrowed (valid until ...), caller frees with X, consumed.
 */
#ifndef PIXSEEK_CORE_H
#define PIXSEEK_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PXS_MUST_CHECK __attribute__((warn_unused_result))
#define PXS_PRINTF(fmt_idx, va_idx) __attribute__((format(printf, fmt_idx, va_idx)))

/* Error codes. This list only grows: append, never renumber. */
enum pxs_code {
    PXS_OK = 0,
    PXS_EINVAL = -1,       /* bad argument or malformed input */
    PXS_ENOMEM = -2,       /* allocation failed */
    PXS_EIO = -3,          /* operating system I/O failure (see sys_errno) */
    PXS_ECORRUPT = -4,     /* stored or supplied data is damaged */
    PXS_ENOTFOUND = -5,    /* no such object */
    PXS_EEXIST = -6,       /* object already exists */
    PXS_EUNSUPPORTED = -7, /* valid but not supported (format, operator, ...) */
    PXS_ELIMIT = -8,       /* a configured size or count limit was exceeded */
    PXS_EBUSY = -9,        /* resource is locked or in use */
    PXS_ECANCELED = -10,   /* operation was cancelled */
    PXS_EINTERNAL = -11,   /* a pixseek bug: an invariant did not hold */
    PXS_EMISMATCH = -12,   /* incompatible with existing state (model, dimension) */
    PXS_EPERM = -13,       /* permission denied (file or API token) */
};
#define PXS_CODE_MIN PXS_EPERM

struct pxs_err {
    int code;        /* PXS_OK or the first PXS_E* code recorded */
    int sys_errno;   /* errno captured with the error, 0 if none */
    char msg[256];   /* human message, no trailing newline, "" if none */
};

/* Static text for a code ("invalid argument", ...). Never NULL. */
const char *pxs_strerror(int code);
/* Short symbolic name ("EINVAL"), for JSON output. Never NULL. */
const char *pxs_code_name(int code);

/* Record an error. No-op if err is NULL or already holds an error.
 * Returns code, so callers can write `return pxs_errf(err, PXS_EINVAL, ...)`. */
int pxs_errf(struct pxs_err *err, int code, const char *fmt, ...) PXS_PRINTF(3, 4);
int pxs_verrf(struct pxs_err *err, int code, const char *fmt, va_list ap);
/* Like pxs_errf, appends ": strerror(errnum)" and records sys_errno. */
int pxs_errf_sys(struct pxs_err *err, int code, int errnum, const char *fmt, ...)
    PXS_PRINTF(4, 5);
/* Reset err to "no error". NULL is a no-op. */
void pxs_err_clear(struct pxs_err *err);
/* Message of err, or pxs_strerror(code) if the message is empty. */
const char *pxs_err_message(const struct pxs_err *err, int code);

/* Corruption is reported with the file and line that detected it, so a
 * damaged input can be traced to the check that rejected it. */
int pxs__corrupt(struct pxs_err *err, const char *file, int line, const char *what);
#define PXS_CORRUPT_BKPT(err, what) pxs__corrupt((err), __FILE__, __LINE__, (what))

/* ---- logging ---------------------------------------------------------- */

enum pxs_log_level {
    PXS_LOG_ERROR = 0,
    PXS_LOG_WARN = 1,
    PXS_LOG_INFO = 2,
    PXS_LOG_DEBUG = 3,
};

typedef void (*pxs_log_sink_fn)(enum pxs_log_level level, const char *msg, void *user);

/* Process-wide policy, chosen by the program (cli), not by library code.
 * Default: level WARN, sink writes "pixseek: level: msg" to stderr. */
void pxs_log_set_level(enum pxs_log_level level);
enum pxs_log_level pxs_log_get_level(void);
void pxs_log_set_sink(pxs_log_sink_fn sink, void *user);
/* Parse "error|warn|info|debug". Returns PXS_EINVAL for anything else. */
int pxs_log_parse_level(const char *name, enum pxs_log_level *out);
void pxs_log(enum pxs_log_level level, const char *fmt, ...) PXS_PRINTF(2, 3);

#define PXS_LOG_ERR(...) pxs_log(PXS_LOG_ERROR, __VA_ARGS__)
#define PXS_LOG_WARN(...) pxs_log(PXS_LOG_WARN, __VA_ARGS__)
#define PXS_LOG_INFO(...) pxs_log(PXS_LOG_INFO, __VA_ARGS__)
#define PXS_LOG_DEBUG(...) pxs_log(PXS_LOG_DEBUG, __VA_ARGS__)

/* ---- allocation ------------------------------------------------------- */

/* All pixseek allocation goes through these, so tests can fail the N-th
 * allocation. They return NULL on failure and never abort. pxs_free(NULL)
 * is a no-op. Sizes are overflow-checked (pxs_calloc, pxs_mallocarray). */
void *pxs_malloc(size_t size);
void *pxs_calloc(size_t count, size_t size);
void *pxs_mallocarray(size_t count, size_t size);
void *pxs_realloc(void *ptr, size_t size);
void *pxs_aligned_alloc(size_t alignment, size_t size); /* free with pxs_free */
char *pxs_strdup(const char *s);
char *pxs_strndup(const char *s, size_t n);
void pxs_free(void *ptr);
/* Test hook: make the n-th allocation from now fail (0 disables). */
void pxs_alloc_fail_after(long n);

/* Multiply with overflow check: returns 0 and stores a*b, or -1. */
int pxs_size_mul(size_t a, size_t b, size_t *out);
int pxs_size_add(size_t a, size_t b, size_t *out);

/* ---- capped growable buffer ------------------------------------------- */

/* A byte buffer that refuses to grow past max (returns PXS_ELIMIT).
 * data is always NUL-terminated (not counted in len) when non-NULL. */
struct pxs_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
};

void pxs_buf_init(struct pxs_buf *b, size_t max);
void pxs_buf_free(struct pxs_buf *b);
void pxs_buf_reset(struct pxs_buf *b);
int pxs_buf_append(struct pxs_buf *b, const void *data, size_t len) PXS_MUST_CHECK;
int pxs_buf_appendf(struct pxs_buf *b, const char *fmt, ...) PXS_PRINTF(2, 3) PXS_MUST_CHECK;
int pxs_buf_reserve(struct pxs_buf *b, size_t extra) PXS_MUST_CHECK;
/* Hand the bytes to the caller (caller frees with pxs_free); b becomes empty. */
char *pxs_buf_detach(struct pxs_buf *b, size_t *len);

/* ---- files ------------------------------------------------------------ */

/* Read a whole file (at most max_bytes; larger files give PXS_ELIMIT).
 * *out is caller-freed with pxs_free, NUL-terminated beyond *len. */
int pxs_file_read_all(const char *path, size_t max_bytes, char **out, size_t *len,
                      struct pxs_err *err) PXS_MUST_CHECK;
/* Durably replace path: write temp file, fsync, rename, fsync directory. */
int pxs_file_write_atomic(const char *path, const void *data, size_t len,
                          struct pxs_err *err) PXS_MUST_CHECK;
/* Replace path the same way (temporary file, rename) but without any
 * fsync: readers never see a partial file, durability needs a later
 * fsync/syncfs. Concurrent writers of the same path are safe. */
int pxs_file_write_replace(const char *path, const void *data, size_t len,
                           struct pxs_err *err) PXS_MUST_CHECK;
/* mkdir -p with mode 0755. */
int pxs_mkdirs(const char *path, struct pxs_err *err) PXS_MUST_CHECK;

/* ---- little-endian integers (on-disk formats) --------------------------- */

/* Store the low n bytes (1..8) of v little-endian at p / read them back. */
static inline void pxs_put_le(uint8_t *p, uint64_t v, int n) {
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t pxs_get_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- hashing ---------------------------------------------------------- */

#define PXS_HASH_BYTES 16
#define PXS_HASH_HEX_LEN 32

/* 128-bit non-cryptographic content hash (XXH3-128). */
void pxs_hash128(const void *data, size_t len, uint8_t out[PXS_HASH_BYTES]);
/* Hex form, hex must hold PXS_HASH_HEX_LEN + 1 bytes. */
void pxs_hash_to_hex(const uint8_t hash[PXS_HASH_BYTES], char *hex);
int pxs_hash_from_hex(const char *hex, uint8_t hash[PXS_HASH_BYTES]);
/* 64-bit hash for hash tables and checksums (XXH3-64). */
uint64_t pxs_hash64(const void *data, size_t len);

/* ---- CPU features ----------------------------------------------------- */

enum pxs_cpu_flag {
    PXS_CPU_AVX2 = 1u << 0,       /* AVX2 + FMA */
    PXS_CPU_AVX512F = 1u << 1,    /* AVX-512 F + BW + DQ + VL */
    PXS_CPU_AVX512VNNI = 1u << 2,
    PXS_CPU_AVX512BF16 = 1u << 3,
    PXS_CPU_AMX = 1u << 4,        /* AMX tile + int8 + bf16 */
    PXS_CPU_F16C = 1u << 5,
};

/* What this CPU and OS support, masked to 0 when the environment variable
 * PXS_FORCE_GENERIC=1 is set (so CI can run every scalar path). */
unsigned pxs_cpu_features(void);
/* "avx512f avx512vnni ..." (static string). */
const char *pxs_cpu_describe(void);

/* ---- time ------------------------------------------------------------- */

uint64_t pxs_now_ns(void);  /* monotonic clock */
double pxs_now_seconds(void);

#ifdef __cplusplus
}
#endif
#endif
