"""MNIST IDX reading and the full-MNIST downloader (tinytorch/data/mnist.py).

The network is never touched: mirrors are file:// URLs in a temporary folder, or a fake
``urlopen``. Tests that need the real MNIST look in $TINYTORCH_MNIST_DIR (default: the
shared copy at /work/shared/data/mnist) and skip when it is absent.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tinytorch.data import mnist

MNIST_DIR = Path(os.environ.get("TINYTORCH_MNIST_DIR", "/work/shared/data/mnist"))
needs_mnist = pytest.mark.skipif(not MNIST_DIR.is_dir(), reason=f"no MNIST files in {MNIST_DIR}")


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file for a uint8 array, written from the format's definition."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fake_mnist(folder: Path, n_train: int = 12, n_test: int = 5,
                     gz: bool = True) -> mnist.Digits:
    """Small random IDX files under the official names; returns what they hold."""
    rng = np.random.default_rng(0)
    digits = mnist.Digits(
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_train),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), rng.integers(0, 10, n_test))
    names = [mnist.TRAIN_IMAGES, mnist.TRAIN_LABELS, mnist.TEST_IMAGES, mnist.TEST_LABELS]
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(names, digits):
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / name).write_bytes(data)
    return digits


# -- IDX parsing -------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_read_idx_round_trips_images_and_labels(tmp_path: Path, gz: bool) -> None:
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28) % 256
    labels = np.array([7, 0, 9])
    for name, array in (("images", images), ("labels", labels)):
        data = idx_bytes(array)
        path = tmp_path / name
        path.write_bytes(gzip.compress(data) if gz else data)
        result = mnist.read_idx(path)
        assert result.dtype == np.uint8 and result.shape == array.shape
        np.testing.assert_array_equal(result, array)
        assert result.flags.writeable


def test_gzip_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    labels = np.array([1, 2, 3])
    (tmp_path / "labels").write_bytes(gzip.compress(idx_bytes(labels)))
    (tmp_path / "labels.gz").write_bytes(idx_bytes(labels))
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "labels"), labels)
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "labels.gz"), labels)


def test_bad_magic_is_rejected() -> None:
    with pytest.raises(mnist.IdxFormatError,
                       match="not an IDX file: it starts with bytes 50 4b 03 04"):
        mnist.parse_idx(b"PK\x03\x04rest", "some.zip")


def test_unsupported_element_type_is_rejected() -> None:
    data = struct.pack(">BBBBI", 0, 0, 0x0D, 1, 2) + b"\0" * 8  # 0x0D = float32
    with pytest.raises(mnist.IdxFormatError, match="element type 0x0d is not supported"):
        mnist.parse_idx(data, "floats")


def test_truncated_data_names_both_sizes() -> None:
    data = idx_bytes(np.zeros((2, 28, 28)))[:-10]
    with pytest.raises(mnist.IdxFormatError,
                       match=r"truncated: its header promises shape \(2, 28, 28\), 1,568 bytes "
                             r"of data, but it holds 1,558"):
        mnist.parse_idx(data, "images")


def test_trailing_bytes_are_rejected() -> None:
    with pytest.raises(mnist.IdxFormatError, match="has trailing bytes.*promises shape \\(3,\\), "
                                                   "3 bytes of data, but it holds 4"):
        mnist.parse_idx(idx_bytes(np.array([1, 2, 3])) + b"\0", "labels")


def test_truncated_header_is_rejected() -> None:
    with pytest.raises(mnist.IdxFormatError, match="truncated header: 3 dimensions need 16"):
        mnist.parse_idx(idx_bytes(np.zeros((1, 2, 2)))[:9], "images")


def test_damaged_gzip_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(100) % 10))[:-12])
    with pytest.raises(mnist.IdxFormatError, match="labels.gz: the gzip data is damaged"):
        mnist.read_idx(path)


# -- load_mnist --------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_load_mnist_returns_the_files_arrays(tmp_path: Path, gz: bool) -> None:
    expected = write_fake_mnist(tmp_path, gz=gz)
    digits = mnist.load_mnist(tmp_path, verify=False)
    x_train, y_train, x_test, y_test = digits
    assert digits.x_train is x_train
    for got, want in zip(digits, expected):
        np.testing.assert_array_equal(got, want)
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64


def test_load_mnist_verifies_md5_by_default(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    actual = hashlib.md5(mnist.read_idx_bytes(tmp_path / f"{mnist.TRAIN_IMAGES}.gz")).hexdigest()
    with pytest.raises(mnist.ChecksumError) as error:
        mnist.load_mnist(tmp_path)
    message = str(error.value)
    assert mnist.TRAIN_IMAGES in message and actual in message
    assert mnist.RAW_MD5[mnist.TRAIN_IMAGES] in message


def test_missing_file_says_how_to_get_it(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    (tmp_path / f"{mnist.TEST_LABELS}.gz").unlink()
    with pytest.raises(FileNotFoundError, match=f"{mnist.TEST_LABELS} \\(or {mnist.TEST_LABELS}"
                                                f".gz\\) not found in .*download_mnist"):
        mnist.load_mnist(tmp_path, verify=False)


def test_swapped_files_are_caught(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    images, labels = tmp_path / f"{mnist.TRAIN_IMAGES}.gz", tmp_path / f"{mnist.TRAIN_LABELS}.gz"
    images_bytes, labels_bytes = images.read_bytes(), labels.read_bytes()
    images.write_bytes(labels_bytes)
    labels.write_bytes(images_bytes)
    with pytest.raises(mnist.IdxFormatError, match=r"should hold uint8 images of shape \(N, 28, 28\) "
                                                   r"but holds uint8 of shape \(12,\)"):
        mnist.load_mnist(tmp_path, verify=False)


def test_image_and_label_counts_must_agree(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    (tmp_path / f"{mnist.TEST_LABELS}.gz").write_bytes(gzip.compress(idx_bytes(np.arange(4))))
    with pytest.raises(mnist.IdxFormatError, match="holds 5 images but .* holds 4 labels"):
        mnist.load_mnist(tmp_path, verify=False)


def test_labels_must_be_digits(tmp_path: Path) -> None:
    write_fake_mnist(tmp_path)
    (tmp_path / f"{mnist.TEST_LABELS}.gz").write_bytes(
        gzip.compress(idx_bytes(np.array([0, 1, 2, 10, 3]))))
    with pytest.raises(mnist.IdxFormatError, match="holds label 10; digits are 0..9"):
        mnist.load_mnist(tmp_path, verify=False)


@needs_mnist
def test_real_mnist_loads_with_official_checksums() -> None:
    x_train, y_train, x_test, y_test = mnist.load_mnist(MNIST_DIR)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    # Known facts about MNIST: the first two training labels, and the test split's balance.
    assert y_train[:8].tolist() == [5, 0, 4, 1, 9, 2, 1, 3]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# -- where data is cached ----------------------------------------------------------------

def test_cache_folder_defaults_and_override(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.delenv("TINYTORCH_DATA", raising=False)
    assert mnist.default_mnist_dir() == Path.home() / ".cache" / "tinytorch" / "mnist"
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    assert mnist.default_mnist_dir() == tmp_path / "mnist"


# -- the downloader ----------------------------------------------------------------------

def mirror_with(folder: Path, files: dict[str, bytes]) -> str:
    """A file:// mirror serving ``files``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return folder.as_uri() + "/"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


GOOD = b"the real file" * 1000
BAD = b"a tampered file" * 1000


def test_checksum_mismatch_falls_through_to_next_mirror(tmp_path: Path) -> None:
    corrupt = mirror_with(tmp_path / "corrupt", {"f.gz": BAD})
    good = mirror_with(tmp_path / "good", {"f.gz": GOOD})
    cache = tmp_path / "cache"
    path = mnist.download_file("f.gz", md5(GOOD), cache, [corrupt, good])
    assert path == cache / "f.gz" and path.read_bytes() == GOOD
    assert sorted(p.name for p in cache.iterdir()) == ["f.gz"]


def test_all_mirrors_failing_lists_every_mirror(tmp_path: Path) -> None:
    corrupt = mirror_with(tmp_path / "corrupt", {"f.gz": BAD})
    empty = mirror_with(tmp_path / "empty", {})
    cache = tmp_path / "cache"
    with pytest.raises(mnist.DownloadError) as error:
        mnist.download_file("f.gz", md5(GOOD), cache, [corrupt, empty])
    message = str(error.value)
    assert f"{corrupt}f.gz: ChecksumError: the md5 of the bytes received is {md5(BAD)}, " \
           f"expected {md5(GOOD)}" in message
    assert f"{empty}f.gz: URLError" in message
    assert "any of 2 mirror(s)" in message
    assert list(cache.iterdir()) == []


def test_cache_hit_does_not_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "f.gz").write_bytes(GOOD)

    def no_network(*args, **kwargs):
        raise AssertionError("urlopen called although the cached file is valid")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    path = mnist.download_file("f.gz", md5(GOOD), cache, ["https://example.invalid/"])
    assert path == cache / "f.gz" and path.read_bytes() == GOOD


def test_corrupt_cached_file_is_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "f.gz").write_bytes(BAD)
    good = mirror_with(tmp_path / "good", {"f.gz": GOOD})
    assert mnist.download_file("f.gz", md5(GOOD), cache, [good]).read_bytes() == GOOD


class BrokenStream(io.BytesIO):
    """A response that delivers some bytes, then loses the connection."""

    def read(self, size: int = -1) -> bytes:
        if self.tell() >= 5000:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(size, 1000))


def test_interrupted_download_leaves_no_partial_file(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "f.gz").write_bytes(BAD)  # an old, corrupt copy must not be half-overwritten
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout: BrokenStream(GOOD))
    with pytest.raises(mnist.DownloadError, match="ConnectionResetError: connection reset by peer"):
        mnist.download_file("f.gz", md5(GOOD), cache, ["https://mirror.invalid/"])
    assert sorted(p.name for p in cache.iterdir()) == ["f.gz"]
    assert (cache / "f.gz").read_bytes() == BAD


def test_interrupted_download_falls_through(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    good = mirror_with(tmp_path / "good", {"f.gz": GOOD})
    real_urlopen = urllib.request.urlopen

    def flaky_first_mirror(request: urllib.request.Request, timeout: float):
        if request.full_url == "https://a.invalid/f.gz":
            return BrokenStream(GOOD)
        return real_urlopen(request, timeout=timeout)

    monkeypatch.setattr(urllib.request, "urlopen", flaky_first_mirror)
    cache = tmp_path / "cache"
    path = mnist.download_file("f.gz", md5(GOOD), cache, ["https://a.invalid", good])
    assert path.read_bytes() == GOOD
    assert sorted(p.name for p in cache.iterdir()) == ["f.gz"]


def test_download_mnist_fetches_the_four_files_into_the_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = tmp_path / "served"
    write_fake_mnist(served)
    files = {p.name: p.read_bytes() for p in served.iterdir()}
    monkeypatch.setattr(mnist, "GZ_MD5", {name: md5(data) for name, data in files.items()})
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "home"))
    folder = mnist.download_mnist(mirrors=[served.as_uri() + "/"])
    assert folder == tmp_path / "home" / "mnist"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
    np.testing.assert_array_equal(mnist.load_mnist(verify=False).x_train,
                                  mnist.load_mnist(served, verify=False).x_train)


def test_official_gz_checksums_are_recorded() -> None:
    assert mnist.GZ_MD5 == {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    assert len(mnist.MIRRORS) >= 2 and all(m.startswith("https://") for m in mnist.MIRRORS)


def test_command_line_reports_failed_mirrors(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = mirror_with(tmp_path / "empty", {})
    code = mnist.main(["download", "--dir", str(tmp_path / "cache"), "--mirror", empty])
    assert code == 1
    error = capsys.readouterr().err
    assert "could not download train-images-idx3-ubyte.gz" in error and empty in error
