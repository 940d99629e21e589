"""BLAS threads are chosen when the library loads: each setting runs in a fresh process."""

import os

import numpy as np
import pytest

from tinytorch.systems.acceleration import BLAS_THREAD_VARIABLES, run_with_blas_threads


def test_both_settings_compute_the_same_product(blas_runs):
    one, two = blas_runs[1], blas_runs[2]
    rng = np.random.default_rng(0)            # the child draws a, then b, from seed 0
    a = rng.standard_normal((1024, 1024), dtype=np.float32)
    b = rng.standard_normal((1024, 1024), dtype=np.float32)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    for run in (one, two):
        assert run.product.shape == (1024, 1024) and run.product.dtype == np.float32
        np.testing.assert_allclose(run.product, expected, rtol=1e-4, atol=1e-3)
    # equal to float32 rounding; a different split of the work may round differently
    np.testing.assert_allclose(one.product, two.product, rtol=1e-5, atol=1e-4)


def test_every_blas_variable_reaches_the_child(blas_runs):
    for threads, run in blas_runs.items():
        assert run.threads == threads
        assert run.environment == {name: str(threads) for name in BLAS_THREAD_VARIABLES}, (
            f"the child saw {run.environment}: set every variable, the test runner pins them all to 1")
        if run.threads_in_use is not None and (os.cpu_count() or 1) >= threads:
            assert run.threads_in_use == threads
        assert 0 < run.seconds < 30


def test_the_parent_environment_is_not_changed():
    before = dict(os.environ)
    run = run_with_blas_threads(2, size=32, repeats=1)
    assert run.environment["OPENBLAS_NUM_THREADS"] == "2"
    assert dict(os.environ) == before, "set the variables in a copy of os.environ, passed as env="


@pytest.mark.parametrize("threads, size", [(0, 64), (1, 0)])
def test_nonsense_settings_are_refused(threads, size):
    with pytest.raises(ValueError, match="threads=0|size=0"):
        run_with_blas_threads(threads, size=size)
