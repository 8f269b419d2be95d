#!/usr/bin/env bash
# Device call 79 (2026-12-06, third session): Q in registers on the overlapped grids by default (GNA; fa_plan_q_regs
# no longer excludes grids). Checks at shapes the windows fit (run78's grid checks asked for windows larger than the
# grid: user errors, not run), racecheck on FLUX GNA; GNA rows default vs ATTNC_Q_REGS=0 with their dense reference;
# then sinks + window and 8 documents, four rounds (run78's sinks rows spread 1.064-1.144 ms), beside Flex.
#   OUT=dir [TCAP=s] [ROUNDS=n] bash bench/runs/2026-12-06/run79.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-60}; ROUNDS=${ROUNDS:-3}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_MAX_TREE ATTNC_Q_REGS ATTNC_BWD_STAT_EARLY
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu SAN=/usr/local/cuda/bin/compute-sanitizer
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv | tee $OUT/gpu.txt
el tests
for t in grid_tma overlap; do
  ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $TCAP $T/test_gpu_test_gpu_$t > /tmp/t_$t.txt 2>&1; echo "rc=$?" >> /tmp/t_$t.txt ) &
done
runchecks() { for spec in "$R/flux_gna.attn batch=1,heads=2,H=96,W=112" "$R/flux_gna.attn batch=1,heads=1,H=83,W=130" \
    "$R/hunyuan_gna.attn batch=1,heads=1,T=20,H=30,W=41" "$R/flux_na.attn batch=1,heads=1,H=96,W=112"; do
    set -- $spec
    out=$(timeout 120 $A run $1 --backend cuda --check --shape $2 2>&1); rc=$?
    echo "$(basename $1) $2: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error|invalid' | head -1 | tr '\n' ' ' | cut -c1-140)"
  done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > /tmp/t_runcheck.txt 2>&1 ) &
wait
{ for t in grid_tma overlap; do
    echo "$t: $(grep -c 'PASS' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220
  done; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
out=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $SAN --tool racecheck $A run $R/flux_gna.attn --backend cuda --check --shape batch=1,heads=1,H=96,W=96 2>&1); rc=$?
echo "racecheck flux_gna 96x96: rc=$rc $(echo "$out" | grep -E 'SUMMARY|rel L2' | head -2 | tr '\n' ' ')" | tee -a $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-16s %-32s %-16s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq $ROUNDS); do
  for e in X=1 ATTNC_Q_REGS=0; do
    row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 $e
    row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 $e
  done
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
done 2>&1 | tee $OUT/rows.txt
row $R/dense_d128.attn batch=1,heads=24,tokens=65536 X=1 2>&1 | tee -a $OUT/rows.txt
row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1 2>&1 | tee -a $OUT/rows.txt
OUT=$OUT timeout 90 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq.log
el done
