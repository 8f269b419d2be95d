#!/usr/bin/env bash
# Device call 25 of 2026-12-04: persist=1 with the snake order over items sorted by query tile rank (sequences):
# test_gpu_persist in full (smaller shapes) and racecheck on two of its cases; persist=1 against the default on
# causal and sinks+window; HunyuanVideo GNA and FLUX NA (the plain loop on grid boxes) without the per-slot
# proxy fence (ATTNC_TMA_FENCE=0). OUT=dir bash bench/runs/2026-12-04/run25.sh   (.device-all/main.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc SAN=/usr/local/cuda/bin/compute-sanitizer
summary() { printf '%-22s %-8s PASS %-4s FAIL %-3s %s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/t_$1)" "$(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' /tmp/t_$1 | tail -1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error|========= (Invalid|Error|Race)' /tmp/t_$1 | head -6 | cut -c1-240; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
san="--error-exitcode 9 --print-limit 10"
bg persist 110 stdbuf -oL $G/test_gpu_test_gpu_persist
bg racecheck_dense 110 ATTNC_TEST_CASE=dense stdbuf -oL $SAN --tool racecheck $san $G/test_gpu_test_gpu_persist
bg racecheck_sinks 110 ATTNC_TEST_CASE=sinks stdbuf -oL $SAN --tool racecheck $san $G/test_gpu_test_gpu_persist
wait
for t in persist racecheck_dense racecheck_sinks; do summary $t; done | tee $OUT/tests.txt
grep -E '^\[(PASS|FAIL)\]' /tmp/t_persist | cut -c1-130 > $OUT/persist_cases.txt
el bench
row() { local e=$1; shift; local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 env $e $A bench $1 --shape $2 --warmup 5 --iters 30 ${3:+--schedule "$3"} 2>&1)
  printf '%-16s %-18s %-36s %-52s %s\n' "$(basename $1 .attn)" "$e" "$2" "${3:-default}" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
R=bench/recipes
for round in 1 2; do
  row X=1 $R/causal_d128.attn batch=1,heads=16,tokens=16384 ""
  row X=1 $R/causal_d128.attn batch=1,heads=16,tokens=16384 "q=128 kv=128 stages=2 warps=8 regs=even persist=1"
  row X=1 $R/causal_d128.attn batch=4,heads=16,tokens=4096 ""
  row X=1 $R/causal_d128.attn batch=4,heads=16,tokens=4096 "q=128 kv=128 stages=2 warps=8 regs=even persist=1"
  row X=1 $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ""
  row X=1 $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "q=128 kv=128 stages=2 warps=8 persist=1"
  row X=1 $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 ""
  row ATTNC_TMA_FENCE=0 $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 ""
  row X=1 $R/flux_na.attn batch=1,heads=24,H=256,W=256 ""
  row ATTNC_TMA_FENCE=0 $R/flux_na.attn batch=1,heads=24,H=256,W=256 ""
done | tee $OUT/bench.txt
el done
