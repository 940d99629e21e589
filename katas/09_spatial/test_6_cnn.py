"""A whole CNN: Conv2d -> BatchNorm2d -> ReLU -> MaxPool2d -> Flatten -> Linear, trained on
real digits. If any layer drops a gradient or computes in the wrong dtype, this breaks."""

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor
from tinytorch.core.autograd import no_grad
from tinytorch.nn import BatchNorm2d, Conv2d, CrossEntropyLoss, Flatten, Linear, MaxPool2d, Sequential
from tinytorch.optim import Adam


def test_flatten_keeps_the_batch_axis_and_the_order():
    x = Tensor(np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5), requires_grad=True)
    out = Flatten()(x)
    assert out.shape == (2, 60)
    np.testing.assert_array_equal(out.numpy(), x.numpy().reshape(2, 60))
    out.backward(Tensor(np.arange(120, dtype=np.float32).reshape(2, 60)))
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(120).reshape(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\(5,\)"):
        Flatten()(Tensor(np.zeros(5, dtype=np.float32)))


def tiny_cnn():
    return Sequential(Conv2d(1, 4, 3, padding=1, rng=0), BatchNorm2d(4), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(4 * 14 * 14, 10, rng=1))


def test_shapes_through_the_network(digit_batch):
    images, _ = digit_batch(8)
    model = tiny_cnn()
    x = images
    shapes = []
    for step in model:
        x = step(x)
        shapes.append(x.shape)
    assert shapes == [(8, 4, 28, 28), (8, 4, 28, 28), (8, 4, 28, 28), (8, 4, 14, 14), (8, 784), (8, 10)]
    assert x.dtype == np.float32


def test_a_few_optimizer_steps_lower_the_loss_on_a_fixed_batch(digit_batch):
    images, labels = digit_batch(64)
    model, loss_fn = tiny_cnn(), CrossEntropyLoss()
    optimizer = Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        loss = loss_fn(model(images), labels)
        loss.backward()
        for name, parameter in model.named_parameters():
            assert parameter.grad is not None, f"{name} received no gradient"
            assert parameter.grad.dtype == np.float32 and parameter.grad.shape == parameter.shape, name
            assert np.isfinite(parameter.grad.numpy()).all(), name
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], f"losses {losses}"
    model.eval()
    with no_grad():
        accuracy = (model(images).numpy().argmax(axis=1) == labels.numpy()).mean()
    assert accuracy > 0.5, f"after training on this batch, eval accuracy is only {accuracy:.2f}"
