#!/usr/bin/env bash
# Device call 72 (for the next session): ATTNC_O_TMA=1, the staged O stored by TMA (never run on a GPU yet).
# First its correctness (the forward tests under the switch, capped; `attnc run --check` on sequence shapes whose
# last tile is partial, varlen, BSHD; racecheck and memcheck), then its speed against the default staged stores:
# 8 documents at N=65536, causal B=8 N=8192 (three rounds of 100 iterations), causal and dense N=16384, D=64;
# FlexAttention in the same call. If it wins, make it the default (nvptx_plan.c) and close issue 17's documents row.
#   OUT=dir [TCAP=s] bash bench/runs/2026-12-06/run72.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-80}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
el tests
bg() { local name=$1; shift; ( env ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_O_TMA=1 "$@" timeout $TCAP stdbuf -oL $T/test_gpu_test_gpu_$name > $OUT/t_$name.txt 2>&1; echo "rc=$?" >> $OUT/t_$name.txt ) & }
for t in overlap documents unions edges varlen recipes; do bg $t X=1; done
( ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_TEST_SMALL=1 timeout $TCAP stdbuf -oL $T/test_gpu_test_gpu_recipes > $OUT/t_recipes_small.txt 2>&1; echo "rc=$?" >> $OUT/t_recipes_small.txt ) &
runchecks() { for spec in "recipes/causal.attn batch=3,heads=5,tokens=1000" "recipes/dense.attn batch=1,heads=2,tokens=1" \
    "$R/causal_d128.attn batch=2,heads=3,tokens=4097" "$R/doc_causal.attn batch=1,heads=7,tokens=5000" \
    "recipes/gqa.attn batch=2,heads=8,kv_heads=2,tokens=333" "$R/dense_d64.attn batch=1,heads=3,tokens=777" \
    "recipes/softcap.attn batch=1,heads=2,tokens=1500"; do
    set -- $spec; for lay in bhsd bshd; do
      out=$(ATTNC_O_TMA=1 timeout 60 $A run $1 --backend cuda --check --shape $2 --layout $lay 2>&1); rc=$?
      echo "$(basename $1) $2 $lay O_TMA=1: exit $rc $(echo "$out" | grep -iE 'schedule used|check o|mismatch|error' | tr '\n' ' ' | cut -c1-200)"; done
  done
  out=$(ATTNC_O_TMA=1 timeout 60 $A run $R/causal_d128.attn --backend cuda --check --shape batch=1,heads=3,tokens=1500 --seqlens 5,300,1,1194 2>&1)
  echo "varlen 5,300,1,1194 O_TMA=1: exit $? $(echo "$out" | grep -iE 'check o|error' | tr '\n' ' ' | cut -c1-200)"; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > $OUT/t_runcheck.txt 2>&1 ) &
wait
for t in overlap documents unions edges varlen recipes; do
  echo "$t: $(grep -c 'PASS' $OUT/t_$t.txt) PASS-lines, $(grep -c 'FAIL' $OUT/t_$t.txt) FAIL-lines, $(tail -1 $OUT/t_$t.txt)"
  grep -m3 'FAIL' $OUT/t_$t.txt | cut -c1-250
done | tee $OUT/tests.txt
cat $OUT/t_runcheck.txt | tee -a $OUT/tests.txt
echo "recipes (small, default switches): $(grep -c '^  ' $OUT/t_recipes_small.txt) lines; $(tail -3 $OUT/t_recipes_small.txt | tr '\n' ' ')" | tee -a $OUT/tests.txt
for tool in racecheck memcheck; do
  ( ATTNC_O_TMA=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 80 /usr/local/cuda/bin/compute-sanitizer --tool $tool $A run $R/causal_d128.attn --backend cuda --check --shape batch=1,heads=2,tokens=1500 > $OUT/san.txt 2>&1; echo "rc=$?" >> $OUT/san.txt )
  echo "$tool: $(grep -E 'SUMMARY' $OUT/san.txt | tail -1) $(tail -1 $OUT/san.txt)" | tee -a $OUT/tests.txt
done
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-12s %-30s %-16s %-9s %s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')" "$(echo "$r" | grep -oE 'visited/kept [0-9.]+' | head -1)"; }
el rows
for round in 1 2 3; do
  for e in X=1 ATTNC_O_TMA=1; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8; done
  for e in X=1 ATTNC_O_TMA=1; do row $R/causal_d128.attn batch=8,heads=16,tokens=8192 $e; done
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  if [ $round -le 2 ]; then # 192-row tiles (three computing warpgroups): a block's fixed cost over 1.5x the work
    row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8 --schedule "q=192 kv=64 stages=2 warps=12 overlap=1"
    row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1 --schedule "q=192 kv=64 stages=2 warps=12 overlap=1"
  fi
done 2>&1 | tee $OUT/rows.txt
for c in "$R/causal_d128.attn batch=1,heads=16,tokens=16384" "$R/dense_d128.attn batch=1,heads=16,tokens=16384" "$R/causal_d64.attn batch=2,heads=32,tokens=8192"; do
  for e in X=1 ATTNC_O_TMA=1; do set -- $c; row $1 $2 $e; done; done 2>&1 | tee -a $OUT/rows.txt
el flex; OUT=$OUT timeout 60 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq.log | tee $OUT/anchors_seq.txt
el done
