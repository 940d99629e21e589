"""Kata 14: profiling, where a model's parameters, FLOPs, memory and time go.

Before making a model faster or smaller, measure where its costs are. A profiler answers
four questions, layer by layer:

1. **Parameters**: how many numbers the layer learns (its weights' ``size``).
2. **FLOPs**: how much arithmetic one forward pass does. Computed without running the
   model, by **shape propagation**: each layer's rule turns its input shape into its output
   shape and a FLOP count, and the output shape is the next layer's input shape. A model of
   containers (``Sequential``, ``MLP``, ``TransformerBlock``, ``GPT``) is walked child by
   child, in the order its ``forward`` calls them.
3. **Memory**: bytes of parameters, of their gradients, of the optimizer's state, and of
   the activations the autograd graph keeps for the backward pass, measured with
   ``tracemalloc`` (NumPy reports every array it allocates to it).
4. **Time**: the median latency of a forward pass after warm-up runs, and each layer's
   share of it, measured by wrapping every layer's ``forward`` with a timer. The wrappers
   cost time themselves: the profiler measures its own overhead (a forward with the timers
   against one without) instead of assuming it away. Time is never measured under
   tracemalloc, which slows every allocation down.

**Counting convention.** A FLOP is one floating-point operation on one number: a multiply,
an add, a comparison (``max``) or one elementary function (``exp``, ``tanh``). A
multiply-add counts 2. A matrix product ``(m, n) @ (n, p)`` is ``2 * m * n * p`` FLOPs:
``m * p`` dot products of ``n`` multiply-adds (strictly ``n - 1`` adds, but every FLOP
table you will meet rounds to ``2n``; ``MACs = FLOPs / 2``). Reshapes, transposes, copies,
lookups and masks cost 0. Only the forward pass is counted; a backward pass costs about
twice as much (two matrix products for every one of the forward). Per layer, for an input
of shape ``(..., in)`` with ``rows`` = the product of the leading axes:

===========================  ===========================================================
layer                        FLOPs of one forward
===========================  ===========================================================
Linear(in, out)              ``rows * 2 * in * out``, plus ``rows * out`` with a bias
Conv2d(C, O, k, s, p)        ``N * O * H_out * W_out * 2 * C * k * k``, plus
                             ``N * O * H_out * W_out`` with a bias
MaxPool2d(k)                 ``k * k - 1`` comparisons per output element
AvgPool2d(k)                 ``k * k`` per output element (``k*k - 1`` adds, 1 divide)
BatchNorm2d                  per element: 4 in evaluation (subtract the running mean,
                             times ``1/std``, times gamma, plus beta); 7 in training (the
                             batch statistics add 3: sum for the mean, square and sum of
                             the centered values)
LayerNorm                    7 per element (as BatchNorm2d in training)
activations                  per element, ``ELEMENTWISE_FLOPS``: ReLU 1, Tanh 1,
                             Sigmoid 4, GELU 9, Softmax 5, LogSoftmax 5
Dropout                      1 per element (``x * mask``) in training with ``p > 0``, else 0
Flatten, Embedding           0 (a reshape, a table lookup)
PositionalEmbedding (both)   1 per element (adding the positions)
MultiHeadAttention           see :func:`attention_rule`
TransformerBlock             its children, plus 2 per element for its residual additions
===========================  ===========================================================

The output-shape formulas are kata 09's (``H_out = (H + 2p - k) // s + 1``), reused.

**Amdahl's law.** If a part that takes a fraction ``f`` of the time becomes ``s`` times
faster, the whole becomes ``1 / ((1 - f) + f / s)`` times faster, and never more than
``1 / (1 - f)`` however large ``s``: a profile says which part is worth speeding up.

Why one long file: it is all of kata 14's code, and a kata's tests, its stub and its
reference are found from one another by name; its sections follow the kata's test files.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..core.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ..core.autograd import no_grad
from ..core.tensor import Tensor
from ..nn.attention import MultiHeadAttention
from ..nn.embeddings import Embedding, PositionalEmbedding, SinusoidalPositionalEncoding
from ..nn.layers import Dropout, Linear, Module, Sequential
from ..nn.spatial import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Flatten,
    MaxPool2d,
    conv2d_output_shape,
    pool_output_shape,
    require_images,
)
from ..nn.transformers import GPT, MLP, LayerNorm, TransformerBlock
from ..optim.optimizers import Optimizer

Shape = tuple[int, ...]
Rule = Callable[[Any, Shape], tuple[Shape, int]]
Timer = Callable[[], float]

# FLOPs per element of the element-wise layers, counted on the formula each one computes:
#   ReLU max(x, 0): 1 comparison.                 Tanh: 1 elementary function.
#   Sigmoid 1 / (1 + exp(-x)): negate, exp, add, divide = 4.
#   GELU 0.5 x (1 + tanh(c (x + 0.044715 x^3))): x^3 (2), times 0.044715, plus x, times c,
#       tanh, plus 1, times x, times 0.5 = 9.
#   Softmax: max, subtract, exp, sum, divide = 5.   LogSoftmax: max, subtract, exp, sum,
#       subtract the log of the sum = 5 (the log is one per row, not counted).
ELEMENTWISE_FLOPS: dict[type, int] = {ReLU: 1, Tanh: 1, Sigmoid: 4, GELU: 9, Softmax: 5, LogSoftmax: 5}
NORM_FLOPS_PER_ELEMENT = 7          # LayerNorm, and BatchNorm2d in training
NORM_EVAL_FLOPS_PER_ELEMENT = 4     # BatchNorm2d with its running statistics
RESIDUAL_ADDS = 2                   # a TransformerBlock adds two branches to its stream


# -- the records a profile is made of -------------------------------------------------------

@dataclass(frozen=True)
class LayerProfile:
    """One row of a profile: one layer, as shape propagation and the timers saw it.

    - ``name``: the dotted path of the layer in the model, as in ``named_parameters``
      (``"0"``, ``"blocks.1.attn"``, ``"blocks.1.mlp.activation"``);
    - ``kind``: the class name (``"Conv2d"``);
    - ``input_shape``, ``output_shape``: predicted by the layer's rule, not observed;
    - ``parameters``: the layer's parameters (all of its sub-modules' for a layer such as
      MultiHeadAttention), 0 for activations, pooling, reshapes;
    - ``flops``: FLOPs of one forward, by the conventions of the module docstring;
    - ``seconds``: median seconds the layer took per forward, filled in by :func:`profile`
      (None before, and for rows no timer can see, such as a block's residual additions);
    - ``layer``: the layer object itself, which the timers wrap (not shown, not compared).
    """

    name: str
    kind: str
    input_shape: Shape
    output_shape: Shape
    parameters: int
    flops: int
    seconds: float | None = None
    layer: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Profile:
    """A model's profile: its rows, and the latency of a forward with and without timers.

    ``latency`` is the median seconds of a plain forward pass (no timers: what the model
    really costs); ``profiled_latency`` the median of a forward with every layer timed.
    Their ratio is the price of looking: ``overhead``.
    """

    rows: tuple[LayerProfile, ...]
    latency: float
    profiled_latency: float
    warmup: int
    repeats: int

    @property
    def parameters(self) -> int:
        return sum(row.parameters for row in self.rows)

    @property
    def flops(self) -> int:
        return sum(row.flops for row in self.rows)

    @property
    def overhead(self) -> float:
        """How much slower a forward is with the timers, as a fraction (0.05 = 5 % slower)."""
        return self.profiled_latency / self.latency - 1.0

    @property
    def timed_seconds(self) -> float:
        """The seconds the layers' timers account for, per forward."""
        return sum(row.seconds for row in self.rows if row.seconds is not None)

    @property
    def untimed_seconds(self) -> float:
        """Seconds of a profiled forward spent outside every timed layer: the containers'
        own Python, residual additions, reshapes, and the timers' own bookkeeping."""
        return self.profiled_latency - self.timed_seconds

    def share(self, row: LayerProfile) -> float | None:
        """The row's fraction of a profiled forward's time (None for an untimed row)."""
        return None if row.seconds is None else row.seconds / self.profiled_latency

    def table(self) -> str:
        """The profile as a text table: one line per layer, then the time outside the
        layers, the totals, the latency and the profiler's overhead."""
        header = ("layer", "type", "output shape", "parameters", "FLOPs", "FLOPs %", "time %")
        total_flops = max(self.flops, 1)
        lines = []
        for row in self.rows:
            share = self.share(row)
            lines.append((row.name, row.kind, str(row.output_shape), f"{row.parameters:,}",
                          f"{row.flops:,}", f"{100 * row.flops / total_flops:.1f}",
                          "-" if share is None else f"{100 * share:.1f}"))
        lines.append(("(outside the layers)", "", "", "", "", "",
                      f"{100 * self.untimed_seconds / self.profiled_latency:.1f}"))
        lines.append(("total", "", "", f"{self.parameters:,}", f"{self.flops:,}", "100.0", "100.0"))
        widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]

        def render(cells: Sequence[str]) -> str:
            return "  ".join(cell.ljust(width) if i < 3 else cell.rjust(width)
                             for i, (cell, width) in enumerate(zip(cells, widths))).rstrip()

        rule = "-" * len(render(header))
        footer = (f"latency {1e3 * self.latency:.3f} ms per forward (median of {self.repeats}, "
                  f"after {self.warmup} warm-up runs); with the timers {1e3 * self.profiled_latency:.3f} "
                  f"ms, profiler overhead {100 * self.overhead:+.1f} %")
        return "\n".join([render(header), rule, *(render(line) for line in lines[:-1]), rule,
                          render(lines[-1]), footer])


@dataclass(frozen=True)
class MemoryProfile:
    """Bytes one training step needs, by category, all measured.

    - ``parameters``: the parameters' arrays (``nbytes``);
    - ``gradients``: the ``.grad`` arrays one backward pass leaves (``nbytes``);
    - ``optimizer_state``: what the optimizer's first step allocated and kept (tracemalloc):
      nothing for plain SGD, one array per parameter with momentum, two for Adam;
    - ``activations``: what the forward pass allocated and still holds when it returns
      (tracemalloc): the arrays the graph keeps for backward, the output included;
    - ``activation_peak``: the forward's tracemalloc peak, temporaries included.
    """

    parameters: int
    gradients: int
    optimizer_state: int
    activations: int
    activation_peak: int

    @property
    def total(self) -> int:
        """The four categories together: about what a training step needs at its busiest,
        when backward writes the gradients while the graph still holds the activations."""
        return self.parameters + self.gradients + self.optimizer_state + self.activations

    def table(self) -> str:
        entries = [("parameters", self.parameters), ("gradients", self.gradients),
                   ("optimizer state", self.optimizer_state), ("activations", self.activations),
                   ("total", self.total), ("forward peak", self.activation_peak)]
        return "\n".join(f"{name:<16}{count:>14,} bytes" for name, count in entries)


# -- rules: one layer's output shape and FLOPs from its input shape -------------------------

def numel(shape: Shape) -> int:
    """Number of elements of an array of ``shape`` (1 for ``()``), as a Python int."""
    return math.prod(shape)


def lookup(table: dict[type, Any], obj: Any) -> Any:
    """``table``'s entry for ``obj``'s class or its nearest base class, or None.

    Walking the method resolution order lets a subclass (``class MyReLU(ReLU)``) use the
    rule of the class it extends.
    """
    for cls in type(obj).__mro__:
        if cls in table:
            return table[cls]
    return None


def linear_rule(layer: Linear, shape: Shape) -> tuple[Shape, int]:
    """``(..., in)`` -> ``(..., out)``: ``rows * 2 * in * out`` FLOPs, plus ``rows * out``
    for the bias, where ``rows`` is the product of the leading axes (1 for a 1-D input).

    ``ValueError`` naming the layer and the shape unless the last axis is ``in_features``.
    """
    raise NotImplementedError("linear_rule: not implemented yet (kata 14 Profiling)")


def conv2d_rule(layer: Conv2d, shape: Shape) -> tuple[Shape, int]:
    """``(N, C, H, W)`` -> ``(N, O, H_out, W_out)`` with the layer's stride and padding.

    Each output element is a dot product of ``C * k * k`` weights with one window:
    ``2 * C * k * k`` FLOPs, plus 1 for the bias. Reuse kata 09's
    ``conv2d_output_shape``: it computes the shape and raises the errors.
    """
    raise NotImplementedError("conv2d_rule: not implemented yet (kata 14 Profiling)")


def max_pool2d_rule(layer: MaxPool2d, shape: Shape) -> tuple[Shape, int]:
    """``(N, C, H, W)`` -> ``(N, C, H_out, W_out)``: the maximum of ``k * k`` values takes
    ``k * k - 1`` comparisons per output element. Reuse kata 09's ``pool_output_shape``
    (with the layer's own stride)."""
    raise NotImplementedError("max_pool2d_rule: not implemented yet (kata 14 Profiling)")


def avg_pool2d_rule(layer: AvgPool2d, shape: Shape) -> tuple[Shape, int]:
    """As max pooling, with ``k * k`` FLOPs per output element (``k * k - 1`` adds and one
    divide)."""
    raise NotImplementedError("avg_pool2d_rule: not implemented yet (kata 14 Profiling)")


def batch_norm2d_rule(layer: BatchNorm2d, shape: Shape) -> tuple[Shape, int]:
    """Same shape out; ``NORM_FLOPS_PER_ELEMENT`` per element in training (the layer's
    ``training`` flag), ``NORM_EVAL_FLOPS_PER_ELEMENT`` in evaluation.

    ``ValueError`` if the input is not 4-D (kata 09's ``require_images``) or its channels
    (axis 1) are not ``num_features``: name both.
    """
    raise NotImplementedError("batch_norm2d_rule: not implemented yet (kata 14 Profiling)")


def layer_norm_rule(layer: LayerNorm, shape: Shape) -> tuple[Shape, int]:
    """Same shape out, ``NORM_FLOPS_PER_ELEMENT`` per element. ``ValueError`` naming the
    shape and ``dim`` unless the last axis is ``dim``."""
    raise NotImplementedError("layer_norm_rule: not implemented yet (kata 14 Profiling)")


def elementwise_rule(layer: Any, shape: Shape) -> tuple[Shape, int]:
    """An activation: same shape out, ``ELEMENTWISE_FLOPS`` of its class per element
    (``lookup`` finds the entry of a subclass's base)."""
    raise NotImplementedError("elementwise_rule: not implemented yet (kata 14 Profiling)")


def dropout_rule(layer: Dropout, shape: Shape) -> tuple[Shape, int]:
    """Same shape out; one multiply per element (``x * mask``) when it drops anything,
    that is in training with ``p > 0``; 0 otherwise (it returns its input as is)."""
    raise NotImplementedError("dropout_rule: not implemented yet (kata 14 Profiling)")


def flatten_rule(layer: Flatten, shape: Shape) -> tuple[Shape, int]:
    """``(N, ...)`` -> ``(N, product of the rest)``, 0 FLOPs. ``ValueError`` naming the
    shape if it has fewer than 2 axes."""
    raise NotImplementedError("flatten_rule: not implemented yet (kata 14 Profiling)")


def embedding_rule(layer: Embedding, shape: Shape) -> tuple[Shape, int]:
    """Token ids of any shape -> that shape plus ``(embedding_dim,)``; a lookup: 0 FLOPs."""
    raise NotImplementedError("embedding_rule: not implemented yet (kata 14 Profiling)")


def positional_rule(layer: PositionalEmbedding | SinusoidalPositionalEncoding,
                    shape: Shape) -> tuple[Shape, int]:
    """``(..., T, dim)`` -> the same shape, one add per element (the positions join ``x``).

    ``ValueError`` naming the shape unless it has at least 2 axes, its last is ``dim`` and
    ``T <= max_len`` (both positional layers have ``dim`` and ``max_len``).
    """
    raise NotImplementedError("positional_rule: not implemented yet (kata 14 Profiling)")


def attention_rule(layer: MultiHeadAttention, shape: Shape) -> tuple[Shape, int]:
    """``(B, T, C)`` -> ``(B, T, C)``, without a cache (the keys are the ``T`` tokens).

    With ``H`` heads, the FLOPs of one forward are the sum of:

    - the four projections ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``, each a
      ``Linear(C, C)`` on the ``B * T`` tokens: :func:`linear_rule` of each on the shape
      ``(B * T, C)``, that is ``4 * B * T * (2 * C * C + C)`` with their biases;
    - the scaling of the queries by ``1 / sqrt(d)``: ``B * T * C``;
    - the scores ``Q @ K^T``, ``(T, d) @ (d, T)`` per head: ``2 * B * T * T * C`` in all
      (``H * d = C``);
    - the softmax of the ``B * H * T * T`` scores, ``ELEMENTWISE_FLOPS[Softmax]`` each;
    - the weighted values ``weights @ V``: ``2 * B * T * T * C``.

    The mask is a selection, 0 FLOPs. Note the two terms in ``T * T``: at long contexts
    they overtake the projections, whose cost grows only as ``T``. ``ValueError`` naming
    the shape unless it is 3-D with a last axis of ``embed_dim``.
    """
    raise NotImplementedError("attention_rule: not implemented yet (kata 14 Profiling)")


@dataclass(frozen=True)
class Residual:
    """The arithmetic a TransformerBlock does outside its sub-modules: its two residual
    additions, and its dropout (applied to each branch before it is added).

    Not a layer of the model: :func:`container_steps` lists it after the block's children
    so that shape propagation counts those FLOPs. Nothing calls it, so no timer sees it:
    its time is part of a profile's ``untimed_seconds``.
    """

    block: TransformerBlock


def residual_rule(layer: Residual, shape: Shape) -> tuple[Shape, int]:
    """Same shape out: ``RESIDUAL_ADDS`` adds per element, plus the block's dropout
    (``layer.block.dropout``) once per branch, by :func:`dropout_rule`."""
    raise NotImplementedError("residual_rule: not implemented yet (kata 14 Profiling)")


RULES: dict[type, Rule] = {
    Linear: linear_rule, Conv2d: conv2d_rule, MaxPool2d: max_pool2d_rule,
    AvgPool2d: avg_pool2d_rule, BatchNorm2d: batch_norm2d_rule, LayerNorm: layer_norm_rule,
    Dropout: dropout_rule, Flatten: flatten_rule, Embedding: embedding_rule,
    PositionalEmbedding: positional_rule, SinusoidalPositionalEncoding: positional_rule,
    MultiHeadAttention: attention_rule, Residual: residual_rule,
    **{activation: elementwise_rule for activation in ELEMENTWISE_FLOPS},
}


# -- walking a model ------------------------------------------------------------------------

def container_steps(module: Any) -> list[tuple[str, Any]] | None:
    """The steps of a container, ``(name, step)`` in the order its ``forward`` runs them,
    each step's output feeding the next; None for anything that is not a container.

    - ``Sequential``: its steps, named ``"0"``, ``"1"``, ...
    - ``MLP``: ``fc``, ``activation``, ``proj`` (it flattens the tokens to ``(B*T, dim)``
      first and restores the shape at the end; FLOPs are the same either way);
    - ``TransformerBlock``: ``ln1``, ``attn``, ``ln2``, ``mlp``, then ``Residual(block)``
      named ``residual``. Every one keeps the shape ``(B, T, dim)``, which is why this
      order is enough to propagate shapes through the two branches;
    - ``GPT``: ``token_embedding``, ``position_embedding``, ``blocks`` (a Sequential),
      ``ln_f``, ``head``.
    """
    if isinstance(module, Sequential):
        return [(str(index), step) for index, step in enumerate(module.steps)]
    if isinstance(module, MLP):
        return [("fc", module.fc), ("activation", module.activation), ("proj", module.proj)]
    if isinstance(module, TransformerBlock):
        return [("ln1", module.ln1), ("attn", module.attn), ("ln2", module.ln2), ("mlp", module.mlp),
                ("residual", Residual(module))]
    if isinstance(module, GPT):
        return [("token_embedding", module.token_embedding),
                ("position_embedding", module.position_embedding), ("blocks", module.blocks),
                ("ln_f", module.ln_f), ("head", module.head)]
    return None


def count_parameters(layer: Any) -> int:
    """Parameters of ``layer`` and its sub-modules (``layer.parameters()``, each counted
    once), as a Python int; 0 for anything that is not a Module (an activation)."""
    raise NotImplementedError("count_parameters: not implemented yet (kata 14 Profiling)")


def propagate(model: Any, input_shape: Shape, prefix: str = "") -> list[LayerProfile]:
    """Shape propagation: the rows of ``model`` for an input of ``input_shape``, in order.

    - A container (``container_steps`` is not None): propagate each step in turn, named
      ``prefix.name`` (just ``name`` at the top), the output shape of one step's last row
      being the input shape of the next; return all their rows. (A step may be a container
      itself: ``GPT`` -> ``blocks`` -> ``blocks.0`` -> ``blocks.0.mlp`` -> ``blocks.0.mlp.fc``.)
    - A layer with a rule (``lookup(RULES, layer)``): one row, named ``prefix`` (the class
      name if ``prefix`` is empty, for a model that is a single layer), with the rule's
      output shape and FLOPs, ``count_parameters(layer)`` and the layer itself as ``layer``.
    - Anything else: ``TypeError`` naming its class and its ``prefix``: a profiler that
      skipped what it does not know would report a total that is silently wrong.

    The input shape is a tuple of Python ints (``tuple(int(n) for n in input_shape)``):
    NumPy integers must not leak into the rows.
    """
    raise NotImplementedError("propagate: not implemented yet (kata 14 Profiling)")


def input_shape_of(x: Any) -> Shape:
    """The shape of a model's input: a Tensor, an array or nested lists of token ids."""
    return tuple(int(n) for n in np.shape(x.data if isinstance(x, Tensor) else x))


# -- memory ---------------------------------------------------------------------------------

def traced(fn: Callable[[], Any]) -> tuple[Any, int, int]:
    """Run ``fn()`` under tracemalloc: return ``(result, peak, retained)`` in bytes.

    ``tracemalloc.start()``, call ``fn``, then ``tracemalloc.get_traced_memory()`` gives
    ``(current, peak)``: tracemalloc counts only blocks allocated after ``start()``, so
    ``peak`` is the most ``fn`` had allocated at any moment and ``current`` what it still
    holds when it returns (its result included). Arrays that existed before the call (the
    model, the input) are never counted. Stop tracing in a ``finally``, so that an error in
    ``fn`` does not leave every later allocation of the process traced (and slowed down).
    Raise ``RuntimeError`` (saying "tracemalloc") if tracemalloc is already tracing: the
    figures would then include whatever was traced before.
    """
    raise NotImplementedError("traced: not implemented yet (kata 14 Profiling)")


def memory_profile(model: Module, x: Any, loss_fn: Callable[[Any], Tensor],
                   optimizer: Optimizer) -> MemoryProfile:
    """Measure the memory of one training step of ``model`` on the batch ``x``.

    ``loss_fn`` turns the model's output into a scalar loss Tensor (it knows the targets).
    ``optimizer`` must be fresh, every ``optimizer.state`` entry empty (else a ``ValueError``
    saying it must be fresh): its state is measured as what its first step allocates.
    Autograd must be on, outside ``no_grad``. In order:

    1. ``parameters``: the sum of ``nbytes`` of ``model.parameters()``;
    2. ``optimizer.zero_grad()``, then the forward ``loss_fn(model(x))`` under
       :func:`traced`: ``activations`` is what it retains, ``activation_peak`` its peak;
    3. ``loss.backward()`` (not traced), then ``gradients``: the sum of ``nbytes`` of every
       parameter's ``.grad`` that is not None;
    4. ``optimizer.step()`` under :func:`traced`: ``optimizer_state`` is what it retains.

    Every figure is a Python int.
    """
    raise NotImplementedError("memory_profile: not implemented yet (kata 14 Profiling)")


# -- time -----------------------------------------------------------------------------------

def refuse_under_tracemalloc() -> None:
    """Raise ``RuntimeError`` (its message says "tracemalloc") if tracemalloc is tracing:
    a timing taken then would measure tracemalloc's bookkeeping, not the model."""
    raise NotImplementedError("refuse_under_tracemalloc: not implemented yet (kata 14 Profiling)")


class LayerTimer:
    """Times every call of the layers of a profile's rows while it is active.

    ``layers[i]`` is the layer of row ``i``. ``with timer:`` replaces the ``forward`` of
    each distinct layer by a wrapper (an instance attribute, which Python finds before the
    class's method) that reads the clock before and after the real ``forward`` and adds
    the difference to ``seconds[i]``; leaving the block restores every layer, even after
    an error. ``reset()`` zeroes ``seconds`` before each forward pass.

    A layer object that appears in several rows (one ``ReLU()`` used twice in a
    ``Sequential``) is called once per row per forward, in row order: its k-th call of a
    forward is charged to its k-th row. Rows whose layer cannot be called (a block's
    :class:`Residual`) stay at None.
    """

    def __init__(self, layers: Sequence[Any], timer: Timer = time.perf_counter) -> None:
        self.timer = timer
        self.timed = [callable(layer) for layer in layers]
        self.slots: dict[int, list[int]] = {}
        self.objects: dict[int, Any] = {}
        for index, layer in enumerate(layers):
            if self.timed[index]:
                self.slots.setdefault(id(layer), []).append(index)
                self.objects[id(layer)] = layer
        self.calls: dict[int, int] = {}
        self.saved: dict[int, tuple[bool, Any]] = {}
        self.seconds: list[float | None] = []
        self.reset()

    def reset(self) -> None:
        self.seconds = [0.0 if timed else None for timed in self.timed]
        self.calls = dict.fromkeys(self.slots, 0)

    def _wrap(self, key: int, forward: Callable[..., Any]) -> Callable[..., Any]:
        slots = self.slots[key]

        def timed_forward(*args: Any, **kwargs: Any) -> Any:
            start = self.timer()
            try:
                return forward(*args, **kwargs)
            finally:
                elapsed = self.timer() - start
                slot = slots[self.calls[key] % len(slots)]
                self.calls[key] += 1
                self.seconds[slot] = (self.seconds[slot] or 0.0) + elapsed

        return timed_forward

    def __enter__(self) -> None:
        for key, layer in self.objects.items():
            own = vars(layer)
            self.saved[key] = ("forward" in own, own.get("forward"))
            object.__setattr__(layer, "forward", self._wrap(key, layer.forward))

    def __exit__(self, *exc_info: object) -> None:
        for key, (had_own, previous) in self.saved.items():
            own = vars(self.objects[key])
            if had_own:
                own["forward"] = previous
            else:
                own.pop("forward", None)
        self.saved.clear()


def profile(model: Any, x: Any, warmup: int = 2, repeats: int = 10,
            timer: Timer = time.perf_counter) -> Profile:
    """Profile ``model`` on the input ``x``: every row's FLOPs and time, and the latency.

    Inference: everything runs under ``no_grad()`` (nothing records a graph). In order:

    1. ``ValueError`` naming the value unless ``warmup >= 0`` and ``repeats >= 1``;
       ``refuse_under_tracemalloc()``; then ``rows = propagate(model, input_shape_of(x))``
       and ``clock = LayerTimer([row.layer for row in rows], timer)``;
    2. ``warmup`` plain forwards ``model(x)``, untimed (caches, lazy allocations);
    3. ``repeats`` rounds, each: one plain forward timed as a whole (``timer()`` just
       before and just after), then ``clock.reset()`` and one forward inside ``with
       clock:``, also timed as a whole, after which ``clock.seconds`` holds each row's time
       in it. Alternating the two keeps a drift of the machine from favouring either.

    Result: the rows with ``seconds`` set to the median of their times over the rounds
    (None where the clock has None), ``latency`` the median of the plain forwards,
    ``profiled_latency`` the median of the timed ones (Python floats), ``warmup`` and
    ``repeats``. Medians, not means: one forward interrupted by the operating system
    must not move the result.
    """
    raise NotImplementedError("profile: not implemented yet (kata 14 Profiling)")


# -- Amdahl's law ---------------------------------------------------------------------------

def amdahl_speedup(fraction: float, factor: float) -> float:
    """The whole's speedup when a part taking ``fraction`` of the time gets ``factor``
    times faster: ``1 / ((1 - fraction) + fraction / factor)``.

    The untouched ``1 - fraction`` takes as long as before, the part ``fraction / factor``.
    ``factor = inf`` gives the limit ``1 / (1 - fraction)``: a part taking 90 % of the time
    can never make the whole more than 10 times faster. ``factor < 1`` is a slowdown, and
    gives a "speedup" below 1. ``ValueError`` naming the value unless ``0 <= fraction <= 1``
    and ``factor > 0``.
    """
    raise NotImplementedError("amdahl_speedup: not implemented yet (kata 14 Profiling)")

