"""CIFAR-10 reading, the restricted unpickler, safe extraction and the downloader
(tinytorch/data/cifar10.py).

The network is never touched: mirrors are file:// URLs in a temporary folder, or a fake
``urlopen``. Batch files are small fakes in the official format, including one written
opcode by opcode the way Python 2 wrote CIFAR-10. The test that reads a full copy of
CIFAR-10 looks in $TINYTORCH_CIFAR_DIR and skips when it is not set.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tinytorch.data import cifar10, mnist

CIFAR_DIR = os.environ.get("TINYTORCH_CIFAR_DIR")
EXACT_TEST_IMAGES = Path("/work/shared/data/cifar10_test_exact_first1017.npz")
needs_cifar = pytest.mark.skipif(not CIFAR_DIR, reason="set TINYTORCH_CIFAR_DIR to a folder "
                                                       "holding cifar-10-batches-py")
ALL_BATCHES = [*cifar10.TRAIN_BATCHES, cifar10.TEST_BATCH]


# -- fake batch files ----------------------------------------------------------------------

def python2_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """``{'data': data, 'labels': labels}`` as Python 2's cPickle wrote it (protocol 2).

    Byte strings are SHORT_BINSTRING/BINSTRING opcodes (Python 3 would write bytes with
    _codecs.encode), and the array is rebuilt by numpy.core.multiarray._reconstruct, the
    module name NumPy had then.
    """
    def text(value: bytes) -> bytes:
        return b"U" + bytes([len(value)]) + value

    def int32(value: int) -> bytes:
        return b"J" + struct.pack("<i", value)

    rows, columns = data.shape
    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + text(b"b")
             + b"\x87R(K\x01" + int32(rows) + int32(columns) + b"\x86"
             + b"cnumpy\ndtype\n" + text(b"u1") + b"K\x00K\x01\x87R"
             + b"(K\x03" + text(b"|") + b"NNN" + int32(-1) + int32(-1) + b"K\x00tb"
             + b"\x89T" + struct.pack("<I", data.nbytes) + data.tobytes() + b"tb")
    label_list = b"](" + b"".join(b"K" + bytes([label]) for label in labels) + b"e"
    return b"\x80\x02}(" + text(b"data") + array + text(b"labels") + label_list + b"u."


def python3_pickle(data: np.ndarray, labels: list[int], protocol: int = 2) -> bytes:
    """The same dict re-saved by Python 3, with byte-string keys as in the official files."""
    return pickle.dumps({b"batch_label": b"fake", b"data": data, b"labels": labels,
                         b"filenames": [b"x.png"] * len(labels)}, protocol=protocol)


def write_fake_cifar(folder: Path, per_batch: int = 4, python2: bool = False
                     ) -> cifar10.Cifar10:
    """A cifar-10-batches-py folder of small batches; returns what it holds."""
    rng = np.random.default_rng(0)
    batches = folder / cifar10.BATCHES_DIR
    batches.mkdir(parents=True)
    images, labels = [], []
    for name in ALL_BATCHES:
        rows = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        classes = rng.integers(0, 10, per_batch).tolist()
        write = python2_pickle if python2 else python3_pickle
        (batches / name).write_bytes(write(rows, classes))
        images.append(rows.reshape(-1, 3, 32, 32))
        labels.append(np.array(classes))
    meta = {b"label_names": [name.encode() for name in cifar10.CLASSES], b"num_vis": 3072}
    (batches / cifar10.META).write_bytes(pickle.dumps(meta, protocol=2))
    return cifar10.Cifar10(np.concatenate(images[:5]), np.concatenate(labels[:5]), images[5],
                           labels[5])


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def file_md5s(folder: Path) -> dict[str, str]:
    return {name: md5((folder / name).read_bytes()) for name in cifar10.FILE_MD5}


# -- reading batches -------------------------------------------------------------------------

def test_reads_a_batch_written_like_the_official_files(tmp_path: Path) -> None:
    rows = np.arange(2 * 3072).reshape(2, 3072).astype(np.uint8)
    (tmp_path / "batch").write_bytes(python2_pickle(rows, [6, 9]))
    images, labels = cifar10.read_batch(tmp_path / "batch")
    assert images.shape == (2, 3, 32, 32) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and labels.tolist() == [6, 9]
    # Each row is the red plane, then green, then blue, each 32 rows of 32 pixels.
    np.testing.assert_array_equal(images[1, 0], rows[1, :1024].reshape(32, 32))
    np.testing.assert_array_equal(images[1, 2, 5], rows[1, 2048 + 5 * 32:2048 + 6 * 32])
    assert images.flags.writeable


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_reads_batches_resaved_by_python3(tmp_path: Path, protocol: int) -> None:
    rows = np.random.default_rng(1).integers(0, 256, (5, 3072), dtype=np.uint8)
    (tmp_path / "batch").write_bytes(python3_pickle(rows, [0, 1, 2, 3, 9], protocol))
    images, labels = cifar10.read_batch(tmp_path / "batch")
    np.testing.assert_array_equal(images.reshape(5, -1), rows)
    assert labels.tolist() == [0, 1, 2, 3, 9]


def test_reads_the_class_names(tmp_path: Path) -> None:
    write_fake_cifar(tmp_path)
    assert cifar10.read_label_names(tmp_path) == list(cifar10.CLASSES)
    assert cifar10.read_label_names(tmp_path / cifar10.BATCHES_DIR / cifar10.META)[3] == "cat"


@pytest.mark.parametrize("python2", [True, False], ids=["python2-files", "python3-files"])
def test_load_cifar10_returns_the_five_training_batches_then_the_test_batch(
        tmp_path: Path, python2: bool) -> None:
    expected = write_fake_cifar(tmp_path, python2=python2)
    loaded = cifar10.load_cifar10(tmp_path, verify=False)
    assert loaded.x_train.shape == (20, 3, 32, 32) and loaded.x_test.shape == (4, 3, 32, 32)
    for got, want in zip(loaded, expected):
        np.testing.assert_array_equal(got, want)
    assert loaded.y_train.dtype == np.int64 and loaded.y_test.dtype == np.int64
    # The batches folder itself is accepted as well as the folder that contains it.
    np.testing.assert_array_equal(
        cifar10.load_cifar10(tmp_path / cifar10.BATCHES_DIR, verify=False).x_test, expected.x_test)


def test_load_cifar10_verifies_every_md5_by_default(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write_fake_cifar(tmp_path)
    batches = tmp_path / cifar10.BATCHES_DIR
    actual = md5((batches / "data_batch_1").read_bytes())
    with pytest.raises(mnist.ChecksumError) as error:
        cifar10.load_cifar10(tmp_path)
    message = str(error.value)
    assert "data_batch_1" in message and actual in message and "verify=False" in message
    assert cifar10.FILE_MD5["data_batch_1"] in message
    monkeypatch.setattr(cifar10, "FILE_MD5", file_md5s(batches))
    assert cifar10.load_cifar10(tmp_path).x_train.shape == (20, 3, 32, 32)


def test_a_missing_file_says_how_to_download(tmp_path: Path) -> None:
    write_fake_cifar(tmp_path)
    (tmp_path / cifar10.BATCHES_DIR / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_4 not found in .*download_cifar10"):
        cifar10.load_cifar10(tmp_path, verify=False)


def test_default_folder_follows_tinytorch_data(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.delenv("TINYTORCH_DATA", raising=False)
    assert cifar10.default_cifar10_dir() == Path.home() / ".cache" / "tinytorch" / "cifar10"
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path))
    assert cifar10.default_cifar10_dir() == tmp_path / "cifar10"
    expected = write_fake_cifar(tmp_path / "cifar10")
    np.testing.assert_array_equal(cifar10.load_cifar10(verify=False).y_test, expected.y_test)


# -- malformed and malicious files -----------------------------------------------------------

@pytest.mark.parametrize("entries, message", [
    ({b"data": np.zeros((2, 3072), np.uint8)}, "no 'labels' entry"),
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]},
     r"uint8 array of shape \(N, 3072\).*float32 array of shape \(2, 3072\)"),
    ({b"data": np.zeros((2, 1024), np.uint8), b"labels": [0, 1]}, r"shape \(2, 1024\)"),
    ({b"data": np.zeros((3, 3072), np.uint8), b"labels": [0, 1]}, "holds 3 images but 2 labels"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, "labels from 0 to 10"),
    ([1, 2, 3], "holds a list; a CIFAR-10 file holds a dict"),
])
def test_malformed_batches_are_reported(tmp_path: Path, entries: object, message: str) -> None:
    (tmp_path / "batch").write_bytes(pickle.dumps(entries, protocol=2))
    with pytest.raises(cifar10.Cifar10FormatError, match=message):
        cifar10.read_batch(tmp_path / "batch")


def test_a_truncated_batch_is_reported(tmp_path: Path) -> None:
    blob = python3_pickle(np.zeros((4, 3072), np.uint8), [0, 1, 2, 3])
    (tmp_path / "batch").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(cifar10.Cifar10FormatError, match="not a readable CIFAR-10 pickle"):
        cifar10.read_batch(tmp_path / "batch")


class RunsACommand:
    """Unpickling this calls os.system: what a crafted "data set" would do."""

    def __reduce__(self):
        return os.system, ("echo pwned",)


def global_call(module: str, name: str, *arguments: str) -> bytes:
    """A protocol-2 pickle that calls ``module.name(*arguments)``."""
    encoded = [argument.encode("utf-8") for argument in arguments]
    strings = b"".join(b"X" + struct.pack("<I", len(a)) + a for a in encoded)
    return (b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"(" + strings + b"tR.")


@pytest.mark.parametrize("blob, refused", [
    (pickle.dumps({b"data": RunsACommand()}, protocol=2), f"{os.system.__module__}.system"),
    (global_call("builtins", "eval", "1 + 1"), "builtins.eval"),
    (global_call("numpy", "load", "/etc/passwd"), "numpy.load"),
    (pickle.dumps(np.zeros(3, np.uint8), protocol=5), "_frombuffer"),
], ids=["os.system", "eval", "numpy.load", "protocol-5 array"])
def test_only_the_callables_a_batch_needs_are_allowed(tmp_path: Path, blob: bytes,
                                                      refused: str) -> None:
    (tmp_path / "batch").write_bytes(blob)
    with pytest.raises(cifar10.ForbiddenPickleError, match=f"refusing to load .*{refused}"):
        cifar10.read_batch(tmp_path / "batch")


def test_codecs_encode_is_allowed_for_latin1_only(tmp_path: Path) -> None:
    (tmp_path / "ok").write_bytes(global_call("_codecs", "encode", "caf\u00e9", "latin1"))
    assert cifar10.unpickle(tmp_path / "ok") == b"caf\xe9"
    (tmp_path / "other").write_bytes(global_call("_codecs", "encode", "eJwrSS0uAQAEXQHB", "base64"))
    with pytest.raises(cifar10.ForbiddenPickleError, match="codec 'base64'"):
        cifar10.unpickle(tmp_path / "other")


# -- safe extraction -------------------------------------------------------------------------

def tar_with(path: Path, *members: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize("bad, problem", [
    ((member("/tmp/evil"), b"x"), "path leads out"),
    ((member("cifar-10-batches-py/../../evil"), b"x"), "path leads out"),
    ((member("..\\evil"), b"x"), "path leads out"),
    ((member("cifar-10-batches-py/link", tarfile.SYMTYPE, "/etc/passwd"), None), "a link to '/etc/passwd'"),
    ((member("cifar-10-batches-py/hard", tarfile.LNKTYPE, "cifar-10-batches-py/ok"), None), "a link"),
    ((member("cifar-10-batches-py/tty", tarfile.CHRTYPE), None), "a device or FIFO"),
    ((member("cifar-10-batches-py/fifo", tarfile.FIFOTYPE), None), "a device or FIFO"),
], ids=["absolute", "dot-dot", "backslash-dot-dot", "symlink", "hardlink", "device", "fifo"])
def test_unsafe_members_are_refused_before_anything_is_written(tmp_path: Path, bad: tuple,
                                                               problem: str) -> None:
    archive = tar_with(tmp_path / "a.tar.gz", (member("cifar-10-batches-py/ok"), b"fine"), bad)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(cifar10.UnsafeArchiveError, match=problem):
        cifar10.extract_safely(archive, out)
    assert list(out.iterdir()) == [], "nothing may be extracted from an unsafe archive"


def test_a_safe_archive_is_extracted(tmp_path: Path) -> None:
    archive = tar_with(tmp_path / "a.tar.gz", (member("top", tarfile.DIRTYPE), None),
                       (member("top/file"), b"content"))
    cifar10.extract_safely(archive, tmp_path / "out")
    assert (tmp_path / "out" / "top" / "file").read_bytes() == b"content"


def test_a_file_that_is_not_a_tar_archive_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(cifar10.Cifar10FormatError, match="not a readable tar archive"):
        cifar10.extract_safely(tmp_path / "a.tar.gz", tmp_path)


# -- the downloader --------------------------------------------------------------------------

def served_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, cifar10.Cifar10]:
    """A fake cifar-10-python.tar.gz on a file:// mirror, its md5s made the official ones."""
    source = tmp_path / "source"
    expected = write_fake_cifar(source)
    served = tmp_path / "mirror"
    served.mkdir()
    with tarfile.open(served / cifar10.ARCHIVE, "w:gz") as tar:
        tar.add(source / cifar10.BATCHES_DIR, arcname=cifar10.BATCHES_DIR)
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", md5((served / cifar10.ARCHIVE).read_bytes()))
    monkeypatch.setattr(cifar10, "FILE_MD5", file_md5s(source / cifar10.BATCHES_DIR))
    return served.as_uri() + "/", expected


def forbid_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args, **kwargs):
        raise AssertionError("urlopen called although the data is already there")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)


def test_download_fetches_verifies_and_unpacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture) -> None:
    mirror, expected = served_archive(tmp_path, monkeypatch)
    monkeypatch.setenv("TINYTORCH_DATA", str(tmp_path / "home"))
    folder = cifar10.download_cifar10(mirrors=[mirror])
    cache = tmp_path / "home" / "cifar10"
    assert folder == cache / cifar10.BATCHES_DIR
    assert sorted(p.name for p in cache.iterdir()) == sorted([cifar10.ARCHIVE, cifar10.BATCHES_DIR]), \
        "no temporary file or folder may be left behind"
    loaded = cifar10.load_cifar10()  # verify=True: the md5s were made the official ones
    for got, want in zip(loaded, expected):
        np.testing.assert_array_equal(got, want)
    progress = capsys.readouterr().err
    assert cifar10.ARCHIVE in progress and "100%" in progress and progress.endswith("\n")


def test_a_complete_copy_is_not_fetched_again(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    mirror, _ = served_archive(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    cifar10.download_cifar10(cache, [mirror], show_progress=False)
    (cache / cifar10.ARCHIVE).unlink()
    forbid_network(monkeypatch)
    assert cifar10.download_cifar10(cache, [mirror], show_progress=False) == \
        cache / cifar10.BATCHES_DIR


def test_a_damaged_folder_is_unpacked_again_from_the_kept_archive(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror, expected = served_archive(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    folder = cifar10.download_cifar10(cache, [mirror], show_progress=False)
    (folder / "test_batch").write_bytes(b"damaged")
    (folder / "data_batch_2").unlink()
    forbid_network(monkeypatch)
    cifar10.download_cifar10(cache, [mirror], show_progress=False)
    np.testing.assert_array_equal(cifar10.load_cifar10(cache).x_test, expected.x_test)


def test_a_corrupt_archive_is_not_unpacked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror, _ = served_archive(tmp_path, monkeypatch)
    monkeypatch.setattr(cifar10, "ARCHIVE_MD5", "0" * 32)
    cache = tmp_path / "cache"
    with pytest.raises(mnist.DownloadError, match="ChecksumError: the md5 of the bytes received"):
        cifar10.download_cifar10(cache, [mirror], show_progress=False)
    assert list(cache.iterdir()) == []


def test_the_official_archive_and_files_are_recorded() -> None:
    assert cifar10.MIRRORS == ("https://www.cs.toronto.edu/~kriz/",)
    assert cifar10.ARCHIVE == "cifar-10-python.tar.gz"
    assert cifar10.ARCHIVE_MD5 == "c58f30108f718f92721af3b95e74349a"
    assert set(cifar10.FILE_MD5) == {*ALL_BATCHES, cifar10.META}


def test_progress_bar_draws_each_percent_once_and_ends_the_line() -> None:
    stream = io.StringIO()
    bar = cifar10.TextProgressBar("file.tar.gz", stream, width=10)
    for received in (0, 1_000, 2_000, 500_000, 999_999, 1_000_000):
        bar(received, 1_000_000)
    bar.finish()
    lines = stream.getvalue().split("\r")[1:]
    assert len(lines) == 4  # 0%, 50%, 99%, 100%: the 0.1% and 0.2% steps draw nothing new
    assert lines[1] == "file.tar.gz  50% [#####     ]    0.5/1.0 MB"
    assert lines[-1] == "file.tar.gz 100% [##########]    1.0/1.0 MB\n"


def test_progress_bar_without_a_total_counts_megabytes() -> None:
    stream = io.StringIO()
    bar = cifar10.TextProgressBar("f", stream)
    bar(2_500_000, None)
    bar.finish()
    assert stream.getvalue() == "\rf    2.5 MB\n"


def test_command_line_downloads_and_reports_failures(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    mirror, _ = served_archive(tmp_path, monkeypatch)
    assert cifar10.main(["download", "--dir", str(tmp_path / "cache"), "--mirror", mirror]) == 0
    assert "load_cifar10" in capsys.readouterr().out
    empty = (tmp_path / "empty").as_uri() + "/"
    assert cifar10.main(["download", "--dir", str(tmp_path / "other"), "--mirror", empty]) == 1
    assert "could not download cifar-10-python.tar.gz" in capsys.readouterr().err


# -- a full copy of CIFAR-10 -----------------------------------------------------------------

@needs_cifar
def test_a_full_copy_loads_with_the_official_layout() -> None:
    x_train, y_train, x_test, y_test = cifar10.load_cifar10(CIFAR_DIR, verify=False)
    assert x_train.shape == (50000, 3, 32, 32) and x_test.shape == (10000, 3, 32, 32)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert np.bincount(y_train).tolist() == [5000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert y_train[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]  # the official first labels
    assert cifar10.read_label_names(CIFAR_DIR) == list(cifar10.CLASSES)
    if EXACT_TEST_IMAGES.is_file():
        with np.load(EXACT_TEST_IMAGES) as exact:
            count = len(exact["labels"])
            np.testing.assert_array_equal(y_test[:count], exact["labels"])
            # A copy re-encoded as JPEG is close to the originals; a wrong channel layout is not.
            error = np.abs(exact["images"].reshape(-1, 3, 32, 32).astype(np.int16) - x_test[:count])
            assert error.mean() < 10, f"mean absolute pixel error {error.mean():.1f}"
