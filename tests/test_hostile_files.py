"""Hostile files: truncated, garbled, forged and oversized inputs to every reader of files.

Each case is refused with one clear error that names the file and the entry at fault,
returns nothing half-read, and, for files that ask for more memory than they hold (a
header declaring gigabytes, a gzip bomb), allocates next to nothing before refusing:
``tracemalloc`` (which sees NumPy's allocations too) bounds the peak.

Everything tested here is given code (``tinytorch/untrusted.py``, the file format of kata
16, the data loaders), the same in the stubs and the reference. What the student writes,
``load_checkpoint`` refusing a forged checkpoint without touching the model, is tested in
kata 07 (``katas/07_training/test_5_checkpoints.py``).
"""

from __future__ import annotations

import gzip
import io
import json
import pickle
import struct
import tarfile
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from tinytorch.data import cifar10, mnist, tinydigits, tinytalks
from tinytorch.systems.compression import SparseTensor, load_compressed, save_compressed
from tinytorch.systems.quantization import QuantizedTensor
from tinytorch.untrusted import (
    MAX_NPZ_BYTES,
    FileFormatError,
    check_fits,
    check_number,
    read_json_entry,
    read_npz,
)

MEMORY_BOUND_BYTES = 4 << 20  # what refusing a bomb may allocate: a few MB, not gigabytes
GIB = 1 << 30


@contextmanager
def peak_memory() -> Iterator[Callable[[], int]]:
    """``with peak_memory() as peak: ...``, then ``peak()``: the most bytes allocated inside."""
    tracemalloc.start()
    peaks: list[int] = []
    try:
        yield lambda: peaks[0]
    finally:
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


def refused(error: pytest.ExceptionInfo, path: Path, *fields: str) -> str:
    """The error's message, after checking that it names the file and every field."""
    message = str(error.value)
    assert str(path) in message, f"the error should name the file: {message}"
    for field in fields:
        assert field in message, f"the error should name {field!r}: {message}"
    return message


def npy_bytes(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, array, allow_pickle=False)
    return out.getvalue()


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    """A ``.npy`` header (magic, version, length, dict) that declares ``shape`` of ``descr``."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": descr, "fortran_order": False, "shape": shape})
    return out.getvalue()


def write_zip(path: Path, members: dict[str, bytes], deflate: bool = False) -> None:
    method = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def declare_size(path: Path, member_size: int) -> None:
    """Overwrite the unpacked size the zip directory declares for its first member."""
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")  # the first central-directory record
    struct.pack_into("<I", data, entry + 24, member_size)
    path.write_bytes(bytes(data))


# -- read_npz: the reader behind checkpoints, compressed models and TinyDigits ---------------

def test_a_good_archive_comes_back_whole_and_writable(tmp_path):
    path = tmp_path / "good.npz"
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "text": np.array("{}"),
              "f": np.asfortranarray(np.ones((3, 2)))}
    with open(path, "wb") as file:
        np.savez_compressed(file, **arrays)
    back = read_npz(path)
    assert list(back) == list(arrays)
    for name, array in arrays.items():
        np.testing.assert_array_equal(back[name], array)
        assert back[name].dtype == array.dtype and back[name].flags.writeable


@pytest.mark.parametrize("content, problem", [
    (b"", "empty"),
    (npy_bytes(np.zeros(3)), "bare .npy"),
    (b"not a zip at all, just some text", "truncated or corrupt"),
], ids=["empty", "bare-npy", "garbled"])
def test_files_that_are_not_archives_are_named(tmp_path, content, problem):
    path = tmp_path / "model.npz"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=problem) as error:
        read_npz(path)
    refused(error, path)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_npz(tmp_path / "nowhere.npz")


@pytest.mark.parametrize("keep", [0.3, 0.7, 0.99])
def test_a_truncated_archive_is_one_clear_error(tmp_path, keep):
    path = tmp_path / "cut.npz"
    with open(path, "wb") as file:
        np.savez(file, a=np.ones(1000), b=np.zeros(1000))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(FileFormatError, match="truncated or corrupt") as error:
        read_npz(path)
    refused(error, path)


def test_a_damaged_byte_fails_the_crc(tmp_path):
    path = tmp_path / "damaged.npz"
    with open(path, "wb") as file:
        np.savez(file, weights=np.linspace(-1, 1, 500))
    data = bytearray(path.read_bytes())
    data[data.index(np.linspace(-1, 1, 500).tobytes()) + 100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="truncated or corrupt") as error:
        read_npz(path)
    refused(error, path, "weights")


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    with open(path, "wb") as file:
        np.savez(file, ok=np.zeros(2), evil=np.array([{"runs": "code"}], dtype=object))
    with pytest.raises(FileFormatError, match="pickle") as error:
        read_npz(path)
    refused(error, path, "evil")


@pytest.mark.parametrize("members, field, problem", [
    ({"notes.txt": b"hello"}, "notes.txt", "not a .npy"),
    ({"w.npy": b"\x93NUMPY\x09\x00garbage"}, "w", "no valid .npy header"),
    ({"w.npy": npy_header((-4,)) + b"\0" * 32}, "w", "negative"),
], ids=["not-npy", "bad-header", "negative-shape"])
def test_members_that_are_not_arrays_are_named(tmp_path, members, field, problem):
    path = tmp_path / "odd.npz"
    write_zip(path, members)
    with pytest.raises(FileFormatError, match=problem) as error:
        read_npz(path)
    refused(error, path, field)


def test_a_header_declaring_a_huge_shape_is_refused_before_allocating(tmp_path):
    """A 200-byte archive whose header asks for 8 TB (10**6 x 10**6 float64)."""
    path = tmp_path / "huge.npz"
    write_zip(path, {"model/0.weight.npy": npy_header((10**6, 10**6)) + b"\0" * 64})
    with peak_memory() as peak, pytest.raises(FileFormatError, match="declares shape") as error:
        read_npz(path)
    refused(error, path, "model/0.weight", "8,000,000,000,000 bytes")
    assert peak() < MEMORY_BOUND_BYTES, f"refusing allocated {peak():,} bytes"


def test_a_zip_directory_declaring_more_than_the_cap_is_refused_before_reading(tmp_path):
    path = tmp_path / "declared.npz"
    array = np.zeros(16)
    write_zip(path, {"w.npy": npy_bytes(array)})
    declare_size(path, 2 * GIB)
    with peak_memory() as peak, pytest.raises(FileFormatError, match="max_bytes") as error:
        read_npz(path)
    refused(error, path, "'w'", f"{MAX_NPZ_BYTES:,}")
    assert peak() < MEMORY_BOUND_BYTES


def test_a_deflate_bomb_is_refused_by_its_declared_size(tmp_path):
    """64 MB of zeros deflate to 64 kB; with a cap of 1 MB they are refused unread."""
    path = tmp_path / "bomb.npz"
    write_zip(path, {"zeros.npy": npy_bytes(np.zeros(8 << 20))}, deflate=True)
    assert path.stat().st_size < 200_000
    with peak_memory() as peak, pytest.raises(FileFormatError, match="max_bytes") as error:
        read_npz(path, max_bytes=1 << 20)
    refused(error, path, "zeros")
    assert peak() < MEMORY_BOUND_BYTES


def test_a_member_whose_header_disagrees_with_the_zip_is_refused(tmp_path):
    path = tmp_path / "short.npz"
    write_zip(path, {"w.npy": npy_header((100,)) + b"\0" * 8})
    with pytest.raises(FileFormatError, match=r"declares shape \(100,\).*800 bytes.*8 bytes") as error:
        read_npz(path)
    refused(error, path, "'w'")


# -- the checks a loader makes before it copies anything -------------------------------------

@pytest.mark.parametrize("array, problem", [
    (np.zeros((2, 2), np.float32), "shape"),
    (np.ones(3, np.complex64), "complex64"),
    (np.array(["a", "b", "c"]), "<U1"),
    (np.array([1.0, np.inf, 0.0], np.float32), "NaN or infinite"),
    (np.array([1e300, 0.0, 0.0]), "range of float32"),
    (np.arange(3), "int64"),
], ids=["shape", "complex", "text", "inf", "beyond-float32", "integers"])
def test_check_fits_refuses_what_cannot_replace_a_float_array(tmp_path, array, problem):
    with pytest.raises(FileFormatError, match=problem) as error:
        check_fits(tmp_path / "x.ckpt", "model/0.bias", array, np.zeros(3, np.float32))
    refused(error, tmp_path / "x.ckpt", "model/0.bias")


def test_check_fits_keeps_integers_in_their_range(tmp_path):
    check_fits(tmp_path / "q.ckpt", "scale", np.array([-128, 127]), np.zeros(2, np.int8))
    with pytest.raises(FileFormatError, match="beyond the range of int8"):
        check_fits(tmp_path / "q.ckpt", "weight_data", np.array([300, 0]), np.zeros(2, np.int8))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, "0.1", None, True, 10**400])
def test_check_number_refuses_what_is_not_a_finite_non_negative_number(tmp_path, value):
    with pytest.raises(FileFormatError, match="optimizer.lr") as error:
        check_number(tmp_path / "c.ckpt", "optimizer.lr", value)
    refused(error, tmp_path / "c.ckpt")


@pytest.mark.parametrize("text, problem", [
    (json.dumps([1, 2, 3]), "JSON list"),
    ("{not json", "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "nested"),
    (json.dumps({"a": [[[[[[]]]]]]}).replace("[]", "[" * 70 + "]" * 70), "nested"),
], ids=["list", "garbled", "deep", "deeper-than-the-cap"])
def test_read_json_entry_refuses_what_is_not_a_json_object(tmp_path, text, problem):
    with pytest.raises(FileFormatError, match=problem) as error:
        read_json_entry(tmp_path / "c.ckpt", "metadata", np.array(text))
    refused(error, tmp_path / "c.ckpt", "metadata")


# -- compressed models (kata 16's file format) -----------------------------------------------

def sparse_weight(quantize: bool = False) -> SparseTensor:
    dense = np.array([[0.0, 1.5, 0.0], [-2.0, 0.0, 0.0], [0.0, 0.0, 3.25], [0.5, 0.0, 0.0]],
                     dtype=np.float32)
    nonzero = dense != 0
    values: np.ndarray | QuantizedTensor = dense[nonzero]
    if quantize:
        values = QuantizedTensor(np.array([45, -60, 97, 15], dtype=np.int8), np.float32(0.0335),
                                 np.int32(0))
    return SparseTensor(dense.shape, dense.dtype, np.packbits(nonzero.ravel()), values)


def saved_model(path: Path, quantize: bool = False) -> dict[str, np.ndarray]:
    """A compressed model with a sparse weight and a dense bias, and the arrays in its file."""
    save_compressed(path, {"0.weight": sparse_weight(quantize), "0.bias": np.ones(3, np.float32)})
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def rewrite(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as file:
        np.savez(file, **arrays)


@pytest.mark.parametrize("quantize", [False, True], ids=["float32", "int8"])
def test_a_compressed_model_comes_back_as_saved(tmp_path, quantize):
    path = tmp_path / "model.npz"
    saved_model(path, quantize)
    stored = load_compressed(path)
    assert list(stored) == ["0.weight", "0.bias"]
    weight, expected = stored["0.weight"], sparse_weight(quantize)
    assert isinstance(weight, SparseTensor)
    assert weight.shape == expected.shape and weight.dtype == expected.dtype
    np.testing.assert_array_equal(weight.bitmask, expected.bitmask)
    if quantize:
        assert isinstance(weight.values, QuantizedTensor)
        assert weight.values.scale == np.float32(0.0335) and weight.values.zero_point == 0
    else:
        np.testing.assert_array_equal(weight.values, expected.values)


def test_int8_values_without_their_scale_are_refused(tmp_path):
    """Read as floats, the int8 values would come back as 45 instead of 45 * 0.0335."""
    path = tmp_path / "noscale.npz"
    arrays = saved_model(path, quantize=True)
    del arrays["0.weight/scale"]
    rewrite(path, arrays)
    with pytest.raises(FileFormatError, match=r"missing \['scale'\]") as error:
        load_compressed(path)
    refused(error, path, "0.weight")


@pytest.mark.parametrize("edit, field, problem", [
    (lambda a: a.update({"0.weight/shape": np.array([8, 3])}), "0.weight/bitmask", r"\(3,\)"),
    (lambda a: a.update({"0.weight/dtype": np.array("|O")}), "0.weight/dtype", "floating-point"),
    (lambda a: a.update({"0.weight/dtype": np.array("banana")}), "0.weight/dtype", "floating-point"),
    (lambda a: a.update({"0.weight/shape": np.array([4, -3])}), "0.weight/shape", "non-negative"),
    (lambda a: a.update({"0.weight/shape": np.array([10**6, 10**6])}), "0.weight", "bytes dense"),
    (lambda a: a.update({"0.weight/values": a["0.weight/values"][:3]}), "0.weight/values", "marks 4"),
    (lambda a: a.update({"0.weight/values": a["0.weight/values"].astype(np.float64)}),
     "0.weight/values", "float64"),
    (lambda a: a.update({"0.weight/values": np.array([1.0, np.nan, 2, 3], np.float32)}),
     "0.weight/values", "NaN"),
    (lambda a: a.update({"0.weight/bitmask": a["0.weight/bitmask"] | np.uint8(1)}),
     "0.weight/bitmask", "past the 12"),
    (lambda a: a.update({"0.weight/extra": np.zeros(1)}), "0.weight", "unexpected ['extra']"),
    (lambda a: a.update({"0.bias": np.array([1j, 0, 0])}), "0.bias", "complex"),
    (lambda a: a.update({"0.weight": np.zeros(3)}), "0.weight", "both dense and sparse"),
], ids=["shape-over-bitmask", "dtype-object", "dtype-unknown", "negative-shape", "huge-shape",
        "too-few-values", "values-dtype", "nan-value", "padding-bits", "extra-part", "complex-dense",
        "dense-and-sparse"])
def test_parts_that_do_not_agree_are_refused(tmp_path, edit, field, problem):
    path = tmp_path / "forged.npz"
    arrays = saved_model(path)
    edit(arrays)
    rewrite(path, arrays)
    with pytest.raises(FileFormatError, match=problem.replace("[", r"\[").replace("]", r"\]")) as error:
        load_compressed(path)
    refused(error, path, field)


@pytest.mark.parametrize("scale, zero_point, field", [
    (np.float32(0), np.int32(0), "0.weight/scale"),
    (np.float32(np.nan), np.int32(0), "0.weight/scale"),
    (np.float32(0.1), np.int32(300), "0.weight/zero_point"),
    (np.float32(0.1), np.float32(0.5), "0.weight/zero_point"),
], ids=["zero-scale", "nan-scale", "zero-point-out-of-range", "float-zero-point"])
def test_quantization_parameters_that_cannot_be_right_are_refused(tmp_path, scale, zero_point, field):
    path = tmp_path / "q.npz"
    arrays = saved_model(path, quantize=True)
    arrays.update({"0.weight/scale": np.asarray(scale), "0.weight/zero_point": np.asarray(zero_point)})
    rewrite(path, arrays)
    with pytest.raises(FileFormatError) as error:
        load_compressed(path)
    refused(error, path, field)


@pytest.mark.parametrize("damage", [
    lambda data: data[: len(data) // 2],
    lambda data: data[:100] + bytes(200) + data[300:],
    lambda data: b"",
], ids=["truncated", "garbled", "empty"])
def test_a_damaged_compressed_model_is_one_clear_error(tmp_path, damage):
    path = tmp_path / "model.npz"
    saved_model(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(FileFormatError) as error:
        load_compressed(path)
    refused(error, path)


def test_a_name_holding_a_slash_is_refused_before_the_file_is_written(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"the previous model")
    with pytest.raises(ValueError, match="'a/b'"):
        save_compressed(path, {"a/b": np.zeros(2)})
    assert path.read_bytes() == b"the previous model"


# -- MNIST's gzipped IDX files ---------------------------------------------------------------

def idx_header(*shape: int) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, len(shape)) + b"".join(struct.pack(">I", n) for n in shape)


def test_a_gzip_idx_header_promising_gigabytes_is_refused_before_inflating(tmp_path):
    """The issue's bomb: a small gzip whose header promises 3.9 GB (5,000,000 images)."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header(5_000_000, 28, 28) + bytes(16 << 20), compresslevel=1))
    assert path.stat().st_size < 200_000
    with peak_memory() as peak, pytest.raises(mnist.IdxFormatError, match="max_bytes") as error:
        mnist.read_idx(path)
    refused(error, path, "(5000000, 28, 28)", "3,920,000,000 bytes")
    assert peak() < MEMORY_BOUND_BYTES, f"refusing allocated {peak():,} bytes"


def test_a_header_within_the_cap_over_little_data_allocates_only_what_is_there(tmp_path):
    """Inflated in chunks: a promise of 500 MB over 1 MB of data never costs 500 MB."""
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_header(500_000_000) + bytes(1 << 20)))
    with peak_memory() as peak, pytest.raises(mnist.IdxFormatError, match="truncated") as error:
        mnist.read_idx(path)
    refused(error, path, "(500000000,)")
    assert peak() < MEMORY_BOUND_BYTES + 3 * (1 << 20)


def test_data_past_the_promise_is_refused_without_reading_it_all(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_header(3) + bytes([1, 2, 3]) + bytes(64 << 20)))
    with peak_memory() as peak, pytest.raises(mnist.IdxFormatError, match="trailing bytes") as error:
        mnist.read_idx(path)
    refused(error, path, "(3,)")
    assert peak() < MEMORY_BOUND_BYTES


def test_a_smaller_cap_can_be_asked_for(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(idx_header(2, 28, 28) + bytes(2 * 784))
    assert mnist.read_idx(path).shape == (2, 28, 28)
    with pytest.raises(mnist.IdxFormatError, match="max_bytes"):
        mnist.read_idx(path, max_bytes=1000)


# -- CIFAR-10's archive and pickles ----------------------------------------------------------

def tar_gz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9])
def test_a_truncated_tar_gz_is_one_clear_error(tmp_path, keep):
    rng = np.random.default_rng(0)
    data = tar_gz({"cifar-10-batches-py/data_batch_1": rng.bytes(300_000)})
    path = tmp_path / cifar10.ARCHIVE
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(cifar10.Cifar10FormatError, match="truncated or damaged") as error:
        cifar10.extract_safely(path, tmp_path / "out")
    refused(error, path)


def test_an_archive_declaring_more_than_the_cap_is_refused_before_writing(tmp_path):
    path = tmp_path / cifar10.ARCHIVE
    path.write_bytes(tar_gz({"cifar-10-batches-py/data_batch_1": bytes(600_000),
                             "cifar-10-batches-py/data_batch_2": bytes(600_000)}))
    with pytest.raises(cifar10.UnsafeArchiveError, match="max_bytes") as error:
        cifar10.extract_safely(path, tmp_path / "out", max_bytes=1_000_000)
    refused(error, path, "data_batch_2")
    assert not (tmp_path / "out").exists(), "nothing is written before every member is checked"


@pytest.mark.parametrize("declared", [1 << 40, 1 << 33])
def test_a_pickle_declaring_a_huge_string_is_refused_before_allocating(tmp_path, declared):
    path = tmp_path / "data_batch_1"
    path.write_bytes(b"\x80\x04\x8e" + declared.to_bytes(8, "little") + b"tiny")  # BINBYTES8
    with peak_memory() as peak, pytest.raises(cifar10.Cifar10FormatError) as error:
        cifar10.read_batch(path)
    refused(error, path, f"{declared} bytes")
    assert peak() < MEMORY_BOUND_BYTES


def test_a_pickle_of_millions_of_objects_is_refused(tmp_path):
    path = tmp_path / "data_batch_1"
    # 1.2 million one-byte EMPTY_DICT opcodes: 1.2 MB of file, 77 MB of dicts (64 bytes each)
    path.write_bytes(b"\x80\x02" + b"}" * (cifar10.MAX_PICKLE_OPCODES + 200_000) + b".")
    with peak_memory() as peak, pytest.raises(cifar10.Cifar10FormatError, match="opcodes") as error:
        cifar10.read_batch(path)
    refused(error, path)
    assert peak() < MEMORY_BOUND_BYTES


def test_a_real_batch_still_reads(tmp_path):
    path = tmp_path / "data_batch_1"
    images = np.arange(2 * 3072, dtype=np.int64).reshape(2, 3072) % 256
    path.write_bytes(pickle.dumps({b"data": images.astype(np.uint8), b"labels": [3, 7]}, protocol=2))
    x, y = cifar10.read_batch(path)
    assert x.shape == (2, 3, 32, 32) and y.tolist() == [3, 7]


# -- TinyDigits and TinyTalks files of your own ----------------------------------------------

def test_an_own_tinydigits_file_is_read_safely(tmp_path):
    path = tmp_path / "mine.npz"
    write_zip(path, {"x_train.npy": npy_header((10**6, 28, 28), "|u1") + bytes(64)})
    with pytest.raises(FileFormatError, match="declares shape") as error:
        tinydigits.load_tinydigits(path, expected_sha256=None)
    refused(error, path, "x_train")


@pytest.mark.parametrize("name, array, problem", [
    ("x_train", np.zeros((2, 28, 28), np.float32), "float32"),
    ("x_test", np.zeros((1, 14, 14), np.uint8), r"\(1, 14, 14\)"),
    ("y_train", np.array([3, 12]), "label 12"),
    ("y_test", np.array([-1]), "label -1"),
    ("y_train", np.array([3.0, 4.0]), "float64"),
], ids=["float-images", "small-images", "label-too-big", "negative-label", "float-labels"])
def test_an_own_tinydigits_file_must_hold_digits(tmp_path, name, array, problem):
    arrays = {"x_train": np.zeros((2, 28, 28), np.uint8), "y_train": np.array([3, 4]),
              "x_test": np.ones((1, 28, 28), np.uint8), "y_test": np.array([5])}
    arrays[name] = array
    path = tmp_path / "mine.npz"
    tinydigits.write_npz(path, arrays)
    with pytest.raises(ValueError, match=problem) as error:
        tinydigits.load_tinydigits(path, expected_sha256=None)
    refused(error, path, name)


def test_tinytalks_files_that_are_not_utf8_or_not_dialogue_are_named(tmp_path):
    (tmp_path / "train.txt").write_bytes(b"Q: caf\xe9?\nA: yes\n")
    with pytest.raises(ValueError, match="not UTF-8") as error:
        tinytalks.load_tinytalks("train", tmp_path)
    refused(error, tmp_path / "train.txt")
    (tmp_path / "test.txt").write_text("Q: one?\nA: 1\n\nQ: two?\nQ: three?\n")
    with pytest.raises(ValueError, match="block 2") as error:
        tinytalks.tinytalks_pairs("test", tmp_path)
    refused(error, tmp_path / "test.txt")
