"""Winograd's minimal filtering: kata 09's convolution with fewer multiplications.

The values and both gradients are kata 09's (and an independent float64 convolution's), to
float rounding, for F(2x2, 3x3) and F(4x4, 3x3) on sizes the tiles do not divide; the
rounding itself is measured. The multiplications are counted by running the kernel on
numbers that count them, and must be what ``winograd_multiplications`` says from the
shapes. The speed against kata 09's im2col is measured and shown, never asserted.
"""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from pytest_tinytorch.measure import time_ratio
from tinytorch.core import Tensor, no_grad
from tinytorch.nn import spatial
from tinytorch.systems import winograd
from tinytorch.systems.winograd import (
    WinogradConv2dBackward,
    conv2d_winograd,
    winograd_conv2d,
    winograd_multiplications,
)

# (x shape, out channels, kernel, padding): the tiles overhang the output in most of them
SHAPES = [
    ((2, 3, 5, 7), 4, 3, 0),     # a 3 x 5 output
    ((2, 3, 5, 7), 4, 3, 1),
    ((1, 2, 8, 8), 3, 3, 1),     # 8 x 8: whole 2-tiles and 4-tiles
    ((2, 2, 6, 9), 5, 3, 2),
    ((1, 2, 3, 3), 2, 3, 0),     # a single output
    ((1, 2, 4, 5), 3, 3, 4),     # padding beyond k - 1
    ((1, 2, 7, 8), 3, 5, 2),     # a 5 x 5 kernel: F(2, 5) and F(4, 5)
]
SHAPE_IDS = [f"{x}x{o}_k{k}_p{p}" for x, o, k, p in SHAPES]
TILES = [2, 4]


def operands(rng, x_shape, out_channels, kernel, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    weight = rng.standard_normal((out_channels, x_shape[1], kernel, kernel)).astype(dtype)
    return x, weight, rng.standard_normal(out_channels).astype(dtype)


def relative_error(result, exact):
    """The largest error, relative to the largest magnitude of the exact output (recorded
    in epsilons of the dtype: 2**-23 for float32, 2**-52 for float64)."""
    return float(np.abs(result - exact).max() / np.abs(exact).max())


# -- values -----------------------------------------------------------------------------------

@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("x_shape, out_channels, kernel, padding", SHAPES, ids=SHAPE_IDS)
def test_winograd_gives_the_direct_convolution(rng, conv_by_offsets, x_shape, out_channels, kernel,
                                               padding, tile):
    x, weight, _ = operands(rng, x_shape, out_channels, kernel)
    result = winograd_conv2d(x, weight, padding, tile)
    expected = conv_by_offsets(x, weight, None, 1, padding)
    assert result.output.shape == expected.shape, "the output must be cropped to the convolution's size"
    assert result.output.flags.c_contiguous
    np.testing.assert_allclose(result.output, expected, rtol=1e-10, atol=1e-10)
    n = tile + kernel - 1
    assert result.filters.shape == (n, n, x_shape[1], out_channels)
    assert result.tiles.shape[:2] == (n, n) and result.tiles.shape[3] == x_shape[1]


# float32 keeps 24 bits (eps = 2**-23, 1.2e-7); a sum of 288 products loses a few more, and
# the transforms' fractions (1/6, 1/24 in F(4, 3)) and larger intermediate values more still.
# The float32 bounds are 20 to 25 times what we measured; float64 rounds 2**29 times finer.
FLOAT32_BOUNDS = {2: 5e-6, 4: 1e-4}


def test_the_rounding_error_is_measured_in_float32_and_float64(rng, conv_by_offsets, metrics):
    # a hidden layer's size: 32 channels summed into every output
    x, weight, _ = operands(rng, (4, 32, 12, 12), 32, 3)
    weight /= np.sqrt(32 * 9)
    exact = conv_by_offsets(x, weight, None, 1, 1)
    direct = spatial.conv2d(Tensor(x.astype(np.float32)), Tensor(weight.astype(np.float32)), None, 1, 1)
    metrics.record("im2col float32: largest error, in float32 epsilons",
                   relative_error(direct.numpy(), exact) / np.finfo(np.float32).eps, "ratio")
    for tile in TILES:
        errors = {}
        for dtype in (np.float32, np.float64):
            output = winograd_conv2d(x.astype(dtype), weight.astype(dtype), 1, tile).output
            assert output.dtype == dtype
            errors[dtype] = relative_error(output, exact)
            name = np.dtype(dtype).name
            metrics.record(f"F({tile}x{tile}, 3x3) {name}: largest error, in {name} epsilons",
                           errors[dtype] / np.finfo(dtype).eps, "ratio")
        assert errors[np.float32] < FLOAT32_BOUNDS[tile], f"F({tile}, 3) in float32"
        assert errors[np.float64] < 1e-12, f"F({tile}, 3) in float64"


# -- gradients ----------------------------------------------------------------------------------

def forward_backward(convolution, x, weight, bias, padding, **options):
    tensors = [Tensor(array, requires_grad=True) for array in (x, weight, bias) if array is not None]
    out = convolution(*tensors, *([None] if bias is None else []), 1, padding, **options)
    out.backward(Tensor(np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)))
    return out, [tensor.grad.numpy() for tensor in tensors]


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("x_shape, out_channels, kernel, padding", SHAPES, ids=SHAPE_IDS)
def test_values_and_gradients_are_kata_09s(rng, x_shape, out_channels, kernel, padding, tile, with_bias):
    x, weight, bias = operands(rng, x_shape, out_channels, kernel)
    bias = bias if with_bias else None
    mine, my_grads = forward_backward(conv2d_winograd, x, weight, bias, padding, tile=tile)
    plain, plain_grads = forward_backward(spatial.conv2d, x, weight, bias, padding)
    assert isinstance(mine.grad_fn, WinogradConv2dBackward)
    np.testing.assert_allclose(mine.numpy(), plain.numpy(), rtol=1e-10, atol=1e-10)
    for name, got, expected in zip(("x", "weight", "bias"), my_grads, plain_grads):
        assert got.shape == expected.shape, f"the gradient of {name} has the wrong shape"
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=f"gradient of {name}")


def test_a_batch_run_in_groups_of_images_gives_the_same_values_and_gradients(rng, monkeypatch):
    x, weight, bias = operands(rng, (3, 4, 7, 6), 5, 3)
    whole, whole_grads = forward_backward(conv2d_winograd, x, weight, bias, 1)
    monkeypatch.setattr(winograd, "GROUP_BYTES", 1)      # one image per group
    assert len(winograd.image_groups(x.shape, weight.shape, 1, winograd.DEFAULT_TILE, 8)) == 3
    grouped, grouped_grads = forward_backward(conv2d_winograd, x, weight, bias, 1)
    np.testing.assert_allclose(grouped.numpy(), whole.numpy(), rtol=1e-12, atol=1e-12)
    for name, got, expected in zip(("x", "weight", "bias"), grouped_grads, whole_grads):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=f"gradient of {name}")


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("x_shape, padding", [((1, 2, 5, 6), 1), ((2, 1, 4, 7), 0), ((1, 2, 3, 4), 3)])
def test_gradcheck(rng, x_shape, padding, tile):
    x, weight, bias = operands(rng, x_shape, 2, 3)
    gradcheck(lambda a, w, b: conv2d_winograd(a, w, b, 1, padding, tile=tile), x, weight, bias)


def test_float32_stays_float32_gradients_included(rng):
    x, weight, bias = operands(rng, (2, 4, 6, 6), 3, 3, dtype=np.float32)
    out, grads = forward_backward(conv2d_winograd, x, weight, bias, 1)
    assert out.dtype == np.float32 and all(grad.dtype == np.float32 for grad in grads)


def test_only_the_gradients_asked_for(rng):
    x, weight, _ = operands(rng, (2, 3, 6, 6), 4, 3)
    images, w = Tensor(x), Tensor(weight, requires_grad=True)
    conv2d_winograd(images, w, None, 1, 1).sum().backward()
    assert images.grad is None and w.grad is not None
    images, w = Tensor(x, requires_grad=True), Tensor(weight)
    conv2d_winograd(images, w, None, 1, 1).sum().backward()
    assert w.grad is None and images.grad is not None


def test_nothing_is_recorded_under_no_grad_and_bad_operands_are_named(rng):
    x, weight, _ = operands(rng, (1, 3, 5, 5), 2, 3)
    with no_grad():
        out = conv2d_winograd(Tensor(x, requires_grad=True), Tensor(weight, requires_grad=True), None, 1, 1)
    assert out.grad_fn is None and not out.requires_grad
    with pytest.raises(ValueError, match="stride=2"):
        conv2d_winograd(Tensor(x), Tensor(weight), None, 2, 1)
    with pytest.raises(TypeError, match="int64"):
        conv2d_winograd(Tensor(x.astype(np.int64)), Tensor(weight))
    with pytest.raises(ValueError, match="channels"):
        conv2d_winograd(Tensor(x[:, :2]), Tensor(weight))
    with pytest.raises(ValueError, match=r"\(2, 3, 3, 2\)"):
        winograd_conv2d(x, weight[..., :2])
    with pytest.raises(ValueError, match="F\\(8, 3\\)"):
        winograd_conv2d(x, weight, 1, tile=8)
    with pytest.raises(ValueError, match="padding=-1"):
        winograd_conv2d(x, weight, -1)


# -- multiplications ------------------------------------------------------------------------------

class Counted:
    """A number that counts every multiplication it takes part in (on a shared tally)."""

    __slots__ = ("tally", "value")

    def __init__(self, value, tally):
        self.value, self.tally = value, tally

    def _make(self, value):
        return Counted(value, self.tally)

    def __mul__(self, other):
        self.tally[0] += 1
        return self._make(self.value * getattr(other, "value", other))

    __rmul__ = __mul__

    def __add__(self, other):
        return self._make(self.value + getattr(other, "value", other))

    __radd__ = __add__

    def __sub__(self, other):
        return self._make(self.value - getattr(other, "value", other))

    def __rsub__(self, other):
        return self._make(getattr(other, "value", other) - self.value)

    def __neg__(self):
        return self._make(-self.value)


def counted(array, tally):
    out = np.empty(array.shape, dtype=object)
    out.ravel()[:] = [Counted(float(value), tally) for value in array.ravel()]
    return out


# F(2, 3) transforms its input and output with additions only, so the zeros of the padding
# may stay plain numbers; F(4, 3)'s input transform multiplies, so there the input fills its
# tiles exactly (no padding, no overhang) and every number it multiplies is counted
@pytest.mark.parametrize("x_shape, out_channels, padding, tile", [
    ((2, 3, 5, 7), 4, 1, 2), ((1, 2, 4, 4), 3, 0, 2), ((2, 2, 6, 10), 3, 0, 4), ((1, 3, 10, 6), 2, 0, 4),
])
def test_the_multiplications_counted_are_the_ones_the_kernel_does(rng, x_shape, out_channels, padding, tile):
    x, weight, _ = operands(rng, x_shape, out_channels, 3)
    tally = [0]
    result = winograd_conv2d(counted(x, tally), counted(weight, tally), padding, tile)
    values = np.vectorize(lambda number: getattr(number, "value", number), otypes=[float])(result.output)
    expected = winograd_conv2d(x, weight, padding, tile).output
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-12)
    count = winograd_multiplications(x_shape, weight.shape, padding, tile)
    assert count.total == tally[0], (f"winograd_multiplications says {count.total}, the kernel did "
                                     f"{tally[0]} multiplications")
    batch, channels, height, width = x_shape
    out_height, out_width = height + 2 * padding - 2, width + 2 * padding - 2
    tiles = batch * -(-out_height // tile) * -(-out_width // tile)
    assert count.products == (tile + 2) ** 2 * tiles * channels * out_channels
    assert count.outputs == batch * out_channels * out_height * out_width
    assert count.direct == count.outputs * channels * 9


@pytest.mark.parametrize("tile, products_per_output", [(2, 4.0), (4, 2.25)])
def test_fewer_multiplications_per_output_than_the_direct_nine(metrics, tile, products_per_output):
    # the benchmark's hidden layer: 64 images of 32 channels, 16 x 16, 32 filters, padding 1
    count = winograd_multiplications((64, 32, 16, 16), (32, 32, 3, 3), 1, tile)
    pairs = count.outputs * 32
    assert count.direct == 9 * pairs
    assert count.products == products_per_output * pairs, "(tile + 2)**2 products per tile of tile**2 outputs"
    name = f"F({tile}x{tile}, 3x3) on (64, 32, 16, 16), 32 filters"
    metrics.record(f"{name}: multiplications per output and channel pair", count.total / pairs, "ratio")
    metrics.record(f"{name}: direct / Winograd multiplications", count.saving, "ratio")
    metrics.record(f"{name}: share of multiplications in the transforms",
                   100 * (count.total - count.products) / count.total, "%")
    assert 9 / products_per_output * 0.85 < count.saving < 9 / products_per_output


# -- speed (shown, never asserted) --------------------------------------------------------------

def test_speed_against_kata_09s_im2col(rng, metrics):
    x, weight, _ = operands(rng, (64, 32, 16, 16), 32, 3, dtype=np.float32)
    weight /= np.sqrt(32 * 9)
    grad = rng.standard_normal((64, 32, 16, 16)).astype(np.float32)

    def step(convolution, **options):
        def run():
            images, w = Tensor(x, requires_grad=True), Tensor(weight, requires_grad=True)
            convolution(images, w, None, 1, 1, **options).backward(Tensor(grad))
        return run

    def forward(convolution, **options):
        return lambda: convolution(Tensor(x), Tensor(weight), None, 1, 1, **options)

    plain = forward(spatial.conv2d)().numpy()
    for tile in TILES:
        np.testing.assert_allclose(forward(conv2d_winograd, tile=tile)().numpy(), plain, rtol=1e-4, atol=1e-4)
        name = f"(64, 32, 16, 16), 32 3x3 filters: im2col / F({tile}x{tile}, 3x3)"
        metrics.record(f"{name} forward (time)",
                       time_ratio(forward(spatial.conv2d), forward(conv2d_winograd, tile=tile)), "ratio")
        metrics.record(f"{name} forward + backward (time)",
                       time_ratio(step(spatial.conv2d), step(conv2d_winograd, tile=tile)), "ratio")
