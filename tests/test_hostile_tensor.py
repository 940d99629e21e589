"""The Tensor's given code under hostile use: NumPy on the wrong side, float16 helpers.

What the student writes is tested in the katas; these tests cover the code the student is
given (``Tensor.__array_ufunc__``, ``Tensor.__rmatmul__``, ``compute_dtype`` and
``cast_back``), run on the reference solution because the given code calls into solved
code (the reflected operators, ``matmul``).
"""

from __future__ import annotations

import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pytest_tinytorch.implementation import activate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tt() -> Iterator[types.SimpleNamespace]:
    """The reference ``tinytorch``, imported for this module only, with autograd on.

    Every ``tinytorch`` module, ``sys.path`` and ``sys.meta_path`` are put back afterwards,
    so the other test modules of the same process keep the package they imported.
    """
    saved_modules = {name: module for name, module in sys.modules.items()
                     if name.split(".")[0] == "tinytorch"}
    saved_path, saved_meta_path = list(sys.path), list(sys.meta_path)
    activate(ROOT, "reference")
    try:
        from tinytorch.core import Tensor
        from tinytorch.core.autograd import enable_autograd
        from tinytorch.core.tensor import cast_back, compute_dtype
        from tinytorch.nn import Linear, ReLU, Sequential

        enable_autograd()
        yield types.SimpleNamespace(Tensor=Tensor, Linear=Linear, ReLU=ReLU, Sequential=Sequential,
                                    cast_back=cast_back, compute_dtype=compute_dtype)
    finally:
        for name in [name for name in sys.modules if name.split(".")[0] == "tinytorch"]:
            del sys.modules[name]
        sys.modules.update(saved_modules)
        sys.path[:], sys.meta_path[:] = saved_path, saved_meta_path


# -- NumPy on the left of an operator -------------------------------------------------------

@pytest.mark.parametrize("operation, expected", [
    (lambda a, t: a + t, [3.0, 5.0]), (lambda a, t: a - t, [-1.0, -1.0]),
    (lambda a, t: a * t, [2.0, 6.0]), (lambda a, t: a / t, [0.5, 2 / 3]),
    (lambda a, t: a == t, [False, False]), (lambda a, t: a < t, [True, True]),
    (lambda a, t: a >= t, [False, False])])
def test_a_numpy_array_on_the_left_gives_a_tensor(tt, operation, expected):
    result = operation(np.array([1.0, 2.0]), tt.Tensor([2.0, 3.0]))
    assert isinstance(result, tt.Tensor)                 # not an object array of Tensors
    np.testing.assert_allclose(result.numpy(), expected)
    assert result.dtype in (np.float64, np.bool_)        # float64 array with float32 tensor


def test_numpy_scalars_on_the_left_follow_the_scalar_rule(tt):
    for result in (np.float64(2.0) * tt.Tensor([1.0]), np.int64(1) + tt.Tensor([1.0]),
                   np.float32(1.0) - tt.Tensor([1.0])):
        assert isinstance(result, tt.Tensor) and result.dtype == np.float32


def test_an_array_matmul_a_tensor_is_a_tensor(tt):
    result = np.ones((2, 3)) @ tt.Tensor(np.ones((3, 4), dtype=np.float32))
    assert isinstance(result, tt.Tensor) and result.shape == (2, 4)
    np.testing.assert_array_equal(result.numpy(), np.full((2, 4), 3.0))
    with pytest.raises(ValueError, match=r"\(2, 5\).*\(3, 4\)"):
        np.ones((2, 5)) @ tt.Tensor(np.ones((3, 4), dtype=np.float32))


def test_numpy_functions_refuse_a_tensor_instead_of_looping_over_it(tt):
    with pytest.raises(TypeError, match="Tensor"):
        np.add(np.ones(2), tt.Tensor([1.0, 2.0]))


def test_gradients_flow_through_an_array_on_the_left(tt):
    weight = tt.Tensor(np.ones((3, 2), dtype=np.float32), requires_grad=True)
    bias = tt.Tensor(np.zeros(2, dtype=np.float32), requires_grad=True)
    x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    ((x @ weight) + (np.ones(2, dtype=np.float32) * bias)).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    np.testing.assert_array_equal(bias.grad.numpy(), [1.0, 1.0])


def test_a_layer_takes_a_numpy_batch_and_returns_a_tensor(tt):
    layer = tt.Linear(4, 3, rng=0)
    batch = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    out = layer(batch)
    assert isinstance(out, tt.Tensor) and out.shape == (2, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), layer(tt.Tensor(batch)).numpy())
    model = tt.Sequential(tt.Linear(4, 5, rng=1), tt.ReLU(), tt.Linear(5, 2, rng=2))
    assert isinstance(model(batch), tt.Tensor)
    assert layer(batch.astype(np.float64)).dtype == np.float64   # promotion: float64 array wins


# -- float16 helpers ------------------------------------------------------------------------

def test_compute_dtype_widens_float16_only(tt):
    assert tt.compute_dtype(np.dtype(np.float16)) == np.float32
    for dtype in (np.float32, np.float64, np.int64, np.uint8):
        assert tt.compute_dtype(np.dtype(dtype)) == dtype


def test_cast_back_clips_finite_values_and_keeps_inf_and_nan(tt):
    half = np.dtype(np.float16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tt.cast_back(np.array([1e5, -1e9, np.inf, -np.inf, np.nan, 1.5], dtype=np.float32), half)
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, [65504, -65504, np.inf, -np.inf, np.nan, 1.5])
    assert tt.cast_back(np.float64(3e39), np.dtype(np.float32)) == np.finfo(np.float32).max


def test_cast_back_leaves_other_dtypes_alone(tt):
    values = np.array([0.25, 0.5])
    assert tt.cast_back(values, np.dtype(np.float64)) is values
    assert tt.cast_back(values, np.dtype(np.int64)).dtype == np.float64   # a mean is not truncated
    assert tt.cast_back(np.array([3, 4]), np.dtype(np.float32)).dtype == np.float32
