#!/usr/bin/env bash
# A long fuzzing campaign on one core: the harnesses built by run.sh take
# turns (frontend FRONTEND_MIN minutes, pipeline PIPELINE_MIN, diff
# DIFF_MIN; defaults 30/15/15) at nice 19 until HOURS have passed, each
# continuing its own corpus under DIR (default build-fuzz/campaign). Every
# segment appends a line to DIR/stats.tsv (start, commit, harness, seconds,
# executions, cov, ft, corpus size, result); a finding leaves its input as
# DIR/HARNESS/crash-* (or leak-*, timeout-*) and the campaign goes on.
# Usage: tests/fuzz/run.sh 1 && tests/fuzz/campaign.sh HOURS [DIR]
set -uo pipefail
cd "$(dirname "$0")/../.."
hours=${1:?usage: campaign.sh HOURS [DIR]}
dir=${2:-build-fuzz/campaign}
end=$(($(date +%s) + ${hours%.*} * 3600))
mkdir -p "$dir"
[ -f "$dir/stats.tsv" ] || printf 'start\tcommit\tharness\tseconds\texecs\tcov\tft\tcorpus\tresult\n' >"$dir/stats.tsv"

seed() { # harness corpus-dir: the first time, copy the seeds
  [ -n "$(ls -A "$2" 2>/dev/null)" ] && return
  local dirs d
  case $1 in
    frontend) dirs=(recipes tests/fuzz/corpus/frontend) ;;
    pipeline) dirs=(recipes tests/fuzz/corpus/frontend tests/fuzz/corpus/pipeline) ;;
    diff) dirs=(tests/fuzz/corpus/diff) ;;
  esac
  for d in "${dirs[@]}"; do find "$d" -maxdepth 1 -type f -exec cp {} "$2"/ \; ; done
}

segment() { # harness minutes
  local h=$1 secs=$(($2 * 60)) d="$dir/$1" opts
  mkdir -p "$d/corpus"
  seed "$h" "$d/corpus"
  case $h in
    frontend) opts=(-max_len=8192 -timeout=10 -rss_limit_mb=2048 -dict=tests/fuzz/attn.dict) ;;
    pipeline) opts=(-max_len=4096 -timeout=120 -rss_limit_mb=4096 -dict=tests/fuzz/attn.dict) ;;
    diff) opts=(-max_len=256 -timeout=300 -rss_limit_mb=4096) ;;
  esac
  local start t0 result commit
  start=$(date -u +%FT%TZ)
  commit=$(git rev-parse --short HEAD)
  t0=$(date +%s)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    nice -n 19 "build-fuzz/fuzz_$h" "$d/corpus" -max_total_time="$secs" "${opts[@]}" -artifact_prefix="$d/" \
    -print_final_stats=1 >"$d/last.log" 2>&1
  result=$([ $? -eq 0 ] && echo ok || echo "finding: $(ls -t "$d" | grep -E '^(crash|leak|timeout|oom)-' | head -1)")
  [ "$result" = ok ] || cp "$d/last.log" "$d/finding-$(date +%s).log"
  local execs last
  execs=$(grep -m1 '^stat::number_of_executed_units' "$d/last.log" | awk '{print $2}')
  last=$(grep -E '^#[0-9]+' "$d/last.log" | tail -1)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$start" "$commit" "$h" "$(($(date +%s) - t0))" \
    "${execs:-?}" "$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")" "$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")" \
    "$(ls "$d/corpus" | wc -l)" "$result" >>"$dir/stats.tsv"
}

while [ "$(date +%s)" -lt "$end" ]; do
  segment frontend "${FRONTEND_MIN:-30}"
  segment pipeline "${PIPELINE_MIN:-15}"
  segment diff "${DIFF_MIN:-15}"
done
