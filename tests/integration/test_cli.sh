# tests/integration/test_cli.sh — help for every command, usage errors exit 2
# with a message, errors exit 1 with a message, JSON outputs parse.
source "$(dirname "$0")/lib.sh"
for cmd in index search serve stats embed dups; do
  "$PXS_BIN" "$cmd" --help >"$WORK/h.txt" || fail "$cmd --help exit $?"
  grep -q "usage: pixseek $cmd" "$WORK/h.txt" || fail "$cmd --help text"
done
"$PXS_BIN" help >/dev/null || fail "help"
"$PXS_BIN" --version | grep -q '^pixseek ' || fail "--version"
"$PXS_BIN" >/dev/null 2>&1; [[ $? -eq 2 ]] || fail "no command should exit 2"
"$PXS_BIN" frobnicate 2>"$WORK/e.txt"; [[ $? -eq 2 ]] || fail "unknown command exit"
grep -q 'unknown command' "$WORK/e.txt" || fail "unknown command message"
"$PXS_BIN" search -k 0 x.jpg 2>"$WORK/e.txt"; [[ $? -eq 2 ]] || fail "-k 0 should be a usage error"
grep -q -- '-k expects' "$WORK/e.txt" || fail "-k message"
"$PXS_BIN" search --min-similarity 2 x.jpg 2>/dev/null; [[ $? -eq 2 ]] || fail "--min-similarity 2"
"$PXS_BIN" index 2>/dev/null; [[ $? -eq 2 ]] || fail "index without folder"
"$PXS_BIN" --log-level shouty stats 2>/dev/null; [[ $? -eq 2 ]] || fail "bad log level"
"$PXS_BIN" search --data "$WORK/none" x.jpg 2>"$WORK/e.txt"; [[ $? -eq 1 ]] || fail "search without data should exit 1"
grep -q 'run pixseek index' "$WORK/e.txt" || { cat "$WORK/e.txt"; fail "missing data dir message"; }
"$PXS_BIN" serve --port 99999 2>/dev/null; [[ $? -eq 2 ]] || fail "bad port"
# stats on an empty data directory
mkdir -p "$WORK/photos"
"$PXS_BIN" index --data "$WORK/d" "$WORK/photos" 2>/dev/null || fail "indexing an empty folder should succeed"
"$PXS_BIN" stats --json --data "$WORK/d" >"$WORK/s.json" || fail "stats"
[[ $(json_eval "$WORK/s.json" "rows[0]['images']") -eq 0 ]] || fail "empty stats"
# searching with a non-image reports the reason, exit 3, JSON error line
echo hello >"$WORK/q.jpg"
"$PXS_BIN" search --json --data "$WORK/d" "$WORK/q.jpg" >"$WORK/q.jsonl" 2>/dev/null; [[ $? -eq 3 ]] || fail "bad query exit"
[[ $(json_eval "$WORK/q.jsonl" "rows[0]['error']['code']") == EUNSUPPORTED ]] || fail "bad query JSON"
pass "cli behaves"
