#!/usr/bin/env bash
# Device call 18 of 2026-12-04: (1) issue 13's cold compile with the same kernel in both builds (recipes
# with a fixed tile, written below) and with the defaults, new against old (e0704c5), SAMPLES=5;
# (2) the new build's cold compile under ATTNC_JIT=ptxas and =driver; (3) issue 17's GNA/dense ratios
# under two iteration counts, alternating, two rounds.
# OUT=dir bash bench/runs/2026-12-04/run18.sh   (.device-all/{main,old}.tar.xz)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mkdir -p /tmp/pk_main /tmp/pk_old; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; tar -C /tmp/pk_old -xJf .device-all/old.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
R=/tmp/fixed; mkdir -p $R
fixed() { # name dtype-line mask-line tile-line
  printf 'recipe %s\ninput q, k, v : bf16 [batch, heads, tokens, 128]\n%s\n%s\n' "$1" "$2" "$3" > $R/$1.attn; }
fixed dense_fixed "" "tile q(128) kv(128) stages 2 warps 8"
fixed causal_fixed "mask causal" "tile q(128) kv(128) stages 2 warps 8"
fixed swa_fixed "mask sliding_window(1023, 0)" "tile q(128) kv(128) stages 2 warps 8"
cat > /tmp/cold_cases.txt <<EOC
dense_fixed  | $R/dense_fixed.attn  | batch=1,heads=16,tokens=16384 | - |
causal_fixed | $R/causal_fixed.attn | batch=1,heads=16,tokens=16384 | - |
swa_fixed    | $R/swa_fixed.attn    | batch=1,heads=16,tokens=16384 | - |
dense        | bench/recipes/dense_d128.attn  | batch=1,heads=16,tokens=16384 | - |
causal       | bench/recipes/causal_d128.attn | batch=1,heads=16,tokens=16384 | - |
flux_gna     | bench/recipes/flux_gna.attn    | batch=1,heads=24,H=256,W=256  | - |
EOC
el "1. cold compile new vs old"
SAMPLES=5 RUN_TIMEOUT=30 timeout 200 bash bench/cold-compile.sh /tmp/pk_main /tmp/pk_old /tmp/cold_cases.txt > /tmp/cold.log 2>&1
el "2. JIT ptxas vs driver (new)"
cold1() { local c; c=$(mktemp -d); ATTNC_JIT=$1 ATTNC_CACHE_DIR=$c LD_LIBRARY_PATH=/tmp/pk_main/lib timeout 30 /tmp/pk_main/bin/attnc bench $2 --shape $3 --json --warmup 0 --iters 1 2>/dev/null | grep '^{' | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["compile_ms"])' 2>/dev/null || echo -; rm -rf $c; }
for rc in "bench/recipes/dense_d128.attn batch=1,heads=16,tokens=16384" "bench/recipes/causal_d128.attn batch=1,heads=16,tokens=16384" "bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256"; do
  set -- $rc; p=(); d=()
  for i in 1 2 3 4 5; do p+=($(cold1 ptxas $1 $2)); d+=($(cold1 driver $1 $2)); done
  echo "$(basename $1 .attn) ptxas ${p[*]} | driver ${d[*]}"
done | tee $OUT/jit.txt
el "3. GNA / dense"
A=/tmp/pk_main/bin/attnc; export LD_LIBRARY_PATH=/tmp/pk_main/lib
row() { local r; r=$(ATTNC_CACHE_DIR=/tmp/gcache timeout 60 $A bench $1 --shape $2 --warmup $3 --iters $4 2>&1); printf '%-14s %-34s w%-2s i%-3s %s\n' "$(basename $1 .attn)" "$2" "$3" "$4" "$(echo "$r" | grep -oE '[0-9.]+ TFLOP/s' | head -1)"; }
for round in 1 2; do for wi in "3 10" "5 30"; do
  row bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256 $wi
  row bench/recipes/dense_d128.attn batch=1,heads=24,tokens=65536 $wi
  row bench/recipes/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80 $wi
  row bench/recipes/dense_d128.attn batch=1,heads=24,tokens=115200 $wi
done; done | tee $OUT/gna.txt
cp /tmp/cold.log $OUT/cold.txt
el done
