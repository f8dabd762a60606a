/*
 * tests/store/test_store.c — the store contract: round trips, overwrite,
 * delete, not-found semantics, key order and limits, scans, counts, abort,
 * persistence, read-only opens, damaged files, table handles across threads
 * and processes, and concurrent readers during writes.
 */
#include "pixseek/store.h"
#include "../test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *store_dir(const char *name) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", pxs_test_tmpdir(), name);
    return path;
}

static int open_store(const char *name, int read_only, pxs_store **out, struct pxs_err *err) {
    struct pxs_store_opts o = {0, read_only};
    pxs_err_clear(err);
    return pxs_store_open(store_dir(name), &o, out, err);
}

/* put a NUL-terminated string value under a string key */
static int put_s(pxs_store_txn *t, const char *table, const char *k, const char *v,
                 struct pxs_err *err) {
    return pxs_store_put(t, table, k, strlen(k), v, strlen(v), err);
}

/* get into buf as a string; returns the store code */
static int get_s(pxs_store_txn *t, const char *table, const char *k, char *buf, size_t cap,
                 struct pxs_err *err) {
    const void *v;
    size_t n;
    int rc = pxs_store_get(t, table, k, strlen(k), &v, &n, err);
    if (rc != PXS_OK) return rc;
    if (n >= cap) n = cap - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return PXS_OK;
}

PXS_TEST(store_roundtrip) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "images", "k1", "hello", &err), &err);
    CHECK_OK(pxs_store_put(t, "images", "k0", 2, NULL, 0, &err), &err); /* empty value */
    char buf[64];
    CHECK_OK(get_s(t, "images", "k1", buf, sizeof buf, &err), &err); /* own writes visible */
    CHECK_STR(buf, "hello");
    CHECK_OK(pxs_store_commit(t, &err), &err);

    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(get_s(t, "images", "k1", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "hello");
    const void *v;
    size_t n = 99;
    CHECK_OK(pxs_store_get(t, "images", "k0", 2, &v, &n, &err), &err);
    CHECK_EQ_INT(n, 0);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    pxs_store_close(s);
}

PXS_TEST(store_overwrite) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "t", "key", "first value", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "t", "key", "2nd", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    char buf[64];
    uint64_t c;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(get_s(t, "t", "key", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "2nd");
    CHECK_OK(pxs_store_count(t, "t", &c, &err), &err);
    CHECK_EQ_INT(c, 1);
    pxs_store_abort(t);
    pxs_store_close(s);
}

PXS_TEST(store_delete_and_not_found_leave_err_untouched) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "t", "a", "1", &err), &err);
    CHECK_OK(put_s(t, "t", "b", "2", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);

    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(pxs_store_del(t, "t", "a", 1, &err), &err);
    char buf[8];
    CHECK_EQ_INT(get_s(t, "t", "a", buf, sizeof buf, &err), PXS_ENOTFOUND);
    CHECK_EQ_INT(pxs_store_del(t, "t", "a", 1, &err), PXS_ENOTFOUND);
    CHECK_EQ_INT(pxs_store_del(t, "nosuchtable", "a", 1, &err), PXS_ENOTFOUND);
    CHECK_EQ_INT(err.code, PXS_OK);
    CHECK_STR(err.msg, "");
    CHECK_OK(pxs_store_commit(t, &err), &err);

    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    const void *v = &err;
    size_t n = 5;
    CHECK_EQ_INT(pxs_store_get(t, "t", "a", 1, &v, &n, &err), PXS_ENOTFOUND);
    CHECK(v == NULL && n == 0);
    CHECK_EQ_INT(pxs_store_get(t, "t", "zzz", 3, &v, &n, &err), PXS_ENOTFOUND);
    CHECK_EQ_INT(pxs_store_get(t, "other", "a", 1, &v, &n, &err), PXS_ENOTFOUND);
    CHECK_EQ_INT(err.code, PXS_OK);
    CHECK_STR(err.msg, "");
    CHECK_EQ_INT(err.sys_errno, 0);
    CHECK_OK(get_s(t, "t", "b", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "2");
    pxs_store_abort(t);
    pxs_store_close(s);
}

PXS_TEST(store_u64_keys_roundtrip) {
    uint8_t k[8];
    pxs_store_u64_key(0x0102030405060708ull, k);
    CHECK(k[0] == 1 && k[7] == 8);
    CHECK(pxs_store_u64_from_key(k) == 0x0102030405060708ull);
    pxs_store_u64_key(UINT64_MAX, k);
    CHECK(pxs_store_u64_from_key(k) == UINT64_MAX);
    pxs_store_u64_key(0, k);
    CHECK(pxs_store_u64_from_key(k) == 0);
}

struct collect {
    uint64_t keys[64];
    size_t n;
    size_t stop_after; /* 0 = never */
    int stop_value;
};

static int collect_u64(const void *key, size_t key_len, const void *val, size_t val_len,
                       void *user) {
    struct collect *c = user;
    (void)val;
    (void)val_len;
    if (key_len != 8 || c->n >= 64) return PXS_EINTERNAL;
    c->keys[c->n++] = pxs_store_u64_from_key(key);
    if (c->stop_after && c->n == c->stop_after) return c->stop_value;
    return 0;
}

static const uint64_t order_vals[] = {0,      1,          255,           256,
                                      65535,  65536,      (1ull << 32) - 1, 1ull << 32,
                                      1ull << 56, (1ull << 63) + 5, UINT64_MAX - 1, UINT64_MAX};
#define N_ORDER (sizeof order_vals / sizeof order_vals[0])

static int fill_u64(pxs_store *s, struct pxs_err *err) {
    pxs_store_txn *t;
    int rc = pxs_store_begin(s, 1, &t, err);
    if (rc) return rc;
    /* insert in a scrambled order */
    for (size_t i = 0; i < N_ORDER; i++) {
        uint64_t v = order_vals[(i * 5 + 3) % N_ORDER];
        uint8_t k[8];
        pxs_store_u64_key(v, k);
        rc = pxs_store_put(t, "nums", k, 8, &v, sizeof v, err);
        if (rc) {
            pxs_store_abort(t);
            return rc;
        }
    }
    return pxs_store_commit(t, err);
}

PXS_TEST(store_scan_orders_big_endian_u64) {
    CHECK_EQ_INT(N_ORDER % 5 != 0, 1); /* the scramble is a permutation */
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    CHECK_OK(fill_u64(s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    struct collect c = {0};
    CHECK_OK(pxs_store_scan(t, "nums", NULL, 0, collect_u64, &c, &err), &err);
    CHECK_EQ_INT(c.n, N_ORDER);
    for (size_t i = 0; i < N_ORDER; i++) CHECK(c.keys[i] == order_vals[i]);
    uint64_t cnt;
    CHECK_OK(pxs_store_count(t, "nums", &cnt, &err), &err);
    CHECK_EQ_INT(cnt, N_ORDER);
    pxs_store_abort(t);
    pxs_store_close(s);
}

PXS_TEST(store_scan_from_start_key) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    CHECK_OK(fill_u64(s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    uint8_t k[8];

    /* exact key: starts at it */
    struct collect c = {0};
    pxs_store_u64_key(65535, k);
    CHECK_OK(pxs_store_scan(t, "nums", k, 8, collect_u64, &c, &err), &err);
    CHECK_EQ_INT(c.n, N_ORDER - 4);
    CHECK(c.keys[0] == 65535);

    /* between keys: starts at the next one */
    memset(&c, 0, sizeof c);
    pxs_store_u64_key(1000, k);
    CHECK_OK(pxs_store_scan(t, "nums", k, 8, collect_u64, &c, &err), &err);
    CHECK(c.n == N_ORDER - 4 && c.keys[0] == 65535);

    /* a shorter start key is a prefix: sorts before every 8-byte key >= it */
    memset(&c, 0, sizeof c);
    uint8_t one = 0x01;
    CHECK_OK(pxs_store_scan(t, "nums", &one, 1, collect_u64, &c, &err), &err);
    CHECK(c.n > 0 && c.keys[0] == 1ull << 56);

    /* past the last key: nothing */
    memset(&c, 0, sizeof c);
    uint8_t big[9];
    memset(big, 0xff, sizeof big);
    CHECK_OK(pxs_store_scan(t, "nums", big, sizeof big, collect_u64, &c, &err), &err);
    CHECK_EQ_INT(c.n, 0);
    pxs_store_abort(t);
    pxs_store_close(s);
}

PXS_TEST(store_scan_early_stop) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    CHECK_OK(fill_u64(s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    struct collect c = {0};
    c.stop_after = 3;
    c.stop_value = 7;
    CHECK_EQ_INT(pxs_store_scan(t, "nums", NULL, 0, collect_u64, &c, &err), 7);
    CHECK_EQ_INT(c.n, 3);
    CHECK_EQ_INT(err.code, PXS_OK);

    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    c.stop_value = PXS_ECANCELED;
    CHECK_EQ_INT(pxs_store_scan(t, "nums", NULL, 0, collect_u64, &c, &err), PXS_ECANCELED);
    CHECK_EQ_INT(c.n, 2);
    CHECK_EQ_INT(err.code, PXS_ECANCELED);
    /* the transaction is still usable */
    uint64_t cnt;
    pxs_err_clear(&err);
    CHECK_OK(pxs_store_count(t, "nums", &cnt, &err), &err);
    CHECK_EQ_INT(cnt, N_ORDER);
    pxs_store_abort(t);
    pxs_store_close(s);
}

PXS_TEST(store_count_tracks_puts_and_dels) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    uint64_t c = 99;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(pxs_store_count(t, "c", &c, &err), &err);
    CHECK_EQ_INT(c, 0);
    for (uint64_t i = 0; i < 1000; i++) {
        uint8_t k[8];
        pxs_store_u64_key(i, k);
        CHECK_OK(pxs_store_put(t, "c", k, 8, k, 8, &err), &err);
    }
    CHECK_OK(pxs_store_count(t, "c", &c, &err), &err);
    CHECK_EQ_INT(c, 1000);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    for (uint64_t i = 0; i < 1000; i += 2) {
        uint8_t k[8];
        pxs_store_u64_key(i, k);
        CHECK_OK(pxs_store_del(t, "c", k, 8, &err), &err);
    }
    CHECK_OK(pxs_store_commit(t, &err), &err);
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(pxs_store_count(t, "c", &c, &err), &err);
    CHECK_EQ_INT(c, 500);
    pxs_store_abort(t);
    pxs_store_close(s);
}

PXS_TEST(store_abort_discards) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "old", "k", "v", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);

    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "old", "k", "changed", &err), &err);
    CHECK_OK(put_s(t, "old", "k2", "new", &err), &err);
    CHECK_OK(put_s(t, "fresh", "k", "v", &err), &err); /* a table created, then aborted */
    pxs_store_abort(t);
    pxs_store_abort(NULL);

    char buf[16];
    uint64_t c;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(get_s(t, "old", "k", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "v");
    CHECK_EQ_INT(get_s(t, "old", "k2", buf, sizeof buf, &err), PXS_ENOTFOUND);
    CHECK_OK(pxs_store_count(t, "fresh", &c, &err), &err);
    CHECK_EQ_INT(c, 0);
    pxs_store_abort(t);

    /* the aborted table name can be created for real afterwards */
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "fresh", "x", "y", &err), &err);
    CHECK_OK(put_s(t, "fresh2", "x", "z", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(get_s(t, "fresh", "x", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "y");
    CHECK_OK(get_s(t, "fresh2", "x", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "z");
    CHECK_OK(get_s(t, "old", "k", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "v");
    pxs_store_abort(t);
    pxs_store_close(s);
}

PXS_TEST(store_reopen_persists) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("nested/dirs/db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    for (int i = 0; i < 3; i++) {
        char tab[16];
        snprintf(tab, sizeof tab, "tab%d", i);
        CHECK_OK(put_s(t, tab, "k", tab, &err), &err);
    }
    CHECK_OK(pxs_store_commit(t, &err), &err);
    pxs_store_close(s);

    CHECK_OK(open_store("nested/dirs/db", 0, &s, &err), &err);
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    for (int i = 0; i < 3; i++) {
        char tab[16], buf[16];
        snprintf(tab, sizeof tab, "tab%d", i);
        CHECK_OK(get_s(t, tab, "k", buf, sizeof buf, &err), &err);
        CHECK_STR(buf, tab);
    }
    pxs_store_abort(t);
    /* and writes to existing tables work after reopening */
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "tab1", "k2", "more", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    pxs_store_close(s);
}

PXS_TEST(store_tables_are_independent) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "a", "same", "in a", &err), &err);
    CHECK_OK(put_s(t, "b", "same", "in b", &err), &err);
    CHECK_OK(put_s(t, "b", "only-b", "x", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(pxs_store_del(t, "a", "same", 4, &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    char buf[16];
    uint64_t ca, cb;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_EQ_INT(get_s(t, "a", "same", buf, sizeof buf, &err), PXS_ENOTFOUND);
    CHECK_OK(get_s(t, "b", "same", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "in b");
    CHECK_OK(pxs_store_count(t, "a", &ca, &err), &err);
    CHECK_OK(pxs_store_count(t, "b", &cb, &err), &err);
    CHECK(ca == 0 && cb == 2);
    pxs_store_abort(t);
    pxs_store_close(s);
}

static int count_visits(const void *key, size_t key_len, const void *val, size_t val_len,
                        void *user) {
    (void)key, (void)key_len, (void)val, (void)val_len;
    ++*(int *)user;
    return 0;
}

PXS_TEST(store_missing_table_reads_as_empty) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    uint64_t c = 7;
    int visits = 0;
    const void *v;
    size_t n;
    CHECK_OK(pxs_store_count(t, "ghost", &c, &err), &err);
    CHECK_EQ_INT(c, 0);
    CHECK_OK(pxs_store_scan(t, "ghost", NULL, 0, count_visits, &visits, &err), &err);
    CHECK_EQ_INT(visits, 0);
    CHECK_EQ_INT(pxs_store_get(t, "ghost", "k", 1, &v, &n, &err), PXS_ENOTFOUND);
    CHECK_EQ_INT(err.code, PXS_OK);
    pxs_store_abort(t);
    pxs_store_close(s);
}

PXS_TEST(store_rejects_bad_keys_names_and_misuse) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    uint8_t key[PXS_STORE_MAX_KEY + 1];
    memset(key, 'k', sizeof key);
    CHECK_OK(pxs_store_put(t, "t", key, PXS_STORE_MAX_KEY, "v", 1, &err), &err);
    CHECK_EQ_INT(pxs_store_put(t, "t", key, PXS_STORE_MAX_KEY + 1, "v", 1, &err), PXS_EINVAL);
    CHECK(strstr(err.msg, "key") != NULL);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_store_put(t, "t", key, 0, "v", 1, &err), PXS_EINVAL);
    pxs_err_clear(&err);
    const void *v;
    size_t n;
    CHECK_EQ_INT(pxs_store_get(t, "t", key, PXS_STORE_MAX_KEY + 1, &v, &n, &err), PXS_EINVAL);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_store_del(t, "t", key, PXS_STORE_MAX_KEY + 1, &err), PXS_EINVAL);
    pxs_err_clear(&err);
    CHECK_EQ_INT(put_s(t, "", "k", "v", &err), PXS_EINVAL);
    pxs_err_clear(&err);
    CHECK_EQ_INT(put_s(t, "has space", "k", "v", &err), PXS_EINVAL);
    pxs_err_clear(&err);
    CHECK_EQ_INT(put_s(t, NULL, "k", "v", &err), PXS_EINVAL);
    pxs_err_clear(&err);
    char longname[80];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_EQ_INT(put_s(t, longname, "k", "v", &err), PXS_EINVAL);
    pxs_err_clear(&err);
    /* a value over the limit is refused before it is touched */
    CHECK_EQ_INT(pxs_store_put(t, "t", "k", 1, "v", ((size_t)1 << 30) + 1, &err), PXS_ELIMIT);
    pxs_err_clear(&err);
    /* validation failures do not spoil the transaction */
    CHECK_OK(pxs_store_commit(t, &err), &err);

    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(pxs_store_get(t, "t", key, PXS_STORE_MAX_KEY, &v, &n, &err), &err);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(put_s(t, "t", "k", "v", &err), PXS_EINVAL); /* write in a read txn */
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_store_del(t, "t", "k", 1, &err), PXS_EINVAL);
    pxs_store_abort(t);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_store_commit(NULL, &err), PXS_EINVAL);
    pxs_store_close(s);
    pxs_store_close(NULL);
}

PXS_TEST(store_large_values) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    size_t big = 8u << 20;
    uint8_t *buf = pxs_malloc(big);
    CHECK(buf != NULL);
    for (size_t i = 0; i < big; i++) buf[i] = (uint8_t)(i * 131 + (i >> 13));
    pxs_store_txn *t;
    int ok = pxs_store_begin(s, 1, &t, &err) == PXS_OK &&
             pxs_store_put(t, "blobs", "big", 3, buf, big, &err) == PXS_OK &&
             pxs_store_commit(t, &err) == PXS_OK;
    if (!ok) pxs_free(buf);
    CHECK_MSG(ok, "write failed: %s", err.msg);
    const void *v;
    size_t n;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    int rc = pxs_store_get(t, "blobs", "big", 3, &v, &n, &err);
    int same = rc == PXS_OK && n == big && memcmp(v, buf, big) == 0;
    pxs_store_abort(t);
    pxs_free(buf);
    CHECK(same);
    pxs_store_close(s);
}

PXS_TEST(store_read_only_open) {
    struct pxs_err err;
    pxs_store *s;
    /* nothing there yet: read-only does not create */
    CHECK_EQ_INT(open_store("db", 1, &s, &err), PXS_ENOTFOUND);
    CHECK(s == NULL);
    struct stat st;
    CHECK(stat(store_dir("db"), &st) != 0);

    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "t", "k", "v", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    pxs_store_close(s);

    CHECK_OK(open_store("db", 1, &s, &err), &err);
    char buf[8];
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(get_s(t, "t", "k", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "v");
    pxs_store_abort(t);
    t = (pxs_store_txn *)&err;
    CHECK_EQ_INT(pxs_store_begin(s, 1, &t, &err), PXS_EPERM);
    CHECK(t == NULL);
    CHECK(strstr(err.msg, "read-only") != NULL);
    pxs_store_close(s);
}

PXS_TEST(store_second_open_in_process_is_refused) {
    struct pxs_err err;
    pxs_store *a, *b = NULL;
    CHECK_OK(open_store("db", 0, &a, &err), &err);
    CHECK_EQ_INT(open_store("db", 0, &b, &err), PXS_EBUSY);
    CHECK(b == NULL);
    CHECK_EQ_INT(open_store("db", 1, &b, &err), PXS_EBUSY);
    pxs_store_close(a);
    CHECK_OK(open_store("db", 1, &b, &err), &err);
    pxs_store_close(b);
}

static int write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = fwrite(data, 1, len, f);
    return fclose(f) == 0 && n == len ? 0 : -1;
}

PXS_TEST(store_garbage_data_file_is_corrupt) {
    struct pxs_err err;
    const char *dir = store_dir("garbage");
    CHECK(mkdir(dir, 0755) == 0);
    char path[1100];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    static uint8_t junk[16384];
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof junk; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        junk[i] = (uint8_t)x;
    }
    CHECK(write_file(path, junk, sizeof junk) == 0);
    pxs_store *s = NULL;
    CHECK_EQ_INT(open_store("garbage", 0, &s, &err), PXS_ECORRUPT);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "data.mdb") != NULL);
    CHECK_EQ_INT(open_store("garbage", 1, &s, &err), PXS_ECORRUPT);
    /* a short file */
    CHECK(write_file(path, "not a database", 14) == 0);
    CHECK_EQ_INT(open_store("garbage", 0, &s, &err), PXS_ECORRUPT);
    CHECK(s == NULL);
}

PXS_TEST(store_open_failures_are_reported) {
    struct pxs_err err;
    pxs_store *s = NULL;
    /* a regular file where the directory should be */
    char path[1100];
    snprintf(path, sizeof path, "%s/afile", pxs_test_tmpdir());
    CHECK(write_file(path, "x", 1) == 0);
    pxs_err_clear(&err);
    CHECK(pxs_store_open(path, NULL, &s, &err) < 0);
    CHECK(s == NULL && err.msg[0] != '\0');
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_store_open("", NULL, &s, &err), PXS_EINVAL);
    /* allocation failures give ENOMEM, never a crash or a leak */
    for (long n = 1; n < 50; n++) {
        pxs_alloc_fail_after(n);
        pxs_err_clear(&err);
        int rc = open_store("db", 0, &s, &err);
        pxs_alloc_fail_after(0);
        if (rc == PXS_OK) {
            pxs_store_txn *t = NULL;
            pxs_alloc_fail_after(1);
            rc = pxs_store_begin(s, 1, &t, &err);
            pxs_alloc_fail_after(0);
            CHECK_EQ_INT(rc, PXS_ENOMEM);
            CHECK(t == NULL);
            CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
            pxs_store_abort(t);
            pxs_store_close(s);
            break;
        }
        CHECK_EQ_INT(rc, PXS_ENOMEM);
        CHECK(s == NULL);
    }
}

PXS_TEST(store_map_full_is_a_limit_not_a_failure) {
    struct pxs_err err;
    pxs_store *s;
    struct pxs_store_opts o = {1u << 20, 0}; /* 1 MiB map */
    pxs_err_clear(&err);
    CHECK_OK(pxs_store_open(store_dir("small"), &o, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "t", "keep", "me", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);

    static uint8_t val[64 * 1024];
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    int rc = PXS_OK;
    for (uint64_t i = 0; i < 64 && rc == PXS_OK; i++) {
        uint8_t k[8];
        pxs_store_u64_key(i, k);
        rc = pxs_store_put(t, "t", k, 8, val, sizeof val, &err);
    }
    CHECK_EQ_INT(rc, PXS_ELIMIT);
    CHECK(strstr(err.msg, "map_size") != NULL);
    /* the transaction is spoiled; commit reports and aborts it */
    pxs_err_clear(&err);
    CHECK_EQ_INT(put_s(t, "t", "x", "y", &err), PXS_ELIMIT);
    pxs_err_clear(&err);
    CHECK_EQ_INT(pxs_store_commit(t, &err), PXS_ELIMIT);
    /* the store is still writable */
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "t", "after", "ok", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    char buf[8];
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(get_s(t, "t", "keep", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "me");
    pxs_store_abort(t);
    pxs_store_close(s);
}

PXS_TEST(store_table_limit) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%02d", i);
        CHECK_OK(put_s(t, name, "k", "v", &err), &err);
    }
    CHECK_OK(pxs_store_commit(t, &err), &err);
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    int rc = PXS_OK, i;
    for (i = 40; i < 100 && rc == PXS_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "t%02d", i);
        rc = put_s(t, name, "k", "v", &err);
    }
    CHECK_EQ_INT(rc, PXS_ELIMIT);
    CHECK_EQ_INT(i, 65); /* tables 0..63 worked */
    CHECK_OK(pxs_store_commit(t, &err), &err);
    pxs_store_close(s);
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    uint64_t c;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(pxs_store_count(t, "t63", &c, &err), &err);
    CHECK_EQ_INT(c, 1);
    pxs_store_abort(t);
    pxs_store_close(s);
}

static int delete_visited(const void *key, size_t key_len, const void *val, size_t val_len,
                          void *user) {
    (void)val, (void)val_len;
    pxs_store_txn *t = user;
    return pxs_store_del(t, "d", key, key_len, NULL);
}

PXS_TEST(store_scan_may_delete_visited_keys) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    for (uint64_t i = 0; i < 2000; i++) {
        uint8_t k[8];
        pxs_store_u64_key(i, k);
        CHECK_OK(pxs_store_put(t, "d", k, 8, "0123456789abcdef", 16, &err), &err);
    }
    CHECK_OK(pxs_store_commit(t, &err), &err);
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    uint8_t start[8];
    pxs_store_u64_key(500, start);
    CHECK_OK(pxs_store_scan(t, "d", start, 8, delete_visited, t, &err), &err);
    uint64_t c;
    CHECK_OK(pxs_store_count(t, "d", &c, &err), &err);
    CHECK_EQ_INT(c, 500);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    pxs_store_close(s);
}

/* ---- threads and processes --------------------------------------------- */

struct reader_ctx {
    pxs_store *s;
    atomic_int *stop;
    long iterations;
    char fail[320];
};

static int check_sorted(const void *key, size_t key_len, const void *val, size_t val_len,
                        void *user) {
    uint64_t *prev = user; /* prev[0]: last key + 1 (0 = none), prev[1]: visits */
    if (key_len != 8 || val_len != 8 || memcmp(key, val, 8) != 0) return PXS_ECORRUPT;
    uint64_t k = pxs_store_u64_from_key(key);
    if (prev[0] && k + 1 <= prev[0]) return PXS_ECORRUPT;
    prev[0] = k + 1;
    prev[1]++;
    return 0;
}

/* One consistent snapshot: count(a) == meta n; table tJ exists iff a >= 100(J+1). */
static int reader_round(struct reader_ctx *r) {
    struct pxs_err err;
    pxs_err_clear(&err);
    pxs_store_txn *t;
    int rc = pxs_store_begin(r->s, 0, &t, &err);
    if (rc) {
        snprintf(r->fail, sizeof r->fail, "begin: %s", err.msg);
        return -1;
    }
    uint64_t ca = 0, n = 0, cj, seen[2] = {0, 0};
    const void *v;
    size_t vn;
    if (pxs_store_count(t, "a", &ca, &err)) goto fail;
    rc = pxs_store_get(t, "meta", "n", 1, &v, &vn, &err);
    if (rc == PXS_OK && vn == 8)
        n = pxs_store_u64_from_key(v);
    else if (rc != PXS_ENOTFOUND)
        goto fail;
    if (n != ca) {
        snprintf(r->fail, sizeof r->fail, "count(a)=%llu but meta n=%llu",
                 (unsigned long long)ca, (unsigned long long)n);
        goto out;
    }
    if (pxs_store_scan(t, "a", NULL, 0, check_sorted, seen, &err)) goto fail;
    if (seen[1] != ca) {
        snprintf(r->fail, sizeof r->fail, "scan saw %llu of %llu", (unsigned long long)seen[1],
                 (unsigned long long)ca);
        goto out;
    }
    for (int j = 0; j < 5; j++) {
        char name[8];
        snprintf(name, sizeof name, "t%d", j);
        if (pxs_store_count(t, name, &cj, &err)) goto fail;
        if (cj != (ca >= 100u * (unsigned)(j + 1) ? 1u : 0u)) {
            snprintf(r->fail, sizeof r->fail, "table %s count %llu with a=%llu", name,
                     (unsigned long long)cj, (unsigned long long)ca);
            goto out;
        }
    }
    rc = pxs_store_commit(t, &err);
    if (rc) {
        snprintf(r->fail, sizeof r->fail, "commit: %s", err.msg);
        return -1;
    }
    return 0;
fail:
    snprintf(r->fail, sizeof r->fail, "read: %d %s", err.code, err.msg);
out:
    pxs_store_abort(t);
    return -1;
}

static void *reader_main(void *arg) {
    struct reader_ctx *r = arg;
    while (!atomic_load(r->stop)) {
        if (reader_round(r) != 0) break;
        r->iterations++;
    }
    return NULL;
}

PXS_TEST(store_concurrent_readers_during_writes) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    enum { N_READERS = 4, N_TXNS = 50 };
    atomic_int stop;
    atomic_init(&stop, 0);
    struct reader_ctx rs[N_READERS];
    pthread_t th[N_READERS];
    for (int i = 0; i < N_READERS; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].s = s;
        rs[i].stop = &stop;
        CHECK(pthread_create(&th[i], NULL, reader_main, &rs[i]) == 0);
    }
    int wrc = PXS_OK;
    uint64_t next = 0;
    for (int k = 0; k < N_TXNS && wrc == PXS_OK; k++) {
        pxs_store_txn *t;
        wrc = pxs_store_begin(s, 1, &t, &err);
        if (wrc) break;
        for (int j = 0; j < 10 && wrc == PXS_OK; j++, next++) {
            uint8_t key[8];
            pxs_store_u64_key(next * 7919 % 100003, key); /* scattered inserts */
            wrc = pxs_store_put(t, "a", key, 8, key, 8, &err);
        }
        uint8_t nk[8];
        pxs_store_u64_key(next, nk);
        if (!wrc) wrc = pxs_store_put(t, "meta", "n", 1, nk, 8, &err);
        if (!wrc && k % 10 == 9) {
            char name[8];
            snprintf(name, sizeof name, "t%d", k / 10);
            wrc = pxs_store_put(t, name, "x", 1, "y", 1, &err);
        }
        if (wrc) {
            pxs_store_abort(t);
            break;
        }
        wrc = pxs_store_commit(t, &err);
        usleep(1000);
    }
    usleep(20000);
    atomic_store(&stop, 1);
    for (int i = 0; i < N_READERS; i++) pthread_join(th[i], NULL);
    pxs_store_close(s);
    CHECK_MSG(wrc == PXS_OK, "writer: %s", err.msg);
    for (int i = 0; i < N_READERS; i++) {
        CHECK_MSG(rs[i].fail[0] == '\0', "reader %d: %s", i, rs[i].fail);
        CHECK(rs[i].iterations > 0);
    }
}

struct writer_ctx {
    pxs_store *s;
    const char *table;
    int rc;
    char msg[256];
};

static void *writer_main(void *arg) {
    struct writer_ctx *w = arg;
    struct pxs_err err;
    pxs_err_clear(&err);
    for (uint64_t i = 0; i < 30 && w->rc == PXS_OK; i++) {
        pxs_store_txn *t;
        w->rc = pxs_store_begin(w->s, 1, &t, &err);
        if (w->rc) break;
        uint8_t k[8];
        pxs_store_u64_key(i, k);
        w->rc = pxs_store_put(t, w->table, k, 8, k, 8, &err);
        if (w->rc) {
            pxs_store_abort(t);
            break;
        }
        w->rc = pxs_store_commit(t, &err);
    }
    snprintf(w->msg, sizeof w->msg, "%s", err.msg);
    return NULL;
}

PXS_TEST(store_writer_threads_serialize) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    struct writer_ctx w[3] = {{s, "w0", 0, ""}, {s, "w1", 0, ""}, {s, "w2", 0, ""}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++) CHECK(pthread_create(&th[i], NULL, writer_main, &w[i]) == 0);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++) CHECK_MSG(w[i].rc == PXS_OK, "writer %d: %s", i, w[i].msg);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    for (int i = 0; i < 3; i++) {
        uint64_t c;
        CHECK_OK(pxs_store_count(t, w[i].table, &c, &err), &err);
        CHECK_EQ_INT(c, 30);
    }
    pxs_store_abort(t);
    pxs_store_close(s);
}

/* A table created by another process while this one has the store open
 * becomes visible to new transactions here (the handle refresh path). */
PXS_TEST(store_sees_tables_created_by_another_process) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "mine", "k", "v", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    /* an old snapshot, begun before the other process writes */
    pxs_store_txn *old;
    CHECK_OK(pxs_store_begin(s, 0, &old, &err), &err);

    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* child: its own handle on the same directory */
        struct pxs_err cerr;
        pxs_store *cs;
        pxs_store_txn *ct;
        pxs_err_clear(&cerr);
        if (pxs_store_open(store_dir("db"), NULL, &cs, &cerr)) _exit(10);
        if (pxs_store_begin(cs, 1, &ct, &cerr)) _exit(11);
        if (put_s(ct, "theirs", "k", "from child", &cerr)) _exit(12);
        if (put_s(ct, "mine", "k2", "child wrote", &cerr)) _exit(13);
        if (pxs_store_commit(ct, &cerr)) _exit(14);
        pxs_store_close(cs);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);

    char buf[32];
    uint64_t c;
    /* the old snapshot does not see the new table */
    CHECK_OK(pxs_store_count(old, "theirs", &c, &err), &err);
    CHECK_EQ_INT(c, 0);
    CHECK_EQ_INT(get_s(old, "mine", "k2", buf, sizeof buf, &err), PXS_ENOTFOUND);
    /* a new read txn does */
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(get_s(t, "theirs", "k", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "from child");
    CHECK_OK(get_s(t, "mine", "k2", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "child wrote");
    pxs_store_abort(t);
    /* the old snapshot still works after the refresh */
    CHECK_OK(get_s(old, "mine", "k", buf, sizeof buf, &err), &err);
    CHECK_STR(buf, "v");
    pxs_store_abort(old);
    /* and so does writing to it from here */
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "theirs", "k2", "from parent", &err), &err);
    CHECK_OK(put_s(t, "new-here", "k", "x", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(pxs_store_count(t, "theirs", &c, &err), &err);
    CHECK_EQ_INT(c, 2);
    pxs_store_abort(t);
    pxs_store_close(s);
}

/* A write transaction that begins after another process created a table
 * (not yet known here) can write to that table. */
PXS_TEST(store_writer_sees_tables_created_by_another_process) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct pxs_err cerr;
        pxs_store *cs;
        pxs_store_txn *ct;
        pxs_err_clear(&cerr);
        if (pxs_store_open(store_dir("db"), NULL, &cs, &cerr)) _exit(10);
        if (pxs_store_begin(cs, 1, &ct, &cerr)) _exit(11);
        if (put_s(ct, "theirs", "k", "1", &cerr)) _exit(12);
        if (pxs_store_commit(ct, &cerr)) _exit(14);
        pxs_store_close(cs);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    pxs_store_txn *t;
    CHECK_OK(pxs_store_begin(s, 1, &t, &err), &err);
    CHECK_OK(put_s(t, "theirs", "k2", "2", &err), &err);
    CHECK_OK(pxs_store_commit(t, &err), &err);
    uint64_t c;
    CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
    CHECK_OK(pxs_store_count(t, "theirs", &c, &err), &err);
    CHECK_EQ_INT(c, 2);
    pxs_store_abort(t);
    pxs_store_close(s);
}

/* Child body for the poisoning test; the exit code names the failed step. */
static int poison_child(void) {
    struct pxs_err err;
    pxs_err_clear(&err);
    pxs_store *s;
    pxs_store_txn *t;
    signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG instead */
    if (pxs_store_open(store_dir("db"), NULL, &s, &err)) return 10;
    if (pxs_store_begin(s, 1, &t, &err) || put_s(t, "t", "keep", "me", &err) ||
        pxs_store_commit(t, &err))
        return 11;
    char path[1100];
    snprintf(path, sizeof path, "%s/data.mdb", store_dir("db"));
    struct stat st;
    struct rlimit old, rl;
    if (stat(path, &st) != 0 || getrlimit(RLIMIT_FSIZE, &old) != 0) return 12;
    rl = old;
    rl.rlim_cur = (rlim_t)st.st_size;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 13;

    size_t big = 1u << 20;
    void *val = pxs_calloc(1, big);
    if (!val) return 14;
    int rc = pxs_store_begin(s, 1, &t, &err);
    if (!rc) rc = pxs_store_put(t, "t", "big", 3, val, big, &err);
    if (!rc) rc = pxs_store_commit(t, &err);
    else pxs_store_abort(t);
    pxs_free(val);
    if (rc != PXS_EIO || err.sys_errno != EFBIG) return 15;
    /* writes are refused from now on, with the cause */
    pxs_err_clear(&err);
    if (pxs_store_begin(s, 1, &t, &err) != PXS_EIO) return 16;
    if (!strstr(err.msg, "earlier write failure") || !strstr(err.msg, "File too large"))
        return 17;
    /* reads still work */
    char buf[8];
    pxs_err_clear(&err);
    if (pxs_store_begin(s, 0, &t, &err) || get_s(t, "t", "keep", buf, sizeof buf, &err) ||
        strcmp(buf, "me") != 0)
        return 18;
    pxs_store_abort(t);
    pxs_store_close(s);
    /* a fresh handle, with the cause gone, writes again */
    if (setrlimit(RLIMIT_FSIZE, &old) != 0) return 19;
    if (pxs_store_open(store_dir("db"), NULL, &s, &err)) return 20;
    if (pxs_store_begin(s, 1, &t, &err) || put_s(t, "t", "after", "ok", &err) ||
        pxs_store_commit(t, &err))
        return 21;
    if (pxs_store_begin(s, 0, &t, &err) || get_s(t, "t", "keep", buf, sizeof buf, &err) ||
        strcmp(buf, "me") != 0)
        return 22;
    pxs_store_abort(t);
    pxs_store_close(s);
    return 0;
}

/* A commit that fails on a write error (EFBIG via RLIMIT_FSIZE, in a child
 * so the limit stays there) poisons the handle against further writes. */
PXS_TEST(store_write_failure_poisons_handle) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) _exit(poison_child());
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed at step %d (0x%x)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1, status);
}

/* The reader table is shared by all processes and bounded; slots left by a
 * killed process are reclaimed when the table fills up. */
PXS_TEST(store_reader_slots_limit_and_stale_slots) {
    struct pxs_err err;
    pxs_store *s;
    CHECK_OK(open_store("db", 0, &s, &err), &err);
    enum { MAX_TRY = 300 };
    static pxs_store_txn *ts[MAX_TRY];
    int n = 0, rc = PXS_OK;
    while (n < MAX_TRY && (rc = pxs_store_begin(s, 0, &ts[n], &err)) == PXS_OK) n++;
    for (int i = 0; i < n; i++) pxs_store_abort(ts[i]);
    CHECK_EQ_INT(rc, PXS_ELIMIT);
    CHECK_EQ_INT(n, 256);

    /* a child takes 200 slots and dies without releasing them */
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct pxs_err cerr;
        pxs_store *cs;
        pxs_store_txn *ct;
        pxs_err_clear(&cerr);
        /* the parent's registry entry is ignored in the child (other pid) */
        if (pxs_store_open(store_dir("db"), NULL, &cs, &cerr)) _exit(10);
        for (int i = 0; i < 200; i++)
            if (pxs_store_begin(cs, 0, &ct, &cerr)) _exit(11);
        raise(SIGKILL);
        _exit(12);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status 0x%x", status);
    n = 0;
    pxs_err_clear(&err);
    while (n < 200 && (rc = pxs_store_begin(s, 0, &ts[n], &err)) == PXS_OK) n++;
    for (int i = 0; i < n; i++) pxs_store_abort(ts[i]);
    CHECK_MSG(n == 200, "only %d read transactions: %s", n, err.msg);
    pxs_store_close(s);
}
