"""Systems view of convolution: what weight sharing saves, what a layer costs, and what
vectorizing buys. Every figure is measured on your layers and appears in the metrics table.

These tests are also where the kata's timeout bites: the benchmark layers do 240 million
multiply-adds per forward pass, which only a vectorized convolution finishes in time.
"""

import numpy as np

from pytest_tinytorch.measure import peak_bytes, seconds
from tinytorch.core import Tensor
from tinytorch.core.autograd import no_grad
from tinytorch.nn import Conv2d, Linear
from tinytorch.nn.spatial import conv2d, conv2d_loops

CIFAR_IMAGE = (3, 32, 32)
BATCH = 128


def parameter_count(module):
    return sum(p.size for p in module.parameters())


def test_weight_sharing_parameters_against_a_dense_layer(metrics):
    conv = Conv2d(3, 32, 3, rng=0)
    dense = Linear(int(np.prod(CIFAR_IMAGE)), 32, rng=0)     # the same image to 32 outputs
    conv_parameters, dense_parameters = parameter_count(conv), parameter_count(dense)
    assert conv_parameters == 32 * 3 * 3 * 3 + 32 == 896
    assert dense_parameters == 3 * 32 * 32 * 32 + 32 == 98_336
    metrics.record("Conv2d(3, 32, k=3) parameters", conv_parameters, "parameters")
    metrics.record("Linear(3*32*32, 32) parameters", dense_parameters, "parameters")
    metrics.record("dense / conv parameters", dense_parameters / conv_parameters, "ratio")


def test_multiply_adds_of_a_conv_layer_from_its_real_output(metrics):
    layer = Conv2d(3, 32, 5, rng=0)
    x = Tensor(np.random.default_rng(0).standard_normal((BATCH, *CIFAR_IMAGE), dtype=np.float32))
    with no_grad():
        out = layer(x)
    assert out.shape == (BATCH, 32, 28, 28)
    # every output element is one window of C * k * k multiply-adds
    macs = out.size * layer.in_channels * layer.kernel_size ** 2
    assert macs == 240_844_800
    metrics.record("MACs, (128, 3, 32, 32) through 32 filters 5x5", macs, "MACs")
    metrics.record("MACs per image", macs // BATCH, "MACs")


def test_vectorized_convolution_against_the_seven_loops(metrics):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 8, 8), dtype=np.float32)
    weight = rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    bias = rng.standard_normal(4, dtype=np.float32)
    tensors = Tensor(x), Tensor(weight), Tensor(bias)
    loops = seconds(lambda: conv2d_loops(x, weight, bias, stride=1, padding=1), repeat=1, warmup=0)
    vectorized = seconds(lambda: conv2d(*tensors, stride=1, padding=1), repeat=5)
    ratio = loops / vectorized
    np.testing.assert_allclose(conv2d(*tensors, stride=1, padding=1).numpy(),
                               conv2d_loops(x, weight, bias, stride=1, padding=1), rtol=1e-4, atol=1e-5)
    # about 150x on one idle core, more on a busy one (the loops run once, conv2d five times)
    assert ratio > 10, f"the seven loops were only {ratio:.1f}x slower than conv2d"
    metrics.record("seven loops / vectorized time, (2, 3, 8, 8) 4 filters 3x3", ratio, "ratio")
    metrics.record("seven loops, (2, 3, 8, 8) 4 filters 3x3", loops, "seconds")


def forward_backward_seconds(layer, x):
    """Median time of one forward + backward pass of ``layer`` on ``x``."""
    upstream = None

    def step():
        nonlocal upstream
        out = layer(x)
        if upstream is None:
            upstream = Tensor(np.random.default_rng(2).standard_normal(out.shape, dtype=np.float32))
        out.backward(upstream)
        layer.weight.grad = layer.bias.grad = x.grad = None

    return seconds(step, repeat=3, warmup=1)


def test_forward_backward_time_of_the_cifar_benchmark_layers(metrics):
    rng = np.random.default_rng(3)
    first = Conv2d(3, 32, 5, rng=0)                        # images need no gradient
    images = Tensor(rng.standard_normal((BATCH, 3, 32, 32), dtype=np.float32))
    second = Conv2d(32, 64, 3, padding=1, rng=1)           # a hidden layer passes one back
    features = Tensor(rng.standard_normal((BATCH, 32, 16, 16), dtype=np.float32), requires_grad=True)
    first_time = forward_backward_seconds(first, images)
    second_time = forward_backward_seconds(second, features)
    # about 0.03 s and 0.1 s on one idle core, 0.3 s on a busy one: a bound a hundred times
    # the time, there to stop a convolution that loops over images or pixels (minutes)
    assert first_time < 10 and second_time < 10, f"{first_time:.2f} s and {second_time:.2f} s"
    metrics.record("Conv2d(3, 32, 5x5) forward+backward, batch 128", first_time, "seconds")
    metrics.record("Conv2d(32, 64, 3x3, pad 1) forward+backward, batch 128", second_time, "seconds")
    metrics.record("Conv2d(32, 64, 3x3, pad 1) training throughput", BATCH / second_time, "samples/s")


def test_im2col_memory_of_a_forward_pass(metrics):
    layer = Conv2d(32, 64, 3, padding=1, rng=1)
    x = Tensor(np.random.default_rng(4).standard_normal((BATCH, 32, 16, 16), dtype=np.float32))
    out, peak = peak_bytes(lambda: layer(x))
    # the window matrix alone is k * k = 9 times the input; float64 anywhere would double it
    assert out.dtype == np.float32
    assert peak < 16 * x.nbytes, f"forward peaked at {peak:,} bytes, {peak / x.nbytes:.1f}x the input"
    metrics.record("input (128, 32, 16, 16) float32", x.nbytes, "bytes")
    metrics.record("Conv2d(32, 64, 3x3, pad 1) forward peak", peak, "bytes")
    metrics.record("forward peak / input bytes", peak / x.nbytes, "ratio")
