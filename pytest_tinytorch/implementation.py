"""Which ``tinytorch`` package the katas import: the learner's or the reference solution.

Both are packages named ``tinytorch``: ``<root>/tinytorch`` (the learner's, the default) and
``<root>/reference/tinytorch``. Choosing one puts its parent folder first on ``sys.path``
before anything imports ``tinytorch``.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHOICES = ("student", "reference")


def package_dir(root: Path, impl: str) -> Path:
    """The ``tinytorch`` folder used for ``impl`` ("student" or "reference")."""
    if impl not in CHOICES:
        raise ValueError(f"unknown implementation {impl!r}; choose one of {', '.join(CHOICES)}")
    base = root / "reference" if impl == "reference" else root
    return base / "tinytorch"


def activate(root: Path, impl: str) -> Path:
    """Make ``import tinytorch`` load ``impl``'s package; return that package's folder."""
    package = package_dir(root, impl)
    loaded = sys.modules.get("tinytorch")
    if loaded is not None and Path(loaded.__file__ or "").resolve().parent != package.resolve():
        for name in [name for name in sys.modules if name.split(".")[0] == "tinytorch"]:
            del sys.modules[name]
    parent = str(package.parent)
    if parent in sys.path:
        sys.path.remove(parent)
    sys.path.insert(0, parent)
    return package
