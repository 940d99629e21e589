"""Convolution by its definition: output sizes, zero padding and the seven loops.

Every expected value here is written by hand or computed by the test's own formula, so a
window that starts one row too late, padding on one side only, or a flipped kernel shows up.
"""

import numpy as np
import pytest

from tinytorch.nn.spatial import conv2d_loops, conv2d_output_shape, conv_output_size, pad2d, require_images

# A 1-channel 4x4 image and an asymmetric 3x3 kernel: only two taps, top-left 1 and
# bottom-right 10, so out[i, j] = x[i, j] + 10 * x[i + 2, j + 2] for cross-correlation.
IMAGE = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
KERNEL = np.zeros((1, 1, 3, 3))
KERNEL[0, 0, 0, 0], KERNEL[0, 0, 2, 2] = 1.0, 10.0


@pytest.mark.parametrize("size, kernel, stride, padding, expected", [
    (32, 5, 1, 0, 28),     # the classic LeNet layer
    (32, 3, 1, 1, 32),     # "same" padding keeps the size
    (8, 3, 2, 0, 3),       # (8 - 3) // 2 + 1: a 4th window would overhang
    (7, 3, 2, 0, 3),       # divisible: the last window ends exactly at the edge
    (5, 2, 2, 0, 2),       # row 4 is never read
    (10, 3, 3, 1, 4),      # padding and stride together: (10 + 2 - 3) // 3 + 1
    (4, 4, 1, 0, 1),       # kernel as large as the input: one window
    (6, 5, 4, 2, 2),       # (6 + 4 - 5) // 4 + 1
])
def test_output_size_formula(size, kernel, stride, padding, expected):
    assert conv_output_size(size, kernel, stride, padding) == expected


def test_output_shape_uses_height_and_width_separately():
    assert conv2d_output_shape((2, 3, 9, 6), (5, 3, 3, 3), stride=2, padding=1) == (2, 5, 5, 3)
    assert conv2d_output_shape((1, 1, 5, 8), (4, 1, 5, 5), stride=1, padding=0) == (1, 4, 1, 4)


def test_pad2d_adds_zeros_on_all_four_sides():
    x = np.arange(1, 7, dtype=np.float32).reshape(1, 1, 2, 3)
    padded = pad2d(x, 1)
    expected = np.array([[0, 0, 0, 0, 0],
                         [0, 1, 2, 3, 0],
                         [0, 4, 5, 6, 0],
                         [0, 0, 0, 0, 0]], dtype=np.float32)
    assert padded.shape == (1, 1, 4, 5) and padded.dtype == np.float32
    np.testing.assert_array_equal(padded[0, 0], expected)
    assert pad2d(x, 2).shape == (1, 1, 6, 7)
    assert pad2d(x, 0) is x


def test_loops_compute_cross_correlation_not_a_flipped_convolution():
    out = conv2d_loops(IMAGE, KERNEL)
    # a flipped kernel would give 10 * x[i, j] + x[i + 2, j + 2] = [[10, 21], [54, 65]]
    np.testing.assert_array_equal(out, [[[[100.0, 111.0], [144.0, 155.0]]]])


def test_loops_add_the_bias_of_each_filter():
    weight = np.stack([KERNEL[0], -KERNEL[0]])                       # two filters
    out = conv2d_loops(IMAGE, weight, np.array([0.5, -2.0]))
    np.testing.assert_array_equal(out[0, 0], [[100.5, 111.5], [144.5, 155.5]])
    np.testing.assert_array_equal(out[0, 1], [[-102.0, -113.0], [-146.0, -157.0]])


def test_loops_pad_the_right_and_bottom_too():
    out = conv2d_loops(IMAGE, KERNEL, padding=1)
    # out[i, j] = padded[i, j] + 10 * padded[i + 2, j + 2], padded = IMAGE with a zero border.
    # The last column's bottom-right tap reads the right border (0), the last row's the
    # bottom border: padding on the left and top only would give a 3x3 output instead.
    expected = np.array([[50, 60, 70, 0],
                         [90, 100, 111, 2],
                         [130, 144, 155, 6],
                         [0, 8, 9, 10]], dtype=np.float64)
    assert out.shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(out[0, 0], expected)


def test_loops_move_by_the_stride():
    x = np.arange(49, dtype=np.float64).reshape(1, 1, 7, 7)
    out = conv2d_loops(x, KERNEL, stride=2)
    assert out.shape == (1, 1, 3, 3)
    rows = np.arange(3) * 2
    expected = x[0, 0][np.ix_(rows, rows)] + 10 * x[0, 0][np.ix_(rows + 2, rows + 2)]
    np.testing.assert_array_equal(out[0, 0], expected)


@pytest.mark.parametrize("stride, padding, size", [(1, 0, (5, 6)), (2, 1, (7, 6)), (3, 2, (8, 5)),
                                                   (2, 0, (6, 9))])
def test_loops_match_an_independent_formula(conv_by_offsets, stride, padding, size):
    rng = np.random.default_rng(stride * 10 + padding)
    x = rng.standard_normal((2, 3, *size))
    weight, bias = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    out = conv2d_loops(x, weight, bias, stride=stride, padding=padding)
    expected = conv_by_offsets(x, weight, bias, stride, padding)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)


def test_loops_sum_over_every_input_channel(conv_by_offsets):
    rng = np.random.default_rng(5)
    x, weight = rng.standard_normal((1, 5, 4, 4)), rng.standard_normal((2, 5, 2, 2))
    np.testing.assert_allclose(conv2d_loops(x, weight), conv_by_offsets(x, weight, None, 1, 0),
                               rtol=1e-10, atol=1e-10)


def test_an_input_that_is_not_4d_is_a_clear_error():
    with pytest.raises(ValueError, match=r"4-D.*\(3, 8, 8\)"):
        require_images((3, 8, 8), "conv2d")
    with pytest.raises(ValueError, match=r"4-D.*\(3, 8, 8\)"):
        conv2d_loops(np.zeros((3, 8, 8)), np.zeros((2, 3, 3, 3)))


def test_a_channel_mismatch_names_both_counts():
    with pytest.raises(ValueError, match=r"1 channels.*in_channels=3") as error:
        conv2d_output_shape((2, 1, 8, 8), (4, 3, 3, 3))
    assert "(2, 1, 8, 8)" in str(error.value) and "(4, 3, 3, 3)" in str(error.value)


def test_a_kernel_larger_than_the_padded_input_is_a_clear_error():
    with pytest.raises(ValueError, match=r"kernel_size=5.*larger than the padded input 3x4"):
        conv2d_output_shape((1, 1, 3, 4), (1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"kernel_size=5.*larger than the padded input 4x4"):
        conv2d_output_shape((1, 1, 2, 2), (1, 1, 5, 5), padding=1)
    assert conv2d_output_shape((1, 1, 3, 3), (1, 1, 5, 5), padding=1) == (1, 1, 1, 1)
