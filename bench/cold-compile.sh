#!/usr/bin/env bash
# cold-compile.sh — cold compile (recipe text to a loaded module) of each
# benchmark recipe, REPEATS fresh processes each (`attnc bench --json`: the
# CUDA context is made before the clock, the driver's JIT cache is off, no
# attnc cache is involved; the default schedule, ATTNC_NO_TUNED=1). Prints one
# line per run and a table of median and worst per recipe (GPU machine).
# usage: bench/cold-compile.sh ATTNC [REPEATS]   (default 3)
set -u
attnc=$1 repeats=${2:-3}
export ATTNC_NO_TUNED=1
declare -A shape=([na2d_k17]=batch=1,heads=2,H=32,W=32 [na3d_k7x13x13]=batch=1,heads=2,T=8,H=16,W=16)
runs=$(mktemp)
for i in $(seq "$repeats"); do
  for f in bench/recipes/*.attn; do
    n=$(basename "$f" .attn)
    line=$("$attnc" bench "$f" --shape "${shape[$n]:-batch=1,heads=2,tokens=1024}" --json --warmup 1 --iters 3 2>&1 |
      grep '^{' | tail -1)
    echo "$n ${line:-FAILED}" | tee -a "$runs" | sed -E 's/ \{.*"compile_ms": ([0-9.]+), "jit_ms": ([0-9.]+), "codegen_ms": ([0-9.]+).*/ compile \1 codegen \3 jit \2/'
  done
done
python3 - "$runs" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, _, js = line.partition(' ')
    try:
        d = json.loads(js)
    except ValueError:
        rows.setdefault(name, []).append(None); continue
    rows.setdefault(name, []).append((d['compile_ms'], d['codegen_ms'], d['jit_ms']))
print('| recipe | cold compile ms, median | worst | codegen ms, median | driver JIT + load ms, median | runs |')
print('|---|---|---|---|---|---|')
for name, rs in sorted(rows.items()):
    ok = [r for r in rs if r]
    if not ok:
        print(f'| {name} | FAILED | | | | {len(rs)} |'); continue
    med = lambda k: statistics.median(r[k] for r in ok)
    print(f'| {name} | {med(0):.0f} | {max(r[0] for r in ok):.0f} | {med(1):.0f} | {med(2):.0f} | {len(ok)}/{len(rs)} |')
PY
rm -f "$runs"
