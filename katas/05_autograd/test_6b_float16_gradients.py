"""float16 gradients: computed in float32, returned as float16, finite where float16 overflows."""

import warnings

import numpy as np

from tinytorch.core import GELU, Tensor
from tinytorch.nn import BCELoss

HALF_MAX = float(np.finfo(np.float16).max)   # 65504


def gradient_of(function, values, dtype):
    x = Tensor(np.array(values, dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        function(x).sum().backward()
    return x.grad


def test_gelu_backward_at_plus_and_minus_1e4_in_float16():
    grad = gradient_of(GELU(), [-1e4, 1e4], np.float16)
    assert grad.dtype == np.float16
    np.testing.assert_array_equal(grad.numpy(), [0.0, 1.0])      # not NaN from 0 * inf


def test_gelu_backward_in_float16_matches_float32():
    values = [-6.0, -1.5, -0.25, 0.0, 0.5, 2.0, 45.0]
    half = gradient_of(GELU(), values, np.float16)
    single = gradient_of(GELU(), values, np.float32)
    np.testing.assert_allclose(half.numpy().astype(np.float32), single.numpy(), rtol=2e-3, atol=2e-3)


def test_bce_gradient_at_p_zero_and_one_is_finite_in_float16():
    target = Tensor(np.array([1.0, 0.0, 1.0], dtype=np.float16))
    grad = gradient_of(lambda p: BCELoss()(p, target), [0.0, 1.0, 0.5], np.float16)
    assert grad.dtype == np.float16
    assert np.isfinite(grad.numpy()).all()
    np.testing.assert_array_equal(grad.numpy()[:2], [-HALF_MAX, HALF_MAX])   # about 3e6, clipped
    assert grad.numpy()[2] == np.float16(-2 / 3)
