"""Kernel calls on numpy and DLPack arrays (CPU backend): results against
the fp64 reference, layouts, outputs, sizes and params, and every error a
call can raise."""

import math

import numpy as np
import pytest

import attnc
import reference as ref
from conftest import close, f32_recipe, randn

DENSE32 = f32_recipe("dense.attn", **{"128]": "32]"})
CAUSAL32 = f32_recipe("causal.attn", **{"128]": "32]"})
NA2D32 = f32_recipe("neighborhood2d.attn", **{"128]": "32]"})


def qkv(rng, B=2, H=3, T=37, D=32, Dv=None):
    return randn(rng, B, H, T, D), randn(rng, B, H, T, D), randn(rng, B, H, T, Dv or D)


def test_dense_matches_reference(rng):
    q, k, v = qkv(rng)
    o, lse = attnc.compile(DENSE32)(q, k, v, return_lse=True)
    want_o, want_lse = ref.softmax_attention(q, k, v)
    close(o, want_o)
    close(lse, want_lse)
    assert o.dtype == np.float32 and lse.dtype == np.float32 and lse.shape == (2, 3, 37)


def test_fully_masked_rows_give_zero_and_minus_inf(rng):
    text = DENSE32.replace("score  s * scale", "mask   k.t < q.t\nscore  s * scale")
    q, k, v = qkv(rng, T=20)
    o, lse = attnc.compile(text)(q, k, v, return_lse=True)
    keep = np.tril(np.ones((20, 20), bool), -1)
    want_o, want_lse = ref.softmax_attention(q, k, v, keep)
    assert np.all(o[:, :, 0] == 0) and np.all(np.isneginf(lse[:, :, 0]))
    close(o, want_o)
    close(lse[:, :, 1:], want_lse[:, :, 1:])


def test_bshd_views_without_copies_and_output_like_q(rng):
    B, T, H, D = 2, 33, 4, 32
    x = [randn(rng, B, T, H, D) for _ in range(3)]
    q, k, v = (a.transpose(0, 2, 1, 3) for a in x)  # [B, H, T, D] views of BSHD memory
    o = attnc.compile(CAUSAL32)(q, k, v)
    want, _ = ref.softmax_attention(q, k, v, np.tril(np.ones((T, T), bool)))
    close(o, want)
    assert o.shape == (B, H, T, D)
    assert o.transpose(0, 2, 1, 3).flags.c_contiguous  # laid out BSHD, like q


def test_out_arguments(rng):
    q, k, v = qkv(rng)
    kern = attnc.compile(DENSE32)
    o = np.full(q.shape, np.nan, np.float32)
    assert kern(q, k, v, out=o) is o
    want_o, want_lse = ref.softmax_attention(q, k, v)
    close(o, want_o)
    o2, lse2 = np.full(q.shape, np.nan, np.float32), np.full(q.shape[:3], np.nan, np.float32)
    r = kern(q, k, v, out=(o2, lse2), return_lse=True)
    assert r[0] is o2 and r[1] is lse2
    close(lse2, want_lse)
    o3 = np.full(q.shape, np.nan, np.float32)
    r3 = kern(q, k, v, out=o3, return_lse=True)  # lse allocated, o given
    assert r3[0] is o3
    close(r3[1], want_lse)


def test_grid_sizes_given_or_inferred(rng):
    kern = attnc.compile(NA2D32)
    q, k, v = qkv(rng, B=1, H=2, T=10 * 12)
    keep, _ = ref.na_keep((10, 12), (7, 7), (1, 1), (1, 1), (False, False))
    want, _ = ref.softmax_attention(q, k, v, keep)
    close(kern(q, k, v, H=10, W=12), want)
    close(kern(q, k, v, H=10), want)  # W = tokens / H
    with pytest.raises(TypeError, match="needs sizes H, W"):
        kern(q, k, v)


def test_fixed_grid_needs_no_sizes(rng):
    text = f32_recipe("blocked2d.attn")  # grid(y: 64, x: 64), head dim 64
    q, k, v = qkv(rng, B=1, H=1, T=64 * 64, D=64)
    o = attnc.compile(text)(q, k, v)
    keep, _ = ref.na_keep((64, 64), (8, 8), (1, 1), (8, 8), (False, False))
    close(o, ref.softmax_attention(q, k, v, keep)[0])


def test_relative_position_bias_param(rng):
    kern = attnc.compile(f32_recipe("relpos_bias2d.attn"))
    q, k, v = qkv(rng, B=1, H=2, T=9 * 11, D=64)
    rpb = randn(rng, 2, 13, 13)
    o = kern(q, k, v, H=9, W=11, rpb=rpb)
    keep, coords = ref.na_keep((9, 11), (7, 7), (1, 1), (1, 1), (False, False))
    bias = ref.rpb_bias(rpb, coords, (7, 7), (1, 1))[None]
    close(o, ref.softmax_attention(q, k, v, keep, bias=bias)[0])


def test_document_ids_and_scalar_params(rng):
    text = ("recipe doc_scaled\ninput q, k, v : f32 [batch, heads, tokens, 16]\n"
            "param doc : i32 [batch, tokens]\nparam c : f32\nparam n : i32\n"
            "mask causal && document(doc) && q.t - k.t <= n\nscore s * scale * c\n")
    B, H, T = 2, 2, 29
    q, k, v = qkv(rng, B, H, T, 16)
    doc = np.sort(rng.integers(0, 4, (B, T)).astype(np.int32), axis=1)
    kern = attnc.compile(text)
    o = kern(q, k, v, doc=doc, c=0.7, n=np.array(5, np.int32))
    t = np.arange(T)
    keep = (t[None, :, None] >= t[None, None, :]) & (doc[:, :, None] == doc[:, None, :]) & \
           (t[None, :, None] - t[None, None, :] <= 5)
    want, _ = ref.softmax_attention(q, k, v, keep[:, None], score=lambda s: s * 0.7)
    close(o, want)
    o2 = kern(q, k, v, doc=doc, c=np.array(0.7, np.float32), n=np.array(5, np.int32))  # scalar as a 0-dim array
    close(o2, want)


def test_block_table_sizes_come_from_the_table(rng):
    text = ("recipe bs\ninput q, k, v : f32 [batch, heads, tokens, 32]\n"
            "param table : u8 [heads, nqb, nkb]\nmask blocks(table, bq: 16, bk: 16)\n")
    B, H, T = 1, 2, 50
    q, k, v = qkv(rng, B, H, T)
    nb = math.ceil(T / 16)
    table = (rng.random((H, nb, nb)) < 0.6).astype(np.uint8)
    o = attnc.compile(text)(q, k, v, table=table)
    t = np.arange(T) // 16
    keep = table[:, t[:, None], t[None, :]].astype(bool)[None]
    close(o, ref.softmax_attention(q, k, v, keep)[0])


def test_gqa_and_cross_attention(rng):
    text = ("recipe gqa_cross\ninput q : f32 [batch, heads, tokens, 32]\n"
            "input k : f32 [batch, kv_heads, kv_tokens, 32]\ninput v : f32 [batch, kv_heads, kv_tokens, 16]\n")
    q = randn(rng, 2, 4, 7, 32)
    k, v = randn(rng, 2, 2, 19, 32), randn(rng, 2, 2, 19, 16)
    o = attnc.compile(text)(q, k, v)
    assert o.shape == (2, 4, 7, 16)
    close(o, ref.softmax_attention(q, k, v)[0])


def test_linear_recipes(rng):
    lin = attnc.compile(f32_recipe("lightning2.attn", **{"128]": "32]"}))
    q, k, v = (x * 0.3 for x in qkv(rng, 1, 2, 70, 32))
    decay = np.array([0.9, 0.99], np.float32)
    close(lin(q, k, v, decay=decay), ref.linear_attention(q, k, v, decay=decay), tol=1e-4)
    gated = attnc.compile(f32_recipe("gated_linear.attn", **{"128]": "32]"}))
    gate = -rng.random((1, 2, 70)).astype(np.float32)
    close(gated(q, k, v, gate=gate), ref.linear_attention(q, k, v, gate=gate), tol=1e-4)


def test_f16_arrays(rng):
    text = DENSE32.replace(": f32 ", ": f16 ")
    q, k, v = (x.astype(np.float16) for x in qkv(rng))
    o = attnc.compile(text)(q, k, v)
    assert o.dtype == np.float16
    close(o, ref.softmax_attention(q, k, v)[0], tol=2e-3)


def test_empty_batch(rng):
    q, k, v = qkv(rng, B=0)
    o = attnc.compile(DENSE32)(q, k, v)
    assert o.shape == (0, 3, 37, 32)


class DLPackOnly:
    """An array that only speaks DLPack (like a framework's tensor)."""

    def __init__(self, a):
        self.a = a

    def __dlpack__(self, stream=None):
        return self.a.__dlpack__()

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


def test_dlpack_arrays(rng):
    q, k, v = qkv(rng)
    o = attnc.compile(DENSE32)(DLPackOnly(q), DLPackOnly(k), DLPackOnly(v.transpose(0, 2, 1, 3).copy().transpose(0, 2, 1, 3)))
    assert isinstance(o, np.ndarray)
    close(o, ref.softmax_attention(q, k, v)[0])
    out = np.full(q.shape, np.nan, np.float32)
    attnc.compile(DENSE32)(DLPackOnly(q), k, v, out=DLPackOnly(out))
    close(out, ref.softmax_attention(q, k, v)[0])


def test_stream_argument_types(rng):
    q, k, v = qkv(rng)
    kern = attnc.compile(DENSE32)
    kern(q, k, v, stream=0)  # ignored on the CPU
    with pytest.raises(TypeError, match="stream"):
        kern(q, k, v, stream="default")


# ---- errors: each names the tensor and changes nothing ----

def test_argument_errors(rng):
    kern = attnc.compile(DENSE32)
    q, k, v = qkv(rng)
    cases = [
        (TypeError, "tensor 'q': element type numpy.float64", lambda: kern(q.astype(np.float64), k, v)),
        (TypeError, "tensor 'k': element type f16 but recipe 'dense' takes f32", lambda: kern(q, k.astype(np.float16), v)),
        (TypeError, "tensor 'v': expected a torch tensor, a numpy array", lambda: kern(q, k, [1, 2])),
        (ValueError, "tensor 'q' has 3 dimensions", lambda: kern(q[0], k, v)),
        (ValueError, "tensor 'k': last dimension is 16", lambda: kern(q, k[..., :16], v)),
        (ValueError, "tensor 'k': shape\\[0\\]", lambda: kern(q, k[:1], v)),
        (ValueError, "tensor 'v'", lambda: kern(q, k, v[:, :, :5])),
        (ValueError, "tensor 'k': stride\\[2\\] = -32 is negative", lambda: kern(q, k[:, :, ::-1], v)),
        (ValueError, "head dimension must be contiguous", lambda: kern(q, np.concatenate([k, k], -1)[..., ::2], v)),
        (TypeError, "has no param or size 'H'", lambda: kern(q, k, v, H=3)),
        (ValueError, "linear attention", lambda: attnc.compile(f32_recipe("lightning2.attn"))(
            *qkv(rng, D=128), decay=np.ones(3, np.float32), return_lse=True)),
        (ValueError, "needs return_lse=True", lambda: kern(q, k, v, out=(np.empty_like(q), np.empty(q.shape[:3], np.float32)))),
        (ValueError, "output 'o': shape", lambda: kern(q, k, v, out=np.empty((2, 3, 36, 32), np.float32))),
        (TypeError, "output 'o': element type f16", lambda: kern(q, k, v, out=np.empty(q.shape, np.float16))),
        (ValueError, "output 'o' overlaps 'q'", lambda: kern(q, k, v, out=q)),
        (ValueError, "out must be an array", lambda: kern(q, k, v, out=(q,), return_lse=True)),
    ]
    for exc, msg, call in cases:
        with pytest.raises(exc, match=msg):
            call()
    ro = np.empty_like(q)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="output 'o' is read-only"):
        kern(q, k, v, out=ro)
    with pytest.raises(ValueError, match="compiled for backend 'cuda'"):
        attnc.compile(DENSE32, backend="cuda")(q, k, v)


def test_param_errors(rng):
    kern = attnc.compile(f32_recipe("relpos_bias2d.attn"))
    q, k, v = qkv(rng, B=1, H=2, T=81, D=64)
    rpb = randn(rng, 2, 13, 13)
    with pytest.raises(TypeError, match="needs param 'rpb' \\(f32 \\[heads, 13, 13\\]\\)"):
        kern(q, k, v, H=9)
    with pytest.raises(TypeError, match="param 'rpb': element type f16"):
        kern(q, k, v, H=9, rpb=rpb.astype(np.float16))
    with pytest.raises(ValueError, match="param 'rpb' has 2 dimensions"):
        kern(q, k, v, H=9, rpb=rpb[0])
    with pytest.raises(ValueError, match="tensor 'rpb': shape\\[1\\] = 12"):
        kern(q, k, v, H=9, rpb=rpb[:, :12])
    with pytest.raises(TypeError, match="param 'rpb': expected an array"):
        kern(q, k, v, H=9, rpb="table")
    with pytest.raises(ValueError, match="size 'H' = 0"):
        kern(q, k, v, H=0, rpb=rpb)
    with pytest.raises(TypeError, match="size 'H' must be an int"):
        kern(q, k, v, H=9.0, rpb=rpb)
    with pytest.raises(ValueError, match="token grid holds 90 tokens"):
        kern(q, k, v, H=9, W=10, rpb=rpb)
    text = "recipe s\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam n : i32\nmask k.t <= q.t + n\n"
    q, k, v = qkv(rng, D=16)
    with pytest.raises(TypeError, match="param 'n' is i32: pass it as a 0-dim array"):
        attnc.compile(text)(q, k, v, n=3)


def test_backward_without_backward_kernels(rng):
    if attnc.has_backward():
        pytest.skip("this libattnc has backward kernels (test_backward_numpy covers them)")
    q, k, v = qkv(rng)
    kern = attnc.compile(DENSE32)
    o, lse = kern(q, k, v, return_lse=True)
    with pytest.raises(NotImplementedError, match="recipe 'dense' has no backward kernel"):
        kern.backward(q, k, v, o, lse, np.ones_like(o))


def test_backward_numpy(rng):
    if not attnc.has_backward():
        pytest.skip("skipped: this libattnc has no backward kernels (attnc_kernel_build_backward)")
    q, k, v = qkv(rng, 1, 2, 9, 16)
    text = DENSE32.replace("32]", "16]")
    kern = attnc.compile(text)
    o, lse = kern(q, k, v, return_lse=True)
    do = randn(rng, *o.shape)
    dq, dk, dv, dparams = kern.backward(q, k, v, o, lse, do)
    # finite differences on the loss sum(o * do)
    eps = 1e-2
    for x, g in ((q, dq), (k, dk), (v, dv)):
        idx = (0, 1, 3, 5)
        xp, xm = x.copy(), x.copy()
        xp[idx] += eps
        xm[idx] -= eps
        args_p = [xp if y is x else y for y in (q, k, v)]
        args_m = [xm if y is x else y for y in (q, k, v)]
        num = ((ref.softmax_attention(*args_p)[0] - ref.softmax_attention(*args_m)[0]) * do).sum() / (2 * eps)
        assert abs(num - g[idx]) < 1e-2 * max(1, abs(num))
    assert dparams == {}


def test_backward_numpy_no_grad(rng):
    # a decay held constant (attnc_build_options.no_grad): dq, dk, dv as with its gradient, no ddecay
    if not attnc.has_backward():
        pytest.skip("skipped: this libattnc has no backward kernels (attnc_kernel_build_backward)")
    kern = attnc.compile(f32_recipe("lightning2.attn", **{"128]": "16]"}))
    q, k, v = qkv(rng, 1, 2, 40, 16)
    decay = np.array([0.9, 0.7], np.float32)
    o = kern(q, k, v, decay=decay)
    do = randn(rng, *o.shape)
    full = kern.backward(q, k, v, o, None, do, decay=decay)
    frozen = kern.backward(q, k, v, o, None, do, decay=decay, no_grad="decay")
    assert set(full[3]) == {"decay"} and frozen[3] == {}
    for a, b in zip(full[:3], frozen[:3]):
        close(b, a, tol=1e-5)
    with pytest.raises(ValueError, match="no_grad: recipe 'lightning2' has no param 'dacay'"):
        kern.backward(q, k, v, o, None, do, decay=decay, no_grad=("dacay",))


def test_varlen_cu_seqlens_matches_reference_per_sequence(rng):
    # packed sequences (attnc.h, cu_seqlens): each attended on its own, causal in its own coordinates
    lens = [5, 0, 40, 1, 17]
    cu = np.concatenate([[0], np.cumsum(lens)]).astype(np.int32)
    T = int(cu[-1])
    q, k, v = qkv(rng, B=1, H=2, T=T)
    o, lse = attnc.compile(CAUSAL32)(q, k, v, return_lse=True, cu_seqlens_q=cu)
    for b, n in enumerate(lens):
        s = slice(int(cu[b]), int(cu[b + 1]))
        if n == 0:
            continue
        want_o, want_lse = ref.softmax_attention(q[:, :, s], k[:, :, s], v[:, :, s], np.tril(np.ones((n, n), bool)))
        close(o[:, :, s], want_o)
        close(lse[:, :, s], want_lse)


def test_varlen_bad_offsets_and_device(rng):
    q, k, v = qkv(rng, B=1, H=2, T=10)
    kern = attnc.compile(CAUSAL32)
    with pytest.raises(attnc.ArgumentError, match="never decrease"):
        kern(q, k, v, cu_seqlens_q=np.array([0, 6, 5, 10], np.int32))
    with pytest.raises(ValueError, match="int32"):
        kern(q, k, v, cu_seqlens_q=np.array([0, 5, 10], np.int64))


def test_varlen_backward_numpy_matches_per_sequence(rng):
    # Kernel.backward with the forward's cu_seqlens: each sequence's gradients as if it were called alone
    if not attnc.has_backward():
        pytest.skip("skipped: this libattnc has no backward kernels (attnc_kernel_build_backward)")
    lens = [7, 0, 30, 1]
    cu = np.concatenate([[0], np.cumsum(lens)]).astype(np.int32)
    q, k, v = qkv(rng, B=1, H=2, T=int(cu[-1]))
    kern = attnc.compile(CAUSAL32)
    o, lse = kern(q, k, v, return_lse=True, cu_seqlens_q=cu)
    do = randn(rng, *o.shape)
    dq, dk, dv, dparams = kern.backward(q, k, v, o, lse, do, cu_seqlens_q=cu)
    assert dparams == {}
    for b, n in enumerate(lens):
        s = slice(int(cu[b]), int(cu[b + 1]))
        if n == 0:
            continue
        one = [np.ascontiguousarray(x[:, :, s]) for x in (q, k, v)]
        o1, l1 = kern(*one, return_lse=True)
        want = kern.backward(*one, o1, l1, np.ascontiguousarray(do[:, :, s]))
        for got, w in zip((dq, dk, dv), want[:3]):
            close(got[:, :, s], w, tol=1e-5)
