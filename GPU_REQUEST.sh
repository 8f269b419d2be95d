#!/usr/bin/env bash
# GPU_REQUEST.sh (h-radial) — Radial Attention's forward, two opt-in switches:
# ATTNC_MASK_FRAMES=1 (codegen/nvptx_fa2_frames.c: the mask's key-frame
# subtrees hoisted per tile; tiles across a frame boundary classified by
# their parts) and ATTNC_TMA_SKIP_EMPTY=1 (nvptx_fa2_ws.c: the TMA producer
# copies no tile the class proves empty). Correctness against fp64 (the new
# test_gpu_radial in every mode; test_gpu_recipes and test_gpu_unions with
# both switches on), then the issue-17 bench per mode and dense on the same
# token count. Run from the repository root of the packed branch
# (scripts/pack-device.sh build-dev -> .device/). Compact summary on stdout;
# writes only /tmp files. Typically ~5 minutes (caps: 240 + 2x150 + 6x90 + 150 s).
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
A=.device/bin/attnc
G=.device/tests/gpu
L=/tmp/radial.$$
mkdir -p "$L"

summary() { # name log rc
    printf '%-40s rc=%-3s PASS %-4s FAIL %s\n' "$1" "$3" "$(grep -c '^\[PASS\]' "$2")" "$(grep -c '^\[FAIL\]' "$2")"
    grep -E '^\[FAIL\]|Assertion|Segmentation|timed out|internal error' "$2" | head -12 | cut -c1-220
}

echo "== 1. test_gpu_radial: 7 radial masks x 4 schedules; modes off, MASK_FRAMES=1, + TMA_SKIP_EMPTY=1 (TMA schedules); vs fp64"
timeout 240 "$G/test_gpu_test_gpu_radial" >"$L/radial.txt" 2>&1
summary "test_gpu_radial (3 modes)" "$L/radial.txt" $?
grep -E '^\[(PASS|FAIL)\] radial5' "$L/radial.txt" | head -6 | cut -c1-200

echo "== 2. test_gpu_recipes (ATTNC_TEST_SMALL=1) and test_gpu_unions with ATTNC_MASK_FRAMES=1 ATTNC_TMA_SKIP_EMPTY=1"
ATTNC_TEST_SMALL=1 ATTNC_MASK_FRAMES=1 ATTNC_TMA_SKIP_EMPTY=1 timeout 150 "$G/test_gpu_test_gpu_recipes" >"$L/recipes.txt" 2>&1
rc=$?
summary "test_gpu_recipes both switches" "$L/recipes.txt" $rc
tail -2 "$L/recipes.txt" | cut -c1-200
ATTNC_MASK_FRAMES=1 ATTNC_TMA_SKIP_EMPTY=1 timeout 150 "$G/test_gpu_test_gpu_unions" >"$L/unions.txt" 2>&1
summary "test_gpu_unions both switches" "$L/unions.txt" $?

echo "== 3. bench radial_attention B=1 H=16 N=31200 D=128 (--warmup 3 --iters 10), dense on the same tokens"
printf '%-34s %-10s %-10s %-s\n' case ms TFLOP/s schedule
bench() { # label "ENV=.. ENV=.." recipe var (ms_var gets the time)
    out=$L/bench.$1.txt
    env $2 timeout 90 "$A" bench "$3" --shape batch=1,heads=16,tokens=31200 --warmup 3 --iters 10 >"$out" 2>&1
    rc=$?
    ms=$(sed -n 's/^  time \([0-9.]*\) ms.*/\1/p' "$out" | head -1)
    tf=$(sed -n 's/^  time .*  \([0-9.]*\) TFLOP\/s.*/\1/p' "$out" | head -1)
    sc=$(sed -n 's/.*\[\(q=[^]]*\)\].*/\1/p' "$out" | head -1)
    printf '%-34s %-10s %-10s %-s\n' "$1" "${ms:-rc$rc}" "${tf:-?}" "${sc:-?}"
    eval "ms_$4=${ms:-0}"
}
bench radial_off "ATTNC_MASK_FRAMES=0 ATTNC_TMA_SKIP_EMPTY=0" recipes/radial_attention.attn off
bench radial_MASK_FRAMES=1 "ATTNC_MASK_FRAMES=1 ATTNC_TMA_SKIP_EMPTY=0" recipes/radial_attention.attn on
bench radial_TMA_SKIP_EMPTY=1 "ATTNC_MASK_FRAMES=0 ATTNC_TMA_SKIP_EMPTY=1" recipes/radial_attention.attn skip
bench radial_both "ATTNC_MASK_FRAMES=1 ATTNC_TMA_SKIP_EMPTY=1" recipes/radial_attention.attn both
bench dense_d128 "ATTNC_MASK_FRAMES=0" bench/recipes/dense_d128.attn dense
# the ping-pong loop (overlap=2; TMA_SKIP_EMPTY does not apply there), for the schedule choice
out=$L/bench.ovl2.txt
ATTNC_MASK_FRAMES=1 timeout 90 "$A" bench recipes/radial_attention.attn --shape batch=1,heads=16,tokens=31200 \
    --schedule "q=128 kv=128 stages=2 warps=8 overlap=2" --warmup 3 --iters 10 >"$out" 2>&1
printf '%-34s %-10s %-10s %-s\n' "radial_MASK_FRAMES=1 overlap=2" "$(sed -n 's/^  time \([0-9.]*\) ms.*/\1/p' "$out" | head -1)" \
    "$(sed -n 's/^  time .*  \([0-9.]*\) TFLOP\/s.*/\1/p' "$out" | head -1)" "$(sed -n 's/.*\[\(q=[^]]*\)\].*/\1/p' "$out" | head -1)"
for m in off MASK_FRAMES=1; do grep -h 'tiles:' "$L/bench.radial_$m.txt" | head -1 | sed "s/^ */$m /" | cut -c1-200; done
awk -v a="$ms_off" -v b="$ms_on" -v c="$ms_both" -v d="$ms_dense" 'BEGIN { if (a > 0 && b > 0 && c > 0 && d > 0)
    printf "speed-up vs off: MASK_FRAMES %.2fx, both %.2fx; radial/dense time: off %.2f, both %.2f (computed/dense tiles 0.616 off, 0.557 MASK_FRAMES)\n", a / b, a / c, a / d, c / d }'
grep -hiE 'error|fail' "$L"/bench.*.txt | head -5 | cut -c1-200

echo "== 4. ncu of the radial kernel with both switches (if ncu is installed; one launch)"
if command -v ncu >/dev/null 2>&1; then
    ATTNC_MASK_FRAMES=1 ATTNC_TMA_SKIP_EMPTY=1 timeout 150 ncu --launch-count 1 -k regex:attnc_radial \
        --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats --section InstructionStats \
        --section LaunchStats "$A" bench recipes/radial_attention.attn --shape batch=1,heads=16,tokens=31200 \
        --warmup 0 --iters 1 >"$L/ncu.txt" 2>&1
    grep -E 'Duration|Executed Instructions  |Issue Slots Busy|Warp Cycles Per Issued|Registers Per Thread|L2 Cache Throughput|Compute \(SM\) Throughput|highest-utilized' \
        "$L/ncu.txt" | sed 's/  */ /g' | head -12
else
    echo "ncu not found: skipped"
fi
