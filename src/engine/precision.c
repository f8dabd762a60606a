/*
 * precision.c — the inference precision a collection runs its model at.
 *
 * Meta "precision" ("fp32" or "bf16", absent = fp32) is the collection's
 * default, set by `pixseek index|search|serve|... --precision P` and kept
 * until changed. A run at the other precision is allowed and is not a
 * mismatch: bf16 embeddings stay within cosine 0.999 of fp32 (tests/nn),
 * so vectors of both kinds rank the same neighbours. Whether bf16 actually
 * runs depends on the CPU (pxs_embedder_precision); the choice is kept
 * either way, so a data directory moved to a bf16 machine uses it there.
 */
#include <string.h>
#include <stdio.h>

#include "engine_int.h"

int precision_resolve(pxs_engine *e, const char *choice, struct pxs_err *err) {
    char stored[16] = "";
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 0, &txn, err);
    if (rc != PXS_OK) return rc;
    rc = meta_get_str(txn, "precision", stored, sizeof stored, err);
    pxs_store_abort(txn);
    if (rc != PXS_OK && rc != PXS_ENOTFOUND) return rc;
    int p = PXS_NN_FP32;
    if (stored[0] && pxs_nn_precision_parse(stored, &p, NULL) != PXS_OK)
        return pxs_errf(err, PXS_ECORRUPT, "%s: unknown precision \"%s\" in meta", e->data_dir, stored);
    snprintf(e->precision, sizeof e->precision, "%s", pxs_nn_precision_name(p));
    snprintf(e->precision_stored, sizeof e->precision_stored, "%s", stored[0] ? pxs_nn_precision_name(p) : "");
    if (!choice || !choice[0]) return PXS_OK;
    rc = pxs_nn_precision_parse(choice, &p, err);
    if (rc != PXS_OK) return rc;
    snprintf(e->precision, sizeof e->precision, "%s", pxs_nn_precision_name(p));
    return PXS_OK;
}

int precision_remember(pxs_engine *e, struct pxs_err *err) {
    if (e->read_only || !strcmp(e->precision, e->precision_stored) ||
        (!e->precision_stored[0] && !strcmp(e->precision, "fp32")))
        return PXS_OK;
    pxs_store_txn *txn;
    int rc = pxs_store_begin(e->store, 1, &txn, err);
    if (rc != PXS_OK) return rc;
    rc = meta_put_str(txn, "precision", e->precision, err);
    if (rc != PXS_OK) {
        pxs_store_abort(txn);
        return rc;
    }
    return pxs_store_commit(txn, err);
}
