"""attnc.compile: paths and text, the Kernel's description of its recipe,
the cache, and every way compiling can fail."""

import os

import pytest

import attnc
from conftest import RECIPES, f32_recipe


def test_compile_path_text_and_pathlike():
    k1 = attnc.compile(str(RECIPES / "neighborhood2d.attn"))
    k2 = attnc.compile(RECIPES / "neighborhood2d.attn")
    k3 = attnc.compile((RECIPES / "neighborhood2d.attn").read_text())
    assert k1 is k2  # same text and source name: the cached Kernel
    assert k3 is not k1 and k3.text == k1.text
    assert k1.source.endswith("neighborhood2d.attn") and k3.source == "<recipe>"
    assert (k1.name, k1.family, k1.dtype, k1.head_dim, k1.head_dim_v) == ("neighborhood2d", "softmax", "bf16", 128, 128)
    assert [s.name for s in k1.sizes] == ["H", "W"] and [s.grid_dim for s in k1.sizes] == [0, 1]
    assert k1.params == ()
    assert "neighborhood2d" in repr(k1)


def test_kernel_describes_params_and_linear_family():
    k = attnc.compile(RECIPES / "relpos_bias2d.attn")
    (rpb,) = k.params
    assert rpb.name == "rpb" and rpb.dims == ("heads", None, None) and rpb.extent == (0, 13, 13)
    lin = attnc.compile(RECIPES / "gated_linear.attn")
    assert lin.family == "linear" and [p.name for p in lin.params] == ["gate"]
    assert "lse" not in [a.name for a in lin.args]
    bs = attnc.compile(RECIPES / "block_sparse.attn")
    assert [s.name for s in bs.sizes] == ["nqb", "nkb"] and all(s.grid_dim == -1 for s in bs.sizes)


def test_every_shipped_recipe_parses():
    for path in sorted(RECIPES.glob("*.attn")):
        k = attnc.compile(path)
        assert k.name == path.stem


def test_recipe_error_carries_diagnostics():
    text = "recipe bad\ninput q, k, v : f32 [batch, heads, tokens, 64]\nmask neighbourhood(window: 3)\n"
    with pytest.raises(attnc.RecipeError) as e:
        attnc.compile(text)
    msg = str(e.value)
    assert "<recipe>:3:6: error: unknown" in msg and "'neighbourhood'" in msg
    assert "^" in msg and "hint: write 'neighborhood'" in msg
    assert e.value.diagnostics in msg
    assert isinstance(e.value, ValueError)  # a recipe error is bad input


def test_recipe_error_from_a_file_names_the_file(tmp_path):
    p = tmp_path / "x.attn"
    p.write_text("recipe x\ninput q, k, v : f32 [batch, heads, tokens, 48]\n")
    with pytest.raises(attnc.RecipeError, match=r"x\.attn:2:.*head dimension 48 is not supported"):
        attnc.compile(p)


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(OSError):
        attnc.compile(str(tmp_path / "missing.attn"))
    with pytest.raises(TypeError):
        attnc.compile(42)
    with pytest.raises(ValueError, match="backend"):
        attnc.compile(RECIPES / "dense.attn", backend="tpu")
    with pytest.raises(TypeError, match="schedule"):
        attnc.compile(RECIPES / "dense.attn", schedule=64)
    bad = tmp_path / "bin.attn"
    bad.write_bytes(b"recipe \xff\xfe\n")
    with pytest.raises(ValueError, match="UTF-8"):
        attnc.compile(bad)


def test_empty_text_is_a_recipe_error():
    with pytest.raises(attnc.RecipeError):
        attnc.compile("")


def test_build_and_schedule(rng):
    k = attnc.compile(f32_recipe("causal.attn"), schedule="q=32 kv=32")
    k.build("cpu")
    assert k.compiled_schedule("cpu").startswith("q=32 kv=32")
    before = attnc.compile_stats()["builds"]
    k.build("cpu")  # already built: nothing new
    assert attnc.compile_stats()["builds"] == before


def test_bad_schedule_is_an_argument_error():
    k = attnc.compile(f32_recipe("causal.attn"), schedule="q=7 kv=banana")
    with pytest.raises(attnc.ArgumentError) as e:
        k.build("cpu")
    assert "causal" in str(e.value)
    assert isinstance(e.value, ValueError)


def test_cuda_build_without_driver_is_a_clear_error():
    k = attnc.compile(RECIPES / "dense.attn")
    try:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
    except ImportError:
        pass
    with pytest.raises(attnc.AttncError) as e:
        k.build("cuda")
    assert isinstance(e.value, (attnc.NoDriverError, attnc.UnsupportedError, attnc.CudaError))
    assert "dense" in str(e.value)


def test_compile_stats_and_clear_cache():
    text = f32_recipe("dense.attn", **{"recipe dense": "recipe dense_stats"})
    p0 = attnc.compile_stats()["parses"]
    k = attnc.compile(text)
    assert attnc.compile_stats()["parses"] == p0 + 1
    assert attnc.compile(text) is k
    attnc.clear_cache()
    assert attnc.compile(text) is not k
    assert attnc.compile_stats()["parses"] == p0 + 2


def test_version_and_library():
    assert attnc.__version__.count(".") == 2
    assert os.path.exists(attnc.library_path)
    assert isinstance(attnc.has_backward(), bool)
