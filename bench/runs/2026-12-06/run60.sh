#!/usr/bin/env bash
# Device call 60 (2026-12-06): the overlapped loop's first tile peeled (ATTNC_PEEL_FIRST, on by default in this
# package): the GPU tests of every overlapped kernel (in parallel, capped), then default vs ATTNC_PEEL_FIRST=0 with
# 100 timed iterations, three rounds: 8 causal documents at N=65536, causal B=8 N=8192, causal N=16384, dense
# N=16384, sinks + window 2047 at N=32768; FlexAttention on the documents and sinks in the same call.
#   OUT=dir [TCAP=s] bash bench/runs/2026-12-06/run60.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-80}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_PEEL_FIRST ATTNC_SKIP_RESCALE ATTNC_PERSIST_DYNAMIC
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
el tests
bg() { local name=$1; shift; ( env ATTNC_CACHE_DIR=$(mktemp -d) "$@" timeout $TCAP stdbuf -oL $T/test_gpu_test_gpu_$name > $OUT/t_$name.txt 2>&1; echo "rc=$?" >> $OUT/t_$name.txt ) & }
for t in overlap documents unions persist recipes edges grid_tma varlen; do bg $t X=1; done
runchecks() { for spec in "recipes/causal.attn batch=3,heads=5,tokens=1000" "recipes/dense.attn batch=1,heads=2,tokens=1" \
    "$R/causal_d128.attn batch=2,heads=3,tokens=4097" "$R/doc_causal.attn batch=1,heads=7,tokens=5000" \
    "recipes/sinks_window.attn batch=1,heads=2,tokens=3000" "recipes/gqa.attn batch=2,heads=8,kv_heads=2,tokens=333" \
    "$R/flux_gna.attn batch=1,heads=2,H=64,W=48"; do
    set -- $spec
    out=$(timeout 60 $A run $1 --backend cuda --check --shape $2 2>&1); rc=$?
    echo "$1 $2: exit $rc $(echo "$out" | grep -iE 'check o|mismatch|error' | tr '\n' ' ' | cut -c1-200)"; done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > $OUT/t_runcheck.txt 2>&1 ) &
wait
for t in overlap documents unions persist recipes edges grid_tma varlen; do
  echo "$t: $(grep -c '^\[PASS\]\|^\[       OK \]' $OUT/t_$t.txt) pass/ok, $(grep -c 'FAIL' $OUT/t_$t.txt) FAIL-lines, $(tail -1 $OUT/t_$t.txt)"
  grep -m4 'FAIL' $OUT/t_$t.txt | cut -c1-250
done | tee $OUT/tests.txt
cat $OUT/t_runcheck.txt | tee -a $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-15s %-28s %-19s %-9s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
el rows
for round in 1 2 3; do
  for e in X=1 ATTNC_PEEL_FIRST=0; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8; done
  for e in X=1 ATTNC_PEEL_FIRST=0; do row $R/causal_d128.attn batch=8,heads=16,tokens=8192 $e; done
  for e in X=1 ATTNC_PEEL_FIRST=0; do row $R/causal_d128.attn batch=1,heads=16,tokens=16384 $e; done
  for e in X=1 ATTNC_PEEL_FIRST=0; do row $R/dense_d128.attn batch=1,heads=16,tokens=16384 $e; done
  for e in X=1 ATTNC_PEEL_FIRST=0; do row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 $e; done
done 2>&1 | tee $OUT/rows.txt
el flex; OUT=$OUT timeout 60 python3 bench/anchors.py --sparse-seq > $OUT/anchors.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors.log | tee $OUT/anchors_table.txt
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $OUT/gpu.txt 2>&1
el done
