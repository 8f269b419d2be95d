#!/usr/bin/env bash
# Device call 5 of 2026-12-04 (main a12c149). (A) issue 13: cold compile of the FLUX grid kernels
# like for like: the new default (384-thread TMA producer) against e0704c5 given the same schedule
# with --schedule, interleaved, one fresh process with an empty kernel cache each. (B) why the
# forward's overlap=1|2 schedules are slower than the default: ncu (full set + SASS source page)
# on dense D=128 B=1 H=16 N=16384 for overlap 0/1/2, and their times.
set -u
for n in main old; do mkdir -p /tmp/pk_$n; [ -x /tmp/pk_$n/bin/attnc ] || tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
export ATTNC_NO_TUNED=1
N=/tmp/pk_main O=/tmp/pk_old
sample() { local dir=$1 c r; shift; c=$(mktemp -d /tmp/cold.XXXX)
  r=$(ATTNC_CACHE_DIR=$c LD_LIBRARY_PATH=$dir/lib timeout 60 $dir/bin/attnc bench "$@" --json --warmup 0 --iters 1 2>/dev/null | grep '^{' | tail -1)
  rm -rf $c; python3 -c 'import json,sys
try: print("%.1f" % json.loads(sys.argv[1])["compile_ms"])
except Exception: print("-")' "$r"; }
mkdir -p $OUT/cold
G=batch=1,heads=24,H=256,W=256
for i in 1 2 3 4 5 6; do
  echo "flux_na new $(sample $N bench/recipes/flux_na.attn --shape $G)"
  echo "flux_na old $(sample $O bench/recipes/flux_na.attn --shape $G --schedule 'q=8x16 kv=16x8 stages=2 warps=8 mma=wgmma_ws')"
  echo "flux_na new_sched $(sample $N bench/recipes/flux_na.attn --shape $G --schedule 'q=8x16 kv=16x8 stages=2 warps=8 mma=wgmma_ws')"
  echo "flux_gna new $(sample $N bench/recipes/flux_gna.attn --shape $G)"
  echo "flux_gna old $(sample $O bench/recipes/flux_gna.attn --shape $G --schedule 'q=8x16 kv=8x16 stages=2 warps=8 mma=wgmma_ws')"
  echo "flux_gna new_sched $(sample $N bench/recipes/flux_gna.attn --shape $G --schedule 'q=8x16 kv=8x16 stages=2 warps=8 mma=wgmma_ws')"
done | tee $OUT/cold/flux-like.txt
python3 - $OUT/cold/flux-like.txt <<'P' | tee $OUT/cold/flux-like.md
import sys, statistics as s
d = {}
for l in open(sys.argv[1]):
    a = l.split()
    if len(a) == 3 and a[2] != "-": d.setdefault((a[0], a[1]), []).append(float(a[2]))
for (c, w), v in sorted(d.items()):
    print("| %s | %s | median %.1f | min %.1f | max %.1f | n %d |" % (c, w, s.median(v), min(v), max(v), len(v)))
P
# (B) overlap schedules: times, then ncu
S=batch=1,heads=16,tokens=16384
mkdir -p $OUT/ncu
for o in 0 1 2; do
  LD_LIBRARY_PATH=$N/lib timeout 60 $N/bin/attnc bench bench/recipes/dense_d128.attn --shape $S --warmup 5 --iters 20 \
    --schedule "q=128 kv=128 stages=2 warps=8 overlap=$o" 2>&1 | tail -2 | sed "s/^/overlap=$o: /"
done | tee $OUT/ncu/times.txt
for o in 0 1 2; do
  LD_LIBRARY_PATH=$N/lib timeout 150 ncu --clock-control none --set full --import-source no -k regex:attnc_dense --launch-count 1 \
    -f -o $OUT/ncu/ov$o $N/bin/attnc bench bench/recipes/dense_d128.attn --shape $S --warmup 0 --iters 1 \
    --schedule "q=128 kv=128 stages=2 warps=8 overlap=$o" > $OUT/ncu/ov$o.log 2>&1; echo "ncu ov$o rc=$?"
  ncu --import $OUT/ncu/ov$o.ncu-rep --page details --csv > $OUT/ncu/ov$o-details.csv 2>&1
  ncu --import $OUT/ncu/ov$o.ncu-rep --page source --csv --print-source sass > $OUT/ncu/ov$o-sass.csv 2>&1
  ls -la $OUT/ncu/ov$o*
done
