"""Arithmetic intensity from the shapes: FLOPs per byte that must move."""

import pytest

from tinytorch.systems.acceleration import conv2d_cost, matmul_cost


def test_a_small_matmul_by_hand():
    cost = matmul_cost((2, 3), (3, 4))
    assert cost.flops == 2 * 2 * 3 * 4 == 48
    assert cost.bytes_moved == 4 * (6 + 12 + 8) == 104
    assert cost.intensity == pytest.approx(48 / 104)
    assert matmul_cost((2, 3), (3, 4), itemsize=8).bytes_moved == 208


def test_square_products_gain_intensity_with_size_and_matrix_vector_products_never_do():
    assert matmul_cost((512, 512), (512, 512)).intensity == pytest.approx(2 * 512 / 12)
    assert matmul_cost((1024, 1024), (1024, 1024)).intensity == pytest.approx(2 * 1024 / 12)
    # 2 FLOPs per matrix element read, 4 bytes each: below 0.5 FLOP per byte at any size
    assert matmul_cost((4096, 4096), (4096, 1)).intensity < 0.5


def test_a_small_convolution_by_hand():
    # a 4x4 image, one 3x3 filter, no padding: a 2x2 output of 9 multiply-adds each
    cost = conv2d_cost((1, 1, 4, 4), (1, 1, 3, 3))
    assert cost.flops == 2 * 4 * 9 == 72
    assert cost.bytes_moved == 4 * (16 + 9 + 4)
    # im2col writes and then reads a 9 x 4 window matrix
    assert conv2d_cost((1, 1, 4, 4), (1, 1, 3, 3), im2col=True).bytes_moved == 4 * (16 + 9 + 4 + 2 * 36)


def test_the_cifar_benchmark_layer_of_kata_09():
    cost = conv2d_cost((128, 3, 32, 32), (32, 3, 5, 5))
    assert cost.flops == 2 * 240_844_800                  # twice kata 09's multiply-adds
    assert cost.bytes_moved == 4 * (128 * 3 * 32 * 32 + 32 * 3 * 5 * 5 + 128 * 32 * 28 * 28)
    assert conv2d_cost((128, 3, 32, 32), (32, 3, 5, 5), im2col=True).intensity < cost.intensity / 3


def test_stride_padding_and_itemsize_count():
    cost = conv2d_cost((2, 3, 8, 8), (4, 3, 3, 3), stride=2, padding=1, itemsize=8)
    # (8 + 2 - 3) // 2 + 1 = 4 positions per axis
    assert cost.flops == 2 * 2 * 4 * 4 * 4 * 27
    assert cost.bytes_moved == 8 * (2 * 3 * 64 + 4 * 27 + 2 * 4 * 16)


def test_operands_that_do_not_fit_are_named():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        matmul_cost((2, 3), (4, 5))
    with pytest.raises(ValueError, match="channels"):
        conv2d_cost((1, 3, 8, 8), (4, 2, 3, 3))
