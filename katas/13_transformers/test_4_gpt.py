"""GPT: embeddings, a stack of blocks, a final norm and a head; trained on next tokens."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import (
    GPT,
    Embedding,
    LayerNorm,
    Linear,
    PositionalEmbedding,
    TransformerBlock,
    language_model_loss,
)
from tinytorch.optim import Adam

V, L, C = 11, 8, 16
IDS = np.random.default_rng(4).integers(0, V, (3, 6))


def tiny_gpt(seed=0, **kwargs):
    return GPT(V, L, C, num_layers=2, num_heads=2, rng=seed, **kwargs)


def test_the_parts_of_a_gpt():
    model = tiny_gpt()
    assert isinstance(model.token_embedding, Embedding) and model.token_embedding.weight.shape == (V, C)
    assert isinstance(model.position_embedding, PositionalEmbedding)
    assert model.position_embedding.weight.shape == (L, C)
    assert len(model.blocks) == 2 and all(isinstance(b, TransformerBlock) for b in model.blocks)
    assert isinstance(model.ln_f, LayerNorm)
    assert isinstance(model.head, Linear) and model.head.weight.shape == (C, V) and model.head.bias is None
    order = []
    for name, _ in model.named_parameters():
        if name.split(".")[0] not in order:
            order.append(name.split(".")[0])
    assert order == ["token_embedding", "position_embedding", "blocks", "ln_f", "head"]
    np.testing.assert_array_equal(tiny_gpt(seed=3).head.weight.numpy(), tiny_gpt(seed=3).head.weight.numpy())


def test_logits_for_every_position():
    logits = tiny_gpt()(Tensor(IDS))
    assert logits.shape == (3, 6, V) and logits.dtype == np.float32


def test_forward_is_the_composition_of_the_parts(rng):
    model = tiny_gpt(seed=1)
    model.ln_f.bias.data[:] = rng.standard_normal(C)
    x = model.position_embedding(model.token_embedding(Tensor(IDS)))
    for block in model.blocks:
        x = block(x)
    np.testing.assert_allclose(model(Tensor(IDS)).numpy(), model.head(model.ln_f(x)).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_position_matters():
    model = tiny_gpt(seed=2)
    same = np.full((1, 4), 3)
    logits = model(Tensor(same)).numpy()[0]
    assert not np.allclose(logits[1], logits[2])


def test_logits_at_t_never_depend_on_later_tokens(rng):
    model = tiny_gpt(seed=5)
    before = model(Tensor(IDS)).numpy()
    for t in range(IDS.shape[1]):
        changed = IDS.copy()
        changed[:, t] = (changed[:, t] + 1 + rng.integers(0, V - 1, 3)) % V
        after = model(Tensor(changed)).numpy()
        np.testing.assert_allclose(after[:, :t], before[:, :t], rtol=1e-5, atol=1e-6)
        assert not np.allclose(after[:, t], before[:, t])


def test_bad_token_batches_are_clear_errors(rng):
    model = tiny_gpt()
    with pytest.raises(ValueError, match=r"\(6,\)"):
        model(Tensor(IDS[0]))
    with pytest.raises(ValueError, match=f"max_len={L}"):
        model(Tensor(rng.integers(0, V, (1, L + 1))))
    with pytest.raises(IndexError, match=str(V)):
        model(Tensor([[1, V]]))


def test_language_model_loss_is_the_mean_cross_entropy_over_every_position(rng):
    logits = rng.standard_normal((3, 6, V)).astype(np.float32)
    targets = rng.integers(0, V, (3, 6))
    flat = logits.reshape(-1, V).astype(np.float64)
    log_probs = flat - flat.max(axis=1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(axis=1, keepdims=True))
    expected = -log_probs[np.arange(18), targets.reshape(-1)].mean()
    assert language_model_loss(Tensor(logits), Tensor(targets)).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match=r"\(3, 5\)"):
        language_model_loss(Tensor(logits), Tensor(targets[:, :5]))


def test_every_parameter_gets_a_gradient():
    model = tiny_gpt(seed=6)
    language_model_loss(model(Tensor(IDS[:, :-1])), Tensor(IDS[:, 1:])).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.shape == parameter.shape, name
        assert np.any(parameter.grad.numpy() != 0), name


def test_a_tiny_gpt_memorises_a_sequence(metrics):
    sequence = np.array([[3, 1, 4, 1, 5, 9, 2, 6, 5, 3]])
    model = GPT(10, 12, 32, num_layers=2, num_heads=2, rng=7)
    optimizer = Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = language_model_loss(model(Tensor(sequence[:, :-1])), Tensor(sequence[:, 1:]))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 1.5
    assert losses[-1] < 0.1, f"after 40 Adam steps the loss is still {losses[-1]:.3f}"
    greedy = model(Tensor(sequence[:, :-1])).numpy().argmax(axis=-1)
    np.testing.assert_array_equal(greedy, sequence[:, 1:])
    metrics.record("loss before training", losses[0], "nats")
    metrics.record("loss after 40 Adam steps", losses[-1], "nats")
