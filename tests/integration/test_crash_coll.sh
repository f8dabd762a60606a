# slow
# tests/integration/test_crash_coll.sh — kill -9 of a vector-collection
# writer, 25 rounds: runs the unit test coll_crash_kill9_keeps_acknowledged_rows
# (tests/engine/test_coll_crash.c) of the test binary beside $PXS_BIN with
# more rounds. Each round a child inserts batches (HNSW index, checkpoints,
# deletes) and acknowledges each committed batch; after the kill every
# acknowledged row must be present, the index must load or rebuild and hold
# exactly the live rows, and the last row must be found by its own vector.
source "$(dirname "$0")/lib.sh"
tests_bin="$(dirname "$PXS_BIN")/pixseek-tests"
[[ -x "$tests_bin" ]] || fail "missing $tests_bin (make builds it beside pixseek)"
out=$WORK/crash.txt
PXS_COLL_CRASH_ROUNDS=25 "$tests_bin" coll_crash_kill9_keeps_acknowledged_rows >"$out" 2>&1
status=$?
cat "$out"
[[ $status -eq 0 ]] || fail "collection crash test failed"
grep -q "1 passed, 0 failed" "$out" || fail "collection crash test did not run"
pass "vector collection: every acknowledged row survived 25 kills"
