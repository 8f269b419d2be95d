set -u
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
R=bench/recipes A=/tmp/pk/bin/attnc
nvidia-smi --query-gpu=name --format=csv,noheader
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 20 --iters 100 "$@" 2>&1)
  printf '%-12s %-28s %-22s %-9s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"; }
for round in 1 2 3; do
  for e in X=1 ATTNC_EXP_ONE_STORE=1; do row $R/causal_d128.attn batch=8,heads=16,tokens=8192 $e; done
  for e in X=1 ATTNC_EXP_ONE_STORE=1; do row $R/doc_causal.attn batch=1,heads=16,tokens=65536 $e --docs 8; done
  for e in X=1 ATTNC_EXP_ONE_STORE=1; do row $R/dense_d128.attn batch=1,heads=16,tokens=16384 $e; done
done
