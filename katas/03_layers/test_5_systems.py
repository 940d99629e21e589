"""Systems view of layers: where the bytes live, and how many FLOPs a forward pass costs.

These figures come from your own layers and appear in the kata's metrics table.
"""

import itertools
import math

import numpy as np

from pytest_tinytorch.measure import seconds
from tinytorch.core import ReLU, Tensor
from tinytorch.nn import Linear, Sequential

SIZES = (784, 256, 128, 10)   # an MNIST classifier
BATCH = 64


def mnist_mlp() -> Sequential:
    return Sequential(Linear(784, 256, rng=0), ReLU(), Linear(256, 128, rng=1), ReLU(),
                      Linear(128, 10, rng=2))


def batch() -> Tensor:
    return Tensor(np.random.default_rng(3).random((BATCH, 784), dtype=np.float32))


def linear_forward_flops(layer: Linear, x: Tensor, y: Tensor) -> int:
    """FLOPs of y = x @ W + b, from the real shapes: a multiply and an add per
    (row, input, output) triple, then one add per output element for the bias."""
    rows = x.size // x.shape[-1]
    fan_in, fan_out = layer.weight.shape
    assert y.size == rows * fan_out
    return 2 * rows * fan_in * fan_out + (y.size if layer.bias is not None else 0)


def test_parameter_bytes_of_an_mlp(metrics):
    model = mnist_mlp()
    count = sum(p.size for p in model.parameters())
    nbytes = sum(p.nbytes for p in model.parameters())
    expected = sum(i * o + o for i, o in itertools.pairwise(SIZES))
    assert count == expected == 235_146
    assert nbytes == 4 * count
    metrics.record("parameters of MLP 784-256-128-10", count, "parameters")
    metrics.record("parameter bytes of MLP 784-256-128-10", nbytes, "bytes")


def test_activation_bytes_of_an_mlp_at_batch_64(metrics):
    model = mnist_mlp()
    x = batch()
    outputs = []
    for step in model:              # layer by layer, keeping every intermediate output
        x = step(x)
        outputs.append(x)
    activation_bytes = sum(out.nbytes for out in outputs)
    assert [out.shape for out in outputs] == [(64, 256), (64, 256), (64, 128), (64, 128), (64, 10)]
    assert activation_bytes == 4 * BATCH * (256 + 256 + 128 + 128 + 10)
    parameter_bytes = sum(p.nbytes for p in model.parameters())
    crossover = math.ceil(parameter_bytes / (activation_bytes / BATCH))
    metrics.record("activation bytes of MLP 784-256-128-10, batch 64", activation_bytes, "bytes")
    metrics.record("parameter bytes / activation bytes, batch 64",
                   parameter_bytes / activation_bytes, "ratio")
    metrics.record("batch size from which activations outweigh parameters", crossover, "count")


def test_flops_of_a_linear_forward(metrics):
    layer = Linear(784, 256, rng=0)
    x = batch()
    y = layer(x)
    flops = linear_forward_flops(layer, x, y)
    assert flops == 2 * 64 * 784 * 256 + 64 * 256 == 25_706_496
    metrics.record("FLOPs of Linear(784, 256) forward, batch 64", flops, "FLOPs")


def test_flops_of_an_mlp_forward_are_two_per_weight_per_sample(metrics):
    model = mnist_mlp()
    x = batch()
    total = 0
    for step in model:
        y = step(x)
        if isinstance(step, Linear):
            total += linear_forward_flops(step, x, y)
        x = y
    weights = sum(step.weight.size for step in model if isinstance(step, Linear))
    biases = sum(step.bias.size for step in model if isinstance(step, Linear))
    assert total == 2 * BATCH * weights + BATCH * biases == 30_073_472
    metrics.record("FLOPs of MLP 784-256-128-10 forward, batch 64", total, "FLOPs")
    metrics.record("FLOPs per parameter per sample", total / (BATCH * (weights + biases)), "ratio")
    elapsed = seconds(lambda: model(batch()), repeat=5)
    metrics.record("MLP forward throughput, batch 64", BATCH / elapsed, "samples/s")
