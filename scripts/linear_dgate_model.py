"""A numpy model of the linear GPU backward's decay gradient (codegen/nvptx_linear_bwd.c),
to see where its precision goes without a GPU (docs/linear-gpu.md, "Decay gradient").

Per-head decay lam, bf16 inputs. The scans are modelled as the kernels compute them: blocks of
64, masked scores rounded to bf16 before P.V, the state mirror rounded to bf16 for the inter
product, w*K rounded to bf16 in the state update, f32 accumulation; the dk scan runs reversed
with its blocks on the forward blocks (the sequence padded at its end). dlam is compared with the
fp64 value over the heads of a case (rel L2, as tests/gpu/test_gpu_linear_backward.c does):

  old     dlam = sum_t t (q.dq - k.dk)_t / lam   (the same as suffix sums over the whole sequence:
          every pair inside the suffix cancels between two independently rounded scans)
  blocks  d log a_t = a_b1 <S_{b1-1}, R_b1> + sum_{t <= t' < b1} (q.dq - k.dk)_t'   (the kernels:
          S stored as bf16 by the dq scan, R the dk scan's f32 state)

usage: python3 scripts/linear_dgate_model.py      (numpy; ~1 minute)
"""
import numpy as np

C = 64


def bf(x):
    """Round f32 to bf16 (nearest even), kept as f32."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(np.float32)


def scan(qr, kr, vr, dot, lam):
    """o_t = sum_{s<=t} lam^(t-s) (qr_t.kr_s) vr_s in blocks; returns (o_t . dot_t) per token (f32)."""
    N = qr.shape[0]
    S = np.zeros((kr.shape[1], vr.shape[1]), np.float32)
    out = np.zeros(N, np.float32)
    states = []
    ll = np.float32(np.log2(lam))
    for b0 in range(0, N, C):
        c = min(C, N - b0)
        i = np.arange(c, dtype=np.float32)
        G = (i + 1) * ll
        d = i[:, None] - i[None, :]
        M = np.where(d >= 0, np.exp2(G[:, None] - G[None, :]), 0).astype(np.float32)  # 2^(Gi - Gj), j <= i
        P = (qr[b0:b0 + c] @ kr[b0:b0 + c].T).astype(np.float32) * M
        o = bf(P) @ vr[b0:b0 + c] + np.exp2(G)[:, None] * (qr[b0:b0 + c] @ bf(S))
        out[b0:b0 + c] = (o * dot[b0:b0 + c]).sum(1)
        w = np.exp2(G[c - 1] - G).astype(np.float32)
        S = np.float32(np.exp2(G[c - 1])) * S + bf(w[:, None] * kr[b0:b0 + c]).T @ vr[b0:b0 + c]
        states.append(S.copy())
    return out, states


def exact(q, k, v, do, lam):
    q, k, v, do = (x.astype(np.float64) for x in (q, k, v, do))
    t = np.arange(q.shape[0])
    d = t[:, None] - t[None, :]
    A = np.tril((q @ k.T) * (do @ v.T) * lam ** np.clip(d, 0, None))
    return (d * A).sum() / lam


def head(N, lam, rng):
    q, k, v, do = (bf(rng.uniform(-1, 1, (N, 128)).astype(np.float32)) for _ in range(4))
    P = (-N) % C
    pad = lambda x: np.concatenate([x, np.zeros((P, x.shape[1]), np.float32)])
    rev = lambda x: x[::-1]
    qdq, S = scan(do, v, k, q, lam)                                       # dq scan: state sum w v k^T
    kdk, R = scan(rev(pad(v)), rev(pad(do)), rev(pad(q)), rev(pad(k)), lam)  # dk scan: sum w do q^T
    kdk = rev(kdk)[:N]
    dg = qdq.astype(np.float64) - kdk
    old = (np.arange(N) * dg).sum() / lam
    nb = (N + P) // C
    dla = np.zeros(N)
    for j in range(nb):
        b0, b1 = j * C, min(j * C + C, N)
        s = lam * float((bf(S[j]).astype(np.float64) * R[nb - 2 - j]).sum()) if b0 + C < N else 0.0
        for t in range(b1 - 1, b0 - 1, -1):
            s += dg[t]
            dla[t] = 0.0 if t == 0 else s
    return exact(q, k, v, do, lam), old, dla.sum() / lam


def case(N, lo, hi, heads, seed):
    rng = np.random.default_rng(seed)
    r = np.array([head(N, lo + (hi - lo) * rng.uniform(), rng) for _ in range(heads)])
    rel = lambda x: np.linalg.norm(x - r[:, 0]) / np.linalg.norm(r[:, 0])
    print("N %5d lam %.3g..%.3g, %d heads: rel L2 of dlam  old %.2e  blocks %.2e" % (N, lo, hi, heads, rel(r[:, 1]), rel(r[:, 2])))


if __name__ == "__main__":
    np.seterr(all="ignore")
    for seed in (1, 2):
        case(1000, 0.5, 1.0, 6, seed)
        case(777, 1e-3, 0.05, 6, seed)
    case(47, 0.9, 1.0, 2, 1)
    case(1601, 0.99, 1.0, 4, 1)
