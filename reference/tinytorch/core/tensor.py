"""Kata 01: the Tensor, an n-dimensional array that will learn to compute its own gradients.

A ``Tensor`` wraps a NumPy array (``.data``) and gives it the operations a neural network
needs. Everything later in TinyTorch (layers, losses, optimizers, attention) is written
with these operations, so this file is the foundation of the whole framework.

Dtypes at construction:

- Python numbers and lists: floats become float32 (the deep-learning default, half the
  bytes of float64), ints become int64, bools stay bool.
- NumPy arrays, NumPy scalars and Tensors keep their dtype, so ``Tensor(np.zeros(3))`` is
  float64. Pass ``dtype=`` to choose.
- A value that does not fit the integer dtype it is converted to is an error naming the
  value and the dtype, never a silent wrap-around: ``Tensor([2**63])`` and
  ``Tensor(np.array([300]), dtype=np.int8)`` raise ``OverflowError`` (so does infinity),
  NaN converted to an integer dtype raises ``ValueError``.

Dtypes in arithmetic, comparisons and matmul are PyTorch's, computed by
:func:`result_dtype` and not left to NumPy (whose rules changed between NumPy 1 and 2, so
the same code gave float32 on one and float64 on the other):

1. Categories rank bool < integer < float, and the result is in the highest category of
   the operands: ``int64 tensor * 2.5`` is float, ``int64 tensor + float64 tensor`` is
   float64, ``int64 @ float32`` is float32 (NumPy would say float64).
2. Within that category, dimensioned tensors (at least one axis) decide before 0-d
   tensors, and 0-d tensors before scalars (Python numbers and NumPy scalars alike):
   ``float32 tensor * np.float64(2.5)`` and ``float32 tensor + Tensor(np.float64(1))``
   (0-d) both stay float32; ``int8 tensor + 1`` stays int8.
3. Operands of the same standing are promoted together: ``float16 + float32`` is float32,
   ``uint8 + int8`` is int16.
4. Scalars alone give the default of their category: ``int64 tensor * 2.5`` is float32.
5. True division always gives a float: ``int64 tensor / 2`` is float32 (the default).

A scalar that does not fit the result (``int8 tensor + 300``) is an ``OverflowError``.
NumPy arrays and lists in an operation count as tensors (``np.ones(2) + t`` is a Tensor,
float64 + float32 giving float64), and NumPy arrays defer to the Tensor on either side of
an operator: NumPy's own result would be an array of Tensors.

The gradient features (``requires_grad``, ``grad``, ``backward``) exist from day one but are
dormant: they do nothing until kata 05 (Autograd) wakes them with ``enable_autograd()``.
Code you write now keeps working unchanged after that. Each operation that has a gradient
leaves its result in ``out``, and its last line, given, hands it on:
``return record(out, AddBackward, (self, other))`` names the rule that will send gradients
back through it (a Function you write in kata 05) and its inputs. Until kata 05 switches
autograd on, ``record`` returns ``out`` as it is.

Why one long file: it is all of kata 01's code, and a kata's tests, its stub and its
reference are found from one another by name; its sections follow the kata's test files.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

SUPPORTED_DTYPES = tuple(np.dtype(name) for name in (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"))
DEFAULT_FLOAT = np.dtype(np.float32)
DEFAULT_INT = np.dtype(np.int64)
BOOL = np.dtype(bool)
# Python and NumPy numbers: in arithmetic they adapt to the tensor (rule 2 of the module).
SCALAR_TYPES = (bool, int, float, np.bool_, np.integer, np.floating)


class Tensor:
    """An n-dimensional array of numbers, backed by NumPy."""

    __hash__ = object.__hash__  # comparisons return Tensors, yet tensors stay usable as dict keys
    # NumPy arrays defer to the Tensor: ``array + tensor`` calls ``tensor.__radd__(array)``
    # instead of adding the tensor to each element of the array, one by one.
    __array_ufunc__ = None
    data: np.ndarray  # the values, set by __init__

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        """Build a tensor from a number, a (nested) list, a NumPy array or another Tensor.

        Raises ``ValueError`` for ragged lists and ``TypeError`` for data that is not
        numeric or a dtype TinyTorch does not support; the message says what was wrong.
        Converting to an integer dtype checks the values first (:func:`convert`), and so
        does a Python int too large for int64.
        """
        # Dormant until kata 05: autograd records in grad_fn the operation that made this
        # tensor, and backward() fills .grad of every tensor that requires it.
        self.requires_grad = requires_grad
        self.grad: Tensor | None = None
        self.grad_fn: Any = None
        # BEGIN SOLUTION
        if isinstance(data, Tensor):
            data = data.data
        if dtype is None and isinstance(data, np.ndarray) and data.dtype in SUPPORTED_DTYPES:
            self.data = data  # every operation's result lands here: nothing to check or convert
            return
        from_python = not isinstance(data, (np.ndarray, np.generic))
        try:
            array = np.asarray(data)
        except ValueError:
            raise ValueError(
                f"ragged data: nested lists must have the same length at every level, "
                f"got {data!r}") from None
        if array.dtype == object:
            # NumPy keeps Python ints beyond 64 bits as objects: say so, not "not a number"
            for value in array.flat:
                if isinstance(value, int) and not isinstance(value, bool):
                    _require_fits(value, np.dtype(np.int64))
        if array.dtype == object or array.dtype.kind in "USVOMm":
            raise TypeError(f"Tensor data must be numbers or booleans, got {type(data).__name__} "
                            f"holding {array.dtype} values: {data!r}")
        if dtype is not None:
            try:
                wanted = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"{dtype!r} is not a dtype") from None
        elif from_python and array.dtype.kind == "f":
            wanted = DEFAULT_FLOAT
        elif from_python and array.dtype.kind in "iu":
            wanted = np.dtype(np.int64)  # uint64 too: NumPy's type for ints from 2**63 on
        else:
            wanted = array.dtype
        if wanted not in SUPPORTED_DTYPES:
            names = ", ".join(str(d) for d in SUPPORTED_DTYPES)
            raise TypeError(f"dtype {wanted} is not supported; a Tensor holds one of: {names}")
        self.data = convert(array, wanted)
        # END SOLUTION

    # -- what a tensor is ---------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        # BEGIN SOLUTION
        return self.data.shape
        # END SOLUTION

    @property
    def ndim(self) -> int:
        # BEGIN SOLUTION
        return self.data.ndim
        # END SOLUTION

    @property
    def size(self) -> int:
        """The number of elements: the product of the shape."""
        # BEGIN SOLUTION
        return self.data.size
        # END SOLUTION

    @property
    def dtype(self) -> np.dtype:
        # BEGIN SOLUTION
        return self.data.dtype
        # END SOLUTION

    @property
    def nbytes(self) -> int:
        """Bytes of the elements: size x bytes per element (4 for float32)."""
        # BEGIN SOLUTION
        return self.data.size * self.data.itemsize
        # END SOLUTION

    def memory_footprint(self) -> int:
        """Bytes this tensor keeps alive: its data, plus its gradient once it has one.

        Training doubles the memory of every parameter: this is where you will see it.
        """
        # BEGIN SOLUTION
        return self.nbytes + (self.grad.nbytes if self.grad is not None else 0)
        # END SOLUTION

    def numpy(self) -> np.ndarray:
        """The underlying NumPy array (shared, not copied)."""
        # BEGIN SOLUTION
        return self.data
        # END SOLUTION

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        # BEGIN SOLUTION
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()
        # END SOLUTION

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, separator=", ", precision=4, threshold=20)
        return f"Tensor({body}, dtype={self.data.dtype}{grad})"

    # -- element-wise arithmetic with broadcasting --------------------------------------

    def __add__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "+")
        out = Tensor(x + y)
        # END SOLUTION
        return record(out, AddBackward, (self, other))

    def __radd__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "+")
        out = Tensor(y + x)
        # END SOLUTION
        return record(out, AddBackward, (other, self))

    def __sub__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "-")
        out = Tensor(x - y)
        # END SOLUTION
        return record(out, SubBackward, (self, other))

    def __rsub__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "-")
        out = Tensor(y - x)
        # END SOLUTION
        return record(out, SubBackward, (other, self))

    def __mul__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "*")
        out = Tensor(x * y)
        # END SOLUTION
        return record(out, MulBackward, (self, other))

    def __rmul__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "*")
        out = Tensor(y * x)
        # END SOLUTION
        return record(out, MulBackward, (other, self))

    def __truediv__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "/")
        out = Tensor(x / y)
        # END SOLUTION
        return record(out, DivBackward, (self, other))

    def __rtruediv__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "/")
        out = Tensor(y / x)
        # END SOLUTION
        return record(out, DivBackward, (other, self))

    def __neg__(self) -> Tensor:
        # BEGIN SOLUTION
        out = Tensor(-self.data)
        # END SOLUTION
        return record(out, NegBackward, (self,))

    def __pow__(self, exponent: Any) -> Tensor:
        """Element-wise power. An integer tensor to a negative integer power is a
        ``ValueError`` naming the exponent (``2 ** -1`` is not an integer): make one of them
        a float."""
        # BEGIN SOLUTION
        x, y = _operands(self, exponent, "**")
        if x.dtype.kind in "iu" and (y < 0).any():
            raise ValueError(f"an integer tensor ({self.dtype}) to a negative power is not an "
                             f"integer: exponent {exponent!r}; make the base or the exponent a float")
        out = Tensor(x ** y)
        # END SOLUTION
        return record(out, PowBackward, (self, exponent))

    def exp(self) -> Tensor:
        """e to the power of each element."""
        # BEGIN SOLUTION
        out = Tensor(np.exp(self.data))
        # END SOLUTION
        return record(out, ExpBackward, (self,))

    def log(self) -> Tensor:
        """Natural logarithm of each element (-inf at 0, nan below: guard inputs upstream)."""
        # BEGIN SOLUTION
        with np.errstate(divide="ignore", invalid="ignore"):
            out = Tensor(np.log(self.data))
        # END SOLUTION
        return record(out, LogBackward, (self,))

    # -- matrix multiplication ----------------------------------------------------------

    def matmul(self, other: Tensor) -> Tensor:
        """Matrix product, batched over leading dimensions: (..., n, k) @ (..., k, m).

        The inner dimensions must agree, and the batch dimensions (all but the last two)
        must broadcast; each error names both shapes. The dtype follows
        :func:`result_dtype` (``int64 @ float32`` is float32).
        """
        # BEGIN SOLUTION
        other_data = other.data if isinstance(other, Tensor) else Tensor(other).data
        if self.data.ndim == 0 or other_data.ndim == 0:
            raise ValueError(f"matmul needs tensors with at least 1 dimension, got shapes "
                             f"{self.shape} and {other_data.shape}")
        inner_left = self.data.shape[-1]
        inner_right = other_data.shape[-2] if other_data.ndim > 1 else other_data.shape[0]
        if inner_left != inner_right:
            raise ValueError(f"matmul shape mismatch: {self.shape} @ {other_data.shape}: the inner "
                             f"dimensions {inner_left} and {inner_right} must be equal")
        try:
            if self.shape[:-2] != other_data.shape[:-2]:
                np.broadcast_shapes(self.shape[:-2], other_data.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul batch mismatch: {self.shape} @ {other_data.shape}: the batch "
                             f"dimensions {self.shape[:-2]} and {other_data.shape[:-2]} cannot be "
                             f"broadcast together") from None
        if self.data.dtype == other_data.dtype:  # the common case, quickly
            out = Tensor(np.matmul(self.data, other_data))
        else:
            dtype = result_dtype(self.data, other_data)
            out = Tensor(np.matmul(convert(self.data, dtype), convert(other_data, dtype)))
        # END SOLUTION
        return record(out, MatMulBackward, (self, other))

    def __matmul__(self, other: Tensor) -> Tensor:
        return self.matmul(other)

    def __rmatmul__(self, other: Any) -> Tensor:
        """``array @ tensor``: the array becomes a Tensor on the left."""
        return Tensor(other).matmul(self)

    # -- reductions ---------------------------------------------------------------------

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis``: None (everything), an int or a tuple of ints, negative ones
        counting from the end. An axis the tensor does not have is a ``ValueError`` naming
        it and the shape (see :func:`_require_axes`); ``mean`` and ``max`` check the same."""
        # BEGIN SOLUTION
        _require_axes(axis, self.shape, "sum")
        out = Tensor(self.data.sum(axis=axis, keepdims=keepdims))
        # END SOLUTION
        return record(out, SumBackward, (self,), axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        # BEGIN SOLUTION
        _require_axes(axis, self.shape, "mean")
        out = Tensor(self.data.mean(axis=axis, keepdims=keepdims))
        # END SOLUTION
        return record(out, MeanBackward, (self,), axis=axis, keepdims=keepdims)

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        # BEGIN SOLUTION
        _require_axes(axis, self.shape, "max")
        out = Tensor(self.data.max(axis=axis, keepdims=keepdims))
        # END SOLUTION
        return record(out, MaxBackward, (self,), axis=axis, keepdims=keepdims)

    # -- shape --------------------------------------------------------------------------

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """Same elements, new shape; one dimension may be -1 (inferred).

        ``reshape(2, 3)`` and ``reshape((2, 3))`` are the same. A dimension that is not an
        integer is a ``TypeError``; one below -1, or a second -1, a ``ValueError``; each
        names the shape asked for.
        """
        # BEGIN SOLUTION
        asked = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        dims = []
        for size in asked:
            if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
                raise TypeError(f"reshape: dimensions must be integers, got {size!r} in {asked}")
            if size < -1:
                raise ValueError(f"reshape: a dimension must be >= 0, or -1 to infer it, got "
                                 f"{size} in {asked}")
            dims.append(int(size))
        known = math.prod(d for d in dims if d != -1)
        fits = (self.size == known) if -1 not in dims else (known > 0 and self.size % known == 0)
        if not fits or dims.count(-1) > 1:
            raise ValueError(f"cannot reshape a tensor of shape {self.shape} ({self.size} elements) "
                             f"into shape {tuple(dims)}")
        out = Tensor(self.data.reshape(dims))
        # END SOLUTION
        return record(out, ReshapeBackward, (self,))

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two dimensions; by default the last two (the matrix transpose).

        Both must be axes of the tensor (checked as in ``sum``)."""
        # BEGIN SOLUTION
        if self.ndim < 2:
            raise ValueError(f"transpose needs at least 2 dimensions, got shape {self.shape}")
        _require_axes((dim0, dim1), self.shape, "transpose")
        out = Tensor(np.swapaxes(self.data, dim0, dim1))
        # END SOLUTION
        return record(out, TransposeBackward, (self,), dim0=dim0, dim1=dim1)

    def __getitem__(self, index: Any) -> Tensor:
        """Indexing and slicing as in NumPy, Tensors allowed wherever NumPy takes an array.

        ``t[rows]`` with a Tensor of indices, ``t[mask]`` with a bool Tensor,
        ``t[rows, cols]`` with a tuple of Tensors (element ``(rows[i], cols[i])`` for each
        ``i``), mixed with ints and slices (``t[rows, 1:]``). A Tensor inside an index
        must hold integers or booleans: any other dtype is an ``IndexError`` naming it.
        """
        # BEGIN SOLUTION
        parts = index if isinstance(index, tuple) else (index,)
        arrays = []
        for part in parts:
            if isinstance(part, Tensor):
                if part.dtype.kind not in "iub":
                    raise IndexError(f"a Tensor used as an index must hold integers or booleans, "
                                     f"got {part.dtype}: {part!r}")
                part = part.data
            arrays.append(part)
        out = Tensor(self.data[tuple(arrays) if isinstance(index, tuple) else arrays[0]])
        # END SOLUTION
        return record(out, GetItemBackward, (self,), index=index)

    # -- comparisons (element-wise, giving bool tensors) --------------------------------

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        """Element-wise ``==``, a bool Tensor. Compared with something that is not numeric
        data (None, a string), return ``NotImplemented``: Python then falls back to
        identity, so ``t == None`` is False and ``t != None`` is True, as in PyTorch."""
        # BEGIN SOLUTION
        try:
            x, y = _operands(self, other, "==")
        except TypeError:
            return NotImplemented
        return Tensor(x == y)
        # END SOLUTION

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        # BEGIN SOLUTION
        try:
            x, y = _operands(self, other, "!=")
        except TypeError:
            return NotImplemented
        return Tensor(x != y)
        # END SOLUTION

    def __lt__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "<")
        return Tensor(x < y)
        # END SOLUTION

    def __le__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "<=")
        return Tensor(x <= y)
        # END SOLUTION

    def __gt__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, ">")
        return Tensor(x > y)
        # END SOLUTION

    def __ge__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, ">=")
        return Tensor(x >= y)
        # END SOLUTION

    # -- gradients (dormant until kata 05) ----------------------------------------------

    def backward(self, gradient: Tensor | None = None) -> None:
        """Compute gradients of this tensor with respect to the tensors it came from.

        Until kata 05 (Autograd) runs ``enable_autograd()``, no graph is recorded and this
        does nothing. Kata 05 replaces it with the real thing.
        """


def result_dtype(*operands: np.ndarray | float) -> np.dtype:
    """The dtype of an operation on ``operands``, by PyTorch's rules (see the module).

    Each operand is a tensor's array or a scalar (a Python number or a NumPy scalar such
    as ``np.float64(2.5)``). Give each one a *category* (0 bool, 1 integer: signed or
    unsigned, 2 float) and a *standing* (2 an array with at least one axis, 1 a 0-d array,
    0 a scalar). A scalar's dtype is its category's default: bool, int64 or float32.

    Keep the operands with the highest category, and among them those with the highest
    standing; the result is their dtypes promoted together (``np.promote_types``, which
    within one category agrees with PyTorch: int8 and uint8 give int16, float16 and
    float32 give float32). So ``int64`` with ``float32`` arrays gives float32, a float32
    array with a float64 scalar or 0-d array gives float32, an int64 array with ``2.5``
    gives float32, and an int64 array with a 0-d float64 array gives float64.

    Never NumPy's own ``np.result_type``: it depends on the NumPy version and on values.
    """
    # BEGIN SOLUTION
    best, dtypes = (-1, -1), []
    for operand in operands:
        if isinstance(operand, np.ndarray):
            dtype = operand.dtype
            standing = 2 if operand.ndim else 1
        else:
            dtype = (BOOL if isinstance(operand, (bool, np.bool_)) else
                     DEFAULT_INT if isinstance(operand, (int, np.integer)) else DEFAULT_FLOAT)
            standing = 0
        rank = (2 if dtype.kind == "f" else 1 if dtype.kind in "iu" else 0, standing)
        if rank > best:
            best, dtypes = rank, [dtype]
        elif rank == best:
            dtypes.append(dtype)
    return functools.reduce(np.promote_types, dtypes)
    # END SOLUTION


def convert(values: Any, dtype: np.dtype) -> np.ndarray:
    """``values`` (an array or a number) as an array of ``dtype``, refusing silent damage.

    Converting to an integer dtype first checks every value fits it (see
    :func:`_require_fits`): NumPy would wrap 300 to 44 in int8 and turn NaN into
    -9223372036854775808. An array already of ``dtype`` comes back as it is. Floats that
    overflow a narrower float dtype become inf, as in PyTorch (NumPy warns).
    """
    # BEGIN SOLUTION
    if isinstance(values, np.ndarray) and values.dtype == dtype:
        return values
    if dtype.kind in "iu":
        _require_fits(values, dtype)
    return np.asarray(values, dtype=dtype)
    # END SOLUTION


def _require_fits(values: Any, dtype: np.dtype) -> None:
    """Raise unless every value of ``values`` (an array or a number) fits the integer
    ``dtype``: ``ValueError`` for NaN, ``OverflowError`` for infinity or a value outside
    ``np.iinfo(dtype)``, each naming the value and the dtype. Floats count by their
    integer part (3.7 fits int8: the conversion truncates it to 3).

    Compare Python ints (``int(value)``), which are exact at any size: a comparison of
    NumPy values may go through float64, where 2**63 equals 2**63 - 1.
    """
    # BEGIN SOLUTION
    array = np.asarray(values) if not isinstance(values, int) else None
    if array is not None:
        if array.size == 0:
            return
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            bad = array[~np.isfinite(array)].flat[0]
            error = ValueError if np.isnan(bad) else OverflowError
            raise error(f"cannot convert {bad} to {dtype}: it has no integer value")
        extremes = [array.min(), array.max()]
    else:
        extremes = [values]
    info = np.iinfo(dtype)
    for value in extremes:
        if not info.min <= int(value) <= info.max:
            raise OverflowError(f"{value} does not fit in {dtype} (range {info.min} to {info.max})")
    # END SOLUTION


def _require_axes(axes: Any, shape: tuple[int, ...], who: str) -> None:
    """Check the ``axis`` argument of ``who`` (sum, mean, max, transpose) for ``shape``.

    None means every axis; otherwise an int or a tuple of ints, each in
    ``[-ndim, ndim)``. A non-integer is a ``TypeError``, an axis out of range a
    ``ValueError``; both name ``who``, the axis and the shape (NumPy's own message names
    neither the operation nor the shape).
    """
    # BEGIN SOLUTION
    if axes is None:
        return
    for axis in axes if isinstance(axes, tuple) else (axes,):
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"{who}: an axis must be an integer, got {axis!r}")
        if not -len(shape) <= axis < len(shape):
            valid = f"axes -{len(shape)} to {len(shape) - 1}" if shape else "no axes"
            raise ValueError(f"{who}: axis {axis} is out of range for a tensor of shape {shape} "
                             f"({len(shape)}-D: {valid})")
    # END SOLUTION


def _operands(tensor: Tensor, other: Any, symbol: str) -> tuple[np.ndarray, np.ndarray]:
    """The raw values of ``tensor <symbol> other``: checked, and converted to one dtype.

    ``other`` may be a Tensor, a scalar (``SCALAR_TYPES``: Python and NumPy numbers) or
    anything ``Tensor()`` accepts (a list, an array). Arrays must broadcast (the error
    names both shapes and the operator). Both come back as arrays of
    :func:`result_dtype`, or of ``DEFAULT_FLOAT`` for ``"/"`` when that is not a float
    (true division of integers gives floats), converted with :func:`convert`, so a scalar
    that does not fit (``int8 tensor + 300``) is an ``OverflowError``. With both of one
    dtype, NumPy's result is that dtype on every NumPy version.
    """
    # BEGIN SOLUTION
    left = tensor.data
    right: Any  # an array, or a Python or NumPy number
    if isinstance(other, Tensor):
        right = other.data
    elif isinstance(other, SCALAR_TYPES):
        right = other
    else:
        right = Tensor(other).data
    if isinstance(right, np.ndarray) and right.shape != left.shape:
        try:
            np.broadcast_shapes(left.shape, right.shape)
        except ValueError:
            raise ValueError(f"shapes {tensor.shape} and {right.shape} cannot be broadcast together "
                             f"for '{symbol}': trailing dimensions must be equal or 1") from None
    same = isinstance(right, np.ndarray) and right.dtype == left.dtype  # the common case, quickly
    dtype = left.dtype if same else result_dtype(left, right)
    if symbol == "/" and dtype.kind != "f":
        dtype = DEFAULT_FLOAT
    return convert(left, dtype), convert(right, dtype)
    # END SOLUTION


# -- float16: compute wider, answer in the input's dtype --------------------------------------

def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype to compute in for inputs of ``dtype``: float32 for float16, else ``dtype``.

    float16 ends at 65504, so the intermediate values of an activation, a loss or an
    optimizer overflow long before the result does: ``x ** 3`` (GELU) from x = 41, a
    squared error from 256, Adam's ``grad ** 2`` from 256. Activations, losses, their
    gradients and Adam's moments compute float16 in float32, then hand back float16
    with :func:`cast_back`.
    """
    return DEFAULT_FLOAT if dtype == np.float16 else np.dtype(dtype)


def cast_back(values: Any, dtype: np.dtype) -> np.ndarray:
    """``values``, computed in :func:`compute_dtype` (or wider), as an array of the input's
    float ``dtype``.

    A finite value beyond the range of ``dtype`` comes back as its largest finite value
    (65504 for float16, with its sign) instead of inf: a loss or a gradient stays finite,
    if clipped (the same promise as the clipping of ``BCELoss``). inf and NaN stay what
    they were. For an input that is not a float (a loss of integer predictions), the
    values come back as they are: casting a mean to int64 would truncate it.
    """
    values = np.asarray(values)
    if values.dtype == dtype or dtype.kind != "f":
        return values
    if values.dtype.kind == "f" and np.finfo(values.dtype).max > np.finfo(dtype).max:
        limit = np.finfo(dtype).max
        values = np.where(np.isinf(values), values, np.clip(values, -limit, limit))
    return values.astype(dtype)


# The operations above name their backward rules, which are kata 05's (autograd.py); autograd
# builds on the Tensor, so its names are imported here, once this module has defined it.
from .autograd import (
    AddBackward,
    DivBackward,
    ExpBackward,
    GetItemBackward,
    LogBackward,
    MatMulBackward,
    MaxBackward,
    MeanBackward,
    MulBackward,
    NegBackward,
    PowBackward,
    ReshapeBackward,
    SubBackward,
    SumBackward,
    TransposeBackward,
    record,
)
