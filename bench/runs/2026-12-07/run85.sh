#!/usr/bin/env bash
# Device call 85 (2026-12-07): why 8 documents take 2.6% more cycles than causal B=8 (run83) when a full tile runs
# the same ~480 SASS instructions in both loops: instructions executed and the warp stall breakdown (no
# instruction: i-cache misses of the document kernel's 2x larger code; wait; long scoreboard; barrier) from
# Nsight Compute's WarpStateStats and InstructionStats with every detail printed; sinks + window beside them.
#   OUT=dir bash bench/runs/2026-12-07/run85.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
R=bench/recipes A=/tmp/pk/bin/attnc NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
cases=("doc8 $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 8"
       "causal8 $R/causal_d128.attn batch=8,heads=16,tokens=8192"
       "sinks_swa $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768")
for c in "${cases[@]}"; do
  set -- $c; name=$1 rc=$2 sh=$3; shift 3
  ATTNC_CACHE_DIR=$(mktemp -d) timeout 200 $NCU --clock-control none -k regex:attnc_ --launch-skip 30 --launch-count 1 \
    --section WarpStateStats --section InstructionStats --section SpeedOfLight --print-details all \
    --metrics smsp__inst_executed.sum,smsp__cycles_active.avg,sm__cycles_elapsed.max \
    $A bench $rc --shape $sh --warmup 20 --iters 20 "$@" > $OUT/ncu_$name.txt 2>&1
  echo "== $name (rc $?)"
  # per-SASS-instruction stall samples (the source page) for the two issue-17 cases
  if [ $name != causal8 ]; then
    ATTNC_CACHE_DIR=$(mktemp -d) timeout 200 $NCU --clock-control none -k regex:attnc_ --launch-skip 30 --launch-count 1 \
      --section SourceCounters --section WarpStateStats -f -o /tmp/rep_$name \
      $A bench $rc --shape $sh --warmup 20 --iters 20 "$@" > /dev/null 2>&1
    timeout 120 $NCU --import /tmp/rep_$name.ncu-rep --page source --csv --print-source sass > $OUT/src_$name.csv 2>&1
    echo "   source page rc $? lines $(wc -l < $OUT/src_$name.csv)"
  fi
  grep -iE "Elapsed Cycles|Executed Instructions |inst_executed.sum|cycles_active.avg|Stall|stalled|No Instruction|Issued Ipc" $OUT/ncu_$name.txt | grep -v "^\s*$" | head -40
done
# the Python call overhead after the varlen change (target <= 20 us for kernel(q, k, v) on torch CUDA tensors)
PYTHONPATH=$PWD/python ATTNC_LIBRARY=/tmp/pk/lib/libattnc.so.0 ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 \
  python3 python/bench_overhead.py 2>&1 | tee $OUT/python-overhead.txt | tail -12
