#!/usr/bin/env bash
# Device call 22 of 2026-12-04 (main cb540be): compute-sanitizer on the defaults that changed last session
# (causal regs=even, 2-D GNA boxes on the overlapped loop), test_gpu_overlap in full; then how much of
# GNA's and sinks+window's gap to dense is loop length (dense cross attention with as many key tiles per
# query tile as GNA visits), HunyuanVideo GNA's 3-D boxes on the overlapped loop at three stages, FLUX NA
# and FLUX GNA variants. Three alternating rounds, --warmup 5 --iters 30.
# OUT=dir bash bench/runs/2026-12-04/run22.sh   (.device-all/main.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc SAN=/usr/local/cuda/bin/compute-sanitizer
summary() { printf '%-22s %-8s PASS %-4s FAIL %-3s %s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/t_$1)" "$(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' /tmp/t_$1 | tail -1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error|========= (Invalid|Error|Race)' /tmp/t_$1 | head -4 | cut -c1-220; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
san="--error-exitcode 9 --print-limit 10"
bg memcheck_grid_tma 240 $SAN --tool memcheck $san $G/test_gpu_test_gpu_grid_tma
bg racecheck_grid_tma 240 $SAN --tool racecheck $san $G/test_gpu_test_gpu_grid_tma
bg memcheck_causal 240 ATTNC_TEST_SMALL=1 ATTNC_TEST_RECIPE=causal $SAN --tool memcheck $san $G/test_gpu_test_gpu_recipes
bg racecheck_causal 240 ATTNC_TEST_SMALL=1 ATTNC_TEST_RECIPE=causal $SAN --tool racecheck $san $G/test_gpu_test_gpu_recipes
bg overlap 240 $G/test_gpu_test_gpu_overlap
wait
for t in memcheck_grid_tma racecheck_grid_tma memcheck_causal racecheck_causal overlap; do summary $t; done | tee $OUT/tests.txt
el bench
row() { local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $1 --shape $2 --warmup 5 --iters 30 ${3:+--schedule "$3"} 2>&1)
  printf '%-16s %-40s %-42s %s\n' "$(basename $1 .attn)" "$2" "${3:-default}" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|\[q=[^]]*\]' | tr '\n' ' ')"; }
R=bench/recipes
for round in 1 2 3; do
  row $R/dense_d128.attn batch=1,heads=24,tokens=65536 ""
  row $R/dense_d128.attn batch=1,heads=24,tokens=65536,kv_tokens=6400 ""
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 ""
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=8x16 stages=3 warps=8 overlap=1"
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=8x16 stages=2 warps=8 overlap=1 regs=even"
  row $R/dense_d128.attn batch=1,heads=24,tokens=115200 ""
  row $R/dense_d128.attn batch=1,heads=24,tokens=115200,kv_tokens=10368 ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=3 warps=8 overlap=1"
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=2 warps=8 overlap=1"
  row $R/flux_na.attn batch=1,heads=24,H=256,W=256 ""
  row $R/flux_na.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=8x16 stages=2 warps=8 overlap=1"
  row $R/dense_d128.attn batch=1,heads=16,tokens=32768,kv_tokens=2304 ""
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ""
done | tee $OUT/bench.txt
el done
