"""Systems view of losses: finite on extreme inputs, and the memory a large vocabulary costs.

These figures come from your own losses and appear in the kata's metrics table.
"""

import math

import numpy as np

from pytest_tinytorch.measure import peak_bytes
from tinytorch.core import Tensor
from tinytorch.nn import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss
from tinytorch.nn.losses import BCE_EPSILON

STRICT = {"all": "raise", "under": "ignore"}


def naive_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per-sample -log(softmax) without the max shift, as on paper."""
    with np.errstate(all="ignore"):
        e = np.exp(logits)
        return -np.log(e[np.arange(len(targets)), targets] / e.sum(axis=1))


def test_cross_entropy_of_extreme_logits(metrics):
    with np.errstate(**STRICT):
        loss = CrossEntropyLoss()(Tensor([[1e4, -1e4]]), Tensor([1])).item()
    assert loss == 2e4
    metrics.record("CrossEntropy of logits [[1e4, -1e4]], wrong class", loss, "nats")


def test_binary_losses_of_extreme_inputs(metrics):
    with np.errstate(**STRICT):
        high = BCEWithLogitsLoss()(Tensor([1000.0]), Tensor([0.0])).item()
        low = BCEWithLogitsLoss()(Tensor([-1000.0]), Tensor([1.0])).item()
        clipped = BCELoss()(Tensor([0.0]), Tensor([1.0])).item()
    assert high == low == 1000.0
    assert abs(clipped - -math.log(BCE_EPSILON)) < 1e-5
    metrics.record("BCEWithLogits of x=+1000, y=0", high, "nats")
    metrics.record("BCEWithLogits of x=-1000, y=1", low, "nats")
    metrics.record("BCE of p=0, y=1 (clipped at 1e-7)", clipped, "nats")


def test_a_batch_where_the_naive_cross_entropy_overflows(metrics):
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((256, 10)) * 300).astype(np.float32)
    targets = rng.integers(0, 10, size=256)
    naive_bad = int(np.sum(~np.isfinite(naive_cross_entropy(logits, targets))))
    with np.errstate(**STRICT):
        loss = CrossEntropyLoss()(Tensor(logits), Tensor(targets)).item()
    assert naive_bad > 0
    assert math.isfinite(loss)
    z = logits.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    expected = np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(256), targets])
    assert abs(loss - expected) < 1e-3 * expected
    metrics.record("samples of 256 whose naive cross-entropy is inf or nan", naive_bad, "count")


def test_peak_memory_of_cross_entropy_over_a_large_vocabulary(metrics):
    logits = Tensor(np.random.default_rng(1).standard_normal((64, 32_000)).astype(np.float32))
    targets = Tensor(np.arange(64) * 500)
    loss, peak = peak_bytes(lambda: CrossEntropyLoss()(logits, targets))
    assert loss.shape == ()
    # The loss is one number, yet it needs temporaries the size of the logits.
    assert logits.nbytes <= peak < 6 * logits.nbytes, f"peak {peak:,} bytes"
    metrics.record("logits bytes, 64 x 32k vocabulary float32", logits.nbytes, "bytes")
    metrics.record("peak memory of CrossEntropyLoss on those logits", peak, "bytes")
