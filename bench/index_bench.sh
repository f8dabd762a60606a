#!/bin/sh
# bench/index_bench.sh — build (and optionally run) the index benchmarks
# against the objects of a module build:
#   make module-test M=index BUILD=build/h-index
#   sh bench/index_bench.sh [BUILD] [run]
# Produces $BUILD/dist_bench and $BUILD/ann_bench (-march=native: they run
# where they are built; the library objects keep their run-time dispatch).
set -e
BUILD=${1:-build/h-index}
CC=${CC:-cc}
OBJS="$(ls "$BUILD"/obj/src/core/*.o "$BUILD"/obj/src/index/*.o "$BUILD"/obj/src/index/arch/*.o)"
for b in dist_bench ann_bench; do
    [ -f "bench/$b.c" ] || continue
    # shellcheck disable=SC2086
    $CC -O2 -march=native -g -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -Wall -Wextra -Werror -pthread \
        "bench/$b.c" $OBJS -lxxhash -lm -o "$BUILD/$b"
done
if [ "$2" = run ]; then
    "$BUILD/dist_bench"
    [ -x "$BUILD/ann_bench" ] && "$BUILD/ann_bench"
fi
