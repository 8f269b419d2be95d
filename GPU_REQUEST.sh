#!/usr/bin/env bash
# GPU_REQUEST.sh (h-radial) — Radial Attention's forward with the mask's
# key-frame subtrees hoisted per tile (ATTNC_MASK_FRAMES=1,
# codegen/nvptx_fa2_frames.c): correctness against fp64 (the new
# test_gpu_radial, both modes; test_gpu_recipes' radial recipes, mode 1),
# then the issue-17 bench with the switch off / on and dense on the same
# token count. Run from the repository root of the packed branch
# (scripts/pack-device.sh build-dev -> .device/). Compact summary on stdout;
# writes only /tmp files.
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

echo "== 1. test_gpu_radial: 7 radial masks x 4 schedules, ATTNC_MASK_FRAMES=0 then 1, vs fp64"
timeout 420 "$G/test_gpu_test_gpu_radial" >"$L/radial.txt" 2>&1
summary "test_gpu_radial (both modes)" "$L/radial.txt" $?
grep -E '^\[(PASS|FAIL)\] radial5' "$L/radial.txt" | head -6 | cut -c1-200

echo "== 2. test_gpu_recipes (ATTNC_TEST_SMALL=1) with ATTNC_MASK_FRAMES=1: every shipped recipe still builds and passes"
ATTNC_TEST_SMALL=1 ATTNC_MASK_FRAMES=1 timeout 240 "$G/test_gpu_test_gpu_recipes" >"$L/recipes.txt" 2>&1
rc=$?
summary "test_gpu_recipes MASK_FRAMES=1" "$L/recipes.txt" $rc
grep -iE 'radial' "$L/recipes.txt" | head -4 | cut -c1-200
tail -3 "$L/recipes.txt" | cut -c1-200

echo "== 3. bench radial_attention B=1 H=16 N=31200 D=128 (--warmup 3 --iters 10), dense on the same tokens"
printf '%-34s %-10s %-10s %-s\n' case ms TFLOP/s schedule
bench() { # label env recipe
    out=$L/bench.$1.txt
    env $2 timeout 240 "$A" bench "$3" --shape batch=1,heads=16,tokens=31200 --warmup 3 --iters 10 >"$out" 2>&1
    rc=$?
    ms=$(sed -n 's/^  time \([0-9.]*\) ms.*/\1/p' "$out" | head -1)
    tf=$(sed -n 's/^  time .*  \([0-9.]*\) TFLOP\/s.*/\1/p' "$out" | head -1)
    sc=$(sed -n 's/.*\[\(q=[^]]*\)\].*/\1/p' "$out" | head -1)
    printf '%-34s %-10s %-10s %-s\n' "$1" "${ms:-rc$rc}" "${tf:-?}" "${sc:-?}"
    eval "ms_$4=${ms:-0}"
}
bench radial_MASK_FRAMES=0 ATTNC_MASK_FRAMES=0 recipes/radial_attention.attn off
bench radial_MASK_FRAMES=1 ATTNC_MASK_FRAMES=1 recipes/radial_attention.attn on
bench dense_d128 ATTNC_MASK_FRAMES=0 bench/recipes/dense_d128.attn dense
for m in 0 1; do grep -h 'tiles:' "$L/bench.radial_MASK_FRAMES=$m.txt" | head -1 | sed "s/^ */MASK_FRAMES=$m /" | cut -c1-200; done
awk -v a="$ms_off" -v b="$ms_on" -v d="$ms_dense" 'BEGIN { if (a > 0 && b > 0 && d > 0)
    printf "speed-up on/off %.2fx; radial/dense time: off %.2f, on %.2f (computed tiles / dense tiles: 0.616 off, 0.557 on)\n", a / b, a / d, b / d }'
grep -hiE 'error|fail' "$L"/bench.*.txt | head -5 | cut -c1-200
