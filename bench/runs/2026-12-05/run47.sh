#!/usr/bin/env bash
# Device call 47 (2026-12-05): which half of branch doc-diag gives run46's 64-document gain and its one-document
# loss. Three packages, interleaved, three rounds: main (3be4fcf), qonly (doc-diag with mask_documents_into turned
# off: Q's copy before the scan alone) and diag (both changes). Packages: .device-all/{main,qonly,diag}.tar.xz
# (scripts/pack-device.sh build-dev, tar of .device).   OUT=dir bash bench/runs/2026-12-05/run47.sh
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
for p in main qonly diag; do rm -rf /tmp/pk_$p; mkdir -p /tmp/pk_$p; tar -C /tmp/pk_$p -xJf .device-all/$p.tar.xz; done
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP
R=bench/recipes
row() { local pk=$1 rc=$2 sh=$3; shift 3; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_$pk/lib timeout 90 /tmp/pk_$pk/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 "$@" 2>&1)
  printf '%-7s %-12s %-32s %-10s %s\n' $pk "$(basename $rc .attn)" "$sh" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
el bench
for round in 1 2 3; do for pk in main qonly diag; do
  row $pk $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 8
  row $pk $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 64
  row $pk $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 1
done; done | tee $OUT/docs.txt
el done
