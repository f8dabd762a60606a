# tests/integration/test_web.sh — the web UI end to end in headless chromium
# (tests/node/web_e2e.js via playwright-core): index a folder from the page
# and watch its progress, search by upload, details (tags edited, the
# original), the filter control (tag filter, inline parse error, examples),
# "more like this",
# paging and the similarity threshold, the duplicates view, the error shown
# for a text file, cancelling a job, and a phone-sized window without
# horizontal overflow. Built-in descriptor (no model) to stay fast.
# Screenshots go to build/web-screenshots/.
source "$(dirname "$0")/lib.sh"
need_shared data/corel1k_wang/images/0.jpg
repo=$(cd "$(dirname "$0")/../.." && pwd)
bash "$repo/scripts/node_deps.sh" || fail "scripts/node_deps.sh could not install node, chromium or playwright-core"

src=$PXS_SHARED/data/corel1k_wang/images
root=$WORK/root
mkdir -p "$root/photos/more" "$root/big"
# 16 photos from several classes (two pages of 12), an exact copy, a text file
n=0
for i in 0 1 2 3 100 101 102 200 201 300 301 400 500 600 700; do cp "$src/$i.jpg" "$root/photos/"; n=$((n + 1)); done
cp "$src/900.jpg" "$root/photos/more/"; n=$((n + 1))
cp "$src/100.jpg" "$root/photos/more/copy-of-100.jpg"
printf 'these are my notes, not a picture\n' >"$root/photos/notes.jpg"
printf 'plain text\n' >"$WORK/notes.txt"
# a folder big enough that the cancel button is pressed while it runs
cp "$src"/*.jpg "$root/big/"

# a free port: the kernel picks one for a socket bound to port 0
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
TOKEN=web-test-token
"$PXS_BIN" serve --data "$WORK/data" --port $port --root "$root" --token "$TOKEN" \
  2>"$WORK/serve.err" &
pid=$!
cleanup_hooks+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$base/healthz" >/dev/null || { cat "$WORK/serve.err"; fail "server did not come up"; }

shots=$repo/build/web-screenshots
NODE_PATH=$repo/tests/node/node_modules timeout 120 node "$repo/tests/node/web_e2e.js" \
  --base "$base" --photos "$root/photos" --big "$root/big" --query "$root/photos/100.jpg" \
  --text "$WORK/notes.txt" --copy copy-of-100.jpg --token "$TOKEN" --shots "$shots" \
  --expect-added $n || { tail -n 20 "$WORK/serve.err"; fail "web UI end-to-end test"; }
kill -0 $pid 2>/dev/null || fail "server died during the UI test"
kill -TERM $pid; wait $pid || fail "server exit status $? after SIGTERM"
grep -q 'AddressSanitizer\|runtime error\|LeakSanitizer' "$WORK/serve.err" && fail "sanitizer report: $(cat "$WORK/serve.err")"
pass "web UI end to end (screenshots in $shots)"
