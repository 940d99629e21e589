"""Kata 17: memoization, trading memory for time by never computing the same thing twice.

**Memoization** stores a function's results, keyed by its arguments: the second call with
the same arguments is a dictionary lookup. It only works for *pure* functions (same input,
same output, no side effects), and it costs memory, so real caches are bounded: an **LRU**
cache (least recently used) keeps the ``maxsize`` most recently used results and evicts the
one that has gone longest without use. :func:`memoize` is that decorator, with hit and miss
counts, the first thing to look at when a cache does not help.

**The KV cache** is the memoization that makes language models usable. A GPT generates one
token at a time, and kata 13's ``generate`` runs the whole context through the model for
every new token. Yet, thanks to the causal mask, position ``i``'s keys and values depend on
tokens ``0..i`` only: once computed, they never change. Recomputing them at every step is
pure waste. With a cache, step ``t`` runs only the NEW token through the model::

    prefill:  the whole prompt (T tokens) in one forward; every layer stores its K and V
    decode:   one token at position start = cache.length
              q, k, v = projections of this one token          # (B, H, 1, d)
              K, V    = cache.update(k, v)                    # (B, H, start + 1, d)
              attention of the one query against all keys so far (it is the last
              position, so the causal mask lets it see them all)

The work per step drops from the whole context ``T`` to one token: generating ``N`` tokens
costs ``O(N)`` token-forwards instead of ``O(N^2)`` (and attention ``O(N^2)`` instead of
``O(N^3)``). The price is memory, held for the whole generation::

    cache bytes = 2 (K and V) * layers * B * heads * max_len * head_dim * itemsize

which grows with the batch and the context. For large models serving many users it is
the KV cache, not the weights, that fills the accelerator's memory.

Three details decide whether cached generation is *exactly* the same as recomputing:

- **positions**: a token fed alone at step ``t`` must get position ``start = cache.length``
  (``position_embedding(x, start=start)``), not position 0;
- **the causal mask** with fewer queries than keys: the ``T`` queries are the LAST ``T`` of
  the ``S`` positions (``causal_mask(T, S)``, kata 12; ``MultiHeadAttention`` applies it);
- **the end of the context**: positions past ``max_len`` do not exist. ``GPT.generate``
  then crops the context to its last ``max_len`` tokens, which gives every token a NEW
  position, so every cached key and value is stale. :func:`generate_cached` follows the
  same policy, exactly: once the cache is full it is reset and the cropped window is
  prefilled again at every step. Past ``max_len`` the cache no longer saves anything. A
  :class:`KVCache` or :func:`cached_forward` asked to go past its ``max_len`` raises
  ``ValueError``.

A cache is an inference tool: its buffers are plain arrays, outside the autograd graph, so
:func:`cached_forward` runs under ``no_grad()``.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, cast

import numpy as np

from ..core.autograd import no_grad
from ..core.tensor import Tensor
from ..nn.transformers import GPT, TransformerBlock, sample_next_token

# -- memoization of any pure function --------------------------------------------------------


def memoize(maxsize: int | None = 128) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator factory: an LRU cache of at most ``maxsize`` results (None: unbounded).

    ``@memoize(maxsize=2)`` over ``f`` gives a wrapper that:

    - builds the key ``(args, tuple(sorted(kwargs.items())))``; an unhashable argument (a
      list, an array) is a ``TypeError`` naming the arguments' types: a mutable argument
      could change after its result was stored, so it cannot be a key;
    - on a **hit** returns the stored result without calling ``f``, counts ``wrapper.hits``
      and marks the key as most recently used;
    - on a **miss** calls ``f``, counts ``wrapper.misses``, stores the result and, when more
      than ``maxsize`` results are stored, evicts the least recently used one;
    - has ``wrapper.cache_clear()``, which empties the store and zeroes both counts.

    Keep the results in an ``OrderedDict`` (``move_to_end`` on a hit, ``popitem(last=False)``
    to evict). ``maxsize`` below 1 is a ``ValueError``. The counts live as attributes on the
    wrapper, which ``functools.wraps`` makes look like ``f`` (name and docstring).
    """
    if maxsize is not None and maxsize < 1:
        raise ValueError(f"memoize needs maxsize >= 1 or None, got {maxsize}")

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        # BEGIN SOLUTION
        store: OrderedDict[Hashable, Any] = OrderedDict()

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = (args, tuple(sorted(kwargs.items())))
            try:
                hash(key)
            except TypeError:
                kinds = ", ".join(type(a).__name__ for a in (*args, *kwargs.values()))
                raise TypeError(f"{function.__name__} is memoized: its arguments must be hashable, "
                                f"got ({kinds})") from None
            if key in store:
                store.move_to_end(key)
                wrapper.hits += 1  # type: ignore[attr-defined]
                return store[key]
            wrapper.misses += 1  # type: ignore[attr-defined]
            result = function(*args, **kwargs)
            store[key] = result
            if maxsize is not None and len(store) > maxsize:
                store.popitem(last=False)
            return result

        def cache_clear() -> None:
            store.clear()
            wrapper.hits = wrapper.misses = 0  # type: ignore[attr-defined]

        wrapper.hits = wrapper.misses = 0  # type: ignore[attr-defined]
        wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
        return wrapper
        # END SOLUTION

    return decorate


# -- the KV cache of one attention layer -----------------------------------------------------


class KVCache:
    """Keys and values of one attention layer, in buffers allocated once.

    ``keys`` and ``values`` are arrays of shape ``(batch_size, num_heads, max_len,
    head_dim)`` and dtype ``dtype``, allocated in ``__init__`` (zeros). ``length`` counts
    the positions filled so far (0 at the start); positions ``length..max_len - 1`` hold
    nothing meaningful. Allocating once, instead of concatenating a longer array at every
    step, keeps each step's cost independent of how much is cached: a concatenation copies
    everything so far, which is ``O(N^2)`` bytes moved over ``N`` steps.

    It satisfies kata 12's ``KVCache`` protocol: ``MultiHeadAttention.forward(x, cache=...)``
    calls ``k, v = cache.update(k, v)``.
    """

    def __init__(self, batch_size: int, num_heads: int, max_len: int, head_dim: int,
                 dtype: Any = np.float32) -> None:
        if min(batch_size, num_heads, max_len, head_dim) < 1:
            raise ValueError(f"a KVCache needs positive sizes, got batch_size={batch_size}, "
                             f"num_heads={num_heads}, max_len={max_len}, head_dim={head_dim}")
        self.batch_size = batch_size
        self.num_heads = num_heads
        self.max_len = max_len
        self.head_dim = head_dim
        self.dtype = np.dtype(dtype)
        # BEGIN SOLUTION
        shape = (batch_size, num_heads, max_len, head_dim)
        self.keys = np.zeros(shape, dtype=self.dtype)
        self.values = np.zeros(shape, dtype=self.dtype)
        self.length = 0
        # END SOLUTION

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store this step's ``k`` and ``v`` and return the keys and values of ALL positions.

        ``k`` and ``v`` have shape ``(batch_size, num_heads, T_new, head_dim)``. Write them at
        positions ``length .. length + T_new - 1`` of the buffers, advance ``length``, and
        return ``Tensor`` views ``keys[:, :, :length]`` and ``values[:, :, :length]``: no
        copy, the oldest position first, the new ones last.

        Check before writing anything, so a refused update leaves the cache as it was:

        - shapes other than ``(batch_size, num_heads, T_new, head_dim)``, or ``k`` and ``v``
          of different shapes: ``ValueError`` naming the shapes;
        - a dtype other than the cache's: ``TypeError`` naming both (NumPy would round
          float64 into a float32 buffer without a word);
        - ``length + T_new > max_len``: ``ValueError`` naming ``length``, ``T_new`` and
          ``max_len`` (the cache is full: there is no position left to write).
        """
        # BEGIN SOLUTION
        expected = (self.batch_size, self.num_heads, self.head_dim)
        if (k.ndim != 4 or k.shape != v.shape
                or (k.shape[0], k.shape[1], k.shape[3]) != expected):
            raise ValueError(f"KVCache.update expects k and v of shape (batch_size={self.batch_size}, "
                             f"num_heads={self.num_heads}, T_new, head_dim={self.head_dim}), "
                             f"got k {k.shape} and v {v.shape}")
        if k.dtype != self.dtype or v.dtype != self.dtype:
            raise TypeError(f"KVCache holds {self.dtype}, got k {k.dtype} and v {v.dtype}")
        new = k.shape[2]
        if self.length + new > self.max_len:
            raise ValueError(f"KVCache is full: {self.length} positions cached + {new} new "
                             f"> max_len={self.max_len}")
        end = self.length + new
        self.keys[:, :, self.length:end] = k.data
        self.values[:, :, self.length:end] = v.data
        self.length = end
        return Tensor(self.keys[:, :, :end]), Tensor(self.values[:, :, :end])
        # END SOLUTION

    def reset(self) -> None:
        """Forget every cached position (``length = 0``), keeping the buffers allocated.

        The stale numbers may stay in the buffers: nothing reads past ``length``.
        """
        # BEGIN SOLUTION
        self.length = 0
        # END SOLUTION

    @property
    def nbytes(self) -> int:
        """Bytes of the two buffers: the memory this cache holds, filled or not."""
        # BEGIN SOLUTION
        return self.keys.nbytes + self.values.nbytes
        # END SOLUTION

    def __repr__(self) -> str:
        return (f"KVCache(batch_size={self.batch_size}, num_heads={self.num_heads}, "
                f"max_len={self.max_len}, head_dim={self.head_dim}, dtype={self.dtype})")


# -- the caches of a whole GPT -----------------------------------------------------------------


def transformer_blocks(model: GPT) -> list[TransformerBlock]:
    """The blocks of ``model`` in order (``model.blocks`` is a ``Sequential`` used as a list)."""
    return cast("list[TransformerBlock]", list(model.blocks))


class GPTCache:
    """One :class:`KVCache` per transformer block of ``model``, for ``batch_size`` sequences.

    Each block's cache has the block's ``num_heads`` and ``head_dim = embed_dim //
    num_heads`` (read from ``block.attn``), ``max_len = model.max_len``, and the dtype of the
    model's weights (so a float64 model gets float64 caches). ``layers`` lists them in the
    order of :func:`transformer_blocks`. ``length``, ``reset()`` and ``nbytes`` act on all
    of them.
    """

    def __init__(self, model: GPT, batch_size: int) -> None:
        self.batch_size = batch_size
        self.max_len = model.max_len
        dtype = model.token_embedding.weight.dtype
        # BEGIN SOLUTION
        self.layers = [KVCache(batch_size, block.attn.num_heads, model.max_len,
                               block.attn.embed_dim // block.attn.num_heads, dtype)
                       for block in transformer_blocks(model)]
        # END SOLUTION

    @property
    def length(self) -> int:
        """Positions cached so far (the same in every layer)."""
        # BEGIN SOLUTION
        return self.layers[0].length
        # END SOLUTION

    @property
    def nbytes(self) -> int:
        """Bytes held by the keys and values of every layer."""
        # BEGIN SOLUTION
        return sum(layer.nbytes for layer in self.layers)
        # END SOLUTION

    def reset(self) -> None:
        """Empty every layer's cache, for a new batch of prompts."""
        # BEGIN SOLUTION
        for layer in self.layers:
            layer.reset()
        # END SOLUTION


def cached_forward(model: GPT, tokens: Any, cache: GPTCache) -> Tensor:
    """Run only the NEW ``tokens`` ``(B, T)`` through ``model``, reusing ``cache``.

    The tokens take positions ``start .. start + T - 1`` with ``start = cache.length``;
    returns their logits ``(B, T, vocab)``, equal (up to rounding) to the last ``T``
    positions of ``model`` run on the whole sequence so far. The cache then holds
    ``start + T`` positions. One call with the whole prompt is the prefill; one call per
    new token is the decoding.

    The steps are those of ``GPT.forward``, with two changes: the position embedding gets
    ``start=start``, and block ``i`` of :func:`transformer_blocks` is called as
    ``block(x, cache=cache.layers[i])``. Everything under ``no_grad()``.

    A refused call must leave the cache as it was: ``tokens`` not 2-D, or a batch size
    other than the cache's, is a ``ValueError`` naming the shape, raised first;
    ``start + T > max_len`` is refused by the position embedding (kata 11's ``ValueError``
    names the length, ``start`` and ``max_len``), which runs before any block touches its
    cache.
    """
    # BEGIN SOLUTION
    ids = np.asarray(tokens.data if isinstance(tokens, Tensor) else tokens)
    if ids.ndim != 2 or ids.shape[0] != cache.batch_size:
        raise ValueError(f"cached_forward expects token ids of shape (B={cache.batch_size}, T), "
                         f"got shape {ids.shape}")
    with no_grad():
        x = model.position_embedding(model.token_embedding(ids), start=cache.length)
        for block, layer_cache in zip(transformer_blocks(model), cache.layers):
            x = block(x, cache=layer_cache)
        return model.head(model.ln_f(x))
    # END SOLUTION


def generate_cached(model: GPT, idx: Any, max_new_tokens: int, temperature: float = 1.0,
                    top_k: int | None = None, rng: np.random.Generator | int | None = None) -> Tensor:
    """``GPT.generate`` with a KV cache: the same tokens for the same seed, far fewer FLOPs.

    Arguments, result (an int64 Tensor ``(B, T + max_new_tokens)``), checks and eval-mode
    handling as in ``model.generate``, and the same sampling: one
    ``sample_next_token(logits, temperature, top_k, generator)`` call per step with
    ``generator = np.random.default_rng(rng)``, so the random draws come in the same order.

    Make a fresh :class:`GPTCache` for this batch. The first step prefills the prompt's last
    ``max_len`` tokens in one :func:`cached_forward`; each later step feeds only the token
    just chosen, ``(B, 1)``. When the cache is full (``cache.length == max_len``), every
    position would shift: reset the cache and prefill the last ``max_len`` tokens instead,
    exactly what ``model.generate`` computes at that step. No forward after the last token.
    """
    # BEGIN SOLUTION
    tokens = np.asarray(idx.data if isinstance(idx, Tensor) else idx).astype(np.int64)
    if tokens.ndim != 2 or tokens.shape[1] == 0:
        raise ValueError(f"generate_cached expects a non-empty prompt of shape (B, T), got shape "
                         f"{tokens.shape}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    generator = np.random.default_rng(rng)
    cache = GPTCache(model, tokens.shape[0])
    context = tokens[:, -model.max_len:]
    was_training = model.training  # type: ignore[attr-defined]
    model.eval()
    try:
        for _ in range(max_new_tokens):
            logits = cached_forward(model, context, cache).data[:, -1, :]
            chosen = sample_next_token(logits, temperature, top_k, generator)
            tokens = np.concatenate([tokens, chosen[:, np.newaxis]], axis=1)
            if cache.length < cache.max_len:
                context = chosen[:, np.newaxis]
            else:
                cache.reset()
                context = tokens[:, -model.max_len:]
    finally:
        model.train(was_training)
    return Tensor(tokens)
    # END SOLUTION
