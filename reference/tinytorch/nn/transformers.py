"""Kata 13: transformers, the architecture behind GPT, assembled from the last twelve katas.

A GPT turns a batch of token ids ``(B, T)`` into next-token scores ``(B, T, vocab)``::

    x = token_embedding(idx) + positions          # kata 11: (B, T, dim)
    for each block:                               # this kata
        x = x + attention(layer_norm_1(x))        #   tokens exchange information (kata 12)
        x = x + mlp(layer_norm_2(x))              #   each token thinks on its own
    logits = head(final_layer_norm(x))            # (B, T, vocab)

Three ideas make deep stacks of these blocks trainable:

- **Residual connections** (``x = x + f(x)``): the gradient reaches early layers through
  the additions unchanged, however deep the stack. A block starts close to the identity
  and learns a correction.
- **Layer normalization** rescales each token's vector to zero mean and unit variance
  (then a learned scale and shift), so activations keep their size from block to block.
  Unlike batch normalization it never mixes examples or positions: it behaves the same
  for a batch of one token at generation time as for a training batch.
- **Pre-norm**: normalising the INPUT of each sub-layer (GPT-2 and later) rather than the
  sum after it (the 2017 original) leaves the residual path itself untouched, which trains
  stably without learning-rate warm-up tricks at small scale.

The causal mask inside every attention layer makes position ``t``'s logits depend on
tokens ``0..t`` only, so one forward pass trains ``T`` next-token predictions at once, and
``generate`` can extend a prompt one sampled token at a time.

**Activation checkpointing** trades time for memory. Training keeps every block's
intermediate arrays alive until backward (dozens of times the block's input), so memory
grows with depth. :func:`checkpoint` runs a block without recording its graph, keeps only
the block's inputs, and lets backward run the block's forward again to rebuild what it
needs: one extra forward per block per step, for a peak that holds the activations of one
block at a time instead of all of them. ``GPT(..., checkpoint_blocks=True)`` checkpoints
every block. (Not to be confused with kata 07's checkpoints, files of saved weights.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..core.activations import GELU
from ..core.autograd import Function, Gradients, no_grad, record
from ..core.tensor import Tensor
from .attention import KVCache, MaskLike, MultiHeadAttention
from .embeddings import Embedding, PositionalEmbedding
from .layers import Dropout, Linear, Module, Sequential
from .losses import CrossEntropyLoss

# generate(): a temperature below this (0 included) means greedy decoding, the argmax.
# Dividing logits by a tinier temperature would overflow to inf for no change in the result.
GREEDY_TEMPERATURE = 1e-6


class LayerNormBackward(Function):
    """Closed-form gradients of ``y = x_hat * weight + bias`` over the last axis.

    Inputs ``(x, weight, bias)``; the forward saved ``normalized`` (x_hat, the shape of x)
    and ``inv_std`` (``1 / sqrt(var + eps)``, shape ``(..., 1)``) as arguments. With
    ``g = grad * weight`` (the gradient reaching x_hat) and means over the last axis::

        dx      = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
        dweight = sum of grad * x_hat over every axis but the last
        dbias   = sum of grad over every axis but the last

    The two subtracted terms are the gradient flowing through the mean and through the
    variance: every input of a row moves both, so each output depends on the whole row.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        weight = self.inputs[1]
        normalized, inv_std = self.arguments["normalized"], self.arguments["inv_std"]
        # BEGIN SOLUTION
        g = grad * weight.data
        correction = g.mean(axis=-1, keepdims=True) + normalized * (g * normalized).mean(
            axis=-1, keepdims=True)
        grad_x = inv_std * (g - correction)
        leading = tuple(range(grad.ndim - 1))
        return grad_x, (grad * normalized).sum(axis=leading), grad.sum(axis=leading)
        # END SOLUTION


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """Normalize ``x`` over its LAST axis, then scale by ``weight`` and shift by ``bias``.

    PyTorch's definition, which the tests hold you to::

        mean = x.mean(-1)                          # per row (token)
        var  = ((x - mean) ** 2).mean(-1)          # BIASED: divide by n, not n - 1
        y    = (x - mean) / sqrt(var + eps) * weight + bias    # eps INSIDE the sqrt

    Compute with NumPy (``keepdims=True`` throughout) and ``record`` the output with
    :class:`LayerNormBackward`, inputs ``(x, weight, bias)`` and arguments
    ``normalized=`` (x_hat) and ``inv_std=``. ``eps`` is a Python float, so float32 stays
    float32.
    """
    # BEGIN SOLUTION
    centered = x.data - x.data.mean(axis=-1, keepdims=True)
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(variance + eps)
    normalized = centered * inv_std
    output = Tensor(normalized * weight.data + bias.data)
    return record(output, LayerNormBackward, (x, weight, bias), normalized=normalized,
                  inv_std=inv_std)
    # END SOLUTION


class LayerNorm(Module):
    """Layer normalization over the last axis of size ``dim``.

    Parameters ``weight`` (ones) and ``bias`` (zeros), float32, shape ``(dim,)``, in that
    order: at initialisation the layer only normalises. An input whose last axis is not
    ``dim`` is a ``ValueError`` naming its shape and ``dim``.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps
        # BEGIN SOLUTION
        self.weight = Tensor(np.ones(dim, dtype=np.float32), requires_grad=True)
        self.bias = Tensor(np.zeros(dim, dtype=np.float32), requires_grad=True)
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        if x.ndim == 0 or x.shape[-1] != self.dim:
            raise ValueError(f"LayerNorm(dim={self.dim}) expects inputs whose last axis is "
                             f"{self.dim}, got shape {x.shape}")
        return layer_norm(x, self.weight, self.bias, self.eps)
        # END SOLUTION

    def __repr__(self) -> str:
        return f"LayerNorm(dim={self.dim}, eps={self.eps})"


class MLP(Module):
    """The feed-forward half of a block: ``proj(GELU(fc(x)))``, applied to every token.

    ``fc = Linear(dim, hidden)`` then ``proj = Linear(hidden, dim)`` (assigned in that order,
    ``rng`` passed through ``np.random.default_rng`` to both), with kata 02's ``GELU`` (the
    tanh approximation) between them. ``hidden`` is usually ``4 * dim``: this is where most
    of a transformer's parameters and FLOPs are.

    ``forward`` takes ``x`` of any shape ``(..., dim)``. Since every token goes through on
    its own, flatten the tokens to ``(N, dim)`` first and restore the shape at the end: one
    large matrix product per layer, in both directions, instead of a batch of small ones
    whose weight gradients must then be summed (a quarter to a third faster here).
    """

    def __init__(self, dim: int, hidden: int, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        # BEGIN SOLUTION
        generator = np.random.default_rng(rng)
        self.fc = Linear(dim, hidden, rng=generator)
        self.activation = GELU()
        self.proj = Linear(hidden, dim, rng=generator)
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        tokens = x.reshape(-1, x.shape[-1])
        return self.proj(self.activation(self.fc(tokens))).reshape(x.shape)
        # END SOLUTION


class TransformerBlock(Module):
    """A pre-norm transformer block (GPT-2)::

        x = x + dropout(attn(ln1(x)))
        x = x + dropout(mlp(ln2(x)))

    Sub-modules, in this order: ``ln1 = LayerNorm(dim)``, ``attn =
    MultiHeadAttention(dim, num_heads, causal=causal)``, ``ln2 = LayerNorm(dim)``,
    ``mlp = MLP(dim, mlp_ratio * dim)`` and ``dropout = Dropout(dropout)``; ``rng`` goes
    through ``np.random.default_rng`` to ``attn``, ``mlp`` and ``dropout`` in that order.
    ``causal`` is True by default: this is a decoder block, as in GPT.

    ``forward(x, mask=None, cache=None)``: ``mask`` and ``cache`` go to ``attn`` unchanged
    (a KV cache, kata 17, holds this block's keys and values).
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: int = 4, dropout: float = 0.0,
                 causal: bool = True, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        # BEGIN SOLUTION
        generator = np.random.default_rng(rng)
        self.ln1 = LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads, causal=causal, rng=generator)
        self.ln2 = LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio * dim, rng=generator)
        self.dropout = Dropout(dropout, rng=generator)
        # END SOLUTION

    def forward(self, x: Tensor, mask: MaskLike = None, cache: KVCache | None = None) -> Tensor:
        # BEGIN SOLUTION
        x = x + self.dropout(self.attn(self.ln1(x), mask=mask, cache=cache))
        return x + self.dropout(self.mlp(self.ln2(x)))
        # END SOLUTION


# -- activation checkpointing: store a block's inputs, recompute the rest in backward -------

RandomStates = list[tuple[np.random.Generator, Mapping[str, Any]]]


def random_states(module: Callable[..., Any]) -> RandomStates:
    """Every random generator ``module``'s forward may draw from, with its state now.

    These are the generators kept as attributes of the module and its sub-modules, such as
    each ``Dropout``'s ``rng`` (a callable that is not a Module has none). A forward that
    draws from anything else (NumPy's global random state, a generator passed in as an
    argument) cannot be replayed by :func:`checkpoint`.
    """
    if not isinstance(module, Module):
        return []
    return [(value, value.bit_generator.state)
            for _, sub in module.named_modules()
            for value in vars(sub).values() if isinstance(value, np.random.Generator)]


@contextmanager
def replayed_randomness(states: RandomStates) -> Iterator[None]:
    """Within the block, each generator of ``states`` draws again what it drew from its saved
    state; afterwards every one continues exactly where it was before the block.

    So a recomputed forward sees the same dropout masks as the original one, and the draws
    that follow (the next training step's masks) are those a run without checkpointing gets.
    """
    now = [(generator, generator.bit_generator.state) for generator, _ in states]
    for generator, state in states:
        generator.bit_generator.state = state
    try:
        yield
    finally:
        for generator, state in now:
            generator.bit_generator.state = state


class CheckpointBackward(Function):
    """The whole of a checkpointed module as ONE node of the graph.

    Inputs: the module's input Tensors. Arguments: ``module``, and ``random_states``, its
    generators' states from before the forward (:func:`random_states`). Nothing computed
    inside the module was kept, so backward computes it again:

    1. fresh leaves: ``Tensor(x.data, requires_grad=x.requires_grad)`` for each input, so
       the recomputed graph starts here and does not run on into the graph outside;
    2. the forward again, with recording on, inside
       ``replayed_randomness(random_states)`` (the same dropout masks as the first time);
    3. ``output.backward(grad)``: the module's parameters accumulate their ``.grad`` there
       and then, as in any backward, and each leaf receives the gradient of its input;
    4. return those leaves' gradients, in order (None for a leaf that got none).

    The recomputed graph lives only during this call: one module's activations at a time.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        module, states = self.arguments["module"], self.arguments["random_states"]
        # BEGIN SOLUTION
        leaves = tuple(Tensor(x.data, requires_grad=x.requires_grad) for x in self.inputs)
        with replayed_randomness(states):
            output = module(*leaves)
        output.backward(grad)
        return tuple(None if leaf.grad is None else leaf.grad.data for leaf in leaves)
        # END SOLUTION


def checkpoint(module: Callable[..., Tensor], *inputs: Tensor) -> Tensor:
    """``module(*inputs)``, computed now and again in backward instead of being stored.

    Run the module under ``no_grad()``, so that none of its intermediate arrays is kept,
    after taking its :func:`random_states`; then ``record`` its output with
    :class:`CheckpointBackward`, inputs ``inputs``, arguments ``module=`` and
    ``random_states=``. The values are exactly ``module(*inputs)``'s, and so are the
    gradients, to float32 rounding. The price: the module's forward runs twice per training
    step. Outside training (no autograd, or under ``no_grad()``) it is a plain call.

    Other arguments go into the module (kata 13's GPT checkpoints ``block(x)``); the inputs
    must be Tensors, and the module's forward must depend on nothing but them, its
    parameters and its generators.
    """
    # BEGIN SOLUTION
    states = random_states(module)
    with no_grad():
        output = module(*inputs)
    return record(output, CheckpointBackward, inputs, module=module, random_states=states)
    # END SOLUTION


class GPT(Module):
    """A decoder-only language model: token ids ``(B, T)`` in, logits ``(B, T, vocab)`` out.

    Sub-modules, in this order, all built from one ``np.random.default_rng(rng)``:

    - ``token_embedding = Embedding(vocab_size, dim)``
    - ``position_embedding = PositionalEmbedding(max_len, dim)`` (learned, as in GPT-2)
    - ``blocks = Sequential(*num_layers causal TransformerBlocks(dim, num_heads, mlp_ratio,
      dropout))``, used as a list: ``forward`` calls each block itself, so that a KV cache
      (kata 17) can hand each block its own cache
    - ``ln_f = LayerNorm(dim)``, the final norm
    - ``head = Linear(dim, vocab_size, bias=False)``

    Weights are NOT tied: GPT-2 reuses the token table as the head, saving
    ``vocab x dim`` parameters, but our ``Linear`` stores ``(in, out)`` and the table
    ``(vocab, dim)``, so tying needs a transposed view of a parameter. For the small
    vocabularies of TinyTorch the head is a small share of the parameters anyway.

    ``forward(idx)``: ``idx`` holds integer token ids of shape ``(B, T)`` with
    ``T <= max_len`` (a Tensor, array or nested list); anything not 2-D is a ``ValueError``
    naming its shape. Longer sequences are refused by the position embedding.

    ``checkpoint_blocks`` (an attribute too, so it can be switched on an existing model):
    ``forward`` runs each block through :func:`checkpoint` instead of calling it, so training
    keeps each block's input rather than everything inside it, and recomputes the rest in
    backward. Same logits, same gradients.
    """

    def __init__(self, vocab_size: int, max_len: int, dim: int, num_layers: int, num_heads: int,
                 mlp_ratio: int = 4, dropout: float = 0.0,
                 rng: np.random.Generator | int | None = None,
                 checkpoint_blocks: bool = False) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.checkpoint_blocks = checkpoint_blocks
        # BEGIN SOLUTION
        generator = np.random.default_rng(rng)
        self.token_embedding = Embedding(vocab_size, dim, rng=generator)
        self.position_embedding = PositionalEmbedding(max_len, dim, rng=generator)
        self.blocks = Sequential(*[
            TransformerBlock(dim, num_heads, mlp_ratio, dropout, causal=True, rng=generator)
            for _ in range(num_layers)])
        self.ln_f = LayerNorm(dim)
        self.head = Linear(dim, vocab_size, bias=False, rng=generator)
        # END SOLUTION

    def forward(self, idx: Any) -> Tensor:
        # BEGIN SOLUTION
        tokens = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        if tokens.ndim != 2:
            raise ValueError(f"GPT expects token ids of shape (B, T), got shape {tokens.shape}")
        x = self.position_embedding(self.token_embedding(tokens))
        for block in self.blocks:
            x = checkpoint(block, x) if self.checkpoint_blocks else block(x)
        return self.head(self.ln_f(x))
        # END SOLUTION

    def generate(self, idx: Any, max_new_tokens: int, temperature: float = 1.0,
                 top_k: int | None = None, rng: np.random.Generator | int | None = None) -> Tensor:
        """Extend each prompt of ``idx`` (``(B, T)`` token ids) by ``max_new_tokens`` tokens.

        Returns an int64 Tensor ``(B, T + max_new_tokens)``: the prompts followed by the new
        tokens. At each step: crop the context to its last ``max_len`` tokens (the model has
        no positions beyond), run ``forward`` under ``no_grad()``, keep the logits of the
        last position, and choose one token per row with :func:`sample_next_token`. Rows are
        independent: each row's tokens depend on that row only (and on the random draws).

        Runs in ``eval()`` mode (no dropout) and restores the previous mode afterwards, even
        on error. ``rng`` as in ``Linear``: the same seed gives the same text.

        Checked before anything runs, each error naming the value: a prompt that is not 2-D
        or is empty (``ValueError``); token ids that are not integers (``TypeError``: 2.7
        is no token, and truncating it to 2 would hide the bug) or outside
        ``[0, vocab_size)`` (``ValueError``); ``max_new_tokens`` that is not an integer
        (``TypeError``) or is negative (``ValueError``). ``temperature`` and ``top_k`` are
        checked by :func:`sample_next_token`.
        """
        # BEGIN SOLUTION
        tokens = np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        if tokens.ndim != 2 or tokens.shape[1] == 0:
            raise ValueError(f"generate expects a non-empty prompt of shape (B, T), got shape "
                             f"{tokens.shape}")
        if tokens.dtype.kind not in "iu":
            raise TypeError(f"generate expects integer token ids, got a prompt of dtype {tokens.dtype}")
        outside = tokens[(tokens < 0) | (tokens >= self.vocab_size)]
        if outside.size:
            raise ValueError(f"generate: token ids {outside[:5].tolist()} are out of range for a "
                             f"vocabulary of {self.vocab_size} (valid: 0 to {self.vocab_size - 1})")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)):
            raise TypeError(f"max_new_tokens must be an integer, got {max_new_tokens!r}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
        tokens = tokens.astype(np.int64)
        generator = np.random.default_rng(rng)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(max_new_tokens):
                    logits = self.forward(tokens[:, -self.max_len:]).data[:, -1, :]
                    chosen = sample_next_token(logits, temperature, top_k, generator)
                    tokens = np.concatenate([tokens, chosen[:, np.newaxis]], axis=1)
        finally:
            self.train(was_training)
        return Tensor(tokens)
        # END SOLUTION


def sample_next_token(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                      rng: np.random.Generator | int | None = None) -> np.ndarray:
    """One token id per row of ``logits`` ``(B, vocab)``: an int64 array of shape ``(B,)``.

    1. ``top_k``: keep each row's ``top_k`` largest logits and set the others to ``-inf``
       (``np.partition`` finds the k-th largest without a full sort; a tie with it is kept
       too). None, or ``top_k >= vocab``, keeps everything; ``top_k < 1`` is a
       ``ValueError``.
    2. ``temperature < GREEDY_TEMPERATURE`` (0 included): return the argmax of each row.
       The temperature must be a finite number >= 0: a negative, NaN or infinite one is a
       ``ValueError`` (NaN would make every probability NaN and always pick token 0), one
       that is not a number a ``TypeError``; so is a ``top_k`` that is not an integer.
    3. Otherwise sample from ``softmax(logits / temperature)``: temperatures below 1 sharpen
       the distribution, above 1 flatten it. Compute the softmax stably in float64, then
       sample all rows at once by inverting the cumulative sums: with ``c`` the cumulative
       probabilities of a row and ``u`` uniform in ``(0, c[-1]]`` (``1 - rng.random()``
       scaled by ``c[-1]``), the token is the number of entries of ``c`` below ``u``. A
       token of probability 0 is never chosen (its ``c`` equals the previous entry).
    """
    # BEGIN SOLUTION
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer))):
        raise TypeError(f"top_k must be None or an integer, got top_k={top_k!r}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be None or >= 1, got {top_k}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)):
        raise TypeError(f"temperature must be a number, got temperature={temperature!r}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got temperature={temperature}")
    vocab = logits.shape[-1]
    if top_k is not None and top_k < vocab:
        kth_largest = np.partition(logits, vocab - top_k, axis=-1)[:, vocab - top_k:vocab - top_k + 1]
        logits = np.where(logits >= kth_largest, logits, -np.inf)
    if temperature < GREEDY_TEMPERATURE:
        return logits.argmax(axis=-1).astype(np.int64)
    scaled = logits.astype(np.float64) / temperature
    probabilities = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    cumulative = probabilities.cumsum(axis=-1)
    draws = (1.0 - np.random.default_rng(rng).random(len(logits))) * cumulative[:, -1]
    return (cumulative < draws[:, np.newaxis]).sum(axis=-1).astype(np.int64)
    # END SOLUTION


def language_model_loss(logits: Tensor, targets: Any) -> Tensor:
    """Mean next-token cross-entropy of ``logits`` ``(B, T, vocab)`` against ``targets``
    ``(B, T)`` (integer ids; usually the input shifted left by one position).

    Reshape to ``(B * T, vocab)`` and ``(B * T,)`` and use kata 04's ``CrossEntropyLoss``:
    the mean over all ``B x T`` predictions. A ``targets`` shape other than ``(B, T)`` is a
    ``ValueError`` naming both shapes.
    """
    # BEGIN SOLUTION
    target_ids = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if logits.ndim != 3 or target_ids.shape != logits.shape[:2]:
        raise ValueError(f"language_model_loss expects logits (B, T, vocab) and targets (B, T), "
                         f"got logits {logits.shape} and targets {target_ids.shape}")
    count = target_ids.size
    return CrossEntropyLoss()(logits.reshape(count, logits.shape[-1]),
                              Tensor(target_ids.reshape(count)))
    # END SOLUTION
