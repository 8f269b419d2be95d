#!/usr/bin/env bash
# Device call 28 of 2026-12-04: the backward's P select with its condition frozen for every mask (var.tar.xz)
# against main (frozen only for small masks with `||`, as the forward), two rounds of --grad; and FLUX NA's
# forward, main (conjunction masks unfrozen again) against old (main ce3f9f5).   OUT=dir bash bench/runs/2026-12-04/run28.sh
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
for n in main old var; do rm -rf /tmp/pk_$n; mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
row() { local pk=$1 rc=$2 sh=$3; shift 3; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_$pk/lib timeout 90 /tmp/pk_$pk/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 "$@" 2>&1)
  printf '%-4s %-16s %-34s %-10s %s\n' $pk "$(basename $rc .attn)" "$sh" "$*" "$(echo "$r" | grep -oE '[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
R=bench/recipes
for round in 1 2; do
  for pk in main var; do
    row $pk $R/causal_d128.attn batch=1,heads=16,tokens=16384 --grad
    row $pk $R/causal_d128.attn batch=2,heads=16,tokens=8192 --grad
    row $pk $R/dense_d128.attn batch=1,heads=16,tokens=16384 --grad
    row $pk $R/swa_w1024.attn batch=1,heads=16,tokens=16384 --grad
    row $pk $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 --grad
    row $pk $R/doc_causal.attn batch=1,heads=16,tokens=65536 --grad --docs 8
    row $pk $R/na2d_k17.attn batch=1,heads=16,H=128,W=128 --grad
    row $pk $R/na3d_k7x13x13.attn batch=1,heads=16,T=16,H=32,W=32 --grad
  done
  for pk in old main; do
    row $pk $R/flux_na.attn batch=1,heads=24,H=256,W=256
    row $pk $R/flux_gna.attn batch=1,heads=24,H=256,W=256
  done
done | tee $OUT/bench.txt
el done
