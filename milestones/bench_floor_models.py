"""The NumPy floor of the whole-model rows: a CNN training step, a TinyGPT training step, generation.

Each model is read off TinyTorch's (its layers, sizes and initial weights, copied) and run
as straight-line NumPy with the layer functions of :mod:`bench_floors`: no Tensor, no
graph, the backward pass written out in reverse, every ReLU in place. Two more savings
that only a whole model allows:

- **One buffer for all the parameters** (and one for their gradients, and one per
  optimizer state): the optimizer's update is a dozen whole-array passes over every weight
  at once, instead of a dozen small NumPy calls per parameter, and the gradient norm for
  clipping is one dot product. (PyTorch's "fused" optimizers do the same.)
- **Fused query, key and value projections** (one product of width 3 * dim per block) and,
  in generation, the final norm and the head run on the last position only.

Each floor returns the arrays TinyTorch's row returns, under the same names: the loss and
every parameter's gradient, after an SGD step every parameter too (generation: the tokens).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import bench_floors as floors
import numpy as np

Arrays = dict[str, np.ndarray]


class Flat:
    """Named arrays laid out one after another in one buffer (``flat.buffer``): a pass over
    the buffer is a pass over all of them."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtype: Any = np.float32) -> None:
        self.shapes = shapes
        self.buffer = np.zeros(sum(math.prod(shape) for shape in shapes.values()), dtype=dtype)
        self.views: dict[str, np.ndarray] = {}
        offset = 0
        for name, shape in shapes.items():
            size = math.prod(shape)
            self.views[name] = self.buffer[offset:offset + size].reshape(shape)
            offset += size

    def __getitem__(self, name: str) -> np.ndarray:
        return self.views[name]

    def like(self) -> Flat:
        """Zeros of the same layout."""
        return Flat(self.shapes, self.buffer.dtype)


def parameter_buffers(named: dict[str, np.ndarray]) -> tuple[Flat, Flat]:
    """A flat copy of the values ``named`` and a flat gradient of the same layout."""
    params = Flat({name: value.shape for name, value in named.items()})
    for name, value in named.items():
        params[name][...] = value
    return params, params.like()


def sgd_nesterov(params: Flat, grads: Flat, velocity: Flat, lr: float, momentum: float,
                 weight_decay: float) -> None:
    """SGD with weight decay and Nesterov momentum (kata 06's formulation) over every
    parameter at once: ``d = g + wd p; v = m v + d; p -= lr (d + m v)``, eight passes."""
    step = params.buffer * weight_decay
    step += grads.buffer
    velocity.buffer *= momentum
    velocity.buffer += step
    step *= lr
    params.buffer -= step
    np.multiply(velocity.buffer, lr * momentum, out=step)
    params.buffer -= step


class AdamWState:
    """AdamW's moments over a flat parameter buffer, and its step count."""

    def __init__(self, params: Flat, lr: float, betas: tuple[float, float], eps: float,
                 weight_decay: float) -> None:
        self.m, self.v, self.scratch = params.like(), params.like(), params.like()
        self.lr, self.betas, self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.t = 0

    def step(self, params: Flat, grads: Flat) -> None:
        """``p *= 1 - lr wd``, then Adam with the bias corrections folded into two
        scalars: fourteen passes over every parameter at once."""
        (beta1, beta2), m, v, scratch = self.betas, self.m.buffer, self.v.buffer, self.scratch.buffer
        g = grads.buffer
        self.t += 1
        params.buffer *= 1 - self.lr * self.weight_decay
        m *= beta1
        np.multiply(g, 1 - beta1, out=scratch)
        m += scratch
        v *= beta2
        np.multiply(g, g, out=scratch)
        scratch *= 1 - beta2
        v += scratch
        np.sqrt(v, out=scratch)
        scratch *= 1 / math.sqrt(1 - beta2 ** self.t)
        scratch += self.eps
        np.divide(m, scratch, out=scratch)
        scratch *= self.lr / (1 - beta1 ** self.t)
        params.buffer -= scratch


def step_arrays(loss: Any, names: list[str], view: Callable[[Flat, str], np.ndarray], grads: Flat,
                params: Flat | None = None) -> Arrays:
    """The loss, then each TinyTorch parameter's gradient (and value, given ``params``), as
    ``bench_cases`` names them; ``view(flat, name)`` finds a parameter's array in a buffer."""
    arrays = {"loss": np.asarray(loss), **{f"grad {name}": view(grads, name) for name in names}}
    if params is not None:
        arrays.update({f"param {name}": view(params, name) for name in names})
    return arrays


# -- the CNN --------------------------------------------------------------------------------

class CNNFloor:
    """One SGD step of a TinyTorch ``Sequential`` of Conv2d (stride 1, no bias), BatchNorm2d,
    ReLU, MaxPool2d(2), Flatten and Linear layers, in NumPy.

    Each convolution takes TinyTorch's route (``winograd(layer)``, from :mod:`bench_cases`:
    whether TinyTorch runs that layer by Winograd's F(4x4, 3x3)), through
    ``bench_floors.conv_route``. The ReLU works in place on the batch norm's output; the
    ReLU's gradient is one product by its mask, or none when a max pooling follows: a
    window's winner is positive exactly when the pooled value is, so the mask goes on the
    pooled gradient (a quarter of the size).
    """

    def __init__(self, model: Any, lr: float, momentum: float, weight_decay: float,
                 winograd: Callable[[Any], bool]) -> None:
        from tinytorch.core import ReLU
        from tinytorch.nn import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d

        self.layers: list[tuple[str, str, Any]] = []   # kind, parameter prefix, the layer
        kinds = {Conv2d: "conv", BatchNorm2d: "bn", ReLU: "relu", MaxPool2d: "pool",
                 Flatten: "flatten", Linear: "linear"}
        for index, layer in enumerate(model):
            kind = kinds.get(type(layer))
            if kind is None or (kind == "conv" and (layer.stride != 1 or layer.bias is not None)) or (
                    kind == "pool" and (layer.kernel_size, layer.stride) != (2, 2)):
                raise TypeError(f"no CNN floor written for {layer!r}")
            self.layers.append((kind, f"{index}.", layer))
        named = {name: parameter.data for name, parameter in model.named_parameters()}
        self.names = list(named)
        self.params, self.grads = parameter_buffers(named)
        self.velocity = self.params.like()
        self.running = {prefix: (layer.running_mean.copy(), layer.running_var.copy())
                        for kind, prefix, layer in self.layers if kind == "bn"}
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        by_winograd = {prefix: winograd(layer) for kind, prefix, layer in self.layers if kind == "conv"}
        self.conv_routes = {prefix: floors.conv_route(chosen) for prefix, chosen in by_winograd.items()}
        self.winograd_convs = sum(by_winograd.values())

    def step(self, x: np.ndarray, targets: np.ndarray) -> Arrays:
        params, grads, saved = self.params, self.grads, []
        h = x
        for kind, prefix, layer in self.layers:
            if kind == "conv":
                h, kept = self.conv_routes[prefix][0](h, params[prefix + "weight"], None, layer.padding)
                saved.append(kept)
            elif kind == "bn":
                h, centred, inv_std, mean, var = floors.batch_norm_forward(
                    h, params[prefix + "weight"], params[prefix + "bias"], layer.eps)
                self.update_running(prefix, layer.momentum, mean, var, h.size // h.shape[1])
                saved.append((centred, inv_std))
            elif kind == "relu":
                np.maximum(h, 0, out=h)
                saved.append(h)
            elif kind == "pool":
                pooled = floors.max_pool_forward(h)
                saved.append((h, pooled))
                h = pooled
            elif kind == "flatten":
                saved.append(h.shape)
                h = h.reshape(len(h), -1)
            else:
                saved.append(h)
                h = floors.linear_forward(h, params[prefix + "weight"], params[prefix + "bias"])
        loss, exponentials, sums = floors.cross_entropy_forward(h, targets)

        g = floors.cross_entropy_backward(exponentials, sums, targets)
        masked = False     # the ReLU's mask already went on the pooled gradient
        for position in range(len(self.layers) - 1, -1, -1):
            kind, prefix, layer = self.layers[position]
            kept = saved[position]
            if kind == "linear":
                g = floors.linear_backward(g, kept, params[prefix + "weight"], grads[prefix + "weight"],
                                           grads[prefix + "bias"])
            elif kind == "flatten":
                g = g.reshape(kept)
            elif kind == "pool":
                source, pooled = kept
                masked = position > 0 and self.layers[position - 1][0] == "relu"
                if masked:
                    g = g * (pooled > 0)
                g = floors.max_pool_backward(g, source, pooled)
            elif kind == "relu":
                if not masked:
                    g = g * (kept > 0)
                masked = False
            elif kind == "bn":
                g = floors.batch_norm_backward(g, *kept, params[prefix + "weight"], grads[prefix + "weight"],
                                               grads[prefix + "bias"])
            else:
                g = self.conv_routes[prefix][1](g, kept, params[prefix + "weight"], layer.padding,
                                                grads[prefix + "weight"], None, input_grad=position > 0)
        sgd_nesterov(params, grads, self.velocity, self.lr, self.momentum, self.weight_decay)
        return step_arrays(loss, self.names, lambda flat, name: flat[name], grads, params)

    def update_running(self, prefix: str, momentum: float, mean: np.ndarray, var: np.ndarray,
                       count: int) -> None:
        """Kata 09's running statistics (the unbiased variance): four tiny in-place updates."""
        running_mean, running_var = self.running[prefix]
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += momentum * var * (count / (count - 1))


# -- TinyGPT --------------------------------------------------------------------------------

QKV = re.compile(r"(?P<block>.*)\.attn\.(?P<which>[qkv])_proj\.(?P<kind>weight|bias)")


class GPTFloor:
    """TinyGPT (kata 13) in NumPy: training steps with AdamW and clipping, and greedy
    generation with a KV cache. Tokens run as (B*T, dim) rows through every layer."""

    def __init__(self, model: Any) -> None:
        first = model.blocks[0]
        self.heads, self.eps, self.max_len = first.attn.num_heads, first.ln1.eps, model.max_len
        self.dim = model.ln_f.dim
        named = {name: parameter.data for name, parameter in model.named_parameters()}
        self.names = list(named)
        fused: dict[str, np.ndarray] = {}
        for name, value in named.items():
            match = QKV.fullmatch(name)
            if match is None:
                fused[name] = value
            elif match["which"] == "q":
                parts = [named[f"{match['block']}.attn.{which}_proj.{match['kind']}"] for which in "qkv"]
                fused[f"{match['block']}.attn.qkv.{match['kind']}"] = floors.fused_qkv(parts)
        self.params, self.grads = parameter_buffers(fused)
        self.blocks = [f"blocks.{index}." for index in range(len(model.blocks))]
        self.optimizer: AdamWState | None = None

    def view(self, flat: Flat, name: str) -> np.ndarray:
        """TinyTorch's parameter ``name`` in a flat buffer of the fused layout."""
        match = QKV.fullmatch(name)
        if match is None:
            return flat[name]
        index = "qkv".index(match["which"])
        fused = flat[f"{match['block']}.attn.qkv.{match['kind']}"]
        return fused[..., index * self.dim:(index + 1) * self.dim]

    def embed(self, ids: np.ndarray, start: int) -> np.ndarray:
        """Token rows plus position rows: (B*T, dim), a new array."""
        positions = self.params["position_embedding.weight"][start:start + ids.shape[1]]
        return (self.params["token_embedding.weight"][ids] + positions).reshape(-1, self.dim)

    def layer_norm(self, x: np.ndarray, prefix: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return floors.layer_norm_forward(x, self.params[prefix + "weight"], self.params[prefix + "bias"],
                                         self.eps)

    def linear(self, x: np.ndarray, prefix: str) -> np.ndarray:
        bias = prefix + "bias"
        return floors.linear_forward(x, self.params[prefix + "weight"],
                                     self.params[bias] if bias in self.params.views else None)

    def linear_back(self, grad: np.ndarray, x: np.ndarray, prefix: str) -> np.ndarray:
        bias = prefix + "bias"
        grad_x = floors.linear_backward(grad, x, self.params[prefix + "weight"], self.grads[prefix + "weight"],
                                        self.grads[bias] if bias in self.grads.views else None)
        assert grad_x is not None
        return grad_x

    def norm_back(self, grad: np.ndarray, kept: tuple[np.ndarray, np.ndarray], prefix: str) -> np.ndarray:
        return floors.layer_norm_backward(grad, *kept, self.params[prefix + "weight"],
                                          self.grads[prefix + "weight"], self.grads[prefix + "bias"])

    # -- training ----------------------------------------------------------------------------

    def train_step(self, batch: np.ndarray, config: Any) -> Arrays:
        """Next-token loss of ``batch`` (B, T + 1), backward, clipping to ``grad_clip``, one
        AdamW step (``config``: ``bench_cases.CharGPT``)."""
        if self.optimizer is None:
            self.optimizer = AdamWState(self.params, config.lr, config.betas, 1e-8, config.weight_decay)
        ids, targets = batch[:, :-1], batch[:, 1:].reshape(-1)
        size, length = ids.shape
        bias = floors.causal_bias(length, length, self.params.buffer.dtype)
        x, saved = self.embed(ids, 0), []
        for block in self.blocks:
            h, *norm1 = self.layer_norm(x, block + "ln1.")
            q, k, v = floors.split_heads(self.linear(h, block + "attn.qkv."), size, self.heads)
            attended, scaled, weights = floors.attention_forward(q, k, v, bias)
            merged = floors.merge_heads(attended)
            x += self.linear(merged, block + "attn.out_proj.")
            h2, *norm2 = self.layer_norm(x, block + "ln2.")
            hidden = self.linear(h2, block + "mlp.fc.")
            activated, squared, tanh = floors.gelu_forward(hidden)
            x += self.linear(activated, block + "mlp.proj.")
            saved.append((h, norm1, k, v, scaled, weights, merged, h2, norm2, hidden, activated, squared, tanh))
        final, *norm_f = self.layer_norm(x, "ln_f.")
        loss, exponentials, sums = floors.cross_entropy_forward(self.linear(final, "head."), targets)

        g = floors.cross_entropy_backward(exponentials, sums, targets)
        dx = self.norm_back(self.linear_back(g, final, "head."), norm_f, "ln_f.")
        for block, kept in zip(reversed(self.blocks), reversed(saved)):
            h, norm1, k, v, scaled, weights, merged, h2, norm2, hidden, activated, squared, tanh = kept
            grad_hidden = floors.gelu_backward(self.linear_back(dx, activated, block + "mlp.proj."),
                                               hidden, squared, tanh)
            dx += self.norm_back(self.linear_back(grad_hidden, h2, block + "mlp.fc."), norm2, block + "ln2.")
            grad_merged = self.linear_back(dx, merged, block + "attn.out_proj.")
            grad_heads = grad_merged.reshape(size, length, self.heads, -1).transpose(0, 2, 1, 3)
            grad_qkv = np.empty((len(dx), 3 * self.dim), dtype=dx.dtype)
            for target, part in zip(floors.split_heads(grad_qkv, size, self.heads),
                                    floors.attention_backward(grad_heads, scaled, k, v, weights)):
                target[...] = part
            dx += self.norm_back(self.linear_back(grad_qkv, h, block + "attn.qkv."), norm1, block + "ln1.")
        self.embedding_grads(ids, dx)
        norm = math.sqrt(float(self.grads.buffer @ self.grads.buffer))
        if norm > config.grad_clip:
            self.grads.buffer *= config.grad_clip / norm
        self.optimizer.step(self.params, self.grads)
        return step_arrays(loss, self.names, self.view, self.grads)

    def embedding_grads(self, ids: np.ndarray, grad: np.ndarray) -> None:
        """The token table's gradient as one product ``one_hot(ids)^T @ grad`` (NumPy's
        ``np.add.at`` scatters row by row, several times slower); the positions' as the sum
        over the batch."""
        vocab = self.params["token_embedding.weight"].shape[0]
        one_hot = (np.arange(vocab)[:, np.newaxis] == ids.reshape(-1)).astype(grad.dtype)
        np.matmul(one_hot, grad, out=self.grads["token_embedding.weight"])
        positions = self.grads["position_embedding.weight"]
        np.sum(grad.reshape(*ids.shape, self.dim), axis=0, out=positions[:ids.shape[1]])
        positions[ids.shape[1]:] = 0

    # -- generation --------------------------------------------------------------------------

    def generate(self, prompt: np.ndarray, new_tokens: int) -> np.ndarray:
        """Greedy decoding with a KV cache: prefill the prompt, then one token per step."""
        size, head_dim = len(prompt), self.dim // self.heads
        shape = (size, self.heads, self.max_len, head_dim)
        dtype = self.params.buffer.dtype
        caches = [(np.zeros(shape, dtype), np.zeros(shape, dtype)) for _ in self.blocks]
        chosen, context, start = [prompt], prompt, 0
        for _ in range(new_tokens):
            context = self.last_logits(context, start, caches).argmax(axis=-1)[:, np.newaxis]
            start += chosen[-1].shape[1]
            chosen.append(context)
        return np.concatenate(chosen, axis=1)

    def last_logits(self, ids: np.ndarray, start: int,
                    caches: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """The logits of the last position after ``ids`` (B, T) at positions ``start...``,
        the keys and values of every position written into ``caches``."""
        size, length = ids.shape
        end = start + length
        bias = floors.causal_bias(length, end, self.params.buffer.dtype) if length > 1 else None
        x = self.embed(ids, start)
        for block, (keys, values) in zip(self.blocks, caches):
            q, k, v = floors.split_heads(self.linear(self.layer_norm(x, block + "ln1.")[0], block + "attn.qkv."),
                                         size, self.heads)
            keys[:, :, start:end], values[:, :, start:end] = k, v
            attended = floors.attention_forward(q, keys[:, :, :end], values[:, :, :end], bias)[0]
            x += self.linear(floors.merge_heads(attended), block + "attn.out_proj.")
            hidden = self.linear(self.layer_norm(x, block + "ln2.")[0], block + "mlp.fc.")
            x += self.linear(floors.gelu_forward(hidden)[0], block + "mlp.proj.")
        last = x.reshape(size, length, self.dim)[:, -1]
        return self.linear(self.layer_norm(last, "ln_f.")[0], "head.")
