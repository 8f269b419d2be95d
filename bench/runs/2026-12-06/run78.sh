#!/usr/bin/env bash
# Device call 78 (2026-12-06, third session): Q in registers in the plain key loop, now that its wrong results are
# understood. ptxas 13.0 let the P V product's A fragments (P, written after S in the same iteration) take Q's
# registers, so the next tile's S read P (SASS: F2FP packs into the LDSM's registers); the plain loop now carries Q
# from tile to tile through an XOR with an opaque zero (nvptx_fa2_wgmma.c q_this_tile), which ptxas honours.
# ATTNC_Q_REGS=1 forces it on every warp-specialized TMA kernel (plain loop, grids); checks run75's failures under it,
# then times plain-loop and grid kernels with it against ATTNC_Q_REGS=0 (same call).
#   OUT=dir [TCAP=s] [ROUNDS=n] bash bench/runs/2026-12-06/run78.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-60}; ROUNDS=${ROUNDS:-2}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_MAX_TREE ATTNC_Q_REGS ATTNC_BWD_STAT_EARLY
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu SAN=/usr/local/cuda/bin/compute-sanitizer
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv | tee $OUT/gpu.txt
el tests
for t in unions dilation varlen grid_tma edges radial; do
  ( ATTNC_Q_REGS=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout $TCAP $T/test_gpu_test_gpu_$t > /tmp/t_$t.txt 2>&1; echo "rc=$?" >> /tmp/t_$t.txt ) &
done
( ATTNC_Q_REGS=1 ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_TEST_SMALL=1 timeout $TCAP $T/test_gpu_test_gpu_recipes > /tmp/t_recipes.txt 2>&1; echo "rc=$?" >> /tmp/t_recipes.txt ) &
runchecks() { for spec in "$R/swa_w1024.attn batch=1,heads=2,tokens=3000" "$R/swa_w1024.attn batch=2,heads=3,tokens=2049" \
    "$R/flux_na.attn batch=1,heads=2,H=40,W=56" "$R/hunyuan_na.attn batch=1,heads=2,T=5,H=24,W=40" \
    "$R/flux_gna.attn batch=1,heads=2,H=40,W=56" "$R/hunyuan_gna.attn batch=1,heads=2,T=5,H=24,W=40" \
    "$R/na2d_k17.attn batch=1,heads=2,H=45,W=37" "$R/na1d_k1023.attn batch=1,heads=2,tokens=3001" \
    "$R/causal_d128.attn batch=2,heads=3,tokens=4097" "$R/sinks_swa_w2047.attn batch=1,heads=8,tokens=4096"; do
    set -- $spec
    out=$(ATTNC_Q_REGS=1 timeout 60 $A run $1 --backend cuda --check --shape $2 2>&1); rc=$?
    echo "$(basename $1) $2 (Q_REGS=1): exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error' | head -1 | tr '\n' ' ' | cut -c1-120)"
  done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > /tmp/t_runcheck.txt 2>&1 ) &
wait
{ for t in unions dilation varlen grid_tma edges radial recipes; do
    echo "$t (Q_REGS=1): $(grep -c 'PASS' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220
  done; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
el sanitizers
for spec in "racecheck $R/swa_w1024.attn batch=1,heads=2,tokens=3000" "racecheck $R/flux_na.attn batch=1,heads=2,H=40,W=56" \
            "memcheck $R/swa_w1024.attn batch=1,heads=2,tokens=3000"; do
  set -- $spec
  out=$(ATTNC_Q_REGS=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $SAN --tool $1 $A run $2 --backend cuda --check --shape $3 2>&1); rc=$?
  echo "$1 $(basename $2) $3: rc=$rc $(echo "$out" | grep -E 'SUMMARY' | head -1)"
done | tee -a $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-14s %-32s %-16s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq $ROUNDS); do
  for e in ATTNC_Q_REGS=0 ATTNC_Q_REGS=1; do
    row $R/swa_w1024.attn batch=1,heads=16,tokens=16384 $e
    row $R/na2d_k17.attn batch=1,heads=16,H=128,W=128 $e
    row $R/na3d_k7x13x13.attn batch=1,heads=16,T=16,H=32,W=32 $e
    row $R/flux_na.attn batch=1,heads=24,H=256,W=256 $e
    row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 $e
    row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 $e
    row $R/hunyuan_na.attn batch=1,heads=24,T=30,H=48,W=80 $e
  done
done 2>&1 | tee $OUT/rows.txt
for e in ATTNC_Q_REGS=0 ATTNC_Q_REGS=1; do row $R/dense_d128.attn batch=1,heads=24,tokens=65536 $e; done 2>&1 | tee -a $OUT/rows.txt
el done
el seq_rows   # issue 17's sequence rows by default (persistent Q in registers since 52fd849), beside FlexAttention
for round in 1 2; do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
done 2>&1 | tee -a $OUT/rows.txt
OUT=$OUT timeout 90 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq.log
el done2
