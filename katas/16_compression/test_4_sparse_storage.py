"""Sparse storage: a bitmask and the packed non-zero values, whose bytes really shrink.

Sizes are the stored arrays' own ``nbytes``, compared with the exact formula
``ceil(n / 8) + nnz * bytes per value``. Without quantization the round trip must give the
dense array back bit for bit; with it, the zeros stay exactly zero.
"""

import math

import numpy as np
import pytest

from tinytorch.core import ReLU
from tinytorch.nn import Linear, Sequential
from tinytorch.systems.compression import (
    SparseTensor,
    compress_state_dict,
    decompress_state_dict,
    global_magnitude_prune,
    load_compressed,
    save_compressed,
    stored_nbytes,
    to_sparse,
)
from tinytorch.systems.quantization import QuantizedTensor, quantize_tensor


def sparse_array(shape, density, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(shape).astype(dtype)
    return values * (rng.random(shape) < density)


@pytest.mark.parametrize("shape", [(7, 5), (64, 32), (13,), (4, 3, 3, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_round_trip_is_exact(shape, dtype):
    dense = sparse_array(shape, 0.2, dtype, seed=len(shape))
    stored = to_sparse(dense)
    back = stored.to_dense()
    assert back.shape == dense.shape and back.dtype == dense.dtype
    np.testing.assert_array_equal(back, dense)


def test_the_layout_is_packbits_of_the_nonzeros_and_the_values_in_c_order():
    dense = np.array([[0.0, 1.5, 0.0], [-2.0, 0.0, 0.0], [0.0, 0.0, 3.25]], dtype=np.float32)
    stored = to_sparse(dense)
    assert stored.bitmask.dtype == np.uint8
    np.testing.assert_array_equal(stored.bitmask, np.array([0b01010000, 0b10000000], dtype=np.uint8))
    np.testing.assert_array_equal(stored.values, np.array([1.5, -2.0, 3.25], dtype=np.float32))
    assert stored.nnz == 3 and stored.shape == (3, 3)


@pytest.mark.parametrize("shape, density", [((784, 128), 0.1), ((128, 10), 0.5), ((9, 7), 0.3)])
def test_bytes_are_one_bit_per_element_plus_the_values(shape, density):
    dense = sparse_array(shape, density)
    stored = to_sparse(dense)
    nnz = int(np.count_nonzero(dense))
    assert stored.nbytes == math.ceil(dense.size / 8) + 4 * nnz
    assert stored.nbytes == stored.bitmask.nbytes + stored.values.nbytes
    if density <= 0.5:
        assert stored.nbytes < dense.nbytes


def test_at_90_percent_sparsity_the_bytes_shrink_7_6_times():
    dense = sparse_array((784, 128), 0.1, seed=3)
    ratio = dense.nbytes / to_sparse(dense).nbytes
    assert 7.0 < ratio < 8.2, f"float32 at 10 % density should store ~7.6 x smaller, got {ratio:.2f} x"


def test_quantized_values_are_the_kept_values_only_and_zeros_stay_zero():
    dense = sparse_array((64, 32), 0.1, seed=4)
    kept = dense[dense != 0]
    stored = to_sparse(dense, quantize=True)
    assert isinstance(stored.values, QuantizedTensor)
    assert stored.values.data.dtype == np.int8 and stored.values.data.shape == kept.shape
    reference = quantize_tensor(kept)
    np.testing.assert_array_equal(stored.values.data, reference.data)
    assert stored.values.scale == reference.scale and stored.values.zero_point == reference.zero_point
    assert stored.nbytes == math.ceil(dense.size / 8) + kept.size + 4 + 4  # int8 values, scale, zero point

    back = stored.to_dense()
    assert back.dtype == np.float32 and back.shape == dense.shape
    assert (back[dense == 0] == 0).all(), "a pruned weight must come back exactly 0"
    np.testing.assert_array_equal(back[dense != 0], reference.dequantize())
    assert np.abs(back - dense).max() <= float(reference.scale) / 2 + 1e-7


def test_an_all_zero_weight_stores_only_its_bitmask():
    stored = to_sparse(np.zeros((5, 4), dtype=np.float32), quantize=True)
    assert stored.nbytes == 3 and stored.nnz == 0
    np.testing.assert_array_equal(stored.to_dense(), np.zeros((5, 4), dtype=np.float32))


def test_a_state_dict_stores_weights_sparse_and_biases_dense():
    model = Sequential(Linear(30, 20, rng=0), ReLU(), Linear(20, 4, rng=1))
    model[0].bias.data[:] = np.linspace(-1, 1, 20)
    global_magnitude_prune(model, 0.8)
    state = model.state_dict()
    stored = compress_state_dict(state)
    assert isinstance(stored["0.weight"], SparseTensor) and isinstance(stored["2.weight"], SparseTensor)
    assert isinstance(stored["0.bias"], np.ndarray) and isinstance(stored["2.bias"], np.ndarray)
    back = decompress_state_dict(stored)
    assert list(back) == list(state)
    for name in state:
        np.testing.assert_array_equal(back[name], state[name], err_msg=name)
    assert stored_nbytes(stored) == (math.ceil(600 / 8) + math.ceil(80 / 8) + 4 * (600 + 80) // 5
                                     + 4 * (20 + 4))
    state["0.bias"][:] = 7.0
    assert (stored["0.bias"] != 7.0).all(), "stored arrays are copies, not views of the model"

    quantized = compress_state_dict(state, quantize=True)
    assert isinstance(quantized["0.weight"].values, QuantizedTensor)
    assert quantized["0.bias"].dtype == np.float32
    fresh = Sequential(Linear(30, 20), ReLU(), Linear(20, 4))
    fresh.load_state_dict(decompress_state_dict(quantized))
    assert (fresh[0].weight.numpy()[state["0.weight"] == 0] == 0).all()


@pytest.mark.parametrize("quantize", [False, True], ids=["float32", "int8"])
def test_the_file_holds_the_stored_bytes_and_gives_the_same_weights_back(tmp_path, quantize):
    model = Sequential(Linear(256, 128, rng=0), ReLU(), Linear(128, 10, rng=1))
    global_magnitude_prune(model, 0.9)
    stored = compress_state_dict(model.state_dict(), quantize=quantize)
    file_bytes = save_compressed(tmp_path / "model.npz", stored)
    assert file_bytes == (tmp_path / "model.npz").stat().st_size
    # the arrays' own bytes, plus a header of a few hundred bytes per array in the archive
    assert stored_nbytes(stored) < file_bytes < stored_nbytes(stored) + 400 * 20
    dense = sum(array.nbytes for array in model.state_dict().values())
    assert file_bytes < dense / (8 if quantize else 5), "the file must shrink like the arrays"
    back = decompress_state_dict(load_compressed(tmp_path / "model.npz"))
    expected = decompress_state_dict(stored)
    assert list(back) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(back[name], expected[name], err_msg=name)
        assert back[name].dtype == expected[name].dtype


def test_bad_arrays_are_refused():
    with pytest.raises(TypeError, match="int64"):
        to_sparse(np.arange(6).reshape(2, 3))
    with pytest.raises(ValueError, match=r"\(0, 3\)"):
        to_sparse(np.zeros((0, 3), dtype=np.float32))
