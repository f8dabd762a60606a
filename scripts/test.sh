#!/usr/bin/env bash
# scripts/test.sh — the full test suite; CI runs exactly this.
#
#   1. installs missing Debian packages (scripts/deps.sh)
#   2. builds with gcc (release) and clang (ASan + UBSan), warnings as errors
#   3. runs: module/lint checks, unit tests (gcc; clang+sanitizers; scalar
#      kernels forced with PXS_FORCE_GENERIC=1), fuzz corpus replay under the
#      sanitizers, and the integration tests in tests/integration/
#   4. ends with the line "N passed, N failed"
#
# Options: --quick skips the sanitizer build and the slow integration tests.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
quick=0
[[ "${1:-}" == "--quick" ]] && quick=1

scripts/deps.sh || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }
export PXS_SHARED=${PXS_SHARED:-$root/../shared}
jobs=$(nproc 2>/dev/null || echo 2)

passed=0
failed=0
failures=()
log_dir=$(mktemp -d /tmp/pixseek-test-logs.XXXXXX)

step() { # step NAME COMMAND... — one test that passes when the command exits 0
  local name=$1; shift
  local log="$log_dir/${name//[^a-zA-Z0-9_.-]/_}.log"
  local t0=$SECONDS
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1)); printf 'ok   %-44s %4ds\n' "$name" $((SECONDS - t0))
  else
    failed=$((failed + 1)); failures+=("$name")
    printf 'FAIL %-44s %4ds (log: %s)\n' "$name" $((SECONDS - t0)) "$log"
    tail -n 30 "$log" | sed 's/^/     | /'
  fi
}

unit() { # unit NAME BINARY [ENV...] — counts every unit test of the runner
  local name=$1 bin=$2; shift 2
  local log="$log_dir/$name.log"
  local t0=$SECONDS
  env "$@" "$bin" >"$log" 2>&1
  local rc=$?
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [[ -z "$line" ]]; then
    failed=$((failed + 1)); failures+=("$name (runner crashed, exit $rc)")
    echo "FAIL $name: runner did not finish (exit $rc)"; tail -n 30 "$log" | sed 's/^/     | /'
    return
  fi
  local p f
  p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
  f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f))
  [[ $rc -ne 0 && $f -eq 0 ]] && { failed=$((failed + 1)); f=1; }
  printf '%s %-44s %4ds  %s\n' "$([[ $f -eq 0 ]] && echo 'ok  ' || echo 'FAIL')" "$name" $((SECONDS - t0)) "$line"
  if [[ $f -ne 0 ]]; then
    failures+=("$name")
    grep -B3 -E '^  FAIL' "$log" | sed 's/^/     | /' | tail -n 60
  fi
}

echo "== build"
step build-gcc-release make -j"$jobs" CC=gcc MODE=release
[[ $quick -eq 1 ]] || step build-clang-asan make -j"$jobs" CC=clang MODE=asan
[[ $quick -eq 1 ]] || step build-clang-release make -j"$jobs" CC=clang MODE=release
rel=build/release-gcc
asan=build/asan-clang

# torchvision models with random weights, exported at two opsets with torch's
# outputs, for tests/nn/test_nn_zoo.c (about 20 s).
zoo=$root/build/zoo-models
step export-torchvision-models /usr/bin/python3 scripts/export_test_models.py "$zoo"
export PXS_NN_MODELS_DIR=$zoo

echo "== checks"
step module-rules scripts/check_modules.sh

echo "== unit tests"
unit unit-gcc "$rel/pixseek-tests" PXS_BIN="$rel/pixseek"
unit unit-generic-kernels "$rel/pixseek-tests" PXS_BIN="$rel/pixseek" PXS_FORCE_GENERIC=1
step unit-nn-native-conv env PXS_NN_BACKEND=native "$rel/pixseek-tests" nn_   # our conv kernels when oneDNN is the default
step unit-nn-onednn-threads env OMP_WAIT_POLICY=passive "$rel/pixseek-tests" nn_   # oneDNN in multi-threaded and item-parallel runs
if [[ $quick -eq 0 ]]; then
  unit unit-clang-asan-ubsan "$asan/pixseek-tests" PXS_BIN="$asan/pixseek" \
       ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
fi

echo "== fuzz corpus replay"
fuzz_bin=$rel
[[ $quick -eq 0 ]] && fuzz_bin=$asan
for corpus in fuzz/corpus/*/; do
  target=$(basename "$corpus")
  [[ -x "$fuzz_bin/fuzz-replay-$target" ]] || continue
  step "fuzz-replay-$target" "$fuzz_bin/fuzz-replay-$target" "$corpus"
done

echo "== test tooling"
# Node.js + the pinned npm packages (Milvus Node SDK) for the integration tests
step node-test-tooling bash -c 'scripts/node_deps.sh || { echo "scripts/node_deps.sh failed: \
the Milvus SDK tests need Node.js (apt) and the npm registry (npm ci in tests/node)"; exit 1; }'

echo "== integration tests"
for t in tests/integration/test_*.sh; do
  name=$(basename "$t" .sh)
  if [[ $quick -eq 1 ]] && grep -q '^# slow' "$t"; then continue; fi
  step "$name" env PXS_BIN="$root/$rel/pixseek" PXS_ASAN_BIN="$root/$asan/pixseek" \
       PXS_QUICK=$quick bash "$t"
done

echo
if [[ ${#failures[@]} -gt 0 ]]; then
  echo "failed: ${failures[*]}"
  echo "logs: $log_dir"
else
  rm -rf "$log_dir"
fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
