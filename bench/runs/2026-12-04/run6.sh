#!/usr/bin/env bash
# Device call 6 of 2026-12-04: ncu showed local-memory spills (STL/LDL once per key tile) in the
# driver-JIT'd SASS of the default dense forward, while this machine's ptxas 13.0.88 gives none.
# Compare the driver's JIT (jitprobe.c, options as the runtime passes) with the device's ptxas on
# the same PTX; every listing's STL/LDL count goes to $OUT/jit.txt.
set -u
mkdir -p /tmp/pk_main; [ -x /tmp/pk_main/bin/attnc ] || tar -C /tmp/pk_main -xJf .device-all/main.tar.xz
N=/tmp/pk_main; W=/tmp/jit; mkdir -p $W
gcc -O1 -o $W/jitprobe bench/runs/2026-12-04/jitprobe.c -I/usr/local/cuda/include -lcuda || exit 2
{
which ptxas; ptxas --version | tail -1; nvidia-smi --query-gpu=driver_version --format=csv,noheader
for o in 0 1 2; do
  LD_LIBRARY_PATH=$N/lib $N/bin/attnc ptx bench/recipes/dense_d128.attn --arch sm_90a \
    --schedule "q=128 kv=128 stages=2 warps=8 overlap=$o" -o $W/d$o.ptx
  ptxas -arch=sm_90a -O3 -v $W/d$o.ptx -o $W/p$o.cubin 2>&1 | grep -E "spill|registers"
  echo "ptxas overlap=$o: STL/LDL $(cuobjdump -sass $W/p$o.cubin | grep -cE 'STL|LDL')"
  for lvl in 4 3; do
    $W/jitprobe $W/d$o.ptx $W/j$o-$lvl.cubin $lvl | grep -E "spill|registers|rc "
    echo "driver JIT overlap=$o O$lvl: STL/LDL $(cuobjdump -sass $W/j$o-$lvl.cubin | grep -cE 'STL|LDL')"
  done
done
for r in lightning2; do LD_LIBRARY_PATH=$N/lib $N/bin/attnc ptx recipes/$r.attn --arch sm_90a -o $W/$r.ptx
  ptxas -arch=sm_90a -O3 $W/$r.ptx -o $W/p-$r.cubin; echo "ptxas $r: $(cuobjdump -sass $W/p-$r.cubin | grep -cE 'STL|LDL')"
  $W/jitprobe $W/$r.ptx $W/j-$r.cubin 4 | grep -E "spill|rc "; echo "jit $r: $(cuobjdump -sass $W/j-$r.cubin | grep -cE 'STL|LDL')"; done
} 2>&1 | tee $OUT/jit.txt
cuobjdump -sass $W/j0-4.cubin > $OUT/j0.sass; cuobjdump -sass $W/p0.cubin > $OUT/p0.sass
