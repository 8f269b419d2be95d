#!/usr/bin/env bash
# Device call 8 of 2026-12-04 (main 411eec1): (1) is cuLink what spilled? registers and local bytes of
# the same PTX loaded through cuModuleLoadDataEx and through cuLink (jitprobe.c); (2) ATTNC_JIT=driver
# (now cuModuleLoadDataEx) against ptxas on the bench cases; (3) issue 13's cold compile, new (ptxas by
# default) against e0704c5 (cuLink) where it was slower.   OUT=dir bash bench/runs/2026-12-04/run8.sh
set -u
ROOT=$PWD
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
for n in main old; do rm -rf /tmp/pk_$n; mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
export LD_LIBRARY_PATH=/tmp/pk_main/lib ATTNC_NO_TUNED=1
A=/tmp/pk_main/bin/attnc W=/tmp/jit; mkdir -p $W
gcc -O1 -o $W/jitprobe bench/runs/2026-12-04/jitprobe.c -I/usr/local/cuda/include -lcuda || exit 2
el "1. cuModuleLoadDataEx vs cuLink"
{
for c in "bench/recipes/dense_d128.attn attnc_dense_d128" "bench/recipes/causal_d128.attn attnc_causal_d128"; do
  set -- $c; $A ptx $1 --arch sm_90a -o $W/f.ptx
  for m in ex link; do $W/jitprobe $W/f.ptx $2 $m; done
done
ATTNC_PTXAS=/nonexistent $A compile bench/recipes/causal_d128.attn --aot --backward --arch sm_90a -o $W/aot > /dev/null 2>&1
cp $W/aot/causal_d128_sm_90a.bwd.ptx $W/b.ptx
for kname in $(grep -oE '^\.visible \.entry [a-z_0-9]+' $W/b.ptx | awk '{print $3}'); do for m in ex link; do $W/jitprobe $W/b.ptx $kname $m; done; done
} 2>&1 | tee $OUT/loadex-vs-link.txt
el "2. driver (cuModuleLoadDataEx) vs ptxas"
row() { local mode=$1 recipe=$2 shape=$3; shift 3
  local r; r=$(ATTNC_JIT=$mode ATTNC_CACHE_DIR=$(mktemp -d /tmp/b.XXXX) timeout 90 $A bench $recipe --shape $shape --warmup 5 --iters 20 "$@" 2>&1)
  echo "$(basename $recipe .attn) $shape $* [$mode] $(echo "$r" | grep -oE '[0-9.]+ (TFLOP/s|GB/s)' | head -1) | bwd $(echo "$r" | grep backward | grep -oE 'time [0-9.]+ ms' ) $(echo "$r" | grep backward | grep -oE '[0-9.]+ (TFLOP/s|GB/s)' | head -1) | $(echo "$r" | grep -oE '(ptxas|driver) JIT \+ load [0-9.]+')"; }
cases() {
  echo "bench/recipes/dense_d128.attn batch=1,heads=16,tokens=16384 --grad"
  echo "bench/recipes/causal_d128.attn batch=1,heads=16,tokens=16384 --grad"
  echo "bench/recipes/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768"
  echo "bench/recipes/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 8"
  echo "bench/recipes/causal_d128.attn batch=1,heads=16,tokens=65536 --seqlens 8192x8"
  echo "bench/recipes/swa_w1024.attn batch=1,heads=16,tokens=16384 --grad"
  echo "bench/recipes/flux_na.attn batch=1,heads=24,H=256,W=256"
  echo "bench/recipes/flux_gna.attn batch=1,heads=24,H=256,W=256"
  echo "bench/recipes/dense_d128.attn batch=1,heads=24,tokens=65536"
  echo "bench/recipes/hunyuan_na.attn batch=1,heads=24,T=30,H=48,W=80"
  echo "bench/recipes/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80"
  echo "bench/recipes/dense_d128.attn batch=1,heads=24,tokens=115200"
}
cases | while read -r recipe shape extra; do for mode in driver ptxas; do row $mode $recipe $shape $extra; done; done | tee $OUT/driver-vs-ptxas.txt
el "3. cold compile new vs old"
cat > /tmp/cold.txt <<'C'
lightning2     | recipes/lightning2.attn          | batch=1,heads=16,tokens=16384  | lightning2
gated_linear   | recipes/gated_linear.attn        | batch=1,heads=16,tokens=16384  | lightning2
flux_na        | bench/recipes/flux_na.attn       | batch=1,heads=24,H=256,W=256   | flux_na
flux_gna       | bench/recipes/flux_gna.attn      | batch=1,heads=24,H=256,W=256   | flux_gna
dense_causal   | bench/recipes/causal_d128.attn   | batch=4,heads=16,tokens=4096   | dense_causal
swa_w1024      | bench/recipes/swa_w1024.attn     | batch=1,heads=16,tokens=16384  | swa_causal_w1024
C
SAMPLES=${SAMPLES:-5} RUN_TIMEOUT=40 OUT=$OUT/cold timeout ${COLD_CAP:-200} bash bench/cold-compile.sh /tmp/pk_main /tmp/pk_old /tmp/cold.txt > /tmp/cold.log 2>&1
echo "rc=$?"; cat $OUT/cold/cold-compile.md
el done
