"""Shared answers for kata 15, computed with plain NumPy and none of your code.

``formulas`` holds the affine INT8 formulas written out once more, independently of
``tinytorch``: the parameters of a range, quantizing with them, and the integer
arithmetic of a quantized Linear and Conv2d (the convolution is computed one kernel
offset at a time, a different route from kata 09's im2col).

``tinytorch`` is imported inside fixtures only: pytest may load this file before the plugin
has chosen which implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

QMIN, QMAX = -128, 127


def params(minimum, maximum) -> tuple[np.ndarray, np.ndarray]:
    """Scale (float32) and zero point (int32) of [minimum, maximum], extended to contain 0."""
    lo = np.minimum(np.asarray(minimum, dtype=np.float64), 0.0)
    hi = np.maximum(np.asarray(maximum, dtype=np.float64), 0.0)
    scale = np.where(hi > lo, (hi - lo) / 255.0, 1.0).astype(np.float32)
    zero_point = np.clip(QMIN - np.round(lo / scale.astype(np.float64)), QMIN, QMAX).astype(np.int32)
    return scale, zero_point


def channel_shape(values: np.ndarray, axis: int | None, ndim: int) -> np.ndarray:
    if axis is None:
        return np.asarray(values)
    shape = [1] * ndim
    shape[axis] = -1
    return np.asarray(values).reshape(shape)


def quantize(x, scale, zero_point, axis: int | None = None) -> np.ndarray:
    """clip(round(x / scale) + zero_point, -128, 127) as int8, in float64."""
    x = np.asarray(x, dtype=np.float64)
    scale = channel_shape(np.asarray(scale, dtype=np.float64), axis, x.ndim)
    zero_point = channel_shape(zero_point, axis, x.ndim)
    return np.clip(np.round(x / scale) + zero_point, QMIN, QMAX).astype(np.int8)


def integers(q: np.ndarray, zero_point, axis: int | None = None) -> np.ndarray:
    """q - zero_point as int64: the exact integers a quantized value stands for."""
    return q.astype(np.int64) - channel_shape(zero_point, axis, q.ndim).astype(np.int64)


def linear(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
           input_range: tuple[float, float] | None = None) -> np.ndarray:
    """A quantized Linear in integer arithmetic: weight (in, out) per column, input per tensor
    (from input_range if given, else from x itself)."""
    w_scale, w_zero = params(weight.min(axis=0), weight.max(axis=0))
    w_q = quantize(weight, w_scale, w_zero, axis=1)
    x_scale, x_zero = params(*(input_range if input_range is not None else (x.min(), x.max())))
    x_q = quantize(x, x_scale, x_zero)
    accumulated = integers(x_q, x_zero) @ integers(w_q, w_zero, axis=1)  # exact, int64
    out = accumulated * (np.float64(x_scale) * w_scale.astype(np.float64))
    return out if bias is None else out + bias


def conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int, padding: int,
         input_range: tuple[float, float] | None = None) -> np.ndarray:
    """A quantized Conv2d: weight (O, C, k, k) per output channel, input per tensor; the
    integer input is padded with 0 = the real zero."""
    flat = weight.reshape(weight.shape[0], -1)
    w_scale, w_zero = params(flat.min(axis=1), flat.max(axis=1))
    w_int = integers(quantize(weight, w_scale, w_zero, axis=0), w_zero, axis=0)
    x_scale, x_zero = params(*(input_range if input_range is not None else (x.min(), x.max())))
    x_int = integers(quantize(x, x_scale, x_zero), x_zero)
    padded = np.pad(x_int, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k = weight.shape[-1]
    out_h = (x.shape[2] + 2 * padding - k) // stride + 1
    out_w = (x.shape[3] + 2 * padding - k) // stride + 1
    accumulated = np.zeros((x.shape[0], weight.shape[0], out_h, out_w), dtype=np.int64)
    for di in range(k):
        for dj in range(k):
            patch = padded[:, :, di:di + stride * (out_h - 1) + 1:stride,
                           dj:dj + stride * (out_w - 1) + 1:stride]
            accumulated += np.einsum("nchw,oc->nohw", patch, w_int[:, :, di, dj])
    out = accumulated * (np.float64(x_scale) * w_scale.astype(np.float64))[None, :, None, None]
    return out if bias is None else out + bias[None, :, None, None]


def assert_codes_equal(actual: np.ndarray, expected: np.ndarray) -> None:
    """int8 codes equal to the formula's. Computing in float32 instead of float64 may move a
    value sitting within a rounding error of a half-way point by one level: at most one
    element in a thousand may differ, and by one level only."""
    assert isinstance(actual, np.ndarray) and actual.dtype == np.int8, \
        f"expected an int8 array, got {getattr(actual, 'dtype', type(actual))}"
    assert actual.shape == expected.shape, f"shape {actual.shape}, expected {expected.shape}"
    difference = np.abs(actual.astype(np.int64) - expected.astype(np.int64))
    worst = np.unravel_index(np.argmax(difference), difference.shape)
    assert difference.max() <= 1, (f"code {actual[worst]} where the formula gives {expected[worst]} "
                                    f"at index {tuple(int(i) for i in worst)}")
    assert (difference > 0).sum() <= actual.size // 1000, (
        f"{(difference > 0).sum()} of {actual.size} codes differ from the formula by one level: "
        f"round with np.round, not astype(int) or np.floor")


@pytest.fixture
def formulas() -> SimpleNamespace:
    return SimpleNamespace(params=params, quantize=quantize, integers=integers, linear=linear,
                           conv=conv, assert_codes_equal=assert_codes_equal)
