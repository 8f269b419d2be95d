#!/usr/bin/env bash
# A campaign of one harness on many cores (e.g. the GPU machine's 16, where
# a built harness runs unchanged: fuzz_frontend links no LLVM): JOBS
# libFuzzer processes share one corpus (seeded as run.sh seeds it) for
# SECONDS, then the corpus is minimised (-merge=1) into OUTDIR/corpus and
# the executions of every process are summed into OUTDIR/summary.txt.
# Exits non-zero when any process found a crash, leak, timeout or contract
# violation (its input is left in OUTDIR as crash-*, leak-*, timeout-*).
# Usage: tests/fuzz/parallel.sh BINARY SECONDS JOBS OUTDIR
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:?usage: parallel.sh BINARY SECONDS JOBS OUTDIR}
secs=${2:?seconds} jobs=${3:?jobs} out=${4:?outdir}
case $(basename "$bin") in
  fuzz_frontend) seeds=(recipes tests/fuzz/corpus/frontend); opts=(-max_len=8192 -timeout=10 -dict=tests/fuzz/attn.dict) ;;
  fuzz_pipeline) seeds=(recipes tests/fuzz/corpus/frontend tests/fuzz/corpus/pipeline); opts=(-max_len=4096 -timeout=120 -dict=tests/fuzz/attn.dict) ;;
  fuzz_diff) seeds=(tests/fuzz/corpus/diff); opts=(-max_len=256 -timeout=300) ;;
  *) echo "parallel.sh: unknown harness $bin" >&2; exit 1 ;;
esac
mkdir -p "$out/live" "$out/corpus" "$out/logs"
for d in "${seeds[@]}"; do find "$d" -maxdepth 1 -type f -exec cp {} "$out/live"/ \; ; done
start=$(date -u +%FT%TZ)
for i in $(seq 1 "$jobs"); do
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    "$bin" "$out/live" -max_total_time="$secs" -rss_limit_mb=4096 "${opts[@]}" -reload=10 \
    -artifact_prefix="$out/" -print_final_stats=1 >"$out/logs/job$i.log" 2>&1 &
done
status=0
for p in $(jobs -p); do wait "$p" || status=1; done
execs=$(grep -h '^stat::number_of_executed_units' "$out"/logs/*.log | awk '{s += $2} END {print s + 0}')
"$bin" -merge=1 "$out/corpus" "$out/live" "${opts[@]}" >"$out/logs/merge.log" 2>&1 || status=1
cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$out/logs/merge.log" | tail -1)
{
  echo "start $start, $jobs processes x ${secs}s of $(basename "$bin")"
  echo "executions $execs"
  echo "corpus $(ls "$out/corpus" | wc -l) inputs, $(du -sh "$out/corpus" | cut -f1) after merge ($cov)"
  echo "findings $(ls "$out" | grep -cE '^(crash|leak|timeout|oom)-')"
  echo "exit $status"
} | tee "$out/summary.txt"
exit $status
