#!/usr/bin/env bash
# bench/import.sh — Fashion-MNIST end to end through the command line, next
# to hnswlib (python3-hnswlib 0.6.2) in the same run:
#   1. `pixseek import` of the 60k train vectors (gzip'd IDX straight from
#      Debian's dataset-fashion-mnist, labels as a column) into an L2 HNSW
#      collection (M=16, efConstruction=200): durable rows + index;
#      hnswlib: load the same files with numpy, add_items (in memory only).
#   2. the 10k test queries, top-10, at several ef: `pixseek vsearch
#      --vectors t10k-images-idx3-ubyte.gz --json` (batches over all cores;
#      QPS counts the search calls, JSON in and out included, not process
#      start-up) vs hnswlib knn_query over all cores.
#   3. recall@10 of both against ../shared/data/fashion-mnist/groundtruth.
# Prints wall and CPU seconds (CPU is the steadier figure on a busy machine)
# and pixseek/hnswlib ratios.
#
#   bash bench/import.sh [PIXSEEK_BINARY] [EF,EF,...]
#     (defaults build/release-cc/pixseek, 16,32,64,128)
# Needs: dataset-fashion-mnist python3-hnswlib python3-numpy (scripts/deps.sh --bench).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/release-cc/pixseek}
EFS=${2:-16,32,64,128}
DATA=/usr/share/datasets/fashion-mnist
SHARED=${PXS_SHARED:-../shared}
GT=$SHARED/data/fashion-mnist/groundtruth/fashion-mnist_test_top100_l2.ivecs
PY=/usr/bin/python3
THREADS=$(nproc)
[[ -f $DATA/train-images-idx3-ubyte.gz ]] || { echo "import.sh: apt-get install dataset-fashion-mnist" >&2; exit 1; }
$PY -c 'import hnswlib, numpy' 2>/dev/null || { echo "import.sh: apt-get install python3-hnswlib python3-numpy" >&2; exit 1; }
[[ -f $GT ]] || { echo "import.sh: no ground truth at $GT" >&2; exit 1; }
[[ -x $BIN ]] || make -s "$BIN"
WORK=$(mktemp -d /tmp/pixseek-import-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export PIXSEEK_DATA=$WORK/data

echo "# command: bash bench/import.sh $BIN $EFS"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg);$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"

# CPU seconds (user + sys) of a command, into $WORK/cpu
cpu_of() { /usr/bin/time -f '%U %S' -o "$WORK/time" "$@"; awk '{print $1 + $2}' "$WORK/time" >"$WORK/cpu"; }

t0=$(date +%s.%N)
cpu_of "$BIN" import --create --metric L2 --index HNSW --param M=16 --param efConstruction=200 \
  --field label="$DATA/train-labels-idx1-ubyte.gz" fmnist "$DATA/train-images-idx3-ubyte.gz" --json >"$WORK/import.json"
wall=$(awk -v a="$(date +%s.%N)" -v b="$t0" "BEGIN { print a - b }")
echo "BUILD pixseek $wall $(cat "$WORK/cpu")" | tee "$WORK/log"

recall() { # recall RESULTS.jsonl
  $PY - "$1" "$GT" <<'PYEOF'
import json, sys
import numpy as np
gt = np.fromfile(sys.argv[2], dtype=np.int32).reshape(-1, 101)[:, 1:11]
hits = 0
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    hits += len({h["id"] for h in r["hits"]} & set(gt[r["query"]].tolist()))
    n += 1
print("%.4f" % (hits / (10.0 * n)))
PYEOF
}
for ef in ${EFS//,/ }; do
  cpu_of "$BIN" vsearch fmnist --vectors "$DATA/t10k-images-idx3-ubyte.gz" --limit 10 --ef "$ef" \
    --threads "$THREADS" --json >"$WORK/res.jsonl" 2>"$WORK/vs.json"
  qps=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["qps"])' "$WORK/vs.json")
  echo "RESULT pixseek ef=$ef $(recall "$WORK/res.jsonl") $qps $(cat "$WORK/cpu")" | tee -a "$WORK/log"
done

$PY bench/peers/hnswlib_import.py "$DATA" "$GT" 16 200 1 "$THREADS" "$EFS" | tee -a "$WORK/log"

echo
echo "## import of 60000 x 784 (pixseek: gzip'd IDX -> durable rows + HNSW; hnswlib: numpy load + add_items, 1 thread)"
awk '/^BUILD/ { w[$2] = $3; c[$2] = $4 }
END { printf "%-10s %9s %9s\n", "", "wall s", "cpu s"
      for (n in w) printf "%-10s %9.1f %9.1f\n", n, w[n], c[n]
      printf "ratio pixseek/hnswlib: wall %.2f, cpu %.2f (below 1 = pixseek faster)\n", w["pixseek"] / w["hnswlib"], c["pixseek"] / c["hnswlib"] }' "$WORK/log"
echo
echo "## 10000 queries, top-10, $THREADS threads"
awk '/^RESULT/ { split($3, e, "="); ef = e[2]; r[$2, ef] = $4; q[$2, ef] = $5; c[$2, ef] = 10000 / $6 }
END { printf "%-4s %9s %9s %9s %9s %6s %10s %10s %6s\n", "ef", "recall px", "recall hl", "QPS px", "QPS hl", "ratio",
             "q/cpu-s px", "q/cpu-s hl", "ratio"
      n = split("'"$EFS"'", order, ",")
      for (i = 1; i <= n; i++) { ef = order[i]
        printf "%-4s %9.4f %9.4f %9.0f %9.0f %6.2f %10.0f %10.0f %6.2f\n", ef, r["pixseek", ef], r["hnswlib", ef],
               q["pixseek", ef], q["hnswlib", ef], q["pixseek", ef] / q["hnswlib", ef],
               c["pixseek", ef], c["hnswlib", ef], c["pixseek", ef] / c["hnswlib", ef] } }' "$WORK/log"
echo "(px = pixseek vsearch: QPS over its search calls incl. JSON; q/cpu-s = queries per CPU second of the"
echo " whole process incl. start-up, index load and reading the gzip'd queries; hl = hnswlib knn_query)"
