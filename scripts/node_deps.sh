#!/usr/bin/env bash
# scripts/node_deps.sh — install the test-only JavaScript tooling: Node.js
# and Debian chromium (apt), then the npm packages pinned in
# tests/node/package-lock.json (the Milvus Node SDK used as a REST v2 client,
# playwright-core driving /usr/bin/chromium). Idempotent. pixseek itself
# never needs any of this at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "scripts/node_deps.sh: installing ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci installs exactly the lock file; skip it when node_modules already matches.
stamp=tests/node/node_modules/.pixseek-lock
if ! cmp -s tests/node/package-lock.json "$stamp" 2>/dev/null; then
  (cd tests/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  cp tests/node/package-lock.json "$stamp"
fi
