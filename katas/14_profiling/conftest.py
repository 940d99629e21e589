"""Shared by the tests of kata 14: FLOP formulas written out independently, and a fake clock.

The formulas follow the counting convention of the module docstring (a multiply-add is 2
FLOPs), but each is written here from the layer's arithmetic, head by head and term by term,
without any of your code. Tests feed them the shapes a REAL forward pass produced, so a
wrong predicted shape cannot hide behind a matching FLOP count.

No ``tinytorch`` import here: pytest may load this file before the plugin has chosen which
implementation (yours or the reference) the run tests.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def matmul_flops(m: int, n: int, p: int) -> int:
    """(m, n) @ (n, p): m * p dot products of n multiplies and n adds."""
    return m * p * (n + n)


def linear_flops(rows: int, fan_in: int, fan_out: int, bias: bool = True) -> int:
    return matmul_flops(rows, fan_in, fan_out) + (rows * fan_out if bias else 0)


def conv_flops(out_shape: tuple[int, ...], in_channels: int, kernel: int, bias: bool) -> int:
    """Every output element: one window of in_channels * k * k values times the filter."""
    multiply_adds = in_channels * kernel * kernel
    return numel(out_shape) * (2 * multiply_adds + (1 if bias else 0))


def attention_flops(batch: int, length: int, dim: int, heads: int) -> int:
    """Multi-head self-attention without a cache, summed over the heads one by one."""
    head_dim = dim // heads
    projections = 4 * linear_flops(batch * length, dim, dim)
    scale = batch * length * dim                                    # q * (1 / sqrt(d))
    per_head = (matmul_flops(length, head_dim, length)              # q @ k^T
                + 5 * length * length                               # softmax: 5 per score
                + matmul_flops(length, length, head_dim))           # weights @ v
    return projections + scale + batch * heads * per_head


def block_flops(batch: int, length: int, dim: int, heads: int, mlp_ratio: int = 4,
                dropout_active: bool = False) -> int:
    tokens = batch * length
    hidden = mlp_ratio * dim
    norms = 2 * 7 * tokens * dim
    mlp = linear_flops(tokens, dim, hidden) + 9 * tokens * hidden + linear_flops(tokens, hidden, dim)
    residual = 2 * tokens * dim * (2 if dropout_active else 1)
    return norms + attention_flops(batch, length, dim, heads) + mlp + residual


def gpt_flops(batch: int, length: int, vocab: int, dim: int, layers: int, heads: int) -> int:
    tokens = batch * length
    positions = tokens * dim                                        # x + position rows
    final_norm = 7 * tokens * dim
    head = linear_flops(tokens, dim, vocab, bias=False)
    return positions + layers * block_flops(batch, length, dim, heads) + final_norm + head


@pytest.fixture
def formulas() -> SimpleNamespace:
    return SimpleNamespace(numel=numel, matmul=matmul_flops, linear=linear_flops, conv=conv_flops,
                           attention=attention_flops, block=block_flops, gpt=gpt_flops)


class FakeClock:
    """``clock()`` reads the time; ``clock.advance(seconds)`` moves it. With ``tick=1`` every
    reading also moves it by one: a profile then counts the readings it takes."""

    def __init__(self, tick: float = 0.0) -> None:
        self.now = 0.0
        self.tick = tick

    def __call__(self) -> float:
        self.now += self.tick
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ticking_clock() -> FakeClock:
    return FakeClock(tick=1.0)
