#!/usr/bin/env bash
# old-vs-new.sh — benchmark two attnc builds side by side in one GPU run, so a
# change can be checked for speed regressions: every case of bench/cases.txt
# runs with the new and the old build alternately (new, old, new, old: the
# best of two runs each, so clock drift hits both), and a table of times,
# rates and speed ratios prints (also written to $OUT/old-vs-new.md). The
# ratio is old time / new time (above 1: new is faster), so it holds where the
# two builds report different rates (linear recipes: GB/s now, TFLOP/s before).
# usage: bench/old-vs-new.sh NEW_DEVICE_DIR OLD_DEVICE_DIR [CASES_FILE]
#   env: WARMUP, ITERS (attnc bench --warmup/--iters; default 10 and 30), RUN_TIMEOUT (s per run, 300),
#        ROUNDS (2: new, old, new, old; 1 halves the time)
#   (each dir is a scripts/pack-device.sh folder: lib/ and bin/attnc)
set -u
cd "$(dirname "$0")/.."
NEW=$1 OLD=$2 CASES=${3:-bench/cases.txt}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
# the kernel cache stays out of $OUT (the device tool returns a limited number of files)
export ATTNC_CACHE_DIR=${ATTNC_CACHE_DIR:-$(mktemp -d /tmp/attnc-ovn.XXXXXX)} ATTNC_NO_TUNED=1

# one DIR RECIPE SHAPE [OPTIONS...]: prints "median-ms rate cold-compile-ms" of one `attnc bench` run
# (rate: TFLOP/s, or GB/s for linear recipes), or "- - -"
one() {
  local res
  local dir=$1 recipe=$2 shape=$3
  shift 3
  res=$(LD_LIBRARY_PATH=$dir/lib timeout "${RUN_TIMEOUT:-300}" "$dir/bin/attnc" bench "$recipe" --shape "$shape" "$@" --json \
    --warmup "${WARMUP:-10}" --iters "${ITERS:-30}" 2>/dev/null | grep '^{' | tail -1)
  python3 -c 'import json,sys
try:
    d = json.loads(sys.argv[1])
    print("%.4f %.1f %.1f" % (d["time_ms"], d.get("tflops", d.get("gb_per_s", 0)), d["compile_ms"]))
except Exception: print("- - -")' "$res"
}

best() { python3 -c 'import sys
v=[float(x) for x in sys.argv[1:] if x != "-"]
print("%.1f" % max(v) if v else "-")' "$@"; }
least() { python3 -c 'import sys
v=[float(x) for x in sys.argv[1:] if x != "-"]
print("%.4g" % min(v) if v else "-")' "$@"; }
ratio() { python3 -c 'import sys
a,b=sys.argv[1:]
print("%.3f" % (float(a)/float(b)) if "-" not in (a,b) and float(b) > 0 else "-")' "$1" "$2"; }

table=$OUT/old-vs-new.md
{
  echo "| case | shape | new ms | old ms | speed new/old | new rate | old rate | new cold compile ms | old | new/old |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
} > "$table"
grep -v '^\s*#' "$CASES" | grep -v '^\s*$' | while IFS='|' read -r name recipe shape _ extra; do
  name=$(echo $name) recipe=$(echo $recipe) shape=$(echo $shape)
  nt=() nr=() nc=() ot=() orr=() oc=()
  for _round in $(seq "${ROUNDS:-2}"); do
    # shellcheck disable=SC2086 # extra: more options, split on spaces
    read -r t r c <<< "$(one "$NEW" "$recipe" "$shape" $extra)"; nt+=("$t") nr+=("$r") nc+=("$c")
    # shellcheck disable=SC2086
    read -r t r c <<< "$(one "$OLD" "$recipe" "$shape" $extra)"; ot+=("$t") orr+=("$r") oc+=("$c")
  done
  n=$(least "${nt[@]}") o=$(least "${ot[@]}") ncm=$(least "${nc[@]}") ocm=$(least "${oc[@]}")
  echo "| $name | $shape | $n | $o | $(ratio "$o" "$n") | $(best "${nr[@]}") | $(best "${orr[@]}") | $ncm | $ocm | $(ratio "$ncm" "$ocm") |" >> "$table"
done
cat "$table"
