#!/usr/bin/env bash
# Device call 1 of the 09:05 session: merged main 8c31a28's GPU tests (all programs at once),
# param gradients under the wide grid dK/dV boxes, compute-sanitizer (small cases), the 14
# old-vs-new cases the previous session did not reach (old = e0704c5), and an ncu look at
# why overlap=1 is slower than the default dense kernel.
# .device-all/{main,old}.tar.xz = scripts/pack-device.sh folders.   OUT=dir bash run8.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
for n in main old; do mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
B=$ROOT/.device/tests/gpu
el "1. GPU tests, parallel (cap 170 s each)"
PARALLEL=1 TEST_TIMEOUT=170 STEPS=tests OUT=$OUT/tests timeout 190 bash scripts/gpu-run.sh .device > $OUT/tests.log 2>&1
grep -E "PASS|FAIL|SKIP" $OUT/tests/summary.txt | sed 's#/.*##'
for f in $OUT/tests/*.log; do grep -h "^\[FAIL\]\|FAILED\]" $f | head -5; done
el "2. param gradients under wide boxes"
ATTNC_BWD_DKV_BOX=wide ATTNC_TEST_CASE=relpos ATTNC_TEST_RECIPE=relpos timeout 60 $B/test_gpu_test_gpu_backward > $OUT/wide_param.log 2>&1; echo "rc=$?"
grep -c "^\[PASS\]" $OUT/wide_param.log; grep "^\[FAIL\]" $OUT/wide_param.log | head
el "3. compute-sanitizer memcheck + racecheck, small"
SAN=/usr/local/cuda/bin/compute-sanitizer
for t in recipes backward merge grid_tma; do
  for tool in memcheck racecheck; do
    ATTNC_TEST_SMALL=1 timeout 45 $SAN --tool $tool --error-exitcode 9 --print-limit 10 $B/test_gpu_test_gpu_$t > $OUT/san-$tool-$t.log 2>&1
    echo "$tool $t rc=$? $(grep -h "ERROR SUMMARY\|RACECHECK SUMMARY" $OUT/san-$tool-$t.log | tail -1)"
  done
done
el "4. old vs new, the 14 cases not reached before"
grep -v '^\s*#' bench/cases.txt | grep -v '^\s*$' | tail -14 > /tmp/cases14.txt
OUT=$OUT timeout 200 bash bench/old-vs-new.sh /tmp/pk_main /tmp/pk_old /tmp/cases14.txt > $OUT/ovn.log 2>&1
cat $OUT/old-vs-new.md
el "5. ncu: default vs overlap=1, dense N=16384"
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
for s in default "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"; do
  sch=(); [ "$s" = default ] || sch=(--schedule "$s")
  timeout 60 $NCU --clock-control none -k regex:attnc --launch-skip 1 --launch-count 1 \
    --section WarpStateStats --section SchedulerStats --section ComputeWorkloadAnalysis --section Occupancy --section LaunchStats \
    --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio' \
    .device/bin/attnc bench bench/recipes/dense_d128.attn --shape batch=1,heads=16,tokens=16384 "${sch[@]}" --warmup 1 --iters 1 \
    > "$OUT/ncu-$( [ "$s" = default ] && echo def || echo ov1).txt" 2>&1
done
for f in $OUT/ncu-*.txt; do echo "== $f"; grep -E "Duration|Registers Per|Warp Cycles Per Issued|Issued Warp Per|No Eligible|Stall|Achieved Occ|Theoretical Occ|Executed Ipc A|stalled" $f | grep -v " 0$\| 0\.0[0-4]" | head -40; done
el done
