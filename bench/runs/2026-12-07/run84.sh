#!/usr/bin/env bash
# Device call 84 (2026-12-07): the Python package's varlen calls on torch CUDA tensors (new: cu_seqlens with
# autograd; test_gpu.py's varlen test and every other GPU test, since the eager autograd Function changed), then
# the document kernel's cost against the same tiles as a causal batch (run83: +2.6% cycles) under its switches:
# default, ATTNC_DOC_TABLE=0 (every block scans: the lookup's share), ATTNC_DOC_FULL=0, ATTNC_FULL_RANGE=1; two
# rounds beside causal B=8 / B=64, and Flex's doc8 in the same call.
#   OUT=dir bash bench/runs/2026-12-07/run84.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
R=bench/recipes A=/tmp/pk/bin/attnc
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader | tee $OUT/gpu.txt
el python
( export PYTHONPATH=$PWD/python ATTNC_LIBRARY=/tmp/pk/lib/libattnc.so.0 ATTNC_CACHE_DIR=$(mktemp -d) PYTHONUNBUFFERED=1
  timeout 300 python3 -m pytest -q -rs -p no:cacheprovider python/tests/test_gpu.py python/tests/test_torch.py \
    python/tests/test_call.py > $OUT/pytest.txt 2>&1; echo "pytest rc=$?" >> $OUT/pytest.txt )
grep -E "passed|failed|FAILED|Error|SKIPPED|rc=" $OUT/pytest.txt | tail -25
el rows
row() { local name=$1 rc=$2 sh=$3 e=$4; shift 4; local r
  r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --warmup-ms 500 --iters 100 "$@" 2>&1)
  printf '%-9s %-20s %s\n' $name $e "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
for round in 1 2; do
  for e in X=1 ATTNC_DOC_TABLE=0 ATTNC_DOC_FULL=0 ATTNC_FULL_RANGE=1; do
    row doc8 $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8
  done
  row causal8 $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
  for e in X=1 ATTNC_DOC_TABLE=0; do
    row doc64 $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 64
  done
  row causal64 $R/causal_d128.attn batch=64,heads=16,tokens=1024 X=1
done 2>&1 | tee $OUT/rows.txt
el anchors
ANCHOR_WARMUP_MS=500 OUT=$OUT timeout 90 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1
grep -E "^doc8|^sinks" $OUT/anchors_seq.log
el done
