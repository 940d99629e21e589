"""Reading the JSON files a stranger wrote: submissions and leaderboards, checked before use.

A verifier reads submissions, model files and leaderboards from people it does not know,
so it reads them the way a server reads requests: every size a file *declares* is checked
against a limit (``olympics_rules``) before anything of that size is allocated, nothing is
returned half-read, and every refusal is a one-line ``ValueError`` naming the file and the
part of it at fault. Archives (model files, test sets) are read by
:func:`tinytorch.untrusted.read_npz`, which checks the zip directory and every array header
before reading any data; JSON texts are parsed by :func:`tinytorch.untrusted.parse_json`,
which limits their nesting. This module adds the file-level checks (a regular file, of a
limited size, in UTF-8) and the checks of a JSON record's fields.

``NaN`` and ``Infinity`` parse (Python accepts them), and the checks of each field refuse
them with the field's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..untrusted import parse_json
from .olympics_rules import NAME_PATTERN


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
    nested at most ``MAX_JSON_DEPTH`` levels (``parse_json``). ``ValueError`` naming the file
    otherwise, ``FileNotFoundError`` if there is none."""
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
    return parse_json(text, str(path))


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
    """``repr(value)``, cut by :func:`shorten`."""
    return shorten(repr(value), limit)
