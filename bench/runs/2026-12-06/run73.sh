#!/usr/bin/env bash
# Device call 73 (2026-12-06): where the time of the two kernels that miss their goals goes, for the next sessions.
# Nsight Compute (--set full: speed of light, warp states, scheduler, instruction mix, shared-memory conflicts, the
# SASS lines with the most stall samples) on one launch each of the dense D=128 backward's dK/dV kernel (issue 14:
# 0.94x FA4) and the causal forward of 8 documents' shape (causal B=8 N=8192, issue 17: ~1.5x Flex); then 8
# documents and sinks + window beside FlexAttention again, two rounds (the forward profile last). Each profile's
# SASS page with its stall samples per instruction comes back as sass_NAME.csv (sass_stalls.py prints the top lines).
#   OUT=dir bash bench/runs/2026-12-06/run73.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA
R=bench/recipes A=/tmp/pk/bin/attnc NCU=/usr/local/cuda/bin/ncu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
# the lines worth reading in a details page: section titles, metrics with a percentage or a stall, bank conflicts
keep='^  Section|^    [A-Z].*(%|cycle|inst|Throughput|Stall|stall|Warp|Issue|Eligible|Active|Conflict|conflict|Registers|Occupancy|Duration|Elapsed)'
prof() { local name=$1 kern=$2 rc=$3 sh=$4; shift 4
  ATTNC_CACHE_DIR=$(mktemp -d) timeout 200 $NCU --set full --import-source no -k regex:$kern --launch-skip 1 --launch-count 1 \
    -o /tmp/rep_$name $A bench $rc --shape $sh --warmup 1 --iters 2 "$@" > /tmp/ncu_$name.log 2>&1
  echo "== $name (rc=$?)"; tail -n 3 /tmp/ncu_$name.log
  $NCU -i /tmp/rep_$name.ncu-rep --page details > $OUT/ncu_$name.txt 2>&1
  $NCU -i /tmp/rep_$name.ncu-rep --page source --csv --print-source sass > $OUT/sass_$name.csv 2>&1
  grep -E "$keep" $OUT/ncu_$name.txt | sed 's/   */  /g' | head -150
  python3 bench/runs/2026-12-06/sass_stalls.py $OUT/sass_$name.csv 30; }
el ncu
prof bwd_dense attnc_bwd_dkv $R/dense_d128.attn batch=1,heads=16,tokens=8192 --grad > $OUT/ncu_summary.txt 2>&1
el rows
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-12s %-30s %-16s %-9s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
for round in 1 2; do
  for e in X=1 ATTNC_O_TMA=1; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8; done
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
done 2>&1 | tee $OUT/rows.txt
el flex; OUT=$OUT timeout 60 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq.log
el ncu_fwd; prof fwd_causal_b8 attnc_causal $R/causal_d128.attn batch=8,heads=16,tokens=8192 >> $OUT/ncu_summary.txt 2>&1
el done
grep -E "^==|Duration|Stall|Issue Slots Busy|Tensor|Shared.*Conflict|No Eligible|Eligible Warps|Registers Per" $OUT/ncu_summary.txt | head -60
grep -A34 "^top " $OUT/ncu_summary.txt
