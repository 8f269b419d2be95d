#!/usr/bin/env bash
# Device call 3 of the 09:05 session: merged main (producer backward, forward on the tile builder,
# linear backward) — the GPU test programs at once, each under its own cap, then the backward and
# forward benches with the new defaults.   OUT=dir bash bench/runs/2026-12-03/run10.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1 ATTNC_CACHE_DIR=/tmp/attnc-cache-run10
T=.device/tests/gpu; L=$OUT/logs; mkdir -p $L
el "GPU tests, all at once"
for spec in backward:230 recipes:200 overlap:200 linear_backward:120 linear:150 grid_tma:120 edges:80 hand:80 documents:200 unions:200; do
  n=${spec%%:*} cap=${spec##*:}
  env=(); [ $n = backward ] && env=(ATTNC_TEST_BWD_DQ=bulk)  # the default dQ, where the producer runs
  ( s=$(date +%s); env "${env[@]}" timeout $cap $T/test_gpu_test_gpu_$n > $L/$n.log 2>&1; rc=$?
    echo "$n rc=$rc $(( $(date +%s) - s ))s PASS=$(grep -c '^\[PASS\]\|^\[ *OK *\]' $L/$n.log) FAIL=$(grep -c '^\[FAIL\]\|^\[  FAILED' $L/$n.log)" ) &
done
wait
grep -h "^\[FAIL\]" $L/*.log | cut -c1-200 | head -20
echo "backward PASS lines on the producer: $(grep '^\[PASS\]' $L/backward.log | grep -c producer)"
el "benches"
for c in "causal --grad" "dense --grad" "causal" "dense"; do
  set -- $c
  r=$(.device/bin/attnc bench recipes/$1.attn --shape batch=1,heads=16,tokens=16384 ${2:-} --warmup 5 --iters 20 2>&1 | grep -E "^ *(backward|forward) \[|TFLOP" | head -3 | cut -c1-200)
  echo "$c: $r"
done
.device/bin/attnc bench recipes/lightning2.attn --shape batch=1,heads=16,tokens=16384 --grad --warmup 5 --iters 20 2>&1 | grep -E "backward|forward" | head -3 | cut -c1-200
ls .whl/*.whl >/dev/null 2>&1 && python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl > $OUT/pip.log 2>&1
PYTHONPATH=/tmp/site timeout 70 python3 bench/linear_anchors.py --bwd --attnc .device/bin/attnc > $OUT/linear_bwd.txt 2>&1; echo "linear_anchors rc=$?"; tail -8 $OUT/linear_bwd.txt
el done
