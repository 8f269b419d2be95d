"""The helpers that write recipes (na1d/2d/3d, attention, lightning,
gated_linear) on numpy arrays: NATTEN semantics against a plain reference,
recipe caching (new windows compile once, new shapes never), and errors."""

import numpy as np
import pytest

import attnc
import reference as ref
from conftest import close, randn


def natten_reference(q, k, v, ks, dil=None, st=None, causal=None, rpb=None, scale=None):
    """NATTEN layout [B, *spatial, H, D] in, same out, through the fp64 reference."""
    nd = q.ndim - 3
    spatial = q.shape[1:1 + nd]
    dil, st, causal = dil or (1,) * nd, st or (1,) * nd, causal or (False,) * nd
    keep, coords = ref.na_keep(spatial, ks, dil, st, causal)
    flat = [x.reshape(x.shape[0], -1, x.shape[-2], x.shape[-1]).transpose(0, 2, 1, 3) for x in (q, k, v)]
    bias = None if rpb is None else ref.rpb_bias(rpb, coords, ks, dil)[None]
    o, _ = ref.softmax_attention(*flat, keep, bias=bias, scale=scale)
    return o.transpose(0, 2, 1, 3).reshape(q.shape[:-1] + (v.shape[-1],))


def test_na2d_matches_natten_semantics(rng):
    q, k, v = (randn(rng, 2, 9, 11, 3, 32) for _ in range(3))
    o = attnc.na2d(q, k, v, kernel_size=5)
    assert o.shape == (2, 9, 11, 3, 32) and o.dtype == np.float32
    close(o, natten_reference(q, k, v, (5, 5)))


def test_na2d_dilation_stride_causal_rpb_scale(rng):
    q, k, v = (randn(rng, 1, 12, 10, 2, 16) for _ in range(3))
    rpb = randn(rng, 2, 5, 7)
    o = attnc.na2d(q, k, v, kernel_size=(3, 4), dilation=(2, 1), rpb=rpb, scale=0.3)
    close(o, natten_reference(q, k, v, (3, 4), dil=(2, 1), rpb=rpb, scale=0.3))
    o = attnc.na2d(q, k, v, kernel_size=(4, 6), stride=(2, 3))
    close(o, natten_reference(q, k, v, (4, 6), st=(2, 3)))
    o = attnc.na2d(q, k, v, kernel_size=3, is_causal=(True, False))
    close(o, natten_reference(q, k, v, (3, 3), causal=(True, False)))


def test_na1d_and_na3d(rng):
    q, k, v = (randn(rng, 2, 40, 2, 32) for _ in range(3))
    rpb = randn(rng, 2, 13)
    close(attnc.na1d(q, k, v, 7, dilation=3, rpb=rpb), natten_reference(q, k, v, (7,), dil=(3,), rpb=rpb))
    close(attnc.na1d(q, k, v, 5, is_causal=True), natten_reference(q, k, v, (5,), causal=(True,)))
    q, k, v = (randn(rng, 1, 4, 6, 5, 2, 16) for _ in range(3))
    o = attnc.na3d(q, k, v, kernel_size=(2, 3, 3), is_causal=(True, False, False))
    assert o.shape == q.shape
    close(o, natten_reference(q, k, v, (2, 3, 3), causal=(True, False, False)))


def test_na_gqa_and_value_width(rng):
    q = randn(rng, 1, 6, 7, 4, 32)
    k, v = randn(rng, 1, 6, 7, 2, 32), randn(rng, 1, 6, 7, 2, 16)
    o = attnc.na2d(q, k, v, 3)
    assert o.shape == (1, 6, 7, 4, 16)
    close(o, natten_reference(q, k, v, (3, 3)))


def test_na_strided_bshd_input_views(rng):
    """Inputs sliced out of one packed qkv array (strided views) need no copies."""
    qkv = randn(rng, 2, 8, 8, 3, 2, 32)
    q, k, v = qkv[:, :, :, 0], qkv[:, :, :, 1], qkv[:, :, :, 2]
    close(attnc.na2d(q, k, v, 3), natten_reference(q, k, v, (3, 3)))


def test_new_shapes_never_recompile_new_windows_compile_once(rng):
    def run(b, h, w, heads, ks):
        q, k, v = (randn(rng, b, h, w, heads, 64) for _ in range(3))
        return attnc.na2d(q, k, v, ks)

    run(1, 8, 8, 2, 5)
    s0 = attnc.compile_stats()
    for b, h, w, heads in ((3, 8, 8, 2), (1, 13, 7, 4), (2, 5, 30, 1)):
        run(b, h, w, heads, 5)
    assert attnc.compile_stats() == s0  # batch, grid and heads are launch arguments
    run(1, 8, 8, 2, 3)
    s1 = attnc.compile_stats()
    assert s1["builds"] == s0["builds"] + 1 and s1["parses"] == s0["parses"] + 1
    run(2, 9, 9, 2, 3)
    assert attnc.compile_stats() == s1


def test_na_errors(rng):
    q = randn(rng, 1, 6, 6, 2, 32)
    with pytest.raises(ValueError, match="kernel_size 7 x dilation 1 is larger"):
        attnc.na2d(q, q, q, 7)
    with pytest.raises(ValueError, match="stride 4 is larger than kernel_size 3"):
        attnc.na2d(q, q, q, 3, stride=4)
    with pytest.raises(ValueError, match="causal: its stride must be 1"):
        attnc.na2d(q, q, q, 3, stride=2, is_causal=True)
    with pytest.raises(ValueError, match="kernel_size must be one value or 2 values"):
        attnc.na2d(q, q, q, (3, 3, 3))
    with pytest.raises(ValueError, match="positive ints"):
        attnc.na2d(q, q, q, 0)
    with pytest.raises(TypeError, match="is_causal must be bools"):
        attnc.na2d(q, q, q, 3, is_causal=1)
    with pytest.raises(ValueError, match="na2d takes \\[batch, height, width, heads, head_dim\\]"):
        attnc.na2d(q[0], q[0], q[0], 3)
    with pytest.raises(ValueError, match="head dimension 48 is not supported"):
        x = randn(rng, 1, 6, 6, 2, 48)
        attnc.na2d(x, x, x, 3)
    with pytest.raises(ValueError, match="tensor 'rpb': shape \\(2, 5, 5\\), expected \\(2, 7, 7\\)"):
        attnc.na2d(q, q, q, 4, rpb=randn(rng, 2, 5, 5))
    with pytest.raises(TypeError, match="tensor 'q': element type numpy.float64"):
        attnc.na2d(q.astype(np.float64), q, q, 3)
    with pytest.raises(TypeError, match="tensor 'k': element type f16 but 'q' is f32"):
        attnc.na2d(q, q.astype(np.float16), q, 3)
    with pytest.raises(ValueError, match="tensor 'k': batch and spatial shape"):
        attnc.na2d(q, q[:, :5], q, 3)
    with pytest.raises(ValueError, match="must be equal and divide"):
        attnc.na2d(q, randn(rng, 1, 6, 6, 3, 32), randn(rng, 1, 6, 6, 3, 32), 3)
    with pytest.raises(TypeError, match="expected a torch tensor or a numpy array"):
        attnc.na2d([1], q, q, 3)


def test_attention_masks_scores_and_params(rng):
    B, H, T, D = 2, 2, 50, 32
    q, k, v = (randn(rng, B, H, T, D) for _ in range(3))
    t = np.arange(T)
    causal = t[:, None] >= t[None, :]
    window = (t[:, None] - t[None, :] <= 7) & causal
    sinks = (t[None, :] < 4) & causal
    o = attnc.attention(q, k, v, mask="causal && (sinks(4) || sliding_window(7, 0))")
    close(o, ref.softmax_attention(q, k, v, window | sinks)[0])
    o = attnc.attention(q, k, v, mask="causal", score="softcap(s * scale, 5.0)", scale=0.5)
    close(o, ref.softmax_attention(q, k, v, causal, scale=0.5, score=lambda s: 5 * np.tanh(s / 5))[0])
    doc = np.repeat(np.arange(5, dtype=np.int32), 10)[None].repeat(B, 0)
    bias = randn(rng, B, H, T, T)
    o, lse = attnc.attention(q, k, v, mask="causal && document(doc)", score="s * scale * c + bias[batch, head, q.t, k.t]",
                             doc=doc, bias=bias, c=0.9, return_lse=True)
    keep = causal[None] & (doc[:, :, None] == doc[:, None, :])
    want_o, want_lse = ref.softmax_attention(q, k, v, keep[:, None], bias=bias, score=lambda s: s * 0.9)
    close(o, want_o)
    close(lse, want_lse)


def test_attention_layouts_gqa_cross(rng):
    q = randn(rng, 1, 9, 4, 32)  # bshd
    k, v = randn(rng, 1, 21, 2, 32), randn(rng, 1, 21, 2, 16)
    o = attnc.attention(q, k, v, layout="bshd")
    assert o.shape == (1, 9, 4, 16)
    t = lambda x: x.transpose(0, 2, 1, 3)  # noqa: E731
    close(t(o), ref.softmax_attention(t(q), t(k), t(v))[0])


def test_attention_param_shapes_and_cache(rng):
    B = H = 2
    T = 2  # batch == heads == tokens: the shape alone cannot say which is which
    q, k, v = (randn(rng, B, H, T, 16) for _ in range(3))
    doc = np.array([[0, 1], [0, 0]], np.int32)
    with pytest.raises(attnc.RecipeError, match="document ids 'doc' must have shape"):
        attnc.attention(q, k, v, mask="document(doc)", doc=doc, param_shapes={"doc": "[heads, heads]"})
    o = attnc.attention(q, k, v, mask="document(doc)", doc=doc, param_shapes={"doc": "[batch, tokens]"})
    keep = doc[:, :, None] == doc[:, None, :]
    close(o, ref.softmax_attention(q, k, v, keep[:, None])[0])
    s0 = attnc.compile_stats()
    for T in (3, 17, 40):
        q, k, v = (randn(rng, 1, 3, T, 16) for _ in range(3))
        attnc.attention(q, k, v, mask="causal && document(doc)", doc=np.zeros((1, T), np.int32))
    assert attnc.compile_stats()["builds"] == s0["builds"] + 1


def test_attention_errors(rng):
    q = randn(rng, 1, 2, 8, 32)
    with pytest.raises(attnc.RecipeError) as e:
        attnc.attention(q, q, q, mask="causal && slidng_window(3, 0)")
    assert "attnc.attention:" in str(e.value) and "sliding_window" in str(e.value)
    assert "mask   causal && slidng_window(3, 0)" in str(e.value)  # the generated recipe is shown
    with pytest.raises(TypeError, match="mask must be a recipe fragment"):
        attnc.attention(q, q, q, mask=True)
    with pytest.raises(ValueError, match="layout"):
        attnc.attention(q, q, q, layout="sbhd")
    with pytest.raises(ValueError, match="param name"):
        attnc.attention(q, q, q, **{"not a name": 1.0})
    with pytest.raises(ValueError, match="tensor 'k' has 3 heads, which must divide"):
        x = randn(rng, 1, 3, 8, 32)
        attnc.attention(q, x, x)
    with pytest.raises(ValueError, match="param_shapes\\['b'\\] has 1 dimensions"):
        attnc.attention(q, q, q, score="s + b[q.t, k.t]", b=randn(rng, 8, 8), param_shapes={"b": "[tokens]"})


def test_lightning_and_gated(rng):
    B, H, T, D = 1, 3, 45, 32
    q, k, v = (randn(rng, B, H, T, D) * 0.3 for _ in range(3))
    close(attnc.lightning(q, k, v, 0.95), ref.linear_attention(q, k, v, decay=np.full(H, 0.95)), tol=1e-4)
    decay = np.array([0.5, 0.9, 1.0], np.float32)
    close(attnc.lightning(q, k, v, decay, block=16), ref.linear_attention(q, k, v, decay=decay), tol=1e-4)
    gate = -rng.random((B, H, T)).astype(np.float32)
    close(attnc.gated_linear(q, k, v, gate), ref.linear_attention(q, k, v, gate=gate), tol=1e-4)
    t = lambda x: x.transpose(0, 2, 1, 3)  # noqa: E731
    o = attnc.gated_linear(t(q), t(k), t(v), gate.transpose(0, 2, 1), layout="bshd", inter="chunked")
    close(t(o), ref.linear_attention(q, k, v, gate=gate), tol=1e-4)


def test_linear_errors(rng):
    q = randn(rng, 1, 2, 8, 32)
    with pytest.raises(ValueError, match="decay must be in"):
        attnc.lightning(q, q, q, 1.5)
    with pytest.raises(ValueError, match="tensor 'decay': shape"):
        attnc.lightning(q, q, q, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="tensor 'decay' must be float32"):
        attnc.lightning(q, q, q, np.ones(2, np.float16))
    with pytest.raises(ValueError, match="tensor 'gate': shape"):
        attnc.gated_linear(q, q, q, np.zeros((1, 8, 2), np.float32))
    with pytest.raises(ValueError, match="feature"):
        attnc.lightning(q, q, q, 0.9, feature="tanh")
    with pytest.raises(ValueError, match="block must be a power of two"):
        attnc.lightning(q, q, q, 0.9, block=48)
    with pytest.raises(ValueError, match="inter must be"):
        attnc.lightning(q, q, q, 0.9, inter="parallel")


def test_generated_recipes_are_valid_text():
    from attnc import _recipes

    text = _recipes.neighborhood(2, "bf16", 64, 64, (7, 7), (2, 1), (1, 1), (False, True), "f32", 0.125)
    assert "neighborhood(window: (7, 7), dilation: (2, 1), stride: (1, 1), causal: (false, true))" in text
    assert "rpb[head, (k.y - q.y) / 2 + 6, k.x - q.x + 6]" in text and "scale = 0.125" in text
    assert _recipes.float_literal(1e-05) == "1.0e-05" and _recipes.float_literal(2) == "2.0"
    with pytest.raises(ValueError):
        _recipes.float_literal(float("inf"))
    for t in (text, _recipes.attention("f16", 32, 16, "causal", None, 1e-3, [("b", "f32", ["heads"])], True, True),
              _recipes.linear("bf16", 64, 64, "token", "elu1", True, True, 32, "chunked")):
        attnc.compile(t)  # parses and checks


def test_param_dimension_names():
    from attnc._functional import _form_dims, _infer_param_dims

    canon = [("batch", 2), ("heads", 4), ("tokens", 9)]
    assert _infer_param_dims("b", (2, 4, 9, 9), canon) == ["batch", "heads", "tokens", "tokens"]
    assert _infer_param_dims("rpb", (4, 13, 13), canon) == ["heads", "rpb_d1", "rpb_d2"]
    assert _infer_param_dims("g", (2, 4, 9), canon) == ["batch", "heads", "tokens"]
    assert _infer_param_dims("x", (9, 2), canon) == ["tokens", "x_d1"]  # names keep their order
    assert _form_dims("doc", 2, "causal && document(ids: doc)") == ["batch", "tokens"]
    assert _form_dims("tab", 4, "blocks(tab, bq: 64, bk: 64)") == ["batch", "heads", "tab_nqb", "tab_nkb"]
    assert _form_dims("doc", 2, "causal && document(other)") is None
