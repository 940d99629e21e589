"""Gradient features exist from day one and stay dormant until kata 05 wakes them."""

import numpy as np

from tinytorch.core import Tensor


def test_requires_grad_defaults_to_false_and_can_be_set():
    assert Tensor([1.0]).requires_grad is False
    assert Tensor([1.0], requires_grad=True).requires_grad is True


def test_grad_starts_empty():
    assert Tensor([1.0, 2.0], requires_grad=True).grad is None


def test_memory_footprint_counts_the_gradient_once_there_is_one():
    w = Tensor(np.zeros((10, 10), dtype=np.float32), requires_grad=True)
    assert w.memory_footprint() == 400
    w.grad = Tensor(np.zeros((10, 10), dtype=np.float32))
    assert w.memory_footprint() == 800


def test_repr_names_the_dtype_and_the_values():
    text = repr(Tensor([1.5, 2.5]))
    assert "float32" in text and "1.5" in text
