"""QuantizedLinear: int8 weights per output column, integer products, dynamic or static input."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import Linear
from tinytorch.systems.quantization import QuantizedLinear, QuantizedTensor, quantize_tensor


@pytest.fixture
def layer() -> Linear:
    linear = Linear(16, 8, rng=0)
    rng = np.random.default_rng(1)
    linear.weight.data *= np.linspace(0.05, 2.0, 8, dtype=np.float32)  # columns of very different ranges
    linear.bias.data[:] = rng.normal(size=8).astype(np.float32)
    return linear


@pytest.fixture
def inputs() -> np.ndarray:
    return np.random.default_rng(2).normal(size=(6, 16)).astype(np.float32)


def test_from_float_quantizes_the_weight_per_output_column(layer, formulas):
    quantized = QuantizedLinear.from_float(layer)
    weight = layer.weight.data
    assert isinstance(quantized.weight, QuantizedTensor)
    assert quantized.weight.axis == 1, (
        "a Linear weight is (in_features, out_features): its output channels are the columns, axis 1")
    expected_scale, expected_zero = formulas.params(weight.min(axis=0), weight.max(axis=0))
    np.testing.assert_allclose(quantized.weight.scale, expected_scale, rtol=1e-6)
    np.testing.assert_array_equal(quantized.weight.zero_point, expected_zero)
    formulas.assert_codes_equal(quantized.weight.data,
                                formulas.quantize(weight, expected_scale, expected_zero, axis=1))
    assert quantized.bias.dtype == np.float32
    np.testing.assert_array_equal(quantized.bias, layer.bias.data)
    layer.bias.data += 1.0
    assert not np.array_equal(quantized.bias, layer.bias.data), "the bias is a copy, not a view"
    assert not quantized.static and quantized.input_scale is None


def test_dynamic_forward_is_the_integer_formula(layer, inputs, formulas):
    quantized = QuantizedLinear.from_float(layer)
    out = quantized(Tensor(inputs))
    assert isinstance(out, Tensor) and out.dtype == np.float32 and out.shape == (6, 8)
    expected = formulas.linear(inputs, layer.weight.data, layer.bias.data)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_the_result_is_close_to_the_float_layer(layer, inputs):
    exact = layer(Tensor(inputs)).numpy()
    approximate = QuantizedLinear.from_float(layer)(Tensor(inputs)).numpy()
    relative = np.linalg.norm(approximate - exact) / np.linalg.norm(exact)
    assert relative < 0.02, f"relative error {relative:.3%}"


def test_static_quantization_uses_the_calibrated_range_and_clips(layer, inputs, formulas):
    quantized = QuantizedLinear.from_float(layer, input_range=(-1.0, 2.0))
    assert quantized.static
    expected_scale, expected_zero = formulas.params(-1.0, 2.0)
    assert float(quantized.input_scale) == pytest.approx(float(expected_scale), rel=1e-6)
    assert int(quantized.input_zero_point) == int(expected_zero)

    wide = 3 * inputs  # far beyond [-1, 2]: clipped to the calibrated range
    out = quantized(Tensor(wide)).numpy()
    expected = formulas.linear(wide, layer.weight.data, layer.bias.data, input_range=(-1.0, 2.0))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    clipped = QuantizedLinear.from_float(layer)(Tensor(np.clip(wide, -1.0, 2.0))).numpy()
    dynamic = QuantizedLinear.from_float(layer)(Tensor(wide)).numpy()
    assert np.abs(out - clipped).max() < np.abs(out - dynamic).max(), (
        "a static layer sees the input clipped to its calibrated range; a dynamic one sees it all")


def test_leading_dimensions_and_no_bias(inputs, formulas):
    linear = Linear(16, 8, bias=False, rng=3)
    quantized = QuantizedLinear.from_float(linear, input_range=(-3.0, 3.0))
    assert quantized.bias is None
    batch = inputs.reshape(2, 3, 16)
    out = quantized(Tensor(batch))
    assert out.shape == (2, 3, 8)
    expected = formulas.linear(inputs, linear.weight.data, None, input_range=(-3.0, 3.0))
    np.testing.assert_allclose(out.numpy().reshape(6, 8), expected, rtol=1e-5, atol=1e-5)


def test_bad_shapes_are_refused(layer):
    quantized = QuantizedLinear.from_float(layer)
    with pytest.raises(ValueError, match=r"in_features=16.*\(4, 15\)"):
        quantized(Tensor(np.zeros((4, 15), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"axis=1"):
        QuantizedLinear(quantize_tensor(layer.weight.data, axis=0))
