"""attnc: attention recipes compiled to CPU and CUDA kernels, from Python.

    import attnc
    kernel = attnc.compile("recipes/neighborhood2d.attn")   # or the recipe text
    o = kernel(q, k, v, H=64, W=64)                           # q, k, v: [B, heads, tokens, D]
    o = attnc.na2d(q, k, v, kernel_size=7)                    # NATTEN layout [B, H, W, heads, D]
    o = attnc.attention(q, k, v, mask="causal && sliding_window(1023, 0)")
    o = attnc.lightning(q, k, v, decay=0.99)

Torch tensors (CPU and CUDA, with autograd and torch.compile), numpy
arrays and DLPack arrays are accepted. See python/README.md.
"""

import sys

from ._errors import (ArgumentError, AttncError, AttncIOError, AttncMemoryError, CudaError, InternalError,
                      NoDriverError, RecipeError, UnsupportedError)
from . import _core
from ._kernel import Kernel, compile
from ._functional import attention, gated_linear, lightning, na1d, na2d, na3d

__version__ = _core.version()
library_path = _core.library_path()

__all__ = ["compile", "Kernel", "na1d", "na2d", "na3d", "attention", "lightning", "gated_linear",
           "AttncError", "RecipeError", "ArgumentError", "UnsupportedError", "NoDriverError", "CudaError",
           "AttncMemoryError", "AttncIOError", "InternalError", "has_backward", "compile_stats",
           "clear_cache", "library_path"]


def has_backward():
    """Whether the loaded libattnc builds backward kernels (gradients)."""
    return _core.has_backward()


def compile_stats():
    """How many recipes were parsed and kernels built in this process, by
    kind: {"parses", "builds", "backward_builds"}. A cached kernel reused
    for new shapes adds nothing."""
    return dict(_core.stats)


def clear_cache():
    """Forgets every cached Kernel (their C kernels are freed when no
    longer referenced)."""
    from . import _kernel

    _kernel._CACHE.clear()


# With torch already imported, register the custom ops now, so that
# torch.compile finds them before it traces the first call.
if "torch" in sys.modules:
    from . import _torch  # noqa: F401
