#!/bin/sh
# bench/ann.sh — the ann-benchmarks protocol on fashion-mnist-784-euclidean
# (60000 x 784 raw pixels as float, L2, k = 10, recall@10 against the shared
# ground truth, one query at a time, one thread) for pixseek HNSW (ef sweep),
# IVF_FLAT and IVF_PQ (nprobe sweeps) next to hnswlib (C++, g++ -O3
# -march=native, same M=16, efConstruction=200) and FAISS (python3-faiss:
# HNSW, IVF-Flat, IVF-PQ), with build time and memory, all in one run; then
# an exact-scan memory-bandwidth line and one summary line per target recall.
#
#   sh bench/ann.sh [BUILD_DIR] [N_QUERIES]      (defaults build/h-index, 2000)
#
# Needs: dataset-fashion-mnist, libhnswlib-dev, python3-faiss (apt-get; the
# script installs missing ones when run as root), and the shared ground
# truth ($PXS_SHARED, default ../shared). Takes about 15-20 minutes, most of
# it in FAISS (the Debian build is slow to build HNSW and to train IVF-PQ).
set -e
BUILD=${1:-build/h-index}
NQ=${2:-2000}
DATA=/usr/share/datasets/fashion-mnist
SHARED=${PXS_SHARED:-../shared}
GT=$SHARED/data/fashion-mnist/groundtruth/fashion-mnist_test_top100_l2.ivecs
LOG=$BUILD/ann.log

echo "# command: sh bench/ann.sh $BUILD $NQ"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -m) $(nproc) cpus; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

need=""
[ -f "$DATA/train-images-idx3-ubyte.gz" ] || need="$need dataset-fashion-mnist"
[ -f /usr/include/hnswlib/hnswlib.h ] || need="$need libhnswlib-dev"
/usr/bin/python3 -c 'import faiss' 2>/dev/null || need="$need python3-faiss"
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y $need >/dev/null
    else
        echo "ann.sh: missing:$need (apt-get install$need)" >&2
        exit 1
    fi
fi
[ -f "$GT" ] || { echo "ann.sh: no ground truth at $GT" >&2; exit 1; }

make -s "$BUILD/test-index" M=index BUILD="$BUILD" >/dev/null
sh bench/index_bench.sh "$BUILD" >/dev/null
g++ -O3 -march=native -o "$BUILD/hnswlib_bench" bench/peers/hnswlib_bench.cpp

EFS=10,16,24,32,48,64,96,128,256
: > "$LOG"
run() { echo "## $*"; "$@" | tee -a "$LOG"; }
run "$BUILD/ann_bench" -index hnsw -m 16 -efc 200 -q "$NQ" -sweep $EFS -data "$DATA" -gt "$GT"
run "$BUILD/hnswlib_bench" "$DATA" "$GT" "$NQ" 16 200 $EFS
run "$BUILD/ann_bench" -index ivf_flat -nlist 256 -q "$NQ" -sweep 1,2,4,8,16,32,64 -data "$DATA" -gt "$GT"
run "$BUILD/ann_bench" -index ivf_pq -nlist 256 -pqm 56 -pqnbits 8 -q "$NQ" -sweep 1,2,4,8,16,32,64 -data "$DATA" -gt "$GT"
run "$BUILD/ann_bench" -index flat -q "$NQ" -data "$DATA" -gt "$GT"
(export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
 run /usr/bin/python3 bench/peers/faiss_bench.py "$DATA" "$GT" "$NQ")

echo
echo "## summary (best QPS among settings reaching the recall; ann-benchmarks Pareto reading)"
awk '
/^BUILD / { printf "build  %-40s %7.1f s  %8.1f MiB\n", $2, $3, $4 / 1048576 }
/^FLATSCAN / { printf "flat scan %-22s %8.2f ms/query  %6.2f GB/s of vectors\n", $2, $3, $4 }
' "$LOG"
for target in 0.90 0.95 0.99; do
    awk -v t="$target" '
    /^RESULT / { if ($4 + 0 >= t + 0 && $5 + 0 > best[$2]) { best[$2] = $5 + 0; at[$2] = $3 } }
    END {
        for (n in best) if (n ~ /^pixseek-hnsw/) { p = best[n]; pa = at[n] }
        for (n in best) if (n ~ /^hnswlib/) { h = best[n]; ha = at[n] }
        line = sprintf("recall>=%s:", t)
        line = line sprintf(" pixseek-hnsw %s QPS (%s),", p ? sprintf("%.0f", p) : "-", p ? pa : "not reached")
        line = line sprintf(" hnswlib %s QPS (%s),", h ? sprintf("%.0f", h) : "-", h ? ha : "not reached")
        line = line sprintf(" ratio %s", (p && h) ? sprintf("%.2f", p / h) : "-")
        for (n in best) if (n !~ /^pixseek-hnsw/ && n !~ /^hnswlib/)
            line = line sprintf("; %s %.0f (%s)", n, best[n], at[n])
        print line
    }' "$LOG"
done
