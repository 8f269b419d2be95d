#!/usr/bin/env bash
# gpu-run.sh — everything the GPU machine runs, in one command, from the repo
# root of a checkout that carries what the development machine built: the
# .device/ folder of scripts/pack-device.sh (default when present), or a whole
# build folder configured with -DATTNC_LLVM_STATIC=ON. Either has lib/, bin/attnc
# and tests/gpu/test_gpu_test_*:
#   1. the gpu-labelled tests (FA2 kernels and every softmax recipe against the
#      fp64 reference), run as plain executables (no cmake needed there);
#   2. compute-sanitizer memcheck and racecheck on the same test programs;
#   3. `attnc bench` over bench/cases.txt;
#   4. the anchors (PyTorch SDPA FlashAttention-2 and cuDNN, FlexAttention),
#      bench/anchors.py, in the same run;
#   5. a table with ratios (bench/compare.py), also written to $OUT/results.md.
# usage: scripts/gpu-run.sh [.device | BUILD_DIR]
# env:   OUT (results folder; default ./gpu-out), QUICK=1 (skip racecheck and the
#        slow anchors), SKIP_ANCHORS=1, SKIP_SANITIZER=1,
#        PARALLEL=1 (step 1's test programs run at once),
#        STEPS="tests sanitizer bench anchors" (a subset runs only those steps,
#        e.g. to fit a 10-minute limit per command; the table needs bench and
#        anchors results in the same OUT)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${1:-}
[ -z "$B" ] && { [ -d .device ] && B=.device || B=build-static; }
case $B in /*) ;; *) B=$ROOT/$B ;; esac
OUT=${OUT:-$ROOT/gpu-out}
mkdir -p "$OUT"
export OUT
export LD_LIBRARY_PATH="$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export ATTNC_SOURCE_DIR=$ROOT
# the kernel cache stays out of $OUT: the device tool returns a limited number of files
export ATTNC_CACHE_DIR=${ATTNC_CACHE_DIR:-$(mktemp -d /tmp/attnc-cache.XXXXXX)}
SAN=${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer
SUMMARY=$OUT/summary.txt
STEPS=${STEPS:-tests sanitizer bench anchors}
want() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
: > "$SUMMARY"

note() { echo "$*" | tee -a "$SUMMARY"; }

# run NAME TIMEOUT CMD...: logs to $OUT/NAME.log, records PASS/FAIL/SKIP.
run() {
  local name=$1 limit=$2
  shift 2
  local t0=$(date +%s)
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$? dt=$(( $(date +%s) - t0 ))
  local verdict=PASS
  if grep -q "^skipped: " "$OUT/$name.log"; then verdict=SKIP  # no driver, too few GPUs, no NCCL
  elif [ $rc -eq 124 ]; then verdict="FAIL (timeout ${limit}s)"
  elif [ $rc -ne 0 ]; then verdict="FAIL (exit $rc)"
  fi
  note "$(printf '%-40s %-18s %4ss  %s' "$name" "$verdict" "$dt" "$OUT/$name.log")"
  [ "$verdict" = PASS ] || [ "$verdict" = SKIP ]
}

[ -x "$B/bin/attnc" ] || { echo "gpu-run.sh: no $B/bin/attnc (carry the build folder)"; exit 2; }
{ nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv; } \
  > "$OUT/device.txt" 2>&1
note "device: $(head -1 "$OUT/device.txt")"

TESTS=$(ls "$B"/tests/gpu/test_gpu_test_* 2>/dev/null || true)
if want tests; then
  echo "== 1. GPU tests"
  if [ "${PARALLEL:-0}" = 1 ]; then  # all at once (the GPU shares; fits one call's limit)
    for t in $TESTS; do run "$(basename "$t")" "${TEST_TIMEOUT:-900}" "$t" & done
    wait
  else
    for t in $TESTS; do run "$(basename "$t")" "${TEST_TIMEOUT:-900}" "$t"; done
  fi
  # examples/aot_host: AOT output alone (embedded PTX, libcuda by dlopen).
  [ -x "$B/bin/aot_host" ] && run aot_host 300 "$B/bin/aot_host"
  # The AOT test runs <build>/bin/attnc and reads <source>/recipes at the
  # paths compiled into it (tests/aot/paths.txt): link them here if absent.
  A=$B/tests/aot
  if [ -x "$A/test_unit_runtime_test_aot_gpu" ] && [ -f "$A/paths.txt" ]; then
    src=$(sed -n 1p "$A/paths.txt"); bld=$(sed -n 2p "$A/paths.txt")
    { [ -d "$src/recipes" ] || { mkdir -p "$(dirname "$src")" && ln -sfn "$ROOT" "$src"; }; } 2>/dev/null
    { [ -x "$bld/bin/attnc" ] || { mkdir -p "$(dirname "$bld")" && ln -sfn "$B" "$bld"; }; } 2>/dev/null
    if [ -d "$src/recipes" ] && [ -x "$bld/bin/attnc" ]; then run test_aot_gpu 900 "$A/test_unit_runtime_test_aot_gpu"
    else note "test_aot_gpu: skipped (cannot reach $src or $bld)"; fi
  fi
fi

if want sanitizer && [ "${SKIP_SANITIZER:-0}" != 1 ] && [ -x "$SAN" ]; then
  echo "== 2. compute-sanitizer"
  tools="memcheck racecheck"
  [ "${QUICK:-0}" = 1 ] && tools=memcheck
  for tool in $tools; do
    for t in $TESTS; do
      ATTNC_TEST_SMALL=1 run "$tool-$(basename "$t")" 900 "$SAN" --tool "$tool" --error-exitcode 9 --print-limit 20 "$t"
    done
  done
else
  note "compute-sanitizer: skipped"
fi

if want bench; then
echo "== 3. attnc bench"
: > "$OUT/attnc_bench.jsonl"
grep -v '^\s*#' bench/cases.txt | grep -v '^\s*$' | while IFS='|' read -r name recipe shape anchor extra; do
  name=$(echo $name); recipe=$(echo $recipe); shape=$(echo $shape); anchor=$(echo $anchor); extra=$(echo $extra)
  log=$OUT/bench-$name-$(echo "$shape" | tr ',=' '__').log
  # shellcheck disable=SC2086 # extra: more options, split on spaces
  # 500 ms of warm-up, as the anchors' (an idle GPU's clocks dip for ~0.4 s: bench/RESULTS.md, 2026-12-06 run80)
  timeout 600 "$B/bin/attnc" bench "$recipe" --shape "$shape" $extra --json --warmup 10 --warmup-ms 500 --iters 30 > "$log" 2>&1
  rc=$?
  res=$(grep '^{' "$log" | tail -1)
  if [ $rc -eq 0 ] && [ -n "$res" ]; then
    printf '{"name": "%s", "anchor": "%s", "result": %s}\n' "$name" "$anchor" "$res" >> "$OUT/attnc_bench.jsonl"
    note "$(printf 'bench %-14s %-32s ok' "$name" "$shape")"
  else
    err=$(tail -3 "$log" | tr '\n"' ' _')
    printf '{"name": "%s", "anchor": "%s", "error": "%s"}\n' "$name" "$anchor" "$err" >> "$OUT/attnc_bench.jsonl"
    note "$(printf 'bench %-14s %-32s FAIL (exit %s) %s' "$name" "$shape" "$rc" "$log")"
  fi
done
fi

if want anchors && [ "${SKIP_ANCHORS:-0}" != 1 ]; then
  echo "== 4. anchors (PyTorch SDPA FA2/cuDNN, FlexAttention)"
  : > "$OUT/anchors.jsonl"
  q=""; [ "${QUICK:-0}" = 1 ] && q=--quick
  export ANCHOR_WARMUP_MS=${ANCHOR_WARMUP_MS:-500} # as attnc bench's --warmup-ms above
  run anchors 1500 python3 bench/anchors.py $q
fi

echo "== 5. results"
python3 bench/compare.py "$OUT" > "$OUT/compare.log" 2>&1 || note "compare.py failed: $OUT/compare.log"
echo
echo "---------------------------------------------------------------- summary"
cat "$SUMMARY"
echo
cat "$OUT/results.md" 2>/dev/null
grep -q FAIL "$SUMMARY" && exit 1
exit 0
