"""Memory layout: strides say how far apart neighbours are; contiguous means no gaps."""

import numpy as np
import pytest

from tinytorch.systems.acceleration import contiguous_strides, is_contiguous

SHAPES = [(2, 3, 4), (5,), (), (1, 7, 1), (4, 1), (3, 2, 1, 5)]


def test_a_float32_block_by_hand():
    assert contiguous_strides((2, 3, 4), 4) == (48, 16, 4)
    assert contiguous_strides((2, 3, 4), 4, order="F") == (4, 8, 24)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.int8, np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_strides_agree_with_numpy(shape, dtype, order):
    expected = np.empty(shape, dtype=dtype, order=order).strides
    assert contiguous_strides(shape, np.dtype(dtype).itemsize, order) == expected


def test_an_unknown_order_is_refused():
    with pytest.raises(ValueError, match="'K'"):
        contiguous_strides((2, 3), 4, order="K")


base = np.arange(6 * 8, dtype=np.float32).reshape(6, 8)
VIEWS = {
    "contiguous": base,
    "transposed": base.T,
    "every other column": base[:, ::2],
    "every other row": base[::2],
    "rows 1 to end": base[1:],
    "columns 1 to end": base[:, 1:],
    "one column": base[:, :1],
    "one row": base[2:3],
    "new axis": base[None],
    "broadcast": np.broadcast_to(base[:1], (4, 8)),
    "windows": np.lib.stride_tricks.sliding_window_view(base, (3, 3)),
    "reversed": base[::-1],
    "empty slice": base[:, 3:3],
    "fortran copy": np.asfortranarray(base),
    "column of a column vector": np.ones((4, 1))[::2],
}


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("name", list(VIEWS))
def test_contiguity_agrees_with_numpy_flags(name, order):
    view = VIEWS[name]
    expected = view.flags.c_contiguous if order == "C" else view.flags.f_contiguous
    assert bool(is_contiguous(view, order)) == expected, f"{name}: shape {view.shape}, strides {view.strides}"


def test_a_transpose_is_the_same_buffer_read_the_other_way():
    assert is_contiguous(base.T, "F") and not is_contiguous(base.T, "C")
    assert is_contiguous(base, "C") and not is_contiguous(base, "F")
