#!/usr/bin/env bash
# bench/http.sh — POST /img/search under wrk: pixseek serve vs the Python bootcamp replica
# (../shared/baselines/seed_replica, Flask + torch MobileNetV2 + FAISS), same 100k vectors, same queries.
#
#   bench/http.sh                         # 30 s per run, concurrency 1, 8, 64
#   DURATION=5 N_TOTAL=20000 bench/http.sh   # quick smoke run
#
# Steps: build; index Corel-1k with MobileNetV2 (../shared/models/mobilenet_v2_embed.onnx); grow the
# collection to N_TOTAL vectors with bench/http_fill (real embeddings + Gaussian noise, renormalised: see
# that file); load the identical vectors into the peer's FAISS IndexFlatIP + sqlite (bench/http_seed_data.py);
# then for each server: start it on 127.0.0.1, warm up, run wrk at each concurrency with bench/http_search.lua
# (multipart upload: decode + MobileNetV2 + search; pixseek searches its HNSW image index, the
# peer its FAISS IndexFlatIP), and for pixseek also bench/http_byid.lua (POST
# /api/search {"id"}: search only, no embedding; the peer has no such route). Per point: req/s, p50/p99,
# errors (socket errors + non-2xx), server RSS at the start and end of the point, server CPU ms per
# request (user+sys of the whole process over the point: a load-independent cost), and for pixseek
# uploads where a query's time went (/metrics: decode+preprocess, queue wait, model run; ms per query).
# Ends with summary lines: pixseek/peer req/s ratios and the issue's targets, each "met" or "NOT met".
# Env: DURATION [30] CONCURRENCY ["1 8 64"] N_TOTAL [100000] PORT [18080] SEED_PORT [15080]
#      SEED_MODE [batched] (the peer's non-straw-man mode; "single" = tutorial code path) WORK [/tmp/pixseek-bench-http]
#      SERVE_ARGS [none] extra `pixseek serve` options: SERVE_ARGS="--threads 2 --query-batch 8" bench/http.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
SHARED=${PXS_SHARED:-$root/../shared}
DURATION=${DURATION:-30}
CONCURRENCY=${CONCURRENCY:-"1 8 64"}
N_TOTAL=${N_TOTAL:-100000}
PORT=${PORT:-18080}
SEED_PORT=${SEED_PORT:-15080}
SEED_MODE=${SEED_MODE:-batched}
WORK=${WORK:-/tmp/pixseek-bench-http}
PY=/usr/bin/python3
SEED=$SHARED/baselines/seed_replica
COREL=$SHARED/data/corel1k_wang/images
MODEL=$SHARED/models/mobilenet_v2_embed.onnx

scripts/deps.sh --bench
missing=""
for m in flask torch torchvision faiss numpy PIL onnx; do $PY -c "import $m" 2>/dev/null || missing+=" $m"; done
if [[ -n $missing ]]; then
  echo "bench/http.sh: installing Debian python packages for the peer (missing:$missing)" >&2
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get install -y -qq python3-flask python3-torch python3-torchvision python3-faiss python3-numpy \
    python3-pil python3-onnx >/dev/null
fi

make -j2 >/dev/null
make bench-http_fill >/dev/null
BIN=$root/build/release-cc/pixseek
FILL=$root/build/release-cc/bench/http_fill
mkdir -p "$WORK"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(the machine is shared: other jobs may be running; both servers are measured in this one run)"

# ---- data ----------------------------------------------------------------------------------------
stamp="$WORK/ready-$N_TOTAL"
if [[ ! -e $stamp ]]; then
  rm -rf "$WORK/px" "$WORK/seed" "$WORK"/ready-*
  "$BIN" index --quiet --model "$MODEL" --model-config "$root/models/mobilenet_v2_embed.onnx.json" \
    --data "$WORK/px" "$COREL"
  "$FILL" --data "$WORK/px" --total "$N_TOTAL" --vectors "$WORK/vectors.f32" --paths "$WORK/paths.txt"
  $PY bench/http_seed_data.py "$WORK/vectors.f32" "$WORK/paths.txt" 1280 "$WORK/seed"
  rm -f "$WORK/vectors.f32"
  touch "$stamp"
fi
ls "$COREL"/*.jpg | sort | awk 'NR % 10 == 1' | head -100 >"$WORK/queries.txt"
export SEED_REPLICA_WEIGHTS=${SEED_REPLICA_WEIGHTS:-/tmp/seed_replica/mobilenet_v2_embed_torch.pt}
if [[ ! -f $SEED_REPLICA_WEIGHTS ]]; then
  mkdir -p "$(dirname "$SEED_REPLICA_WEIGHTS")"
  (cd "$SEED" && PYTHONDONTWRITEBYTECODE=1 $PY convert_onnx.py "$MODEL" "$SEED_REPLICA_WEIGHTS" >/dev/null)
fi

rss_mb() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# query_seconds URL: "decode wait model embeddings" from pixseek's /metrics (zeros for the peer)
query_seconds() {
  curl -s "$1/metrics" 2>/dev/null | awk '
    $1 == "pixseek_query_decode_seconds_total" {d = $2} $1 == "pixseek_query_wait_seconds_total" {w = $2}
    $1 == "pixseek_query_model_seconds_total" {m = $2} $1 == "pixseek_query_embeddings_total" {n = $2}
    END {printf "%s %s %s %s\n", d + 0, w + 0, m + 0, n + 0}'
}
# (the first pixseek start after the fill builds the HNSW index and writes <data>/indexes/images.pxi)
wait_up() { for _ in $(seq 1 1500); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; return 1; }
# settle PID: wait (at most 12 s) until the server has used no CPU for 0.3 s, so requests still
# running when wrk stopped (up to c of them: each connection has its own thread) are not
# counted in the next point
settle() {
  local a b
  for _ in $(seq 1 40); do
    a=$(cpu_ticks "$1"); sleep 0.3; b=$(cpu_ticks "$1")
    [[ $a == "$b" ]] && return 0
  done
}
results=()
# run NAME PID URL LUA ARGS... : wrk at every concurrency; appends
# "name c rps p50 p99 errors rss_start rss_end cpu_ms_per_req decode_ms wait_ms model_ms"
run() {
  local name=$1 pid=$2 url=$3 lua=$4; shift 4
  for c in $CONCURRENCY; do
    local t=$(( c < 2 ? 1 : 2 ))
    local out rss0 rss1 cpu0 cpu1 q0 q1 row rps p50 p99 err r0 r1 cpu dec wt mdl
    settle "$pid"
    rss0=$(rss_mb "$pid"); cpu0=$(cpu_ticks "$pid"); q0=$(query_seconds "$url")
    out=$(wrk -t$t -c"$c" -d"${DURATION}s" --timeout 10s -s "$lua" "$url" -- "$@" | grep WRK_JSON | sed 's/WRK_JSON //')
    rss1=$(rss_mb "$pid"); cpu1=$(cpu_ticks "$pid"); q1=$(query_seconds "$url")
    row=$($PY - "$out" "$rss0" "$rss1" "$cpu0" "$cpu1" "$(getconf CLK_TCK)" "$q0" "$q1" <<'PYEOF'
import json, sys
d = json.loads(sys.argv[1])
rss0, rss1, cpu0, cpu1, tck = (float(x) for x in sys.argv[2:7])
q0, q1 = ([float(x) for x in a.split()] for a in sys.argv[7:9])
n = max(d["requests"], 1)
nq = q1[3] - q0[3]
per_q = ["%.2f" % ((q1[i] - q0[i]) * 1e3 / nq) if nq > 0 else "-" for i in range(3)]
print("%.1f %.2f %.2f %d %d %d %.2f %s" % (d["rps"], d["p50_ms"], d["p99_ms"], d["errors"] + d["non2xx"],
      rss0, rss1, (cpu1 - cpu0) / tck * 1e3 / n, " ".join(per_q)))
PYEOF
)
    results+=("$name $c $row")
    read -r rps p50 p99 err r0 r1 cpu dec wt mdl <<<"$row"
    printf '  %-16s c=%-3s %8s req/s  p50 %7s ms  p99 %7s ms  errors %s  RSS %s -> %s MB  CPU %s ms/req' \
      "$name" "$c" "$rps" "$p50" "$p99" "$err" "$r0" "$r1" "$cpu"
    if [[ $dec == - ]]; then echo; else echo "  (per query: decode $dec, wait $wt, model $mdl ms)"; fi
  done
}

# ---- pixseek ------------------------------------------------------------------------------------------
t_start=$(date +%s.%N)
# shellcheck disable=SC2086
"$BIN" serve --data "$WORK/px" --port "$PORT" ${SERVE_ARGS:-} 2>"$WORK/px.log" &
px=$!
trap 'kill $px 2>/dev/null || true; [[ -n ${sp:-} ]] && kill $sp 2>/dev/null || true' EXIT
wait_up "http://127.0.0.1:$PORT/healthz" || { cat "$WORK/px.log"; exit 1; }
count=$(curl -s -X POST "http://127.0.0.1:$PORT/img/count")
itype=$(curl -s "http://127.0.0.1:$PORT/api/stats" | $PY -c "import json,sys; print(json.load(sys.stdin).get('index_type','?'))")
echo "pixseek serve ${SERVE_ARGS:-}: $count vectors, $itype index, up in $(echo "$(date +%s.%N) - $t_start" | bc | cut -c1-5) s; RSS $(rss_mb $px) MB at start"
cmax=$(printf '%s\n' $CONCURRENCY | sort -n | tail -1)
# warm-up at the highest concurrency: every model instance and arena the run will use exists before it
wrk -t$(( cmax < 2 ? 1 : 2 )) -c"$cmax" -d5s --timeout 10s -s bench/http_search.lua "http://127.0.0.1:$PORT" -- "$WORK/queries.txt" >/dev/null
px_rss0=$(rss_mb $px)
run pixseek-upload $px "http://127.0.0.1:$PORT" bench/http_search.lua "$WORK/queries.txt" 10
run pixseek-by-id $px "http://127.0.0.1:$PORT" bench/http_byid.lua "$count" 10
px_rss1=$(rss_mb $px)
kill $px; wait $px 2>/dev/null || true

# ---- the Python peer --------------------------------------------------------------------------------------
(cd "$SEED" && PYTHONDONTWRITEBYTECODE=1 exec $PY server.py --host 127.0.0.1 --port "$SEED_PORT" \
   --data-dir "$WORK/seed" --mode "$SEED_MODE" --weights "$SEED_REPLICA_WEIGHTS" >"$WORK/seed.log" 2>&1) &
sp=$!
wait_up "http://127.0.0.1:$SEED_PORT/progress" || { tail "$WORK/seed.log"; exit 1; }
spid=$(pgrep -P $sp -f server.py || echo $sp)
echo "seed ($SEED_MODE): $(curl -s -X POST "http://127.0.0.1:$SEED_PORT/img/count") vectors"
wrk -t1 -c2 -d3s -s bench/http_search.lua "http://127.0.0.1:$SEED_PORT" -- "$WORK/queries.txt" >/dev/null
sd_rss0=$(rss_mb $spid)
run seed-upload "$spid" "http://127.0.0.1:$SEED_PORT" bench/http_search.lua "$WORK/queries.txt" 10
sd_rss1=$(rss_mb $spid)
kill $sp 2>/dev/null; wait $sp 2>/dev/null || true

# ---- table and summary ----------------------------------------------------------------------------------------
echo
echo "| server | route | c | req/s | p50 ms | p99 ms | errors | RSS MB start -> end | CPU ms/req |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in "${results[@]}"; do
  read -r name c rps p50 p99 err r0 r1 cpu _ <<<"$r"
  case $name in
    pixseek-upload) s="pixseek"; route="/img/search (upload, MobileNetV2)";;
    pixseek-by-id) s="pixseek"; route="/api/search {id} (no embedding)";;
    seed-upload) s="Python seed ($SEED_MODE)"; route="/img/search (upload, MobileNetV2)";;
  esac
  echo "| $s | $route | $c | $rps | $p50 | $p99 | $err | $r0 -> $r1 | $cpu |"
done
echo
echo "RSS: pixseek ${px_rss0} -> ${px_rss1} MB, Python seed ${sd_rss0} -> ${sd_rss1} MB (before -> after all runs)"
# summary lines: ratios per concurrency, then each target of issue 6 met or not
printf '%s\n' "${results[@]}" >"$WORK/results.txt"
$PY - "$CONCURRENCY" "$WORK/results.txt" <<'PYEOF'
import sys
rows = {}
for line in open(sys.argv[2]):
    f = line.split()
    rows[(f[0], f[1])] = f
cs = sys.argv[1].split()
def verdict(ok): return "met" if ok else "NOT met"
ratios = []
for c in cs:
    p, s = rows.get(("pixseek-upload", c)), rows.get(("seed-upload", c))
    if p and s:
        r = float(p[2]) / float(s[2]) if float(s[2]) > 0 else float("inf")
        ratios.append(r)
        print("summary c=%s: pixseek %s req/s (p99 %s ms, CPU %s ms/req), seed %s req/s: ratio %.2fx"
              % (c, p[2], p[4], p[8], s[2], r))
if ("pixseek-upload", "8") in rows:
    p99 = float(rows[("pixseek-upload", "8")][4])
    print("summary target p99 <= 25 ms at c=8 with embedding: %.2f ms, %s" % (p99, verdict(p99 <= 25)))
if ratios:
    print("summary target >= 10x the seed's req/s: lowest %.2fx, %s" % (min(ratios), verdict(min(ratios) >= 10)))
errs = sum(int(f[5]) for k, f in rows.items() if k[0].startswith("pixseek"))
print("summary target no errors: pixseek %d, %s" % (errs, verdict(errs == 0)))
up = [rows[("pixseek-upload", c)] for c in cs if ("pixseek-upload", c) in rows]
if len(up) > 1:
    # stable: after the warm-up at the highest concurrency (every model instance and arena
    # exists), RSS grows by less than 5 % from the start of the first upload point to the end of the last
    a, b = float(up[0][6]), float(up[-1][7])
    print("summary target RSS stable (uploads, start of first -> end of last point): %.0f -> %.0f MB, %s"
          % (a, b, verdict(b <= a * 1.05)))
PYEOF
exit 0
