#!/usr/bin/env bash
# Device call 3 of the 15:20 session: the three merged opt-in changes checked against fp64 with
# their switches on (tests side by side), then timed off/on one at a time:
#   ATTNC_BWD_DOC_SPAN=1|2 (h-docbwd: the backward's document cut),
#   ATTNC_BWD_PARTS=1 (h-unionbwd: the backward walks union parts),
#   ATTNC_MASK_FRAMES=1, ATTNC_TMA_SKIP_EMPTY=1 (h-radial: radial's mask per key frame, no copies of
#   empty tiles); and old vs new on dense 115200 tokens (issue 13).
# .device-all/{main,old}.tar.xz.   OUT=dir bash bench/runs/2026-12-03/run16.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
for n in main old; do mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
G=$ROOT/.device/tests/gpu A=$ROOT/.device/bin/attnc
L=/tmp/r16; mkdir -p $L
summary() { printf '%-52s %-8s PASS %-4s FAIL %s\n' "$1" "$(cat $2.rc 2>/dev/null)" "$(grep -c '^\[PASS\]' $2)" "$(grep -c '^\[FAIL\]' $2)"
  grep -E '^\[FAIL\]|Assertion|Segmentation|timed out|internal error|ILLEGAL|CUDA_ERROR' $2 | head -6 | cut -c1-220; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d /tmp/c.XXXX) timeout $cap env "$@" > $L/$name 2>&1; echo "rc=$?" > $L/$name.rc ) & }
el "1. tests with the switches on, side by side (caps ${CAP:-240} s)"
bg docs_bwd_span1 ${CAP:-240} ATTNC_TEST_DOC=bwd ATTNC_BWD_DOC_SPAN=1 $G/test_gpu_test_gpu_documents
bg docs_bwd_d128_span2 ${CAP:-240} ATTNC_TEST_DOC=bwd ATTNC_TEST_RECIPE=d128 ATTNC_BWD_DOC_SPAN=2 $G/test_gpu_test_gpu_documents
bg shipped_document_span1 150 ATTNC_TEST_CASE=no-case ATTNC_TEST_RECIPE=document ATTNC_BWD_DOC_SPAN=1 $G/test_gpu_test_gpu_backward
bg unions_bwd_parts1 ${CAP:-240} ATTNC_TEST_UNIONS_ONLY=1 ATTNC_BWD_PARTS=1 $G/test_gpu_test_gpu_backward
bg shipped_sinks_parts1 150 ATTNC_BWD_PARTS=1 ATTNC_TEST_CASE=no-such-case ATTNC_TEST_RECIPE=sinks $G/test_gpu_test_gpu_backward
bg radial_3modes ${CAP:-240} $G/test_gpu_test_gpu_radial
bg recipes_small_frames_skip 200 ATTNC_TEST_SMALL=1 ATTNC_MASK_FRAMES=1 ATTNC_TMA_SKIP_EMPTY=1 $G/test_gpu_test_gpu_recipes
bg unions_fwd_frames_skip 150 ATTNC_MASK_FRAMES=1 ATTNC_TMA_SKIP_EMPTY=1 $G/test_gpu_test_gpu_unions
wait
for f in docs_bwd_span1 docs_bwd_d128_span2 shipped_document_span1 unions_bwd_parts1 shipped_sinks_parts1 radial_3modes recipes_small_frames_skip unions_fwd_frames_skip; do summary $f $L/$f; done
tail -1 $L/recipes_small_frames_skip | cut -c1-160
export ATTNC_CACHE_DIR=$(mktemp -d /tmp/cache.XXXX)
el "2. benches, one at a time (--warmup 3 --iters 10; backward with --grad)"
row() { # label env recipe shape [args]
  local label=$1 envs=$2 recipe=$3 shape=$4; shift 4
  env $envs timeout 100 $A bench $recipe --shape $shape --warmup 3 --iters 10 "$@" > $L/b.txt 2>&1; local rc=$?
  local f=$(sed -n 's/^  time \([0-9.]*\) ms.*  \([0-9.]*\) TFLOP\/s.*/\1 ms \2/p' $L/b.txt | head -1)
  local b=$(sed -n 's/^  backward \[.*\][a-z ]*: time \([0-9.]*\) ms.*  \([0-9.]*\) TFLOP\/s (2.5x.*/\1 ms \2/p' $L/b.txt | head -1)
  local t=$(sed -n 's/^  backward tiles: \([0-9]*\) visited.*visited\/kept \([0-9.]*\);.*/\1 v\/k \2/p' $L/b.txt | head -1)
  local ft=$(sed -n 's/^  tiles: \([0-9]*\) visited, \([0-9]*\) computed.*/\1 vis \2 comp/p' $L/b.txt | head -1)
  printf '%-30s fwd %-22s bwd %-22s %s %s\n' "$label" "${f:-rc$rc}" "${b:--}" "${t}" "${ft}"
  grep -hiE 'error|fail' $L/b.txt | head -2 | cut -c1-160
}
D=bench/recipes/doc_causal.attn; DS=batch=1,heads=16,tokens=65536
row doc8_span0 ATTNC_BWD_DOC_SPAN=0 $D $DS --docs 8 --grad
row doc8_span1 ATTNC_BWD_DOC_SPAN=1 $D $DS --docs 8 --grad
row doc8_span2 ATTNC_BWD_DOC_SPAN=2 $D $DS --docs 8 --grad
row doc8_span1_det ATTNC_BWD_DOC_SPAN=1 $D $DS --docs 8 --grad --deterministic
for n in 16384 32768; do
  row sinks_window${n}_parts0 ATTNC_BWD_PARTS=0 recipes/sinks_window.attn batch=1,heads=16,tokens=$n --grad
  row sinks_window${n}_parts1 ATTNC_BWD_PARTS=1 recipes/sinks_window.attn batch=1,heads=16,tokens=$n --grad
done
row sinks_swa2047_32k_parts0 ATTNC_BWD_PARTS=0 bench/recipes/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 --grad
row sinks_swa2047_32k_parts1 ATTNC_BWD_PARTS=1 bench/recipes/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 --grad
R=recipes/radial_attention.attn; RS=batch=1,heads=16,tokens=31200
row radial_off "ATTNC_MASK_FRAMES=0 ATTNC_TMA_SKIP_EMPTY=0" $R $RS
row radial_frames "ATTNC_MASK_FRAMES=1 ATTNC_TMA_SKIP_EMPTY=0" $R $RS
row radial_skip "ATTNC_MASK_FRAMES=0 ATTNC_TMA_SKIP_EMPTY=1" $R $RS
row radial_both "ATTNC_MASK_FRAMES=1 ATTNC_TMA_SKIP_EMPTY=1" $R $RS
row sinks_swa2047_fwd_skip1 "ATTNC_TMA_SKIP_EMPTY=1" bench/recipes/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768
row dense_31200 "ATTNC_MASK_FRAMES=0" bench/recipes/dense_d128.attn $RS
el "3. old vs new: dense on 115200 tokens"
grep -E 'tokens=115200' bench/cases.txt | grep -v '^\s*#' > /tmp/c115.txt
ROUNDS=1 WARMUP=3 ITERS=10 RUN_TIMEOUT=60 OUT=/tmp/ovn timeout 130 bash bench/old-vs-new.sh /tmp/pk_main /tmp/pk_old /tmp/c115.txt > /tmp/ovn.log 2>&1
echo "rc=$?"; cat /tmp/ovn/old-vs-new.md
el done
