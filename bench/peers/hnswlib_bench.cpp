// bench/peers/hnswlib_bench.cpp — the hnswlib side of bench/ann.sh: the same
// Fashion-MNIST protocol as bench/ann_bench.c (L2, one query at a time, one
// thread, k = 10, recall@10 against the shared ground truth), with
// hnswlib's HierarchicalNSW (Debian libhnswlib-dev headers).
//
//   g++ -O3 -march=native -o hnswlib_bench bench/peers/hnswlib_bench.cpp
//   hnswlib_bench DATA_DIR GT_FILE N_QUERIES M EF_CONSTRUCTION EF,EF,...
//
// Prints the same BUILD / RESULT lines as ann_bench (wall and CPU time). Memory is the growth of
// the resident set while the index is built (hnswlib has no accounting).
#include <hnswlib/hnswlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sstream>
#include <string>
#include <vector>

static unsigned be32(const unsigned char *p) {
    return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
}

static std::vector<float> load_idx3(const std::string &path, size_t &n, size_t &dim) {
    std::string cmd = "gzip -dc '" + path + "'";
    FILE *f = popen(cmd.c_str(), "r");
    std::vector<float> out;
    unsigned char hdr[16];
    if (f && fread(hdr, 1, 16, f) == 16 && be32(hdr) == 0x803) {
        n = be32(hdr + 4);
        dim = (size_t)be32(hdr + 8) * be32(hdr + 12);
        std::vector<unsigned char> raw(n * dim);
        if (fread(raw.data(), 1, raw.size(), f) == raw.size()) {
            out.resize(raw.size());
            for (size_t i = 0; i < raw.size(); i++) out[i] = (float)raw[i];
        }
    }
    if (f) pclose(f);
    return out;
}

static std::vector<int> load_ivecs(const std::string &path, size_t &n, size_t &k) {
    std::vector<int> out;
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) return out;
    int32_t kk;
    n = 0;
    while (fread(&kk, 4, 1, f) == 1 && kk > 0) {
        k = (size_t)kk;
        size_t old = out.size();
        out.resize(old + k);
        if (fread(out.data() + old, 4, k, f) != k) break;
        n++;
    }
    fclose(f);
    return out;
}

static long rss_kb() {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * 4;
}

static double cpu_now() {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s DATA_DIR GT N_QUERIES M EF_CONSTRUCTION EF,EF,...\n", argv[0]);
        return 2;
    }
    std::string dir = argv[1];
    size_t nb, dim, nq, dq, ngt, kgt = 0;
    std::vector<float> base = load_idx3(dir + "/train-images-idx3-ubyte.gz", nb, dim);
    std::vector<float> q = load_idx3(dir + "/t10k-images-idx3-ubyte.gz", nq, dq);
    std::vector<int> gt = load_ivecs(argv[2], ngt, kgt);
    if (base.empty() || q.empty() || gt.empty() || dim != dq || kgt < 10) {
        fprintf(stderr, "hnswlib_bench: cannot load data or ground truth\n");
        return 1;
    }
    size_t nq_max = (size_t)atol(argv[3]);
    if (nq > nq_max) nq = nq_max;
    int M = atoi(argv[4]), efc = atoi(argv[5]);
    char name[64];
    snprintf(name, sizeof name, "hnswlib(M=%d,efC=%d)", M, efc);
    hnswlib::L2Space space(dim);
    long rss0 = rss_kb();
    double t0 = now(), c0 = cpu_now();
    hnswlib::HierarchicalNSW<float> index(&space, nb, M, efc, 100);
    for (size_t i = 0; i < nb; i++) index.addPoint(base.data() + i * dim, i);
    double build = now() - t0, build_cpu = cpu_now() - c0;
    long mem = (rss_kb() - rss0) * 1024;
    printf("%s: build %.1f s (%.1f s CPU, 1 thread), memory %.1f MiB (RSS growth)\n", name,
           build, build_cpu, mem / 1048576.0);
    printf("BUILD %s %.2f %ld %.2f\n", name, build, mem, build_cpu);
    std::stringstream ss(argv[6]);
    std::string tok;
    while (std::getline(ss, tok, ',')) {
        int ef = atoi(tok.c_str());
        index.setEf(ef);
        for (size_t i = 0; i < 100 && i < nq; i++) index.searchKnn(q.data() + i * dim, 10);
        size_t found = 0;
        double t = 1e30, tc = 1e30;
        for (int run = 0; run < 3; run++) { // best of 3 passes, as ann_bench.c
            found = 0;
            t0 = now();
            c0 = cpu_now();
            for (size_t i = 0; i < nq; i++) {
                auto res = index.searchKnn(q.data() + i * dim, 10);
                while (!res.empty()) {
                    size_t id = res.top().second;
                    res.pop();
                    for (int b = 0; b < 10; b++)
                        if ((size_t)gt[i * kgt + b] == id) {
                            found++;
                            break;
                        }
                }
            }
            double tw = now() - t0, tcpu = cpu_now() - c0;
            if (tw < t) t = tw;
            if (tcpu < tc) tc = tcpu;
        }
        printf("RESULT %s ef=%d %.4f %.1f %.1f\n", name, ef, (double)found / (nq * 10.0), nq / t,
               nq / tc);
    }
    return 0;
}
