#!/usr/bin/env bash
# Device call 2 of the 06:00 session: issue 13's side-by-side bench (main vs 7fc8271^, the commit
# before the architecture work: .device-old/old.tar.xz), HunyuanVideo GNA / FLUX NA sweeps with the
# default's warps=8, and the linear backward's bench output.   OUT=folder bash bench/runs/2026-12-03/run5.sh
set -u
ROOT=$PWD; O=$OUT; mkdir -p $O
mkdir -p /tmp/old && tar -C /tmp/old -xJf .device-old/old.tar.xz
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
export ATTNC_NO_TUNED=1 ATTNC_CACHE_DIR=/tmp/cache5
A=.device/bin/attnc
LOG=/tmp/run5.log; : > $LOG
b() { # recipe shape [args...]: one line per run
  local r=$1 s=$2; shift 2
  LD_LIBRARY_PATH=$ROOT/.device/lib timeout 90 $A bench $r --shape $s "$@" > /tmp/b.log 2>&1; local rc=$?
  cat /tmp/b.log >> $LOG
  echo "$(basename $r .attn) $s $* rc=$rc :: $(sed -n 2p /tmp/b.log | sed 's/(median of [0-9]*, //') $(grep -o 'backward \[.*' /tmp/b.log | sed 's/(median of [0-9]*, //') $(grep -i 'error\|attnc bench:' /tmp/b.log | head -2)"
}
echo "== linear backward"
for r in lightning2 gated_linear; do
  LD_LIBRARY_PATH=$ROOT/.device/lib timeout 90 $A bench recipes/$r.attn --shape batch=1,heads=16,tokens=16384 --grad --warmup 5 --iters 20 2>&1 | sed 's/^/  /'
done
echo "== HunyuanVideo GNA sweep (warps=8)"
H=batch=1,heads=24,T=30,H=48,W=80
for s in "q=2x8x8 kv=2x8x8 warps=8" "q=2x8x8 kv=4x4x8 warps=8" "q=4x4x8 kv=4x4x8 warps=8" "q=2x8x8 kv=2x8x8 warps=8 stages=3" \
         "q=2x8x8 kv=2x8x8 warps=8 mma=wgmma_ws" "q=2x8x8 kv=2x8x8 warps=8 mma=wgmma"; do
  b bench/recipes/hunyuan_gna.attn $H --schedule "$s" --warmup 5 --iters 20
done
b bench/recipes/hunyuan_gna.attn $H --warmup 5 --iters 20
b bench/recipes/dense_d128.attn batch=1,heads=24,tokens=115200 --warmup 3 --iters 10
echo "== FLUX NA sweep (warps=8)"
F=batch=1,heads=24,H=256,W=256
for s in "q=8x16 kv=8x16 warps=8" "q=8x16 kv=16x8 warps=8" "q=16x8 kv=16x8 warps=8" "q=8x16 kv=16x8 warps=8 mma=wgmma_ws" "q=8x16 kv=8x8 warps=8" "q=8x16 kv=16x8 warps=8 stages=3"; do
  b bench/recipes/flux_na.attn $F --schedule "$s" --warmup 5 --iters 20
done
b bench/recipes/flux_na.attn $F --warmup 5 --iters 20
cp $LOG $O/run5_bench.log
echo "== old vs new (bench/cases.txt)"
timeout 330 bash bench/old-vs-new.sh $ROOT/.device /tmp/old > /tmp/ovn.out 2>&1; echo "rc=$?"
cat $O/old-vs-new.md 2>/dev/null || tail -5 /tmp/ovn.out
