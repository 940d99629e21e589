"""quantization_params: the scale and zero point that map a range onto the 256 int8 levels."""

import warnings

import numpy as np
import pytest

from tinytorch.systems.quantization import quantization_params


@pytest.mark.parametrize("minimum, maximum, scale, zero_point", [
    (-1.0, 3.0, 4 / 255, -64),        # lo / scale = -63.75: rounds to -64 (astype(int) gives -63)
    (-0.632, 1.918, 0.01, -65),       # lo / scale = -63.2: rounds to -63 (np.floor gives -64)
    (-0.638, 1.912, 0.01, -64),       # lo / scale = -63.8
    (0.0, 1.0, 1 / 255, -128),        # pixels: 0 is the lowest level
    (1.0, 5.0, 5 / 255, -128),        # all positive: the range is extended down to 0
    (-2.0, -1.0, 2 / 255, 127),       # all negative: extended up to 0, which is the top level
    (3.0, 3.0, 3 / 255, -128),        # constant positive
    (-2.0, -2.0, 2 / 255, 127),       # constant negative
    (0.0, 0.0, 1.0, -128),            # all zeros: any scale is exact, and nothing divides by 0
])
def test_hand_computed_ranges(minimum, maximum, scale, zero_point):
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        got_scale, got_zero = quantization_params(minimum, maximum)
    assert isinstance(got_scale, np.ndarray) and isinstance(got_zero, np.ndarray), (
        f"return NumPy arrays (0-d for a scalar range), got {type(got_scale)} and {type(got_zero)}")
    assert got_scale.dtype == np.float32 and got_scale.shape == ()
    assert got_zero.dtype == np.int32 and got_zero.shape == ()
    assert float(got_scale) == pytest.approx(scale, rel=1e-6)
    assert int(got_zero) == zero_point, (
        f"range [{minimum}, {maximum}]: zero point {int(got_zero)}, expected {zero_point} = "
        f"-128 - round(lo / scale) with lo = min(minimum, 0)")


def test_random_ranges_match_the_formula_and_cover_their_ends(formulas):
    rng = np.random.default_rng(0)
    lows = rng.uniform(-5, 5, size=500)
    highs = lows + rng.uniform(0, 5, size=500)
    for low, high in zip(lows, highs):
        scale, zero_point = quantization_params(low, high)
        expected_scale, expected_zero = formulas.params(low, high)
        assert float(scale) == pytest.approx(float(expected_scale), rel=1e-6), (low, high)
        assert int(zero_point) == int(expected_zero), (low, high)
        # the real 0 is the integer zero_point exactly, and both ends come back within half
        # a step (the range was extended to 0 before the levels were laid out)
        for value in (0.0, low, high):
            q = np.clip(np.round(value / np.float64(scale)) + zero_point, -128, 127)
            back = float(scale) * (q - int(zero_point))
            assert abs(back - value) <= 0.5001 * float(scale), (low, high, value, back)
            if value == 0.0:
                assert back == 0.0, f"range [{low}, {high}]: 0 comes back as {back}"


def test_per_channel_arrays_work_elementwise(formulas):
    minimum = np.array([-1.0, 0.5, -3.0, 0.0, -0.632])
    maximum = np.array([3.0, 2.0, -1.0, 0.0, 1.918])
    scale, zero_point = quantization_params(minimum, maximum)
    assert scale.shape == (5,) and scale.dtype == np.float32
    assert zero_point.shape == (5,) and zero_point.dtype == np.int32
    for channel in range(5):
        one_scale, one_zero = quantization_params(minimum[channel], maximum[channel])
        assert scale[channel] == one_scale and zero_point[channel] == one_zero, f"channel {channel}"
    expected_scale, expected_zero = formulas.params(minimum, maximum)
    np.testing.assert_allclose(scale, expected_scale, rtol=1e-6)
    np.testing.assert_array_equal(zero_point, expected_zero)


def test_an_all_zero_channel_next_to_others_divides_nothing_by_zero():
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        scale, zero_point = quantization_params(np.array([0.0, -1.0, 0.0]), np.array([0.0, 1.0, 2.0]))
    assert np.all(np.isfinite(scale)) and np.all(scale > 0), f"scales {scale}"
    assert scale[0] == 1.0 and zero_point[0] == -128


@pytest.mark.parametrize("minimum, maximum, message", [
    (2.0, 1.0, r"minimum.*maximum"),
    (np.array([0.0, 3.0]), np.array([1.0, 2.0]), r"minimum.*maximum"),
    (float("nan"), 1.0, r"finite"),
    (0.0, float("inf"), r"finite"),
])
def test_bad_ranges_are_refused(minimum, maximum, message):
    with pytest.raises(ValueError, match=message):
        quantization_params(minimum, maximum)
