"""One ``pytest --next`` goes as far as your code goes.

When ``--next`` passes the kata you are on, the next one unlocks. If your code already
passes that one too (on a second machine with no progress file, or after fixing a regression
that had relocked several katas), typing the command again and again teaches nothing. So the
run that unlocked a kata runs the same command once more, in a child process that imports
your code afresh, and again after each kata it unlocks, until a kata does not pass or none is
left. Progress then equals the longest run of katas, in order, that your code passes; katas
whose code has not changed since they passed are not run again. (A run that writes
``--tinytorch-report`` stops after itself: a report describes one run.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

CHILD = "TINYTORCH_NEXT_CHILD"  # set in the child runs, which never start runs of their own


def is_child() -> bool:
    return os.environ.get(CHILD) == "1"


def go_on(arguments: Sequence[str], where: Path, current: Callable[[], str | None],
          first: str) -> int:
    """Run ``pytest arguments`` again while each run unlocks a kata; return the last exit status.

    ``current`` reads the kata the student is on from the progress file; ``first`` is the
    one the finished run unlocked.
    """
    command = [sys.executable, "-m", "pytest", *arguments]
    environment = {**os.environ, CHILD: "1"}
    on = first
    while True:
        sys.stdout.flush()
        print(f"\ntinytorch: going on with kata {on} (the same command, run again)\n", flush=True)
        status = subprocess.run(command, cwd=where, env=environment, check=False).returncode
        after = current()
        if status != 0 or after is None or after == on:
            return status
        on = after
