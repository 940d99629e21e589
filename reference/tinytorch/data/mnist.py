"""MNIST: reading its IDX files, and downloading the full data set.

MNIST (LeCun, Cortes and Burges) is 70,000 handwritten digits of 28x28 grey-scale pixels,
60,000 for training and 10,000 for testing, published as four files in the IDX format::

    train-images-idx3-ubyte   (60000, 28, 28) uint8 pixels, 0 = background, 255 = ink
    train-labels-idx1-ubyte   (60000,)        uint8 digits 0..9
    t10k-images-idx3-ubyte    (10000, 28, 28)
    t10k-labels-idx1-ubyte    (10000,)

The katas do not need this module: TinyTorch ships TinyDigits, 6,000 of these digits (see
``tinydigits.py``), so everything runs offline. With an internet connection you can train on
the whole set::

    from tinytorch.data import download_mnist, load_mnist
    x_train, y_train, x_test, y_test = load_mnist(download_mnist())

or from a shell: ``python -m tinytorch.data.mnist download [--dir DIR]``.

``download_mnist`` keeps the four gzipped files in ``$TINYTORCH_DATA/mnist``, which is
``~/.cache/tinytorch/mnist`` when the ``TINYTORCH_DATA`` environment variable is not set.
It checks each file's md5 against the official one, so a file is never trusted because of
where it came from, only because of what it contains.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.client
import io
import math
import os
import sys
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np

IMAGE_SIDE = 28
NUM_CLASSES = 10

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

# md5 of the official gzipped files, as the mirrors serve them.
GZ_MD5 = {
    f"{TRAIN_IMAGES}.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    f"{TRAIN_LABELS}.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    f"{TEST_IMAGES}.gz": "9fb629c4189551a2d022fa330f9573f3",
    f"{TEST_LABELS}.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# md5 of the decompressed files: the same for every copy of MNIST, however it was gzipped.
RAW_MD5 = {
    TRAIN_IMAGES: "6bbc9ace898e44ae57da46a324031adb",
    TRAIN_LABELS: "a25bea736e30d166cdddb491f175f624",
    TEST_IMAGES: "2646ac647ad5339dbf082846283269ea",
    TEST_LABELS: "27ae3e4e09519cfbb04c329615203637",
}
# Tried in this order; a file's URL is the mirror followed by the file name.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
DATA_ENV = "TINYTORCH_DATA"

IDX_UNSIGNED_BYTE = 0x08
IDX_FIXED_HEADER_BYTES = 4  # two zero bytes, the element type, the number of dimensions
IDX_DIM_BYTES = 4  # each dimension's size, a big-endian uint32
# The most bytes an IDX file may hold (1 GiB): MNIST's largest file is 47 MB, EMNIST's 640 MB.
MAX_IDX_BYTES = 1 << 30
GZIP_MAGIC = b"\x1f\x8b"
DOWNLOAD_CHUNK_BYTES = 1 << 20
DOWNLOAD_TIMEOUT_SECONDS = 30
FILE_MODE = 0o644  # data files are readable by all (mkstemp would make them private)
USER_AGENT = "tinytorch-data/1 (python urllib)"

# Told after every chunk of a download: (bytes received so far, total bytes or None when the
# server does not announce a length).
Progress = Callable[[int, int | None], None]


class Digits(NamedTuple):
    """A train/test split of digit images: ``x_train, y_train, x_test, y_test = digits``.

    Images are uint8 arrays of shape (N, 28, 28), 0 = background and 255 = ink; labels are
    int64 arrays of shape (N,) holding the digit, 0..9. Scaling (``x / 255.0``) and
    flattening (``x.reshape(len(x), -1)``) are left to you.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class IdxFormatError(ValueError):
    """A file is not a well-formed IDX file, or not the MNIST file it should be."""


class ChecksumError(ValueError):
    """A file's digest differs from the one recorded for it."""


class DownloadError(RuntimeError):
    """No mirror delivered a file with the right checksum."""


# -- where data lives ----------------------------------------------------------------------

def data_home() -> Path:
    """The folder TinyTorch keeps downloaded data sets in.

    ``$TINYTORCH_DATA`` if that environment variable is set, else ``~/.cache/tinytorch``.
    """
    configured = os.environ.get(DATA_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "tinytorch"


def default_mnist_dir() -> Path:
    """Where ``download_mnist`` and ``load_mnist`` look by default: ``data_home() / "mnist"``."""
    return data_home() / "mnist"


# -- reading IDX files ---------------------------------------------------------------------

def read_idx_bytes(path: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> bytes:
    """The IDX content of ``path``, decompressed if the file is gzipped.

    Gzip is recognised by the file's first two bytes (1f 8b), not by its name, so a raw
    file called ``.gz`` or a gzipped one without the suffix both work.

    A gzip file can hold far more than it weighs (2 MB of zeros inflate to 2 GB), so the
    content is never inflated blindly: the header is read first (:func:`idx_shape`), the
    bytes its shape promises are checked against ``max_bytes``, and then exactly that many
    are read, in chunks. ``IdxFormatError`` naming the file for a header that promises too
    much, data that stops short or goes on past the promise, and damaged gzip data.
    """
    with open(path, "rb") as file:
        gzipped = file.read(len(GZIP_MAGIC)) == GZIP_MAGIC
        file.seek(0)
        stream: io.BufferedIOBase = gzip.GzipFile(fileobj=file, mode="rb") if gzipped else file
        try:
            header = _read_at_most(stream, IDX_FIXED_HEADER_BYTES)
            if len(header) == IDX_FIXED_HEADER_BYTES:
                header += _read_at_most(stream, IDX_DIM_BYTES * header[3])
            shape = idx_shape(header, str(path))
            promised = math.prod(shape)
            if len(header) + promised > max_bytes:
                raise IdxFormatError(f"{path}: its header promises shape {shape}, {promised:,} "
                                     f"bytes of data, more than the {max_bytes:,} this reader "
                                     f"accepts (max_bytes)")
            data = _read_at_most(stream, promised)
            if len(data) == promised and stream.read(1):
                raise IdxFormatError(f"{path} has trailing bytes: its header promises shape "
                                     f"{shape}, {promised:,} bytes of data, and more follow")
        except (OSError, EOFError, zlib.error) as error:
            if not gzipped:
                raise
            raise IdxFormatError(f"{path}: the gzip data is damaged ({error})") from None
    return header + data


def _read_at_most(stream: io.BufferedIOBase, size: int) -> bytes:
    """Up to ``size`` bytes of ``stream``, fewer only at its end, read in bounded chunks."""
    chunks = []
    while size > 0 and (chunk := stream.read(min(size, DOWNLOAD_CHUNK_BYTES))):
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def idx_shape(data: bytes, source: str = "IDX data") -> tuple[int, ...]:
    """The shape declared by the IDX header at the start of ``data`` (see :func:`parse_idx`).

    ``IdxFormatError`` naming ``source`` if ``data`` does not start with a complete header
    of unsigned bytes.
    """
    if len(data) < IDX_FIXED_HEADER_BYTES or data[:2] != b"\x00\x00":
        raise IdxFormatError(f"{source} is not an IDX file: it starts with bytes "
                             f"{data[:4].hex(' ') or '(none)'}, an IDX file with 00 00")
    element_type, ndim = data[2], data[3]
    if element_type != IDX_UNSIGNED_BYTE:
        raise IdxFormatError(f"{source}: element type 0x{element_type:02x} is not supported; "
                             f"MNIST files hold unsigned bytes (0x08)")
    header_bytes = IDX_FIXED_HEADER_BYTES + IDX_DIM_BYTES * ndim
    if len(data) < header_bytes:
        raise IdxFormatError(f"{source}: truncated header: {ndim} dimensions need "
                             f"{header_bytes} header bytes, the file has {len(data)}")
    return tuple(int(n) for n in np.frombuffer(data, dtype=">u4", count=ndim,
                                               offset=IDX_FIXED_HEADER_BYTES))


def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode the bytes of an IDX file into a uint8 array (``source`` names it in errors).

    An IDX file is a small header followed by the raw elements; integers are big-endian::

        bytes 0-1   zero
        byte  2     the element type: 0x08 = unsigned byte (the only type MNIST uses)
        byte  3     the number of dimensions d (3 for images, 1 for labels)
        4*d bytes   the size of each dimension, a 32-bit unsigned integer each
        the rest    the elements in row-major (C) order, one byte each

    Read as one integer, the first four bytes are the file's "magic number": 2051
    (0x00000803) for MNIST images and 2049 (0x00000801) for labels.
    """
    shape = idx_shape(data, source)
    header_bytes = IDX_FIXED_HEADER_BYTES + IDX_DIM_BYTES * len(shape)
    promised = math.prod(shape)
    held = len(data) - header_bytes
    if held != promised:
        problem = "truncated" if held < promised else "has trailing bytes"
        raise IdxFormatError(f"{source} {problem}: its header promises shape {shape}, "
                             f"{promised:,} bytes of data, but it holds {held:,}")
    # frombuffer shares the immutable bytes (a read-only array); copy to hand out a normal one.
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes).reshape(shape).copy()


def read_idx(path: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read one IDX file (gzipped or raw) into a uint8 array, at most ``max_bytes`` of it."""
    return parse_idx(read_idx_bytes(path, max_bytes), str(path))


def load_mnist(path: str | os.PathLike | None = None, *, verify: bool = True) -> Digits:
    """Load MNIST from the folder ``path`` (default: ``default_mnist_dir()``).

    The folder holds the four official files, each raw or gzipped (``name`` or
    ``name.gz``). With ``verify`` (the default) each file's decompressed content must have
    the official md5, so what you train on is MNIST and nothing else; ``verify=False``
    accepts any well-formed IDX files (your own digits in MNIST's format, say).

    Returns ``Digits(x_train, y_train, x_test, y_test)``: uint8 images (N, 28, 28) and int64
    labels (N,). Raises FileNotFoundError for a missing file, ChecksumError for a file that
    is not the official one, IdxFormatError for a malformed or mismatched file.
    """
    folder = Path(path).expanduser() if path is not None else default_mnist_dir()
    x_train, y_train = _load_split(folder, TRAIN_IMAGES, TRAIN_LABELS, verify)
    x_test, y_test = _load_split(folder, TEST_IMAGES, TEST_LABELS, verify)
    return Digits(x_train, y_train, x_test, y_test)


def _load_split(folder: Path, images_name: str, labels_name: str,
                verify: bool) -> tuple[np.ndarray, np.ndarray]:
    images_file = _find_idx_file(folder, images_name)
    labels_file = _find_idx_file(folder, labels_name)
    images = _read_mnist_file(images_file, images_name, verify)
    labels = _read_mnist_file(labels_file, labels_name, verify)
    check_digits(images, labels, str(images_file), str(labels_file))
    return images, labels.astype(np.int64)


def check_digits(images: np.ndarray, labels: np.ndarray, images_source: str,
                 labels_source: str) -> None:
    """Refuse digits that are not ``len(labels)`` uint8 images (N, 28, 28) and as many
    integer labels 0..9: ``IdxFormatError`` naming the file (``images_source`` or
    ``labels_source``) and what it holds instead."""
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise IdxFormatError(f"{images_source} should hold uint8 images of shape (N, {IMAGE_SIDE}, "
                             f"{IMAGE_SIDE}) but holds {images.dtype} of shape {images.shape}")
    if labels.dtype.kind not in "iu" or labels.ndim != 1:
        raise IdxFormatError(f"{labels_source} should hold integer labels of shape (N,) but holds "
                             f"{labels.dtype} of shape {labels.shape}")
    if len(images) != len(labels):
        raise IdxFormatError(f"{images_source} holds {len(images):,} images but {labels_source} "
                             f"holds {len(labels):,} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        wrong = labels.min() if labels.min() < 0 else labels.max()
        raise IdxFormatError(f"{labels_source} holds label {wrong}; digits are 0..9")


def _find_idx_file(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"MNIST file {name} (or {name}.gz) not found in {folder}. Download MNIST with "
        f"tinytorch.data.download_mnist() or `python -m tinytorch.data.mnist download`, "
        f"or pass the folder that holds the four official files.")


def _read_mnist_file(file: Path, name: str, verify: bool) -> np.ndarray:
    data = read_idx_bytes(file)
    if verify:
        actual = hashlib.md5(data).hexdigest()
        if actual != RAW_MD5[name]:
            raise ChecksumError(
                f"{file} is not the official {name}: the md5 of its decompressed content is "
                f"{actual}, expected {RAW_MD5[name]}. Delete it and download MNIST again, or "
                f"pass verify=False to load IDX files that are not the official MNIST.")
    return parse_idx(data, str(file))


# -- downloading ---------------------------------------------------------------------------

def download_file(name: str, md5: str, folder: str | os.PathLike,
                  mirrors: Sequence[str] = MIRRORS, progress: Progress | None = None) -> Path:
    """Make sure ``folder/name`` holds the file whose md5 is ``md5``; return its path.

    - Cache hit: a file already there with the right md5 is kept, and nothing is fetched.
    - Otherwise the mirrors are tried in order (URL = mirror + name). A mirror that fails,
      or serves bytes with another md5, is skipped for the next one.
    - The bytes stream into a temporary file in ``folder`` that takes the name ``name``
      (``os.replace``, atomic) only once its md5 is right: an interrupted or corrupt
      download never leaves a partial file behind.
    - ``progress``, if given, is called after every chunk received (see ``Progress``).

    Raises DownloadError listing every URL tried and why it failed.
    """
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.is_file() and md5_of_file(target) == md5:
        return target
    failures = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{name}"
        try:
            _fetch_verified(url, target, md5, progress)
            return target
        except (OSError, http.client.HTTPException, ValueError) as error:
            failures.append(f"  {url}: {type(error).__name__}: {error}")
    tried = "\n".join(failures) or "  (no mirrors given)"
    raise DownloadError(
        f"could not download {name} from any of {len(mirrors)} mirror(s):\n{tried}\n"
        f"Check your connection, or put the official {name} (md5 {md5}) into {folder} "
        f"yourself.")


def download_mnist(cache_dir: str | os.PathLike | None = None,
                   mirrors: Sequence[str] = MIRRORS) -> Path:
    """Download the four gzipped MNIST files (about 11 MB) and return their folder.

    ``cache_dir`` defaults to ``default_mnist_dir()`` (``$TINYTORCH_DATA/mnist``, else
    ``~/.cache/tinytorch/mnist``). Files already cached with the official md5 are not
    fetched again. Pass the result to ``load_mnist``.
    """
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_mnist_dir()
    for name, md5 in GZ_MD5.items():
        download_file(name, md5, folder, mirrors)
    return folder


def md5_of_file(path: Path) -> str:
    """The md5 of a file's bytes as hex, read in chunks (a data set need not fit in memory)."""
    digest = hashlib.md5()
    with path.open("rb") as stream:
        while chunk := stream.read(DOWNLOAD_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_verified(url: str, target: Path, md5: str, progress: Progress | None) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    digest = hashlib.md5()
    with atomic_output(target) as out, \
            urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
        total = _announced_length(response) if progress else None
        received = 0
        while chunk := response.read(DOWNLOAD_CHUNK_BYTES):
            digest.update(chunk)
            out.write(chunk)
            received += len(chunk)
            if progress:
                progress(received, total)
        if digest.hexdigest() != md5:
            raise ChecksumError(f"the md5 of the bytes received is {digest.hexdigest()}, "
                                f"expected {md5}")


def _announced_length(response: http.client.HTTPResponse) -> int | None:
    length = response.headers.get("Content-Length")
    return int(length) if length is not None and length.isdigit() else None


@contextmanager
def atomic_output(target: Path) -> Iterator[BinaryIO]:
    """Write ``target`` all at once or not at all: ``with atomic_output(path) as out: ...``.

    The block writes to a temporary file next to ``target``. When the block finishes, that
    file takes the name ``target`` in one step (``os.replace``); when it raises, the file is
    deleted. Readers therefore never see a half-written ``target``.
    """
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                             suffix=".part")
    try:
        os.chmod(temporary, FILE_MODE)
        with os.fdopen(descriptor, "wb") as out:
            yield out
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- command line --------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.data.mnist download [--dir DIR] [--mirror URL ...]``."""
    parser = argparse.ArgumentParser(prog="python -m tinytorch.data.mnist",
                                     description="Download the full MNIST data set.")
    commands = parser.add_subparsers(dest="command", required=True)
    download = commands.add_parser(
        "download", help="fetch the four official .gz files, md5-checked, into a cache folder")
    download.add_argument("--dir", type=Path, default=None,
                          help=f"where to keep the files (default: {default_mnist_dir()})")
    download.add_argument("--mirror", action="append", dest="mirrors", metavar="URL",
                          help="a base URL to try, in the order given (repeatable; "
                               "default: the built-in mirrors)")
    arguments = parser.parse_args(argv)
    try:
        folder = download_mnist(arguments.dir, arguments.mirrors or MIRRORS)
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"MNIST is in {folder} ({', '.join(GZ_MD5)}; md5 verified).")
    print("Load it with: from tinytorch.data import load_mnist; "
          f"x_train, y_train, x_test, y_test = load_mnist({str(folder)!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
