#!/usr/bin/env bash
# old-vs-new.sh — benchmark two attnc builds side by side in one GPU run, so a
# change can be checked for speed regressions: every case of bench/cases.txt
# runs with the new and the old build alternately (new, old, new, old: the
# best of two runs each, so clock drift hits both), and a table of TFLOP/s
# and new/old ratios prints (also written to $OUT/old-vs-new.md).
# usage: bench/old-vs-new.sh NEW_DEVICE_DIR OLD_DEVICE_DIR [CASES_FILE]
#   env: WARMUP, ITERS (attnc bench --warmup/--iters; default 10 and 30), RUN_TIMEOUT (s per run, 300)
#   (each dir is a scripts/pack-device.sh folder: lib/ and bin/attnc)
set -u
cd "$(dirname "$0")/.."
NEW=$1 OLD=$2 CASES=${3:-bench/cases.txt}
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
# the kernel cache stays out of $OUT (the device tool returns a limited number of files)
export ATTNC_CACHE_DIR=${ATTNC_CACHE_DIR:-$(mktemp -d /tmp/attnc-ovn.XXXXXX)} ATTNC_NO_TUNED=1

# one DIR RECIPE SHAPE [OPTIONS...]: prints "TFLOP/s cold-compile-ms" of one `attnc bench` run, or "- -"
one() {
  local res
  local dir=$1 recipe=$2 shape=$3
  shift 3
  res=$(LD_LIBRARY_PATH=$dir/lib timeout "${RUN_TIMEOUT:-300}" "$dir/bin/attnc" bench "$recipe" --shape "$shape" "$@" --json \
    --warmup "${WARMUP:-10}" --iters "${ITERS:-30}" 2>/dev/null | grep '^{' | tail -1)
  python3 -c 'import json,sys
try: d = json.loads(sys.argv[1]); print("%.1f %.1f" % (d["tflops"], d["compile_ms"]))
except Exception: print("- -")' "$res"
}

best() { python3 -c 'import sys
v=[float(x) for x in sys.argv[1:] if x != "-"]
print("%.1f" % max(v) if v else "-")' "$@"; }
least() { python3 -c 'import sys
v=[float(x) for x in sys.argv[1:] if x != "-"]
print("%.1f" % min(v) if v else "-")' "$@"; }
ratio() { python3 -c 'import sys
a,b=sys.argv[1:]
print("%.3f" % (float(a)/float(b)) if "-" not in (a,b) and float(b) > 0 else "-")' "$1" "$2"; }

table=$OUT/old-vs-new.md
{
  echo "| case | shape | new TFLOP/s | old TFLOP/s | new/old | new cold compile ms | old | new/old |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$table"
grep -v '^\s*#' "$CASES" | grep -v '^\s*$' | while IFS='|' read -r name recipe shape _ extra; do
  name=$(echo $name) recipe=$(echo $recipe) shape=$(echo $shape)
  # shellcheck disable=SC2086 # extra: more options, split on spaces
  read -r n1 nc1 <<< "$(one "$NEW" "$recipe" "$shape" $extra)"; read -r o1 oc1 <<< "$(one "$OLD" "$recipe" "$shape" $extra)"
  # shellcheck disable=SC2086
  read -r n2 nc2 <<< "$(one "$NEW" "$recipe" "$shape" $extra)"; read -r o2 oc2 <<< "$(one "$OLD" "$recipe" "$shape" $extra)"
  n=$(best "$n1" "$n2") o=$(best "$o1" "$o2") nc=$(least "$nc1" "$nc2") oc=$(least "$oc1" "$oc2")
  echo "| $name | $shape | $n | $o | $(ratio "$n" "$o") | $nc | $oc | $(ratio "$nc" "$oc") |" >> "$table"
done
cat "$table"
