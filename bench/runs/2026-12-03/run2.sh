#!/usr/bin/env bash
# Device call 2 of 2026-12-03: the backward's dQ modes (kernel, bulk, atomic) and the new defaults.
#   OUT=folder bash bench/runs/2026-12-03/run2.sh
set -u
ROOT=$PWD; O=$OUT; mkdir -p $O/bwd
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_NO_TUNED=1 ATTNC_CACHE_DIR=$O/cache2
A=.device/bin/attnc; T=.device/tests/gpu/test_gpu_test_gpu_backward
t00=$(date +%s); el() { echo $(( $(date +%s) - t00 )); }
ATTNC_TEST_SMALL=1 ATTNC_TEST_BWD_DQ=bulk timeout 150 $T > $O/bwd/test_small_bulk.log 2>&1
echo "bulk small rc=$? PASS $(grep -c '^\[PASS\]' $O/bwd/test_small_bulk.log) FAIL $(grep -c '^\[FAIL\]' $O/bwd/test_small_bulk.log) bulk-lines $(grep -c 'bulk' $O/bwd/test_small_bulk.log) fallback $(grep -c 'bulk->kernel' $O/bwd/test_small_bulk.log)"
grep '^\[FAIL\]' $O/bwd/test_small_bulk.log | head -6
echo "[$(el)s]"
bb() { # label env... -- recipe shape
  local label=$1; shift
  local log=$O/bwd/$label.log
  env "$@" timeout 60 $A bench bench/recipes/$R.attn --shape $S --grad --warmup 3 --iters 10 > $log 2>&1
  echo "$label rc=$? | $(grep -iE 'backward|fwd\+bwd|forward \+' $log | head -3 | tr '\n' '|')"
}
R=causal_d128 S=batch=1,heads=16,tokens=16384
for m in kernel bulk atomic; do bb causal_$m ATTNC_BWD_DQ=$m; done
bb causal_bulk_ov2 ATTNC_BWD_DQ=bulk ATTNC_BWD_OVERLAP=2
R=dense_d128 S=batch=1,heads=16,tokens=16384
for m in kernel bulk; do bb dense_$m ATTNC_BWD_DQ=$m; done
R=causal_d128 S=batch=2,heads=16,tokens=8192
for m in kernel bulk; do bb causal8k_$m ATTNC_BWD_DQ=$m; done
echo "[$(el)s]"
ATTNC_TEST_BWD_DQ=bulk timeout 200 $T > $O/bwd/test_bulk_all.log 2>&1
echo "bulk all rc=$? PASS $(grep -c '^\[PASS\]' $O/bwd/test_bulk_all.log) FAIL $(grep -c '^\[FAIL\]' $O/bwd/test_bulk_all.log)"
grep '^\[FAIL\]' $O/bwd/test_bulk_all.log | head -6
echo "[$(el)s] done"
# after the backward: the grid TMA test (GQA fixed), documents, and the new defaults
export ATTNC_CACHE_DIR=$O/cache3
for n in grid_tma documents recipes; do
  timeout 200 .device/tests/gpu/test_gpu_test_gpu_$n > $O/bwd/t_$n.log 2>&1
  echo "$n rc=$? PASS $(grep -c '^\[PASS\]' $O/bwd/t_$n.log) FAIL $(grep -c '^\[FAIL\]' $O/bwd/t_$n.log) $(grep -E '\[  (PASSED|FAILED)' $O/bwd/t_$n.log | tr '\n' ' ')"
  grep '^\[FAIL\]' $O/bwd/t_$n.log | head -4
done
b() { local label=$1 f=$2 sh=$3; shift 3; local log=$O/bwd/b_$(echo "$label" | tr ' /=,' '____').log
  timeout 60 $A bench $f --shape $sh --warmup 5 --iters 20 "$@" > $log 2>&1
  printf '%-30s %-14s %s rc=%d %s\n' "$label" "$(grep -o '[0-9.]* TFLOP/s' $log | head -1)" "$(grep -o 'time [0-9.]* ms' $log | head -1)" $? "$(sed -n '1s/.*\[\(.*\)\] (\(.*\) schedule).*/\1 (\2)/p' $log)"; grep -m1 "visited" $log; }
b "hunyuan_na default" bench/recipes/hunyuan_na.attn batch=1,heads=24,T=30,H=48,W=80
b "hunyuan_gna default" bench/recipes/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80
b "na3d default" bench/recipes/na3d_k7x13x13.attn batch=1,heads=16,T=16,H=32,W=32
b "doc8 default" bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536
b "varlen8" bench/recipes/causal_d128.attn batch=1,heads=16,tokens=65536 --seqlens 8192x8
echo "[$(el)s] all done"
