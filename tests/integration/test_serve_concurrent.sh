# tests/integration/test_serve_concurrent.sh — `pixseek serve` with MobileNetV2 and an
# HNSW image index under concurrent uploads: the index choice is remembered and its
# file written, 12 simultaneous /img/search requests (8 HTTP threads, so the query
# embedding queue batches them) all succeed and rank exactly as the same queries one
# at a time, /metrics counts the embeddings and the model runs they took, a restart
# loads the index file instead of rebuilding, and with the default thread per
# connection 24 requests completed at the same instant on 24 keep-alive connections
# reach the engine together (batched into fewer model runs than a 2-thread pool allows).
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
start() { # [--http-threads N]
  "$PXS_BIN" serve --data "$WORK/data" --port $port "$@" --query-wait 20000 \
    --log-level info 2>"$WORK/serve.err" &
  pid=$!
  cleanup_hooks+=("kill -9 $pid 2>/dev/null")
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$base/healthz" && return 0; sleep 0.1; done
  cat "$WORK/serve.err"; fail "server did not come up"
}
stop() { kill -TERM $pid; wait $pid || fail "server exit status $?"; }
start --http-threads 8
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
grep -q "a thread per connection" "$WORK/serve.err" || fail "default is not a thread per connection: $(cat "$WORK/serve.err")"
curl -s -o "$WORK/again.json" -F "image=@$src/300.jpg" -F topk=5 "$base/img/search"
[[ "$(json_eval "$WORK/again.json" "rows")" == "$(json_eval "$WORK/one-300.json" "rows")" ]] || fail "answers changed after restart"
pass "restart loads the index file, same answers"

# 24 keep-alive connections (each query twice) each send all of a search but its last
# byte, then the last bytes go out together: with a thread per connection all 24 are in
# the engine at once and the queue batches them (up to 4 a run: 6 runs, a few more when
# a run starts before the rest arrive); a pool of 2 threads would let at most 2 in at a
# time (12 or more runs). Answers still equal the sequential ones.
b0=$(curl -s "$base/metrics" | awk '/^pixseek_query_batches_total/ {print $2}')
"$PY" - "$port" "$src" "$WORK" "${queries[@]}" "${queries[@]}" <<'PYEOF' || fail "simultaneous requests on keep-alive connections"
import json, socket, sys
port, src, work, qs = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
bd = "pxsTestBoundary7"
conns = []
for q in qs:
    img = open("%s/%s.jpg" % (src, q), "rb").read()
    body = (("--%s\r\nContent-Disposition: form-data; name=\"image\"; filename=\"q.jpg\"\r\n"
             "Content-Type: image/jpeg\r\n\r\n" % bd).encode() + img +
            ("\r\n--%s\r\nContent-Disposition: form-data; name=\"topk\"\r\n\r\n5\r\n--%s--\r\n" % (bd, bd)).encode())
    req = ("POST /img/search HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=%s\r\n"
           "Content-Length: %d\r\n\r\n" % (bd, len(body))).encode() + body
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(req[:-1])
    conns.append((q, s, req[-1:]))
for q, s, last in conns:
    s.sendall(last)
for q, s, _ in conns:
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    status = head.split(b" ")[1]
    n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0])
    while len(rest) < n:
        rest += s.recv(65536)
    got = [p for p, d in json.loads(rest)]
    want = [p for p, d in json.load(open("%s/one-%s.json" % (work, q)))]
    if status != b"200" or got != want:
        sys.exit("query %s: status %s, %s != %s" % (q, status, got, want))
PYEOF
b1=$(curl -s "$base/metrics" | awk '/^pixseek_query_batches_total/ {print $2}')
runs=$((b1 - b0))
[[ $runs -ge 6 && $runs -le 10 ]] || fail "24 simultaneous searches took $runs model runs (expected 6..10: not served in parallel?)"
stop
pass "default thread per connection: 24 simultaneous searches in $runs model runs, same answers"
