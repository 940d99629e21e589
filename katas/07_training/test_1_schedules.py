"""Learning-rate schedules: closed-form values at the steps where off-by-ones hide."""

import math

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.optim import SGD
from tinytorch.training import StepLR, WarmupCosineLR


def optimizer(lr: float) -> SGD:
    return SGD([Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)], lr=lr)


def cosine_expected(t: int, base: float, warmup: int, total: int, floor: float) -> float:
    """The schedule's definition, written out independently of the student's code."""
    if t < warmup:
        return base * (t + 1) / warmup
    if t >= total:
        return floor
    return floor + 0.5 * (base - floor) * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))


# -- StepLR ---------------------------------------------------------------------------------

@pytest.mark.parametrize("t, expected", [
    (0, 0.8), (2, 0.8),            # the first step_size steps use base_lr
    (3, 0.4), (5, 0.4),            # step 3 is the first to decay
    (6, 0.2), (10, 0.1), (12, 0.05),
])
def test_step_lr_closed_form(t, expected):
    schedule = StepLR(optimizer(0.8), step_size=3, gamma=0.5)
    assert schedule.lr_at(t) == pytest.approx(expected, rel=1e-12)


def test_step_lr_reads_its_base_from_the_optimizer_and_sets_lr_for_the_first_step():
    opt = optimizer(0.3)
    schedule = StepLR(opt, step_size=2, gamma=0.1)
    assert schedule.base_lr == 0.3
    assert schedule.steps_done == 0
    assert opt.lr == pytest.approx(0.3)


def test_step_lr_step_writes_the_optimizers_learning_rate():
    opt = optimizer(1.0)
    schedule = StepLR(opt, step_size=2, gamma=0.5)
    seen = []
    for _ in range(7):
        seen.append(opt.lr)
        schedule.step()
    assert schedule.steps_done == 7
    np.testing.assert_allclose(seen, [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125], rtol=1e-12)
    assert opt.lr == pytest.approx(0.125)


@pytest.mark.parametrize("kwargs, name", [
    ({"step_size": 0}, "step_size"),
    ({"step_size": 2, "gamma": 0.0}, "gamma"),
    ({"step_size": 2, "gamma": 1.5}, "gamma"),
])
def test_step_lr_rejects_bad_arguments_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        StepLR(optimizer(0.1), **kwargs)


# -- linear warm-up then cosine decay -------------------------------------------------------

BASE, WARMUP, TOTAL, FLOOR = 0.1, 4, 20, 0.01


@pytest.mark.parametrize("t, expected", [
    (0, 0.025),                   # base / W: the first step is not wasted on lr = 0
    (1, 0.05),
    (3, 0.1),                     # the last warm-up step reaches base_lr
    (4, 0.1),                     # the cosine starts at base_lr: the warm-up boundary
    (5, 0.01 + 0.045 * (1 + math.cos(math.pi / 16))),
    (12, 0.055),                  # half-way through the decay: the mean of base and floor
    (19, 0.01 + 0.045 * (1 + math.cos(math.pi * 15 / 16))),  # the final step
    (20, 0.01),                   # after the last step: the floor
    (50, 0.01),                   # and it stays there
])
def test_warmup_cosine_closed_form(t, expected):
    schedule = WarmupCosineLR(optimizer(BASE), warmup_steps=WARMUP, total_steps=TOTAL, min_lr=FLOOR)
    assert schedule.lr_at(t) == pytest.approx(expected, rel=1e-9)


def test_warmup_cosine_sets_the_warm_up_rate_before_the_first_step():
    opt = optimizer(BASE)
    WarmupCosineLR(opt, warmup_steps=WARMUP, total_steps=TOTAL, min_lr=FLOOR)
    assert opt.lr == pytest.approx(BASE / WARMUP)


def test_warmup_cosine_stepping_follows_the_closed_form_for_the_whole_run():
    opt = optimizer(BASE)
    schedule = WarmupCosineLR(opt, warmup_steps=WARMUP, total_steps=TOTAL, min_lr=FLOOR)
    seen = []
    for _ in range(TOTAL + 3):
        seen.append(opt.lr)
        schedule.step()
    expected = [cosine_expected(t, BASE, WARMUP, TOTAL, FLOOR) for t in range(TOTAL + 3)]
    np.testing.assert_allclose(seen, expected, rtol=1e-9)
    assert np.all(np.diff(seen[:WARMUP]) > 0), "the warm-up must increase the learning rate"
    assert np.all(np.diff(seen[WARMUP:]) <= 1e-15), "the cosine phase must never increase it"


def test_cosine_without_warm_up_starts_at_base_and_defaults_to_a_floor_of_zero():
    schedule = WarmupCosineLR(optimizer(0.2), warmup_steps=0, total_steps=10)
    assert schedule.lr_at(0) == pytest.approx(0.2)
    assert schedule.lr_at(5) == pytest.approx(0.1)
    assert schedule.lr_at(10) == 0.0


@pytest.mark.parametrize("kwargs, name", [
    ({"warmup_steps": 10, "total_steps": 10}, "warmup_steps"),
    ({"warmup_steps": -1, "total_steps": 10}, "warmup_steps"),
    ({"warmup_steps": 2, "total_steps": 10, "min_lr": 0.5}, "min_lr"),
])
def test_warmup_cosine_rejects_bad_arguments_by_name(kwargs, name):
    with pytest.raises(ValueError, match=name):
        WarmupCosineLR(optimizer(0.1), **kwargs)
