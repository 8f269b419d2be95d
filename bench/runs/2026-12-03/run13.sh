#!/usr/bin/env bash
# Device call 3 of the 12:16 session: the merged main — every GPU test program at once (each under
# its own cap), compute-sanitizer racecheck of the producer backward, backward benches of the
# issue-14 cases, and old vs new (issue 13) on the cases not measured yet (old = e0704c5).
# .device-all/{main,old}.tar.xz.   OUT=dir bash bench/runs/2026-12-03/run13.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
for n in main old; do mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
export ATTNC_CACHE_DIR=$(mktemp -d /tmp/cache.XXXX)
B=$ROOT/.device/tests/gpu
el "1. GPU tests, parallel (cap ${TEST_CAP:-150} s each)"
PARALLEL=1 TEST_TIMEOUT=${TEST_CAP:-150} STEPS=tests OUT=/tmp/tests timeout $(( ${TEST_CAP:-150} + 20 )) bash scripts/gpu-run.sh .device > /tmp/tests.log 2>&1
grep -E "PASS|FAIL|SKIP" /tmp/tests/summary.txt | sed 's#/.*##'
for f in /tmp/tests/*.log; do grep -h "^\[FAIL\]\|FAILED\]" $f | head -5; done
el "2. racecheck of the producer backward (causal and dense, small)"
for c in causal dense; do
  ATTNC_TEST_SMALL=1 ATTNC_TEST_BWD_MODE=wgmma ATTNC_TEST_BWD_DQ=bulk ATTNC_TEST_CASE=$c ATTNC_TEST_RECIPE=none \
    timeout 60 /usr/local/cuda/bin/compute-sanitizer --tool racecheck --error-exitcode 9 --print-limit 10 $B/test_gpu_test_gpu_backward > /tmp/san.log 2>&1
  echo "racecheck backward $c rc=$? pass=$(grep -c '^\[PASS\]' /tmp/san.log) $(grep -h 'RACECHECK SUMMARY' /tmp/san.log)"; grep -m4 'Race reported' /tmp/san.log
done
el "3. backward benches (issue 14 cases; --grad --warmup 5 --iters 20)"
while read -r name recipe shape; do
  echo "$name $(.device/bin/attnc bench $recipe --shape $shape --grad --warmup 5 --iters 20 2>&1 | grep -iE 'TFLOP|ms' | head -3 | tr -s ' ' | tr '\n' ';')"
done <<'CASES'
causal16k bench/recipes/causal_d128.attn batch=1,heads=16,tokens=16384
dense16k bench/recipes/dense_d128.attn batch=1,heads=16,tokens=16384
swa1024 bench/recipes/swa_w1024.attn batch=1,heads=16,tokens=16384
na2d17 bench/recipes/na2d_k17.attn batch=1,heads=16,H=128,W=128
na3d bench/recipes/na3d_k7x13x13.attn batch=1,heads=16,T=16,H=32,W=32
CASES
el "4. old vs new, the cases without a comparison yet (warmup 3, iters 10)"
grep -v '^\s*#' bench/cases.txt | grep -v '^\s*$' | grep -E '^(lightning2|gated_linear|flux_na|flux_gna|hunyuan_na|hunyuan_gna) |tokens=65536  \| flux_dense|tokens=115200' > /tmp/cases_left.txt
cat /tmp/cases_left.txt | cut -c1-40
WARMUP=3 ITERS=10 RUN_TIMEOUT=${OVN_RUN_CAP:-90} OUT=/tmp/ovn timeout ${OVN_CAP:-260} bash bench/old-vs-new.sh /tmp/pk_main /tmp/pk_old /tmp/cases_left.txt > /tmp/ovn.log 2>&1
echo "rc=$?"; cat /tmp/ovn/old-vs-new.md; cp /tmp/ovn/old-vs-new.md $OUT/ 2>/dev/null
el "5. radial_attention, new build only (the old build's kept-pair count of its mask does not finish in minutes)"
timeout 60 .device/bin/attnc bench recipes/radial_attention.attn --shape batch=1,heads=16,tokens=31200 --warmup 3 --iters 10 2>&1 | grep -E 'time|tiles' | head -3
el done
