"""Systems view: your harness benchmarks a real TinyTorch MLP on real TinyDigits images.

These are the only real timings of the kata (time.perf_counter, never under tracemalloc).
They depend on the machine, so the assertions are wide bands; the figures themselves go
to the kata's metrics table.
"""

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor, no_grad
from tinytorch.data import load_tinydigits
from tinytorch.nn import Linear, Sequential
from tinytorch.systems import Benchmark

BATCH = 100


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """The 1,000 TinyDigits test images as float32 rows of 784 pixels in [0, 1]."""
    return (load_tinydigits().x_test.reshape(-1, 784) / 255.0).astype(np.float32)


def mlp() -> Sequential:
    return Sequential(Linear(784, 256, rng=0), ReLU(), Linear(256, 128, rng=1), ReLU(),
                      Linear(128, 10, rng=2))


def test_single_stream_latency_and_offline_throughput_of_an_mlp(images, metrics):
    model = mlp()
    bench = Benchmark(warmup=20, repeats=5)

    single = bench.single_stream(model, images, name="MLP single-stream")
    offline = bench.offline(model, images, batch_size=BATCH, name="MLP offline")

    latency = single.summary
    assert len(single.timings) == len(images) and len(offline.timings) == 5
    assert 0 < latency.median <= latency.p90 <= latency.p99 <= latency.maximum
    assert latency.ci_low <= latency.median <= latency.ci_high
    assert offline.throughput == pytest.approx(len(images) / offline.summary.median)
    # Not asserted: on a busy machine a 50-microsecond query often slips between two
    # interruptions of the scheduler while a 10-millisecond pass never does, which shrinks
    # this ratio. The next test asserts that batching wins, timing both sides in turn.
    ratio = offline.throughput / single.throughput
    relative_width = 100 * latency.relative_ci_width
    assert relative_width < 25, f"the 95 % interval of the median latency is {relative_width:.1f} % wide"

    metrics.record("single-stream median latency, MLP 784-256-128-10", latency.median, "seconds")
    metrics.record("single-stream p99 latency", latency.p99, "seconds")
    metrics.record("single-stream throughput", single.throughput, "samples/s")
    metrics.record(f"offline throughput, batch {BATCH}", offline.throughput, "samples/s")
    metrics.record("offline / single-stream throughput", ratio, "ratio")
    metrics.record("95 % CI width of the median latency", relative_width, "%")


def test_batching_beats_one_query_at_a_time_in_an_interleaved_comparison(images, metrics):
    model = mlp()
    queries = [Tensor(images[i:i + 1]) for i in range(BATCH)]
    batch = Tensor(images[:BATCH])

    def one_at_a_time():
        with no_grad():
            for query in queries:
                model(query)

    def batched():
        with no_grad():
            model(batch)

    comparison = Benchmark(warmup=3, repeats=30).compare(
        one_at_a_time, batched, names=("one at a time", "batch"), alpha=0.01)

    # One sample per call pays the Python and call overhead of every layer 100 times; the
    # batch pays it once and lets each matrix product do 100 rows of work per call.
    assert comparison.significance.faster == "batch", comparison.significance.verdict
    assert comparison.speedup > 1.5, f"the batch was only {comparison.speedup:.2f} x faster"
    metrics.record(f"{BATCH} images one at a time / one batch (interleaved)", comparison.speedup, "ratio")


def test_the_graph_costs_time_at_inference_and_the_test_sees_it(images, metrics):
    model = mlp()
    query = Tensor(images[:1])

    def recording():
        model(query)  # autograd is on: every operation records its Function

    def inference():
        with no_grad():
            model(query)

    comparison = Benchmark(warmup=10, repeats=100).compare(
        recording, inference, names=("graph", "no_grad"), alpha=0.01)

    assert comparison.significance.faster == "no_grad", comparison.significance.verdict
    assert comparison.speedup > 1.1, f"no_grad was only {comparison.speedup:.2f} x faster"
    metrics.record("batch-1 latency with graph / under no_grad", comparison.speedup, "ratio")
