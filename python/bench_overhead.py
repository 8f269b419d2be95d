#!/usr/bin/env python3
"""Python-call overhead of attnc over the bare C launch.

For a tiny problem on CUDA (the kernel's own time does not matter: only the
host side is timed), an empty batch on the CPU (whose kernels run inside the
call), it measures, per call, the host time of:

  c_launch      attnc_launch on prepared args, called through ctypes (the floor)
  c_args        what one Python call does in C: args create, set each tensor,
                launch, args destroy (through ctypes)
  kernel        kernel(q, k, v): torch tensors, eager, no autograd (allocates o)
  kernel_out    kernel(q, k, v, out=o)
  na2d          attnc.na2d(q, k, v, 7) (writes the recipe text, cache lookup)
  autograd      kernel(q, k, v) with q.requires_grad: through the attnc::forward op
  numpy         kernel(q, k, v) on numpy arrays (CPU only)

and prints each with its overhead over c_launch; the target is <= 20 us for
`kernel`. On CUDA the launches are asynchronous: each batch of calls is
timed without the GPU (the queue is drained between batches, outside the
timing). Usage:

  PYTHONPATH=python python3 python/bench_overhead.py [--backend cuda|cpu] [--json FILE]

Results go to stdout (a table) and, with --json, to FILE.
"""

import argparse
import ctypes
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import attnc  # noqa: E402
from attnc import _arrays, _core  # noqa: E402

BATCH = 200  # calls per timed batch (well under the CUDA launch queue depth)
ROUNDS = 25


def recipe(dtype, d):
    return (f"recipe bench_overhead\ninput q, k, v : {dtype} [batch, heads, tokens, {d}]\n"
            "mask causal\ntile auto\n")


def timed(fn, sync):
    """(median, best, cpu) microseconds per call over ROUNDS batches of
    BATCH calls: the median wall time (what a run sees), the best batch (the
    cost without interference from other processes), and the median
    process CPU time (meaningful on a loaded shared machine, where wall time
    includes waiting for a core)."""
    for _ in range(20):
        fn()
    sync()
    per, cpu = [], []
    for _ in range(ROUNDS):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(BATCH):
            fn()
        per.append((time.perf_counter() - t0) / BATCH * 1e6)
        cpu.append((time.process_time() - c0) / BATCH * 1e6)
        sync()
    return statistics.median(per), min(per), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["cuda", "cpu"], default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import torch

    backend = args.backend or ("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(backend)
    dtype, tdt, d = ("bf16", torch.bfloat16, 64) if backend == "cuda" else ("f32", torch.float32, 16)
    kern = attnc.compile(recipe(dtype, d))
    # On the CPU the kernel runs inside the call; batch 0 leaves only the host
    # work (attnc_launch validates everything, then has nothing to compute).
    batch = 1 if backend == "cuda" else 0
    q, k, v = (torch.randn(batch, 1, 16, d, device=dev).to(tdt) for _ in range(3))
    o = torch.empty_like(q)
    kern(q, k, v)  # compile now
    nk = kern.native(backend)
    lib = _core.lib
    sync = torch.cuda.synchronize if backend == "cuda" else (lambda: None)
    stream = torch.cuda.current_stream().cuda_stream if backend == "cuda" else 0

    # the floor: prepared args, one attnc_launch per call
    a = ctypes.c_void_p()
    assert lib.attnc_args_create(ctypes.byref(a), nk.h) == 0
    tensors = {n: _arrays.from_torch(x, n) for n, x in (("q", q), ("k", k), ("v", v), ("o", o))}
    descs = []
    for n, t in tensors.items():
        desc = _core._lib.Tensor(t.dtype, t.ptr, 4, t.shape, t.strides)
        descs.append(desc)
        assert lib.attnc_args_set_tensor(a, n.encode(), ctypes.addressof(desc)) == 0
    launch, h, s = lib.attnc_launch, nk.h, stream or None
    rows = {}
    rows["c_launch"] = timed(lambda: launch(h, a, s), sync)
    lib.attnc_args_destroy(a)
    rows["c_args"] = timed(lambda: nk.launch(tensors, {}, {}, stream), sync)
    rows["kernel"] = timed(lambda: kern(q, k, v), sync)
    rows["kernel_out"] = timed(lambda: kern(q, k, v, out=o), sync)
    x = torch.randn(batch, 8, 8, 1, d, device=dev).to(tdt)
    attnc.na2d(x, x, x, 7)
    rows["na2d"] = timed(lambda: attnc.na2d(x, x, x, 7), sync)
    qg = q.detach().clone().requires_grad_()
    rows["autograd"] = timed(lambda: kern(qg, k, v), sync)
    if backend == "cpu":
        qn, kn, vn = (t.numpy() for t in (q, k, v))
        rows["numpy"] = timed(lambda: kern(qn, kn, vn), sync)

    floor_med, floor_best, floor_cpu = rows["c_launch"]
    print(f"attnc {attnc.__version__}, {backend}, torch {torch.__version__}, python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'path':<12} {'median us':>10} {'over C':>9} {'best us':>9} {'over C':>9} {'cpu us':>9} {'over C':>9}")
    for name, (med, best, cpu) in rows.items():
        print(f"{name:<12} {med:10.2f} {med - floor_med:9.2f} {best:9.2f} {best - floor_best:9.2f} "
              f"{cpu:9.2f} {cpu - floor_cpu:9.2f}")
    over = rows["kernel"][0] - floor_med
    verdict = "PASS" if over <= 20 else "FAIL"
    print(f"kernel(q, k, v) overhead over the bare C launch (medians): {over:.2f} us (target <= 20 us): {verdict}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"backend": backend, "torch": torch.__version__,
                       "us_per_call": {n: {"median": m, "best": b, "cpu": c} for n, (m, b, c) in rows.items()},
                       "overhead_us": over, "target_us": 20, "verdict": verdict}, f, indent=1)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
