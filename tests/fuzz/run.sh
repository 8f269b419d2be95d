#!/usr/bin/env bash
# Builds the front-end fuzz harness with clang-19 + libFuzzer + ASan/UBSan
# into build-fuzz/ and runs it for SECONDS (default 60) with recipes/ and
# tests/fuzz/corpus/ as seeds (copied to a temporary corpus, so the repo is
# never written). Exits non-zero when libFuzzer finds a crash, leak, hang or
# contract violation; the input is saved as build-fuzz/crash-* (add it to
# tests/fuzz/corpus/ once fixed). Usage: tests/fuzz/run.sh [SECONDS] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-60}
jobs=${2:-1}
cc=${CLANG:-clang-19}
out=build-fuzz
mkdir -p "$out"
"$cc" -std=gnu17 -g -O1 -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I. support/*.c ir/expr.c ir/schedule.c frontend/*.c tests/fuzz/fuzz_frontend.c \
  -lm -o "$out/fuzz_frontend"
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
cp recipes/*.attn "$corpus"/
cp tests/fuzz/corpus/* "$corpus"/ 2>/dev/null || true
extra=()
[ "$jobs" -gt 1 ] && extra=(-fork="$jobs")
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  "$out/fuzz_frontend" "$corpus" -max_total_time="$secs" -max_len=8192 -timeout=10 \
  -rss_limit_mb=2048 -dict=tests/fuzz/attn.dict -artifact_prefix="$out/" -print_final_stats=1 "${extra[@]}"
