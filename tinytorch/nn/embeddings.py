"""Kata 11: embeddings, where integer tokens become vectors a network can compute with.

A tokenizer (kata 10) turns text into integers, but an integer is a name, not a quantity:
token 7 is not "more" than token 3. An **embedding table** of shape
``(num_embeddings, embedding_dim)`` gives every token its own learned row, and looking up a
batch of token ids is plain NumPy fancy indexing, ``weight.data[indices]``: ids of shape
``(B, T)`` give vectors of shape ``(B, T, embedding_dim)``.

The lookup is equivalent to multiplying one-hot vectors by the table, without ever building
the one-hot matrix (``B x T x vocab`` numbers, almost all zeros). Its gradient is the
reverse: each row of the upstream gradient is *added* into the row of the table it came
from. A token that appears five times in a batch receives five contributions, so the
scatter must accumulate: ``np.add.at``, never ``full[indices] += grad`` (NumPy's buffered
assignment keeps only one of the repeated updates).

Attention (kata 12) treats its input as a *set*: shuffling the tokens shuffles its output
and nothing else. Word order must therefore be added to the vectors themselves, with a
**positional encoding**, either learned (a second table, indexed by position, as in GPT-2)
or fixed (the sines and cosines of "Attention Is All You Need", Vaswani et al. 2017). Both
are modules with ``forward(x, start=0)`` that return ``x`` plus the encodings of positions
``start, ..., start + T - 1``; ``start`` lets a decoder that feeds one token at a time
(kata 17's KV cache) keep counting positions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.autograd import Function, Gradients, record
from ..core.tensor import Tensor
from .layers import Module

SINUSOID_BASE = 10000.0


class EmbeddingBackward(Function):
    """The gradient of ``weight[indices]`` with respect to ``weight``.

    Inputs: ``(weight,)``; argument ``indices``, an integer array of any shape, so ``grad``
    has shape ``indices.shape + (embedding_dim,)``. Scatter-add every row of ``grad`` into a
    zero array of the table's shape at the row its index names, with ``np.add.at``: a
    repeated index must receive the SUM of all its rows. Rows nobody looked up get zeros.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        (weight,) = self.inputs
        indices = self.arguments["indices"]
        raise NotImplementedError("EmbeddingBackward.backward: not implemented yet (kata 11 Embeddings)")


def embedding_lookup(weight: Tensor, indices: Any) -> Tensor:
    """Rows ``weight[indices]`` of a table of shape ``(num_embeddings, dim)``, differentiable.

    ``indices`` is a Tensor, NumPy array, list or int of any shape; the result has shape
    ``indices.shape + (dim,)`` and the table's dtype. Check the indices before looking up:

    - an index dtype that is not an integer type (floats, bools) is a ``TypeError`` naming
      the dtype and an offending value: a float index is a bug upstream, not something to
      round;
    - an index outside ``[0, num_embeddings)`` is an ``IndexError`` naming the bad values and
      the valid range. That includes negative indices, which NumPy would silently count
      from the end of the table.

    Then ``Tensor(weight.data[indices])``, recorded with :class:`EmbeddingBackward` (see
    ``record`` in kata 05) and the checked integer array as ``indices=``.
    """
    raise NotImplementedError("embedding_lookup: not implemented yet (kata 11 Embeddings)")


class Embedding(Module):
    """A learned table of ``num_embeddings`` vectors of size ``embedding_dim``.

    ``weight`` is a float32 parameter of shape ``(num_embeddings, embedding_dim)`` drawn
    from the standard normal N(0, 1), as PyTorch does (``rng`` as in ``Linear``: a
    Generator, a seed or None). Draw it directly in float32
    (``generator.standard_normal(shape, dtype=np.float32)``): a float64 draw of a large
    vocabulary would briefly take twice the table's memory.

    ``forward(indices)`` is :func:`embedding_lookup` on this table.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        raise NotImplementedError("Embedding.__init__: not implemented yet (kata 11 Embeddings)")

    def forward(self, indices: Any) -> Tensor:
        raise NotImplementedError("Embedding.forward: not implemented yet (kata 11 Embeddings)")

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"


def sinusoidal_positions(max_len: int, dim: int) -> Tensor:
    """The fixed positional encodings of Vaswani et al. (2017), a float32 ``(max_len, dim)``.

    Column pairs share a frequency. For position ``pos`` and pair ``i``::

        PE[pos, 2i]     = sin(pos / 10000 ** (2i / dim))
        PE[pos, 2i + 1] = cos(pos / 10000 ** (2i / dim))

    so column 0 is ``sin(pos)`` and column 1 is ``cos(pos)`` (frequency 1), and the
    wavelengths grow geometrically up to about ``2 pi x 10000`` for the last pair. Note the
    exponent uses the PAIR index ``i`` (twice of it), not the column index: the sine and
    the cosine of a pair have the same frequency, which is what makes the encoding of
    ``pos + k`` a fixed rotation of the encoding of ``pos``.

    An odd ``dim`` is allowed: its last column is a sine with no cosine partner (pair
    ``(dim - 1) / 2``). ``max_len`` or ``dim`` below 1 is a ``ValueError`` naming both.
    Compute in float64 (positions up to thousands times small frequencies), then cast.
    """
    raise NotImplementedError("sinusoidal_positions: not implemented yet (kata 11 Embeddings)")


def position_range(x: Tensor, start: int, max_len: int, dim: int) -> np.ndarray:
    """Positions ``start, ..., start + T - 1`` for ``x`` of shape ``(..., T, dim)``, checked.

    Shared by both positional encodings. ``ValueError``, naming the numbers at fault, when
    ``x`` has fewer than 2 dimensions or its last one is not ``dim``, when ``start`` is
    negative, or when the positions run past ``max_len`` (a sequence longer than the table:
    the message names the length, ``start`` and ``max_len``). Returns an int64 array.
    """
    raise NotImplementedError("position_range: not implemented yet (kata 11 Embeddings)")


class PositionalEmbedding(Module):
    """Learned positions (GPT-2): a parameter table ``weight`` of shape ``(max_len, dim)``.

    Initialised like :class:`Embedding` (N(0, 1), float32). ``forward(x, start=0)`` takes
    vectors ``x`` of shape ``(..., T, dim)`` and returns ``x`` plus rows
    ``start .. start + T - 1`` of the table, the same for every sequence of the batch (so
    the table's gradient sums over the batch). Use :func:`position_range` and
    :func:`embedding_lookup`. Positions past ``max_len`` have no row: the model cannot
    handle longer sequences than it was built for.
    """

    def __init__(self, max_len: int, dim: int,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        self.max_len = max_len
        self.dim = dim
        raise NotImplementedError("PositionalEmbedding.__init__: not implemented yet (kata 11 Embeddings)")

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        raise NotImplementedError("PositionalEmbedding.forward: not implemented yet (kata 11 Embeddings)")

    def __repr__(self) -> str:
        return f"PositionalEmbedding(max_len={self.max_len}, dim={self.dim})"


class SinusoidalPositionalEncoding(Module):
    """Fixed positions: ``x`` plus rows of :func:`sinusoidal_positions`, nothing to learn.

    The table is built once in ``__init__`` as the plain attribute ``table`` (a Tensor that
    does not require grad, so it is not a parameter). ``forward(x, start=0)`` as in
    :class:`PositionalEmbedding`. The gradient flows to ``x`` only.
    """

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.dim = dim
        raise NotImplementedError("SinusoidalPositionalEncoding.__init__: not implemented yet (kata 11 Embeddings)")

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        raise NotImplementedError("SinusoidalPositionalEncoding.forward: not implemented yet (kata 11 Embeddings)")

    def __repr__(self) -> str:
        return f"SinusoidalPositionalEncoding(max_len={self.max_len}, dim={self.dim})"
