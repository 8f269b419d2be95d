#!/usr/bin/env bash
# Device call 7 of 2026-12-04: the CUDA backend's JIT through ptxas (ATTNC_JIT, runtime/cuda/cuda_jit.h).
#   1. GPU tests with the new default (auto = ptxas here) against fp64;
#   2. every bench case with ATTNC_JIT=driver and =ptxas, interleaved, two rounds (fresh kernel cache each).
# OUT=dir bash bench/runs/2026-12-04/run7.sh   (.device-all/main.tar.xz = the build under test)
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
G=$ROOT/.device/tests/gpu A=$ROOT/.device/bin/attnc
L=$OUT/logs; mkdir -p $L
summary() { printf '%-24s %-8s PASS %-4s FAIL %s\n' "$1" "$(cat $2.rc 2>/dev/null)" "$(grep -c '^\[PASS\]' $2)" "$(grep -c '^\[FAIL\]' $2)"
  grep -E '^\[FAIL\]|Assertion|Segmentation|timed out|internal error|ILLEGAL|CUDA_ERROR' $2 | head -6 | cut -c1-220; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d /tmp/c.XXXX) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
el "1. tests, ATTNC_JIT unset (auto: ptxas)"
bg recipes_small ${CAP:-150} ATTNC_TEST_SMALL=1 $G/test_gpu_test_gpu_recipes
bg hand ${CAP:-150} $G/test_gpu_test_gpu_hand
bg backward ${CAP:-150} ATTNC_TEST_SMALL=1 $G/test_gpu_test_gpu_backward
bg unions ${CAP:-150} $G/test_gpu_test_gpu_unions
bg linear ${CAP:-150} $G/test_gpu_test_gpu_linear
wait
for f in recipes_small hand backward unions linear; do summary $f /tmp/t_$f; tail -1 /tmp/t_$f | cut -c1-160; done | tee $OUT/tests.txt
el "2. driver vs ptxas"
row() { # mode recipe shape [args]
  local mode=$1 recipe=$2 shape=$3; shift 3
  local r; r=$(ATTNC_JIT=$mode ATTNC_CACHE_DIR=$(mktemp -d /tmp/b.XXXX) timeout 90 $A bench $recipe --shape $shape --warmup 5 --iters 20 "$@" 2>&1)
  echo "$(basename $recipe .attn) $shape $* [$mode] $(echo "$r" | grep -oE '[0-9.]+ (TFLOP/s|GB/s)' | head -1) | bwd $(echo "$r" | grep backward | grep -oE 'time [0-9.]+ ms' ) $(echo "$r" | grep backward | grep -oE '[0-9.]+ (TFLOP/s|GB/s)' | head -1) | $(echo "$r" | grep -oE '(ptxas|driver) JIT \+ load [0-9.]+')"
}
cases() {
  echo "bench/recipes/dense_d128.attn batch=1,heads=16,tokens=16384 --grad"
  echo "bench/recipes/causal_d128.attn batch=1,heads=16,tokens=16384 --grad"
  echo "bench/recipes/dense_d64.attn batch=1,heads=32,tokens=16384"
  echo "bench/recipes/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768"
  echo "bench/recipes/causal_d128.attn batch=1,heads=16,tokens=65536 --seqlens 8192x8"
  echo "bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 8"
  echo "bench/recipes/swa_w1024.attn batch=1,heads=16,tokens=16384 --grad"
  echo "bench/recipes/na2d_k17.attn batch=1,heads=16,H=128,W=128 --grad"
  echo "bench/recipes/flux_na.attn batch=1,heads=24,H=256,W=256"
  echo "bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256"
  echo "bench/recipes/dense_d128.attn batch=1,heads=24,tokens=65536"
  echo "bench/recipes/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80"
  echo "recipes/lightning2.attn batch=1,heads=16,tokens=16384 --grad"
}
for round in 1 2; do
  cases | while read -r recipe shape extra; do
    for mode in driver ptxas; do row $mode $recipe $shape $extra; done
  done
done | tee $OUT/jit-bench.txt
el done
