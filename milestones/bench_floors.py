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

The floor of an operation is the fewest passes of the algorithm TinyTorch runs, not of
another one: a faster algorithm would time the algorithm, not what TinyTorch adds to it. So
a convolution's floor is im2col and one matrix product (``conv_forward``), except where
TinyTorch's acceleration (kata 18) takes Winograd's minimal filtering: a 3x3 stride-1
convolution of floats with at least 16 input channels (the rule is TinyTorch's
``winograd_pays``; :mod:`bench_cases` asks it, and passes the answer as ``winograd``).
There the floor is Winograd's F(4x4, 3x3) (``winograd_forward``), with the tile TinyTorch
uses and its forward pass's very rounding, which a network's ReLU masks depend on.

The passes of each operation are counted in its docstring: an element-wise pass reads and
writes arrays of the operation's size, a reduction reads one or two. The layer functions
(``*_forward`` and ``*_backward``) are also the building blocks of the whole-model floors
(:mod:`bench_floor_models`); a backward function writes its parameter gradients into the
arrays it is given, so a model's gradients land where its optimizer reads them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

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


# -- convolution: Winograd F(4x4, 3x3) ---------------------------------------------------------
#
# The convolution TinyTorch's acceleration runs for a 3x3 stride-1 layer with enough input
# channels (kata 18's tinytorch.systems.winograd, whose docstring derives it): each 4x4 tile
# of the output from the 6x6 tile of the input under it, Y = AT [sum over c of U . V] AT^T
# with U = G g G^T per filter pair and V = BT d BT^T per tile and channel, from the
# interpolation points 0, 1, -1, 2, -2 and infinity:
#
#     BT = [[4, 0, -5, 0, 1, 0], [0, 4, 4, -1, -1, 0], [0, -4, 4, 1, -1, 0],
#           [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
#     AT = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
#
# and WINOGRAD_G. The transforms are signed sums of whole arrays: a transform along one axis
# of a tile combines six arrays, "rows" (row i of every tile of a group of images at once),
# into six (or four) new ones. The arrays are tile-major, (rows, columns, N, tiles_high,
# tiles_wide, channels), so that each row is one contiguous block and each pass streams
# through memory (a strided view of an image, with runs of a few dozen numbers, took four
# times as long per number); only the input's gradient is added back into an image's rows.

WINOGRAD_TILE = 4          # outputs per tile side; an input tile has WINOGRAD_TILE + 2
WINOGRAD_G = np.array([[1 / 4, 0, 0], [1 / 6, 1 / 6, 1 / 6], [1 / 6, -1 / 6, 1 / 6],
                       [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])
WINOGRAD_GROUP_BYTES = 2**20
"""Transformed input tiles per group of images. Each group's arrays are a few times this size,
so a pass over them runs mostly in the processor's caches; here 1 MB measured faster than
512 KB (more NumPy calls) and than 2 MB, TinyTorch's ``GROUP_BYTES``."""


class WinogradSaved(NamedTuple):
    """What the backward pass needs: the transformed filters ``U`` (36, C, O) and, per group
    of images, its slice of the batch and its transformed tiles ``V`` (36, tiles, C)."""

    filters: np.ndarray
    groups: list[slice]
    tiles: list[np.ndarray]


class Workspace:
    """Flat buffers that every group of images reuses: ``workspace(name, *shape)`` is the
    first elements of buffer ``name`` as a contiguous array of ``shape`` (allocated by the
    first, largest, group). A group's arrays are then where the caches still hold the last
    group's, and a batch costs one allocation per array, not one per group."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = dtype
        self.buffers: dict[str, np.ndarray] = {}

    def __call__(self, name: str, *shape: int) -> np.ndarray:
        size = math.prod(shape)
        if name not in self.buffers or self.buffers[name].size < size:
            self.buffers[name] = np.empty(size, dtype=self.dtype)
        return self.buffers[name][:size].reshape(shape)


def filter_transform(g: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    """``out[i] = sum_j G[i, j] g[j]`` for the three rows ``g`` of every kernel, in
    TinyTorch's order of operations (on the small weight: its cost does not count)::

        u0 = g0 / 4                              u3 = (g0 / 24 + g1 / 12) + g2 / 6
        u1 = ((g0 + g1) + g2) / 6                u4 = (g0 / 24 + g1 / -12) + g2 / 6
        u2 = ((g0 + g2) - g1) / 6                u5 = g2

    (each ``/ k`` a multiplication by the float ``1 / k``).
    """
    g0, g1, g2 = g
    u0, u1, u2, u3, u4, u5 = out
    np.multiply(g0, 1 / 4, out=u0)
    np.add(g0, g1, out=u1)
    u1 += g2
    u1 *= 1 / 6
    np.add(g0, g2, out=u2)
    u2 -= g1
    u2 *= 1 / 6
    np.multiply(g2, 1 / 6, out=scratch)
    for row, middle in ((u3, 1 / 12), (u4, -1 / 12)):
        np.multiply(g0, 1 / 24, out=row)
        np.multiply(g1, middle, out=u5)
        row += u5
        row += scratch
    np.copyto(u5, g2)


def input_transform(d: list[np.ndarray], out: np.ndarray, scratch: np.ndarray) -> None:
    """``out[i] = sum_j BT[i, j] d[j]`` for the six rows ``d``, in TinyTorch's order of
    operations: 22 passes of one row's size (rows 3 and 4 share ``2 (d3 - d1)``)::

        r0 = (4 d0 + -5 d2) + d4           r3 = (2 (d3 - d1) + d4) - d2
        r1 = (4 (d1 + d2) - d3) - d4       r4 = (d4 - 2 (d3 - d1)) - d2
        r2 = (4 (d2 - d1) + d3) - d4       r5 = (4 d1 + -5 d3) + d5
    """
    d0, d1, d2, d3, d4, d5 = d
    r0, r1, r2, r3, r4, r5 = out
    np.multiply(d0, 4, out=r0)
    np.multiply(d2, -5, out=scratch)
    r0 += scratch
    r0 += d4
    np.add(d1, d2, out=r1)
    r1 *= 4
    r1 -= d3
    r1 -= d4
    np.subtract(d2, d1, out=r2)
    r2 *= 4
    r2 += d3
    r2 -= d4
    np.subtract(d3, d1, out=scratch)
    scratch *= 2
    np.add(scratch, d4, out=r3)
    r3 -= d2
    np.subtract(d4, scratch, out=r4)
    r4 -= d2
    np.multiply(d1, 4, out=r5)
    np.multiply(d3, -5, out=scratch)
    r5 += scratch
    r5 += d5


def output_transform(m: list[np.ndarray], out: list[np.ndarray], scratch: np.ndarray) -> None:
    """``out[i] = sum_j AT[i, j] m[j]``, in TinyTorch's order of operations: 16 passes of one
    row's size (rows 1 and 3 share ``m3 - m4``)::

        y0 = (((m0 + m1) + m2) + m3) + m4      y2 = (4 (m3 + m4) + m1) + m2
        y1 = (2 (m3 - m4) + m1) - m2           y3 = ((8 (m3 - m4) + m1) + m5) - m2
    """
    m0, m1, m2, m3, m4, m5 = m
    y0, y1, y2, y3 = out
    np.add(m0, m1, out=y0)
    y0 += m2
    y0 += m3
    y0 += m4
    np.add(m3, m4, out=y2)
    y2 *= 4
    y2 += m1
    y2 += m2
    np.subtract(m3, m4, out=scratch)
    np.multiply(scratch, 2, out=y1)
    y1 += m1
    y1 -= m2
    np.multiply(scratch, 8, out=y3)
    y3 += m1
    y3 += m5
    y3 -= m2


def output_transform_back(y: list[np.ndarray], out: np.ndarray, scratch: np.ndarray) -> None:
    """The transpose of :func:`output_transform`, ``out[j] = sum_i AT[i, j] y[i]``: 13 passes
    of one output row's size (two of them the copies ``z0 = y0`` and ``z5 = y3``)::

        z1 = (y0 + y2) + (y1 + y3)           z3 = (y0 + 4 y2) + 2 (y1 + 4 y3)
        z2 = (y0 + y2) - (y1 + y3)           z4 = (y0 + 4 y2) - 2 (y1 + 4 y3)
    """
    y0, y1, y2, y3 = y
    z0, z1, z2, z3, z4, z5 = out
    np.copyto(z0, y0)
    np.copyto(z5, y3)
    np.add(y0, y2, out=z1)
    np.add(y1, y3, out=scratch)
    np.subtract(z1, scratch, out=z2)
    z1 += scratch
    np.multiply(y2, 4, out=z3)
    z3 += y0
    np.multiply(y3, 4, out=scratch)
    scratch += y1
    scratch *= 2
    np.subtract(z3, scratch, out=z4)
    z3 += scratch


def phase(array: np.ndarray, start: int, count: int, axis: int) -> np.ndarray:
    """Row ``start`` of ``count`` consecutive tiles along ``axis`` of an image (tiles start
    every WINOGRAD_TILE rows): one strided view."""
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, start + WINOGRAD_TILE * (count - 1) + 1, WINOGRAD_TILE)
    return array[tuple(index)]


def input_transform_back(v: np.ndarray, target: np.ndarray, axis: int, count: int,
                         scratch: np.ndarray, scratch2: np.ndarray) -> None:
    """The transpose of :func:`input_transform`, added back where each tile came from: row
    ``j`` of tile ``t`` is row ``4 t + j`` along ``axis`` of ``target`` and receives ``sum_i
    BT[i, j] v[i]``; the rows two tiles share (``4 t + 4`` and ``4 t + 5`` are tile ``t +
    1``'s rows 0 and 1) receive both parts. Each element of ``target`` is written once and
    added to at most once (nothing zeroed but its first and last row): 19 passes of one
    row's size::

        r0 = 4 v0                                  r4 = w + (v3 + v4), w = v0 - (v1 + v2)
        r2 = -4 w - (v0 + v3 + v4)                 r5 = v5
        r1 = 4 u - 2 (v3 - v4), u = (v1 - v2) + v5
        r3 = 2 (v3 - v4) - u - 4 v5
    """
    v0, v1, v2, v3, v4, v5 = v
    joined, second = phase(target, 0, count + 1, axis), phase(target, 1, count + 1, axis)

    def along(index: int | slice) -> tuple[int | slice, ...]:
        return tuple(index if dim == axis else slice(None) for dim in range(target.ndim))

    this, previous = along(slice(None, -1)), along(slice(1, None))
    np.add(v1, v2, out=scratch)
    np.subtract(v0, scratch, out=scratch)
    np.add(v3, v4, out=scratch2)
    np.add(scratch, scratch2, out=joined[previous])          # r4 of the tile before
    scratch2 += v0
    scratch *= -4
    np.subtract(scratch, scratch2, out=phase(target, 2, count, axis))
    joined[along(0)] = 0
    np.multiply(v0, 4, out=scratch)
    joined[this] += scratch
    np.subtract(v1, v2, out=scratch)
    scratch += v5
    np.subtract(v3, v4, out=scratch2)
    scratch2 *= 2
    third = phase(target, 3, count, axis)
    np.subtract(scratch2, scratch, out=third)
    scratch *= 4
    np.subtract(scratch, scratch2, out=second[this])
    np.multiply(v5, 4, out=scratch2)
    third -= scratch2
    second[along(count)] = 0
    second[previous] += v5                                   # r5 of the tile before


def winograd_tiles(size: int) -> int:
    """Tiles along a side of ``size`` outputs."""
    return -(-size // WINOGRAD_TILE)


def winograd_groups(x_shape: tuple[int, ...], padding: int, itemsize: int) -> list[slice]:
    """The batch in as few equal groups as keep each one's tiles within WINOGRAD_GROUP_BYTES
    (at least one image each)."""
    batch, channels, height, width = x_shape
    tiles = winograd_tiles(height + 2 * padding - 2) * winograd_tiles(width + 2 * padding - 2)
    count = -(-batch * 36 * tiles * channels * itemsize // WINOGRAD_GROUP_BYTES)
    step = -(-batch // count)
    return [slice(start, start + step) for start in range(0, batch, step)]


def input_tiles(x: np.ndarray, padding: int, high: int, wide: int, work: Workspace) -> np.ndarray:
    """The 6x6 input tile under every 4x4 output tile, (6, 6, N, high, wide, C): ``x``
    channels-last in zeros (one transposing copy, only the border zeroed), then its
    windows (one copy). The zeros below and right of the image feed the tiles that hang
    over its edge."""
    batch, channels, height, width = x.shape
    padded = work("padded", batch, 4 * high + 2, 4 * wide + 2, channels)
    padded[:, :padding] = 0
    padded[:, padding + height:] = 0
    padded[:, padding:padding + height, :padding] = 0
    padded[:, padding:padding + height, padding + width:] = 0
    padded[:, padding:padding + height, padding:padding + width] = x.transpose(0, 2, 3, 1)
    windows = sliding_window_view(padded, (6, 6), axis=(1, 2))[:, ::4, ::4]
    tiles = work("windows", 6, 6, batch, high, wide, channels)
    np.copyto(tiles, windows.transpose(4, 5, 0, 1, 2, 3))
    return tiles


def tiles_to_image(tiled: np.ndarray, image: np.ndarray, work: Workspace) -> None:
    """4x4 output tiles (4, 4, N, high, wide, C) into ``image`` (N, C, H, W), each in its
    place: one transposing copy (and a cropping one when the tiles hang over the edge)."""
    batch, channels, height, width = image.shape
    high, wide = tiled.shape[3:5]
    whole = image if (4 * high, 4 * wide) == (height, width) else work(
        "whole", batch, channels, 4 * high, 4 * wide)
    np.copyto(whole.reshape(batch, channels, high, 4, wide, 4).transpose(3, 5, 0, 2, 4, 1), tiled)
    if whole is not image:
        np.copyto(image, whole[:, :, :height, :width])


def image_to_tiles(image: np.ndarray, tiled: np.ndarray, work: Workspace) -> None:
    """The transpose of :func:`tiles_to_image`: ``image`` cut into ``tiled``'s 4x4 tiles,
    zeros where they hang over the edge."""
    batch, channels, height, width = image.shape
    high, wide = tiled.shape[3:5]
    if (4 * high, 4 * wide) != (height, width):
        whole = work("whole", batch, channels, 4 * high, 4 * wide)
        whole[:, :, height:] = 0
        whole[:, :, :height, width:] = 0
        whole[:, :, :height, :width] = image
        image = whole
    np.copyto(tiled, image.reshape(batch, channels, high, 4, wide, 4).transpose(3, 5, 0, 2, 4, 1))


def winograd_forward(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None,
                     padding: int) -> tuple[np.ndarray, WinogradSaved]:
    """A 3x3 stride-1 convolution by Winograd's F(4x4, 3x3), as TinyTorch's
    ``conv2d_winograd`` computes it, and to the last bit: the same operations in the same
    order, so the same rounding. (In a network, the forward's values decide every ReLU's
    mask and every pooling window's winner; a value within rounding of a tie, computed in
    another order, may fall on the other side and send a whole gradient elsewhere: more
    than the value check allows. The backward decides nothing and has its own order.)

    The filters ``U = G g G^T`` once, (36, C, O). Then per group of images
    (:func:`winograd_groups`; ``V`` is the group's tiles, 36 * tiles * C numbers, and
    ``M`` its products, 36 * tiles * O):

    - :func:`input_tiles`: two copies, the second of ``V``'s size;
    - ``BT d BT^T``: :func:`input_transform` along the tiles' columns, then their rows,
      each 22 passes of ``V / 6``;
    - the sums over the input channels at the 36 positions: ONE batched product
      (36, tiles, C) @ (36, C, O), ``M``;
    - ``AT M AT^T``: :func:`output_transform` along the columns (16 passes of ``M / 6``),
      then the rows (16 of ``M / 9``);
    - the bias added (one pass of ``4 M / 9``) and :func:`tiles_to_image`, one copy.

    Returns the output and what :func:`winograd_backward` needs.
    """
    batch, height, width = x.shape[0], x.shape[2], x.shape[3]
    out_channels, in_channels = weight.shape[:2]
    high, wide = winograd_tiles(height + 2 * padding - 2), winograd_tiles(width + 2 * padding - 2)
    half = np.empty((6, 3, in_channels, out_channels), dtype=weight.dtype)
    filter_transform(weight.transpose(3, 2, 1, 0), half, np.empty_like(half[0]))
    filters = np.empty((6, 6, in_channels, out_channels), dtype=weight.dtype)
    filter_transform(half.swapaxes(0, 1), filters, np.empty_like(filters[0]))
    filters = filters.reshape(36, in_channels, out_channels)
    out = np.empty((batch, out_channels, height + 2 * padding - 2, width + 2 * padding - 2), dtype=x.dtype)
    groups, work, saved = winograd_groups(x.shape, padding, x.dtype.itemsize), Workspace(x.dtype), []
    for group in groups:
        windows = input_tiles(x[group], padding, high, wide, work)
        size = windows.shape[2]
        across = work("across", 6, 6, size, high, wide, in_channels)
        input_transform(list(windows.swapaxes(0, 1)), across, work("scratch", *across.shape[1:]))
        tiles = np.empty((6, 6, size, high, wide, in_channels), dtype=x.dtype)
        input_transform(list(across.swapaxes(0, 1)), tiles, work("scratch", *tiles.shape[1:]))
        products = work("products", 36, size * high * wide, out_channels)
        np.matmul(tiles.reshape(36, -1, in_channels), filters, out=products)
        products = products.reshape(6, 6, size, high, wide, out_channels)
        half = work("half", 4, 6, size, high, wide, out_channels)
        output_transform(list(products.swapaxes(0, 1)), list(half), work("scratch", *half.shape[1:]))
        tiled = work("tiled", 4, 4, size, high, wide, out_channels)
        output_transform(list(half.swapaxes(0, 1)), list(tiled), work("scratch", *tiled.shape[1:]))
        if bias is not None:
            tiled += bias
        tiles_to_image(tiled, out[group], work)
        saved.append(tiles.reshape(36, -1, in_channels))
    return out, WinogradSaved(filters, groups, saved)


def winograd_backward(grad: np.ndarray, saved: WinogradSaved, weight: np.ndarray, padding: int,
                      grad_weight: np.ndarray, grad_bias: np.ndarray | None,
                      input_grad: bool) -> np.ndarray | None:
    """The gradients of :func:`winograd_forward` (``conv_backward``'s arguments, the saved
    tiles in place of ``cols``): each stage's transpose, in reverse order. Per group of
    images (``V``, ``M`` as there):

    - :func:`image_to_tiles` of the gradient (one copy of ``4 M / 9``); ``db`` += a
      vector-matrix product of it;
    - ``dM = AT^T dY AT``: :func:`output_transform_back` along the columns (13 passes of
      ``M / 9``), then the rows (13 of ``M / 6``);
    - ``dU += V^T dM`` and ``dV = dM U^T``: two batched products;
    - ``BT^T dV BT``, added back where each (overlapping) tile came from:
      :func:`input_transform_back` along the rows (19 passes of ``V / 6``), then the
      columns (19 of the padded image's rows' size);
    - one transposing copy of the padded gradient's inside into the input's gradient.

    After the groups, ``dg = G^T dU G`` (two small products) into ``grad_weight``.
    """
    batch, out_channels, out_height, out_width = grad.shape
    in_channels = weight.shape[1]
    high, wide = winograd_tiles(out_height), winograd_tiles(out_width)
    height, width = out_height - 2 * padding + 2, out_width - 2 * padding + 2
    grad_filters = np.zeros((36, in_channels, out_channels), dtype=grad.dtype)
    grad_x = np.empty((batch, in_channels, height, width), dtype=grad.dtype) if input_grad else None
    if grad_bias is not None:
        grad_bias[...] = 0
    work = Workspace(grad.dtype)
    for group, tiles in zip(saved.groups, saved.tiles):
        size = len(grad[group])
        tiled = work("tiled", 4, 4, size, high, wide, out_channels)
        image_to_tiles(grad[group], tiled, work)
        if grad_bias is not None:
            grad_bias += ones(tiled.size // out_channels, grad.dtype) @ tiled.reshape(-1, out_channels)
        half = work("half", 6, 4, size, high, wide, out_channels)
        output_transform_back(list(tiled.swapaxes(0, 1)), half, work("scratch", *half.shape[1:]))
        grad_products = work("grad products", 6, 6, size, high, wide, out_channels)
        output_transform_back(list(half.swapaxes(0, 1)), grad_products,
                              work("scratch", *grad_products.shape[1:]))
        grad_products = grad_products.reshape(36, -1, out_channels)
        grad_filters += tiles.transpose(0, 2, 1) @ grad_products
        if grad_x is None:
            continue
        grad_tiles = work("grad tiles", 36, size * high * wide, in_channels)
        np.matmul(grad_products, saved.filters.transpose(0, 2, 1), out=grad_tiles)
        grad_tiles = grad_tiles.reshape(6, 6, size, high, wide, in_channels)
        across = work("across", 6, size, 4 * high + 2, wide, in_channels)
        input_transform_back(grad_tiles, across, 2, high, *(work(name, *grad_tiles.shape[1:])
                                                            for name in ("scratch", "scratch 2")))
        padded = work("padded", size, 4 * high + 2, 4 * wide + 2, in_channels)
        input_transform_back(across, padded, 2, wide, *(work(name, *across.shape[1:])
                                                        for name in ("scratch", "scratch 2")))
        inside = padded[:, padding:padding + height, padding:padding + width]
        np.copyto(grad_x[group], inside.transpose(0, 3, 1, 2))
    g = WINOGRAD_G.astype(grad.dtype)
    half_weight = (g.T @ grad_filters.reshape(6, -1)).reshape(3, 6, -1)
    grad_weight[...] = (g.T @ half_weight).reshape(3, 3, in_channels, out_channels).transpose(3, 2, 0, 1)
    return grad_x


def conv_route(winograd: bool) -> tuple[Callable[..., tuple[np.ndarray, Any]],
                                        Callable[..., np.ndarray | None]]:
    """A convolution's floor, forward and backward (the same arguments either way): Winograd's
    where TinyTorch runs Winograd's, else im2col's."""
    return (winograd_forward, winograd_backward) if winograd else (conv_forward, conv_backward)


def conv2d(x: np.ndarray, upstream: np.ndarray, weight: np.ndarray, bias: np.ndarray, padding: int,
           input_grad: bool, winograd: bool) -> Arrays:
    grads = {"grad weight": np.empty_like(weight), "grad bias": np.empty_like(bias)}
    forward, backward = conv_route(winograd)
    out, saved = forward(x, weight, bias, padding)
    grad_x = backward(upstream, saved, weight, padding, grads["grad weight"], grads["grad bias"], input_grad)
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
