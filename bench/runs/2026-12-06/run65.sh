#!/usr/bin/env bash
# Device call 65 (for the next session, an H200 if one comes): issue 17's rows on the session's main (peeled
# first tile, tanh.approx, head-dim-256 tiles), 100 timed iterations, beside FlexAttention and cuDNN in the same
# call; the peel's effect on the grid rows (FLUX / HunyuanVideo GNA and dense, never measured with it); then
# run64's fp64 checks of the head-dim-256 recipes.
#   OUT=dir [LIMIT=s] bash bench/runs/2026-12-06/run65.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
LIMIT=${LIMIT:-560}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }; left() { [ $(( $(date +%s) - t0 )) -lt $1 ]; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_PEEL_FIRST ATTNC_TANH_APPROX ATTNC_PERSIST_DYNAMIC
R=bench/recipes A=/tmp/pk/bin/attnc
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-16s %-32s %-19s %-9s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|visited/kept [0-9.]+|error.*' | head -4 | tr '\n' ' ')"; }
el sequences
for round in 1 2; do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
done 2>&1 | tee $OUT/sequences.txt
el flex; OUT=$OUT timeout 60 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq.log | tee $OUT/anchors_seq.txt
el grids
for e in X=1 ATTNC_PEEL_FIRST=0; do
  for c in "$R/flux_gna.attn batch=1,heads=24,H=256,W=256" "$R/dense_d128.attn batch=1,heads=24,tokens=65536" \
           "$R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80" "$R/dense_d128.attn batch=1,heads=24,tokens=115200"; do
    left $(( LIMIT - 200 )) && { set -- $c; row $1 $2 $e; }; done
done 2>&1 | tee $OUT/grids.txt
for c in "$R/flux_na.attn batch=1,heads=24,H=256,W=256" "$R/hunyuan_na.attn batch=1,heads=24,T=30,H=48,W=80" \
         "$R/na2d_k9_dil3_d64.attn batch=1,heads=16,H=192,W=192" "$R/na2d_k9_d64.attn batch=1,heads=16,H=192,W=192"; do
  left $(( LIMIT - 150 )) && { set -- $c; row $1 $2 X=1; }; done 2>&1 | tee -a $OUT/grids.txt
left $(( LIMIT - 120 )) && { el cudnn; OUT=$OUT timeout 100 python3 bench/anchors.py --sparse > $OUT/anchors_sparse.log 2>&1; grep -E "dense" $OUT/anchors_sparse.log | tee $OUT/anchors_dense.txt; }
left $(( LIMIT - 60 )) && { el d256; OUT=$OUT bash bench/runs/2026-12-06/run64.sh > $OUT/run64.log 2>&1; tail -12 $OUT/run64.log; }
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $OUT/gpu.txt 2>&1
el done
