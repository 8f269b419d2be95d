#!/usr/bin/env bash
# Device call 76 (2026-12-06): the forward tests that failed in run75 under the first Q-in-registers default, now that
# fa_plan_q_regs takes only overlapped TMA kernels on token sequences (every recipe small, unions, dilation, varlen,
# overlap, grid_tma; `attnc run --check` on the default schedules of causal, dense, cross, swa, documents, sinks).
#   OUT=dir [TCAP=s] bash bench/runs/2026-12-06/run76.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-70}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_MAX_TREE ATTNC_Q_REGS ATTNC_BWD_STAT_EARLY
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv > $OUT/gpu.txt 2>&1
el tests
for t in unions dilation varlen overlap grid_tma; do
  ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $TCAP $T/test_gpu_test_gpu_$t > /tmp/t_$t.txt 2>&1; echo "rc=$?" >> /tmp/t_$t.txt ) &
done
( ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_TEST_SMALL=1 timeout $TCAP $T/test_gpu_test_gpu_recipes > /tmp/t_recipes.txt 2>&1; echo "rc=$?" >> /tmp/t_recipes.txt ) &
runchecks() { for spec in "$R/causal_d128.attn batch=2,heads=3,tokens=4097" "$R/dense_d128.attn batch=1,heads=2,tokens=999" \
    "$R/cross_d128.attn batch=1,heads=3,tokens=1000,kv_tokens=777" "$R/swa_w1024.attn batch=1,heads=2,tokens=3000" \
    "$R/doc_causal.attn batch=1,heads=3,tokens=3000" "$R/sinks_swa_w2047.attn batch=1,heads=2,tokens=3000" \
    "$R/causal_d64.attn batch=1,heads=3,tokens=1111"; do
    set -- $spec
    out=$(timeout 60 $A run $1 --backend cuda --check --shape $2 2>&1); rc=$?
    echo "$(basename $1) $2: exit $rc $(echo "$out" | grep -iE 'check o|rel L2|error' | head -2 | tr '\n' ' ' | cut -c1-160)"
  done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > /tmp/t_runcheck.txt 2>&1 ) &
wait
{ for t in unions dilation varlen overlap grid_tma recipes; do
    echo "$t: $(grep -c 'PASS' /tmp/t_$t.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_$t.txt) FAIL-lines, $(tail -1 /tmp/t_$t.txt)"
    grep -m4 'FAIL' /tmp/t_$t.txt | cut -c1-220
  done; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
cp /tmp/t_recipes.txt $OUT/recipes.txt
el done
