"""CrossEntropyLoss from logits: log-sum-exp stable, indexed per row, strict about targets."""

import math

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import CrossEntropyLoss

STRICT = {"all": "raise", "under": "ignore"}  # overflow, log(0) and nan become errors

LOGITS = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0], [1.5, 1.5, 0.0], [-1.0, 0.0, 4.0],
                   [0.3, -0.7, 2.2]], dtype=np.float32)   # 5 samples, 3 classes
TARGETS = np.array([0, 2, 1, 2, 0])


def exact_cross_entropy(logits, targets):
    z = np.asarray(logits, dtype=np.float64)
    log_sum_exp = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)) + z.max(axis=1)
    return float(np.mean(log_sum_exp - z[np.arange(len(targets)), targets]))


def test_cross_entropy_of_a_small_batch():
    loss = CrossEntropyLoss()(Tensor(LOGITS), Tensor(TARGETS))
    assert isinstance(loss, Tensor)
    assert loss.shape == () and loss.dtype == np.float32
    assert loss.item() == pytest.approx(exact_cross_entropy(LOGITS, TARGETS), rel=1e-6)


def test_each_row_uses_its_own_target():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 7)) * 2
    targets = np.array([6, 0, 3, 3])
    expected = exact_cross_entropy(logits, targets)
    assert CrossEntropyLoss()(Tensor(logits), Tensor(targets)).item() == pytest.approx(expected, rel=1e-12)


def test_one_sample_by_hand():
    loss = CrossEntropyLoss()(Tensor([[1.0, 2.0, 3.0]]), Tensor([0]))
    expected = math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 1.0
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_the_mean_over_the_batch_not_the_sum():
    one = CrossEntropyLoss()(Tensor(LOGITS[:1]), Tensor(TARGETS[:1])).item()
    four = CrossEntropyLoss()(Tensor(np.repeat(LOGITS[:1], 4, axis=0)), Tensor(np.zeros(4, dtype=np.int64)))
    assert four.item() == pytest.approx(one, rel=1e-6)


def test_uniform_logits_cost_log_of_the_number_of_classes():
    loss = CrossEntropyLoss()(Tensor(np.zeros((3, 10), dtype=np.float32)), Tensor([1, 4, 9]))
    assert loss.item() == pytest.approx(math.log(10), rel=1e-6)


def test_extreme_logits_give_exact_finite_losses():
    logits = Tensor([[1e4, -1e4]])
    with np.errstate(**STRICT):
        wrong = CrossEntropyLoss()(logits, Tensor([1])).item()
        right = CrossEntropyLoss()(logits, Tensor([0])).item()
    assert wrong == 2e4
    assert right == 0.0


def test_extreme_logits_in_a_batch():
    logits = np.array([[-1e4, 1e4, 0.0], [5e3, -5e3, 5e3]], dtype=np.float32)
    with np.errstate(**STRICT):
        loss = CrossEntropyLoss()(Tensor(logits), Tensor([1, 2])).item()
    assert loss == pytest.approx(math.log(2) / 2, abs=1e-3)


def test_logits_must_be_a_matrix():
    with pytest.raises(ValueError, match=r"\(3,\)"):
        CrossEntropyLoss()(Tensor([1.0, 2.0, 3.0]), Tensor([0]))


def test_target_shape_must_be_one_index_per_row():
    with pytest.raises(ValueError) as error:
        CrossEntropyLoss()(Tensor(LOGITS), Tensor(np.zeros((5, 3), dtype=np.int64)))
    assert "(5, 3)" in str(error.value)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        CrossEntropyLoss()(Tensor(LOGITS), Tensor([0, 1, 2, 0]))


def test_float_targets_are_a_type_error():
    with pytest.raises(TypeError, match="float32"):
        CrossEntropyLoss()(Tensor(LOGITS), Tensor([0.0, 2.0, 1.0, 2.0, 0.0]))


@pytest.mark.parametrize("bad", [3, -1])
def test_class_index_out_of_range_is_named(bad):
    targets = TARGETS.copy()
    targets[2] = bad
    with pytest.raises(ValueError) as error:
        CrossEntropyLoss()(Tensor(LOGITS), Tensor(targets))
    assert str(bad) in str(error.value) and "3" in str(error.value)


def test_the_logits_are_left_unchanged():
    data = np.array([[200.0, -100.0, 50.0], [0.0, 300.0, -200.0]], dtype=np.float32)
    logits = Tensor(data.copy())
    CrossEntropyLoss()(logits, Tensor([0, 2]))
    np.testing.assert_array_equal(logits.numpy(), data)
