#!/usr/bin/env bash
# Device call 64 (2026-12-06; refused for lack of device time, run by run65): the head-dim-256 default
# (q=128 kv=64 warps=8, overlap=1 on unmasked and causal sequences) checked against fp64 on shapes no tile divides
# (dense, causal, GQA), and the masked recipes (sliding window, documents, softcap with gradients) both on their
# default tiles and on 128x64; then timed beside the old tiles.
#   OUT=dir bash bench/runs/2026-12-06/run64.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
A=/tmp/pk/bin/attnc
mk() { printf 'recipe %s\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\n%s\ntile   auto\n' "$1" "$2" > /tmp/$1.attn; }
mk dense_d256 ""; mk causal_d256 "mask   causal"; mk swa_d256 "mask   causal && sliding_window(300, 0)"
printf 'recipe doc_d256\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\nparam  doc : i32 [batch, tokens]\nmask   causal && document(doc)\ntile   auto\n' > /tmp/doc_d256.attn
printf 'recipe gqa_d256\ninput  q : bf16 [batch, heads, tokens, 256]\ninput  k, v : bf16 [batch, kv_heads, tokens, 256]\nmask   causal\ntile   auto\n' > /tmp/gqa_d256.attn
chk() { out=$(ATTNC_CACHE_DIR=/tmp/c64 timeout 30 $A run $1 --backend cuda --check --shape $2 "${@:3}" 2>&1); rc=$?
  echo "$(basename $1) $2 ${*:3}: exit $rc $(echo "$out" | grep -E 'schedule used|check (o|dq)' | tr '\n' ' ' | cut -c1-220)"; }
W="q=128 kv=64 stages=2 warps=8"  # the head-dim-256 tiles; masked recipes and written scores do not take them by default yet
{ chk /tmp/dense_d256.attn batch=2,heads=3,tokens=1000; chk /tmp/causal_d256.attn batch=1,heads=2,tokens=4097
  chk /tmp/gqa_d256.attn batch=1,heads=4,kv_heads=2,tokens=777
  for s in "" "$W"; do
    chk /tmp/swa_d256.attn batch=1,heads=3,tokens=2000 ${s:+--schedule "$s"}; chk /tmp/doc_d256.attn batch=2,heads=2,tokens=3000 ${s:+--schedule "$s"}
    chk recipes/softcap.attn batch=1,heads=2,tokens=1500 --grad ${s:+--schedule "$s"}; done
} 2>&1 | tee $OUT/tests.txt
row() { local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 30 $A bench $1 --shape batch=1,heads=16,tokens=8192 --warmup 10 --iters 50 "${@:2}" 2>&1)
  printf '%-12s %-44s %s\n' "$(basename $1 .attn)" "${*:2}" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
for rc in /tmp/causal_d256.attn /tmp/dense_d256.attn; do row $rc; row $rc --schedule "q=64 kv=32 stages=2 warps=4"; done 2>&1 | tee $OUT/rows.txt
for rc in recipes/softcap.attn /tmp/swa_d256.attn; do row $rc; row $rc --schedule "$W"; done 2>&1 | tee -a $OUT/rows.txt
