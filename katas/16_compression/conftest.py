"""Shared by the tests of kata 16: the formulas, written out in NumPy, and TinyDigits.

No ``tinytorch`` import at module level: pytest may load this file before the plugin has
chosen which implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

import numpy as np
import pytest


def numpy_log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def numpy_soft_target_loss(student: np.ndarray, teacher: np.ndarray, temperature: float) -> float:
    """T**2 * mean over rows of KL(softmax(teacher / T) || softmax(student / T))."""
    log_p = numpy_log_softmax(np.asarray(teacher, dtype=np.float64) / temperature)
    log_q = numpy_log_softmax(np.asarray(student, dtype=np.float64) / temperature)
    return float(temperature ** 2 * (np.exp(log_p) * (log_p - log_q)).sum(axis=-1).mean())


def numpy_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    log_q = numpy_log_softmax(logits)
    return float(-log_q[np.arange(len(targets)), targets].mean())


@pytest.fixture
def formulas():
    """The NumPy formulas as a namespace: ``formulas.soft_target_loss(...)``."""
    class Formulas:
        log_softmax = staticmethod(numpy_log_softmax)
        soft_target_loss = staticmethod(numpy_soft_target_loss)
        cross_entropy = staticmethod(numpy_cross_entropy)
    return Formulas


@pytest.fixture(scope="module")
def digits():
    """TinyDigits as float32 rows of 784 pixels in [0, 1]: (x_train, y_train, x_test, y_test)."""
    from tinytorch.data import load_tinydigits

    data = load_tinydigits()
    return ((data.x_train.reshape(-1, 784) / 255.0).astype(np.float32), data.y_train,
            (data.x_test.reshape(-1, 784) / 255.0).astype(np.float32), data.y_test)
