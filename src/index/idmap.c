/*
 * idmap.c — int64 id -> slot hash map for the indexes: open addressing with
 * linear probing, power-of-two capacity, load factor <= 1/2, and
 * backward-shift deletion (no tombstones, so probe chains never rot after
 * many removes). Keys are mixed with the splitmix64 finaliser so sequential
 * ids spread over the table.
 *
 * Invariant: every stored entry is reachable from its home bucket without
 * crossing an empty bucket.
 */
#include "index/index_int.h"

#include <string.h>

#define IDMAP_MIN_CAP 16u

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static inline size_t home_of(int64_t id, size_t mask) { return (size_t)mix64((uint64_t)id) & mask; }

void pxs__idmap_init(struct pxs__idmap *m) { memset(m, 0, sizeof *m); }

void pxs__idmap_free(struct pxs__idmap *m) {
    if (!m) return;
    pxs_free(m->t);
    memset(m, 0, sizeof *m);
}

int pxs__idmap_get(const struct pxs__idmap *m, int64_t id, size_t *slot) {
    if (m->cap == 0) return 0;
    size_t mask = m->cap - 1;
    for (size_t i = home_of(id, mask);; i = (i + 1) & mask) {
        const struct pxs__idmap_entry *e = &m->t[i];
        if (e->slot_plus1 == 0) return 0;
        if (e->id == id) {
            if (slot) *slot = (size_t)(e->slot_plus1 - 1);
            return 1;
        }
    }
}

int pxs__idmap_update(struct pxs__idmap *m, int64_t id, size_t slot) {
    if (m->cap == 0) return 0;
    size_t mask = m->cap - 1;
    for (size_t i = home_of(id, mask);; i = (i + 1) & mask) {
        struct pxs__idmap_entry *e = &m->t[i];
        if (e->slot_plus1 == 0) return 0;
        if (e->id == id) {
            e->slot_plus1 = (uint64_t)slot + 1;
            return 1;
        }
    }
}

/* Insert into a table known to have room and not to hold id. */
static void insert_new(struct pxs__idmap_entry *t, size_t mask, int64_t id, uint64_t slot_plus1) {
    size_t i = home_of(id, mask);
    while (t[i].slot_plus1 != 0) i = (i + 1) & mask;
    t[i].id = id;
    t[i].slot_plus1 = slot_plus1;
}

static int rehash(struct pxs__idmap *m, size_t new_cap) {
    struct pxs__idmap_entry *t = pxs_calloc(new_cap, sizeof *t);
    if (!t) return PXS_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->t[i].slot_plus1) insert_new(t, new_cap - 1, m->t[i].id, m->t[i].slot_plus1);
    pxs_free(m->t);
    m->t = t;
    m->cap = new_cap;
    return PXS_OK;
}

int pxs__idmap_reserve(struct pxs__idmap *m, size_t n) {
    if (n > SIZE_MAX / 4 / sizeof(struct pxs__idmap_entry)) return PXS_ENOMEM;
    size_t need = n * 2; /* load factor <= 1/2 */
    if (need <= m->cap) return PXS_OK;
    size_t cap = m->cap ? m->cap : IDMAP_MIN_CAP;
    while (cap < need) cap *= 2;
    return rehash(m, cap);
}

int pxs__idmap_put(struct pxs__idmap *m, int64_t id, size_t slot) {
    if (m->cap) {
        size_t mask = m->cap - 1;
        for (size_t i = home_of(id, mask);; i = (i + 1) & mask) {
            struct pxs__idmap_entry *e = &m->t[i];
            if (e->slot_plus1 == 0) break;
            if (e->id == id) {
                e->slot_plus1 = (uint64_t)slot + 1;
                return PXS_OK;
            }
        }
    }
    int rc = pxs__idmap_reserve(m, m->n + 1);
    if (rc != PXS_OK) return rc;
    insert_new(m->t, m->cap - 1, id, (uint64_t)slot + 1);
    m->n++;
    return PXS_OK;
}

int pxs__idmap_del(struct pxs__idmap *m, int64_t id) {
    if (m->cap == 0) return 0;
    size_t mask = m->cap - 1;
    size_t i = home_of(id, mask);
    for (;; i = (i + 1) & mask) {
        if (m->t[i].slot_plus1 == 0) return 0;
        if (m->t[i].id == id) break;
    }
    /* Backward shift: pull later entries of the chain into the hole unless
     * their home lies cyclically in (hole, j]. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (m->t[j].slot_plus1 == 0) break;
        size_t k = home_of(m->t[j].id, mask);
        int stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            m->t[i] = m->t[j];
            i = j;
        }
    }
    m->t[i].slot_plus1 = 0;
    m->t[i].id = 0;
    m->n--;
    return 1;
}

size_t pxs__idmap_memory(const struct pxs__idmap *m) { return m->cap * sizeof(struct pxs__idmap_entry); }
