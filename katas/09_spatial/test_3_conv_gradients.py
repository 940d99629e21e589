"""Conv2dBackward: the gradients of the input, the weights and the bias.

gradcheck compares them with central finite differences in float64; the small cases by hand
show what each gradient means.
"""

import numpy as np

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor
from tinytorch.nn import Conv2d
from tinytorch.nn.spatial import conv2d


def test_each_input_element_collects_the_weights_it_met():
    x = Tensor(np.zeros((1, 1, 3, 3)), requires_grad=True)
    weight = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
    conv2d(x, weight).sum().backward()
    # the centre sits in all four 2x2 windows, the corners in one
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_the_backward_pass_uses_the_stride():
    x = Tensor(np.zeros((1, 1, 5, 5)), requires_grad=True)
    weight = Tensor(np.arange(1.0, 5.0).reshape(1, 1, 2, 2), requires_grad=True)
    conv2d(x, weight, stride=2).sum().backward()
    # windows at rows/columns 0 and 2 do not overlap; row 4 and column 4 are never read
    expected = np.array([[1, 2, 1, 2, 0],
                         [3, 4, 3, 4, 0],
                         [1, 2, 1, 2, 0],
                         [3, 4, 3, 4, 0],
                         [0, 0, 0, 0, 0]], dtype=np.float64)
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


def test_weight_and_bias_gradients_by_hand():
    x = Tensor(np.arange(9.0).reshape(1, 1, 3, 3))
    weight = Tensor(np.zeros((2, 1, 2, 2)), requires_grad=True)
    bias = Tensor(np.zeros(2), requires_grad=True)
    out = conv2d(x, weight, bias)
    out.backward(Tensor(np.ones(out.shape)))
    # d(sum)/d weight[o, 0, di, dj] = sum of the input values that tap met
    window_sums = np.array([[0 + 1 + 3 + 4, 1 + 2 + 4 + 5], [3 + 4 + 6 + 7, 4 + 5 + 7 + 8]], dtype=float)
    np.testing.assert_array_equal(weight.grad.numpy(), np.stack([window_sums[None]] * 2))
    np.testing.assert_array_equal(bias.grad.numpy(), [4.0, 4.0])   # four output positions each
    assert x.grad is None


def test_gradcheck_stride_2_padding_1_all_three_inputs(rng):
    gradcheck(lambda x, w, b: conv2d(x, w, b, stride=2, padding=1),
              rng.standard_normal((2, 2, 5, 6)), rng.standard_normal((3, 2, 3, 3)),
              rng.standard_normal(3))


def test_gradcheck_stride_1_no_padding_no_bias(rng):
    gradcheck(lambda x, w: conv2d(x, w, None, stride=1, padding=0),
              rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 2, 2)))


def test_gradcheck_stride_3_leaves_unread_pixels_without_gradient(rng):
    gradcheck(lambda x, w, b: conv2d(x, w, b, stride=3, padding=2),
              rng.standard_normal((1, 2, 7, 8)), rng.standard_normal((2, 2, 4, 4)),
              rng.standard_normal(2))


def test_a_layer_in_float32_gets_float32_gradients_equal_to_float64_ones(rng):
    layer = Conv2d(2, 3, 3, stride=2, padding=1, rng=4)
    layer.bias.data[:] = np.array([0.1, -0.2, 0.3], dtype=np.float32)
    x32 = rng.standard_normal((2, 2, 6, 5)).astype(np.float32)
    upstream = rng.standard_normal((2, 3, 3, 3))
    layer(Tensor(x32)).backward(Tensor(upstream.astype(np.float32)))
    x64 = Tensor(x32.astype(np.float64), requires_grad=True)
    w64 = Tensor(layer.weight.numpy().astype(np.float64), requires_grad=True)
    b64 = Tensor(layer.bias.numpy().astype(np.float64), requires_grad=True)
    conv2d(x64, w64, b64, stride=2, padding=1).backward(Tensor(upstream))
    for parameter, exact in ((layer.weight, w64), (layer.bias, b64)):
        assert parameter.grad.dtype == np.float32 and parameter.grad.shape == parameter.shape
        np.testing.assert_allclose(parameter.grad.numpy(), exact.grad.numpy(), rtol=1e-4, atol=1e-5)
    assert x64.grad.shape == x64.shape
