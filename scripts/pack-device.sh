#!/usr/bin/env bash
# pack-device.sh — build what the GPU machine runs and stage it in .device/
# (git-ignored; name it in the device call's `carry`). The machine gets the
# repository plus this folder: libattnc with LLVM linked in (stripped), the
# attnc command, the GPU and PTX test programs, the AOT GPU test
# (tests/aot/: test_unit_runtime_test_aot_gpu, with paths.txt naming the
# source and build folders compiled into it) and examples/aot_host (bin/),
# and the few shared libraries
# a bare Ubuntu image may lack (libffi, xxhash, sqlite, cmocka).
# usage: scripts/pack-device.sh [BUILD_DIR]   (default build-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-dev}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DATTNC_LLVM_STATIC=ON -DATTNC_WERROR=OFF >/dev/null
# Only what is packed (the unit tests run on the development machine): every
# GPU test program of tests/gpu (test_gpu_test_gpu_*), found in the build's
# own target list so a new GPU test needs no edit here.
gpu_tests=$(cmake --build "$B" --target help | sed -n 's/^\.\.\. \(test_gpu_test_gpu_[a-z0-9_]*\).*/\1/p' | sort -u)
cmake --build "$B" -j"$(nproc)" --target attnc attnc_cli aot_host test_unit_runtime_test_aot_gpu $gpu_tests >/dev/null
rm -rf .device
mkdir -p .device/lib .device/bin .device/tests/gpu
strip --strip-unneeded -o .device/lib/libattnc.so.0 "$B"/lib/libattnc.so.0.*
ln -s libattnc.so.0 .device/lib/libattnc.so
cp "$B"/bin/attnc .device/bin/
mkdir -p .device/tests/aot
cp "$B"/tests/test_unit_runtime_test_aot_gpu .device/tests/aot/
printf '%s\n%s\n' "$PWD" "$(cd "$B" && pwd)" > .device/tests/aot/paths.txt
[ -x "$B"/bin/aot_host ] && cp "$B"/bin/aot_host .device/bin/
find "$B"/tests/gpu -maxdepth 1 -type f -executable -name 'test_*' -exec cp {} .device/tests/gpu/ \;
for lib in libffi.so.8 libxxhash.so.0 libsqlite3.so.0 libcmocka.so.0; do
  # no early `exit` in awk: ldconfig would die of SIGPIPE and pipefail + set -e
  # would end this script silently, before the libraries are copied
  src=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !found {print $NF; found = 1}')
  [ -n "$src" ] && cp -L "$src" .device/lib/
done
du -sh .device
