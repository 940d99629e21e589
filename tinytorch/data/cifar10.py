"""CIFAR-10: reading its official Python files, and downloading them.

CIFAR-10 (Alex Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009)
is 60,000 colour photographs of 32x32 pixels in 10 classes, 6,000 per class: 50,000 for
training and 10,000 for testing. Its official "python version" is one archive,
``cifar-10-python.tar.gz`` (about 163 MB), that unpacks to::

    cifar-10-batches-py/
        data_batch_1 ... data_batch_5   10,000 training images each
        test_batch                      10,000 test images
        batches.meta                    the class names
        readme.html

Each batch file is a pickled dict written by Python 2, with byte-string keys:

    b"data"     a uint8 NumPy array of shape (10000, 3072), one image per row: the first
                1024 values are the red plane (32 rows of 32 pixels, top row first), then
                the green plane, then the blue one
    b"labels"   a list of 10000 ints, the classes 0..9 (names in batches.meta)

So a row reshaped to (3, 32, 32) is the image, channels first, and the whole batch is
``data.reshape(-1, 3, 32, 32)``: no pixel moves. ``load_cifar10`` returns exactly that::

    from tinytorch.data import download_cifar10, load_cifar10
    x_train, y_train, x_test, y_test = load_cifar10(download_cifar10())
    x_train.shape, x_train.dtype     # (50000, 3, 32, 32) uint8
    y_train.shape, y_train.dtype     # (50000,) int64

or from a shell: ``python -m tinytorch.data.cifar10 download [--dir DIR]``.

Where the files live
    ``download_cifar10`` keeps the archive and the unpacked ``cifar-10-batches-py/`` in
    ``$TINYTORCH_DATA/cifar10``, which is ``~/.cache/tinytorch/cifar10`` when the
    ``TINYTORCH_DATA`` environment variable is not set (``data_home()``, as for MNIST).

Checksums
    The archive's md5 is checked before it is unpacked, and ``load_cifar10`` checks the
    md5 of every file it reads against the official one (``FILE_MD5``), so what you train
    on is CIFAR-10 and nothing else. A copy that is not byte-identical (re-encoded, a
    subset, your own images in the same format) loads with ``load_cifar10(path,
    verify=False)``.

Why pickle, and why only a little of it
    Unpickling is running a program: a pickle names functions that the loader calls to
    rebuild objects, so a crafted file can run any command on your machine. The official
    files are pickles, though, so ``read_batch`` uses ``BatchUnpickler``, whose
    ``find_class`` hands out only the few callables a CIFAR-10 batch needs and refuses
    every other name with ``ForbiddenPickleError``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import lzma
import os
import pickle
import pickletools
import shutil
import sys
import tarfile
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TextIO

import numpy as np

from .mnist import ChecksumError, DownloadError, data_home, download_file, md5_of_file

IMAGE_SHAPE = (3, 32, 32)
ROW_LENGTH = 3 * 32 * 32
NUM_CLASSES = 10
CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")

ARCHIVE = "cifar-10-python.tar.gz"
ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
MIRRORS = ("https://www.cs.toronto.edu/~kriz/",)
BATCHES_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
# md5 of the official files inside the archive.
FILE_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
MEGABYTE = 1_000_000
# Caps on what a file may make this module allocate or write. A batch is 31 MB; a replica
# with the official keys, pickled with protocol 2, has 90,152 opcodes; the six batches
# unpack to about 186 MB.
MAX_PICKLE_BYTES = 1 << 30
MAX_PICKLE_OPCODES = 1_000_000
MAX_ARCHIVE_BYTES = 1 << 30


class Cifar10(NamedTuple):
    """CIFAR-10's split: ``x_train, y_train, x_test, y_test = load_cifar10(...)``.

    Images are uint8 arrays of shape (N, 3, 32, 32), channels R, G, B, values 0..255;
    labels are int64 arrays of shape (N,), the class index 0..9 (names in ``CLASSES``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class Cifar10FormatError(ValueError):
    """A file is not a well-formed CIFAR-10 batch (or the archive has no batches in it)."""


class ForbiddenPickleError(pickle.UnpicklingError):
    """A pickle asked for a callable that a CIFAR-10 batch never needs."""


class UnsafeArchiveError(ValueError):
    """An archive member could write outside the folder it is unpacked into, or too much."""


def default_cifar10_dir() -> Path:
    """Where ``download_cifar10`` and ``load_cifar10`` look by default: ``data_home() / "cifar10"``."""
    return data_home() / "cifar10"


# -- reading the batches ---------------------------------------------------------------------

def _latin1_encode(text: str, encoding: str) -> bytes:
    """``_codecs.encode(text, "latin1")``, the one use of it a batch file can make.

    Python 3 writes a ``bytes`` object into a protocol-2 pickle as this call on a string
    (protocol 2 has no opcode for bytes): copies of CIFAR-10 re-saved from Python 3 contain
    it. Any other codec is refused.
    """
    if encoding != "latin1":
        raise ForbiddenPickleError(f"the pickle asks for _codecs.encode with codec {encoding!r}; "
                                   f"a CIFAR-10 batch only ever needs 'latin1'")
    return text.encode("latin1")


# The function NumPy's own pickles name to rebuild an array (numpy.core.multiarray._reconstruct,
# numpy._core.multiarray._reconstruct since NumPy 2), taken from a pickle of an empty array so
# that no deprecated module has to be imported.
_reconstruct_array = np.empty(0).__reduce__()[0]


class BatchUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild dicts, lists, strings, numbers and uint8 arrays: nothing else.

    Plain containers, strings and numbers need no callable at all. A NumPy array needs
    three: ``_reconstruct`` (makes an empty array of a class), ``numpy.ndarray`` (the class)
    and ``numpy.dtype`` (its element type); the array's bytes are then restored by
    ``ndarray.__setstate__``, which copies data and calls nothing. The official files were
    written by Python 2 and name ``numpy.core.multiarray._reconstruct``; NumPy 2 pickles name
    ``numpy._core.multiarray._reconstruct``. Copies re-saved by Python 3 with protocol 2 also
    use ``_codecs.encode(text, "latin1")`` for every bytes object, which is allowed for the
    latin1 codec only (``_latin1_encode``).

    Those five names map to the objects they denote; ``find_class`` refuses every other one
    (``os.system``, ``builtins.eval``, ...) with ``ForbiddenPickleError``, so a crafted file
    cannot make the loader call anything else. Arrays pickled with protocol 5 name another
    constructor (``_frombuffer``) and are refused too: write batches with protocol 2, as
    CIFAR-10 does.
    """

    ALLOWED: ClassVar[dict[tuple[str, str], Any]] = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct_array,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct_array,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.ALLOWED[module, name]
        except KeyError:
            raise ForbiddenPickleError(
                f"refusing to load {module}.{name}: a CIFAR-10 batch holds only dicts, lists, "
                f"strings, numbers and NumPy arrays, and this file asks for something else "
                f"(a pickle can run code: do not load it)") from None


def unpickle(path: str | os.PathLike) -> Any:
    """Read one pickle file with ``BatchUnpickler``; byte strings stay ``bytes``.

    A pickle can also exhaust memory: a 20-byte file may declare a string of a terabyte,
    which the unpickler allocates before reading it, and each one-byte opcode can make
    an object. So before unpickling, the file must be at most ``MAX_PICKLE_BYTES``, and a
    dry run over its opcodes (``pickletools.genops``, which builds nothing) must find every
    declared length within the file and at most ``MAX_PICKLE_OPCODES`` opcodes.

    ``ForbiddenPickleError`` if it asks for a forbidden callable, ``Cifar10FormatError`` if it
    is not a readable pickle at all (damaged, truncated, another format, too large).
    """
    size = os.path.getsize(path)
    if size > MAX_PICKLE_BYTES:
        raise Cifar10FormatError(f"{path} is {size:,} bytes, more than the {MAX_PICKLE_BYTES:,} a "
                                 f"CIFAR-10 pickle may hold")
    data = Path(path).read_bytes()
    try:
        for count, _ in enumerate(pickletools.genops(data), start=1):
            if count > MAX_PICKLE_OPCODES:
                raise Cifar10FormatError(f"{path} holds more than {MAX_PICKLE_OPCODES:,} pickle "
                                         f"opcodes; a CIFAR-10 batch needs far fewer")
        return BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except (ForbiddenPickleError, Cifar10FormatError):
        raise
    except Exception as error:  # noqa: BLE001 (a damaged pickle fails in many ways, all alike)
        raise Cifar10FormatError(f"{path} is not a readable CIFAR-10 pickle: "
                                 f"{type(error).__name__}: {error}") from None


def _text_keys(entries: Any, path: str | os.PathLike) -> dict[str, Any]:
    """The dict of a batch file with its keys as ``str`` (Python 2 wrote them as bytes)."""
    if not isinstance(entries, dict):
        raise Cifar10FormatError(f"{path} holds a {type(entries).__name__}; a CIFAR-10 file "
                                 f"holds a dict")
    return {key.decode("latin1") if isinstance(key, bytes) else key: value
            for key, value in entries.items()}


def read_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One batch file as ``(images, labels)``: uint8 (N, 3, 32, 32) and int64 (N,).

    Raises ``Cifar10FormatError`` naming the problem when the file has no ``data`` or
    ``labels`` entry, the data is not uint8 rows of 3072 values, the counts of images and
    labels differ, or a label is outside 0..9.
    """
    batch = _text_keys(unpickle(path), path)
    missing = [key for key in ("data", "labels") if key not in batch]
    if missing:
        raise Cifar10FormatError(f"{path} has no {' or '.join(map(repr, missing))} entry; it "
                                 f"holds {sorted(map(str, batch))}")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != ROW_LENGTH:
        found = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) \
            else type(data).__name__
        raise Cifar10FormatError(f"{path}: 'data' should be a uint8 array of shape (N, "
                                 f"{ROW_LENGTH}), one image per row, but is a {found}")
    labels = np.asarray(batch["labels"])
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise Cifar10FormatError(f"{path}: 'labels' should be a list of ints, but holds "
                                 f"{labels.dtype} values of shape {labels.shape}")
    if len(labels) != len(data):
        raise Cifar10FormatError(f"{path} holds {len(data):,} images but {len(labels):,} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise Cifar10FormatError(f"{path} holds labels from {labels.min()} to {labels.max()}; "
                                 f"CIFAR-10 classes are 0..{NUM_CLASSES - 1}")
    return data.reshape(-1, *IMAGE_SHAPE), labels.astype(np.int64)


def read_label_names(path: str | os.PathLike | None = None) -> list[str]:
    """The class names in ``batches.meta`` (``path``: the file, or a folder holding it)."""
    file = Path(path).expanduser() if path is not None else default_cifar10_dir()
    if file.is_dir():
        file = _batches_folder(file) / META
    meta = _text_keys(unpickle(file), file)
    names = meta.get("label_names")
    if not isinstance(names, list) or not all(isinstance(n, (bytes, str)) for n in names):
        raise Cifar10FormatError(f"{file} has no list of 'label_names'")
    return [n.decode("utf-8") if isinstance(n, bytes) else n for n in names]


def load_cifar10(path: str | os.PathLike | None = None, *, verify: bool = True) -> Cifar10:
    """Load CIFAR-10: ``x_train, y_train, x_test, y_test = load_cifar10()``.

    ``path`` is the ``cifar-10-batches-py`` folder or a folder that contains it (default:
    ``default_cifar10_dir()``). With ``verify`` (the default) every file must have its
    official md5 (``ChecksumError`` names the file and both digests); ``verify=False``
    reads any well-formed batches, such as a re-encoded copy of CIFAR-10.

    Returns ``Cifar10``: the five training batches in order, then the test batch. Raises
    ``FileNotFoundError`` for a missing file (saying how to download it),
    ``Cifar10FormatError`` for a malformed one and ``ForbiddenPickleError`` for a file that
    is not a plain CIFAR-10 pickle.
    """
    folder = _batches_folder(path)
    names = (*TRAIN_BATCHES, TEST_BATCH)
    for name in names:
        file = folder / name
        if not file.is_file():
            raise FileNotFoundError(
                f"CIFAR-10 file {name} not found in {folder}. Download CIFAR-10 with "
                f"tinytorch.data.download_cifar10() or `python -m tinytorch.data.cifar10 "
                f"download`, or pass the folder that holds {BATCHES_DIR}/.")
        if verify:
            _require_official(file)
    train = [read_batch(folder / name) for name in TRAIN_BATCHES]
    x_test, y_test = read_batch(folder / TEST_BATCH)
    return Cifar10(np.concatenate([x for x, _ in train]), np.concatenate([y for _, y in train]),
                   x_test, y_test)


def _batches_folder(path: str | os.PathLike | None) -> Path:
    folder = Path(path).expanduser() if path is not None else default_cifar10_dir()
    nested = folder / BATCHES_DIR
    return nested if nested.is_dir() else folder


def _require_official(file: Path) -> None:
    actual = md5_of_file(file)
    if actual != FILE_MD5[file.name]:
        raise ChecksumError(
            f"{file} is not the official CIFAR-10 {file.name}: its md5 is {actual}, expected "
            f"{FILE_MD5[file.name]}. Delete it and download CIFAR-10 again, or pass "
            f"verify=False to load batches that are not the official files.")


def _is_official_copy(folder: Path) -> bool:
    return all((folder / name).is_file() and md5_of_file(folder / name) == md5
               for name, md5 in FILE_MD5.items())


# -- downloading and unpacking ---------------------------------------------------------------

class TextProgressBar:
    """A download's progress as one line of plain text, redrawn in place (``\\r``)::

        cifar-10-python.tar.gz  42% [############                  ]   68.9/162.6 MB

    Call it with (bytes received, total bytes or None), as ``download_file`` does. Without
    a total it shows only the megabytes received. It redraws when the shown figure changes
    (each percent, or each megabyte), and ends the line once the total is reached or when
    ``finish()`` is called.
    """

    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._shown: tuple[int, bool] | None = None
        self._open = False

    def __call__(self, received: int, total: int | None) -> None:
        done = total is not None and received >= total
        if total:
            step = min(100, received * 100 // total)
            filled = self.width * step // 100
            line = (f"{self.label} {step:3d}% [{'#' * filled}{' ' * (self.width - filled)}] "
                    f"{received / MEGABYTE:6.1f}/{total / MEGABYTE:.1f} MB")
        else:
            step = received // MEGABYTE
            line = f"{self.label} {received / MEGABYTE:6.1f} MB"
        if (step, done) == self._shown:
            return
        self._shown = (step, done)
        self.stream.write(f"\r{line}")
        self._open = True
        if done:
            self.finish()
        else:
            self.stream.flush()

    def finish(self) -> None:
        """End the line, if one is open."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


def extract_safely(archive: str | os.PathLike, destination: str | os.PathLike,
                   max_bytes: int = MAX_ARCHIVE_BYTES) -> None:
    """Unpack the tar archive ``archive`` (gzipped or not) into the folder ``destination``.

    An archive is instructions to write files, and a malicious one can write anywhere:
    ``/etc/...``, ``../../.bashrc``, or through a link it created a moment before. Every
    member is checked before anything is written, and ``UnsafeArchiveError`` names the
    first that is an absolute path, contains ``..``, is a symbolic or hard link, or is not
    a regular file or folder (a device, a FIFO), or that brings the bytes the members
    declare above ``max_bytes`` (a small gzip can unpack to a full disk). Each member is
    checked as soon as its header is read, before the archive is read any further. Where
    Python has it, the ``"data"`` extraction filter of ``tarfile`` checks again while
    extracting, and drops permission bits such as set-user-id.

    A truncated or damaged archive is a ``Cifar10FormatError`` naming it.
    """
    try:
        with tarfile.open(archive) as tar:
            members = []
            declared = 0
            for member in tar:
                _check_member(member, archive)
                declared += member.size
                if declared > max_bytes:
                    raise UnsafeArchiveError(f"{archive}: refusing member {member.name!r}, which "
                                             f"brings the archive to {declared:,} bytes, more than "
                                             f"the {max_bytes:,} allowed (max_bytes)")
                members.append(member)
            safety: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(destination, members=members, **safety)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, lzma.LZMAError) as error:
        raise Cifar10FormatError(f"{archive} is not a readable tar archive, truncated or damaged "
                                 f"({type(error).__name__}: {error})") from None


def _check_member(member: tarfile.TarInfo, archive: str | os.PathLike) -> None:
    name = member.name
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts:
        raise UnsafeArchiveError(f"{archive}: refusing member {name!r}, whose path leads out of "
                                 f"the folder it is unpacked into")
    if member.issym() or member.islnk():
        raise UnsafeArchiveError(f"{archive}: refusing member {name!r}, a link to "
                                 f"{member.linkname!r}; CIFAR-10 holds only files and folders")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"{archive}: refusing member {name!r}, a device or FIFO; "
                                 f"CIFAR-10 holds only files and folders")


def download_cifar10(cache_dir: str | os.PathLike | None = None,
                     mirrors: Sequence[str] = MIRRORS, *, show_progress: bool = True) -> Path:
    """Download and unpack CIFAR-10; return its ``cifar-10-batches-py`` folder.

    ``cache_dir`` defaults to ``default_cifar10_dir()``. Nothing is fetched when the folder
    already holds the official files. Otherwise the archive (about 163 MB) is downloaded
    into ``cache_dir`` unless a copy with the official md5 is there: the bytes go to a
    temporary file that takes the archive's name only once its md5 is right, trying each
    mirror in turn (``download_file``, with a progress bar on stderr unless
    ``show_progress`` is False). Then it is unpacked with ``extract_safely`` into a
    temporary folder, which replaces ``cifar-10-batches-py`` only when complete. The archive
    is kept, so a damaged folder is re-made without downloading again (delete it to save
    the space).
    """
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cifar10_dir()
    target = folder / BATCHES_DIR
    if _is_official_copy(target):
        return target
    progress = TextProgressBar(ARCHIVE) if show_progress else None
    try:
        archive = download_file(ARCHIVE, ARCHIVE_MD5, folder, mirrors, progress)
    finally:
        if progress:
            progress.finish()
    staging = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=folder))
    try:
        extract_safely(archive, staging)
        unpacked = staging / BATCHES_DIR
        if not unpacked.is_dir():
            raise Cifar10FormatError(f"{archive} holds no {BATCHES_DIR}/ folder")
        if target.exists():
            shutil.rmtree(target)
        os.replace(unpacked, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# -- command line ----------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.data.cifar10 download [--dir DIR] [--mirror URL ...]``."""
    parser = argparse.ArgumentParser(prog="python -m tinytorch.data.cifar10",
                                     description="Download the CIFAR-10 data set.")
    commands = parser.add_subparsers(dest="command", required=True)
    download = commands.add_parser(
        "download", help="fetch the official archive, md5-checked, and unpack it into a cache folder")
    download.add_argument("--dir", type=Path, default=None,
                          help=f"where to keep the files (default: {default_cifar10_dir()})")
    download.add_argument("--mirror", action="append", dest="mirrors", metavar="URL",
                          help="a base URL to try, in the order given (repeatable; default: "
                               f"{MIRRORS[0]})")
    arguments = parser.parse_args(argv)
    try:
        folder = download_cifar10(arguments.dir, arguments.mirrors or MIRRORS)
    except (DownloadError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"CIFAR-10 is in {folder} (md5 verified).")
    print("Load it with: from tinytorch.data import load_cifar10; "
          f"x_train, y_train, x_test, y_test = load_cifar10({str(folder)!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
