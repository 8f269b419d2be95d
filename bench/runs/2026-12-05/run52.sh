#!/usr/bin/env bash
# Device call 52 (2026-12-05 evening): issue 17's cases with the new token-grid defaults (full-range loops, 3-D GNA
# overlapped) and the document table, then FlexAttention and cuDNN in the same call (bench/anchors.py --sparse).
#   OUT=dir bash bench/runs/2026-12-05/run52.sh    (.device-all/main.tar.xz; ~5 min)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP ATTNC_PERSIST_DYNAMIC ATTNC_DOC_TABLE ATTNC_FULL_RANGE
R=bench/recipes A=/tmp/pk/bin/attnc
row() { local rc=$1 sh=$2 e=$3; shift 3; local r
  r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $A bench $rc --shape $sh --warmup 5 --iters 20 "$@" 2>&1)
  printf '%-16s %-32s %-18s %-10s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|visited/kept[^,]*|error.*' | head -4 | tr '\n' ' ')"; }
el attnc
for round in 1 2; do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 ATTNC_DOC_TABLE=1 --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 ATTNC_DOC_TABLE=1 --docs 64
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 64
done | tee $OUT/attnc_sparse.txt
for c in "$R/flux_gna.attn batch=1,heads=24,H=256,W=256" "$R/flux_na.attn batch=1,heads=24,H=256,W=256" \
         "$R/dense_d128.attn batch=1,heads=24,tokens=65536" "$R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80" \
         "$R/hunyuan_na.attn batch=1,heads=24,T=30,H=48,W=80" "$R/dense_d128.attn batch=1,heads=24,tokens=115200"; do
  set -- $c; row $1 $2 X=1; done | tee $OUT/attnc_grids.txt
el anchors
OUT=$OUT timeout 200 python3 bench/anchors.py --sparse > $OUT/anchors_sparse.log 2>&1; echo "rc=$?"
python3 - <<'PY' | tee $OUT/anchors_table.txt
import json, os
for l in open(os.path.join(os.environ["OUT"], "anchors.jsonl")):
    r = json.loads(l); print(f'{r.get("case"):34} {r.get("impl"):22} N={r.get("N")} ms={r.get("ms", "-")} tflops={round(r["tflops"],1) if "tflops" in r else r.get("error","-")}')
PY
el done
