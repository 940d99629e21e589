"""A row of the table: a case checked, then timed, and how the table and the JSON show it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench_cases import Case
from bench_timing import Timing, time_interleaved
from bench_values import Check, compare
from tabulate import tabulate


@dataclass
class Row:
    name: str
    shape: str
    timing: Timing | None = None
    check: Check | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.timing.ratio if self.timing else None

    def as_json(self) -> dict[str, Any]:
        return {"operation": self.name, "shape": self.shape, "note": self.note,
                "tinytorch_seconds": self.timing.tinytorch if self.timing else None,
                "pytorch_seconds": self.timing.pytorch if self.timing else None,
                "ratio": self.ratio,
                "round_ratios": self.timing.ratios if self.timing else [],
                "check": ({**asdict(self.check), "ok": self.check.ok} if self.check else None)}


def run_case(case: Case, rounds: int, smoke: bool) -> Row:
    """Check the values (the first call of each side), then time both sides."""
    row = Row(case.name, case.shape)
    ours = case.tinytorch()
    if case.pytorch is not None:
        row.check = compare(ours, case.pytorch(), case.tolerance)
    row.timing = time_interleaved(case.tinytorch, case.pytorch, rounds, smoke)
    return row


def milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:.3g}"


def table(rows: list[Row], with_pytorch: bool) -> str:
    headers = ["operation", "input", "TinyTorch ms"]
    if with_pytorch:
        headers += ["PyTorch ms", "ratio", "values"]
    lines = []
    for row in rows:
        timing = row.timing
        line = [row.name, row.shape, milliseconds(timing.tinytorch if timing else None)]
        if with_pytorch:
            ratio = timing.ratio if timing else None
            line += [milliseconds(timing.pytorch if timing else None),
                     "-" if ratio is None else f"{ratio:.2f}",
                     row.check.describe() if row.check else "-"]
        lines.append(line)
    return tabulate(lines, headers=headers, tablefmt="simple", disable_numparse=True)


def describe(row: Row) -> str:
    """One progress line: the times, the ratio and the values check."""
    assert row.timing is not None
    text = f"TinyTorch {milliseconds(row.timing.tinytorch)} ms"
    if row.timing.ratio is not None and row.check is not None:
        text += (f", PyTorch {milliseconds(row.timing.pytorch)} ms, ratio {row.timing.ratio:.2f}, "
                 f"values {row.check.describe()}")
    return text


def worst_row(rows: list[Row]) -> Row | None:
    timed = [row for row in rows if row.ratio is not None]
    return max(timed, key=lambda row: row.ratio or 0.0) if timed else None
