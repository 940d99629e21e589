"""Shared answers for kata 09, computed without any of your code (the convolution
``conv_by_offsets`` is in ``katas/conftest.py``, shared with kata 18).

``tinytorch`` is imported inside fixtures only: pytest may load this file before the plugin
has chosen which implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


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
