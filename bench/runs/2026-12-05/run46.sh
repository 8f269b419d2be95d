#!/usr/bin/env bash
# Device call 46 (2026-12-05): branch doc-diag against main 3be4fcf. The branch: a partial tile inside the query
# tile's document (the diagonal tile of causal documents) takes the mask without its id filter (kv_range span_mask,
# nvptx_fa2.c mask_documents_into: no id loads), and under TMA Q's copy is issued before the document scan
# (nvptx_fa2_ws.c fa2_ws_issue_q_early).
#  tests  (diag) test_gpu_documents, test_gpu_overlap's documents part, test_gpu_varlen, `attnc run --check [--grad]`
#         on 8 documents at random boundaries and on recurring ids (N=16384, in parallel);
#  bench  main vs diag, interleaved, three rounds; then FlexAttention (bench/anchors.py --sparse).
# Packages: .device-all/main.tar.xz (main 3be4fcf: scripts/pack-device.sh build-dev, tar of .device) and
# .device-all/diag.tar.xz (the same from branch doc-diag).
#   OUT=dir bash bench/runs/2026-12-05/run46.sh
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
for p in main diag; do rm -rf /tmp/pk_$p; mkdir -p /tmp/pk_$p; tar -C /tmp/pk_$p -xJf .device-all/$p.tar.xz; done
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP
B=/tmp/pk_diag R=bench/recipes D=/tmp/docids; mkdir -p $D
el tests
( export LD_LIBRARY_PATH=$B/lib
  ( ATTNC_CACHE_DIR=$(mktemp -d) timeout 300 $B/tests/gpu/test_gpu_test_gpu_documents > $OUT/t_documents.txt 2>&1; echo "rc=$?" >> $OUT/t_documents.txt ) &
  ( ATTNC_TEST_PART=documents ATTNC_CACHE_DIR=$(mktemp -d) timeout 300 $B/tests/gpu/test_gpu_test_gpu_overlap > $OUT/t_overlap_docs.txt 2>&1; echo "rc=$?" >> $OUT/t_overlap_docs.txt ) &
  ( ATTNC_CACHE_DIR=$(mktemp -d) timeout 300 $B/tests/gpu/test_gpu_test_gpu_varlen > $OUT/t_varlen.txt 2>&1; echo "rc=$?" >> $OUT/t_varlen.txt ) &
  python3 - <<'PY'
import numpy as np
r = np.random.default_rng(7)
cut = np.sort(r.choice(np.arange(1, 16384), 7, replace=False))
np.save('/tmp/docids/rand16384.npy', np.searchsorted(cut, np.arange(16384), side='right').astype(np.int32)[None])
out = np.empty(16384, np.int32); i = 0
while i < 16384:
    l = int(r.integers(1, 3000)); out[i:i+l] = r.choice([3, 5, 9]); i += l
np.save('/tmp/docids/recur16384.npy', out[None])
PY
  for f in rand16384 recur16384; do for g in "" --grad; do
    ( ATTNC_CACHE_DIR=$(mktemp -d) timeout 280 $B/bin/attnc run recipes/document.attn --backend cuda --check \
        --shape batch=1,heads=2,tokens=16384 --param doc=@$D/$f.npy $g > $OUT/t_ck_$f${g:+_grad}.txt 2>&1
      echo "exit $?" >> $OUT/t_ck_$f${g:+_grad}.txt ) &
  done; done
  wait )
for f in documents overlap_docs varlen; do echo "$f: $(grep -cE '^\[PASS\]|^\[       OK' $OUT/t_$f.txt) PASS/OK, $(grep -cE '^\[FAIL|^\[  FAILED|^\[  ERROR' $OUT/t_$f.txt) FAIL, $(tail -1 $OUT/t_$f.txt)"; done | tee $OUT/tests.txt
for f in $OUT/t_ck_*.txt; do echo "$(basename $f .txt): $(grep -iE 'check|max|error' $f | tr '\n' ' ' | cut -c1-200) $(tail -1 $f)"; done | tee -a $OUT/tests.txt
grep -hE '^\[FAIL|FAILED|ERROR|CUDA_ERROR|ILLEGAL' $OUT/t_*.txt | head -8 | tee -a $OUT/tests.txt
el bench
row() { local pk=$1 rc=$2 sh=$3; shift 3; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_$pk/lib timeout 90 /tmp/pk_$pk/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 "$@" 2>&1)
  printf '%-7s %-12s %-32s %-10s %s\n' $pk "$(basename $rc .attn)" "$sh" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
for round in 1 2 3; do for pk in main diag; do
  row $pk $R/causal_d128.attn batch=8,heads=16,tokens=8192
  row $pk $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 8
  row $pk $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 64
  row $pk $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 1
done; done | tee $OUT/docs.txt
el anchors
OUT=$OUT timeout 120 python3 bench/anchors.py --sparse > $OUT/anchors_sparse.log 2>&1; echo "rc=$?"
grep -h doc8 $OUT/anchors.jsonl
el done
