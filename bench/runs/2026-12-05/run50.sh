#!/usr/bin/env bash
# Device call 50 (prepared 2026-12-05 evening, not yet run): runs of full tiles in a key loop of their own
# (ATTNC_FULL_RANGE=1, codegen/nvptx_fa2.c emit_loop, fa2_range_full_run; test_ptx_full_range): the forward's
# tiles run in up to three loops, the middle one without mask or empty tests over a run the class's full test
# proves on its hull (a sequence: all tiles, all but the last (causal's diagonal), all but the first, all but
# both ends (a window); a grid: the whole box). In the SASS it drops ptxas' if-converted mask from those
# iterations: HunyuanVideo GNA 939 -> 474 instructions a tile, causal D=128 778 -> 509, dense D=128 649 -> 509.
#  tests  `attnc run --check` under the switch: dense N=4096 and 4000 (all tiles / all but the last), D=64
#         N=3072, causal N=2048 and 2000, window 1024 N=3000, FLUX GNA 96x96, HunyuanVideo GNA 16x24x32;
#         test_gpu_recipes (small) and test_gpu_grid_tma under it;
#  bench  default against the switch: dense D=128 2x8192, D=64 2x8192 H=32, causal 16384 (D=128) and 2x8192
#         (D=64), window 1024 N=16384, sinks(4) || window 2047 N=32768 (part by part), HunyuanVideo GNA (default
#         and overlap=1), FLUX GNA, two rounds.
# Package: .device-all/main.tar.xz = main (scripts/pack-device.sh build-dev, tar of .device).
#   OUT=dir bash bench/runs/2026-12-05/run50.sh     (~6 min)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP ATTNC_PERSIST_DYNAMIC ATTNC_DOC_TABLE ATTNC_FULL_RANGE
R=bench/recipes T=/tmp/pk/tests/gpu A=/tmp/pk/bin/attnc
el tests
( for spec in "$R/dense_d128.attn batch=1,heads=4,tokens=4096" "$R/dense_d128.attn batch=1,heads=4,tokens=4000" \
      "$R/dense_d64.attn batch=1,heads=4,tokens=3072" "$R/flux_gna.attn batch=1,heads=2,H=96,W=96" \
      "$R/hunyuan_gna.attn batch=1,heads=2,T=16,H=24,W=32" "$R/causal_d128.attn batch=1,heads=2,tokens=2048" \
      "$R/causal_d128.attn batch=2,heads=2,tokens=2000" "$R/causal_d64.attn batch=1,heads=2,tokens=2048" \
      "$R/swa_w1024.attn batch=1,heads=2,tokens=3000" "$R/sinks_swa_w2047.attn batch=1,heads=2,tokens=5000"; do
    set -- $spec
    ( ATTNC_FULL_RANGE=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $A run $1 --backend cuda --check --shape $2 > /tmp/fr_$(basename $1 .attn)_$2.txt 2>&1
      rc=$?; echo "$(basename $1 .attn) $2: exit $rc $(grep -iE 'check|rel|\[q=' /tmp/fr_$(basename $1 .attn)_$2.txt | tr '\n' ' ' | cut -c1-200)" ) &
  done; wait ) > $OUT/t_check.txt 2>&1 &
( ATTNC_FULL_RANGE=1 ATTNC_TEST_SMALL=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $T/test_gpu_test_gpu_recipes > $OUT/t_recipes.txt 2>&1; echo "rc=$?" >> $OUT/t_recipes.txt ) &
( ATTNC_FULL_RANGE=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $T/test_gpu_test_gpu_grid_tma > $OUT/t_grid_tma.txt 2>&1; echo "rc=$?" >> $OUT/t_grid_tma.txt ) &
wait
{ cat $OUT/t_check.txt
  for f in recipes grid_tma; do echo "$f: $(grep -cE '^\[PASS\]|^\[       OK' $OUT/t_$f.txt) PASS/OK, $(grep -cE '^\[FAIL|^\[  FAILED|^\[  ERROR' $OUT/t_$f.txt) FAIL, $(tail -1 $OUT/t_$f.txt)"; done
  grep -hE '^\[FAIL|FAILED|CUDA_ERROR|ILLEGAL' $OUT/t_recipes.txt $OUT/t_grid_tma.txt | head -6; } | tee $OUT/tests.txt
el bench
row() { local rc=$1 sh=$2 sc=$3 e=$4; local r
  r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $A bench $rc --shape $sh --warmup 5 --iters 30 ${sc:+--schedule "$sc"} 2>&1)
  printf '%-16s %-34s %-44s %-18s %s\n' "$(basename $rc .attn)" "$sh" "${sc:-default}" "$e" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
for round in 1 2; do
  for e in X=1 ATTNC_FULL_RANGE=1; do
    row $R/dense_d128.attn batch=2,heads=16,tokens=8192 "" $e
    row $R/dense_d64.attn batch=2,heads=32,tokens=8192 "" $e
    row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "" $e
    row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=2 warps=8 overlap=1" $e
    row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "" $e
    row $R/causal_d128.attn batch=1,heads=16,tokens=16384 "" $e
    row $R/causal_d64.attn batch=2,heads=32,tokens=8192 "" $e
    row $R/swa_w1024.attn batch=1,heads=16,tokens=16384 "" $e
    row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "" $e
  done
done | tee $OUT/full_range.txt
r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 $A bench $R/dense_d128.attn --shape batch=1,heads=24,tokens=115200 --warmup 2 --iters 10 2>&1)
echo "dense_d128 115200 (HunyuanVideo's tokens) $(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s' | head -2 | tr '\n' ' ')" | tee -a $OUT/full_range.txt
el done
