#!/usr/bin/env bash
# Device call 53 (2026-12-05 night): the document cut table's first GPU run on the non-causal document recipes
# (test_gpu_documents' forward part, test_gpu_overlap's documents, test_gpu_varlen), then issue 17's cases
# beside FlexAttention and cuDNN in the same call (bench/anchors.py --sparse), two rounds.
#   OUT=dir bash bench/runs/2026-12-06/run53.sh    (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP ATTNC_PERSIST_DYNAMIC ATTNC_DOC_TABLE ATTNC_FULL_RANGE
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
el tests
( ATTNC_TEST_DOC=fwd ATTNC_CACHE_DIR=$(mktemp -d) timeout 200 $T/test_gpu_test_gpu_documents > $OUT/t_docs_fwd.txt 2>&1; echo "rc=$?" >> $OUT/t_docs_fwd.txt ) &
( ATTNC_TEST_PART=documents ATTNC_CACHE_DIR=$(mktemp -d) timeout 200 $T/test_gpu_test_gpu_overlap > $OUT/t_overlap_docs.txt 2>&1; echo "rc=$?" >> $OUT/t_overlap_docs.txt ) &
( ATTNC_CACHE_DIR=$(mktemp -d) timeout 200 $T/test_gpu_test_gpu_varlen > $OUT/t_varlen.txt 2>&1; echo "rc=$?" >> $OUT/t_varlen.txt ) &
wait
for f in t_docs_fwd t_overlap_docs t_varlen; do
  echo "$f: $(grep -c '^\[PASS\]\|^\[       OK \]\|PASS' $OUT/$f.txt) pass-lines, $(grep -c 'FAIL' $OUT/$f.txt) FAIL-lines, $(tail -1 $OUT/$f.txt)"
  grep -m5 'FAIL' $OUT/$f.txt | cut -c1-300
done | tee $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r
  r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $A bench $rc --shape $sh --warmup 5 --iters 20 "$@" 2>&1)
  printf '%-16s %-32s %-18s %-10s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|visited/kept[^,]*|error.*' | head -4 | tr '\n' ' ')"; }
el attnc
for round in 1 2; do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 64
done 2>&1 | tee $OUT/attnc_sparse.txt
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
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $OUT/gpu.txt 2>&1
el done
