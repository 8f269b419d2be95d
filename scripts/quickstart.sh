#!/usr/bin/env bash
# The main job for a new user: install dependencies, build attnc, and run a
# shipped recipe through it (check it, emit PTX for Hopper, run it on the CPU
# against the fp64 reference where that backend exists).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
attnc=build/bin/attnc
recipe=recipes/neighborhood2d.attn
echo "== attnc check recipes/*.attn"
$attnc check recipes/*.attn
echo "== attnc ptx $recipe --arch sm_90a -o build/neighborhood2d.ptx"
$attnc ptx $recipe --arch sm_90a -o build/neighborhood2d.ptx
grep -m3 -E '^\.(version|target)|wgmma.mma_async|mma.sync' build/neighborhood2d.ptx
echo "== attnc run $recipe --backend cpu --check"
$attnc run $recipe --backend cpu --check
