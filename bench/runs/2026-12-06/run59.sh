#!/usr/bin/env bash
# Device call 59 (2026-12-06): ATTNC_Q_L2_NEXT=1 (the producer fetches the Q tile of the block one SM count later
# into L2) against the default, 100 timed iterations, three rounds: 8 causal documents at N=65536, causal B=8
# N=8192, causal N=16384, dense N=16384; `attnc run --check` with the switch first. Then FlexAttention on the
# documents (anchors.py --sparse-seq) in the same call.
#   OUT=dir bash bench/runs/2026-12-06/run59.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
R=bench/recipes A=/tmp/pk/bin/attnc
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
for spec in "recipes/causal.attn batch=3,heads=5,tokens=1000" "$R/doc_causal.attn batch=1,heads=7,tokens=5000" \
            "$R/dense_d128.attn batch=2,heads=3,tokens=4097"; do
  set -- $spec
  out=$(ATTNC_Q_L2_NEXT=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A run $1 --backend cuda --check --shape $2 2>&1); rc=$?
  echo "q_l2_next: $1 $2: exit $rc $(echo "$out" | grep -iE 'check o|mismatch' | tr '\n' ' ' | cut -c1-200)"; done | tee $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-12s %-28s %-18s %-10s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
el rows
for round in 1 2 3; do
  for e in X=1 ATTNC_Q_L2_NEXT=1; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8; done
  for e in X=1 ATTNC_Q_L2_NEXT=1; do row $R/causal_d128.attn batch=8,heads=16,tokens=8192 $e; done
  for e in X=1 ATTNC_Q_L2_NEXT=1; do row $R/causal_d128.attn batch=1,heads=16,tokens=16384 $e; done
  for e in X=1 ATTNC_Q_L2_NEXT=1; do row $R/dense_d128.attn batch=1,heads=16,tokens=16384 $e; done
done 2>&1 | tee $OUT/rows.txt
el flex; OUT=$OUT timeout 60 python3 bench/anchors.py --sparse-seq > $OUT/anchors.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors.log | tee $OUT/anchors_table.txt
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $OUT/gpu.txt 2>&1
el done
