"""Recipe text written by the helper functions (attnc.na1d/2d/3d, attention,
lightning, gated_linear). Each function returns the whole .attn text; it
depends only on what changes the compiled code (element type, head
dimensions, GQA / cross attention, the mask and score, window sizes), never
on batch, heads or token counts, so those never cause a recompile."""

HEAD_DIMS = (16, 32, 64, 96, 128, 256)
_GRID = {1: (), 2: (("y", "Y"), ("x", "X")), 3: (("z", "Z"), ("y", "Y"), ("x", "X"))}


def float_literal(x):
    """A float as the recipe language writes it (digits.digits[e...])."""
    r = repr(float(x))
    if "inf" in r or "nan" in r:
        raise ValueError(f"{x!r} is not a finite number")
    if "e" in r and "." not in r.split("e")[0]:
        m, e = r.split("e")
        r = f"{m}.0e{e}"
    elif "." not in r and "e" not in r:
        r += ".0"
    return r


def _inputs(dtype, head_dim, head_dim_v, gqa=False, cross=False):
    heads = "kv_heads" if gqa else "heads"
    tokens = "kv_tokens" if cross else "tokens"
    lines = [f"input  q : {dtype} [batch, heads, tokens, {head_dim}]"]
    if head_dim == head_dim_v:
        lines.append(f"input  k, v : {dtype} [batch, {heads}, {tokens}, {head_dim}]")
    else:
        lines.append(f"input  k : {dtype} [batch, {heads}, {tokens}, {head_dim}]")
        lines.append(f"input  v : {dtype} [batch, {heads}, {tokens}, {head_dim_v}]")
    return lines


def _tuple(vals, fmt=str):
    return fmt(vals[0]) if len(vals) == 1 else "(" + ", ".join(fmt(v) for v in vals) + ")"


def neighborhood(nd, dtype, head_dim, head_dim_v, kernel_size, dilation, stride, causal,
                 rpb_dtype=None, scale=None, gqa=False):
    """NATTEN's neighborhood attention in nd dimensions (tuples of nd ints /
    bools). rpb_dtype: the element type of a relative position bias table
    [heads, 2k-1, ...] added to the scores (None: no table)."""
    lines = [f"recipe na{nd}d"] + _inputs(dtype, head_dim, head_dim_v, gqa)
    grid = _GRID[nd]
    if grid:
        lines.append("tokens grid(" + ", ".join(f"{c}: {n}" for c, n in grid) + ")")
    if rpb_dtype:
        lines.append(f"param  rpb : {rpb_dtype} [heads, " + ", ".join(str(2 * w - 1) for w in kernel_size) + "]")
    lines.append("mask   neighborhood(window: " + _tuple(kernel_size) + ", dilation: " + _tuple(dilation)
                 + ", stride: " + _tuple(stride) + ", causal: " + _tuple(causal, lambda b: "true" if b else "false")
                 + ")")
    score = "s * scale"
    if rpb_dtype:
        coords = [c for c, _ in grid] or ["t"]
        idx = ", ".join((f"k.{c} - q.{c}" if d == 1 else f"(k.{c} - q.{c}) / {d}") + f" + {w - 1}"
                        for c, d, w in zip(coords, dilation, kernel_size))
        score += f" + rpb[head, {idx}]"
    lines.append("score  " + score)
    if scale is not None:
        lines.append("scale = " + float_literal(scale))
    lines.append("tile   auto")
    return "\n".join(lines) + "\n"


def attention(dtype, head_dim, head_dim_v, mask=None, score=None, scale=None, params=(), gqa=False, cross=False):
    """Softmax attention with a mask and score written as recipe fragments.
    params: (name, dtype, dims) triples, dims a list of size names or ints
    (an empty list declares a scalar)."""
    lines = ["recipe attention"] + _inputs(dtype, head_dim, head_dim_v, gqa, cross)
    for name, dt, dims in params:
        shape = (" [" + ", ".join(str(d) for d in dims) + "]") if dims else ""
        lines.append(f"param  {name} : {dt}{shape}")
    if mask is not None:
        lines.append("mask   " + mask)
    if score is not None:
        lines.append("score  " + score)
    if scale is not None:
        lines.append("scale = " + float_literal(scale))
    lines.append("tile   auto")
    return "\n".join(lines) + "\n"


def linear(dtype, head_dim, head_dim_v, decay, feature="identity", normalize=False, causal=True,
           block=None, inter=None):
    """Linear attention. decay: "head" (param decay : f32 [heads]), "token"
    (param gate : f32 [batch, heads, tokens], log space) or None."""
    name = {"head": "lightning", "token": "gated_linear", None: "linear"}[decay]
    lines = [f"recipe {name}"] + _inputs(dtype, head_dim, head_dim_v)
    if decay == "head":
        lines.append("param  decay : f32 [heads]")
    elif decay == "token":
        lines.append("param  gate : f32 [batch, heads, tokens]")
    lines.append("linear {")
    lines.append("  causal" if causal else "  noncausal")
    lines.append(f"  feature {feature}")
    if decay == "head":
        lines.append("  decay decay[head]")
    elif decay == "token":
        lines.append("  decay gate[batch, head, t]")
    if normalize:
        lines.append("  normalize")
    split = []
    if block is not None:
        split.append(f"block {int(block)}")
    if inter is not None:
        split.append(f"inter {inter}")
    if split:
        lines.append("  split " + " ".join(split))
    lines.append("}")
    lines.append("tile   auto")
    return "\n".join(lines) + "\n"
