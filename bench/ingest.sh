#!/usr/bin/env bash
# bench/ingest.sh — end-to-end ingest throughput and peak memory, pixseek next
# to the Python service of the Milvus-bootcamp tutorials
# (../shared/baselines/seed_replica: Flask, PIL, PyTorch MobileNetV2 with the
# same weights, FAISS), same machine, same run, same photos:
#   corel1k   the 1000 Corel-1k photos (384x256)
#   large     LARGE_N (default 60) >= 12 MP JPEGs made here from Corel photos
# The replica ingests through its own POST /img/load (modes single and
# batched); pixseek through `pixseek index` with MobileNetV2. Ends with one
# summary line per image set: pixseek img/s, the best Python mode's img/s,
# ratio; and, because the machine is often shared, the CPU seconds each
# spent per image (user + system, less sensitive to other load than wall
# time) and that ratio. Command: bench/ingest.sh [PIXSEEK_BIN]   (about 5-10 minutes)
# Environment: INDEX_ARGS extra `pixseek index` options (e.g. "--batch 16",
# or a precision option), SETS=corel1k|large|"corel1k large" (default both),
# LARGE_N, WORK, PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin=${1:-build/release-cc/pixseek}
shared=$(cd "${PXS_SHARED:-../shared}" && pwd)
replica=$shared/baselines/seed_replica
PY=/usr/bin/python3
PORT=${PORT:-5077}
LARGE_N=${LARGE_N:-60}
work=${WORK:-/tmp/pixseek-ingest-bench}
export SEED_REPLICA_WEIGHTS=/tmp/seed_replica/mobilenet_v2_embed_torch.pt

need=(python3-flask python3-torch python3-torchvision python3-pil python3-numpy python3-faiss python3-onnx libvips-tools time)
missing=()
for p in "${need[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [[ ${#missing[@]} -gt 0 ]]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[[ -x $bin ]] || make -s -j"$(nproc)" "$bin"
mkdir -p "$work" /tmp/seed_replica
if [[ ! -f $SEED_REPLICA_WEIGHTS ]]; then
  (cd "$replica" && $PY convert_onnx.py "$shared/models/mobilenet_v2_embed.onnx" "$SEED_REPLICA_WEIGHTS" >/dev/null)
fi

# The large set: Corel photos upscaled to 4256x2832 (12 MP), quality 90.
large=$work/large
if [[ $(ls "$large" 2>/dev/null | wc -l) -ne $LARGE_N ]]; then
  rm -rf "$large"; mkdir -p "$large"
  for i in $(seq 0 $((LARGE_N - 1))); do
    vips resize "$shared/data/corel1k_wang/images/$((i * 16)).jpg" "$large/big_$i.jpg[Q=90]" 11.08 >/dev/null
  done
fi
sets=()
for name in ${SETS:-corel1k large}; do
  case $name in
    corel1k) sets+=("corel1k:$shared/data/corel1k_wang/images") ;;
    large) sets+=("large:$large") ;;
    *) echo "bench/ingest.sh: unknown set '$name' in SETS (corel1k, large)" >&2; exit 2 ;;
  esac
done
read -r -a index_args <<<"${INDEX_ARGS:-}"
[[ ${#index_args[@]} -gt 0 ]] && echo "pixseek index options: ${index_args[*]}"

declare -A rate rss cpu
TICKS=$(getconf CLK_TCK)
proc_cpu() { awk -v t="$TICKS" '{print ($14 + $15) / t}' "/proc/$1/stat"; } # utime + stime, seconds
run_pixseek() { # name dir
  local data=$work/pixseek-$1
  rm -rf "$data"
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M %U %S" -o "$work/rss.txt" "$bin" index --quiet --data "$data" \
    --model "$shared/models/mobilenet_v2_embed.onnx" --model-config "$root/models/mobilenet_v2_embed.onnx.json" \
    ${index_args[@]+"${index_args[@]}"} "$2" 2>"$work/pixseek.err" || { cat "$work/pixseek.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  local n
  n=$(find "$2" -type f | wc -l)
  rate[pixseek,$1]=$("$PY" -c "print(f'{$n / ($t1 - $t0):.1f}')")
  read -r kb user sys < <(tail -n 1 "$work/rss.txt")
  rss[pixseek,$1]=$(( kb / 1024 ))
  cpu[pixseek,$1]=$("$PY" -c "print(f'{1000 * ($user + $sys) / $n:.1f}')")
}

run_replica() { # mode name dir
  local data=$work/replica-$1-$2
  rm -rf "$data"
  (cd "$replica" && exec $PY server.py --port $PORT --data-dir "$data" --mode "$1" --threads 2) >"$work/replica.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/progress" >/dev/null 2>&1 && break; sleep 0.2; done
  local cpu0; cpu0=$(proc_cpu "$pid")
  curl -sf -X POST -H 'Content-Type: application/json' -d "{\"Table\":\"b\",\"File\":\"$3\"}" \
    "http://127.0.0.1:$PORT/img/load" >/dev/null
  local peak=0 status
  for _ in $(seq 1 3600); do
    status=$(curl -sf "http://127.0.0.1:$PORT/img/load/status" || echo '{}')
    local r; r=$(awk '/VmHWM/{print $2}' /proc/$pid/status 2>/dev/null || echo 0)
    (( r > peak )) && peak=$r
    "$PY" -c "import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if s and not s.get('running') and s.get('elapsed_s') else 1)" "$status" && break
    sleep 0.5
  done
  rate[$1,$2]=$("$PY" -c "import json,sys; s=json.loads(sys.argv[1]); print(f\"{s['inserted'] / s['elapsed_s']:.1f}\")" "$status")
  rss[$1,$2]=$((peak / 1024))
  cpu[$1,$2]=$("$PY" -c "import json,sys; s=json.loads(sys.argv[1]); print(f\"{1000 * ($(proc_cpu "$pid") - $cpu0) / s['inserted']:.1f}\")" "$status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for s in "${sets[@]}"; do
  name=${s%%:*}; dir=${s#*:}
  echo "== $name ($(find "$dir" -type f | wc -l) files)"
  echo "   load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  run_pixseek "$name" "$dir";    echo "pixseek           ${rate[pixseek,$name]} img/s  ${cpu[pixseek,$name]} CPU ms/img  peak RSS ${rss[pixseek,$name]} MiB"
  run_replica single "$name" "$dir";  echo "python single     ${rate[single,$name]} img/s  ${cpu[single,$name]} CPU ms/img  peak RSS ${rss[single,$name]} MiB"
  run_replica batched "$name" "$dir"; echo "python batched    ${rate[batched,$name]} img/s  ${cpu[batched,$name]} CPU ms/img  peak RSS ${rss[batched,$name]} MiB"
  echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo
for s in "${sets[@]}"; do
  name=${s%%:*}
  "$PY" - "$name" "${rate[pixseek,$name]}" "${rate[single,$name]}" "${rate[batched,$name]}" \
    "${cpu[pixseek,$name]}" "${cpu[single,$name]}" "${cpu[batched,$name]}" <<'PYEOF'
import sys
name, p, s, b, cp, cs, cb = sys.argv[1], *map(float, sys.argv[2:])
best, mode, cbest = max((s, "single", cs), (b, "batched", cb))
print(f"{name}: pixseek {p:.1f} img/s, python ({mode}) {best:.1f} img/s, ratio {p / best:.2f}"
      f" | CPU per image {cp:.1f} ms vs {cbest:.1f} ms, ratio {cbest / cp:.2f}")
PYEOF
done
