# tests/integration/test_milvus_sdk.sh — the Milvus REST v2 subset of
# `pixseek serve` (/v2/vectordb/...) driven by the official Milvus Node SDK's
# HttpClient (tests/node/milvus_sdk_test.js: collections, insert, HNSW and
# IVF_FLAT, filtered search against brute force, query, get, upsert, delete,
# partitions, drop, Milvus error codes), then with curl what the SDK never
# sends: malformed and oversize bodies, NUL bytes, wrong methods, unknown
# actions, the token; /metrics and /openapi.json list the v2 routes. With
# the sanitizer build (full suite) the SDK run is repeated against it.
# Needs Node.js and tests/node/node_modules (scripts/node_deps.sh, which
# scripts/test.sh runs first).
source "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
command -v node >/dev/null || fail "node not found: run scripts/node_deps.sh"
[[ -d $root/tests/node/node_modules/@zilliz/milvus2-sdk-node ]] ||
  fail "the Milvus Node SDK is not installed: run scripts/node_deps.sh (needs the npm registry)"

# start_server BIN LOG: a fresh server with a Milvus-style token, sets $base and $pid
start_server() {
  local bin=$1 log=$2
  port=$((20000 + ($$ * 11 + RANDOM) % 20000))
  base=http://127.0.0.1:$port
  PIXSEEK_TOKEN=root:Milvus "$bin" serve --data "$WORK/data-$(basename "$log")" --port $port \
    --max-body 300000 2>"$log" &
  pid=$!
  cleanup_hooks+=("kill -9 $pid 2>/dev/null")
  for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf "$base/healthz" >/dev/null || { cat "$log"; fail "server did not come up"; }
}

start_server "$PXS_BIN" "$WORK/serve.err"
node "$root/tests/node/milvus_sdk_test.js" "$base" root Milvus || fail "Milvus Node SDK checks"
pass "Milvus Node SDK HttpClient against pixseek serve"

AUTH=(-H "Authorization: Bearer root:Milvus")
# v2 PATH HTTP_STATUS MILVUS_CODE [curl args...]: one request, both codes checked
v2() {
  local p=$1 want_http=$2 want_code=$3; shift 3
  local http
  http=$(curl -s -o "$WORK/b" -w '%{http_code}' -X POST "$@" "$base/v2/vectordb/$p")
  [[ $http == "$want_http" ]] || fail "$p: HTTP $http, expected $want_http: $(cat "$WORK/b")"
  "$PY" -c "import json,sys; d=json.load(open('$WORK/b')); assert d['code'] == $want_code, d; \
assert $want_code == 0 or d['message'], d" || fail "$p: expected code $want_code: $(cat "$WORK/b")"
  curl -sf "$base/healthz" >/dev/null || fail "server down after $p"
}
curl_checks() { # what the SDK never sends, against the server at $base
  V2=$base/v2/vectordb
  v2 collections/create 200 0 "${AUTH[@]}" -H 'Content-Type: text/plain' \
    -d '{"collectionName":"c","dimension":4,"metricType":"L2"}'
  v2 entities/insert 200 0 "${AUTH[@]}" -d '{"collectionName":"c","data":[{"id":7,"vector":[1,0,0,0]}]}'
  v2 entities/query 200 0 -H 'Accept-Type-Allow-Int64: true' -d '{"collectionName":"c","filter":"id == 7"}'
  "$PY" -c "import json; d=json.load(open('$WORK/b')); assert d['data'] == [{'id': 7, 'vector': [1.0, 0.0, 0.0, 0.0]}], d" ||
    fail "query with Accept-Type-Allow-Int64: $(cat "$WORK/b")"
  pass "any Content-Type, int64 as numbers on request"

  v2 entities/insert 200 1801 "${AUTH[@]}" -d '{"collectionName":"c","data":[{"id":8,'
  v2 entities/insert 200 1801 "${AUTH[@]}" -d '[{"collectionName":"c"}]'
  v2 entities/search 200 1801 -d ''
  v2 entities/search 200 1801 -d '{"collectionName":"c","data":[[1,0,0,0]]} trailing'
  printf '{"collectionName":"c\0","data":[[1,0,0,0]]}' >"$WORK/nul.json"
  v2 entities/search 200 1801 --data-binary @"$WORK/nul.json"
  v2 entities/search 200 1801 -d '{"collectionName":"c","data":[[1,0,0,0]],"limit":2.5}'
  v2 entities/search 200 1801 -d '{"collectionName":"c","data":[[1,0,0,0]],"outputFields":[1]}'
  v2 entities/search 200 1802 -d '{"data":[[1,0,0,0]]}'
  v2 entities/search 200 1100 -d '{"collectionName":"c","data":[["a","b","c","d"]]}'
  v2 entities/search 200 1100 -d '{"collectionName":"c","data":[[1,0,0,0]],"limit":100000}'
  v2 entities/delete 200 1802 "${AUTH[@]}" -d '{"collectionName":"c"}'
  v2 collections/describe 200 800 -d '{"collectionName":"c","dbName":"prod"}'
  v2 collections/describe 200 800 -H 'DB-Name: prod' -d '{"collectionName":"c"}'
  pass "malformed JSON, NUL bytes, wrong types, missing names, other databases: Milvus codes"

  # a body over --max-body: refused from Content-Length, and while streaming (chunked)
  "$PY" -c "print('{\"collectionName\":\"c\",\"data\":[' + ','.join(['{\"id\":1,\"vector\":[1,0,0,0]}'] * 20000) + ']}')" >"$WORK/big.json"
  v2 entities/insert 200 1102 "${AUTH[@]}" --data-binary @"$WORK/big.json"
  v2 entities/insert 200 1102 "${AUTH[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$WORK/big.json"
  v2 collections/get_stats 200 0 -d '{"collectionName":"c"}'
  "$PY" -c "import json; d=json.load(open('$WORK/b')); assert d['data'] == {'rowCount': 1}, d" ||
    fail "oversize insert applied something: $(cat "$WORK/b")"
  pass "oversize bodies: code 1102, nothing applied"

  v2 collections/drop 401 1800 -d '{"collectionName":"c"}'
  v2 collections/drop 401 1800 -H 'Authorization: Bearer root:wrong' -d '{"collectionName":"c"}'
  v2 collections/has 200 0 -d '{"collectionName":"c"}'
  pass "writes need the token (401, code 1800), reads do not"

  v2 aliases/list 404 1100 -d '{}'
  v2 entities/hybrid_search 404 1100 -d '{}'
  code=$(curl -s -o "$WORK/b" -w '%{http_code}' "$V2/collections/list")
  [[ $code == 405 ]] || fail "GET on a v2 route: $code $(cat "$WORK/b")"
  "$PY" -c "import json; d=json.load(open('$WORK/b')); assert d['code'] != 0 and d['message'], d" ||
    fail "405 body: $(cat "$WORK/b")"
  pass "unknown actions (404) and methods (405) in Milvus's shape"

  curl -sf "$base/metrics" >"$WORK/metrics" || fail "metrics"
  grep -q 'pixseek_http_requests_total{route="/v2/vectordb/entities/search",code="2xx"}' "$WORK/metrics" ||
    fail "no v2 search counter in /metrics"
  grep -q 'route="/v2/vectordb/{category}/{action}"' "$WORK/metrics" || fail "no v2 catch-all counter"
  curl -sf "$base/openapi.json" | "$PY" -c "import json,sys; p=json.load(sys.stdin)['paths']; \
  assert all('/v2/vectordb/' + a in p for a in ['collections/create','entities/search','partitions/get_stats','indexes/list']), list(p)" ||
    fail "v2 routes missing from /openapi.json"
  pass "/metrics counts and /openapi.json documents the v2 routes"

}

curl_checks

kill "$pid"; wait "$pid" 2>/dev/null
grep -qi 'sanitizer\|runtime error' "$WORK/serve.err" && { cat "$WORK/serve.err"; fail "sanitizer report"; }

if [[ ${PXS_QUICK:-0} != 1 && -x ${PXS_ASAN_BIN:-} ]]; then
  start_server "$PXS_ASAN_BIN" "$WORK/serve-asan.err"
  node "$root/tests/node/milvus_sdk_test.js" "$base" root Milvus || { cat "$WORK/serve-asan.err"; fail "SDK checks (asan)"; }
  curl_checks
  kill "$pid"; wait "$pid" 2>/dev/null
  if grep -qi 'sanitizer\|runtime error' "$WORK/serve-asan.err"; then
    cat "$WORK/serve-asan.err"; fail "sanitizer report from the SDK run"
  fi
  pass "SDK and curl checks under ASan + UBSan, no reports"
fi
echo "all Milvus REST v2 checks passed"
