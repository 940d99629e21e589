"""Gradient accumulation: k micro-batches, one step, the same update as one big batch."""

import numpy as np
import pytest

from tinytorch.nn import CrossEntropyLoss
from tinytorch.optim import SGD
from tinytorch.training import Trainer, WarmupCosineLR


class CountingSGD(SGD):
    steps = 0

    def step(self) -> None:
        self.steps += 1
        super().step()


def assert_same_parameters(model, other, atol=1e-6):
    for (name, p), (_, q) in zip(model.named_parameters(), other.named_parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=0, atol=atol, err_msg=name)


def test_k_micro_batches_give_the_update_of_the_concatenated_batch(make_blobs, make_batches, make_mlp):
    x, y = make_blobs(64, seed=21)
    accumulated, whole = make_mlp(seed=22), make_mlp(seed=22)

    # Two optimizer steps each: 8 micro-batches of 8 in groups of 4, or 2 batches of 32.
    result = Trainer(accumulated, CrossEntropyLoss(), SGD(accumulated.parameters(), lr=0.5),
                     accumulation_steps=4).train_epoch(make_batches(x, y, 8))
    expected = Trainer(whole, CrossEntropyLoss(), SGD(whole.parameters(), lr=0.5)).train_epoch(
        make_batches(x, y, 32))

    assert_same_parameters(accumulated, whole)
    assert result["loss"] == pytest.approx(expected["loss"], abs=1e-6)
    assert result["accuracy"] == pytest.approx(expected["accuracy"])


def test_one_step_per_group_and_one_for_the_leftover_batches(make_blobs, make_batches, make_mlp):
    x, y = make_blobs(40, seed=23)
    model = make_mlp(seed=24)
    optimizer = CountingSGD(model.parameters(), lr=0.1)
    Trainer(model, CrossEntropyLoss(), optimizer, accumulation_steps=2).train_epoch(
        make_batches(x, y, 8))  # 5 micro-batches: groups of 2, 2 and 1
    assert optimizer.steps == 3
    assert all(p.grad is None for p in model.parameters()), "no gradient may be left for the next epoch"


def test_clipping_applies_to_the_accumulated_gradient(make_blobs, make_batches, make_mlp):
    x, y = make_blobs(32, seed=25)
    accumulated, whole = make_mlp(seed=26), make_mlp(seed=26)
    Trainer(accumulated, CrossEntropyLoss(), SGD(accumulated.parameters(), lr=1.0),
            max_grad_norm=0.05, accumulation_steps=2).train_epoch(make_batches(x, y, 16))
    Trainer(whole, CrossEntropyLoss(), SGD(whole.parameters(), lr=1.0),
            max_grad_norm=0.05).train_epoch(make_batches(x, y, 32))
    assert_same_parameters(accumulated, whole)


def test_the_schedule_counts_optimizer_steps_not_micro_batches(make_blobs, make_batches, make_mlp):
    x, y = make_blobs(48, seed=27)
    model = make_mlp(seed=28)
    optimizer = SGD(model.parameters(), lr=0.1)
    schedule = WarmupCosineLR(optimizer, warmup_steps=2, total_steps=20)
    Trainer(model, CrossEntropyLoss(), optimizer, scheduler=schedule,
            accumulation_steps=3).train_epoch(make_batches(x, y, 8))  # 6 micro-batches
    assert schedule.steps_done == 2
    assert optimizer.lr == pytest.approx(schedule.lr_at(2))
