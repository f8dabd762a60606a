#!/bin/sh
# bench/preprocess_eval.sh — build bench/preprocess_eval.c against the core,
# image and nn objects compiled by the Makefile (release flags), without
# building the other modules:
#   sh bench/preprocess_eval.sh [BUILD] [ARGS...]
# BUILD defaults to build/h-prep; with ARGS the binary is also run, e.g.
#   sh bench/preprocess_eval.sh build/h-prep --ref /tmp/pxs-ref/corel1k
# The reference cache comes from bench/reference/make_reference.sh.
set -e
cd "$(dirname "$0")/.."
BUILD=${1:-build/h-prep}
[ $# -gt 0 ] && shift
CC=${CC:-cc}
srcs=$(find src/core src/image src/nn -name '*.c' | sort)
objs=$(for s in $srcs; do printf '%s/obj/%s ' "$BUILD" "${s%.c}.o"; done)
# shellcheck disable=SC2086
make -s -j2 BUILD="$BUILD" $objs
# shellcheck disable=SC2086
$CC -std=c11 -D_GNU_SOURCE -O2 -g -Iinclude -Isrc -Wall -Wextra -Werror -Wshadow -Wvla \
    -Wstrict-prototypes $(pkg-config --cflags vips) -pthread \
    bench/preprocess_eval.c $objs $(pkg-config --libs vips libxxhash libjpeg) -lm -pthread \
    -o "$BUILD/preprocess_eval"
echo "built $BUILD/preprocess_eval"
[ $# -gt 0 ] && exec "$BUILD/preprocess_eval" "$@"
exit 0
