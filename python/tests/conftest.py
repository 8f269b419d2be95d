"""Shared fixtures. Tests run against the libattnc the package finds (see
attnc/_lib.py); torch tests skip without torch, GPU tests print
"skipped: no CUDA driver" without a GPU."""

import os
import pathlib
import zlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"


@pytest.fixture
def rng(request):
    # fresh inputs per test, reproducible from the test's name
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def randn(rng, *shape, dtype=np.float32):
    x = rng.standard_normal(shape).astype(dtype)
    x[x == 0] = 0.5  # never zeros
    return x


def f32_recipe(name, **subs):
    """A shipped recipe rewritten for the CPU with f32 inputs."""
    text = (RECIPES / name).read_text()
    text = text.replace(": bf16 ", ": f32 ").replace(": f16 ", ": f32 ")
    for a, b in subs.items():
        text = text.replace(a, b)
    return text


def close(got, want, tol=2e-5):
    got = np.asarray(got, dtype=np.float64)
    assert not np.isnan(got).any(), "NaN in the result"
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def has_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def cuda_ok():
    if not has_torch():
        return False
    import torch

    return torch.cuda.is_available()


requires_torch = pytest.mark.skipif(not has_torch(), reason="skipped: torch not installed")
requires_cuda = pytest.mark.skipif(not cuda_ok(), reason="skipped: no CUDA driver (torch.cuda is not available)")

if os.environ.get("ATTNC_TEST_REQUIRE_TORCH") and not has_torch():
    raise RuntimeError("ATTNC_TEST_REQUIRE_TORCH is set but torch cannot be imported")
