"""GELU in one scratch buffer: the same numbers with fewer temporaries."""

import numpy as np
import pytest

from pytest_tinytorch.measure import peak_bytes
from tinytorch.core import GELU, Tensor, no_grad
from tinytorch.systems.acceleration import gelu_fused

X = (np.random.default_rng(3).standard_normal((16, 32)) * 3).astype(np.float32)


def formula(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_values_as_kata_02_gelu_and_the_same_dtype(dtype):
    x = X.astype(dtype)
    out = gelu_fused(x)
    assert out.dtype == dtype and out.shape == x.shape
    tolerance = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, formula(x), rtol=tolerance, atol=tolerance)
    with no_grad():
        np.testing.assert_allclose(out, GELU()(Tensor(x)).numpy(), rtol=tolerance, atol=tolerance)


def test_the_input_is_left_alone_without_out():
    x = X.copy()
    gelu_fused(x)
    np.testing.assert_array_equal(x, X)


def test_out_receives_the_result_and_is_returned():
    out = np.full_like(X, np.nan)
    result = gelu_fused(X, out=out)
    assert result is out
    np.testing.assert_allclose(out, formula(X), rtol=2e-6, atol=2e-6)


def test_in_place_with_out_equal_to_x():
    x = X.copy()
    result = gelu_fused(x, out=x)
    assert result is x
    np.testing.assert_allclose(x, formula(X), rtol=2e-6, atol=2e-6)


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match="int64"):
        gelu_fused(np.arange(4))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(16, 32\)|\(16, 32\).*\(3, 4\)"):
        gelu_fused(X, out=np.zeros((3, 4), dtype=np.float32))
    with pytest.raises(TypeError, match="float64"):
        gelu_fused(X, out=np.zeros(X.shape, dtype=np.float64))


def test_one_scratch_array_is_all_it_allocates(rng):
    x = rng.standard_normal((512, 512)).astype(np.float32)     # 1 MB
    out, fresh = peak_bytes(lambda: gelu_fused(x))
    _, in_place = peak_bytes(lambda: gelu_fused(out, out=out))
    # the result plus one scratch array; in place, the scratch array alone
    assert fresh <= 2 * x.nbytes + 65_536, f"gelu_fused(x) peaked at {fresh / x.nbytes:.2f}x the input"
    assert in_place <= x.nbytes + 65_536, f"gelu_fused(x, out=x) peaked at {in_place / x.nbytes:.2f}x"
