/*
 * store.c — the durable store of record: named tables of byte-string keys
 * and values with ACID transactions, on LMDB (pixseek/store.h).
 *
 * ---- On-disk layout ----------------------------------------------------
 *
 * A store is a directory holding the two files of one LMDB environment:
 *
 *   <dir>/data.mdb   the data: LMDB's copy-on-write B+tree file (LMDB data
 *                    format of the 0.9 series). Two meta pages at the front
 *                    point at the current roots; a commit writes new pages,
 *                    fdatasyncs them, then writes and syncs a meta page, so
 *                    the file always holds a complete committed state.
 *                    Pages use the host's byte order (the file is not
 *                    portable between little- and big-endian machines).
 *   <dir>/lock.mdb   the shared reader table and writer mutex. Not data:
 *                    it may be deleted while no process has the store open.
 *
 * Inside data.mdb:
 *   - LMDB's main database holds exactly one entry per table: the table
 *     name (1..PXS__STORE_MAX_NAME printable ASCII bytes, no NUL) mapped to
 *     LMDB's sub-database record. Nothing else is ever stored there; a main
 *     database entry that is not a table makes the store PXS_ECORRUPT.
 *   - Each table is an LMDB named database with default flags: unique keys,
 *     bytewise (memcmp, then shorter-first) key order. Keys are
 *     1..PXS_STORE_MAX_KEY bytes, values 0..PXS__STORE_MAX_VALUE bytes, both
 *     stored verbatim as the engine encoded them (integers big-endian via
 *     pxs_store_u64_key, so they sort numerically).
 * There is no pixseek-level header or version in the files: the table set
 * and record encodings are the engine's format, versioned by the engine.
 *
 * ---- Durability --------------------------------------------------------
 *
 * The environment is opened without MDB_NOSYNC/MDB_NOMETASYNC/MDB_WRITEMAP:
 * mdb_txn_commit returns only after the data pages and the meta page are on
 * disk, so a commit that returned PXS_OK survives kill -9 and power loss.
 * On open (read-write) the directory itself is fsynced so a freshly created
 * data.mdb has a durable directory entry. A write or sync failure poisons
 * the handle (see "Failure state" below).
 *
 * ---- Transactions and threads -------------------------------------------
 *
 * MDB_NOTLS: read transactions take a reader slot per transaction instead of
 * one per thread, so a thread may hold several read transactions (and a read
 * and a write one at the same time), and HTTP worker threads do not pin
 * slots when idle. Each open read transaction uses one of PXS__STORE_READERS
 * slots shared by all processes; keep them short (a long reader also keeps
 * LMDB from reusing pages, so the file grows). Slots left by killed
 * processes are cleared with mdb_reader_check at open and whenever the
 * table is found full (the begin then retries once). Write transactions serialize
 * on LMDB's process-shared writer mutex (one writer across all processes)
 * and must end on the thread that began them.
 *
 * ---- Table handles (MDB_dbi): the rules --------------------------------
 *
 * LMDB 0.9 imposes, and this file relies on:
 *   L1. mdb_dbi_open writes the shared handle table of the environment. It
 *       must not run in two transactions at once, and a transaction that
 *       opened a handle must end before any other transaction of the
 *       process calls mdb_dbi_open (slot numbers would collide).
 *   L2. A handle opened in a transaction is published to the environment
 *       only when that transaction commits (read-only transactions too);
 *       on abort it is closed again.
 *   L3. A transaction can use only the handles that were published before
 *       it began (it copies the handle count at begin) plus the ones it
 *       opened itself. A handle published later is EINVAL in it.
 *   L4. Only one write transaction exists at a time across all processes.
 *
 * Our structures (all in struct pxs_store, guarded by mu):
 *   tables[0..n_tables)  append-only cache of published handles. An entry
 *                        is written before n_tables grows past it and never
 *                        changes after, so a transaction may read the
 *                        entries below the count it saw at begin without
 *                        the lock.
 *   writers_live         write transactions of this process that passed
 *                        their begin check and have not finished ending.
 *
 * Invariants and how each operation keeps them:
 *   I1. Every cache entry is published in LMDB and exists on disk in every
 *       snapshot taken after it was cached (tables are never dropped).
 *   I2. A transaction looks up only cache[0..n_visible), with n_visible read
 *       under mu before mdb_txn_begin: those were published before it began,
 *       so they are usable in it (L3).
 *   I3. Handles are opened in exactly two places, both under mu:
 *       (a) refresh: a short private read transaction opens the tables that
 *           exist on disk but are not cached, commits (publishing them, L2)
 *           and appends them. Runs only when writers_live == 0.
 *       (b) a write transaction's first put into a new table opens it with
 *           MDB_CREATE. It stays private to that transaction; commit
 *           publishes it and then the table is appended under mu; abort
 *           forgets it. Runs only while writers_live > 0 for this writer,
 *           so (a) cannot overlap it (L1), and (b) cannot overlap itself
 *           (L4).
 *   I4. Begin check. After mdb_txn_begin a transaction compares the number
 *       of tables in its snapshot (entries of LMDB's main database, O(1))
 *       with n_visible. Since cache[0..n_visible) is a subset of the
 *       snapshot's tables (I1), equal counts mean equal sets: every table
 *       the transaction can see has a usable handle. Otherwise it aborts,
 *       refreshes and retries. A write transaction additionally requires
 *       that n_tables did not change since it read n_visible (a refresh that
 *       ran meanwhile published a slot the writer cannot see, L3, and the
 *       writer's own MDB_CREATE would take that slot number, L1); it then
 *       enters writers_live under the same lock hold.
 *   I5. While a writer of this process is live, no other process can commit
 *       (L4), so every table in the latest snapshot is cached: readers only
 *       need a refresh in the short window after a writer's commit and
 *       before it appended its new tables. Such a reader waits on cond
 *       (signalled when writers_live drops) and retries; it never waits on
 *       a long-running writer, whose tables are all cached already.
 *
 * ---- Failure state -----------------------------------------------------
 *
 * If a write, sync or commit fails with an I/O-class error (EIO, ENOSPC,
 * MDB_PANIC, ...), the handle is marked failed: later write transactions get
 * PXS_EIO with the original message, read transactions keep working on the
 * last committed state. There is no retry; close and reopen the store after
 * fixing the cause (LMDB's own MDB_FATAL_ERROR/MDB_PANIC covers a failed
 * meta-page write the same way). The flag is per handle, not per directory.
 */
#include "pixseek/store.h"

#include <lmdb.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PXS__STORE_MAX_TABLES 64               /* named LMDB databases */
#define PXS__STORE_MAX_NAME 63                 /* table name bytes */
#define PXS__STORE_MAX_VALUE ((size_t)1 << 30) /* 1 GiB */
#define PXS__STORE_READERS 256                 /* reader slots, all processes */
#define PXS__STORE_DEFAULT_MAP ((uint64_t)64 << 30)
#define PXS__STORE_MAX_RETRIES 1000            /* begin-check retries */

struct store_table {
    char name[PXS__STORE_MAX_NAME + 1];
    MDB_dbi dbi;
};

struct pxs_store {
    MDB_env *env;
    MDB_dbi main_dbi; /* LMDB's main database: one entry per table */
    int read_only;
    char *dir;

    pthread_mutex_t mu;
    pthread_cond_t cond;                                /* writers_live dropped */
    struct store_table tables[PXS__STORE_MAX_TABLES];   /* append-only, see I1-I5 */
    size_t n_tables;
    int writers_live;
    long n_txns; /* open transactions, for the close check */
    int failed;
    char fail_msg[sizeof(((struct pxs_err *)0)->msg)];

    /* Per-process registry of open directories (LMDB must not open the same
     * environment twice in one process: closing one would drop the other's
     * POSIX locks). */
    dev_t dev;
    ino_t ino;
    pid_t pid;
    struct pxs_store *reg_next;
};

struct pxs_store_txn {
    pxs_store *store;
    MDB_txn *txn;
    int write;
    int broken;        /* PXS code of a failed write: the txn can only end */
    size_t n_visible;  /* cache entries usable in this txn (I2) */
    size_t n_new;      /* tables this write txn created, not yet published */
    struct store_table *new_tables; /* PXS__STORE_MAX_TABLES entries, lazily */
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pxs_store *registry_head;

/* ---- errors ------------------------------------------------------------ */

static int map_mdb(int rc) {
    switch (rc) {
    case MDB_SUCCESS:
        return PXS_OK;
    case MDB_NOTFOUND:
    case ENOENT:
        return PXS_ENOTFOUND;
    case MDB_KEYEXIST:
        return PXS_EEXIST;
    case MDB_MAP_FULL:
    case MDB_DBS_FULL:
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_CURSOR_FULL:
    case MDB_PAGE_FULL:
        return PXS_ELIMIT;
    case MDB_CORRUPTED:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_PAGE_NOTFOUND:
    case MDB_INCOMPATIBLE:
        return PXS_ECORRUPT;
    case MDB_MAP_RESIZED:
        return PXS_EMISMATCH;
    case MDB_BAD_VALSIZE:
    case EINVAL:
        return PXS_EINVAL;
    case MDB_BAD_RSLOT:
    case MDB_BAD_TXN:
    case MDB_BAD_DBI:
    case MDB_TLS_FULL:
        return PXS_EINTERNAL;
    case EACCES:
    case EPERM:
    case EROFS:
        return PXS_EPERM;
    case ENOMEM:
        return PXS_ENOMEM;
    case EAGAIN:
    case EBUSY:
        return PXS_EBUSY;
    default: /* EIO, ENOSPC, EDQUOT, MDB_PANIC, ... */
        return PXS_EIO;
    }
}

/* Record an LMDB failure: "what: mdb_strerror(rc)", errno kept in sys_errno. */
static int mdb_fail(struct pxs_err *err, int rc, const char *fmt, ...) PXS_PRINTF(3, 4);
static int mdb_fail(struct pxs_err *err, int rc, const char *fmt, ...) {
    int code = map_mdb(rc);
    if (code == PXS_OK) code = PXS_EINTERNAL;
    if (!err || err->code != PXS_OK) return code;
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *extra = "";
    if (rc == MDB_MAP_RESIZED)
        extra = " (another process uses a larger map_size; reopen with the same map_size)";
    else if (rc == MDB_MAP_FULL)
        extra = " (raise map_size)";
    pxs_errf(err, code, "%s: %s%s", what, mdb_strerror(rc), extra);
    if (rc > 0) err->sys_errno = rc;
    return code;
}

/* Does this mapped failure of a write-side call poison the handle? */
static int is_io_failure(int rc) {
    int code = map_mdb(rc);
    return code == PXS_EIO || code == PXS_ECORRUPT || rc == MDB_PANIC;
}

static void poison(pxs_store *s, const struct pxs_err *err, int rc) {
    pthread_mutex_lock(&s->mu);
    if (!s->failed) {
        s->failed = 1;
        if (err && err->msg[0])
            memcpy(s->fail_msg, err->msg, sizeof s->fail_msg);
        else
            snprintf(s->fail_msg, sizeof s->fail_msg, "%s", mdb_strerror(rc));
    }
    pthread_mutex_unlock(&s->mu);
    PXS_LOG_ERR("store write failure; this handle refuses further writes: %s",
                err && err->msg[0] ? err->msg : mdb_strerror(rc));
}

/* ---- small helpers ----------------------------------------------------- */

static int check_table_name(const char *name, struct pxs_err *err) {
    if (!name) return pxs_errf(err, PXS_EINVAL, "table name is NULL");
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        unsigned char c = (unsigned char)*p;
        if (n >= PXS__STORE_MAX_NAME)
            return pxs_errf(err, PXS_EINVAL, "table name longer than %d bytes",
                            PXS__STORE_MAX_NAME);
        if (c < 0x21 || c > 0x7e)
            return pxs_errf(err, PXS_EINVAL, "table name has byte 0x%02x (printable ASCII only)",
                            c);
    }
    if (n == 0) return pxs_errf(err, PXS_EINVAL, "table name is empty");
    return PXS_OK;
}

static int check_key(const void *key, size_t key_len, struct pxs_err *err) {
    if (!key || key_len == 0) return pxs_errf(err, PXS_EINVAL, "empty key");
    if (key_len > PXS_STORE_MAX_KEY)
        return pxs_errf(err, PXS_EINVAL, "key of %zu bytes exceeds the %d-byte limit", key_len,
                        PXS_STORE_MAX_KEY);
    return PXS_OK;
}

static int fsync_dir(const char *dir, struct pxs_err *err) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return pxs_errf_sys(err, PXS_EIO, errno, "cannot open directory %s", dir);
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0 && e != EINVAL) /* EINVAL: the filesystem cannot sync dirs */
        return pxs_errf_sys(err, PXS_EIO, e, "cannot fsync directory %s", dir);
    return PXS_OK;
}

/* Parent directory of path into buf ("." if none). */
static void parent_dir(const char *path, char *buf, size_t cap) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    while (n > 0 && path[n - 1] != '/') n--;
    while (n > 1 && path[n - 1] == '/') n--;
    if (n == 0) {
        snprintf(buf, cap, ".");
    } else {
        if (n >= cap) n = cap - 1;
        memcpy(buf, path, n);
        buf[n] = '\0';
    }
}

static const struct store_table *find_cached(const struct store_table *tabs, size_t n,
                                             const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(tabs[i].name, name) == 0) return &tabs[i];
    return NULL;
}

/* Handle of table in this txn; 0 if the table does not exist in it. */
static int txn_lookup(const pxs_store_txn *t, const char *name, MDB_dbi *dbi) {
    const struct store_table *e = find_cached(t->store->tables, t->n_visible, name);
    if (!e && t->new_tables) e = find_cached(t->new_tables, t->n_new, name);
    if (!e) return 0;
    *dbi = e->dbi;
    return 1;
}

/* Begin a read-only LMDB txn. If the reader table is full, slots left by
 * killed processes may be the cause: clear them once and retry. */
static int begin_ro(pxs_store *s, MDB_txn **out) {
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, out);
    if (rc == MDB_READERS_FULL) {
        int dead = 0;
        if (mdb_reader_check(s->env, &dead) == 0 && dead > 0) {
            PXS_LOG_INFO("store %s: cleared %d stale reader slot(s)", s->dir, dead);
            rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, out);
        }
    }
    if (rc) *out = NULL;
    return rc;
}

/* ---- handle refresh (I3a) ---------------------------------------------- */

/* Open every table on disk that is not cached yet in a short private read
 * transaction, commit it (publishing the handles) and append them.
 * Caller holds mu and has checked writers_live == 0. */
static int refresh_locked(pxs_store *s, struct pxs_err *err) {
    MDB_txn *t = NULL;
    MDB_cursor *cur = NULL;
    char names[PXS__STORE_MAX_TABLES][PXS__STORE_MAX_NAME + 1];
    MDB_dbi dbis[PXS__STORE_MAX_TABLES];
    size_t n_names = 0;

    int rc = begin_ro(s, &t);
    if (rc) return mdb_fail(err, rc, "store %s: cannot begin a read transaction", s->dir);
    rc = mdb_cursor_open(t, s->main_dbi, &cur);
    if (rc) {
        mdb_txn_abort(t);
        return mdb_fail(err, rc, "store %s: cannot list tables", s->dir);
    }
    MDB_val k, v;
    int op = MDB_FIRST;
    int code = PXS_OK;
    while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        if (k.mv_size == 0 || k.mv_size > PXS__STORE_MAX_NAME ||
            memchr(k.mv_data, '\0', k.mv_size)) {
            code = pxs_errf(err, PXS_ECORRUPT,
                            "store %s: main database holds a %zu-byte key that is not a "
                            "pixseek table name",
                            s->dir, k.mv_size);
            break;
        }
        char name[PXS__STORE_MAX_NAME + 1];
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if (check_table_name(name, NULL) != PXS_OK) {
            code = pxs_errf(err, PXS_ECORRUPT,
                            "store %s: main database holds a key that is not a pixseek "
                            "table name",
                            s->dir);
            break;
        }
        if (find_cached(s->tables, s->n_tables, name)) continue;
        if (s->n_tables + n_names >= PXS__STORE_MAX_TABLES) {
            code = pxs_errf(err, PXS_ELIMIT, "store %s has more than %d tables", s->dir,
                            PXS__STORE_MAX_TABLES);
            break;
        }
        memcpy(names[n_names], name, k.mv_size + 1);
        n_names++;
    }
    mdb_cursor_close(cur);
    if (code == PXS_OK && rc != MDB_NOTFOUND)
        code = mdb_fail(err, rc, "store %s: cannot list tables", s->dir);
    for (size_t i = 0; code == PXS_OK && i < n_names; i++) {
        rc = mdb_dbi_open(t, names[i], 0, &dbis[i]);
        if (rc == MDB_INCOMPATIBLE)
            code = pxs_errf(err, PXS_ECORRUPT,
                            "store %s: main database entry \"%s\" is not a table", s->dir,
                            names[i]);
        else if (rc)
            code = mdb_fail(err, rc, "store %s: cannot open table %s", s->dir, names[i]);
    }
    if (code != PXS_OK) {
        mdb_txn_abort(t); /* closes the handles opened above (L2) */
        return code;
    }
    rc = mdb_txn_commit(t); /* publishes them */
    if (rc) return mdb_fail(err, rc, "store %s: cannot publish table handles", s->dir);
    for (size_t i = 0; i < n_names; i++) {
        struct store_table *e = &s->tables[s->n_tables];
        memcpy(e->name, names[i], sizeof e->name);
        e->dbi = dbis[i];
        s->n_tables++;
    }
    return PXS_OK;
}

/* Called by a begin whose check failed after seeing m tables in its
 * snapshot. Either way the caller then retries its begin:
 *   - the cache has grown to m meanwhile: nothing to do;
 *   - a writer of this process is live: by I5 we are in the window between
 *     its commit and its publish, so wait for it (never for a long writer:
 *     while one is live, every table on disk is already cached);
 *   - otherwise open the missing handles (I3a). */
static int refresh_or_wait(pxs_store *s, size_t m, struct pxs_err *err) {
    pthread_mutex_lock(&s->mu);
    int rc = PXS_OK;
    if (s->n_tables >= m)
        rc = PXS_OK;
    else if (s->writers_live > 0)
        pthread_cond_wait(&s->cond, &s->mu);
    else
        rc = refresh_locked(s, err);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- open / close ------------------------------------------------------ */

static void registry_remove(pxs_store *s) {
    pthread_mutex_lock(&registry_mu);
    for (struct pxs_store **p = &registry_head; *p; p = &(*p)->reg_next) {
        if (*p == s) {
            *p = s->reg_next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_mu);
}

static int registry_add(pxs_store *s, struct pxs_err *err) {
    int rc = PXS_OK;
    pthread_mutex_lock(&registry_mu);
    for (struct pxs_store *p = registry_head; p; p = p->reg_next) {
        /* Entries inherited over fork() belong to the parent: ignore them. */
        if (p->dev == s->dev && p->ino == s->ino && p->pid == s->pid) {
            rc = pxs_errf(err, PXS_EBUSY,
                          "store %s is already open in this process (share the handle)",
                          s->dir);
            break;
        }
    }
    if (rc == PXS_OK) {
        s->reg_next = registry_head;
        registry_head = s;
    }
    pthread_mutex_unlock(&registry_mu);
    return rc;
}

int pxs_store_open(const char *dir, const struct pxs_store_opts *opts, pxs_store **out,
                   struct pxs_err *err) {
    if (out) *out = NULL;
    if (!dir || !dir[0] || !out) return pxs_errf(err, PXS_EINVAL, "store: bad arguments");
    int read_only = opts ? opts->read_only : 0;
    uint64_t map_size = opts && opts->map_size ? opts->map_size : PXS__STORE_DEFAULT_MAP;
    if (map_size > SIZE_MAX)
        return pxs_errf(err, PXS_EINVAL, "store: map_size %llu too large for this platform",
                        (unsigned long long)map_size);

    struct stat st;
    int created = 0;
    if (stat(dir, &st) != 0) {
        int e = errno;
        if (e != ENOENT || read_only)
            return pxs_errf_sys(err, e == ENOENT ? PXS_ENOTFOUND : map_mdb(e), e,
                                "store: cannot open %s", dir);
        int rc = pxs_mkdirs(dir, err);
        if (rc != PXS_OK) return rc;
        created = 1;
        if (stat(dir, &st) != 0)
            return pxs_errf_sys(err, PXS_EIO, errno, "store: cannot stat %s", dir);
    }
    if (!S_ISDIR(st.st_mode)) return pxs_errf(err, PXS_EINVAL, "store: %s is not a directory", dir);

    pxs_store *s = pxs_calloc(1, sizeof *s);
    if (!s) return pxs_errf(err, PXS_ENOMEM, "store: out of memory");
    s->dir = pxs_strdup(dir);
    if (!s->dir) {
        pxs_free(s);
        return pxs_errf(err, PXS_ENOMEM, "store: out of memory");
    }
    s->read_only = read_only;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->pid = getpid();
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        pxs_free(s->dir);
        pxs_free(s);
        return pxs_errf(err, PXS_ENOMEM, "store: cannot create a mutex");
    }
    if (pthread_cond_init(&s->cond, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        pxs_free(s->dir);
        pxs_free(s);
        return pxs_errf(err, PXS_ENOMEM, "store: cannot create a condition variable");
    }
    int code = registry_add(s, err);
    if (code != PXS_OK) {
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mu);
        pxs_free(s->dir);
        pxs_free(s);
        return code;
    }

    int rc = mdb_env_create(&s->env);
    if (rc) {
        s->env = NULL;
        code = mdb_fail(err, rc, "store %s: cannot create the environment", dir);
        goto fail;
    }
    if ((rc = mdb_env_set_maxdbs(s->env, PXS__STORE_MAX_TABLES)) ||
        (rc = mdb_env_set_mapsize(s->env, (size_t)map_size)) ||
        (rc = mdb_env_set_maxreaders(s->env, PXS__STORE_READERS))) {
        code = mdb_fail(err, rc, "store %s: cannot configure the environment", dir);
        goto fail;
    }
    rc = mdb_env_open(s->env, dir, MDB_NOTLS | (read_only ? MDB_RDONLY : 0), 0644);
    if (rc) {
        if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED)
            code = mdb_fail(err, rc, "store %s: data.mdb is not a valid store", dir);
        else if (rc == ENOENT)
            code = mdb_fail(err, rc, "store %s: no store here (read-only open)", dir);
        else
            code = mdb_fail(err, rc, "store %s: cannot open", dir);
        goto fail;
    }
    if (mdb_env_get_maxkeysize(s->env) < PXS_STORE_MAX_KEY) {
        code = pxs_errf(err, PXS_EUNSUPPORTED, "store %s: LMDB max key size %d < %d", dir,
                        mdb_env_get_maxkeysize(s->env), PXS_STORE_MAX_KEY);
        goto fail;
    }
    int dead = 0;
    rc = mdb_reader_check(s->env, &dead);
    if (rc) {
        code = mdb_fail(err, rc, "store %s: cannot check the reader table", dir);
        goto fail;
    }
    if (dead > 0) PXS_LOG_INFO("store %s: cleared %d stale reader slot(s)", dir, dead);
    if (!read_only) {
        /* Make the directory entries of data.mdb/lock.mdb (and of a directory
         * we just created) durable before any commit is acknowledged. */
        code = fsync_dir(dir, err);
        if (code == PXS_OK && created) {
            char parent[4096];
            parent_dir(dir, parent, sizeof parent);
            code = fsync_dir(parent, err);
        }
        if (code != PXS_OK) goto fail;
    }

    /* The main database handle (always published), then the tables. */
    MDB_txn *t = NULL;
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t);
    if (rc) {
        code = mdb_fail(err, rc, "store %s: cannot begin a read transaction", dir);
        goto fail;
    }
    rc = mdb_dbi_open(t, NULL, 0, &s->main_dbi);
    mdb_txn_abort(t);
    if (rc) {
        code = mdb_fail(err, rc, "store %s: cannot open the main database", dir);
        goto fail;
    }
    pthread_mutex_lock(&s->mu);
    code = refresh_locked(s, err);
    pthread_mutex_unlock(&s->mu);
    if (code != PXS_OK) goto fail;
    *out = s;
    return PXS_OK;

fail:
    if (s->env) mdb_env_close(s->env);
    registry_remove(s);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    pxs_free(s->dir);
    pxs_free(s);
    return code;
}

void pxs_store_close(pxs_store *store) {
    if (!store) return;
    pthread_mutex_lock(&store->mu);
    long open_txns = store->n_txns;
    pthread_mutex_unlock(&store->mu);
    if (open_txns != 0)
        PXS_LOG_ERR("store %s closed with %ld transaction(s) still open", store->dir,
                    open_txns);
    mdb_env_close(store->env);
    registry_remove(store);
    pthread_cond_destroy(&store->cond);
    pthread_mutex_destroy(&store->mu);
    pxs_free(store->dir);
    pxs_free(store);
}

/* ---- transactions ------------------------------------------------------ */

/* Tables in txn's snapshot: the entry count of LMDB's main database. */
static int snapshot_tables(pxs_store *s, MDB_txn *t, size_t *n, struct pxs_err *err) {
    MDB_stat st;
    int rc = mdb_stat(t, s->main_dbi, &st);
    if (rc) return mdb_fail(err, rc, "store %s: cannot stat the main database", s->dir);
    *n = st.ms_entries;
    return PXS_OK;
}

static int begin_read(pxs_store *s, pxs_store_txn *t, struct pxs_err *err) {
    for (int attempt = 0; attempt < PXS__STORE_MAX_RETRIES; attempt++) {
        pthread_mutex_lock(&s->mu);
        size_t n0 = s->n_tables;
        pthread_mutex_unlock(&s->mu);
        int rc = begin_ro(s, &t->txn);
        if (rc) {
            return mdb_fail(err, rc, "store %s: cannot begin a read transaction", s->dir);
        }
        size_t m = 0;
        int code = snapshot_tables(s, t->txn, &m, err);
        if (code != PXS_OK) {
            mdb_txn_abort(t->txn);
            t->txn = NULL;
            return code;
        }
        if (m == n0) { /* I4 */
            t->n_visible = n0;
            return PXS_OK;
        }
        mdb_txn_abort(t->txn);
        t->txn = NULL;
        if (m < n0)
            return pxs_errf(err, PXS_EMISMATCH,
                            "store %s: a table was removed by another program; reopen the store",
                            s->dir);
        code = refresh_or_wait(s, m, err);
        if (code != PXS_OK) return code;
    }
    return pxs_errf(err, PXS_EBUSY, "store %s: table set kept changing; retry", s->dir);
}

static int begin_write(pxs_store *s, pxs_store_txn *t, struct pxs_err *err) {
    if (s->read_only) return pxs_errf(err, PXS_EPERM, "store %s is open read-only", s->dir);
    for (int attempt = 0; attempt < PXS__STORE_MAX_RETRIES; attempt++) {
        pthread_mutex_lock(&s->mu);
        int failed = s->failed;
        size_t n0 = s->n_tables;
        pthread_mutex_unlock(&s->mu);
        if (failed) goto refuse;
        /* Blocks while another writer (thread or process) is active. */
        int rc = mdb_txn_begin(s->env, NULL, 0, &t->txn);
        if (rc) {
            t->txn = NULL;
            int code = mdb_fail(err, rc, "store %s: cannot begin a write transaction", s->dir);
            if (rc == MDB_PANIC) poison(s, err, rc);
            return code;
        }
        size_t m = 0;
        int code = snapshot_tables(s, t->txn, &m, err);
        if (code != PXS_OK) {
            mdb_txn_abort(t->txn);
            t->txn = NULL;
            return code;
        }
        pthread_mutex_lock(&s->mu);
        if (m == n0 && s->n_tables == n0 && !s->failed) { /* I4 */
            s->writers_live++;
            t->n_visible = n0;
            pthread_mutex_unlock(&s->mu);
            return PXS_OK;
        }
        failed = s->failed;
        pthread_mutex_unlock(&s->mu);
        mdb_txn_abort(t->txn);
        t->txn = NULL;
        if (failed) goto refuse;
        if (m < n0)
            return pxs_errf(err, PXS_EMISMATCH,
                            "store %s: a table was removed by another program; reopen the store",
                            s->dir);
        code = refresh_or_wait(s, m, err);
        if (code != PXS_OK) return code;
    }
    return pxs_errf(err, PXS_EBUSY, "store %s: table set kept changing; retry", s->dir);

refuse:
    pthread_mutex_lock(&s->mu);
    pxs_errf(err, PXS_EIO,
             "store %s refuses writes after an earlier write failure (%s); close and reopen it",
             s->dir, s->fail_msg);
    pthread_mutex_unlock(&s->mu);
    return PXS_EIO;
}

int pxs_store_begin(pxs_store *store, int write, pxs_store_txn **out, struct pxs_err *err) {
    if (out) *out = NULL;
    if (!store || !out) return pxs_errf(err, PXS_EINVAL, "store: bad arguments");
    pxs_store_txn *t = pxs_calloc(1, sizeof *t);
    if (!t) return pxs_errf(err, PXS_ENOMEM, "store: out of memory");
    t->store = store;
    t->write = write ? 1 : 0;
    int code = t->write ? begin_write(store, t, err) : begin_read(store, t, err);
    if (code != PXS_OK) {
        pxs_free(t);
        return code;
    }
    pthread_mutex_lock(&store->mu);
    store->n_txns++;
    pthread_mutex_unlock(&store->mu);
    *out = t;
    return PXS_OK;
}

/* End bookkeeping after the LMDB txn is gone. published: append new tables. */
static void txn_finish(pxs_store_txn *t, int published) {
    pxs_store *s = t->store;
    pthread_mutex_lock(&s->mu);
    if (t->write) {
        for (size_t i = 0; published && i < t->n_new; i++) {
            if (find_cached(s->tables, s->n_tables, t->new_tables[i].name)) continue;
            if (s->n_tables >= PXS__STORE_MAX_TABLES) break; /* cannot happen: maxdbs */
            s->tables[s->n_tables++] = t->new_tables[i];
        }
        s->writers_live--;
        pthread_cond_broadcast(&s->cond);
    }
    s->n_txns--;
    pthread_mutex_unlock(&s->mu);
    pxs_free(t->new_tables);
    pxs_free(t);
}

int pxs_store_commit(pxs_store_txn *txn, struct pxs_err *err) {
    if (!txn) return pxs_errf(err, PXS_EINVAL, "store: commit of a NULL transaction");
    pxs_store *s = txn->store;
    if (!txn->write) {
        mdb_txn_abort(txn->txn); /* nothing to make durable */
        txn_finish(txn, 0);
        return PXS_OK;
    }
    if (txn->broken) {
        int code = txn->broken;
        mdb_txn_abort(txn->txn);
        txn_finish(txn, 0);
        return pxs_errf(err, code,
                        "store %s: transaction aborted: an earlier write in it failed (%s)",
                        s->dir, pxs_strerror(code));
    }
    int rc = mdb_txn_commit(txn->txn); /* ends the txn even on failure */
    if (rc) {
        int code = mdb_fail(err, rc, "store %s: commit failed", s->dir);
        if (is_io_failure(rc)) poison(s, err, rc);
        txn_finish(txn, 0);
        return code;
    }
    txn_finish(txn, 1);
    return PXS_OK;
}

void pxs_store_abort(pxs_store_txn *txn) {
    if (!txn) return;
    mdb_txn_abort(txn->txn); /* closes handles it created (L2) */
    txn_finish(txn, 0);
}

/* ---- operations -------------------------------------------------------- */

static int check_txn(const pxs_store_txn *t, struct pxs_err *err) {
    if (!t) return pxs_errf(err, PXS_EINVAL, "store: NULL transaction");
    if (t->broken)
        return pxs_errf(err, t->broken,
                        "store %s: an earlier write in this transaction failed (%s); abort it",
                        t->store->dir, pxs_strerror(t->broken));
    return PXS_OK;
}

/* A write-side LMDB failure: LMDB marks the txn unusable for most errors;
 * I/O-class ones also poison the handle. */
static int write_failed(pxs_store_txn *t, int rc, struct pxs_err *err, const char *what,
                        const char *table) {
    int code = mdb_fail(err, rc, "store %s: %s in table %s", t->store->dir, what, table);
    t->broken = code;
    if (is_io_failure(rc)) poison(t->store, err, rc);
    return code;
}

/* Handle for a put: cached, created earlier in this txn, or created now (I3b). */
static int dbi_for_write(pxs_store_txn *t, const char *table, MDB_dbi *dbi,
                         struct pxs_err *err) {
    if (txn_lookup(t, table, dbi)) return PXS_OK;
    if (!t->new_tables) {
        t->new_tables = pxs_calloc(PXS__STORE_MAX_TABLES, sizeof *t->new_tables);
        if (!t->new_tables) return pxs_errf(err, PXS_ENOMEM, "store: out of memory");
    }
    if (t->n_visible + t->n_new >= PXS__STORE_MAX_TABLES)
        return pxs_errf(err, PXS_ELIMIT, "store %s: cannot create table %s: more than %d tables",
                        t->store->dir, table, PXS__STORE_MAX_TABLES);
    pthread_mutex_lock(&t->store->mu);
    int rc = mdb_dbi_open(t->txn, table, MDB_CREATE, dbi);
    pthread_mutex_unlock(&t->store->mu);
    if (rc) return write_failed(t, rc, err, "cannot create the table", table);
    struct store_table *e = &t->new_tables[t->n_new++];
    snprintf(e->name, sizeof e->name, "%s", table);
    e->dbi = *dbi;
    return PXS_OK;
}

int pxs_store_put(pxs_store_txn *txn, const char *table, const void *key, size_t key_len,
                  const void *val, size_t val_len, struct pxs_err *err) {
    int code;
    if ((code = check_txn(txn, err)) || (code = check_table_name(table, err)) ||
        (code = check_key(key, key_len, err)))
        return code;
    if (!txn->write) return pxs_errf(err, PXS_EINVAL, "store: put in a read transaction");
    if (val_len > PXS__STORE_MAX_VALUE)
        return pxs_errf(err, PXS_ELIMIT, "store: value of %zu bytes exceeds the %zu-byte limit",
                        val_len, PXS__STORE_MAX_VALUE);
    if (!val && val_len) return pxs_errf(err, PXS_EINVAL, "store: NULL value");
    MDB_dbi dbi;
    if ((code = dbi_for_write(txn, table, &dbi, err))) return code;
    MDB_val k = {key_len, (void *)key};
    MDB_val v = {val_len, val_len ? (void *)val : (void *)""};
    int rc = mdb_put(txn->txn, dbi, &k, &v, 0);
    if (rc) return write_failed(txn, rc, err, "put failed", table);
    return PXS_OK;
}

int pxs_store_get(pxs_store_txn *txn, const char *table, const void *key, size_t key_len,
                  const void **val, size_t *val_len, struct pxs_err *err) {
    int code;
    if ((code = check_txn(txn, err)) || (code = check_table_name(table, err)) ||
        (code = check_key(key, key_len, err)))
        return code;
    if (!val || !val_len) return pxs_errf(err, PXS_EINVAL, "store: NULL output");
    *val = NULL;
    *val_len = 0;
    MDB_dbi dbi;
    if (!txn_lookup(txn, table, &dbi)) return PXS_ENOTFOUND;
    MDB_val k = {key_len, (void *)key}, v;
    int rc = mdb_get(txn->txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return PXS_ENOTFOUND;
    if (rc) return mdb_fail(err, rc, "store %s: get failed in table %s", txn->store->dir, table);
    *val = v.mv_data;
    *val_len = v.mv_size;
    return PXS_OK;
}

int pxs_store_del(pxs_store_txn *txn, const char *table, const void *key, size_t key_len,
                  struct pxs_err *err) {
    int code;
    if ((code = check_txn(txn, err)) || (code = check_table_name(table, err)) ||
        (code = check_key(key, key_len, err)))
        return code;
    if (!txn->write) return pxs_errf(err, PXS_EINVAL, "store: del in a read transaction");
    MDB_dbi dbi;
    if (!txn_lookup(txn, table, &dbi)) return PXS_ENOTFOUND;
    MDB_val k = {key_len, (void *)key};
    int rc = mdb_del(txn->txn, dbi, &k, NULL);
    if (rc == MDB_NOTFOUND) return PXS_ENOTFOUND;
    if (rc) return write_failed(txn, rc, err, "delete failed", table);
    return PXS_OK;
}

int pxs_store_scan(pxs_store_txn *txn, const char *table, const void *start, size_t start_len,
                   pxs_store_visit_fn fn, void *user, struct pxs_err *err) {
    int code;
    if ((code = check_txn(txn, err)) || (code = check_table_name(table, err))) return code;
    if (!fn) return pxs_errf(err, PXS_EINVAL, "store: NULL visitor");
    if (start && start_len && (code = check_key(start, start_len, err))) return code;
    MDB_dbi dbi;
    if (!txn_lookup(txn, table, &dbi)) return PXS_OK; /* no table: nothing to visit */
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn->txn, dbi, &cur);
    if (rc) return mdb_fail(err, rc, "store %s: cannot scan table %s", txn->store->dir, table);
    MDB_val k = {0, NULL}, v;
    int op = MDB_FIRST;
    if (start && start_len) {
        k.mv_size = start_len;
        k.mv_data = (void *)start;
        op = MDB_SET_RANGE;
    }
    int ret = PXS_OK;
    while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        ret = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, user);
        if (ret != 0) break;
    }
    mdb_cursor_close(cur);
    if (ret < 0)
        return pxs_errf(err, ret, "store %s: scan of table %s stopped by the visitor: %s",
                        txn->store->dir, table, pxs_strerror(ret));
    if (ret > 0) return ret;
    if (rc != MDB_NOTFOUND)
        return mdb_fail(err, rc, "store %s: scan of table %s failed", txn->store->dir, table);
    return PXS_OK;
}

int pxs_store_count(pxs_store_txn *txn, const char *table, uint64_t *out,
                    struct pxs_err *err) {
    int code;
    if ((code = check_txn(txn, err)) || (code = check_table_name(table, err))) return code;
    if (!out) return pxs_errf(err, PXS_EINVAL, "store: NULL output");
    *out = 0;
    MDB_dbi dbi;
    if (!txn_lookup(txn, table, &dbi)) return PXS_OK;
    MDB_stat st;
    int rc = mdb_stat(txn->txn, dbi, &st);
    if (rc) return mdb_fail(err, rc, "store %s: cannot count table %s", txn->store->dir, table);
    *out = st.ms_entries;
    return PXS_OK;
}

/* ---- keys -------------------------------------------------------------- */

void pxs_store_u64_key(uint64_t v, uint8_t out[8]) {
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

uint64_t pxs_store_u64_from_key(const uint8_t in[8]) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | in[i];
    return v;
}
