#!/usr/bin/env bash
# Device call 55 (2026-12-06): run53 and run54 in one call, in priority order, each later part only while time is
# left (starts were scarce: every part of a short call should still close something):
#   1 tests (in parallel): the document cut table on non-causal document recipes (test_gpu_documents' forward part,
#     test_gpu_overlap's documents, test_gpu_varlen); test_gpu_backward under wgmma:prodd (ATTNC_BWD_DQ_DEFER=1);
#     `attnc run --check --grad` with the switch on shapes no tile divides
#   2 issue 17's rows (sinks + window, 8 and 64 documents, the grids) and bench/anchors.py --sparse (at most 150 s)
#   3 backward --grad default vs ATTNC_BWD_DQ_DEFER=1 (dense / causal D=128 at 16384 and 2x8192, window 1024; two
#     rounds on the 16384 rows), then the D=256 backward beside SDPA's
#   4 racecheck of the switch (dense, causal)
#   OUT=dir [LIMIT=s] bash bench/runs/2026-12-06/run55.sh   (.device-all/main.tar.xz = scripts/pack-device.sh build-dev)
set -u
LIMIT=${LIMIT:-585} TCAP=${TCAP:-170} # TCAP: each test's cap; seconds this call may take; the later parts start only while enough is left
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }; left() { [ $(( $(date +%s) - t0 )) -lt $1 ]; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP ATTNC_PERSIST_DYNAMIC ATTNC_DOC_TABLE ATTNC_FULL_RANGE ATTNC_BWD_DQ_DEFER ATTNC_BWD_PIPE
R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu SAN=/usr/local/cuda/bin/compute-sanitizer
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $OUT/gpu.txt 2>&1
el tests
bg() { local name=$1 cap=$2; shift 2; ( env ATTNC_CACHE_DIR=$(mktemp -d) "$@" timeout $cap stdbuf -oL $T/test_gpu_test_gpu_$name > $OUT/t_$name.txt 2>&1; echo "rc=$?" >> $OUT/t_$name.txt ) & }
bg documents $TCAP ATTNC_TEST_DOC=fwd
bg overlap $TCAP ATTNC_TEST_PART=documents
bg varlen $TCAP X=1
bg backward $TCAP ATTNC_TEST_BWD_MODE=wgmma:prodd
runchecks() { for spec in "recipes/causal.attn batch=2,heads=3,tokens=300" "recipes/dense.attn batch=1,heads=2,tokens=1" \
    "$R/dense_d128.attn batch=1,heads=4,tokens=4097" "$R/causal_d128.attn batch=2,heads=4,tokens=1000" \
    "recipes/gqa.attn batch=2,heads=8,kv_heads=2,tokens=333" "recipes/sinks_window.attn batch=1,heads=2,tokens=3000" \
    "$R/swa_w1024.attn batch=1,heads=2,tokens=5000" "recipes/document.attn batch=1,heads=2,tokens=3000"; do
    set -- $spec
    out=$(ATTNC_BWD_DQ_DEFER=1 timeout 60 $A run $1 --backend cuda --check --grad --shape $2 2>&1); rc=$?
    echo "$1 $2: exit $rc $(echo "$out" | grep -iE 'sched|rel|mismatch' | tr '\n' ' ' | cut -c1-300)"; done; }
( ATTNC_CACHE_DIR=$(mktemp -d) runchecks > $OUT/t_runcheck.txt 2>&1 ) &
wait
for f in documents overlap varlen backward; do
  echo "$f: $(grep -c '^\[PASS\]\|^\[       OK \]' $OUT/t_$f.txt) pass/ok, $(grep -c 'FAIL' $OUT/t_$f.txt) FAIL-lines, deferred $(grep -c 'dQ deferred' $OUT/t_$f.txt), $(tail -1 $OUT/t_$f.txt)"
  grep -m6 'FAIL' $OUT/t_$f.txt | cut -c1-300
done | tee $OUT/tests.txt
cat $OUT/t_runcheck.txt | tee -a $OUT/tests.txt
row() { local rc=$1 sh=$2 e=$3; shift 3; local r
  r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $A bench $rc --shape $sh --warmup 5 --iters 20 "$@" 2>&1)
  printf '%-16s %-30s %-28s %-8s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|dQ deferred|visited/kept[^,]*|error.*' | head -8 | tr '\n' ' ')"; }
if [ "${SHORT:-0}" = 0 ]; then  # SHORT=1: tests and the four 16384-token backward rows only
el issue17
for round in 1 2; do
  row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 X=1
  row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 8
  row $R/causal_d128.attn batch=8,heads=16,tokens=8192 X=1
done 2>&1 | tee $OUT/attnc_sparse.txt
row $R/doc_causal.attn batch=1,heads=16,tokens=65536 X=1 --docs 64 | tee -a $OUT/attnc_sparse.txt
for c in "$R/flux_gna.attn batch=1,heads=24,H=256,W=256" "$R/dense_d128.attn batch=1,heads=24,tokens=65536" \
         "$R/hunyuan_gna.attn batch=1,heads=24,T=30,H=48,W=80" "$R/flux_na.attn batch=1,heads=24,H=256,W=256" \
         "$R/hunyuan_na.attn batch=1,heads=24,T=30,H=48,W=80" "$R/dense_d128.attn batch=1,heads=24,tokens=115200"; do
  left $(( LIMIT - 150 )) && { set -- $c; row $1 $2 X=1; }; done | tee $OUT/attnc_grids.txt
left $(( LIMIT - 90 )) && {
el anchors
OUT=$OUT timeout $(( LIMIT - 60 - ( $(date +%s) - t0 ) < 150 ? LIMIT - 60 - ( $(date +%s) - t0 ) : 150 )) python3 bench/anchors.py --sparse > $OUT/anchors_sparse.log 2>&1; echo "rc=$?"
python3 - <<'PY' | tee $OUT/anchors_table.txt
import json, os
p = os.path.join(os.environ["OUT"], "anchors.jsonl")
for l in (open(p) if os.path.exists(p) else []):
    r = json.loads(l); print(f'{r.get("case"):34} {r.get("impl"):22} N={r.get("N")} ms={r.get("ms", "-")} tflops={round(r["tflops"],1) if "tflops" in r else r.get("error","-")}')
PY
}
fi
left $(( LIMIT - 90 )) || { el "stop: no time for the backward rows"; exit 0; }
el bench-bwd
rows="$R/causal_d128.attn:batch=1,heads=16,tokens=16384 $R/dense_d128.attn:batch=1,heads=16,tokens=16384"
[ "${SHORT:-0}" = 0 ] && rows="$rows $R/causal_d128.attn:batch=2,heads=16,tokens=8192 $R/dense_d128.attn:batch=2,heads=16,tokens=8192 $R/swa_w1024.attn:batch=1,heads=16,tokens=16384 $R/causal_d128.attn:batch=1,heads=16,tokens=16384 $R/dense_d128.attn:batch=1,heads=16,tokens=16384"
for c in $rows; do
  set -- ${c/:/ }; row $1 $2 X=1 --grad; row $1 $2 ATTNC_BWD_DQ_DEFER=1 --grad
done | tee $OUT/bwd.txt
{ [ "${SHORT:-0}" = 0 ] && left $(( LIMIT - 60 )); } || { el "stop: no time for D=256"; exit 0; }
el d256  # D=256 backward (mma.sync dK/dV, spills): never timed; SDPA's FA2 backward in the same run
printf 'recipe causal_d256\ninput  q, k, v : bf16 [batch, heads, tokens, 256]\nmask   causal\ntile   auto\n' > /tmp/causal_d256.attn
{ row /tmp/causal_d256.attn batch=1,heads=16,tokens=8192 X=1 --grad; row recipes/softcap.attn batch=1,heads=16,tokens=8192 X=1 --grad
  timeout 60 python3 - <<'PY'
import torch, torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
from triton.testing import do_bench
q, k, v = [torch.randn(1, 16, 8192, 256, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3)]
for name, be in (("sdpa_flash2", SDPBackend.FLASH_ATTENTION), ("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION)):
    try:
        with sdpa_kernel(be):
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        g = torch.randn_like(o); o.backward(g, retain_graph=True)
        ms = do_bench(lambda: o.backward(g, retain_graph=True), warmup=5, rep=100, grad_to_none=[q, k, v])
        print(f"causal_d256 N=8192 {name}_bwd {ms:.3f} ms {2.5*4*256*8192*8193/2*16/ms/1e9:.1f} TFLOP/s")
    except Exception as e:
        print(name, "error", str(e)[:150])
PY
} 2>&1 | tee $OUT/d256.txt
left $(( LIMIT - 100 )) || { el "stop: no time for racecheck"; exit 0; }
el racecheck
for r in "$R/dense_d128.attn batch=1,heads=2,tokens=1000" "$R/causal_d128.attn batch=1,heads=2,tokens=777"; do
  set -- $r
  ATTNC_BWD_DQ_DEFER=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 60 $SAN --tool racecheck --error-exitcode 9 --print-limit 10 \
    $A run $1 --backend cuda --grad --shape $2 > $OUT/san_$(basename $1 .attn).txt 2>&1
  echo "racecheck $(basename $1) rc=$? $(grep -h 'RACECHECK SUMMARY\|ERROR SUMMARY' $OUT/san_$(basename $1 .attn).txt | tail -1)" | tee -a $OUT/tests.txt
done
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv >> $OUT/gpu.txt 2>&1
el done
