#!/usr/bin/env bash
# Device call 2 of the 2026-12-04 session (main 0d76c15): run1's best backward knobs on the dense
# recipe (ATTNC_BWD_LPT=1 +3.7%, ATTNC_BWD_PIPE=4 +3.4%, one sample each) measured again, two
# interleaved rounds of --iters 30, four shapes; issue 13's cold compile of the linear recipes
# (new vs old, bench/cold-compile.sh, logs under $OUT); then test_gpu_backward (small) under the
# knobs.   OUT=dir bash bench/runs/2026-12-04/run2.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
for n in main old; do mkdir -p /tmp/pk_$n; [ -x /tmp/pk_$n/bin/attnc ] || tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
G=$ROOT/.device/tests/gpu A=$ROOT/.device/bin/attnc
L=$OUT; export ATTNC_CACHE_DIR=$(mktemp -d /tmp/cache.XXXX)
row() { # label env recipe shape [args]
  local label=$1 envs=$2 recipe=$3 shape=$4; shift 4
  env $envs timeout 60 $A bench $recipe --shape $shape --warmup 5 --iters 30 "$@" > /tmp/b.txt 2>&1; local rc=$?
  local b=$(sed -n 's/^  backward \[.*\][a-z ]*: time \([0-9.]*\) ms.*  \([0-9.]*\) TFLOP\/s (2.5x.*/\1 ms \2/p' /tmp/b.txt | head -1)
  printf '%-44s bwd %-20s\n' "$label" "${b:-rc$rc}"
  grep -hiE 'error|fail' /tmp/b.txt | head -2 | cut -c1-160
}
el "1. backward knobs, two rounds"
for round in 1 2; do
  for r in dense causal; do for sh in batch=1,heads=16,tokens=16384 batch=2,heads=16,tokens=8192; do
    for e in X=0 ATTNC_BWD_LPT=1 ATTNC_BWD_PIPE=4 "ATTNC_BWD_LPT=1 ATTNC_BWD_PIPE=4" ATTNC_BWD_PIPE=3; do
      row "r$round $r $sh $e" "$e" recipes/$r.attn $sh --grad
    done
  done; done
done
el "2. cold compile of the linear recipes, new vs old"
cat > /tmp/cold.txt <<'C'
lightning2     | recipes/lightning2.attn          | batch=1,heads=16,tokens=16384  | lightning2
gated_linear   | recipes/gated_linear.attn        | batch=1,heads=16,tokens=16384  | lightning2
C
SAMPLES=${SAMPLES:-8} RUN_TIMEOUT=30 OUT=$OUT/cold timeout ${COLD_CAP:-150} bash bench/cold-compile.sh /tmp/pk_main /tmp/pk_old /tmp/cold.txt > $OUT/cold.log 2>&1
echo "rc=$?"; tail -8 $OUT/cold.log; ls $OUT/cold; cat $OUT/cold/*.md 2>/dev/null | tail -8
el "3. test_gpu_backward (small) under the knobs"
( ATTNC_CACHE_DIR=$(mktemp -d /tmp/c.XXXX) ATTNC_TEST_SMALL=1 ATTNC_BWD_LPT=1 timeout 140 $G/test_gpu_test_gpu_backward > /tmp/t_lpt 2>&1; echo "rc=$?" >> /tmp/t_lpt ) &
( ATTNC_CACHE_DIR=$(mktemp -d /tmp/c.XXXX) ATTNC_TEST_SMALL=1 ATTNC_BWD_PIPE=4 timeout 140 $G/test_gpu_test_gpu_backward > /tmp/t_p4 2>&1; echo "rc=$?" >> /tmp/t_p4 ) &
wait
for t in t_lpt t_p4; do echo "$t PASS $(grep -c '^\[PASS\]' /tmp/$t) FAIL $(grep -c '^\[FAIL\]' /tmp/$t) $(tail -1 /tmp/$t)"; grep -E '^\[FAIL\]' /tmp/$t | head -3; done
el done
