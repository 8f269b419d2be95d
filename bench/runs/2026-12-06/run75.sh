#!/usr/bin/env bash
# Device call 75 (2026-12-06): Q's A fragments in registers now on by default (fa_plan_q_regs: two computing
# warpgroups, D <= 128, one item a block, no document cut; a warp sync after the loads for racecheck's intra-warp
# warnings of run74). Checks under the new default (forward tests capped, `attnc run --check` on sequences and
# grids, racecheck and memcheck), then new default against ATTNC_Q_REGS=0 on causal and dense D=128 and on issue
# 17's GNA rows with their dense references (FLUX: H=24 N=65536, HunyuanVideo: N=115200), three rounds. And the
# backward's lse/delta loads issued before the first wait ($ATTNC_BWD_STAT_EARLY=1, opt-in): checked (test_gpu_backward
# capped, `attnc run --check --grad`), then timed against the default on dense and causal D=128 N=16384.
#   OUT=dir [TCAP=s] [ROUNDS=n] bash bench/runs/2026-12-06/run75.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-60}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_MAX_TREE ATTNC_Q_REGS ATTNC_BWD_STAT_EARLY
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
el tests
for t in overlap grid_tma edges unions dilation varlen; do
  ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $TCAP $T/test_gpu_test_gpu_$t > /tmp/t_$t.txt 2>&1; echo "rc=$?" >> /tmp/t_$t.txt ) &
done
( ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_BWD_STAT_EARLY=1 timeout $TCAP $T/test_gpu_test_gpu_backward > /tmp/t_backward.txt 2>&1; echo "rc=$?" >> /tmp/t_backward.txt ) &
gradchecks() { for spec in "recipes/causal.attn batch=2,heads=3,tokens=300" "recipes/dense.attn batch=1,heads=2,tokens=1" \
    "$R/dense_d128.attn batch=1,heads=2,tokens=4097" "$R/causal_d128.attn batch=2,heads=4,tokens=1000" \
    "recipes/gqa.attn batch=2,heads=8,kv_heads=2,tokens=333" "$R/sinks_swa_w2047.attn batch=1,heads=2,tokens=3000" \
    "$R/doc_causal.attn batch=1,heads=2,tokens=3000"; do
    set -- $spec
    out=$(ATTNC_BWD_STAT_EARLY=1 timeout 60 $A run $1 --backend cuda --check --grad --shape $2 2>&1); rc=$?
    echo "$(basename $1) $2 --grad STAT_EARLY=1: exit $rc $(echo "$out" | grep -iE 'check d|mismatch|error' | tr '\n' ' ' | cut -c1-200)"
  done; }
( ATTNC_CACHE_DIR=$(mktemp -d) gradchecks > /tmp/t_gradcheck.txt 2>&1 ) &
( ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_TEST_SMALL=1 timeout $TCAP $T/test_gpu_test_gpu_recipes > /tmp/t_recipes.txt 2>&1; echo "rc=$?" >> /tmp/t_recipes.txt ) &
runchecks() { for spec in "recipes/causal.attn batch=3,heads=5,tokens=1000" "recipes/dense.attn batch=1,heads=2,tokens=1" \
    "$R/causal_d128.attn batch=2,heads=3,tokens=4097" "recipes/gqa.attn batch=2,heads=8,kv_heads=2,tokens=333" \
    "recipes/softcap.attn batch=1,heads=2,tokens=1500" "$R/swa_w1024.attn batch=1,heads=2,tokens=3000" \
    "$R/flux_gna.attn batch=1,heads=2,H=40,W=56" "$R/hunyuan_gna.attn batch=1,heads=2,T=5,H=24,W=40" \
    "$R/na2d_k17.attn batch=1,heads=2,H=45,W=37" "$R/cross_d128.attn batch=1,heads=3,tokens=1000,kv_tokens=777"; do
    set -- $spec
    for lay in bhsd bshd; do
      out=$(timeout 60 $A run $1 --backend cuda --check --shape $2 --layout $lay 2>&1); rc=$?
      echo "$(basename $1) $2 $lay: exit $rc $(echo "$out" | grep -iE 'check o|mismatch|error' | tr '\n' ' ' | cut -c1-160)"
    done
  done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > /tmp/t_runcheck.txt 2>&1 ) &
wait
{ for t in overlap grid_tma edges unions dilation varlen recipes backward; do
    echo "$t: $(grep -c 'PASS' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m3 'FAIL' /tmp/t_$t.txt | cut -c1-250
  done; cat /tmp/t_runcheck.txt /tmp/t_gradcheck.txt; } | tee $OUT/tests.txt
for spec in "racecheck $R/causal_d128.attn batch=1,heads=2,tokens=1500" "racecheck $R/flux_gna.attn batch=1,heads=2,H=40,W=56" \
    "memcheck $R/causal_d128.attn batch=1,heads=2,tokens=1500"; do
  set -- $spec
  ( ATTNC_CACHE_DIR=$(mktemp -d) timeout 80 /usr/local/cuda/bin/compute-sanitizer --tool $1 $A run $2 --backend cuda --check --shape $3 > /tmp/san.txt 2>&1; echo "rc=$?" >> /tmp/san.txt )
  echo "$1 $(basename $2) $3: $(grep -E 'SUMMARY' /tmp/san.txt | tail -1) $(tail -1 /tmp/san.txt)" | tee -a $OUT/tests.txt
  grep -m4 -iE "warning|error|hazard" /tmp/san.txt | grep -v SUMMARY | cut -c1-200 | tee -a $OUT/tests.txt
done
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-12s %-34s %-16s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in $(seq 1 ${ROUNDS:-3}); do
  for e in X=1 ATTNC_Q_REGS=0; do
    row $R/causal_d128.attn batch=8,heads=16,tokens=8192 $e
    row $R/dense_d128.attn batch=1,heads=16,tokens=16384 $e
    row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 $e
    row $R/dense_d128.attn batch=1,heads=24,tokens=65536 $e
    row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 $e
    row $R/dense_d128.attn batch=1,heads=24,tokens=115200 $e
  done
done 2>&1 | tee $OUT/rows.txt
for e in X=1 ATTNC_Q_REGS=0; do
  row $R/flux_na.attn batch=1,heads=24,H=256,W=256 $e; row $R/hunyuan_na.attn batch=1,heads=24,T=30,H=48,W=80 $e
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 $e; row $R/swa_w1024.attn batch=1,heads=16,tokens=16384 $e
done 2>&1 | tee -a $OUT/rows.txt
el bwd
bwd() { local rc=$1 sh=$2 e=$3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --grad --warmup 10 --iters 50 2>&1)
  printf '%-12s %-30s %-22s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$r" | grep -oE 'backward .*' | grep -oE 'time [0-9.]+ ms|[0-9.]+ TFLOP/s \(2.5x' | head -2 | tr '\n' ' ')"; }
for round in $(seq 1 ${ROUNDS:-3}); do
  for e in X=1 ATTNC_BWD_STAT_EARLY=1; do
    bwd $R/dense_d128.attn batch=1,heads=16,tokens=16384 $e; bwd $R/causal_d128.attn batch=1,heads=16,tokens=16384 $e
  done
done 2>&1 | tee $OUT/bwd.txt
el done
