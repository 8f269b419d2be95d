#!/usr/bin/env bash
# Runs every test that needs no GPU: a warnings-as-errors build with the
# whole CTest suite, a warnings-as-errors Release (-O3) build with a smoke
# run (gcc warns differently at -O3), the same suite under
# AddressSanitizer/UBSan, and a bounded fuzzing run of the front end. GPU tests report "skipped: no CUDA
# driver" here. Usage: scripts/test.sh [--quick]   (--quick: first build only)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

build() { # dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DATTNC_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
}

echo "== release build + tests"
build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
ctest --test-dir build --output-on-failure -j"$jobs"

[ "${1:-}" = "--quick" ] && exit 0

echo "== Release build (-O3, warnings as errors) + smoke run"
build build-release -DCMAKE_BUILD_TYPE=Release
build-release/bin/attnc check --werror recipes/*.attn >/dev/null
build-release/bin/attnc run recipes/neighborhood2d.attn --backend cpu --check >/dev/null

echo "== AddressSanitizer/UBSan build + tests"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DATTNC_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE slow

if [ -f tests/fuzz/run.sh ]; then
  echo "== front-end fuzzing (bounded)"
  tests/fuzz/run.sh 60
fi
