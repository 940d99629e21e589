"""Reading the files a stranger wrote: model files, submissions and leaderboards, checked first.

A verifier reads submissions, model files and leaderboards from people it does not know,
so it reads them the way a server reads requests: every size a file *declares* is checked
against a limit (``olympics_rules``) before anything of that size is allocated, nothing is
returned half-read, and every refusal is a one-line ``ValueError`` naming the file and the
part of it at fault. Archives (model files, test sets) are read by
:func:`tinytorch.untrusted.read_npz`, which checks the zip directory and every array header
before reading any data; JSON texts are parsed by :func:`tinytorch.untrusted.parse_json`,
which limits their nesting. This module adds the file-level checks (a regular file, of a
limited size, in UTF-8), the checks of a JSON record's fields, and the first reading of a
model file of either task (:func:`read_architecture`).

``NaN`` and ``Infinity`` parse (Python accepts them), and the checks of each field refuse
them with the field's name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..training import json_scalar
from ..untrusted import parse_json, read_json_entry, read_npz
from .olympics_rules import (
    DIGITS,
    MAX_MODEL_FILE_BYTES,
    MODEL_ARRAY_KINDS,
    MODEL_FORMAT,
    MODEL_VERSION,
    NAME_PATTERN,
    SPEC_KEY,
    TASK_KEY,
    TASKS,
)


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


def read_bytes(path: str | Path, max_bytes: int, what: str) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them
    (:func:`regular_file_size`), else ``ValueError`` naming the file."""
    path = Path(path)
    regular_file_size(path, max_bytes, what)
    with open(path, "rb") as file:
        data = file.read(max_bytes + 1)   # the file may have grown since it was measured
    if len(data) > max_bytes:
        raise ValueError(f"{path}: more than the {max_bytes:,} bytes a {what} may have")
    return data


def read_json(path: str | Path, max_bytes: int, what: str = "JSON file") -> Any:
    """The JSON value in the file at ``path``: at most ``max_bytes`` bytes of UTF-8 text
    (:func:`read_bytes`), nested at most ``MAX_JSON_DEPTH`` levels (``parse_json``).
    ``ValueError`` naming the file otherwise, ``FileNotFoundError`` if there is none."""
    data = read_bytes(path, max_bytes, what)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not valid JSON (not UTF-8 text: {error})") from None
    return parse_json(text, str(path))


def write_model_file(path: str | Path, spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> int:
    """Write a model file: ``spec`` as ONE JSON text (``json.dumps(spec, default=json_scalar)``:
    a NumPy integer in a config becomes a Python int) in a NumPy string array under
    ``SPEC_KEY``, and ``arrays`` as they are (an int8 weight stays int8), all with
    ``np.savez_compressed`` into a file opened here (given a name, NumPy would append
    ".npz"). Returns the file's size in bytes."""
    entries = {**arrays, SPEC_KEY: np.array(json.dumps(spec, default=json_scalar))}
    with open(path, "wb") as file:
        np.savez_compressed(file, **entries)  # type: ignore[arg-type]
    return os.path.getsize(path)


def read_model_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of the model file at ``path``, read without pickle and within the limits.

    At most ``MAX_MODEL_FILE_BYTES`` on disk, and read by :func:`~tinytorch.untrusted.read_npz`,
    which checks the zip directory and every array header before reading any data (at most
    ``MAX_MODEL_FILE_BYTES`` unpacked, never pickled objects). Pickle is refused because
    unpickling runs whatever code the file says; JSON text and numeric arrays can only ever
    be data. Then every entry must hold numbers (``MODEL_ARRAY_KINDS``: a complex weight
    would lose its imaginary part without a word when copied into a float layer), and
    ``SPEC_KEY`` text. A file that is not such an archive is a ``ValueError`` naming the
    file and the entry at fault; ``FileNotFoundError`` if there is none.
    """
    regular_file_size(Path(path), MAX_MODEL_FILE_BYTES, "model file")
    arrays = read_npz(path, max_bytes=MAX_MODEL_FILE_BYTES)
    for name, array in arrays.items():
        if array.dtype.kind not in (MODEL_ARRAY_KINDS if name != SPEC_KEY else "U"):
            raise ValueError(f"{path}: entry {name!r} holds {array.dtype} values; a model file holds "
                             f"numbers ({MODEL_ARRAY_KINDS!r} kinds) and its {SPEC_KEY!r} as text")
    return arrays


def read_architecture(path: str | Path, task: str | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The architecture of the model file at ``path`` (a JSON object) and its other arrays.

    :func:`read_model_arrays`, then the ``SPEC_KEY`` entry read as one JSON object
    (``read_json_entry``: a text, not too long, not nested too deep). Its ``format`` and
    ``version`` must be ``MODEL_FORMAT`` and ``MODEL_VERSION``, and its ``task`` one of
    ``TASKS`` (a file without one is of the digits, as every file was before the TinyTalks
    event), and ``task`` itself when it is given: a digits verifier must not run a TinyGPT
    as if it were an MLP. Nothing else is checked here: what the task's layers declare is
    checked by the task's loader. Each problem is a ``ValueError`` starting with the path.
    """
    arrays = read_model_arrays(path)
    if SPEC_KEY not in arrays:
        raise ValueError(f"{path}: not an Olympics model file (no {SPEC_KEY!r} entry)")
    spec = read_json_entry(path, SPEC_KEY, arrays.pop(SPEC_KEY))
    found = (spec.get("format"), spec.get("version"))
    if found != (MODEL_FORMAT, MODEL_VERSION):
        raise ValueError(f"{path}: model format {short_repr(found[0])} version {short_repr(found[1])}, "
                         f"expected {MODEL_FORMAT!r} version {MODEL_VERSION}")
    found_task = spec.get(TASK_KEY, DIGITS)
    if found_task not in TASKS:
        raise ValueError(f"{path}: the model is for the task {short_repr(found_task)}; the tasks are "
                         f"{', '.join(TASKS)}")
    if task is not None and found_task != task:
        raise ValueError(f"{path}: a model for the {found_task} task, not for the {task} task")
    return spec, arrays


def model_task(path: str | Path) -> str:
    """The task of the model file at ``path`` (:func:`read_architecture` checks the file)."""
    task: str = read_architecture(path)[0].get(TASK_KEY, DIGITS)
    return task


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
