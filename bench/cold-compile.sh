#!/usr/bin/env bash
# cold-compile.sh — compare the cold compile time of two attnc builds with
# enough samples to beat process-to-process noise: for each case, SAMPLES
# rounds of (new, old), each one `attnc bench --warmup 0 --iters 1 --json`
# in a fresh process with an empty kernel cache, and the medians compared.
# `compile_ms` is attnc bench's cold compile: parse + lower + codegen +
# driver JIT and load (the kernel cache bypassed).
# usage: bench/cold-compile.sh NEW_DEVICE_DIR OLD_DEVICE_DIR [CASES_FILE]
#   env: SAMPLES (10), RUN_TIMEOUT (s per run, 120)
#   CASES_FILE: bench/cases.txt's format (name | recipe | shape | anchor | options)
set -u
cd "$(dirname "$0")/.."
NEW=$1 OLD=$2 CASES=${3:-bench/cases.txt}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export ATTNC_NO_TUNED=1

# sample DIR RECIPE SHAPE [OPTIONS...]: one cold compile in ms, or "-"
sample() {
  local dir=$1 recipe=$2 shape=$3 cache res
  shift 3
  cache=$(mktemp -d /tmp/attnc-cold.XXXXXX)
  res=$(ATTNC_CACHE_DIR=$cache LD_LIBRARY_PATH=$dir/lib timeout "${RUN_TIMEOUT:-120}" "$dir/bin/attnc" bench "$recipe" \
    --shape "$shape" "$@" --json --warmup 0 --iters 1 2>/dev/null | grep '^{' | tail -1)
  rm -rf "$cache"
  python3 -c 'import json,sys
try: print("%.1f" % json.loads(sys.argv[1])["compile_ms"])
except Exception: print("-")' "$res"
}

# stats V...: "median min max n" of the numeric values
stats() { python3 -c 'import statistics,sys
v=sorted(float(x) for x in sys.argv[1:] if x != "-")
print("%.1f %.1f %.1f %d" % (statistics.median(v), v[0], v[-1], len(v)) if v else "- - - 0")' "$@"; }

table=$OUT/cold-compile.md
{
  echo "| case | new median ms (min–max, n) | old median ms (min–max, n) | new/old |"
  echo "|---|---|---|---|"
} > "$table"
grep -v '^\s*#' "$CASES" | grep -v '^\s*$' | while IFS='|' read -r name recipe shape _ extra; do
  name=$(echo $name) recipe=$(echo $recipe) shape=$(echo $shape)
  ns=() os=()
  for _ in $(seq "${SAMPLES:-10}"); do
    # shellcheck disable=SC2086 # extra: more options, split on spaces
    ns+=("$(sample "$NEW" "$recipe" "$shape" $extra)")
    # shellcheck disable=SC2086
    os+=("$(sample "$OLD" "$recipe" "$shape" $extra)")
  done
  read -r nm nlo nhi nn <<< "$(stats "${ns[@]}")"
  read -r om olo ohi on <<< "$(stats "${os[@]}")"
  r=$(python3 -c 'import sys
a,b=sys.argv[1:]
print("%.3f" % (float(a)/float(b)) if "-" not in (a,b) else "-")' "$nm" "$om")
  echo "| $name | $nm ($nlo–$nhi, $nn) | $om ($olo–$ohi, $on) | $r |" >> "$table"
done
cat "$table"
