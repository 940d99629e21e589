"""Which ``tinytorch`` package the katas import: the student's or the reference solution.

Both are packages named ``tinytorch``: ``<root>/tinytorch`` (the student's, the default) and
``<root>/reference/tinytorch``. Choosing one puts its parent folder first on ``sys.path``
before anything imports ``tinytorch``.

A track may make some modules *given* ("build what you're learning, import what you
need"): the student's package is used, but those modules are loaded from the reference
where it exists (a student release ships them already solved in ``tinytorch/``).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

CHOICES = ("student", "reference")


def package_dir(root: Path, impl: str) -> Path:
    """The ``tinytorch`` folder used for ``impl`` ("student" or "reference")."""
    if impl not in CHOICES:
        raise ValueError(f"unknown implementation {impl!r}; choose one of {', '.join(CHOICES)}")
    base = root / "reference" if impl == "reference" else root
    return base / "tinytorch"


class GivenModules(importlib.abc.MetaPathFinder):
    """Loads the named ``tinytorch`` modules from reference files instead of the student's."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(fullname)
        return importlib.util.spec_from_file_location(fullname, file) if file else None


class StudentCodeForbidden(importlib.abc.MetaPathFinder):
    """Refuses every import of ``tinytorch`` in the process it is installed in."""

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.split(".")[0] == "tinytorch":
            raise ImportError(f"{fullname}: this process decides the verdicts and never runs the "
                              f"code it grades; only the test processes import tinytorch")
        return None


def forbid_import() -> None:
    """From now on, this process cannot import ``tinytorch`` (the xdist controller's promise)."""
    if not any(isinstance(finder, StudentCodeForbidden) for finder in sys.meta_path):
        sys.meta_path.insert(0, StudentCodeForbidden())


def activate(root: Path, impl: str, given_modules: Sequence[str] = ()) -> Path:
    """Make ``import tinytorch`` load ``impl``'s package; return that package's folder.

    ``given_modules`` (paths such as ``core/tensor.py``) are then loaded from the reference.
    """
    package = package_dir(root, impl)
    for name in [name for name in sys.modules if name.split(".")[0] == "tinytorch"]:
        del sys.modules[name]
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, GivenModules)]
    parent = str(package.parent)
    if parent in sys.path:
        sys.path.remove(parent)
    sys.path.insert(0, parent)
    reference = package_dir(root, "reference")
    files = {_module_name(module): reference / module for module in given_modules
             if impl == "student" and (reference / module).exists()}
    if files:
        sys.meta_path.insert(0, GivenModules(files))
    return package


def _module_name(module: str) -> str:
    """``core/tensor.py`` -> ``tinytorch.core.tensor``."""
    return "tinytorch." + module.removesuffix(".py").replace("/", ".")
