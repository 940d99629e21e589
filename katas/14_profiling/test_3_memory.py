"""Memory, measured: tracemalloc for what a step allocates, nbytes for what it holds.

Each category is checked against what it must be: gradients are exactly the size of the
parameters, the optimizer's state is 0, 1 or 2 copies of them for SGD, momentum and Adam,
and the activations the graph keeps grow with the batch while the parameters do not.
"""

import tracemalloc

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor
from tinytorch.nn import CrossEntropyLoss, Linear, Sequential
from tinytorch.optim import SGD, Adam
from tinytorch.systems.profiling import memory_profile, propagate, traced

MEGABYTE = 1_000_000
SLACK = 20_000  # bytes of Python objects (Tensors, dicts, Functions) around the arrays


def test_traced_reports_peak_and_what_is_still_held():
    array, peak, retained = traced(lambda: np.ones(MEGABYTE))
    assert array.nbytes == 8 * MEGABYTE
    assert 8 * MEGABYTE <= retained < 8 * MEGABYTE + SLACK
    assert retained <= peak < 8 * MEGABYTE + SLACK
    assert not tracemalloc.is_tracing(), "tracemalloc must be stopped afterwards"


def test_traced_sees_a_temporary_in_the_peak_only():
    total, peak, retained = traced(lambda: float(np.ones(MEGABYTE).sum()))
    assert total == MEGABYTE
    assert peak >= 8 * MEGABYTE
    assert retained < SLACK


def test_arrays_made_before_the_call_are_not_counted():
    existing = np.ones(MEGABYTE)
    _, peak, retained = traced(lambda: existing.sum())
    assert peak < SLACK and retained < SLACK


def test_traced_stops_tracing_even_when_the_function_raises():
    def broken():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        traced(broken)
    assert not tracemalloc.is_tracing()


def test_traced_refuses_to_nest():
    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match="tracemalloc"):
            traced(lambda: None)
    finally:
        tracemalloc.stop()


def mlp(rng=0):
    return Sequential(Linear(64, 128, rng=rng), ReLU(), Linear(128, 128, rng=rng + 1), ReLU(),
                      Linear(128, 10, rng=rng + 2))


def batch(n):
    rng = np.random.default_rng(n)
    x = Tensor(rng.standard_normal((n, 64)).astype(np.float32))
    y = Tensor(rng.integers(0, 10, n))
    return x, (lambda out: CrossEntropyLoss()(out, y))


PARAMETER_BYTES = 4 * (64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10)


@pytest.mark.parametrize("make_optimizer, copies", [
    (lambda params: SGD(params, lr=0.1), 0),
    (lambda params: SGD(params, lr=0.1, momentum=0.9), 1),
    (lambda params: Adam(params, lr=1e-3), 2),
])
def test_optimizer_state_is_zero_one_or_two_copies_of_the_parameters(make_optimizer, copies):
    model = mlp()
    optimizer = make_optimizer(model.parameters())
    x, loss_fn = batch(32)
    memory = memory_profile(model, x, loss_fn, optimizer)

    assert memory.parameters == PARAMETER_BYTES
    assert memory.gradients == PARAMETER_BYTES, "one float32 gradient per parameter"
    ratio = memory.optimizer_state / memory.parameters
    assert copies <= ratio < copies + 0.1, f"the state measured {ratio:.3f} x the parameters"
    arrays = sum(value.nbytes for state in optimizer.state for value in state.values()
                 if isinstance(value, np.ndarray))
    assert arrays == copies * PARAMETER_BYTES and memory.optimizer_state >= arrays
    assert all(type(n) is int for n in (memory.parameters, memory.gradients, memory.optimizer_state,
                                        memory.activations, memory.activation_peak))


def test_activations_are_what_the_graph_keeps_and_grow_with_the_batch():
    figures = {}
    for n in (64, 128):
        model = mlp()
        x, loss_fn = batch(n)
        figures[n] = memory_profile(model, x, loss_fn, SGD(model.parameters(), lr=0.1))
        outputs = sum(4 * np.prod(row.output_shape) for row in propagate(model, x.shape))
        # the graph keeps at least every layer's float32 output (a Linear keeps two: x @ W, then + b)
        assert figures[n].activations >= outputs
        assert figures[n].activation_peak >= figures[n].activations
        assert figures[n].activations < 4 * outputs + SLACK
    ratio = figures[128].activations / figures[64].activations
    assert 1.8 < ratio < 2.2, f"twice the batch kept {ratio:.2f} x the activations"
    assert figures[128].parameters == figures[64].parameters


def test_a_temporary_of_the_forward_shows_in_the_peak_not_in_the_activations():
    model = mlp()
    x, loss_fn = batch(32)

    def loss_with_a_scratch_array(out):
        scratch = np.ones(MEGABYTE)  # 8 MB, freed before the forward returns
        assert scratch.sum() == MEGABYTE
        return loss_fn(out)

    memory = memory_profile(model, x, loss_with_a_scratch_array, SGD(model.parameters(), lr=0.1))
    assert memory.activations < MEGABYTE, "the scratch array is not kept"
    assert memory.activation_peak >= 8 * MEGABYTE


def test_the_optimizer_must_be_fresh():
    model = mlp()
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, loss_fn = batch(8)
    memory_profile(model, x, loss_fn, optimizer)
    with pytest.raises(ValueError, match="fresh"):
        memory_profile(model, x, loss_fn, optimizer)
