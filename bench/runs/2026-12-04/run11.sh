#!/usr/bin/env bash
# Device call 11 of 2026-12-04: overlap=1 against the default forward schedule over token counts
# (D=128 and D=64, full and causal), three alternating rounds, to choose when overlap=1 is the default.
# OUT=dir bash bench/runs/2026-12-04/run11.sh   (.device-all/main.tar.xz = the build under test)
set -u
ROOT=$PWD
mkdir -p /tmp/pk_main; tar -C /tmp/pk_main -xJf .device-all/main.tar.xz; ln -sfn /tmp/pk_main .device
export LD_LIBRARY_PATH=$ROOT/.device/lib ATTNC_SOURCE_DIR=$ROOT ATTNC_NO_TUNED=1
A=$ROOT/.device/bin/attnc
row() { # label recipe shape schedule
  local label=$1 recipe=$2 shape=$3 sched=$4
  local r; r=$(ATTNC_CACHE_DIR=$(mktemp -d /tmp/b.XXXX) timeout 90 $A bench $recipe --shape $shape --warmup 5 --iters 30 ${sched:+--schedule "$sched"} 2>&1)
  printf '%-10s %-28s %-22s %s\n' "$label" "$shape" "${sched:-default}" "$(echo "$r" | grep -oE '[0-9.]+ TFLOP/s' | head -1)"
}
cases() {
  for n in "4,4096" "2,8192" "1,16384" "1,32768"; do b=${n%,*} t=${n#*,}
    echo "d128 bench/recipes/dense_d128.attn batch=$b,heads=16,tokens=$t"
    echo "c128 bench/recipes/causal_d128.attn batch=$b,heads=16,tokens=$t"
    echo "d64 bench/recipes/dense_d64.attn batch=$b,heads=32,tokens=$t"
    echo "c64 bench/recipes/causal_d64.attn batch=$b,heads=32,tokens=$t"
  done
  echo "c128 bench/recipes/causal_d128.attn batch=1,heads=16,tokens=65536"
}
for round in 1 2 3; do
  cases | while read -r label recipe shape; do
    row $label $recipe $shape ""
    row $label $recipe $shape "q=128 kv=128 stages=2 warps=8 overlap=1"
    [ $label = d64 -o $label = c64 ] && row $label $recipe $shape "q=128 kv=128 stages=3 warps=8 overlap=1"
  done
done > $OUT/sweep.txt
python3 - $OUT/sweep.txt <<'PY' | tee $OUT/summary.txt
import sys, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) < 4 or p[-1] != "TFLOP/s": continue
    d[(p[0], p[1], " ".join(p[2:-2]))].append(float(p[-2]))
keys = sorted({(k[0], k[1]) for k in d})
for k in keys:
    row = [f"{s}: " + "/".join(f"{x:.0f}" for x in v) + f" med {sorted(v)[len(v)//2]:.0f}" for (a, b, s), v in d.items() if (a, b) == k]
    print(k[0], k[1], " | ".join(row))
PY
