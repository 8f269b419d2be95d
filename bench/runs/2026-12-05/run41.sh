#!/usr/bin/env bash
# Device call 41 (2026-12-05, 12:10 UTC): issue 14's and 17's anchors (bench/anchors.py --sparse, --bwd) beside
# attnc's new defaults (scale FMA on, lazy rescale level 2 on the overlapped loop; package of 113fa33) in the
# same call, and beside them the two candidates run40 measures: ATTNC_UNIFORM_WARP=1 on the backward rows and
# the overlapped loop (overlap=1) on causal documents. One call, ~6 min.
#   OUT=dir bash bench/runs/2026-12-05/run41.sh   (.device-all/main.tar.xz from scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP
row() { local rc=$1 sh=$2 sc=$3 envs=$4; shift 4; local r
  r=$(env $envs ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_main/lib timeout 90 /tmp/pk_main/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 ${sc:+--schedule "$sc"} "$@" 2>&1)
  printf '%-16s %-34s %-30s %-22s %-10s %s\n' "$(basename $rc .attn)" "$sh" "${sc:-default}" "${envs:--}" "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -6 | tr '\n' ' ')"; }
R=bench/recipes O="q=128 kv=128 stages=2 warps=8 overlap=1"
el attnc-sparse
for round in 1 2; do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "" ""
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "" "" --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "$O" "" --docs 8
  row $R/causal_d128.attn batch=1,heads=16,tokens=65536 "" "" --seqlens 8192x8
  row $R/causal_d128.attn batch=1,heads=16,tokens=65536 "$O" "" --seqlens 8192x8
done | tee $OUT/attnc_sparse.txt
for c in "$R/flux_gna.attn batch=1,heads=24,H=256,W=256" "$R/dense_d128.attn batch=1,heads=24,tokens=65536" \
         "$R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80" "$R/dense_d128.attn batch=1,heads=24,tokens=115200"; do
  set -- $c; row $1 $2 "" ""; done | tee $OUT/attnc_grids.txt
el attnc-bwd
for c in "$R/causal_d128.attn batch=1,heads=16,tokens=16384" "$R/causal_d128.attn batch=2,heads=16,tokens=8192" \
         "$R/dense_d128.attn batch=1,heads=16,tokens=16384" "$R/dense_d128.attn batch=2,heads=16,tokens=8192" \
         "$R/swa_w1024.attn batch=1,heads=16,tokens=16384" "$R/na2d_k17.attn batch=1,heads=16,H=128,W=128" \
         "$R/na3d_k7x13x13.attn batch=1,heads=16,T=16,H=32,W=32"; do
  set -- $c; row $1 $2 "" "" --grad; row $1 $2 "" ATTNC_UNIFORM_WARP=1 --grad; done | tee $OUT/attnc_bwd.txt
el anchors-sparse
OUT=$OUT timeout 170 python3 bench/anchors.py --sparse > $OUT/anchors_sparse.log 2>&1; echo "rc=$?"
el anchors-bwd
OUT=$OUT timeout 200 python3 bench/anchors.py --bwd > $OUT/anchors_bwd.log 2>&1; echo "rc=$?"
python3 - <<'PY' | tee $OUT/anchors_table.txt
import json, os
for l in open(os.path.join(os.environ["OUT"], "anchors.jsonl")):
    r = json.loads(l); print(f'{r.get("case"):34} {r.get("impl"):22} N={r.get("N")} ms={r.get("ms", "-")} tflops={round(r["tflops"],1) if "tflops" in r else r.get("error","-")}')
PY
el done
