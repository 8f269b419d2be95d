# bench/runs/lib.sh — pieces the device-call scripts share (source it from the repository root).
#   unpack_device        the package (.device-all/main.tar.xz, scripts/pack-device.sh) into /tmp/pk; sets A (attnc),
#                        T (the GPU test programs), R (bench/recipes), SAN (compute-sanitizer) and the environment
#   doc_ids              document-id files for `--param doc=@FILE`: /tmp/ids.raw (random documents of 1-900 tokens,
#                        10000 tokens), /tmp/ids3.raw (3 documents, one of one token: 4097), /tmp/ids1.raw (one
#                        token, batch 2), /tmp/ids8.raw (8 documents of 1125 tokens: not tile multiples)
#   row RECIPE SHAPE ENV [ARGS...]
#                        one `attnc bench` line (fresh kernel cache, 500 ms warm-up): ENV is VAR=VALUE[,VAR=VALUE]
#                        (X=1 for none), ARGS go to attnc bench (--docs N, ...)
unpack_device() {
  rm -rf /tmp/pk; mkdir -p /tmp/pk; tar -C /tmp/pk -xJf .device-all/main.tar.xz
  export ATTNC_SOURCE_DIR=$PWD ATTNC_NO_TUNED=1 LD_LIBRARY_PATH=/tmp/pk/lib
  R=bench/recipes A=/tmp/pk/bin/attnc T=/tmp/pk/tests/gpu
  SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
}

doc_ids() {
  python3 -c "
import random, struct
random.seed(81); out = []; d = 0
while len(out) < 10000:
    d += 1; out += [d] * random.randint(1, 900)
open('/tmp/ids.raw', 'wb').write(struct.pack('<10000i', *out[:10000]))
w = lambda name, ids: open(name, 'wb').write(struct.pack('<%di' % len(ids), *ids))
w('/tmp/ids3.raw', [0] * 1500 + [1] + [2] * 2596)
w('/tmp/ids1.raw', [7, 7])
w('/tmp/ids8.raw', [d for d in range(8) for _ in range(1125)])"
}

row() {
  local rc=$1 sh=$2 e=$3; shift 3; local r
  r=$(env ${e//,/ } ATTNC_CACHE_DIR=$(mktemp -d) timeout 90 $A bench $rc --shape $sh --warmup 20 --iters 100 --warmup-ms 500 "$@" 2>&1)
  printf '%-16s %-32s %-20s %-10s %s\n' "$(basename $rc .attn)" "$sh" "$e" "$(echo "$*" | cut -c1-10)" \
    "$(echo "$r" | grep -oE '[0-9.]+ ms|[0-9.]+ TFLOP/s|error.*' | head -2 | tr '\n' ' ')"
}
