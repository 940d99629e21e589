"""The vectorized convolution: windows as a strided view, im2col, one matrix product.

It must give the same numbers as your loops on every stride and padding, stay float32, and
the Conv2d layer must hold He-initialised weights in PyTorch's (O, C, k, k) layout.
"""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import Conv2d
from tinytorch.nn.spatial import col2im, conv2d, conv2d_loops, kernel_offsets, sliding_windows


def test_sliding_windows_is_a_view_of_every_window():
    x = np.arange(2 * 3 * 5 * 6, dtype=np.float32).reshape(2, 3, 5, 6)
    windows = sliding_windows(x, 3, 2)
    assert windows.shape == (2, 3, 2, 2, 3, 3)
    assert np.shares_memory(windows, x), "the windows should be a view, not a copy"
    np.testing.assert_array_equal(windows[1, 2, 1, 0], x[1, 2, 2:5, 0:3])
    np.testing.assert_array_equal(windows[0, 1, 0, 1], x[0, 1, 0:3, 2:5])
    assert sliding_windows(x, 2, 1).shape == (2, 3, 4, 5, 2, 2)


def test_kernel_offsets_yield_the_slice_each_kernel_element_touches():
    x = np.arange(7 * 8, dtype=np.float64).reshape(1, 1, 7, 8)
    offsets = list(kernel_offsets(3, 2, 3, 3))
    assert [(di, dj) for di, dj, _ in offsets] == [(i, j) for i in range(3) for j in range(3)]
    for di, dj, index in offsets:
        rows, columns = 2 * np.arange(3) + di, 2 * np.arange(3) + dj
        np.testing.assert_array_equal(x[index][0, 0], x[0, 0][np.ix_(rows, columns)])


def test_col2im_adds_up_overlapping_windows():
    # a 1x1x3x3 input cut into 2x2 windows with stride 1: 4 windows, the centre is in all 4
    window_grads = np.ones((1, 1, 2, 2, 2, 2))
    full = col2im(window_grads, (1, 1, 3, 3), stride=1)
    np.testing.assert_array_equal(full[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_col2im_puts_each_gradient_where_its_window_came_from():
    rng = np.random.default_rng(0)
    window_grads = rng.standard_normal((2, 3, 3, 3, 2, 3))
    full = col2im(window_grads, (2, 3, 6, 8), stride=2)
    expected = np.zeros((2, 3, 6, 8))
    for i in range(2):
        for j in range(3):
            expected[:, :, 2 * i:2 * i + 3, 2 * j:2 * j + 3] += window_grads[:, :, :, :, i, j]
    np.testing.assert_allclose(full, expected, rtol=1e-12)   # row 5 and column 7 stay 0


@pytest.mark.parametrize("stride, padding, size, kernel", [
    (1, 0, (6, 7), 3), (1, 1, (6, 7), 3), (2, 0, (7, 8), 3), (2, 1, (7, 6), 3),
    (3, 2, (8, 5), 3), (2, 2, (9, 9), 5), (1, 0, (4, 4), 1), (4, 1, (10, 11), 2),
])
def test_vectorized_matches_the_loops(stride, padding, size, kernel):
    rng = np.random.default_rng(100 * stride + 10 * padding + kernel)
    x = rng.standard_normal((3, 2, *size))
    weight, bias = rng.standard_normal((4, 2, kernel, kernel)), rng.standard_normal(4)
    expected = conv2d_loops(x, weight, bias, stride=stride, padding=padding)
    out = conv2d(Tensor(x), Tensor(weight), Tensor(bias), stride=stride, padding=padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-10)


def test_vectorized_matches_an_independent_formula_without_bias(conv_by_offsets):
    rng = np.random.default_rng(7)
    x, weight = rng.standard_normal((2, 3, 9, 7)), rng.standard_normal((5, 3, 4, 4))
    out = conv2d(Tensor(x), Tensor(weight), None, stride=3, padding=2)
    np.testing.assert_allclose(out.numpy(), conv_by_offsets(x, weight, None, 3, 2), rtol=1e-10,
                               atol=1e-10)


def test_float32_stays_float32():
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((2, 3, 8, 8), dtype=np.float32))
    weight = Tensor(rng.standard_normal((4, 3, 3, 3), dtype=np.float32))
    bias = Tensor(rng.standard_normal(4, dtype=np.float32))
    out = conv2d(x, weight, bias, stride=1, padding=1)
    assert out.dtype == np.float32 and out.shape == (2, 4, 8, 8)
    np.testing.assert_allclose(out.numpy(), conv2d_loops(x.numpy(), weight.numpy(), bias.numpy(),
                                                          padding=1), rtol=1e-5, atol=1e-5)


def test_conv2d_layer_shapes_and_he_initialisation():
    layer = Conv2d(16, 32, 3, rng=0)
    assert layer.weight.shape == (32, 16, 3, 3) and layer.weight.dtype == np.float32
    assert layer.bias.shape == (32,) and layer.bias.dtype == np.float32
    np.testing.assert_array_equal(layer.bias.numpy(), 0)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.requires_grad and layer.bias.requires_grad
    bound = np.sqrt(6 / (16 * 3 * 3))                 # fan_in = in_channels * k * k
    weights = layer.weight.numpy()
    assert np.abs(weights).max() <= bound
    assert np.abs(weights).max() > 0.95 * bound, "weights much smaller than the He bound"
    np.testing.assert_allclose(weights.var(), 2 / (16 * 3 * 3), rtol=0.1)
    np.testing.assert_array_equal(Conv2d(16, 32, 3, rng=0).weight.numpy(), weights)
    assert Conv2d(3, 8, 5, bias=False, rng=1).bias is None


def test_conv2d_layer_forward_uses_its_stride_and_padding():
    layer = Conv2d(3, 6, 5, stride=2, padding=2, rng=3)
    x = np.random.default_rng(2).standard_normal((2, 3, 11, 8)).astype(np.float32)
    out = layer(Tensor(x))
    assert out.shape == (2, 6, 6, 4) and out.dtype == np.float32
    expected = conv2d_loops(x, layer.weight.numpy(), layer.bias.numpy(), stride=2, padding=2)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)
    no_bias = Conv2d(3, 6, 5, stride=2, padding=2, bias=False, rng=3)
    np.testing.assert_allclose(no_bias(Tensor(x)).numpy(), expected - layer.bias.numpy()[:, None, None],
                               rtol=1e-5, atol=1e-5)


def test_conv2d_layer_errors_name_the_shapes():
    layer = Conv2d(3, 4, 3, rng=0)
    with pytest.raises(ValueError, match=r"4-D.*\(3, 8, 8\)"):
        layer(Tensor(np.zeros((3, 8, 8), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"1 channels.*in_channels=3"):
        layer(Tensor(np.zeros((2, 1, 8, 8), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"kernel_size=3.*larger than the padded input 2x8"):
        layer(Tensor(np.zeros((2, 3, 2, 8), dtype=np.float32)))
