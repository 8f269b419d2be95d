#!/usr/bin/env bash
# Device call 35 (2026-12-05): run33's opt-in forward switches, condensed into one call of under 10 minutes:
# the correctness tests of the switches first (odd tiles, narrow first union tile, qchunk, L2 prefetch ahead),
# then the forward rows in two interleaved rounds (a switch becomes a default only where it wins in both).
#   OUT=dir bash bench/runs/2026-12-05/run35.sh      (.device-all/main.tar.xz from scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc
summary() { printf '%-16s %-8s PASS %-4s FAIL %-3s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/t_$1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error|Failure' /tmp/t_$1 | head -6 | cut -c1-240; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
el tests
bg wg3 120 ATTNC_TEST_PART=odd_tiles stdbuf -oL $G/test_gpu_test_gpu_overlap
bg grid 120 stdbuf -oL $G/test_gpu_test_gpu_grid_tma
bg hand_l2 120 ATTNC_TMA_L2_AHEAD=2 ATTNC_TEST_PART=hand_cases stdbuf -oL $G/test_gpu_test_gpu_overlap
bg nf_unions 120 ATTNC_NARROW_FIRST=1 stdbuf -oL $G/test_gpu_test_gpu_unions
bg nf_persist 120 ATTNC_NARROW_FIRST=1 ATTNC_TEST_CASE=sinks stdbuf -oL $G/test_gpu_test_gpu_persist
wait
for t in wg3 grid hand_l2 nf_unions nf_persist; do summary $t; done | tee $OUT/tests.txt
el bench
row() { local rc=$1 sh=$2 sc=$3 envs=$4; shift 4; local r
  r=$(env $envs ATTNC_CACHE_DIR=$(mktemp -d) timeout 40 $A bench $rc --shape $sh --warmup 5 --iters 20 ${sc:+--schedule "$sc"} "$@" 2>&1)
  printf '%-16s %-32s %-46s %-20s %s\n' "$(basename $rc .attn)" "$sh" "${sc:-default}" "${envs:--}" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ TFLOP/s|visited/kept [0-9.]+|error.*' | head -3 | tr '\n' ' ')"; }
R=bench/recipes
for round in 1 2; do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "" ""
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "" "ATTNC_NARROW_FIRST=1"
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "q=128 kv=128 stages=2 warps=8" "ATTNC_NARROW_FIRST=1"
  row $R/dense_d64.attn batch=2,heads=32,tokens=8192 "" ""
  row $R/dense_d64.attn batch=2,heads=32,tokens=8192 "q=192 kv=128 stages=2 warps=12" ""
  row $R/dense_d64.attn batch=2,heads=32,tokens=8192 "q=192 kv=128 stages=2 warps=12 overlap=1" ""
  row $R/causal_d64.attn batch=2,heads=32,tokens=8192 "" ""
  row $R/causal_d64.attn batch=2,heads=32,tokens=8192 "q=192 kv=128 stages=2 warps=12" ""
  row $R/dense_d128.attn batch=1,heads=16,tokens=16384 "" ""
  row $R/dense_d128.attn batch=1,heads=16,tokens=16384 "q=128 kv=176 stages=2 warps=8 overlap=1" ""
  row $R/dense_d128.attn batch=1,heads=16,tokens=16384 "" "ATTNC_TMA_L2_AHEAD=2"
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "" ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=8 qchunk=2" ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=8 qchunk=4" ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "" "ATTNC_TMA_L2_AHEAD=2"
  row $R/dense_d128.attn batch=1,heads=24,tokens=115200 "" ""
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "" ""
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "" "ATTNC_TMA_L2_AHEAD=2"
  row $R/dense_d128.attn batch=1,heads=24,tokens=65536 "" ""
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "" "" --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "" "ATTNC_TMA_L2_AHEAD=2" --docs 8
  el "round $round"
done 2>&1 | tee $OUT/bench.txt
el linear
lrow() { local envs=$1; shift; local r
  r=$(env $envs ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench recipes/lightning2.attn --shape batch=1,heads=16,tokens=16384 --grad --warmup 5 --iters 20 "$@" 2>&1)
  printf '%-28s %-18s %s\n' "${envs:--}" "${*:-(decay gradient)}" "$(echo "$r" | grep -E '^  backward' | cut -c1-200)"; }
for round in 1 2; do
  lrow ""
  lrow "" --no-grad decay
  lrow "ATTNC_BWD_LINEAR_FUSED=1" --no-grad decay
done 2>&1 | tee $OUT/bench_linear.txt
el done
exit 0
