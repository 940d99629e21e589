"""What the student reads: connection maps, metric tables, the curriculum table.

Plain text only (tabulate's "simple" format): it reads the same in a terminal, a CI log and
a Windows console.
"""

from __future__ import annotations

from tabulate import tabulate

from .manifest import Curriculum, Kata
from .metrics import Metric
from .progress import Status


def connection_map(curriculum: Curriculum, kata: Kata) -> list[str]:
    """Where ``kata`` sits: what it builds on, what it builds, what it opens up."""
    built = [curriculum.get(p).label for p in kata.prerequisites]
    unlocks = [other.label for other in curriculum.unlocks(kata)]
    readme = curriculum.folder(kata).relative_to(curriculum.root) / "README.md"
    return [
        f"Kata {kata.label} ({kata.tier})",
        f"  you have built : {', '.join(built) or 'nothing yet: everything starts here'}",
        f"  you build now  : {kata.summary}",
        f"  it unlocks     : {', '.join(unlocks) or 'the end of the curriculum'}",
        f"  read first     : {readme.as_posix()}",
    ]


def format_value(value: float, unit: str) -> str:
    """A figure as a person reads it: 4,000,000 bytes (4.00 MB), 12.3 ms, 850.2x."""
    if unit == "bytes":
        scaled = next(((value / factor, name) for factor, name in
                       ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB"))
                       if abs(value) >= factor), None)
        exact = f"{value:,.0f} bytes"
        return f"{exact} ({scaled[0]:.2f} {scaled[1]})" if scaled else exact
    if unit == "seconds":
        for factor, name in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
            if abs(value) >= factor:
                return f"{value / factor:.3g} {name}"
        return f"{value * 1e9:.3g} ns"
    if unit in ("FLOP/s", "bytes/s"):
        scaled = next(((value / factor, prefix) for factor, prefix in
                       ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")) if abs(value) >= factor),
                      (value, ""))
        return f"{scaled[0]:.3g} {scaled[1]}{'FLOP/s' if unit == 'FLOP/s' else 'B/s'}"
    if unit == "ratio":
        return f"{value:,.1f}x"
    if unit == "%":
        return f"{value:.2f} %"
    if value == int(value):
        return f"{int(value):,} {unit}"
    return f"{value:,.4g} {unit}"


def metrics_table(kata: Kata, metrics: list[Metric]) -> str:
    rows = [(metric.name, format_value(metric.value, metric.unit)) for metric in metrics]
    return tabulate(rows, headers=(f"kata {kata.id} systems metrics", "measured"),
                    tablefmt="simple", disable_numparse=True)


def earned(kata: Kata, status: Status) -> int:
    """A kata's points as things stand: stale katas keep theirs until re-checked."""
    return kata.points if status in (Status.PASSED, Status.STALE) else 0


def points(curriculum: Curriculum, statuses: dict[str, Status]) -> tuple[int, int]:
    """(earned, possible) over the katas the student builds (given katas have no points)."""
    built = [kata for kata in curriculum.katas if statuses[kata.id] != Status.GIVEN]
    return sum(earned(kata, statuses[kata.id]) for kata in built), sum(kata.points for kata in built)


def progress_bar(curriculum: Curriculum, statuses: dict[str, Status], width: int = 20) -> str:
    """One line: ``[#####...............] 25/285 points, 2 of 20 katas passed``."""
    have, possible = points(curriculum, statuses)
    filled = round(width * have / possible) if possible else width
    built = [kata for kata in curriculum.katas if statuses[kata.id] != Status.GIVEN]
    done = sum(1 for kata in built if statuses[kata.id] in (Status.PASSED, Status.STALE))
    return (f"[{'#' * filled}{'.' * (width - filled)}] {have}/{possible} points, "
            f"{done} of {len(built)} katas passed")


def milestones_table(names: list[str], records: dict[str, dict[str, str]]) -> str:
    """Each milestone with the last full run on the student's code, as ``pytest --progress`` shows."""
    rows = []
    for name in names:
        record = records.get(name)
        if record is None:
            rows.append(("not run", name, "-"))
        else:
            status = "achieved" if record.get("achieved") == "yes" else "not yet"
            rows.append((status, name, record.get("result", "")))
    return tabulate(rows, headers=("status", "milestone", "last full run on your code"),
                    tablefmt="simple", disable_numparse=True)


def progress_table(curriculum: Curriculum, statuses: dict[str, Status]) -> str:
    """The curriculum with each kata's status and points; the katas the track
    gives have none."""
    rows = []
    for kata in curriculum.katas:
        status = statuses[kata.id]
        shown = "-" if status == Status.GIVEN else f"{earned(kata, status)}/{kata.points}"
        rows.append((status.value, kata.id, kata.title, kata.tier, shown))
    table = tabulate(rows, headers=("status", "id", "kata", "tier", "points"), tablefmt="simple",
                     disable_numparse=True)
    have, possible = points(curriculum, statuses)
    return f"{table}\n\npoints: {have}/{possible}"
