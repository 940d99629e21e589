"""Fine-tuning a pruned model: gradients masked before the step, weights re-masked after it.

The exact step is computed in NumPy: masked gradients, one global clipping factor, SGD
with momentum carried over from before pruning, masks applied again. A trainer that does
not mask the gradients clips by the wrong norm; one that does not re-mask the weights
lets the old momentum revive the pruned ones.
"""

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor
from tinytorch.nn import CrossEntropyLoss, Linear, Sequential
from tinytorch.optim import SGD, Adam
from tinytorch.systems.compression import MaskedTrainer, global_magnitude_masks, weight_sparsity
from tinytorch.training import Trainer


def mlp() -> Sequential:
    return Sequential(Linear(6, 8, rng=0), ReLU(), Linear(8, 3, rng=1))


def set_gradients(model: Sequential, seed: int, scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    grads = {}
    for name, parameter in model.named_parameters():
        grads[name] = (scale * rng.standard_normal(parameter.shape)).astype(np.float32)
        parameter.grad = Tensor(grads[name].copy())
    return grads


def test_one_step_masks_gradients_clips_steps_and_masks_weights_again():
    model = mlp()
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    velocity = set_gradients(model, seed=1)          # a step before pruning: velocity = g1
    optimizer.step()
    optimizer.zero_grad()
    masks = global_magnitude_masks(model, 0.5)
    trainer = MaskedTrainer(model, CrossEntropyLoss(), optimizer, masks, max_grad_norm=0.5)
    weights = {name: p.numpy().astype(np.float64) for name, p in model.named_parameters()}
    for name, keep in masks.items():
        assert (weights[name][~keep] == 0).all(), "MaskedTrainer prunes when it is built"

    grads = set_gradients(model, seed=2, scale=10.0)
    grads = {name: g.astype(np.float64) * masks.get(name, 1.0) for name, g in grads.items()}
    factor = 0.5 / np.sqrt(sum((g ** 2).sum() for g in grads.values()))
    trainer.optimizer_step()

    for name, parameter in model.named_parameters():
        expected = weights[name] - 0.1 * (0.9 * velocity[name] + factor * grads[name])
        if name in masks:
            expected = expected * masks[name]
            assert (parameter.numpy()[~masks[name]] == 0).all(), f"pruned weights of {name} moved"
        np.testing.assert_allclose(parameter.numpy(), expected, rtol=1e-5, atol=1e-6, err_msg=name)
    assert all(p.grad is None for p in model.parameters()), "the Trainer's step ends with zero_grad"


@pytest.fixture
def batches():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((96, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5)
    return [(Tensor(x[i:i + 24]), Tensor(y[i:i + 24])) for i in range(0, 96, 24)]


def test_fine_tuning_keeps_the_pruned_weights_at_zero_and_trains_the_rest(batches):
    model = mlp()
    optimizer = Adam(model.parameters(), lr=0.01)
    Trainer(model, CrossEntropyLoss(), optimizer).fit(batches, epochs=2)  # Adam state to carry over
    masks = global_magnitude_masks(model, 0.75)
    trainer = MaskedTrainer(model, CrossEntropyLoss(), optimizer, masks)
    kept_before = {name: p.numpy()[masks[name]].copy() for name, p in model.named_parameters() if name in masks}
    history = trainer.fit(batches, epochs=5)

    assert weight_sparsity(model) == pytest.approx(0.75)
    for name, parameter in model.named_parameters():
        if name in masks:
            assert (parameter.numpy()[~masks[name]] == 0).all(), f"pruned weights of {name} came back"
            assert not np.allclose(parameter.numpy()[masks[name]], kept_before[name]), "kept weights must train"
    assert history["train_loss"][-1] < history["train_loss"][0]


def test_a_plain_trainer_would_revive_them(batches):
    """Why MaskedTrainer exists: the same fine-tuning without it undoes the pruning."""
    model = mlp()
    masks = global_magnitude_masks(model, 0.75)
    MaskedTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), masks)  # prunes
    assert weight_sparsity(model) == pytest.approx(0.75)
    Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1)).fit(batches, epochs=1)
    assert weight_sparsity(model) < 0.25
