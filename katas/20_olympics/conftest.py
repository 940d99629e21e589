"""Shared fixtures for kata 20: a trained TinyDigits MLP, a fake clock and hand-made entries.

``tinytorch`` is imported inside the fixtures only: pytest may load this file before the
plugin has chosen which implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HIDDEN = 48
EPOCHS = 6
BATCH = 100
LEARNING_RATE = 3e-3
SEED = 20

# A machine that exists only in the tests: every key the rules compare (MACHINE_KEYS).
LAB = {"cpu_model": "the test's fake lab", "cpu_count": 2, "python": "3.x", "numpy": "2.x",
       "blas": "none", "blas_thread_env": {"OMP_NUM_THREADS": "1"}, "blas_threads_in_use": 1}


class StepClock:
    """Every reading moves time forward by ``step`` seconds, so every timed call takes
    exactly ``step``. A power of two keeps every sum and difference of readings exact."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def lab() -> dict[str, Any]:
    """The fake lab's environment, a fresh copy."""
    return dict(LAB)


@pytest.fixture(scope="session")
def lab_benchmark() -> Callable[..., Any]:
    """``lab_benchmark(step)``: kata 19's Benchmark on a StepClock, in the LAB environment
    (each call makes a new one, with a clock of its own)."""
    from tinytorch.systems.benchmarking import Benchmark

    def make(step: float = 2.0 ** -14, environment: dict | None = None) -> Any:
        return Benchmark(warmup=2, repeats=3, timer=StepClock(step), resamples=50,
                         environment=dict(LAB if environment is None else environment))

    return make


def mlp_logits(arrays: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    """The logits of Flatten-Linear-ReLU-Linear computed with NumPy alone from a model
    file's arrays (layers 1 and 3): an independent check of the file and of the model."""
    hidden = np.maximum(images.reshape(len(images), -1) @ arrays["1/weight"] + arrays["1/bias"], 0)
    return hidden @ arrays["3/weight"] + arrays["3/bias"]


@pytest.fixture
def numpy_mlp() -> Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]:
    """:func:`mlp_logits`, for the tests."""
    return mlp_logits


@pytest.fixture(scope="session")
def trained_mlp() -> Any:
    """A 784-48-10 MLP trained for a second on the 5,000 TinyDigits training images (about
    92 % on the test split), in eval mode. Shared: copy it (copy.deepcopy) before changing it."""
    from tinytorch.core import ReLU, Tensor
    from tinytorch.data import load_tinydigits
    from tinytorch.nn import CrossEntropyLoss, Flatten, Linear, Sequential
    from tinytorch.optim import Adam

    digits = load_tinydigits()
    images = (digits.x_train[:, None] / 255.0).astype(np.float32)
    model = Sequential(Flatten(), Linear(784, HIDDEN, rng=SEED), ReLU(), Linear(HIDDEN, 10, rng=SEED + 1))
    optimizer = Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = CrossEntropyLoss()
    rng = np.random.default_rng(SEED)
    for _ in range(EPOCHS):
        order = rng.permutation(len(images))
        for start in range(0, len(images), BATCH):
            batch = order[start:start + BATCH]
            optimizer.zero_grad()
            loss_fn(model(Tensor(images[batch])), Tensor(digits.y_train[batch])).backward()
            optimizer.step()
    model.eval()
    return model


@pytest.fixture(scope="session")
def saved_mlp(trained_mlp: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained MLP written once with save_model. Read it; copy it before changing it."""
    from tinytorch.systems.olympics import save_model

    path = tmp_path_factory.mktemp("olympics") / "mlp.npz"
    save_model(path, trained_mlp)
    return path


@pytest.fixture
def make_entry() -> Callable[..., Any]:
    """``make_entry(name, accuracy, latency, model_bytes, model="a")``: a verified Entry made
    by hand, so that rankings and scores have exact expected values. With ``uncached`` (the
    latency per token without the KV cache) it is a TinyTalks entry, counted on the shipped
    questions."""
    from tinytorch.systems.olympics import SHIPPED_TALKS_SHA256, TINYTALKS, Entry

    def make(name: str, accuracy: float = 0.95, latency: float = 1e-4, model_bytes: int = 100_000,
             model: str = "a", throughput: float = 1e5, claimed: float | None = None,
             uncached: float | None = None) -> Any:
        digest = (model * 64)[:64]
        talks = {} if uncached is None else {"task": TINYTALKS, "uncached_latency_seconds": uncached,
                                             "test_set_sha256": SHIPPED_TALKS_SHA256}
        return Entry(name=name, model_sha256=digest, accuracy=accuracy, model_bytes=model_bytes,
                     latency_seconds=latency, latency_ci_low=0.9 * latency, latency_ci_high=1.1 * latency,
                     latency_p99_seconds=2 * latency, throughput=throughput,
                     claimed_latency_seconds=latency if claimed is None else claimed, **talks)

    return make
