/*
 * pixseek/store.h — the durable store of record: named tables of
 * byte-string keys and values with ACID transactions, on LMDB.
 *
 * The store knows nothing of images or vectors; the engine chooses the
 * tables and encodes the records. A committed write survives kill -9 and
 * power loss (commit returns only after fsync). One write transaction at a
 * time (others block in pxs_store_begin); any number of concurrent readers,
 * also across processes. A transaction belongs to the thread that began it.
 */
#ifndef PIXSEEK_STORE_H
#define PIXSEEK_STORE_H

#include "pixseek/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pxs_store pxs_store;
typedef struct pxs_store_txn pxs_store_txn;

struct pxs_store_opts {
    uint64_t map_size; /* upper bound of the database size; 0 = 64 GiB (sparse, costs nothing) */
    int read_only;     /* open without write access */
};

/* Open (creating if needed, unless read_only) the store in directory dir.
 * *out: close with pxs_store_close. */
int pxs_store_open(const char *dir, const struct pxs_store_opts *opts, pxs_store **out,
                   struct pxs_err *err) PXS_MUST_CHECK;
/* NULL is a no-op. All transactions must have ended. */
void pxs_store_close(pxs_store *store);

/* Begin a transaction. write=1 waits for the single writer slot. */
int pxs_store_begin(pxs_store *store, int write, pxs_store_txn **out,
                    struct pxs_err *err) PXS_MUST_CHECK;
/* Make the writes durable and end the transaction (also for read txns).
 * On error the transaction is aborted and nothing was written. */
int pxs_store_commit(pxs_store_txn *txn, struct pxs_err *err) PXS_MUST_CHECK;
/* Discard the transaction. NULL is a no-op. */
void pxs_store_abort(pxs_store_txn *txn);

/* Table names are short ASCII strings; a table springs into existence on
 * its first put. Reading a table that does not exist finds nothing. Keys
 * are 1..PXS_STORE_MAX_KEY bytes and sort bytewise (store integers
 * big-endian to iterate in numeric order). */
#define PXS_STORE_MAX_KEY 511
int pxs_store_put(pxs_store_txn *txn, const char *table, const void *key, size_t key_len,
                  const void *val, size_t val_len, struct pxs_err *err) PXS_MUST_CHECK;
/* *val is borrowed: valid until the transaction ends or the next write in it.
 * Returns PXS_ENOTFOUND (without touching err) when the key is absent. */
int pxs_store_get(pxs_store_txn *txn, const char *table, const void *key, size_t key_len,
                  const void **val, size_t *val_len, struct pxs_err *err) PXS_MUST_CHECK;
/* Returns PXS_ENOTFOUND (without touching err) when the key is absent. */
int pxs_store_del(pxs_store_txn *txn, const char *table, const void *key, size_t key_len,
                  struct pxs_err *err) PXS_MUST_CHECK;

/* Visit entries in key order starting at the first key >= start (NULL =
 * from the beginning). Return non-zero from fn to stop early; that value is
 * returned (a negative PXS_E* stops with that error). Key and value are
 * borrowed for the duration of the call. */
typedef int (*pxs_store_visit_fn)(const void *key, size_t key_len, const void *val,
                                  size_t val_len, void *user);
int pxs_store_scan(pxs_store_txn *txn, const char *table, const void *start, size_t start_len,
                   pxs_store_visit_fn fn, void *user, struct pxs_err *err) PXS_MUST_CHECK;
/* Number of entries in a table (0 if it does not exist). */
int pxs_store_count(pxs_store_txn *txn, const char *table, uint64_t *out,
                    struct pxs_err *err) PXS_MUST_CHECK;

/* Helpers for the big-endian integer keys the engine uses. */
void pxs_store_u64_key(uint64_t v, uint8_t out[8]);
uint64_t pxs_store_u64_from_key(const uint8_t in[8]);

#ifdef __cplusplus
}
#endif
#endif
