"""Shared by the tests of kata 12: attention written out plainly in NumPy, one matrix at a time.

No ``tinytorch`` import here: pytest may load this file before the plugin has chosen which
implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def reference_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                        mask: np.ndarray | None = None) -> np.ndarray:
    """softmax(q k^T / sqrt(d)) v over the last axis, masked (True = keep), in float64.

    Loops over every leading index so that no broadcasting trick is shared with the code
    under test; a row with no key left gives zeros.
    """
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    lead = q.shape[:-2]
    keep = np.ones(lead + (q.shape[-2], k.shape[-2]), dtype=bool) if mask is None else \
        np.broadcast_to(mask, lead + (q.shape[-2], k.shape[-2]))
    out = np.zeros(lead + (q.shape[-2], v.shape[-1]))
    for index in np.ndindex(*lead):
        scores = q[index] @ k[index].T / np.sqrt(q.shape[-1])
        for row in range(scores.shape[0]):
            allowed = keep[index][row]
            if not allowed.any():
                continue
            kept = scores[row][allowed]
            weights = np.exp(kept - kept.max())
            weights /= weights.sum()
            out[index][row] = weights @ v[index][allowed]
    return out


@pytest.fixture
def numpy_attention() -> Callable[..., np.ndarray]:
    return reference_attention
