"""The rows of the benchmark: each operation as calls of TinyTorch, PyTorch and the NumPy floor.

A :class:`Case` holds one operation three ways, on the same inputs and the same weights,
each a call that returns its arrays by name (``output``, ``grad input``, ``grad weight``
...): TinyTorch's layer, its PyTorch twin (``th``, the module
:mod:`bench_torch_models`; None with ``--vs none``) and the floor (:mod:`bench_floors`).
:func:`build_cases` lists the rows in order, at the sizes of :data:`FULL` or, for
``--smoke``, :data:`SMOKE`. TinyTorch is imported inside the builders: ``common.start``
chooses which one first.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import bench_floors as floors
import numpy as np
from bench_floor_models import CNNFloor, GPTFloor

SEED = 2024

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
              conv_hidden=((2, 16, 6, 6), 4, 3), pool=(2, 3, 6, 6), batchnorm=(2, 3, 5, 5),
              softmax=(2, 3, 5), cross_entropy=(8, 5), attention=(2, 2, 6, 4), layernorm=(2, 5, 8),
              cnn_batch=4, cnn_widths=(4, 16, 16),
              gpt=CharGPT(vocab_size=13, context=8, dim=16, layers=1, heads=2, batch=3,
                          iterations=12, warmup=2, eval_batch=4),
              generation=(3, 5))


# -- a row ---------------------------------------------------------------------------------

@dataclass
class Case:
    """One row: the sides as calls that return their arrays by name (None: not run)."""

    name: str
    shape: str
    tinytorch: Callable[[], Arrays]
    pytorch: Callable[[], Arrays] | None
    tolerance: float
    floor: Callable[[], Arrays] | None = None


class Skipped(Exception):
    """A row that cannot run yet (its kata does not exist): the message says why."""


def dims(*sizes: int) -> str:
    """``(8,3,32,32)``: a shape as the table shows it."""
    return "(" + ",".join(str(size) for size in sizes) + ")"


def optional_attribute(module: str, name: str) -> Any:
    """``module.name`` if that module exists and defines it, else None (a kata not yet added)."""
    if importlib.util.find_spec(module) is None:
        return None
    return getattr(importlib.import_module(module), name, None)


def runs_winograd(layer: Any, dtype: np.dtype) -> bool:
    """Whether TinyTorch runs the Conv2d ``layer`` on inputs of ``dtype`` by Winograd's
    F(4x4, 3x3): when acceleration has installed kata 18's ``conv2d_accelerated`` (not with
    ``--no-acceleration``) and its ``winograd_pays`` says so. The floor then runs Winograd's
    too (``bench_floors.conv_route``): a floor of another algorithm would time the algorithm,
    not what TinyTorch adds to it."""
    from tinytorch.nn import spatial

    accelerated = optional_attribute("tinytorch.systems.acceleration", "conv2d_accelerated")
    pays = optional_attribute("tinytorch.systems.acceleration", "winograd_pays")
    if accelerated is None or pays is None or spatial.conv2d is not accelerated:
        return False
    dtypes = [np.dtype(dtype)] + [parameter.dtype for _, parameter in layer.named_parameters()]
    return pays(layer.in_channels, layer.weight.shape[2:], layer.stride,
                all(kind.kind == "f" for kind in dtypes))


WINOGRAD_FLOOR = "floor: Winograd F(4x4,3x3)"


def tinytorch_grads(named: list[tuple[str, Any]]) -> Arrays:
    return {f"grad {name}": parameter.grad.data for name, parameter in named}


def fwd_bwd_case(name: str, shape: str, x: np.ndarray, tinytorch_layer: Callable[[Any], Any],
                 tinytorch_params: list[tuple[str, Any]], th: Any,
                 pytorch: tuple[Callable[[Any], Any], list[Any]] | None, rng: np.random.Generator,
                 floor: Callable[[np.ndarray, np.ndarray], Arrays], input_grad: bool = True,
                 tolerance: float = 1e-4) -> Case:
    """A layer's forward and backward: ``out = layer(x)``, then ``out.backward(upstream)``
    with a fixed random upstream gradient. Compared: the output, the input's gradient (if
    ``input_grad``) and every parameter's gradient. ``pytorch`` is the PyTorch layer and its
    parameter pairs (None with ``--vs none``); ``floor(x, upstream)`` the floor's arrays."""
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

    def run_floor() -> Arrays:
        return floor(x, upstream)

    if th is None or pytorch is None:
        return Case(name, shape, run_tinytorch, None, tolerance, run_floor)
    pytorch_layer, pairs = pytorch
    th_x, th_upstream = th.tensor(x, input_grad), th.tensor(upstream)

    def run_pytorch() -> Arrays:
        th_x.grad = None
        for pair in pairs:
            pair.pytorch.grad = None
        out = pytorch_layer(th_x)
        out.backward(th_upstream)
        arrays = {"output": out.detach().numpy(), **th.grads(pairs)}
        if input_grad:
            arrays["grad input"] = th_x.grad.numpy()
        return arrays

    return Case(name, shape, run_tinytorch, run_pytorch, tolerance, run_floor)


def twin_of(th: Any, layer: Any, build: Callable[[Any], Any]) -> tuple[Any, list[Any]] | None:
    """PyTorch's twin of ``layer`` (``build(th)``) with TinyTorch's weights copied in, and
    their parameter pairs; None without PyTorch."""
    if th is None:
        return None
    twin = build(th)
    return twin, th.parameter_pairs(layer, twin)


# -- the operations ------------------------------------------------------------------------

def matmul_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
    from tinytorch.core import Tensor

    n = sizes.matmul
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    tt_a, tt_b = Tensor(a), Tensor(b)
    run_pytorch = None
    if th is not None:
        th_a, th_b = th.tensor(a), th.tensor(b)

        def run_pytorch() -> Arrays:
            return {"output": (th_a @ th_b).numpy()}

    return Case(f"matmul {n}x{n} (forward)", dims(n, n) + " @ " + dims(n, n),
                lambda: {"output": (tt_a @ tt_b).data}, run_pytorch, 1e-5, lambda: floors.matmul(a, b))


def linear_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
    from tinytorch.nn import Linear

    batch, n_in, n_out = sizes.linear
    layer = Linear(n_in, n_out, rng=rng)
    pytorch = twin_of(th, layer, lambda th: th.nn.Linear(n_in, n_out))
    x = rng.standard_normal((batch, n_in)).astype(np.float32)
    floor = partial(floors.linear, weight=layer.weight.data, bias=layer.bias.data)
    return fwd_bwd_case(f"Linear {n_in}->{n_out} fwd+bwd", dims(batch, n_in), x, layer,
                        list(layer.named_parameters()), th, pytorch, rng, floor)


def conv_case(spec: tuple[tuple[int, int, int, int], int, int], padding: int, input_grad: bool,
              th: Any, rng: np.random.Generator) -> Case:
    from tinytorch.nn import Conv2d

    shape, out_channels, kernel = spec
    layer = Conv2d(shape[1], out_channels, kernel, padding=padding, rng=rng)
    pytorch = twin_of(th, layer, lambda th: th.nn.Conv2d(shape[1], out_channels, kernel, padding=padding))
    x = rng.standard_normal(shape).astype(np.float32)
    padded = f", pad {padding}" if padding else ""
    who = "" if input_grad else " (no input grad)"
    winograd = runs_winograd(layer, x.dtype)
    route = f" ({WINOGRAD_FLOOR})" if winograd else ""
    floor = partial(floors.conv2d, weight=layer.weight.data, bias=layer.bias.data, padding=padding,
                    input_grad=input_grad, winograd=winograd)
    return fwd_bwd_case(f"Conv2d {shape[1]}->{out_channels} {kernel}x{kernel}{padded} fwd+bwd{who}{route}",
                        dims(*shape), x, layer, list(layer.named_parameters()), th, pytorch, rng, floor,
                        input_grad=input_grad)


def pool_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
    from tinytorch.nn import MaxPool2d

    pytorch = (th.nn.MaxPool2d(2), []) if th is not None else None
    x = rng.standard_normal(sizes.pool).astype(np.float32)
    return fwd_bwd_case("MaxPool2d 2x2 fwd+bwd", dims(*sizes.pool), x, MaxPool2d(2), [], th, pytorch, rng,
                        floors.max_pool)


def batchnorm_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
    from tinytorch.nn import BatchNorm2d

    channels = sizes.batchnorm[1]
    return normalization_case(f"BatchNorm2d {channels} (training) fwd+bwd", sizes.batchnorm,
                              BatchNorm2d(channels), lambda th: th.nn.BatchNorm2d(channels),
                              floors.batch_norm, th, rng)


def normalization_case(name: str, shape: tuple[int, ...], layer: Any, build_twin: Callable[[Any], Any],
                       floor: Callable[..., Arrays], th: Any, rng: np.random.Generator) -> Case:
    """A normalization layer (``weight``, ``bias``, ``eps``) on a standard normal input."""
    x = rng.standard_normal(shape).astype(np.float32)
    return fwd_bwd_case(name, dims(*shape), x, layer, list(layer.named_parameters()), th,
                        twin_of(th, layer, build_twin), rng,
                        partial(floor, weight=layer.weight.data, bias=layer.bias.data, eps=layer.eps))


def softmax_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
    from tinytorch.core import Softmax

    pytorch = (lambda x: th.torch.softmax(x, dim=-1), []) if th is not None else None
    x = 3 * rng.standard_normal(sizes.softmax).astype(np.float32)
    return fwd_bwd_case("Softmax (last axis) fwd+bwd", dims(*sizes.softmax), x, Softmax(axis=-1), [],
                        th, pytorch, rng, floors.softmax)


def cross_entropy_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
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
                        lambda x: loss(x, tt_targets), [], th, pytorch, rng,
                        partial(floors.cross_entropy, targets=targets))


def attention_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
    from tinytorch.nn import MultiHeadAttention

    batch, heads, length, head_dim = sizes.attention
    dim = heads * head_dim
    layer = MultiHeadAttention(dim, heads, causal=True, rng=rng)
    pytorch = twin_of(th, layer, lambda th: th.Attention(dim, heads))
    x = rng.standard_normal((batch, length, dim)).astype(np.float32)
    projections = (layer.q_proj, layer.k_proj, layer.v_proj)
    floor = partial(floors.attention_layer, heads=heads,
                    qkv_weight=floors.fused_qkv([linear.weight.data for linear in projections]),
                    qkv_bias=floors.fused_qkv([linear.bias.data for linear in projections]),
                    out_weight=layer.out_proj.weight.data, out_bias=layer.out_proj.bias.data)
    return fwd_bwd_case(f"causal MultiHeadAttention {heads} heads fwd+bwd",
                        f"{dims(batch, length, dim)}, q {dims(*sizes.attention)}", x, layer,
                        list(layer.named_parameters()), th, pytorch, rng, floor)


def layernorm_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
    from tinytorch.nn import LayerNorm

    dim = sizes.layernorm[-1]
    return normalization_case(f"LayerNorm {dim} fwd+bwd", sizes.layernorm, LayerNorm(dim),
                              lambda th: th.nn.LayerNorm(dim), floors.layer_norm, th, rng)


# -- whole models --------------------------------------------------------------------------

def training_step_arrays(loss: Any, named: list[tuple[str, Any]]) -> Arrays:
    return {"loss": np.asarray(loss.data), **tinytorch_grads(named)}


def tinytorch_parameters(named: list[tuple[str, Any]]) -> Arrays:
    """Every parameter's value: after an SGD step, a step that skipped or botched the update
    would not pass for another's. (Not after an Adam step: its first step divides each
    gradient by its own size, so a gradient below ``eps``, rounding noise in any two
    implementations, moves its weight by an arbitrary fraction of the learning rate.)"""
    return {f"param {name}": parameter.data for name, parameter in named}


def cnn_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
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
    floor = CNNFloor(model, recipe.learning_rate, optimizer.momentum, recipe.weight_decay,
                     partial(runs_winograd, dtype=x.dtype))

    def run_tinytorch() -> Arrays:
        optimizer.zero_grad()
        loss = loss_fn(model(tt_x), tt_y)
        loss.backward()
        optimizer.step()
        return {**training_step_arrays(loss, named), **tinytorch_parameters(named)}

    run_pytorch = None
    if th is not None:
        twin = th.mirror_cnn(model)
        pairs = th.parameter_pairs(model, twin)
        th_optimizer = th.torch.optim.SGD(twin.parameters(), lr=recipe.learning_rate, momentum=0.9,
                                          nesterov=True, weight_decay=recipe.weight_decay)
        th_x, th_y = th.tensor(x), th.torch.from_numpy(y)

        def run_pytorch() -> Arrays:
            th_optimizer.zero_grad(set_to_none=True)
            loss = th.F.cross_entropy(twin(th_x), th_y)
            loss.backward()
            th_optimizer.step()
            return {"loss": loss.detach().numpy(), **th.grads(pairs), **th.parameters(pairs)}

    widths = "x".join(str(width) for width in recipe.cnn_widths)
    route = (f"; {WINOGRAD_FLOOR} in {floor.winograd_convs} of {len(floor.conv_routes)} convs"
             if floor.winograd_convs else "")
    return Case(f"CNN training step (milestone 4, widths {widths}, SGD{route})",
                dims(sizes.cnn_batch, 3, 32, 32), run_tinytorch, run_pytorch, 1e-3, lambda: floor.step(x, y))


@dataclass
class GPTPair:
    """A TinyGPT, its PyTorch twin (same weights) and an optimizer for each."""

    config: CharGPT
    max_len: int
    model: Any
    optimizer: Any
    twin: Any = None
    twin_optimizer: Any = None
    pairs: list[Any] = field(default_factory=list)


def make_gpts(config: CharGPT, th: Any, max_len: int | None = None) -> GPTPair:
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
        gpts.pairs = th.parameter_pairs(model, gpts.twin)
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


def pytorch_gpt_step(th: Any, gpts: GPTPair, batch: np.ndarray) -> Any:
    """The same step in PyTorch."""
    tokens = th.torch.from_numpy(batch)
    gpts.twin_optimizer.zero_grad(set_to_none=True)
    logits = gpts.twin(tokens[:, :-1])
    loss = th.F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
    loss.backward()
    th.torch.nn.utils.clip_grad_norm_(gpts.twin.parameters(), gpts.config.grad_clip)
    gpts.twin_optimizer.step()
    return loss


def gpt_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
    """One training step of the char-level TinyGPT of ``--shakespeare``."""
    config = sizes.gpt
    gpts = make_gpts(config, th)
    batch = rng.integers(0, config.vocab_size, (config.batch, config.context + 1))
    named = list(gpts.model.named_parameters())
    floor = GPTFloor(gpts.model)

    def run_tinytorch() -> Arrays:
        return training_step_arrays(tinytorch_gpt_step(gpts, batch), named)

    run_pytorch = None
    if th is not None:
        def run_pytorch() -> Arrays:
            loss = pytorch_gpt_step(th, gpts, batch)
            return {"loss": loss.detach().numpy(), **th.grads(gpts.pairs)}

    return Case(f"TinyGPT training step ({config.layers} layers, dim {config.dim}, AdamW)",
                f"{dims(config.batch, config.context)}, vocab {config.vocab_size}",
                run_tinytorch, run_pytorch, 1e-3, lambda: floor.train_step(batch, config))


def generation_case(sizes: Sizes, th: Any, rng: np.random.Generator) -> Case:
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
    floor = GPTFloor(gpts.model)

    def run_tinytorch() -> Arrays:
        return {"tokens": generate_cached(gpts.model, prompt, new, temperature=0.0).data}

    run_pytorch = None
    if th is not None:
        th_prompt = th.torch.from_numpy(prompt)

        def run_pytorch() -> Arrays:
            return {"tokens": gpts.twin.generate(th_prompt, new).numpy()}

    return Case(name, shape, run_tinytorch, run_pytorch, 0.0,
                lambda: {"tokens": floor.generate(prompt, new)})


def build_cases(sizes: Sizes, th: Any) -> dict[str, Callable[[], Case]]:
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
        "cnn-step": seeded(cnn_case, sizes, th),
        "gpt-step": seeded(gpt_case, sizes, th),
        "generate": seeded(generation_case, sizes, th),
    }
