#!/usr/bin/env bash
# Device call 4 of the 06:00 session: h-nabwd (128-key dK/dV boxes default on grids), h-linbwd (GPU
# linear backward, opt-in), h-fa2tile (forward on the tile builder): each from its own packed build
# (.device-all/NAME.tar.xz = its .device/ + req.sh), under time caps.  OUT=folder bash run7.sh
set -u
ROOT=$PWD
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
use() { rm -rf /tmp/pk_$1 .device; mkdir -p /tmp/pk_$1; tar -C /tmp/pk_$1 -xJf .device-all/$1.tar.xz; ln -sfn /tmp/pk_$1 .device; }
for spec in nabwd:60 linbwd:80; do
  n=${spec%%:*} cap=${spec##*:}
  [ -f .device-all/$n.tar.xz ] || { echo "== $n: no pack"; continue; }
  use $n; cp .device/req.sh ./req_$n.sh
  echo "== $n (cap ${cap}s)"
  OUT=$OUT timeout $cap bash ./req_$n.sh 2>&1 | tail -40; echo "[$n rc=${PIPESTATUS[0]}]"
done
if [ -f .device-all/fa2tile.tar.xz ]; then
  use fa2tile; echo "== fa2tile"
  export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_NO_TUNED=1 ATTNC_CACHE_DIR=/tmp/fa2_cache
  O=$OUT/fa2tile; mkdir -p $O
  for tc in recipes:50 edges:25 hand:20 documents:30 unions:20 dilation:25 varlen:20; do
    t=${tc%%:*} cap=${tc##*:}; s=$(date +%s)
    ATTNC_TEST_SMALL=1 timeout $cap .device/tests/gpu/test_gpu_test_gpu_$t > /tmp/f_$t.log 2>&1; rc=$?
    echo "test_gpu_$t rc=$rc $(( $(date +%s) - s ))s $(grep -E '\[  (PASSED|FAILED)' /tmp/f_$t.log | tr '\n' ' ') FAILlines=$(grep -c '^\[FAIL\]\|FAIL ' /tmp/f_$t.log)"
    [ $rc -ne 0 ] && { grep -m5 -E 'FAIL' /tmp/f_$t.log; cp /tmp/f_$t.log $O/; }
  done
  [ -f .device-all/main.tar.xz ] && { mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; }
  for c in "bench/recipes/dense_d128.attn batch=4,heads=16,tokens=4096"; do
    set -- $c
    for arch in sm_80 sm_90a; do
      r=$(LD_LIBRARY_PATH=/tmp/pk_main/lib timeout 40 /tmp/pk_main/bin/attnc bench $1 --shape $2 --arch $arch --json --warmup 10 --iters 30 2>/dev/null | grep '^{' | tail -1)
      echo "main    $(basename $1) $arch $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.1f TFLOP/s" % d["tflops"])' "$r" 2>/dev/null || echo FAIL)"
      r=$(timeout 40 .device/bin/attnc bench $1 --shape $2 --arch $arch --json --warmup 10 --iters 30 2>/dev/null | grep '^{' | tail -1)
      echo "bench $(basename $1) $arch $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%.1f TFLOP/s" % d["tflops"])' "$r" 2>/dev/null || echo FAIL)"
    done
  done
fi
