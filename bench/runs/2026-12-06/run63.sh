#!/usr/bin/env bash
# Device call 63 (2026-12-06): head dim 256 forward schedules (the default q=64 kv=32 warps=4 ran at 0.60x cuDNN in
# run61): 128-row query tiles over two computing warpgroups, key tiles 32..80, overlap=1, on causal and dense D=256
# (B=1 H=16 N=8192); `attnc run --check` of the two 128-row overlapped candidates first.
#   OUT=dir bash bench/runs/2026-12-06/run63.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
A=/tmp/pk/bin/attnc
printf 'recipe causal_d256\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\nmask   causal\ntile   auto\n' > /tmp/causal_d256.attn
printf 'recipe dense_d256\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\ntile   auto\n' > /tmp/dense_d256.attn
for sc in "q=128 kv=64 stages=2 warps=8 overlap=1" "q=128 kv=80 stages=2 warps=8 overlap=1"; do for sh in batch=2,heads=3,tokens=1000 batch=1,heads=2,tokens=4097; do
  out=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 40 $A run /tmp/causal_d256.attn --backend cuda --check --shape $sh --schedule "$sc" 2>&1); rc=$?
  echo "check [$sc] $sh: exit $rc $(echo "$out" | grep -E 'check o' | tr '\n' ' ')"; done; done | tee $OUT/tests.txt
row() { local rc=$1 sc=$2; local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 40 $A bench $rc --shape batch=1,heads=16,tokens=8192 --warmup 10 --iters 50 ${sc:+--schedule "$sc"} 2>&1)
  printf '%-12s %-42s %s\n' "$(basename $rc .attn)" "${sc:-default}" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
el rows
for rc in /tmp/causal_d256.attn /tmp/dense_d256.attn; do
  for sc in "" "q=128 kv=64 stages=2 warps=8 overlap=1" "q=128 kv=80 stages=2 warps=8 overlap=1" "q=128 kv=64 stages=2 warps=8" \
            "q=128 kv=32 stages=2 warps=8 overlap=1" "q=64 kv=64 stages=2 warps=4 overlap=1" "q=64 kv=32 stages=2 warps=4 overlap=1"; do
    row $rc "$sc"; done; done 2>&1 | tee $OUT/rows.txt
el done
