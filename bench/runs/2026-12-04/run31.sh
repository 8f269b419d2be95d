#!/usr/bin/env bash
# Device call 31 of 2026-12-04: the overlapped loop without its empty-tile test under a document cut too
# (nvptx_plan.c overlap_without_empty; main.tar.xz) against the previous package (prev.tar.xz, 9058daa): the overlapped
# loop's document cases against fp64 (test_gpu_overlap ATTNC_TEST_PART=documents, recurring ids included), then
# documents on the plain loop (default) and overlap=1, both packages, two rounds.   OUT=dir bash bench/runs/2026-12-04/run31.sh
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
for n in main prev; do rm -rf /tmp/pk_$n; mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
( ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_main/lib ATTNC_TEST_PART=documents timeout 200 stdbuf -oL /tmp/pk_main/tests/gpu/test_gpu_test_gpu_overlap > /tmp/t_ovl 2>&1; echo "rc=$?" >> /tmp/t_ovl )
echo "overlap documents: PASS $(grep -c '^\[PASS\]' /tmp/t_ovl) FAIL $(grep -c '^\[FAIL\]' /tmp/t_ovl) $(tail -1 /tmp/t_ovl)" | tee $OUT/tests.txt
grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR' /tmp/t_ovl | head -5 | tee -a $OUT/tests.txt
el bench
cat > /tmp/doc_bidir.attn <<'R'
recipe doc_bidir
input q, k, v : bf16 [batch, heads, tokens, 128]
param doc : i32 [batch, tokens]
mask document(doc)
tile auto
R
row() { local pk=$1 rc=$2 sh=$3 sc=$4; shift 4; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_$pk/lib timeout 60 /tmp/pk_$pk/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 ${sc:+--schedule "$sc"} "$@" 2>&1)
  printf '%-4s %-10s %-30s %-42s %-9s %s\n' $pk "$(basename $rc .attn)" "$sh" "${sc:-default}" "$*" "$(echo "$r" | grep -oE '[0-9.]+ TFLOP/s|error.*' | head -1)"; }
O1="q=128 kv=128 stages=2 warps=8 overlap=1"
for round in 1 2; do
  for d in 8 2 32; do
    row prev bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536 "" --docs $d
    row prev bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536 "$O1" --docs $d
    row main bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536 "$O1" --docs $d
  done
  row main bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536 "q=128 kv=128 stages=3 warps=8 overlap=1" --docs 8
  row prev /tmp/doc_bidir.attn batch=1,heads=16,tokens=65536 "" --docs 8
  row main /tmp/doc_bidir.attn batch=1,heads=16,tokens=65536 "$O1" --docs 8
done | tee $OUT/bench.txt
el done
