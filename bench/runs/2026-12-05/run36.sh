#!/usr/bin/env bash
# Device call 36 (2026-12-05): run33's backward part: 128 keys per dK/dV CTA against the default 64
# (window 1024, causal, dense, 2-D NA; --grad), two interleaved rounds; then fla from carried wheels
# against attnc's linear backward (issue 14's anchor).
#   OUT=dir bash bench/runs/2026-12-05/run36.sh      (.device-all/main.tar.xz from scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
A=/tmp/pk_main/bin/attnc R=bench/recipes
grow() { local rc=$1 sh=$2 sc=$3; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --grad --warmup 3 --iters 20 ${sc:+--schedule "$sc"} 2>&1)
  printf '%-12s %-32s %-32s %s\n' "$(basename $rc .attn)" "$sh" "${sc:-default}" "$(echo "$r" | grep -E '^  backward' | cut -c1-200)"; }
for round in 1 2; do
  for sc in "" "q=64 kv=128 stages=2 warps=4"; do
    grow $R/swa_w1024.attn batch=1,heads=16,tokens=16384 "$sc"
    grow $R/causal_d128.attn batch=1,heads=16,tokens=16384 "$sc"
    grow $R/dense_d128.attn batch=1,heads=16,tokens=16384 "$sc"
    grow $R/na2d_k17.attn batch=1,heads=16,H=128,W=128 "${sc:+q=8x8 kv=8x16 stages=2 warps=4}"
  done
  el "round $round"
done 2>&1 | tee $OUT/bench_bwd.txt
el bwd-done
# fla (issue 14's linear anchor) from the carried wheel (.device-all/fla_core-0.6.0-py3-none-any.whl, from
# `pip download --no-deps fla-core==0.6.0` on the development machine), then attnc against it in one process
el fla
pip install -q --no-deps --target /tmp/flasite .device-all/fla_core-0.6.0-py3-none-any.whl .device-all/einops-*.whl > /tmp/fla_pip.txt 2>&1
timeout 200 env PYTHONPATH=/tmp/flasite OUT=$OUT ATTNC_BIN=$A python3 bench/linear_anchors.py --bwd > /tmp/fla.txt 2>&1
tail -3 /tmp/fla_pip.txt; tail -12 /tmp/fla.txt | tee $OUT/fla.txt
el done
