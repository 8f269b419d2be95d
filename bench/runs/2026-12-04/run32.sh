#!/usr/bin/env bash
# Device call 32 of 2026-12-04: a document mask alone (bidirectional) gets the document cut on the GPU (its block-table
# kv_range carries bounds and the span; nvptx_read_range visits it as bounds): test_gpu_documents forward (new doc_only
# recipe with every ids layout) and backward on doc_only, test_gpu_overlap's documents; then 8 documents of 8192
# against the previous package.   OUT=dir bash bench/runs/2026-12-04/run32.sh
set -u
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
for n in main prev; do rm -rf /tmp/pk_$n; mkdir -p /tmp/pk_$n; tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1
G=/tmp/pk_main/tests/gpu
bg() { local name=$1 cap=$2; shift 2; ( ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_main/lib timeout $cap env "$@" > /tmp/t_$name 2>&1; echo "rc=$?" > /tmp/t_$name.rc ) & }
bg docfwd 110 ATTNC_TEST_DOC=fwd stdbuf -oL $G/test_gpu_test_gpu_documents
bg docbwd 110 ATTNC_TEST_DOC=bwd ATTNC_TEST_RECIPE=doc_only stdbuf -oL $G/test_gpu_test_gpu_documents
bg ovl 110 ATTNC_TEST_PART=documents stdbuf -oL $G/test_gpu_test_gpu_overlap
wait
for t in docfwd docbwd ovl; do echo "$t $(cat /tmp/t_$t.rc) PASS $(grep -c '^\[PASS\]' /tmp/t_$t) FAIL $(grep -c '^\[FAIL\]' /tmp/t_$t) doc_only PASS $(grep '^\[PASS\]' /tmp/t_$t | grep -c doc_only)"; grep -E '^\[FAIL\]|ILLEGAL|CUDA_ERROR' /tmp/t_$t | head -4 | cut -c1-220; done | tee $OUT/tests.txt
el bench
printf 'recipe doc_bidir\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nparam doc : i32 [batch, tokens]\nmask document(doc)\ntile auto\n' > /tmp/doc_bidir.attn
row() { local pk=$1; shift; local r
  r=$(ATTNC_CACHE_DIR=$(mktemp -d) LD_LIBRARY_PATH=/tmp/pk_$pk/lib timeout 60 /tmp/pk_$pk/bin/attnc bench /tmp/doc_bidir.attn --shape batch=1,heads=16,tokens=65536 --warmup 5 --iters 20 "$@" 2>&1)
  printf '%-4s %-16s %s\n' $pk "$*" "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|visited[^,]*|error.*' | head -6 | tr '\n' ' ')"; }
row prev --docs 8; row main --docs 8; row main --docs 8 --grad; row main --docs 2; row main --docs 32
el done
