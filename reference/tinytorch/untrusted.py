"""Reading files you did not write: ``.npz`` archives and the JSON and arrays inside them.

A checkpoint, a compressed model or a leaderboard submission is a file anyone can craft.
Three kinds of damage are possible, and each has its defence here:

- **running code**: a pickled entry runs whatever the file says when it is loaded, so
  object arrays are refused (only plain numbers and text are data, never code);
- **exhausting memory**: a ``.npy`` header is a promise, ``{'shape': (10**9, 10**9)}``,
  that ``np.load`` keeps by allocating first and reading afterwards. A file of a few
  hundred bytes can ask for terabytes, and deflate packs zeros about 1,000 to 1, so a 2 MB
  zip can inflate to 2 GB. :func:`read_npz` reads
  every header first and checks the bytes it declares against what the zip says the
  entry holds and against a cap (``max_bytes``), before one array is allocated;
- **half-loading**: a model whose first layers were overwritten before a bad entry was
  found is neither the old model nor the new one. A loader checks EVERY entry first
  (:func:`check_fits`, :func:`check_real`, :func:`check_number`) and copies afterwards.

Every error is a :class:`FileFormatError` (a ``ValueError``) whose message starts with the
file and names the entry or field at fault, so that a refused file can be found and fixed.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import sys
import zipfile
import zlib
from typing import Any

import numpy as np

MAX_NPZ_BYTES = 1 << 30
"""The most bytes of arrays :func:`read_npz` accepts from one file: 1 GiB, 268 million
float32 values, far beyond any TinyTorch model and far below what would exhaust a laptop."""
MAX_JSON_CHARS = 1 << 20
MAX_JSON_DEPTH = 64
MAX_NPZ_ENTRIES = 4096
"""The most entries an archive may list: ``zipfile`` builds an object per entry of the zip's
directory before anything can be checked, and a few megabytes of directory list millions."""
END_RECORD = struct.Struct("<4s4H2LH")
"""The zip's end-of-central-directory record: signature, two disk numbers, the entries on
this disk and in all, the directory's size and offset, the comment's length."""
END_SIGNATURE = b"PK\x05\x06"
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
NPY_HEADER_BYTES = 16 + 10_000
"""Enough to read any ``.npy`` header NumPy accepts (magic, version, length, 10,000 characters)."""


class FileFormatError(ValueError):
    """A file is not what it claims to be: damaged, forged, or asking for too much memory."""


_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
# What reading a damaged zip can raise: a bad CRC or header, a stream cut short, a
# compression method or an encryption this Python cannot read.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error,
               NotImplementedError, RuntimeError)


def read_npz(path: str | os.PathLike, *, max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive at ``path``, by name, read without pickle.

    Nothing is allocated before it is known to be small enough: for each ``.npy`` entry the
    header is read on its own, and the bytes its shape and dtype declare must be exactly
    the bytes the zip says the entry holds, and all entries together at most
    ``max_bytes``. Then each array is read into an array of its own (writable).

    ``FileNotFoundError`` for a missing file; ``FileFormatError`` naming the file (and the entry)
    for something that is not a regular file (a pipe or a device), an empty file, a bare
    ``.npy`` file, a file that is not a zip or is truncated or damaged (its CRC-32 fails),
    a zip64 archive or one listing more than ``MAX_NPZ_ENTRIES`` entries (both read from
    its end record, before ``zipfile`` reads the directory), an entry that is not a ``.npy``
    array, an entry of Python objects (only pickle can restore them, and unpickling runs
    code), a header that does not match its entry, and arrays that add up to more than
    ``max_bytes``.
    """
    if os.path.exists(path) and not os.path.isfile(path):
        raise FileFormatError(f"{path}: not a regular file, so not an .npz archive")
    with open(path, "rb") as file:
        start = file.read(len(np.lib.format.MAGIC_PREFIX))
        if not start:
            raise FileFormatError(f"{path}: the file is empty (0 bytes), not an .npz archive")
        if start == np.lib.format.MAGIC_PREFIX:
            raise FileFormatError(f"{path}: a bare .npy file (a single array without a name), not an "
                             f".npz archive of named arrays (np.savez writes those)")
        _check_end_record(path, file)
        try:
            with zipfile.ZipFile(file) as archive:
                return _read_entries(path, archive, max_bytes)
        except _ZIP_ERRORS as error:
            raise FileFormatError(f"{path}: truncated or corrupt .npz archive ({type(error).__name__}: "
                             f"{error})") from None


def _check_end_record(path: str | os.PathLike, file: Any) -> None:
    """Refuse a zip64 archive (no TinyTorch file needs one) and a directory of more than
    ``MAX_NPZ_ENTRIES`` entries, from the end record alone; a file without one is not a zip.
    Leaves ``file`` at its start."""
    size = file.seek(0, os.SEEK_END)
    file.seek(max(0, size - END_RECORD.size - 0xFFFF))   # the record, then a comment < 64 kB
    tail = file.read()
    at = tail.rfind(END_SIGNATURE)
    if at < 0 or len(tail) - at < END_RECORD.size:
        raise FileFormatError(f"{path}: truncated or corrupt .npz archive (it has no zip end record)")
    if tail[max(0, at - 20):at].startswith(ZIP64_LOCATOR_SIGNATURE):
        raise FileFormatError(f"{path}: a zip64 archive, for files far larger than any .npz "
                              f"TinyTorch reads")
    entries = END_RECORD.unpack_from(tail, at)[4]
    if entries > MAX_NPZ_ENTRIES:
        raise FileFormatError(f"{path}: the zip directory lists {entries:,} entries, more than the "
                              f"{MAX_NPZ_ENTRIES:,} an .npz archive may have")
    file.seek(0)


def _read_entries(path: str | os.PathLike, archive: zipfile.ZipFile,
                  max_bytes: int) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    declared = 0
    for member in archive.infolist():
        name = member.filename.removesuffix(".npy")
        if name == member.filename or member.is_dir():
            raise FileFormatError(f"{path}: member {member.filename!r} is not a .npy array; an .npz "
                             f"archive holds only .npy files")
        if name in arrays:
            raise FileFormatError(f"{path}: entry {name!r} appears twice in the archive")
        declared += member.file_size
        if declared > max_bytes:
            raise FileFormatError(f"{path}: entry {name!r} declares {member.file_size:,} bytes, which "
                             f"brings the archive to {declared:,}: more than the {max_bytes:,} "
                             f"bytes read_npz accepts (max_bytes)")
        arrays[name] = _read_entry(path, archive, member, name)
    return arrays


def _read_entry(path: str | os.PathLike, archive: zipfile.ZipFile, member: zipfile.ZipInfo,
                name: str) -> np.ndarray:
    """One entry's array, once its header is known to match the bytes the zip holds."""
    with archive.open(member) as stream:
        head = io.BytesIO(stream.read(min(member.file_size, NPY_HEADER_BYTES)))
    try:
        version = np.lib.format.read_magic(head)
        reader = _NPY_HEADER_READERS.get(version)
        if reader is None:
            raise ValueError(f".npy format version {version[0]}.{version[1]} is not supported "
                             f"(1.0 and 2.0 are)")
        shape, _, dtype = reader(head)
    except ValueError as error:
        raise FileFormatError(f"{path}: entry {name!r} has no valid .npy header ({error})") from None
    if dtype.hasobject:
        raise FileFormatError(f"{path}: entry {name!r} holds Python objects (dtype {dtype}), which "
                         f"only pickle can restore; refused, because unpickling runs whatever "
                         f"code the file contains")
    if any(n < 0 for n in shape):
        raise FileFormatError(f"{path}: entry {name!r} declares the shape {shape}, with a negative size")
    data_bytes = math.prod(shape) * dtype.itemsize
    held = member.file_size - head.tell()
    if data_bytes != held:
        raise FileFormatError(f"{path}: entry {name!r} declares shape {shape} of {dtype}, "
                         f"{data_bytes:,} bytes, but the archive holds {held:,} bytes for it")
    with archive.open(member) as stream:
        return np.lib.format.read_array(stream, allow_pickle=False)


def read_json_entry(path: str | os.PathLike, field: str, array: np.ndarray) -> dict[str, Any]:
    """The JSON object stored in ``array``, one text (a 0-d string array) read from ``path``.

    ``FileFormatError`` naming the file and ``field`` unless it is such a text, at most
    ``MAX_JSON_CHARS`` long, valid JSON, an object (``{...}``, a dict) and nested at most
    ``MAX_JSON_DEPTH`` deep.
    """
    if array.dtype.kind != "U" or array.ndim != 0:
        raise FileFormatError(f"{path}: entry {field!r} should be one JSON text (a 0-d string array), "
                         f"found {array.dtype} of shape {array.shape}")
    text = str(array)
    if len(text) > MAX_JSON_CHARS:
        raise FileFormatError(f"{path}: entry {field!r} is {len(text):,} characters of JSON, more than "
                         f"the {MAX_JSON_CHARS:,} accepted")
    value = parse_json(text, f"{path}: entry {field!r}")
    if not isinstance(value, dict):
        raise FileFormatError(f"{path}: entry {field!r} holds a JSON {type(value).__name__}, expected "
                         f"an object ({{...}})")
    return value


def parse_json(text: str, where: str) -> Any:
    """``json.loads(text)``, nested at most ``MAX_JSON_DEPTH`` deep, else a ``FileFormatError``
    starting with ``where`` (the file, and the entry when the text is one). Python's parser
    stops by itself about 1,000 levels deep (``RecursionError``); the depth limit keeps a
    structure it accepts from breaking recursive code that meets it later."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise FileFormatError(f"{where} is JSON nested too deeply to read") from None
    except ValueError as error:
        raise FileFormatError(f"{where} is not valid JSON ({error})") from None
    if _json_depth(value) > MAX_JSON_DEPTH:
        raise FileFormatError(f"{where} is JSON nested more than {MAX_JSON_DEPTH} deep")
    return value


def _json_depth(value: Any) -> int:
    """How deeply lists and dicts nest in ``value`` (1 for a flat one), level by level."""
    depth = 0
    level = [value]
    while level:
        depth += 1
        level = [child for item in level if isinstance(item, (dict, list))
                 for child in (item.values() if isinstance(item, dict) else item)
                 if isinstance(child, (dict, list))]
    return depth


def check_real(path: str | os.PathLike, field: str, array: np.ndarray,
               dtype: np.dtype | None = None) -> None:
    """Refuse an array that is not real floating-point numbers, all finite.

    With ``dtype`` (a floating-point dtype the values will be cast to), every value must
    also be within its range: float64 ``1e300`` would become ``inf`` in float32.
    ``FileFormatError`` naming the file, ``field`` and the problem (complex, text and integer
    arrays are not real floating-point numbers; NaN and inf are not finite).
    """
    if array.dtype.kind != "f":
        raise FileFormatError(f"{path}: entry {field!r} holds {array.dtype} values, expected real "
                         f"floating-point numbers")
    bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise FileFormatError(f"{path}: entry {field!r} holds {bad:,} values that are NaN or infinite")
    if dtype is not None and array.size and np.finfo(array.dtype).max > np.finfo(dtype).max:
        largest = float(np.abs(array).max())
        if largest > float(np.finfo(dtype).max):
            raise FileFormatError(f"{path}: entry {field!r} holds {largest:g}, beyond the range of "
                             f"{np.dtype(dtype)}")


def check_fits(path: str | os.PathLike, field: str, array: np.ndarray, like: np.ndarray) -> None:
    """Refuse an array from ``path`` that cannot replace ``like`` value for value.

    The shape must be ``like``'s. Into floating point go only real, finite floating-point
    values within its range (:func:`check_real`); into integers only integers within the
    range of ``like``'s dtype; into anything else only ``like``'s exact dtype. ``FileFormatError``
    naming the file, ``field`` and the problem.
    """
    if array.shape != like.shape:
        raise FileFormatError(f"{path}: entry {field!r} has shape {array.shape}, expected {like.shape}")
    kind = like.dtype.kind
    if kind == "f":
        check_real(path, field, array, like.dtype)
    elif kind in "iu":
        if array.dtype.kind not in "iu":
            raise FileFormatError(f"{path}: entry {field!r} holds {array.dtype} values, expected "
                             f"integers ({like.dtype})")
        limits = np.iinfo(like.dtype)
        if array.size and (array.min() < limits.min or array.max() > limits.max):
            raise FileFormatError(f"{path}: entry {field!r} holds values from {array.min()} to "
                             f"{array.max()}, beyond the range of {like.dtype}")
    elif array.dtype != like.dtype:
        raise FileFormatError(f"{path}: entry {field!r} holds {array.dtype} values, expected {like.dtype}")


def check_number(path: str | os.PathLike, field: str, value: Any) -> float:
    """``value`` if it is a finite number ``>= 0`` (an int or a float, not a bool), else a
    ``FileFormatError`` naming the file, ``field`` and the value (a learning rate of NaN, -1,
    ``inf`` or ``"0.1"`` is refused)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and 0 <= value <= sys.float_info.max):  # False for NaN, inf and huge ints
        raise FileFormatError(f"{path}: {field} must be a finite number >= 0, got {value!r}")
    return value
