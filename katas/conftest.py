"""Shared set-up for the kata tests.

- From kata 05 on, every test runs with autograd switched on: ``enable_autograd()`` wakes
  the Tensor's dormant gradient features (it is idempotent, and katas 01-04 pass either way).
- ``conv_by_offsets`` (katas 09 and 18) is a convolution written differently from the ones
  the katas build: for each kernel offset it multiplies one strided slice of the padded
  input by that offset's weights. The output size is the formula (H + 2p - k) // s + 1,
  written here once more, independently.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

FIRST_KATA_WITH_AUTOGRAD = "05"


@pytest.fixture(autouse=True, scope="module")
def _autograd_from_kata_05(request: pytest.FixtureRequest) -> None:
    """Module-scoped, so that it runs before the module-scoped fixtures that train a model."""
    kata_id = request.path.parent.name.split("_")[0]
    if kata_id >= FIRST_KATA_WITH_AUTOGRAD:
        from tinytorch.core.autograd import enable_autograd

        enable_autograd()


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
