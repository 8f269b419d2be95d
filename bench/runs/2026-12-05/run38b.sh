#!/usr/bin/env bash
# Device call 38b (prepared 2026-12-05, no GPU then): the forward with neither switch, $ATTNC_SCALE_FMA=1, and
# $ATTNC_SCALE_FMA=1 with ATTNC_SKIP_RESCALE=1 and =2, interleaved, two rounds, on issue 14's dense shapes and issue 17's masks
# (run38.sh checks the switches first); causal also on the overlapped loop, where neither switch spills.
# One round fits a call (44 rows); run it in two calls for two rounds, or ROUNDS=2 with a cap above 600 s.
#   OUT=dir bash bench/runs/2026-12-05/run38b.sh     (.device-all/main.tar.xz from scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
A=/tmp/pk_main/bin/attnc R=bench/recipes
row() { local rc=$1 sh=$2 envs=$3; shift 3; local r
  r=$(env $envs ATTNC_CACHE_DIR=$(mktemp -d) timeout 40 $A bench $rc --shape $sh --warmup 5 --iters 20 "$@" 2>&1)
  printf '%-16s %-32s %-40s %s\n' "$(basename $rc .attn)" "$sh" "$envs" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
for round in $(seq 1 ${ROUNDS:-1}); do
  for f in ATTNC_SCALE_FMA=0 ATTNC_SCALE_FMA=1 "ATTNC_SCALE_FMA=1 ATTNC_SKIP_RESCALE=1" "ATTNC_SCALE_FMA=1 ATTNC_SKIP_RESCALE=2"; do
    row $R/dense_d128.attn batch=2,heads=16,tokens=8192 "$f"
    row $R/dense_d128.attn batch=1,heads=16,tokens=16384 "$f"
    row $R/causal_d128.attn batch=2,heads=16,tokens=8192 "$f"
    row $R/causal_d128.attn batch=1,heads=16,tokens=16384 "$f"
    row $R/causal_d128.attn batch=1,heads=16,tokens=16384 "$f" --schedule "q=128 kv=128 stages=2 warps=8 overlap=1"
    row $R/dense_d64.attn batch=2,heads=32,tokens=8192 "$f"
    row $R/causal_d64.attn batch=2,heads=32,tokens=8192 "$f"
    row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "$f"
    row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "$f" --docs 8
    row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "$f"
    row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "$f"
  done
  el "round $round"
done 2>&1 | tee $OUT/bench.txt
el done
exit 0
