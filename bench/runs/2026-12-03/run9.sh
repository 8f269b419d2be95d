#!/usr/bin/env bash
# Device call 2 of the 09:05 session: the helpers' GPU requests (each from its own packed build,
# .device-all/NAME.tar.xz = scripts/pack-device.sh folder + req.sh, under a time cap), then on
# main: param gradients under the wide grid dK/dV boxes and an ncu look at overlap=1 vs the
# default dense kernel.   OUT=dir bash bench/runs/2026-12-03/run9.sh "linbwd:150 wstile:130 ..."
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
export ATTNC_CACHE_DIR=/tmp/attnc-cache-run9
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
for spec in $1; do
  n=${spec%%:*} cap=${spec##*:}
  [ -f .device-all/$n.tar.xz ] || { echo "== $n: no pack"; continue; }
  rm -rf /tmp/pk_$n .device; mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz
  ln -sfn /tmp/pk_$n .device
  el "== $n (cap ${cap}s)"
  mkdir -p $OUT/$n
  OUT=$OUT LD_LIBRARY_PATH=$ROOT/.device/lib timeout $cap bash /tmp/pk_$n/req.sh > $OUT/$n/stdout.txt 2>&1
  echo "[$n rc=$?]"; tail -30 $OUT/$n/stdout.txt
done
[ -f .device-all/main.tar.xz ] || exit 0
rm -rf /tmp/pk_main .device; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
el "main: param gradients under wide boxes"
ATTNC_BWD_DKV_BOX=wide ATTNC_TEST_CASE=relpos ATTNC_TEST_RECIPE=relpos timeout 50 .device/tests/gpu/test_gpu_test_gpu_backward > $OUT/wide_param.log 2>&1
echo "rc=$? pass=$(grep -c '^\[PASS\]' $OUT/wide_param.log)"; grep "^\[FAIL\]" $OUT/wide_param.log | head -5
el "main: ncu default vs overlap=1, dense N=16384"
NCU=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
for s in def ov1; do
  sch=(); [ $s = ov1 ] && sch=(--schedule "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1")
  timeout 50 $NCU --clock-control none -k regex:attnc --launch-skip 1 --launch-count 1 \
    --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats --section ComputeWorkloadAnalysis \
    --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio' \
    .device/bin/attnc bench bench/recipes/dense_d128.attn --shape batch=1,heads=16,tokens=16384 "${sch[@]}" --warmup 1 --iters 1 \
    > $OUT/ncu-$s.txt 2>&1
  echo "== ncu $s rc=$?"
  grep -E "Duration|Registers Per|Warp Cycles Per Issued|Issue Slots Busy|No Eligible|Achieved Occ|Executed Ipc A|stalled" $OUT/ncu-$s.txt | awk '$NF+0 >= 0.05 || !/stalled/' | head -30
done
el done
