"""The PyTorch side of the benchmark: twins of TinyTorch's models, and their weights copied over.

Importing this module imports PyTorch (an optional extra of the benchmark, never of the
katas): ``bench_vs_pytorch.load_torch`` imports it only when ``--vs pytorch`` asks, and the
rows reach it through that module object (``th``), so nothing else needs PyTorch installed.

- :class:`GPT` (with :class:`Attention`, :class:`MLP`, :class:`Block` and :class:`KVCache`)
  has the structure and the parameter names of ``tinytorch.nn.GPT``: the same sub-modules
  in the same order (``token_embedding``, ``position_embedding``, ``blocks.i.ln1``,
  ``blocks.i.attn.q_proj`` ...), so that parameters pair up by name. Attention is
  PyTorch's fused ``scaled_dot_product_attention``, as a PyTorch user would write it, and
  the GELU is the tanh approximation, as in TinyTorch.
- :func:`mirror_cnn` copies a TinyTorch ``Sequential`` CNN layer by layer.
- :func:`parameter_pairs` pairs the parameters of two models by name and copies TinyTorch's
  values into PyTorch's (a ``Linear`` weight transposed: TinyTorch stores ``(in, out)``,
  PyTorch ``(out, in)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

Arrays = dict[str, np.ndarray]


def one_thread() -> None:
    """Pin PyTorch to one thread, as BLAS is pinned for NumPy: the comparison is per core."""
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)


class KVCache:
    """Preallocated keys and values of one layer, like kata 17's."""

    def __init__(self, batch: int, heads: int, max_len: int, head_dim: int) -> None:
        self.keys = torch.zeros(batch, heads, max_len, head_dim)
        self.values = torch.zeros(batch, heads, max_len, head_dim)
        self.length = 0

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        end = self.length + k.shape[2]
        self.keys[:, :, self.length:end] = k
        self.values[:, :, self.length:end] = v
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]


class Attention(nn.Module):
    """Causal multi-head attention with kata 12's four projections."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    """A pre-norm transformer block, as kata 13's."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_ratio * dim)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), cache)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Kata 13's GPT: learned positions, pre-norm blocks, a final norm and a bias-free head."""

    def __init__(self, vocab_size: int, max_len: int, dim: int, num_layers: int, num_heads: int,
                 mlp_ratio: int = 4) -> None:
        super().__init__()
        self.max_len, self.heads = max_len, num_heads
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position_embedding = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList(Block(dim, num_heads, mlp_ratio) for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size, bias=False)

    def forward(self, idx: torch.Tensor, caches: list[KVCache] | None = None) -> torch.Tensor:
        start = caches[0].length if caches else 0
        positions = torch.arange(start, start + idx.shape[1])
        x = self.token_embedding(idx) + self.position_embedding(positions)
        for index, block in enumerate(self.blocks):
            x = block(x, caches[index] if caches else None)
        return self.head(self.ln_f(x))

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        """Greedy decoding with a KV cache: prefill the prompt, then one token per step."""
        batch, dim = idx.shape[0], self.ln_f.normalized_shape[0]
        caches = [KVCache(batch, self.heads, self.max_len, dim // self.heads) for _ in self.blocks]
        tokens, context = [idx], idx
        for _ in range(max_new_tokens):
            context = self(context, caches)[:, -1].argmax(dim=-1, keepdim=True)
            tokens.append(context)
        return torch.cat(tokens, dim=1)


def mirror_cnn(model: Any) -> nn.Sequential:
    """PyTorch's copy of a TinyTorch Sequential of Conv2d, BatchNorm2d, ReLU, MaxPool2d,
    Flatten and Linear steps: the same layers at the same positions (so the parameter
    names match)."""
    from tinytorch.core import ReLU
    from tinytorch.nn import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d

    layers: list[nn.Module] = []
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


@dataclass(frozen=True)
class Pair:
    """A TinyTorch parameter and its PyTorch twin (``transposed``: a Linear weight)."""

    name: str
    tinytorch: Any
    pytorch: Any
    transposed: bool


def parameter_pairs(tinytorch_model: Any, pytorch_model: nn.Module) -> list[Pair]:
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
                              isinstance(module, nn.Linear) and name == "weight"))
        if isinstance(module, nn.BatchNorm2d):
            twin = dict(tinytorch_model.named_modules())[module_name]
            module.running_mean.copy_(torch.from_numpy(twin.running_mean.copy()))
            module.running_var.copy_(torch.from_numpy(twin.running_var.copy()))
    if ours:
        raise ValueError(f"TinyTorch parameters {sorted(ours)} have no PyTorch counterpart")
    with torch.no_grad():
        for pair in pairs:
            value = pair.tinytorch.data.T if pair.transposed else pair.tinytorch.data
            if tuple(pair.pytorch.shape) != value.shape:
                raise ValueError(f"{pair.name}: TinyTorch {value.shape}, PyTorch {tuple(pair.pytorch.shape)}")
            pair.pytorch.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return pairs


def oriented(pair: Pair, value: torch.Tensor) -> np.ndarray:
    """A PyTorch parameter-shaped tensor as TinyTorch lays it out (a Linear weight transposed)."""
    return (value.T if pair.transposed else value).detach().numpy()


def grads(pairs: list[Pair]) -> Arrays:
    """Every parameter's gradient, named as ``bench_cases.tinytorch_grads`` names them."""
    return {f"grad {pair.name}": oriented(pair, pair.pytorch.grad) for pair in pairs}


def parameters(pairs: list[Pair]) -> Arrays:
    """Every parameter's value, named as ``bench_cases.tinytorch_parameters`` names them."""
    return {f"param {pair.name}": oriented(pair, pair.pytorch) for pair in pairs}


def tensor(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    """A PyTorch tensor holding a copy of ``array``."""
    return torch.from_numpy(np.array(array, copy=True)).requires_grad_(requires_grad)
