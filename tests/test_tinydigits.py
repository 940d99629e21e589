"""TinyDigits (tinytorch/data/tinydigits.py): the shipped file, its checks, and its build.

Tests that need the real MNIST look in $TINYTORCH_MNIST_DIR (default: the shared copy at
/work/shared/data/mnist) and skip when it is absent.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import tinytorch
from tinytorch.data import load_tinydigits, mnist, tinydigits

MNIST_DIR = Path(os.environ.get("TINYTORCH_MNIST_DIR", "/work/shared/data/mnist"))
needs_mnist = pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"no MNIST files in {MNIST_DIR}")


@pytest.fixture(scope="module")
def shipped() -> mnist.Digits:
    return load_tinydigits()


@pytest.fixture(scope="module")
def full_mnist() -> mnist.Digits:
    return mnist.load_mnist(MNIST_DIR)


# -- the shipped file --------------------------------------------------------------------

def test_shapes_and_dtypes(shipped: mnist.Digits) -> None:
    x_train, y_train, x_test, y_test = shipped
    assert x_train.shape == (5000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (5000,) and y_train.dtype == np.int64
    assert x_test.shape == (1000, 28, 28) and x_test.dtype == np.uint8
    assert y_test.shape == (1000,) and y_test.dtype == np.int64
    assert shipped.x_train is x_train  # a named tuple: fields or unpacking


def test_exact_class_balance(shipped: mnist.Digits) -> None:
    assert np.bincount(shipped.y_train).tolist() == [500] * 10
    assert np.bincount(shipped.y_test).tolist() == [100] * 10


def test_digits_come_mixed(shipped: mnist.Digits) -> None:
    assert set(shipped.y_train[:100].tolist()) == set(range(10))
    assert set(shipped.y_test[:100].tolist()) == set(range(10))


def test_images_look_like_mnist(shipped: mnist.Digits) -> None:
    x = shipped.x_train
    assert x.min() == 0 and x.max() == 255
    # MNIST digits are centred in a 20x20 box: the 28x28 frame's outer rows are nearly empty.
    assert x[:, :2, :].mean() < 1 and x[:, 10:18, 10:18].mean() > 50
    assert len({image.tobytes() for image in x}) == 5000


def test_file_digest_matches_the_recorded_constant() -> None:
    digest = hashlib.sha256(tinydigits.DEFAULT_PATH.read_bytes()).hexdigest()
    assert digest == tinydigits.TINYDIGITS_SHA256
    assert tinydigits.content_sha256(tinydigits.DEFAULT_PATH) == tinydigits.CONTENT_SHA256


def test_file_is_small_and_pickle_free() -> None:
    assert tinydigits.DEFAULT_PATH.stat().st_size < 3_000_000
    with np.load(tinydigits.DEFAULT_PATH, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(
            ["x_train", "y_train", "x_test", "y_test", "train_index", "test_index"])
        assert all(archive[name].dtype != object for name in archive.files)


def test_data_module_does_not_need_the_core() -> None:
    code = ("import sys, tinytorch.data as d; d.load_tinydigits(); "
            "assert not any(m.startswith('tinytorch.core') for m in sys.modules), sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True,
                   cwd=Path(tinytorch.__file__).parents[1])


# -- damaged files -----------------------------------------------------------------------

def test_tampered_file_names_both_digests(tmp_path: Path) -> None:
    data = bytearray(tinydigits.DEFAULT_PATH.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "tinydigits.npz"
    path.write_bytes(bytes(data))
    actual = hashlib.sha256(bytes(data)).hexdigest()
    with pytest.raises(mnist.ChecksumError) as error:
        load_tinydigits(path)
    message = str(error.value)
    assert f"its sha256 is {actual}, expected {tinydigits.TINYDIGITS_SHA256}" in message
    assert "damaged or was changed" in message


def test_truncated_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "tinydigits.npz"
    path.write_bytes(tinydigits.DEFAULT_PATH.read_bytes()[:100_000])
    with pytest.raises(mnist.ChecksumError, match=f"expected {tinydigits.TINYDIGITS_SHA256} "
                                                  r"\(100,000 bytes read\)"):
        load_tinydigits(path)


def test_missing_file_says_how_to_rebuild(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="tinytorch.data.tinydigits build --mnist DIR"):
        load_tinydigits(tmp_path / "nowhere.npz")


def test_own_file_loads_without_digest(tmp_path: Path) -> None:
    arrays = {"x_train": np.zeros((2, 28, 28), np.uint8), "y_train": np.array([3, 4]),
              "x_test": np.ones((1, 28, 28), np.uint8), "y_test": np.array([5])}
    tinydigits.write_npz(tmp_path / "mine.npz", arrays)
    with pytest.raises(mnist.ChecksumError):
        load_tinydigits(tmp_path / "mine.npz")
    digits = load_tinydigits(tmp_path / "mine.npz", expected_sha256=None)
    assert digits.y_train.tolist() == [3, 4] and digits.x_test.shape == (1, 28, 28)


# -- selection and writing ---------------------------------------------------------------

def test_select_balanced_takes_exactly_per_class_in_mixed_order() -> None:
    labels = np.repeat(np.arange(10), 30)  # sorted by class, 30 each
    chosen = tinydigits.select_balanced(labels, 7, "train")
    assert np.bincount(labels[chosen]).tolist() == [7] * 10
    assert len(set(chosen.tolist())) == 70
    assert not np.all(np.diff(labels[chosen]) >= 0), "the order should mix the digits"
    np.testing.assert_array_equal(chosen, tinydigits.select_balanced(labels, 7, "train"))
    assert not np.array_equal(chosen, tinydigits.select_balanced(labels, 7, "test"))


def test_select_balanced_refuses_a_short_class() -> None:
    labels = np.array([0] * 5 + [1] * 2 + list(range(2, 10)) * 5)
    with pytest.raises(ValueError, match=r"cannot take 3 of every digit from the train split: "
                                         r"it has \[5, 2, 5, 5"):
        tinydigits.select_balanced(labels, 3, "train")


def test_write_npz_is_reproducible_and_readable(tmp_path: Path) -> None:
    arrays = {"a": np.arange(12, dtype=np.int64).reshape(3, 4), "b": np.eye(3, dtype=np.uint8)}
    tinydigits.write_npz(tmp_path / "one.npz", arrays)
    tinydigits.write_npz(tmp_path / "two.npz", arrays)
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    with np.load(tmp_path / "one.npz", allow_pickle=False) as archive:
        for name, array in arrays.items():
            np.testing.assert_array_equal(archive[name], array)
            assert archive[name].dtype == array.dtype
    with zipfile.ZipFile(tmp_path / "one.npz") as archive:
        assert [info.date_time for info in archive.infolist()] == [(1980, 1, 1, 0, 0, 0)] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.npz", "two.npz"]


def test_build_refuses_files_that_are_not_mnist(tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    rng = np.random.default_rng(0)
    for name, array in ((mnist.TRAIN_IMAGES, rng.integers(0, 256, (20, 28, 28))),
                        (mnist.TRAIN_LABELS, np.arange(20) % 10),
                        (mnist.TEST_IMAGES, rng.integers(0, 256, (20, 28, 28))),
                        (mnist.TEST_LABELS, np.arange(20) % 10)):
        header = bytes([0, 0, 8, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
        (fake / name).write_bytes(header + array.astype(np.uint8).tobytes())
    out = tmp_path / "out.npz"
    with pytest.raises(mnist.ChecksumError, match=f"not the official {mnist.TRAIN_IMAGES}"):
        tinydigits.build_tinydigits(fake, out)
    assert not out.exists()


# -- provenance and reproducibility against the real MNIST -------------------------------

@needs_mnist
def test_every_image_is_an_official_mnist_image(shipped: mnist.Digits,
                                                full_mnist: mnist.Digits) -> None:
    with np.load(tinydigits.DEFAULT_PATH, allow_pickle=False) as archive:
        train_index, test_index = archive["train_index"], archive["test_index"]
    np.testing.assert_array_equal(shipped.x_train, full_mnist.x_train[train_index])
    np.testing.assert_array_equal(shipped.y_train, full_mnist.y_train[train_index])
    np.testing.assert_array_equal(shipped.x_test, full_mnist.x_test[test_index])
    np.testing.assert_array_equal(shipped.y_test, full_mnist.y_test[test_index])
    # Independently of the stored indices: a sample of images found among the official ones.
    official_train = {image.tobytes() for image in full_mnist.x_train}
    official_test = {image.tobytes() for image in full_mnist.x_test}
    assert all(image.tobytes() in official_train for image in shipped.x_train[::25])
    assert all(image.tobytes() in official_test for image in shipped.x_test[::10])


@needs_mnist
def test_build_is_deterministic_and_reproduces_the_shipped_arrays(tmp_path: Path) -> None:
    first = tinydigits.build_tinydigits(MNIST_DIR, tmp_path / "first.npz")
    result = subprocess.run(
        [sys.executable, "-m", "tinytorch.data.tinydigits", "build", "--mnist", str(MNIST_DIR),
         "--out", str(tmp_path / "second.npz")],
        check=False, cwd=Path(tinytorch.__file__).parents[1], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # e.g. no runpy warning about a module imported twice
    assert first.read_bytes() == (tmp_path / "second.npz").read_bytes()
    assert tinydigits.content_sha256(first) == tinydigits.CONTENT_SHA256
    assert "the arrays equal the shipped" in result.stdout or "byte for byte" in result.stdout
