#!/usr/bin/env bash
# Device call 12 of 2026-12-04: main with overlap=1 the sm_90a default of unmasked token sequences
# (552e022). 1. GPU tests against fp64 with caps (dense recipes now run the overlapped loop),
# memcheck of test_gpu_hand, the Python GPU tests; 2. the bench cases it changes and the GNA/dense
# ratios of issue 17, two rounds.
# OUT=dir bash bench/runs/2026-12-04/run12.sh   (.device-all/main.tar.xz = the build under test)
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
G=$ROOT/.device/tests/gpu A=$ROOT/.device/bin/attnc
summary() { printf '%-16s %-8s PASS %-4s FAIL %s\n' "$1" "$(cat $2.rc 2>/dev/null)" "$(grep -c '^\[PASS\]' $2)" "$(grep -c '^\[FAIL\]' $2)"
  grep -E '^\[FAIL\]|Assertion|Segmentation|internal error|ILLEGAL|CUDA_ERROR|ERROR SUMMARY|FAILED' $2 | head -4 | cut -c1-200; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d /tmp/c.XXXX) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
C=${CAP:-150}
el "1. tests"
for t in hand varlen merge overlap edges; do bg $t $C $G/test_gpu_test_gpu_$t; done
bg recipes $C ATTNC_TEST_SMALL=1 $G/test_gpu_test_gpu_recipes
bg memcheck_hand $C compute-sanitizer --tool memcheck $G/test_gpu_test_gpu_hand
bg python $C bash python/run-gpu.sh
wait
for t in hand varlen merge overlap edges recipes memcheck_hand python; do summary $t /tmp/t_$t; tail -1 /tmp/t_$t | cut -c1-160; done | tee $OUT/tests.txt
el "2. bench"
row() { # recipe shape [args]
  local recipe=$1 shape=$2; shift 2
  local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d /tmp/b.XXXX) timeout 90 $A bench $recipe --shape $shape --warmup 5 --iters 30 "$@" 2>&1)
  printf '%-22s %-32s %-10s %s | %s\n' "$(basename $recipe .attn)" "$shape" "$*" "$(echo "$r" | grep -oE '[0-9.]+ TFLOP/s' | head -1)" "$(echo "$r" | grep -oE '\[[^]]*\] \([a-z]+ schedule\)' | head -1)"
}
for round in 1 2; do
  for n in "4,4096" "2,8192" "1,16384"; do b=${n%,*} t=${n#*,}
    row bench/recipes/dense_d128.attn batch=$b,heads=16,tokens=$t
    row bench/recipes/dense_d64.attn batch=$b,heads=32,tokens=$t
  done
  row bench/recipes/dense_d128.attn batch=1,heads=24,tokens=65536
  row bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256
  row bench/recipes/dense_d128.attn batch=1,heads=24,tokens=115200
  row bench/recipes/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80
done | tee $OUT/bench.txt
el done
