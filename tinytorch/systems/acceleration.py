"""Kata 18: acceleration, making the same arithmetic take less time.

A NumPy program is fast when the work happens inside NumPy's compiled loops and its BLAS
(the library behind ``@``), and when those loops stream through memory instead of jumping
around in it. This kata measures each lever on the framework you built, then packages the
winners as kernels that a switch, :func:`enable_acceleration`, installs in place of the
framework's own functions.

1. **Loops to vectorized NumPy.** :func:`squared_distances_loops` computes every distance
   between two sets of points with Python loops; :func:`squared_distances` rewrites the
   same numbers as ``|a|^2 + |b|^2 - 2 a b^T``, one matrix product (the trick im2col plays
   on convolution). Broadcasting ``a[:, None] - b[None]`` is vectorized too, but builds an
   (N, M, D) temporary: vectorized is not the same as frugal.
2. **Memory layout.** An array is a buffer plus *strides*, the bytes to step along each
   axis (:func:`contiguous_strides`, :func:`is_contiguous`). Transposes, slices and window
   views only change the strides: no copy. Whether that is free depends on who reads the
   view: BLAS takes a transposed matrix as it lies (a flag in the call), but element-wise
   work that walks a transpose reads memory across the grain, one cache line for every
   element instead of sixteen float32 elements per line: tens of times slower.
3. **Fewer temporaries.** ``0.5 * x * (1 + tanh(...))`` allocates an array for every
   operator. :func:`gelu_fused` computes GELU with NumPy's ``out=`` arguments in one scratch
   buffer: the same numbers, a fraction of the peak memory (measured with tracemalloc, and
   timed separately, never both at once).
4. **float32 discipline.** float64 doubles every byte moved and halves the numbers a
   vector instruction holds: a stray float64 constant or input silently costs both.
5. **Tiling.** :func:`blocked_matmul` computes ``a @ b`` tile by tile, the way every fast
   matrix product keeps its working set in cache. In Python each tile costs a call, so the
   tile size trades interpreter overhead against the efficiency of each ``np.dot``.
6. **The roofline.** An operation's *arithmetic intensity* is its FLOPs per byte moved
   (:func:`matmul_cost`, :func:`conv2d_cost`). Low-intensity operations wait for memory,
   high-intensity ones for the arithmetic units: that tells you which lever can help.
7. **Threads.** BLAS can split a matrix product over cores. How many it uses is read from
   environment variables when the library loads, so :func:`run_with_blas_threads` measures
   each setting in a fresh process.

Then the kernels. Measure before you rewrite: kata 09's forward convolution (im2col and
one batched product) is already as fast as the alternatives here (an einsum on the window
view, one big 2-D product), so :func:`conv2d_fast` keeps it and changes the backward pass,
computing the input's gradient as a convolution of the gradient with the flipped filters
where that moves less memory than scattering windows back (col2im). For a 3x3 stride-1
convolution with enough input channels, fewer multiplications beat that faster loop:
Winograd's minimal filtering (:mod:`tinytorch.systems.winograd`, this kata's other module)
is faster forward and backward, and :func:`conv2d_accelerated`, the convolution the switch
installs, takes it where :func:`winograd_pays`.
:func:`max_pool2d_fast` uses the fact that windows do not overlap when
``kernel_size == stride``: each gradient is written once, in place.

Then the fused kernels. Cross-entropy, softmax, layer norm and batch norm do a handful of
FLOPs per element: they wait on memory (the roofline), so their cost is the number of
full-array passes and temporaries, not the arithmetic and not autograd. Each kernel keeps
the arithmetic and cuts the passes: :func:`cross_entropy_fast` keeps the forward's
exponentials so its backward does not recompute the softmax, :func:`softmax_fast` and
:func:`layer_norm_fast` work in place and take row sums of products with ``np.einsum``
(no product array), :func:`batch_norm2d_fast` computes the centred input once. Each ends
the way every differentiable forward does since kata 05, with ``record(...)`` of its own
Function.

Last, the memory the arrays live in. A new array of more than 128 KiB gets fresh pages
from the operating system, and the first write to each 4 KiB page is a page fault; freed,
they go back. A framework that makes a new array for every result pays that on every
operation, which is why the floors of the benchmark reuse their buffers.
:func:`keep_freed_memory` asks the C library to keep freed memory for the next array.

``enable_acceleration()`` swaps the kernels of :data:`KERNELS` into the framework with the
switch :data:`ACCELERATION` (the same given :class:`~tinytorch.core.switch.Switch` as
autograd's) and keeps freed memory, ``disable_acceleration()`` puts the kernels back,
``acceleration_enabled()`` asks the switch. Results are the same either way (to float rounding), gradients included,
and the two switches are independent: either may be turned on first.

Why one long file: it holds kata 18's kernels and its switch (Winograd's convolution, one
kernel with its own lesson, is in its own module, ``winograd.py``), and a kata's tests, its
stub and its reference are found from one another by name; its sections follow the kata's
test files.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.activations import GELU_COEFFICIENT, SQRT_2_OVER_PI, Softmax
from ..core.autograd import (
    CrossEntropyLossBackward,
    Function,
    Gradients,
    SoftmaxBackward,
    is_grad_enabled,
    record,
)
from ..core.switch import Switch
from ..core.tensor import Tensor
from ..nn import spatial, transformers
from ..nn.losses import CrossEntropyLoss
from ..nn.spatial import (
    BatchNorm2d,
    BatchNorm2dBackward,
    Conv2dBackward,
    MaxPool2dBackward,
    conv2d_output_shape,
    kernel_offsets,
)
from ..nn.transformers import LayerNormBackward
from .winograd import conv2d_winograd

BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


# -- loops to vectorized NumPy ----------------------------------------------------------

def _require_matrices(a: np.ndarray, b: np.ndarray, who: str, inner: tuple[int, int]) -> None:
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"{who} expects two 2-D arrays, got shapes {a.shape} and {b.shape}")
    if a.shape[inner[0]] != b.shape[inner[1]]:
        raise ValueError(f"{who}: shapes {a.shape} and {b.shape} do not match (axis {inner[0]} of "
                         f"the first has {a.shape[inner[0]]}, axis {inner[1]} of the second "
                         f"{b.shape[inner[1]]})")


def squared_distances_loops(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``out[i, j] = sum((a[i] - b[j]) ** 2)`` for points ``a`` (N, D) and ``b`` (M, D).

    The definition, with a Python loop over every pair: N * M trips through the
    interpreter, each doing a D-element NumPy operation. Given, to check and time
    :func:`squared_distances` against.
    """
    _require_matrices(a, b, "squared_distances_loops", (1, 1))
    out = np.empty((len(a), len(b)), dtype=np.result_type(a, b))
    for i in range(len(a)):
        for j in range(len(b)):
            difference = a[i] - b[j]
            out[i, j] = difference @ difference
    return out


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The squared Euclidean distance between every row of ``a`` (N, D) and of ``b`` (M, D).

    Expand the square: ``|a_i - b_j|^2 = |a_i|^2 + |b_j|^2 - 2 a_i . b_j``. The last term,
    for every pair at once, is the matrix product ``a @ b.T`` (N, M): BLAS does the
    ``2 N M D`` FLOPs. The squared norms are one row sum each, a column ``(N, 1)`` and a
    row ``(1, M)`` that broadcast onto the product.

    - Work on the product in place (``*=``, ``+=``): no other (N, M) array is needed.
    - Rounding can make a distance that should be 0 come out slightly negative (two big
      numbers nearly cancel): clip at 0, in place (``np.maximum(out, 0, out=out)``).
    - The result has the dtype of ``a @ b`` (float32 stays float32: use Python numbers as
      constants).
    - ``ValueError`` naming both shapes unless both are 2-D with the same D.

    Broadcasting ``((a[:, None] - b[None]) ** 2).sum(-1)`` gives the same numbers but
    allocates an (N, M, D) array, D times the result: this kata's systems test measures it.
    """
    raise NotImplementedError("squared_distances: not implemented yet (kata 18 Acceleration)")


# -- memory layout ----------------------------------------------------------------------

def contiguous_strides(shape: tuple[int, ...], itemsize: int, order: str = "C") -> tuple[int, ...]:
    """The strides (bytes per step along each axis) of a contiguous array of ``shape``.

    C order (row-major, NumPy's default): the LAST axis moves fastest, so its stride is
    ``itemsize``, and each earlier axis steps over a whole block of the later ones:
    ``strides[i] = strides[i + 1] * shape[i + 1]``. Fortran order (column-major) is the
    mirror image: the FIRST axis has stride ``itemsize``. A float32 array of shape
    (2, 3, 4) has strides (48, 16, 4) in C order and (4, 8, 24) in F order.

    Compare with ``np.empty(shape, dtype, order=order).strides``. ``ValueError`` for an
    ``order`` other than "C" or "F", or a negative size or itemsize.
    """
    raise NotImplementedError("contiguous_strides: not implemented yet (kata 18 Acceleration)")


def is_contiguous(array: np.ndarray, order: str = "C") -> bool:
    """Whether ``array``'s elements fill its buffer without gaps, in ``order``.

    That is: its strides equal :func:`contiguous_strides` of its shape and itemsize, except
    along axes of size 1, where the stride is never used (NumPy ignores it too). An array
    with no elements is contiguous. Work it out from ``array.strides``; the answer must
    agree with ``array.flags.c_contiguous`` / ``f_contiguous``.

    A transpose of a C-contiguous matrix is F-contiguous (the same buffer read the other
    way round), ``x[:, ::2]`` is neither, and so is a window view.
    """
    raise NotImplementedError("is_contiguous: not implemented yet (kata 18 Acceleration)")


# -- fewer temporaries ------------------------------------------------------------------

def gelu_fused(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """GELU (kata 02's tanh approximation) with one scratch array and NumPy's ``out=``.

    ``0.5 * x * (1 + tanh(SQRT_2_OVER_PI * (x + GELU_COEFFICIENT * x**3)))`` written as
    plain expressions allocates a new array for nearly every operator. Here every step
    writes into ``scratch`` (one array like ``x``): square x into it, multiply by x and the
    coefficient, add x, scale, ``np.tanh(scratch, out=scratch)``, add 1, and finally
    ``np.multiply(x, scratch, out=out)`` and halve ``out`` in place.

    - ``out`` (optional) receives the result and is returned; ``out=x`` computes in place.
      That works because ``x`` is only read again in the last multiplication, element by
      element. Without ``out`` a new array is returned.
    - The result has ``x``'s dtype: the constants are Python floats (``np.sqrt(2 / np.pi)``
      would be a float64 NumPy scalar and promote float32 to float64).
    - ``TypeError`` unless ``x`` is a floating-point array; ``ValueError`` naming both
      shapes if ``out`` has another shape (``TypeError`` if another dtype).
    """
    raise NotImplementedError("gelu_fused: not implemented yet (kata 18 Acceleration)")


# -- tiling -------------------------------------------------------------------------------

def blocked_matmul(a: np.ndarray, b: np.ndarray, tile: int = 64) -> np.ndarray:
    """``a @ b`` for ``a`` (N, K) and ``b`` (K, M), computed tile by tile.

    The output is cut into ``tile x tile`` blocks; block ``(i, j)`` is the sum over ``p`` of
    ``np.dot(a[i:i+t, p:p+t], b[p:p+t, j:j+t])``, accumulated into that block of a zero
    output (result dtype of ``a`` and ``b``). Loop over ``i``, then ``j``, then ``p``, in
    steps of ``tile``; call ``np.dot`` once per tile product (the tests count the calls:
    ``ceil(N/t) * ceil(M/t) * ceil(K/t)``, no operand larger than ``t x t``).

    Shapes that the tile does not divide need no special case: a slice that runs past the
    end of an array stops at the end, so edge tiles are simply smaller.

    Why tile at all: a block of ``a``, a block of ``b`` and a block of the output (``3 t^2``
    numbers) fit in cache and are reused ``t`` times each, instead of streaming whole rows
    and columns from memory. BLAS does this internally (with several levels of tiles and
    vector registers); here each tile also pays a Python call, which is why small tiles
    are slow. ``ValueError`` for shapes that do not multiply (naming both) or a tile < 1.
    """
    raise NotImplementedError("blocked_matmul: not implemented yet (kata 18 Acceleration)")


# -- the roofline -------------------------------------------------------------------------

@dataclass(frozen=True)
class OpCost:
    """What an operation must do: ``flops`` and ``bytes_moved`` (operands read once, result
    written once: the least traffic any implementation needs)."""

    flops: int
    bytes_moved: int

    @property
    def intensity(self) -> float:
        """Arithmetic intensity: FLOPs per byte moved."""
        return self.flops / self.bytes_moved

    def flops_per_second(self, seconds: float) -> float:
        """The achieved rate when the operation took ``seconds``."""
        return self.flops / seconds


def matmul_cost(a_shape: tuple[int, int], b_shape: tuple[int, int], itemsize: int = 4) -> OpCost:
    """Cost of ``(N, K) @ (K, M)``: ``2 N K M`` FLOPs (one multiply and one add per term),
    and ``itemsize * (N K + K M + N M)`` bytes.

    A square product of size n does ``2 n^3`` FLOPs on ``3 n^2`` numbers: its intensity
    grows with n, which is why large matrix products run near the processor's peak. A
    matrix-vector product (M = 1) does 2 FLOPs per matrix element it reads: it can never
    go faster than memory. ``ValueError`` naming both shapes if they do not multiply.
    """
    raise NotImplementedError("matmul_cost: not implemented yet (kata 18 Acceleration)")


def conv2d_cost(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], stride: int = 1,
                padding: int = 0, itemsize: int = 4, im2col: bool = False) -> OpCost:
    """Cost of a convolution's forward pass (kata 09), from the shapes alone.

    Every output element ``(n, o, i, j)`` is a window of ``C * k * k`` multiply-adds: the
    FLOPs are ``2 * N * O * H_out * W_out * C * k * k`` (the output shape comes from
    :func:`~tinytorch.nn.spatial.conv2d_output_shape`, which also checks the operands).
    The bytes: the input, the weight and the output, each once.

    With ``im2col=True``, add the window matrix: ``N * C * k * k * H_out * W_out`` numbers,
    written once and read once. That is what the vectorized convolution really moves, and
    why its intensity is lower than the operation's own.
    """
    raise NotImplementedError("conv2d_cost: not implemented yet (kata 18 Acceleration)")


# -- threads ------------------------------------------------------------------------------

# The child process of run_with_blas_threads: argv = size, seed, repeats, output path. It
# times a float32 matrix product (median of the repeats, after one warm-up), saves the
# product to the path and prints a JSON line with the timing, the BLAS variables it saw
# and, when threadpoolctl is installed, the threads the library really uses.
BLAS_CHILD = """
import json, os, statistics, sys, time
import numpy as np
size, seed, repeats, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(seed)
a = rng.standard_normal((size, size), dtype=np.float32)
b = rng.standard_normal((size, size), dtype=np.float32)
product = a @ b
timings = []
for _ in range(repeats):
    start = time.perf_counter()
    product = a @ b
    timings.append(time.perf_counter() - start)
np.save(path, product)
try:
    import threadpoolctl
    in_use = max(pool["num_threads"] for pool in threadpoolctl.threadpool_info()
                 if pool["user_api"] == "blas")
except Exception:
    in_use = None
print(json.dumps({"seconds": statistics.median(timings), "threads_in_use": in_use,
                  "environment": {name: os.environ.get(name) for name in sys.argv[5:]}}))
"""


@dataclass(frozen=True)
class BlasRun:
    """One child process's matrix product: how many threads were asked for, the median
    time, the product itself, the BLAS variables the child saw, and the threads in use
    (None unless the optional threadpoolctl is installed)."""

    threads: int
    seconds: float
    product: np.ndarray
    environment: dict[str, str | None]
    threads_in_use: int | None


def run_with_blas_threads(threads: int, size: int = 512, seed: int = 0, repeats: int = 3,
                          timeout: float = 120.0) -> BlasRun:
    """Time a ``size x size`` float32 product in a fresh Python whose BLAS may use ``threads``.

    A BLAS library reads its thread count once, when it loads, from environment variables;
    OpenBLAS reads ``OPENBLAS_NUM_THREADS`` before ``OMP_NUM_THREADS``, MKL reads
    ``MKL_NUM_THREADS``... So set EVERY name of :data:`BLAS_THREAD_VARIABLES` to
    ``str(threads)`` in a copy of ``os.environ`` (the test runner pins them all to 1:
    setting only one is not enough), and run :data:`BLAS_CHILD` with it::

        [sys.executable, "-c", BLAS_CHILD, str(size), str(seed), str(repeats), path,
         *BLAS_THREAD_VARIABLES]

    with ``env=``, ``capture_output=True``, ``text=True``, ``check=True`` and ``timeout``.
    ``path`` is a ``.npy`` file in a ``tempfile.TemporaryDirectory()``; load the product
    from it before the directory goes. The child's last line of output is JSON with
    ``seconds``, ``threads_in_use`` and ``environment``.

    ``ValueError`` for ``threads`` or ``size`` below 1.
    """
    raise NotImplementedError("run_with_blas_threads: not implemented yet (kata 18 Acceleration)")


# -- the kernels ----------------------------------------------------------------------------

def conv2d_einsum(x: np.ndarray, weight: np.ndarray, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The forward convolution as one ``np.einsum`` on the window view (arrays, no bias).

    :func:`~tinytorch.nn.spatial.sliding_windows` of the padded input is a view
    (N, C, H_out, W_out, k, k); the output is
    ``np.einsum("nchwij,ocij->nohw", windows, weight, optimize=True)``: sum over the
    channel and both kernel axes, for every image, filter and position. The operands are
    checked with :func:`~tinytorch.nn.spatial.conv2d_output_shape`.

    ``optimize=True`` matters: it lets einsum hand the contraction to BLAS (reshaping the
    windows into a matrix on the way, im2col in disguise). Without it einsum runs its own
    loop over every index combination, dozens of times slower: the systems test measures
    both against kata 09's im2col.
    """
    raise NotImplementedError("conv2d_einsum: not implemented yet (kata 18 Acceleration)")


def input_grad_by_convolution(grad: np.ndarray, weight: np.ndarray, padding: int) -> np.ndarray:
    """The gradient of a stride-1 convolution's input, computed as a convolution.

    Input pixel ``(h, w)`` met kernel element ``(di, dj)`` in the output at
    ``(h + p - di, w + p - dj)``, so its gradient is
    ``sum over o, di, dj of grad[n, o, h + p - di, w + p - dj] * weight[o, c, di, dj]``:
    a cross-correlation of ``grad`` with the kernels flipped in both spatial axes
    (``weight[:, :, ::-1, ::-1]``) and in/out channels swapped (shape (C, O, k, k)), over
    ``grad`` padded by ``k - 1 - p``. The output has the input's height and width.

    So no window matrix is scattered back: run the framework's own forward convolution
    (the plain one, :func:`plain_version`) on plain Tensors of ``grad`` and the flipped
    weight (made contiguous), and return its array. Requires ``padding <= k - 1``.
    """
    raise NotImplementedError("input_grad_by_convolution: not implemented yet (kata 18 Acceleration)")


def transposed_conv_pays(in_channels: int, out_channels: int, kernel_size: int, stride: int,
                         padding: int) -> bool:
    """Whether :func:`conv2d_fast` computes the input gradient as a convolution.

    Only for stride 1 with ``padding <= kernel_size - 1`` (the formula's own limits). Then
    compare what each route moves per pixel: the convolution copies the gradient's windows,
    ``out_channels * k * k`` numbers; col2im writes ``in_channels * k * k`` window gradients
    and then reads them back in ``k * k`` strided passes that add into the image. With as
    many channels on both sides the convolution moves less and measured about 1.7 times
    faster; with twice as many output channels the two routes measured even on a quiet
    machine, and the convolution lost when another job competed for memory. So use it
    when ``out_channels <= in_channels``. The systems test measures both routes on hidden
    layers on either side of that line.
    """
    raise NotImplementedError("transposed_conv_pays: not implemented yet (kata 18 Acceleration)")


class Conv2dFastBackward(Conv2dBackward):
    """The gradients of :func:`conv2d_fast`; the inputs and arguments (``cols``, ``stride``,
    ``padding``) of kata 09's :class:`~tinytorch.nn.spatial.Conv2dBackward`.

    When the input needs a gradient and :func:`transposed_conv_pays`, that gradient is
    :func:`input_grad_by_convolution`; the weight's and the bias's stay kata 09's. Get those
    without kata 09's input gradient (the expensive part) by running its rule on the same
    inputs with ``x`` replaced by a constant ``Tensor(x.data)``: kata 09 skips the input
    gradient of a tensor that does not require grad. In every other case this is simply
    ``super().backward(grad)``.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        x, weight = self.inputs[0], self.inputs[1]
        stride, padding = self.arguments["stride"], self.arguments["padding"]
        raise NotImplementedError("Conv2dFastBackward.backward: not implemented yet (kata 18 Acceleration)")


def conv2d_fast(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
                padding: int = 0) -> Tensor:
    """Kata 09's :func:`~tinytorch.nn.spatial.conv2d` with a faster backward pass.

    The forward pass stays: on both benchmark layers, kata 09's im2col and one batched
    product is as fast as :func:`conv2d_einsum` or one big 2-D product (the kata's systems
    tests show the ratios measured on your machine), and its window matrix is what the
    weight's gradient needs.
    So: call the plain convolution (:func:`plain_version`), then :func:`rerecord` its
    output with :class:`Conv2dFastBackward`. Same signature, same values, same errors.
    """
    raise NotImplementedError("conv2d_fast: not implemented yet (kata 18 Acceleration)")


# The fewest input channels for which Winograd's F(4x4, 3x3) beat conv2d_fast, forward and
# backward, in the kernel author's runs (conv2d_fast's time / Winograd's): 16 -> 32 channels on
# 16 x 16 images 1.3x faster, 32 -> 32 2.2x; 8 -> 32 0.66x, 3 -> 16 0.23x (slower).
WINOGRAD_MIN_CHANNELS = 16


def winograd_pays(in_channels: int, kernel_shape: tuple[int, ...], stride: int, floating: bool) -> bool:
    """Whether :func:`conv2d_accelerated` runs a convolution by Winograd's minimal filtering.

    :func:`~tinytorch.systems.winograd.conv2d_winograd` computes stride-1 convolutions of
    floating-point operands only (its ``G`` holds fractions; a stride skips the outputs the
    tiles share their work between), and it pays only where its transforms are cheap next
    to the multiplications they save: a 3x3 kernel (``kernel_shape``, the weight's last two
    sizes, is ``(3, 3)``) and at least :data:`WINOGRAD_MIN_CHANNELS` input channels. The
    transforms are done once per tile and channel, the saving once per channel PAIR, so
    with few input channels the transforms' passes over memory cost more than the
    multiplications they save: with 8 input channels Winograd measured slower than
    :func:`conv2d_fast`, with 3 four times slower.
    """
    raise NotImplementedError("winograd_pays: not implemented yet (kata 18 Acceleration)")


def conv2d_accelerated(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
                       padding: int = 0) -> Tensor:
    """The convolution :func:`enable_acceleration` installs: Winograd's
    :func:`~tinytorch.systems.winograd.conv2d_winograd` where :func:`winograd_pays`, else
    :func:`conv2d_fast` (given).

    The operands are checked first by kata 09's
    :func:`~tinytorch.nn.spatial.conv2d_output_shape`, so bad ones get kata 09's errors
    whichever route would have run. Same signature and values as kata 09's ``conv2d``
    (Winograd's to its float rounding, which its tests measure); its output is recorded
    with :class:`~tinytorch.systems.winograd.WinogradConv2dBackward` or
    :class:`Conv2dFastBackward`.
    """
    conv2d_output_shape(x.shape, weight.shape, stride, padding)
    floating = all(tensor.dtype.kind == "f" for tensor in (x, weight, bias) if tensor is not None)
    if winograd_pays(x.shape[1], weight.shape[2:], stride, floating):
        return conv2d_winograd(x, weight, bias, stride, padding)
    return conv2d_fast(x, weight, bias, stride, padding)


class MaxPool2dFastBackward(MaxPool2dBackward):
    """Max pooling's gradient when ``kernel_size == stride``: windows do not overlap.

    The rule is kata 09's (the first maximum of a window, in row-major order, takes the
    whole gradient), and so is the walk over the ``k * k`` offsets of
    :func:`~tinytorch.nn.spatial.kernel_offsets` with an array of windows still
    ``unclaimed``. What changes: every input element belongs to exactly ONE window, so its
    gradient can be WRITTEN, not added to a zeroed array, and nothing needs a temporary:

    - ``grad_x = np.empty(x.shape)``; ``np.zeros`` only when the windows do not cover the
      input (a size the kernel does not divide leaves rows or columns no window reads);
    - per offset, into buffers allocated once: ``np.equal(x[index], maxima, out=wins)``,
      ``wins &= unclaimed``, ``unclaimed ^= wins`` (clears the winners),
      ``np.multiply(grad, wins, out=share)`` into a contiguous float buffer, then
      ``np.copyto(grad_x[index], share)``.

    Why the detour through ``share``: ``np.multiply(grad, wins, out=grad_x[index])`` mixes
    a cast (bool to float) with a strided output, and NumPy 2.2 runs that through its slow
    buffered loop, several times slower than the detour (NumPy 2.4 does not care).
    A product into contiguous memory and a same-dtype strided copy are fast on both.

    Kata 09's version allocates four arrays per offset (the comparison, the ``&``, ``~wins``
    and the product) and adds into zeros; the kata's systems test shows what this backward
    saves on your machine.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        (x,) = self.inputs
        kernel_size = self.arguments["kernel_size"]
        raise NotImplementedError("MaxPool2dFastBackward.backward: not implemented yet (kata 18 Acceleration)")


def max_pool2d_fast(x: Tensor, kernel_size: int, stride: int | None = None) -> Tensor:
    """Kata 09's :func:`~tinytorch.nn.spatial.max_pool2d`, with :class:`MaxPool2dFastBackward`
    when the windows do not overlap.

    Run the plain max pooling (:func:`plain_version`); when ``stride`` is None or equals
    ``kernel_size``, :func:`rerecord` its output with :class:`MaxPool2dFastBackward`.
    Otherwise the windows overlap and the plain result is returned as it is.

    The forward pass stays too. The obvious rewrite for non-overlapping windows,
    ``x.reshape(N, C, H/k, k, W/k, k).max(axis=(3, 5))``, measured about 40 times SLOWER
    than kata 09's ``k * k`` strided ``np.maximum`` calls: NumPy reduces over two short,
    strided axes element by element, while ``np.maximum`` streams whole rows.
    """
    raise NotImplementedError("max_pool2d_fast: not implemented yet (kata 18 Acceleration)")


# -- fused kernels: fewer full-array passes ------------------------------------------------

def _row_dot(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """``(a * b).sum(axis, keepdims=True)`` without the product array (given): one
    ``np.einsum`` that multiplies and adds as it reads both operands. float16 operands add
    in float32 (the sum of a row of squares overflows float16's 65504 long before its
    mean would), and give float32."""
    axis %= a.ndim
    letters = "abcdefghijklmnopqrstuvwxyz"[:a.ndim]
    kept = letters[:axis] + letters[axis + 1:]
    wider = np.float32 if np.result_type(a, b) == np.float16 else None
    return np.expand_dims(np.einsum(f"{letters},{letters}->{kept}", a, b, dtype=wider), axis)


# The dtypes BLAS multiplies: float16 and integers go through NumPy's own loops
BLAS_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _sums(a: np.ndarray, axis: int) -> np.ndarray:
    """``a.sum(axis, keepdims=True)`` (given). Over the LAST axis of float32 or float64 it
    is a matrix-vector product with a vector of ones: BLAS reads a row of 128 or 1,024
    numbers several times faster than NumPy's ``sum``, which adds along a short contiguous
    axis one row at a time. (Other dtypes have no BLAS: ``sum``.)"""
    if axis % a.ndim != a.ndim - 1 or a.dtype not in BLAS_DTYPES:
        return a.sum(axis=axis, keepdims=True)
    return (a @ np.ones(a.shape[-1], dtype=a.dtype))[..., np.newaxis]


def _means(a: np.ndarray) -> np.ndarray:
    """``a.mean(-1, keepdims=True)`` (given): :func:`_sums` over the last axis divided by
    its size. float16 keeps NumPy's ``mean``, which adds in float32: a float16 sum of a
    row can overflow where its mean does not."""
    if a.dtype not in BLAS_DTYPES:
        return a.mean(axis=-1, keepdims=True)
    return _sums(a, -1) / a.shape[-1]


def _column_sums(a: np.ndarray) -> np.ndarray:
    """Sums over every axis but the last (given): a vector-matrix product with ones, the
    transpose of :func:`_sums`' trick, on the (rows, last) view of ``a`` (float32 and
    float64; other dtypes by ``sum``)."""
    rows = a.reshape(-1, a.shape[-1])
    if a.dtype not in BLAS_DTYPES:
        return rows.sum(axis=0)
    return np.ones(len(rows), dtype=a.dtype) @ rows


class CrossEntropyFastBackward(CrossEntropyLossBackward):
    """Cross-entropy's gradient from what the forward pass kept: ``exponentials``
    (``exp(logits - row max)``, shape (N, C)) and their row ``sums`` (N,), as arguments.

    The gradient is ``(softmax(logits) - one_hot(target)) / N`` times ``grad``, and
    ``softmax = exponentials / sums``: so ONE pass over the (N, C) array,
    ``exponentials * (grad / N / sums)[:, None]`` (the scale is a column of N numbers),
    then subtract ``grad / N`` at each row's target entry (N numbers). Kata 05's rule
    recomputes the softmax from the logits (max, subtract, exp, sum, divide) before that.
    Leave the kept arrays untouched: the graph may be walked twice.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        target = self.inputs[1]
        exponentials, sums = self.arguments["exponentials"], self.arguments["sums"]
        raise NotImplementedError("CrossEntropyFastBackward.backward: not implemented yet (kata 18 Acceleration)")


def cross_entropy_fast(self: CrossEntropyLoss, prediction: Tensor, target: Tensor) -> Tensor:
    """Kata 04's ``CrossEntropyLoss.forward`` that keeps what the backward pass needs.

    Anything kata 04 would refuse (logits not 2-D, a target that is not one integer class
    index in ``[0, C)`` per row), and the unusual (no rows, integer logits: ``np.exp``
    cannot write floats into them), goes to the plain version
    (:func:`plain_version` of ``CrossEntropyLoss.forward``, called with ``self``), which
    raises its errors. Otherwise, in as few passes as the loss needs:

    - ``exponentials = logits - row max`` (a new array), pick ``z[i, target[i]]`` from it,
      then ``np.exp(exponentials, out=exponentials)`` in place;
    - ``sums`` = its row sums (:func:`_sums`); ``loss = mean(log(sums) - picked)``, as a Tensor;
    - :func:`~tinytorch.core.autograd.record` :class:`CrossEntropyFastBackward` with inputs
      ``(prediction, target)`` and the arguments ``exponentials=`` and ``sums=``.

    Kata 05 records only the inputs, so its backward recomputes the whole softmax: keeping
    the exponentials (no division now: the backward folds ``1 / sums`` into its one pass)
    measured 1.8 to 1.9 times faster for forward and backward of (4096, 1024) logits.
    """
    raise NotImplementedError("cross_entropy_fast: not implemented yet (kata 18 Acceleration)")


class SoftmaxFastBackward(SoftmaxBackward):
    """Softmax's gradient ``s * (grad - sum(grad * s, axis))`` in two full passes.

    Kata 05 writes ``grad * s`` (an array), sums it, subtracts (another array) and
    multiplies (a third). Here :func:`_row_dot` gives the sums without the product array,
    ``np.subtract(grad, sums, ...)`` writes the only new array, and ``*= s`` finishes it
    in place.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        axis = self.arguments["axis"]
        raise NotImplementedError("SoftmaxFastBackward.backward: not implemented yet (kata 18 Acceleration)")


def softmax_fast(self: Softmax, x: Tensor) -> Tensor:
    """Kata 02's ``Softmax.forward`` with one output array and no temporaries.

    Subtract the maximum along ``self.axis`` into a new array, then ``np.exp`` and the
    division by the sums IN PLACE (kata 02 allocates the shifted scores, their exponentials
    and the quotient: three arrays the size of the input). The sums come from :func:`_sums`,
    and the division is a multiplication by their reciprocals (one division per row, not
    one per element). Record
    :class:`SoftmaxFastBackward` with input ``(x,)`` and ``axis=self.axis``. A bad axis
    raises NumPy's error, as kata 02 does. Integer scores go to the plain version
    (:func:`plain_version`, with ``self``): ``np.exp`` cannot write floats into an integer
    array in place.

    With :class:`SoftmaxFastBackward`, forward and backward measured 1.2 times faster than
    kata 02 and 05 on (4, 4, 128, 128) scores and 1.1 times on (8, 4, 256, 256): the
    exponentials, which no rewrite avoids, are most of the time.
    """
    raise NotImplementedError("softmax_fast: not implemented yet (kata 18 Acceleration)")


class LayerNormFastBackward(LayerNormBackward):
    """Kata 13's layer-norm gradients with two new arrays instead of seven.

    Same arguments (``normalized``, ``inv_std``) and formulas::

        g  = grad * weight                                   # array 1
        dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))
        dweight = sum(grad * x_hat), dbias = sum(grad)       # over every axis but the last

    No product array for a reduction: ``dweight`` is ``np.einsum("ij,ij->j")`` of the
    (rows, dim) views of ``grad`` and ``x_hat``, ``dbias`` :func:`_column_sums`, and the
    two means over the last axis :func:`_row_dot` divided by ``dim`` and :func:`_means`.
    ``dx`` (array 2) starts as ``x_hat * mean(g * x_hat)``, ``+= mean(g)``, then
    ``np.subtract(g, dx, out=dx)`` and ``*= inv_std`` in place.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        weight = self.inputs[1]
        normalized, inv_std = self.arguments["normalized"], self.arguments["inv_std"]
        raise NotImplementedError("LayerNormFastBackward.backward: not implemented yet (kata 18 Acceleration)")


def layer_norm_fast(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """Kata 13's :func:`~tinytorch.nn.transformers.layer_norm` with fewer passes.

    - ``centered = x - mean`` is the one array the normalisation needs (the mean from
      :func:`_means`);
    - the variance is :func:`_row_dot` of ``centered`` with itself over the last axis,
      divided by its size (kata 13 writes ``centered * centered`` first);
    - ``centered *= inv_std`` turns it into ``normalized`` in place;
    - the output is ``normalized * weight`` with ``+= bias`` in place.

    Record :class:`LayerNormFastBackward` exactly as kata 13 records its Function (inputs
    ``(x, weight, bias)``, arguments ``normalized=``, ``inv_std=``). With that backward,
    forward and backward of (8, 256, 128) activations measured 1.2 to 1.3 times faster.
    """
    raise NotImplementedError("layer_norm_fast: not implemented yet (kata 18 Acceleration)")


def _channel(values: np.ndarray) -> np.ndarray:
    """A (C,) array as (1, C, 1, 1), to broadcast over images (N, C, H, W) (given)."""
    return values.reshape(1, -1, 1, 1)


class BatchNorm2dFastBackward(BatchNorm2dBackward):
    """Kata 09's batch-norm gradients in training, from the CENTRED input, with one new array.

    :func:`batch_norm2d_fast` records it with arguments ``centred`` (``x - mean``) and
    ``inv_std`` (1, C, 1, 1) instead of ``normalized``: ``x_hat = centred * inv_std`` is
    folded into per-channel factors, so no pass ever writes it. With ``m = N * H * W`` and
    sums over the axes (0, 2, 3)::

        d beta  = sum(grad)
        d gamma = sum(grad * x_hat) = sum(grad * centred) * inv_std
        dx      = gamma * inv_std * (grad - d beta / m - x_hat * d gamma / m)
                = gamma * inv_std * (grad - d beta / m - centred * (d gamma * inv_std / m))

    - Both channel sums are ``np.einsum`` reductions (``"nchw->c"`` and
      ``"nchw,nchw->c"``): no ``grad * centred`` array;
    - ``dx``: write ``centred * (d gamma * inv_std / m)`` into a new array, add
      ``d beta / m`` in place, ``np.subtract(grad, dx, out=dx)``, and scale in place by
      ``gamma * inv_std``.

    Only training batches record it (evaluation runs kata 09's layer and its rule).
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        gamma = self.inputs[1]
        centred, inv_std = self.arguments["centred"], self.arguments["inv_std"]
        raise NotImplementedError("BatchNorm2dFastBackward.backward: not implemented yet (kata 18 Acceleration)")


def batch_norm2d_fast(self: BatchNorm2d, x: Tensor) -> Tensor:
    """Kata 09's ``BatchNorm2d.forward`` in training, with the centred input computed once
    and never normalized in a pass of its own.

    Evaluation inside ``no_grad()`` (a test set, a prediction) needs no gradient: with
    ``scale = gamma / sqrt(running_var + eps)`` and ``shift = beta - running_mean * scale``
    (C numbers each), the output is ``x * scale`` with ``+= shift`` in place, two passes
    where kata 09 makes four arrays; nothing is recorded.

    Anything else but a floating-point training batch kata 09 accepts (evaluation with
    gradients, a wrong shape or channel count, one value per channel, integers) goes to the
    plain version (:func:`plain_version` of ``BatchNorm2d.forward``, called with ``self``):
    its results and errors. Otherwise, with ``m = N * H * W``:

    - ``mean = einsum("nchw->c", x) / m``; ``centred = x - mean`` (the one big array the
      normalisation needs, kept for the backward pass);
    - ``var = einsum("nchw,nchw->c", centred, centred) / m``, the biased variance, where
      ``x.var`` would compute the mean again and square into a temporary;
    - the running statistics exactly as kata 09 updates them (in place, unbiased variance);
    - the output in ONE pass and one in place: ``centred * (gamma * inv_std)`` (a factor
      per channel: kata 09 writes ``x_hat`` first, then multiplies by ``gamma``), then
      ``+= beta`` (all in the input's dtype).

    Record :class:`BatchNorm2dFastBackward` with inputs ``(x, self.weight, self.bias)``
    and arguments ``centred`` and ``inv_std`` (1, C, 1, 1). Forward and backward measured
    1.4 times faster than kata 09's on (64, 32, 32, 32) activations, 1.7 times on
    (32, 16, 16, 16).
    """
    raise NotImplementedError("batch_norm2d_fast: not implemented yet (kata 18 Acceleration)")


# -- the allocator (given): freed memory kept for the next array ---------------------------

# mallopt's parameters in glibc's malloc.h
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
# What keep_freed_memory asks for: arrays up to 64 MiB from the heap, up to 256 MiB kept free
HEAP_ARRAYS_UP_TO, KEEP_FREED_UP_TO = 2**26, 2**28


def keep_freed_memory() -> bool:
    """Ask the C library to keep freed memory for the next array; True if it could, False
    where it cannot (given).

    glibc (the C library of most Linux systems) serves a request of more than 128 KiB with
    fresh pages from the operating system (``mmap``) and returns them when it is freed,
    and it gives back the top of its heap once more than 128 KiB of it is free (both
    thresholds move up a little on their own as it sees big arrays freed). Every first
    write to a fresh 4 KiB page is a page fault: the kernel stops the program to find and
    zero a page. NumPy allocates a new array for every result, so a training step pays
    for every page of its temporaries, every time. Raising the two thresholds with
    ``mallopt`` (arrays up to 64 MiB from the heap, up to 256 MiB of freed heap kept) lets
    the next array reuse pages the last one touched.

    Measured on this kata's machine (one BLAS thread unless said): ten GELU-backward-like
    passes over a (768, 512) float32 array took 11,200 page faults, 11 with memory kept;
    kata 05's GELU backward on it 2.8 to 3.1 ms, 1.0 ms kept; a TinyGPT training step
    (4 layers, dim 128, batch 12 x 64) 101 to 105 ms, 81 kept; milestone 4's CIFAR-10 CNN
    step (batch 128, two threads) 242 to 274 ms, 174 to 188 kept. The price: the process
    holds on to up to 256 MiB it no longer uses. It changes no result, so
    :func:`disable_acceleration` leaves it as it is (putting glibc's defaults back by hand
    would also switch off their own adjustment).

    Elsewhere (macOS, Windows, musl) there is no such call, or it does nothing: False,
    nothing changed.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, HEAP_ARRAYS_UP_TO)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_FREED_UP_TO))


# -- the switch (given): one table of kernels, installed and removed together ---------------

@dataclass(frozen=True)
class Kernel:
    """A fast kernel and the framework attribute it replaces: ``owner.name`` (a module's
    function, or a class's method such as ``forward``)."""

    owner: Any
    name: str
    fast: Callable[..., Any]


# Every kernel the switch installs. Add an entry, and enable/disable/acceleration_enabled
# handle it: its ``fast`` must take the same arguments and give the same results.
KERNELS: tuple[Kernel, ...] = (
    Kernel(spatial, "conv2d", conv2d_accelerated),
    Kernel(spatial, "max_pool2d", max_pool2d_fast),
    Kernel(CrossEntropyLoss, "forward", cross_entropy_fast),
    Kernel(Softmax, "forward", softmax_fast),
    Kernel(transformers, "layer_norm", layer_norm_fast),
    Kernel(BatchNorm2d, "forward", batch_norm2d_fast),
)

ACCELERATION = Switch("acceleration", [(kernel.owner, kernel.name, kernel.fast) for kernel in KERNELS])


def enable_acceleration() -> None:
    """Install every kernel of :data:`KERNELS` in place of the framework's own version.

    Layers look their functions up when they run (``Conv2d.forward`` calls the module's
    ``conv2d``), so every model switches at once, including models built earlier. The
    switch keeps the plain versions for :func:`disable_acceleration` and
    :func:`plain_version`. It also keeps freed memory for the next array
    (:func:`keep_freed_memory`). Calling it again changes nothing.
    """
    ACCELERATION.turn_on()
    keep_freed_memory()


def disable_acceleration() -> None:
    """Put the framework's own versions back. Calling it again changes nothing.

    Code that imported a function by name (``from tinytorch.nn.spatial import conv2d``)
    holds whichever version was installed at that moment: the switch changes the
    attribute, not copies of it. Freed memory stays kept (:func:`keep_freed_memory`).
    """
    ACCELERATION.turn_off()


def acceleration_enabled() -> bool:
    """Whether :func:`enable_acceleration` has installed the kernels (and nothing removed them)."""
    return ACCELERATION.is_on


def plain_version(owner: Any, name: str) -> Callable[..., Any]:
    """The framework's own ``owner.name``, whether or not acceleration is enabled.

    A fast kernel calls it for the work it does not replace (and to fall back on cases it
    does not handle); calling ``owner.name`` itself would call the kernel again.
    """
    return ACCELERATION.original(owner, name)


def rerecord(output: Tensor, function: type[Function]) -> Tensor:
    """Give ``output`` the Function ``function`` in place of the one the plain operation
    recorded, with the same inputs and arguments (nothing to do if none was recorded:
    no input required grad, or inside ``no_grad()``)."""
    recorded = output.grad_fn
    if recorded is not None:
        output.grad_fn = function(recorded.inputs, output, **recorded.arguments)
    return output

