"""The ctypes layer: a parsed recipe, kernels built from it per backend, their
argument lists (attnc_kernel_arg_info), and one launch.

Ownership: each `Program` owns one attnc_context, the attnc_recipe parsed in
it and every kernel built from it; a finalizer destroys them in that order.
The C API allows one thread at a time per context, so every call into it
holds the program's lock.
"""

import ctypes
import os
import struct
import threading
import weakref
from collections import namedtuple

from . import _errors
from . import _lib

lib = _lib.load()

CPU, CUDA = 0, 1
BACKENDS = {"cpu": CPU, "cuda": CUDA}
BACKEND_NAMES = ("cpu", "cuda")
ROLE_INPUT, ROLE_OUTPUT, ROLE_SIZE = 0, 1, 2

Arg = namedtuple("Arg", "name role dtype ndim dims extent value grid_dim optional by_value")
Arg.__doc__ = """One entry of a kernel's argument list (attnc_arg_info): name, role
(0 input, 1 output, 2 size), dtype code, ndim, dims (size names, None for a
literal), extent (fixed extents, 0 when bound at launch), value (a size's
fixed value), grid_dim, optional, by_value."""

_TENSOR = struct.Struct("@iPi4q4q")  # attnc_tensor
assert _TENSOR.size == ctypes.sizeof(_lib.Tensor)

# Builds made since import, by kind: tests count them ("no recompilation").
stats = {"parses": 0, "builds": 0, "backward_builds": 0}


def _text(b):
    return b.decode("utf-8", "replace") if b else ""


def _arg(info):
    nd = info.ndim if info.role != ROLE_SIZE else 0
    return Arg(_text(info.name), info.role, info.dtype, nd,
               tuple(_text(info.dims[d]) or None for d in range(nd)),
               tuple(info.extent[d] for d in range(nd)), info.value, info.grid_dim,
               bool(info.optional), bool(info.by_value))


def _destroy(ctx, recipe, kernels, args):
    for a in args:
        lib.attnc_args_destroy(a)
    for k in kernels:
        lib.attnc_kernel_destroy(k)
    lib.attnc_recipe_destroy(recipe)
    lib.attnc_context_destroy(ctx)


class Program:
    """A recipe parsed once (its own attnc_context) and the kernels built
    from it, one per (backend, schedule, direction)."""

    def __init__(self, text, source, generated=False):
        self.text, self.source = text, source
        self.generated = generated  # diagnostics then show the generated text
        self.lock = threading.Lock()
        ctx, rec = ctypes.c_void_p(), ctypes.c_void_p()
        st = lib.attnc_context_create(ctypes.byref(ctx), None)
        if st:
            raise _errors.from_status(st, "cannot create an attnc context")
        data = text.encode("utf-8")
        st = lib.attnc_recipe_from_text(ctypes.byref(rec), ctx, source.encode("utf-8"), data, len(data))
        stats["parses"] += 1
        if st:
            msg = _text(lib.attnc_context_errmsg(ctx))
            lib.attnc_context_destroy(ctx)
            raise _errors.from_status(st, msg, text if generated else None)
        self.ctx, self.recipe = ctx, rec
        self.handles = []  # every kernel handle, destroyed with the program
        self.arg_handles = []  # every attnc_args handle (NativeKernel.launch), destroyed first
        self.kernels = {}  # (backend, schedule, backward, no_grad, deterministic) -> NativeKernel
        self._fin = weakref.finalize(self, _destroy, ctx.value, rec.value, self.handles, self.arg_handles)
        self.name = _text(lib.attnc_recipe_name(rec))
        n = lib.attnc_recipe_arg_count(rec)
        info = _lib.ArgInfo()
        args = []
        for i in range(n):
            if lib.attnc_recipe_arg_info(rec, i, ctypes.byref(info)):
                raise _errors.InternalError(_text(lib.attnc_context_errmsg(ctx)))
            args.append(_arg(info))
        self.args = tuple(args)

    def kernel(self, backend, schedule=None, backward=False, arch=None, no_grad="", deterministic=False):
        """The NativeKernel for a backend, built on first use. no_grad: the
        params a backward kernel holds constant, comma-separated
        (attnc_build_options.no_grad; "" none); deterministic: bit-identical
        results run to run (ATTNC_BUILD_DETERMINISTIC: the CUDA backward's dQ
        from its own kernel instead of reductions in finishing order)."""
        key = (backend, schedule, backward, no_grad, deterministic)
        k = self.kernels.get(key)
        if k is None:
            with self.lock:
                k = self.kernels.get(key)
                if k is None:
                    k = self._build(backend, schedule, backward, arch, no_grad, deterministic)
                    self.kernels[key] = k
        return k

    def _build(self, backend, schedule, backward, arch, no_grad="", deterministic=False):
        fn = lib.attnc_kernel_build
        if backward:
            if not _lib.has_backward(lib):
                raise NotImplementedError(
                    f"attnc: recipe '{self.name}' has no backward kernel: this libattnc "
                    f"({lib.attnc_path}) has no attnc_kernel_build_backward (issue 14)")
            fn = lib.attnc_kernel_build_backward
        # the oldest version that has what is asked (older libraries know 1..2)
        version = 3 if no_grad else 2 if deterministic else 1
        opts = _lib.BuildOptions(version, backend, schedule.encode() if schedule else None,
                                 arch.encode() if arch else None, 1 if deterministic else 0,
                                 no_grad.encode() if no_grad else None)
        h = ctypes.c_void_p()
        st = fn(ctypes.byref(h), self.ctx, self.recipe, ctypes.byref(opts))
        if st == 3 and backward:  # ATTNC_ERR_UNSUPPORTED: no backward kernel on this backend yet
            msg = _text(lib.attnc_context_errmsg(self.ctx))
            raise NotImplementedError(f"attnc: recipe '{self.name}' has no backward kernel for "
                                      f"{BACKEND_NAMES[backend]} in this libattnc: {msg}")
        if st:
            msg = _text(lib.attnc_context_errmsg(self.ctx))
            raise _errors.from_status(st, f"building recipe '{self.name}' for "
                                          f"{BACKEND_NAMES[backend]}: {msg}", self.text if self.generated else None)
        self.handles.append(h.value)
        stats["backward_builds" if backward else "builds"] += 1
        return NativeKernel(self, h.value, backend)


class NativeKernel:
    """One built kernel: its handle, argument list and the launch."""

    def __init__(self, program, handle, backend):
        self.program, self.h, self.backend = program, handle, backend
        n = lib.attnc_kernel_arg_count(handle)
        info = _lib.ArgInfo()
        args = []
        for i in range(n):
            if lib.attnc_kernel_arg_info(handle, i, ctypes.byref(info)):
                raise _errors.InternalError(_text(lib.attnc_kernel_errmsg(handle)))
            args.append(_arg(info))
        self.args = tuple(args)
        self.names = {a.name: a.name.encode() for a in args}
        self.names.update({n: n.encode() for n in ("cu_seqlens_q", "cu_seqlens_k")})  # varlen calls (attnc.h)
        self._buf = ctypes.create_string_buffer(_TENSOR.size)
        self._addr = ctypes.addressof(self._buf)
        self._args = {}  # tuple of tensor names -> attnc_args handle (see launch)

    @property
    def schedule(self):
        return _text(lib.attnc_kernel_schedule(self.h))

    @property
    def last_schedule(self):
        return _text(lib.attnc_kernel_last_schedule(self.h))

    def _fail(self, st):
        msg = _text(lib.attnc_kernel_errmsg(self.h))
        return _errors.from_status(st, f"recipe '{self.program.name}': {msg}")

    def fill(self, a, tensors, sizes, scalars):
        """Sets tensors (name -> View), sizes and scalars on args handle a
        (the caller holds the program's lock or owns a)."""
        names, buf, addr = self.names, self._buf, self._addr
        pack = _TENSOR.pack_into
        set_tensor = lib.attnc_args_set_tensor
        for name, v in tensors.items():
            shape, strides = v.shape, v.strides
            nd = len(shape)
            if nd == 4:
                pack(buf, 0, v.dtype, v.ptr, 4, *shape, *strides)
            else:
                pad = (0,) * (4 - nd)
                pack(buf, 0, v.dtype, v.ptr, nd, *shape, *pad, *strides, *pad)
            if set_tensor(a, names[name], addr):
                raise self._fail(2)
        for name, value in sizes.items():
            st = lib.attnc_args_set_size(a, names[name], value)
            if st:
                raise self._fail(st)
        for name, value in scalars.items():
            st = lib.attnc_args_set_scalar(a, names[name], value)
            if st:
                raise self._fail(st)

    def launch(self, tensors, sizes, scalars, stream=0):
        """tensors: name -> View; sizes: name -> int; scalars: name -> float.
        Raises the mapped exception when the library refuses the launch.

        One attnc_args per set of tensor names is kept and refilled: every
        launch sets every tensor, size and scalar it passes, so nothing of a
        previous launch survives (a set that leaves out "lse" has its own
        args object, which never had one)."""
        h = self.h
        with self.program.lock:
            key = tuple(tensors)
            a = self._args.get(key)
            if a is None:
                ah = ctypes.c_void_p()
                st = lib.attnc_args_create(ctypes.byref(ah), h)
                if st:
                    raise self._fail(st)
                a = self._args[key] = ah.value
                self.program.arg_handles.append(a)
            self.fill(a, tensors, sizes, scalars)
            st = lib.attnc_launch(h, a, stream or None)
            if st:
                raise self._fail(st)


class Prepared:
    """A launch prepared once and repeated with new buffers: its own
    attnc_args with every tensor, size and scalar set, of which each launch
    replaces only the data pointers (attnc_args_set_data: one C call) before
    attnc_launch validates and runs it as always. The caller guarantees the
    same shapes, strides and dtypes (torch's fast path keys on them)."""

    def __init__(self, native, tensors, sizes, scalars):
        self.native = native
        h = ctypes.c_void_p()
        st = lib.attnc_args_create(ctypes.byref(h), native.h)
        if st:
            raise native._fail(st)
        self.a = h.value
        native.program.arg_handles.append(self.a)  # destroyed with the program
        names = list(tensors)
        self._names = (ctypes.c_char_p * len(names))(*(native.names[n] for n in names))
        self._data = (ctypes.c_void_p * len(names))()
        self._names_addr = ctypes.addressof(self._names)
        self._data_addr = ctypes.addressof(self._data)
        self.n = len(names)
        native.fill(self.a, tensors, sizes, scalars)

    def launch(self, ptrs, stream):
        """ptrs: the data pointers in the order of the tensors given at
        preparation."""
        native = self.native
        with native.program.lock:
            d = self._data
            for i, p in enumerate(ptrs):
                d[i] = p
            st = lib.attnc_args_set_data(self.a, self.n, self._names_addr, self._data_addr)
            if st:
                raise native._fail(st)
            st = lib.attnc_launch(native.h, self.a, stream or None)
            if st:
                raise native._fail(st)


def cuda_device():
    """The GPU attnc's CUDA backend runs on ($ATTNC_DEVICE, default 0)."""
    s = os.environ.get("ATTNC_DEVICE", "")
    try:
        return int(s) if s else 0
    except ValueError:
        return 0


def library_path():
    return lib.attnc_path


def version():
    return _text(lib.attnc_version())


def has_backward():
    return _lib.has_backward(lib)


def has_set_data():
    return _lib.has_set_data(lib)
