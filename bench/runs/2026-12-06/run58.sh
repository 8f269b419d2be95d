#!/usr/bin/env bash
# Device call 58 (2026-12-06): why short causal blocks lose ~10 us each (fit of run56/57 on the H100: causal
# N=16384 at 720 TFLOP/s, B=8 N=8192 at ~610 with the same kernel). Nsight Compute on one launch of each
# (SM-active vs elapsed cycles: gaps between blocks and the tail; tensor-pipe activity; DRAM; L2 hits), then
# persist=1 with dynamic items against the plain grid with 100 timed iterations, three rounds.
#   OUT=dir bash bench/runs/2026-12-06/run58.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
R=bench/recipes A=/tmp/pk/bin/attnc NCU=/usr/local/cuda/bin/ncu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
M=gpc__cycles_elapsed.max,sm__cycles_active.avg,sm__cycles_active.max,sm__cycles_active.min,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_elapsed,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sector_hit_rate.pct,sm__warps_active.avg.pct_of_peak_sustained_active,gpu__time_duration.sum
prof() { local name=$1 rc=$2 sh=$3; shift 3
  ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $NCU --metrics $M -k regex:attnc --launch-skip 2 --launch-count 1 \
    $A bench $rc --shape $sh --warmup 1 --iters 2 "$@" > $OUT/ncu_$name.txt 2>&1
  echo "== $name"; grep -E "gpc__|sm__|dram__|lts__|gpu__" $OUT/ncu_$name.txt | sed 's/  */ /g'; }
el ncu
{ prof causal16k $R/causal_d128.attn batch=1,heads=16,tokens=16384
  prof causal8x8k $R/causal_d128.attn batch=8,heads=16,tokens=8192
  prof doc8 $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 8
  prof dense16k $R/dense_d128.attn batch=1,heads=16,tokens=16384
  ATTNC_PERSIST_DYNAMIC=1 prof causal8x8k_dyn $R/causal_d128.attn batch=8,heads=16,tokens=8192 --schedule "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"
} 2>&1 | tee $OUT/ncu.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-12s %-28s %-22s %-50s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
el rows
P="q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"
for round in 1 2 3; do
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 ATTNC_PERSIST_DYNAMIC=1 --schedule "$P"
  row $R/causal_d128.attn batch=2,heads=16,tokens=8192 X=1
  row $R/causal_d128.attn batch=2,heads=16,tokens=8192 ATTNC_PERSIST_DYNAMIC=1 --schedule "$P"
done 2>&1 | tee $OUT/rows.txt
el done
