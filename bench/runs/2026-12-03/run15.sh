#!/usr/bin/env bash
# Device call 2 of the 15:20 session (issue 13's last measurements): old vs new on the dense
# 115200-token case; cold compile, new vs old, 10 fresh-process samples each (medians); and the
# long GPU test programs (backward, overlap, linear, merge) run to completion, beside
# compute-sanitizer memcheck of the small-mode programs. old = e0704c5.
# .device-all/{main,old}.tar.xz.   OUT=dir bash bench/runs/2026-12-03/run15.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu,power.draw --format=csv,noheader
for n in main old; do mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
B=$ROOT/.device/tests/gpu
SAN=/usr/local/cuda/bin/compute-sanitizer
el "1. old vs new: dense on 115200 tokens (WARMUP=3 ITERS=10, new/old/new/old)"
grep -E 'tokens=115200' bench/cases.txt | grep -v '^\s*#' > /tmp/c115.txt; cut -c1-60 /tmp/c115.txt
WARMUP=3 ITERS=10 RUN_TIMEOUT=60 OUT=/tmp/ovn timeout 150 bash bench/old-vs-new.sh /tmp/pk_main /tmp/pk_old /tmp/c115.txt > /tmp/ovn.log 2>&1
echo "rc=$?"; cat /tmp/ovn/old-vs-new.md
el "2. long GPU test programs to completion (background, cap ${TCAP:-430} s) + memcheck of small-mode programs"
mkdir -p /tmp/t
for p in backward overlap linear merge; do
  ( s=$(date +%s); ATTNC_CACHE_DIR=$(mktemp -d /tmp/c.XXXX) timeout ${TCAP:-430} $B/test_gpu_test_gpu_$p > /tmp/t/$p.log 2>&1; echo "rc=$? $(( $(date +%s) - s ))s" > /tmp/t/$p.rc ) &
done
for p in merge linear_backward documents unions; do
  ( ATTNC_TEST_SMALL=1 ATTNC_CACHE_DIR=$(mktemp -d /tmp/c.XXXX) timeout ${TCAP:-430} $SAN --tool memcheck --error-exitcode 9 --print-limit 10 $B/test_gpu_test_gpu_$p > /tmp/t/mc_$p.log 2>&1; echo "rc=$?" > /tmp/t/mc_$p.rc ) &
done
el "3. cold compile, new vs old (SAMPLES=${SAMPLES:-10}; CPU work, interleaved, while step 2 runs)"
grep -v '^\s*#' bench/cases.txt | awk -F'|' '{n=$1; gsub(/ /,"",n)} (n=="dense_full"||n=="dense_causal") && !seen[n]++ {print; next} n~/^(sinks_swa_w2047|na2d_k17|flux_gna|lightning2|doc8_causal)$/' > /tmp/ccases.txt
cut -d'|' -f1 /tmp/ccases.txt | tr -d ' ' | tr '\n' ' '; echo
SAMPLES=${SAMPLES:-10} RUN_TIMEOUT=60 OUT=/tmp/cold timeout 330 bash bench/cold-compile.sh /tmp/pk_main /tmp/pk_old /tmp/ccases.txt > /tmp/cold.log 2>&1
echo "rc=$?"; cat /tmp/cold/cold-compile.md; cp /tmp/cold/cold-compile.md $OUT/ 2>/dev/null
el "4. waiting for step 2"
wait
for p in backward overlap linear merge; do
  echo "$p: $(cat /tmp/t/$p.rc) PASS=$(grep -c '^\[PASS\]' /tmp/t/$p.log) FAIL=$(grep -c '^\[FAIL\]' /tmp/t/$p.log) | $(tail -1 /tmp/t/$p.log | cut -c1-150)"
  grep -m5 '^\[FAIL\]' /tmp/t/$p.log
done
for p in merge linear_backward documents unions; do
  echo "memcheck $p: $(cat /tmp/t/mc_$p.rc) $(grep -h 'ERROR SUMMARY' /tmp/t/mc_$p.log) | $(grep -v '^=' /tmp/t/mc_$p.log | tail -1 | cut -c1-120)"
done
el "5. ncu of the dense forward (D=128 N=16384 H=16): default vs overlap=2 (ping-pong), stall reasons"
for sch in "" "q=128 kv=128 stages=2 warps=8 overlap=1" "q=128 kv=128 stages=2 warps=8 overlap=2"; do
  echo "== schedule '${sch:-default}'"
  timeout 120 /usr/local/cuda/bin/ncu --clock-control none -k regex:attnc -c 1 --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section InstructionStats --section LaunchStats \
    --metrics smsp__average_warp_latency_issue_stalled_barrier,smsp__average_warp_latency_issue_stalled_long_scoreboard,smsp__average_warp_latency_issue_stalled_wait,smsp__average_warp_latency_issue_stalled_math_pipe_throttle,smsp__average_warp_latency_issue_stalled_membar,smsp__average_warp_latency_issue_stalled_short_scoreboard,smsp__average_warp_latency_issue_stalled_dispatch_stall,smsp__average_warp_latency_issue_stalled_sleeping,smsp__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active \
    .device/bin/attnc bench bench/recipes/dense_d128.attn --shape batch=1,heads=16,tokens=16384 ${sch:+--schedule "$sch"} --warmup 0 --iters 1 >> $OUT/dense_ncu.txt 2>&1
  echo "rc=$?"
done
grep -E "^==|schedule|Duration|gmma|stalled|Registers Per|Issue Slots|Warp Cycles Per Issued|Eligible Warps|No Eligible" $OUT/dense_ncu.txt | head -60
el done
