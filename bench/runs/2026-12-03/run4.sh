#!/usr/bin/env bash
# Device call 1 of the 06:00 session: issue 14's backward benchmarks beside FlexAttention's backward
# (bench/anchors.py --bwd), and schedule sweeps for HunyuanVideo GNA / FLUX NA (issue 17).
#   OUT=folder bash bench/runs/2026-12-03/run4.sh
set -u
ROOT=$PWD; O=$OUT; mkdir -p $O
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_NO_TUNED=1 ATTNC_CACHE_DIR=$O/cache
A=.device/bin/attnc
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader
b() { # recipe shape [args...]: one line per run
  local r=$1 s=$2; shift 2
  local log=$O/$(basename $r .attn)_$(echo "$s $*" | tr -c 'a-zA-Z0-9' _).log
  timeout 90 $A bench $r --shape $s "$@" > $log 2>&1
  echo "$(basename $r .attn) $s $* rc=$? :: $(sed -n 2p $log | sed 's/(median of [0-9]*, //') $(grep -o 'backward \[.*' $log | sed 's/(median of [0-9]*, //')"
}
echo "== backward (issue 14)"
for c in "causal_d128 batch=1,heads=16,tokens=16384" "dense_d128 batch=1,heads=16,tokens=16384" \
         "causal_d128 batch=2,heads=16,tokens=8192" "dense_d128 batch=2,heads=16,tokens=8192" \
         "swa_w1024 batch=1,heads=16,tokens=16384" "na2d_k17 batch=1,heads=16,H=128,W=128" \
         "na3d_k7x13x13 batch=1,heads=16,T=16,H=32,W=32"; do
  set -- $c; b bench/recipes/$1.attn $2 --grad --warmup 5 --iters 20
done
b recipes/lightning2.attn batch=1,heads=16,tokens=16384 --grad --warmup 5 --iters 20
b recipes/gated_linear.attn batch=1,heads=16,tokens=16384 --grad --warmup 5 --iters 20
echo "== HunyuanVideo GNA sweep (dense on the same tokens first)"
b bench/recipes/dense_d128.attn batch=1,heads=24,tokens=115200 --warmup 3 --iters 10
H=batch=1,heads=24,T=30,H=48,W=80
b bench/recipes/hunyuan_gna.attn $H --warmup 5 --iters 20
for s in "q=2x8x8 kv=4x4x8" "q=4x4x8 kv=4x4x8" "q=4x4x8 kv=2x8x8" "q=2x8x8 kv=8x2x8" "q=2x8x8 kv=2x8x8 stages=3" \
         "q=2x8x8 kv=2x8x8 mma=wgmma_ws" "q=2x8x8 kv=2x4x16"; do
  b bench/recipes/hunyuan_gna.attn $H --schedule "$s" --warmup 5 --iters 20
done
b bench/recipes/dense_d128.attn batch=1,heads=24,tokens=115200 --warmup 3 --iters 10
echo "== FLUX NA sweep"
F=batch=1,heads=24,H=256,W=256
b bench/recipes/flux_na.attn $F --warmup 5 --iters 20
for s in "q=8x16 kv=16x8 mma=wgmma_ws" "q=8x16 kv=8x16" "q=16x8 kv=16x8" "q=8x16 kv=16x8" "q=8x16 kv=16x16" "q=8x16 kv=16x8 stages=3"; do
  b bench/recipes/flux_na.attn $F --schedule "$s" --warmup 5 --iters 20
done
b bench/recipes/dense_d128.attn batch=1,heads=24,tokens=65536 --warmup 3 --iters 10
echo "== anchors --bwd (SDPA, FlexAttention backward)"
timeout 240 python3 bench/anchors.py --bwd > $O/anchors_bwd.jsonl 2> $O/anchors_bwd.err; echo "anchors rc=$?"
python3 - $O/anchors.jsonl <<'PY'
import json,sys
for l in open(sys.argv[1]):
    try: d=json.loads(l)
    except Exception: continue
    print(d.get("case"), d.get("impl"), d.get("N"), "ms=%.3f tflops=%.1f" % (d["ms"], d["tflops"]) if "ms" in d else d.get("error"))
PY
tail -3 $O/anchors_bwd.err
