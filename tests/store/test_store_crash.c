/*
 * tests/store/test_store_crash.c — durability under kill -9. A child process
 * commits one record per write transaction and acknowledges each commit that
 * returned PXS_OK through a pipe; the parent SIGKILLs it after a random
 * delay (fixed seed), reopens the store and checks that every acknowledged
 * record is there, intact, and that the store is consistent (count, scan,
 * a cross-table invariant). The next round continues on the same data.
 */
#include "pixseek/store.h"
#include "../test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define CRASH_ROUNDS 25

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Record for key i, version ver: [key 8][ver 4][filler][hash64 8]. */
static size_t record_len(uint64_t key) { return 8 + 4 + (size_t)(key * 7919 % 3000) + 8; }

static void make_record(uint64_t key, uint32_t ver, uint8_t *out, size_t len) {
    pxs_store_u64_key(key, out);
    out[8] = (uint8_t)(ver >> 24), out[9] = (uint8_t)(ver >> 16);
    out[10] = (uint8_t)(ver >> 8), out[11] = (uint8_t)ver;
    uint64_t x = key * 0x9e3779b97f4a7c15ull + ver + 1;
    for (size_t i = 12; i < len - 8; i++) out[i] = (uint8_t)rng_next(&x);
    uint8_t h[8];
    pxs_store_u64_key(pxs_hash64(out, len - 8), h);
    memcpy(out + len - 8, h, 8);
}

/* 0 if val is a valid record of key. */
static int check_record(uint64_t key, const uint8_t *val, size_t len) {
    if (len != record_len(key)) return -1;
    if (pxs_store_u64_from_key(val) != key) return -2;
    if (pxs_store_u64_from_key(val + len - 8) != pxs_hash64(val, len - 8)) return -3;
    return 0;
}

static void child_run(const char *dir, int ack_fd) {
    struct pxs_err err;
    pxs_err_clear(&err);
    pxs_store *s;
    pxs_store_txn *t;
    if (pxs_store_open(dir, NULL, &s, &err)) _exit(10);
    uint64_t next;
    if (pxs_store_begin(s, 0, &t, &err) || pxs_store_count(t, "data", &next, &err) ||
        pxs_store_commit(t, &err))
        _exit(11);
    static uint8_t rec[4096];
    for (;; next++) {
        if (pxs_store_begin(s, 1, &t, &err)) _exit(12);
        uint8_t k[8];
        pxs_store_u64_key(next, k);
        size_t len = record_len(next);
        make_record(next, 0, rec, len);
        if (pxs_store_put(t, "data", k, 8, rec, len, &err)) _exit(13);
        if (next % 3 == 2) { /* rewrite an older record: exercises page reuse */
            uint64_t old = next / 2;
            pxs_store_u64_key(old, k);
            len = record_len(old);
            make_record(old, (uint32_t)next, rec, len);
            if (pxs_store_put(t, "data", k, 8, rec, len, &err)) _exit(14);
        }
        pxs_store_u64_key(next, k);
        if (pxs_store_put(t, "meta", "last", 4, k, 8, &err)) _exit(15);
        if (pxs_store_commit(t, &err)) _exit(16);
        ssize_t w;
        do w = write(ack_fd, &next, sizeof next);
        while (w < 0 && errno == EINTR);
        if (w != (ssize_t)sizeof next) _exit(17);
    }
}

struct verify {
    uint64_t expect; /* next key expected by the scan */
    int bad;
};

static int verify_visit(const void *key, size_t key_len, const void *val, size_t val_len,
                        void *user) {
    struct verify *v = user;
    if (key_len != 8 || pxs_store_u64_from_key(key) != v->expect ||
        check_record(v->expect, val, val_len) != 0) {
        v->bad = 1;
        return 1;
    }
    v->expect++;
    return 0;
}

PXS_TEST(store_crash_kill9_keeps_acknowledged_commits) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/crash", pxs_test_tmpdir());
    uint64_t seed = 0x5eed5eed12345ull;
    uint64_t total_acks = 0, have = 0; /* have: records known to be in the store */
    int kills_mid_run = 0;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        fflush(stdout);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_run(dir, fds[1]);
            _exit(0);
        }
        close(fds[1]);
        int delay_ms = 3 + (int)(rng_next(&seed) % 100);
        uint64_t deadline = pxs_now_ns() + (uint64_t)delay_ms * 1000000u;
        uint64_t acked = 0, n_acks = 0;
        int have_ack = 0;
        uint8_t buf[8192];
        size_t fill = 0;
        int eof = 0, killed = 0;
        /* Read acknowledgements until the deadline, kill, then drain to EOF. */
        while (!eof) {
            uint64_t now = pxs_now_ns();
            if (!killed && now >= deadline) {
                kill(pid, SIGKILL);
                killed = 1;
            }
            int timeout = killed ? 1000 : (int)((deadline - now) / 1000000u) + 1;
            struct pollfd p = {fds[0], POLLIN, 0};
            int pr = poll(&p, 1, timeout);
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) continue;
            ssize_t r = read(fds[0], buf + fill, sizeof buf - fill);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                eof = 1;
                break;
            }
            fill += (size_t)r;
            size_t used = 0;
            for (; used + 8 <= fill; used += 8) {
                uint64_t a;
                memcpy(&a, buf + used, 8);
                if (have_ack && a != acked + 1) {
                    kill(pid, SIGKILL);
                    waitpid(pid, NULL, 0);
                    close(fds[0]);
                    CHECK_MSG(0, "acks out of order: %llu after %llu", (unsigned long long)a,
                              (unsigned long long)acked);
                }
                acked = a;
                have_ack = 1;
                n_acks++;
            }
            memmove(buf, buf + used, fill - used);
            fill -= used;
        }
        close(fds[0]);
        if (!killed) kill(pid, SIGKILL);
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "round %d: child exited on its own (status 0x%x)", round, status);
        total_acks += n_acks;
        if (n_acks) kills_mid_run++;

        /* Reopen and verify. */
        struct pxs_err err;
        pxs_err_clear(&err);
        pxs_store *s;
        CHECK_OK(pxs_store_open(dir, NULL, &s, &err), &err);
        pxs_store_txn *t;
        CHECK_OK(pxs_store_begin(s, 0, &t, &err), &err);
        uint64_t count;
        CHECK_OK(pxs_store_count(t, "data", &count, &err), &err);
        CHECK_MSG(count >= have, "round %d: store shrank from %llu to %llu", round,
                  (unsigned long long)have, (unsigned long long)count);
        CHECK_MSG(!have_ack || count >= acked + 1,
                  "round %d: acknowledged key %llu missing (count %llu)", round,
                  (unsigned long long)acked, (unsigned long long)count);
        if (count > 0) {
            const void *v;
            size_t vn;
            CHECK_OK(pxs_store_get(t, "meta", "last", 4, &v, &vn, &err), &err);
            CHECK(vn == 8 && pxs_store_u64_from_key(v) == count - 1); /* atomic across tables */
        }
        struct verify ver = {0, 0};
        CHECK_OK(pxs_store_scan(t, "data", NULL, 0, verify_visit, &ver, &err), &err);
        CHECK_MSG(!ver.bad && ver.expect == count, "round %d: scan broke at key %llu of %llu",
                  round, (unsigned long long)ver.expect, (unsigned long long)count);
        CHECK_OK(pxs_store_commit(t, &err), &err);
        pxs_store_close(s);
        have = count;
    }
    CHECK_MSG(total_acks >= 20 && kills_mid_run >= CRASH_ROUNDS / 2,
              "too little progress to test anything: %llu acks, %d productive rounds",
              (unsigned long long)total_acks, kills_mid_run);
    printf("    %d rounds, %llu acknowledged commits, %llu records\n", CRASH_ROUNDS,
           (unsigned long long)total_acks, (unsigned long long)have);
}
