#!/usr/bin/env bash
# Device call 4 of the 2026-12-04 session (main 0d76c15, nothing else running on the GPU): issue 13's
# cold compile, new vs old (e0704c5), over one case per kernel family of bench/cases.txt (lightning2
# and gated_linear were run2's; the 65536-token document cases left out: the old build counts their pairs for minutes). SAMPLES=6 bench/cold-compile.sh; the table lands in $OUT/cold/.
set -u
ROOT=$PWD
for n in main old; do mkdir -p /tmp/pk_$n; [ -x /tmp/pk_$n/bin/attnc ] || tar -C /tmp/pk_$n -xJf .device-all/$n.tar.xz; done
export ATTNC_NO_TUNED=1
grep -v '^\s*#' bench/cases.txt | awk -F'|' '{n=$1; gsub(/ /,"",n)} !seen[n]++' |
  grep -vE '^(lightning2|gated_linear|radial_attention|hunyuan_gna|hunyuan_na|doc8_causal|varlen8_causal)\s' > /tmp/cold.txt
cat /tmp/cold.txt | cut -c1-100
SAMPLES=${SAMPLES:-6} RUN_TIMEOUT=40 OUT=$OUT/cold timeout ${COLD_CAP:-400} bash bench/cold-compile.sh /tmp/pk_main /tmp/pk_old /tmp/cold.txt > $OUT/cold.log 2>&1
echo "rc=$?"; cat $OUT/cold/cold-compile.md
