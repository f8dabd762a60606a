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
# /api/search {"id"}: search only, no embedding; the peer has no such route). Prints p50/p99 latency, req/s,
# errors and server RSS before/after, and the pixseek/peer ratios.
# Env: DURATION [30] CONCURRENCY ["1 8 64"] N_TOTAL [100000] PORT [18080] SEED_PORT [15080]
#      SEED_MODE [batched] (the peer's non-straw-man mode; "single" = tutorial code path) WORK [/tmp/pixseek-bench-http]
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
# (the first pixseek start after the fill builds the HNSW index and writes <data>/indexes/images.pxi)
wait_up() { for _ in $(seq 1 1500); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; return 1; }
results=()
# run NAME LUA ARGS... : wrk at every concurrency, appends "name c rps p50 p99 errors"
run() {
  local name=$1 url=$2 lua=$3; shift 3
  for c in $CONCURRENCY; do
    local t=$(( c < 2 ? 1 : 2 ))
    local out
    out=$(wrk -t$t -c"$c" -d"${DURATION}s" --timeout 10s -s "$lua" "$url" -- "$@" | grep WRK_JSON | sed 's/WRK_JSON //')
    local row
    row=$($PY -c "import json,sys; d=json.loads(sys.argv[1]); print('%.1f %.2f %.2f %d' % (d['rps'], d['p50_ms'], d['p99_ms'], d['errors'] + d['non2xx']))" "$out")
    results+=("$name $c $row")
    printf '  %-24s c=%-3s %s\n' "$name" "$c" "$row"
  done
}

# ---- pixseek ------------------------------------------------------------------------------------------
t_start=$(date +%s.%N)
"$BIN" serve --data "$WORK/px" --port "$PORT" 2>"$WORK/px.log" &
px=$!
trap 'kill $px 2>/dev/null || true; [[ -n ${sp:-} ]] && kill $sp 2>/dev/null || true' EXIT
wait_up "http://127.0.0.1:$PORT/healthz" || { cat "$WORK/px.log"; exit 1; }
count=$(curl -s -X POST "http://127.0.0.1:$PORT/img/count")
itype=$(curl -s "http://127.0.0.1:$PORT/api/stats" | $PY -c "import json,sys; print(json.load(sys.stdin).get('index_type','?'))")
echo "pixseek: $count vectors, $itype index, up in $(echo "$(date +%s.%N) - $t_start" | bc | cut -c1-5) s; RSS $(rss_mb $px) MB at start"
wrk -t1 -c2 -d3s -s bench/http_search.lua "http://127.0.0.1:$PORT" -- "$WORK/queries.txt" >/dev/null
px_rss0=$(rss_mb $px)
run pixseek-upload "http://127.0.0.1:$PORT" bench/http_search.lua "$WORK/queries.txt" 10
run pixseek-by-id "http://127.0.0.1:$PORT" bench/http_byid.lua "$count" 10
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
run seed-upload "http://127.0.0.1:$SEED_PORT" bench/http_search.lua "$WORK/queries.txt" 10
sd_rss1=$(rss_mb $spid)
kill $sp 2>/dev/null; wait $sp 2>/dev/null || true

# ---- table ----------------------------------------------------------------------------------------------------
echo
echo "| server | route | c | req/s | p50 ms | p99 ms | errors |"
echo "|---|---|---|---|---|---|---|"
for r in "${results[@]}"; do
  read -r name c rps p50 p99 err <<<"$r"
  case $name in
    pixseek-upload) s="pixseek"; route="/img/search (upload, MobileNetV2)";;
    pixseek-by-id) s="pixseek"; route="/api/search {id} (no embedding)";;
    seed-upload) s="Python seed ($SEED_MODE)"; route="/img/search (upload, MobileNetV2)";;
  esac
  echo "| $s | $route | $c | $rps | $p50 | $p99 | $err |"
done
echo
echo "RSS: pixseek ${px_rss0} -> ${px_rss1} MB, Python seed ${sd_rss0} -> ${sd_rss1} MB (before -> after the runs)"
for c in $CONCURRENCY; do
  p=$(printf '%s\n' "${results[@]}" | awk -v c="$c" '$1=="pixseek-upload" && $2==c {print $3}')
  s=$(printf '%s\n' "${results[@]}" | awk -v c="$c" '$1=="seed-upload" && $2==c {print $3}')
  awk -v c="$c" -v p="$p" -v s="$s" 'BEGIN { printf "c=%s: pixseek/seed req/s = %.2fx\n", c, (s > 0 ? p / s : 0) }'
done
exit 0
