# tests/integration/test_serve_concurrent.sh — `pixseek serve` with MobileNetV2 and an
# HNSW image index under concurrent uploads: the index choice is remembered and its
# file written, 12 simultaneous /img/search requests (8 HTTP threads, so the query
# embedding queue batches them) all succeed and rank exactly as the same queries one
# at a time, /metrics counts the embeddings and the model runs they took, and a
# restart loads the index file instead of rebuilding.
source "$(dirname "$0")/lib.sh"
need_shared data/corel1k_wang/images/0.jpg
need_shared models/mobilenet_v2_embed.onnx
src=$PXS_SHARED/data/corel1k_wang/images
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$WORK/photos"
for i in $(seq 0 50 950); do cp "$src/$i.jpg" "$WORK/photos/"; done
"$PXS_BIN" index --quiet --index HNSW --threads 1 --model "$PXS_SHARED/models/mobilenet_v2_embed.onnx" \
  --model-config "$root/models/mobilenet_v2_embed.onnx.json" --data "$WORK/data" "$WORK/photos" || fail "index"
[[ -s "$WORK/data/indexes/images.pxi" ]] || fail "no index file after index"

port=$((20000 + ($$ + 7) % 20000))
base=http://127.0.0.1:$port
start() {
  "$PXS_BIN" serve --data "$WORK/data" --port $port --http-threads 8 --query-wait 20000 \
    --log-level info 2>"$WORK/serve.err" &
  pid=$!
  cleanup_hooks+=("kill -9 $pid 2>/dev/null")
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$base/healthz" && return 0; sleep 0.1; done
  cat "$WORK/serve.err"; fail "server did not come up"
}
stop() { kill -TERM $pid; wait $pid || fail "server exit status $?"; }
start
grep -q "rebuilding the image index" "$WORK/serve.err" && fail "index rebuilt at start: $(cat "$WORK/serve.err")"
[[ $(curl -s "$base/api/stats" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["index_type"])') == HNSW ]] \
  || fail "index type not remembered"
pass "HNSW choice remembered, index loaded from its file"

queries=(0 50 100 250 300 450 500 650 700 850 900 950)
for q in "${queries[@]}"; do
  curl -s -o "$WORK/one-$q.json" -F "image=@$src/$q.jpg" -F topk=5 "$base/img/search"
done
for q in "${queries[@]}"; do
  curl -s -o "$WORK/par-$q.json" -w '%{http_code}\n' -F "image=@$src/$q.jpg" -F topk=5 "$base/img/search" >"$WORK/code-$q" &
done
wait_list=$(jobs -p | grep -v "^$pid$")
for j in $wait_list; do wait "$j"; done
for q in "${queries[@]}"; do
  [[ $(cat "$WORK/code-$q") == 200 ]] || fail "concurrent query $q: status $(cat "$WORK/code-$q")"
  [[ "$(json_eval "$WORK/par-$q.json" "[p for p, d in rows[0]]")" == "$(json_eval "$WORK/one-$q.json" "[p for p, d in rows[0]]")" ]] \
    || { cat "$WORK/par-$q.json" "$WORK/one-$q.json"; fail "query $q ranks differently when concurrent"; }
  [[ $(basename "$(json_eval "$WORK/par-$q.json" "rows[0][0][0]")") == $q.jpg ]] || fail "query $q: top is not itself"
done
curl -s "$base/metrics" >"$WORK/m"
n=$(awk '/^pixseek_query_embeddings_total/ {print $2}' "$WORK/m")
b=$(awk '/^pixseek_query_batches_total/ {print $2}' "$WORK/m")
[[ $n -eq 24 ]] || fail "query embeddings $n, expected 24"
[[ $b -ge 1 && $b -le 24 ]] || fail "query batches $b"
pass "12 concurrent uploads rank as sequential ones ($n embeddings in $b model runs)"
# where the queries' time went: decoding and model runs took some, and no single query
# spent more than the whole test in either
for stage in decode model; do
  s=$(awk -v k="pixseek_query_${stage}_seconds_total" '$1 == k {print $2}' "$WORK/m")
  "$PY" -c "import sys; s = float(sys.argv[1]); sys.exit(0 if 0 < s < 24 * 60 else 1)" "${s:-x}" \
    || fail "pixseek_query_${stage}_seconds_total is '$s'"
done
grep -q '^pixseek_query_wait_seconds_total [0-9.]*$' "$WORK/m" || fail "no wait seconds in /metrics"
pass "/metrics splits the query time into decode, wait and model seconds"

stop
start
grep -q "rebuilding the image index" "$WORK/serve.err" && fail "index rebuilt after restart"
curl -s -o "$WORK/again.json" -F "image=@$src/300.jpg" -F topk=5 "$base/img/search"
[[ "$(json_eval "$WORK/again.json" "rows")" == "$(json_eval "$WORK/one-300.json" "rows")" ]] || fail "answers changed after restart"
stop
pass "restart loads the index file, same answers"
