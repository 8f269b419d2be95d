#!/usr/bin/env bash
# Device call 34, PREPARED on 2026-12-05 when no device machine was lent (not yet run): what that session
# added, checked and measured in one call of under 10 minutes (run run33.sh's parts too; they wait as well):
#   OUT=dir bash bench/runs/2026-12-05/run34.sh
#  1. AOT backward with the dK/dV kernel's TMA producer (NAME_backward encodes the q and dout maps):
#     test_unit_runtime_test_aot_gpu (on sm_90a also the default bulk dQ with the producer: dk, dv bit for bit
#     against the library's, dq within roundings); examples/aot_host.
#  2. attnc_build_options.no_grad: test_gpu_linear_backward (the decay and the gate held constant; then again
#     under ATTNC_BWD_LINEAR_FUSED=1, the fused dK/dV scan, which only applies without a decay gradient),
#     test_gpu_backward's test_constants (ALiBi slopes and a bias tensor held constant, softmax family) and the
#     Python GPU tests (test_fixed_slopes_train_on_the_gpu, test_deterministic_algorithms_on_the_gpu).
#  3. Lightning Attention-2 backward, B=1 H=16 N=16384 D=128, two rounds: the decay's gradient (as before),
#     the decay held constant (--no-grad decay: fla's chunk_simple_gla with g_gamma computes no decay gradient
#     either), and held constant with the fused scan; then fla's chunked backward (bench/linear_anchors.py --bwd).
# (.device-all/main.tar.xz from scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
rm -rf .device; cp -r /tmp/pk_main .device   # run-gpu.sh and the AOT test read .device/
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc
summary() { printf '%-14s %-8s PASS %-4s FAIL %-3s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]\|passed' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]\|failed' /tmp/t_$1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error|Failure|differ between|Error' /tmp/t_$1 | head -8 | cut -c1-240; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
el tests
# the AOT test runs `attnc compile` from the build folder compiled into it: point that path (and the source
# folder's) here, as run13.sh did
ROOT=$PWD; AD=.device/tests/aot; src=$(sed -n 1p $AD/paths.txt); bld=$(sed -n 2p $AD/paths.txt)
{ [ -d "$src/recipes" ] || { mkdir -p "$(dirname "$src")" && ln -sfn "$ROOT" "$src"; }; } 2>/dev/null
{ [ -x "$bld/bin/attnc" ] || { mkdir -p "$(dirname "$bld")" && ln -sfn "$ROOT/.device" "$bld"; }; } 2>/dev/null
bg aot_gpu 120 stdbuf -oL $AD/test_unit_runtime_test_aot_gpu
bg linbwd 150 stdbuf -oL $G/test_gpu_test_gpu_linear_backward
bg python 200 OUT=/tmp/pyout bash python/run-gpu.sh
bg bwdconst 120 ATTNC_TEST_CASE=constant ATTNC_TEST_RECIPE=none stdbuf -oL $G/test_gpu_test_gpu_backward
wait
bg linbwd_fused 150 ATTNC_BWD_LINEAR_FUSED=1 stdbuf -oL $G/test_gpu_test_gpu_linear_backward
wait
for t in aot_gpu linbwd linbwd_fused python bwdconst; do summary $t; done | tee $OUT/tests.txt
grep -E '^\[(PASS|FAIL)\]' /tmp/t_bwdconst >> $OUT/tests.txt
grep -E 'fixed|differ between' /tmp/t_linbwd /tmp/t_linbwd_fused /tmp/t_aot_gpu | cut -c1-220 >> $OUT/tests.txt
cp /tmp/t_linbwd /tmp/t_linbwd_fused /tmp/t_aot_gpu $OUT/ 2>/dev/null; tail -5 /tmp/t_python > $OUT/python_tail.txt
el bench
lrow() { local envs=$1; shift; local r
  r=$(env $envs ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench recipes/lightning2.attn --shape batch=1,heads=16,tokens=16384 --grad --warmup 5 --iters 20 "$@" 2>&1)
  printf '%-28s %-18s %s\n' "${envs:--}" "${*:-(decay gradient)}" "$(echo "$r" | grep -iE 'backward|GB/s|schedule' | tr '\n' ' ' | cut -c1-260)"; }
for round in 1 2; do
  lrow ""
  lrow "" --no-grad decay
  lrow "ATTNC_BWD_LINEAR_FUSED=1" --no-grad decay
done 2>&1 | tee $OUT/bench_linear.txt
el fla
timeout 150 env OUT=$OUT ATTNC_BIN=$A python3 bench/linear_anchors.py --bwd > /tmp/fla.txt 2>&1; tail -12 /tmp/fla.txt | tee $OUT/fla.txt
el done
exit 0
