"""Kata 09: spatial layers, the operations that let a network see images.

A dense layer treats a 32x32 colour image as 3,072 unrelated numbers and needs a weight for
every (input pixel, output) pair. A convolution slides one small filter over the whole image
instead: the same few weights look at every position (weight sharing), and each output only
sees a small neighbourhood (locality). That is why ``Conv2d(3, 32, 3)`` has 896 parameters
where a dense layer from the same image to 32 outputs has 98,336.

Layout: images are 4-D arrays ``(N, C, H, W)``: batch, channels, height, width (PyTorch's
NCHW). A convolution weight is ``(out_channels, in_channels, k, k)``.

The kata builds the convolution twice:

1. :func:`conv2d_loops`, seven nested Python loops that say exactly what a convolution is;
2. :func:`conv2d`, the same numbers from one matrix product: cut the (padded) input into
   every ``k x k`` window with a strided view (no copy), lay the windows out as the columns
   of a matrix ("im2col"), and multiply by the filters. Its :class:`Conv2dBackward` sends
   gradients back to the input by adding each window's gradient to where the window came
   from ("col2im").

Pooling and batch normalization use the same window arithmetic: every kernel offset
``(i, j)`` meets the input in one strided slice (:func:`kernel_offsets`), so a loop over the
``k * k`` offsets, each a whole-array NumPy operation, replaces loops over pixels.

Output size, for an input of size ``H``, kernel ``k``, stride ``s`` and padding ``p`` (the
same along the width)::

    H_out = (H + 2p - k) // s + 1

The floor division matters: with H = 8, k = 3, s = 2 and no padding the last window would
start at row 6 and hang over the edge, so there are 3 outputs, not 4, and row 7 is never read.

Everything computes in the input's dtype (float32 in training, float64 in gradcheck), and no
Python loop ever runs over the batch or over pixels outside :func:`conv2d_loops`.

Why one long file: it is all of kata 09's code, and a kata's tests, its stub and its
reference are found from one another by name; its sections follow the kata's test files.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..core.autograd import Function, Gradients, record
from ..core.tensor import Tensor
from .layers import Module

IMAGE_AXES = "(N, C, H, W)"


# -- shapes and errors ----------------------------------------------------------------------

def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """How many positions a window of ``kernel_size`` takes along an axis of ``size``.

    ``(size + 2 * padding - kernel_size) // stride + 1``: the padded length, minus the
    kernel, gives the last start position; ``// stride`` counts the steps to it, and ``+ 1``
    counts the first window. ``conv_output_size(32, 5)`` is 28 and
    ``conv_output_size(8, 3, stride=2)`` is 3 (a window starting at 6 would overhang).
    """
    # BEGIN SOLUTION
    return (size + 2 * padding - kernel_size) // stride + 1
    # END SOLUTION


def require_images(shape: tuple[int, ...], who: str) -> None:
    """Raise ``ValueError`` unless ``shape`` is 4-D, ``(N, C, H, W)``, with N >= 1.

    The message names ``who`` (the layer or function) and the shape it got: a single image
    of shape (3, 32, 32) needs a batch axis, ``x.reshape(1, 3, 32, 32)``; an empty batch
    (N = 0) is refused too, saying so (the im2col reshape would fail on it with NumPy's
    "cannot reshape array of size 0").
    """
    # BEGIN SOLUTION
    if len(shape) != 4:
        raise ValueError(f"{who} expects a 4-D input {IMAGE_AXES}, got shape {tuple(shape)} "
                         f"({len(shape)}-D)")
    if shape[0] == 0:
        raise ValueError(f"{who} got an empty batch: input shape {tuple(shape)} has no images")
    # END SOLUTION


def conv2d_output_shape(x_shape: tuple[int, ...], weight_shape: tuple[int, ...], stride: int = 1,
                        padding: int = 0) -> tuple[int, int, int, int]:
    """Check a convolution's operands and return its output shape ``(N, O, H_out, W_out)``.

    ``x_shape`` is ``(N, C, H, W)`` and ``weight_shape`` is ``(O, C, k, k)``. Raise
    ``ValueError`` (see :func:`require_images` for the first):

    - if the input is not 4-D;
    - if the input's channels differ from the weight's ``in_channels``: name both numbers
      and both shapes;
    - if the kernel is larger than the padded input along the height or the width: name the
      kernel size, the padded size and the padding.
    """
    # BEGIN SOLUTION
    require_images(x_shape, "conv2d")
    batch, channels, height, width = x_shape
    out_channels, in_channels, kernel, _ = weight_shape
    if channels != in_channels:
        raise ValueError(f"conv2d: the input has {channels} channels but the weight expects "
                         f"in_channels={in_channels} (input shape {tuple(x_shape)}, weight shape "
                         f"{tuple(weight_shape)})")
    padded_height, padded_width = height + 2 * padding, width + 2 * padding
    if kernel > padded_height or kernel > padded_width:
        raise ValueError(f"conv2d: kernel_size={kernel} is larger than the padded input "
                         f"{padded_height}x{padded_width} (input {height}x{width}, padding="
                         f"{padding} on each side)")
    return (batch, out_channels, conv_output_size(height, kernel, stride, padding),
            conv_output_size(width, kernel, stride, padding))
    # END SOLUTION


def pool_output_shape(x_shape: tuple[int, ...], kernel_size: int, stride: int,
                      who: str) -> tuple[int, int, int, int]:
    """The output shape ``(N, C, H_out, W_out)`` of pooling (no padding), checked.

    Raise ``ValueError`` if the input is not 4-D, or if the kernel is larger than the input
    along the height or the width (naming ``who``, the kernel size and the input size).
    """
    # BEGIN SOLUTION
    require_images(x_shape, who)
    batch, channels, height, width = x_shape
    if kernel_size > height or kernel_size > width:
        raise ValueError(f"{who}: kernel_size={kernel_size} is larger than the input "
                         f"{height}x{width} (shape {tuple(x_shape)})")
    return (batch, channels, conv_output_size(height, kernel_size, stride),
            conv_output_size(width, kernel_size, stride))
    # END SOLUTION


def _require_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")


# -- convolution as its definition ------------------------------------------------------

def pad2d(x: np.ndarray, padding: int) -> np.ndarray:
    """``x`` (N, C, H, W) with ``padding`` rows/columns of zeros on ALL FOUR sides.

    The result is (N, C, H + 2p, W + 2p): top AND bottom, left AND right. ``padding=0``
    returns ``x`` itself (no copy). The zeros have ``x``'s dtype.
    """
    # BEGIN SOLUTION
    if padding == 0:
        return x
    batch, channels, height, width = x.shape
    padded = np.zeros((batch, channels, height + 2 * padding, width + 2 * padding), dtype=x.dtype)
    padded[:, :, padding:padding + height, padding:padding + width] = x
    return padded
    # END SOLUTION


def conv2d_loops(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: int = 1,
                 padding: int = 0) -> np.ndarray:
    """A 2-D convolution written as its definition: seven nested Python loops.

    For every image ``n``, filter ``o`` and output position ``(i, j)``::

        out[n, o, i, j] = bias[o] + sum over c, di, dj of
                          padded[n, c, i * stride + di, j * stride + dj] * weight[o, c, di, dj]

    Loop order: batch, out channel, out row, out column, then the sum over in channel,
    kernel row, kernel column. ``padded`` is :func:`pad2d` of ``x``; the output shape comes
    from :func:`conv2d_output_shape` (which also checks the operands).

    This is CROSS-CORRELATION, like PyTorch's ``conv2d``: kernel element ``(0, 0)`` meets the
    top-left pixel of each window. A mathematician's convolution flips the kernel first
    (``weight[o, c, k-1-di, k-1-dj]``); for a learned kernel it makes no difference which one
    a framework picks, but loading weights trained with the other convention would.

    Arrays in, an array out, of the result dtype of ``x`` and ``weight``. Every one of the
    ``N * O * H_out * W_out * C * k * k`` multiply-adds runs in the Python interpreter: use
    it on tiny inputs only, to check :func:`conv2d` against.
    """
    # BEGIN SOLUTION
    batch, out_channels, out_height, out_width = conv2d_output_shape(x.shape, weight.shape, stride,
                                                                     padding)
    in_channels, kernel = weight.shape[1], weight.shape[2]
    padded = pad2d(x, padding)
    out = np.zeros((batch, out_channels, out_height, out_width), dtype=np.result_type(x, weight))
    for n in range(batch):
        for o in range(out_channels):
            for i in range(out_height):
                for j in range(out_width):
                    total = 0.0 if bias is None else bias[o]
                    for c in range(in_channels):
                        for di in range(kernel):
                            for dj in range(kernel):
                                total += (padded[n, c, i * stride + di, j * stride + dj]
                                          * weight[o, c, di, dj])
                    out[n, o, i, j] = total
    return out
    # END SOLUTION


# -- windows: the building blocks of every vectorized layer here --------------------------

def sliding_windows(x: np.ndarray, kernel_size: int, stride: int) -> np.ndarray:
    """Every ``k x k`` window of ``x`` (N, C, H, W) as a VIEW of shape (N, C, H_out, W_out, k, k).

    ``windows[n, c, i, j]`` is the block of ``x[n, c]`` whose top-left corner is at
    ``(i * stride, j * stride)``. ``np.lib.stride_tricks.sliding_window_view(x, (k, k),
    axis=(2, 3))`` gives the windows at every position, stride 1; keeping every
    ``stride``-th one along H_out and W_out (``[:, :, ::stride, ::stride]``) gives the rest.

    No number is copied: the view reuses ``x``'s memory with different strides (the same
    element appears in up to ``k * k`` windows). That is also why it must not be written to.
    The copy happens when the windows are laid out as a matrix: that matrix ("im2col") is
    ``k * k / stride**2`` times the size of the input.
    """
    # BEGIN SOLUTION
    windows = np.lib.stride_tricks.sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))
    return windows[:, :, ::stride, ::stride]
    # END SOLUTION


def kernel_offsets(kernel_size: int, stride: int, out_height: int,
                   out_width: int) -> Iterator[tuple[int, int, tuple[slice, ...]]]:
    """Yield ``(di, dj, index)`` for each of the ``k * k`` kernel offsets.

    ``x[index]`` is the strided slice (N, C, out_height, out_width) of the input that kernel
    element ``(di, dj)`` touches: rows ``di, di + stride, ...`` (out_height of them) and
    columns ``dj, dj + stride, ...`` (out_width). So ``x[index][n, c, i, j]`` is
    ``x[n, c, i * stride + di, j * stride + dj]``, the ``(di, dj)`` element of window
    ``(i, j)``.

    A loop over these ``k * k`` offsets, each a whole-array operation, replaces a loop over
    every pixel: max pooling is the running ``np.maximum`` of the slices, average pooling
    their mean, and col2im adds each offset's gradients back into its slice.
    """
    # BEGIN SOLUTION
    for di in range(kernel_size):
        for dj in range(kernel_size):
            rows = slice(di, di + stride * (out_height - 1) + 1, stride)
            columns = slice(dj, dj + stride * (out_width - 1) + 1, stride)
            yield di, dj, (slice(None), slice(None), rows, columns)
    # END SOLUTION


def col2im(window_grads: np.ndarray, shape: tuple[int, ...], stride: int) -> np.ndarray:
    """The reverse of cutting windows: add each window's gradient back where it came from.

    ``window_grads`` has shape (N, C, k, k, H_out, W_out): ``window_grads[n, c, di, dj, i, j]``
    belongs to input element ``(n, c, i * stride + di, j * stride + dj)``. Return an array of
    ``shape`` (N, C, H, W) (zeros where no window reached) holding, for every element, the SUM
    of the gradients of every window it appeared in: with stride < k windows overlap, and an
    element read by several windows receives all their gradients.

    Two ways to scatter with repeats: ``np.add.at`` on a writeable window view (correct, but
    it handles one element at a time: 4 to 11 times slower on the benchmark layers of this
    kata's systems tests), or a loop over the ``k * k`` offsets of :func:`kernel_offsets`,
    each adding a whole strided slice. Within one offset no two windows share an element, so
    ``+=`` is safe.
    """
    # BEGIN SOLUTION
    kernel, out_height, out_width = window_grads.shape[2], window_grads.shape[4], window_grads.shape[5]
    full = np.zeros(shape, dtype=window_grads.dtype)
    for di, dj, index in kernel_offsets(kernel, stride, out_height, out_width):
        full[index] += window_grads[:, :, di, dj]
    return full
    # END SOLUTION


# -- vectorized convolution -----------------------------------------------------------------

class Conv2dBackward(Function):
    """The gradients of :func:`conv2d`; inputs ``(x, weight)`` or ``(x, weight, bias)``.

    Arguments: ``cols``, the im2col matrix of the forward pass, shape (N, C*k*k, L) with
    ``L = H_out * W_out``; ``stride``; ``padding``. With ``g = grad.reshape(N, O, L)``:

    - bias: every output position added it, so ``g`` summed over N and L: shape (O,).
    - weight: the forward was ``out[n] = W @ cols[n]`` with ``W`` (O, C*k*k), so
      ``dW = sum over n of g[n] @ cols[n]^T``, reshaped to (O, C, k, k). Shapes:
      (O, L) @ (L, C*k*k).
    - input: ``W^T @ g[n]`` (C*k*k, L) is the gradient of each window's values; reshape it to
      (N, C, k, k, H_out, W_out), scatter it back with :func:`col2im` onto the PADDED shape
      with the SAME stride as the forward, then cut the padding off. Skip this (return None)
      when ``x`` does not require grad: a network's first layer never needs the gradient of
      the images, and it is the most expensive of the three.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        x, weight = self.inputs[0], self.inputs[1]
        cols, stride, padding = self.arguments["cols"], self.arguments["stride"], self.arguments["padding"]
        # BEGIN SOLUTION
        batch, out_channels, out_height, out_width = grad.shape
        _, in_channels, height, width = x.shape
        kernel = weight.shape[-1]
        grad_rows = grad.reshape(batch, out_channels, out_height * out_width)
        grad_weight = (grad_rows @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(weight.shape)
        grad_x = None
        if x.requires_grad:
            grad_cols = weight.data.reshape(out_channels, -1).T @ grad_rows
            window_grads = grad_cols.reshape(batch, in_channels, kernel, kernel, out_height, out_width)
            padded_shape = (batch, in_channels, height + 2 * padding, width + 2 * padding)
            grad_padded = col2im(window_grads, padded_shape, stride)
            grad_x = grad_padded[:, :, padding:padding + height, padding:padding + width]
        if len(self.inputs) == 2:
            return grad_x, grad_weight
        return grad_x, grad_weight, grad_rows.sum(axis=(0, 2))
        # END SOLUTION


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1,
           padding: int = 0) -> Tensor:
    """The convolution of :func:`conv2d_loops`, vectorized: im2col and one matrix product.

    1. Check the operands and get the output shape (:func:`conv2d_output_shape`).
    2. Pad (:func:`pad2d`) and take the windows (:func:`sliding_windows`), a view
       (N, C, H_out, W_out, k, k).
    3. im2col: transpose the view to (N, C, k, k, H_out, W_out) and make it contiguous
       (``np.ascontiguousarray``: the one copy), then reshape to ``cols`` (N, C*k*k, L),
       ``L = H_out * W_out``. Column ``l`` of ``cols[n]`` is window ``l`` of image ``n``,
       flattened in the order of ``weight[o].ravel()``.
    4. ``weight.reshape(O, C*k*k) @ cols``: one batched matrix product, (N, O, L), already
       in NCHW order after a reshape (no transpose, no copy). Add the bias as ``(O, 1)``.
    5. Return the output Tensor with :func:`record`, :class:`Conv2dBackward`, the inputs
       ``(x, weight)`` or ``(x, weight, bias)``, and ``cols``, ``stride``, ``padding``.

    Why this layout: on one core it measured fastest on both benchmark layers, ahead of
    ``np.tensordot``, ``np.einsum`` and one big (O, C*k*k) @ (C*k*k, N*L) product, and its
    result needs no transpose. ``cols`` is
    kept for the backward pass (``k * k`` times the input's size): memory traded for the
    time of cutting the windows again.
    """
    # BEGIN SOLUTION
    batch, out_channels, out_height, out_width = conv2d_output_shape(x.shape, weight.shape, stride,
                                                                     padding)
    kernel = weight.shape[-1]
    windows = sliding_windows(pad2d(x.data, padding), kernel, stride)
    cols = np.ascontiguousarray(windows.transpose(0, 1, 4, 5, 2, 3))
    cols = cols.reshape(batch, -1, out_height * out_width)
    out = weight.data.reshape(out_channels, -1) @ cols
    inputs: tuple[Tensor, ...] = (x, weight)
    if bias is not None:
        out += bias.data[:, np.newaxis]
        inputs = (x, weight, bias)
    output = Tensor(out.reshape(batch, out_channels, out_height, out_width))
    return record(output, Conv2dBackward, inputs, cols=cols, stride=stride, padding=padding)
    # END SOLUTION


class Conv2d(Module):
    """A 2-D convolution layer: ``out_channels`` filters of ``in_channels x k x k`` weights.

    ``weight`` has shape ``(out_channels, in_channels, kernel_size, kernel_size)`` and ``bias``
    ``(out_channels,)`` (None with ``bias=False``): float32 Tensors with
    ``requires_grad=True``, assigned in that order. Square kernels; ``stride`` and
    ``padding`` are the same along height and width. ``forward`` is :func:`conv2d`.

    Initialisation: He (Kaiming) uniform, as for ``Linear``: U(-b, b) with
    ``b = sqrt(6 / fan_in)``, where ``fan_in = in_channels * k * k`` is the number of inputs
    each output sums (one window of every input channel). Its variance ``2 / fan_in`` keeps
    the signal's scale through a ReLU, layer after layer. The bias starts at zero.
    ``rng`` is a ``np.random.Generator``, a seed or None, as for ``Linear``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        _require_positive(in_channels=in_channels, out_channels=out_channels,
                          kernel_size=kernel_size, stride=stride)
        if not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"padding must be an integer >= 0, got padding={padding!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        # BEGIN SOLUTION
        generator = np.random.default_rng(rng)
        fan_in = in_channels * kernel_size * kernel_size
        bound = np.sqrt(6.0 / fan_in)
        shape = (out_channels, in_channels, kernel_size, kernel_size)
        self.weight = Tensor(generator.uniform(-bound, bound, size=shape).astype(np.float32),
                             requires_grad=True)
        self.bias = Tensor(np.zeros(out_channels, dtype=np.float32), requires_grad=True) if bias else None
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)
        # END SOLUTION

    def __repr__(self) -> str:
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None})")


# -- pooling --------------------------------------------------------------------------------

class MaxPool2dBackward(Function):
    """The gradient of max pooling goes to the element that was the maximum of its window.

    Arguments ``kernel_size`` and ``stride``; ``self.output`` holds the maxima. Every other
    element of the window did not change the output, so its gradient is 0: spreading the
    gradient over the whole window is the classic mistake.

    Ties (several elements equal to the maximum, common after a ReLU: a window of zeros):
    the FIRST one in the window, in row-major order, takes the whole gradient, as in
    PyTorch. (Kata 05's ``max`` splits ties evenly; one winner per window keeps the gradient
    sparse, and the max is not differentiable at a tie anyway.) Walk the offsets of
    :func:`kernel_offsets` in order, with an array of windows still ``unclaimed``: an element
    wins where it equals the output and its window is unclaimed. With stride < k an element
    can win several windows and receives the sum of their gradients (``+=``, as in col2im).
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        (x,) = self.inputs
        kernel_size, stride = self.arguments["kernel_size"], self.arguments["stride"]
        # BEGIN SOLUTION
        maxima = self.output
        grad_x = np.zeros(x.shape, dtype=grad.dtype)
        unclaimed = np.ones(maxima.shape, dtype=bool)
        for _, _, index in kernel_offsets(kernel_size, stride, *maxima.shape[2:]):
            wins = (x.data[index] == maxima) & unclaimed
            unclaimed &= ~wins
            grad_x[index] += wins * grad
        return (grad_x,)
        # END SOLUTION


def max_pool2d(x: Tensor, kernel_size: int, stride: int | None = None) -> Tensor:
    """The maximum of every ``k x k`` window, moving by ``stride`` (default: ``kernel_size``).

    No padding; the output size follows :func:`pool_output_shape`. Vectorized over the
    ``k * k`` offsets: start from the first offset's slice (a copy) and fold in the others
    with ``np.maximum(..., out=...)``. Record :class:`MaxPool2dBackward` with ``kernel_size``
    and ``stride``.
    """
    # BEGIN SOLUTION
    stride = kernel_size if stride is None else stride
    _, _, out_height, out_width = pool_output_shape(x.shape, kernel_size, stride, "max_pool2d")
    offsets = kernel_offsets(kernel_size, stride, out_height, out_width)
    _, _, first = next(offsets)
    maxima = x.data[first].copy()
    for _, _, index in offsets:
        np.maximum(maxima, x.data[index], out=maxima)
    return record(Tensor(maxima), MaxPool2dBackward, (x,), kernel_size=kernel_size, stride=stride)
    # END SOLUTION


class AvgPool2dBackward(Function):
    """Every element of a window contributed ``1 / k**2`` of its mean: each gets
    ``grad / k**2``, summed over every window it belongs to (arguments ``kernel_size``,
    ``stride``)."""

    def backward(self, grad: np.ndarray) -> Gradients:
        (x,) = self.inputs
        kernel_size, stride = self.arguments["kernel_size"], self.arguments["stride"]
        # BEGIN SOLUTION
        share = grad / (kernel_size * kernel_size)
        grad_x = np.zeros(x.shape, dtype=grad.dtype)
        for _, _, index in kernel_offsets(kernel_size, stride, *grad.shape[2:]):
            grad_x[index] += share
        return (grad_x,)
        # END SOLUTION


def avg_pool2d(x: Tensor, kernel_size: int, stride: int | None = None) -> Tensor:
    """The mean of every ``k x k`` window, moving by ``stride`` (default: ``kernel_size``).

    No padding. The sum of the ``k * k`` offset slices divided by ``k * k``, in the input's
    dtype. Record :class:`AvgPool2dBackward` with ``kernel_size`` and ``stride``.
    """
    # BEGIN SOLUTION
    stride = kernel_size if stride is None else stride
    _, _, out_height, out_width = pool_output_shape(x.shape, kernel_size, stride, "avg_pool2d")
    offsets = kernel_offsets(kernel_size, stride, out_height, out_width)
    _, _, first = next(offsets)
    total = x.data[first].copy()
    for _, _, index in offsets:
        total += x.data[index]
    total /= kernel_size * kernel_size
    return record(Tensor(total), AvgPool2dBackward, (x,), kernel_size=kernel_size, stride=stride)
    # END SOLUTION


class _Pool2d(Module):
    """What both pooling layers share: a window size and a stride (the window by default)."""

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        _require_positive(kernel_size=kernel_size, stride=kernel_size if stride is None else stride)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2d(_Pool2d):
    """Max pooling as a layer: ``MaxPool2d(2)`` halves height and width. No parameters."""

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        return max_pool2d(x, self.kernel_size, self.stride)
        # END SOLUTION


class AvgPool2d(_Pool2d):
    """Average pooling as a layer. No parameters."""

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        return avg_pool2d(x, self.kernel_size, self.stride)
        # END SOLUTION


# -- batch normalization --------------------------------------------------------------------

class BatchNorm2dBackward(Function):
    """The closed-form gradient of ``y = gamma * x_hat + beta``; inputs ``(x, gamma, beta)``.

    Arguments: ``normalized`` (``x_hat``, the input's shape), ``inv_std`` (``1 / sqrt(var +
    eps)``, shape (1, C, 1, 1)) and ``batch_statistics`` (True in training). Sums and means
    run over the axes (0, 2, 3), i.e. over the ``m = N * H * W`` values of each channel:

    - ``d beta = sum(grad)`` and ``d gamma = sum(grad * x_hat)``, shape (C,);
    - with running statistics (evaluation) the mean and variance are constants:
      ``dx = grad * gamma * inv_std``;
    - with batch statistics (training) the mean and the variance depend on every ``x`` of the
      channel too, and differentiating through both leaves::

          dx = gamma * inv_std * (grad - mean(grad) - x_hat * mean(grad * x_hat))

      Each gradient loses its channel's mean and its component along ``x_hat``: the
      normalized output cannot move its own mean or scale.
    """

    def backward(self, grad: np.ndarray) -> Gradients:
        gamma = self.inputs[1]
        normalized, inv_std = self.arguments["normalized"], self.arguments["inv_std"]
        batch_statistics = self.arguments["batch_statistics"]
        # BEGIN SOLUTION
        axes = (0, 2, 3)
        grad_beta = grad.sum(axis=axes)
        grad_gamma = (grad * normalized).sum(axis=axes)
        scale = gamma.data.astype(grad.dtype).reshape(1, -1, 1, 1) * inv_std
        if not batch_statistics:
            return grad * scale, grad_gamma, grad_beta
        count = grad.size // grad.shape[1]
        centred = grad - (grad_beta / count).reshape(1, -1, 1, 1)
        grad_x = scale * (centred - normalized * (grad_gamma / count).reshape(1, -1, 1, 1))
        return grad_x, grad_gamma, grad_beta
        # END SOLUTION


class BatchNorm2d(Module):
    """Normalize each channel over the batch and the image, then scale and shift it.

    For channel ``c``, over its ``m = N * H * W`` values::

        x_hat = (x - mean) / sqrt(var + eps)        y = weight[c] * x_hat + bias[c]

    ``weight`` (gamma, ones) and ``bias`` (beta, zeros) are float32 parameters of shape
    ``(num_features,)``. ``running_mean`` (zeros) and ``running_var`` (ones) are float32
    buffers (kata 03's ``register_buffer``), state but not parameters: no gradient, no
    optimizer, but saved in ``state_dict()`` and checkpoints.

    - **Training** (``self.training``): ``mean`` and ``var`` are the batch's, over the axes
      (0, 2, 3); ``var`` is the biased one (divide by ``m``), the variance of the values
      actually normalized. Then update, in place::

          running_mean = (1 - momentum) * running_mean + momentum * mean
          running_var  = (1 - momentum) * running_var  + momentum * var * m / (m - 1)

      The running variance uses the UNBIASED estimate (divide by ``m - 1``), like PyTorch:
      it estimates the variance of the whole data set from a sample. With ``m == 1`` there
      is no variance to estimate: raise ``ValueError``.
    - **Evaluation**: normalize with ``running_mean`` and ``running_var`` and leave them
      alone, so a prediction never depends on the other images of its batch.

    Errors: a non-4-D input and a channel count other than ``num_features`` raise
    ``ValueError`` naming the shape (and both channel counts). ``forward`` computes with
    NumPy in the input's dtype and records :class:`BatchNorm2dBackward`.
    """

    running_mean: np.ndarray
    running_var: np.ndarray

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        _require_positive(num_features=num_features)
        self.num_features, self.momentum, self.eps = num_features, momentum, eps
        self.weight = Tensor(np.ones(num_features, dtype=np.float32), requires_grad=True)
        self.bias = Tensor(np.zeros(num_features, dtype=np.float32), requires_grad=True)
        self.register_buffer("running_mean", np.zeros(num_features, dtype=np.float32))
        self.register_buffer("running_var", np.ones(num_features, dtype=np.float32))

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        require_images(x.shape, repr(self))
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self!r} expects {self.num_features} channels, got an input with "
                             f"{x.shape[1]} channels (shape {x.shape})")
        axes = (0, 2, 3)
        if self.training:
            count = x.size // self.num_features
            if count < 2:
                raise ValueError(f"{self!r} in training needs more than one value per channel to "
                                 f"estimate a variance, got an input of shape {x.shape}")
            mean = x.data.mean(axis=axes)
            var = x.data.var(axis=axes)
            self.running_mean *= 1 - self.momentum
            self.running_mean += self.momentum * mean
            self.running_var *= 1 - self.momentum
            self.running_var += self.momentum * var * (count / (count - 1))
        else:
            mean, var = self.running_mean, self.running_var
        dtype = x.dtype
        inv_std = (1.0 / np.sqrt(var.astype(dtype) + self.eps)).reshape(1, -1, 1, 1)
        normalized = (x.data - mean.astype(dtype).reshape(1, -1, 1, 1)) * inv_std
        out = (normalized * self.weight.data.astype(dtype).reshape(1, -1, 1, 1)
               + self.bias.data.astype(dtype).reshape(1, -1, 1, 1))
        return record(Tensor(out), BatchNorm2dBackward, (x, self.weight, self.bias),
                      normalized=normalized, inv_std=inv_std, batch_statistics=self.training)
        # END SOLUTION

    def __repr__(self) -> str:
        return f"BatchNorm2d({self.num_features}, momentum={self.momentum}, eps={self.eps})"


# -- from feature maps to vectors -----------------------------------------------------------

class Flatten(Module):
    """``(N, C, H, W)`` (or any ``(N, ...)``) to ``(N, C * H * W)``, the input a ``Linear`` takes.

    A reshape of the Tensor (kata 01), so autograd already knows its gradient. Keeps the
    batch axis; an input with fewer than 2 dimensions raises ``ValueError`` naming its shape.
    """

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        if x.ndim < 2:
            raise ValueError(f"Flatten expects an input (N, ...) with at least 2 dimensions, got "
                             f"shape {x.shape}")
        return x.reshape(x.shape[0], -1)
        # END SOLUTION

    def __repr__(self) -> str:
        return "Flatten()"
