# tests/integration/lib.sh — helpers shared by the integration tests (sourced).
# Each test runs the pixseek binary named by $PXS_BIN in a private temp dir,
# exits 0 on success and prints what failed otherwise.
set -uo pipefail
PXS_BIN=${PXS_BIN:?PXS_BIN must name the pixseek binary}
PXS_SHARED=${PXS_SHARED:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared}
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/pixseek-it.XXXXXX)
chmod 755 "$WORK"
trap 'cleanup' EXIT
cleanup_hooks=()
cleanup() {
  for h in "${cleanup_hooks[@]}"; do eval "$h"; done
  rm -rf "$WORK"
}

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
need_shared() { [[ -e "$PXS_SHARED/$1" ]] || fail "missing reference data $PXS_SHARED/$1"; }

# json_field FILE EXPR — evaluate a Python expression over the JSON lines of FILE
# (bound to `rows`, a list of dicts) and print the result.
json_eval() {
  "$PY" - "$1" "$2" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(eval(sys.argv[2]))
PYEOF
}
