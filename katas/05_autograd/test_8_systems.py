"""Systems view of autograd: what the graph keeps alive, and what backward costs.

Training needs memory that inference does not: every array a Function keeps for backward
stays alive from the forward pass until the graph is dropped. These figures are measured
on your implementation.
"""

import numpy as np

from pytest_tinytorch.measure import peak_bytes, time_ratio
from tinytorch.core import ReLU, Tensor
from tinytorch.core.autograd import no_grad
from tinytorch.nn import CrossEntropyLoss, Linear, Sequential

BATCH, FEATURES, HIDDEN, CLASSES, HIDDEN_LAYERS = 64, 784, 256, 10, 4


def make_mlp():
    layers = [Linear(FEATURES, HIDDEN, rng=0), ReLU()]
    for seed in range(1, HIDDEN_LAYERS):
        layers += [Linear(HIDDEN, HIDDEN, rng=seed), ReLU()]
    return Sequential(*layers, Linear(HIDDEN, CLASSES, rng=99))


def batch():
    generator = np.random.default_rng(0)
    return (Tensor(generator.standard_normal((BATCH, FEATURES), dtype=np.float32)),
            Tensor(generator.integers(0, CLASSES, BATCH)))


def functions_of(root):
    """Every Function in the graph of ``root``, each once (a walk like topological_order)."""
    found, seen, stack = [], set(), [root]
    while stack:
        tensor = stack.pop()
        if tensor.grad_fn is None or id(tensor.grad_fn) in seen:
            continue
        seen.add(id(tensor.grad_fn))
        found.append(tensor.grad_fn)
        stack.extend(tensor.grad_fn.inputs)
    return found


def test_bytes_the_graph_of_an_mlp_keeps_for_backward(metrics):
    model, (x, y) = make_mlp(), batch()
    loss = CrossEntropyLoss()(model(x), y)
    functions = functions_of(loss)
    # each Function keeps its output array, so these are all the intermediate results
    saved = {id(f.output): f.output.nbytes for f in functions}
    kept = sum(saved.values())
    parameters = sum(p.nbytes for p in model.parameters())
    # at least the output of every step of the Sequential stays alive, (64, 256) float32 each
    step_outputs = HIDDEN_LAYERS * 2 * BATCH * HIDDEN * 4 + BATCH * CLASSES * 4
    assert kept >= step_outputs, f"the graph keeps only {kept:,} bytes"
    loss.backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    gradients = sum(p.grad.nbytes for p in model.parameters())
    assert gradients == parameters
    metrics.record("Functions in the graph of one MLP forward", len(functions), "count")
    metrics.record("activations kept for backward, MLP batch 64", kept, "bytes")
    metrics.record("activations kept per sample", kept / BATCH, "bytes")
    metrics.record("parameters (and again their gradients)", parameters, "bytes")


def test_peak_memory_of_a_forward_pass_with_and_without_the_graph(metrics):
    model, (x, y) = make_mlp(), batch()

    def forward():
        return CrossEntropyLoss()(model(x), y)

    def forward_without_graph():
        with no_grad():
            return forward()

    loss, with_graph = peak_bytes(forward)
    plain, without_graph = peak_bytes(forward_without_graph)
    assert plain.grad_fn is None and loss.grad_fn is not None
    np.testing.assert_allclose(plain.item(), loss.item(), rtol=1e-6)
    ratio = with_graph / without_graph
    # the graph keeps all 8 hidden (64, 256) arrays; without it about 2 are alive at a time
    assert ratio > 2, f"forward peak {with_graph:,} bytes with the graph, {without_graph:,} without"
    loss.backward()
    metrics.record("forward peak with the graph", with_graph, "bytes")
    metrics.record("forward peak under no_grad", without_graph, "bytes")
    metrics.record("forward peak, graph / no_grad", ratio, "ratio")


def test_backward_frees_intermediate_gradients(metrics):
    """A 40-operation chain of 400 KB arrays: 16 MB of graph, but backward itself
    should hold only a few gradients at a time."""
    x = Tensor(np.ones((100, 1000), dtype=np.float32), requires_grad=True)
    y = x
    for _ in range(40):
        y = y * 1.01
    upstream = Tensor(np.ones((100, 1000), dtype=np.float32))
    _, peak = peak_bytes(lambda: y.backward(upstream))
    one_gradient = x.nbytes
    np.testing.assert_allclose(x.grad.numpy(), 1.01 ** 40, rtol=1e-4)
    assert peak < 8 * one_gradient, f"backward peaked at {peak:,} bytes, {peak / one_gradient:.0f} gradients"
    metrics.record("backward peak, 40-op chain of 400 KB arrays", peak, "bytes")


def test_backward_runs_every_rule_once_and_costs_a_few_forward_passes(metrics):
    model, (x, y) = make_mlp(), batch()
    loss = CrossEntropyLoss()(model(x), y)
    functions = functions_of(loss)
    ran = []

    def counted(function, rule):
        return lambda grad: ran.append(function) or rule(grad)

    for function in functions:  # an instance attribute, found before the class's backward
        function.backward = counted(function, function.backward)
    loss.backward()
    for function in functions:
        del function.backward
    # The work of backward, counted: every rule once. A rule skipped leaves its work (and a
    # gradient) out; a rule run twice does its work twice.
    assert sorted(map(id, ran)) == sorted(map(id, functions)), (
        f"{len(functions)} Functions in the graph, {len(ran)} backward calls "
        f"({len(set(map(id, ran)))} distinct): each Function's backward must run exactly once")
    assert all(p.grad is not None for p in model.parameters())

    def forward():
        CrossEntropyLoss()(model(x), y)

    # Shown, not asserted: two matrix products per layer against one, so about 2-3x on an
    # idle core, and whatever a busy machine makes of it.
    ratio = time_ratio(loss.backward, forward)
    metrics.record("backward / forward time, MLP batch 64", ratio, "ratio")
