#!/usr/bin/env bash
# Device call 19 of 2026-12-04: why the overlapped loop (overlap=1) loses on GNA while it wins on dense —
# ncu of FLUX GNA (plain loop, overlap=1) and dense D=128 (overlap=1, plain loop), one launch each, a few
# throughput, instruction and warp-stall metrics, written as one compact CSV per kernel.
# OUT=dir bash bench/runs/2026-12-04/run19.sh   (.device-all/main.tar.xz)
set -u
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk_main/lib
A=/tmp/pk_main/bin/attnc
M='gpu__time_duration.sum,sm__inst_executed.sum,smsp__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_executed_pipe_alu.sum,sm__inst_executed_pipe_fma.sum,sm__inst_executed_pipe_xu.sum,launch__registers_per_thread,smsp__issue_active.avg.pct_of_peak_sustained_active,regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio'
prof() { local name=$1 rc=$2 sh=$3 sc=$4
  ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 ncu --clock-control none --metrics $M -k regex:attnc_ --launch-count 1 --csv \
    $A bench $rc --shape $sh --warmup 0 --iters 1 ${sc:+--schedule "$sc"} > /tmp/ncu_$name.csv 2>/tmp/ncu_$name.err
  echo "$name rc=$?"; grep -E '^"' /tmp/ncu_$name.csv | python3 -c '
import csv,sys
rows=list(csv.reader(sys.stdin)); h=rows[0]; i=h.index("Metric Name"); v=h.index("Metric Value")
for r in rows[1:]: print(r[i].replace("smsp__average_warps_issue_stalled_","stall_").replace("_per_issue_active.ratio",""), r[v])' > $OUT/ncu_$name.txt; }
prof gna_plain bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256 ""
prof gna_ovl bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256 "q=8x16 kv=8x16 stages=2 warps=8 overlap=1"
prof dense_ovl bench/recipes/dense_d128.attn batch=1,heads=24,tokens=65536 ""
prof dense_plain bench/recipes/dense_d128.attn batch=1,heads=24,tokens=65536 "q=128 kv=128 stages=2 warps=8"
for f in gna_plain gna_ovl dense_plain dense_ovl; do sort $OUT/ncu_$f.txt -o $OUT/ncu_$f.txt; done
paste $OUT/ncu_gna_plain.txt $OUT/ncu_gna_ovl.txt $OUT/ncu_dense_plain.txt $OUT/ncu_dense_ovl.txt | awk '{printf "%-40s %14s %14s %14s %14s\n",$1,$2,$4,$6,$8}' > $OUT/ncu_table.txt
cat $OUT/ncu_table.txt
