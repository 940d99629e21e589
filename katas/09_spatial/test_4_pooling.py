"""MaxPool2d and AvgPool2d: values, output sizes, and where their gradients go."""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor
from tinytorch.nn import AvgPool2d, MaxPool2d
from tinytorch.nn.spatial import avg_pool2d, max_pool2d


def windows_by_hand(x, k, s):
    """Every k x k window of x (N, C, H, W), as (N, C, H_out, W_out, k * k), by slicing."""
    n, c, h, w = x.shape
    out_h, out_w = (h - k) // s + 1, (w - k) // s + 1
    result = np.empty((n, c, out_h, out_w, k * k))
    for i in range(out_h):
        for j in range(out_w):
            result[:, :, i, j] = x[:, :, i * s:i * s + k, j * s:j * s + k].reshape(n, c, -1)
    return result


def test_max_pool_by_hand():
    x = Tensor(np.array([[[[1, 5, 2, 0],
                           [3, 4, 8, 1],
                           [0, -1, 7, 7],
                           [9, 2, 6, 3]]]], dtype=np.float32))
    out = MaxPool2d(2)(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), [[[[5, 8], [9, 7]]]])


@pytest.mark.parametrize("kernel, stride, size, out_size", [
    (2, None, (8, 6), (4, 3)), (2, None, (5, 7), (2, 3)), (3, 2, (7, 8), (3, 3)),
    (3, 1, (5, 5), (3, 3)), (2, 3, (8, 8), (3, 3)),
])
def test_max_pool_matches_windows_by_hand(kernel, stride, size, out_size, rng):
    x = rng.standard_normal((2, 3, *size))
    out = MaxPool2d(kernel, stride)(Tensor(x))
    assert out.shape == (2, 3, *out_size)
    np.testing.assert_array_equal(out.numpy(), windows_by_hand(x, kernel, stride or kernel).max(axis=-1))


def test_max_pool_gradient_goes_to_the_maximum_only():
    x = Tensor(np.array([[[[1.0, 2.0, 0.5, -1.0],
                           [3.0, 4.0, 0.0, 0.25]]]]), requires_grad=True)
    max_pool2d(x, 2).backward(Tensor(np.array([[[[10.0, 20.0]]]])))
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0, 0, 20, 0], [0, 10, 0, 0]]]])


def test_max_pool_ties_send_the_whole_gradient_to_the_first_maximum():
    x = Tensor(np.array([[[[0.0, 0.0, 2.0, 1.0],
                           [0.0, 0.0, 2.0, 2.0]]]]), requires_grad=True)   # ReLU-style zeros
    max_pool2d(x, 2).backward(Tensor(np.array([[[[1.0, 3.0]]]])))
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1, 0, 3, 0], [0, 0, 0, 0]]]])


def test_overlapping_windows_add_their_gradients():
    # stride 1: the 9 is the maximum of all four 2x2 windows
    x = Tensor(np.array([[[[1.0, 2.0, 3.0], [4.0, 9.0, 5.0], [6.0, 7.0, 8.0]]]]), requires_grad=True)
    max_pool2d(x, 2, 1).backward(Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]])))
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 0, 0], [0, 10, 0], [0, 0, 0]])


def test_max_pool_gradcheck_non_overlapping_and_overlapping(rng):
    gradcheck(lambda x: max_pool2d(x, 2), rng.standard_normal((2, 2, 5, 4)))
    gradcheck(lambda x: max_pool2d(x, 3, 2), rng.standard_normal((1, 2, 7, 6)))


def test_avg_pool_values_and_sizes(rng):
    x = rng.standard_normal((2, 3, 7, 8))
    out = AvgPool2d(3, 2)(Tensor(x))
    assert out.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(out.numpy(), windows_by_hand(x, 3, 2).mean(axis=-1), rtol=1e-12)
    half = AvgPool2d(2)(Tensor(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)))
    assert half.dtype == np.float32
    np.testing.assert_array_equal(half.numpy(), [[[[2.5, 4.5], [10.5, 12.5]]]])


def test_avg_pool_gradient_is_shared_by_the_window():
    x = Tensor(np.zeros((1, 1, 3, 3)), requires_grad=True)
    avg_pool2d(x, 2, 1).backward(Tensor(np.ones((1, 1, 2, 2))))
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]])


def test_avg_pool_gradcheck(rng):
    gradcheck(lambda x: avg_pool2d(x, 2), rng.standard_normal((2, 2, 5, 4)))
    gradcheck(lambda x: avg_pool2d(x, 3, 2), rng.standard_normal((1, 2, 7, 6)))


def test_pooling_errors_name_the_shape():
    with pytest.raises(ValueError, match=r"4-D.*\(4, 4\)"):
        MaxPool2d(2)(Tensor(np.zeros((4, 4))))
    with pytest.raises(ValueError, match=r"kernel_size=3.*larger than the input 2x5"):
        AvgPool2d(3)(Tensor(np.zeros((1, 1, 2, 5))))
    with pytest.raises(ValueError, match=r"kernel_size=4.*larger than the input 3x3"):
        max_pool2d(Tensor(np.zeros((1, 1, 3, 3))), 4)
