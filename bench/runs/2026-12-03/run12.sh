#!/usr/bin/env bash
# Device call 2 of the 12:16 session: fla's chunked linear backward (the issue-14 anchor, in the
# background: its Triton compile is CPU work), the helpers' GPU requests (each from its own packed
# build, .device-all/NAME.tar.xz = scripts/pack-device.sh folder + req.sh, under a cap), then on
# main (FUSED=1): the fused linear dK/dV scan (ATTNC_BWD_LINEAR_FUSED=1) checked and timed.
#   OUT=dir bash bench/runs/2026-12-03/run12.sh "persist:200 bwdrace:200"
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
export ATTNC_CACHE_DIR=$(mktemp -d /tmp/attnc-cache-run12.XXXX) ATTNC_NO_TUNED=1
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
ls .whl/*.whl >/dev/null 2>&1 && python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl > /tmp/pip.log 2>&1
FLA=
[ "${WITH_FLA:-1}" = 1 ] && ( PYTHONPATH=/tmp/site LD_LIBRARY_PATH=/tmp/pk_main/lib timeout 240 nice python3 bench/linear_anchors.py --bwd --attnc /tmp/pk_main/bin/attnc > /tmp/linear_bwd.txt 2>&1; echo "linear_anchors rc=$?" >> /tmp/linear_bwd.txt ) &
[ "${WITH_FLA:-1}" = 1 ] && FLA=$!
for spec in $1; do
  n=${spec%%:*} cap=${spec##*:}
  [ -f .device-all/$n.tar.xz ] || { echo "== $n: no pack"; continue; }
  rm -rf /tmp/pk_$n .device; mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz
  ln -sfn /tmp/pk_$n .device
  el "== $n (cap ${cap}s)"
  # from the repository root (the scripts cd to their own folder); logs stay in /tmp (file-count limit)
  cp /tmp/pk_$n/req.sh ./req_$n.sh
  OUT=/tmp/hout LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT timeout $cap bash ./req_$n.sh > $OUT/$n.txt 2>&1
  echo "[$n rc=$?]"; tail -45 $OUT/$n.txt
done
rm -rf .device; ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT
el "main: fla's backward (waiting for the background run)"
[ -n "$FLA" ] && { wait $FLA; tail -12 /tmp/linear_bwd.txt; }
[ "${FUSED:-0}" = 1 ] || { el done; exit 0; }
el "main: ATTNC_BWD_LINEAR_FUSED=1 (gradients, then time against the default)"
ATTNC_BWD_LINEAR_FUSED=1 timeout 70 .device/tests/gpu/test_gpu_test_gpu_linear_backward > /tmp/fused.log 2>&1
echo "fused test rc=$? pass=$(grep -c '^\[PASS\]\|: PASS\| ok' /tmp/fused.log) fail=$(grep -c 'FAIL' /tmp/fused.log)"; grep -m5 FAIL /tmp/fused.log
for r in lightning2 gated_linear; do for i in 1 2; do for f in 0 1; do
  echo "$r fused=$f $(ATTNC_BWD_LINEAR_FUSED=$f .device/bin/attnc bench recipes/$r.attn --shape batch=1,heads=16,tokens=16384 --grad --warmup 5 --iters 20 2>&1 | grep -i 'backward\|bwd' | head -2 | tr '\n' ' ')"
done; done; done
el done
