#!/usr/bin/env bash
# Device call 83 (2026-12-07): where 8 packed documents lose 2.6% against the same tiles as a causal batch (run82:
# doc8 N=65536 3.660 ms, causal B=8 N=8192 3.568; 64 documents lose 1.4% against B=64 N=1024). Nsight Compute
# (--clock-control none) on one launch of each after 30 warm-up launches: duration, SM throughput, warp stall
# reasons, issue slots; and sinks + window N=32768 beside them. Then plain timings of the four, for the record.
#   OUT=dir bash bench/runs/2026-12-07/run83.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
R=bench/recipes A=/tmp/pk/bin/attnc
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -1)
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee $OUT/gpu.txt
echo "ncu: ${NCU:-none}"
cases=("doc8 $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 8"
       "causal8 $R/causal_d128.attn batch=8,heads=16,tokens=8192"
       "doc64 $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 64"
       "causal64 $R/causal_d128.attn batch=64,heads=16,tokens=1024"
       "sinks_swa $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768")
el ncu
for c in "${cases[@]}"; do
  set -- $c; name=$1 rc=$2 sh=$3; shift 3
  ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $NCU --clock-control none -k regex:attnc_ --launch-skip 30 --launch-count 1 \
    --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section LaunchStats --section Occupancy \
    $A bench $rc --shape $sh --warmup 20 --iters 20 "$@" > $OUT/ncu_$name.txt 2>&1
  echo "== $name (rc $?)"
  grep -E "Duration|SM Frequency|Compute \(SM\) Throughput|Memory Throughput|Issued Ipc|No Eligible|Warp Cycles Per Issued|Registers Per|Grid Size|Achieved Occupancy|Issue Slots Busy|One or More Eligible|Stall" $OUT/ncu_$name.txt | head -24
done
el rows
for c in "${cases[@]}"; do
  set -- $c; name=$1 rc=$2 sh=$3; shift 3
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --warmup-ms 500 --iters 100 "$@" 2>&1)
  printf '%-10s %s\n' $name "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"
done | tee $OUT/rows.txt
el done
