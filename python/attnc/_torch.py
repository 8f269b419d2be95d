"""PyTorch integration: custom ops, fake (meta) implementations, autograd.

Three ops, registered with torch.library.custom_op so that
torch.compile(fullgraph=True) traces through them without graph breaks:

  attnc::forward      (recipe, q, k, v, params, ...) -> (o, lse)
  attnc::forward_out  the same, writing into given o (and lse): for out=
  attnc::backward     (recipe, q, k, v, o, lse, do, params, ...) -> (dq, dk, dv, dparams)

A kernel is named in the ops by its key strings (recipe text, source name,
backend, schedule); the real implementations look the Kernel up in the
in-memory cache (compiling it in a fresh process), the fake ones only
compute output shapes, so tracing never compiles anything.
Autograd is registered on attnc::forward with torch.library.register_autograd
(which builds a torch.autograd.Function around the op); its backward calls
attnc::backward, whose implementation builds the recipe's backward kernel
(attnc_kernel_build_backward) or raises NotImplementedError naming the
recipe when the library has none.

Varlen calls (cu_seqlens_q= / cu_seqlens_k=, attnc.h) travel with the
params: the ops get the offsets as int32 host tensors in `tensors` under
their own names, and every launch, the backward's included, passes them on.

Eager calls skip the op dispatch: without gradients they launch directly
(the same _launch the op runs), with gradients they go through
EagerAttention, a torch.autograd.Function over the same launches. That keeps
the Python overhead per call low; torch.compile traces the ops.
"""

from typing import List, Optional, Tuple

import torch

from . import _arrays
from . import _core
from . import _kernel
from ._errors import UnsupportedError

Tensor = torch.Tensor


def meta(x, name):
    """(dtype code, shape, device, index) of a torch tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"tensor '{name}': expected a torch tensor like 'q', got {type(x).__name__}")
    code = _arrays.torch_dtypes().get(x.dtype)
    if code is None:
        raise TypeError(f"tensor '{name}': element type {x.dtype} is not supported "
                        "(bfloat16, float16 or float32; int32, int64 or uint8 for integer params)")
    d = x.device
    if d.type not in ("cpu", "cuda"):
        raise ValueError(f"tensor '{name}' is on device '{d}'; attnc runs on the CPU and CUDA")
    return (code, tuple(x.shape), d.type, d.index or 0)


def _is_tensor(x):
    return isinstance(x, Tensor)


def alloc_like(x, shape, dtype):
    """A new tensor of `shape` laid out in x's dimension order (the same rule
    for real and fake tensors, so compiled graphs see the eager strides)."""
    order = _kernel.like_order(tuple(x.stride()), tuple(x.shape), len(shape))
    return torch.empty_permuted(tuple(shape), order, dtype=dtype, device=x.device)


def _lse_placeholder(q):
    return q.new_empty((0,), dtype=torch.float32)


def _param_value(arg, x, backend):
    """What the launch passes for one param: a View, or a host float for a
    scalar f32 param (the C API reads scalars from host memory)."""
    if x is None:
        return None
    if arg.ndim == 0:
        if arg.by_value:
            return float(x.item())
        if backend == "cuda":
            raise UnsupportedError(f"param '{arg.name}': integer scalar params on CUDA are not passed "
                                   "correctly by this libattnc (it reads every scalar as f32); declare it "
                                   "f32 or give it shape [1]")
        return _arrays.from_torch(x.cpu(), arg.name)
    if backend == "cuda" and not x.is_contiguous():
        x = x.contiguous()  # the CUDA backend reads params as dense arrays
    return _arrays.from_torch(x, arg.name)


def _by_order(kernel, q, tensors, tensor_names, scalars, scalar_names, sizes, size_names):
    """The ops' by-name arguments in the kernel's order: plist (a tensor, or
    None for a scalar given by value) and slist (that value, else 0.0)
    aligned with kernel.params, and every size the launch needs (those
    given, then those the param shapes or the token grid imply)."""
    tb = dict(zip(tensor_names.split(",") if tensor_names else [], tensors))
    sb = dict(zip(scalar_names.split(",") if scalar_names else [], scalars))
    plist, slist = [], []
    for p in kernel.params:
        if p.name in tb:
            plist.append(tb[p.name])
            slist.append(0.0)
        elif p.name in sb:
            plist.append(None)
            slist.append(float(sb[p.name]))
        else:
            raise TypeError(f"recipe '{kernel.name}' needs param '{p.name}'")
    given = dict(zip(size_names.split(",") if size_names else [], (int(z) for z in sizes)))
    pmeta = {p.name: meta(x, p.name) for p, x in zip(kernel.params, plist) if x is not None}
    zmap = kernel._sizes(given, meta(q, "q"), pmeta)
    return plist, slist, zmap


def _split(params):
    """name -> tensor or float, as the ops take them: (tensors, their
    names, floats, their names)."""
    tn, tv, sn, sv = [], [], [], []
    for n, x in params.items():
        if isinstance(x, float):
            sn.append(n)
            sv.append(x)
        else:
            tn.append(n)
            tv.append(x)
    return tv, ",".join(tn), sv, ",".join(sn)


_raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None)


def _stream(backend, q):
    """torch's current CUDA stream on q's device, as a CUstream handle."""
    if backend != "cuda":
        return 0
    if _raw_stream is not None:
        return _raw_stream(q.get_device())
    return torch.cuda.current_stream(q.device).cuda_stream


def view(x, name):
    """The View of a torch tensor (TypeError naming it when it is not one)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"tensor '{name}': expected a torch tensor like 'q', got {type(x).__name__}")
    return _arrays.from_torch(x, name)


def _varlen_arg(x, name):
    """A cu_seqlens argument as the launch takes it: a 1-D int32 tensor in
    host memory. A CUDA tensor is copied to the host (the launch splits the
    packed tensors on the host: one synchronization); a numpy array is
    wrapped."""
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, RuntimeError, ValueError):
            raise TypeError(f"'{name}': expected an int32 tensor or array of offsets, "
                            f"got {type(x).__name__}") from None
    # checked before the copy (and at trace time under torch.compile): the device is the copy's
    _kernel.check_varlen(name, _arrays.torch_dtypes().get(x.dtype, str(x.dtype)), tuple(x.shape), "cpu")
    if x.device.type != "cpu":
        x = x.cpu()
    return x.contiguous()


_VARLEN_Q, _VARLEN_K = _kernel._VARLEN


def _varlen_in(tensors, tensor_names):
    """The cu_seqlens among an op's tensors: name -> tensor."""
    names = tensor_names.split(",") if tensor_names else []
    return {n: x for n, x in zip(names, tensors) if n in _kernel._VARLEN}


def _vmeta(v):
    return (v.dtype, v.shape, v.device, v.index)


def _launch(kernel, q, k, v, plist, slist, zmap, o, lse, fresh=False, views=None, varlen=None):
    """Runs the forward kernel on real tensors (writes o and lse). fresh:
    o and lse were just allocated (nothing to check for overlap); views:
    q, k, v's Views when the caller has them; varlen: name -> cu_seqlens
    host tensor."""
    backend = "cuda" if q.is_cuda else "cpu"
    nk = kernel.native(backend)
    vq, vk, vv = views or (view(q, "q"), view(k, "k"), view(v, "v"))
    tensors = {"q": vq, "k": vk, "v": vv}
    scalars = {}
    for p, x, s in zip(kernel.params, plist, slist):
        val = _param_value(p, x, backend)
        if val is None:
            scalars[p.name] = float(s)
        elif isinstance(val, float):
            scalars[p.name] = val
        else:
            tensors[p.name] = val
    outs = {"o": _arrays.from_torch(o, "o")}
    if lse is not None:
        outs["lse"] = _arrays.from_torch(lse, "lse")
    if not fresh:
        _kernel.check_outputs(outs, tensors)
    tensors.update(outs)
    if varlen:
        tensors.update(_kernel.varlen_views(varlen))
    nk.launch(tensors, zmap, scalars, _stream(backend, q))


def _kernel_for(text, source, backend, schedule):
    return _kernel.lookup(text, source, backend, schedule)


# ---- attnc::forward ----------------------------------------------------------
# Params travel as two lists, tensors and floats (scalar f32 params given by
# value), each with its names joined by commas: a list holding only tensors
# is what register_autograd differentiates element by element.

@torch.library.custom_op("attnc::forward", mutates_args=())
def forward(text: str, source: str, backend: str, schedule: str, q: Tensor, k: Tensor, v: Tensor,
            tensors: List[Tensor], tensor_names: str, scalars: List[float], scalar_names: str,
            sizes: List[int], size_names: str, want_lse: bool) -> Tuple[Tensor, Tensor]:
    kernel = _kernel_for(text, source, backend, schedule)
    plist, slist, zmap = _by_order(kernel, q, tensors, tensor_names, scalars, scalar_names, sizes, size_names)
    o = alloc_like(q, (q.shape[0], q.shape[1], q.shape[2], v.shape[3]), q.dtype)
    lse = alloc_like(q, tuple(q.shape[:3]), torch.float32) if want_lse else _lse_placeholder(q)
    _launch(kernel, q, k, v, plist, slist, zmap, o, lse if want_lse else None, fresh=True,
            varlen=_varlen_in(tensors, tensor_names))
    return o, lse


@forward.register_fake
def _forward_fake(text, source, backend, schedule, q, k, v, tensors, tensor_names, scalars, scalar_names,
                  sizes, size_names, want_lse):
    _kernel_for(text, source, backend, schedule)  # parses (RecipeError at trace time); never compiles
    o = alloc_like(q, (q.shape[0], q.shape[1], q.shape[2], v.shape[3]), q.dtype)
    lse = alloc_like(q, tuple(q.shape[:3]), torch.float32) if want_lse else _lse_placeholder(q)
    return o, lse


# ---- attnc::forward_out ------------------------------------------------------

@torch.library.custom_op("attnc::forward_out", mutates_args=("o", "lse"))
def forward_out(text: str, source: str, backend: str, schedule: str, q: Tensor, k: Tensor, v: Tensor,
                tensors: List[Tensor], tensor_names: str, scalars: List[float], scalar_names: str,
                sizes: List[int], size_names: str, o: Tensor, lse: Optional[Tensor]) -> None:
    kernel = _kernel_for(text, source, backend, schedule)
    plist, slist, zmap = _by_order(kernel, q, tensors, tensor_names, scalars, scalar_names, sizes, size_names)
    _launch(kernel, q, k, v, plist, slist, zmap, o, lse, varlen=_varlen_in(tensors, tensor_names))


@forward_out.register_fake
def _forward_out_fake(text, source, backend, schedule, q, k, v, tensors, tensor_names, scalars, scalar_names,
                      sizes, size_names, o, lse):
    _kernel_for(text, source, backend, schedule)
    return None


# ---- attnc::backward ---------------------------------------------------------
# Returns dq, dk, dv and one gradient per float tensor in `tensors`, in
# order (zeros for a param the backward kernel gives no gradient). no_grad
# names the params held constant (tensors without requires_grad): the
# backward kernel is built without their gradients
# (attnc_build_options.no_grad), and theirs are empty placeholders (a bias
# tensor's gradient can be gigabytes), which autograd gets as None.

def _dense_grad(do):
    if do.stride(-1) == 1 and all(s != 0 or n == 1 for s, n in zip(do.stride(), do.shape)):
        return do
    return do.contiguous()


def _backward_impl(text, source, backend, schedule, q, k, v, o, lse, do, tensors, tensor_names, scalars,
                   scalar_names, sizes, size_names, no_grad=""):
    kernel = _kernel_for(text, source, backend, schedule)
    plist, slist, zmap = _by_order(kernel, q, tensors, tensor_names, scalars, scalar_names, sizes, size_names)
    dev = "cuda" if q.is_cuda else "cpu"
    # torch.use_deterministic_algorithms(True): the deterministic build (on
    # sm_90a dQ from its own kernel, not reductions in finishing order)
    det = torch.are_deterministic_algorithms_enabled()
    try:
        nk = kernel.native(dev, backward=True, no_grad=no_grad, deterministic=det)  # NotImplementedError without one
    except NotImplementedError as e:
        if dev != "cuda" or not _core.has_backward():
            raise
        return _backward_on_cpu(e, text, source, backend, schedule, q, k, v, o, lse, do, tensors, tensor_names,
                                scalars, scalar_names, sizes, size_names, no_grad)
    do = _dense_grad(do)
    grads = {"dq": alloc_like(q, q.shape, q.dtype), "dk": alloc_like(k, k.shape, k.dtype),
             "dv": alloc_like(v, v.shape, v.dtype)}
    by_name = {p.name: (x, s) for p, x, s in zip(kernel.params, plist, slist)}
    frozen = _names(no_grad)
    for p, x in zip(kernel.params, plist):
        if x is not None and x.is_floating_point():
            grads["d" + p.name] = x.new_empty(0) if p.name in frozen else alloc_like(x, x.shape, x.dtype)
    inputs = {"q": q, "k": k, "v": v, "o": o, "lse": lse, "do": do}
    args, svals, written = {}, {}, set()
    for a in nk.args:
        if a.role == _core.ROLE_INPUT:
            if a.name in inputs:
                args[a.name] = _arrays.from_torch(inputs[a.name], a.name)
            elif a.name in by_name:
                x, s = by_name[a.name]
                val = _param_value(a, x, dev)
                if val is None or isinstance(val, float):
                    svals[a.name] = float(s) if val is None else val
                else:
                    args[a.name] = val
        elif a.role == _core.ROLE_OUTPUT:
            if a.name not in grads:  # e.g. the gradient of a scalar given by value: computed, dropped
                grads[a.name] = torch.empty(a.extent[:a.ndim] if all(a.extent[:a.ndim]) else (),
                                            dtype=torch.float32, device=q.device)
            args[a.name] = _arrays.from_torch(grads[a.name], a.name)
            written.add(a.name)
    for name, g in grads.items():
        if name not in written and name[1:] not in frozen:  # a param the backward kernel gives no gradient: zero
            g.zero_()
    args.update(_kernel.varlen_views(_varlen_in(tensors, tensor_names)))
    nk.launch(args, zmap, svals, _stream(dev, q))
    names = tensor_names.split(",") if tensor_names else []
    dparams = [grads["d" + n] for n, x in zip(names, tensors) if x.is_floating_point()]
    return grads["dq"], grads["dk"], grads["dv"], dparams


_cpu_fallback_warned = set()


def _backward_on_cpu(why, text, source, backend, schedule, q, k, v, o, lse, do, tensors, tensor_names, scalars,
                     scalar_names, sizes, size_names, no_grad=""):
    """A backward the CUDA backend cannot build (the linear family; a score
    reading params with gradients at more than 8 places) runs on the CPU
    backend over copies, its gradients copied back: right, but slow; warns
    once per recipe. Score params with gradients (bias tables, bias
    tensors, ALiBi slopes) have CUDA backward kernels."""
    import warnings

    kernel = _kernel_for(text, source, backend, schedule)
    if kernel.name not in _cpu_fallback_warned:
        _cpu_fallback_warned.add(kernel.name)
        warnings.warn(f"attnc: {why}; computing this backward on the CPU instead (slow)", RuntimeWarning,
                      stacklevel=3)
    cpu = [x.detach().cpu() for x in (q, k, v, o, lse, do)]
    ctensors = [x.detach().cpu() for x in tensors]
    dq, dk, dv, dps = _backward_impl(text, source, backend, schedule, *cpu, ctensors, tensor_names, scalars,
                                     scalar_names, sizes, size_names, no_grad)
    dev = q.device
    return dq.to(dev), dk.to(dev), dv.to(dev), [g.to(dev) for g in dps]


@torch.library.custom_op("attnc::backward", mutates_args=())
def backward(text: str, source: str, backend: str, schedule: str, q: Tensor, k: Tensor, v: Tensor,
             o: Tensor, lse: Tensor, do: Tensor, tensors: List[Tensor], tensor_names: str,
             scalars: List[float], scalar_names: str, sizes: List[int],
             size_names: str, no_grad: str = "") -> Tuple[Tensor, Tensor, Tensor, List[Tensor]]:
    return _backward_impl(text, source, backend, schedule, q, k, v, o, lse, do, tensors, tensor_names, scalars,
                          scalar_names, sizes, size_names, no_grad)


@backward.register_fake
def _backward_fake(text, source, backend, schedule, q, k, v, o, lse, do, tensors, tensor_names, scalars,
                   scalar_names, sizes, size_names, no_grad=""):
    dq, dk, dv = alloc_like(q, q.shape, q.dtype), alloc_like(k, k.shape, k.dtype), alloc_like(v, v.shape, v.dtype)
    frozen = _names(no_grad)
    names = tensor_names.split(",") if tensor_names else []
    return dq, dk, dv, [x.new_empty(0) if n in frozen else alloc_like(x, x.shape, x.dtype)
                        for n, x in zip(names, tensors) if x.is_floating_point()]


def _setup_context(ctx, inputs, output):
    (text, source, backend, schedule, q, k, v, tensors, tensor_names, scalars, scalar_names, sizes,
     size_names, want_lse) = inputs
    o, lse = output
    ctx.save_for_backward(q, k, v, o, lse, *tensors)
    ctx.attnc = (text, source, backend, schedule, tensor_names, list(scalars), scalar_names, list(sizes),
                 size_names, _frozen(tensor_names, tensors, [x.requires_grad for x in tensors]))


def _names(text):
    """The names of comma-separated text ("" none), as a set."""
    return set(text.split(",")) if text else set()


def _param_grads(tensor_names, tensors, dps, no_grad):
    """Autograd's gradient per tensor param: the float ones' in order, None
    for int params and for those held constant."""
    names = tensor_names.split(",") if tensor_names else []
    frozen = _names(no_grad)
    it = iter(dps)
    out = []
    for n, x in zip(names, tensors):
        g = next(it) if x.is_floating_point() else None
        out.append(None if n in frozen else g)
    return out


def _frozen(tensor_names, tensors, needs):
    """The float tensor params that need no gradient, as no_grad text."""
    names = tensor_names.split(",") if tensor_names else []
    return ",".join(sorted(n for n, x, need in zip(names, tensors, needs) if x.is_floating_point() and not need))


def _backward_fn(ctx, do, dlse):
    # The log-sum-exp is not differentiated: its gradient is taken as zero.
    text, source, backend, schedule, tensor_names, scalars, scalar_names, sizes, size_names, no_grad = ctx.attnc
    q, k, v, o, lse, *tensors = ctx.saved_tensors
    dq, dk, dv, dps = backward(text, source, backend, schedule, q, k, v, o, lse, do, tensors, tensor_names,
                               scalars, scalar_names, sizes, size_names, no_grad)
    dtensors = _param_grads(tensor_names, tensors, dps, no_grad)
    return (None, None, None, None, dq, dk, dv, dtensors, None, _list_grad(scalars), None, _list_grad(sizes),
            None, None)


def _list_grad(xs):
    """The gradient entry of a non-tensor list input as register_autograd
    matches it: an empty list counts as a list of tensors and gets [], any
    other is one leaf and gets None."""
    return [] if len(xs) == 0 else None


forward.register_autograd(_backward_fn, setup_context=_setup_context)


# ---- eager autograd ------------------------------------------------------------

class EagerAttention(torch.autograd.Function):
    """Eager calls that need gradients: the same launches as attnc::forward
    and attnc::backward, without the dispatcher's cost per call (the ops
    are what torch.compile traces)."""

    @staticmethod
    def forward(ctx, kernel, plist, slist, zmap, want_lse, varlen, q, k, v, *tensors):
        o = alloc_like(q, (q.shape[0], q.shape[1], q.shape[2], v.shape[3]), q.dtype)
        lse = alloc_like(q, tuple(q.shape[:3]), torch.float32) if want_lse else _lse_placeholder(q)
        _launch(kernel, q, k, v, plist, slist, zmap, o, lse if want_lse else None, fresh=True, varlen=varlen)
        ctx.save_for_backward(q, k, v, o, lse, *tensors)
        ctx.attnc = (kernel, plist, slist, zmap, varlen)
        ctx.mark_non_differentiable(lse)  # the log-sum-exp is not differentiated
        return o, lse

    @staticmethod
    def backward(ctx, do, dlse):
        kernel, plist, slist, zmap, varlen = ctx.attnc
        q, k, v, o, lse, *tensors = ctx.saved_tensors
        names = [p.name for p, x in zip(kernel.params, plist) if x is not None]
        snames = [p.name for p, x in zip(kernel.params, plist) if x is None]
        svals = [sv for x, sv in zip(plist, slist) if x is None]
        no_grad = _frozen(",".join(names), tensors, ctx.needs_input_grad[9:])
        # the offsets ride with the params (int tensors: no gradients)
        with_offsets = list(tensors) + list(varlen.values())
        dq, dk, dv, dps = _backward_impl(*kernel.key, q, k, v, o, lse, do, with_offsets,
                                         ",".join(names + list(varlen)), svals, ",".join(snames),
                                         list(zmap.values()), ",".join(zmap), no_grad)
        dtensors = _param_grads(",".join(names), tensors, dps, no_grad)
        return (None, None, None, None, None, None, dq, dk, dv, *dtensors)


# ---- the call from Kernel.__call__ ---------------------------------------------

def _needs_grad(q, k, v, plist):
    if not torch.is_grad_enabled():
        return False
    return q.requires_grad or k.requires_grad or v.requires_grad or \
        any(p is not None and p.requires_grad for p in plist)


# ---- the repeated-call fast path ----------------------------------------------
# An eager inference call (no out=, stream, params or gradients; sizes given
# as ints are part of the signature) whose
# q, k, v have the shapes, strides, dtypes and devices of an earlier one
# skips the checks that call passed and relaunches a Prepared launch with
# new data pointers (attnc_args_set_data); attnc_launch still validates
# everything in C. At most _FAST_MAX signatures per kernel are kept.

_FAST_MAX = 32
_fast_ok = _core.lib is not None and _core.has_set_data()


def _fast_key(q, k, v, return_lse, kw):
    if kw:  # sizes only (ints): part of the signature
        for x in kw.values():
            if x.__class__ is not int:
                return None
        kw = tuple(kw.items())
    if q.__class__ is not Tensor or k.__class__ is not Tensor or v.__class__ is not Tensor:
        return None
    if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad):
        return None
    return (q.shape, q.stride(), q.dtype, q.device, k.shape, k.stride(), k.dtype, k.device,
            v.shape, v.stride(), v.dtype, v.device, return_lse, kw or None)


def _fast_run(entry, q, k, v):
    prepared, oshape, oorder, lshape, lorder, cuda = entry
    o = torch.empty_permuted(oshape, oorder, dtype=q.dtype, device=q.device)
    if lshape is None:
        prepared.launch((q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr()), _stream_of(cuda, q))
        return o
    lse = torch.empty_permuted(lshape, lorder, dtype=torch.float32, device=q.device)
    prepared.launch((q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), lse.data_ptr()), _stream_of(cuda, q))
    return o, lse


def _stream_of(cuda, q):
    if not cuda:
        return 0
    return _raw_stream(q.get_device()) if _raw_stream is not None else torch.cuda.current_stream(q.device).cuda_stream


def _fast_first(kernel, key, q, k, v, return_lse, kw):
    """The first call of a signature: every check, then a Prepared launch
    kept for the next calls."""
    views = (view(q, "q"), view(k, "k"), view(v, "v"))
    mq, mk, mv = (_vmeta(x) for x in views)
    kernel.check_qkv(mq, mk, mv)
    backend = kernel.backend_for(mq[2], mq[3])
    _, sizes = kernel.bind(dict(kw), mq, meta, _is_tensor) if (kw or kernel.sizes) else ({}, {})
    oshape = tuple(kernel.out_shape(mq[1]))
    oorder = tuple(_kernel.like_order(tuple(q.stride()), tuple(q.shape), len(oshape)))
    o = torch.empty_permuted(oshape, oorder, dtype=q.dtype, device=q.device)
    tensors = {"q": views[0], "k": views[1], "v": views[2], "o": _arrays.from_torch(o, "o")}
    lshape = lorder = lse = None
    if return_lse:
        lshape = oshape[:3]
        lorder = tuple(_kernel.like_order(tuple(q.stride()), tuple(q.shape), 3))
        lse = torch.empty_permuted(lshape, lorder, dtype=torch.float32, device=q.device)
        tensors["lse"] = _arrays.from_torch(lse, "lse")
    prepared = _core.Prepared(kernel.native(backend), tensors, sizes, {})
    cuda = backend == "cuda"
    prepared.launch([t.ptr for t in tensors.values()], _stream_of(cuda, q))
    if len(kernel._fast) >= _FAST_MAX:
        kernel._fast.clear()
    kernel._fast[key] = (prepared, oshape, oorder, lshape, lorder, cuda)
    return (o, lse) if return_lse else o


def call(kernel, q, k, v, return_lse, out, stream, kw):
    """Kernel.__call__ for torch tensors."""
    varlen = None  # checked only when given: the repeated-call fast path's budget is a few microseconds
    if kw and (_VARLEN_Q in kw or _VARLEN_K in kw):  # (set methods on kw would break torch.compile's trace)
        varlen = {n: _varlen_arg(x, n) for n, x in _kernel.pop_varlen(kw).items()}
    if _fast_ok and not varlen and out is None and stream is None and not kernel.params and \
            return_lse in (False, True) and not torch.compiler.is_compiling():
        key = _fast_key(q, k, v, return_lse, kw)
        if key is not None:
            if return_lse and kernel.family != "softmax":
                kernel.check_return_lse(return_lse)
            entry = kernel._fast.get(key)
            if entry is not None:
                return _fast_run(entry, q, k, v)
            return _fast_first(kernel, key, q, k, v, return_lse, kw)
    varlen = varlen or {}
    kernel.check_return_lse(return_lse)
    eager = not torch.compiler.is_compiling()
    if eager:  # Views now (checked like meta), reused by the launch
        views = (view(q, "q"), view(k, "k"), view(v, "v"))
        mq, mk, mv = (_vmeta(x) for x in views)
    else:  # traced: metadata only
        views = None
        mq, mk, mv = meta(q, "q"), meta(k, "k"), meta(v, "v")
    kernel.check_qkv(mq, mk, mv)
    kernel.backend_for(mq[2], mq[3])
    params, sizes = kernel.bind(kw, mq, meta, _is_tensor) if (kw or kernel.params or kernel.sizes) else ({}, {})
    if mq[2] != "cuda":
        stream = None  # the CPU backend runs synchronously
    plist, slist = [], []
    for p in kernel.params:
        x = params[p.name]
        if isinstance(x, float):
            plist.append(None)
            slist.append(x)
        else:
            plist.append(x)
            slist.append(0.0)
    grad = _needs_grad(q, k, v, plist)
    oshape = kernel.out_shape(mq[1])
    if out is not None:
        if grad:
            raise RuntimeError(f"attnc: out= does not support autograd (recipe '{kernel.name}'); "
                               "call without out= to get gradients")
        o, lse = _kernel._split_out(out, return_lse)
        kernel.check_out("o", meta(o, "o"), oshape, mq[0], mq)
        if return_lse and lse is None:
            lse = alloc_like(q, oshape[:3], torch.float32)
        if lse is not None:
            kernel.check_out("lse", meta(lse, "lse"), oshape[:3], _arrays.F32, mq)
        if eager:  # the same launch as the op's, without the dispatcher
            _on_stream(stream, _launch, kernel, q, k, v, plist, slist, sizes, o, lse, False, views, varlen)
        else:
            forward_out(*kernel.key, q, k, v, *_split({**params, **varlen}), list(sizes.values()), ",".join(sizes),
                        o, lse)
        return (o, lse) if return_lse else o
    if eager and not grad:  # inference: no dispatch
        o = alloc_like(q, oshape, q.dtype)
        lse = alloc_like(q, oshape[:3], torch.float32) if return_lse else None
        _on_stream(stream, _launch, kernel, q, k, v, plist, slist, sizes, o, lse, True, views, varlen)
        return (o, lse) if return_lse else o
    want_lse = return_lse or (grad and kernel.family == "softmax")
    if eager:  # with autograd
        tensors = [x for x in plist if x is not None]
        o, lse = _on_stream(stream, EagerAttention.apply, kernel, plist, slist, sizes, want_lse, varlen, q, k, v,
                            *tensors)
    else:
        o, lse = _on_stream(stream, forward, *kernel.key, q, k, v, *_split({**params, **varlen}),
                            list(sizes.values()), ",".join(sizes), want_lse)
    return (o, lse) if return_lse else o


def run_text(text, source, family, q, k, v, params, sizes, return_lse=False, varlen=None):
    """For the helpers that write recipes (attnc.na2d, attention, ...): run
    the recipe `text` on torch tensors. params: name -> tensor or float;
    sizes: name -> int (those the helper knows; the rest are inferred);
    varlen: cu_seqlens_q / cu_seqlens_k, as Kernel.__call__ takes them.
    Eager calls without gradients compile through the in-memory cache and
    launch directly; traced or differentiable calls go through
    attnc::forward, whose implementation compiles on first use."""
    if not torch.compiler.is_compiling():  # eager: through the Kernel (with or without autograd)
        kernel = _kernel.cached(text, source, generated=True)
        return kernel(q, k, v, return_lse=return_lse, **sizes, **params, **(varlen or {}))
    grad = _needs_grad(q, k, v, [x for x in params.values() if not isinstance(x, float)])
    want_lse = return_lse or (grad and family == "softmax")
    offsets = {n: _varlen_arg(x, n) for n, x in (varlen or {}).items()}
    o, lse = forward(text, source, "", "", q, k, v, *_split({**params, **offsets}), list(sizes.values()),
                     ",".join(sizes), want_lse)
    return (o, lse) if return_lse else o


def _on_stream(stream, fn, *args):
    """fn(*args), on `stream` when one is given (a torch.cuda.Stream or a
    CUstream handle), else on torch's current stream."""
    if stream is None:
        return fn(*args)
    if isinstance(stream, int):
        stream = torch.cuda.ExternalStream(stream)
    with torch.cuda.stream(stream):
        return fn(*args)
