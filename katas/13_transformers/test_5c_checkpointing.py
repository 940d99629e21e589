"""Activation checkpointing: the same gradients from a graph that keeps only each block's input.

``checkpoint(block, x)`` runs the block under ``no_grad()`` and records ONE node whose
backward runs the block again, with recording on, and backpropagates through it. The
correctness tests compare with the plain graph (values, gradients, dropout masks) and count
the forwards; the systems tests measure what it buys, in bytes, and what it costs, in time.
"""

import numpy as np
import pytest

from pytest_tinytorch.measure import call_clock, peak_bytes, time_ratio
from tinytorch.core import Tensor
from tinytorch.core.autograd import Function, no_grad
from tinytorch.nn import GPT, TransformerBlock, language_model_loss
from tinytorch.nn.transformers import CheckpointBackward, checkpoint

# the benchmark model of test_6_systems.py, the size the 2017 milestone trains
VOCAB, CONTEXT, DIM, LAYERS, HEADS, BATCH = 96, 64, 128, 4, 4, 32


def token_batch(rng, vocab, batch, length):
    tokens = rng.integers(0, vocab, (batch, length + 1))
    return Tensor(tokens[:, :-1]), Tensor(tokens[:, 1:])


def training_step(model, inputs, targets):
    """Forward and backward from fresh gradients; returns the loss."""
    for parameter in model.parameters():
        parameter.grad = None
    loss = language_model_loss(model(inputs), targets)
    loss.backward()
    return loss.item()


def step_and_gradients(model, inputs, targets):
    """The loss of a training step, and a copy of every gradient it left."""
    loss = training_step(model, inputs, targets)
    return loss, {name: parameter.grad.numpy().copy() for name, parameter in model.named_parameters()}


def assert_same_gradients(plain, checkpointed):
    assert plain.keys() == checkpointed.keys()
    for name in plain:
        np.testing.assert_allclose(checkpointed[name], plain[name], rtol=1e-5, atol=1e-7,
                                   err_msg=f"the gradient of {name} changed with checkpointing")


def test_a_checkpointed_block_is_one_node_with_the_same_output(rng):
    block = TransformerBlock(16, 2, rng=0)
    x = Tensor(rng.standard_normal((2, 6, 16)).astype(np.float32), requires_grad=True)
    with call_clock(Function, "__init__") as nodes_recorded:
        out = checkpoint(block, x)
    assert nodes_recorded() == 1, (
        f"checkpoint(block, x) recorded {nodes_recorded():.0f} graph nodes: only its own, the block "
        f"runs under no_grad() (recording and then dropping its graph costs time and memory)")
    np.testing.assert_array_equal(out.numpy(), block(x).numpy())
    assert out.requires_grad, "the output of checkpoint(block, x) must require grad when x does"
    assert isinstance(out.grad_fn, CheckpointBackward), (
        f"record the output with CheckpointBackward, got grad_fn {out.grad_fn!r}")
    inputs = out.grad_fn.inputs
    assert len(inputs) == 1 and inputs[0] is x, "the checkpoint's node has the block's input as its only input"


def test_outside_training_checkpoint_is_a_plain_call(rng):
    block = TransformerBlock(16, 2, rng=0)
    x = Tensor(rng.standard_normal((2, 6, 16)).astype(np.float32), requires_grad=True)
    with no_grad():
        out = checkpoint(block, x)
    np.testing.assert_array_equal(out.numpy(), block(x).numpy())
    assert not out.requires_grad and out.grad_fn is None, "under no_grad() nothing is recorded"


def test_a_checkpointed_block_has_the_gradients_of_the_plain_one(rng):
    """The input's gradient and every parameter's, against the plain graph."""
    block = TransformerBlock(16, 2, rng=1)
    x = Tensor(rng.standard_normal((2, 6, 16)).astype(np.float32), requires_grad=True)
    weights = Tensor(rng.standard_normal((2, 6, 16)).astype(np.float32))

    def gradients(run):
        x.grad = None
        for parameter in block.parameters():
            parameter.grad = None
        (run(block, x) * weights).sum().backward()
        named = {name: parameter.grad.numpy().copy() for name, parameter in block.named_parameters()}
        return {"the input": x.grad.numpy().copy(), **named}

    assert_same_gradients(gradients(lambda module, value: module(value)), gradients(checkpoint))


def test_a_gpt_with_checkpointed_blocks_has_the_same_loss_and_gradients(rng):
    inputs, targets = token_batch(rng, 40, 3, 12)
    plain = step_and_gradients(GPT(40, 16, 32, 3, 4, rng=2), inputs, targets)
    checkpointed = step_and_gradients(GPT(40, 16, 32, 3, 4, rng=2, checkpoint_blocks=True), inputs, targets)
    assert checkpointed[0] == pytest.approx(plain[0], rel=1e-6)
    assert_same_gradients(plain[1], checkpointed[1])


def test_checkpoint_blocks_can_be_switched_on_an_existing_model(rng):
    inputs, targets = token_batch(rng, 40, 2, 8)
    model = GPT(40, 16, 32, 2, 4, rng=3)
    plain = step_and_gradients(model, inputs, targets)
    model.checkpoint_blocks = True
    assert_same_gradients(plain[1], step_and_gradients(model, inputs, targets)[1])


def test_each_block_runs_its_forward_twice_per_training_step(rng, monkeypatch):
    """Once without the graph, once more in backward: counted calls, not time."""
    calls = {}
    forward = TransformerBlock.forward

    def counted(self, *args, **kwargs):
        calls[id(self)] = calls.get(id(self), 0) + 1
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(TransformerBlock, "forward", counted)
    inputs, targets = token_batch(rng, 40, 2, 8)
    model = GPT(40, 16, 32, 3, 4, rng=4, checkpoint_blocks=True)
    blocks = [id(block) for block in model.blocks]

    loss = language_model_loss(model(inputs), targets)
    assert [calls.get(block, 0) for block in blocks] == [1, 1, 1], "the forward ran each block once"
    loss.backward()
    assert [calls.get(block, 0) for block in blocks] == [2, 2, 2], (
        f"after backward each checkpointed block must have run exactly twice, counted "
        f"{[calls.get(block, 0) for block in blocks]}: one forward without the graph, one in backward")

    calls.clear()
    model.checkpoint_blocks = False
    language_model_loss(model(inputs), targets).backward()
    assert [calls.get(block, 0) for block in blocks] == [1, 1, 1], "without checkpointing, once each"


def test_dropout_masks_are_replayed_in_the_recomputation(rng):
    """The recomputed forward must draw the masks the first forward drew, and leave every
    generator where a run without checkpointing leaves it: the next step's masks match too."""
    inputs, targets = token_batch(rng, 40, 3, 12)
    plain_model = GPT(40, 16, 32, 3, 4, dropout=0.3, rng=5)
    checkpointed_model = GPT(40, 16, 32, 3, 4, dropout=0.3, rng=5, checkpoint_blocks=True)
    losses = []
    for step in (1, 2):
        plain = step_and_gradients(plain_model, inputs, targets)
        checkpointed = step_and_gradients(checkpointed_model, inputs, targets)
        assert checkpointed[0] == pytest.approx(plain[0], rel=1e-6), (
            f"step {step}: the checkpointed model's loss differs, its dropout drew other masks")
        assert_same_gradients(plain[1], checkpointed[1])
        losses.append(plain[0])
    assert losses[0] != losses[1], "dropout is on: two steps on the same batch draw different masks"


# -- systems: what checkpointing saves, in bytes, and what it costs, in time ------------------

def peak_of_a_training_step(layers, checkpoint_blocks):
    model = GPT(VOCAB, CONTEXT, DIM, layers, HEADS, rng=0, checkpoint_blocks=checkpoint_blocks)
    inputs, targets = token_batch(np.random.default_rng(1), VOCAB, BATCH, CONTEXT)
    return peak_bytes(lambda: training_step(model, inputs, targets))[1]


def test_checkpointing_keeps_one_block_of_activations_at_a_time(metrics):
    """Without checkpointing every block adds its graph's arrays to the peak; with it, a block
    adds only what must outlive it: its input (B x T x dim floats) and its parameters'
    gradients. Measured at 2 and 4 blocks, so everything outside the blocks cancels."""
    block = TransformerBlock(DIM, HEADS)
    block_input = BATCH * CONTEXT * DIM * 4
    block_gradients = 4 * sum(parameter.size for parameter in block.parameters())
    attention_weights = BATCH * HEADS * CONTEXT * CONTEXT * 4
    peaks = {(layers, on): peak_of_a_training_step(layers, on) for layers in (2, LAYERS) for on in (False, True)}
    per_block = {on: (peaks[LAYERS, on] - peaks[2, on]) / (LAYERS - 2) for on in (False, True)}

    # as in test_6_systems.py: at least the MLP's hidden layer (4x the input) and the attention
    # weights of every block stay alive for backward
    assert per_block[False] > 4 * block_input + attention_weights, (
        f"without checkpointing each block added only {per_block[False]:,.0f} bytes to the peak")
    # the input and the gradients, with room for one more copy of both; a block whose graph
    # was recorded in the forward would add at least the bound above, three times more
    assert per_block[True] < 2 * (block_input + block_gradients), (
        f"with checkpointing each block still added {per_block[True]:,.0f} bytes to the peak; its "
        f"input is {block_input:,} bytes and its gradients {block_gradients:,}: is the forward "
        f"recording the block's graph (run it under no_grad())?")

    metrics.record(f"training step peak, {LAYERS} blocks, B={BATCH} T={CONTEXT} dim={DIM}",
                   peaks[LAYERS, False], "bytes")
    metrics.record("the same with checkpointed blocks", peaks[LAYERS, True], "bytes")
    metrics.record("peak saved by checkpointing", peaks[LAYERS, False] / peaks[LAYERS, True], "ratio")
    metrics.record("peak added per block", per_block[False], "bytes")
    metrics.record("peak added per checkpointed block", per_block[True], "bytes")


def test_recomputation_time_is_measured(metrics):
    """The price: one more forward per block per step. Recorded, never asserted."""
    model = GPT(VOCAB, CONTEXT, DIM, LAYERS, HEADS, rng=0)
    inputs, targets = token_batch(np.random.default_rng(1), VOCAB, BATCH, CONTEXT)
    losses = {}

    def step(checkpoint_blocks):
        def run():
            model.checkpoint_blocks = checkpoint_blocks
            losses[checkpoint_blocks] = training_step(model, inputs, targets)
        return run

    ratio = time_ratio(step(True), step(False))
    assert losses[True] == pytest.approx(losses[False], rel=1e-6)
    metrics.record(f"training step time, checkpointed / plain, {LAYERS} blocks", ratio, "ratio")
