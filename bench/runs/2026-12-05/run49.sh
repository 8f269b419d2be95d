#!/usr/bin/env bash
# Device call 49 (prepared 2026-12-05, not yet run): the experimental dynamic item schedule of persistent blocks
# (ATTNC_PERSIST_DYNAMIC=1, codegen/nvptx_fa2_persist.c fetch_item) against the static snake and the plain grid.
#  tests  test_gpu_persist (its persist_dynamic part sets the switch and launches each kernel twice: each launch
#         must leave the counter at 0 for the next),
#         racecheck and memcheck of its causal and empty-item cases, `attnc run --check` on causal shapes no tile
#         divides under persist=1 with the switch (B=3 N=1000, B=8 N=8192 H=2);
#  bench  causal B=8 N=8192, B=2 N=8192, N=16384, B=16 N=4096, dense B=2 N=8192, sinks(4) || window 2047 N=32768:
#         default, persist=1 (static) and persist=1 with the switch; two rounds.
# Package: .device-all/main.tar.xz = main (scripts/pack-device.sh build-dev, tar of .device).
#  gna    HunyuanVideo GNA default / overlap=1 / persist static / persist dynamic, and dense on its tokens.
#  docs   two experiments of 2026-12-05 evening, never run: the cut table shared across heads (ATTNC_DOC_TABLE=1,
#         nvptx_fa2_doc_table.c) and persistent documents (persist=1 with a document cut; the producer warpgroup's
#         warps 1-3 scan ahead, nvptx_fa2_persist.c fa2_items_scan): test_gpu_documents' table and persist parts,
#         `attnc run --check` at N=20000 (8 documents at random cuts; runs of recurring ids), racecheck + memcheck
#         at N=3000, each under table / persist static / persist dynamic; bench 8 / 64 / 1 documents at N=65536:
#         default, table, persist static, persist dynamic (two rounds).
#   Two calls (each under 10 min):  PARTS=docs OUT=dir bash bench/runs/2026-12-05/run49.sh
#                                   PARTS="tests bench gna" OUT=dir bash bench/runs/2026-12-05/run49.sh
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP ATTNC_PERSIST_DYNAMIC
R=bench/recipes T=/tmp/pk/tests/gpu SAN=/usr/local/cuda/bin/compute-sanitizer
P="q=128 kv=128 stages=2 warps=8 overlap=1 persist=1"
PARTS=${PARTS:-tests bench gna docs}
if [[ $PARTS == *docs* ]]; then
el docs
for part in table persist; do
  ( ATTNC_TEST_DOC=$part ATTNC_CACHE_DIR=$(mktemp -d) timeout 150 $T/test_gpu_test_gpu_documents > $OUT/t_docs_$part.txt 2>&1
    echo "rc=$?" >> $OUT/t_docs_$part.txt ) &
done; wait
for part in table persist; do
  echo "docs $part: $(grep -c '^\[PASS\]' $OUT/t_docs_$part.txt) PASS, $(grep -c '^\[FAIL' $OUT/t_docs_$part.txt) FAIL, $(tail -1 $OUT/t_docs_$part.txt)"
  grep -m5 '^\[FAIL' $OUT/t_docs_$part.txt | cut -c1-300
done | tee $OUT/tests_docs.txt
D=/tmp/docids; mkdir -p $D
python3 - <<'PY'
import numpy as np
r = np.random.default_rng(7)
for n in (20000, 3000):
    cut = np.sort(r.choice(np.arange(1, n), 7, replace=False))
    np.save(f'/tmp/docids/rand{n}.npy', np.searchsorted(cut, np.arange(n), side='right').astype(np.int32)[None].repeat(2 if n == 3000 else 1, 0))
    out = np.empty(n, np.int32); i = 0
    while i < n:
        l = int(r.integers(1, n // 6)); out[i:i+l] = r.choice([3, 5, 9]); i += l
    np.save(f'/tmp/docids/recur{n}.npy', out[None].repeat(2 if n == 3000 else 1, 0))
PY
# modes: s = persist static, d = persist dynamic, t = the cut table on the default schedule
ck() { case $1 in s) echo "X=1";; d) echo "ATTNC_PERSIST_DYNAMIC=1";; t) echo "ATTNC_DOC_TABLE=1";; esac; }
for m in s d t; do for f in rand20000 recur20000; do
  ( sc=$P; [ $m = t ] && sc=""
    env $(ck $m) ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 /tmp/pk/bin/attnc run recipes/document.attn --backend cuda \
      --check --shape batch=1,heads=4,tokens=20000 --param doc=@$D/$f.npy ${sc:+--schedule "$sc"} > $OUT/t_dck_${m}_$f.txt 2>&1
    echo "exit $?" >> $OUT/t_dck_${m}_$f.txt ) &
done; done; wait
for f in $OUT/t_dck_*.txt; do echo "$(basename $f .txt): $(grep -iE 'check|max|error|sched' $f | tr '\n' ' ' | cut -c1-220) $(tail -1 $f)"; done | tee -a $OUT/tests_docs.txt
for tool in ${SAN_TOOLS:-racecheck memcheck}; do for m in ${SAN_MODES:-s d t}; do
  sc=$P; [ $m = t ] && sc=""
  env $(ck $m) ATTNC_CACHE_DIR=$(mktemp -d) timeout 80 $SAN --tool $tool --error-exitcode 9 --print-limit 10 \
    /tmp/pk/bin/attnc run recipes/document.attn --backend cuda --shape batch=2,heads=2,tokens=3000 --param doc=@$D/recur3000.npy \
    ${sc:+--schedule "$sc"} > $OUT/san_docs_${tool}_$m.txt 2>&1
  echo "$tool docs $m rc=$? $(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' $OUT/san_docs_${tool}_$m.txt | tail -1)" | tee -a $OUT/tests_docs.txt
done; done
for round in 1 2; do
  for d in 8 64 1; do
    for m in default table static dynamic; do
      case $m in default) e=X=1 sc="" ;; table) e=ATTNC_DOC_TABLE=1 sc="" ;; static) e=X=1 sc="$P" ;;
                 dynamic) e=ATTNC_PERSIST_DYNAMIC=1 sc="$P" ;; esac
      r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 /tmp/pk/bin/attnc bench $R/doc_causal.attn --shape batch=1,heads=16,tokens=65536 \
          --docs $d --warmup 5 --iters 30 ${sc:+--schedule "$sc"} 2>&1)
      printf '%-12s docs=%-3s %-8s %s\n' doc_causal $d $m "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"
    done
  done
done | tee $OUT/docs.txt
fi
[[ $PARTS == *tests* ]] || { el done; exit 0; }
el tests
ATTNC_CACHE_DIR=$(mktemp -d) timeout 200 $T/test_gpu_test_gpu_persist > $OUT/t_persist_dyn.txt 2>&1
echo "rc=$?" >> $OUT/t_persist_dyn.txt
echo "persist (static and dynamic): $(grep -cE '^\[PASS\]|^\[       OK' $OUT/t_persist_dyn.txt) PASS/OK, $(grep -cE '^\[FAIL|^\[  FAILED' $OUT/t_persist_dyn.txt) FAIL, $(tail -1 $OUT/t_persist_dyn.txt)" | tee $OUT/tests.txt
for tool in racecheck memcheck; do for c in causal empty_items; do
  ATTNC_PERSIST_DYNAMIC=1 ATTNC_TEST_CASE=$c ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $SAN --tool $tool --error-exitcode 9 \
    --print-limit 10 $T/test_gpu_test_gpu_persist > $OUT/san_${tool}_$c.txt 2>&1
  echo "$tool $c rc=$? $(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' $OUT/san_${tool}_$c.txt | tail -1)" | tee -a $OUT/tests.txt
done; done
for sh in batch=3,heads=2,tokens=1000 batch=8,heads=2,tokens=8192; do
  ATTNC_PERSIST_DYNAMIC=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 /tmp/pk/bin/attnc run $R/causal_d128.attn --backend cuda \
    --check --shape $sh --schedule "$P" > $OUT/t_ck_$sh.txt 2>&1
  echo "check $sh exit $? $(grep -iE 'check o|check lse' $OUT/t_ck_$sh.txt | tr '\n' ' ' | cut -c1-160)" | tee -a $OUT/tests.txt
done
el bench
row() { local rc=$1 sh=$2 mode=$3; local r
  case $mode in
    default) r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 /tmp/pk/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 2>&1) ;;
    static) r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 /tmp/pk/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 --schedule "$P" 2>&1) ;;
    dynamic) r=$(ATTNC_PERSIST_DYNAMIC=1 ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 /tmp/pk/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 --schedule "$P" 2>&1) ;;
  esac
  printf '%-16s %-32s %-8s %s\n' "$(basename $rc .attn)" "$sh" $mode "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
for round in 1 2; do
  for sh in batch=8,heads=16,tokens=8192 batch=2,heads=16,tokens=8192 batch=1,heads=16,tokens=16384 batch=16,heads=16,tokens=4096; do
    for m in default static dynamic; do row $R/causal_d128.attn $sh $m; done
  done
  for m in default static dynamic; do row $R/dense_d128.attn batch=2,heads=16,tokens=8192 $m; done
  for m in default dynamic; do row $R/sinks_swa_w2047.attn batch=1,heads=16,tokens=32768 $m; done
done | tee $OUT/persist.txt
el gna
# HunyuanVideo GNA (issue 17: 0.92-0.94 of dense, goal 0.95): per-item prologue/epilogue is a larger share of its
# 81-tile loops, which persistent blocks overlap. Dense on the same tokens as the yardstick.
G="q=2x8x8 kv=2x8x8 stages=2 warps=8 overlap=1"
grow() { local mode=$1 sc=$2 e=$3; local r
  r=$(env $e ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 /tmp/pk/bin/attnc bench $R/hunyuan_gna.attn --shape batch=1,heads=24,T=30,H=48,W=80 --warmup 3 --iters 20 ${sc:+--schedule "$sc"} 2>&1)
  printf '%-16s %-10s %s\n' hunyuan_gna $mode "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
for round in 1 2; do
  grow default "" X=1; grow overlap1 "$G" X=1; grow static "$G persist=1" X=1; grow dynamic "$G persist=1" ATTNC_PERSIST_DYNAMIC=1
  grow dyn_st3 "${G/stages=2/stages=3} persist=1" ATTNC_PERSIST_DYNAMIC=1
done | tee $OUT/gna.txt
r=$(ATTNC_CACHE_DIR=$(mktemp -d) timeout 120 /tmp/pk/bin/attnc bench $R/dense_d128.attn --shape batch=1,heads=24,tokens=115200 --warmup 2 --iters 10 2>&1)
echo "dense_d128 115200 $(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')" | tee -a $OUT/gna.txt
el done
