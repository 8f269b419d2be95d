#!/usr/bin/env bash
# GPU_REQUEST.sh (h-unionbwd) — the GPU backward's union parts
# (ATTNC_BWD_PARTS=1, codegen/nvptx_bwd_parts.c): gradients against fp64 on
# union masks, then sinks_window's backward timed with the switch off / on.
# Run from the repository root of the packed branch (scripts/pack-device.sh
# build-dev -> .device/). Prints a compact summary; writes only /tmp files.
set -u
export LD_LIBRARY_PATH=$PWD/.device/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
T=.device/tests/gpu/test_gpu_test_gpu_backward
A=.device/bin/attnc
L=/tmp/unionbwd.$$
mkdir -p "$L"

summary() { # name log rc
    printf '%-34s rc=%-3s PASS %-4s FAIL %s\n' "$1" "$3" "$(grep -c '^\[PASS\]' "$2")" "$(grep -c '^\[FAIL\]' "$2")"
    grep -E '^\[FAIL\]|Assertion|Segmentation|timed out' "$2" | head -12
}

echo "== 1. union backward gradients vs fp64 (test_gpu_backward test_unions: sync, wgmma, wgmma:noprod, wgmma:k64 x det/atomic/bulk)"
ATTNC_TEST_UNIONS_ONLY=1 ATTNC_BWD_PARTS=1 timeout 900 "$T" >"$L/unions1.txt" 2>&1
summary "unions ATTNC_BWD_PARTS=1" "$L/unions1.txt" $?
# the control (hulls), default wgmma mode only
ATTNC_TEST_UNIONS_ONLY=1 ATTNC_BWD_PARTS=0 ATTNC_TEST_BWD_MODE=wgmma timeout 600 "$T" >"$L/unions0.txt" 2>&1
summary "unions ATTNC_BWD_PARTS=0 (wgmma)" "$L/unions0.txt" $?
echo "-- sample lines (PARTS=1):"
grep -E '^\[(PASS|FAIL)\]' "$L/unions1.txt" | grep -E 'u_sinks_window|u_rows_without_keys' | head -8 | cut -c1-200

echo "== 2. the shipped sinks_window.attn backward with ATTNC_BWD_PARTS=1 (test_shipped; no other case)"
ATTNC_BWD_PARTS=1 ATTNC_TEST_CASE=no-such-case ATTNC_TEST_RECIPE=sinks timeout 600 "$T" >"$L/all1.txt" 2>&1
summary "shipped sinks_window PARTS=1" "$L/all1.txt" $?

echo "== 3. bench recipes/sinks_window.attn --grad (H=16, D=128), ATTNC_BWD_PARTS off / on"
echo "   (det: --deterministic, the dQ kernel walks the forward's parts too; dK/dV tiles visited / holding kept pairs)"
printf '%-7s %-4s %-5s %-10s %-10s %-10s %-30s %-s\n' tokens det parts fwd_ms bwd_ms bwd_TFLOPs "dK/dV tiles visited/kept" "dQ kernel tiles"
for t in 16384 32768 det32768; do
    for m in 0 1; do
        out=$L/bench.$t.$m.txt
        det=""; n=$t
        case $t in det*) det=--deterministic; n=${t#det} ;; esac
        ATTNC_BWD_PARTS=$m timeout 300 "$A" bench recipes/sinks_window.attn --shape batch=1,heads=16,tokens=$n \
            --grad $det --warmup 5 --iters 20 >"$out" 2>&1
        rc=$?
        fwd=$(sed -n 's/^  time \([0-9.]*\) ms.*/\1/p' "$out" | head -1)
        bwd=$(sed -n 's/^  backward \[.*\][a-z ]*: time \([0-9.]*\) ms.*/\1/p' "$out" | head -1)
        tf=$(sed -n 's/^  backward \[.*\][a-z ]*: time .*  \([0-9.]*\) TFLOP\/s (2.5x.*/\1/p' "$out" | head -1)
        tiles=$(sed -n 's/^  backward tiles: \([0-9]*\) visited, .* \([0-9]*\) hold kept pairs: visited\/kept \([0-9.]*\);.*/\1 \/ \2 = \3/p' "$out" | head -1)
        dq=$(sed -n 's/^  backward dQ kernel tiles.*: \([0-9]*\) visited.*/\1/p' "$out" | head -1)
        printf '%-7s %-4s %-5s %-10s %-10s %-10s %-30s %-s\n' "$n" "${det:+yes}" "$m" "${fwd:-rc$rc}" "${bwd:-?}" \
            "${tf:-?}" "${tiles:-?}" "${dq:-?}"
    done
done
echo "-- schedule lines:"
grep -h '^  backward \[' "$L"/bench.32768.*.txt "$L"/bench.det32768.*.txt | cut -c1-160
grep -hiE 'error|fail' "$L"/bench.*.txt | head -5
