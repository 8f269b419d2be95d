#!/usr/bin/env bash
# Device call 61 (2026-12-06): what is owed. (1) the D=256 backward (mma.sync dK/dV, spills; never timed) beside
# SDPA's FA2 and cuDNN backward at the same shape; (2) compute-sanitizer racecheck of the peeled first tile
# (forward causal and causal documents) and of the deferred dQ (ATTNC_BWD_DQ_DEFER=1, dense and causal backward).
#   OUT=dir bash bench/runs/2026-12-06/run61.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_PEEL_FIRST ATTNC_BWD_DQ_DEFER
R=bench/recipes A=/tmp/pk/bin/attnc SAN=/usr/local/cuda/bin/compute-sanitizer
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
row() { local rc=$1 sh=$2 e=$3; shift 3; local r; r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 10 --iters 50 "$@" 2>&1)
  printf '%-14s %-28s %-8s %s\n' "$(basename $rc .attn)" "$sh" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -4 | tr '\n' ' ')"; }
el d256
printf 'recipe causal_d256\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\nmask   causal\ntile   auto\n' > /tmp/causal_d256.attn
{ row /tmp/causal_d256.attn batch=1,heads=16,tokens=8192 X=1; row /tmp/causal_d256.attn batch=1,heads=16,tokens=8192 X=1 --grad
  row recipes/softcap.attn batch=1,heads=16,tokens=8192 X=1 --grad
  timeout 90 python3 - <<'PY'
import torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
from triton.testing import do_bench
q, k, v = [torch.randn(1, 16, 8192, 256, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3)]
fl = 4 * 256 * 8192 * 8193 / 2 * 16
for name, be in (("sdpa_flash2", SDPBackend.FLASH_ATTENTION), ("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION)):
    try:
        with sdpa_kernel(be):
            ms = do_bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True), warmup=5, rep=100)
            print(f"causal_d256 N=8192 {name}_fwd {ms:.3f} ms {fl/ms/1e9:.1f} TFLOP/s")
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        g = torch.randn_like(o); o.backward(g, retain_graph=True)
        ms = do_bench(lambda: o.backward(g, retain_graph=True), warmup=5, rep=100, grad_to_none=[q, k, v])
        print(f"causal_d256 N=8192 {name}_bwd {ms:.3f} ms {2.5*fl/ms/1e9:.1f} TFLOP/s")
    except Exception as e:
        print(name, "error", str(e)[:150])
PY
} 2>&1 | tee $OUT/d256.txt
el racecheck
rc_one() { local tag=$1 e=$2 rc=$3 sh=$4; shift 4
  env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $SAN --tool racecheck --error-exitcode 9 --print-limit 10 \
    $A run $rc --backend cuda --shape $sh "$@" > $OUT/san_$tag.txt 2>&1
  echo "racecheck $tag rc=$? $(grep -h 'RACECHECK SUMMARY\|ERROR SUMMARY' $OUT/san_$tag.txt | tail -1)"; }
{ rc_one fwd_causal X=1 $R/causal_d128.attn batch=1,heads=2,tokens=777
  rc_one fwd_doc X=1 $R/doc_causal.attn batch=1,heads=2,tokens=3000
  rc_one bwd_dense_defer ATTNC_BWD_DQ_DEFER=1 $R/dense_d128.attn batch=1,heads=2,tokens=1000 --grad
  rc_one bwd_causal_defer ATTNC_BWD_DQ_DEFER=1 $R/causal_d128.attn batch=1,heads=2,tokens=777 --grad
} 2>&1 | tee $OUT/racecheck.txt
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $OUT/gpu.txt 2>&1
el done
