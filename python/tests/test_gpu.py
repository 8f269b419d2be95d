"""GPU tests (torch CUDA tensors on attnc's CUDA backend). Each one reports
"skipped: no CUDA driver" without a GPU. Run on the GPU machine with
python/run-gpu-tests.sh (or: PYTHONPATH=python python3 -m pytest python/tests -m gpu).

Covered: forward results against an eager reference in bf16 (neighborhood,
sliding window, linear), gradients against torch autograd of the eager
reference, torch.compile(fullgraph=True) with inductor, CUDA streams
(torch's current stream and stream=), a small ViT block with attnc.na2d
trained for 10 steps with the losses of the eager reference, and the errors
that would otherwise reach the GPU with bad pointers."""

import numpy as np
import pytest

import attnc
from conftest import RECIPES, requires_cuda

torch = pytest.importorskip("torch", reason="skipped: no CUDA driver (torch not installed)")
import torch_ref  # noqa: E402
import reference as ref  # noqa: E402

pytestmark = [pytest.mark.gpu, requires_cuda]
BF16_TOL = 2e-2


def rand(*shape, dtype=torch.bfloat16, scale=1.0, seed=0):
    g = torch.Generator(device="cuda").manual_seed(seed)
    return (torch.randn(*shape, generator=g, device="cuda") * scale).to(dtype)


def close(got, want, tol=BF16_TOL):
    assert not torch.isnan(got).any(), "NaN in the result"
    torch.testing.assert_close(got.float(), want.float(), rtol=tol, atol=tol)


def need_backward():
    """Gradients need issue 14's CUDA backward kernels: without them, check
    that backward says so (NotImplementedError naming the recipe), then skip."""
    q = rand(1, 8, 8, 2, 64).requires_grad_()
    try:
        attnc.na2d(q, q, q, 3).sum().backward()
    except NotImplementedError as e:
        assert "recipe 'na2d' has no backward kernel" in str(e)
        pytest.skip(f"skipped: no CUDA backward kernels in this libattnc ({e})")


def test_na2d_forward_bf16():
    for shape, ks, kw in (((2, 16, 16, 4, 64), 7, {}), ((1, 24, 20, 2, 128), (5, 7), {"dilation": (2, 1)}),
                          ((1, 32, 32, 2, 64), 8, {"stride": 4})):
        q, k, v = (rand(*shape, seed=i) for i in range(3))
        o = attnc.na2d(q, k, v, ks, **kw)
        ksz = ks if isinstance(ks, tuple) else (ks, ks)
        want = torch_ref.natten(q, k, v, ksz, dil=kw.get("dilation"),
                                st=(kw["stride"],) * 2 if "stride" in kw else None)
        assert o.dtype == torch.bfloat16 and o.device.type == "cuda"
        close(o, want)


def test_na_with_rpb_and_3d():
    q, k, v = (rand(1, 12, 12, 2, 64, seed=i) for i in range(3))
    rpb = rand(2, 13, 13, dtype=torch.float32, scale=0.5)
    close(attnc.na2d(q, k, v, 7, rpb=rpb), torch_ref.natten(q, k, v, (7, 7), rpb=rpb))
    q, k, v = (rand(1, 4, 8, 8, 2, 128, seed=i) for i in range(3))
    close(attnc.na3d(q, k, v, (3, 5, 5), is_causal=(True, False, False)),
          torch_ref.natten(q, k, v, (3, 5, 5), causal=(True, False, False)))


def test_shipped_recipe_kernel_bshd():
    kern = attnc.compile(RECIPES / "neighborhood2d.attn")  # bf16, head dim 128
    x = [rand(2, 16 * 20, 4, 128, seed=i) for i in range(3)]
    q, k, v = (a.transpose(1, 2) for a in x)  # BSHD memory
    o, lse = kern(q, k, v, H=16, W=20, return_lse=True)
    assert o.transpose(1, 2).is_contiguous()
    keep, _ = ref.na_keep((16, 20), (7, 7), (1, 1), (1, 1), (False, False))
    close(o, torch_ref.masked_attention(q, k, v, keep))
    assert lse.dtype == torch.float32 and torch.isfinite(lse).all()


def test_attention_and_linear():
    q, k, v = (rand(2, 4, 1000, 128, seed=i) for i in range(3))
    t = torch.arange(1000)
    keep = ((t[:, None] >= t[None, :]) & ((t[:, None] - t[None, :] <= 255) | (t[None, :] < 4))).numpy()
    o = attnc.attention(q, k, v, mask="causal && (sinks(4) || sliding_window(255, 0))")
    close(o, torch_ref.masked_attention(q, k, v, keep))
    q, k, v = (rand(1, 2, 300, 128, seed=i, scale=0.2) for i in range(3))
    o = attnc.lightning(q, k, v, 0.97)
    want = ref.linear_attention(q.float().cpu().numpy(), k.float().cpu().numpy(), v.float().cpu().numpy(),
                                decay=np.full(2, 0.97))
    close(o, torch.from_numpy(want).cuda(), tol=5e-2)


def test_gradients_against_torch_autograd():
    need_backward()
    q, k, v = (rand(2, 12, 12, 2, 64, seed=i).requires_grad_() for i in range(3))
    rpb = rand(2, 13, 13, dtype=torch.float32, scale=0.5).requires_grad_()
    do = rand(2, 12, 12, 2, 64, seed=9)
    # The bias table's gradient comes from the CUDA backward kernels (no CPU
    # fallback, so no warning).
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attnc.na2d(q, k, v, 7, rpb=rpb).backward(do)
    got = [x.grad.clone() for x in (q, k, v, rpb)]
    for x in (q, k, v, rpb):
        x.grad = None
    torch_ref.natten(q, k, v, (7, 7), rpb=rpb).backward(do)
    for g, x in zip(got, (q, k, v, rpb)):
        close(g, x.grad, tol=5e-2)


def test_param_gradients_on_the_gpu():
    """ALiBi slopes given as a param (GQA) and an additive bias tensor, against
    torch autograd; two runs bit-identical. The slopes' partial derivative
    depends on the position, which the CUDA backward refuses (it needs the
    CPU's exact delta): the only warning allowed is that CPU fallback."""
    import warnings

    need_backward()
    q = rand(1, 4, 190, 64, seed=60).requires_grad_()
    k, v = (rand(1, 2, 190, 64, seed=61 + i).requires_grad_() for i in range(2))
    slope = (torch.rand(4, device="cuda", dtype=torch.float32) * 0.1).requires_grad_()
    bias = rand(4, 190, 190, dtype=torch.float32, scale=0.5, seed=65).requires_grad_()
    do = rand(1, 4, 190, 64, seed=69)
    score = "s * scale - slope[head] * float(q.t - k.t) + bias[head, q.t, k.t]"
    runs = []
    for _ in range(2):
        for x in (q, k, v, slope, bias):
            x.grad = None
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            attnc.attention(q, k, v, mask="causal", score=score, slope=slope, bias=bias,
                            param_shapes={"slope": "[heads]", "bias": "[heads, tokens, tokens]"}).backward(do)
        assert all("position" in str(w.message) for w in seen), [str(w.message) for w in seen]
        runs.append([x.grad.clone() for x in (q, k, v, slope, bias)])
    for a, b in zip(*runs):
        assert torch.equal(a, b)
    for x in (q, k, v, slope, bias):
        x.grad = None
    qf, kf, vf = (x.float().repeat_interleave(2, dim=1) if x is not q else x.float() for x in (q, k, v))
    t = torch.arange(190, device="cuda", dtype=torch.float32)
    s = qf @ kf.transpose(-1, -2) * 64 ** -0.5 - slope[None, :, None, None] * (t[:, None] - t[None, :]) + bias[None]
    s = s.masked_fill(torch.ones(190, 190, dtype=torch.bool, device="cuda").triu(1), float("-inf"))
    (torch.softmax(s, -1) @ vf).to(q.dtype).backward(do)
    for g, x in zip(runs[0], (q, k, v, slope, bias)):
        close(g, x.grad, tol=5e-2)


def test_fixed_slopes_train_on_the_gpu():
    """ALiBi slopes given as a param but held fixed (no requires_grad): the
    backward is built without their gradient (attnc_build_options.no_grad),
    so it runs on the CUDA kernels (no CPU fallback, no warning), and q, k,
    v's gradients match torch autograd."""
    import warnings

    need_backward()
    q, k, v = (rand(1, 4, 190, 64, seed=70 + i).requires_grad_() for i in range(3))
    slope = torch.rand(4, device="cuda", dtype=torch.float32) * 0.1
    do = rand(1, 4, 190, 64, seed=79)
    score = "s * scale - slope[head] * float(q.t - k.t)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attnc.attention(q, k, v, mask="causal", score=score, slope=slope,
                        param_shapes={"slope": "[heads]"}).backward(do)
    got = [x.grad.clone() for x in (q, k, v)]
    for x in (q, k, v):
        x.grad = None
    t = torch.arange(190, device="cuda", dtype=torch.float32)
    s = q.float() @ k.float().transpose(-1, -2) * 64 ** -0.5 - slope[None, :, None, None] * (t[:, None] - t[None, :])
    s = s.masked_fill(torch.ones(190, 190, dtype=torch.bool, device="cuda").triu(1), float("-inf"))
    (torch.softmax(s, -1) @ v.float()).to(q.dtype).backward(do)
    for g, x in zip(got, (q, k, v)):
        close(g, x.grad, tol=5e-2)


def test_deterministic_algorithms_on_the_gpu():
    """torch.use_deterministic_algorithms(True): the deterministic CUDA
    backward (on sm_90a dQ from its own kernel, not bulk reductions in
    finishing order): two runs give bit-identical dq, dk, dv."""
    need_backward()
    q, k, v = (rand(2, 4, 1000, 128, seed=80 + i).requires_grad_() for i in range(3))
    do = rand(2, 4, 1000, 128, seed=89)
    was = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        runs = []
        for _ in range(2):
            for x in (q, k, v):
                x.grad = None
            attnc.attention(q, k, v, mask="causal").backward(do)
            runs.append([x.grad.clone() for x in (q, k, v)])
    finally:
        torch.use_deterministic_algorithms(was)
    for a, b in zip(*runs):
        assert torch.equal(a, b)


def test_gradients_on_the_gpu_without_params():
    """q, k, v gradients from the CUDA backward kernels (no CPU fallback:
    no warning), causal and 2-D neighborhood, against torch autograd."""
    import warnings

    need_backward()
    q, k, v = (rand(2, 12, 12, 2, 64, seed=20 + i).requires_grad_() for i in range(3))
    do = rand(2, 12, 12, 2, 64, seed=29)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attnc.na2d(q, k, v, 5).backward(do)
    got = [x.grad.clone() for x in (q, k, v)]
    for x in (q, k, v):
        x.grad = None
    torch_ref.natten(q, k, v, (5, 5)).backward(do)
    for g, x in zip(got, (q, k, v)):
        close(g, x.grad, tol=5e-2)
    q, k, v = (rand(1, 2, 300, 64, seed=40 + i).requires_grad_() for i in range(3))
    do = rand(1, 2, 300, 64, seed=49)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        attnc.attention(q, k, v, mask="causal").backward(do)
    got = [x.grad.clone() for x in (q, k, v)]
    for x in (q, k, v):
        x.grad = None
    torch_ref.masked_attention(q, k, v, np.tril(np.ones((300, 300), bool))).backward(do)
    for g, x in zip(got, (q, k, v)):
        close(g, x.grad, tol=5e-2)


def test_torch_compile_inductor_fullgraph():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(64, 64, device="cuda", dtype=torch.bfloat16)

        def forward(self, x):
            a = attnc.na2d(x, x, x, kernel_size=5)
            b = attnc.attention(a.flatten(1, 2).transpose(1, 2), x.flatten(1, 2).transpose(1, 2),
                                x.flatten(1, 2).transpose(1, 2), mask="causal")
            return self.lin(b)

    m = M()
    compiled = torch.compile(m, fullgraph=True, dynamic=True)
    with torch.no_grad():
        x = rand(2, 16, 16, 2, 64)
        close(compiled(x), m(x))
        builds = attnc.compile_stats()["builds"]
        for shape in ((1, 16, 16, 2, 64), (3, 12, 20, 2, 64)):
            y = rand(*shape, seed=3)
            close(compiled(y), m(y))
        assert attnc.compile_stats()["builds"] == builds


def test_current_stream_and_stream_argument():
    x = rand(2, 32, 32, 4, 64)
    want = attnc.na2d(x, x, x, 7)
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        y = torch.empty_like(x)
        torch.cuda._sleep(200_000_000)  # the copy below lands long after this point
        y.copy_(x)
        o = attnc.na2d(y, y, y, 7)  # must run on `side`, after the copy
    side.synchronize()
    close(o, want, tol=0)
    kern = attnc.compile(RECIPES / "dense.attn")
    q = rand(1, 2, 256, 128)
    want = kern(q, q, q)
    torch.cuda.synchronize()
    with torch.cuda.stream(side):
        y = torch.empty_like(q)
        torch.cuda._sleep(200_000_000)
        y.copy_(q)
    o = kern(y, y, y, stream=side)  # explicit stream, from the default one
    side.synchronize()
    close(o, want, tol=0)


def test_vit_block_trains_like_eager():
    need_backward()

    class Block(torch.nn.Module):
        def __init__(self, attn, dim=128, heads=2):
            super().__init__()
            self.attn, self.heads = attn, heads
            self.norm1, self.norm2 = torch.nn.LayerNorm(dim), torch.nn.LayerNorm(dim)
            self.qkv, self.proj = torch.nn.Linear(dim, 3 * dim), torch.nn.Linear(dim, dim)
            self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, 2 * dim), torch.nn.GELU(), torch.nn.Linear(2 * dim, dim))
            self.head = torch.nn.Linear(dim, 10)

        def forward(self, x):  # x [B, H, W, dim]
            B, H, W, C = x.shape
            qkv = self.qkv(self.norm1(x)).reshape(B, H, W, 3, self.heads, C // self.heads).to(torch.bfloat16)
            a = self.attn(qkv[:, :, :, 0], qkv[:, :, :, 1], qkv[:, :, :, 2])
            x = x + self.proj(a.float().reshape(B, H, W, C))
            x = x + self.mlp(self.norm2(x))
            return self.head(x.mean((1, 2)))

    def run(attn):
        torch.manual_seed(0)
        model = Block(attn).cuda()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        g = torch.Generator(device="cuda").manual_seed(1)
        losses = []
        # One batch, fitted for 10 steps: its loss must fall (fresh random
        # batches with random labels need not show a falling loss in 10 steps).
        x = torch.randn(4, 14, 14, 128, device="cuda", generator=g)
        y = torch.randint(0, 10, (4,), device="cuda", generator=g)
        for _ in range(10):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    ours = run(lambda q, k, v: attnc.na2d(q, k, v, 7))
    eager = run(lambda q, k, v: torch_ref.natten(q, k, v, (7, 7)))
    np.testing.assert_allclose(ours, eager, rtol=BF16_TOL, atol=BF16_TOL)
    assert ours[-1] < ours[0]


def test_gpu_errors_never_reach_the_device():
    q = rand(1, 2, 64, 128)
    kern = attnc.compile(RECIPES / "relpos_bias2d.attn")  # rpb f32 [heads, 13, 13], head dim 64
    q64 = rand(1, 2, 64, 64)
    with pytest.raises(ValueError, match="param 'rpb' is on cpu"):
        kern(q64, q64, q64, H=8, rpb=torch.zeros(2, 13, 13))
    with pytest.raises(ValueError, match="tensor 'k' is on cpu"):
        attnc.compile(RECIPES / "dense.attn")(q, q.cpu(), q)
    with pytest.raises(ValueError, match="compiled for backend 'cpu'"):
        attnc.compile(RECIPES / "dense.attn", backend="cpu")(q, q, q)
    text = (RECIPES / "dense.attn").read_text().replace(": bf16 ", ": f32 ")
    with pytest.raises(attnc.AttncError):  # f32 has no tensor-core kernel: an error, not a crash
        attnc.compile(text)(q.float(), q.float(), q.float())
    ints = ("recipe n\ninput q, k, v : bf16 [batch, heads, tokens, 128]\nparam n : i32\n"
            "mask k.t <= q.t + n\n")
    with pytest.raises(attnc.UnsupportedError, match="integer scalar"):
        attnc.compile(ints)(q, q, q, n=torch.tensor(3, dtype=torch.int32))
    if torch.cuda.device_count() > 1:
        x = q.to("cuda:1")
        with pytest.raises(ValueError, match="cuda:1"):
            attnc.compile(RECIPES / "dense.attn")(x, x, x)


def test_scalar_params_on_cuda():
    text = ("recipe c\ninput q, k, v : bf16 [batch, heads, tokens, 64]\nparam c : f32\n"
            "mask causal\nscore s * scale * c\n")
    q, k, v = (rand(1, 2, 100, 64, seed=i) for i in range(3))
    kern = attnc.compile(text)
    a = kern(q, k, v, c=0.5)
    b = kern(q, k, v, c=torch.tensor(0.5, device="cuda"))  # a device scalar is read to the host
    close(a, b, tol=0)
    keep = np.tril(np.ones((100, 100), bool))
    close(a, torch_ref.masked_attention(q, k, v, keep, scale=0.5 / 8))


def test_varlen_cuda_offsets_forward_and_gradients():
    # packed sequences on the GPU, the offsets a CUDA int32 tensor (copied to the host by the call), lengths no
    # tile divides and an empty one; each sequence against the eager reference on its own, gradients too
    need_backward()
    kern = attnc.compile(RECIPES / "causal.attn")  # bf16, head dim 128
    lens = [300, 0, 1, 777, 129]
    cu = torch.tensor(np.concatenate([[0], np.cumsum(lens)]), dtype=torch.int32, device="cuda")
    T = int(cu[-1])
    q, k, v = (rand(1, 2, T, 128, seed=i).requires_grad_() for i in range(3))
    o = kern(q, k, v, cu_seqlens_q=cu)
    do = rand(*o.shape, seed=9)
    o.backward(do)
    for b, n in enumerate(lens):
        s0, s1 = int(cu[b]), int(cu[b + 1])
        if n == 0:
            continue
        qs, ks, vs = (x.detach()[:, :, s0:s1].clone().requires_grad_() for x in (q, k, v))
        want = torch_ref.masked_attention(qs, ks, vs, np.tril(np.ones((n, n), bool)))
        close(o[:, :, s0:s1].detach(), want)
        want.backward(do[:, :, s0:s1])
        for x, r in ((q, qs), (k, ks), (v, vs)):
            close(x.grad[:, :, s0:s1], r.grad, tol=5e-2)
