"""Systems view of optimizers: the memory their state costs, and the steps they save.

These figures come from your own optimizers and appear in the kata's metrics table.
"""

import gc
import tracemalloc
from functools import partial

import numpy as np

from pytest_tinytorch.measure import peak_bytes
from tinytorch.core import Tensor
from tinytorch.core.activations import ReLU
from tinytorch.nn import Linear, Sequential
from tinytorch.optim import SGD, Adam

# Small dicts and ints an optimizer keeps besides its arrays (measured: well under 4 KiB).
BOOKKEEPING_BYTES = 16 * 1024


def mnist_mlp_with_gradients() -> list[Tensor]:
    """The parameters of a 784-128-10 MLP, each with a (random) gradient in place."""
    model = Sequential(Linear(784, 128, rng=0), ReLU(), Linear(128, 10, rng=1))
    rng = np.random.default_rng(0)
    params = model.parameters()
    for param in params:
        param.grad = Tensor(rng.standard_normal(param.shape).astype(np.float32))
    return params


def bytes_kept_alive(fn):
    """Run ``fn()``; return its result and the bytes it allocated that are still alive after."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        gc.collect()
        return result, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def created_and_stepped(make_optimizer, steps=1):
    optimizer = make_optimizer()
    for _ in range(steps):
        optimizer.step()
    return optimizer


def test_optimizer_state_costs_zero_one_and_two_copies_of_the_weights(metrics):
    params = mnist_mlp_with_gradients()
    weight_bytes = sum(p.nbytes for p in params)
    assert weight_bytes == 101_770 * 4
    metrics.record("784-128-10 MLP weights", weight_bytes, "bytes")
    largest = max(p.nbytes for p in params)
    first_step_peaks, states = {}, {}
    for name, copies, make in [("SGD", 0, lambda: SGD(params, lr=0.01)),
                               ("SGD momentum", 1, lambda: SGD(params, lr=0.01, momentum=0.9)),
                               ("Adam", 2, lambda: Adam(params, lr=1e-3))]:
        optimizer, peak = peak_bytes(partial(created_and_stepped, make))
        state = optimizer.state_bytes()
        assert state == copies * weight_bytes, f"{name}: state of {state:,} bytes"
        assert peak >= state, f"{name}: the first step peaked at {peak:,} bytes, below its state"
        optimizer, kept = bytes_kept_alive(partial(created_and_stepped, make))
        assert state <= kept <= state + BOOKKEEPING_BYTES, \
            f"{name}: state_bytes() says {state:,} but the first step kept {kept:,} bytes alive"
        first_step_peaks[name], states[name] = peak, state
        metrics.record(f"{name} state after one step", state, "bytes")
        metrics.record(f"{name} peak of creation + first step", peak, "bytes")
    # Plain SGD needs a temporary or two (lr * grad) at a time, and nothing that lasts.
    assert first_step_peaks["SGD"] < 3 * largest, f"plain SGD peaked at {first_step_peaks['SGD']:,} bytes"
    gradient_bytes = sum(p.grad.nbytes for p in params)
    metrics.record("Adam training memory (weights + grads + state) / weights",
                   (weight_bytes + gradient_bytes + states["Adam"]) / weight_bytes, "ratio")


def test_memory_does_not_grow_with_the_number_of_steps():
    params = mnist_mlp_with_gradients()
    optimizer, kept = bytes_kept_alive(partial(created_and_stepped, lambda: Adam(params), steps=5))
    assert optimizer.state_bytes() <= kept <= optimizer.state_bytes() + BOOKKEEPING_BYTES, \
        f"after 5 Adam steps {kept:,} bytes are alive, for a state of {optimizer.state_bytes():,}"


# A least-squares problem whose features have very different scales (3, 1, 0.3, 0.1): the
# curvature differs 600-fold between directions, as it does between a network's layers.
PROBLEM_RNG = np.random.default_rng(0)
FEATURES = (PROBLEM_RNG.standard_normal((64, 4)) * np.array([3.0, 1.0, 0.3, 0.1])).astype(np.float32)
TARGETS = FEATURES @ PROBLEM_RNG.standard_normal(4).astype(np.float32)
LOSS_TARGET = 1e-4
STEP_CAP = 5000


def steps_to_fit(make_optimizer) -> int:
    """Steps until the mean squared error of the fit drops below LOSS_TARGET (at most STEP_CAP)."""
    weights = Tensor(np.zeros(4, dtype=np.float32), requires_grad=True)
    optimizer = make_optimizer([weights])
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging optimizer just hits the cap
        for step in range(STEP_CAP):
            residual = FEATURES @ weights.data - TARGETS
            if np.mean(residual ** 2) < LOSS_TARGET:
                return step
            weights.grad = Tensor(2 / len(TARGETS) * FEATURES.T @ residual)
            optimizer.step()
    return STEP_CAP


def test_momentum_and_adam_need_far_fewer_steps_on_an_ill_conditioned_problem(metrics):
    # lr = 0.1 is close to the largest step plain SGD survives here (2 / largest curvature,
    # 0.127). Momentum 0.9 lengthens steps up to 10-fold, so it gets half that lr.
    steps = {"SGD": steps_to_fit(lambda p: SGD(p, lr=0.1)),
             "SGD momentum 0.9": steps_to_fit(lambda p: SGD(p, lr=0.05, momentum=0.9)),
             "SGD Nesterov 0.9": steps_to_fit(lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
             "Adam": steps_to_fit(lambda p: Adam(p, lr=0.1))}
    for name, count in steps.items():
        metrics.record(f"{name} steps to MSE < {LOSS_TARGET:g}", count, "count")
    assert steps["SGD"] < STEP_CAP, "plain SGD should get there, slowly"
    for name in ("SGD momentum 0.9", "SGD Nesterov 0.9", "Adam"):
        assert 3 * steps[name] < steps["SGD"], f"{name} took {steps[name]} steps, SGD {steps['SGD']}"
