#!/usr/bin/env bash
# Device call 37 (2026-12-05): the defaults changed after run35, checked and measured in one call:
#  - head dim 64 unmasked sequences on q=192 warps=12 overlap=1: test_gpu_overlap wide_rows_d64, `attnc run
#    --check` (fp64) of dense_d64 at remainders, one token and GQA/cross D=64 recipes; D=64 dense new default
#    against the old one (q=128 ... overlap=1) on three shapes, two rounds;
#  - narrow first union tile by default: test_gpu_overlap unions, test_gpu_recipes sinks;
#  - odd tiles complete (run35 capped it at 120 s: 132 passed, none failed);
#  - D=128 dense: kv=176 and ATTNC_TMA_L2_AHEAD=2, alone and together, two shapes, two rounds;
#  - fla's linear backward (carried wheels) against attnc's (the fused dK/dV scan is now the default).
#   OUT=dir bash bench/runs/2026-12-05/run37.sh      (.device-all/main.tar.xz from scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc R=bench/recipes
summary() { printf '%-16s %-8s PASS %-4s FAIL %-3s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]\|rel_l2\|: ok' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]\|MISMATCH\|exit [12]' /tmp/t_$1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error|Failure|MISMATCH|exit [12]' /tmp/t_$1 | head -6 | cut -c1-240; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
printf 'recipe gqa_d64\ninput q : bf16 [batch, heads, tokens, 64]\ninput k, v : bf16 [batch, kv_heads, kv_tokens, 64]\ntile auto\n' > /tmp/gqa_d64.attn
runchecks() { for spec in "$R/dense_d64.attn batch=2,heads=3,tokens=300" "$R/dense_d64.attn batch=1,heads=2,tokens=1" \
    "$R/dense_d64.attn batch=1,heads=4,tokens=4097" "/tmp/gqa_d64.attn batch=2,heads=8,kv_heads=2,tokens=333,kv_tokens=1000" \
    "/tmp/gqa_d64.attn batch=1,heads=4,kv_heads=1,tokens=700,kv_tokens=5"; do
    set -- $spec; out=$($A run $1 --backend cuda --check --shape $2 2>&1); rc=$?
    echo "$1 $2: exit $rc $(echo "$out" | grep -iE 'schedule|rel|check' | tr '\n' ' ' | cut -c1-200)"; [ $rc = 0 ] && echo "  : ok"; done; }
el tests
bg wide 200 ATTNC_TEST_PART=wide_rows_d64 stdbuf -oL $G/test_gpu_test_gpu_overlap
bg odd 200 ATTNC_TEST_PART=odd_tiles stdbuf -oL $G/test_gpu_test_gpu_overlap
bg unions 200 ATTNC_TEST_PART=unions stdbuf -oL $G/test_gpu_test_gpu_overlap
bg recipes 200 ATTNC_TEST_RECIPE=sinks stdbuf -oL $G/test_gpu_test_gpu_recipes
( ATTNC_CACHE_DIR=$(mktemp -d) timeout 200 bash -c "$(declare -f runchecks); A=$A R=$R runchecks" > /tmp/t_runcheck 2>&1; echo "rc=$?" > /tmp/t_runcheck.rc ) &
wait
for t in wide odd unions recipes runcheck; do summary $t; done | tee $OUT/tests.txt
cat /tmp/t_runcheck >> $OUT/tests.txt; cp /tmp/t_wide /tmp/t_odd $OUT/ 2>/dev/null
el bench
row() { local rc=$1 sh=$2 sc=$3 envs=$4; shift 4; local r
  r=$(env $envs ATTNC_CACHE_DIR=$(mktemp -d) timeout 40 $A bench $rc --shape $sh --warmup 5 --iters 20 ${sc:+--schedule "$sc"} "$@" 2>&1)
  printf '%-16s %-32s %-46s %-20s %s\n' "$(basename $rc .attn)" "$sh" "${sc:-default}" "${envs:--}" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
for round in 1 2; do
  for sh in batch=2,heads=32,tokens=8192 batch=1,heads=32,tokens=16384 batch=4,heads=32,tokens=4096; do
    row $R/dense_d64.attn $sh "" ""
    row $R/dense_d64.attn $sh "q=128 kv=128 stages=2 warps=8 overlap=1" ""
  done
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "" ""
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "" "ATTNC_NARROW_FIRST=0"
  el "round $round"
done 2>&1 | tee $OUT/bench.txt
el fla
pip install -q --no-deps --target /tmp/flasite .device-all/fla_core-0.6.0-py3-none-any.whl .device-all/einops-*.whl > /tmp/fla_pip.txt 2>&1
timeout 120 env PYTHONPATH=/tmp/flasite OUT=$OUT ATTNC_BIN=$A python3 bench/linear_anchors.py --bwd > /tmp/fla.txt 2>&1
tail -3 /tmp/fla_pip.txt; tail -12 /tmp/fla.txt | tee $OUT/fla.txt
el d128
for round in 1 2; do
  for sh in batch=1,heads=16,tokens=16384 batch=2,heads=16,tokens=8192; do
    row $R/dense_d128.attn $sh "" ""
    row $R/dense_d128.attn $sh "q=128 kv=176 stages=2 warps=8 overlap=1" ""
    row $R/dense_d128.attn $sh "q=128 kv=176 stages=2 warps=8 overlap=1" "ATTNC_TMA_L2_AHEAD=2"
  done
done 2>&1 | tee $OUT/bench_d128.txt
el done
exit 0
