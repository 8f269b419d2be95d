#!/usr/bin/env bash
# Device call 30 of 2026-12-04: unions of closed forms (sinks || window) take persist=1 overlap=1 by default
# (compile_default_schedule, union_persist): test_gpu_persist's sinks case on both loops under racecheck and
# memcheck, test_gpu_unions (its auto schedule is the new default), test_gpu_recipes on the sinks recipes; then the
# new default against the old one (the plain loop, spelled out) over lengths, batches and D=64, two rounds.
# OUT=dir bash bench/runs/2026-12-04/run30.sh   (.device-all/main.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc SAN=/usr/local/cuda/bin/compute-sanitizer
summary() { printf '%-16s %-8s PASS %-4s FAIL %-3s %s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/t_$1)" "$(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' /tmp/t_$1 | tail -1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error|========= (Invalid|Error|Race)' /tmp/t_$1 | head -6 | cut -c1-240; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
san="--error-exitcode 9 --print-limit 10"
bg persist 150 ATTNC_TEST_CASE=sinks stdbuf -oL $G/test_gpu_test_gpu_persist
bg racecheck 150 ATTNC_TEST_CASE=sinks $SAN --tool racecheck $san $G/test_gpu_test_gpu_persist
bg memcheck 150 ATTNC_TEST_CASE=sinks $SAN --tool memcheck $san $G/test_gpu_test_gpu_persist
bg unions 150 stdbuf -oL $G/test_gpu_test_gpu_unions
bg recipes 150 ATTNC_TEST_RECIPE=sinks stdbuf -oL $G/test_gpu_test_gpu_recipes
wait
for t in persist racecheck memcheck unions recipes; do summary $t; done | tee $OUT/tests.txt
grep -E '^\[(PASS|FAIL)\]' /tmp/t_unions | grep -E 'persist' | head -8 | cut -c1-200 >> $OUT/tests.txt
el bench
cat > /tmp/sinks_d64.attn <<'R'
recipe sinks_d64
input q, k, v : bf16 [batch, heads, tokens, 64]
mask causal && (sinks(4) || sliding_window(2047, 0))
tile auto
R
row() { local rc=$1 sh=$2 sc=$3; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 5 --iters 30 ${sc:+--schedule "$sc"} 2>&1)
  printf '%-16s %-32s %-36s %s\n' "$(basename $rc .attn)" "$sh" "${sc:-default}" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
OLD="q=128 kv=128 stages=2 warps=8"
for round in 1 2; do
  for sh in batch=1,heads=16,tokens=16384 batch=1,heads=16,tokens=32768 batch=1,heads=16,tokens=65536 batch=4,heads=16,tokens=8192; do
    row bench/recipes/sinks_swa_w2047.attn $sh ""; row bench/recipes/sinks_swa_w2047.attn $sh "$OLD"; done
  for sh in batch=2,heads=16,tokens=8192 batch=1,heads=16,tokens=32768; do
    row recipes/sinks_window.attn $sh ""; row recipes/sinks_window.attn $sh "$OLD"; done
  row /tmp/sinks_d64.attn batch=1,heads=32,tokens=32768 ""; row /tmp/sinks_d64.attn batch=1,heads=32,tokens=32768 "$OLD"
done | tee $OUT/bench.txt
el done
