#!/usr/bin/env bash
# Device call 62 (2026-12-06): tanh as PTX tanh.approx.f32 (ATTNC_TANH_APPROX, on by default in this package) and
# GPU float division by a constant as a multiply (softcap's x / cap): the D=256 softcap forward's key loop
# 1091 -> 465 SASS instructions. Tests first (softcap forward and gradients against fp64, caps 5 and 50, D=128 and
# 256), then softcap and plain causal, forward and backward, default vs ATTNC_TANH_APPROX=0, two rounds.
#   OUT=dir [TCAP=s] bash bench/runs/2026-12-06/run62.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-90}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_TANH_APPROX ATTNC_PEEL_FIRST
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
printf 'recipe softcap_d128\ninput  q, k, v : bf16 [batch, heads, tokens, 128]\nmask   causal\nscore  softcap(s * scale, 30.0)\ntile   auto\n' > /tmp/softcap_d128.attn
printf 'recipe causal_d256\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\nmask   causal\ntile   auto\n' > /tmp/causal_d256.attn
el tests
( ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_TEST_CASE=softcap timeout $TCAP stdbuf -oL $T/test_gpu_test_gpu_backward > $OUT/t_backward.txt 2>&1; echo "rc=$?" >> $OUT/t_backward.txt ) &
( ATTNC_CACHE_DIR=$(mktemp -d) timeout $TCAP stdbuf -oL $T/test_gpu_test_gpu_hand > $OUT/t_hand.txt 2>&1; echo "rc=$?" >> $OUT/t_hand.txt ) &
runchecks() { for e in X=1 ATTNC_TANH_APPROX=0; do for spec in "recipes/softcap.attn batch=1,heads=3,tokens=1000" \
    "/tmp/softcap_d128.attn batch=2,heads=2,tokens=333" "/tmp/softcap_d128.attn batch=1,heads=2,tokens=4097" \
    "recipes/alibi.attn batch=1,heads=4,tokens=777" "recipes/relpos_bias2d.attn batch=1,heads=2,H=20,W=24"; do
    set -- $spec
    out=$(env $e timeout 90 $A run $1 --backend cuda --check --grad --shape $2 2>&1); rc=$?
    echo "$e $1 $2: exit $rc $(echo "$out" | grep -iE 'check|mismatch|error' | tr '\n' ' ' | cut -c1-300)"; done; done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > $OUT/t_runcheck.txt 2>&1 ) &
wait
for t in backward hand; do
  echo "$t: $(grep -c '^\[PASS\]\|^\[       OK \]' $OUT/t_$t.txt) pass/ok, $(grep -c 'FAIL' $OUT/t_$t.txt) FAIL-lines, $(tail -1 $OUT/t_$t.txt)"
  grep -m4 'FAIL' $OUT/t_$t.txt | cut -c1-250
done | tee $OUT/tests.txt
cat $OUT/t_runcheck.txt | tee -a $OUT/tests.txt
el rows
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 10 --iters 50 --grad "$@" 2>&1)
  printf '%-12s %-27s %-20s fwd %s | bwd %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$r" | grep -m1 -oE '^  time [0-9.]+ ms.*TFLOP/s' | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s' | tr '\n' ' ')" \
    "$(echo "$r" | grep -m1 'backward \[' | grep -oE '\[[^]]*\]|time [0-9.]+ ms|[0-9.]+ TFLOP/s' | head -3 | tr '\n' ' ')"; }
for round in 1 2; do
  for e in X=1 ATTNC_TANH_APPROX=0; do row recipes/softcap.attn batch=1,heads=16,tokens=8192 $e; done
  row /tmp/causal_d256.attn batch=1,heads=16,tokens=8192 X=1
  for e in X=1 ATTNC_TANH_APPROX=0; do row /tmp/softcap_d128.attn batch=1,heads=16,tokens=16384 $e; done
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 X=1
done 2>&1 | tee $OUT/rows.txt
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $OUT/gpu.txt 2>&1
el done
