#!/usr/bin/env bash
# Device call 54 (2026-12-06 00:xx): the deferred dQ of the backward's dK/dV pair (ATTNC_BWD_DQ_DEFER=1, opt-in;
# codegen/nvptx_bwd_wgmma.c gw_dqd_*): a pair's dQ product is issued by the next pair ahead of its Sᵀ, and its f32
# block stored and bulk-reduced while Sᵀ runs, instead of waiting for it at the end of its own pair.
#   PARTS=tests  test_gpu_backward under wgmma:prodd and wgmma:proddp1 (every case), `attnc run --check --grad` on
#                shapes no tile divides with the switch, racecheck + memcheck of dense / causal under it
#   PARTS=bench  backward (--grad) default vs the switch, two rounds: causal / dense D=128 at 16384 and 2x8192,
#                causal window 1024; then bench/anchors.py --bwd (cuDNN, FlexAttention) in the same call
#   OUT=dir PARTS="tests" bash bench/runs/2026-12-06/run54.sh   (.device-all/main.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
[ -d /tmp/pk/bin ] || { mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz; }
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_BWD_DQ_DEFER ATTNC_BWD_PIPE
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu SAN=/usr/local/cuda/bin/compute-sanitizer
PARTS=${PARTS:-tests bench}
if [[ $PARTS == *tests* ]]; then
el tests
for m in prodd proddp1; do
  ( ATTNC_TEST_BWD_MODE=wgmma:$m ATTNC_CACHE_DIR=$(mktemp -d) timeout 230 stdbuf -oL $T/test_gpu_test_gpu_backward > $OUT/t_bwd_$m.txt 2>&1
    echo "rc=$?" >> $OUT/t_bwd_$m.txt ) &
done
runchecks() { for spec in "recipes/causal.attn batch=2,heads=3,tokens=300" "recipes/dense.attn batch=1,heads=2,tokens=1" \
    "$R/dense_d128.attn batch=1,heads=4,tokens=4097" "$R/causal_d128.attn batch=2,heads=4,tokens=1000" \
    "recipes/gqa.attn batch=2,heads=8,kv_heads=2,tokens=333" "recipes/sinks_window.attn batch=1,heads=2,tokens=3000" \
    "$R/swa_w1024.attn batch=1,heads=2,tokens=5000" "recipes/document.attn batch=1,heads=2,tokens=3000"; do
    set -- $spec
    out=$(ATTNC_BWD_DQ_DEFER=1 timeout 100 $A run $1 --backend cuda --check --grad --shape $2 2>&1); rc=$?
    echo "$1 $2: exit $rc $(echo "$out" | grep -iE 'sched|rel|mismatch' | tr '\n' ' ' | cut -c1-300)"; done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > $OUT/t_runcheck.txt 2>&1 ) &
wait
for m in prodd proddp1; do
  echo "bwd $m: $(grep -c '^\[PASS\]\|: ok' $OUT/t_bwd_$m.txt) ok-lines, $(grep -c 'FAIL' $OUT/t_bwd_$m.txt) FAIL, $(tail -1 $OUT/t_bwd_$m.txt)"
  grep -m8 'FAIL' $OUT/t_bwd_$m.txt | cut -c1-300
done | tee $OUT/tests.txt
cat $OUT/t_runcheck.txt | tee -a $OUT/tests.txt
for tool in racecheck memcheck; do for r in "$R/dense_d128.attn batch=1,heads=2,tokens=1000" "$R/causal_d128.attn batch=1,heads=2,tokens=777"; do
  set -- $r
  ATTNC_BWD_DQ_DEFER=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 100 $SAN --tool $tool --error-exitcode 9 --print-limit 10 \
    $A run $1 --backend cuda --grad --shape $2 > $OUT/san_${tool}_$(basename $1 .attn).txt 2>&1
  echo "$tool $(basename $1) rc=$? $(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' $OUT/san_${tool}_$(basename $1 .attn).txt | tail -1)" | tee -a $OUT/tests.txt
done; done
fi
if [[ $PARTS == *bench* ]]; then
el bench
row() { local rc=$1 sh=$2 e=$3; shift 3; local r
  r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 100 $A bench $rc --shape $sh --warmup 5 --iters 20 "$@" 2>&1)
  printf '%-14s %-30s %-38s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|\(TMA[^)]*\)|error.*' | head -7 | tr '\n' ' ')"; }
for round in 1 2; do
  for c in "$R/causal_d128.attn batch=1,heads=16,tokens=16384" "$R/dense_d128.attn batch=1,heads=16,tokens=16384" \
           "$R/causal_d128.attn batch=2,heads=16,tokens=8192" "$R/dense_d128.attn batch=2,heads=16,tokens=8192" \
           "$R/swa_w1024.attn batch=1,heads=16,tokens=16384"; do
    set -- $c; row $1 $2 X=1 --grad; row $1 $2 ATTNC_BWD_DQ_DEFER=1 --grad
  done
  set -- $R/dense_d128.attn batch=1,heads=16,tokens=16384; row $1 $2 "ATTNC_BWD_DQ_DEFER=1 ATTNC_BWD_PIPE=1" --grad
done | tee $OUT/bwd.txt
el anchors
OUT=$OUT timeout 200 python3 bench/anchors.py --bwd > $OUT/anchors_bwd.log 2>&1; echo "rc=$?"
python3 - <<'PY' | tee $OUT/anchors_table.txt
import json, os
for l in open(os.path.join(os.environ["OUT"], "anchors.jsonl")):
    r = json.loads(l); print(f'{r.get("case"):34} {r.get("impl"):22} N={r.get("N")} ms={r.get("ms", "-")} tflops={round(r["tflops"],1) if "tflops" in r else r.get("error","-")}')
PY
fi
el done
