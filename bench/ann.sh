#!/bin/sh
# bench/ann.sh — the ann-benchmarks protocol on fashion-mnist-784-euclidean
# (60000 x 784 raw pixels as float, L2, k = 10, recall@10 against the shared
# ground truth, one query at a time, one thread) for pixseek HNSW (ef sweep;
# once more with float traversal on the same graph, the A/B of the SQ8
# traversal), IVF_FLAT, IVF_SQ8 and IVF_PQ (nprobe sweeps) next to hnswlib
# (C++, g++ -O3 -march=native, same M=16, efConstruction=200) and FAISS
# (python3-faiss: HNSW, IVF-Flat, IVF-PQ), with build time and memory, all in
# one run; then the exact scan against a memory-bandwidth probe measured in
# the same run, bytes per vector, and one summary line per target recall.
#
#   sh bench/ann.sh [BUILD_DIR] [N_QUERIES] [all|hnsw]
#       defaults build/h-index, 2000, all; "hnsw" runs only pixseek HNSW and
#       hnswlib (a few minutes), for repeating the comparison on a busy box.
#
# Each setting is timed over 3 passes of the queries, fastest kept, in all
# three benches (ann-benchmarks also keeps the best of its runs).
# Every timing is printed twice: wall clock (the ann-benchmarks number) and
# thread CPU time, which moves much less when other jobs share the cores.
#
# Needs: dataset-fashion-mnist, libhnswlib-dev, python3-faiss (apt-get; the
# script installs missing ones when run as root), and the shared ground
# truth ($PXS_SHARED, default ../shared). Takes about 20 minutes, most of
# it in FAISS (the Debian build is slow to build HNSW and to train IVF-PQ).
set -e
BUILD=${1:-build/h-index}
NQ=${2:-2000}
WHAT=${3:-all}
DATA=/usr/share/datasets/fashion-mnist
SHARED=${PXS_SHARED:-../shared}
GT=$SHARED/data/fashion-mnist/groundtruth/fashion-mnist_test_top100_l2.ivecs
LOG=$BUILD/ann.log

echo "# command: sh bench/ann.sh $BUILD $NQ $WHAT"
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

EFS=10,12,14,16,20,24,32,48,64,96,128,256
: > "$LOG"
run() { echo "## $*"; "$@" | tee -a "$LOG"; }
run "$BUILD/ann_bench" -index hnsw -m 16 -efc 200 -q "$NQ" -sweep $EFS -data "$DATA" -gt "$GT"
run "$BUILD/hnswlib_bench" "$DATA" "$GT" "$NQ" 16 200 $EFS
if [ "$WHAT" = all ]; then
    run "$BUILD/ann_bench" -index hnsw -m 16 -efc 200 -q "$NQ" -sweep $EFS -data "$DATA" -gt "$GT" \
        -float-traversal 1
    run "$BUILD/ann_bench" -index ivf_flat -nlist 256 -q "$NQ" -sweep 1,2,4,8,16,32,64 -data "$DATA" -gt "$GT"
    run "$BUILD/ann_bench" -index ivf_sq8 -nlist 256 -q "$NQ" -sweep 1,2,4,8,16,32,64 -data "$DATA" -gt "$GT"
    run "$BUILD/ann_bench" -index ivf_pq -nlist 256 -pqm 56 -pqnbits 8 -q "$NQ" -sweep 1,2,4,8,16,32,64 -data "$DATA" -gt "$GT"
    run "$BUILD/ann_bench" -index flat -q "$NQ" -data "$DATA" -gt "$GT"
    (export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
     run /usr/bin/python3 bench/peers/faiss_bench.py "$DATA" "$GT" "$NQ")
fi
echo
echo "## summary (best QPS among settings reaching the recall; ann-benchmarks Pareto reading)"
awk '
/^BUILD / { printf "build  %-44s %7.1f s wall %7.1f s CPU  %8.1f MiB\n", $2, $3, $5, $4 / 1048576 }
/^MEMORY / { printf "memory %-44s %7.0f bytes/vector in all, %6.0f of vector data\n", $2, $3, $4 }
/^BANDWIDTH / { bw[$2] = $3; bwc[$2] = $4 }
/^FLATSCAN pixseek/ { fw = $4; fc = $5 }
/^FLATSCAN / { printf "flat scan %-22s %8.2f ms/query  %6.2f GB/s wall  %6.2f GB/s CPU\n", $2, $3, $4, $5 }
END {
    for (b in bw) if (fw)
        printf "flat scan vs streaming read of a %s MiB buffer: %.2f / %.2f GB/s = %.0f%% (wall), %.2f / %.2f GB/s = %.0f%% (CPU time)\n", \
            b, fw, bw[b], 100 * fw / bw[b], fc, bwc[b], 100 * fc / bwc[b]
}' "$LOG"
# best <name-regex> <recall> <column: 5 wall, 6 CPU> -> "QPS setting" or "- not-reached"
best() {
    awk -v re="$1" -v t="$2" -v c="$3" '
    /^RESULT / && $2 ~ re && $4 + 0 >= t + 0 && $c + 0 > b { b = $c + 0; at = $3 }
    END { if (b) printf "%.0f %s\n", b, at; else print "- not-reached" }' "$LOG"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }
for target in 0.90 0.95 0.99; do
    set -- $(best '^pixseek-hnsw[(][^)]*[)]$' $target 5) $(best '^hnswlib' $target 5) \
           $(best '^pixseek-hnsw[(][^)]*[)]$' $target 6) $(best '^hnswlib' $target 6)
    echo "recall>=$target: pixseek-hnsw $1 QPS ($2), hnswlib $3 QPS ($4), ratio $(ratio $1 $3);" \
         "by CPU time: pixseek-hnsw $5, hnswlib $7, ratio $(ratio $5 $7)"
    if [ "$WHAT" = all ]; then
        line="   others (wall QPS):"
        for n in pixseek-hnsw.*float-traversal faiss-hnsw pixseek-ivf_flat faiss-ivf_flat pixseek-ivf_sq8; do
            set -- $(best "^$n" $target 5)
            line="$line $n $1 ($2);"
        done
        echo "$line"
    fi
done
if [ "$WHAT" = all ]; then
    for target in 0.50 0.65 0.70 0.73 0.74; do
        set -- $(best '^pixseek-ivf_pq' $target 5) $(best '^faiss-ivf_pq' $target 5) \
               $(best '^pixseek-ivf_pq' $target 6) $(best '^faiss-ivf_pq' $target 6)
        echo "ivf_pq recall>=$target: pixseek $1 QPS ($2), faiss $3 QPS ($4), ratio $(ratio $1 $3);" \
             "by CPU time: pixseek $5, faiss $7, ratio $(ratio $5 $7)"
    done
fi
