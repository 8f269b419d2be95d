#!/usr/bin/env bash
# GPU_REQUEST.sh (h-docbwd) — the backward's document span cut
# (ATTNC_BWD_DOC_SPAN=1, opt-in; codegen/nvptx_bwd_span.c): the dQ kernel
# cuts each query tile's key range as the forward does, the dK/dV kernel
# each key tile's query range by the transposed ids scan.
#   1. test_gpu_documents, backward half: dq/dk/dv vs fp64 on 5 document
#      recipes x 8 ids layouts (odd lengths, one-token documents, empty ids,
#      recurring / random ids, 301 and 1000 tokens), sync / wgmma, dQ
#      det (two runs bit-identical) / atomic / bulk, with and without the
#      TMA producer ring; with the switch on (ATTNC_BWD_DOC_SPAN=0 runs
#      the same cases uncut, a control if anything fails).
#   1b. the D = 128 recipe (the producer ring) under ATTNC_BWD_DOC_SPAN=2
#      (the dK/dV kernel's full tiles inside one document too).
#   2. test_gpu_backward's shipped document.attn with the switch on.
#   3. bench doc8_causal (bench/cases.txt: 8 causal documents in 65536
#      tokens, B=1 H=16 D=128) --grad, switch 0 / 1 / 2, default (bulk dQ,
#      producer) and --deterministic (0 / 1); the backward's tile counts.
# Run from the repository root of the packed branch (scripts/pack-device.sh
# build-dev -> .device/). Compact summary on stdout; writes only /tmp files.
# STEPS="1 1b 2 3" (the default) picks steps, e.g. STEPS=1 then STEPS="1b 2 3"
# where one call must stay under 10 minutes (step 1 is the longest).
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
A=.device/bin/attnc
G=.device/tests/gpu
L=/tmp/docbwd.$$
mkdir -p "$L"

want() { [[ " ${STEPS:-1 1b 2 3} " == *" $1 "* ]]; }

summary() { # name log rc
    printf '%-44s rc=%-3s PASS %-4s FAIL %s\n' "$1" "$3" "$(grep -c '^\[PASS\]' "$2")" "$(grep -c '^\[FAIL\]' "$2")"
    grep -E '^\[FAIL\]|Assertion|Segmentation|timed out|internal error|ILLEGAL|CUDA_ERROR' "$2" | head -12 | cut -c1-240
}

if want 1; then
echo "== 1. test_gpu_documents backward, ATTNC_BWD_DOC_SPAN=1 (174 cases)"
ATTNC_TEST_DOC=bwd ATTNC_BWD_DOC_SPAN=1 timeout 360 "$G/test_gpu_test_gpu_documents" >"$L/docs_on.txt" 2>&1
summary "documents backward, cut" "$L/docs_on.txt" $?
grep -E '^\[PASS\] causal_doc_d128 backward ids=tiled tokens=301 wgmma bulk \[' "$L/docs_on.txt" | head -1 | cut -c1-240
grep -E '^\[PASS\] causal_doc_batch backward ids=recurring tokens=301 wgmma det' "$L/docs_on.txt" | head -1 | cut -c1-240

fi

if want 1b; then
echo "== 1b. the same on causal_doc_d128 (every mode), ATTNC_BWD_DOC_SPAN=2 (dK/dV full tiles in one document too)"
ATTNC_TEST_DOC=bwd ATTNC_TEST_RECIPE=d128 ATTNC_BWD_DOC_SPAN=2 timeout 240 "$G/test_gpu_test_gpu_documents" \
    >"$L/docs_on2.txt" 2>&1
summary "documents backward d128, cut + dK/dV full" "$L/docs_on2.txt" $?

fi

if want 2; then
echo "== 2. test_gpu_backward shipped document.attn, ATTNC_BWD_DOC_SPAN=1"
ATTNC_TEST_CASE=no-case ATTNC_TEST_RECIPE=document ATTNC_BWD_DOC_SPAN=1 timeout 120 \
    "$G/test_gpu_test_gpu_backward" >"$L/shipped.txt" 2>&1
summary "shipped document.attn, cut" "$L/shipped.txt" $?

fi

if want 3; then
echo "== 3. bench doc8_causal B=1 H=16 N=65536 D=128 --docs 8 --grad (--warmup 3 --iters 10)"
printf '%-22s %-10s %-10s %-10s %-12s %-s\n' case fwd_ms bwd_ms bwd_TF/s bwd_tiles "visited/kept"
bench() { # label span extra-args
    out=$L/bench.$1.txt
    ATTNC_BWD_DOC_SPAN=$2 timeout 100 "$A" bench bench/recipes/doc_causal.attn \
        --shape batch=1,heads=16,tokens=65536 --docs 8 --grad --warmup 3 --iters 10 ${3:-} >"$out" 2>&1
    rc=$?
    fms=$(sed -n 's/^  time \([0-9.]*\) ms.*/\1/p' "$out" | head -1)
    bms=$(sed -n 's/^  backward \[.*time \([0-9.]*\) ms.*/\1/p' "$out" | head -1)
    btf=$(sed -n 's/^  backward \[.*min [0-9.]*)  \([0-9.]*\) TFLOP\/s.*/\1/p' "$out" | head -1)
    tiles=$(sed -n 's/^  backward tiles: \([0-9]*\) visited.*/\1/p' "$out" | head -1)
    ratio=$(sed -n 's/^  backward tiles: .*visited\/kept \([0-9.]*\);.*/\1/p' "$out" | head -1)
    printf '%-22s %-10s %-10s %-10s %-12s %-s\n' "$1" "${fms:-rc$rc}" "${bms:-?}" "${btf:-?}" "${tiles:-?}" "${ratio:-?}"
    eval "ms_$4=${bms:-0}"
}
bench bulk_uncut 0 "" a
bench bulk_cut 1 "" b
bench bulk_cut_full 2 "" e
bench det_uncut 0 --deterministic c
bench det_cut 1 --deterministic d
awk -v a="$ms_a" -v b="$ms_b" -v c="$ms_c" -v d="$ms_d" -v e="$ms_e" 'BEGIN {
    if (a > 0 && b > 0) printf "speed-up bulk %.2fx", a / b; if (a > 0 && e > 0) printf " (=2: %.2fx)", a / e;
    if (c > 0 && d > 0) printf ", deterministic %.2fx", c / d; print "" }'
sed -n 's/^  backward \[\(.*\)\]: time.*/schedule: \1/p' "$L/bench.bulk_cut.txt" | head -1
grep -hiE 'error|fail|not counted' "$L"/bench.*.txt | head -5 | cut -c1-200
fi
rm -rf "$L"
