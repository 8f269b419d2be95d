"""Anchor timings on the GPU machine: what a user would pick instead of attnc.

Adapted from the project's shared anchors script (shared/anchors/bench_anchors.py)
so it ships with the repository: the same SDPA (FlashAttention-2 and cuDNN
backends) and FlexAttention cases, with the dense/causal shapes of attnc's
benchmark (bench/cases.txt: N = 4096..16384 with batch*N = 16384, head_dim 128
with 16 heads and head_dim 64 with 32 heads). Linear attention is left out
(attnc has no GPU kernel for it yet).

Writes one JSON line per case to $OUT/anchors.jsonl and prints a table.
Effective TFLOP/s counts only the (q, k) pairs a mask keeps: 4 * D * pairs * B * H.
Run: [ANCHOR_WARMUP_MS=ms] OUT=dir python3 bench/anchors.py [--quick | --sparse | --sparse-seq | --bwd | --dense]
"""
import json, math, os, sys, time
import torch
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
from triton.testing import do_bench

torch.backends.cuda.matmul.allow_tf32 = True
dev = "cuda"
OUT = os.environ.get("OUT", ".")
rows = []


def emit(**kw):
    rows.append(kw)
    print(json.dumps(kw), flush=True)
    with open(os.path.join(OUT, "anchors.jsonl"), "a") as f:
        f.write(json.dumps(kw) + "\n")


# do_bench's warm-up in ms; ANCHOR_WARMUP_MS=500 matches `attnc bench --warmup-ms 500` (an idle GPU's
# clocks dip for a few hundred ms once work arrives: bench/RESULTS.md, 2026-12-06 run80)
WARMUP_MS = int(os.environ.get("ANCHOR_WARMUP_MS", "50"))


def bench(fn):
    fn()
    torch.cuda.synchronize()
    return do_bench(fn, warmup=WARMUP_MS, rep=300, return_mode="median")  # ms


def rand(B, H, N, D):
    return [torch.randn(B, H, N, D, device=dev, dtype=torch.bfloat16) for _ in range(3)]


def ceilings():
    a = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device=dev, dtype=torch.bfloat16)
    ms = bench(lambda: a @ b)
    emit(case="ceiling_bf16_matmul_8192", ms=ms, tflops=2 * 8192**3 / ms / 1e9)
    x = torch.empty(2 * 1024**3, dtype=torch.uint8, device=dev)
    y = torch.empty_like(x)
    ms = bench(lambda: y.copy_(x))
    emit(case="ceiling_d2d_copy_2GiB", ms=ms, tbps=2 * x.numel() / ms / 1e9)
    del x, y


# Neighborhood masks (NATTEN semantics: the window is clamped at the borders),
# shared by the forward and backward anchors.
NA2D_GRID, NA2D_WINDOW, NA2D_TILE = (128, 128), (17, 17), (8, 16)
NA3D_GRID, NA3D_WINDOW, NA3D_TILE = (16, 32, 32), (7, 13, 13), (4, 4, 8)


def na2d_rowmajor(b, h, q, k):
    (GH, GW), (KH, KW) = NA2D_GRID, NA2D_WINDOW
    rh, rw = KH // 2, KW // 2
    qx, qy, kx, ky = q // GW, q % GW, k // GW, k % GW
    cx, cy = qx.clamp(rh, GH - 1 - rh), qy.clamp(rw, GW - 1 - rw)
    return ((cx - kx).abs() <= rh) & ((cy - ky).abs() <= rw)


def na2d_tiled(b, h, q, k):
    """Tokens permuted into 8x16 tiles (what GNA/NATTEN call token permute)."""
    (GH, GW), (KH, KW), (TH, TW) = NA2D_GRID, NA2D_WINDOW, NA2D_TILE
    rh, rw = KH // 2, KW // 2

    def coords(t):
        tile, inner = t // (TH * TW), t % (TH * TW)
        tr, tc = tile // (GW // TW), tile % (GW // TW)
        return tr * TH + inner // TW, tc * TW + inner % TW
    qx, qy = coords(q)
    kx, ky = coords(k)
    cx, cy = qx.clamp(rh, GH - 1 - rh), qy.clamp(rw, GW - 1 - rw)
    return ((cx - kx).abs() <= rh) & ((cy - ky).abs() <= rw)


def na3d(b, h, q, k):
    """3-D neighborhood on a video grid with tokens tiled 4x4x8."""
    G, Kw, T = NA3D_GRID, NA3D_WINDOW, NA3D_TILE
    NT = [G[i] // T[i] for i in range(3)]

    def coords(t):
        tile, inner = t // (T[0] * T[1] * T[2]), t % (T[0] * T[1] * T[2])
        a = tile // (NT[1] * NT[2]); bb = (tile // NT[2]) % NT[1]; c = tile % NT[2]
        ia = inner // (T[1] * T[2]); ib = (inner // T[2]) % T[1]; ic = inner % T[2]
        return a * T[0] + ia, bb * T[1] + ib, c * T[2] + ic
    qc, kc = coords(q), coords(k)
    m = None
    for i in range(3):
        r3 = Kw[i] // 2
        c = qc[i].clamp(r3, G[i] - 1 - r3)
        mi = (c - kc[i]).abs() <= r3
        m = mi if m is None else (m & mi)
    return m


def sdpa_cases():
    for D, H in ((128, 16), (64, 32)):
        for N in (4096, 8192, 16384):
            B = max(1, 16384 // N)
            q, k, v = rand(B, H, N, D)
            for causal in (False, True):
                pairs = N * N if not causal else N * (N + 1) // 2
                fl = 4 * D * pairs * B * H
                for name, be in (("sdpa_flash2", SDPBackend.FLASH_ATTENTION), ("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION)):
                    try:
                        with sdpa_kernel(be):
                            ms = bench(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=causal))
                        emit(case=f"dense_{'causal' if causal else 'full'}", impl=name, B=B, H=H, N=N, D=D, ms=ms, tflops=fl / ms / 1e9)
                    except Exception as e:  # backend not available for this shape
                        emit(case=f"dense_{'causal' if causal else 'full'}", impl=name, B=B, H=H, N=N, D=D, error=str(e)[:200])
            del q, k, v


def flex_cases(quick):
    from torch.nn.attention.flex_attention import flex_attention, create_block_mask
    flex = torch.compile(flex_attention, dynamic=False)

    def run(case, mask_mod, B, H, N, D, pairs, **meta):
        q, k, v = rand(B, H, N, D)
        t0 = time.time()
        bm = create_block_mask(mask_mod, None, None, N, N, device=dev) if mask_mod else None
        flex(q, k, v, block_mask=bm)
        torch.cuda.synchronize()
        comp = time.time() - t0
        ms = bench(lambda: flex(q, k, v, block_mask=bm))
        torch.cuda.reset_peak_memory_stats()
        flex(q, k, v, block_mask=bm)
        torch.cuda.synchronize()
        emit(case=case, impl="flex_attention", B=B, H=H, N=N, D=D, ms=ms,
             tflops=4 * D * pairs * B * H / ms / 1e9, density=pairs / (N * N), compile_s=comp,
             peak_gib=torch.cuda.max_memory_allocated() / 2**30, **meta)
        del q, k, v

    D, H = 128, 16
    N = 8192
    run("dense_full", None, 2, H, N, D, N * N)
    run("dense_causal", lambda b, h, q, k: q >= k, 2, H, N, D, N * (N + 1) // 2)
    N = 16384
    W = 1024  # causal sliding window: each query sees itself and W-1 keys before it
    pairs = sum(min(i + 1, W) for i in range(N))
    run("swa_causal_w1024", lambda b, h, q, k: (q >= k) & (q - k < W), 1, H, N, D, pairs, window=W)
    if quick:
        return
    K1 = 1023  # 1-D neighborhood attention, NATTEN semantics (window clamped at borders)
    r = K1 // 2
    def na1d(b, h, q, k):
        c = q.clamp(r, N - 1 - r)
        return (c - k).abs() <= r
    run("na1d_k1023", na1d, 1, H, N, D, N * K1, window=K1)
    GH, GW, KH, KW = NA2D_GRID + NA2D_WINDOW
    run("na2d_128x128_k17_rowmajor", na2d_rowmajor, 1, H, GH * GW, D, GH * GW * KH * KW, grid=[GH, GW], window=[KH, KW])
    # dilated 2-D neighborhood (DiNAT) on 192x192, window 9x9, dilation 3, D=64,
    # and its undilated twin (bench/cases.txt na2d_k9_dil3_d64 / na2d_k9_d64);
    # 192 is divisible by 3, so every group is 64x64
    G2, K9, DL = 192, 9, 3
    def na2d_dil(dl):
        L, r9 = G2 // dl, K9 // 2
        def mask(b, h, q, k):
            qx, qy, kx, ky = q // G2, q % G2, k // G2, k % G2
            same = (qx % dl == kx % dl) & (qy % dl == ky % dl)
            cx, cy = (qx // dl).clamp(r9, L - 1 - r9), (qy // dl).clamp(r9, L - 1 - r9)
            return same & ((cx - kx // dl).abs() <= r9) & ((cy - ky // dl).abs() <= r9)
        return mask
    run("na2d_192x192_k9_dil3", na2d_dil(DL), 1, H, G2 * G2, 64, G2 * G2 * K9 * K9, grid=[G2, G2], window=[K9, K9],
        dilation=[DL, DL])
    run("na2d_192x192_k9", na2d_dil(1), 1, H, G2 * G2, 64, G2 * G2 * K9 * K9, grid=[G2, G2], window=[K9, K9])
    TH, TW = NA2D_TILE
    run("na2d_128x128_k17_tiled", na2d_tiled, 1, H, GH * GW, D, GH * GW * KH * KW, grid=[GH, GW], window=[KH, KW], tile=[TH, TW])
    G, Kw, T = NA3D_GRID, NA3D_WINDOW, NA3D_TILE
    n3 = G[0] * G[1] * G[2]
    run("na3d_16x32x32_k7x13x13_tiled", na3d, 1, H, n3, D, n3 * Kw[0] * Kw[1] * Kw[2], grid=list(G), window=list(Kw), tile=list(T))


def sparse_cases(sequences_only=False):
    """Issue 17's anchors: FlexAttention on sinks + window and on packed
    documents; cuDNN dense on the FLUX and HunyuanVideo token counts (the
    speedups NATTEN publishes are over that), unless sequences_only."""
    from torch.nn.attention.flex_attention import flex_attention, create_block_mask
    flex = torch.compile(flex_attention, dynamic=False)
    D, H = 128, 16

    def flex_run(case, mask_mod, N, pairs, **meta):
        q, k, v = rand(1, H, N, D)
        t0 = time.time()
        bm = create_block_mask(mask_mod, None, None, N, N, device=dev)
        flex(q, k, v, block_mask=bm)
        torch.cuda.synchronize()
        comp = time.time() - t0
        ms = bench(lambda: flex(q, k, v, block_mask=bm))
        emit(case=case, impl="flex_attention", B=1, H=H, N=N, D=D, ms=ms, tflops=4 * D * pairs * H / ms / 1e9,
             density=pairs / (N * N), compile_s=comp, **meta)
        del q, k, v, bm

    N, W = 32768, 2047  # causal && (sinks(4) || sliding_window(2047, 0))
    pairs = sum(min(i + 1, W + 1) + (min(4, i + 1 - (W + 1)) if i + 1 > W + 1 else 0) for i in range(N))
    flex_run("sinks4_swa_causal_w2047", lambda b, h, q, k: (q >= k) & ((k < 4) | (q - k <= W)), N, pairs, window=W)
    N, ndoc = 65536, 8  # 8 equal causal documents, as attnc bench fills the ids
    L = N // ndoc
    flex_run("doc8_causal", lambda b, h, q, k: (q >= k) & (q // L == k // L), N, ndoc * L * (L + 1) // 2, docs=ndoc)
    if sequences_only:
        return
    for case, n in (("flux_dense", 256 * 256), ("hunyuan_dense", 30 * 48 * 80)):
        q, k, v = rand(1, 24, n, D)
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            ms = bench(lambda: F.scaled_dot_product_attention(q, k, v))
        emit(case=case, impl="sdpa_cudnn", B=1, H=24, N=n, D=D, ms=ms, tflops=4 * D * n * n * 24 / ms / 1e9)
        del q, k, v


def bwd_cases():
    """Issue 14's backward anchors (2.5x the forward's FLOPs): SDPA (FA2, cuDNN)
    on dense D=128, FlexAttention on causal, sliding window 1024 and the 2-D/3-D
    neighborhoods (row-major and tiled token layouts: the issue asks for Flex's
    best). The backward alone is timed: o.backward(dO) on a kept graph."""
    from torch.nn.attention.flex_attention import flex_attention, create_block_mask
    flex = torch.compile(flex_attention, dynamic=False)
    D, H = 128, 16

    def grads(B, N):
        return [torch.randn(B, H, N, D, device=dev, dtype=torch.bfloat16, requires_grad=True) for _ in range(3)]

    def time_bwd(o, qkv):
        g = torch.randn_like(o)
        o.backward(g, retain_graph=True)
        torch.cuda.synchronize()
        return do_bench(lambda: o.backward(g, retain_graph=True), warmup=10, rep=300, return_mode="median",
                        grad_to_none=qkv)

    for N in (8192, 16384):
        B = 16384 // N
        for causal in (False, True):
            qkv = grads(B, N)
            fl = 2.5 * 4 * D * (N * (N + 1) // 2 if causal else N * N) * B * H
            case = "dense_causal" if causal else "dense_full"
            for name, be in (("sdpa_flash2", SDPBackend.FLASH_ATTENTION), ("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION)):
                try:
                    with sdpa_kernel(be):
                        ms = time_bwd(F.scaled_dot_product_attention(*qkv, is_causal=causal), qkv)
                    emit(case=case, impl=name + "_bwd", B=B, H=H, N=N, D=D, ms=ms, tflops=fl / ms / 1e9)
                except Exception as e:
                    emit(case=case, impl=name + "_bwd", B=B, H=H, N=N, D=D, error=str(e)[:200])
            del qkv
    n2 = NA2D_GRID[0] * NA2D_GRID[1]
    n3 = NA3D_GRID[0] * NA3D_GRID[1] * NA3D_GRID[2]
    W, N = 1024, 16384
    for case, mod, n, pairs in (
            ("dense_causal", lambda b, h, q, k: q >= k, N, N * (N + 1) // 2),
            ("swa_causal_w1024", lambda b, h, q, k: (q >= k) & (q - k < W), N, sum(min(i + 1, W) for i in range(N))),
            ("na2d_128x128_k17_rowmajor", na2d_rowmajor, n2, n2 * NA2D_WINDOW[0] * NA2D_WINDOW[1]),
            ("na2d_128x128_k17_tiled", na2d_tiled, n2, n2 * NA2D_WINDOW[0] * NA2D_WINDOW[1]),
            ("na3d_16x32x32_k7x13x13_tiled", na3d, n3, n3 * NA3D_WINDOW[0] * NA3D_WINDOW[1] * NA3D_WINDOW[2])):
        try:
            qkv = grads(1, n)
            bm = create_block_mask(mod, None, None, n, n, device=dev)
            ms = time_bwd(flex(*qkv, block_mask=bm), qkv)
            emit(case=case, impl="flex_attention_bwd", B=1, H=H, N=n, D=D, ms=ms,
                 tflops=2.5 * 4 * D * pairs * H / ms / 1e9, density=pairs / (n * n))
            del qkv, bm
        except Exception as e:
            emit(case=case, impl="flex_attention_bwd", N=n, error=repr(e)[:200])


def linear_cases():
    """Causal linear attention with per-head decay, Lightning-Attention-2 style split, in eager PyTorch."""
    B, H, N, D, C = 1, 16, 16384, 128, 64
    q, k, v = [x.float() * 0.1 for x in rand(B, H, N, D)]
    lam = torch.linspace(0.9, 0.999, H, device=dev).view(1, H, 1, 1)
    def chunked():
        nb = N // C
        qc, kc, vc = (x.view(B, H, nb, C, D) for x in (q, k, v))
        i = torch.arange(C, device=dev)
        decay_intra = lam.unsqueeze(2) ** (i.view(C, 1) - i.view(1, C)).clamp(min=0)  # [1,H,1,C,C]
        causal = (i.view(C, 1) >= i.view(1, C))
        intra = ((qc @ kc.transpose(-1, -2)) * decay_intra * causal) @ vc
        kv = torch.zeros(B, H, D, D, device=dev)
        out = torch.empty_like(intra)
        qd = lam.unsqueeze(2) ** (i.view(C, 1) + 1)          # decay from chunk start to query
        kd = lam.unsqueeze(2) ** (C - 1 - i.view(C, 1))      # decay from key to chunk end
        lc = lam ** C
        for j in range(nb):
            out[:, :, j] = intra[:, :, j] + (qc[:, :, j] * qd[:, :, 0]) @ kv
            kv = lc * kv + (kc[:, :, j] * kd[:, :, 0]).transpose(-1, -2) @ vc[:, :, j]
        return out
    ms = bench(chunked)
    fl = B * H * (N * C * D * 2 + N * D * D * 4)  # intra quadratic part + inter state part (approx.)
    emit(case="linear_decay_causal", impl="torch_eager_chunked_fp32", B=B, H=H, N=N, D=D, chunk=C, ms=ms, tflops=fl / ms / 1e9)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print("torch", torch.__version__, torch.cuda.get_device_name(0), flush=True)
    steps = (ceilings, sdpa_cases, lambda: flex_cases(quick), *(() if quick else (sparse_cases,)))
    if "--sparse" in sys.argv:  # only issue 17's anchors
        steps = (sparse_cases,)
    if "--sparse-seq" in sys.argv:  # only FlexAttention on sinks + window and documents (~10 s)
        steps = (lambda: sparse_cases(True),)
    if "--bwd" in sys.argv:  # only issue 14's backward anchors
        steps = (bwd_cases,)
    if "--dense" in sys.argv:  # only SDPA's dense and causal forward (FA2, cuDNN), D=128 and 64
        steps = (sdpa_cases,)
    for step in steps:
        try:
            step()
        except Exception as e:
            emit(case=getattr(step, "__name__", "step"), error=repr(e)[:300])
    print("\n%-34s %-18s %6s %5s %9s %8s" % ("case", "impl", "N", "D", "ms", "TFLOP/s"))
    for r in rows:
        if "ms" in r:
            print("%-34s %-18s %6s %5s %9.3f %8.1f" % (r["case"], r.get("impl", ""), r.get("N", ""), r.get("D", ""), r["ms"], r.get("tflops", r.get("tbps", 0))))
