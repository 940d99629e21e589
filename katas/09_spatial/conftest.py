"""Shared answers for kata 09, computed without any of your code.

``reference_conv`` is a convolution written differently from both of yours: for each kernel
offset it multiplies one strided slice of the padded input by that offset's weights. The
output size is the formula (H + 2p - k) // s + 1, written here once more, independently.

``tinytorch`` is imported inside fixtures only: pytest may load this file before the plugin
has chosen which implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def reference_conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, stride: int,
                   padding: int) -> np.ndarray:
    """Cross-correlation of x (N, C, H, W) with weight (O, C, k, k), in float64."""
    x, weight = np.asarray(x, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k = weight.shape[-1]
    out_h = (x.shape[2] + 2 * padding - k) // stride + 1
    out_w = (x.shape[3] + 2 * padding - k) // stride + 1
    out = np.zeros((x.shape[0], weight.shape[0], out_h, out_w))
    for di in range(k):
        for dj in range(k):
            patch = padded[:, :, di:di + stride * (out_h - 1) + 1:stride,
                           dj:dj + stride * (out_w - 1) + 1:stride]
            out += np.einsum("nchw,oc->nohw", patch, weight[:, :, di, dj])
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[None, :, None, None]
    return out


@pytest.fixture
def conv_by_offsets() -> Callable[..., np.ndarray]:
    return reference_conv


@pytest.fixture
def digit_batch() -> Callable[[int], tuple[object, object]]:
    """``digit_batch(n)``: the first n TinyDigits training images as Tensors,
    (n, 1, 28, 28) float32 in [0, 1], and their labels (n,) int64."""
    def make(count: int):
        from tinytorch.core import Tensor
        from tinytorch.data import load_tinydigits

        digits = load_tinydigits()
        images = (digits.x_train[:count].astype(np.float32) / 255.0)[:, np.newaxis]
        return Tensor(images), Tensor(digits.y_train[:count])

    return make
