"""Shared by the tests of kata 11: the sinusoidal table written out element by element.

No ``tinytorch`` import here: pytest may load this file before the plugin has chosen which
implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest


def vaswani_table(max_len: int, dim: int) -> np.ndarray:
    """PE[pos, 2i] = sin(pos / 10000^(2i/dim)), PE[pos, 2i+1] = cos(same), one element at a time."""
    table = np.zeros((max_len, dim))
    for pos in range(max_len):
        for column in range(dim):
            pair = column // 2
            angle = pos / 10000 ** (2 * pair / dim)
            table[pos, column] = math.sin(angle) if column % 2 == 0 else math.cos(angle)
    return table


@pytest.fixture
def vaswani() -> Callable[[int, int], np.ndarray]:
    return vaswani_table
