"""Shared by the tests of kata 13: the formulas, written out in NumPy, and a float64 switch.

No ``tinytorch`` import here: pytest may load this file before the plugin has chosen which
implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

import math

import numpy as np
import pytest


def numpy_layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """PyTorch's LayerNorm over the last axis: biased variance, eps inside the square root."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def numpy_gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def in_float64(module):
    """Turn every parameter of ``module`` into float64, in place, for gradcheck."""
    for parameter in module.parameters():
        parameter.data = parameter.data.astype(np.float64)
    return module


@pytest.fixture
def formulas():
    return numpy_layer_norm, numpy_gelu


@pytest.fixture
def float64():
    return in_float64
