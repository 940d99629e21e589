"""Shared set-up for kata 18, computed without any of your code.

- Every test ends with the acceleration switch OFF, whatever it did: a test that enables
  it (or fails half-way) must not change what the next test measures.
- ``conv_by_offsets`` is a convolution written differently from yours and from kata 09's:
  for each kernel offset it multiplies one strided slice of the padded input by that
  offset's weights, in float64.
- ``blas_runs`` runs the two BLAS child processes once per session (1 and 2 threads);
  both the correctness test and the systems view read them.

``tinytorch`` is imported inside fixtures only: pytest may load this file before the plugin
has chosen which implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

BLAS_SIZE = 1024


def reference_conv(x: np.ndarray, weight: np.ndarray, stride: int, padding: int) -> np.ndarray:
    """Cross-correlation of x (N, C, H, W) with weight (O, C, k, k), no bias, in float64."""
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
    return out


@pytest.fixture
def conv_by_offsets() -> Callable[..., np.ndarray]:
    return reference_conv


@pytest.fixture(autouse=True)
def _acceleration_off_after_each_test() -> Iterator[None]:
    yield
    from tinytorch.systems.acceleration import disable_acceleration

    disable_acceleration()


@pytest.fixture(scope="session")
def blas_runs() -> dict[int, object]:
    """``{1: BlasRun, 2: BlasRun}``: a 1024 x 1024 float32 product timed in child processes
    whose BLAS may use 1 and 2 threads."""
    from tinytorch.systems.acceleration import run_with_blas_threads

    return {threads: run_with_blas_threads(threads, size=BLAS_SIZE, seed=0, repeats=3)
            for threads in (1, 2)}
