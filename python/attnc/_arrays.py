"""Array views: what attnc needs of a tensor (element type, address, shape,
strides in elements, device), read from torch tensors, numpy arrays or any
DLPack array, without copying and without importing torch or numpy (a torch
tensor can only exist once torch is imported, so sys.modules says whether to
look)."""

import ctypes
import sys

BF16, F16, F32, I32, I64, U8 = range(6)
DTYPE_NAMES = ("bf16", "f16", "f32", "i32", "i64", "u8")
ITEMSIZE = (2, 2, 4, 4, 8, 1)

_NUMPY_DTYPES = {"bfloat16": BF16, "float16": F16, "float32": F32, "int32": I32, "int64": I64, "uint8": U8}
_TORCH_DTYPES = None  # torch.dtype -> code, filled on first use


class View:
    """One array as attnc sees it. ``obj`` keeps the memory alive."""

    __slots__ = ("dtype", "ptr", "shape", "strides", "device", "index", "obj", "readonly", "kind")

    def __init__(self, dtype, ptr, shape, strides, device, index, obj, readonly, kind):
        if 0 in shape:  # no elements, no memory touched: frameworks leave any strides there
            strides = compact_strides(shape)
        self.dtype, self.ptr, self.shape, self.strides = dtype, ptr, shape, strides
        self.device, self.index, self.obj, self.readonly, self.kind = device, index, obj, readonly, kind

    def span(self):
        """[first, last) byte addresses the view can touch (empty: equal)."""
        if any(s == 0 for s in self.shape):
            return self.ptr, self.ptr
        last = sum((n - 1) * s for n, s in zip(self.shape, self.strides))
        return self.ptr, self.ptr + (last + 1) * ITEMSIZE[self.dtype]


def dtype_name(code):
    return DTYPE_NAMES[code] if 0 <= code < len(DTYPE_NAMES) else f"dtype {code}"


def torch_dtypes():
    global _TORCH_DTYPES
    if _TORCH_DTYPES is None:
        import torch

        _TORCH_DTYPES = {torch.bfloat16: BF16, torch.float16: F16, torch.float32: F32,
                         torch.int32: I32, torch.int64: I64, torch.uint8: U8}
    return _TORCH_DTYPES


def is_torch(x):
    t = sys.modules.get("torch")
    return t is not None and isinstance(x, t.Tensor)


def _unsupported_dtype(name, what):
    return TypeError(f"tensor '{name}': element type {what} is not supported "
                     "(bfloat16, float16 or float32; int32, int64 or uint8 for integer params)")


def from_torch(x, name):
    code = torch_dtypes().get(x.dtype)
    if code is None:
        raise _unsupported_dtype(name, x.dtype)
    if x.is_cuda:
        device, index = "cuda", x.get_device()
    elif x.is_cpu:
        device, index = "cpu", 0
    else:
        raise ValueError(f"tensor '{name}' is on device '{x.device}'; attnc runs on the CPU and CUDA")
    return View(code, x.data_ptr(), tuple(x.shape), x.stride(), device, index, x, False, "torch")


def from_numpy(x, name):
    code = _NUMPY_DTYPES.get(x.dtype.name)
    if code is None:
        raise _unsupported_dtype(name, f"numpy.{x.dtype.name}")
    size = x.itemsize
    strides = x.strides
    if any(s % size for s in strides):
        raise ValueError(f"tensor '{name}': strides {strides} (bytes) are not multiples of its "
                         f"{size}-byte elements")
    return View(code, x.__array_interface__["data"][0], x.shape, tuple(s // size for s in strides),
                "cpu", 0, x, not x.flags.writeable, "numpy")


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", ctypes.c_void_p)]


_DL_DTYPES = {(2, 16): F16, (2, 32): F32, (4, 16): BF16, (0, 32): I32, (0, 64): I64, (1, 8): U8}
_DL_CPU, _DL_CUDA, _DL_CUDA_HOST = 1, 2, 3
_capsule_pointer = None


def _capsule_ptr(capsule):
    global _capsule_pointer
    if _capsule_pointer is None:
        fn = ctypes.pythonapi.PyCapsule_GetPointer
        fn.restype, fn.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
        _capsule_pointer = fn
    return _capsule_pointer(capsule, b"dltensor")


def from_dlpack(x, name):
    """A DLPack producer (``__dlpack__``). The capsule is kept (not consumed)
    so its destructor releases the producer's memory reference."""
    try:
        dev_type, dev_id = x.__dlpack_device__()
        capsule = x.__dlpack__() if dev_type != _DL_CUDA else x.__dlpack__(stream=None)
        ptr = _capsule_ptr(capsule)
    except Exception as e:  # a producer that cannot export (e.g. a read-only buffer)
        raise TypeError(f"tensor '{name}': cannot read it through DLPack: {e}") from e
    t = _DLManagedTensor.from_address(ptr).dl_tensor
    code = _DL_DTYPES.get((t.dtype.code, t.dtype.bits))
    if code is None or t.dtype.lanes != 1:
        raise _unsupported_dtype(name, f"DLPack (code {t.dtype.code}, {t.dtype.bits} bits, {t.dtype.lanes} lanes)")
    shape = tuple(t.shape[i] for i in range(t.ndim))
    strides = tuple(t.strides[i] for i in range(t.ndim)) if t.strides else compact_strides(shape)
    if dev_type in (_DL_CPU, _DL_CUDA_HOST):
        device = "cpu"
    elif dev_type == _DL_CUDA:
        device = "cuda"
    else:
        raise ValueError(f"tensor '{name}' is on DLPack device type {dev_type}; attnc runs on the CPU and CUDA")
    return View(code, (t.data or 0) + t.byte_offset, shape, strides, device, dev_id, (x, capsule), False, "dlpack")


def compact_strides(shape):
    strides, n = [0] * len(shape), 1
    for d in reversed(range(len(shape))):
        strides[d], n = n, n * max(shape[d], 1)
    return tuple(strides)


def view(x, name):
    """The View of x; TypeError naming the tensor when x is not an array."""
    if is_torch(x):
        return from_torch(x, name)
    np = sys.modules.get("numpy")
    if np is not None and isinstance(x, np.ndarray):
        return from_numpy(x, name)
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        return from_dlpack(x, name)
    raise TypeError(f"tensor '{name}': expected a torch tensor, a numpy array or a DLPack array, "
                    f"got {type(x).__name__}")
