"""Results that outlive the process: BenchmarkResult -> dict -> JSON -> the same result."""

import json

import numpy as np
import pytest

from tinytorch.systems import Benchmark, BenchmarkResult, capture_environment
from tinytorch.systems.benchmarking import SCHEMA, SCHEMA_VERSION

FIELDS = {"name", "scenario", "timings", "summary", "throughput", "batch_size", "environment"}


@pytest.fixture
def result(clock) -> BenchmarkResult:
    """A real offline result, timed on the fake clock, with this machine's environment."""
    def model(x):
        clock.advance(0.25 + 0.125 * len(x.data))

    bench = Benchmark(warmup=1, repeats=4, timer=clock, resamples=200, environment=capture_environment())
    return bench.offline(model, np.zeros((10, 4), dtype=np.float32), batch_size=3, name="mlp-offline")


def test_the_dict_carries_schema_version_and_every_field(result):
    data = result.to_dict()
    assert data["schema"] == SCHEMA == "tinytorch-benchmark"
    assert data["version"] == SCHEMA_VERSION == 1
    assert set(data) == FIELDS | {"schema", "version"}
    assert data["timings"] == list(result.timings) and isinstance(data["timings"], list)
    assert data["summary"]["median"] == result.summary.median
    assert data["summary"]["p99"] == result.summary.p99
    assert data["throughput"] == result.throughput and data["batch_size"] == 3


def test_a_result_survives_a_round_trip_through_json(result):
    text = result.to_json()
    assert json.loads(text)["schema"] == "tinytorch-benchmark"
    again = BenchmarkResult.from_json(text)
    assert again == result
    assert isinstance(again.timings, tuple)
    assert again.summary.relative_ci_width == result.summary.relative_ci_width


def test_a_round_trip_through_the_dict_alone(result):
    assert BenchmarkResult.from_dict(result.to_dict()) == result
    assert BenchmarkResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@pytest.mark.parametrize("change, problem", [
    ({"version": 2}, "version 2"),
    ({"schema": "mlperf-loadgen"}, "mlperf-loadgen"),
])
def test_another_schema_or_version_is_refused_by_name(result, change, problem):
    data = {**result.to_dict(), **change}
    with pytest.raises(ValueError, match=problem):
        BenchmarkResult.from_dict(data)


def test_a_dict_without_a_schema_is_refused(result):
    data = result.to_dict()
    del data["schema"], data["version"]
    with pytest.raises(ValueError, match="schema"):
        BenchmarkResult.from_dict(data)
