#!/usr/bin/env bash
# Device call 45 (prepared 2026-12-05 15:40 UTC, not run: no device time left): branch docs-overlap-default against
# main. The branch: causal documents on the overlapped loop by default (compile_job.c causal_overlap) and the
# document cut made warp-uniform (nvptx_fa2_span.c warp_uniform: SASS key loop 1115 -> 1038 on overlap=1).
#  tests  (branch) test_gpu_documents (its forward half runs the default schedule, now overlap=1), test_gpu_overlap's
#         documents part, `attnc run --check` on 8 documents at random boundaries and recurring ids (N=16384, in
#         parallel: the fp64 reference takes ~60 s there);
#  bench  main vs branch, interleaved, two rounds: 8 documents (default), 64 documents, one document, causal B=8
#         N=8192 beside them; then FlexAttention (bench/anchors.py --sparse).
# The branch's code is also bench/runs/2026-12-05/run45-branch.patch (`git apply` on main, in a worktree; its
# package: scripts/pack-device.sh build-dev there, then tar its .device into .device-all/branch.tar.xz).
#   OUT=dir bash bench/runs/2026-12-05/run45.sh   (.device-all/main.tar.xz and branch.tar.xz, scripts/pack-device.sh)
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
for p in main branch; do rm -rf /tmp/pk_$p; mkdir -p /tmp/pk_$p; tar -C /tmp/pk_$p -xJf .device-all/$p.tar.xz; done
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
unset ATTNC_SCALE_FMA ATTNC_SKIP_RESCALE ATTNC_UNIFORM_WARP
B=/tmp/pk_branch R=bench/recipes D=/tmp/docids; mkdir -p $D
el tests
( export LD_LIBRARY_PATH=$B/lib
  ( ATTNC_CACHE_DIR=$(mktemp -d) timeout 300 $B/tests/gpu/test_gpu_test_gpu_documents > $OUT/t_documents.txt 2>&1; echo "rc=$?" >> $OUT/t_documents.txt ) &
  ( ATTNC_TEST_PART=documents ATTNC_CACHE_DIR=$(mktemp -d) timeout 300 $B/tests/gpu/test_gpu_test_gpu_overlap > $OUT/t_overlap_docs.txt 2>&1; echo "rc=$?" >> $OUT/t_overlap_docs.txt ) &
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
for f in documents overlap_docs; do echo "$f: $(grep -cE '^\[PASS\]|^\[       OK' $OUT/t_$f.txt) PASS/OK, $(grep -cE '^\[FAIL|^\[  FAILED|^\[  ERROR' $OUT/t_$f.txt) FAIL, $(tail -1 $OUT/t_$f.txt)"; done | tee $OUT/tests.txt
for f in $OUT/t_ck_*.txt; do echo "$(basename $f .txt): $(grep -iE 'check|max|error' $f | tr '\n' ' ' | cut -c1-200) $(tail -1 $f)"; done | tee -a $OUT/tests.txt
grep -hE '^\[FAIL|FAILED|ERROR|CUDA_ERROR|ILLEGAL' $OUT/t_*.txt | head -8 | tee -a $OUT/tests.txt
el bench
row() { local pk=$1 rc=$2 sh=$3; shift 3; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_$pk/lib timeout 90 /tmp/pk_$pk/bin/attnc bench $rc --shape $sh --warmup 5 --iters 30 "$@" 2>&1)
  printf '%-7s %-12s %-32s %-10s %s\n' $pk "$(basename $rc .attn)" "$sh" "$*" "$(echo "$r" | grep -oE '\[q=[^]]*\]|[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -3 | tr '\n' ' ')"; }
for round in 1 2; do for pk in main branch; do
  row $pk $R/causal_d128.attn batch=8,heads=16,tokens=8192
  row $pk $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 8
  row $pk $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 64
  row $pk $R/doc_causal.attn batch=1,heads=16,tokens=65536 --docs 1
done; done | tee $OUT/docs.txt
el anchors
OUT=$OUT timeout 120 python3 bench/anchors.py --sparse > $OUT/anchors_sparse.log 2>&1; echo "rc=$?"
grep -h doc8 $OUT/anchors.jsonl
el done
