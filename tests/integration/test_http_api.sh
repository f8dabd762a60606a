# tests/integration/test_http_api.sh — every HTTP route of `pixseek serve`
# through curl, good and bad requests: the bootcamp API (load, progress,
# count, search, upload, data, drop, /api/v1), the native API (JSON search by
# base64/id/vector with paging, offset and filters, images
# add/get/original/tags/delete (a second server for originals in the blob
# store, outside --root and changed since indexing), ingest jobs,
# duplicates), /metrics and /openapi.json; the API token, body and upload
# limits, --root checks (relative, "..", absolute outside, symlink escape),
# malformed JSON, wrong types, invalid base64, unknown routes and
# collections. Every error must be a 4xx JSON answer and the server must
# stay up.
source "$(dirname "$0")/lib.sh"
need_shared data/corel1k_wang/images/0.jpg
src=$PXS_SHARED/data/corel1k_wang/images
mkdir -p "$WORK/photos/sub" "$WORK/outside"
for i in 0 1 2 100 101 300 301 500; do cp "$src/$i.jpg" "$WORK/photos/"; done
cp "$src/700.jpg" "$WORK/photos/sub/"
cp "$src/900.jpg" "$WORK/outside/secret.jpg"
printf 'not an image' >"$WORK/photos/notes.txt"
ln -s "$WORK/outside" "$WORK/photos/escape"

port=$((20000 + ($$ * 7) % 20000))
base=http://127.0.0.1:$port
TOKEN=s3cret-token
PIXSEEK_TOKEN=$TOKEN "$PXS_BIN" serve --data "$WORK/data" --port $port --root "$WORK/photos" \
  --max-body 3000000 --max-upload 2000000 2>"$WORK/serve.err" &
pid=$!
cleanup_hooks+=("kill -9 $pid 2>/dev/null")
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$base/healthz" >/dev/null || { cat "$WORK/serve.err"; fail "server did not come up"; }

AUTH=(-H "Authorization: Bearer $TOKEN")
# call METHOD PATH [curl args...]: sets $code, body in $WORK/b
call() {
  local m=$1 p=$2; shift 2
  code=$(curl -s -o "$WORK/b" -w '%{http_code}' -X "$m" "$@" "$base$p")
}
body() { cat "$WORK/b"; }
py() { "$PY" -c "import json,sys; d=json.load(open('$WORK/b')); $1"; }
# expect_err STATUS: a JSON error body with a message and that status
expect_err() {
  [[ $code == "$1" ]] || fail "expected $1, got $code: $(body) ($2)"
  py "e=d['error']; assert e['code'] and e['message'], d" || fail "not a JSON error: $(body) ($2)"
  curl -sf "$base/healthz" >/dev/null || fail "server down after: $2"
}

# ---- token ------------------------------------------------------------------
call POST /img/load -H 'Content-Type: application/json' -d "{\"Table\":null,\"File\":\"$WORK/photos\"}"
expect_err 401 "load without token"
py "assert d['status'] is False and d['msg'], d" || fail "bootcamp error shape: $(body)"
call POST /img/load -H 'Authorization: Bearer wrong' -H 'Content-Type: application/json' \
  -d "{\"File\":\"$WORK/photos\"}"
expect_err 401 "wrong token"
pass "writes need the API token (401 JSON)"

# ---- /img/load path checks ------------------------------------------------------
for f in "photos" "$WORK/photos/../outside" "$WORK/outside" "/etc" "$WORK/photos/escape" "$WORK/photos/nope"; do
  call POST /img/load "${AUTH[@]}" -H 'Content-Type: application/json' -d "{\"File\":\"$f\"}"
  [[ $code =~ ^40[034]$ ]] || fail "load $f: $code $(body)"
  expect_err "$code" "load $f"
done
call POST /img/load "${AUTH[@]}" -H 'Content-Type: application/json' -d "{\"File\":\"$WORK/outside\"}"
expect_err 403 "outside root"
call POST /img/load "${AUTH[@]}" -H 'Content-Type: application/json' -d "{\"File\":\"$WORK/photos/escape\"}"
expect_err 403 "symlink escape"
call POST /img/load "${AUTH[@]}" -H 'Content-Type: application/json' -d "{\"File\":\"$WORK/photos/../outside\"}"
expect_err 400 "dot-dot"
call POST /img/load "${AUTH[@]}" -H 'Content-Type: application/json' -d '{"File":'
expect_err 400 "malformed JSON"
call POST /img/load "${AUTH[@]}" -H 'Content-Type: application/json' -d '{"File":["a"]}'
expect_err 400 "File of the wrong type"
call POST /img/load "${AUTH[@]}" -H 'Content-Type: application/json' -d '{"Table":"milvus_img_search"}'
expect_err 400 "missing File"
call POST /img/load "${AUTH[@]}" -H 'Content-Type: application/json' -d "{\"Table\":\"other\",\"File\":\"$WORK/photos\"}"
expect_err 404 "unknown collection"
pass "/img/load refuses relative, '..', outside-root, symlink-escape, missing and malformed requests"

# ---- load + progress --------------------------------------------------------------
call POST /img/load "${AUTH[@]}" -H 'Content-Type: application/json' \
  -d "{\"Table\":\"milvus_img_search\",\"File\":\"$WORK/photos\"}"
[[ $code == 200 && $(body) == '"Start"' ]] || fail "load: $code $(body)"
for _ in $(seq 1 200); do
  prog=$(curl -s "$base/progress")
  [[ $prog =~ ^current:\ ([0-9]+),\ total:\ ([0-9]+)$ ]] || fail "progress text: $prog"
  [[ ${BASH_REMATCH[2]} -gt 0 && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]] && \
    curl -s "$base/img/load/status" | grep -q '"running":false' && break
  sleep 0.1
done
[[ $prog == "current: 10, total: 10" ]] || fail "final progress: $prog"
[[ $(curl -s "$base/api/v1/process") == "$prog" ]] || fail "/api/v1/process"
call GET /img/load/status
py "assert d['running'] is False and d['ok'] is True and d['inserted']==9 and d['errors']==1, d" \
  || fail "load status $(body)"
call GET /api/ingest
py "assert d['state']=='done' and d['added']==9 and d['failed']==1 and d['errors'][0]['path'].endswith('notes.txt'), d" \
  || fail "job errors $(body)"
call POST /img/count
[[ $code == 200 && $(body) == 9 ]] || fail "count $code $(body)"
call GET '/img/count?table_name=milvus_img_search'
[[ $(body) == 9 ]] || fail "count by GET"
call POST /api/v1/count -d Table=milvus_img_search
[[ $(body) == 9 ]] || fail "/api/v1/count $(body)"
call POST '/img/count?table_name=nope'
expect_err 404 "count unknown collection"
pass "/img/load in the background, /progress, /img/load/status, per-file errors, counts"

# ---- bootcamp search ------------------------------------------------------------------
call POST /img/search -F "image=@$src/100.jpg" -F topk=3 -F table_name=milvus_img_search
[[ $code == 200 ]] || fail "search $code $(body)"
py "assert len(d)==3 and d[0][0].endswith('/100.jpg') and d[0][1] < 1e-3 and d[0][1] <= d[1][1], d" \
  || fail "search result $(body)"
call POST /api/v1/search -F "file=@$src/101.jpg" -F Num=2
py "assert len(d)==2 and '/api/images/' in d[0][0] and d[0][0].startswith('http://127.0.0.1'), d" \
  || fail "/api/v1/search $(body)"
call POST /img/search -F topk=3
expect_err 400 "search without image"
call POST /img/search -F "image=@$src/100.jpg" -F topk=abc
expect_err 400 "bad topk"
call POST /img/search -F "image=@$WORK/photos/notes.txt"
[[ $code =~ ^4 ]] || fail "non-image search $code"
expect_err "$code" "non-image search"
call POST /img/search -H 'Content-Type: multipart/form-data; boundary=xyz' --data-binary $'--xyz\r\nbroken'
expect_err 400 "torn multipart"
pass "/img/search and /api/v1/search shapes, bad searches answered 4xx"

# ---- native JSON search ------------------------------------------------------------
b64=$(base64 -w0 "$src/300.jpg")
printf '{"img_base64":"%s","topk":5}' "$b64" >"$WORK/q.json"
call POST /api/search -H 'Content-Type: application/json' --data-binary @"$WORK/q.json"
[[ $code == 200 ]] || fail "json search $code $(body)"
py "r=d['results']; assert len(r)==5 and r[0]['file_name']=='300.jpg' and r[0]['similarity']>0.99 and r[0]['image_url']=='/api/images/%d/file'%r[0]['id'] and r[0]['thumbnail_url'].startswith('/api/thumbnail/') and d['total']==5, d" \
  || fail "json search result $(body)"
id300=$(py "print(d['results'][0]['id'])")
printf '{"img_base64":"data:image/jpeg;base64,%s","page":2,"page_size":2}' "$b64" >"$WORK/q.json"
call POST /api/search -H 'Content-Type: application/json' --data-binary @"$WORK/q.json"
py "assert d['page']==2 and d['page_size']==2 and len(d['results'])==2 and d['total']==4, d" || fail "paging $(body)"
call POST /api/search -H 'Content-Type: application/json' -d "{\"id\":$id300,\"topk\":5}"
py "r=d['results']; assert len(r)==5 and all(x['id']!=$id300 for x in r), d" || fail "search by id (more like this, itself left out) $(body)"
lowest=$(py "print(d['results'][-1]['similarity'])")
call POST /api/search -H 'Content-Type: application/json' -d "{\"id\":$id300,\"topk\":5,\"similarity\":$lowest}"
py "r=d['results']; assert r and all(x['similarity']>=$lowest for x in r), d" || fail "search by id + threshold $(body)"
call POST /api/search -H 'Content-Type: application/json' -d "{\"id\":$id300,\"topk\":5,\"similarity\":1.0}"
py "assert d['results']==[], d" || fail "threshold 1.0 keeps nothing but itself, which is left out $(body)"
call POST /api/search -H 'Content-Type: application/json' -d '{"img_base64":"!!!not base64!!!"}'
expect_err 400 "invalid base64"
call POST /api/search -H 'Content-Type: application/json' -d '{"img_base64":12}'
expect_err 400 "img_base64 of the wrong type"
call POST /api/search -H 'Content-Type: application/json' -d "{\"id\":$id300,\"topk\":\"many\"}"
expect_err 400 "topk wrong type"
call POST /api/search -H 'Content-Type: application/json' -d "{\"id\":$id300,\"topk\":true}"
expect_err 400 "topk bool"
call POST /api/search -H 'Content-Type: application/json' -d '{"id":987654}'
expect_err 404 "unknown id"
call POST /api/search -H 'Content-Type: application/json' -d '{"vector":[1,2,3]}'
expect_err 400 "vector of the wrong dimension"
call POST /api/search -H 'Content-Type: application/json' -d "{\"id\":$id300,\"topk\":50,\"filter\":\"id != $id300 and format == 'jpeg'\"}"
[[ $code == 200 ]] || fail "filtered search: $code $(body)"
py "r=d['results']; assert r and all(x['id']!=$id300 and x['format']=='jpeg' for x in r), d" || fail "filter not honoured $(body)"
call POST /api/search -H 'Content-Type: application/json' -d "{\"id\":$id300,\"filter\":\"width >\"}"
expect_err 400 "filter syntax error"
py "assert 'position' in d['error']['message'], d" || fail "filter error without a position $(body)"
call POST /api/search -H 'Content-Type: application/json' -d '[1,2]'
expect_err 400 "JSON that is not an object"
call POST /api/search -H 'Content-Type: application/json' -d '{"id":1} trailing'
expect_err 400 "trailing data"
call POST /api/search -H 'Content-Type: application/json' -d '{}'
expect_err 400 "missing query"
call POST /api/search -H 'Content-Type: text/plain' -d 'hello'
expect_err 415 "unsupported Content-Type"
pass "JSON search: base64 (plain and data: URL), id, threshold, paging, filter; bad JSON, types, base64 -> 400"

# ---- limits ---------------------------------------------------------------------------------
head -c 3500000 /dev/urandom >"$WORK/big.bin"
call POST /img/search -H 'Content-Type: application/octet-stream' --data-binary @"$WORK/big.bin"
expect_err 413 "body over --max-body"
head -c 2500000 /dev/urandom >"$WORK/mid.bin"
call POST /img/search -F "image=@$WORK/mid.bin;type=image/jpeg"
expect_err 413 "image over --max-upload"
printf '{"img_base64":"%s"}' "$(base64 -w0 "$WORK/mid.bin")" >"$WORK/q.json"
call POST /api/search -H 'Content-Type: application/json' --data-binary @"$WORK/q.json"
expect_err 413 "JSON body (base64) over the limits"
pass "413 JSON for bodies over --max-body and images over --max-upload"

# ---- uploads, images, /data ------------------------------------------------------------------
cp "$src/555.jpg" "$WORK/up.jpg"
call POST /img/upload -F "image=@$WORK/up.jpg"
expect_err 401 "upload without token"
call POST /img/upload "${AUTH[@]}" -F "image=@$WORK/up.jpg"
[[ $code == 200 ]] && [[ $(body) =~ ^\"Successfully\ loaded\ data:\ ([0-9]+)\"$ ]] || fail "upload $code $(body)"
upid=${BASH_REMATCH[1]}
call POST '/img/upload?url=http://example.com/a.jpg' "${AUTH[@]}"
expect_err 400 "upload by url"
call GET "/api/images/$upid"
uppath=$(py "print(d['path'])")
[[ $uppath == "$WORK/data/uploads/"*.jpeg ]] || fail "upload path $uppath"
call GET "/api/images/$upid/file"
cmp -s "$WORK/b" "$WORK/up.jpg" || fail "image file download differs"
call GET "/data?image_path=$uppath"
cmp -s "$WORK/b" "$WORK/up.jpg" || fail "/data of an upload"
call GET "/data?image_path=$WORK/photos/100.jpg"
cmp -s "$WORK/b" "$WORK/photos/100.jpg" || fail "/data under root: $code"
call GET "/api/thumbnail/$upid"
[[ $code == 200 && $(od -An -tx1 -N2 "$WORK/b") == " ff d8" ]] || fail "thumbnail"
printf '{"img_base64":"%s"}' "$(base64 -w0 "$src/556.jpg")" >"$WORK/q.json"
call POST /api/images "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary @"$WORK/q.json"
py "assert d['kind']=='added', d" && [[ $code == 201 ]] || fail "POST /api/images $code $(body)"
call POST /api/images "${AUTH[@]}" -F "image=@$src/100.jpg"
py "assert d['kind']=='duplicate', d" && [[ $code == 200 ]] || fail "duplicate upload $code $(body)"
call POST /api/images "${AUTH[@]}" -F "image=@$WORK/photos/notes.txt"
[[ $code =~ ^4 ]] || fail "non-image add $code"
expect_err "$code" "non-image add"
pass "uploads: /img/upload, POST /api/images (multipart, base64), file, /data, thumbnail"

for p in "relative.jpg" "$WORK/photos/../outside/secret.jpg" "$WORK/outside/secret.jpg" "/etc/passwd" \
         "$WORK/photos/escape/secret.jpg" "$WORK/photos/missing.jpg" "$WORK/photos/sub"; do
  call GET "/data?image_path=$p"
  [[ $code =~ ^40[034]$ ]] || fail "/data $p: $code"
  expect_err "$code" "/data $p"
done
call GET "/data?image_path=$WORK/photos/escape/secret.jpg"
expect_err 403 "/data symlink escape"
call GET "/data?image_path=/etc/passwd"
expect_err 403 "/data absolute outside root"
call GET "/data"
expect_err 400 "/data without image_path"
pass "/data: relative, '..', outside, symlink escape, missing -> 400/403/404"

# ---- delete, duplicates ------------------------------------------------------------------------
call DELETE "/api/images/$upid"
expect_err 401 "delete without token"
call DELETE "/api/images/$upid" "${AUTH[@]}"
[[ $code == 200 ]] || fail "delete $code $(body)"
[[ ! -e $uppath ]] || fail "upload file not removed"
call DELETE "/api/images/$upid" "${AUTH[@]}"
expect_err 404 "delete again"
call DELETE "/api/images/abc" "${AUTH[@]}"
expect_err 400 "delete bad id"
call GET "/api/images/$id300/nope"
expect_err 404 "unknown image subresource"
call GET /api/duplicates
py "assert 'groups' in d and d['count']==len(d['groups']), d" || fail "duplicates $(body)"
call GET '/api/duplicates?threshold=2'
expect_err 400 "bad threshold"
pass "DELETE /api/images/ID (token, 404 after), /api/duplicates"

# ---- ingest jobs ------------------------------------------------------------------------------------
call POST /api/ingest -H 'Content-Type: application/json' -d "{\"dir\":\"$WORK/photos/sub\"}"
expect_err 401 "ingest without token"
call POST /api/ingest "${AUTH[@]}" -H 'Content-Type: application/json' -d '{"dir":42}'
expect_err 400 "dir of the wrong type"
call POST /api/ingest "${AUTH[@]}" -H 'Content-Type: application/json' -d "{\"dir\":\"$WORK/photos/sub\"}"
[[ $code == 202 ]] || fail "ingest start $code $(body)"
for _ in $(seq 1 100); do
  call GET /api/ingest
  py "assert d['state'] in ('done','failed','cancelled')" 2>/dev/null && break
  sleep 0.1
done
py "assert d['state']=='done' and d['total']==1 and d['unchanged']==1 and d['rate_per_s']>=0, d" || fail "job $(body)"
call POST /api/ingest/cancel "${AUTH[@]}"
expect_err 409 "cancel without a job"
pass "POST /api/ingest, GET progress, cancel when idle -> 409"

# ---- routing, metrics, openapi ------------------------------------------------------------------------
call GET /nope
expect_err 404 "unknown route"
call PUT /img/search
expect_err 405 "wrong method"
call GET /metrics
[[ $code == 200 ]] || fail "metrics $code"
grep -q '^pixseek_http_requests_total{route="/img/search",code="2xx"} [1-9]' "$WORK/b" || fail "metrics counters: $(head -20 "$WORK/b")"
grep -q '^pixseek_http_request_duration_seconds_bucket{route="/api/search",le="+Inf"} [1-9]' "$WORK/b" || fail "metrics histogram"
grep -q '^pixseek_images 10$' "$WORK/b" || fail "metrics images: $(grep pixseek_images "$WORK/b")"
grep -q '^pixseek_ingest_jobs_total 2$' "$WORK/b" || fail "metrics jobs"
call GET /openapi.json
py "assert d['openapi'].startswith('3.') and '/img/search' in d['paths'] and '/api/ingest' in d['paths'], list(d)" || fail "openapi"
pass "404/405, /metrics, /openapi.json"

# ---- tags, image details, offset, filters ---------------------------------------------------------
J=(-H 'Content-Type: application/json')
call GET "/api/images/$id300"
py "assert d['id']==$id300 and d['tags']=={} and d['date'] is None and d['camera'] is None and d['original_stored'] is False and d['original_url']=='/api/images/$id300/original', d" \
  || fail "image details $(body)"
call POST "/api/images/$id300/tags" "${J[@]}" -d '{"tags":{"album":"rome"}}'
expect_err 401 "tags without token"
call POST "/api/images/$id300/tags" "${AUTH[@]}" "${J[@]}" -d '{"tags":{"album":"rome","rating":4,"note":"4 stars"}}'
[[ $code == 200 ]] || fail "set tags $code $(body)"
py "assert d=={'id':$id300,'tags':{'album':'rome','rating':4,'note':'4 stars'}}, d" || fail "set tags reply $(body)"
call POST "/api/images/$id300/tags" "${AUTH[@]}" "${J[@]}" -d '{"tags":{"note":null,"rating":"5"}}'
py "assert d['tags']=={'album':'rome','rating':5}, d" || fail "tag removal / number text $(body)"
call GET "/api/images/$id300/tags"
py "assert d=={'id':$id300,'tags':{'album':'rome','rating':5}}, d" || fail "get tags $(body)"
call GET "/api/images/$id300"
py "assert d['tags']=={'album':'rome','rating':5}, d" || fail "tags in details $(body)"
call POST /api/search -F "image=@$src/0.jpg" -F topk=20 -F 'filter=album == "rome" and rating >= 5'
py "assert [x['id'] for x in d['results']]==[$id300], d" || fail "multipart search filtered by tags $(body)"
call POST /api/search "${J[@]}" -d "{\"img_base64\":\"$(base64 -w0 "$src/0.jpg")\",\"filter\":\"tags['album'] == 'paris'\"}"
py "assert d['results']==[] and d['total']==0, d" || fail "base64 search, filter matching nothing $(body)"
for bad in '{"tags":{"album":"x"}' '{"tags":["album=x"]}' '{"tags":{}}' '{"tags":{"ok":true}}' \
           '{"tags":{"ok":{"a":1}}}' '{"tags":{"1bad":"x"}}' '{"tags":{"a=b":"x"}}' '{"album":"x"}' \
           "{\"tags\":{\"long\":\"$(head -c 2000 /dev/zero | tr '\0' x)\"}}"; do
  call POST "/api/images/$id300/tags" "${AUTH[@]}" "${J[@]}" -d "$bad"
  expect_err 400 "bad tags body ${bad:0:40}"
done
call POST "/api/images/$id300/tags" "${AUTH[@]}" -d 'album=rome'
expect_err 400 "tags as a form"
call POST /api/images/987654/tags "${AUTH[@]}" "${J[@]}" -d '{"tags":{"a":"b"}}'
expect_err 404 "tags of an unknown image"
call GET /api/images/987654/tags
expect_err 404 "get tags of an unknown image"
call GET /api/images/987654
expect_err 404 "details of an unknown image"
call GET /api/images/987654/original
expect_err 404 "original of an unknown image"
call GET "/api/images/12x/tags"
expect_err 400 "tags of a bad id"
call POST "/api/images/$id300" "${AUTH[@]}" "${J[@]}" -d '{}'
expect_err 405 "POST on an image"
call DELETE "/api/images/$id300/tags" "${AUTH[@]}"
expect_err 405 "DELETE on tags"
call DELETE "/api/images/$id300/original" "${AUTH[@]}"
expect_err 405 "DELETE on the original"
call GET "/api/images/$id300/tags" # unchanged by the refused requests
py "assert d['tags']=={'album':'rome','rating':5}, d" || fail "tags after bad requests $(body)"
pass "tags: POST /api/images/ID/tags (token, merge, null removes), GET, in details and filters; bad bodies, ids, methods -> 4xx"

call POST /api/search "${J[@]}" -d "{\"id\":$id300,\"topk\":6}"
all=$(py "print([x['id'] for x in d['results']])")
call POST /api/search "${J[@]}" -d "{\"id\":$id300,\"offset\":2,\"page_size\":3}"
py "assert [x['id'] for x in d['results']]==$all[2:5] and d['offset']==2, d" || fail "offset paging $(body)"
call POST /api/search -F "image=@$src/300.jpg" -F offset=1 -F topk=2
py "assert len(d['results'])==2 and d['results'][0]['id']!=$id300 and d['offset']==1, d" || fail "multipart offset $(body)"
call POST /api/search "${J[@]}" -d "{\"id\":$id300,\"offset\":2,\"page\":2}"
expect_err 400 "offset and page"
for off in '-1' '"x"' '2000000' 'true' '[1]'; do
  call POST /api/search "${J[@]}" -d "{\"id\":$id300,\"offset\":$off}"
  expect_err 400 "offset $off"
done
for f in '"width >"' '"nosuchfn(1)"' '5' '["a"]' '"format == 3 +"' '"width > \"big\" and"'; do
  call POST /api/search "${J[@]}" -d "{\"id\":$id300,\"filter\":$f}"
  expect_err 400 "filter $f"
done
call POST /api/search -F "image=@$src/0.jpg" -F 'filter=width >'
expect_err 400 "multipart search with a bad filter"
py "assert d['error']['message'].startswith('bad filter: '), d" || fail "filter message $(body)"
pass "search: offset (multipart and JSON), bad offsets and filters -> 400 with the parser's message"

call GET "/api/images/$id300/original"
[[ $code == 200 ]] && cmp -s "$WORK/b" "$WORK/photos/300.jpg" || fail "original under --root: $code"
call GET "/api/images/$id300/file"
cmp -s "$WORK/b" "$WORK/photos/300.jpg" || fail "/file is the original"
pass "GET /api/images/ID/original (and /file) under --root"

# ---- drop -----------------------------------------------------------------------------------------------
call POST /img/drop
expect_err 401 "drop without token"
call POST /img/drop "${AUTH[@]}"
[[ $code == 200 && $(body) == '"Successfully drop tables in Milvus and MySQL!"' ]] || fail "drop $code $(body)"
[[ $(curl -s -X POST "$base/img/count") == 0 ]] || fail "count after drop"
call POST /api/v1/delete "${AUTH[@]}" -d Table=milvus_img_search
[[ $code == 200 ]] || fail "/api/v1/delete $code"
call POST /api/v1/train "${AUTH[@]}" -d "Table=milvus_img_search&File=$WORK/photos"
[[ $code == 200 && $(body) == '"Start"' ]] || fail "/api/v1/train $code $(body)"
for _ in $(seq 1 100); do curl -s "$base/img/load/status" | grep -q '"running":false' && break; sleep 0.1; done
[[ $(curl -s -X POST "$base/img/count") == 9 ]] || fail "count after /api/v1/train"
pass "/img/drop and /api/v1/delete empty the collection; /api/v1/train (form) reloads it"

curl -sf "$base/healthz" >/dev/null || fail "server down at the end"
grep -q 'AddressSanitizer\|runtime error' "$WORK/serve.err" && fail "sanitizer report: $(cat "$WORK/serve.err")"
kill -TERM $pid; wait $pid || fail "server exit status $?"
pass "server up to the end and stopped cleanly"

# ---- originals: blob store, outside --root, changed files (a second server) ----------------------
mkdir -p "$WORK/p2/kept" "$WORK/p2/stored"
cp "$src/400.jpg" "$WORK/p2/kept/a.jpg"
cp "$src/401.jpg" "$WORK/p2/kept/changes.jpg"
"$PY" - "$src/402.jpg" "$WORK/p2/stored/canon.jpg" <<'PYEOF' || fail "PIL could not write EXIF"
import sys
from PIL import Image
ex = Image.Exif()
ex[0x010f] = "Canon"; ex[0x0110] = "Canon EOS 5D"; ex[0x8769] = {0x9003: "2019:07:14 10:22:01"}
Image.open(sys.argv[1]).save(sys.argv[2], exif=ex.tobytes())
PYEOF
cp "$WORK/p2/stored/canon.jpg" "$WORK/canon-copy.jpg"
"$PXS_BIN" index --data "$WORK/data2" --json "$WORK/p2/kept" "$WORK/outside" >"$WORK/i1.jsonl" 2>/dev/null || fail "index p2"
"$PXS_BIN" index --data "$WORK/data2" --json --store-originals --tag album=canon "$WORK/p2/stored" >"$WORK/i2.jsonl" 2>/dev/null || fail "index stored"
idp() { cat "$WORK"/i1.jsonl "$WORK"/i2.jsonl >"$WORK/i.jsonl"; json_eval "$WORK/i.jsonl" "[r['id'] for r in rows if r.get('path','').endswith('/$1')][0]"; }
ida=$(idp a.jpg) idch=$(idp changes.jpg) idsec=$(idp secret.jpg) idcanon=$(idp canon.jpg)
rm "$WORK/p2/stored/canon.jpg"
cp "$src/403.jpg" "$WORK/p2/kept/changes.jpg"
port2=$((port + 1))
"$PXS_BIN" serve --data "$WORK/data2" --port $port2 --root "$WORK/p2" 2>"$WORK/serve2.err" &
pid2=$!
cleanup_hooks+=("kill -9 $pid2 2>/dev/null")
base=http://127.0.0.1:$port2
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
call GET "/api/images/$idcanon"
py "assert d['date']=='2019-07-14 10:22:01' and d['camera']=='Canon EOS 5D' and d['camera_make']=='Canon' and d['original_stored'] is True and d['tags']=={'album':'canon'}, d" \
  || fail "EXIF, stored original and tags in details $(body)"
call GET "/api/images/$idcanon/original"
[[ $code == 200 ]] && cmp -s "$WORK/b" "$WORK/canon-copy.jpg" || fail "stored original after the file is gone: $code $(body)"
call POST /api/search "${J[@]}" -d "{\"id\":$ida,\"filter\":\"camera like 'Canon%' and date >= '2019-01-01'\"}"
py "assert [x['id'] for x in d['results']]==[$idcanon] and d['results'][0]['camera']=='Canon EOS 5D', d" || fail "EXIF filter over HTTP $(body)"
call GET "/api/images/$ida/original"
[[ $code == 200 ]] && cmp -s "$WORK/b" "$WORK/p2/kept/a.jpg" || fail "original by path: $code"
call GET "/api/images/$idsec/original"
expect_err 403 "original outside --root"
call GET "/api/images/$idsec/file"
expect_err 403 "/file outside --root"
call GET "/api/images/$idch/original"
expect_err 409 "original changed since indexing"
pass "originals: blob store (file gone), by path under --root; outside --root -> 403, changed -> 409; EXIF fields and filters"
kill -TERM $pid2; wait $pid2 || fail "second server exit status $?"
grep -q 'AddressSanitizer\|runtime error' "$WORK/serve2.err" && fail "sanitizer report: $(cat "$WORK/serve2.err")"
pass "second server stopped cleanly"
