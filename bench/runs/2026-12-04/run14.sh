#!/usr/bin/env bash
# Device call 14 of 2026-12-04: masked recipes under overlap=1 with three K/V stages (run10 tried two,
# which lost 1-7%), and the plain loop with three stages, against their default schedule; two rounds.
# OUT=dir bash bench/runs/2026-12-04/run14.sh   (.device-all/main.tar.xz = the build under test)
set -u
ROOT=$PWD
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
A=$ROOT/.device/bin/attnc
row() { # label recipe shape schedule [args]
  local label=$1 recipe=$2 shape=$3 sched=$4; shift 4
  local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d /tmp/b.XXXX) timeout 90 $A bench $recipe --shape $shape --warmup 5 --iters 30 ${sched:+--schedule "$sched"} "$@" 2>&1)
  printf '%-12s %-40s %s\n' "$label" "${sched:-default}" "$(echo "$r" | grep -oE '[0-9.]+ TFLOP/s' | head -1)"
}
cases() {
  echo "flux_gna bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256 q=8x16_kv=8x16"
  echo "hunyuan_gna bench/recipes/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 q=2x8x8_kv=2x8x8"
  echo "sinks_swa bench/recipes/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 q=128_kv=128"
  echo "doc8 bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536 q=128_kv=128 --docs 8"
  echo "causal16k bench/recipes/causal_d128.attn batch=1,heads=16,tokens=16384 q=128_kv=128"
}
for round in 1 2; do
  cases | while read -r label recipe shape tiles extra; do
    t=$(echo $tiles | tr _ ' ')
    row $label $recipe $shape "" $extra
    row $label $recipe $shape "$t stages=3 warps=8 overlap=1" $extra
    row $label $recipe $shape "$t stages=3 warps=8" $extra
  done
done | tee $OUT/stages.txt
