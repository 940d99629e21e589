"""The ``metrics`` fixture: tests record the systems figures a kata prints when it passes.

A figure travels in the test report's ``user_properties``, which pytest-xdist sends from the
worker to the controlling process, so tables are the same with and without ``-n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

PROPERTY = "tinytorch_metric"
UNITS = ("bytes", "FLOPs", "MACs", "parameters", "seconds", "ratio", "count", "samples/s", "%",
         "nats", "FLOP/s", "bytes/s")  # nats: a loss value (natural-log units)


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str

    def as_property(self) -> tuple[str, dict]:
        return PROPERTY, {"name": self.name, "value": self.value, "unit": self.unit}


class MetricRecorder:
    """Handed to tests as the ``metrics`` fixture."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def record(self, name: str, value: float, unit: str) -> float:
        """Record ``value`` (in ``unit``) under ``name``; returns ``value`` for chaining."""
        if unit not in UNITS:
            raise ValueError(f"metric {name!r}: unit {unit!r} is not one of {', '.join(UNITS)}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"metric {name!r}: value {value!r} is not a finite number")
        self._item.user_properties.append(Metric(name, number, unit).as_property())
        return value


@pytest.fixture
def metrics(request: pytest.FixtureRequest) -> MetricRecorder:
    """Record a systems metric: ``metrics.record("A @ B peak", peak, "bytes")``."""
    return MetricRecorder(request.node)


def from_report(report: pytest.TestReport) -> list[Metric]:
    return [Metric(**value) for key, value in report.user_properties  # type: ignore[arg-type]
            if key == PROPERTY]
