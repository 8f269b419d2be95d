#!/usr/bin/env bash
# Device call 1 of the 2026-12-04 session (main 0d76c15 + this script):
#   1. ATTNC_MASK_FRAMES on by default (0d76c15): radial, recipes (small), unions, grid TMA tests
#      against fp64, side by side;
#   2. issue 13's cold compile, new vs old (e0704c5), on a quiet GPU: SAMPLES=8 bench/cold-compile.sh;
#   3. the dense/causal backward's opt-in knobs against the default (issue 14);
#   4. sinks+window and documents forward schedules (issue 17).
# .device-all/{main,old}.tar.xz.   OUT=dir bash bench/runs/2026-12-04/run1.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
for n in main old; do mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
G=$ROOT/.device/tests/gpu A=$ROOT/.device/bin/attnc
L=/tmp/r1; mkdir -p $L
summary() { printf '%-40s %-8s PASS %-4s FAIL %s\n' "$1" "$(cat $2.rc 2>/dev/null)" "$(grep -c '^\[PASS\]' $2)" "$(grep -c '^\[FAIL\]' $2)"
  grep -E '^\[FAIL\]|Assertion|Segmentation|timed out|internal error|ILLEGAL|CUDA_ERROR' $2 | head -6 | cut -c1-220; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d /tmp/c.XXXX) timeout $cap env "$@" > $L/$name 2>&1; echo "rc=$?" > $L/$name.rc ) & }
el "1. tests with the defaults (caps ${CAP:-170} s)"
bg radial ${CAP:-170} $G/test_gpu_test_gpu_radial
bg recipes_small ${CAP:-170} ATTNC_TEST_SMALL=1 $G/test_gpu_test_gpu_recipes
bg unions ${CAP:-170} $G/test_gpu_test_gpu_unions
bg grid_tma ${CAP:-170} $G/test_gpu_test_gpu_grid_tma
wait
for f in radial recipes_small unions grid_tma; do summary $f $L/$f; tail -1 $L/$f | cut -c1-160; done
el "2. cold compile, new vs old"
cat > /tmp/cold.txt <<'C'
lightning2     | recipes/lightning2.attn          | batch=1,heads=16,tokens=16384  | lightning2
gated_linear   | recipes/gated_linear.attn        | batch=1,heads=16,tokens=16384  | lightning2
dense_causal   | bench/recipes/causal_d128.attn   | batch=4,heads=16,tokens=4096   | dense_causal
na2d_k17       | bench/recipes/na2d_k17.attn      | batch=1,heads=16,H=128,W=128   | na2d
sinks_swa_w2047 | bench/recipes/sinks_swa_w2047.attn | batch=1,heads=16,tokens=32768 | sinks
C
SAMPLES=${SAMPLES:-8} RUN_TIMEOUT=30 OUT=$L/cold timeout ${COLD_CAP:-150} bash bench/cold-compile.sh /tmp/pk_main /tmp/pk_old /tmp/cold.txt > $L/cold.log 2>&1
echo "rc=$?"; tail -12 $L/cold.log
export ATTNC_CACHE_DIR=$(mktemp -d /tmp/cache.XXXX)
row() { # label env recipe shape [args]
  local label=$1 envs=$2 recipe=$3 shape=$4; shift 4
  env $envs timeout 60 $A bench $recipe --shape $shape --warmup 3 --iters 10 "$@" > $L/b.txt 2>&1; local rc=$?
  local f=$(sed -n 's/^  time \([0-9.]*\) ms.*  \([0-9.]*\) TFLOP\/s.*/\1 ms \2/p' $L/b.txt | head -1)
  local b=$(sed -n 's/^  backward \[.*\][a-z ]*: time \([0-9.]*\) ms.*  \([0-9.]*\) TFLOP\/s (2.5x.*/\1 ms \2/p' $L/b.txt | head -1)
  printf '%-34s fwd %-20s bwd %-20s\n' "$label" "${f:-rc$rc}" "${b:--}"
  grep -hiE 'error|fail' $L/b.txt | head -2 | cut -c1-160
}
el "3. backward knobs (D=128 B=1 H=16 N=16384, --grad)"
for r in causal dense; do
  for e in ATTNC_X=0 ATTNC_BWD_PIPE=1 ATTNC_BWD_PIPE=3 ATTNC_BWD_PIPE=4 ATTNC_BWD_RING_STAGES=3 ATTNC_BWD_DS_BUFS=2 \
           ATTNC_BWD_DQF_BUFS=1 ATTNC_BWD_DQ_WRITER=1 ATTNC_BWD_RING_TMA_FIRST=1 ATTNC_BWD_LPT=1 ATTNC_BWD_QROT=1 \
           ATTNC_BWD_PRODUCER=2 "ATTNC_BWD_RING_STAGES=3 ATTNC_BWD_DS_BUFS=2"; do
    row "$r $e" "$e" recipes/$r.attn batch=1,heads=16,tokens=16384 --grad
  done
done
el "4. forward schedules"
S=bench/recipes/sinks_swa_w2047.attn; SS=batch=1,heads=16,tokens=32768
for s in "" "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws" "q=128 kv=64 stages=4 warps=8 mma=wgmma_ws" \
         "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1" "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=2"; do
  if [ -z "$s" ]; then row "sinks default" X=0 $S $SS; else row "sinks $s" X=0 $S $SS --schedule "$s"; fi
done
D=bench/recipes/doc_causal.attn; DS=batch=1,heads=16,tokens=65536
for s in "" "q=128 kv=128 stages=3 warps=8 mma=wgmma_ws" "q=128 kv=128 stages=2 warps=8 mma=wgmma_ws overlap=1"; do
  if [ -z "$s" ]; then row "doc8 default" X=0 $D $DS --docs 8; else row "doc8 $s" X=0 $D $DS --docs 8 --schedule "$s"; fi
done
row "varlen8 default" X=0 bench/recipes/causal_d128.attn $DS --seqlens 8192x8
row "radial 31200 default" X=0 recipes/radial_attention.attn batch=1,heads=16,tokens=31200
el done
