"""Benchmark: TinyTorch against PyTorch on the CPU, the same work on the same numbers.

TinyTorch is NumPy plus Python: every layer is a handful of NumPy calls and every operation
records itself for autograd in Python. How far is that from PyTorch, whose kernels are
C++? This script answers with measurements, operation by operation, then for whole
training steps and for generation with a KV cache:

- **Same inputs, same weights.** Each PyTorch module is built with TinyTorch's structure and
  gets a copy of TinyTorch's weights (a ``Linear`` weight transposed: TinyTorch stores
  ``(in, out)``, PyTorch ``(out, in)``). The PyTorch GPT is written here, block for block
  the GPT of ``tinytorch.nn.transformers``; the CNN is milestone 4's ``build_cnn`` with
  its CIFAR-10 recipe, mirrored layer by layer.
- **Same values.** Before any timing, both sides run once and their results are compared:
  forward outputs and every gradient (training steps: the loss and the gradient of every
  parameter; generation: the tokens). The error of an array is its largest absolute
  difference divided by its largest absolute PyTorch value; a row whose error exceeds its
  tolerance is a MISMATCH, and the script then exits with 1.
- **Fair timing.** One thread on both sides: the BLAS variables are set to 1 before NumPy
  and PyTorch load, and ``torch.set_num_threads(1)``. Both run in this process,
  interleaved: each round times TinyTorch and PyTorch back to back (alternating which goes
  first), each call repeated until a measurement lasts about a quarter of a second. The
  ratio of a row is the MEDIAN over the rounds of ``TinyTorch time / PyTorch time``, so a
  noisy neighbour slowing one round down cannot decide it. Above 1, TinyTorch is slower.

TinyTorch runs with its best settings: ``enable_acceleration()`` (kata 18) is switched on
when it exists (``--no-acceleration`` measures without it), and generation uses kata 17's
``generate_cached`` (the row is skipped, with a note, until it exists). PyTorch is an
optional extra for this script alone, never needed by the katas: ``--vs none`` times
TinyTorch by itself.

``--shakespeare`` trains a character-level TinyGPT on Tiny Shakespeare (``--text``, by default
``../shared/data/tinyshakespeare.txt`` beside the repository) with nanoGPT's CPU recipe
for it: 4 layers, 4 heads, 128 dimensions, a context of 64 characters, batches of 12,
2,000 iterations of AdamW (lr 1e-3, betas (0.9, 0.99), weight decay 0.1 on every
parameter), 100 warm-up iterations then a cosine decay to 1e-4, gradients clipped to norm
1, no dropout. The identical PyTorch model trains from the same initial weights on the same
batches, the steps of both interleaved. Both report the validation loss over the whole
validation split (the last 10% of the text, in windows of 64) and the wall time of their
training steps. The goal: TinyTorch reaches a validation loss of at most 1.9 nats within
twice PyTorch's time (nanoGPT reports about 1.88 with its own model).

Exit codes: 0 when every value agrees (and, with ``--shakespeare``, the goal is met; a
smoke run never fails on the goal), 1 otherwise, 2 for code not written yet, 3 when PyTorch
(or the text) is missing.

    python milestones/bench_vs_pytorch.py [--vs pytorch|none] [--rounds N] [--only NAME ...]
        [--no-acceleration] [--impl reference|student] [--smoke] [--out PATH]
    python milestones/bench_vs_pytorch.py --shakespeare [--text PATH] [--iterations N]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import common

if __name__ == "__main__":
    import os

    # One thread, whatever the environment says: NumPy (and PyTorch) read these when they load.
    for variable in common.BLAS_THREAD_VARIABLES:
        os.environ[variable] = "1"

import numpy as np
from tabulate import tabulate

from pytest_tinytorch.measure import seconds

SEED = 2024
EXIT_MISSING = 3
DEFAULT_TEXT = common.ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
ROUNDS, SMOKE_ROUNDS = 7, 2
TARGET_SECONDS = 0.25     # each measurement repeats the call until it lasts about this long
MAX_REPEAT = 50
SCALE_FLOOR = 1e-2        # see compare()
GOAL_VALIDATION_LOSS = 1.9
GOAL_TIME_RATIO = 2.0

Arrays = dict[str, np.ndarray]


# -- sizes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CharGPT:
    """A TinyGPT and its training recipe: nanoGPT's shakespeare_char configuration for CPUs."""

    vocab_size: int = 65      # the characters of Tiny Shakespeare
    context: int = 64
    dim: int = 128
    layers: int = 4
    heads: int = 4
    batch: int = 12
    iterations: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup: int = 100
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    validation_fraction: float = 0.1
    eval_batch: int = 64      # windows per forward pass when measuring the validation loss


@dataclass(frozen=True)
class Sizes:
    """The shapes of every row of the table (see ``FULL``)."""

    matmul: int
    linear: tuple[int, int, int]                        # batch, in_features, out_features
    conv_first: tuple[tuple[int, int, int, int], int, int]   # input, out channels, kernel
    conv_hidden: tuple[tuple[int, int, int, int], int, int]  # the same, padding kernel // 2
    pool: tuple[int, int, int, int]
    batchnorm: tuple[int, int, int, int]
    softmax: tuple[int, ...]
    cross_entropy: tuple[int, int]                      # rows, classes
    attention: tuple[int, int, int, int]                # batch, heads, T, head_dim
    layernorm: tuple[int, int, int]
    cnn_batch: int
    cnn_widths: tuple[int, ...] | None                  # None: milestone 4's CIFAR-10 widths
    gpt: CharGPT
    generation: tuple[int, int]                         # prompt tokens, new tokens

FULL = Sizes(matmul=1024, linear=(1024, 1024, 1024),
             conv_first=((128, 3, 32, 32), 32, 5), conv_hidden=((64, 32, 16, 16), 32, 3),
             pool=(64, 32, 32, 32), batchnorm=(64, 32, 32, 32), softmax=(8, 4, 256, 256),
             cross_entropy=(4096, 1024), attention=(8, 4, 256, 32), layernorm=(8, 256, 128),
             cnn_batch=64, cnn_widths=None, gpt=CharGPT(), generation=(16, 256))
SMOKE = Sizes(matmul=32, linear=(8, 16, 12), conv_first=((2, 3, 10, 10), 4, 5),
              conv_hidden=((2, 4, 6, 6), 4, 3), pool=(2, 3, 6, 6), batchnorm=(2, 3, 5, 5),
              softmax=(2, 3, 5), cross_entropy=(8, 5), attention=(2, 2, 6, 4), layernorm=(2, 5, 8),
              cnn_batch=4, cnn_widths=(4, 8),
              gpt=CharGPT(vocab_size=13, context=8, dim=16, layers=1, heads=2, batch=3,
                          iterations=12, warmup=2, eval_batch=4),
              generation=(3, 5))


# -- comparing values ------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """How far TinyTorch's arrays are from PyTorch's: the worst array and its error."""

    error: float
    tolerance: float
    worst: str

    @property
    def ok(self) -> bool:
        return self.error <= self.tolerance

    def describe(self) -> str:
        if self.ok:
            return f"ok ({self.error:.1e})"
        return f"MISMATCH: {self.worst} {self.error:.1e} > {self.tolerance:.0e}"


def largest(array: np.ndarray) -> float:
    return float(np.abs(np.asarray(array, dtype=np.float64)).max(initial=0.0))


def relative_error(tinytorch: np.ndarray, pytorch: np.ndarray, floor: float = 0.0) -> float:
    """``max |tinytorch - pytorch| / max(max |pytorch|, floor)``; infinite for different
    shapes or a NaN. (Absolute if both the PyTorch array and ``floor`` are 0.)"""
    a, b = np.asarray(tinytorch, dtype=np.float64), np.asarray(pytorch, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    error = float(np.abs(a - b).max(initial=0.0)) / (max(largest(b), floor) or 1.0)
    return error if math.isfinite(error) else math.inf


def compare(tinytorch: Arrays, pytorch: Arrays, tolerance: float) -> Check:
    """Compare every array TinyTorch produced with PyTorch's of the same name.

    Each array is judged against its own scale (see :func:`relative_error`), so a gradient
    of 1e-3 and an output of 1e3 get the same tolerance. The scale is never taken below
    SCALE_FLOOR times the largest value of all the arrays compared: a gradient that is zero
    in exact arithmetic (the key bias of attention: softmax ignores a shift shared by every
    key) holds rounding noise only, which differs between any two libraries. Both sides
    must produce the same names: a missing one is a bug of the benchmark, a ``ValueError``.
    """
    if set(tinytorch) != set(pytorch):
        raise ValueError(f"the two sides produced different arrays: TinyTorch only "
                         f"{sorted(set(tinytorch) - set(pytorch))}, PyTorch only "
                         f"{sorted(set(pytorch) - set(tinytorch))}")
    floor = SCALE_FLOOR * max(largest(value) for value in pytorch.values())
    errors = {name: relative_error(value, pytorch[name], floor) for name, value in tinytorch.items()}
    worst = max(errors, key=lambda name: errors[name])
    return Check(errors[worst], tolerance, worst)


# -- timing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    """Median seconds per call of each side, and the median of the per-round ratios."""

    tinytorch: float
    pytorch: float | None
    ratio: float | None
    ratios: list[float]


def repeats_for(fn: Callable[[], Any]) -> int:
    """How many calls make one measurement of about TARGET_SECONDS (at least one)."""
    once = seconds(fn, repeat=1, warmup=0)
    return max(1, min(MAX_REPEAT, math.ceil(TARGET_SECONDS / max(once, 1e-9))))


def time_interleaved(tinytorch: Callable[[], Any], pytorch: Callable[[], Any] | None, rounds: int,
                     smoke: bool) -> Timing:
    """Time both sides in ``rounds`` interleaved rounds (alternating which goes first).

    Each measurement is the median time of ``repeats_for`` calls; both sides must have run
    once before (the value check does it), so no first-call cost is timed.
    """
    sides = [tinytorch] if pytorch is None else [tinytorch, pytorch]
    repeats = [1 if smoke else repeats_for(fn) for fn in sides]
    samples: list[list[float]] = [[] for _ in sides]
    for round_index in range(rounds):
        order = range(len(sides)) if round_index % 2 == 0 else reversed(range(len(sides)))
        for side in order:
            samples[side].append(seconds(sides[side], repeat=repeats[side], warmup=0))
    if pytorch is None:
        return Timing(statistics.median(samples[0]), None, None, [])
    ratios = [a / b for a, b in zip(*samples)]
    return Timing(statistics.median(samples[0]), statistics.median(samples[1]),
                  statistics.median(ratios), ratios)


# -- the PyTorch side -------------------------------------------------------------------------

@dataclass
class Torch:
    """PyTorch, pinned to one thread, with the GPT written to TinyTorch's structure."""

    torch: Any
    nn: Any
    F: Any
    Attention: Any
    GPT: Any
    KVCache: Any


class MissingTorch(Exception):
    """PyTorch is not installed: the message says what to do."""


def load_torch() -> Torch:
    try:
        import torch
    except ImportError:
        raise MissingTorch("PyTorch is not installed. It is an optional extra for this benchmark "
                           "only (the katas never need it): `pip install torch` (the CPU build "
                           "is enough), or run TinyTorch alone with --vs none.") from None
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    return Torch(torch, torch.nn, torch.nn.functional, *define_torch_gpt(torch))


def define_torch_gpt(torch: Any) -> tuple[type, type, type]:
    """PyTorch classes with the structure and parameter names of TinyTorch's GPT.

    The same sub-modules in the same order (``token_embedding``, ``position_embedding``,
    ``blocks.i.ln1``, ``blocks.i.attn.q_proj`` ...), so that parameters pair up by name;
    attention is PyTorch's fused ``scaled_dot_product_attention``, as a PyTorch user would
    write it, and the GELU is the tanh approximation, as in TinyTorch.
    """
    nn, F = torch.nn, torch.nn.functional

    class KVCache:
        """Preallocated keys and values of one layer, like kata 17's."""

        def __init__(self, batch: int, heads: int, max_len: int, head_dim: int) -> None:
            self.keys = torch.zeros(batch, heads, max_len, head_dim)
            self.values = torch.zeros(batch, heads, max_len, head_dim)
            self.length = 0

        def update(self, k: Any, v: Any) -> tuple[Any, Any]:
            end = self.length + k.shape[2]
            self.keys[:, :, self.length:end] = k
            self.values[:, :, self.length:end] = v
            self.length = end
            return self.keys[:, :, :end], self.values[:, :, :end]

    class Attention(nn.Module):
        def __init__(self, dim: int, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

        def forward(self, x: Any, cache: KVCache | None = None) -> Any:
            batch, length, dim = x.shape
            q, k, v = (projection(x).view(batch, length, self.heads, -1).transpose(1, 2)
                       for projection in (self.q_proj, self.k_proj, self.v_proj))
            if cache is not None:
                k, v = cache.update(k, v)
            keys = k.shape[2]
            if length == 1:     # one new token: it sees every cached position
                heads = F.scaled_dot_product_attention(q, k, v)
            elif length == keys:
                heads = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                mask = torch.ones(length, keys, dtype=torch.bool).tril(keys - length)
                heads = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            return self.out_proj(heads.transpose(1, 2).reshape(batch, length, dim))

    class MLP(nn.Module):
        def __init__(self, dim: int, hidden: int) -> None:
            super().__init__()
            self.fc = nn.Linear(dim, hidden)
            self.proj = nn.Linear(hidden, dim)

        def forward(self, x: Any) -> Any:
            return self.proj(F.gelu(self.fc(x), approximate="tanh"))

    class Block(nn.Module):
        def __init__(self, dim: int, heads: int, mlp_ratio: int) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(dim)
            self.attn = Attention(dim, heads)
            self.ln2 = nn.LayerNorm(dim)
            self.mlp = MLP(dim, mlp_ratio * dim)

        def forward(self, x: Any, cache: KVCache | None = None) -> Any:
            x = x + self.attn(self.ln1(x), cache)
            return x + self.mlp(self.ln2(x))

    class GPT(nn.Module):
        def __init__(self, vocab_size: int, max_len: int, dim: int, num_layers: int, num_heads: int,
                     mlp_ratio: int = 4) -> None:
            super().__init__()
            self.max_len, self.heads = max_len, num_heads
            self.token_embedding = nn.Embedding(vocab_size, dim)
            self.position_embedding = nn.Embedding(max_len, dim)
            self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_ratio) for _ in range(num_layers))
            self.ln_f = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, vocab_size, bias=False)

        def forward(self, idx: Any, caches: list[KVCache] | None = None) -> Any:
            start = caches[0].length if caches else 0
            positions = torch.arange(start, start + idx.shape[1])
            x = self.token_embedding(idx) + self.position_embedding(positions)
            for index, block in enumerate(self.blocks):
                x = block(x, caches[index] if caches else None)
            return self.head(self.ln_f(x))

        @torch.no_grad()
        def generate(self, idx: Any, max_new_tokens: int) -> Any:
            """Greedy decoding with a KV cache: prefill the prompt, then one token per step."""
            batch, dim = idx.shape[0], self.ln_f.normalized_shape[0]
            caches = [KVCache(batch, self.heads, self.max_len, dim // self.heads) for _ in self.blocks]
            tokens, context = [idx], idx
            for _ in range(max_new_tokens):
                context = self(context, caches)[:, -1].argmax(dim=-1, keepdim=True)
                tokens.append(context)
            return torch.cat(tokens, dim=1)

    return Attention, GPT, KVCache


@dataclass(frozen=True)
class Pair:
    """A TinyTorch parameter and its PyTorch twin (``transposed``: a Linear weight)."""

    name: str
    tinytorch: Any
    pytorch: Any
    transposed: bool


def parameter_pairs(th: Torch, tinytorch_model: Any, pytorch_model: Any) -> list[Pair]:
    """Pair the parameters of two models by their dotted names, and copy TinyTorch's values
    (and batch-norm running statistics) into PyTorch's."""
    ours = dict(tinytorch_model.named_parameters())
    pairs = []
    for module_name, module in pytorch_model.named_modules():
        for name, parameter in module.named_parameters(recurse=False):
            full = f"{module_name}.{name}" if module_name else name
            if full not in ours:
                raise ValueError(f"PyTorch parameter {full} has no TinyTorch counterpart "
                                 f"(TinyTorch has {sorted(ours)})")
            pairs.append(Pair(full, ours.pop(full), parameter,
                              isinstance(module, th.nn.Linear) and name == "weight"))
        if isinstance(module, th.nn.BatchNorm2d):
            twin = dict(tinytorch_model.named_modules())[module_name]
            module.running_mean.copy_(th.torch.from_numpy(twin.running_mean.copy()))
            module.running_var.copy_(th.torch.from_numpy(twin.running_var.copy()))
    if ours:
        raise ValueError(f"TinyTorch parameters {sorted(ours)} have no PyTorch counterpart")
    with th.torch.no_grad():
        for pair in pairs:
            value = pair.tinytorch.data.T if pair.transposed else pair.tinytorch.data
            if tuple(pair.pytorch.shape) != value.shape:
                raise ValueError(f"{pair.name}: TinyTorch {value.shape}, PyTorch {tuple(pair.pytorch.shape)}")
            pair.pytorch.copy_(th.torch.from_numpy(np.ascontiguousarray(value)))
    return pairs


def tinytorch_grads(named: list[tuple[str, Any]]) -> Arrays:
    return {f"grad {name}": parameter.grad.data for name, parameter in named}


def pytorch_grads(pairs: list[Pair]) -> Arrays:
    return {f"grad {pair.name}": (pair.pytorch.grad.T if pair.transposed else pair.pytorch.grad).numpy()
            for pair in pairs}


def torch_input(th: Torch, array: np.ndarray, requires_grad: bool = False) -> Any:
    return th.torch.from_numpy(np.array(array, copy=True)).requires_grad_(requires_grad)


# -- the rows ------------------------------------------------------------------------------------

@dataclass
class Case:
    """One row: the two sides as calls that return their arrays by name."""

    name: str
    shape: str
    tinytorch: Callable[[], Arrays]
    pytorch: Callable[[], Arrays] | None
    tolerance: float


@dataclass
class Row:
    name: str
    shape: str
    timing: Timing | None = None
    check: Check | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.timing.ratio if self.timing else None

    def as_json(self) -> dict[str, Any]:
        return {"operation": self.name, "shape": self.shape, "note": self.note,
                "tinytorch_seconds": self.timing.tinytorch if self.timing else None,
                "pytorch_seconds": self.timing.pytorch if self.timing else None,
                "ratio": self.ratio,
                "round_ratios": self.timing.ratios if self.timing else [],
                "check": ({**asdict(self.check), "ok": self.check.ok} if self.check else None)}


def fwd_bwd_case(name: str, shape: str, x: np.ndarray, tinytorch_layer: Callable[[Any], Any],
                 tinytorch_params: list[tuple[str, Any]], th: Torch | None,
                 pytorch: tuple[Callable[[Any], Any], list[Pair]] | None, rng: np.random.Generator,
                 input_grad: bool = True, tolerance: float = 1e-4) -> Case:
    """A layer's forward and backward: ``out = layer(x)``, then ``out.backward(upstream)``
    with a fixed random upstream gradient. Compared: the output, the input's gradient (if
    ``input_grad``) and every parameter's gradient. ``pytorch`` is the PyTorch layer and its
    parameter pairs (None with ``--vs none``)."""
    from tinytorch.core import Tensor, no_grad

    tt_x = Tensor(x, requires_grad=input_grad)
    with no_grad():
        upstream = rng.standard_normal(tinytorch_layer(tt_x).shape).astype(np.float32)
    leaves = [tt_x] + [parameter for _, parameter in tinytorch_params]

    def run_tinytorch() -> Arrays:
        for leaf in leaves:
            leaf.grad = None
        out = tinytorch_layer(tt_x)
        out.backward(upstream)
        arrays = {"output": out.data, **tinytorch_grads(tinytorch_params)}
        if input_grad:
            arrays["grad input"] = tt_x.grad.data
        return arrays

    if th is None or pytorch is None:
        return Case(name, shape, run_tinytorch, None, tolerance)
    pytorch_layer, pairs = pytorch
    th_x, th_upstream = torch_input(th, x, input_grad), torch_input(th, upstream)

    def run_pytorch() -> Arrays:
        th_x.grad = None
        for pair in pairs:
            pair.pytorch.grad = None
        out = pytorch_layer(th_x)
        out.backward(th_upstream)
        arrays = {"output": out.detach().numpy(), **pytorch_grads(pairs)}
        if input_grad:
            arrays["grad input"] = th_x.grad.numpy()
        return arrays

    return Case(name, shape, run_tinytorch, run_pytorch, tolerance)


def matmul_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    from tinytorch.core import Tensor

    n = sizes.matmul
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    tt_a, tt_b = Tensor(a), Tensor(b)
    run_pytorch = None
    if th is not None:
        th_a, th_b = torch_input(th, a), torch_input(th, b)

        def run_pytorch() -> Arrays:
            return {"output": (th_a @ th_b).numpy()}

    return Case(f"matmul {n}x{n} (forward)", dims(n, n) + " @ " + dims(n, n),
                lambda: {"output": (tt_a @ tt_b).data}, run_pytorch, 1e-5)


def linear_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    from tinytorch.nn import Linear

    batch, n_in, n_out = sizes.linear
    layer = Linear(n_in, n_out, rng=rng)
    pytorch = None
    if th is not None:
        twin = th.nn.Linear(n_in, n_out)
        pytorch = (twin, parameter_pairs(th, layer, twin))
    x = rng.standard_normal((batch, n_in)).astype(np.float32)
    return fwd_bwd_case(f"Linear {n_in}->{n_out} fwd+bwd", dims(batch, n_in), x, layer,
                        list(layer.named_parameters()), th, pytorch, rng)


def conv_case(spec: tuple[tuple[int, int, int, int], int, int], padding: int, input_grad: bool,
              th: Torch | None, rng: np.random.Generator) -> Case:
    from tinytorch.nn import Conv2d

    shape, out_channels, kernel = spec
    layer = Conv2d(shape[1], out_channels, kernel, padding=padding, rng=rng)
    pytorch = None
    if th is not None:
        twin = th.nn.Conv2d(shape[1], out_channels, kernel, padding=padding)
        pytorch = (twin, parameter_pairs(th, layer, twin))
    x = rng.standard_normal(shape).astype(np.float32)
    padded = f", pad {padding}" if padding else ""
    who = "" if input_grad else " (no input grad)"
    return fwd_bwd_case(f"Conv2d {shape[1]}->{out_channels} {kernel}x{kernel}{padded} fwd+bwd{who}",
                        dims(*shape), x, layer, list(layer.named_parameters()), th, pytorch, rng,
                        input_grad=input_grad)


def pool_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    from tinytorch.nn import MaxPool2d

    pytorch = (th.nn.MaxPool2d(2), []) if th is not None else None
    x = rng.standard_normal(sizes.pool).astype(np.float32)
    return fwd_bwd_case("MaxPool2d 2x2 fwd+bwd", dims(*sizes.pool), x, MaxPool2d(2), [], th, pytorch, rng)


def batchnorm_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    from tinytorch.nn import BatchNorm2d

    channels = sizes.batchnorm[1]
    layer = BatchNorm2d(channels)
    pytorch = None
    if th is not None:
        twin = th.nn.BatchNorm2d(channels)
        pytorch = (twin, parameter_pairs(th, layer, twin))
    x = rng.standard_normal(sizes.batchnorm).astype(np.float32)
    return fwd_bwd_case(f"BatchNorm2d {channels} (training) fwd+bwd", dims(*sizes.batchnorm), x, layer,
                        list(layer.named_parameters()), th, pytorch, rng)


def softmax_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    from tinytorch.core import Softmax

    pytorch = (lambda x: th.torch.softmax(x, dim=-1), []) if th is not None else None
    x = 3 * rng.standard_normal(sizes.softmax).astype(np.float32)
    return fwd_bwd_case("Softmax (last axis) fwd+bwd", dims(*sizes.softmax), x, Softmax(axis=-1), [],
                        th, pytorch, rng)


def cross_entropy_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    from tinytorch.core import Tensor
    from tinytorch.nn import CrossEntropyLoss

    rows, classes = sizes.cross_entropy
    targets = rng.integers(0, classes, rows)
    loss, tt_targets = CrossEntropyLoss(), Tensor(targets)
    pytorch = None
    if th is not None:
        th_targets = th.torch.from_numpy(targets)
        pytorch = (lambda logits: th.F.cross_entropy(logits, th_targets), [])
    logits = 3 * rng.standard_normal((rows, classes)).astype(np.float32)
    return fwd_bwd_case(f"CrossEntropyLoss {classes} classes fwd+bwd", dims(rows, classes), logits,
                        lambda x: loss(x, tt_targets), [], th, pytorch, rng)


def attention_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    from tinytorch.nn import MultiHeadAttention

    batch, heads, length, head_dim = sizes.attention
    dim = heads * head_dim
    layer = MultiHeadAttention(dim, heads, causal=True, rng=rng)
    pytorch = None
    if th is not None:
        twin = th.Attention(dim, heads)
        pytorch = (twin, parameter_pairs(th, layer, twin))
    x = rng.standard_normal((batch, length, dim)).astype(np.float32)
    return fwd_bwd_case(f"causal MultiHeadAttention {heads} heads fwd+bwd",
                        f"{dims(batch, length, dim)}, q {dims(*sizes.attention)}", x, layer,
                        list(layer.named_parameters()), th, pytorch, rng)


def layernorm_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    from tinytorch.nn import LayerNorm

    dim = sizes.layernorm[-1]
    layer = LayerNorm(dim)
    pytorch = None
    if th is not None:
        twin = th.nn.LayerNorm(dim)
        pytorch = (twin, parameter_pairs(th, layer, twin))
    x = rng.standard_normal(sizes.layernorm).astype(np.float32)
    return fwd_bwd_case(f"LayerNorm {dim} fwd+bwd", dims(*sizes.layernorm), x, layer,
                        list(layer.named_parameters()), th, pytorch, rng)


def mirror_cnn(th: Torch, model: Any) -> Any:
    """PyTorch's copy of a TinyTorch Sequential of Conv2d, BatchNorm2d, ReLU, MaxPool2d,
    Flatten and Linear steps: the same layers at the same positions (so the parameter
    names match)."""
    from tinytorch.core import ReLU
    from tinytorch.nn import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d

    nn, layers = th.nn, []
    for step in model:
        if isinstance(step, Conv2d):
            layers.append(nn.Conv2d(step.in_channels, step.out_channels, step.kernel_size, step.stride,
                                    step.padding, bias=step.bias is not None))
        elif isinstance(step, BatchNorm2d):
            layers.append(nn.BatchNorm2d(step.num_features, eps=step.eps, momentum=step.momentum))
        elif isinstance(step, ReLU):
            layers.append(nn.ReLU())
        elif isinstance(step, MaxPool2d):
            layers.append(nn.MaxPool2d(step.kernel_size, step.stride))
        elif isinstance(step, Flatten):
            layers.append(nn.Flatten())
        elif isinstance(step, Linear):
            layers.append(nn.Linear(step.in_features, step.out_features, bias=step.bias is not None))
        else:
            raise TypeError(f"no PyTorch counterpart written for {step!r}")
    return nn.Sequential(*layers)


def training_step_arrays(loss: Any, named: list[tuple[str, Any]]) -> Arrays:
    return {"loss": np.asarray(loss.data), **tinytorch_grads(named)}


def cnn_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    """One SGD step of milestone 4's CIFAR-10 CNN: forward, cross-entropy, backward, update."""
    from convnets import RECIPES, build_cnn, make_optimizer

    from tinytorch.core import Tensor
    from tinytorch.nn import CrossEntropyLoss

    recipe = RECIPES["cifar10"]
    if sizes.cnn_widths is not None:
        recipe = replace(recipe, cnn_widths=sizes.cnn_widths, convs_per_stage=1)
    model = build_cnn(recipe, 3, 32, rng)
    optimizer = make_optimizer(recipe, model)
    loss_fn, named = CrossEntropyLoss(), list(model.named_parameters())
    x = rng.standard_normal((sizes.cnn_batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, sizes.cnn_batch)
    tt_x, tt_y = Tensor(x), Tensor(y)

    def run_tinytorch() -> Arrays:
        optimizer.zero_grad()
        loss = loss_fn(model(tt_x), tt_y)
        loss.backward()
        optimizer.step()
        return training_step_arrays(loss, named)

    run_pytorch = None
    if th is not None:
        twin = mirror_cnn(th, model)
        pairs = parameter_pairs(th, model, twin)
        th_optimizer = th.torch.optim.SGD(twin.parameters(), lr=recipe.learning_rate, momentum=0.9,
                                          nesterov=True, weight_decay=recipe.weight_decay)
        th_x, th_y = torch_input(th, x), th.torch.from_numpy(y)

        def run_pytorch() -> Arrays:
            th_optimizer.zero_grad(set_to_none=True)
            loss = th.F.cross_entropy(twin(th_x), th_y)
            loss.backward()
            th_optimizer.step()
            return {"loss": loss.detach().numpy(), **pytorch_grads(pairs)}

    widths = "x".join(str(width) for width in recipe.cnn_widths)
    return Case(f"CNN training step (milestone 4, widths {widths}, SGD)",
                dims(sizes.cnn_batch, 3, 32, 32), run_tinytorch, run_pytorch, 1e-3)


@dataclass
class GPTPair:
    """A TinyGPT, its PyTorch twin (same weights) and an optimizer for each."""

    config: CharGPT
    max_len: int
    model: Any
    optimizer: Any
    twin: Any = None
    twin_optimizer: Any = None
    pairs: list[Pair] = field(default_factory=list)


def make_gpts(config: CharGPT, th: Torch | None, max_len: int | None = None) -> GPTPair:
    """TinyGPT with ``config`` (no dropout) and AdamW; with PyTorch, its twin and AdamW."""
    from tinytorch.nn import GPT
    from tinytorch.optim import AdamW

    max_len = max_len or config.context
    model = GPT(config.vocab_size, max_len, config.dim, config.layers, config.heads, dropout=0.0, rng=SEED)
    optimizer = AdamW(model.parameters(), lr=config.lr, betas=config.betas,
                      weight_decay=config.weight_decay)
    gpts = GPTPair(config, max_len, model, optimizer)
    if th is not None:
        gpts.twin = th.GPT(config.vocab_size, max_len, config.dim, config.layers, config.heads)
        gpts.pairs = parameter_pairs(th, model, gpts.twin)
        gpts.twin_optimizer = th.torch.optim.AdamW(gpts.twin.parameters(), lr=config.lr,
                                                   betas=config.betas, eps=1e-8,
                                                   weight_decay=config.weight_decay)
    return gpts


def tinytorch_gpt_step(gpts: GPTPair, batch: np.ndarray) -> Any:
    """zero_grad, next-token loss of ``batch`` (B, T + 1), backward, clip, AdamW step."""
    from tinytorch.nn import language_model_loss
    from tinytorch.training import clip_grad_norm

    gpts.optimizer.zero_grad()
    loss = language_model_loss(gpts.model(batch[:, :-1]), batch[:, 1:])
    loss.backward()
    clip_grad_norm(gpts.optimizer.params, gpts.config.grad_clip)
    gpts.optimizer.step()
    return loss


def pytorch_gpt_step(th: Torch, gpts: GPTPair, batch: np.ndarray) -> Any:
    """The same step in PyTorch."""
    tokens = th.torch.from_numpy(batch)
    gpts.twin_optimizer.zero_grad(set_to_none=True)
    logits = gpts.twin(tokens[:, :-1])
    loss = th.F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
    loss.backward()
    th.torch.nn.utils.clip_grad_norm_(gpts.twin.parameters(), gpts.config.grad_clip)
    gpts.twin_optimizer.step()
    return loss


def gpt_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    """One training step of the char-level TinyGPT of ``--shakespeare``."""
    config = sizes.gpt
    gpts = make_gpts(config, th)
    batch = rng.integers(0, config.vocab_size, (config.batch, config.context + 1))
    named = list(gpts.model.named_parameters())

    def run_tinytorch() -> Arrays:
        return training_step_arrays(tinytorch_gpt_step(gpts, batch), named)

    run_pytorch = None
    if th is not None:
        def run_pytorch() -> Arrays:
            loss = pytorch_gpt_step(th, gpts, batch)
            return {"loss": loss.detach().numpy(), **pytorch_grads(gpts.pairs)}

    return Case(f"TinyGPT training step ({config.layers} layers, dim {config.dim}, AdamW)",
                f"{dims(config.batch, config.context)}, vocab {config.vocab_size}",
                run_tinytorch, run_pytorch, 1e-3)


def generation_case(sizes: Sizes, th: Torch | None, rng: np.random.Generator) -> Case:
    """Greedy generation of ``new`` tokens after a prompt, with a KV cache on both sides."""
    config = sizes.gpt
    prompt_length, new = sizes.generation
    shape = f"{dims(1, prompt_length)} + {new} tokens"
    name = f"generate {new} tokens, KV cache ({config.layers} layers, dim {config.dim})"
    generate_cached = optional_attribute("tinytorch.systems.memoization", "generate_cached")
    if generate_cached is None:
        raise Skipped("tinytorch.systems.memoization.generate_cached does not exist yet (kata 17)")
    gpts = make_gpts(config, th, max_len=prompt_length + new)
    prompt = rng.integers(0, config.vocab_size, (1, prompt_length))

    def run_tinytorch() -> Arrays:
        return {"tokens": generate_cached(gpts.model, prompt, new, temperature=0.0).data}

    run_pytorch = None
    if th is not None:
        th_prompt = th.torch.from_numpy(prompt)

        def run_pytorch() -> Arrays:
            return {"tokens": gpts.twin.generate(th_prompt, new).numpy()}

    return Case(name, shape, run_tinytorch, run_pytorch, 0.0)


def optional_attribute(module: str, name: str) -> Any:
    """``module.name`` if that module exists and defines it, else None (a kata not yet added)."""
    if importlib.util.find_spec(module) is None:
        return None
    return getattr(importlib.import_module(module), name, None)


class Skipped(Exception):
    """A row that cannot run yet (its kata does not exist): the message says why."""


def build_cases(sizes: Sizes, th: Torch | None) -> dict[str, Callable[[], Case]]:
    """The rows, in order, by a short label (``--only`` picks them), each a builder that
    gets its own generator seeded with SEED."""
    def seeded(build: Callable[..., Case], *args: Any) -> Callable[[], Case]:
        return lambda: build(*args, np.random.default_rng(SEED))

    return {
        "matmul": seeded(matmul_case, sizes, th),
        "linear": seeded(linear_case, sizes, th),
        "conv-5x5": seeded(conv_case, sizes.conv_first, 0, False, th),
        "conv-3x3": seeded(conv_case, sizes.conv_hidden, sizes.conv_hidden[2] // 2, True, th),
        "maxpool": seeded(pool_case, sizes, th),
        "batchnorm": seeded(batchnorm_case, sizes, th),
        "softmax": seeded(softmax_case, sizes, th),
        "cross-entropy": seeded(cross_entropy_case, sizes, th),
        "attention": seeded(attention_case, sizes, th),
        "layernorm": seeded(layernorm_case, sizes, th),
        "cnn-step": lambda: cnn_case(sizes, th, np.random.default_rng(SEED)),
        "gpt-step": seeded(gpt_case, sizes, th),
        "generate": seeded(generation_case, sizes, th),
    }


def run_case(case: Case, rounds: int, smoke: bool) -> Row:
    """Check the values (the first call of each side), then time both sides."""
    row = Row(case.name, case.shape)
    ours = case.tinytorch()
    if case.pytorch is not None:
        row.check = compare(ours, case.pytorch(), case.tolerance)
    row.timing = time_interleaved(case.tinytorch, case.pytorch, rounds, smoke)
    return row


# -- the table ------------------------------------------------------------------------------------

def dims(*sizes: int) -> str:
    """``(8,3,32,32)``: a shape as the table shows it."""
    return "(" + ",".join(str(size) for size in sizes) + ")"


def milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:.3g}"


def table(rows: list[Row], with_pytorch: bool) -> str:
    headers = ["operation", "input", "TinyTorch ms"]
    if with_pytorch:
        headers += ["PyTorch ms", "ratio", "values"]
    lines = []
    for row in rows:
        timing = row.timing
        line = [row.name, row.shape, milliseconds(timing.tinytorch if timing else None)]
        if with_pytorch:
            ratio = timing.ratio if timing else None
            line += [milliseconds(timing.pytorch if timing else None),
                     "-" if ratio is None else f"{ratio:.2f}",
                     row.check.describe() if row.check else "-"]
        lines.append(line)
    return tabulate(lines, headers=headers, tablefmt="simple", disable_numparse=True)


def describe(row: Row) -> str:
    """One progress line: the times, the ratio and the values check."""
    assert row.timing is not None
    text = f"TinyTorch {milliseconds(row.timing.tinytorch)} ms"
    if row.timing.ratio is not None and row.check is not None:
        text += (f", PyTorch {milliseconds(row.timing.pytorch)} ms, ratio {row.timing.ratio:.2f}, "
                 f"values {row.check.describe()}")
    return text


def worst_row(rows: list[Row]) -> Row | None:
    timed = [row for row in rows if row.ratio is not None]
    return max(timed, key=lambda row: row.ratio or 0.0) if timed else None


# -- the modes -------------------------------------------------------------------------------------

def switch_on_acceleration(disabled: bool) -> str:
    """Call kata 18's ``enable_acceleration()`` if it exists; say what happened."""
    if disabled:
        return "off (--no-acceleration)"
    enable = optional_attribute("tinytorch.systems.acceleration", "enable_acceleration")
    if enable is None:
        return "not available (tinytorch.systems.acceleration.enable_acceleration does not exist yet)"
    try:
        enable()
    except NotImplementedError as error:
        return f"off: not written yet ({error})"
    return "on"


def run_table(options: argparse.Namespace, run: common.Run, th: Torch | None,
              acceleration: str) -> int:
    sizes = SMOKE if run.smoke else FULL
    rounds = options.rounds or (SMOKE_ROUNDS if run.smoke else ROUNDS)
    rows, not_written = [], []
    for label, build in build_cases(sizes, th).items():
        if options.only and not any(word.lower() in label for word in options.only):
            continue
        try:
            row = run_case(build(), rounds, run.smoke)
        except Skipped as reason:
            row = Row(label, "", note=f"skipped: {reason}")
        except NotImplementedError as error:
            row = Row(label, "", note=f"skipped: not written yet ({error})")
            not_written.append(str(error))
        rows.append(row)
        print(f"  {row.name}: {row.note or describe(row)}", flush=True)

    print("\n" + table(rows, th is not None))
    for row in rows:
        if row.note:
            print(f"Note: {row.name}: {row.note}")
    mismatches = [row for row in rows if row.check is not None and not row.check.ok]
    worst = worst_row(rows)
    payload = {
        "benchmark": run.name, "mode": "operations", "impl": run.impl, "smoke": run.smoke,
        "vs": options.vs, "acceleration": acceleration, "rounds": rounds,
        "rows": [row.as_json() for row in rows],
        "worst": {"operation": worst.name, "ratio": worst.ratio} if worst else None,
        "values_agree": not mismatches,
        "environment": environment(th), "command": [Path(sys.executable).name, *sys.argv],
    }
    common.write_json(run.out, payload)
    print(f"\nTinyTorch ({run.impl}, acceleration {acceleration}) on one thread; "
          f"{rounds} interleaved rounds per row; results written to {run.out}")
    if mismatches:
        print(f"\nFAILED: the values differ from PyTorch's in {len(mismatches)} row(s): "
              + "; ".join(f"{row.name}: {row.check.describe()}" for row in mismatches if row.check),
              file=sys.stderr)
    if worst is None:
        print("worst ratio: n/a (no PyTorch timings: --vs none)")
    else:
        print(f"worst ratio: {worst.ratio:.2f} ({worst.name})")
    if mismatches:
        return common.EXIT_CRITERION_NOT_MET
    if not_written:
        print(f"\n{len(not_written)} row(s) run code you have not written yet, first: "
              f"{not_written[0]}", file=sys.stderr)
        return common.EXIT_NOT_IMPLEMENTED
    return 0


def environment(th: Torch | None) -> dict[str, Any]:
    found = common.environment()
    if th is not None:
        found["torch"] = th.torch.__version__
        found["torch_threads"] = th.torch.get_num_threads()
    return found


# -- Tiny Shakespeare ------------------------------------------------------------------------------

def read_characters(path: Path) -> tuple[np.ndarray, list[str]]:
    """The text as character ids (int64) and the sorted characters (the vocabulary)."""
    text = path.read_text(encoding="utf-8")
    characters = sorted(set(text))
    index = {character: i for i, character in enumerate(characters)}
    return np.array([index[character] for character in text], dtype=np.int64), characters


def validation_windows(ids: np.ndarray, context: int) -> np.ndarray:
    """Every non-overlapping window of ``context + 1`` ids (inputs and their next ids)."""
    starts = np.arange(0, len(ids) - context, context)
    return ids[starts[:, np.newaxis] + np.arange(context + 1)]


def tinytorch_loss(gpts: GPTPair, windows: np.ndarray) -> float:
    """Mean next-character loss over ``windows``, in evaluation mode without a graph."""
    from tinytorch.core import no_grad
    from tinytorch.nn import language_model_loss

    gpts.model.eval()
    total = 0.0
    with no_grad():
        for start in range(0, len(windows), gpts.config.eval_batch):
            chunk = windows[start:start + gpts.config.eval_batch]
            total += language_model_loss(gpts.model(chunk[:, :-1]), chunk[:, 1:]).item() * len(chunk)
    gpts.model.train()
    return total / len(windows)


def pytorch_loss(th: Torch, gpts: GPTPair, windows: np.ndarray) -> float:
    gpts.twin.eval()
    total = 0.0
    with th.torch.no_grad():
        for start in range(0, len(windows), gpts.config.eval_batch):
            chunk = th.torch.from_numpy(windows[start:start + gpts.config.eval_batch])
            logits = gpts.twin(chunk[:, :-1])
            total += th.F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                        chunk[:, 1:].reshape(-1)).item() * len(chunk)
    gpts.twin.train()
    return total / len(windows)


def run_shakespeare(options: argparse.Namespace, run: common.Run, th: Torch | None,
                    acceleration: str) -> int:
    from tinytorch.training import WarmupCosineLR

    if not options.text.is_file():
        print(f"\nThe text is not at {options.text}: pass its path with --text "
              f"(Tiny Shakespeare, 1.1 MB).", file=sys.stderr)
        return EXIT_MISSING
    ids, characters = read_characters(options.text)
    recipe = SMOKE.gpt if run.smoke else FULL.gpt
    iterations = options.iterations or recipe.iterations
    recipe = replace(recipe, vocab_size=len(characters), iterations=iterations,
                     warmup=min(recipe.warmup, iterations // 2))
    split = int(len(ids) * (1 - recipe.validation_fraction))
    train, validation = ids[:split], validation_windows(ids[split:], recipe.context)
    if run.smoke:
        validation = validation[:2 * recipe.eval_batch]
    gpts = make_gpts(recipe, th)
    schedule = WarmupCosineLR(gpts.optimizer, warmup_steps=recipe.warmup,
                              total_steps=recipe.iterations, min_lr=recipe.min_lr)
    parameters = sum(parameter.size for parameter in gpts.model.parameters())
    print(f"Tiny Shakespeare: {len(ids):,} characters ({len(characters)} distinct), "
          f"{len(train):,} to train on, {len(validation):,} validation windows of {recipe.context}; "
          f"TinyGPT of {recipe.layers} layers, {recipe.heads} heads, dimension {recipe.dim}: "
          f"{parameters:,} parameters; {recipe.iterations:,} iterations of batches of {recipe.batch}",
          flush=True)

    rng = np.random.default_rng(SEED)
    sides = ["tinytorch"] + (["pytorch"] if th is not None else [])
    step_seconds = {side: 0.0 for side in sides}
    curves: dict[str, list[float]] = {side: [] for side in sides}
    every = max(1, recipe.iterations // 20)
    for iteration in range(recipe.iterations):
        starts = rng.integers(0, len(train) - recipe.context - 1, recipe.batch)
        batch = train[starts[:, np.newaxis] + np.arange(recipe.context + 1)]
        for side in (sides if iteration % 2 == 0 else sides[::-1]):
            began = time.perf_counter()
            if th is None or side == "tinytorch":
                loss = tinytorch_gpt_step(gpts, batch).item()
            else:
                for group in gpts.twin_optimizer.param_groups:
                    group["lr"] = schedule.lr_at(iteration)
                loss = pytorch_gpt_step(th, gpts, batch).item()
            step_seconds[side] += time.perf_counter() - began
            curves[side].append(loss)
        schedule.step()
        if (iteration + 1) % every == 0 or iteration + 1 == recipe.iterations:
            recent = slice(max(0, iteration + 1 - every), iteration + 1)
            print(f"iter {iteration + 1:>{len(str(recipe.iterations))}}/{recipe.iterations}  " +
                  "  ".join(f"{side} loss {np.mean(curves[side][recent]):.3f} "
                            f"({step_seconds[side]:.0f} s)" for side in sides), flush=True)

    print("Validation loss...", flush=True)
    results: dict[str, Any] = {}
    for side in sides:
        began = time.perf_counter()
        loss = (tinytorch_loss(gpts, validation) if th is None or side == "tinytorch"
                else pytorch_loss(th, gpts, validation))
        results[side] = {"validation_loss": loss, "train_seconds": step_seconds[side],
                         "evaluation_seconds": time.perf_counter() - began,
                         "first_loss": curves[side][0],
                         "final_train_loss": float(np.mean(curves[side][-every:])),
                         "loss_curve": curves[side][::max(1, every // 10)]}
    ratio = (step_seconds["tinytorch"] / step_seconds["pytorch"]) if th is not None else None
    ours = results["tinytorch"]
    goals = [("TinyTorch validation loss", ours["validation_loss"], GOAL_VALIDATION_LOSS, " nats")]
    if ratio is not None:
        goals.append(("TinyTorch time / PyTorch time", ratio, GOAL_TIME_RATIO, "x"))
    met = all(value <= limit for _, value, limit, _ in goals)

    rows = [[side, f"{result['validation_loss']:.4f}", f"{result['final_train_loss']:.4f}",
             f"{result['train_seconds']:.1f}"] for side, result in results.items()]
    print("\n" + tabulate(rows, headers=["", "validation loss", "train loss (last 5%)",
                                         "training s"], tablefmt="simple", disable_numparse=True))
    if ratio is not None:
        print(f"time ratio (TinyTorch / PyTorch): {ratio:.2f}; first-step losses "
              f"{ours['first_loss']:.4f} / {results['pytorch']['first_loss']:.4f}")
    print("\nGoal:")
    for name, value, limit, unit in goals:
        print(f"  [{'met' if value <= limit else 'NOT MET'}] {name}: {value:.3f}{unit} "
              f"(needs <= {limit:g}{unit})")
    payload = {
        "benchmark": run.name, "mode": "shakespeare", "impl": run.impl, "smoke": run.smoke,
        "vs": options.vs, "acceleration": acceleration, "text": str(options.text),
        "recipe": asdict(recipe), "parameters": parameters, "characters": len(ids),
        "validation_windows": len(validation), "results": results, "time_ratio": ratio,
        "goal": [{"name": name, "value": value, "at_most": limit, "met": value <= limit}
                 for name, value, limit, _ in goals],
        "goal_met": met, "environment": environment(th),
        "command": [Path(sys.executable).name, *sys.argv],
    }
    common.write_json(run.out, payload)
    print(f"Results written to {run.out}")
    if run.smoke:
        print("Smoke run: the goal is reported but not enforced.")
        return 0
    return 0 if met else common.EXIT_CRITERION_NOT_MET


# -- command line ----------------------------------------------------------------------------------

def bench_options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """This script's own options; the rest of ``argv`` is the common milestone command line
    (where ``--impl`` defaults to reference here: the benchmark measures the reference
    solution unless asked for yours)."""
    parser = common.options_parser(__file__)
    parser.add_argument("--vs", choices=("pytorch", "none"), default="pytorch",
                        help="compare with PyTorch (default; needs torch installed) or time "
                             "TinyTorch alone")
    parser.add_argument("--rounds", type=int, default=None, metavar="N",
                        help=f"interleaved rounds per row (default {ROUNDS}, smoke {SMOKE_ROUNDS})")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME",
                        help="only the rows whose label contains one of these words: matmul "
                             "linear conv-5x5 conv-3x3 maxpool batchnorm softmax cross-entropy "
                             "attention layernorm cnn-step gpt-step generate (e.g. --only conv step)")
    parser.add_argument("--no-acceleration", action="store_true",
                        help="do not call enable_acceleration() (kata 18)")
    parser.add_argument("--shakespeare", action="store_true",
                        help="train the char-level TinyGPT on Tiny Shakespeare instead of the table")
    parser.add_argument("--text", type=Path, default=DEFAULT_TEXT, metavar="PATH",
                        help=f"the Tiny Shakespeare text (default: {DEFAULT_TEXT})")
    parser.add_argument("--iterations", type=int, default=None, metavar="N",
                        help="training iterations of --shakespeare (default 2000, smoke 12)")
    return common.split_options(parser, argv)


def main() -> int:
    options, rest = bench_options(sys.argv[1:])
    run = common.start(__file__, __doc__, rest, default_impl="reference")
    if options.shakespeare and not any(argument.startswith("--out") for argument in rest):
        run.out = common.RESULTS_DIR / f"{run.name}_shakespeare.json"   # keep the table's file
    if run.plot is not None:
        print("Note: --plot is ignored, this benchmark draws no curves (the JSON has them).")
    try:
        th = load_torch() if options.vs == "pytorch" else None
    except MissingTorch as error:
        print(f"\n{error}", file=sys.stderr)
        return EXIT_MISSING
    from tinytorch.core import enable_autograd

    enable_autograd()
    acceleration = switch_on_acceleration(options.no_acceleration)
    versus = f"PyTorch {th.torch.__version__}" if th is not None else "nothing (--vs none)"
    print(f"TinyTorch ({run.impl}, acceleration: {acceleration}) against {versus}; one thread each",
          flush=True)
    if options.shakespeare:
        return run_shakespeare(options, run, th, acceleration)
    return run_table(options, run, th, acceleration)


if __name__ == "__main__":
    common.main(main)
