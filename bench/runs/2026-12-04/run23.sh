#!/usr/bin/env bash
# Device call 23 of 2026-12-04: persistent blocks (schedule persist=1, new): test_gpu_persist plain and under
# racecheck/memcheck, then persist=1 against the default on the short-loop cases (GNA, sinks+window, causal,
# cross attention with GNA's loop length), two alternating rounds, --warmup 5 --iters 30.
# OUT=dir bash bench/runs/2026-12-04/run23.sh   (.device-all/main.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc SAN=/usr/local/cuda/bin/compute-sanitizer
summary() { printf '%-22s %-8s PASS %-4s FAIL %-3s %s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/t_$1)" "$(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' /tmp/t_$1 | tail -1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error|========= (Invalid|Error|Race)' /tmp/t_$1 | head -6 | cut -c1-240; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
san="--error-exitcode 9 --print-limit 10"
bg persist 200 $G/test_gpu_test_gpu_persist
bg racecheck_persist 200 $SAN --tool racecheck $san $G/test_gpu_test_gpu_persist
bg memcheck_persist 200 $SAN --tool memcheck $san $G/test_gpu_test_gpu_persist
wait
for t in persist racecheck_persist memcheck_persist; do summary $t; done | tee $OUT/tests.txt
grep -E '^\[(PASS|FAIL)\]' /tmp/t_persist | cut -c1-200 > $OUT/persist_cases.txt
el bench
row() { local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $1 --shape $2 --warmup 5 --iters 30 ${3:+--schedule "$3"} 2>&1)
  printf '%-16s %-40s %-52s %s\n' "$(basename $1 .attn)" "$2" "${3:-default}" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
R=bench/recipes
for round in 1 2; do
  row $R/dense_d128.attn batch=1,heads=24,tokens=65536 ""
  row $R/dense_d128.attn batch=1,heads=24,tokens=65536 "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"
  row $R/cross_d128.attn batch=1,heads=24,tokens=65536,kv_tokens=6400 ""
  row $R/cross_d128.attn batch=1,heads=24,tokens=65536,kv_tokens=6400 "q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 ""
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=8x16 stages=2 warps=8 overlap=1 persist=1"
  row $R/cross_d128.attn batch=1,heads=24,tokens=115200,kv_tokens=10368 ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=3 warps=8 persist=1"
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=2 warps=8 overlap=1 persist=1"
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ""
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "q=128 kv=128 stages=2 warps=8 persist=1"
  row $R/cross_d128.attn batch=1,heads=16,tokens=32768,kv_tokens=2304 ""
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 ""
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 "q=128 kv=128 stages=2 warps=8 regs=even persist=1"
  row $R/causal_d128.attn batch=4,heads=16,tokens=4096 ""
  row $R/causal_d128.attn batch=4,heads=16,tokens=4096 "q=128 kv=128 stages=2 warps=8 regs=even persist=1"
  row $R/flux_na.attn batch=1,heads=24,H=256,W=256 ""
  row $R/flux_na.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=16x8 stages=2 warps=8 persist=1"
done | tee $OUT/bench.txt
el done
