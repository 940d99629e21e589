"""quantize, QuantizedTensor and quantize_tensor: int8 codes, per tensor and per channel."""

import warnings

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.systems.quantization import QuantizedTensor, quantize, quantize_tensor


def test_quantize_rounds_adds_the_zero_point_and_clips(formulas):
    x = np.random.default_rng(0).uniform(-1.5, 1.5, size=(40, 25)).astype(np.float32)
    q = quantize(x, np.float32(0.01), np.int32(5))
    formulas.assert_codes_equal(q, formulas.quantize(x, 0.01, 5))
    # beyond the range the codes saturate; cast without the clip, 128 would wrap round to -128
    edges = quantize(np.array([-10.0, -1.33, 1.22, 1.23, 10.0, 300.0]), np.float32(0.01), np.int32(5))
    np.testing.assert_array_equal(edges, [-128, -128, 127, 127, 127, 127])
    assert edges.dtype == np.int8


def test_quantize_per_channel_broadcasts_along_the_given_axis(formulas):
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    scale = np.array([0.01, 0.02, 0.04], dtype=np.float32)
    zero_point = np.array([-3, 0, 7], dtype=np.int32)
    formulas.assert_codes_equal(quantize(x, scale, zero_point, axis=1),
                                formulas.quantize(x, scale, zero_point, axis=1))
    scale4, zero4 = np.array([0.01, 0.02, 0.03, 0.05], dtype=np.float32), np.array([1, 2, 3, 4])
    formulas.assert_codes_equal(quantize(x, scale4, zero4, axis=0),
                                formulas.quantize(x, scale4, zero4, axis=0))


def test_dequantize_and_nbytes_of_a_hand_made_tensor():
    data = np.array([[-128, 0, 127], [10, 20, 30]], dtype=np.int8)
    per_column = QuantizedTensor(data, np.array([0.5, 0.25, 2.0], dtype=np.float32),
                                 np.array([0, 10, -5], dtype=np.int32), axis=1)
    expected = np.array([[0.5 * -128, 0.25 * (0 - 10), 2.0 * (127 + 5)],
                         [0.5 * 10, 0.25 * (20 - 10), 2.0 * (30 + 5)]], dtype=np.float32)
    values = per_column.dequantize()
    assert values.dtype == np.float32
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_array_equal(per_column.integer_values(), [[-128, -10, 132], [10, 10, 35]])
    assert per_column.nbytes == 6 + 3 * 4 + 3 * 4

    per_row = QuantizedTensor(data, np.array([1.0, 0.5], dtype=np.float32),
                              np.array([-128, 10], dtype=np.int32), axis=0)
    np.testing.assert_array_equal(per_row.dequantize(), [[0, 128, 255], [0, 5, 10]])

    whole = QuantizedTensor(data, np.float32(0.5), np.int32(10))
    np.testing.assert_array_equal(whole.dequantize(), 0.5 * (data.astype(np.float32) - 10))
    assert whole.nbytes == 6 + 4 + 4


def test_quantize_tensor_per_tensor_matches_the_formulas(formulas):
    x = np.random.default_rng(2).normal(size=(64, 32)).astype(np.float32)
    quantized = quantize_tensor(x)
    expected_scale, expected_zero = formulas.params(x.min(), x.max())
    assert isinstance(quantized, QuantizedTensor) and quantized.axis is None
    assert quantized.scale.shape == () and quantized.scale.dtype == np.float32
    assert quantized.zero_point.dtype == np.int32
    assert float(quantized.scale) == pytest.approx(float(expected_scale), rel=1e-6)
    assert int(quantized.zero_point) == int(expected_zero)
    formulas.assert_codes_equal(quantized.data, formulas.quantize(x, expected_scale, expected_zero))
    error = np.abs(quantized.dequantize() - x)
    assert error.max() <= 0.5001 * float(quantized.scale), "round to nearest: at most half a step off"
    assert 0.15 * float(quantized.scale) < error.mean() < 0.35 * float(quantized.scale), (
        "rounding errors spread evenly over half a step on each side (mean a quarter step)")
    from_tensor = quantize_tensor(Tensor(x))
    np.testing.assert_array_equal(from_tensor.data, quantized.data)


@pytest.mark.parametrize("low, high, zero_point", [(2.0, 3.0, -128), (-5.0, -1.0, 127)])
def test_a_range_without_zero_is_extended_to_contain_it(low, high, zero_point, formulas):
    x = np.random.default_rng(3).uniform(low, high, size=(50, 20))
    x[0, :2] = low, high
    quantized = quantize_tensor(x)
    width = max(abs(low), abs(high))
    assert float(quantized.scale) == pytest.approx(width / 255, rel=1e-5), (
        f"values in [{low}, {high}] use the range [{min(low, 0)}, {max(high, 0)}]: "
        f"scale {width / 255:.6g}")
    assert int(quantized.zero_point) == zero_point
    assert np.abs(quantized.dequantize() - x).max() <= 0.5001 * float(quantized.scale)


def test_zeros_survive_exactly(formulas):
    x = np.maximum(np.random.default_rng(4).normal(size=(30, 30)), 0).astype(np.float32) + 0.0
    x[:, 0] = -0.37  # a few negatives, so the zero point is not simply -128
    quantized = quantize_tensor(x)
    back = quantized.dequantize()
    zeros = x == 0
    assert zeros.sum() > 300
    assert np.all(back[zeros] == 0.0), f"0 came back as {np.unique(back[zeros])[:5]}"


@pytest.mark.parametrize("value", [0.0, 2.5, -7.0])
def test_constant_tensors(value):
    x = np.full((3, 4), value, dtype=np.float32)
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        quantized = quantize_tensor(x)
        per_channel = quantize_tensor(x, axis=0)
    for q in (quantized, per_channel):
        assert np.all(np.isfinite(q.scale)) and np.all(q.scale > 0)
        back = q.dequantize()
        if value == 0.0:
            np.testing.assert_array_equal(back, 0.0)
        else:
            np.testing.assert_allclose(back, value, atol=0.5001 * abs(value) / 255)


def test_per_channel_parameters_come_from_each_channel(formulas):
    rng = np.random.default_rng(5)
    weight = rng.normal(size=(6, 3)).astype(np.float32) * np.array([0.01, 1.0, 100.0], dtype=np.float32)
    quantized = quantize_tensor(weight, axis=1)
    expected_scale, expected_zero = formulas.params(weight.min(axis=0), weight.max(axis=0))
    assert quantized.axis == 1
    assert quantized.scale.shape == (3,) and quantized.zero_point.shape == (3,), (
        f"axis=1 of a (6, 3) array: one scale per column, got scale shape {quantized.scale.shape}")
    np.testing.assert_allclose(quantized.scale, expected_scale, rtol=1e-6)
    np.testing.assert_array_equal(quantized.zero_point, expected_zero)
    formulas.assert_codes_equal(quantized.data,
                                formulas.quantize(weight, expected_scale, expected_zero, axis=1))
    last = quantize_tensor(weight, axis=-1)
    assert last.axis == 1, "a negative axis is stored as the positive axis it means"
    np.testing.assert_array_equal(last.data, quantized.data)


def test_per_channel_along_axis_0_of_a_convolution_weight(formulas):
    weight = np.random.default_rng(6).normal(size=(4, 2, 3, 3)).astype(np.float32)
    weight *= np.array([0.05, 0.5, 1.0, 4.0], dtype=np.float32)[:, None, None, None]
    quantized = quantize_tensor(weight, axis=0)
    flat = weight.reshape(4, -1)
    expected_scale, expected_zero = formulas.params(flat.min(axis=1), flat.max(axis=1))
    np.testing.assert_allclose(quantized.scale, expected_scale, rtol=1e-6)
    np.testing.assert_array_equal(quantized.zero_point, expected_zero)
    formulas.assert_codes_equal(quantized.data,
                                formulas.quantize(weight, expected_scale, expected_zero, axis=0))
    error = np.abs(quantized.dequantize() - weight).reshape(4, -1).max(axis=1)
    assert np.all(error <= 0.5001 * quantized.scale)


def test_per_channel_keeps_small_channels_precise():
    weight = np.random.default_rng(7).normal(size=(64, 2)).astype(np.float32) * np.array([0.01, 10.0],
                                                                                         dtype=np.float32)
    per_tensor = np.abs(quantize_tensor(weight).dequantize() - weight)[:, 0].mean()
    per_channel = np.abs(quantize_tensor(weight, axis=1).dequantize() - weight)[:, 0].mean()
    # one shared scale leaves the small column about 1/1000 of the levels it could use
    assert per_channel < per_tensor / 100, f"per channel {per_channel:.2e}, per tensor {per_tensor:.2e}"


def test_nbytes_counts_codes_scales_and_zero_points():
    weight = np.random.default_rng(8).normal(size=(784, 128)).astype(np.float32)
    assert quantize_tensor(weight).nbytes == 784 * 128 + 4 + 4
    assert quantize_tensor(weight, axis=1).nbytes == 784 * 128 + 128 * 4 + 128 * 4
    assert quantize_tensor(weight, axis=1).data.nbytes == weight.nbytes // 4


def test_bad_input_is_refused():
    weight = np.ones((5, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"axis=2.*\(5, 3\)"):
        quantize_tensor(weight, axis=2)
    broken = weight.copy()
    broken[1, 1] = np.nan
    broken[2, 2] = np.inf
    with pytest.raises(ValueError, match=r"2 non-finite"):
        quantize_tensor(broken)
    with pytest.raises(ValueError, match=r"empty"):
        quantize_tensor(np.zeros((0, 3), dtype=np.float32))
