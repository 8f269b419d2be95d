#!/usr/bin/env bash
# Device calls 33a-d, PREPARED on 2026-12-04 when no device machine was lent (not yet run): the opt-in changes of
# that session, checked and measured in four calls of under 10 minutes each (PART=tests, fwd twice, bwd):
#   OUT=dir PART=tests bash bench/runs/2026-12-04/run33.sh   (GPU tests + sanitizers, SDPA anchors; ~8 min)
#   OUT=dir PART=fwd   bash ...                              (one round of the forward rows; run it twice)
#   OUT=dir PART=bwd   bash ...                              (the backward rows, two rounds)
#  1. FA3's tiles that are not powers of two: q=192 warps=12 (three computing warpgroups, its head-dim-64 tile)
#     and kv=176 (its head-dim-128 key tile): test_gpu_overlap odd_tiles (hand cases incl. one token, unions,
#     documents) plain and under racecheck; then D=64 dense and causal (B*N=16384, H=32) on 192 rows and D=128
#     dense on 176 keys against the defaults, two rounds, with SDPA's FA2/cuDNN anchors.
#  2. qchunk=C (3-D GNA slab positions in chunks of the last dim): test_gpu_grid_tma (gna3d_qchunk cases);
#     HunyuanVideo GNA qchunk=2/4 against the default (qgroup=8), dense of the same tokens for the ratio.
#  3. $ATTNC_TMA_L2_AHEAD=N: test_gpu_grid_tma and test_gpu_overlap hand cases under N=2 (memcheck on the grid
#     test); HunyuanVideo/FLUX GNA, dense D=128 and 8 causal documents at N=1 and 2 against unset.
#  4. the backward's dK/dV key tiles: 128 against 64 (window 1024, causal, 2-D NA), --grad.
#  5. $ATTNC_NARROW_FIRST=1 (a union range's first tile on 16 keys): test_gpu_unions, test_gpu_overlap unions,
#     test_gpu_persist sinks (and racecheck), test_gpu_recipes sinks; sinks + window against the default.
#  6. the bidirectional-document bench line (visited/kept 1.000 since 5c1f935, not yet seen on the GPU).
# (.device-all/main.tar.xz from scripts/pack-device.sh build-dev)
set -u
PART=${PART:-tests}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk_main; mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc SAN=/usr/local/cuda/bin/compute-sanitizer
summary() { printf '%-16s %-8s PASS %-4s FAIL %-3s %s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]\|rel_l2' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/t_$1)" "$(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' /tmp/t_$1 | tail -1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error|Failure|========= (Invalid|Error|Race)' /tmp/t_$1 | head -6 | cut -c1-240; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
san="--error-exitcode 9 --print-limit 10"
if [ "$PART" = tests ]; then
bg wg3 170 ATTNC_TEST_PART=odd_tiles stdbuf -oL $G/test_gpu_test_gpu_overlap
bg wg3_race 170 ATTNC_TEST_PART=odd_tiles_hand $SAN --tool racecheck $san $G/test_gpu_test_gpu_overlap
bg grid 170 stdbuf -oL $G/test_gpu_test_gpu_grid_tma
bg grid_l2 170 ATTNC_TMA_L2_AHEAD=2 ATTNC_TEST_CASE=qchunk $SAN --tool memcheck $san $G/test_gpu_test_gpu_grid_tma
bg hand_l2 170 ATTNC_TMA_L2_AHEAD=2 ATTNC_TEST_PART=hand_cases stdbuf -oL $G/test_gpu_test_gpu_overlap
wait
bg nf_unions 170 ATTNC_NARROW_FIRST=1 stdbuf -oL $G/test_gpu_test_gpu_unions
bg nf_ovl 170 ATTNC_NARROW_FIRST=1 ATTNC_TEST_PART=unions stdbuf -oL $G/test_gpu_test_gpu_overlap
bg nf_persist 170 ATTNC_NARROW_FIRST=1 ATTNC_TEST_CASE=sinks stdbuf -oL $G/test_gpu_test_gpu_persist
bg nf_race 170 ATTNC_NARROW_FIRST=1 ATTNC_TEST_CASE=sinks $SAN --tool racecheck $san $G/test_gpu_test_gpu_persist
bg nf_recipes 170 ATTNC_NARROW_FIRST=1 ATTNC_TEST_RECIPE=sinks stdbuf -oL $G/test_gpu_test_gpu_recipes
wait
for t in wg3 wg3_race grid grid_l2 hand_l2 nf_unions nf_ovl nf_persist nf_race nf_recipes; do summary $t; done | tee $OUT/tests.txt
el anchors
timeout 120 env OUT=$OUT python3 bench/anchors.py --dense > /tmp/anchors.txt 2>&1; tail -30 /tmp/anchors.txt > $OUT/anchors.txt
el done
exit 0
fi
row() { local rc=$1 sh=$2 sc=$3 envs=$4; shift 4; local r
  r=$(env $envs ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 5 --iters 30 ${sc:+--schedule "$sc"} "$@" 2>&1)
  printf '%-16s %-36s %-44s %-20s %s\n' "$(basename $rc .attn)" "$sh" "${sc:-default}" "${envs:--}" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ TFLOP/s|visited/kept [0-9.]+|error.*' | head -3 | tr '\n' ' ')"; }
R=bench/recipes
printf 'recipe doc_bidir\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nparam doc : i32 [batch, tokens]\nmask document(doc)\ntile auto\n' > /tmp/doc_bidir.attn
cat > /tmp/sinks_d64.attn <<'RECIPE'
recipe sinks_d64
input q, k, v : bf16 [batch, heads, tokens, 64]
mask causal && (sinks(4) || sliding_window(2047, 0))
tile auto
RECIPE
if [ "$PART" = fwd ]; then
el bench
for round in 1; do
  for rc in dense_d64 causal_d64; do for sh in batch=2,heads=32,tokens=8192 batch=1,heads=32,tokens=16384; do
    row $R/$rc.attn $sh "" ""
    row $R/$rc.attn $sh "q=192 kv=128 stages=2 warps=12" ""
    row $R/$rc.attn $sh "q=192 kv=128 stages=2 warps=12 overlap=1" ""
    row $R/$rc.attn $sh "q=192 kv=64 stages=3 warps=12" ""
  done; done
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "" ""
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "" "ATTNC_NARROW_FIRST=1"
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "q=128 kv=128 stages=2 warps=8" "ATTNC_NARROW_FIRST=1"
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "q=128 kv=176 stages=2 warps=8 overlap=1 persist=1" "ATTNC_NARROW_FIRST=1"
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "q=128 kv=144 stages=2 warps=8 overlap=1 persist=1" "ATTNC_NARROW_FIRST=1"
  row recipes/sinks_window.attn batch=2,heads=16,tokens=8192 "" ""
  row recipes/sinks_window.attn batch=2,heads=16,tokens=8192 "" "ATTNC_NARROW_FIRST=1"
  row /tmp/sinks_d64.attn batch=1,heads=32,tokens=32768 "" ""
  row /tmp/sinks_d64.attn batch=1,heads=32,tokens=32768 "q=192 kv=128 stages=2 warps=12" ""
  row /tmp/sinks_d64.attn batch=1,heads=32,tokens=32768 "q=192 kv=128 stages=2 warps=12 overlap=1 persist=1" ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "" ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=8 qchunk=2" ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=8 qchunk=4" ""
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "" "ATTNC_TMA_L2_AHEAD=1"
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "" "ATTNC_TMA_L2_AHEAD=2"
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=3 warps=8 qgroup=8 qchunk=2" "ATTNC_TMA_L2_AHEAD=2"
  row $R/dense_d128.attn batch=1,heads=24,tokens=115200 "" ""
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "" ""
  row $R/flux_gna.attn batch=1,heads=24,H=256,W=256 "" "ATTNC_TMA_L2_AHEAD=2"
  row $R/dense_d128.attn batch=1,heads=24,tokens=65536 "" ""
  row $R/dense_d128.attn batch=1,heads=16,tokens=16384 "" ""
  row $R/dense_d128.attn batch=1,heads=16,tokens=16384 "" "ATTNC_TMA_L2_AHEAD=2"
  row $R/dense_d128.attn batch=1,heads=16,tokens=16384 "q=128 kv=176 stages=2 warps=8 overlap=1" ""
  row $R/dense_d128.attn batch=2,heads=16,tokens=8192 "" ""
  row $R/dense_d128.attn batch=2,heads=16,tokens=8192 "q=128 kv=176 stages=2 warps=8 overlap=1" ""
  row $R/dense_d128.attn batch=2,heads=16,tokens=8192 "q=128 kv=176 stages=2 warps=8" ""
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "" "" --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "" "ATTNC_TMA_L2_AHEAD=2" --docs 8
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 "q=128 kv=128 stages=2 warps=8 regs=even" "" --docs 8
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 "" ""
  row /tmp/doc_bidir.attn batch=1,heads=16,tokens=65536 "" "" --docs 8
done 2>&1 | tee $OUT/bench.txt
el done
exit 0
fi
el backward
# 4. the backward's key tiles under the bulk dQ (its default): 128 keys per dK/dV CTA (two warpgroups share
#    each Q/dO tile) against the default 64, on the short loops of issue 14 (window 1024) and on causal.
#    The forward's schedule carries the backward's tiles (nvptx_bwd_schedule), so its forward time changes too.
grow() { local rc=$1 sh=$2 sc=$3; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --grad --warmup 3 --iters 20 ${sc:+--schedule "$sc"} 2>&1)
  printf '%-12s %-32s %-32s %s\n' "$(basename $rc .attn)" "$sh" "${sc:-default}" "$(echo "$r" | grep -iE 'backward|bwd' | grep -oE '[0-9.]+ TFLOP/s|q=[^]]*' | head -3 | tr '\n' ' ')"; }
for round in 1 2; do
  for sc in "" "q=64 kv=128 stages=2 warps=4"; do
    grow $R/swa_w1024.attn batch=1,heads=16,tokens=16384 "$sc"
    grow $R/causal_d128.attn batch=1,heads=16,tokens=16384 "$sc"
    grow $R/na2d_k17.attn batch=1,heads=16,H=128,W=128 "${sc:+q=8x8 kv=8x16 stages=2 warps=4}"
  done
done 2>&1 | tee $OUT/bench_bwd.txt
el done
