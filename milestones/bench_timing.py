"""Interleaved timing: TinyTorch, PyTorch and the NumPy floor, round after round, in one process.

On a shared machine the speed of the cores moves during a run. Timing each side in its own
block would let a noisy minute fall on one side only; here every round times every side
back to back (alternating the order from one round to the next), and each reported ratio
is the MEDIAN over the rounds of the per-round ratio, so a round slowed down by a neighbour
cannot decide it. Each measurement repeats its call until it lasts about TARGET_SECONDS
and takes the median call.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_tinytorch.measure import seconds

TARGET_SECONDS = 0.25     # each measurement repeats the call until it lasts about this long
MAX_REPEAT = 50


@dataclass(frozen=True)
class Timing:
    """Median seconds per call of each side, and the medians of the per-round ratios.

    ``ratio`` is TinyTorch's time over PyTorch's, ``floor_ratio`` TinyTorch's over the
    floor's, ``floor_over_pytorch`` the floor's over PyTorch's (None for a side not timed).
    """

    tinytorch: float
    pytorch: float | None
    ratio: float | None
    ratios: list[float]
    floor: float | None = None
    floor_ratio: float | None = None
    floor_ratios: list[float] = field(default_factory=list)
    floor_over_pytorch: float | None = None


def repeats_for(fn: Callable[[], Any]) -> int:
    """How many calls make one measurement of about TARGET_SECONDS (at least one)."""
    once = seconds(fn, repeat=1, warmup=0)
    return max(1, min(MAX_REPEAT, math.ceil(TARGET_SECONDS / max(once, 1e-9))))


def per_round(numerators: list[float], denominators: list[float] | None) -> list[float]:
    return [] if denominators is None else [a / b for a, b in zip(numerators, denominators)]


def median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def time_interleaved(tinytorch: Callable[[], Any], pytorch: Callable[[], Any] | None, rounds: int,
                     smoke: bool, floor: Callable[[], Any] | None = None) -> Timing:
    """Time every side given in ``rounds`` interleaved rounds (the order reversed every
    other round: TinyTorch first, then last, then first...).

    Each measurement is the median time of ``repeats_for`` calls (one call in a smoke run);
    every side must have run once before (the value checks do it), so no first-call cost
    is timed.
    """
    sides = {"tinytorch": tinytorch, "pytorch": pytorch, "floor": floor}
    calls = {name: fn for name, fn in sides.items() if fn is not None}
    timed = list(calls)
    repeats = {name: 1 if smoke else repeats_for(fn) for name, fn in calls.items()}
    samples: dict[str, list[float]] = {name: [] for name in timed}
    for round_index in range(rounds):
        for name in timed if round_index % 2 == 0 else reversed(timed):
            samples[name].append(seconds(calls[name], repeat=repeats[name], warmup=0))
    ours, theirs, floors = samples["tinytorch"], samples.get("pytorch"), samples.get("floor")
    ratios, floor_ratios = per_round(ours, theirs), per_round(ours, floors)
    floor_over_pytorch = per_round(floors, theirs) if floors is not None else []
    return Timing(statistics.median(ours), median_or_none(theirs or []), median_or_none(ratios), ratios,
                  median_or_none(floors or []), median_or_none(floor_ratios), floor_ratios,
                  median_or_none(floor_over_pytorch))
