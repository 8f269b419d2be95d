#!/bin/sh
# test_install.sh BUILD_DIR SOURCE_DIR — installs attnc from BUILD_DIR into a
# temporary prefix, then (1) configures and builds examples/ against it with
# find_package(attnc) and runs both programs, (2) builds jit_host.c with
# pkg-config alone. Leaves nothing behind.
set -eu
build=$1
src=$2
tmp=$(mktemp -d /tmp/attnc-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/include/attnc.h"
test -x "$prefix/bin/attnc"
libdir=$(dirname "$(find "$prefix" -name 'libattnc.so' | head -n 1)")
test -f "$libdir/cmake/attnc/attncConfig.cmake"
test -f "$libdir/pkgconfig/attnc.pc"
"$prefix/bin/attnc" --version

echo "== find_package(attnc)"
cmake -S "$src/examples" -B "$tmp/examples" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/examples" >/dev/null
(cd "$src" && LD_LIBRARY_PATH="$libdir" "$tmp/examples/jit_host" recipes/causal.attn bf16 128 33)
out=$("$tmp/examples/aot_host")
# The GPU part may skip here; this test is about installing, so it passes.
echo "$out" | sed 's/^skipped: /(aot_host GPU part skipped: /'
if readelf -d "$tmp/examples/aot_host" | grep NEEDED | grep -Eq 'attnc|LLVM|cuda'; then
  echo "aot_host links attnc, LLVM or libcuda" >&2
  exit 1
fi

echo "== pkg-config attnc"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
pkg-config --modversion attnc
# shellcheck disable=SC2046
cc -std=gnu17 -Wall -Wextra -Werror -o "$tmp/jit_pc" "$src/examples/jit_host.c" $(pkg-config --cflags --libs attnc) -lm
(cd "$src" && LD_LIBRARY_PATH="$libdir" "$tmp/jit_pc" recipes/causal.attn bf16 128 33)
echo "install test: ok"
