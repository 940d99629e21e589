"""The NumPy floor: every operation of the table as the fewest whole-array NumPy passes it needs.

TinyTorch is NumPy plus Python. How fast could it be at best? Each function here computes
one row's arrays (the same names and the same values as TinyTorch's) in straight-line
NumPy: no Tensor, no graph, no checks, every intermediate reused in place where NumPy
allows, reductions over a short last axis as matrix-vector products (BLAS reads a row of
128 or 256 numbers about ten times faster than ``sum(axis=-1)``), each backward pass
folded into the fewest element-wise passes. That time, measured in the same run on the
same inputs, is the floor: TinyTorch at 1.00 of it would cost nothing beyond the NumPy it
must run. The values are checked against TinyTorch's (``bench_values.check_floor``), so a
floor cannot win by skipping work.

The passes of each operation are counted in its docstring: an element-wise pass reads and
writes arrays of the operation's size, a reduction reads one or two. The layer functions
(``*_forward`` and ``*_backward``) are also the building blocks of the whole-model floors
(:mod:`bench_floor_models`); a backward function writes its parameter gradients into the
arrays it is given, so a model's gradients land where its optimizer reads them.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Arrays = dict[str, np.ndarray]

GELU_C = math.sqrt(2 / math.pi)
GELU_K = 0.044715


# -- reductions -----------------------------------------------------------------------------

def ones(size: int, dtype: np.dtype) -> np.ndarray:
    return np.ones(size, dtype=dtype)


def row_sums(a: np.ndarray) -> np.ndarray:
    """Sums over the last axis, kept as an axis of size 1: one matrix-vector product."""
    return (a @ ones(a.shape[-1], a.dtype))[..., np.newaxis]


def row_dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a * b).sum(-1, keepdims=True)`` without the product array: one einsum pass."""
    return np.einsum("...i,...i->...", a, b)[..., np.newaxis]


def column_sums(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Sums of a 2-D array over its rows, into ``out``: one vector-matrix product."""
    return np.matmul(ones(a.shape[0], a.dtype), a, out=out)


def channel(values: np.ndarray) -> np.ndarray:
    """A (C,) array as (C, 1, 1), to broadcast over images (N, C, H, W)."""
    return values[:, np.newaxis, np.newaxis]


# -- matrix products -----------------------------------------------------------------------

def matmul(a: np.ndarray, b: np.ndarray) -> Arrays:
    """One BLAS call."""
    return {"output": a @ b}


def linear_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """``x @ W``, then ``+= b`` in place: one product, one pass."""
    out = x @ weight
    if bias is not None:
        out += bias
    return out


def linear_backward(grad: np.ndarray, x: np.ndarray, weight: np.ndarray, grad_weight: np.ndarray,
                    grad_bias: np.ndarray | None, input_grad: bool = True) -> np.ndarray | None:
    """``dW = x^T g`` and ``dx = g W^T`` (two products, BLAS reads the transposes as they
    lie), ``db`` one vector-matrix product."""
    np.matmul(x.T, grad, out=grad_weight)
    if grad_bias is not None:
        column_sums(grad, grad_bias)
    return grad @ weight.T if input_grad else None


def linear(x: np.ndarray, upstream: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> Arrays:
    grads = {"grad weight": np.empty_like(weight), "grad bias": np.empty_like(bias)}
    out = linear_forward(x, weight, bias)
    grad_x = linear_backward(upstream, x, weight, grads["grad weight"], grads["grad bias"])
    return {"output": out, **grads, "grad input": grad_x}


# -- convolution: im2col and one product -------------------------------------------------------

def im2col(x: np.ndarray, kernel: int, padding: int) -> np.ndarray:
    """The windows of the padded ``x`` as (N, C*k*k, H_out*W_out): the padding copy (none
    without padding) and ONE copy of the window view, in the layout whose product with the
    weight is already NCHW (stride 1)."""
    if padding:
        batch, channels, height, width = x.shape
        padded = np.zeros((batch, channels, height + 2 * padding, width + 2 * padding), dtype=x.dtype)
        padded[:, :, padding:padding + height, padding:padding + width] = x
        x = padded
    windows = sliding_window_view(x, (kernel, kernel), axis=(2, 3))   # (N, C, H_out, W_out, k, k)
    batch, _, out_height, out_width = windows.shape[:4]
    return np.ascontiguousarray(windows.transpose(0, 1, 4, 5, 2, 3)).reshape(batch, -1,
                                                                              out_height * out_width)


def conv_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                 padding: int) -> tuple[np.ndarray, np.ndarray]:
    """A stride-1 convolution: im2col, one batched product ``W (O, C*k*k) @ cols``, the
    bias added in place. Returns the output and ``cols`` (the weight's gradient needs them)."""
    out_channels, kernel = weight.shape[0], weight.shape[-1]
    cols = im2col(x, kernel, padding)
    out = weight.reshape(out_channels, -1) @ cols
    if bias is not None:
        out += bias[:, np.newaxis]
    side = x.shape[-1] + 2 * padding - kernel + 1
    return out.reshape(x.shape[0], out_channels, -1, side), cols


def conv_backward(grad: np.ndarray, cols: np.ndarray, weight: np.ndarray, padding: int,
                  grad_weight: np.ndarray, grad_bias: np.ndarray | None,
                  input_grad: bool) -> np.ndarray | None:
    """``dW = sum_n g[n] @ cols[n]^T`` (one batched product, then a sum of N small
    arrays) and ``db`` (a matrix-vector product). The input's gradient by whichever route
    moves fewer numbers per pixel:

    - with ``O <= C`` channels, as a convolution of ``g`` with the flipped kernels (the
      transposed convolution): a padding copy, one copy of ``O * k * k`` window values and
      one product;
    - otherwise col2im: one product gives the ``C * k * k`` window gradients, and ``k * k``
      strided additions put them back into a zeroed padded image.
    """
    batch, out_channels, out_height, out_width = grad.shape
    rows = grad.reshape(batch, out_channels, -1)
    np.sum(rows @ cols.transpose(0, 2, 1), axis=0, out=grad_weight.reshape(out_channels, -1))
    if grad_bias is not None:
        np.sum((rows.reshape(batch * out_channels, -1) @ ones(rows.shape[-1], grad.dtype))
               .reshape(batch, out_channels), axis=0, out=grad_bias)
    if not input_grad:
        return None
    in_channels, kernel = weight.shape[1], weight.shape[-1]
    if out_channels <= in_channels:
        flipped = np.ascontiguousarray(np.swapaxes(weight[:, :, ::-1, ::-1], 0, 1))
        return conv_forward(grad, flipped, None, kernel - 1 - padding)[0]
    windows = (weight.reshape(out_channels, -1).T @ rows).reshape(
        batch, in_channels, kernel, kernel, out_height, out_width)
    height, width = out_height + kernel - 1, out_width + kernel - 1     # padded, stride 1
    padded = np.zeros((batch, in_channels, height, width), dtype=grad.dtype)
    for i in range(kernel):
        for j in range(kernel):
            padded[:, :, i:i + out_height, j:j + out_width] += windows[:, :, i, j]
    return padded[:, :, padding:height - padding, padding:width - padding]


def conv2d(x: np.ndarray, upstream: np.ndarray, weight: np.ndarray, bias: np.ndarray, padding: int,
           input_grad: bool) -> Arrays:
    grads = {"grad weight": np.empty_like(weight), "grad bias": np.empty_like(bias)}
    out, cols = conv_forward(x, weight, bias, padding)
    grad_x = conv_backward(upstream, cols, weight, padding, grads["grad weight"], grads["grad bias"],
                           input_grad)
    arrays = {"output": out, **grads}
    if grad_x is not None:
        arrays["grad input"] = grad_x
    return arrays


# -- max pooling 2x2 --------------------------------------------------------------------------

QUARTERS = [(Ellipsis, slice(i, None, 2), slice(j, None, 2)) for i in (0, 1) for j in (0, 1)]
"""The four strided quarters of 2x2 windows, in the row-major order of a window."""


def max_pool_forward(x: np.ndarray) -> np.ndarray:
    """Three ``np.maximum`` calls over the four quarters: the input read once. (Even heights
    and widths only: every size of the table.)"""
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"the max-pooling floor takes even heights and widths, got shape {x.shape}")
    first, *rest = QUARTERS
    out = np.maximum(x[first], x[rest[0]])
    for index in rest[1:]:
        np.maximum(out, x[index], out=out)
    return out


def max_pool_backward(grad: np.ndarray, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Each window's gradient to its first maximum (row-major), written once per element.

    Per quarter: which elements win (a comparison; for the last quarter no comparison is
    needed, the windows still unclaimed are its wins), their share of the gradient (a
    product into a contiguous buffer) and one strided copy into place. Every input element
    is written exactly once: no zero fill, no additions.
    """
    grad_x = np.empty_like(x)
    unclaimed = np.ones(out.shape, dtype=bool)
    wins = np.empty(out.shape, dtype=bool)
    share = np.empty_like(grad)
    *leading, last = QUARTERS
    for index in leading:
        np.equal(x[index], out, out=wins)
        wins &= unclaimed
        unclaimed ^= wins
        np.multiply(grad, wins, out=share)
        np.copyto(grad_x[index], share)
    np.multiply(grad, unclaimed, out=share)
    np.copyto(grad_x[last], share)
    return grad_x


def max_pool(x: np.ndarray, upstream: np.ndarray) -> Arrays:
    out = max_pool_forward(x)
    return {"output": out, "grad input": max_pool_backward(upstream, x, out)}


# -- normalizations ---------------------------------------------------------------------------

def batch_norm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                       eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training batch norm in five passes: the channel means (a reduction), the centred
    input (one new array, kept), the biased variance (a reduction of its square, no square
    array), and the output as ``centred * (gamma * inv_std)`` with ``+= beta`` in place.
    ``x_hat`` is never written: the backward pass uses the centred input and ``inv_std``.
    Returns the output, the centred input, ``inv_std``, the mean and the variance."""
    count = x.size // x.shape[1]
    mean = np.einsum("nchw->c", x) / count
    centred = x - channel(mean)
    var = np.einsum("nchw,nchw->c", centred, centred) / count
    inv_std = 1 / np.sqrt(var + eps)
    out = centred * channel(gamma * inv_std)
    out += channel(beta)
    return out, centred, inv_std, mean, var


def batch_norm_backward(grad: np.ndarray, centred: np.ndarray, inv_std: np.ndarray, gamma: np.ndarray,
                        grad_gamma: np.ndarray, grad_beta: np.ndarray) -> np.ndarray:
    """Two reductions (``d beta``, and ``d gamma`` from ``grad . centred``) and four passes:
    ``dx = gamma inv_std (grad - d beta / m - x_hat d gamma / m)`` with ``x_hat`` folded
    into a per-channel factor of the centred input."""
    count = grad.size // grad.shape[1]
    np.einsum("nchw->c", grad, out=grad_beta)
    grad_gamma[...] = np.einsum("nchw,nchw->c", grad, centred) * inv_std
    grad_x = centred * channel(grad_gamma * inv_std / count)
    grad_x += channel(grad_beta / count)
    np.subtract(grad, grad_x, out=grad_x)
    grad_x *= channel(gamma * inv_std)
    return grad_x


def batch_norm(x: np.ndarray, upstream: np.ndarray, weight: np.ndarray, bias: np.ndarray,
               eps: float) -> Arrays:
    grads = {"grad weight": np.empty_like(weight), "grad bias": np.empty_like(bias)}
    out, centred, inv_std, _, _ = batch_norm_forward(x, weight, bias, eps)
    grad_x = batch_norm_backward(upstream, centred, inv_std, weight, grads["grad weight"],
                                 grads["grad bias"])
    return {"output": out, **grads, "grad input": grad_x}


def layer_norm_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                       eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layer norm over the last axis: the row means (a matrix-vector product), the centred
    rows (one new array), the variance (an einsum, no square array), normalized in place,
    scaled into the output, shifted in place: four passes and two reductions. Returns the
    output, ``x_hat`` and ``inv_std``."""
    dim = x.shape[-1]
    normalized = x - row_sums(x) / dim
    inv_std = 1 / np.sqrt(row_dots(normalized, normalized) / dim + eps)
    normalized *= inv_std
    out = normalized * weight
    out += bias
    return out, normalized, inv_std


def layer_norm_backward(grad: np.ndarray, normalized: np.ndarray, inv_std: np.ndarray, weight: np.ndarray,
                        grad_weight: np.ndarray, grad_bias: np.ndarray) -> np.ndarray:
    """``dweight`` (an einsum down the rows) and ``dbias`` (a vector-matrix product), then
    ``dx = inv_std (g - mean(g) - x_hat mean(g x_hat))`` with ``g = grad * weight``: five
    passes, the two row means a matrix-vector product and an einsum."""
    dim = grad.shape[-1]
    rows, hats = grad.reshape(-1, dim), normalized.reshape(-1, dim)
    np.einsum("ij,ij->j", rows, hats, out=grad_weight)
    column_sums(rows, grad_bias)
    g = grad * weight
    grad_x = normalized * (row_dots(g, normalized) / dim)
    grad_x += row_sums(g) / dim
    np.subtract(g, grad_x, out=grad_x)
    grad_x *= inv_std
    return grad_x


def layer_norm(x: np.ndarray, upstream: np.ndarray, weight: np.ndarray, bias: np.ndarray,
               eps: float) -> Arrays:
    grads = {"grad weight": np.empty_like(weight), "grad bias": np.empty_like(bias)}
    out, normalized, inv_std = layer_norm_forward(x, weight, bias, eps)
    grad_x = layer_norm_backward(upstream, normalized, inv_std, weight, grads["grad weight"],
                                 grads["grad bias"])
    return {"output": out, **grads, "grad input": grad_x}


# -- softmax and cross-entropy ----------------------------------------------------------------

def softmax_forward(scores: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """The row maxima (a reduction), subtract (into ``out``: a new array, or the scores
    themselves), exp in place, the row sums (a matrix-vector product), and one multiply by
    their reciprocals: four passes."""
    probabilities = np.subtract(scores, scores.max(axis=-1, keepdims=True), out=out)
    np.exp(probabilities, out=probabilities)
    probabilities *= 1 / row_sums(probabilities)
    return probabilities


def softmax_backward(grad: np.ndarray, probabilities: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``s * (grad - sum(grad * s))``: the row dots (an einsum), subtract, multiply: two
    passes and a reduction (``out=grad`` works in place)."""
    grad_x = np.subtract(grad, row_dots(grad, probabilities), out=out)
    grad_x *= probabilities
    return grad_x


def softmax(x: np.ndarray, upstream: np.ndarray) -> Arrays:
    out = softmax_forward(x)
    return {"output": out, "grad input": softmax_backward(upstream, out)}


def cross_entropy_forward(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mean of ``log(sum exp(z)) - z[target]`` with ``z = logits - row max``: the maxima
    (a reduction), subtract (the one new array), exp in place, the sums (a matrix-vector
    product). Returns the loss, the exponentials and their sums."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    picked = shifted[np.arange(len(logits)), targets]
    np.exp(shifted, out=shifted)
    sums = shifted @ ones(shifted.shape[1], shifted.dtype)
    return (np.log(sums) - picked).mean(), shifted, sums


def cross_entropy_backward(exponentials: np.ndarray, sums: np.ndarray, targets: np.ndarray,
                           scale: float = 1.0) -> np.ndarray:
    """``scale * (softmax - one_hot) / N`` in one pass, in place over the exponentials."""
    count = len(exponentials)
    exponentials *= (scale / count / sums)[:, np.newaxis]
    exponentials[np.arange(count), targets] -= scale / count
    return exponentials


def cross_entropy(logits: np.ndarray, upstream: np.ndarray, targets: np.ndarray) -> Arrays:
    loss, exponentials, sums = cross_entropy_forward(logits, targets)
    return {"output": np.asarray(loss),
            "grad input": cross_entropy_backward(exponentials, sums, targets, float(upstream))}


# -- GELU --------------------------------------------------------------------------------------

def gelu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``0.5 x (1 + tanh(c x (1 + k x^2)))`` in eight passes. Returns the output, ``x^2``
    and the tanh (the backward pass reuses both)."""
    squared = x * x
    t = squared * (GELU_C * GELU_K)
    t += GELU_C
    t *= x
    np.tanh(t, out=t)
    half = x * 0.5
    out = half * t
    out += half
    return out, squared, t


def gelu_backward(grad: np.ndarray, x: np.ndarray, squared: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``grad * (0.5 (1 + t) + x (1 - t^2) (c/2 + 3ck/2 x^2))`` in ten passes."""
    slope = t * t
    np.subtract(1, slope, out=slope)
    d = squared * (1.5 * GELU_C * GELU_K)
    d += 0.5 * GELU_C
    d *= x
    d *= slope
    np.multiply(t, 0.5, out=slope)
    d += slope
    d += 0.5
    d *= grad
    return d


# -- attention --------------------------------------------------------------------------------

def causal_bias(queries: int, keys: int, dtype: np.dtype) -> np.ndarray:
    """0 where query ``i`` (the last ``queries`` of ``keys`` positions) may see key ``j``,
    ``-inf`` elsewhere: added to the scores, one pass does the masking."""
    allowed = np.tri(queries, keys, k=keys - queries, dtype=bool)
    return np.where(allowed, 0, -np.inf).astype(dtype)


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                      bias: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``softmax(q k^T / sqrt(d) + bias) v`` over (B, H, T, d) views: the scale on ``q``
    (the smaller array), one batched product, the mask added in place, the softmax in
    place, one batched product. Returns the heads, the scaled ``q`` and the weights."""
    scaled = q * (1 / math.sqrt(q.shape[-1]))
    scores = scaled @ np.swapaxes(k, -1, -2)
    if bias is not None:
        scores += bias
    weights = softmax_forward(scores, out=scores)
    return weights @ v, scaled, weights


def attention_backward(grad: np.ndarray, scaled: np.ndarray, k: np.ndarray, v: np.ndarray,
                       weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four batched products and the softmax's backward pass in place; the scale goes on
    ``dq`` (and is already in the saved ``q``), not on the (T, T) gradient."""
    grad_v = np.swapaxes(weights, -1, -2) @ grad
    grad_scores = grad @ np.swapaxes(v, -1, -2)
    softmax_backward(grad_scores, weights, out=grad_scores)
    grad_q = grad_scores @ k
    grad_q *= 1 / math.sqrt(k.shape[-1])
    grad_k = np.swapaxes(grad_scores, -1, -2) @ scaled
    return grad_q, grad_k, grad_v


def split_heads(qkv: np.ndarray, batch: int, heads: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B*T, 3*D) -> three (B, H, T, d) views: no copy."""
    q, k, v = qkv.reshape(batch, -1, 3, heads, qkv.shape[-1] // (3 * heads)).transpose(2, 0, 3, 1, 4)
    return q, k, v


def merge_heads(heads: np.ndarray) -> np.ndarray:
    """(B, H, T, d) -> (B*T, H*d): the one copy the output projection needs."""
    batch, count, length, dim = heads.shape
    return heads.transpose(0, 2, 1, 3).reshape(batch * length, count * dim)


def fused_qkv(weights: list[np.ndarray]) -> np.ndarray:
    """The query, key and value projections side by side: one product instead of three.
    (The floor's own layout of the same parameters, built once.)"""
    return np.concatenate(weights, axis=-1)


def attention_layer(x: np.ndarray, upstream: np.ndarray, heads: int, qkv_weight: np.ndarray,
                    qkv_bias: np.ndarray, out_weight: np.ndarray, out_bias: np.ndarray) -> Arrays:
    """Causal multi-head attention forward and backward, named as TinyTorch's
    ``MultiHeadAttention``: one fused projection, the attention, the merge copy and the
    output projection; back the same way."""
    batch, length, dim = x.shape
    tokens = x.reshape(batch * length, dim)
    qkv = linear_forward(tokens, qkv_weight, qkv_bias)
    q, k, v = split_heads(qkv, batch, heads)
    attended, scaled, weights = attention_forward(q, k, v, causal_bias(length, length, x.dtype))
    merged = merge_heads(attended)
    out = linear_forward(merged, out_weight, out_bias)

    grad_out_weight, grad_out_bias = np.empty_like(out_weight), np.empty_like(out_bias)
    grad_merged = linear_backward(upstream.reshape(batch * length, dim), merged, out_weight,
                                  grad_out_weight, grad_out_bias)
    assert grad_merged is not None
    grad_heads = grad_merged.reshape(batch, length, heads, -1).transpose(0, 2, 1, 3)
    grad_qkv = np.empty_like(qkv)
    for target, part in zip(split_heads(grad_qkv, batch, heads),
                            attention_backward(grad_heads, scaled, k, v, weights)):
        target[...] = part
    grad_qkv_weight, grad_qkv_bias = np.empty_like(qkv_weight), np.empty_like(qkv_bias)
    grad_x = linear_backward(grad_qkv, tokens, qkv_weight, grad_qkv_weight, grad_qkv_bias)
    assert grad_x is not None
    arrays = {"output": out.reshape(batch, length, dim), "grad input": grad_x.reshape(x.shape),
              "grad out_proj.weight": grad_out_weight, "grad out_proj.bias": grad_out_bias}
    for index, name in enumerate(("q_proj", "k_proj", "v_proj")):
        columns = slice(index * dim, (index + 1) * dim)
        arrays[f"grad {name}.weight"] = grad_qkv_weight[:, columns]
        arrays[f"grad {name}.bias"] = grad_qkv_bias[columns]
    return arrays
