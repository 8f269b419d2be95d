#!/usr/bin/env bash
# Device call 27 of 2026-12-04: the partial-tile mask as one frozen predicate
# (one FSEL per element, fa2_select_kept) and persist=1's producer at 40 registers (computing warps 232):
# GPU tests that read masks (unions, recipes small, backward small, documents, persist), then old (main ce3f9f5's
# package, .device-all/old.tar.xz) against new (.device-all/main.tar.xz), two rounds.
# OUT=dir bash bench/runs/2026-12-04/run27.sh
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main /tmp/pk_old; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; tar -C /tmp/pk_old -xJf .device-all/old.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
G=/tmp/pk_main/tests/gpu
summary() { printf '%-14s %-8s PASS %-4s FAIL %-3s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/t_$1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error' /tmp/t_$1 | head -6 | cut -c1-240; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_main/lib timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
bg unions 150 stdbuf -oL $G/test_gpu_test_gpu_unions
bg recipes 150 ATTNC_TEST_SMALL=1 stdbuf -oL $G/test_gpu_test_gpu_recipes
bg backward 150 ATTNC_TEST_SMALL=1 stdbuf -oL $G/test_gpu_test_gpu_backward
bg documents 150 stdbuf -oL $G/test_gpu_test_gpu_documents
bg persist 150 stdbuf -oL $G/test_gpu_test_gpu_persist
bg grid_tma 150 stdbuf -oL $G/test_gpu_test_gpu_grid_tma
wait
for t in unions recipes backward documents persist grid_tma; do summary $t; done | tee $OUT/tests.txt
el bench
row() { local pk=$1 rc=$2 sh=$3 sc=$4; shift 4; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_$pk/lib timeout 60 /tmp/pk_$pk/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 ${sc:+--schedule "$sc"} "$@" 2>&1)
  printf '%-4s %-16s %-30s %-50s %s\n' $pk "$(basename $rc .attn)" "$sh" "${sc:-default} $*" "$(echo "$r" | grep -oE '[0-9.]+ TFLOP/s|error.*' | head -4 | tr '\n' ' ')"; }
R=bench/recipes
for round in 1 2; do
  for pk in old main; do
    row $pk $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "" --grad
    row $pk $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "q=128 kv=128 stages=2 warps=8 persist=1"
    row $pk $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=8x16 stages=2 warps=8 overlap=1 qgroup=2 persist=1"
    row $pk $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=8 persist=1"
  done
  row main $R/flux_gna.attn batch=1,heads=24,H=256,W=256 ""
  row main $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 ""
  row main $R/flux_na.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=16x8 stages=2 warps=8 persist=1"
  row main $R/flux_na.attn batch=1,heads=24,H=256,W=256 ""
  row main $R/dense_d128.attn batch=1,heads=24,tokens=65536 ""
  row main $R/dense_d128.attn batch=1,heads=24,tokens=115200 ""
  row main $R/doc_causal.attn batch=1,heads=16,tokens=65536 "" --docs 8
done | tee $OUT/bench.txt
el done
