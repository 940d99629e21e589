"""Shared set-up for kata 18, computed without any of your code.

- Every test ends with the acceleration switch OFF, whatever it did: a test that enables
  it (or fails half-way) must not change what the next test measures.
- ``conv_by_offsets`` (from ``katas/conftest.py``) is a convolution written differently from
  yours and from kata 09's.
- ``blas_runs`` runs the two BLAS child processes once per session (1 and 2 threads);
  both the correctness test and the systems view read them.

``tinytorch`` is imported inside fixtures only: pytest may load this file before the plugin
has chosen which implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

BLAS_SIZE = 1024


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
