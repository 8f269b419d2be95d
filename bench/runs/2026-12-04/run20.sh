#!/usr/bin/env bash
# Device call 20 of 2026-12-04 (experiment; the build had a temporary ATTNC_EXP_NO_EMPTY switch that drops the
# per-tile empty test, valid for GNA boxes, where no tile of the range is empty): does the overlapped loop's
# empty-tile branch (skip_tile / compute_tile, nvptx_fa2_overlap.c) cost the GNA kernels their overlap gain?
set -u
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
A=/tmp/pk_main/bin/attnc
row() { local env=$1 rc=$2 sh=$3 sc=$4 r; r=$(env $env ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 5 --iters 30 ${sc:+--schedule "$sc"} 2>&1)
  printf '%-22s %-12s %-44s %s\n' "$env" "$(basename $rc .attn)" "${sc:-default}" "$(echo "$r" | grep -oE '[0-9.]+ TFLOP/s' | head -1)"; }
for round in 1 2; do
  for e in X=0 ATTNC_EXP_NO_EMPTY=1; do
    row $e bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256 ""
    row $e bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=8x16 stages=2 warps=8 overlap=1"
    row $e bench/recipes/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 ""
    row $e bench/recipes/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=2 warps=8 overlap=1"
  done
done | tee $OUT/noempty.txt
