"""``pytest --next --watch``: run again every time you save a file of yours or of a kata.

The watcher runs pytest in a child process (so each run imports your code afresh), then
polls the modification times of the files under ``tinytorch/`` and ``katas/`` until one
changes. Polling needs nothing beyond the standard library and behaves the same on every
platform and file system (an event-based watcher, pytest-watcher with watchdog 7, missed
every change under a sub-folder). Ctrl+C stops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

WATCHED = ("tinytorch", "katas")
SUFFIXES = (".py", ".toml", ".npz")
OPTION = "--watch"

Snapshot = dict[str, tuple[int, int]]


def snapshot(root: Path) -> Snapshot:
    """(modification time, size) of every watched file, by path from ``root``."""
    files: Snapshot = {}
    for top in WATCHED:
        for folder, subfolders, names in os.walk(root / top):
            subfolders[:] = [name for name in subfolders if name != "__pycache__"]
            for name in names:
                if name.endswith(SUFFIXES):
                    path = Path(folder) / name
                    try:
                        status = path.stat()
                    except OSError:  # removed while we looked
                        continue
                    files[path.relative_to(root).as_posix()] = (status.st_mtime_ns, status.st_size)
    return files


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def wait_for_change(root: Path, before: Snapshot, poll: float,
                    sleep: Callable[[float], None] = time.sleep) -> tuple[list[str], Snapshot]:
    """Block until a watched file changes; then let a burst of saves settle."""
    while True:
        sleep(poll)
        after = snapshot(root)
        if changed(before, after):
            sleep(poll)  # an editor may write a file in several steps
            settled = snapshot(root)
            return changed(before, settled), settled


def pytest_arguments(arguments: Sequence[str]) -> list[str]:
    """The command line to repeat: this one without ``--watch``."""
    return [argument for argument in arguments if argument != OPTION]


def watch(root: Path, arguments: Sequence[str], where: Path, poll: float = 0.5) -> int:
    """Run ``pytest arguments`` in ``where`` now and after every change under ``root``, until Ctrl+C."""
    command = [sys.executable, "-m", "pytest", *pytest_arguments(arguments)]
    state = snapshot(root)
    try:
        while True:
            subprocess.run(command, cwd=where, check=False)
            print(f"\ntinytorch: watching {' and '.join(f'{top}/' for top in WATCHED)} for changes "
                  f"(Ctrl+C to stop)", flush=True)
            names, state = wait_for_change(root, state, poll)
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            print(f"tinytorch: {shown} changed; running again\n", flush=True)
    except KeyboardInterrupt:
        print("\ntinytorch: stopped watching", flush=True)
        return 0
