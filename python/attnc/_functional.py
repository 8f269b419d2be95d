"""Helper functions that write a recipe at call time: NATTEN-style
neighborhood attention (na1d, na2d, na3d), softmax attention from mask and
score fragments (attention), and linear attention (lightning, gated_linear).

Each call writes the recipe text from what changes the compiled code (element
type, head dims, window sizes, the fragments), looks the kernel up in the
in-memory cache by that text (the C library's disk cache keeps compiled GPU
code across processes), and launches it. Batch, heads, token counts and grid
extents are launch arguments: changing them never recompiles.

Torch tensors and numpy arrays are taken as they are (other DLPack arrays
through numpy.from_dlpack); results come back in the same framework.
"""

import sys

from . import _arrays
from . import _kernel
from . import _recipes


def _torch_mod():
    mod = sys.modules.get("attnc._torch")
    if mod is None:
        from . import _torch as mod
    return mod


def _framework(x, name):
    """'torch' or 'numpy' (other DLPack arrays are read through numpy)."""
    if _arrays.is_torch(x):
        return "torch", x
    np = sys.modules.get("numpy")
    if np is not None and isinstance(x, np.ndarray):
        return "numpy", x
    if hasattr(x, "__dlpack__"):
        try:
            import numpy as np
        except ImportError:
            raise TypeError(f"tensor '{name}': the attnc helpers take torch tensors or numpy arrays "
                            "(other DLPack arrays need numpy)") from None
        return "numpy", np.from_dlpack(x)
    raise TypeError(f"tensor '{name}': expected a torch tensor or a numpy array, got {type(x).__name__}")


def _inputs(q, k, v):
    fw, q = _framework(q, "q")
    out = [q]
    for name, x in (("k", k), ("v", v)):
        f, x = _framework(x, name)
        if f != fw:
            raise TypeError(f"tensor '{name}' is a {f} array but 'q' is a {fw} array")
        out.append(x)
    return fw, out


def _dtype(fw, x, name):
    if fw == "torch":
        code = _arrays.torch_dtypes().get(x.dtype)
        what = x.dtype
    else:
        code = _arrays._NUMPY_DTYPES.get(x.dtype.name)
        what = f"numpy.{x.dtype.name}"
    if code is None:
        raise TypeError(f"tensor '{name}': element type {what} is not supported")
    return code


def _qkv_dtype(fw, q, k, v):
    code = _dtype(fw, q, "q")
    if code not in (_arrays.BF16, _arrays.F16, _arrays.F32):
        raise TypeError(f"tensor 'q': element type {_arrays.dtype_name(code)}; attention takes bf16, f16 or f32")
    for name, x in (("k", k), ("v", v)):
        c = _dtype(fw, x, name)
        if c != code:
            raise TypeError(f"tensor '{name}': element type {_arrays.dtype_name(c)} but 'q' is "
                            f"{_arrays.dtype_name(code)}")
    return _arrays.dtype_name(code)


def _check_head_dims(d, dv):
    for name, x in (("q", d), ("v", dv)):
        if x not in _recipes.HEAD_DIMS:
            raise ValueError(f"tensor '{name}': head dimension {x} is not supported "
                             f"({', '.join(map(str, _recipes.HEAD_DIMS))})")


def _last_contiguous(fw, x):
    if fw == "torch":
        return x if x.stride(-1) == 1 else x.contiguous()
    import numpy as np

    return x if x.strides[-1] == x.itemsize else np.ascontiguousarray(x)


def _transpose12(fw, x):
    return x.transpose(1, 2) if fw == "torch" else x.transpose(0, 2, 1, 3)


def _run(fw, text, source, family, q, k, v, params, sizes, return_lse=False, varlen=None):
    if fw == "torch":
        return _torch_mod().run_text(text, source, family, q, k, v, params, sizes, return_lse, varlen)
    kernel = _kernel.cached(text, source, generated=True)
    return kernel(q, k, v, return_lse=return_lse, **sizes, **params, **(varlen or {}))


# ---- neighborhood attention (NATTEN) --------------------------------------------

def _per_dim(value, nd, what, kind=int):
    vals = tuple(value) if isinstance(value, (tuple, list)) else (value,) * nd
    if len(vals) != nd:
        raise ValueError(f"{what} must be one value or {nd} values, got {value!r}")
    for x in vals:
        if kind is bool:
            if not isinstance(x, bool):
                raise TypeError(f"{what} must be bools, got {value!r}")
        elif not isinstance(x, int) or isinstance(x, bool) or x < 1:
            raise ValueError(f"{what} must be positive ints, got {value!r}")
    return vals


_NA_LAYOUT = {1: "[batch, length, heads, head_dim]", 2: "[batch, height, width, heads, head_dim]",
              3: "[batch, depth, height, width, heads, head_dim]"}


def _na(nd, q, k, v, kernel_size, dilation, stride, is_causal, rpb, scale):
    fw, (q, k, v) = _inputs(q, k, v)
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.ndim != nd + 3:
            raise ValueError(f"tensor '{name}' has {x.ndim} dimensions; na{nd}d takes {_NA_LAYOUT[nd]}")
    spatial = tuple(q.shape[1:1 + nd])
    heads, d, dv = q.shape[-2], q.shape[-1], v.shape[-1]
    for name, x in (("k", k), ("v", v)):
        if tuple(x.shape[:1 + nd]) != tuple(q.shape[:1 + nd]):
            raise ValueError(f"tensor '{name}': batch and spatial shape {tuple(x.shape[:1 + nd])} differ "
                             f"from q's {tuple(q.shape[:1 + nd])}")
    if k.shape[-1] != d:
        raise ValueError(f"tensor 'k': head dimension {k.shape[-1]} but q's is {d}")
    kv_heads = k.shape[-2]
    if v.shape[-2] != kv_heads or kv_heads < 1 or heads % kv_heads:
        raise ValueError(f"tensors 'k' and 'v' have {kv_heads} and {v.shape[-2]} heads; they must be equal "
                         f"and divide q's {heads}")
    dt = _qkv_dtype(fw, q, k, v)
    _check_head_dims(d, dv)
    ks = _per_dim(kernel_size, nd, "kernel_size")
    dil = _per_dim(dilation, nd, "dilation")
    st = _per_dim(stride, nd, "stride")
    causal = _per_dim(is_causal, nd, "is_causal", bool)
    for i in range(nd):
        if ks[i] * dil[i] > spatial[i]:
            raise ValueError(f"kernel_size {ks[i]} x dilation {dil[i]} is larger than the input's "
                             f"spatial extent {spatial[i]} (dimension {i})")
        if st[i] > ks[i]:
            raise ValueError(f"stride {st[i]} is larger than kernel_size {ks[i]} (dimension {i})")
        if causal[i] and st[i] != 1:
            raise ValueError(f"dimension {i} is causal: its stride must be 1, not {st[i]}")
    rpb_dt = None
    if rpb is not None:
        if _framework(rpb, "rpb")[0] != fw:
            raise TypeError(f"tensor 'rpb' must be a {fw} array like 'q'")
        want = (heads,) + tuple(2 * w - 1 for w in ks)
        if tuple(rpb.shape) != want:
            raise ValueError(f"tensor 'rpb': shape {tuple(rpb.shape)}, expected {want} "
                             "([heads] + 2*kernel_size-1 per dimension)")
        code = _dtype(fw, rpb, "rpb")
        if code not in (_arrays.BF16, _arrays.F16, _arrays.F32):
            raise TypeError(f"tensor 'rpb': element type {_arrays.dtype_name(code)}; it must be a float type")
        rpb_dt = _arrays.dtype_name(code)
    text = _recipes.neighborhood(nd, dt, d, dv, ks, dil, st, causal, rpb_dt, scale, kv_heads != heads)
    flat = []
    for x in (q, k, v):
        x = _last_contiguous(fw, x)
        n = 1
        for e in spatial:
            n *= e
        x = x.reshape(x.shape[0], n, x.shape[-2], x.shape[-1])  # a view when the layout allows
        flat.append(_transpose12(fw, x))
    sizes = dict(zip(["Z", "Y", "X"][3 - nd:], spatial)) if nd > 1 else {}
    params = {"rpb": rpb} if rpb is not None else {}
    o = _run(fw, text, f"attnc.na{nd}d", "softmax", *flat, params, sizes)
    return _transpose12(fw, o).reshape(tuple(q.shape[:1 + nd]) + (heads, dv))


def na1d(q, k, v, kernel_size, dilation=1, stride=1, is_causal=False, rpb=None, scale=None):
    """1-D neighborhood attention with NATTEN's layout and semantics.

    q, k, v: [batch, length, heads, head_dim] (k and v may have fewer heads
    dividing q's: GQA). kernel_size, dilation, stride: ints (stride as in
    generalized neighborhood attention: 1 sliding, kernel_size blocked);
    is_causal: bool. rpb: a relative position bias [heads, 2*kernel_size-1]
    added to the scores. scale: default head_dim ** -0.5.
    Returns [batch, length, heads, head_dim_v].
    """
    return _na(1, q, k, v, kernel_size, dilation, stride, is_causal, rpb, scale)


def na2d(q, k, v, kernel_size, dilation=1, stride=1, is_causal=False, rpb=None, scale=None):
    """2-D neighborhood attention with NATTEN's layout and semantics.

    q, k, v: [batch, height, width, heads, head_dim]. kernel_size,
    dilation, stride: an int or a pair; is_causal: a bool or a pair. rpb:
    [heads, 2*kh-1, 2*kw-1]. Returns [batch, height, width, heads, head_dim_v].
    """
    return _na(2, q, k, v, kernel_size, dilation, stride, is_causal, rpb, scale)


def na3d(q, k, v, kernel_size, dilation=1, stride=1, is_causal=False, rpb=None, scale=None):
    """3-D neighborhood attention with NATTEN's layout and semantics.

    q, k, v: [batch, depth, height, width, heads, head_dim]; the arguments
    take an int or a triple. rpb: [heads, 2*kd-1, 2*kh-1, 2*kw-1].
    Returns [batch, depth, height, width, heads, head_dim_v].
    """
    return _na(3, q, k, v, kernel_size, dilation, stride, is_causal, rpb, scale)


# ---- attention from mask and score fragments -------------------------------------

def _infer_param_dims(name, shape, sizes):
    """Names for a param's dimensions from its extents: each dimension takes
    one of `sizes` ((name, extent) of batch, heads, tokens[, kv_tokens], in
    that order; only the token names may repeat, as in a bias [batch,
    heads, tokens, tokens]) whose extent matches, or a fresh size name
    (bound at launch, never compiled in). Most names win, then the earliest
    names. Every choice matches the call's extents, so a wrong guess when
    extents are equal (batch == heads) costs at most a recompile when they
    differ later; param_shapes says it explicitly."""
    best = None

    def walk(d, at, picked):
        nonlocal best
        if d == len(shape):
            key = (-sum(1 for j in picked if j >= 0), [j if j >= 0 else len(sizes) for j in picked])
            if best is None or key < best[0]:
                best = (key, list(picked))
            return
        for j in range(at, len(sizes)):
            if sizes[j][1] == shape[d]:
                repeat = sizes[j][0] in ("tokens", "kv_tokens")
                walk(d + 1, j if repeat else j + 1, picked + [j])
        walk(d + 1, at, picked + [-1])

    walk(0, 0, [])
    return [sizes[j][0] if j >= 0 else f"{name}_d{i}" for i, j in enumerate(best[1])]


def _form_dims(name, ndim, mask):
    """The shape a mask form requires of a param it names, if any."""
    import re

    if not mask:
        return None
    if re.search(r"\bdocument\s*\(\s*(ids\s*:\s*)?" + re.escape(name) + r"\s*\)", mask):
        return {1: ["tokens"], 2: ["batch", "tokens"]}.get(ndim)
    if re.search(r"\bblocks\s*\(\s*(table\s*:\s*)?" + re.escape(name) + r"\s*,", mask):
        tail = [f"{name}_nqb", f"{name}_nkb"]
        return {2: tail, 3: ["heads"] + tail, 4: ["batch", "heads"] + tail}.get(ndim)
    return None


def _param_decls(fw, params, param_shapes, batch, heads, tokens, kv_tokens, cross, mask):
    decls = []
    canon = [("batch", batch), ("heads", heads), ("tokens", tokens)] + ([("kv_tokens", kv_tokens)] if cross else [])
    for name, x in params.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"param name {name!r} is not an identifier")
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            decls.append((name, "f32", []))
            continue
        f, _ = _framework(x, name)
        if f != fw:
            raise TypeError(f"param '{name}' is a {f} array but 'q' is a {fw} array")
        dt = _arrays.dtype_name(_dtype(fw, x, name))
        given = (param_shapes or {}).get(name)
        if given is not None:
            dims = [d.strip() for d in given.strip().strip("[]").split(",")] if isinstance(given, str) else list(given)
            if len(dims) != x.ndim:
                raise ValueError(f"param_shapes['{name}'] has {len(dims)} dimensions but the tensor has {x.ndim}")
        else:
            dims = _form_dims(name, x.ndim, mask) or _infer_param_dims(name, tuple(x.shape), canon)
        decls.append((name, dt, dims))
    return decls


def attention(q, k, v, mask=None, score=None, *, scale=None, layout="bhsd", return_lse=False,
              param_shapes=None, cu_seqlens_q=None, cu_seqlens_k=None, **params):
    """Softmax attention whose mask and score are recipe fragments.

    q: [batch, heads, tokens, head_dim] (layout="bhsd", as SDPA and
    flex_attention) or [batch, tokens, heads, head_dim] (layout="bshd");
    k, v may have fewer heads (GQA) or another token count (cross
    attention). mask: a bool expression such as
    "causal && (sinks(4) || sliding_window(1023, 0))" (None: every pair);
    score: a float expression of s such as "softcap(s * scale, 50.0)"
    (None: s * scale); scale: a number (default head_dim ** -0.5).
    Further keyword arguments are params the fragments read: tensors (their
    dimensions are named batch, heads, tokens, kv_tokens where the extents
    match, in that order; param_shapes={"doc": "[batch, tokens]"} says it
    explicitly) or floats (scalar f32 params).
    cu_seqlens_q=, cu_seqlens_k=: a packed varlen batch (FlashAttention's
    cu_seqlens; batch 1, the sequences along the tokens): 1-D int32 offsets
    as Kernel.__call__ takes them; the mask applies within each sequence at
    its own coordinates.
    Returns o in q's layout, or (o, lse) with lse [batch, heads, tokens].
    """
    if layout not in ("bhsd", "bshd"):
        raise ValueError(f"layout must be 'bhsd' or 'bshd', not {layout!r}")
    for what, frag in (("mask", mask), ("score", score)):
        if frag is not None and not isinstance(frag, str):
            raise TypeError(f"{what} must be a recipe fragment (a string), not {type(frag).__name__}")
    fw, (q, k, v) = _inputs(q, k, v)
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.ndim != 4:
            raise ValueError(f"tensor '{name}' has {x.ndim} dimensions; attention takes 4 ({layout})")
    if layout == "bshd":
        q, k, v = (_transpose12(fw, x) for x in (q, k, v))
    batch, heads, tokens, d = q.shape
    kv_heads, kv_tokens, dv = k.shape[1], k.shape[2], v.shape[3]
    if k.shape[0] != batch or v.shape[0] != batch:
        raise ValueError(f"tensors 'k' and 'v' must have q's batch size {batch}")
    if tuple(v.shape[1:3]) != (kv_heads, kv_tokens):
        raise ValueError(f"tensor 'v': heads and tokens {tuple(v.shape[1:3])} differ from k's "
                         f"{(kv_heads, kv_tokens)}")
    if kv_heads < 1 or heads % kv_heads:
        raise ValueError(f"tensor 'k' has {kv_heads} heads, which must divide q's {heads}")
    if k.shape[3] != d:
        raise ValueError(f"tensor 'k': head dimension {k.shape[3]} but q's is {d}")
    dt = _qkv_dtype(fw, q, k, v)
    _check_head_dims(d, dv)
    cross = kv_tokens != tokens
    decls = _param_decls(fw, params, param_shapes, batch, heads, tokens, kv_tokens, cross, mask)
    text = _recipes.attention(dt, d, dv, mask, score, scale, decls, kv_heads != heads, cross)
    q, k, v = (_last_contiguous(fw, x) for x in (q, k, v))
    vals = {n: (float(x) if isinstance(x, (int, float)) else x) for n, x in params.items()}
    varlen = {n: x for n, x in (("cu_seqlens_q", cu_seqlens_q), ("cu_seqlens_k", cu_seqlens_k)) if x is not None}
    res = _run(fw, text, "attnc.attention", "softmax", q, k, v, vals, {}, return_lse, varlen)
    o, lse = res if return_lse else (res, None)
    if layout == "bshd":
        o = _transpose12(fw, o)
    return (o, lse) if return_lse else o


# ---- linear attention -----------------------------------------------------------------

def _linear(kind, q, k, v, gate_or_decay, layout, normalize, feature, block, inter):
    if layout not in ("bhsd", "bshd"):
        raise ValueError(f"layout must be 'bhsd' or 'bshd', not {layout!r}")
    if feature not in ("identity", "elu1", "relu"):
        raise ValueError(f"feature must be 'identity', 'elu1' or 'relu', not {feature!r}")
    if inter not in (None, "state", "chunked"):
        raise ValueError(f"inter must be 'state' or 'chunked', not {inter!r}")
    if block is not None and (not isinstance(block, int) or block < 16 or block > 256 or block & (block - 1)):
        raise ValueError(f"block must be a power of two from 16 to 256, not {block!r}")
    fw, (q, k, v) = _inputs(q, k, v)
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.ndim != 4:
            raise ValueError(f"tensor '{name}' has {x.ndim} dimensions; linear attention takes 4 ({layout})")
    if layout == "bshd":
        q, k, v = (_transpose12(fw, x) for x in (q, k, v))
    batch, heads, tokens, d = q.shape
    if tuple(k.shape) != tuple(q.shape) or tuple(v.shape[:3]) != tuple(q.shape[:3]):
        raise ValueError(f"tensors 'k' and 'v' must match q's [batch, heads, tokens] {tuple(q.shape[:3])} "
                         "(and k its head dimension)")
    dt = _qkv_dtype(fw, q, k, v)
    _check_head_dims(d, v.shape[3])
    params = {}
    if kind == "head":
        decay = gate_or_decay
        if isinstance(decay, (int, float)) and not isinstance(decay, bool):
            if not 0 < decay <= 1:
                raise ValueError(f"decay must be in (0, 1], not {decay}")
            decay = _full(fw, q, (heads,), float(decay))
        elif _framework(decay, "decay")[0] != fw:
            raise TypeError(f"tensor 'decay' must be a {fw} array like 'q'")
        if tuple(decay.shape) != (heads,):
            raise ValueError(f"tensor 'decay': shape {tuple(decay.shape)}, expected ({heads},) (one per head)")
        params["decay"] = decay
    else:
        gate = gate_or_decay
        if _framework(gate, "gate")[0] != fw:
            raise TypeError(f"tensor 'gate' must be a {fw} array like 'q'")
        want = (batch, tokens, heads) if layout == "bshd" else (batch, heads, tokens)
        if gate.ndim != 3 or tuple(gate.shape) != want:
            raise ValueError(f"tensor 'gate': shape {tuple(gate.shape)}, expected {want} ({layout[:1]}, "
                             f"{'tokens, heads' if layout == 'bshd' else 'heads, tokens'})")
        params["gate"] = gate.transpose(1, 2) if layout == "bshd" and fw == "torch" else \
            (gate.transpose(0, 2, 1) if layout == "bshd" else gate)
    for n, x in params.items():
        if _dtype(fw, x, n) != _arrays.F32:
            raise TypeError(f"tensor '{n}' must be float32")
    text = _recipes.linear(dt, d, v.shape[3], kind, feature, normalize, True, block, inter)
    q, k, v = (_last_contiguous(fw, x) for x in (q, k, v))
    o = _run(fw, text, "attnc.lightning" if kind == "head" else "attnc.gated_linear", "linear",
             q, k, v, params, {})
    return _transpose12(fw, o) if layout == "bshd" else o


def _full(fw, like, shape, value):
    if fw == "torch":
        import torch

        return torch.full(shape, value, dtype=torch.float32, device=like.device)
    import numpy as np

    return np.full(shape, value, dtype=np.float32)


def lightning(q, k, v, decay, *, layout="bhsd", normalize=False, feature="identity", block=None, inter=None):
    """Lightning Attention-2 / RetNet: causal linear attention with a
    per-head decay, S_t = decay[h] S_{t-1} + k_t^T v_t, o_t = q_t S_t.

    decay: a float in (0, 1] for every head, or a float32 tensor [heads].
    q, k, v: [batch, heads, tokens, head_dim] (or bshd). normalize,
    feature ("identity", "elu1", "relu"), block (16..256) and inter
    ("state", "chunked") are the recipe's linear options.
    """
    return _linear("head", q, k, v, decay, layout, normalize, feature, block, inter)


def gated_linear(q, k, v, gate, *, layout="bhsd", normalize=False, feature="identity", block=None, inter=None):
    """Gated linear attention (GLA / Mamba-2 scalar gates): S_t =
    exp(g_t) S_{t-1} + k_t^T v_t with a per-token, per-head log-space gate
    g <= 0, float32 [batch, heads, tokens] ([batch, tokens, heads] with
    layout="bshd")."""
    return _linear("token", q, k, v, gate, layout, normalize, feature, block, inter)
