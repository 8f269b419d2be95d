#!/usr/bin/env bash
# Runs every test that needs no GPU: a warnings-as-errors build with the
# whole CTest suite, a warnings-as-errors Release (-O3) build with a smoke
# run (gcc warns differently at -O3), the same suite under
# AddressSanitizer/UBSan, a bounded run of the three fuzzers
# (tests/fuzz/run.sh) and the Python package's tests. GPU tests report "skipped: no CUDA
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
  echo "== fuzzing: front end, pipeline, differential (bounded: 120 s of fuzzing plus loading the seeds, under 3 min)"
  tests/fuzz/run.sh 120
fi

# The Python package (python/): installed into build-venv/ from this
# checkout (bundling build/lib/libattnc) exactly as a user would, then its
# tests (numpy and torch on the CPU; the GPU tests report "skipped: no CUDA
# driver"). pytest's exit 5 (no test collected) is a failure here.
echo "== Python package: pip install ./python, pytest"
scripts/install-deps.sh --python
venv=${ATTNC_VENV:-build-venv}
"$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps \
  --no-build-isolation ./python
need_torch=1
[ "${ATTNC_PY_TORCH:-1}" != 0 ] || need_torch=
rc=0
(cd python/tests && ATTNC_TEST_REQUIRE_TORCH=$need_torch "../../$venv/bin/python" -m pytest -q -rs \
  -p no:cacheprovider .) || rc=$?
if [ $rc -eq 5 ]; then echo "python tests: pytest collected no tests"; exit 1; fi
[ $rc -eq 0 ] || exit $rc
