#!/usr/bin/env bash
# Device call 70 (2026-12-06, second session): staged O stored with st.global.cs (evict-first, ATTNC_O_STREAM=1)
# against plain 16-byte stores, three rounds of 100 iterations: 8 documents at N=65536, causal B=8 N=8192, causal
# N=16384; a quick check of the .cs kernel against fp64; FlexAttention in the same call.
#   OUT=dir bash bench/runs/2026-12-06/run70.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_STREAM
R=bench/recipes A=/tmp/pk/bin/attnc
nvidia-smi --query-gpu=name --format=csv,noheader | tee $OUT/gpu.txt
for s in "$R/causal_d128.attn batch=2,heads=3,tokens=4097" "$R/doc_causal.attn batch=1,heads=7,tokens=5000"; do set -- $s
  out=$(ATTNC_O_STREAM=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A run $1 --backend cuda --check --shape $2 2>&1); echo "$(basename $1) $2 O_STREAM=1: exit $? $(echo "$out" | grep -E 'check o' | tr '\n' ' ')"; done | tee $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-12s %-30s %-16s %-9s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
for round in 1 2 3; do
  for e in X=1 ATTNC_O_STREAM=1; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8; done
  for e in X=1 ATTNC_O_STREAM=1; do row $R/causal_d128.attn batch=8,heads=16,tokens=8192 $e; done
  for e in X=1 ATTNC_O_STREAM=1; do row $R/causal_d128.attn batch=1,heads=16,tokens=16384 $e; done
done 2>&1 | tee $OUT/rows.txt
OUT=$OUT timeout 60 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8" $OUT/anchors_seq.log | tee $OUT/anchors_seq.txt
