#!/usr/bin/env bash
# scripts/check_modules.sh — enforce the module dependency rule on #include
# lines:
#   core                     includes no other pixseek module
#   image, nn, index, store  peers: core + their own header only
#   engine                   core, image, nn, index, store, engine
#   server                   core, engine, server
#   cli                      core, engine, server
# Also: every public header compiles on its own, and private headers
# (src/<module>/*.h) are included only from their own module.
set -uo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
  [core]="core"
  [image]="core image"
  [nn]="core nn"
  [index]="core index"
  [store]="core store"
  [engine]="core image nn index store engine"
  [server]="core engine server"
  [cli]="core engine server"
)
bad=0
for module in "${!allowed[@]}"; do
  [[ -d src/$module ]] || continue
  while IFS= read -r line; do
    file=${line%%:*}
    header=$(sed -E 's/.*#include *[<"]pixseek\/([a-z_]+)\.h[>"].*/\1/' <<<"${line#*:}")
    if [[ " ${allowed[$module]} " != *" $header "* ]]; then
      echo "module rule: $file ($module) includes pixseek/$header.h" >&2
      bad=1
    fi
  done < <(grep -rnE '#include *[<"]pixseek/[a-z_]+\.h' "src/$module" | sed -E 's/^([^:]+):[0-9]+:/\1:/')
  # private headers of another module, e.g. "../index/index_int.h"
  if grep -rnE '#include *"\.\./[a-z]+/' "src/$module" >/dev/null; then
    grep -rnE '#include *"\.\./[a-z]+/' "src/$module" | sed 's/^/module rule: private header of another module: /' >&2
    bad=1
  fi
done

# Every public header must compile alone.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for h in include/pixseek/*.h; do
  printf '#include "pixseek/%s"\n' "$(basename "$h")" >"$tmp/t.c"
  if ! cc -std=c11 -Wall -Wextra -Werror -Iinclude -fsyntax-only "$tmp/t.c" 2>"$tmp/err"; then
    echo "header does not compile alone: $h" >&2
    cat "$tmp/err" >&2
    bad=1
  fi
done

# Library modules never abort or exit, and allocate through pxs_malloc.
if grep -rnE '\b(abort|exit)\s*\(' src --include=*.c | grep -v '^src/cli/' | grep -v '_exit(' ; then
  echo "abort/exit found in library code (only src/cli may exit)" >&2
  bad=1
fi
if grep -rnE '(^|[^_a-z])(malloc|calloc|realloc|free|strdup)\s*\(' src --include=*.c \
     | grep -v '^src/core/alloc.c' | grep -vE '(g_free|vips_free|pxs_|cJSON_)' | grep -vE '^\S+:\s*(/\*|\*|//)'; then
  echo "raw allocator call outside src/core/alloc.c (use pxs_malloc/pxs_free)" >&2
  bad=1
fi
# Intrinsics only in arch/ directories.
if grep -rln 'immintrin.h' src | grep -v '/arch/'; then
  echo "<immintrin.h> used outside an arch/ directory" >&2
  bad=1
fi
exit $bad
