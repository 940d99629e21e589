"""Checkpoints of a model with buffers: running statistics are state too.

BatchNorm (kata 09) keeps a running mean and variance that training updates and
evaluation uses; they are buffers (kata 03's ``register_buffer``), not parameters. A
checkpoint that saves only the parameters restores a model that predicts differently in
evaluation. ``RunningNorm`` below is a one-dimensional BatchNorm written for these tests
with the Tensor operations of katas 01-05, with a float32 running mean and variance and an
int64 count of the batches it has seen.
"""

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor
from tinytorch.nn import CrossEntropyLoss, Linear, Module, Sequential
from tinytorch.optim import Adam
from tinytorch.training import (
    DIGEST_KEY,
    MODEL_PREFIX,
    Trainer,
    checkpoint_digest,
    load_checkpoint,
    save_checkpoint,
)

BUFFERS = ("1.running_mean", "1.running_var", "1.batches_seen")


class RunningNorm(Module):
    """Standardize each feature: with the batch's statistics in training (updating the
    running ones), with the running statistics in evaluation."""

    def __init__(self, features: int, momentum: float = 0.2, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.gain = Tensor(np.ones(features, dtype=np.float32), requires_grad=True)
        self.register_buffer("running_mean", np.zeros(features, dtype=np.float32))
        self.register_buffer("running_var", np.ones(features, dtype=np.float32))
        self.register_buffer("batches_seen", np.zeros((), dtype=np.int64))

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            mean, var = x.data.mean(axis=0), x.data.var(axis=0)
            self.running_mean += self.momentum * (mean - self.running_mean)
            self.running_var += self.momentum * (var - self.running_var)
            self.batches_seen += 1
        else:
            mean, var = self.running_mean, self.running_var
        scale = (1.0 / np.sqrt(var + self.eps)).astype(np.float32)
        return (x - Tensor(mean.astype(np.float32))) * Tensor(scale) * self.gain


def normed_mlp(seed: int) -> Sequential:
    return Sequential(Linear(2, 8, rng=seed), RunningNorm(8), ReLU(), Linear(8, 3, rng=seed + 1))


def buffers(model) -> dict[str, np.ndarray]:
    return {name: array.copy() for name, array in model.named_buffers()}


@pytest.fixture
def trained_normed(make_blobs, make_batches):
    """A normed MLP and its Adam after two epochs: the running statistics have moved."""
    x, y = make_blobs(96, seed=41)
    train = make_batches(x, y, 16)
    model = normed_mlp(seed=42)
    optimizer = Adam(model.parameters(), lr=0.01)
    Trainer(model, CrossEntropyLoss(), optimizer).fit(train, epochs=2)
    return model, optimizer, train


def probe() -> Tensor:
    """Twelve points spread over the plane, beyond the blobs too."""
    return Tensor(np.linspace(-4, 4, 24, dtype=np.float32).reshape(12, 2))


def test_the_running_statistics_travel_with_the_checkpoint(tmp_path, trained_normed):
    model, _, _ = trained_normed
    assert [name for name, _ in model.named_buffers()] == list(BUFFERS)
    assert int(model[1].batches_seen) == 12, "two epochs of six batches"
    path = tmp_path / "normed.ckpt"
    save_checkpoint(path, model)

    with np.load(path, allow_pickle=False) as archive:
        stored = {name: archive[name] for name in archive.files}
    for name, values in buffers(model).items():
        assert MODEL_PREFIX + name in stored, f"the buffer {name} is not in the checkpoint"
        assert stored[MODEL_PREFIX + name].dtype == values.dtype
        np.testing.assert_array_equal(stored[MODEL_PREFIX + name], values)


def test_a_restored_model_predicts_exactly_as_the_saved_one_in_evaluation(tmp_path, trained_normed):
    model, _, _ = trained_normed
    path = tmp_path / "normed.ckpt"
    save_checkpoint(path, model)
    fresh = normed_mlp(seed=7)
    fresh.load_state_dict(model.state_dict())        # the same parameters ...
    for name in BUFFERS[:2]:
        array = dict(fresh.named_buffers())[name]
        array[...] = 0.5 if name.endswith("mean") else 3.0   # ... but other statistics
    assert not np.array_equal(fresh.eval()(probe()).data, model.eval()(probe()).data), (
        "the test needs statistics that change the prediction")
    arrays = dict(fresh.named_buffers())

    load_checkpoint(path, fresh)

    for name, values in buffers(model).items():
        restored = dict(fresh.named_buffers())[name]
        assert restored.dtype == values.dtype, f"{name} is {restored.dtype}, saved as {values.dtype}"
        np.testing.assert_array_equal(restored, values, err_msg=name)
        assert restored is arrays[name], f"{name}: load copies into the existing buffer"
    np.testing.assert_array_equal(fresh.eval()(probe()).data, model.eval()(probe()).data)


def test_evaluating_leaves_the_running_statistics_alone(trained_normed):
    model, optimizer, train = trained_normed
    before = buffers(model)
    Trainer(model, CrossEntropyLoss(), optimizer).evaluate(train)
    for name, values in buffers(model).items():
        np.testing.assert_array_equal(values, before[name], err_msg=f"evaluate() changed {name}")


def rewrite(path, stored):
    """Write ``stored`` back with a digest that matches: a forger can always do that."""
    stored = {name: value for name, value in stored.items() if name != DIGEST_KEY}
    stored[DIGEST_KEY] = np.array(checkpoint_digest(stored))
    with open(path, "wb") as file:
        np.savez(file, **stored)


@pytest.mark.parametrize("entry, bad, problem", [
    ("1.running_var", np.array([1.0] * 7 + [np.nan], dtype=np.float32), "NaN"),
    ("1.running_mean", np.zeros(9, dtype=np.float32), "(9,)"),
    ("1.batches_seen", np.array(2.5), "float64"),
    ("1.running_var", None, "1.running_var"),
], ids=["nan-variance", "wrong-shape", "float-count", "missing"])
def test_a_forged_or_missing_buffer_is_refused_before_anything_changes(tmp_path, trained_normed,
                                                                      entry, bad, problem):
    model, _, _ = trained_normed
    path = tmp_path / "forged.ckpt"
    save_checkpoint(path, model)
    with np.load(path, allow_pickle=False) as archive:
        stored = {name: archive[name] for name in archive.files}
    if bad is None:
        del stored[MODEL_PREFIX + entry]
    else:
        stored[MODEL_PREFIX + entry] = bad
    rewrite(path, stored)

    target = normed_mlp(seed=9)
    state = target.state_dict()
    with pytest.raises(ValueError) as error:
        load_checkpoint(path, target)
    message = str(error.value)
    assert str(path) in message and entry in message and problem in message, message
    for name, values in target.state_dict().items():
        np.testing.assert_array_equal(values, state[name], err_msg=f"{name} changed although loading failed")
