#!/usr/bin/env bash
# Device call 15 of 2026-12-04 (run inline; kept here as run): causal forward under the new build with
# ATTNC_JIT=ptxas and =driver against the old build (e0704c5, cuLink), two rounds.
# OUT=dir bash bench/runs/2026-12-04/run15.sh   (.device-all/{main,old}.tar.xz)
mkdir -p /tmp/pk_main /tmp/pk_old; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; tar -C /tmp/pk_old -xJf .device-all/old.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
row() { local d=$1 m=$2 rcp=$3 sh=$4; r=$(ATTNC_JIT=$m LD_LIBRARY_PATH=$d/lib ATTNC_CACHE_DIR=$(mktemp -d /tmp/b.XXXX) timeout 40 $d/bin/attnc bench $rcp --shape $sh --warmup 5 --iters 30 2>&1); echo "$(basename $d) $m $(basename $rcp .attn) $sh $(echo "$r" | grep -oE '[0-9.]+ TFLOP/s' | head -1) $(echo "$r" | grep -oE 'cold compile[^,]*' | head -1)"; }
for round in 1 2; do for c in "bench/recipes/causal_d64.attn batch=1,heads=32,tokens=16384" "bench/recipes/causal_d64.attn batch=4,heads=32,tokens=4096" "bench/recipes/causal_d128.attn batch=1,heads=16,tokens=16384"; do set -- $c; row /tmp/pk_main ptxas $1 $2; row /tmp/pk_main driver $1 $2; row /tmp/pk_old x $1 $2; done; done 2>&1 | tee $OUT/jitcausal.txt
