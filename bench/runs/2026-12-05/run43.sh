#!/usr/bin/env bash
# Device call 43 (2026-12-05, 15:00 UTC): where 8 causal documents lose against the same work as a batch.
# Rows, TFLOP/s, two rounds: causal B=8 N=8192 (the batched equivalent), --seqlens 8192x8 (varlen), documents
# on the plain loop and overlap=1 (ATTNC_DOC_FULL=1 default and 0), one document over N=65536 against causal
# N=65536 (the span scan's whole cost beside the same products), 64 documents of 1024 against B=64 causal 1024.
#   OUT=dir bash bench/runs/2026-12-05/run43.sh   (.device-all/main.tar.xz from scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP
row() { local rc=$1 sh=$2 sc=$3 envs=$4; shift 4; local r
  r=$(env $envs ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_main/lib timeout 90 /tmp/pk_main/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 ${sc:+--schedule "$sc"} "$@" 2>&1)
  printf '%-12s %-32s %-10s %-16s %-16s %s\n' "$(basename $rc .attn)" "$sh" "$([ -n "$sc" ] && echo overlap1 || echo default)" "${envs:--}" "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
R=bench/recipes O="q=128 kv=128 stages=2 warps=8 overlap=1"
for round in ${ROUNDS:-1 2}; do
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 "" ""
  row $R/causal_d128.attn batch=1,heads=16,tokens=65536 "" "" --seqlens 8192x8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "" "" --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "$O" "" --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "$O" ATTNC_DOC_FULL=0 --docs 8
  row $R/causal_d128.attn batch=1,heads=16,tokens=65536 "" ""
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "$O" "" --docs 1
  row $R/causal_d128.attn batch=64,heads=16,tokens=1024 "" ""
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "$O" "" --docs 64
done | tee $OUT/docs.txt
el done
