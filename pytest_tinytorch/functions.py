"""How much of a kata the student has written, and which hint fits where they are.

A kata's functions are its solution regions: each one becomes, in the stubs, a ``raise
NotImplementedError("<function>: not implemented yet (kata ...)")``. So the functions still to
write are the stub lines left in the student's modules, and the kata's total is the number of
stub lines in freshly generated stubs (from ``reference/``, or as a release recorded it).
"""

from __future__ import annotations

import re
from pathlib import Path

from .integrity import ReleaseRecord
from .manifest import Kata
from .stubs import STUB_MESSAGE, stub_source

STUB_LINE = re.compile(r'raise NotImplementedError\("(?P<function>[\w.]+): ' + re.escape(STUB_MESSAGE))


def stub_functions(source: str) -> list[str]:
    """The functions whose stub line is still in ``source``, in file order."""
    return [match["function"] for match in STUB_LINE.finditer(source)]


def still_to_write(kata: Kata, package: Path) -> list[str]:
    """The kata's functions that still raise their stub's NotImplementedError."""
    found = []
    for module in kata.modules:
        path = package / module
        if path.is_file():
            found += stub_functions(path.read_text(encoding="utf-8", errors="replace"))
    return found


def total(kata: Kata, root: Path, release: ReleaseRecord | None) -> int | None:
    """How many functions the kata asks for: its solution regions, or the release's count."""
    reference = root / "reference" / "tinytorch"
    if not reference.is_dir():
        return release.functions.get(kata.id) if release else None
    return sum(len(stub_functions(stub_source(path.read_text(encoding="utf-8"), kata.label, module)))
               for module in kata.modules if (path := reference / module).is_file())


def hint_for(kata: Kata, function: str, written: float | None = None) -> int | None:
    """The 1-based number of the hint for ``function`` (``Class.method``), the first one the
    tests reach that is still a stub.

    The first hint that names it (in full, by its class, or by its own name) is its hint. A
    kata's hints follow the order of its functions, so otherwise the share of the kata
    already ``written`` (0 to 1) picks the hint as far along; None if that is unknown too.
    """
    owner, _, method = function.rpartition(".")
    names = [name for name in (function, owner, method) if name]
    patterns = [re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)") for name in names]
    for number, text in enumerate(kata.hints, start=1):
        if any(pattern.search(text) for pattern in patterns):
            return number
    if written is None:
        return None
    return min(int(written * len(kata.hints)), len(kata.hints) - 1) + 1
