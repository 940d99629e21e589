"""QuantizedConv2d: int8 filters per output channel, kata 09's conv2d on exact integers."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import Conv2d
from tinytorch.systems.quantization import QuantizedConv2d, quantize_tensor


def make_conv(stride: int = 1, padding: int = 1, bias: bool = True) -> Conv2d:
    conv = Conv2d(3, 4, 3, stride=stride, padding=padding, bias=bias, rng=0)
    conv.weight.data *= np.array([0.1, 0.5, 1.0, 3.0], dtype=np.float32)[:, None, None, None]
    if bias:
        conv.bias.data[:] = np.array([0.5, -1.0, 0.0, 2.0], dtype=np.float32)
    return conv


def images(low: float, high: float, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=(2, 3, 7, 7)).astype(np.float32)


def test_from_float_quantizes_each_filter_and_keeps_the_geometry(formulas):
    conv = make_conv(stride=2, padding=1)
    quantized = QuantizedConv2d.from_float(conv)
    assert quantized.weight.axis == 0, "a Conv2d weight is (O, C, k, k): output channels are axis 0"
    flat = conv.weight.data.reshape(4, -1)
    expected_scale, expected_zero = formulas.params(flat.min(axis=1), flat.max(axis=1))
    np.testing.assert_allclose(quantized.weight.scale, expected_scale, rtol=1e-6)
    np.testing.assert_array_equal(quantized.weight.zero_point, expected_zero)
    assert (quantized.stride, quantized.padding) == (2, 1)
    np.testing.assert_array_equal(quantized.bias, conv.bias.data)


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 1), (1, 0), (2, 2)])
def test_forward_is_the_integer_convolution(stride, padding, formulas):
    conv = make_conv(stride, padding)
    # inputs in [0.5, 1.5]: the range is extended to [0, 1.5] and the zero point is -128, so
    # padding with the wrong zero (the code 0 instead of the real 0) changes every border
    x = images(0.5, 1.5)
    out = QuantizedConv2d.from_float(conv)(Tensor(x))
    expected = formulas.conv(x, conv.weight.data, conv.bias.data, stride, padding)
    assert isinstance(out, Tensor) and out.dtype == np.float32 and out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_static_convolution_without_bias(formulas):
    conv = make_conv(bias=False)
    quantized = QuantizedConv2d.from_float(conv, input_range=(-1.0, 1.0))
    assert quantized.static and quantized.bias is None
    x = images(-2.0, 2.0, seed=2)  # half of it beyond the calibrated range
    out = quantized(Tensor(x))
    expected = formulas.conv(x, conv.weight.data, None, 1, 1, input_range=(-1.0, 1.0))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_the_result_is_close_to_the_float_convolution():
    conv = make_conv(stride=1, padding=1)
    x = images(-1.0, 1.0, seed=3)
    exact = conv(Tensor(x)).numpy()
    approximate = QuantizedConv2d.from_float(conv)(Tensor(x)).numpy()
    relative = np.linalg.norm(approximate - exact) / np.linalg.norm(exact)
    assert relative < 0.02, f"relative error {relative:.3%}"


def test_per_tensor_weights_are_accepted_and_the_wrong_axis_is_not(formulas):
    conv = make_conv(padding=0, bias=False)
    x = images(0.0, 1.0, seed=4)
    per_tensor = QuantizedConv2d(quantize_tensor(conv.weight.data), None, stride=1, padding=0)
    scale, zero = formulas.params(conv.weight.data.min(), conv.weight.data.max())
    weight_back = scale * (formulas.quantize(conv.weight.data, scale, zero).astype(np.float64) - zero)
    exact_with_those_weights = Conv2d(3, 4, 3, bias=False, rng=0)
    exact_with_those_weights.weight.data[...] = weight_back
    reference = exact_with_those_weights(Tensor(x)).numpy()
    np.testing.assert_allclose(per_tensor(Tensor(x)).numpy(), reference, atol=0.02 * np.abs(reference).max())
    with pytest.raises(ValueError, match=r"axis=0"):
        QuantizedConv2d(quantize_tensor(conv.weight.data, axis=1))
