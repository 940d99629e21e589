"""MLPerf-style scenarios: single-stream latency and offline throughput, on a fake clock.

The fake models below advance the clock by a cost the test chooses, so the latencies,
their percentiles and the throughput have exact expected values.
"""

import numpy as np
import pytest

from tinytorch.systems import Benchmark

WARMUP_COST = 1000.0
LAB = {"machine": "the test's fake lab"}


class LatencyModel:
    """Each query takes as many seconds as its sample's value; warm-up queries take 1000."""

    def __init__(self, clock, warmup: int) -> None:
        self.clock, self.warmup = clock, warmup
        self.inputs = []
        self.grad_enabled = []

    def __call__(self, x):
        from tinytorch.core import Tensor, is_grad_enabled

        assert isinstance(x, Tensor), f"the model must receive a Tensor, got {type(x).__name__}"
        self.inputs.append(x.data.copy())
        self.grad_enabled.append(is_grad_enabled())
        warming_up = len(self.inputs) <= self.warmup
        self.clock.advance(WARMUP_COST if warming_up else float(x.data[0, 0]))
        return x


class BatchModel:
    """Each call costs 1 s plus 1 s per sample; the second timed pass has a 300 s hiccup."""

    def __init__(self, clock, warmup: int, batches_per_pass: int) -> None:
        self.clock, self.warmup, self.batches_per_pass = clock, warmup, batches_per_pass
        self.shapes = []
        self.grad_enabled = []

    def __call__(self, x):
        from tinytorch.core import is_grad_enabled

        self.shapes.append(x.shape)
        self.grad_enabled.append(is_grad_enabled())
        timed_call = len(self.shapes) - 1 - self.warmup
        if timed_call < 0:
            self.clock.advance(WARMUP_COST)
            return x
        hiccup = 300.0 if timed_call == self.batches_per_pass else 0.0  # first batch of pass 2
        self.clock.advance(1.0 + len(x.data) + hiccup)
        return x


def latency_inputs(count: int, seed: int = 0) -> np.ndarray:
    """``count`` samples of 3 features; sample i's first feature is its latency in seconds."""
    latencies = np.random.default_rng(seed).permutation(np.arange(1.0, count + 1.0))
    return np.repeat(latencies[:, None], 3, axis=1).astype(np.float32)


# -- single-stream ----------------------------------------------------------------------------

def test_single_stream_sends_one_sample_per_query_in_order(clock):
    inputs = latency_inputs(10)
    model = LatencyModel(clock, warmup=3)

    Benchmark(warmup=3, repeats=99, timer=clock, environment=LAB).single_stream(model, inputs)

    assert len(model.inputs) == 3 + 10, "3 warm-up queries, then one query per sample"
    assert all(x.shape == (1, 3) for x in model.inputs), "a query is a batch of one sample"
    for i, x in enumerate(model.inputs[3:]):
        np.testing.assert_array_equal(x, inputs[i:i + 1])
    assert not any(model.grad_enabled), "inference runs under no_grad()"


def test_single_stream_latencies_and_tail_percentiles_are_exact(clock):
    inputs = latency_inputs(100, seed=1)
    model = LatencyModel(clock, warmup=5)

    result = Benchmark(warmup=5, timer=clock, environment=LAB).single_stream(model, inputs, name="mlp")

    latencies = inputs[:, 0].astype(np.float64)
    assert (result.name, result.scenario, result.batch_size) == ("mlp", "single_stream", 1)
    assert result.timings == tuple(latencies), "one latency per sample, in order, no warm-up"
    assert result.summary.median == 50.5
    assert result.summary.p90 == pytest.approx(90.1, rel=1e-12)
    assert result.summary.p99 == pytest.approx(99.01, rel=1e-12)
    assert result.throughput == pytest.approx(1 / 50.5, rel=1e-12)


def test_single_stream_throughput_is_one_over_the_median_latency(clock):
    from tinytorch.core import Tensor

    inputs = np.array([[2.0], [100.0], [1.0], [3.0]], dtype=np.float32)  # one slow query
    result = Benchmark(warmup=0, timer=clock, environment=LAB).single_stream(
        LatencyModel(clock, warmup=0), Tensor(inputs))
    assert result.timings == (2.0, 100.0, 1.0, 3.0), "inputs may come as a Tensor"
    assert result.throughput == pytest.approx(1 / 2.5, rel=1e-12), "the median, not the mean (26.5)"


def test_warm_up_cycles_over_the_samples(clock):
    model = LatencyModel(clock, warmup=5)
    Benchmark(warmup=5, timer=clock, environment=LAB).single_stream(model, latency_inputs(2))
    warm = [x[0, 0] for x in model.inputs[:5]]
    assert warm == [model.inputs[5][0, 0], model.inputs[6][0, 0]] * 2 + [model.inputs[5][0, 0]]


# -- offline ----------------------------------------------------------------------------------

def test_offline_cuts_every_pass_into_batches_with_a_short_last_one(clock):
    inputs = np.arange(30, dtype=np.float32).reshape(10, 3)
    model = BatchModel(clock, warmup=2, batches_per_pass=3)

    Benchmark(warmup=2, repeats=3, timer=clock, environment=LAB).offline(model, inputs, batch_size=4)

    assert model.shapes[:2] == [(4, 3), (4, 3)], "warm-up: 2 batches"
    assert model.shapes[2:] == [(4, 3), (4, 3), (2, 3)] * 3, "3 passes over 10 samples in 4, 4, 2"
    assert not any(model.grad_enabled), "inference runs under no_grad()"


def test_offline_throughput_counts_samples_per_second_of_the_median_pass(clock):
    inputs = np.zeros((10, 3), dtype=np.float32)
    model = BatchModel(clock, warmup=2, batches_per_pass=3)

    result = Benchmark(warmup=2, repeats=3, timer=clock, environment=LAB).offline(
        model, inputs, batch_size=4, name="mlp")

    # A pass costs (1 + 4) + (1 + 4) + (1 + 2) = 13 s; the second one 300 s more.
    assert (result.name, result.scenario, result.batch_size) == ("mlp", "offline", 4)
    assert result.timings == (13.0, 313.0, 13.0)
    assert result.throughput == pytest.approx(10 / 13, rel=1e-12), (
        "10 samples (not 3 batches) per 13 s, the median pass (not the mean)")


def test_offline_with_one_batch_for_everything(clock):
    model = BatchModel(clock, warmup=0, batches_per_pass=1)
    result = Benchmark(warmup=0, repeats=1, timer=clock, environment=LAB).offline(
        model, np.zeros((6, 2), dtype=np.float32), batch_size=100)
    assert model.shapes == [(6, 2)]
    assert result.timings == (7.0,) and result.throughput == pytest.approx(6 / 7)


def test_bad_batch_size_and_empty_inputs_are_refused(clock):
    bench = Benchmark(timer=clock, environment=LAB)
    model = BatchModel(clock, warmup=0, batches_per_pass=1)
    with pytest.raises(ValueError, match="batch_size=0"):
        bench.offline(model, np.zeros((4, 2), dtype=np.float32), batch_size=0)
    with pytest.raises(ValueError, match="at least one sample"):
        bench.single_stream(model, np.zeros((0, 2), dtype=np.float32))
