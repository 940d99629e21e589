"""A row of the table: a case checked, then timed; the bound it is held to; the table and the JSON.

The targets: TinyTorch within FLOOR_TARGET of its NumPy floor, and within PYTORCH_TARGET of
PyTorch wherever the floor allows it (the floor itself within PYTORCH_TARGET of PyTorch:
TinyTorch cannot beat the NumPy it runs). Of the targets that apply, the tighter one is the
row's bound, so meeting it meets both: the floor's unless the floor is between 1.3 and 1.5
times PyTorch's time (then 1.5 x PyTorch is below 1.15 x the floor).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from operator import attrgetter
from typing import Any

from bench_cases import Case
from bench_timing import Timing, time_interleaved
from bench_values import Check, check_floor, compare
from tabulate import tabulate

FLOOR_TARGET = 1.15
PYTORCH_TARGET = 1.5


@dataclass(frozen=True)
class Bound:
    """The target a row is held to: TinyTorch's ``ratio`` to ``against`` ("floor" or
    "PyTorch") at most ``target``."""

    against: str
    ratio: float
    target: float

    @property
    def met(self) -> bool:
        return self.ratio <= self.target

    def describe(self) -> str:
        return f"<= {self.target:g}x {self.against}: {'met' if self.met else 'NOT met'}"


def bound(timing: Timing) -> Bound | None:
    """The bound of a row with these timings (see the module's docstring); None untimed."""
    versus_pytorch = None if timing.ratio is None else Bound("PyTorch", timing.ratio, PYTORCH_TARGET)
    if timing.floor_ratio is None:
        return versus_pytorch
    versus_floor = Bound("floor", timing.floor_ratio, FLOOR_TARGET)
    if versus_pytorch is None or timing.floor_over_pytorch is None:
        return versus_floor
    reachable = timing.floor_over_pytorch <= PYTORCH_TARGET
    tighter = PYTORCH_TARGET < FLOOR_TARGET * timing.floor_over_pytorch
    return versus_pytorch if reachable and tighter else versus_floor


@dataclass
class Row:
    name: str
    shape: str
    timing: Timing | None = None
    check: Check | None = None
    note: str = ""
    floor_check: Check | None = None

    @property
    def ratio(self) -> float | None:
        return self.timing.ratio if self.timing else None

    @property
    def floor_ratio(self) -> float | None:
        return self.timing.floor_ratio if self.timing else None

    @property
    def bound(self) -> Bound | None:
        return bound(self.timing) if self.timing else None

    @property
    def mismatches(self) -> list[str]:
        """What disagrees: ``PyTorch: ...`` and ``floor: ...`` descriptions of failed checks."""
        return [f"{who}: {check.describe()}" for who, check in (("PyTorch", self.check),
                                                                ("floor", self.floor_check))
                if check is not None and not check.ok]

    def as_json(self) -> dict[str, Any]:
        timing, row_bound = self.timing, self.bound
        return {"operation": self.name, "shape": self.shape, "note": self.note,
                "tinytorch_seconds": timing.tinytorch if timing else None,
                "pytorch_seconds": timing.pytorch if timing else None,
                "ratio": self.ratio,
                "round_ratios": timing.ratios if timing else [],
                "check": as_json(self.check),
                "floor_seconds": timing.floor if timing else None,
                "floor_ratio": self.floor_ratio,
                "floor_round_ratios": timing.floor_ratios if timing else [],
                "floor_over_pytorch": timing.floor_over_pytorch if timing else None,
                "floor_check": as_json(self.floor_check),
                "bound": {**asdict(row_bound), "met": row_bound.met} if row_bound else None}


def as_json(check: Check | None) -> dict[str, Any] | None:
    return {**asdict(check), "ok": check.ok} if check else None


def run_case(case: Case, rounds: int, smoke: bool) -> Row:
    """Check the values (the first call of each side: PyTorch's against TinyTorch's, the
    floor's against TinyTorch's), then time every side, interleaved."""
    row = Row(case.name, case.shape)
    ours = case.tinytorch()
    if case.pytorch is not None:
        row.check = compare(ours, case.pytorch(), case.tolerance)
    if case.floor is not None:
        row.floor_check = check_floor(case.floor(), ours, case.tolerance)
    row.timing = time_interleaved(case.tinytorch, case.pytorch, rounds, smoke, case.floor)
    return row


def milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:.3g}"


def times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(rows: list[Row], with_pytorch: bool) -> str:
    """The table: times, TinyTorch's ratios to the floor (and PyTorch), each row's bound and
    its value checks."""
    headers = ["operation", "input", "TinyTorch ms", "floor ms", "x floor"]
    if with_pytorch:
        headers += ["PyTorch ms", "x PyTorch"]
    headers += ["bound", "floor values"] + (["values"] if with_pytorch else [])
    lines = []
    for row in rows:
        timing, row_bound = row.timing, row.bound
        line = [row.name, row.shape, milliseconds(timing.tinytorch if timing else None),
                milliseconds(timing.floor if timing else None), times(row.floor_ratio)]
        if with_pytorch:
            line += [milliseconds(timing.pytorch if timing else None), times(row.ratio)]
        line += [row_bound.describe() if row_bound else "-",
                 row.floor_check.describe() if row.floor_check else "-"]
        if with_pytorch:
            line.append(row.check.describe() if row.check else "-")
        lines.append(line)
    return tabulate(lines, headers=headers, tablefmt="simple", disable_numparse=True)


def describe(row: Row) -> str:
    """One progress line: the times, the ratios and the value checks."""
    assert row.timing is not None
    timing = row.timing
    text = f"TinyTorch {milliseconds(timing.tinytorch)} ms"
    if timing.floor_ratio is not None and row.floor_check is not None:
        text += (f", floor {milliseconds(timing.floor)} ms, x floor {timing.floor_ratio:.2f} "
                 f"(values {row.floor_check.describe()})")
    if timing.ratio is not None and row.check is not None:
        text += (f", PyTorch {milliseconds(timing.pytorch)} ms, ratio {timing.ratio:.2f}, "
                 f"values {row.check.describe()}")
    return text


def worst_row(rows: list[Row], ratio: Callable[[Row], float | None] = attrgetter("ratio")) -> Row | None:
    """The row of the highest ``ratio`` (by default TinyTorch's to PyTorch; pass
    ``attrgetter("floor_ratio")`` for the floor's); None when no row has one."""
    timed = [row for row in rows if ratio(row) is not None]
    return max(timed, key=lambda row: ratio(row) or 0.0) if timed else None
