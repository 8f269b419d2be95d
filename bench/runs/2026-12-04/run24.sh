#!/usr/bin/env bash
# Device call 24 of 2026-12-04: persist=1 after the q_empty barrier's count fix (the plain loop's q_empty was
# initialised as a full barrier, count 1): test_gpu_persist, racecheck and memcheck on three of its cases; ncu of
# HunyuanVideo GNA against dense cross attention with the same key-loop length (81 tiles), which runs 8% faster;
# persist=1 on the plain-loop cases. OUT=dir bash bench/runs/2026-12-04/run24.sh   (.device-all/main.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
G=/tmp/pk_main/tests/gpu A=/tmp/pk_main/bin/attnc SAN=/usr/local/cuda/bin/compute-sanitizer
summary() { printf '%-22s %-8s PASS %-4s FAIL %-3s %s\n' "$1" "$(cat /tmp/t_$1.rc)" "$(grep -c '^\[PASS\]\|^\[       OK \]' /tmp/t_$1)" "$(grep -c '^\[FAIL\]\|FAILED \]' /tmp/t_$1)" "$(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' /tmp/t_$1 | tail -1)"
  grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR|internal error|========= (Invalid|Error|Race)' /tmp/t_$1 | head -6 | cut -c1-240; }
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
san="--error-exitcode 9 --print-limit 10"
bg persist 150 $G/test_gpu_test_gpu_persist
bg racecheck_empty 150 ATTNC_TEST_CASE=empty_items $SAN --tool racecheck $san $G/test_gpu_test_gpu_persist
bg racecheck_causal 150 ATTNC_TEST_CASE=causal $SAN --tool racecheck $san $G/test_gpu_test_gpu_persist
bg memcheck_gna 150 ATTNC_TEST_CASE=gna $SAN --tool memcheck $san $G/test_gpu_test_gpu_persist
wait
for t in persist racecheck_empty racecheck_causal memcheck_gna; do summary $t; done | tee $OUT/tests.txt
grep -E '^\[(PASS|FAIL)\]' /tmp/t_persist | cut -c1-160 > $OUT/persist_cases.txt
el ncu
M="lts__t_sector_hit_rate.pct,dram__bytes_read.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,smsp__inst_executed.sum,gpu__time_duration.sum,sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_elapsed,smsp__cycles_active.avg,l1tex__m_xbar2l1tex_read_bytes.sum,lts__t_sectors_srcunit_tex_op_read.sum,regex:smsp__average_warps_issue_stalled_(barrier|long_scoreboard|wait|math_pipe_throttle|dispatch_stall|membar|sleeping|short_scoreboard|mio_throttle|lg_throttle|no_instruction|not_selected|selected|branch_resolving|tex_throttle|drain|misc|imc_miss)_per_issue_active\.ratio"
nc() { local name=$1 rc=$2 sh=$3 sc=$4
  ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 ncu --clock-control none --metrics $M -k regex:attnc_ --launch-count 1 --csv \
    $A bench $rc --shape $sh --warmup 0 --iters 1 ${sc:+--schedule "$sc"} > /tmp/ncu_$name.csv 2>/tmp/ncu_$name.err
  echo "$name rc=$?"; grep -E '^"' /tmp/ncu_$name.csv | python3 -c '
import csv,sys
rows=list(csv.reader(sys.stdin)); h=rows[0]; i=h.index("Metric Name"); v=h.index("Metric Value")
for r in rows[1:]: print(r[i].replace("smsp__average_warps_issue_stalled_","stall_").replace("_per_issue_active.ratio",""), r[v])' | sort > $OUT/ncu_$name.txt; }
R=bench/recipes
nc hy_gna $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 ""
nc hy_cross $R/cross_d128.attn batch=1,heads=24,tokens=115200,kv_tokens=10368 ""
nc fx_gna $R/flux_gna.attn batch=1,heads=24,H=256,W=256 ""
paste $OUT/ncu_hy_gna.txt $OUT/ncu_hy_cross.txt $OUT/ncu_fx_gna.txt | awk '{printf "%-62s %16s %16s %16s\n",$1,$2,$4,$6}' > $OUT/ncu_table.txt
rm -f $OUT/ncu_hy_gna.txt $OUT/ncu_hy_cross.txt $OUT/ncu_fx_gna.txt
cat $OUT/ncu_table.txt
el bench
row() { local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $1 --shape $2 --warmup 5 --iters 30 ${3:+--schedule "$3"} 2>&1)
  printf '%-16s %-36s %-56s %s\n' "$(basename $1 .attn)" "$2" "${3:-default}" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
for round in 1 2; do
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 ""
  row $R/causal_d128.attn batch=1,heads=16,tokens=16384 "q=128 kv=128 stages=2 warps=8 regs=even persist=1"
  row $R/causal_d128.attn batch=4,heads=16,tokens=4096 ""
  row $R/causal_d128.attn batch=4,heads=16,tokens=4096 "q=128 kv=128 stages=2 warps=8 regs=even persist=1"
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 ""
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 "q=128 kv=128 stages=2 warps=8 persist=1"
  row $R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 "q=2x8x8 kv=2x8x8 stages=3 warps=8 persist=1"
  row $R/flux_na.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=16x8 stages=2 warps=8 persist=1"
done | tee $OUT/bench.txt
el done
