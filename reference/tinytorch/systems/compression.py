"""Kata 16: compression, making a trained model smaller without making it much worse.

A trained network is mostly redundant: many weights are close to zero, many neurons do
little, the weight matrices are close to matrices of low rank, and a small network can
learn to imitate a big one. Each redundancy gives a way to shrink the model:

==========================  =====================================  ==========================
technique                   what it removes                        what actually gets smaller
==========================  =====================================  ==========================
global magnitude pruning    the individual weights closest to 0    bytes, once stored sparse
structured pruning          whole neurons / channels               bytes AND time: smaller layers
sparse storage              the zeros pruning left behind          bytes on disk / over the wire
quantization (kata 15)      bits per kept weight: 32 -> 8          bytes
low-rank factorization      the small singular values of W         parameters and multiply-adds
knowledge distillation      the big model itself                   everything: a smaller student
==========================  =====================================  ==========================

**Unstructured pruning** (Han et al., 2015) sets the weights with the smallest magnitude
to zero. One threshold for the whole model (*global* pruning) rather than one per layer:
layers are not equally redundant. The 100,352 weights from 784 pixels into a hidden layer
hold far more dead weight (pixels at the border are always 0) than the 1,280 weights that
produce the 10 class scores, and a per-layer rule that cuts 90 % of each would cripple
the small, vital layer to spare the big, redundant one. Pruning concerns the *weights*
(parameters with 2 or more dimensions); biases and normalization gains are a tiny share
of the parameters and each one shifts or scales a whole neuron, so they are kept.

Pruning costs accuracy, and a little **fine-tuning** wins most of it back, provided the
pruned weights STAY zero: gradients reach them like any other weight, and momentum or
Adam state from before pruning would move them even with a zero gradient. The masks are
applied to the gradients before every step and to the weights after it.

A zero in a dense float32 array still takes 4 bytes and still costs a multiply-add:
unstructured sparsity saves nothing until it is **stored sparse**. Here with a bitmask,
one bit per element saying "non-zero here", plus the non-zero values packed in order::

    bytes = ceil(n / 8) + nnz * bytes_per_value           (dense: n * 4)

At 90 % sparsity that is 0.125 n + 0.4 n = 0.525 n bytes, 7.6 times less than float32;
with the kept values quantized to int8 (kata 15), 0.125 n + 0.1 n, 17.8 times less.
(CSR stores a column index per non-zero instead of the bitmask, plus one row pointer
per row: for a 784x128 weight with 2-byte indices it is the smaller format above about
95 % sparsity, where the bitmask's fixed bit per element dominates.)

**Structured pruning** removes whole output units: a column of a Linear weight (a
neuron) or a filter of a Conv2d (a channel), ranked by the L1 norm of their weights (Li
et al., 2017). The next layer loses the matching inputs, and both layers really become
smaller dense layers: fewer bytes and fewer FLOPs on any hardware, no sparse kernel needed.

**Low-rank factorization** replaces ``W`` (in x out) by the product of two thin matrices
``A`` (in x r) and ``B`` (r x out), taken from the truncated singular value decomposition
``W = U diag(s) V^T``. By the Eckart-Young theorem it is the best rank-r approximation,
and its error is exactly what the dropped singular values hold::

    ||W - A B||_F = sqrt(s[r]**2 + s[r+1]**2 + ...)           (s sorted, largest first)

It saves parameters while ``r * (in + out) < in * out``.

**Knowledge distillation** (Hinton et al., 2015) trains a small student to match a
teacher's output distribution softened by a temperature ``T``: ``softmax(logits / T)``
at ``T = 4`` shows which wrong classes the teacher finds plausible (a 3 that looks like an
8), information a one-hot label does not carry. The soft-target loss is::

    T**2 * mean over the batch of KL(p_teacher || p_student),  p = softmax(logits / T)

Its gradient with respect to the student's logits is ``T * (p_student - p_teacher) / N``;
since ``p_student - p_teacher`` shrinks like ``1 / T`` as the distributions flatten, the
``T**2`` keeps the gradient's size independent of ``T``, so the soft loss and the ordinary
cross-entropy on the labels can be mixed with a weight ``alpha`` whatever ``T`` is.

Why one long file: it is all of kata 16's code, and a kata's tests, its stub and its
reference are found from one another by name; its sections follow the kata's test files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.activations import LogSoftmax
from ..core.autograd import no_grad
from ..core.tensor import Tensor
from ..nn.layers import Linear, Module, Sequential
from ..nn.losses import CrossEntropyLoss
from ..nn.spatial import Conv2d
from ..optim.optimizers import Optimizer
from ..training import Batch, EpochStats, LossFunction, LRSchedule, Trainer
from ..untrusted import MAX_NPZ_BYTES, FileFormatError, check_real, read_npz
from .quantization import QMAX, QMIN, QuantizedTensor, quantize_tensor

Masks = dict[str, np.ndarray]
PrunableLayer = Linear | Conv2d


# -- global magnitude pruning -----------------------------------------------------------------

def prunable_parameters(model: Module) -> dict[str, Tensor]:
    """The weights pruning works on: ``{name: parameter}`` for every parameter with 2 or
    more dimensions (Linear and Conv2d weights, embedding tables), in the order of
    ``model.named_parameters()``. Biases and normalization gains (1-D) are left alone."""
    return {name: parameter for name, parameter in model.named_parameters() if parameter.ndim >= 2}


def global_magnitude_masks(model: Module, sparsity: float) -> Masks:
    """Keep-masks that prune the ``sparsity`` fraction of all weights with the smallest |w|.

    All prunable weights (:func:`prunable_parameters`) compete for survival together: lay
    their magnitudes out as one long vector of ``n`` values, and prune the
    ``k = round(sparsity * n)`` smallest, whatever layer they sit in. Ties are broken by
    position in that vector (a stable sort): the earlier element goes first. Weights that
    are already 0 are the smallest of all, so pruning twice to the same sparsity prunes
    nothing new.

    Returns ``{name: keep}``, one boolean array per prunable weight with that weight's
    shape, True where the weight survives. The model is not changed (:func:`apply_masks`
    does that). ``sparsity`` must be in [0, 1): ``ValueError`` naming it otherwise.
    """
    # BEGIN SOLUTION
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got sparsity={sparsity}")
    weights = prunable_parameters(model)
    magnitudes = np.concatenate([np.abs(weight.data).ravel() for weight in weights.values()])
    pruned = np.argsort(magnitudes, kind="stable")[:round(sparsity * magnitudes.size)]
    keep = np.ones(magnitudes.size, dtype=bool)
    keep[pruned] = False
    masks, start = {}, 0
    for name, weight in weights.items():
        masks[name] = keep[start:start + weight.size].reshape(weight.shape)
        start += weight.size
    return masks
    # END SOLUTION


def apply_masks(model: Module, masks: Masks) -> None:
    """Zero, in place, every weight whose mask entry is False.

    ``masks`` maps parameter names to boolean arrays of the parameter's shape. Check every
    entry before changing anything: a name that is not a parameter of ``model``, or a mask
    whose shape differs from its parameter's, is a ``ValueError`` naming the parameter and
    both shapes. Multiply in place (``data *= keep``): the parameters stay the same arrays
    the optimizer holds.
    """
    # BEGIN SOLUTION
    parameters = dict(model.named_parameters())
    for name, keep in masks.items():
        if name not in parameters:
            raise ValueError(f"mask for {name!r}, which is not a parameter of the model "
                             f"(it has {list(parameters)})")
        if np.shape(keep) != parameters[name].shape:
            raise ValueError(f"the mask for {name!r} has shape {np.shape(keep)}, the parameter "
                             f"has shape {parameters[name].shape}")
    for name, keep in masks.items():
        parameters[name].data *= keep
    # END SOLUTION


def global_magnitude_prune(model: Module, sparsity: float) -> Masks:
    """Prune ``model`` in place to ``sparsity`` with one global threshold; return the masks."""
    masks = global_magnitude_masks(model, sparsity)
    apply_masks(model, masks)
    return masks


def weight_sparsity(model: Module) -> float:
    """The fraction of the prunable weights (:func:`prunable_parameters`) that are exactly 0.

    All weights counted together, each element once: a model with a 1,000-weight layer at
    90 % and a 10-weight layer at 0 % is at 900 / 1,010, not at the mean of 90 % and 0 %.
    """
    # BEGIN SOLUTION
    weights = prunable_parameters(model).values()
    zeros = sum(int(np.count_nonzero(weight.data == 0)) for weight in weights)
    return zeros / sum(weight.size for weight in weights)
    # END SOLUTION


class MaskedTrainer(Trainer):
    """A kata 07 :class:`Trainer` for fine-tuning a pruned model: pruned weights stay 0.

    ``MaskedTrainer(model, loss_fn, optimizer, masks, ...)`` takes the masks of
    :func:`global_magnitude_masks` and applies them at once; the other arguments are the
    Trainer's. Everything else (epochs, evaluation, schedules, clipping, accumulation) is
    the Trainer's own; only :meth:`optimizer_step` changes.
    """

    def __init__(self, model: Module, loss_fn: LossFunction, optimizer: Optimizer, masks: Masks,
                 scheduler: LRSchedule | None = None, max_grad_norm: float | None = None,
                 accumulation_steps: int = 1) -> None:
        super().__init__(model, loss_fn, optimizer, scheduler, max_grad_norm, accumulation_steps)
        apply_masks(model, masks)
        self.masks = masks

    def optimizer_step(self) -> None:
        """The Trainer's step, with the pruned connections kept out of it.

        1. Multiply the gradient of every masked parameter by its mask, in place (a
           parameter without a gradient is skipped): a pruned connection does not exist,
           so it adds nothing to the global norm that clipping computes, and nothing to the
           optimizer's momentum or moment estimates.
        2. The Trainer's own ``optimizer_step()`` (clip, step, zero_grad, schedule).
        3. :func:`apply_masks` again: momentum or Adam moments built up before pruning
           would otherwise move a pruned weight away from 0 even with a zero gradient.
        """
        # BEGIN SOLUTION
        parameters = dict(self.model.named_parameters())
        for name, keep in self.masks.items():
            grad = parameters[name].grad
            if grad is not None:
                grad.data *= keep
        super().optimizer_step()
        apply_masks(self.model, self.masks)
        # END SOLUTION


# -- structured pruning -------------------------------------------------------------------------

def unit_scores(layer: PrunableLayer) -> np.ndarray:
    """The importance of each output unit of ``layer``: the L1 norm of its weights.

    A Linear's weight is ``(in_features, out_features)``: unit ``j`` is column ``j``, so the
    scores are the sums of ``|weight|`` down each column, shape ``(out_features,)``. A
    Conv2d's weight is ``(out_channels, in_channels, k, k)``: channel ``o`` is the filter
    ``weight[o]``, and its score sums ``|weight[o]|`` over its other three axes. Anything
    else is a ``TypeError`` naming its type.
    """
    # BEGIN SOLUTION
    if isinstance(layer, Linear):
        return np.abs(layer.weight.data).sum(axis=0)
    if isinstance(layer, Conv2d):
        return np.abs(layer.weight.data).sum(axis=(1, 2, 3))
    raise TypeError(f"unit_scores works on Linear and Conv2d layers, got {type(layer).__name__}")
    # END SOLUTION


def prune_units(layer: PrunableLayer, next_layer: PrunableLayer,
                keep: int) -> tuple[PrunableLayer, PrunableLayer, np.ndarray]:
    """Remove all but the ``keep`` best output units of ``layer`` and the inputs of
    ``next_layer`` they fed; return ``(smaller_layer, smaller_next_layer, kept)``.

    ``layer`` and ``next_layer`` are two Linear or two Conv2d layers with only
    parameter-free steps between them (ReLU, pooling), so that output unit ``j`` of
    ``layer`` is input ``j`` of ``next_layer``. The units kept are the ``keep`` with the
    highest :func:`unit_scores` (ties: the lower index wins), and ``kept`` lists their
    indices in increasing order: the units keep their relative order.

    The two results are NEW layers of the same kinds and settings (bias or not, stride and
    padding) whose parameters are float32 copies of the kept parts:

    - Linear: ``layer.weight[:, kept]``, ``layer.bias[kept]``, ``next_layer.weight[kept, :]``;
      ``next_layer.bias`` is kept whole (it belongs to the outputs, which do not change).
    - Conv2d: ``layer.weight[kept]``, ``layer.bias[kept]``, ``next_layer.weight[:, kept]``.

    The bias must go with its unit: a removed neuron whose bias survived would still send
    ``relu(bias)`` to the next layer. On any input, the smaller pair computes exactly what
    the original pair computes with the removed units' activations set to 0.

    ``ValueError`` (naming the sizes) if the layers are not of one kind, if ``layer``'s
    outputs are not ``next_layer``'s inputs, or unless ``1 <= keep <= units``.
    """
    # BEGIN SOLUTION
    if type(layer) is not type(next_layer):
        raise ValueError(f"prune_units needs two layers of one kind, got {type(layer).__name__} "
                         f"and {type(next_layer).__name__}")
    scores = unit_scores(layer)
    inputs = next_layer.weight.shape[1] if isinstance(next_layer, Conv2d) else next_layer.weight.shape[0]
    if scores.size != inputs:
        raise ValueError(f"layer has {scores.size} output units but next_layer takes {inputs} inputs")
    if not 1 <= keep <= scores.size:
        raise ValueError(f"keep must be between 1 and the {scores.size} units, got keep={keep}")
    kept = np.sort(np.argsort(-scores, kind="stable")[:keep])
    if isinstance(layer, Conv2d) and isinstance(next_layer, Conv2d):
        small: PrunableLayer = Conv2d(layer.in_channels, keep, layer.kernel_size, layer.stride,
                                      layer.padding, bias=layer.bias is not None)
        small_next: PrunableLayer = Conv2d(keep, next_layer.out_channels, next_layer.kernel_size,
                                           next_layer.stride, next_layer.padding,
                                           bias=next_layer.bias is not None)
        small.weight.data[...] = layer.weight.data[kept]
        small_next.weight.data[...] = next_layer.weight.data[:, kept]
    else:
        small = Linear(layer.weight.shape[0], keep, bias=layer.bias is not None)
        small_next = Linear(keep, next_layer.weight.shape[1], bias=next_layer.bias is not None)
        small.weight.data[...] = layer.weight.data[:, kept]
        small_next.weight.data[...] = next_layer.weight.data[kept, :]
    if layer.bias is not None and small.bias is not None:
        small.bias.data[...] = layer.bias.data[kept]
    if next_layer.bias is not None and small_next.bias is not None:
        small_next.bias.data[...] = next_layer.bias.data
    return small, small_next, kept
    # END SOLUTION


# -- sparse storage -----------------------------------------------------------------------------

@dataclass(frozen=True)
class SparseTensor:
    """A mostly-zero array stored as a bitmask and its packed non-zero values.

    - ``shape``, ``dtype``: the dense array's (metadata: a few bytes, not counted);
    - ``bitmask``: uint8, ``np.packbits`` of ``(dense != 0).ravel()``, ``ceil(size / 8)``
      bytes: bit ``i`` (most significant bit of each byte first) says element ``i`` is
      non-zero;
    - ``values``: the non-zero elements in C order, either an array of the dense dtype or,
      after quantization, a kata 15 :class:`QuantizedTensor` of them.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    bitmask: np.ndarray
    values: np.ndarray | QuantizedTensor

    @property
    def size(self) -> int:
        """Elements of the dense array."""
        return math.prod(self.shape)

    @property
    def nnz(self) -> int:
        """How many elements are stored (non-zero)."""
        return int(self.values.data.size if isinstance(self.values, QuantizedTensor) else self.values.size)

    @property
    def nbytes(self) -> int:
        """The real bytes stored: the bitmask's ``nbytes`` plus the values' ``nbytes``."""
        # BEGIN SOLUTION
        return int(self.bitmask.nbytes + self.values.nbytes)
        # END SOLUTION

    def to_dense(self) -> np.ndarray:
        """The dense array again, of ``shape`` and ``dtype``.

        Unpack the bitmask (``np.unpackbits`` with ``count=size``: the last byte's padding
        bits are not elements), start from zeros and scatter the values (dequantized first,
        if they are a QuantizedTensor) into the positions whose bit is set. Without
        quantization the round trip is exact: ``to_dense(to_sparse(w))`` equals ``w``.
        """
        # BEGIN SOLUTION
        nonzero = np.unpackbits(self.bitmask, count=self.size).astype(bool)
        values = self.values.dequantize() if isinstance(self.values, QuantizedTensor) else self.values
        dense = np.zeros(self.size, dtype=self.dtype)
        dense[nonzero] = values
        return dense.reshape(self.shape)
        # END SOLUTION


def to_sparse(dense: np.ndarray, quantize: bool = False) -> SparseTensor:
    """Store ``dense`` as a :class:`SparseTensor`.

    The bitmask marks the elements ``!= 0``; the values are those elements in C order
    (``dense[dense != 0]``). With ``quantize=True`` the values are quantized to int8 with
    kata 15's ``quantize_tensor`` (one scale for all of them): only the KEPT values, so
    the zeros pruning made stay exactly zero and the int8 range is spent on the weights
    that matter. (An array without a single non-zero has nothing to quantize: its empty
    values array is stored as it is.) ``dense`` must be a floating-point array
    (``TypeError`` naming its dtype otherwise) with at least one element (``ValueError``).
    """
    # BEGIN SOLUTION
    dense = np.asarray(dense)
    if dense.dtype.kind != "f":
        raise TypeError(f"to_sparse stores floating-point weights, got dtype {dense.dtype}")
    if dense.size == 0:
        raise ValueError(f"to_sparse needs at least one element, got shape {dense.shape}")
    nonzero = dense != 0
    values = dense[nonzero]
    stored: np.ndarray | QuantizedTensor = quantize_tensor(values) if quantize and values.size else values
    return SparseTensor(dense.shape, dense.dtype, np.packbits(nonzero.ravel()), stored)
    # END SOLUTION


StoredArray = np.ndarray | SparseTensor


def compress_state_dict(state: dict[str, np.ndarray], quantize: bool = False) -> dict[str, StoredArray]:
    """A ``state_dict()`` (kata 03) ready to be stored: weights sparse, the rest dense.

    Every array with 2 or more dimensions (the weights, as in :func:`prunable_parameters`)
    becomes ``to_sparse(array, quantize)``; biases and other 1-D arrays stay dense copies,
    exact float32: a few hundred bytes that each shift a whole neuron.
    """
    # BEGIN SOLUTION
    return {name: to_sparse(array, quantize) if array.ndim >= 2 else array.copy()
            for name, array in state.items()}
    # END SOLUTION


def decompress_state_dict(stored: dict[str, StoredArray]) -> dict[str, np.ndarray]:
    """The dense arrays again, ready for ``model.load_state_dict``."""
    # BEGIN SOLUTION
    return {name: value.to_dense() if isinstance(value, SparseTensor) else value.copy()
            for name, value in stored.items()}
    # END SOLUTION


def stored_nbytes(stored: dict[str, StoredArray]) -> int:
    """Bytes of a stored state: the sum of every entry's ``nbytes``."""
    return sum(int(value.nbytes) for value in stored.values())


SPARSE_PARTS = ("shape", "dtype", "bitmask", "values")
QUANTIZATION_PARTS = ("scale", "zero_point")
_POPCOUNT = np.array([byte.bit_count() for byte in range(256)], dtype=np.uint8)
MAX_DIMENSIONS = 32  # the most NumPy 1.x arrays can have


def save_compressed(path: str | Path, stored: dict[str, StoredArray]) -> int:
    """Write a stored state (:func:`compress_state_dict`) to ``path``; return the file's bytes.

    An ``.npz`` of plain arrays, never pickle. A sparse entry ``name`` becomes
    ``name/shape``, ``name/dtype``, ``name/bitmask`` and ``name/values`` (plus
    ``name/scale`` and ``name/zero_point`` when the values are int8); a dense entry is
    stored as it is. ``np.savez`` does not compress: the file holds the bytes the arrays
    hold, plus a small header per array, so its size is the honest size of the model.
    A name holding "/" cannot be told apart from those parts: ``ValueError``, before
    the file is opened.
    """
    arrays: dict[str, np.ndarray] = {}
    for name, value in stored.items():
        if "/" in name:
            raise ValueError(f"cannot save entry {name!r}: a name must not contain '/'")
        if not isinstance(value, SparseTensor):
            arrays[name] = value
            continue
        arrays[f"{name}/shape"] = np.array(value.shape, dtype=np.int64)
        arrays[f"{name}/dtype"] = np.array(np.dtype(value.dtype).str)
        arrays[f"{name}/bitmask"] = value.bitmask
        if isinstance(value.values, QuantizedTensor):
            arrays.update({f"{name}/values": value.values.data, f"{name}/scale": value.values.scale,
                           f"{name}/zero_point": value.values.zero_point})
        else:
            arrays[f"{name}/values"] = value.values
    path = Path(path)
    with path.open("wb") as file:
        np.savez(file, **arrays)  # type: ignore[arg-type]
    return path.stat().st_size


def load_compressed(path: str | Path) -> dict[str, StoredArray]:
    """Read what :func:`save_compressed` wrote, checking every entry before building any.

    ``read_npz`` reads the file without pickle and with its sizes capped (an empty,
    truncated or garbled file is one error naming it). Then a dense entry must be real
    numbers, finite if they are floating-point; a sparse entry must have exactly the parts
    :func:`save_compressed` writes, and they must agree: ``shape`` non-negative integers,
    ``dtype`` a floating-point dtype, ``bitmask`` exactly ``ceil(size / 8)`` uint8 bytes
    with no bit set past ``size``, and ``values`` one per set bit, either of ``dtype`` and
    finite or int8 with their ``scale`` (finite, > 0) and ``zero_point`` (in the int8
    range). Int8 values without a scale are refused: read as floats they would be 45
    where 45 * scale was meant. Any problem is a ``FileFormatError`` (a ``ValueError``)
    naming the file and the entry; nothing is returned unless everything fits.
    """
    arrays = read_npz(path)
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, array in arrays.items():
        name, _, part = key.rpartition("/")
        groups.setdefault(name or key, {})[part if name else ""] = array
    stored: dict[str, StoredArray] = {}
    for name, parts in groups.items():
        if "" in parts and len(parts) > 1:
            raise FileFormatError(f"{path}: entry {name!r} is stored both dense and sparse")
        if "" in parts:
            if parts[""].dtype.kind not in "biu":  # integers and booleans are exact as stored
                check_real(path, name, parts[""])
            stored[name] = parts[""]
        else:
            stored[name] = _read_sparse(path, name, parts)
    return stored


def _read_sparse(path: str | Path, name: str, parts: dict[str, np.ndarray]) -> SparseTensor:
    """The :class:`SparseTensor` stored in ``parts``, once every part is known to fit."""
    int8_values = "values" in parts and parts["values"].dtype == np.int8
    quantized = int8_values or any(part in parts for part in QUANTIZATION_PARTS)
    expected = {*SPARSE_PARTS, *(QUANTIZATION_PARTS if quantized else ())}
    if set(parts) != expected:
        raise FileFormatError(f"{path}: sparse entry {name!r} has the parts {sorted(parts)}; missing "
                         f"{sorted(expected - set(parts))}, unexpected "
                         f"{sorted(set(parts) - expected)}"
                         + (" (int8 values need their scale and zero point)" if int8_values else ""))
    shape_array = parts["shape"]
    if shape_array.dtype.kind not in "iu" or shape_array.ndim != 1 \
            or shape_array.size > MAX_DIMENSIONS or (shape_array < 0).any():
        raise FileFormatError(f"{path}: entry '{name}/shape' must be at most {MAX_DIMENSIONS} "
                         f"non-negative integers, got {shape_array!r}")
    shape = tuple(int(n) for n in shape_array)
    dtype = _stored_dtype(path, name, parts["dtype"])
    size = math.prod(shape)
    if size * dtype.itemsize > MAX_NPZ_BYTES:
        raise FileFormatError(f"{path}: sparse entry {name!r} declares shape {shape} of {dtype}, "
                         f"{size * dtype.itemsize:,} bytes dense, more than {MAX_NPZ_BYTES:,}")
    bitmask = parts["bitmask"]
    if bitmask.dtype != np.uint8 or bitmask.shape != (math.ceil(size / 8),):
        raise FileFormatError(f"{path}: entry '{name}/bitmask' is {bitmask.dtype} of shape "
                         f"{bitmask.shape}; shape {shape} needs uint8 of shape "
                         f"({math.ceil(size / 8)},)")
    padding = 8 * bitmask.size - size
    if bitmask.size and bitmask[-1] & ((1 << padding) - 1):
        raise FileFormatError(f"{path}: entry '{name}/bitmask' sets bits past the {size} elements of "
                         f"shape {shape}")
    nnz = int(_POPCOUNT[bitmask].sum(dtype=np.int64))
    values = parts["values"]
    if values.shape != (nnz,):
        raise FileFormatError(f"{path}: entry '{name}/values' has shape {values.shape}; the bitmask "
                         f"marks {nnz} non-zero elements")
    if not quantized:
        if values.dtype != dtype:
            raise FileFormatError(f"{path}: entry '{name}/values' holds {values.dtype}, expected "
                             f"{dtype}")
        check_real(path, f"{name}/values", values)
        return SparseTensor(shape, dtype, bitmask, values)
    scale, zero_point = parts["scale"], parts["zero_point"]
    if not int8_values:
        raise FileFormatError(f"{path}: entry '{name}/values' holds {values.dtype}; quantized values "
                         f"(with a scale) are int8")
    check_real(path, f"{name}/scale", scale, np.dtype(np.float32))
    if scale.shape != () or not 0 < float(scale) <= np.finfo(np.float32).max / (QMAX - QMIN + 1):
        raise FileFormatError(f"{path}: entry '{name}/scale' must be one positive number, got {scale!r}")
    if zero_point.shape != () or zero_point.dtype.kind not in "iu" \
            or not QMIN <= int(zero_point) <= QMAX:
        raise FileFormatError(f"{path}: entry '{name}/zero_point' must be one integer in "
                         f"[{QMIN}, {QMAX}], got {zero_point!r}")
    return SparseTensor(shape, dtype, bitmask, QuantizedTensor(values, scale, zero_point))


def _stored_dtype(path: str | Path, name: str, text: np.ndarray) -> np.dtype:
    """The floating-point dtype named by the 0-d string array ``text``."""
    try:
        dtype = np.dtype(str(text)) if text.dtype.kind == "U" and text.ndim == 0 else None
    except (TypeError, ValueError):
        dtype = None
    if dtype is None or dtype.kind != "f":
        raise FileFormatError(f"{path}: entry '{name}/dtype' must name a floating-point dtype, got "
                         f"{text!r}")
    return dtype


# -- low-rank factorization ---------------------------------------------------------------------

def low_rank_errors(weight: np.ndarray) -> np.ndarray:
    """Relative error of the best rank-r approximation of ``weight``, for every rank.

    Returns a float64 array ``errors`` of ``min(weight.shape) + 1`` values where
    ``errors[r] = ||W - W_r||_F / ||W||_F`` and ``W_r`` keeps the ``r`` largest singular
    values. By Eckart-Young, with ``s`` the singular values (``np.linalg.svd(W,
    compute_uv=False)``, largest first) that is ``sqrt(sum(s[r:]**2) / sum(s**2))``:
    ``errors[0]`` is 1 (nothing kept) and the last is 0 (everything kept). Compute in
    float64. ``ValueError`` unless ``weight`` is 2-D and not all zeros.
    """
    # BEGIN SOLUTION
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2:
        raise ValueError(f"low_rank_errors needs a 2-D weight, got shape {weight.shape}")
    energy = np.linalg.svd(weight, compute_uv=False) ** 2
    if energy.sum() == 0:
        raise ValueError("an all-zero weight has no relative error: ||W|| is 0")
    tail = np.concatenate([np.cumsum(energy[::-1])[::-1], [0.0]])
    return np.sqrt(tail / energy.sum())
    # END SOLUTION


def low_rank_factorize(layer: Linear, rank: int) -> Sequential:
    """Replace ``layer`` by two thinner Linears whose product is its best rank-``rank`` weight.

    With ``U, s, Vt = np.linalg.svd(layer.weight, full_matrices=False)`` (in float64), the
    first Linear (``in_features -> rank``, no bias) gets ``U[:, :rank] * sqrt(s[:rank])`` and
    the second (``rank -> out_features``, the original bias if there is one) gets
    ``sqrt(s[:rank])[:, None] * Vt[:rank]``, both cast to float32. Their product is
    ``U_r diag(s_r) Vt_r``: splitting ``s`` evenly keeps the two factors on the same
    scale, which helps if the pair is fine-tuned. Returns ``Sequential(first, second)``.

    ``rank`` must be an integer with ``1 <= rank <= min(in_features, out_features)``,
    otherwise ``ValueError`` naming the rank and that maximum. It saves parameters only if
    ``rank * (in + out) < in * out``.
    """
    # BEGIN SOLUTION
    in_features, out_features = layer.weight.shape
    largest = min(in_features, out_features)
    if not (isinstance(rank, (int, np.integer)) and 1 <= rank <= largest):
        raise ValueError(f"rank must be an integer from 1 to min(in_features, out_features) = "
                         f"{largest}, got rank={rank!r}")
    u, s, vt = np.linalg.svd(layer.weight.data.astype(np.float64), full_matrices=False)
    root = np.sqrt(s[:rank])
    first = Linear(in_features, rank, bias=False)
    second = Linear(rank, out_features, bias=layer.bias is not None)
    first.weight.data[...] = u[:, :rank] * root
    second.weight.data[...] = root[:, None] * vt[:rank]
    if layer.bias is not None and second.bias is not None:
        second.bias.data[...] = layer.bias.data
    return Sequential(first, second)
    # END SOLUTION


# -- knowledge distillation ---------------------------------------------------------------------

def soft_target_loss(student_logits: Tensor, teacher_logits: Tensor | np.ndarray,
                     temperature: float) -> Tensor:
    """``T**2 * mean over rows of KL(softmax(teacher / T) || softmax(student / T))``.

    For one row, ``KL(p || q) = sum_c p_c * (log p_c - log q_c)``. Build it from Tensor
    operations so that gradients flow to the student: ``LogSoftmax`` (kata 02) of
    ``student_logits * (1 / T)`` for ``log q``, and for the teacher the same on a constant
    Tensor of its values (``teacher_logits.data``: the teacher is fixed, nothing flows
    back to it), ``p = log_p.exp()``. Then ``(p * (log_p - log_q)).sum(axis=-1).mean()``
    times ``T * T``. Both sides are divided by ``T``: softening only one of them compares
    two different distributions, and the loss is no longer 0 when the student matches.

    Both logits are ``(N, C)`` of the same shape and ``temperature > 0``; ``ValueError``
    naming the shapes or the temperature otherwise.
    """
    # BEGIN SOLUTION
    teacher = teacher_logits.data if isinstance(teacher_logits, Tensor) else np.asarray(teacher_logits)
    if student_logits.ndim != 2 or teacher.shape != student_logits.shape:
        raise ValueError(f"soft_target_loss needs student and teacher logits of one shape (N, C), got "
                         f"student {student_logits.shape} and teacher {teacher.shape}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got temperature={temperature}")
    log_softmax = LogSoftmax(axis=-1)
    log_q = log_softmax(student_logits * (1.0 / temperature))
    log_p = log_softmax(Tensor(teacher.astype(student_logits.dtype) * (1.0 / temperature)))
    kl = (log_p.exp() * (log_p - log_q)).sum(axis=-1).mean()
    return kl * (temperature * temperature)
    # END SOLUTION


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor | np.ndarray, targets: Tensor,
                      temperature: float = 4.0, alpha: float = 0.9) -> Tensor:
    """Hinton's mix: ``alpha * soft_target_loss + (1 - alpha) * cross-entropy on the labels``.

    The cross-entropy is kata 04's ``CrossEntropyLoss()(student_logits, targets)``, at
    temperature 1. ``alpha`` in [0, 1] (``ValueError`` naming it otherwise); ``alpha = 0``
    is ordinary training, ``alpha = 1`` learns from the teacher alone.
    """
    # BEGIN SOLUTION
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got alpha={alpha}")
    soft = soft_target_loss(student_logits, teacher_logits, temperature)
    return soft * alpha + CrossEntropyLoss()(student_logits, targets) * (1 - alpha)
    # END SOLUTION


def distill(student: Module, teacher: Module, batches: Sequence[Batch], optimizer: Optimizer,
            epochs: int, temperature: float = 4.0, alpha: float = 0.9) -> list[dict[str, float]]:
    """Train ``student`` on ``batches`` with :func:`distillation_loss`; return the history,
    one ``{"loss", "accuracy"}`` dict per epoch from kata 07's ``EpochStats``.

    The teacher is fixed: compute its logits for every batch ONCE, before the first epoch,
    in ``eval()`` mode and under ``no_grad()`` (a frozen teacher gives the same answer
    every epoch, so running it again would only cost time). Then, each epoch, with the
    student in ``train()`` mode, the four moves of kata 06 per batch: zero_grad, loss of
    ``student(inputs)`` against the teacher's logits and the labels, backward, step.
    ``epochs`` must be a positive integer (``ValueError``).
    """
    # BEGIN SOLUTION
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got epochs={epochs!r}")
    teacher.eval()
    with no_grad():
        teacher_logits = [teacher(inputs).data for inputs, _ in batches]
    history = []
    for _ in range(epochs):
        student.train()
        stats = EpochStats()
        for (inputs, targets), soft_targets in zip(batches, teacher_logits):
            optimizer.zero_grad()
            logits = student(inputs)
            loss = distillation_loss(logits, soft_targets, targets, temperature, alpha)
            loss.backward()
            optimizer.step()
            stats.add(loss, logits, targets)
        history.append(stats.result())
    return history
    # END SOLUTION
