"""The Trainer: accuracy, evaluation, one epoch of training, fit, and a model that learns."""

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor
from tinytorch.nn import CrossEntropyLoss, Dropout, Linear, Module, Sequential
from tinytorch.optim import SGD, Adam
from tinytorch.training import StepLR, Trainer, WarmupCosineLR, accuracy


class Probe(Module):
    """Passes its input through and notes, per call, the mode and whether a graph is recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = []

    def forward(self, x: Tensor) -> Tensor:
        self.calls.append({"training": self.training, "graph": x.grad_fn is not None})
        return x


class RecordingLoss:
    """Cross-entropy that remembers each batch's loss and size."""

    def __init__(self) -> None:
        self.inner = CrossEntropyLoss()
        self.calls = []

    def __call__(self, logits: Tensor, targets: Tensor) -> Tensor:
        loss = self.inner(logits, targets)
        self.calls.append((loss.item(), len(targets)))
        return loss


class CountingSGD(SGD):
    steps = 0

    def step(self) -> None:
        self.steps += 1
        super().step()


def numpy_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(targets)), targets].mean())


# -- accuracy -------------------------------------------------------------------------------

def test_accuracy_is_the_fraction_of_rows_whose_argmax_is_the_target():
    logits = Tensor(np.array([[2.0, 1.0, 0.0],
                              [0.0, 3.0, 1.0],
                              [0.5, 0.2, 0.9],
                              [1.0, 4.0, 2.0]], dtype=np.float32))
    targets = Tensor(np.array([0, 1, 0, 2]))
    assert accuracy(logits, targets) == pytest.approx(0.5)
    assert isinstance(accuracy(logits, targets), float)


def test_accuracy_breaks_ties_towards_the_lowest_class():
    logits = Tensor(np.array([[1.0, 1.0], [0.0, 0.0]], dtype=np.float32))
    assert accuracy(logits, Tensor(np.array([0, 1]))) == pytest.approx(0.5)


@pytest.mark.parametrize("logits_shape, targets_shape", [((4, 3), (3,)), ((4, 3), (4, 1)), ((4,), (4,))])
def test_accuracy_names_mismatched_shapes(logits_shape, targets_shape):
    logits = Tensor(np.zeros(logits_shape, dtype=np.float32))
    targets = Tensor(np.zeros(targets_shape, dtype=np.int64))
    with pytest.raises(ValueError) as error:
        accuracy(logits, targets)
    assert str(logits_shape) in str(error.value) and str(targets_shape) in str(error.value)


# -- evaluate -------------------------------------------------------------------------------

def test_evaluate_averages_over_samples_not_over_batches(make_blobs, make_mlp):
    x, y = make_blobs(7, seed=2)
    model = make_mlp(seed=5)
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1))
    logits = model(Tensor(x)).data

    # Two batches of sizes 5 and 2: the mean of the two batch means would weigh the last
    # two samples 2.5 times as much as the others.
    result = trainer.evaluate([(Tensor(x[:5]), Tensor(y[:5])), (Tensor(x[5:]), Tensor(y[5:]))])

    assert result["loss"] == pytest.approx(numpy_cross_entropy(logits, y), rel=1e-5)
    assert result["accuracy"] == pytest.approx(np.mean(logits.argmax(axis=1) == y))


def test_evaluate_runs_in_eval_mode_without_a_graph_and_changes_nothing(make_blobs, make_batches,
                                                                        take_snapshot):
    x, y = make_blobs(40, seed=4)
    probe = Probe()
    model = Sequential(Linear(2, 16, rng=0), probe, Dropout(0.5, rng=0), ReLU(), Linear(16, 3, rng=1))
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.5))
    before = take_snapshot(model)

    first = trainer.evaluate(make_batches(x, y, 16))
    second = trainer.evaluate(make_batches(x, y, 16))

    assert probe.calls and all(call == {"training": False, "graph": False} for call in probe.calls), \
        "evaluate() must switch the model to eval() and run under no_grad()"
    assert first == second, "with Dropout off, evaluating the same data twice gives the same figures"
    for name, values in take_snapshot(model).items():
        np.testing.assert_array_equal(values, before[name])
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_with_no_batches_is_an_error(make_mlp):
    model = make_mlp(seed=0)
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="no batches"):
        trainer.evaluate([])


# -- train_epoch ----------------------------------------------------------------------------

def test_one_step_matches_backpropagation_written_out_in_numpy(make_blobs, make_mlp):
    # The whole stack, kata 01 to 07, against the chain rule by hand: if any layer, the
    # activation, the loss or autograd breaks the graph, this update is wrong.
    x, y = make_blobs(24, seed=6)
    model = make_mlp(seed=7, hidden=8)
    w1, b1, w2, b2 = (p.data.astype(np.float64) for p in model.parameters())
    h = x @ w1 + b1
    a = np.maximum(h, 0)
    z = a @ w2 + b2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    dz = (p - np.eye(3)[y]) / len(y)
    dh = (dz @ w2.T) * (h > 0)
    expected_grads = [x.T @ dh, dh.sum(axis=0), a.T @ dz, dz.sum(axis=0)]
    before = [p.data.copy() for p in model.parameters()]

    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.5))
    result = trainer.train_epoch([(Tensor(x), Tensor(y))])

    for param, start, grad in zip(model.parameters(), before, expected_grads):
        np.testing.assert_allclose(param.data, start - 0.5 * grad, rtol=1e-5, atol=1e-6)
    assert result["loss"] == pytest.approx(numpy_cross_entropy(z, y), rel=1e-5)


def test_train_epoch_steps_once_per_batch_and_reports_the_sample_weighted_loss(make_blobs, make_batches,
                                                                               make_mlp):
    x, y = make_blobs(50, seed=8)
    model = make_mlp(seed=9)
    loss_fn = RecordingLoss()
    optimizer = CountingSGD(model.parameters(), lr=0.1)

    result = Trainer(model, loss_fn, optimizer).train_epoch(make_batches(x, y, 16))  # 16, 16, 16, 2

    assert optimizer.steps == 4
    losses, sizes = np.array(loss_fn.calls).T
    assert list(sizes) == [16, 16, 16, 2]
    assert result["loss"] == pytest.approx(np.sum(losses * sizes) / 50, rel=1e-6)
    assert 0.0 <= result["accuracy"] <= 1.0
    assert all(p.grad is None for p in model.parameters()), "gradients are cleared after each step"


def test_train_epoch_switches_back_to_training_mode_after_evaluate(make_blobs, make_batches):
    x, y = make_blobs(32, seed=10)
    probe = Probe()
    model = Sequential(Linear(2, 8, rng=0), probe, ReLU(), Linear(8, 3, rng=1))
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1))
    trainer.evaluate(make_batches(x, y, 32))
    probe.calls.clear()

    trainer.train_epoch(make_batches(x, y, 16))

    assert probe.calls == [{"training": True, "graph": True}] * 2


def test_train_epoch_ignores_gradients_left_over_from_before(make_blobs, make_mlp, take_snapshot):
    x, y = make_blobs(16, seed=11)
    clean, dirty = make_mlp(seed=12), make_mlp(seed=12)
    for p in dirty.parameters():
        p.grad = Tensor(np.full(p.shape, 100.0, dtype=np.float32))

    for model in (clean, dirty):
        Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1)).train_epoch(
            [(Tensor(x), Tensor(y))])

    expected = take_snapshot(clean)
    for name, values in take_snapshot(dirty).items():
        np.testing.assert_allclose(values, expected[name], rtol=1e-6, atol=1e-7)


def test_train_epoch_with_no_batches_is_an_error(make_mlp):
    model = make_mlp(seed=0)
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="no batches"):
        trainer.train_epoch([])


def test_the_scheduler_advances_after_each_step_and_the_first_step_uses_its_first_rate(
        make_blobs, make_batches, make_mlp, take_snapshot):
    x, y = make_blobs(48, seed=13)
    scheduled, plain = make_mlp(seed=14), make_mlp(seed=14)
    optimizer = SGD(scheduled.parameters(), lr=0.4)
    schedule = WarmupCosineLR(optimizer, warmup_steps=4, total_steps=10)
    trainer = Trainer(scheduled, CrossEntropyLoss(), optimizer, scheduler=schedule)
    one_batch = [(Tensor(x[:16]), Tensor(y[:16]))]

    trainer.train_epoch(one_batch)
    Trainer(plain, CrossEntropyLoss(), SGD(plain.parameters(), lr=0.1)).train_epoch(one_batch)
    expected = take_snapshot(plain)
    for name, values in take_snapshot(scheduled).items():
        np.testing.assert_allclose(values, expected[name], rtol=1e-6, atol=1e-7,
                                   err_msg="the first step must use lr_at(0) = 0.4 / 4")

    trainer.train_epoch(make_batches(x, y, 16))
    assert schedule.steps_done == 4
    assert optimizer.lr == pytest.approx(0.4)


def test_max_grad_norm_limits_the_length_of_each_step(make_blobs, make_mlp):
    x, y = make_blobs(32, seed=15)
    model = make_mlp(seed=16)
    before = [p.data.astype(np.float64) for p in model.parameters()]

    Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=1.0), max_grad_norm=0.01).train_epoch(
        [(Tensor(x), Tensor(y))])

    moved = np.sqrt(sum(np.sum((p.data - start) ** 2) for p, start in zip(model.parameters(), before)))
    assert moved == pytest.approx(0.01, rel=1e-3)


@pytest.mark.parametrize("kwargs, name", [
    ({"accumulation_steps": 0}, "accumulation_steps"),
    ({"accumulation_steps": 1.5}, "accumulation_steps"),
    ({"max_grad_norm": 0.0}, "max_grad_norm"),
])
def test_trainer_rejects_bad_options_by_name(make_mlp, kwargs, name):
    model = make_mlp(seed=0)
    with pytest.raises(ValueError, match=name):
        Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), **kwargs)


# -- fit: the model learns ------------------------------------------------------------------

def test_fit_learns_the_blobs_and_records_a_history(make_blobs, make_batches, make_mlp, take_snapshot):
    x, y = make_blobs(500, seed=17)
    train, val = make_batches(x[:300], y[:300], 32), make_batches(x[300:], y[300:], 100)
    model = make_mlp(seed=18)
    start = take_snapshot(model)
    trainer = Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=0.02))

    history = trainer.fit(train, epochs=8, val_batches=val)

    assert set(history) == {"train_loss", "train_accuracy", "lr", "val_loss", "val_accuracy"}
    assert all(len(values) == 8 for values in history.values())
    assert history["val_accuracy"][-1] > 0.9, f"validation accuracy {history['val_accuracy']}"
    assert history["train_loss"][-1] < 0.5 * history["train_loss"][0]
    assert history["val_loss"][-1] < history["val_loss"][0]
    final = trainer.evaluate(val)
    assert history["val_loss"][-1] == pytest.approx(final["loss"])
    assert history["val_accuracy"][-1] == pytest.approx(final["accuracy"])
    for name, values in take_snapshot(model).items():
        assert not np.array_equal(values, start[name]), f"{name} never changed: no gradient reached it"


def test_fit_without_validation_data_and_with_a_schedule(make_blobs, make_batches, make_mlp):
    x, y = make_blobs(48, seed=19)
    model = make_mlp(seed=20)
    optimizer = SGD(model.parameters(), lr=0.8)
    trainer = Trainer(model, CrossEntropyLoss(), optimizer,
                      scheduler=StepLR(optimizer, step_size=3, gamma=0.5))

    history = trainer.fit(make_batches(x, y, 16), epochs=3)  # 3 steps per epoch

    assert set(history) == {"train_loss", "train_accuracy", "lr"}
    np.testing.assert_allclose(history["lr"], [0.4, 0.2, 0.1], rtol=1e-9)


@pytest.mark.parametrize("epochs", [0, -2])
def test_fit_needs_a_positive_number_of_epochs(make_mlp, epochs):
    model = make_mlp(seed=0)
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="epochs"):
        trainer.fit([], epochs=epochs)
