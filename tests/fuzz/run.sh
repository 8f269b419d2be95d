#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang-19 + ASan/UBSan into build-fuzz/
# (CMake, -DATTNC_FUZZ=ON: every object instrumented) and fuzzes each for
# its share of SECONDS (default 120): fuzz_frontend 2/5, fuzz_pipeline 2/5,
# fuzz_diff 1/5. Seeds are copied to temporary corpora, so the repository is
# never written. Exits non-zero when any harness finds a crash, leak, hang,
# contract violation or (fuzz_diff) a numeric or gradient mismatch; the input is saved
# as build-fuzz/HARNESS-crash-* (docs/fuzzing.md says what to do with it).
# Usage: tests/fuzz/run.sh [SECONDS] [HARNESS...]   (HARNESS: frontend pipeline diff)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-120}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(frontend pipeline diff)
cc=${CLANG:-clang-19}
out=build-fuzz
jobs=$(nproc)

cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="${cc/clang/clang++}" \
  -DATTNC_FUZZ=ON -DATTNC_WERROR=OFF >/dev/null
targets=()
for h in "${harnesses[@]}"; do targets+=(--target "fuzz_$h"); done
cmake --build "$out" -j"$jobs" "${targets[@]}" >/dev/null

share() { case $1 in frontend|pipeline) echo $((secs * 2 / 5)) ;; diff) echo $((secs / 5)) ;; esac; }

seeds() { # dest dir...: copies the files of each dir
  local dest=$1 d
  shift
  for d in "$@"; do find "$d" -maxdepth 1 -type f -exec cp {} "$dest"/ \; ; done
}

status=0
for h in "${harnesses[@]}"; do
  corpus=$(mktemp -d)
  case $h in
    frontend) seeds "$corpus" recipes tests/fuzz/corpus/frontend
              opts=(-max_len=8192 -timeout=10 -rss_limit_mb=2048 -dict=tests/fuzz/attn.dict) ;;
    pipeline) seeds "$corpus" recipes tests/fuzz/corpus/frontend tests/fuzz/corpus/pipeline
              opts=(-max_len=4096 -timeout=120 -rss_limit_mb=4096 -dict=tests/fuzz/attn.dict) ;;
    diff)     seeds "$corpus" tests/fuzz/corpus/diff
              opts=(-max_len=256 -timeout=300 -rss_limit_mb=4096) ;;
    *) echo "run.sh: unknown harness '$h' (frontend, pipeline, diff)" >&2; exit 1 ;;
  esac
  t=$(share "$h")
  echo "== fuzz_$h for ${t}s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$out/fuzz_$h" "$corpus" -max_total_time="$t" "${opts[@]}" -artifact_prefix="$out/$h-" \
      -print_final_stats=1 2>"$out/$h.log"; then
    status=1
    tail -40 "$out/$h.log"
    echo "run.sh: fuzz_$h found something (log: $out/$h.log)" >&2
  else
    grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|^Done" "$out/$h.log" || true
  fi
  rm -rf "$corpus"
done
exit $status
