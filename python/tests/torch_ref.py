"""Eager PyTorch references (differentiable) for the torch tests: neighborhood
attention in NATTEN's layout and masked attention, through plain tensor ops."""

import numpy as np
import torch

import reference as ref


def masked_attention(q, k, v, keep, bias=None, scale=None):
    """q [B, H, T, D]; keep [T, Tk] bool (numpy or torch); float math in
    q's dtype upcast to float32."""
    dt = q.dtype
    q, k, v = (x.float() for x in (q, k, v))
    rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    s = torch.einsum("bhtd,bhsd->bhts", q, k) * scale
    if bias is not None:
        s = s + bias
    keep = torch.as_tensor(np.asarray(keep), device=q.device)
    s = s.masked_fill(~keep, float("-inf"))
    return torch.einsum("bhts,bhsd->bhtd", torch.softmax(s, -1), v).to(dt)


def natten(q, k, v, ks, dil=None, st=None, causal=None, rpb=None, scale=None):
    """[B, *spatial, H, D] in and out, like attnc.na{1,2,3}d."""
    nd = q.dim() - 3
    spatial = tuple(q.shape[1:1 + nd])
    dil, st, causal = dil or (1,) * nd, st or (1,) * nd, causal or (False,) * nd
    keep, coords = ref.na_keep(spatial, ks, dil, st, causal)
    flat = [x.reshape(x.shape[0], -1, x.shape[-2], x.shape[-1]).transpose(1, 2) for x in (q, k, v)]
    bias = None
    if rpb is not None:
        idx = []
        for d in range(nd):
            diff = coords[None, :, d] - coords[:, None, d]
            idx.append(torch.as_tensor(np.clip(diff // dil[d] + ks[d] - 1, 0, 2 * ks[d] - 2), device=q.device))
        bias = rpb.float()[(slice(None),) + tuple(idx)][None]
    o = masked_attention(*flat, keep, bias=bias, scale=scale)
    return o.transpose(1, 2).reshape(q.shape[:-1] + (v.shape[-1],))
