"""Shared by the tests of kata 17: a float64 switch for models, and a counter of the work done.

No ``tinytorch`` import here: pytest may load this file before the plugin has chosen which
implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest


def in_float64(model: Any) -> Any:
    """Turn every parameter of ``model`` into float64, in place: cached and full forwards then
    agree to about 1e-15, so any real difference (a position, a key) stands out."""
    for parameter in model.parameters():
        parameter.data = parameter.data.astype(np.float64)
    return model


def count_tokens_per_step(model: Any) -> list[int]:
    """Record how many positions every forward pass runs through ``model``'s first block.

    Returns the list that fills up as the model runs: ``[5, 1, 1]`` is a prefill of five
    tokens followed by two single-token steps.
    """
    block = model.blocks[0]
    original = block.forward
    lengths: list[int] = []

    def counted(x: Any, *args: Any, **kwargs: Any) -> Any:
        lengths.append(x.shape[1])
        return original(x, *args, **kwargs)

    block.forward = counted
    return lengths


@pytest.fixture
def float64() -> Callable[[Any], Any]:
    return in_float64


@pytest.fixture
def token_counter() -> Callable[[Any], list[int]]:
    return count_tokens_per_step
