#!/usr/bin/env bash
# Runs every test that needs no GPU: a warnings-as-errors build with the
# whole CTest suite, the same suite under AddressSanitizer/UBSan, and a
# bounded run of the three fuzzers (tests/fuzz/run.sh). GPU tests report "skipped: no CUDA
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

echo "== AddressSanitizer/UBSan build + tests"
build build-asan -DCMAKE_BUILD_TYPE=Debug -DATTNC_SANITIZE=ON
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" -LE slow

if [ -f tests/fuzz/run.sh ]; then
  echo "== fuzzing: front end, pipeline, differential (bounded: 120 s of fuzzing plus loading the seeds, under 3 min)"
  tests/fuzz/run.sh 120
fi
