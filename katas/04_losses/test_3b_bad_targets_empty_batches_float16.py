"""Targets outside [0, 1], NaN, empty batches, and float16 predictions that overflow."""

import warnings

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss

HALF_MAX = float(np.finfo(np.float16).max)   # 65504


def quietly(function, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args)


# -- values a probability or a target cannot have ------------------------------------------

@pytest.mark.parametrize("loss", [BCELoss, BCEWithLogitsLoss])
@pytest.mark.parametrize("bad", [1.5, -0.5, float("nan")])
def test_a_target_outside_zero_one_is_named(loss, bad):
    with pytest.raises(ValueError, match=rf"target.*{bad}"):
        loss()(Tensor([0.3, 0.6]), Tensor([1.0, bad]))


def test_a_nan_probability_is_refused():
    with pytest.raises(ValueError, match="nan"):
        BCELoss()(Tensor([0.3, float("nan")]), Tensor([1.0, 0.0]))


def test_targets_at_the_edges_are_fine():
    loss = BCELoss()(Tensor([0.25, 0.75]), Tensor([0.0, 1.0]))
    assert loss.item() == pytest.approx(-np.log(0.75), rel=1e-6)


# -- empty batches -----------------------------------------------------------------------------

def test_cross_entropy_of_an_empty_batch_is_refused():
    with pytest.raises(ValueError, match=r"empty.*\(0, 3\)"):
        CrossEntropyLoss()(Tensor(np.zeros((0, 3), dtype=np.float32)), Tensor(np.zeros(0, dtype=np.int64)))


@pytest.mark.parametrize("loss", [MSELoss, BCELoss, BCEWithLogitsLoss])
def test_element_wise_losses_of_nothing_are_refused(loss):
    empty = Tensor(np.zeros((0, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"empty.*\(0, 2\)"):
        loss()(empty, empty)


# -- float16: computed in float32, returned as float16 ----------------------------------------

def test_mse_of_float16_squares_in_float32():
    prediction = Tensor(np.array([300.0, 0.0, 0.0, 0.0], dtype=np.float16))
    loss = quietly(MSELoss(), prediction, Tensor(np.zeros(4, dtype=np.float16)))
    assert loss.dtype == np.float16
    assert loss.item() == float(np.float16(90_000 / 4))             # 300**2 overflows float16


def test_a_float16_loss_beyond_float16_is_clipped_not_inf():
    prediction = Tensor(np.array([300.0], dtype=np.float16))
    loss = quietly(MSELoss(), prediction, Tensor(np.zeros(1, dtype=np.float16)))
    assert loss.dtype == np.float16 and loss.item() == HALF_MAX


def test_cross_entropy_of_float16_logits_far_apart_is_computed_in_float32():
    logits = Tensor(np.array([[-6e4, 6e4], [0.0, 0.0]], dtype=np.float16))   # -6e4 - 6e4 overflows
    loss = quietly(CrossEntropyLoss(), logits, Tensor([0, 1]))
    assert loss.dtype == np.float16
    assert loss.item() == float(np.float16((120_000 + np.log(2)) / 2))
    alone = quietly(CrossEntropyLoss(), logits[:1], Tensor([0]))
    assert alone.item() == HALF_MAX                                       # 120000, clipped


def test_cross_entropy_and_bce_of_float16_match_float32():
    logits = np.array([[60.0, -60.0, 0.0], [1.0, 2.0, 3.0]], dtype=np.float16)
    classes = Tensor([1, 2])
    half = quietly(CrossEntropyLoss(), Tensor(logits), classes)
    single = CrossEntropyLoss()(Tensor(logits.astype(np.float32)), classes)
    assert half.dtype == np.float16
    assert half.item() == pytest.approx(single.item(), rel=1e-3)
    p = Tensor(np.array([0.0, 1.0, 0.5], dtype=np.float16))
    bce = quietly(BCELoss(), p, Tensor(np.array([1.0, 0.0, 1.0], dtype=np.float16)))
    assert bce.dtype == np.float16
    assert bce.item() == pytest.approx((2 * -np.log(1e-7) - np.log(0.5)) / 3, rel=1e-3)
    logits_loss = quietly(BCEWithLogitsLoss(), Tensor(np.array([6e4, -6e4], dtype=np.float16)),
                          Tensor(np.array([0.0, 1.0], dtype=np.float16)))
    assert logits_loss.dtype == np.float16 and logits_loss.item() == pytest.approx(6e4, rel=1e-3)
