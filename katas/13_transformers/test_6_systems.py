"""Systems view of a GPT: where the parameters are, what a block keeps, what a step costs.

Every figure is measured on your model. The benchmark model is the size the 2017 milestone
trains: 4 layers, 4 heads, 128 dimensions, a context of 64 tokens and batches of 32.
"""

import numpy as np

from pytest_tinytorch.measure import peak_bytes, seconds
from tinytorch.core import Tensor
from tinytorch.nn import GPT, TransformerBlock, language_model_loss
from tinytorch.optim import Adam

VOCAB, CONTEXT, DIM, LAYERS, HEADS, BATCH = 96, 64, 128, 4, 4, 32


def component(name: str) -> str:
    if name.startswith(("token_embedding", "position_embedding")):
        return "embeddings"
    if ".attn." in name:
        return "attention"
    if ".mlp." in name:
        return "MLP"
    if name.startswith("head"):
        return "head"
    return "norms"


def test_parameters_by_component(metrics):
    model = GPT(VOCAB, CONTEXT, DIM, LAYERS, HEADS, rng=0)
    counts = {"embeddings": 0, "attention": 0, "MLP": 0, "norms": 0, "head": 0}
    for name, parameter in model.named_parameters():
        counts[component(name)] += parameter.size
    expected = {
        "embeddings": VOCAB * DIM + CONTEXT * DIM,
        "attention": LAYERS * 4 * (DIM * DIM + DIM),                      # q, k, v, out
        "MLP": LAYERS * (DIM * 4 * DIM + 4 * DIM + 4 * DIM * DIM + DIM),  # fc, proj
        "norms": (2 * LAYERS + 1) * 2 * DIM,                              # ln1, ln2 per block, ln_f
        "head": DIM * VOCAB,
    }
    assert counts == expected
    total = sum(counts.values())
    for part, count in counts.items():
        metrics.record(f"parameters: {part}", count, "parameters")
    metrics.record("parameters: total", total, "parameters")
    metrics.record("MLP share of the parameters", 100 * counts["MLP"] / total, "%")
    metrics.record("weights + gradients + Adam state, float32", 4 * 4 * total, "bytes")


def test_activation_memory_of_one_block(metrics):
    block = TransformerBlock(DIM, HEADS, rng=0)
    x = Tensor(np.random.default_rng(0).standard_normal((BATCH, CONTEXT, DIM)).astype(np.float32),
               requires_grad=True)
    out, peak = peak_bytes(lambda: block(x))
    attention_weights = BATCH * HEADS * CONTEXT * CONTEXT * 4
    # at least the MLP's hidden layer (4x the input) and the attention weights stay alive;
    # float64 anywhere on the way would double everything
    assert peak > 4 * x.nbytes + attention_weights, f"one block's forward peaked at only {peak:,} bytes"
    ratio = peak / x.nbytes
    assert ratio < 60, f"one block's forward peaked at {peak:,} bytes, {ratio:.0f}x its input"
    out.sum().backward()
    metrics.record(f"one block's forward with the graph, B={BATCH} T={CONTEXT} dim={DIM}", peak, "bytes")
    metrics.record("block forward peak / block input", ratio, "ratio")
    metrics.record("activation bytes per token per block", peak / (BATCH * CONTEXT), "bytes")


def test_time_of_a_training_step(metrics):
    model = GPT(VOCAB, CONTEXT, DIM, LAYERS, HEADS, rng=0)
    optimizer = Adam(model.parameters(), lr=1e-3)
    tokens = np.random.default_rng(1).integers(0, VOCAB, (BATCH, CONTEXT + 1))
    inputs, targets = Tensor(tokens[:, :-1]), Tensor(tokens[:, 1:])
    losses = []

    def step():
        optimizer.zero_grad()
        loss = language_model_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    elapsed = seconds(step, repeat=3, warmup=1)
    assert losses[-1] < losses[0], "four Adam steps on the same batch did not lower the loss"
    # about 0.2 s on one idle core, 0.8 s on a busy one: a bound a hundred times the time,
    # there to stop a model that loops over tokens or sequences
    assert elapsed < 20.0, f"one training step took {elapsed:.2f} s"
    metrics.record("GPT 4x128, batch 32 x 64: forward + backward + Adam", elapsed, "seconds")
    metrics.record("training steps in 10 minutes at that rate", 600 / elapsed, "count")
