#!/usr/bin/env bash
# compile-all.sh — cold build of every recipe (recipes/ and bench/recipes/)
# through the API on the CUDA backend: `attnc bench FILE --compile-timings
# --repeats R --json` (recipe text to a launchable kernel, empty cache folder,
# driver JIT cache off, CUDA context made before the clock; the medians of R
# rounds). Prints a table (GPU machine).
# usage: bench/compile-all.sh ATTNC [REPEATS]   (default 3)
set -u
attnc=$1 repeats=${2:-3}
export ATTNC_NO_TUNED=1
echo '| recipe | cold ms, median | cold ms, min | disk-cache load ms | schedule |'
echo '|---|---|---|---|---|'
for f in recipes/*.attn bench/recipes/*.attn; do
  line=$("$attnc" bench "$f" --compile-timings --backend cuda --repeats "$repeats" --json 2>&1 | grep '^{' | tail -1)
  python3 - "$f" "$line" <<'PY'
import json, sys
f, line = sys.argv[1], sys.argv[2]
try:
    d = json.loads(line)
    print(f"| {f} | {d['cold_ms']:.0f} | {d['cold_ms_min']:.0f} | {d['disk_ms']:.3f} | {d.get('schedule', '')} |")
except Exception:
    print(f"| {f} | FAILED | | | |")
PY
done
