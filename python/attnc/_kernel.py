"""attnc.compile and the Kernel it returns: argument checking (every error
names the tensor), output allocation, and the launch on numpy / DLPack
arrays. Torch tensors go through attnc._torch (custom ops, autograd), which
uses the same checks.

Checks happen in Python before any C call, on plain metadata tuples
(dtype code, shape, device, device index), so the same code runs eagerly and
under torch.compile's tracing: nothing here touches memory or ctypes until
the launch itself.
"""

import os
import sys

from . import _arrays
from . import _core
from ._arrays import dtype_name

_CACHE = {}  # (text, source, backend, schedule) -> Kernel


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _shape_text(arg):
    return "[" + ", ".join(d if d else str(e) for d, e in zip(arg.dims, arg.extent)) + "]"


class Kernel:
    """A compiled recipe. Call it as ``kernel(q, k, v, **sizes_and_params)``.

    q, k, v are [batch, heads, tokens, head_dim] (any strides with a
    contiguous last dimension: a BSHD tensor's ``.transpose(1, 2)`` works
    without a copy). Attributes describe the recipe: ``name``, ``family``
    ("softmax" or "linear"), ``dtype``, ``head_dim``, ``head_dim_v``,
    ``params`` and ``sizes`` (attnc_arg_info entries), ``args`` (all of them).
    """

    def __init__(self, text, source, backend=None, schedule=None, generated=False):
        if backend is not None and backend not in _core.BACKENDS:
            raise ValueError(f"backend must be 'cpu', 'cuda' or None (from the tensors), not {backend!r}")
        if schedule is not None and not isinstance(schedule, str):
            raise TypeError(f"schedule must be a string such as 'q=64 kv=64 stages=2 warps=4', not {schedule!r}")
        self.text, self.source, self.backend, self.schedule = text, source, backend, schedule
        self.key = (text, source, backend or "", schedule or "")
        self._program = _core.Program(text, source, generated)
        self.name = self._program.name
        self.args = self._program.args
        by = {a.name: a for a in self.args}
        self.family = "softmax" if "lse" in by else "linear"
        self.dtype = dtype_name(by["q"].dtype)
        self._dtype_code = by["q"].dtype
        self.head_dim, self.head_dim_v = by["q"].extent[3], by["v"].extent[3]
        fixed = ("q", "k", "v", "o", "lse")
        self.params = tuple(a for a in self.args if a.role == _core.ROLE_INPUT and a.name not in fixed)
        self.sizes = tuple(a for a in self.args if a.role == _core.ROLE_SIZE)
        self._by_name = by
        self._fast = {}  # torch's repeated-call fast path (_torch.call): signature -> entry

    def __repr__(self):
        return (f"attnc.Kernel('{self.name}', {self.family}, {self.dtype}, head_dim={self.head_dim}, "
                f"params={[p.name for p in self.params]}, sizes={[s.name for s in self.sizes]})")

    # ---- building ---------------------------------------------------------

    def native(self, backend, backward=False, no_grad="", deterministic=False):
        """The built C kernel for a backend name ("cpu", "cuda"): compiled on
        first use, then reused (any shape). no_grad: params a backward kernel
        holds constant, comma-separated names ("" none); deterministic: a
        build whose results are bit-identical run to run."""
        return self._program.kernel(_core.BACKENDS[backend], self.schedule, backward, no_grad=no_grad,
                                    deterministic=deterministic)

    def build(self, backend=None):
        """Compiles for a backend now (default: the kernel's, else "cpu");
        returns self. Calls compile on first use anyway."""
        self.native(backend or self.backend or "cpu")
        return self

    def compiled_schedule(self, backend=None):
        """The schedule the kernel for that backend was compiled with."""
        return self.native(backend or self.backend or "cpu").schedule

    # ---- checks shared by every path -------------------------------------

    def backend_for(self, device, index, name="q"):
        """The backend for tensors on `device`; ValueError on a mismatch."""
        if device == "cuda":
            want = _core.cuda_device()
            if index != want:
                raise ValueError(f"tensor '{name}' is on cuda:{index} but attnc's CUDA backend runs on "
                                 f"cuda:{want} (set ATTNC_DEVICE before the first launch)")
        if self.backend is not None and self.backend != device:
            raise ValueError(f"kernel '{self.name}' was compiled for backend '{self.backend}' but tensor "
                             f"'{name}' is on {device}")
        return device

    def check_qkv(self, mq, mk, mv):
        """dtype, rank, device and head dims of q, k, v (metadata tuples)."""
        for nm, m in (("q", mq), ("k", mk), ("v", mv)):
            code, shape, device, index = m
            if code != self._dtype_code:
                raise TypeError(f"tensor '{nm}': element type {dtype_name(code)} but recipe '{self.name}' "
                                f"takes {self.dtype}")
            if len(shape) != 4:
                raise ValueError(f"tensor '{nm}' has {len(shape)} dimensions; attnc takes "
                                 f"[batch, heads, tokens, head_dim]")
            if device != mq[2] or index != mq[3]:
                raise ValueError(f"tensor '{nm}' is on {device}:{index} but 'q' is on {mq[2]}:{mq[3]}")
        for nm, m, want in (("q", mq, self.head_dim), ("k", mk, self.head_dim), ("v", mv, self.head_dim_v)):
            if m[1][3] != want:
                raise ValueError(f"tensor '{nm}': last dimension is {m[1][3]} but recipe '{self.name}' "
                                 f"has head dim {want}")

    def bind(self, kw, mq, meta, is_array):
        """Splits keyword arguments into params and sizes.

        Returns (params, sizes): params maps each param name to the array
        given (a tensor param, or a 0-dim array for a scalar) or a float (a
        scalar f32 param given by value); sizes maps size names to ints, with
        grid extents and param-shape sizes inferred where the tensors say.
        meta(x, name) gives (dtype, shape, device, index); is_array(x) says
        whether x is an array of the calling path.
        """
        kw = dict(kw)
        params, pmeta = {}, {}
        for p in self.params:
            if p.name not in kw:
                raise TypeError(f"recipe '{self.name}' needs param '{p.name}' "
                                f"({dtype_name(p.dtype)} {_shape_text(p)}); pass {p.name}=...")
            x = kw.pop(p.name)
            if p.ndim == 0 and _is_number(x):
                if not p.by_value:
                    raise TypeError(f"param '{p.name}' is {dtype_name(p.dtype)}: pass it as a 0-dim array "
                                    "(only f32 scalars are taken by value)")
                params[p.name] = float(x)
                continue
            if not is_array(x):
                raise TypeError(f"param '{p.name}': expected an array of {dtype_name(p.dtype)} "
                                f"{_shape_text(p)}, got {type(x).__name__}")
            m = meta(x, p.name)
            if m[0] != p.dtype:
                raise TypeError(f"param '{p.name}': element type {dtype_name(m[0])}, recipe '{self.name}' "
                                f"declares {dtype_name(p.dtype)}")
            if len(m[1]) != p.ndim:
                raise ValueError(f"param '{p.name}' has {len(m[1])} dimensions; recipe '{self.name}' "
                                 f"declares {_shape_text(p)}")
            if p.ndim and (m[2] != mq[2] or m[3] != mq[3]):
                raise ValueError(f"param '{p.name}' is on {m[2]}:{m[3]} but 'q' is on {mq[2]}:{mq[3]}")
            params[p.name], pmeta[p.name] = x, m
        sizes = self._sizes(kw, mq, pmeta)
        return params, sizes

    def _sizes(self, kw, mq, pmeta):
        sizes, missing = {}, []
        for s in self.sizes:
            if s.name in kw:
                v = kw.pop(s.name)
                if not isinstance(v, int) or isinstance(v, bool):
                    try:
                        v = v.__index__()
                    except (AttributeError, TypeError):
                        raise TypeError(f"size '{s.name}' must be an int, not {type(v).__name__}") from None
                if v < 1:
                    raise ValueError(f"size '{s.name}' = {v} must be at least 1")
                sizes[s.name] = v
            elif s.value <= 0:
                missing.append(s)
        if kw:
            bad = sorted(kw)[0]
            raise TypeError(f"recipe '{self.name}' has no param or size '{bad}' "
                            f"(params: {', '.join(p.name for p in self.params) or 'none'}; "
                            f"sizes: {', '.join(s.name for s in self.sizes) or 'none'})")
        still = []
        for s in missing:  # a size a param's shape names: read it off that param
            v = next((pmeta[p.name][1][d] for p in self.params if p.name in pmeta
                      for d, nm in enumerate(p.dims) if nm == s.name), None)
            if v is None:
                still.append(s)
            else:
                sizes[s.name] = v
        grid = [s for s in still if s.grid_dim >= 0]
        if len(grid) == 1:  # the one unknown grid extent is tokens / the others
            known = 1
            for s in self.sizes:
                if s.grid_dim >= 0 and s is not grid[0]:
                    known *= sizes.get(s.name, s.value)
            tokens = mq[1][2]
            if known > 0 and tokens % known == 0 and tokens // known >= 1:
                sizes[grid[0].name] = tokens // known
                still.remove(grid[0])
        if still:
            names = [s.name for s in still]
            raise TypeError(f"recipe '{self.name}' needs size{'s' if len(names) > 1 else ''} "
                            f"{', '.join(names)} (the token grid's extents); pass "
                            + ", ".join(f"{n}=..." for n in names))
        return sizes

    def out_shape(self, q_shape):
        return (q_shape[0], q_shape[1], q_shape[2], self.head_dim_v)

    def check_out(self, name, m, want_shape, want_code, mq):
        code, shape, device, index = m
        if code != want_code:
            raise TypeError(f"output '{name}': element type {dtype_name(code)}, expected {dtype_name(want_code)}")
        if tuple(shape) != tuple(want_shape):
            raise ValueError(f"output '{name}': shape {tuple(shape)}, expected {tuple(want_shape)}")
        if device != mq[2] or index != mq[3]:
            raise ValueError(f"output '{name}' is on {device}:{index} but 'q' is on {mq[2]}:{mq[3]}")

    def check_return_lse(self, return_lse):
        if return_lse and self.family != "softmax":
            raise ValueError(f"recipe '{self.name}' is linear attention: it has no log-sum-exp "
                             "(return_lse=True is for softmax recipes)")

    # ---- calls --------------------------------------------------------------

    def __call__(self, q, k, v, *, return_lse=False, out=None, stream=None, **sizes_and_params):
        """Runs the kernel: returns o, or (o, lse) with return_lse=True.

        out: an array (o) or a pair (o, lse) to write instead of allocating.
        stream: a CUDA stream (torch.cuda.Stream or a CUstream handle as an
        int) for CUDA tensors; default torch's current stream.
        Sizes (grid extents such as H=..., W=...) and params (rpb=..., a
        float for a scalar f32 param) are keyword arguments.
        cu_seqlens_q=, cu_seqlens_k=: a varlen call (attnc.h): 1-D int32
        arrays of B+1 offsets of B sequences packed along the tokens of q
        (batch 1) and of k/v (cu_seqlens_k defaults to cu_seqlens_q); each
        sequence is attended on its own. numpy / DLPack arrays in host
        memory; with torch tensors also int32 torch tensors (a CUDA one is
        copied to the host first: one synchronization), and gradients flow
        through autograd as without them.
        """
        if _arrays.is_torch(q) or _arrays.is_torch(k) or _arrays.is_torch(v):
            return _torch_module().call(self, q, k, v, return_lse, out, stream, sizes_and_params)
        return self._call_arrays(q, k, v, return_lse, out, stream, sizes_and_params)

    def _call_arrays(self, q, k, v, return_lse, out, stream, kw):
        self.check_return_lse(return_lse)
        kw = dict(kw)
        varlen = pop_varlen(kw)
        vq, vk, vv = _arrays.view(q, "q"), _arrays.view(k, "k"), _arrays.view(v, "v")
        mq = _meta(vq)
        self.check_qkv(mq, _meta(vk), _meta(vv))
        backend = self.backend_for(mq[2], mq[3])
        params, sizes = self.bind(kw, mq, lambda x, n: _meta(_arrays.view(x, n)), _is_plain_array)
        o, lse = _split_out(out, return_lse)
        oshape = self.out_shape(mq[1])
        if o is None:
            o = _alloc_like(vq, q, oshape, self._dtype_code)
        if return_lse and lse is None:
            lse = _alloc_like(vq, q, oshape[:3], _arrays.F32)
        views = {"q": vq, "k": vk, "v": vv}
        vo = _arrays.view(o, "o")
        self.check_out("o", _meta(vo), oshape, self._dtype_code, mq)
        outs = {"o": vo}
        if lse is not None:
            vl = _arrays.view(lse, "lse")
            self.check_out("lse", _meta(vl), oshape[:3], _arrays.F32, mq)
            outs["lse"] = vl
        tensors, scalars = dict(views), {}
        for name, x in params.items():
            if isinstance(x, float):
                scalars[name] = x
            else:
                tensors[name] = host_scalar_or_view(self._by_name[name], x, name)
                if isinstance(tensors[name], float):
                    scalars[name] = tensors.pop(name)
        check_outputs(outs, tensors)
        tensors.update(outs)
        tensors.update(varlen_views(varlen))
        self.native(backend).launch(tensors, sizes, scalars, _stream_handle(stream))
        return (o, lse) if return_lse else o

    def backward(self, q, k, v, o, lse, do, *, no_grad=(), deterministic=False, **sizes_and_params):
        """Gradients for numpy / DLPack arrays: (dq, dk, dv, {param: grad}).
        no_grad: names of params held constant (no gradient computed or
        returned: fixed ALiBi slopes, a frozen bias, fixed decay rates).
        deterministic: bit-identical gradients run to run (on sm_90a the
        CUDA backward's dQ then comes from its own kernel; slower).
        cu_seqlens_q=, cu_seqlens_k=: the varlen call's offsets, as given to
        the forward (each sequence's gradients on its own).
        Needs a library with backward kernels (issue 14); NotImplementedError
        naming the recipe until then. Torch users get this through autograd
        (a param tensor with requires_grad=False is held constant)."""
        if any(_arrays.is_torch(x) for x in (q, k, v, o, do)):
            raise TypeError("Kernel.backward takes numpy / DLPack arrays; torch tensors get gradients "
                            "through autograd (loss.backward())")
        varlen = pop_varlen(sizes_and_params)
        vq, vk, vv = _arrays.view(q, "q"), _arrays.view(k, "k"), _arrays.view(v, "v")
        mq = _meta(vq)
        self.check_qkv(mq, _meta(vk), _meta(vv))
        backend = self.backend_for(mq[2], mq[3])
        params, sizes = self.bind(sizes_and_params, mq, lambda x, n: _meta(_arrays.view(x, n)), _is_plain_array)
        if isinstance(no_grad, str):
            no_grad = (no_grad,)
        for n in no_grad:
            if not any(p.name == n for p in self.params):
                raise ValueError(f"no_grad: recipe '{self.name}' has no param '{n}' "
                                 f"(its params: {', '.join(p.name for p in self.params) or 'none'})")
        nk = self.native(backend, backward=True, no_grad=",".join(sorted(set(no_grad))), deterministic=deterministic)
        inputs = {"q": q, "k": k, "v": v, "o": o, "lse": lse, "do": do}
        tensors, scalars, grads = {}, {}, {}
        for a in nk.args:
            if a.role == _core.ROLE_INPUT:
                x = inputs.get(a.name, params.get(a.name))
                if isinstance(x, float):
                    scalars[a.name] = x
                elif x is not None:
                    tensors[a.name] = _arrays.view(x, a.name)
            elif a.role == _core.ROLE_OUTPUT:
                like = inputs.get(a.name[1:], params.get(a.name[1:]))
                if isinstance(like, float):  # a scalar param given by value: a 0-dim gradient
                    import numpy as np

                    like = np.zeros((), np.float32)
                src = _arrays.view(like, a.name[1:])
                g = _alloc_like(src, like, src.shape, a.dtype)
                grads[a.name] = g
                tensors[a.name] = _arrays.view(g, a.name)
        tensors.update(varlen_views(varlen))
        nk.launch(tensors, sizes, scalars, 0)
        dparams = {n[1:]: g for n, g in grads.items() if n not in ("dq", "dk", "dv")}
        return grads["dq"], grads["dk"], grads["dv"], dparams


_VARLEN = ("cu_seqlens_q", "cu_seqlens_k")  # the varlen call's keyword arguments (attnc.h)


def pop_varlen(kw):
    """Takes cu_seqlens_q / cu_seqlens_k out of a call's keyword arguments
    (None: not given): name -> array."""
    varlen = {}
    for n in _VARLEN:
        x = kw.pop(n, None)
        if x is not None:
            varlen[n] = x
    return varlen


def check_varlen(name, code, shape, device):
    """A cu_seqlens array as the C API takes it: 1-D int32 in host memory
    (on every backend); ValueError naming it otherwise. code: a dtype code,
    or the name of a type attnc has no code for."""
    if device != "cpu" or code != _arrays.I32 or len(shape) != 1:
        what = dtype_name(code) if isinstance(code, int) else code
        raise ValueError(f"'{name}' must be a 1-D int32 array in host memory (on every backend), "
                         f"not {what} {tuple(shape)} on {device}")


def varlen_views(varlen):
    """name -> checked View of each cu_seqlens array."""
    views = {}
    for name, x in varlen.items():
        vc = _arrays.view(x, name)
        check_varlen(name, vc.dtype, vc.shape, vc.device)
        views[name] = vc
    return views

def _torch_module():
    mod = sys.modules.get("attnc._torch")
    if mod is None:
        from . import _torch as mod
    return mod


def host_scalar_or_view(arg, x, name):
    """A param for the launch: a View, or for a scalar param a host float
    (the C API reads scalars from host memory on every backend)."""
    v = _arrays.view(x, name)
    if arg.ndim == 0:
        if arg.by_value:
            if _arrays.is_torch(x):
                return float(x.item())
            np = sys.modules.get("numpy")
            return float(x) if np is not None and isinstance(x, np.ndarray) else float(_host_value(v))
        if v.device != "cpu":
            raise ValueError(f"param '{name}': an integer scalar must be in host memory")
    return v


def _host_value(v):
    import ctypes

    if v.device != "cpu":
        raise ValueError("a scalar param given through DLPack must be in host memory")
    return ctypes.c_float.from_address(v.ptr).value


def _is_plain_array(x):
    return hasattr(x, "__dlpack__") or hasattr(x, "__array_interface__")


def _meta(v):
    return (v.dtype, v.shape, v.device, v.index)


def _split_out(out, return_lse):
    if out is None:
        return None, None
    if isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ValueError("out must be an array (o) or a pair (o, lse)")
        if not return_lse:
            raise ValueError("out=(o, lse) needs return_lse=True")
        return out[0], out[1]
    return out, None


def check_outputs(outs, inputs):
    """Outputs must be writable and must not overlap any input or each other."""
    spans = [(n, v.span()) for n, v in inputs.items() if not isinstance(v, float)]
    seen = []
    for name, v in outs.items():
        if v.readonly:
            raise ValueError(f"output '{name}' is read-only")
        a0, a1 = v.span()
        for other, (b0, b1) in spans + seen:
            if a0 < b1 and b0 < a1:
                raise ValueError(f"output '{name}' overlaps '{other}' in memory")
        seen.append((name, (a0, a1)))


def dim_order(strides, shape):
    """Dimensions from outermost to innermost by stride (size-1 dimensions
    outside, ties in declaration order), the last dimension innermost: the
    layout outputs copy from q ("allocated like q")."""
    n = len(shape)
    if n == 0:
        return []
    inner = sorted(range(n - 1), key=lambda d: (float("-inf") if shape[d] == 1 else -strides[d], d))
    return inner + [n - 1]


_ORDERS = {}


def like_order(src_strides, src_shape, ndim):
    """The order for an output of `ndim` dims made like a source: the
    source's own order, or for lse ([batch, heads, tokens] of a 4-d q) q's
    order without the head dimension. Remembered per layout (a call
    repeats the same few)."""
    key = (src_strides, src_shape, ndim)
    try:
        order = _ORDERS.get(key)
    except TypeError:  # symbolic sizes while tracing: not hashable
        key, order = None, None
    if order is None:
        order = dim_order(src_strides, src_shape)
        if ndim != len(src_shape):
            order = [d for d in order if d < ndim]
        if key is not None:
            if len(_ORDERS) > 1024:
                _ORDERS.clear()
            _ORDERS[key] = order
    return order


def _alloc_like(src, x, shape, code):
    """A new numpy array of `shape` laid out like the source view."""
    if src.device != "cpu":
        raise ValueError("attnc allocates outputs for CUDA arrays only through torch: pass out= "
                         "(or use torch tensors)")
    try:
        import numpy as np
    except ImportError:
        raise ValueError("attnc allocates outputs for non-numpy arrays with numpy, which is not "
                         "installed: pass out=") from None
    dt = {_arrays.F32: np.float32, _arrays.F16: np.float16, _arrays.I32: np.int32,
          _arrays.I64: np.int64, _arrays.U8: np.uint8}.get(code)
    if dt is None:  # bf16: only with a numpy bfloat16 type (ml_dtypes) on the input
        dt = getattr(x, "dtype", None)
        if dt is None or getattr(dt, "name", "") != "bfloat16":
            raise ValueError("attnc cannot allocate a bfloat16 output for this array type: pass out=")
    order = like_order(src.strides, src.shape, len(shape))
    phys = np.empty([shape[d] for d in order], dtype=dt)
    return phys.transpose([order.index(d) for d in range(len(shape))])


def _stream_handle(stream):
    if stream is None:
        return 0
    if isinstance(stream, int):
        return stream
    h = getattr(stream, "cuda_stream", None)  # torch.cuda.Stream
    if isinstance(h, int):
        return h
    raise TypeError(f"stream must be a torch.cuda.Stream or a CUstream handle (int), not {type(stream).__name__}")


def _read_source(recipe):
    """(text, source name) for a path or recipe text."""
    if isinstance(recipe, os.PathLike):
        path = os.fspath(recipe)
    elif isinstance(recipe, str):
        if "\n" in recipe or recipe.lstrip().startswith("recipe ") or not recipe.strip():
            return recipe, "<recipe>"
        path = recipe
    else:
        raise TypeError(f"recipe must be a path or recipe text, not {type(recipe).__name__}")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not UTF-8 text ({e})") from None


def compile(recipe, backend=None, schedule=None):
    """Compiles a recipe: a path to a .attn file or the recipe text itself.

    backend: "cpu", "cuda" or None (chosen from the tensors of each call;
    a Kernel then holds one compiled kernel per backend it has seen).
    schedule: None (the recipe's tile section; `auto` picks per GPU) or a
    schedule string ("q=64 kv=64 stages=2 warps=4").
    The recipe is parsed and checked now (RecipeError with attnc's
    diagnostics); code is generated on the first call for a backend, or by
    Kernel.build(). Kernels are cached by (text, backend, schedule): compiling
    the same text again returns the same Kernel.
    """
    text, source = _read_source(recipe)
    return cached(text, source, backend, schedule)


def cached(text, source, backend=None, schedule=None, generated=False):
    key = (text, source, backend or "", schedule or "")
    k = _CACHE.get(key)
    if k is None:
        k = Kernel(text, source, backend, schedule, generated)
        _CACHE[key] = k
    return k


def lookup(text, source, backend, schedule):
    """The Kernel for a key made by Kernel.key (custom ops pass it as strings)."""
    return cached(text, source, backend or None, schedule or None, generated=source.startswith("attnc."))
