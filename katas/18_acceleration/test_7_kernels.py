"""The fast kernels: the same values and the same gradients as kata 09's, by another route."""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import ReLU, Tensor, no_grad
from tinytorch.nn import Conv2d, spatial
from tinytorch.nn.spatial import MaxPool2dBackward
from tinytorch.systems import acceleration
from tinytorch.systems.acceleration import (
    Conv2dFastBackward,
    MaxPool2dFastBackward,
    conv2d_accelerated,
    conv2d_einsum,
    conv2d_fast,
    disable_acceleration,
    enable_acceleration,
    input_grad_by_convolution,
    max_pool2d_fast,
    transposed_conv_pays,
    winograd_pays,
)
from tinytorch.systems.winograd import WinogradConv2dBackward


def arrays(rng, *shapes, dtype=np.float32):
    return [rng.standard_normal(shape).astype(dtype) for shape in shapes]


# -- the einsum convolution -------------------------------------------------------------------

@pytest.mark.parametrize("stride, padding, kernel", [(1, 0, 3), (1, 1, 3), (2, 1, 3), (2, 0, 2), (1, 2, 5)])
def test_einsum_convolution_matches_an_independent_formula(conv_by_offsets, stride, padding, kernel, rng):
    x, weight = arrays(rng, (2, 3, 9, 8), (4, 3, kernel, kernel))
    out = conv2d_einsum(x, weight, stride=stride, padding=padding)
    expected = conv_by_offsets(x, weight, None, stride, padding)
    assert out.shape == expected.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)


def test_einsum_convolution_checks_its_operands():
    with pytest.raises(ValueError, match="channels"):
        conv2d_einsum(np.zeros((1, 3, 8, 8)), np.zeros((4, 2, 3, 3)))


# -- the input gradient as a convolution --------------------------------------------------------

@pytest.mark.parametrize("in_channels, kernel, padding", [(3, 3, 0), (2, 3, 1), (4, 3, 2), (2, 5, 2), (3, 1, 0)])
def test_the_input_gradient_is_a_convolution_with_flipped_kernels(in_channels, kernel, padding, rng):
    x, weight = arrays(rng, (2, in_channels, 7, 6), (5, in_channels, kernel, kernel), dtype=np.float64)
    x_tensor = Tensor(x, requires_grad=True)
    out = spatial.conv2d(x_tensor, Tensor(weight), None, 1, padding)
    grad = rng.standard_normal(out.shape)
    out.backward(Tensor(grad))
    result = input_grad_by_convolution(grad, weight, padding)
    assert result.shape == x.shape
    np.testing.assert_allclose(result, x_tensor.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("in_channels, out_channels, kernel, stride, padding, expected", [
    (32, 32, 3, 1, 1, True), (64, 64, 5, 1, 2, True), (32, 8, 3, 1, 0, True), (3, 3, 3, 1, 1, True),
    (16, 32, 3, 1, 1, False), (32, 33, 3, 1, 1, False),  # more gradient channels: col2im
    (3, 32, 5, 1, 0, False),
    (32, 32, 3, 2, 1, False),                            # the formula is for stride 1
    (32, 32, 1, 1, 1, False), (32, 32, 3, 1, 3, False),  # padding beyond k - 1
])
def test_when_the_input_gradient_is_a_convolution(in_channels, out_channels, kernel, stride, padding, expected):
    assert transposed_conv_pays(in_channels, out_channels, kernel, stride, padding) is expected


# -- conv2d_fast ------------------------------------------------------------------------------

CASES = [  # (x shape, weight shape, stride, padding, input gradient by convolution?)
    ((2, 4, 6, 5), (4, 4, 3, 3), 1, 1, True),
    ((2, 5, 6, 6), (3, 5, 3, 3), 1, 0, True),
    ((2, 2, 7, 7), (5, 2, 3, 3), 1, 1, False),     # more output channels than input channels
    ((2, 4, 7, 7), (4, 4, 3, 3), 2, 1, False),     # stride 2
    ((2, 4, 5, 5), (4, 4, 1, 1), 1, 1, False),     # padding beyond k - 1
]


def run_both(x, weight, bias, stride, padding, convolution):
    tensors = [Tensor(x, requires_grad=True), Tensor(weight, requires_grad=True)]
    if bias is not None:
        tensors.append(Tensor(bias, requires_grad=True))
    out = convolution(tensors[0], tensors[1], tensors[2] if bias is not None else None, stride, padding)
    out.backward(Tensor(np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)))
    return out, [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no bias"])
@pytest.mark.parametrize("x_shape, w_shape, stride, padding, by_convolution", CASES)
def test_fast_convolution_gives_kata_09s_values_and_gradients(x_shape, w_shape, stride, padding,
                                                              by_convolution, with_bias, monkeypatch, rng):
    x, weight, bias = arrays(rng, x_shape, w_shape, (w_shape[0],), dtype=np.float64)
    bias = bias if with_bias else None
    routes = []
    monkeypatch.setattr(acceleration, "input_grad_by_convolution",
                        lambda *args: routes.append(args) or input_grad_by_convolution(*args))
    fast, fast_grads = run_both(x, weight, bias, stride, padding, conv2d_fast)
    monkeypatch.undo()
    assert len(routes) == int(by_convolution), "the input gradient took the wrong route"
    plain, plain_grads = run_both(x, weight, bias, stride, padding, spatial.conv2d)
    assert isinstance(fast.grad_fn, Conv2dFastBackward)
    np.testing.assert_allclose(fast.numpy(), plain.numpy(), rtol=1e-12, atol=1e-12)
    for name, mine, theirs in zip(("x", "weight", "bias"), fast_grads, plain_grads):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-10, err_msg=f"gradient of {name}")


def test_fast_convolution_in_float32_stays_float32(rng):
    x, weight, bias = arrays(rng, (2, 8, 5, 5), (4, 8, 3, 3), (4,))
    out, grads = run_both(x, weight, bias, 1, 1, conv2d_fast)
    assert out.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, by_convolution", CASES)
def test_fast_convolution_passes_gradcheck(x_shape, w_shape, stride, padding, by_convolution, rng):
    x, weight, bias = arrays(rng, (1, *x_shape[1:]), w_shape, (w_shape[0],), dtype=np.float64)
    gradcheck(lambda a, w, b: conv2d_fast(a, w, b, stride, padding), x, weight, bias)


def test_images_that_need_no_gradient_get_none(rng):
    x, weight = arrays(rng, (2, 4, 5, 5), (4, 4, 3, 3))
    images, w = Tensor(x), Tensor(weight, requires_grad=True)
    conv2d_fast(images, w, None, 1, 1).sum().backward()
    assert images.grad is None and w.grad is not None


def test_nothing_is_recorded_under_no_grad_and_errors_are_kata_09s(rng):
    x, weight = arrays(rng, (1, 3, 5, 5), (2, 3, 3, 3))
    with no_grad():
        out = conv2d_fast(Tensor(x, requires_grad=True), Tensor(weight, requires_grad=True), None, 1, 1)
    assert out.grad_fn is None and not out.requires_grad
    with pytest.raises(ValueError, match="channels"):
        conv2d_fast(Tensor(np.zeros((1, 2, 5, 5))), Tensor(weight))


# -- the route: Winograd or conv2d_fast ------------------------------------------------------------

@pytest.mark.parametrize("in_channels, kernel_shape, stride, floating, expected", [
    (16, (3, 3), 1, True, True), (32, (3, 3), 1, True, True), (64, (3, 3), 1, True, True),
    (15, (3, 3), 1, True, False), (8, (3, 3), 1, True, False), (3, (3, 3), 1, True, False),  # few channels
    (32, (5, 5), 1, True, False), (32, (1, 1), 1, True, False),  # the transforms are F(4x4, 3x3)'s
    (32, (3, 3), 2, True, False),                                # stride-1 convolutions only
    (32, (3, 3), 1, False, False),                               # integers: G holds fractions
])
def test_when_winograd_runs(in_channels, kernel_shape, stride, floating, expected):
    assert winograd_pays(in_channels, kernel_shape, stride, floating) is expected


@pytest.mark.parametrize("in_channels, stride, rule", [
    (15, 1, Conv2dFastBackward), (16, 1, WinogradConv2dBackward), (32, 1, WinogradConv2dBackward),
    (32, 2, Conv2dFastBackward),
])
def test_the_accelerated_convolution_routes_on_either_side_of_16_channels(rng, in_channels, stride, rule):
    x = Tensor(rng.standard_normal((2, in_channels, 6, 6)).astype(np.float32), requires_grad=True)
    weight = Tensor(rng.standard_normal((4, in_channels, 3, 3)).astype(np.float32), requires_grad=True)
    out = conv2d_accelerated(x, weight, None, stride, 1)
    assert type(out.grad_fn) is rule
    plain = spatial.conv2d(Tensor(x.numpy()), Tensor(weight.numpy()), None, stride, 1)
    np.testing.assert_allclose(out.numpy(), plain.numpy(), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="channels"):  # kata 09's error, whichever the route
        wrong = Tensor(np.zeros((1, in_channels + 1, 6, 6), dtype=np.float32))
        conv2d_accelerated(wrong, weight, None, stride, 1)


def largest_error(result, exact):
    """The largest difference, relative to the largest magnitude of ``exact``."""
    return float(np.abs(result - exact).max() / np.abs(exact).max())


# The largest error allowed in float32, relative to the largest value: the bound
# test_8b_winograd.py puts on F(4x4, 3x3)'s rounding (20 to 25 times what it measured);
# float64 rounds 2**29 times finer
LAYER_BOUNDS = {np.float32: 1e-4, np.float64: 1e-10}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("in_channels, out_channels", [(16, 32), (32, 32)])
def test_an_accelerated_conv2d_3x3_layer_gives_the_plain_values_and_gradients(rng, in_channels, out_channels,
                                                                              dtype):
    layer = Conv2d(in_channels, out_channels, 3, padding=1, rng=0)
    for parameter in layer.parameters():
        parameter.data = parameter.data.astype(dtype)
    x = Tensor(rng.standard_normal((3, in_channels, 9, 10)).astype(dtype), requires_grad=True)
    upstream = Tensor(rng.standard_normal((3, out_channels, 9, 10)).astype(dtype))

    def run(accelerated):
        (enable_acceleration if accelerated else disable_acceleration)()
        for tensor in (x, layer.weight, layer.bias):
            tensor.grad = None
        out = layer(x)
        out.backward(upstream)
        return out, [tensor.grad.numpy() for tensor in (x, layer.weight, layer.bias)]

    fast, fast_grads = run(True)
    assert type(fast.grad_fn) is WinogradConv2dBackward
    plain, plain_grads = run(False)
    assert fast.dtype == plain.dtype == dtype
    bound = LAYER_BOUNDS[dtype]
    assert largest_error(fast.numpy(), plain.numpy()) < bound
    for name, mine, theirs in zip(("x", "weight", "bias"), fast_grads, plain_grads):
        assert mine.dtype == dtype and largest_error(mine, theirs) < bound, f"gradient of {name}"


# -- max_pool2d_fast ----------------------------------------------------------------------------

def pool_both(x, kernel_size, stride=None):
    results = []
    for pool in (max_pool2d_fast, spatial.max_pool2d):
        leaf = Tensor(x, requires_grad=True)
        out = pool(ReLU()(leaf), kernel_size, stride)     # ReLU: windows full of tied zeros
        out.backward(Tensor(np.arange(out.size, dtype=x.dtype).reshape(out.shape) - out.size / 2))
        results.append((out, leaf.grad.numpy()))
    return results


@pytest.mark.parametrize("shape, kernel", [((2, 3, 8, 8), 2), ((2, 2, 7, 9), 2), ((1, 2, 9, 6), 3),
                                           ((3, 1, 4, 4), 4)])
def test_fast_pooling_gives_exactly_kata_09s_values_and_gradients(shape, kernel, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    x[0, 0, :2, :2] = 0.5                                   # a tie that is not after the ReLU
    (fast, fast_grad), (plain, plain_grad) = pool_both(x, kernel)
    assert isinstance(fast.grad_fn, MaxPool2dFastBackward)
    np.testing.assert_array_equal(fast.numpy(), plain.numpy())
    np.testing.assert_array_equal(fast_grad, plain_grad)
    assert fast_grad.dtype == np.float32


def test_overlapping_windows_are_left_to_kata_09(rng):
    x = rng.standard_normal((2, 2, 7, 7)).astype(np.float32)
    (fast, fast_grad), (plain, plain_grad) = pool_both(x, 3, 2)
    assert type(fast.grad_fn) is MaxPool2dBackward
    np.testing.assert_array_equal(fast.numpy(), plain.numpy())
    np.testing.assert_array_equal(fast_grad, plain_grad)


def test_an_explicit_stride_equal_to_the_kernel_is_the_fast_case(rng):
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    out = max_pool2d_fast(Tensor(x, requires_grad=True), 2, 2)
    assert isinstance(out.grad_fn, MaxPool2dFastBackward)


def test_fast_pooling_passes_gradcheck(rng):
    x = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0    # distinct values: no ties
    gradcheck(lambda a: max_pool2d_fast(a, 2), x)


def test_fast_pooling_errors_are_kata_09s():
    with pytest.raises(ValueError, match=r"4-D"):
        max_pool2d_fast(Tensor(np.zeros((3, 8, 8), dtype=np.float32)), 2)
