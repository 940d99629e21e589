"""TinyDigits: 6,000 real MNIST digits that ship with TinyTorch, so every kata runs offline.

::

    from tinytorch.data import load_tinydigits
    x_train, y_train, x_test, y_test = load_tinydigits()
    x_train.shape, x_train.dtype    # (5000, 28, 28) uint8, 0 = background, 255 = ink
    y_train.shape, y_train.dtype    # (5000,) int64, the digit 0..9
    x_test.shape                    # (1000, 28, 28)

``load_tinydigits`` returns a ``Digits`` named tuple: unpack it as above or read its fields
(``digits.x_train``). The pixels are MNIST's own, unscaled: divide by 255.0 yourself.

What is in it
    5,000 training images, exactly 500 of each digit, from the official MNIST training
    split, and 1,000 test images, exactly 100 of each digit, from the official test split.
    Every image is byte-for-byte an MNIST image. They come in a mixed order, so even a
    slice such as ``x_train[:100]`` holds every digit.

How they were chosen (``select_balanced``)
    Each index i of a split gets the key sha256("tinydigits-v1/<split>/<i>"). Walking the
    indices in key order, an index is kept while its digit still has room. The rule is
    pseudo-random yet fixed: it uses no random number generator, whose algorithms may change
    between NumPy versions, so any machine selects the same images.

How the file was made
    ``python -m tinytorch.data.tinydigits build --mnist DIR [--out PATH]``, where DIR holds
    the official MNIST files (gzipped or not). Their md5s are checked before anything is
    built. The file ``tinydigits.npz`` next to this module is an ordinary ``.npz`` (no
    pickles) holding x_train, y_train, x_test, y_test and the MNIST indices the images came
    from (train_index, test_index).

Why the file has a fixed sha256
    ``load_tinydigits`` checks the file against ``TINYDIGITS_SHA256`` before reading it, so
    a damaged, truncated or edited file fails loudly instead of training on wrong data.
    ``np.savez_compressed`` stamps the current time into the zip, so two builds would
    differ; ``write_npz`` writes the same zip with fixed timestamps, order, permissions and
    compression level, and a rebuild is byte-identical. One caveat, stated honestly: the
    compressed bytes depend on the zlib library (and the .npy header on NumPy), so on a
    machine whose zlib compresses differently the arrays come out identical but the file
    bytes may not. ``CONTENT_SHA256``, a digest of the arrays themselves, is what a rebuild
    must always reproduce; the build command checks both and tells you which matched.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..untrusted import read_npz
from .mnist import (
    FILE_MODE,
    NUM_CLASSES,
    ChecksumError,
    Digits,
    atomic_output,
    check_digits,
    load_mnist,
)

TRAIN_PER_CLASS = 500
TEST_PER_CLASS = 100
SELECTION_KEY = "tinydigits-v1"
DEFAULT_PATH = Path(__file__).with_name("tinydigits.npz")

# sha256 of the bytes of tinydigits.npz (check it with `sha256sum tinydigits.npz`).
TINYDIGITS_SHA256 = "3f3d09697d74026b3405682297a8b1a52800e21012787835b213c26c80cf0df6"
# sha256 of the arrays inside it (see content_sha256): independent of zlib and NumPy.
CONTENT_SHA256 = "5fff966e2c896e38f396a7210176fdedc94cf2e88f9c8020d611fafa8aac1387"

# The earliest timestamp a zip file can hold; any fixed date would do.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_COMPRESS_LEVEL = 9
ZIP_UNIX_SYSTEM = 3


def load_tinydigits(path: str | os.PathLike | None = None, *,
                    expected_sha256: str | None = TINYDIGITS_SHA256) -> Digits:
    """Load TinyDigits: ``x_train, y_train, x_test, y_test = load_tinydigits()``.

    ``path`` defaults to the ``tinydigits.npz`` shipped next to this module. The file's
    sha256 must equal ``expected_sha256`` (default: the shipped file's digest), else
    ChecksumError names both digests; pass ``expected_sha256=None`` to load a file you
    built yourself. Returns ``Digits``: uint8 images (N, 28, 28), int64 labels (N,).

    The file is read with ``read_npz`` (no pickle, sizes capped before anything is
    allocated), and a file that is not uint8 images (N, 28, 28) with as many labels 0..9
    is refused with a ``ValueError`` naming the file and the array.
    """
    file = Path(path) if path is not None else DEFAULT_PATH
    if not file.is_file():
        raise FileNotFoundError(f"TinyDigits file {file} not found; rebuild it with "
                                f"`python -m tinytorch.data.tinydigits build --mnist DIR`")
    if expected_sha256 is not None:
        data = file.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise ChecksumError(
                f"{file} is damaged or was changed: its sha256 is {actual}, expected "
                f"{expected_sha256} ({len(data):,} bytes read). Restore it (git checkout -- "
                f"tinytorch/data/tinydigits.npz) or rebuild it with `python -m "
                f"tinytorch.data.tinydigits build --mnist DIR`; to load a file you built "
                f"yourself, pass expected_sha256=None.")
    arrays = read_npz(file)
    missing = [name for name in Digits._fields if name not in arrays]
    if missing:
        raise ValueError(f"{file} is not a TinyDigits file: it has no {', '.join(missing)}")
    for split in ("train", "test"):
        check_digits(arrays[f"x_{split}"], arrays[f"y_{split}"], f"{file} x_{split}",
                     f"{file} y_{split}")
    return Digits(arrays["x_train"], arrays["y_train"].astype(np.int64, copy=False),
                  arrays["x_test"], arrays["y_test"].astype(np.int64, copy=False))


def select_balanced(labels: np.ndarray, per_class: int, split: str) -> np.ndarray:
    """Indices of exactly ``per_class`` examples of every digit, in a fixed mixed order.

    The rule (see the module docstring): rank the indices by sha256 of
    ``"tinydigits-v1/<split>/<index>"`` and keep an index while its digit has room.
    """
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    if counts.min() < per_class:
        raise ValueError(f"cannot take {per_class} of every digit from the {split} split: "
                         f"it has {counts.tolist()} examples of digits 0..9")
    keys = [hashlib.sha256(f"{SELECTION_KEY}/{split}/{index}".encode()).digest()
            for index in range(len(labels))]
    taken = [0] * NUM_CLASSES
    chosen: list[int] = []
    digits = labels.tolist()
    for index in sorted(range(len(labels)), key=keys.__getitem__):
        if taken[digits[index]] < per_class:
            taken[digits[index]] += 1
            chosen.append(index)
    return np.array(chosen, dtype=np.int64)


def tinydigits_arrays(mnist: Digits) -> dict[str, np.ndarray]:
    """The arrays of TinyDigits, drawn from the full ``mnist``."""
    train_index = select_balanced(mnist.y_train, TRAIN_PER_CLASS, "train")
    test_index = select_balanced(mnist.y_test, TEST_PER_CLASS, "test")
    return {
        "x_train": mnist.x_train[train_index],
        "y_train": mnist.y_train[train_index].astype(np.int64),
        "x_test": mnist.x_test[test_index],
        "y_test": mnist.y_test[test_index].astype(np.int64),
        "train_index": train_index,
        "test_index": test_index,
    }


def write_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as a compressed ``.npz`` whose bytes depend only on the arrays.

    An ``.npz`` is a zip holding one ``.npy`` file per array. This writes exactly that (so
    ``np.load`` reads it), with the fixed settings listed in the module docstring, into a
    temporary file that replaces ``path`` once complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as out, zipfile.ZipFile(out, "w") as archive:
        for name, array in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.create_system = ZIP_UNIX_SYSTEM
            member.external_attr = FILE_MODE << 16
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(array), allow_pickle=False)
            archive.writestr(member, npy.getvalue(), compresslevel=ZIP_COMPRESS_LEVEL)


def content_sha256(path: str | os.PathLike) -> str:
    """sha256 over every array in the ``.npz`` at ``path``: its name, dtype, shape and bytes.

    Unlike the file's digest, this does not depend on how the zip was compressed.
    """
    digest = hashlib.sha256()
    with np.load(path, allow_pickle=False) as archive:
        for name in sorted(archive.files):
            array = archive[name]
            digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def build_tinydigits(mnist_dir: str | os.PathLike,
                     out: str | os.PathLike = DEFAULT_PATH) -> Path:
    """Build TinyDigits from the official MNIST files in ``mnist_dir`` into ``out``.

    The MNIST files' md5s are verified first (ChecksumError on a mismatch); nothing is
    written unless they match.
    """
    write_npz(out, tinydigits_arrays(load_mnist(mnist_dir, verify=True)))
    return Path(out)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.data.tinydigits build --mnist DIR [--out PATH]``.

    Exits with 1 if the arrays built differ from the shipped TinyDigits.
    """
    parser = argparse.ArgumentParser(prog="python -m tinytorch.data.tinydigits",
                                     description="Build TinyDigits from the official MNIST.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="draw TinyDigits from the MNIST files in a folder")
    build.add_argument("--mnist", type=Path, required=True, metavar="DIR",
                       help="folder with the four official MNIST files, .gz or raw")
    build.add_argument("--out", type=Path, default=DEFAULT_PATH, metavar="PATH",
                       help=f"where to write the .npz (default: {DEFAULT_PATH})")
    arguments = parser.parse_args(argv)
    try:
        out = build_tinydigits(arguments.mnist, arguments.out)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    file_digest = hashlib.sha256(out.read_bytes()).hexdigest()
    arrays_digest = content_sha256(out)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)\n  file sha256   {file_digest}\n"
          f"  arrays sha256 {arrays_digest}")
    if arrays_digest != CONTENT_SHA256:
        print(f"the arrays DIFFER from the shipped TinyDigits (arrays sha256 {CONTENT_SHA256})",
              file=sys.stderr)
        return 1
    if file_digest == TINYDIGITS_SHA256:
        print("identical to the shipped tinydigits.npz, byte for byte")
    else:
        print(f"the arrays equal the shipped TinyDigits, but the file bytes differ from its "
              f"sha256 {TINYDIGITS_SHA256}: this zlib compresses differently. "
              f"load_tinydigits() checks the file digest: keep the shipped file, or load this "
              f"one with load_tinydigits(path, expected_sha256=None).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
