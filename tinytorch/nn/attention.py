"""Kata 12: attention, the operation that lets every token look at every other token.

Each token emits a **query** ("what am I looking for?"), a **key** ("what do I contain?")
and a **value** ("what do I pass on?"). Token ``i``'s output is an average of all the
values, weighted by how well its query matches each key::

    scores  = Q @ K^T / sqrt(d)          # (..., T, S): query i against key j
    weights = softmax(scores, over j)    # each row sums to 1
    output  = weights @ V                # (..., T, d_v)

The ``1 / sqrt(d)`` keeps the scores' spread independent of the head size ``d``: a dot
product of ``d`` unit-variance numbers has variance ``d``, and an unscaled softmax of
such scores would be nearly one-hot, with vanishing gradients.

**Masks.** In TinyTorch a mask is a boolean array that broadcasts against the scores
``(..., T, S)``, and ``True`` means KEEP: query ``i`` may attend to key ``j``. (This is the
convention of PyTorch's ``scaled_dot_product_attention``.) Masked scores become ``-inf``
BEFORE the softmax, so they receive exactly zero weight and the kept weights still sum to
one; zeroing weights after the softmax would leave rows that no longer sum to one.

- A **causal** mask lets position ``i`` see only positions ``<= i``: a language model
  must predict token ``i + 1`` without peeking at it.
- A **padding** mask hides the padding at the end of shorter sequences in a batch.

A row whose every key is masked (a query in a sequence of length 0) has no sensible
softmax: ``exp(-inf) / 0`` is ``nan``. TinyTorch's choice: such a row gets all-zero
weights, so its output is zero and no gradient flows through it, with no ``nan`` and
no warning.

**Memory.** The weights form a ``T x S`` matrix per head and per sequence, kept for the
backward pass: doubling the sequence length quadruples it. That quadratic term is why long
contexts are expensive, and what FlashAttention avoids by never storing the matrix.

**Multi-head attention** runs ``H`` attentions of size ``d = embed_dim / H`` side by side,
each on its own slice of the projected queries, keys and values, then mixes their outputs
with one more linear layer. Splitting heads is a reshape and a transpose, no copy.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from ..core.autograd import Function, Gradients, record
from ..core.tensor import Tensor
from .layers import Linear, Module

MaskLike = Tensor | np.ndarray | None


class KVCache(Protocol):
    """What :class:`MultiHeadAttention` needs from a key/value cache (kata 17 builds one).

    ``update(k, v)`` receives this step's keys and values, shape ``(B, H, T_new, d)``,
    stores them, and returns the keys and values of ALL positions so far,
    ``(B, H, S, d)`` with ``S >= T_new``, the new ones last.
    """

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]: ...


def causal_mask(num_queries: int, num_keys: int | None = None) -> np.ndarray:
    """Boolean ``(num_queries, num_keys)`` mask, True where query ``i`` may see key ``j``.

    With ``num_keys`` None (the usual square case) it is the lower triangle, diagonal
    included: position ``i`` sees ``0..i``. With more keys than queries, the queries are
    the LAST ``num_queries`` positions of the ``num_keys`` (what a decoder with a KV cache
    computes): query ``i`` sits at position ``i + num_keys - num_queries`` and sees every key
    up to that position. ``causal_mask(2, 4)`` is ``[[T, T, T, F], [T, T, T, T]]``.
    ``num_keys < num_queries`` or ``num_queries < 1`` is a ``ValueError`` naming both.
    """
    raise NotImplementedError("causal_mask: not implemented yet (kata 12 Attention)")


def padding_mask(lengths: Any, seq_len: int) -> np.ndarray:
    """Boolean ``(B, 1, seq_len)`` mask: True at the first ``lengths[b]`` keys of sequence b.

    The middle axis of size 1 broadcasts over the queries, so the mask fits scores of shape
    ``(B, T, seq_len)``. Only keys are masked: the outputs at padded query positions are
    computed anyway and ignored downstream (the loss skips them). ``lengths`` is a list,
    array or Tensor of B integers; one that is negative or above ``seq_len`` is a
    ``ValueError`` naming it and ``seq_len``.
    """
    raise NotImplementedError("padding_mask: not implemented yet (kata 12 Attention)")


def as_bool_mask(mask: Tensor | np.ndarray) -> np.ndarray:
    """The mask's boolean array; ``TypeError`` naming the dtype if it is not boolean.

    An additive float mask (0 to keep, -inf to block) is a different convention: convert it
    with ``mask == 0``.
    """
    raise NotImplementedError("as_bool_mask: not implemented yet (kata 12 Attention)")


def masked_softmax(scores: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Softmax over the LAST axis (the keys) of ``scores``, with masked entries exactly 0.

    ``mask`` (True = keep) broadcasts against ``scores``. Set the masked scores to ``-inf``
    (``np.where``), subtract each row's maximum (kata 02: no overflow for any score), then
    ``exp`` and divide by the row's sum. A fully masked row has maximum ``-inf``: subtract 0
    there instead (``exp(-inf)`` is 0, no warning) and divide by 1 instead of its zero sum,
    so the row is all zeros. Works on NumPy arrays (the forward of attention) and keeps
    their dtype.
    """
    raise NotImplementedError("masked_softmax: not implemented yet (kata 12 Attention)")


class AttentionBackward(Function):
    """Closed-form backward of ``softmax(Q K^T * scale [masked]) V``.

    Inputs ``(q, k, v)``: q ``(..., T, d)``, k ``(..., S, d)``, v ``(..., S, d_v)``. The
    forward saved the attention ``weights`` P ``(..., T, S)`` and the ``scale`` as
    arguments; ``grad`` is dL/d output ``(..., T, d_v)``. With ^T swapping the last two axes:

        dV = P^T @ grad
        dP = grad @ V^T
        dS = P * (dP - sum(dP * P, last axis, keepdims))      # softmax's backward, kata 05
        dQ = dS @ K * scale
        dK = dS^T @ Q * scale

    Masked entries have P = 0, so dS is 0 there and no gradient leaks through the mask.

    The (T, S) arrays are the big ones: compute ``dP`` into a new array and turn it into
    ``dS`` in place (the row sums of ``dP * P`` with ``np.einsum("...i,...i->...")``, which
    multiplies and adds without writing the product), and apply ``scale`` to ``dQ`` and
    ``dK`` ``(..., T, d)`` rather than to the (T, S) ``dS``.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        q, k, v = self.inputs
        weights, scale = self.arguments["weights"], self.arguments["scale"]
        raise NotImplementedError("AttentionBackward.backward: not implemented yet (kata 12 Attention)")


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor, mask: MaskLike = None) -> Tensor:
    """``softmax(q @ k^T / sqrt(d), masked) @ v``, one fused, differentiable operation.

    Shapes: q ``(..., T, d)``, k ``(..., S, d)``, v ``(..., S, d_v)`` with the same leading
    (batch, head) axes; the result is ``(..., T, d_v)`` in q's dtype. ``mask``: None, or a
    boolean array/Tensor broadcastable to ``(..., T, S)``, True = keep.

    Check first, and raise with the shapes in the message: ``ValueError`` when q and k
    differ in ``d``, k and v differ in ``S``, the leading axes differ, or the mask does not
    broadcast to the scores; ``TypeError`` when the mask is not boolean (:func:`as_bool_mask`).

    Then compute with NumPy: multiply q (not the bigger scores) by the Python float
    ``1 / math.sqrt(d)``, take the scores against ``np.swapaxes(k, -1, -2)``, get the weights
    with :func:`masked_softmax`, multiply by v, and ``record`` the output with
    :class:`AttentionBackward`, inputs ``(q, k, v)`` and the arguments ``weights=`` and
    ``scale=``. The saved weights are the ``(..., T, S)`` memory of this kata's systems view.
    """
    raise NotImplementedError("scaled_dot_product_attention: not implemented yet (kata 12 Attention)")


class MultiHeadAttention(Module):
    """``num_heads`` attention heads over ``embed_dim``-dimensional tokens.

    Four ``Linear(embed_dim, embed_dim)`` layers, assigned in this order: ``q_proj``,
    ``k_proj``, ``v_proj`` (each produces all heads at once) and ``out_proj`` (mixes the
    heads' concatenated outputs). Their ``rng`` values are derived from the one given
    (``np.random.default_rng(rng)`` passed to each, in that order). ``embed_dim`` must be a
    multiple of ``num_heads`` (``head_dim = embed_dim // num_heads``): otherwise raise
    ``ValueError`` naming both numbers. ``causal=True`` applies :func:`causal_mask` on
    every call (a GPT decoder); False (the default) lets every token see every other one.

    ``forward(x, mask=None, cache=None)`` for ``x`` of shape ``(B, T, embed_dim)``:

    1. project the tokens flattened to ``(B * T, embed_dim)`` (one large matrix product
       each, as in kata 13's MLP): ``q_proj``, ``k_proj``, ``v_proj``;
    2. split heads (:meth:`split_heads`): reshape to ``(B, T, H, d)``, then transpose axes
       1 and 2 to ``(B, H, T, d)``. Head ``h`` owns columns ``h*d .. (h+1)*d - 1`` of each
       projection. (Reshaping straight to ``(B, H, T, d)`` would scramble tokens and heads.)
    3. if a ``cache`` (see :class:`KVCache`) is given: ``k, v = cache.update(k, v)``;
       the keys then span ``S >= T`` positions, the queries being the last ``T``;
    4. attention with :func:`scaled_dot_product_attention`: the mask is the causal mask
       ``(T, S)`` if ``causal``, AND the given ``mask`` (broadcastable to ``(B, T, S)``, or
       ``(T, S)``; read it with :func:`as_bool_mask` and give it a head axis with
       ``np.expand_dims(mask, -3)`` when it is 3-D);
    5. merge heads: transpose back to ``(B, T, H, d)``, reshape to ``(B * T, embed_dim)``;
    6. ``out_proj``, reshaped to ``(B, T, embed_dim)``.

    Only Tensor operations and the fused attention: the whole layer is differentiable.
    A wrong input shape is a ``ValueError`` naming it and ``embed_dim``.
    """

    def __init__(self, embed_dim: int, num_heads: int, causal: bool = False,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.causal = causal
        raise NotImplementedError("MultiHeadAttention.__init__: not implemented yet (kata 12 Attention)")

    def forward(self, x: Tensor, mask: MaskLike = None, cache: KVCache | None = None) -> Tensor:
        raise NotImplementedError("MultiHeadAttention.forward: not implemented yet (kata 12 Attention)")

    def split_heads(self, x: Tensor, batch: int) -> Tensor:
        """``(B * T, embed_dim)`` -> ``(B, H, T, head_dim)``: reshape, then swap axes 1 and 2."""
        raise NotImplementedError("MultiHeadAttention.split_heads: not implemented yet (kata 12 Attention)")

    def __repr__(self) -> str:
        return (f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"causal={self.causal})")
