"""Systems view of activations: what stability saves, what temporaries cost, what loops cost.

These figures come from your own activations and appear in the kata's metrics table.
"""

import math

import numpy as np

from pytest_tinytorch.measure import peak_bytes, time_ratio
from tinytorch.core import LogSoftmax, ReLU, Softmax, Tensor

LARGE_LOGITS = (np.random.default_rng(0).standard_normal((64, 10)) * 1000).astype(np.float32)


def naive_softmax(x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        e = np.exp(x)
        return e / e.sum(axis=-1, keepdims=True)


def test_stable_softmax_where_the_naive_one_gives_nan(metrics):
    naive_bad = int(np.sum(~np.isfinite(naive_softmax(LARGE_LOGITS))))
    yours = Softmax()(Tensor(LARGE_LOGITS)).numpy()
    yours_bad = int(np.sum(~np.isfinite(yours)))
    assert naive_bad > 0, "the naive softmax should overflow on these logits"
    assert yours_bad == 0, f"{yours_bad} of your Softmax outputs are inf or nan"
    reference = np.exp(LARGE_LOGITS.astype(np.float64) - LARGE_LOGITS.max(axis=1, keepdims=True))
    reference /= reference.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(yours, reference, atol=1e-6)
    metrics.record("non-finite outputs of naive exp/sum softmax, 640 logits ~ N(0, 1000^2)",
                   naive_bad, "count")
    metrics.record("non-finite outputs of your Softmax, same logits", yours_bad, "count")


def test_log_softmax_where_log_of_softmax_gives_minus_infinity(metrics):
    with np.errstate(all="ignore"):
        naive = np.log(Softmax()(Tensor(LARGE_LOGITS)).numpy())
    yours = LogSoftmax()(Tensor(LARGE_LOGITS)).numpy()
    naive_bad = int(np.sum(~np.isfinite(naive)))
    assert naive_bad > 0
    assert np.all(np.isfinite(yours))
    metrics.record("-inf outputs of log(softmax(x)), same logits", naive_bad, "count")
    metrics.record("non-finite outputs of your LogSoftmax, same logits",
                   int(np.sum(~np.isfinite(yours))), "count")


def test_peak_memory_of_softmax(metrics):
    x = Tensor(np.random.default_rng(1).standard_normal((1000, 1000)).astype(np.float32))
    out, peak = peak_bytes(lambda: Softmax()(x))
    assert out.dtype == np.float32
    # At least the 4 MB output; a float32 softmax needs a few temporaries of that size.
    assert out.nbytes <= peak < 6 * out.nbytes, f"Softmax peaked at {peak:,} bytes"
    metrics.record("peak memory of Softmax on (1000, 1000) float32", peak, "bytes")
    metrics.record("Softmax peak memory / output bytes", peak / out.nbytes, "ratio")


def _loop_relu(values: np.ndarray) -> list[float]:
    return [v if v > 0 else 0.0 for v in values.tolist()]


def _loop_softmax(rows: np.ndarray) -> list[list[float]]:
    result = []
    for row in rows.tolist():
        top = max(row)
        exps = [math.exp(v - top) for v in row]
        total = sum(exps)
        result.append([e / total for e in exps])
    return result


def test_vectorized_relu_beats_a_python_loop(metrics):
    x = Tensor(np.random.default_rng(2).standard_normal(10_000).astype(np.float32))
    relu = ReLU()
    np.testing.assert_allclose(_loop_relu(x.numpy()), relu(x).numpy())
    ratio = time_ratio(lambda: _loop_relu(x.numpy()), lambda: relu(x))
    # about 90 times on one core: a threshold no load can reach
    assert ratio > 3, f"the loop was only {ratio:.1f}x slower"
    metrics.record("loop ReLU / your ReLU time, 10k elements", ratio, "ratio")


def test_vectorized_softmax_beats_a_python_loop(metrics):
    x = Tensor(np.random.default_rng(3).standard_normal((100, 100)).astype(np.float32))
    softmax = Softmax()
    np.testing.assert_allclose(_loop_softmax(x.numpy()), softmax(x).numpy(), rtol=1e-5)
    ratio = time_ratio(lambda: _loop_softmax(x.numpy()), lambda: softmax(x))
    # 30 to 55 times on one core: a threshold no load can reach
    assert ratio > 2, f"the loop was only {ratio:.1f}x slower"
    metrics.record("loop softmax / your Softmax time, 100 rows of 100", ratio, "ratio")
