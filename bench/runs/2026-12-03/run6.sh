#!/usr/bin/env bash
# Device call 3 of the 06:00 session: the helpers' GPU requests (h-ovl, h-bwdperf, h-nabwd), each
# from its own packed build (.device-all/NAME.tar.xz holds .device/ of that branch and req.sh = its
# GPU_REQUEST.sh), each under a time cap.   OUT=folder bash bench/runs/2026-12-03/run6.sh
set -u
ROOT=$PWD
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
for spec in ovl:150 bwdperf:140 nabwd:110; do
  n=${spec%%:*} cap=${spec##*:}
  [ -f .device-all/$n.tar.xz ] || { echo "== $n: no pack"; continue; }
  rm -rf /tmp/pk_$n .device; mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz
  ln -sfn /tmp/pk_$n .device
  echo "== $n (cap ${cap}s)"
  OUT=$OUT timeout $cap bash /tmp/pk_$n/req.sh 2>&1 | tail -40; echo "[$n rc=${PIPESTATUS[0]}]"
done
