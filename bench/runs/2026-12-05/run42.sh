#!/usr/bin/env bash
# Device call 42 (2026-12-05, 12:55 UTC), main with causal's default moved to the overlapped loop
# (compile_job.c causal_overlap, after run40 on the H100: +5-12% at D=64 and D=128, two rounds):
#  tests  test_gpu_varlen (now also the overlapped loop spelled out, and causal's default is it), test_gpu_recipes
#         (small), test_gpu_edges, test_gpu_overlap's hand cases; `attnc run --check [--grad]` on causal
#         sequences no tile divides (150 s cap, in parallel);
#  bench  issue 17's cases with the new defaults (sinks + window N=32768, 8 documents, 8x8192 varlen causal, FLUX
#         and HunyuanVideo GNA beside attnc's dense on their tokens) and causal's default against the plain loop,
#         then FlexAttention and cuDNN in the same call (bench/anchors.py --sparse).
#   PARTS="tests bench" OUT=dir bash bench/runs/2026-12-05/run42.sh   (.device-all/main.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc R=bench/recipes P=${PARTS:-tests bench}
row() { local rc=$1 sh=$2 sc=$3; shift 3; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 5 --iters 30 ${sc:+--schedule "$sc"} "$@" 2>&1)
  printf '%-16s %-32s %-40s %-16s %s\n' "$(basename $rc .attn)" "$sh" "${sc:-default}" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -7 | tr '\n' ' ')"; }
case $P in *tests*)
el tests
t() { local name=$1; shift; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 env "$@" > $OUT/t_$name.txt 2>&1; echo "rc=$?" >> $OUT/t_$name.txt ) & }
t varlen $G/test_gpu_test_gpu_varlen
t recipes ATTNC_TEST_SMALL=1 $G/test_gpu_test_gpu_recipes
t edges $G/test_gpu_test_gpu_edges
t overlap ATTNC_TEST_PART=hand_cases $G/test_gpu_test_gpu_overlap
( export ATTNC_CACHE_DIR=$(mktemp -d); for spec in "recipes/causal.attn batch=2,heads=3,tokens=300" "$R/causal_d128.attn batch=1,heads=4,tokens=4097" \
    "$R/causal_d64.attn batch=2,heads=4,tokens=1000" "recipes/gqa.attn batch=2,heads=8,kv_heads=2,tokens=333" "recipes/causal.attn batch=1,heads=2,tokens=1"; do
    set -- $spec; for g in "" --grad; do timeout 40 $A run $1 --backend cuda --check $g --shape $2 > /tmp/rc.txt 2>&1; rc=$?
      echo "$1 $2 ${g:-fwd}: exit $rc $(grep -iE 'rel|sched|\[q=' /tmp/rc.txt | tr '\n' ' ' | cut -c1-220)"; done; done > $OUT/t_runcheck.txt 2>&1 ) &
wait
for f in varlen recipes edges overlap; do echo "$f: $(grep -cE '^\[PASS\]|^\[       OK' $OUT/t_$f.txt) PASS/OK, $(grep -cE '^\[FAIL|^\[  FAILED|^\[  ERROR' $OUT/t_$f.txt) FAIL, $(tail -1 $OUT/t_$f.txt)"; done | tee $OUT/tests.txt
grep -hE '^\[FAIL|FAILED|ERROR|CUDA_ERROR|ILLEGAL' $OUT/t_*.txt | head -8 | tee -a $OUT/tests.txt
echo "runcheck: $(grep -c 'exit 0' $OUT/t_runcheck.txt) of $(wc -l < $OUT/t_runcheck.txt) exit 0" | tee -a $OUT/tests.txt; grep -v 'exit 0' $OUT/t_runcheck.txt | head -4
;; esac
case $P in *bench*)
el bench
for round in 1 2; do
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 ""
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 "q=128 kv=128 stages=2 warps=8 regs=even"
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ""
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "" --docs 8
  row $R/causal_d128.attn batch=1,heads=16,tokens=65536 "" --seqlens 8192x8
  row $R/causal_d128.attn batch=1,heads=16,tokens=65536 "q=128 kv=128 stages=2 warps=8 regs=even" --seqlens 8192x8
done | tee $OUT/attnc_sparse.txt
for c in "$R/flux_gna.attn batch=1,heads=24,H=256,W=256" "$R/dense_d128.attn batch=1,heads=24,tokens=65536" \
         "$R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80" "$R/dense_d128.attn batch=1,heads=24,tokens=115200"; do
  set -- $c; row $1 $2 ""; done | tee $OUT/attnc_grids.txt
el anchors-sparse
OUT=$OUT timeout 170 python3 bench/anchors.py --sparse > $OUT/anchors_sparse.log 2>&1; echo "rc=$?"
python3 - <<'PY' | tee $OUT/anchors_table.txt
import json, os
for l in open(os.path.join(os.environ["OUT"], "anchors.jsonl")):
    r = json.loads(l); print(f'{r.get("case"):34} {r.get("impl"):22} N={r.get("N")} ms={r.get("ms", "-")} tflops={round(r["tflops"],1) if "tflops" in r else r.get("error","-")}')
PY
;; esac
el done
