"""Finding and loading libattnc, and the ctypes signatures of its C API.

The library is looked up in this order (the first that exists is loaded; a
path that exists but cannot be loaded is an error, never skipped):

1. ``$ATTNC_LIBRARY``: a file, or a folder holding ``libattnc.so.0``;
2. the copy bundled into the installed package (``attnc/_lib/``);
3. the source tree the package was built from or runs in:
   ``build/lib/`` (what ``scripts/quickstart.sh`` builds), then ``.device/lib/``
   (what ``scripts/pack-device.sh`` stages for the GPU machine);
4. the system's library path (``ctypes.util.find_library("attnc")``).

Shared libraries that sit next to the chosen file (``.device/lib`` carries
libffi, xxhash and sqlite for machines that lack them) are loaded first, so
the loader finds them without ``LD_LIBRARY_PATH``.
"""

import ctypes
import ctypes.util
import os

_SONAME = "libattnc.so.0"
# Libraries scripts/pack-device.sh copies next to libattnc for bare machines.
_SIBLINGS = ("libffi.so.8", "libxxhash.so.0", "libsqlite3.so.0")

c_int, c_int64, c_double = ctypes.c_int, ctypes.c_int64, ctypes.c_double
c_char_p, c_void_p, c_size_t = ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t
P = ctypes.POINTER


class Tensor(ctypes.Structure):
    """attnc_tensor: strides in elements."""

    _fields_ = [("dtype", c_int), ("data", c_void_p), ("ndim", c_int),
                ("shape", c_int64 * 4), ("stride", c_int64 * 4)]


class BuildOptions(ctypes.Structure):
    """attnc_build_options up to version 3 (`flags`, `no_grad`); the library
    reads only the fields the version given has."""

    _fields_ = [("version", c_int), ("backend", c_int), ("schedule", c_char_p), ("arch", c_char_p),
                ("flags", ctypes.c_uint), ("no_grad", c_char_p)]


class ArgInfo(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("role", c_int), ("dtype", c_int), ("ndim", c_int),
                ("dims", c_char_p * 4), ("extent", c_int64 * 4), ("value", c_int64),
                ("grid_dim", c_int), ("optional", c_int), ("by_value", c_int)]


# name: (restype, argtypes). Every function returns a status unless noted.
_SIGNATURES = {
    "attnc_version": (c_char_p, []),
    "attnc_version_number": (c_int, []),
    "attnc_status_string": (c_char_p, [c_int]),
    "attnc_context_create": (c_int, [P(c_void_p), c_void_p]),
    "attnc_context_destroy": (None, [c_void_p]),
    "attnc_context_errmsg": (c_char_p, [c_void_p]),
    "attnc_recipe_from_text": (c_int, [P(c_void_p), c_void_p, c_char_p, c_char_p, c_size_t]),
    "attnc_recipe_destroy": (None, [c_void_p]),
    "attnc_recipe_name": (c_char_p, [c_void_p]),
    "attnc_recipe_arg_count": (c_int, [c_void_p]),
    "attnc_recipe_arg_info": (c_int, [c_void_p, c_int, P(ArgInfo)]),
    "attnc_kernel_build": (c_int, [P(c_void_p), c_void_p, c_void_p, P(BuildOptions)]),
    "attnc_kernel_destroy": (None, [c_void_p]),
    "attnc_kernel_schedule": (c_char_p, [c_void_p]),
    "attnc_kernel_last_schedule": (c_char_p, [c_void_p]),
    "attnc_kernel_errmsg": (c_char_p, [c_void_p]),
    "attnc_kernel_arg_count": (c_int, [c_void_p]),
    "attnc_kernel_arg_info": (c_int, [c_void_p, c_int, P(ArgInfo)]),
    "attnc_args_create": (c_int, [P(c_void_p), c_void_p]),
    "attnc_args_destroy": (None, [c_void_p]),
    # the tensor descriptor is passed as an address (packed by the caller)
    "attnc_args_set_tensor": (c_int, [c_void_p, c_char_p, c_void_p]),
    "attnc_args_set_size": (c_int, [c_void_p, c_char_p, c_int64]),
    "attnc_args_set_scalar": (c_int, [c_void_p, c_char_p, c_double]),
    "attnc_launch": (c_int, [c_void_p, c_void_p, c_void_p]),
}

# Issue 14's backward kernels; used when the library has them.
_OPTIONAL = {
    "attnc_kernel_build_backward": (c_int, [P(c_void_p), c_void_p, c_void_p, P(BuildOptions)]),
    # names and data are passed as addresses of ctypes arrays (Prepared)
    "attnc_args_set_data": (c_int, [c_void_p, c_int, c_void_p, c_void_p]),
}


def _package_dir():
    return os.path.dirname(os.path.abspath(__file__))


def _source_roots():
    """The source tree recorded at build time, then the one this file sits in."""
    roots = []
    try:
        from . import _build_info  # written by the build backend

        if _build_info.SOURCE_ROOT:
            roots.append(_build_info.SOURCE_ROOT)
    except ImportError:
        pass
    here = os.path.dirname(os.path.dirname(_package_dir()))  # python/attnc -> repo
    if os.path.isfile(os.path.join(here, "runtime", "include", "attnc.h")):
        roots.append(here)
    return roots


def candidates():
    """Paths tried, in order, as (path, where) pairs."""
    env = os.environ.get("ATTNC_LIBRARY")
    if env:
        path = os.path.join(env, _SONAME) if os.path.isdir(env) else env
        return [(path, "$ATTNC_LIBRARY")]
    out = [(os.path.join(_package_dir(), "_lib", _SONAME), "bundled")]
    for root in _source_roots():
        out.append((os.path.join(root, "build", "lib", _SONAME), "source tree build/"))
        out.append((os.path.join(root, ".device", "lib", _SONAME), "source tree .device/"))
    return out


def _load_siblings(folder):
    for name in _SIBLINGS:
        path = os.path.join(folder, name)
        if os.path.exists(path):
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)


def _open(path):
    _load_siblings(os.path.dirname(os.path.abspath(path)))
    return ctypes.CDLL(path)


def _bind(lib):
    for name, (res, args) in _SIGNATURES.items():
        fn = getattr(lib, name, None)
        if fn is None:
            raise ImportError(
                f"attnc: {lib._name} has no {name}: it predates this package; rebuild it "
                "(cmake --build build) or point $ATTNC_LIBRARY at a current libattnc")
        fn.restype, fn.argtypes = res, args
    for name, (res, args) in _OPTIONAL.items():
        fn = getattr(lib, name, None)
        if fn is not None:
            fn.restype, fn.argtypes = res, args
    return lib


def load():
    """Loads and binds libattnc; ImportError saying where it looked if none."""
    tried = []
    for path, where in candidates():
        if os.path.exists(path):
            try:
                lib = _open(path)
            except OSError as e:
                raise ImportError(f"attnc: cannot load {path} ({where}): {e}") from e
            lib.attnc_path = path
            return _bind(lib)
        tried.append(f"{path} ({where})")
    found = None if os.environ.get("ATTNC_LIBRARY") else ctypes.util.find_library("attnc")
    if found:
        lib = ctypes.CDLL(found)
        lib.attnc_path = found
        return _bind(lib)
    raise ImportError(
        "attnc: libattnc not found; build it (scripts/quickstart.sh, or cmake --build build) "
        "or set ATTNC_LIBRARY. Looked for: " + "; ".join(tried + ["the system library path"]))


def has_set_data(lib):
    """Whether the library can swap data pointers of set tensors (the
    fast path of repeated calls, attnc_args_set_data)."""
    fn = getattr(lib, "attnc_args_set_data", None)
    return fn is not None and fn.argtypes is not None


def has_backward(lib):
    return getattr(lib, "attnc_kernel_build_backward", None) is not None and \
        lib.attnc_kernel_build_backward.argtypes is not None
