# tests/integration/test_serve.sh — `pixseek serve` end to end through the
# binary: health, upload search (bootcamp shape), thumbnails, the web page,
# a bad upload answered with a JSON 4xx, clean shutdown on SIGTERM.
source "$(dirname "$0")/lib.sh"
need_shared data/corel1k_wang/images/0.jpg
src=$PXS_SHARED/data/corel1k_wang/images
mkdir -p "$WORK/photos"
for i in 0 1 2 100 101 300 301 500 700 900; do cp "$src/$i.jpg" "$WORK/photos/"; done
"$PXS_BIN" index --quiet --data "$WORK/data" "$WORK/photos" || fail "index"

port=$((20000 + $$ % 20000))
"$PXS_BIN" serve --data "$WORK/data" --port $port 2>"$WORK/serve.err" &
pid=$!
cleanup_hooks+=("kill -9 $pid 2>/dev/null")
base=http://127.0.0.1:$port
for _ in $(seq 1 50); do curl -sf "$base/healthz" >"$WORK/h.json" 2>/dev/null && break; sleep 0.1; done
[[ -s "$WORK/h.json" ]] || { cat "$WORK/serve.err"; fail "server did not come up"; }
grep -q '"status":"ok"' "$WORK/h.json" || fail "healthz: $(cat "$WORK/h.json")"

code=$(curl -s -o "$WORK/s.json" -w '%{http_code}' -F "image=@$src/100.jpg" -F topk=3 "$base/img/search")
[[ $code == 200 ]] || fail "search status $code: $(cat "$WORK/s.json")"
top=$(json_eval "$WORK/s.json" "rows[0][0][0]")
[[ $(basename "$top") == 100.jpg ]] || fail "top result $top"
[[ $(json_eval "$WORK/s.json" "len(rows[0])") -eq 3 ]] || fail "topk=3 not honoured"
pass "POST /img/search returns [path, distance] pairs, best first"

code=$(curl -s -o "$WORK/bad.json" -w '%{http_code}' -F "image=@$WORK/h.json" "$base/img/search")
[[ $code =~ ^4 ]] || fail "non-image upload status $code"
grep -q '"message"' "$WORK/bad.json" || fail "error body: $(cat "$WORK/bad.json")"
pass "non-image upload -> $code with a JSON error"

# (not piped into grep -q: under pipefail curl's SIGPIPE after an early grep exit would fail it)
curl -sf -o "$WORK/page.html" "$base/" && grep -qi '<html' "$WORK/page.html" || fail "web page"
id=$(curl -s -F "image=@$src/0.jpg" "$base/api/search" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["id"])') \
  || fail "/api/search"
curl -sf -o "$WORK/thumb.jpg" "$base/api/thumbnail/$id" || fail "thumbnail download"
[[ $(od -An -tx1 -N2 "$WORK/thumb.jpg") == " ff d8" ]] || fail "thumbnail is not a JPEG"
pass "web page, /api/search and thumbnails"

kill -TERM $pid
for _ in $(seq 1 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "server did not stop on SIGTERM"
wait $pid; status=$?
[[ $status -eq 0 ]] || fail "server exit status $status"
pass "clean shutdown"
