#!/usr/bin/env bash
# Device call 1 of the 15:20 session: profiles that steer this session's helpers — the linear
# backward's kernels (ncu time per kernel), the radial forward's stall reasons and instruction mix,
# and the backward baselines of documents and sinks+window (the tiles the backward cuts next).
# .device-all/main.tar.xz.   OUT=dir bash bench/runs/2026-12-03/run14.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
export ATTNC_CACHE_DIR=$(mktemp -d /tmp/cache.XXXX)
A=$ROOT/.device/bin/attnc
NCU=/usr/local/cuda/bin/ncu
el "1. linear backward, time per kernel (ncu, lightning2 B=1 H=16 N=16384)"
for seg in "" 8; do
  ATTNC_LIN_SEGMENTS=$seg timeout 120 $NCU --clock-control none --metrics gpu__time_duration.sum,launch__grid_size,launch__registers_per_thread,launch__occupancy_limit_registers \
    $A bench recipes/lightning2.attn --shape batch=1,heads=16,tokens=16384 --grad --warmup 0 --iters 1 > /tmp/lin$seg.txt 2>&1
  echo "segments='$seg' rc=$?"
  awk '/^  attnc|^  [a-z_]+.*\(/{k=$1} /gpu__time_duration.sum/{print k, $NF, $(NF-1)} /launch__grid_size/{print "   grid", $NF} /registers_per_thread/{print "   regs", $NF}' /tmp/lin$seg.txt | head -40
done
el "2. radial forward under ncu (one launch): speed of light, stalls, instruction mix"
timeout 240 $NCU --clock-control none -k regex:attnc -c 1 --section SpeedOfLight --section WarpStateStats --section InstructionStats --section LaunchStats --section Occupancy --section ComputeWorkloadAnalysis \
  $A bench recipes/radial_attention.attn --shape batch=1,heads=16,tokens=31200 --warmup 0 --iters 1 > $OUT/radial_ncu.txt 2>&1
echo "rc=$?"; grep -E "Duration|Registers|Shared Memory Config|Achieved Occ|Stall|Executed Ipc|SM Busy|Compute \(SM\)|Memory Throughput|Block Size|Grid Size|Issue Slots|Warp Cycles" $OUT/radial_ncu.txt | head -40
el "3. backward baselines: documents (8 of 8192) and sinks+window (--grad --warmup 3 --iters 10)"
timeout 150 $A bench bench/recipes/doc_causal.attn --shape batch=1,heads=16,tokens=65536 --docs 8 --grad --warmup 3 --iters 10 2>&1 | grep -iE 'TFLOP|ms|tiles' | head -6
timeout 100 $A bench bench/recipes/sinks_swa_w2047.attn --shape batch=1,heads=16,tokens=32768 --grad --warmup 3 --iters 10 2>&1 | grep -iE 'TFLOP|ms|tiles' | head -6
el "4. radial forward timing and dense on the same tokens"
timeout 60 $A bench recipes/radial_attention.attn --shape batch=1,heads=16,tokens=31200 --warmup 3 --iters 10 2>&1 | grep -iE 'TFLOP|time|tiles' | head -4
timeout 60 $A bench bench/recipes/dense_d128.attn --shape batch=1,heads=16,tokens=31200 --warmup 3 --iters 10 2>&1 | grep -iE 'TFLOP|time' | head -2
el done
