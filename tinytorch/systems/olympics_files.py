"""Reading files a stranger wrote: JSON records and ``.npz`` archives, checked before use.

A verifier reads submissions, model files and leaderboards from people it does not know,
so it reads them the way a server reads requests: every size a file *declares* is checked
against a limit (``olympics_rules``) before anything of that size is allocated, nothing is
returned half-read, and every refusal is a one-line ``ValueError`` naming the file and the
part of it at fault.

**JSON.** The file's size is checked before it is read. Python's parser stops by itself
about a thousand levels deep (a ``RecursionError``, turned into a ``ValueError`` here), but
a structure a few hundred levels deep would still break any recursive function that meets
it later, so the depth of what was parsed is checked too (:data:`MAX_JSON_DEPTH`). ``NaN``
and ``Infinity`` parse (Python accepts them), and the checks of each field refuse them with
the field's name.

**Archives.** ``np.load`` trusts the archive: a 2 MB zip can unpack to gigabytes of zeros,
and an array header can declare any shape. :func:`read_archive` reads in four steps and
allocates nothing large until the last one:

1. the end-of-archive record: how many members, before ``zipfile`` builds an object for each;
2. the zip directory: each member's name, compression and *declared* unpacked size, and
   their total against the limit;
3. each member's ``.npy`` header (a few hundred bytes): its dtype must be numbers (text
   only where the caller allows it; never ``object``, which only pickle can read) and its
   shape times its item size must be exactly the size the directory declared;
4. the data, into arrays of exactly that size. ``zipfile`` stops decompressing at the
   declared size and checks the CRC-32 at the end, so a member that lies about its size
   is refused rather than believed.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .olympics_rules import MAX_ARCHIVE_MEMBERS, MAX_JSON_DEPTH, MIB, NAME_PATTERN

NPY_MAGIC = b"\x93NUMPY"
NUMBER_KINDS = "biuf"              # bool, signed and unsigned integers, floats
# The end-of-central-directory record: signature, two disk numbers, the entries on this
# disk and in all, the directory's size and offset, the comment's length.
END_RECORD = struct.Struct("<4s4H2LH")
END_SIGNATURE = b"PK\x05\x06"
ZIP64_LOCATOR = struct.Struct("<4sLQL")
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
READ_CHUNK = MIB                   # data is copied into its array a mebibyte at a time


# -- JSON ---------------------------------------------------------------------------------

def json_depth(value: Any) -> int:
    """How deeply lists and dicts nest in ``value`` (0 for a number or a string), found
    without recursion, so that the depth of any structure can be asked."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(text)``, refusing a text nested more than ``max_depth`` levels.

    Every problem is a ``ValueError`` saying "not valid JSON" or naming the depth; the
    caller adds where the text came from.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise ValueError(f"not valid JSON here: nested deeper than the limit of {max_depth} "
                         f"levels") from None
    except ValueError as error:  # JSONDecodeError, or an integer of thousands of digits
        raise ValueError(f"not valid JSON ({error})") from None
    depth = json_depth(value)
    if depth > max_depth:
        raise ValueError(f"not valid JSON here: nested {depth} levels deep, more than the limit "
                         f"of {max_depth}")
    return value


def regular_file_size(path: Path, max_bytes: int, what: str) -> int:
    """The size of the regular file at ``path``, at most ``max_bytes``, else ``ValueError``.

    ``FileNotFoundError`` if there is no such file; a directory, a device or a pipe is a
    ``ValueError`` (reading ``/dev/zero`` never ends)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file, so not a {what}")
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(f"{path}: {size:,} bytes, more than the {max_bytes:,} a {what} may have")
    return size


def read_json(path: str | Path, max_bytes: int, what: str = "JSON file") -> Any:
    """The JSON value in the file at ``path``: at most ``max_bytes`` bytes of UTF-8 text,
    nested at most :data:`MAX_JSON_DEPTH` levels. ``ValueError`` naming the file otherwise."""
    path = Path(path)
    regular_file_size(path, max_bytes, what)
    with open(path, "rb") as file:
        data = file.read(max_bytes + 1)   # the file may have grown since it was measured
    if len(data) > max_bytes:
        raise ValueError(f"{path}: more than the {max_bytes:,} bytes a {what} may have")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not valid JSON (not UTF-8 text: {error})") from None
    try:
        return parse_json(text)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def json_field(data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``data[key]``, or a ``ValueError`` naming ``where``, the field and what was wrong.

    JSON's true and false are Python bools, and a bool is an int: they never pass for a
    number here.
    """
    if not isinstance(data, dict) or key not in data:
        got = "" if isinstance(data, dict) else f" (got a {type(data).__name__}, not a JSON object)"
        raise ValueError(f"{where}: missing field {key!r}{got}")
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise ValueError(f"{where}: field {key!r} must be {expected}, got {type(value).__name__} "
                         f"{short_repr(value)}")
    return value


def require_schema(data: Any, schema: str, version: int, where: str) -> None:
    """``ValueError`` unless ``data`` is a JSON object of ``schema`` at ``version``."""
    found = (data.get("schema"), data.get("version")) if isinstance(data, dict) else None
    if found != (schema, version):
        what = (f"a JSON {type(data).__name__}, not an object" if found is None
                else f"schema {short_repr(found[0])} version {short_repr(found[1])}")
        raise ValueError(f"{where}: {what}, expected schema {schema!r} version {version}")


def check_name(name: Any, where: str = "submission") -> str:
    """An entrant's name: 1 to 64 letters, digits, spaces and ``_ . @ -``, starting with a
    letter or digit; ``ValueError`` otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"{where}: the entrant's name must be 1 to 64 letters, digits, spaces or "
                         f"'_.@-', starting with a letter or digit, got {short_repr(name)}")
    return name


def shorten(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters: a message quotes a field, not a whole file."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)``, :func:`shorten` ed."""
    return shorten(repr(value), limit)


# -- archives -----------------------------------------------------------------------------

def read_archive(path: str | Path, what: str, max_bytes: int, texts: dict[str, int] | None = None,
                 only: frozenset[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` archive at ``path``, every declared size checked first.

    - ``what`` names the kind of file in messages ("model file", "test set");
    - ``max_bytes`` caps the file on disk and the total unpacked size of the members read;
    - ``texts`` maps the members that may hold text (a NumPy string array) to the largest
      number of characters allowed; every other member must hold numbers;
    - ``only``: read just these members (all when None); the others are not opened.

    ``FileNotFoundError`` if there is no file; every other problem is a ``ValueError``
    that starts with the path and says "not a readable {what}" or names the member and
    the limit. Either every member is returned or none is.
    """
    path = Path(path)
    texts = texts or {}
    regular_file_size(path, max_bytes, what)
    with open(path, "rb") as file:
        _check_end_record(file, path, what)
        try:
            archive = zipfile.ZipFile(file)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise ValueError(f"{path}: not a readable {what} ({type(error).__name__}: {error})") from None
        with archive:
            members = _choose_members(archive, path, what, max_bytes, only)
            headers = {key: _read_header(archive, info, key, path, what, texts)
                       for key, info in members.items()}
            return {key: _read_data(archive, members[key], headers[key], key, path, what)
                    for key in members}


def _check_end_record(file: BinaryIO, path: Path, what: str) -> None:
    """Refuse a single ``.npy`` file, a file that is not a zip, a zip64 archive (no model
    or test set needs one) and one with more than ``MAX_ARCHIVE_MEMBERS`` members, from the
    first bytes and the end-of-archive record alone."""
    if file.read(len(NPY_MAGIC)) == NPY_MAGIC:
        raise ValueError(f"{path}: not a {what}: it holds a single array, not an .npz archive")
    size = file.seek(0, os.SEEK_END)
    tail_start = max(0, size - END_RECORD.size - 0xFFFF)   # the record, then a comment < 64 kB
    file.seek(tail_start)
    tail = file.read()
    at = tail.rfind(END_SIGNATURE)
    if at < 0 or len(tail) - at < END_RECORD.size:
        raise ValueError(f"{path}: not a readable {what} (not a zip archive)")
    locator = at - ZIP64_LOCATOR.size
    if locator >= 0 and tail[locator:locator + 4] == ZIP64_LOCATOR_SIGNATURE:
        raise ValueError(f"{path}: not a readable {what} (a zip64 archive, for files far larger "
                         f"than any {what})")
    members = END_RECORD.unpack_from(tail, at)[4]
    if members > MAX_ARCHIVE_MEMBERS:
        raise ValueError(f"{path}: the zip directory lists {members:,} members, more than the "
                         f"{MAX_ARCHIVE_MEMBERS:,} a {what} may have")


def _choose_members(archive: zipfile.ZipFile, path: Path, what: str, max_bytes: int,
                    only: frozenset[str] | None) -> dict[str, zipfile.ZipInfo]:
    """The members to read by array name, from the zip directory alone: each a ``.npy``,
    stored or deflated, not encrypted, named once, with a declared total within the limit."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        key = info.filename.removesuffix(".npy")
        if key == info.filename:
            raise ValueError(f"{path}: member {short_repr(info.filename)} is not an .npy array, so "
                             f"this is not a {what}")
        if key in members:
            raise ValueError(f"{path}: member {short_repr(info.filename)} appears twice in the zip "
                             f"directory")
        if info.flag_bits & 0x1:
            raise ValueError(f"{path}: member {short_repr(info.filename)} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"{path}: member {short_repr(info.filename)} uses compression method "
                             f"{info.compress_type}; an .npz is stored or deflated")
        if only is None or key in only:
            members[key] = info
    missing = sorted(only - set(members)) if only is not None else []
    if missing:
        raise ValueError(f"{path}: not a {what}: it has no {', '.join(map(repr, missing))}")
    total = sum(info.file_size for info in members.values())
    if total > max_bytes:
        largest = max(members.values(), key=lambda info: info.file_size)
        raise ValueError(f"{path}: the zip directory declares {total:,} bytes unpacked (member "
                         f"{short_repr(largest.filename)}: {largest.file_size:,}), more than the "
                         f"{max_bytes:,} a {what} may hold")
    return members


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, path: Path, what: str,
                 texts: dict[str, int]) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """The member's ``.npy`` header, checked: ``(shape, fortran_order, dtype, header_bytes)``."""
    try:
        with archive.open(info) as stream:
            version = np.lib.format.read_magic(stream)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
            else:
                raise ValueError(f".npy format version {version}; this reader takes 1.0 and 2.0")
            header_bytes = stream.tell()
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as error:
        raise ValueError(f"{path}: member {key!r}: not a readable {what} "
                         f"({type(error).__name__}: {error})") from None
    where = f"{path}: member {key!r}"
    if dtype.hasobject:
        raise ValueError(f"{where} holds Python objects (dtype {dtype}), which only pickle can read; "
                         f"not a readable {what}")
    if dtype.kind == "U" and key in texts:
        characters = math.prod(shape) * dtype.itemsize // 4
        if characters > texts[key]:
            raise ValueError(f"{where} declares {characters:,} characters of text, more than the "
                             f"{texts[key]:,} it may hold")
    elif dtype.kind not in NUMBER_KINDS:
        allowed = "numbers" + (f" (text only in {', '.join(map(repr, texts))})" if texts else "")
        raise ValueError(f"{where} has dtype {dtype}; a {what} holds {allowed}")
    data_bytes = math.prod(shape) * dtype.itemsize
    if header_bytes + data_bytes != info.file_size:
        raise ValueError(f"{where}: its header declares shape {shape} of {dtype} ({data_bytes:,} bytes), "
                         f"the zip directory {info.file_size - header_bytes:,} bytes of data")
    return shape, fortran, dtype, header_bytes


def _read_data(archive: zipfile.ZipFile, info: zipfile.ZipInfo,
               header: tuple[tuple[int, ...], bool, np.dtype, int], key: str, path: Path,
               what: str) -> np.ndarray:
    """The member's array, read into a buffer of the size its (checked) header declares."""
    shape, fortran, dtype, header_bytes = header
    flat = np.empty(math.prod(shape), dtype=dtype)
    buffer = flat.view(np.uint8) if flat.nbytes else np.empty(0, np.uint8)
    try:
        with archive.open(info) as stream:
            stream.read(header_bytes)
            filled = 0
            while filled < buffer.size:
                chunk = stream.read(min(READ_CHUNK, buffer.size - filled))
                if not chunk:
                    raise EOFError(f"the data ends after {filled:,} of {buffer.size:,} bytes")
                buffer[filled:filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                filled += len(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as error:
        raise ValueError(f"{path}: member {key!r}: not a readable {what} "
                         f"({type(error).__name__}: {error})") from None
    return flat.reshape(shape, order="F" if fortran else "C")
