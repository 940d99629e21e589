"""Kata 15: quantization, storing a trained model's weights in 8 bits instead of 32.

A float32 weight takes 4 bytes. Most of those bits are precision the model does not need
once it is trained: replace every weight by one of 256 evenly spaced levels and the
model's answers barely change, in a quarter of the memory.

**Affine (asymmetric) INT8.** A real number ``x`` is stored as an integer ``q`` in
[-128, 127] with two numbers shared by many elements, a ``scale`` (a float32 step between
levels) and a ``zero_point`` (the integer that stands for the real 0)::

    q = clip(round(x / scale) + zero_point, -128, 127)      quantize
    x ~ scale * (q - zero_point)                            dequantize

To cover a range ``[lo, hi]`` with the 256 levels, first extend the range to include 0
(``lo = min(lo, 0)``, ``hi = max(hi, 0)``), then::

    scale      = (hi - lo) / 255
    zero_point = -128 - round(lo / scale)

so ``lo`` lands on -128, ``hi`` on (about) 127, and the real 0 on the integer
``zero_point`` EXACTLY. That matters: zeros are everywhere in a network (ReLU outputs,
zero padding of a convolution, pruned weights), and a 0 that came back as 0.003 would put
a small bias into every one of them. Because ``zero_point`` is rounded, ``hi`` may fall
half a step beyond 127: the clip is not optional. A constant range (``lo == hi``) has
``hi - lo = 0`` after the extension only when it is all zeros: then ``scale = 1`` (any
positive scale represents 0 exactly) and nothing divides by zero.

Rounding is ``np.round`` (to the nearest integer, ties to even), never ``astype(int)``,
which truncates towards zero and makes every error one-sided. The arithmetic runs in
float64 with the float32 ``scale`` that is stored, so quantizing is reproducible to the bit.

**Granularity.** Per-tensor: one (scale, zero_point) for the whole array, shape ``()``.
Per-channel (``axis=k``): one pair per index along axis ``k``, shape ``(C,)``, from the
minimum and maximum over all the OTHER axes. A layer's output channels can have ranges a
hundred times apart; one shared scale would leave the small ones only a few levels.
Weights are quantized per output channel: axis 1 of a ``Linear`` weight (stored
``(in_features, out_features)``), axis 0 of a ``Conv2d`` weight ``(O, C, k, k)``.
Activations are quantized per tensor.

**Integer arithmetic.** A quantized layer does its multiply-adds on integers. For a Linear
with input ``x ~ sx * (qx - zx)`` and weights ``W ~ sw * (qw - zw)`` (``sw``, ``zw`` one
per output column)::

    y[:, j] = sx * sw[j] * sum_i (qx[:, i] - zx) * (qw[i, j] - zw[j]) + bias[j]

The sum is a product of integer matrices; int8 hardware accumulates it in int32 (each
term is at most 255 * 255, so 33,000 inputs fit) and applies the float scales once per
output. NumPy has no int8 (or int32) BLAS: an int32 ``np.matmul`` runs tens of times
slower than float32. We hold the integers in float64 instead, where every product and
every partial sum below 2**53 is exact, so BLAS computes the integer result exactly.

**Activations: static or dynamic.** The weights are known in advance; the inputs of each
layer are not. *Dynamic* quantization computes ``sx`` and ``zx`` from every input batch's
own minimum and maximum (always in range, but it costs a pass over the input and makes a
sample's output depend slightly on its batch mates). *Static* quantization fixes them once
from calibration data run through the float model (:class:`RangeObserver` records each
layer's input range); inputs outside that range are clipped.

What is measured in this kata: the model's bytes (int8 weights plus their scales and zero
points against float32), the accuracy lost on TinyDigits, and the time: slower here,
because NumPy emulates what int8 hardware does natively.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.autograd import no_grad
from ..core.tensor import Tensor
from ..nn.layers import Linear, Module, Sequential
from ..nn.spatial import Conv2d, conv2d

QMIN, QMAX = -128, 127  # the int8 range
LEVELS = QMAX - QMIN  # 255 steps between the smallest and the largest level

ArrayLike = np.ndarray | Tensor
Range = tuple[float, float]


def along_axis(values: np.ndarray, axis: int | None, ndim: int) -> np.ndarray:
    """Reshape per-channel ``values`` (C,) to broadcast along ``axis`` of an ``ndim``-D array.

    ``along_axis(scale, 1, 2)`` has shape (1, C): one value per column. With ``axis=None``
    (per-tensor), ``values`` is a scalar array and is returned as it is.
    """
    if axis is None:
        return values
    shape = [1] * ndim
    shape[axis] = -1
    return values.reshape(shape)


@dataclass
class QuantizedTensor:
    """An int8 array and the parameters that turn it back into real numbers.

    - ``data``: the int8 values ``q``, the array's own shape;
    - ``scale``: float32, shape ``()`` (per-tensor) or ``(C,)`` with ``C = data.shape[axis]``;
    - ``zero_point``: int32, the shape of ``scale`` (int32 rather than int8 so that
      ``q - zero_point`` never overflows; the 4 bytes per channel are counted in ``nbytes``);
    - ``axis``: ``None`` for per-tensor, else the channel axis (never negative).

    The constructor converts ``scale`` and ``zero_point`` to float32 and int32 arrays and
    checks every shape, so a wrong axis is a ``ValueError`` here and not a silent broadcast.
    """

    data: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.data, np.ndarray) or self.data.dtype != np.int8:
            raise TypeError(f"QuantizedTensor data must be an int8 array, got "
                            f"{getattr(self.data, 'dtype', type(self.data).__name__)}")
        self.scale = np.asarray(self.scale, dtype=np.float32)
        self.zero_point = np.asarray(self.zero_point, dtype=np.int32)
        if self.axis is None:
            expected: tuple[int, ...] = ()
        elif 0 <= self.axis < self.data.ndim:
            expected = (self.data.shape[self.axis],)
        else:
            raise ValueError(f"axis={self.axis} is not an axis of data of shape {self.data.shape}")
        if self.scale.shape != expected or self.zero_point.shape != expected:
            raise ValueError(f"data of shape {self.data.shape} quantized with axis={self.axis} needs "
                             f"scale and zero_point of shape {expected}, got {self.scale.shape} and "
                             f"{self.zero_point.shape}")

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    def integer_values(self) -> np.ndarray:
        """``q - zero_point`` as float64: the exact integer each element stands for.

        Broadcast the zero points along ``axis`` (:func:`along_axis`). The values lie in
        [-255, 255]; float64 holds them, their products and sums exactly.
        """
        raise NotImplementedError("QuantizedTensor.integer_values: not implemented yet (kata 15 Quantization)")

    def dequantize(self) -> np.ndarray:
        """``scale * (q - zero_point)`` as float32, each channel with its own scale."""
        raise NotImplementedError("QuantizedTensor.dequantize: not implemented yet (kata 15 Quantization)")

    @property
    def nbytes(self) -> int:
        """The bytes stored: ``data.nbytes + scale.nbytes + zero_point.nbytes``."""
        raise NotImplementedError("QuantizedTensor.nbytes: not implemented yet (kata 15 Quantization)")


def quantization_params(minimum: np.ndarray | float,
                        maximum: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, zero_point)`` mapping ``[minimum, maximum]`` onto [-128, 127], elementwise.

    Works on scalars (per-tensor) and on arrays of per-channel minima and maxima alike:
    every step is a NumPy operation, never a loop.

    1. In float64, extend the range to contain 0: ``lo = min(minimum, 0)``,
       ``hi = max(maximum, 0)``.
    2. ``scale = (hi - lo) / 255``, or 1.0 where ``hi == lo`` (the all-zero range), cast to
       float32: the scale that will be stored.
    3. ``zero_point = -128 - round(lo / scale)`` with that float32 scale, clipped to
       [-128, 127] and cast to int32.

    Returns NumPy arrays of the inputs' broadcast shape, 0-d arrays for scalars (NumPy
    turns a 0-d result into a scalar such as ``np.int32(5)``: ``np.asarray`` it back). Raise
    ``ValueError`` if a bound is not finite or a minimum exceeds its maximum, naming the
    values.
    """
    raise NotImplementedError("quantization_params: not implemented yet (kata 15 Quantization)")


def quantize(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray,
             axis: int | None = None) -> np.ndarray:
    """``clip(round(x / scale) + zero_point, -128, 127)`` as an int8 array.

    ``scale`` and ``zero_point`` are scalars, or per-channel arrays broadcast along ``axis``
    (:func:`along_axis`). Compute in float64 (``x``, and the float32 scale, cast up), round
    with ``np.round``, clip BEFORE casting: ``np.int8(200)`` is not 127, it wraps to -56.
    """
    raise NotImplementedError("quantize: not implemented yet (kata 15 Quantization)")


def quantize_tensor(x: ArrayLike, axis: int | None = None) -> QuantizedTensor:
    """Quantize ``x`` (a Tensor or an array) with parameters fitted to its own range.

    ``axis=None``: one scale and zero point from ``x.min()`` and ``x.max()``. ``axis=k``
    (negative counts from the end, and is stored as the positive axis): per channel, the
    minimum and maximum of each index along ``k``, reduced over every other axis; e.g. for a
    (in, out) Linear weight, ``axis=1`` gives one pair per output column.

    Raise ``ValueError`` for an empty array, for values that are not finite (say how many)
    and for an axis the array does not have (naming the axis and the shape).
    """
    raise NotImplementedError("quantize_tensor: not implemented yet (kata 15 Quantization)")


# -- quantized layers -----------------------------------------------------------------------

class QuantizedLayer(Module):
    """What ``QuantizedLinear`` and ``QuantizedConv2d`` share: int8 weights, a float32 bias,
    and the input's quantization (static or dynamic).

    ``input_range=None`` makes the layer *dynamic*: each input batch is quantized with
    parameters from its own minimum and maximum. ``input_range=(lo, hi)`` makes it
    *static*: ``input_scale`` and ``input_zero_point`` come from
    ``quantization_params(lo, hi)`` once, here, and every input is quantized with them.

    Nothing here is a parameter (no ``requires_grad``): a quantized model is for inference.
    Every array is a buffer (kata 03's ``register_buffer``): ``weight_data`` (int8),
    ``weight_scale`` and ``weight_zero_point`` (the very arrays of ``weight``, not copies),
    ``bias`` and, when static, ``input_scale`` and ``input_zero_point``. So ``state_dict()``
    and kata 07's ``save_checkpoint`` store the int8 weights as they are, one byte each.
    """

    def __init__(self, weight: QuantizedTensor, bias: np.ndarray | None,
                 input_range: Range | None = None) -> None:
        super().__init__()
        self.weight = weight
        self.register_buffer("weight_data", weight.data)
        self.register_buffer("weight_scale", weight.scale)
        self.register_buffer("weight_zero_point", weight.zero_point)
        self.bias: np.ndarray | None = None
        if bias is not None:
            self.register_buffer("bias", np.array(bias, dtype=np.float32))
        self.input_scale: np.ndarray | None = None
        self.input_zero_point: np.ndarray | None = None
        if input_range is not None:
            scale, zero_point = quantization_params(*input_range)
            self.register_buffer("input_scale", scale)
            self.register_buffer("input_zero_point", zero_point)

    @property
    def static(self) -> bool:
        return self.input_scale is not None

    def integer_input(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Quantize the input ``x``; return ``(qx - zx as float64, sx)``.

        Static: ``sx, zx`` are ``input_scale, input_zero_point``. Dynamic:
        ``quantization_params(x.min(), x.max())`` of this very input. Then
        ``qx = quantize(x, sx, zx)`` (per tensor) and the exact integers ``qx - zx``.
        """
        raise NotImplementedError("QuantizedLayer.integer_input: not implemented yet (kata 15 Quantization)")

    def _mode(self) -> str:
        return "static" if self.static else "dynamic"


class QuantizedLinear(QuantizedLayer):
    """A ``Linear`` with int8 weights: ``y = x @ W + bias`` in integer arithmetic.

    ``weight`` is quantized per tensor or per output column (``axis=1`` of the
    ``(in_features, out_features)`` weight); any other axis is a ``ValueError``.
    """

    def __init__(self, weight: QuantizedTensor, bias: np.ndarray | None = None,
                 input_range: Range | None = None) -> None:
        if weight.data.ndim != 2 or weight.axis not in (None, 1):
            raise ValueError(f"QuantizedLinear needs a 2-D (in_features, out_features) weight quantized "
                             f"per tensor or per output column (axis=1), got shape {weight.shape} "
                             f"with axis={weight.axis}")
        super().__init__(weight, bias, input_range)
        self.in_features, self.out_features = weight.shape

    @classmethod
    def from_float(cls, linear: Linear, input_range: Range | None = None) -> QuantizedLinear:
        """Quantize a float ``Linear``: its weight per output column, its bias kept as float32.

        ``input_range`` as in :class:`QuantizedLayer` (None: dynamic).
        """
        raise NotImplementedError("QuantizedLinear.from_float: not implemented yet (kata 15 Quantization)")

    def forward(self, x: Tensor) -> Tensor:
        """``sx * sw * ((qx - zx) @ (qw - zw)) + bias`` as a float32 Tensor.

        ``x`` has shape ``(..., in_features)`` (else ``ValueError`` naming the shape and
        ``in_features``, as ``Linear`` does). The product is one matrix product of the exact
        integers (:meth:`integer_input`, :meth:`QuantizedTensor.integer_values`); the scales
        (``sw`` one per output column) multiply its result once.
        """
        raise NotImplementedError("QuantizedLinear.forward: not implemented yet (kata 15 Quantization)")

    def __repr__(self) -> str:
        return (f"QuantizedLinear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, {self._mode()})")


class QuantizedConv2d(QuantizedLayer):
    """A ``Conv2d`` with int8 weights, quantized per tensor or per output channel (``axis=0``
    of the ``(O, C, k, k)`` weight)."""

    def __init__(self, weight: QuantizedTensor, bias: np.ndarray | None = None, stride: int = 1,
                 padding: int = 0, input_range: Range | None = None) -> None:
        if weight.data.ndim != 4 or weight.axis not in (None, 0):
            raise ValueError(f"QuantizedConv2d needs a 4-D (O, C, k, k) weight quantized per tensor "
                             f"or per output channel (axis=0), got shape {weight.shape} with "
                             f"axis={weight.axis}")
        super().__init__(weight, bias, input_range)
        self.out_channels, self.in_channels, self.kernel_size, _ = weight.shape
        self.stride, self.padding = stride, padding

    @classmethod
    def from_float(cls, conv: Conv2d, input_range: Range | None = None) -> QuantizedConv2d:
        """Quantize a float ``Conv2d``: weight per output channel, bias kept, same stride and
        padding."""
        raise NotImplementedError("QuantizedConv2d.from_float: not implemented yet (kata 15 Quantization)")

    def forward(self, x: Tensor) -> Tensor:
        """Kata 09's :func:`conv2d` on the exact integers, then one scale per output channel.

        Call ``conv2d(Tensor(qx - zx), Tensor(qw - zw), None, stride, padding)``: its zero
        padding is a 0 among the integers ``q - zx``, i.e. ``q == zx``, the real 0. (Padding
        ``qx`` itself with 0 would pad with the real number ``-sx * zx``.) Then multiply
        channel ``o`` by ``sx * sw[o]`` and add the bias, as float32 (N, O, H_out, W_out).
        """
        raise NotImplementedError("QuantizedConv2d.forward: not implemented yet (kata 15 Quantization)")

    def __repr__(self) -> str:
        return (f"QuantizedConv2d({self.in_channels}, {self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"bias={self.bias is not None}, {self._mode()})")


def quantize_layer(layer: Linear | Conv2d, input_range: Range | None = None) -> QuantizedLayer:
    """``QuantizedLinear.from_float`` or ``QuantizedConv2d.from_float``, by the layer's type.

    Anything else is a ``TypeError`` naming its type.
    """
    raise NotImplementedError("quantize_layer: not implemented yet (kata 15 Quantization)")


# -- whole models ---------------------------------------------------------------------------

class RangeObserver(Module):
    """Wraps a float layer during calibration and records the range of its inputs.

    ``forward(x)`` widens ``minimum`` and ``maximum`` (Python floats, None before the first
    call) to include ``x.min()`` and ``x.max()``, then returns ``layer(x)`` unchanged: the
    float model computes exactly as before, and after the last calibration batch the range
    covers EVERY batch, not just the last one. :meth:`convert` turns it into the static
    quantized layer.
    """

    def __init__(self, layer: Linear | Conv2d) -> None:
        super().__init__()
        self.layer = layer
        self.minimum: float | None = None
        self.maximum: float | None = None

    def forward(self, x: Tensor) -> Tensor:
        """Widen ``[minimum, maximum]`` to cover ``x``; return ``layer(x)``."""
        raise NotImplementedError("RangeObserver.forward: not implemented yet (kata 15 Quantization)")

    def convert(self) -> QuantizedLayer:
        """:func:`quantize_layer` with the observed ``(minimum, maximum)`` as input range.

        ``ValueError`` naming the layer if it never saw an input (the calibration data
        never reached it).
        """
        raise NotImplementedError("RangeObserver.convert: not implemented yet (kata 15 Quantization)")

    def __repr__(self) -> str:
        return f"RangeObserver({self.layer!r}, minimum={self.minimum}, maximum={self.maximum})"


def swap_layers(model: Module, types: tuple[type, ...], make: Callable[[Any], Module]) -> None:
    """Replace, in place, every sub-module of ``model`` that is an instance of ``types`` by
    ``make(sub_module)``.

    A sub-module is found wherever it is registered: as an attribute (``self.head``) or as a
    step of a ``Sequential`` (registered as ``"0"``, ``"1"``, ...; the ``steps`` tuple, which
    ``Sequential.forward`` runs, is rebuilt to match). ``model`` itself is never replaced,
    and the new modules are not searched: a wrapper's inner layer is not wrapped again.
    """
    for _, parent in list(model.named_modules()):
        for name, child in list(vars(parent).items()):
            if isinstance(child, types):
                setattr(parent, name, make(child))
        if isinstance(parent, Sequential):
            parent.steps = tuple(getattr(parent, str(index), step)
                                 for index, step in enumerate(parent.steps))


def calibration_batches(data: ArrayLike | Iterable[ArrayLike]) -> list[Tensor]:
    """One Tensor or array (a single batch), or an iterable of them, as a list of Tensors.

    ``ValueError`` if there is no batch at all.
    """
    if isinstance(data, (Tensor, np.ndarray)):
        data = [data]
    batches = [batch if isinstance(batch, Tensor) else Tensor(batch) for batch in data]
    if not batches:
        raise ValueError("calibration_data holds no batch: give a Tensor, an array or a non-empty "
                         "list of them")
    return batches


def quantize_model(model: Module,
                   calibration_data: ArrayLike | Iterable[ArrayLike] | None = None) -> Module:
    """A quantized copy of ``model``: every ``Linear`` and ``Conv2d`` becomes int8.

    ``model`` itself is not changed (work on ``copy.deepcopy(model)``); a lone layer works too.
    Put the copy in a ``Sequential`` of one step, so that even a lone layer has a container
    :func:`swap_layers` can replace it in, and in ``eval()`` mode (Dropout off, BatchNorm on
    its running statistics, never updated by calibration). The result is ``holder[0]``.

    - ``calibration_data`` None: *dynamic*, every layer becomes ``quantize_layer(layer)``.
    - Otherwise *static*: wrap every layer in a :class:`RangeObserver`, run the copy on each
      batch of :func:`calibration_batches` under ``no_grad()``, then replace every observer
      by ``observer.convert()``.
    """
    raise NotImplementedError("quantize_model: not implemented yet (kata 15 Quantization)")


def stored_arrays(value: object) -> list[np.ndarray]:
    """The NumPy arrays behind an attribute: a Tensor's ``data``, an array itself, the three
    arrays of a :class:`QuantizedTensor`; nothing for anything else."""
    if isinstance(value, Tensor):
        return [value.data]
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, QuantizedTensor):
        return [value.data, value.scale, value.zero_point]
    return []


def model_bytes(model: Module) -> int:
    """The bytes of every array a model stores, each array counted once.

    Walk ``model.named_modules()`` and, for every attribute of every module
    (``vars(module)``), add the ``nbytes`` of its :func:`stored_arrays`: parameters,
    buffers (BatchNorm's running statistics, a quantized layer's int8 weights, scales, zero
    points, bias and static input parameters). The same array is often reached twice (a
    quantized layer's ``weight.data`` is also its buffer ``weight_data``; a tied weight
    belongs to two layers): count it once, by ``id``.
    """
    raise NotImplementedError("model_bytes: not implemented yet (kata 15 Quantization)")
