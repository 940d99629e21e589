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
        # BEGIN SOLUTION
        table_grad = np.zeros(weight.shape, dtype=weight.dtype)
        np.add.at(table_grad, indices, grad)
        return (table_grad,)
        # END SOLUTION


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
    # BEGIN SOLUTION
    index_array = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    if index_array.dtype.kind not in "iu":
        example = index_array.reshape(-1)[:1].tolist()
        raise TypeError(f"embedding indices must be integers, got dtype {index_array.dtype} "
                        f"(first value {example[0] if example else 'none'})")
    count = weight.shape[0]
    bad = index_array[(index_array < 0) | (index_array >= count)]
    if bad.size:
        raise IndexError(f"embedding indices {np.unique(bad)[:10].tolist()} are out of range for "
                         f"a table of {count} rows (valid: 0 to {count - 1})")
    return record(Tensor(weight.data[index_array]), EmbeddingBackward, (weight,),
                  indices=index_array)
    # END SOLUTION


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
        # BEGIN SOLUTION
        generator = np.random.default_rng(rng)
        table = generator.standard_normal((num_embeddings, embedding_dim), dtype=np.float32)
        self.weight = Tensor(table, requires_grad=True)
        # END SOLUTION

    def forward(self, indices: Any) -> Tensor:
        # BEGIN SOLUTION
        return embedding_lookup(self.weight, indices)
        # END SOLUTION

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
    # BEGIN SOLUTION
    if max_len < 1 or dim < 1:
        raise ValueError(f"sinusoidal_positions needs max_len >= 1 and dim >= 1, got "
                         f"max_len={max_len}, dim={dim}")
    positions = np.arange(max_len, dtype=np.float64)[:, np.newaxis]
    pair_starts = np.arange(0, dim, 2, dtype=np.float64)
    angles = positions / SINUSOID_BASE ** (pair_starts / dim)
    table = np.empty((max_len, dim), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : dim // 2])
    return Tensor(table.astype(np.float32))
    # END SOLUTION


def position_range(x: Tensor, start: int, max_len: int, dim: int) -> np.ndarray:
    """Positions ``start, ..., start + T - 1`` for ``x`` of shape ``(..., T, dim)``, checked.

    Shared by both positional encodings. ``ValueError``, naming the numbers at fault, when
    ``x`` has fewer than 2 dimensions or its last one is not ``dim``, when ``start`` is
    negative, or when the positions run past ``max_len`` (a sequence longer than the table:
    the message names the length, ``start`` and ``max_len``). Returns an int64 array.
    """
    # BEGIN SOLUTION
    if x.ndim < 2 or x.shape[-1] != dim:
        raise ValueError(f"a positional encoding of dim={dim} expects input of shape "
                         f"(..., T, {dim}), got {x.shape}")
    length = x.shape[-2]
    if start < 0 or start + length > max_len:
        raise ValueError(f"a sequence of length {length} starting at position {start} does not "
                         f"fit in max_len={max_len} positions")
    return np.arange(start, start + length)
    # END SOLUTION


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
        # BEGIN SOLUTION
        generator = np.random.default_rng(rng)
        self.weight = Tensor(generator.standard_normal((max_len, dim), dtype=np.float32),
                             requires_grad=True)
        # END SOLUTION

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        # BEGIN SOLUTION
        return x + embedding_lookup(self.weight, position_range(x, start, self.max_len, self.dim))
        # END SOLUTION

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
        # BEGIN SOLUTION
        self.table = sinusoidal_positions(max_len, dim)
        # END SOLUTION

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        # BEGIN SOLUTION
        return x + self.table[position_range(x, start, self.max_len, self.dim)]
        # END SOLUTION

    def __repr__(self) -> str:
        return f"SinusoidalPositionalEncoding(max_len={self.max_len}, dim={self.dim})"
