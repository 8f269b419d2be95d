#!/usr/bin/env bash
# Device call 74 (2026-12-06, second session): two opt-in forward switches checked and timed against the default:
# the row max as a balanced tree ($ATTNC_MAX_TREE=1: depth 7 instead of a chain of 33 max.f32 before a tile's
# exponentials may start) and Q's A fragments in registers ($ATTNC_Q_REGS=1: S = Q K^T reads only K from shared
# memory; documents spill 116 bytes with it, causal and dense none); issue 17's 8 documents and sinks + window beside FlexAttention; then run73's profiles (Nsight Compute
# on the dense D=128 backward's dK/dV kernel and the causal B=8 forward, with the stall samples per SASS line).
#   OUT=dir [TCAP=s] [PROFILE=0] bash bench/runs/2026-12-06/run74.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
TCAP=${TCAP:-60}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_O_STAGE ATTNC_O_TMA ATTNC_MAX_TREE ATTNC_Q_REGS
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu NCU=/usr/local/cuda/bin/ncu
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
el tests
( ATTNC_CACHE_DIR=$(mktemp -d) ATTNC_MAX_TREE=1 ATTNC_Q_REGS=1 timeout $TCAP $T/test_gpu_test_gpu_overlap > /tmp/t_overlap.txt 2>&1; echo "rc=$?" >> /tmp/t_overlap.txt ) &
runchecks() { for spec in "recipes/causal.attn batch=3,heads=5,tokens=1000" "recipes/dense.attn batch=1,heads=2,tokens=1" \
    "$R/causal_d128.attn batch=2,heads=3,tokens=4097" "$R/doc_causal.attn batch=1,heads=7,tokens=5000" \
    "recipes/gqa.attn batch=2,heads=8,kv_heads=2,tokens=333" "$R/dense_d64.attn batch=1,heads=3,tokens=777" \
    "recipes/softcap.attn batch=1,heads=2,tokens=1500" "$R/sinks_swa_w2047.attn batch=1,heads=2,tokens=3000"; do
    set -- $spec
    for e in ATTNC_MAX_TREE=1 ATTNC_Q_REGS=1; do
      out=$(env $e timeout 60 $A run $1 --backend cuda --check --shape $2 2>&1); rc=$?
      echo "$(basename $1) $2 $e: exit $rc $(echo "$out" | grep -iE 'check o|mismatch|error' | tr '\n' ' ' | cut -c1-160)"
    done
  done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > /tmp/t_runcheck.txt 2>&1 ) &
wait
{ echo "overlap (MAX_TREE=1 Q_REGS=1): $(grep -c 'PASS' /tmp/t_overlap.txt) PASS-lines, $(grep -c 'FAIL' /tmp/t_overlap.txt) FAIL-lines, $(tail -1 /tmp/t_overlap.txt)"
  grep -m3 'FAIL' /tmp/t_overlap.txt | cut -c1-250; cat /tmp/t_runcheck.txt; } | tee $OUT/tests.txt
( ATTNC_Q_REGS=1 ATTNC_MAX_TREE=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 /usr/local/cuda/bin/compute-sanitizer --tool racecheck $A run $R/causal_d128.attn --backend cuda --check --shape batch=1,heads=2,tokens=1500 > /tmp/san.txt 2>&1; echo "rc=$?" >> /tmp/san.txt )
echo "racecheck (Q_REGS=1 MAX_TREE=1): $(grep -E 'SUMMARY' /tmp/san.txt | tail -1) $(tail -1 /tmp/san.txt)" | tee -a $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-12s %-30s %-30s %-9s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
el rows
for round in 1 2 3; do
  for e in X=1 ATTNC_MAX_TREE=1 ATTNC_Q_REGS=1; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8; done
  for e in X=1 ATTNC_MAX_TREE=1 ATTNC_Q_REGS=1 "ATTNC_MAX_TREE=1 ATTNC_Q_REGS=1"; do row $R/causal_d128.attn batch=8,heads=16,tokens=8192 "$e"; done
  for e in X=1 ATTNC_MAX_TREE=1 ATTNC_Q_REGS=1 "ATTNC_MAX_TREE=1 ATTNC_Q_REGS=1"; do row $R/dense_d128.attn batch=1,heads=16,tokens=16384 "$e"; done
  for e in X=1 ATTNC_MAX_TREE=1; do row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 $e; done
done 2>&1 | tee $OUT/rows.txt
for e in X=1 ATTNC_MAX_TREE=1 ATTNC_Q_REGS=1; do row $R/causal_d128.attn batch=1,heads=16,tokens=16384 $e; done 2>&1 | tee -a $OUT/rows.txt
el flex; OUT=$OUT timeout 60 python3 bench/anchors.py --sparse-seq > $OUT/anchors_seq.log 2>&1; grep -E "^doc8|^sinks" $OUT/anchors_seq.log
[ "${PROFILE:-1}" = 0 ] && { el done; exit 0; }
keep='^  Section|^    [A-Z].*(%|cycle|inst|Throughput|Stall|stall|Warp|Issue|Eligible|Active|Conflict|conflict|Registers|Occupancy|Duration|Elapsed)'
prof() { local name=$1 kern=$2 rc=$3 sh=$4; shift 4
  ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $NCU --set full --import-source no -k regex:$kern --launch-skip 1 --launch-count 1 \
    -o /tmp/rep_$name $A bench $rc --shape $sh --warmup 1 --iters 2 "$@" > /tmp/ncu_$name.log 2>&1
  echo "== $name (rc=$?)"; tail -n 2 /tmp/ncu_$name.log
  $NCU -i /tmp/rep_$name.ncu-rep --page details > /tmp/ncu_$name.txt 2>&1
  $NCU -i /tmp/rep_$name.ncu-rep --page source --csv --print-source sass > $OUT/sass_$name.csv 2>&1
  grep -E "$keep" /tmp/ncu_$name.txt | sed 's/   */  /g' | head -150
  python3 bench/runs/2026-12-06/sass_stalls.py $OUT/sass_$name.csv 30; }
el ncu; prof bwd_dense attnc_bwd_dkv $R/dense_d128.attn batch=1,heads=16,tokens=8192 --grad > $OUT/ncu_summary.txt 2>&1
el ncu_fwd; prof fwd_causal_b8 attnc_causal $R/causal_d128.attn batch=8,heads=16,tokens=8192 >> $OUT/ncu_summary.txt 2>&1
el done
grep -E "^==|Duration|Issue Slots Busy|Tensor|Shared.*Conflict|No Eligible|Eligible Warps|Registers Per" $OUT/ncu_summary.txt | head -40
grep -A32 "^top " $OUT/ncu_summary.txt
