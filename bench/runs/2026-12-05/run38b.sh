#!/usr/bin/env bash
# Device call 38b (prepared 2026-12-05, no GPU then): the forward under $ATTNC_SCALE_FMA=0 and =1, interleaved,
# two rounds, on issue 14's dense shapes and issue 17's masks (run38.sh checks the switch first).
#   OUT=dir bash bench/runs/2026-12-05/run38b.sh     (.device-all/main.tar.xz from scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
A=/tmp/pk_main/bin/attnc R=bench/recipes
row() { local rc=$1 sh=$2 envs=$3; shift 3; local r
  r=$(env $envs ATTNC_CACHE_DIR=$(mktemp -d) timeout 40 $A bench $rc --shape $sh --warmup 5 --iters 20 "$@" 2>&1)
  printf '%-16s %-32s %-18s %s\n' "$(basename $rc .attn)" "$sh" "$envs" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
for round in 1 2; do
  for f in 0 1; do
    row $R/dense_d128.attn batch=2,heads=16,tokens=8192 ATTNC_SCALE_FMA=$f
    row $R/dense_d128.attn batch=1,heads=16,tokens=16384 ATTNC_SCALE_FMA=$f
    row $R/causal_d128.attn batch=2,heads=16,tokens=8192 ATTNC_SCALE_FMA=$f
    row $R/causal_d128.attn batch=1,heads=16,tokens=16384 ATTNC_SCALE_FMA=$f
    row $R/dense_d64.attn batch=2,heads=32,tokens=8192 ATTNC_SCALE_FMA=$f
    row $R/causal_d64.attn batch=2,heads=32,tokens=8192 ATTNC_SCALE_FMA=$f
    row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ATTNC_SCALE_FMA=$f
    row $R/doc_causal.attn batch=1,heads=16,tokens=65536 ATTNC_SCALE_FMA=$f --docs 8
    row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 ATTNC_SCALE_FMA=$f
    row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 ATTNC_SCALE_FMA=$f
  done
  el "round $round"
done 2>&1 | tee $OUT/bench.txt
el done
exit 0
