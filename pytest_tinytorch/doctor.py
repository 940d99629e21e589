"""``python -m pytest_tinytorch doctor``: is this machine ready for the katas and milestones?

One line per check: ``ok`` and what was found, or ``TO DO`` and what to do about it;
``optional`` marks something missing that only some runs need. The exit status is 0 when
every required check is ok, 1 otherwise.

Required: the Python version and every dependency at the version ``pyproject.toml`` asks
for (NumPy, pytest, pytest-xdist, pytest-timeout, ...), the plugin being this repository's,
NumPy's BLAS (its name and the threads the katas give it), a repository root the progress
file can be written in, and the data sets that ship in ``tinytorch/data/`` (TinyDigits and
TinyTalks), loaded and checksummed by the loaders the katas and milestones use. Optional:
the downloadable data sets (MNIST, CIFAR-10), the packages of the extras, and
pytest-watcher (not needed: ``pytest --watch`` is built in).

The doctor changes nothing: its only write is a temporary file in the root, removed at once.
It imports ``tinytorch.data`` from the root, as the katas do, and asks the BLAS for one
thread first, as the plugin and the milestones do.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import platform
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from . import measure
from .manifest import tomllib

OK, TO_DO, OPTIONAL = "ok", "TO DO", "optional"
INSTALL = "run `python -m pip install -e .`"
WATCHER = "pytest-watcher"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str  # what was found when ok, what to do when not
    required: bool = True

    @property
    def mark(self) -> str:
        return OK if self.ok else TO_DO if self.required else OPTIONAL

    def line(self) -> str:
        return f"{self.mark:<9}{self.name}: {self.detail}"


def main(root: Path) -> int:
    """Print one line per check and a verdict; 0 when every required check is ok, else 1."""
    results = checks(root)
    for check in results:
        print(check.line())
    failing = [check for check in results if check.required and not check.ok]
    if failing:
        print(f"{len(failing)} required check{'s' if len(failing) > 1 else ''} to fix (TO DO above)")
        return 1
    print("everything required is ok")
    return 0


def checks(root: Path) -> list[Check]:
    """Every check, in the order of the report."""
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    except (OSError, ValueError, KeyError) as error:
        return [Check("pyproject.toml", False, f"{root / 'pyproject.toml'} cannot be read ({error}): "
                                               f"run the doctor from the repository root")]
    return [_python(project), *map(_dependency, _requirements(project.get("dependencies", []))),
            _plugin(root, project), _blas(), _writable(root), *_data(root), *_optional(project)]


def _python(project: dict[str, Any]) -> Check:
    version = platform.python_version()
    needed = SpecifierSet(project.get("requires-python", ""))
    if needed.contains(version, prereleases=True):
        return Check("Python", True, f"{version} (needs {needed})")
    return Check("Python", False, f"{version} is too old, tinytorch needs {needed}: install a newer "
                                  f"Python and make a virtual environment with it")


def _requirements(lines: list[str]) -> list[Requirement]:
    """The requirements among ``lines`` whose environment marker holds on this machine."""
    requirements = [Requirement(line) for line in lines]
    return [r for r in requirements if r.marker is None or r.marker.evaluate()]


def _dependency(requirement: Requirement) -> Check:
    try:
        version = importlib.metadata.version(requirement.name)
    except importlib.metadata.PackageNotFoundError:
        return Check(requirement.name, False, f"not installed: {INSTALL}")
    needed = f" (needs {requirement.specifier})" if requirement.specifier else ""
    if requirement.specifier.contains(version, prereleases=True):
        return Check(requirement.name, True, f"{version}{needed}")
    return Check(requirement.name, False, f"{version} is installed but tinytorch needs "
                                          f"{requirement.specifier}: {INSTALL}")


def _plugin(root: Path, project: dict[str, Any]) -> Check:
    here = Path(__file__).resolve().parent
    if here == (root / here.name).resolve():
        return Check("plugin", True, f"{here.name} {project.get('version', '')} from {here}")
    return Check("plugin", False, f"this is the plugin in {here}, not the one in {root}: run "
                                  f"`python -m pytest_tinytorch doctor` in the repository root")


def _blas() -> Check:
    chosen = {name: os.environ[name] for name in measure.BLAS_THREAD_VARIABLES if name in os.environ}
    measure.pin_blas_threads()
    try:
        import numpy as np
    except ImportError as error:
        return Check("BLAS", False, f"NumPy cannot be imported ({error}): {INSTALL}")
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        library = f"{blas.get('name', 'unknown')} {blas.get('version', '')}".rstrip()
    except (TypeError, KeyError):  # NumPy before 1.26 only prints its configuration
        library = "a library this NumPy does not name"
    if chosen:
        asked = f"katas and milestones use your setting ({', '.join(f'{k}={v}' for k, v in chosen.items())})"
    else:
        asked = "katas and milestones ask it for 1 thread (no *_NUM_THREADS is set)"
    return Check("BLAS", True, f"{library}; {asked}; {_threads_in_use()}")


def _threads_in_use() -> str:
    """What the loaded BLAS says it runs; only the optional threadpoolctl can ask it."""
    try:
        import threadpoolctl
    except ImportError:
        return "threadpoolctl (optional) would show the threads it runs"
    counts = [int(pool["num_threads"]) for pool in threadpoolctl.threadpool_info()
              if pool.get("user_api") == "blas"]
    return f"it runs {max(counts)} thread{'s' if max(counts) > 1 else ''} here" if counts else \
        "threadpoolctl finds no BLAS loaded"


def _writable(root: Path) -> Check:
    name = "repository root"
    try:
        with tempfile.NamedTemporaryFile(dir=root, prefix=".tinytorch-doctor-"):
            pass
    except OSError as error:
        return Check(name, False, f"{root} is not writable ({error}); your progress is kept there: "
                                  f"work in a copy you own (clone it again into your home folder)")
    return Check(name, True, f"{root} is writable")


def _data(root: Path) -> list[Check]:
    """The data sets, loaded by tinytorch's own loaders, as the katas and milestones load them."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))

    def loader(module: str, function: str) -> Callable[..., Any]:
        loaded = importlib.import_module(f"tinytorch.data.{module}")
        if not Path(loaded.__file__ or "").resolve().is_relative_to((root / "tinytorch").resolve()):
            raise ImportError(f"tinytorch was imported from {loaded.__file__}, not from {root}")
        return getattr(loaded, function)

    def tinytalks() -> int:
        load = loader("tinytalks", "load_tinytalks")
        return sum(len(load(split)) for split in ("train", "validation", "test"))

    return [
        _data_set("TinyDigits", lambda: loader("tinydigits", "load_tinydigits")(),
                  lambda d: f"{len(d.x_train):,} + {len(d.x_test):,} digits in "
                            f"tinytorch/data/tinydigits.npz, sha256 verified"),
        _data_set("TinyTalks", tinytalks,
                  lambda n: f"train, validation and test in tinytorch/data/tinytalks/ ({n:,} "
                            f"characters), sha256 verified"),
        _data_set("MNIST", lambda: loader("mnist", "load_mnist")(),
                  lambda d: f"{len(d.x_train):,} + {len(d.x_test):,} digits in "
                            f"{loader('mnist', 'default_mnist_dir')()}, md5 verified",
                  missing="not downloaded; only `milestones/03_mlp_1986.py --data mnist` needs it: "
                          "`python -m tinytorch.data.mnist download` (11 MB)"),
        _data_set("CIFAR-10", lambda: loader("cifar10", "load_cifar10")(),
                  lambda d: f"{len(d.x_train):,} + {len(d.x_test):,} images in "
                            f"{loader('cifar10', 'default_cifar10_dir')()}, md5 verified",
                  missing="not downloaded; only `milestones/04_cnn_1998.py --data cifar10` needs "
                          "it: `python -m tinytorch.data.cifar10 download` (163 MB)"),
    ]


def _data_set(name: str, load: Callable[[], Any], found: Callable[[Any], str], *,
              missing: str | None = None) -> Check:
    """Load a data set; ``missing`` (what to do) marks an optional one."""
    required = missing is None
    try:
        return Check(name, True, found(load()), required)
    except FileNotFoundError as error:
        return Check(name, False, missing or str(error), required)
    except Exception as error:  # noqa: BLE001 - a damaged file or module: the loader's message says what to do
        return Check(name, False, f"{type(error).__name__}: {error}", required)


def _optional(project: dict[str, Any]) -> list[Check]:
    """The packages of each extra in pyproject.toml, and pytest-watcher: none is required."""
    found = []
    for extra, lines in project.get("optional-dependencies", {}).items():
        for requirement in _requirements(lines):
            check = _dependency(requirement)
            detail = check.detail if check.ok else (
                f'not installed; for the "{extra}" extra: `python -m pip install -e ".[{extra}]"`')
            found.append(Check(requirement.name, check.ok, detail, required=False))
    if all(check.name != WATCHER for check in found):
        try:
            version = f"{importlib.metadata.version(WATCHER)} installed"
        except importlib.metadata.PackageNotFoundError:
            version = "not installed"
        found.append(Check(WATCHER, True, f"{version}; not needed, `pytest --next --watch` is built in",
                           required=False))
    return found
