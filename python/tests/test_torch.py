"""Torch tensors on the CPU: the Kernel and the helpers, layouts, out=,
autograd (gradients when the library has backward kernels, else
NotImplementedError naming the recipe), the custom ops (opcheck) and
torch.compile(fullgraph=True) without graph breaks. Skipped without torch."""

import numpy as np
import pytest

import attnc
import reference as ref
from conftest import f32_recipe, requires_torch

torch = pytest.importorskip("torch", reason="skipped: torch not installed")
import torch_ref  # noqa: E402

pytestmark = requires_torch
DENSE32 = f32_recipe("dense.attn", **{"128]": "32]"})


@pytest.fixture
def gen(request):
    import zlib

    return torch.Generator().manual_seed(zlib.crc32(request.node.nodeid.encode()))


def rand(gen, *shape, dtype=torch.float32):
    return torch.randn(*shape, generator=gen).to(dtype)


def close(got, want, tol=2e-5):
    assert not torch.isnan(got).any()
    torch.testing.assert_close(got.double(), want.double(), rtol=tol, atol=tol)


def test_kernel_on_torch_tensors_and_layouts(gen):
    B, T, H, D = 2, 29, 3, 32
    x = [rand(gen, B, T, H, D) for _ in range(3)]
    q, k, v = (a.transpose(1, 2) for a in x)  # BSHD memory, [B, H, T, D] views
    kern = attnc.compile(DENSE32)
    o, lse = kern(q, k, v, return_lse=True)
    want_o, want_lse = ref.softmax_attention(q.numpy(), k.numpy(), v.numpy())
    close(o, torch.from_numpy(want_o))
    close(lse, torch.from_numpy(want_lse))
    assert o.transpose(1, 2).is_contiguous() and lse.shape == (B, H, T)  # laid out like q
    o2 = torch.full_like(o, float("nan"))
    assert kern(q, k, v, out=o2) is o2
    close(o2, o)
    o3, l3 = torch.empty_like(o), torch.empty_like(lse)
    r = kern(q, k, v, out=(o3, l3), return_lse=True)
    assert r[0] is o3 and r[1] is l3
    close(l3, lse)


def test_repeated_calls_fast_path(gen):
    """Repeated eager calls with the same signature take the prepared
    launch (new data pointers only): every call computes its own inputs,
    new shapes, layouts, dtypes and sizes each take their own first call,
    and bad inputs after a prepared call still raise."""
    kern = attnc.compile(DENSE32)
    kern._fast.clear()  # the kernel is cached: other tests' calls left signatures
    for T in (29, 29, 17, 29):  # the first 29 prepares, the second reuses it
        q, k, v = (rand(gen, 2, 3, T, 32) for _ in range(3))
        o, lse = kern(q, k, v, return_lse=True)
        o2 = kern(q, k, v)
        want_o, want_lse = ref.softmax_attention(q.numpy(), k.numpy(), v.numpy())
        close(o, torch.from_numpy(want_o))
        close(o2, torch.from_numpy(want_o))
        close(lse, torch.from_numpy(want_lse))
    assert len(kern._fast) == 4  # (29, lse), (29), (17, lse), (17): one prepared launch each
    qt = q.transpose(1, 2).contiguous().transpose(1, 2)  # same shape, BSHD strides
    close(kern(qt, k, v), torch.from_numpy(ref.softmax_attention(q.numpy(), k.numpy(), v.numpy())[0]))
    with pytest.raises(ValueError):
        kern(q[:, :, :5], k, v)  # q tokens 5, k tokens 29: not a cross recipe
    with pytest.raises(TypeError):
        kern(q.double(), k, v)
    # Grid sizes given as keywords are part of the signature.
    q, k, v = (rand(gen, 1, 7, 9, 2, 32) for _ in range(3))
    for _ in range(2):
        close(attnc.na2d(q, k, v, 3), torch_ref.natten(q, k, v, (3, 3)), tol=1e-4)
    q2 = rand(gen, 1, 7, 9, 2, 32)
    close(attnc.na2d(q2, k, v, 3), torch_ref.natten(q2, k, v, (3, 3)), tol=1e-4)


def test_bf16_on_the_cpu(gen):
    text = DENSE32.replace(": f32 ", ": bf16 ")
    q, k, v = (rand(gen, 1, 2, 40, 32, dtype=torch.bfloat16) for _ in range(3))
    o = attnc.compile(text)(q, k, v)
    assert o.dtype == torch.bfloat16
    want, _ = ref.softmax_attention(q.float().numpy(), k.float().numpy(), v.float().numpy())
    close(o, torch.from_numpy(want), tol=2e-2)


def test_helpers_on_torch(gen):
    q, k, v = (rand(gen, 2, 7, 9, 2, 32) for _ in range(3))
    rpb = rand(gen, 2, 5, 5)
    close(attnc.na2d(q, k, v, 3, rpb=rpb), torch_ref.natten(q, k, v, (3, 3), rpb=rpb), tol=1e-4)
    q, k, v = (rand(gen, 1, 2, 33, 32) for _ in range(3))
    t = torch.arange(33)
    keep = ((t[:, None] >= t[None, :]) & (t[:, None] - t[None, :] <= 5)).numpy()
    close(attnc.attention(q, k, v, mask="sliding_window(5, 0)"), torch_ref.masked_attention(q, k, v, keep), tol=1e-4)
    o = attnc.lightning(q * 0.3, k * 0.3, v, 0.9)
    want = ref.linear_attention((q * 0.3).numpy(), (k * 0.3).numpy(), v.numpy(), decay=np.full(2, 0.9))
    close(o, torch.from_numpy(want), tol=1e-4)


def test_params_as_tensors(gen):
    text = ("recipe p\ninput q, k, v : f32 [batch, heads, tokens, 16]\nparam c : f32\nparam n : i32\n"
            "param doc : i32 [batch, tokens]\nmask causal && document(doc) && q.t - k.t <= n\nscore s * scale * c\n")
    q, k, v = (rand(gen, 1, 2, 20, 16) for _ in range(3))
    doc = torch.tensor([[0] * 8 + [1] * 12], dtype=torch.int32)
    kern = attnc.compile(text)
    a = kern(q, k, v, c=0.5, n=torch.tensor(4, dtype=torch.int32), doc=doc)
    b = kern(q, k, v, c=torch.tensor(0.5), n=torch.tensor(4, dtype=torch.int32), doc=doc)
    close(a, b, tol=0)
    with pytest.raises(TypeError, match="param 'doc': element type i64"):
        kern(q, k, v, c=0.5, n=torch.tensor(4, dtype=torch.int32), doc=doc.long())


def test_torch_errors(gen):
    kern = attnc.compile(DENSE32)
    q = rand(gen, 1, 2, 8, 32)
    with pytest.raises(TypeError, match="tensor 'k': expected a torch tensor like 'q'"):
        kern(q, q.numpy(), q)
    with pytest.raises(TypeError, match="element type torch.float64"):
        kern(q.double(), q, q)
    with pytest.raises(TypeError, match="element type torch.bool"):
        kern(q, q, q, out=torch.empty(q.shape, dtype=torch.bool))
    with pytest.raises(ValueError, match="output 'o': shape"):
        kern(q, q, q, out=q[:, :1])
    with pytest.raises(ValueError, match="output 'o' overlaps 'q'"):
        kern(q, q, q, out=q)
    with pytest.raises(TypeError, match="tensor 'k': element type f16"):
        kern(q, q.half(), q)
    with pytest.raises(RuntimeError, match="out= does not support autograd"):
        kern(q.requires_grad_(), q, q, out=torch.empty_like(q))
    with pytest.raises(TypeError, match="is a numpy array but 'q' is a torch"):
        attnc.na1d(rand(gen, 1, 8, 2, 32), np.zeros((1, 8, 2, 32), np.float32), rand(gen, 1, 8, 2, 32), 3)


def test_autograd(gen):
    q, k, v = (rand(gen, 1, 6, 6, 2, 32).requires_grad_() for _ in range(3))
    rpb = rand(gen, 2, 5, 5).requires_grad_()
    o = attnc.na2d(q, k, v, 3, rpb=rpb)
    assert o.grad_fn is not None
    close(o.detach(), torch_ref.natten(q, k, v, (3, 3), rpb=rpb).detach(), tol=1e-4)
    do = rand(gen, *o.shape)
    if not attnc.has_backward():
        with pytest.raises(NotImplementedError, match="recipe 'na2d' has no backward kernel"):
            o.backward(do)
        return
    o.backward(do)
    grads = [x.grad.clone() for x in (q, k, v, rpb)]
    for x in (q, k, v, rpb):
        x.grad = None
    torch_ref.natten(q, k, v, (3, 3), rpb=rpb).backward(do)
    for g, x in zip(grads, (q, k, v, rpb)):
        close(g, x.grad, tol=1e-3)


def test_autograd_frozen_param(gen):
    # rpb without requires_grad: the backward kernel is built without its
    # gradient (attnc_build_options.no_grad), q, k, v's are unchanged
    if not attnc.has_backward():
        pytest.skip("skipped: this libattnc has no backward kernels (attnc_kernel_build_backward)")
    from attnc import _core

    q, k, v = (rand(gen, 1, 6, 6, 2, 32).requires_grad_() for _ in range(3))
    rpb = rand(gen, 2, 5, 5)
    do = rand(gen, 1, 6, 6, 2, 32)
    attnc.na2d(q, k, v, 3, rpb=rpb.clone().requires_grad_()).backward(do)
    want = [x.grad.clone() for x in (q, k, v)]
    for x in (q, k, v):
        x.grad = None
    before = _core.stats["backward_builds"]
    attnc.na2d(q, k, v, 3, rpb=rpb).backward(do)
    assert _core.stats["backward_builds"] == before + 1  # its own kernel: no drpb
    assert rpb.grad is None
    for g, x in zip(want, (q, k, v)):
        close(x.grad, g, tol=1e-5)
    kern = attnc.compile(f32_recipe("relpos_bias2d.attn"))
    nk = kern.native("cpu", backward=True, no_grad="rpb")
    assert "drpb" not in [a.name for a in nk.args]
    assert "drpb" in [a.name for a in kern.native("cpu", backward=True).args]


def test_deterministic_algorithms_build_the_deterministic_backward(gen):
    # torch.use_deterministic_algorithms(True): the backward kernel is the
    # ATTNC_BUILD_DETERMINISTIC build (a kernel of its own); gradients equal
    if not attnc.has_backward():
        pytest.skip("skipped: this libattnc has no backward kernels (attnc_kernel_build_backward)")
    kern = attnc.compile(DENSE32)
    q, k, v = (rand(gen, 1, 2, 30, 32).requires_grad_() for _ in range(3))
    do = rand(gen, 1, 2, 30, 32)
    kern(q, k, v).backward(do)
    want = [x.grad.clone() for x in (q, k, v)]
    keys = set(kern._program.kernels)
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        for x in (q, k, v):
            x.grad = None
        kern(q, k, v).backward(do)
    finally:
        torch.use_deterministic_algorithms(was)
    new = set(kern._program.kernels) - keys
    assert len(new) == 1 and next(iter(new))[2:] == (True, "", True)  # backward, no constants, deterministic
    for g, x in zip(want, (q, k, v)):
        close(x.grad, g, tol=0)


def test_inference_autograd_and_op_paths_agree(gen):
    from attnc import _torch as T

    q, k, v = (rand(gen, 1, 2, 30, 32) for _ in range(3))
    kern = attnc.compile(DENSE32)
    fast = kern(q, k, v)
    op = kern(q.requires_grad_(), k, v)  # eager autograd: EagerAttention
    assert type(op.grad_fn).__name__.startswith("EagerAttention")
    close(op.detach(), fast, tol=0)
    o2, _ = T.forward(*kern.key, q, k, v, [], "", [], "", [], "", True)  # the op itself
    close(o2.detach(), fast, tol=0)
    with torch.no_grad():
        close(kern(q, k, v), fast, tol=0)


def test_opcheck_custom_ops(gen):
    from attnc import _torch as T

    kern = attnc.compile(f32_recipe("relpos_bias2d.attn"))
    q, k, v = (rand(gen, 1, 2, 7 * 8, 64) for _ in range(3))
    rpb = rand(gen, 2, 13, 13)
    utils = ("test_schema", "test_faketensor", "test_aot_dispatch_static", "test_aot_dispatch_dynamic")
    args = (*kern.key, q, k, v, [rpb], "rpb", [], "", [7], "H", True)
    for name, res in torch.library.opcheck(T.forward, args, test_utils=utils).items():
        assert res == "SUCCESS", (name, res)
    o, lse = torch.empty(1, 2, 56, 64), torch.empty(1, 2, 56)
    args = (*kern.key, q, k, v, [rpb], "rpb", [], "", [7], "H", o, lse)
    for name, res in torch.library.opcheck(T.forward_out, args, test_utils=utils[:3]).items():
        assert res == "SUCCESS", (name, res)
    if attnc.has_backward():
        o, lse = T.forward(*kern.key, q, k, v, [rpb], "rpb", [], "", [7], "H", True)
        args = (*kern.key, q, k, v, o, lse, torch.randn_like(o), [rpb], "rpb", [], "", [7], "H")
        for name, res in torch.library.opcheck(T.backward, args, test_utils=utils).items():
            assert res == "SUCCESS", (name, res)
        # rpb held constant: its gradient an empty placeholder in both implementations
        for name, res in torch.library.opcheck(T.backward, (*args, "rpb"), test_utils=utils).items():
            assert res == "SUCCESS", (name, res)
        assert T.backward(*args, "rpb")[3][0].numel() == 0


class Block(torch.nn.Module):
    """A small attention block using every attnc entry point."""

    def __init__(self, kern):
        super().__init__()
        self.kern = kern
        self.proj = torch.nn.Linear(32, 32)

    def forward(self, x):  # x [B, Hh, Ww, heads, 32]
        a = attnc.na2d(x, x, x, kernel_size=3)
        B, Hh, Ww, heads, D = a.shape
        s = a.reshape(B, Hh * Ww, heads, D).transpose(1, 2)
        b = attnc.attention(s, s, s, mask="causal && sliding_window(4, 0)")
        c = self.kern(b, s, s)
        d = attnc.lightning(c * 0.1, s * 0.1, s, 0.9)
        return self.proj(d)


def test_torch_compile_fullgraph_no_recompile(gen):
    block = Block(attnc.compile(DENSE32))
    x = rand(gen, 2, 5, 6, 2, 32)
    with torch.no_grad():
        eager = block(x)
        compiled = torch.compile(block, fullgraph=True, backend="aot_eager", dynamic=True)
        close(compiled(x), eager, tol=1e-5)
        builds = attnc.compile_stats()["builds"]
        for shape in ((1, 5, 6, 2, 32), (3, 7, 4, 4, 32)):
            y = rand(gen, *shape)
            close(compiled(y), block(y), tol=1e-5)
        assert attnc.compile_stats()["builds"] == builds  # new shapes: no new kernels


def test_torch_compile_training_graph(gen):
    x = rand(gen, 1, 6, 6, 2, 32).requires_grad_()

    def loss_fn(x):
        return attnc.na2d(x, x, x, kernel_size=3).square().mean()

    compiled = torch.compile(loss_fn, fullgraph=True, backend="aot_eager")
    loss = compiled(x)
    close(loss.detach(), torch_ref.natten(x, x, x, (3, 3)).square().mean().detach(), tol=1e-5)
    if not attnc.has_backward():
        with pytest.raises(NotImplementedError, match="recipe 'na2d'"):
            loss.backward()
        return
    loss.backward()
    g = x.grad.clone()
    x.grad = None
    torch_ref.natten(x, x, x, (3, 3)).square().mean().backward()
    close(g, x.grad, tol=1e-4)


def test_torch_compile_training_graph_frozen_param(gen):
    # a compiled graph with a param held constant (no requires_grad): the op's
    # no_grad argument, its placeholder gradient never reaches autograd
    if not attnc.has_backward():
        pytest.skip("skipped: this libattnc has no backward kernels (attnc_kernel_build_backward)")
    x = rand(gen, 1, 6, 6, 2, 32).requires_grad_()
    rpb = rand(gen, 2, 5, 5)

    def loss_fn(x, rpb):
        return attnc.na2d(x, x, x, kernel_size=3, rpb=rpb).square().mean()

    compiled = torch.compile(loss_fn, fullgraph=True, backend="aot_eager")
    compiled(x, rpb).backward()
    g = x.grad.clone()
    x.grad = None
    torch_ref.natten(x, x, x, (3, 3), rpb=rpb).square().mean().backward()
    close(g, x.grad, tol=1e-4)
    assert rpb.grad is None


def test_param_gradients_are_tracked_next_to_scalars(gen):
    """A tensor param next to a scalar given by value still gets its
    gradient from autograd (the ops keep tensors and floats in two lists)."""
    q, k, v = (rand(gen, 1, 2, 24, 32) for _ in range(3))
    bias = rand(gen, 2, 24, 24).requires_grad_()
    o = attnc.attention(q, k, v, mask="causal", score="s * scale * c + bias[head, q.t, k.t]", c=0.5, bias=bias)
    if not attnc.has_backward():
        with pytest.raises(NotImplementedError, match="recipe 'attention'"):
            torch.autograd.grad(o.sum(), [bias])  # reaches attnc's backward: bias is tracked
        return
    (g,) = torch.autograd.grad(o.sum(), [bias])
    t = torch.arange(24)
    keep = (t[:, None] >= t[None, :]).numpy()
    b2 = bias.detach().clone().requires_grad_()
    s_bias = b2[None]
    torch_ref.masked_attention(q, k, v, keep, bias=s_bias, scale=0.5 * 32 ** -0.5).sum().backward()
    close(g, b2.grad, tol=1e-4)


def test_vit_block_trains_like_eager_on_the_cpu():
    """10 training steps of a small ViT block with attnc.na2d (f32, CPU)
    give the eager reference's losses (the GPU test does the same in bf16)."""

    class Block(torch.nn.Module):
        def __init__(self, attn, dim=64, heads=2):
            super().__init__()
            self.attn, self.heads = attn, heads
            self.norm = torch.nn.LayerNorm(dim)
            self.qkv, self.proj = torch.nn.Linear(dim, 3 * dim), torch.nn.Linear(dim, dim)
            self.rpb = torch.nn.Parameter(torch.randn(heads, 9, 9) * 0.1)
            self.head = torch.nn.Linear(dim, 10)

        def forward(self, x):  # [B, H, W, dim]
            B, H, W, C = x.shape
            q, k, v = self.qkv(self.norm(x)).reshape(B, H, W, 3, self.heads, C // self.heads).unbind(3)
            x = x + self.proj(self.attn(q, k, v, self.rpb).reshape(B, H, W, C))
            return self.head(x.mean((1, 2)))

    def run(attn):
        torch.manual_seed(0)
        model = Block(attn)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        g = torch.Generator().manual_seed(1)
        losses = []
        for _ in range(10):
            x = torch.randn(2, 7, 9, 64, generator=g)
            y = torch.randint(0, 10, (2,), generator=g)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    ours = lambda q, k, v, rpb: attnc.na2d(q, k, v, 5, rpb=rpb)  # noqa: E731
    if not attnc.has_backward():
        with pytest.raises(NotImplementedError, match="recipe 'na2d'"):
            run(ours)
        return
    eager = run(lambda q, k, v, rpb: torch_ref.natten(q, k, v, (5, 5), rpb=rpb))
    np.testing.assert_allclose(run(ours), eager, rtol=1e-4, atol=1e-5)


# ---- varlen calls (cu_seqlens) on torch tensors ----------------------------------

CAUSAL32 = f32_recipe("causal.attn", **{"128]": "32]"})
VARLEN_LENS = [5, 0, 40, 1, 17]  # an empty sequence, one of a single token, lengths no tile divides


def _offsets(lens):
    return torch.tensor(np.concatenate([[0], np.cumsum(lens)]), dtype=torch.int32)


def _causal_per_sequence_fp64(q, k, v, cu):
    """The fp64 reference of a packed causal call: each sequence on its own
    (torch ops, differentiable), concatenated along the tokens."""
    outs = []
    for b in range(len(cu) - 1):
        s0, s1 = int(cu[b]), int(cu[b + 1])
        if s1 == s0:
            continue
        qs, ks, vs = (x[:, :, s0:s1].double() for x in (q, k, v))
        s = torch.einsum("bhtd,bhsd->bhts", qs, ks) * qs.shape[-1] ** -0.5
        keep = torch.ones(s1 - s0, s1 - s0, dtype=torch.bool).tril()
        outs.append(torch.einsum("bhts,bhsd->bhtd", torch.softmax(s.masked_fill(~keep, float("-inf")), -1), vs))
    return torch.cat(outs, dim=2)


def test_varlen_forward_matches_fp64_reference(gen):
    cu = _offsets(VARLEN_LENS)
    q, k, v = (rand(gen, 1, 2, int(cu[-1]), 32) for _ in range(3))
    kern = attnc.compile(CAUSAL32)
    want = _causal_per_sequence_fp64(q, k, v, cu)
    close(kern(q, k, v, cu_seqlens_q=cu), want, tol=1e-4)
    o, lse = kern(q, k, v, return_lse=True, cu_seqlens_q=cu.numpy())  # a numpy array works too
    close(o, want, tol=1e-4)
    assert torch.isfinite(lse).all()
    poisoned = torch.full_like(o, float("nan"))  # out=: every packed row written
    assert kern(q, k, v, out=poisoned, cu_seqlens_q=cu, cu_seqlens_k=cu) is poisoned
    close(poisoned, want, tol=1e-4)
    for n in range(3):  # the same call again (no prepared fast path may serve it without the offsets)
        close(kern(q, k, v, cu_seqlens_q=cu), want, tol=1e-4)


def test_varlen_gradients_match_fp64_reference(gen):
    if not attnc.has_backward():
        pytest.skip("skipped: this libattnc has no backward kernels (attnc_kernel_build_backward)")
    cu = _offsets(VARLEN_LENS)
    q, k, v = (rand(gen, 1, 2, int(cu[-1]), 32).requires_grad_() for _ in range(3))
    kern = attnc.compile(CAUSAL32)
    o = kern(q, k, v, cu_seqlens_q=cu)
    do = rand(gen, *o.shape)
    o.backward(do)
    got = [x.grad.clone() for x in (q, k, v)]
    qd, kd, vd = (x.detach().double().requires_grad_() for x in (q, k, v))
    _causal_per_sequence_fp64(qd, kd, vd, cu).backward(do.double())
    for g, x in zip(got, (qd, kd, vd)):
        assert not torch.isnan(g).any()
        torch.testing.assert_close(g.double(), x.grad, rtol=1e-3, atol=1e-3)


def test_varlen_torch_compile_matches_eager(gen):
    cu = _offsets(VARLEN_LENS)
    kern = attnc.compile(CAUSAL32)

    def loss_fn(x, cu):
        return kern(x, x, x, cu_seqlens_q=cu).square().mean()

    x = rand(gen, 1, 2, int(cu[-1]), 32).requires_grad_()
    compiled = torch.compile(loss_fn, fullgraph=True, backend="aot_eager")
    loss = compiled(x, cu)
    xd = x.detach().double().requires_grad_()
    want = _causal_per_sequence_fp64(xd, xd, xd, cu).square().mean()
    close(loss.detach(), want.detach(), tol=1e-5)
    if not attnc.has_backward():
        return
    loss.backward()
    want.backward()
    torch.testing.assert_close(x.grad.double(), xd.grad, rtol=1e-3, atol=1e-4)


def test_varlen_errors(gen):
    q, k, v = (rand(gen, 1, 2, 10, 32) for _ in range(3))
    kern = attnc.compile(CAUSAL32)
    with pytest.raises(ValueError, match="1-D int32"):
        kern(q, k, v, cu_seqlens_q=torch.tensor([0, 5, 10]))  # int64
    with pytest.raises(ValueError, match="1-D int32"):
        kern(q, k, v, cu_seqlens_q=torch.tensor([[0, 5, 10]], dtype=torch.int32))
    with pytest.raises(TypeError, match="cu_seqlens_q"):
        kern(q, k, v, cu_seqlens_q=object())
    o = torch.full((1, 2, 10, 32), 7.0)
    with pytest.raises(attnc.ArgumentError, match="never decrease"):
        kern(q, k, v, out=o, cu_seqlens_q=torch.tensor([0, 6, 5, 10], dtype=torch.int32))
    assert (o == 7.0).all()  # refused before any launch: nothing written


def test_varlen_attention_helper(gen):
    # attnc.attention(..., cu_seqlens_q=): the mask within each sequence, eager and compiled, torch and numpy
    cu = _offsets(VARLEN_LENS)
    q, k, v = (rand(gen, 1, 2, int(cu[-1]), 32) for _ in range(3))
    want = _causal_per_sequence_fp64(q, k, v, cu)
    close(attnc.attention(q, k, v, "causal", cu_seqlens_q=cu), want, tol=1e-4)
    got = attnc.attention(q.numpy(), k.numpy(), v.numpy(), "causal", cu_seqlens_q=cu.numpy())
    close(torch.from_numpy(got), want, tol=1e-4)
    bshd = attnc.attention(*(x.transpose(1, 2) for x in (q, k, v)), "causal", layout="bshd", cu_seqlens_q=cu)
    close(bshd.transpose(1, 2), want, tol=1e-4)
    compiled = torch.compile(lambda q, k, v, cu: attnc.attention(q, k, v, "causal", cu_seqlens_q=cu),
                             fullgraph=True, backend="aot_eager")
    close(compiled(q, k, v, cu), want, tol=1e-4)
