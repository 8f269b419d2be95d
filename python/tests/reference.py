"""Plain fp64 references for the tests, written from the definitions in
docs/recipe-language.md (and frontend/forms.h), independent of attnc."""

import math

import numpy as np


def na_keep_1d(L, w, dil, st, causal):
    """[L, L] bool: the neighborhood form in one dimension."""
    keep = np.zeros((L, L), dtype=bool)
    for i in range(L):
        g = i % dil
        lg = (L - g + dil - 1) // dil
        ii = i // dil
        for j in range(g, L, dil):
            jj = j // dil
            if causal:
                keep[i, j] = max(ii - w + 1, 0) <= jj <= ii
            else:
                c = min((ii // st) * st + st // 2, lg - 1)
                start = max(min(c - w // 2, lg - w), 0)
                keep[i, j] = start <= jj < start + w
    return keep


def na_keep(spatial, ks, dil, st, causal):
    """[T, T] bool over row-major tokens of a grid `spatial`."""
    coords = np.stack(np.meshgrid(*[np.arange(n) for n in spatial], indexing="ij"), -1).reshape(-1, len(spatial))
    keep = np.ones((len(coords), len(coords)), dtype=bool)
    for d, n in enumerate(spatial):
        k1 = na_keep_1d(n, ks[d], dil[d], st[d], causal[d])
        keep &= k1[coords[:, d][:, None], coords[:, d][None, :]]
    return keep, coords


def softmax_attention(q, k, v, keep=None, bias=None, scale=None, score=None):
    """q [B, H, T, D], k/v [B, Hk, Tk, D]; keep [T, Tk] or [B, H, T, Tk];
    bias broadcast onto the scores; score(s_scaled) maps logits.
    Returns (o, lse) in fp64; fully masked rows give o = 0, lse = -inf."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    B, H, T, D = q.shape
    rep = H // k.shape[1]
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    scale = 1 / math.sqrt(D) if scale is None else scale
    s = np.einsum("bhtd,bhsd->bhts", q, k) * scale
    if score is not None:
        s = score(s)
    if bias is not None:
        s = s + bias
    if keep is not None:
        s = np.where(np.broadcast_to(keep, s.shape), s, -np.inf)
    m = s.max(-1, keepdims=True)
    safe = np.where(np.isfinite(m), m, 0)
    p = np.exp(s - safe)
    z = p.sum(-1, keepdims=True)
    o = np.einsum("bhts,bhsd->bhtd", np.divide(p, z, out=np.zeros_like(p), where=z > 0), v)
    lse = np.where(z[..., 0] > 0, np.log(np.where(z[..., 0] > 0, z[..., 0], 1)) + safe[..., 0], -np.inf)
    return o, lse


def rpb_bias(rpb, coords, ks, dil):
    """[H, T, T] bias rpb[h, (kj - qi) / dil + k - 1, ...] for every pair
    (pairs outside the table, which the mask drops anyway, get 0)."""
    H = rpb.shape[0]
    T = len(coords)
    bias = np.zeros((H, T, T))
    idx = []
    for d in range(coords.shape[1]):
        diff = coords[None, :, d] - coords[:, None, d]
        i = diff // dil[d] + ks[d] - 1
        idx.append(i)
    ok = np.all([(i >= 0) & (i < 2 * ks[d] - 1) for d, i in enumerate(idx)], axis=0)
    clipped = [np.clip(i, 0, 2 * ks[d] - 2) for d, i in enumerate(idx)]
    for h in range(H):
        bias[h] = np.where(ok, rpb[(h,) + tuple(clipped)], 0)
    return bias


def linear_attention(q, k, v, decay=None, gate=None):
    """Causal linear attention, step by step: S_t = a_t S_{t-1} + k_t^T v_t,
    o_t = q_t S_t, a = decay[h] or exp(gate[b, h, t])."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    B, H, T, D = q.shape
    o = np.zeros(q.shape[:3] + (v.shape[3],))
    for b in range(B):
        for h in range(H):
            S = np.zeros((D, v.shape[3]))
            for t in range(T):
                a = 1.0
                if decay is not None:
                    a = float(decay[h])
                if gate is not None:
                    a = math.exp(float(gate[b, h, t]))
                S = a * S + np.outer(k[b, h, t], v[b, h, t])
                o[b, h, t] = q[b, h, t] @ S
    return o
