#!/usr/bin/env bash
# count-pairs.sh — time attnc's exact host-side pair count (`attnc bench
# --pairs-only`: no GPU, no driver) for every case of bench/cases.txt; a
# table of the count's time, the process's wall time, kept pairs and how
# they were counted prints. A case over the timeout prints "timeout".
# usage: bench/count-pairs.sh [ATTNC_BINARY] [CASES_FILE]
#   env: COUNT_TIMEOUT (s per case, default 120), ARCH (default sm_90a),
#        BWD_SCHEDULE (also count the backward's dK/dV tiles under it, e.g.
#        "q=64 kv=64 (dK/dV kv=128)"; sequence recipes only)
set -u
cd "$(dirname "$0")/.."
BIN=${1:-build/bin/attnc} CASES=${2:-bench/cases.txt}
export ATTNC_NO_TUNED=${ATTNC_NO_TUNED:-1}
printf '%-17s %-34s %10s %9s %16s %s\n' case shape count_ms wall_s kept_pairs counted
while IFS='|' read -r name recipe shape anchor opts; do
  trim() { sed 's/^[[:space:]]*//; s/[[:space:]]*$//' <<<"$1"; }
  name=$(trim "$name") recipe=$(trim "$recipe") shape=$(trim "$shape")
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  extra=()
  if [ -n "${BWD_SCHEDULE:-}" ] && ! grep -q '^tokens grid' "$recipe"; then extra=(--bwd-schedule "$BWD_SCHEDULE"); fi
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  res=$(timeout "${COUNT_TIMEOUT:-120}" "$BIN" bench "$recipe" --shape "$shape" ${opts:-} --pairs-only \
    --arch "${ARCH:-sm_90a}" --json "${extra[@]}" 2>/dev/null | grep '^{' | tail -1)
  rc=$?
  wall=$(python3 -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$t0" "$(date +%s.%N)")
  python3 -c 'import json, sys
name, shape, wall, res = sys.argv[1:5]
try:
    d = json.loads(res)
    bwd = " bwd %.1f ms" % d["bwd_count_ms"] if "bwd_count_ms" in d else ""
    print("%-17s %-34s %10.1f %9s %16d %s%s" % (name, shape, d["count_ms"], wall, d["kept_pairs"], d["pair_count"], bwd))
except Exception:
    print("%-17s %-34s %10s %9s %16s %s" % (name, shape, "-", wall, "-", "timeout or error"))' "$name" "$shape" "$wall" "$res"
done < "$CASES"
