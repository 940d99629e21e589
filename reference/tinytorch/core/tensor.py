"""Kata 01: the Tensor, an n-dimensional array that will learn to compute its own gradients.

A ``Tensor`` wraps a NumPy array (``.data``) and gives it the operations a neural network
needs. Everything later in TinyTorch (layers, losses, optimizers, attention) is written
with these operations, so this file is the foundation of the whole framework.

Dtype rules (the same as PyTorch's):

- Python numbers and lists: floats become float32 (the deep-learning default, half the
  bytes of float64), ints become int64, bools stay bool.
- NumPy arrays and Tensors keep their dtype, so ``Tensor(np.zeros(3))`` is float64. Pass
  ``dtype=`` to choose.
- In arithmetic, mixing integers and floats gives the float's dtype, and Python scalars
  adapt to the tensor (``float32_tensor * 2.5`` stays float32).

The gradient features (``requires_grad``, ``grad``, ``backward``) exist from day one but are
dormant: they do nothing until kata 05 (Autograd) wakes them with ``enable_autograd()``.
Code you write now keeps working unchanged after that.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

SUPPORTED_DTYPES = tuple(np.dtype(name) for name in (
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"))


class Tensor:
    """An n-dimensional array of numbers, backed by NumPy."""

    __hash__ = object.__hash__  # comparisons return Tensors, yet tensors stay usable as dict keys
    data: np.ndarray  # the values, set by __init__

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        """Build a tensor from a number, a (nested) list, a NumPy array or another Tensor.

        Raises ``ValueError`` for ragged lists and ``TypeError`` for data that is not
        numeric or a dtype TinyTorch does not support; the message says what was wrong.
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
        if array.dtype == object or array.dtype.kind in "USVOMm":
            raise TypeError(f"Tensor data must be numbers or booleans, got {type(data).__name__} "
                            f"holding {array.dtype} values: {data!r}")
        if dtype is not None:
            try:
                wanted = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"{dtype!r} is not a dtype") from None
        elif from_python and array.dtype.kind == "f":
            wanted = np.dtype(np.float32)
        elif from_python and array.dtype.kind in "iu":
            wanted = np.dtype(np.int64)
        else:
            wanted = array.dtype
        if wanted not in SUPPORTED_DTYPES:
            names = ", ".join(str(d) for d in SUPPORTED_DTYPES)
            raise TypeError(f"dtype {wanted} is not supported; a Tensor holds one of: {names}")
        self.data = np.asarray(array, dtype=wanted)
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
        return Tensor(x + y)
        # END SOLUTION

    def __radd__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "+")
        return Tensor(y + x)
        # END SOLUTION

    def __sub__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "-")
        return Tensor(x - y)
        # END SOLUTION

    def __rsub__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "-")
        return Tensor(y - x)
        # END SOLUTION

    def __mul__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "*")
        return Tensor(x * y)
        # END SOLUTION

    def __rmul__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "*")
        return Tensor(y * x)
        # END SOLUTION

    def __truediv__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "/")
        return Tensor(x / y)
        # END SOLUTION

    def __rtruediv__(self, other: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, other, "/")
        return Tensor(y / x)
        # END SOLUTION

    def __neg__(self) -> Tensor:
        # BEGIN SOLUTION
        return Tensor(-self.data)
        # END SOLUTION

    def __pow__(self, exponent: Any) -> Tensor:
        # BEGIN SOLUTION
        x, y = _operands(self, exponent, "**")
        return Tensor(x ** y)
        # END SOLUTION

    def exp(self) -> Tensor:
        """e to the power of each element."""
        # BEGIN SOLUTION
        return Tensor(np.exp(self.data))
        # END SOLUTION

    def log(self) -> Tensor:
        """Natural logarithm of each element (-inf at 0, nan below: guard inputs upstream)."""
        # BEGIN SOLUTION
        with np.errstate(divide="ignore", invalid="ignore"):
            return Tensor(np.log(self.data))
        # END SOLUTION

    # -- matrix multiplication ----------------------------------------------------------

    def matmul(self, other: Tensor) -> Tensor:
        """Matrix product, batched over leading dimensions: (..., n, k) @ (..., k, m).

        The inner dimensions must agree; the error names both shapes.
        """
        # BEGIN SOLUTION
        other_data = other.data if isinstance(other, Tensor) else np.asarray(other)
        if self.data.ndim == 0 or other_data.ndim == 0:
            raise ValueError(f"matmul needs tensors with at least 1 dimension, got shapes "
                             f"{self.shape} and {other_data.shape}")
        inner_left = self.data.shape[-1]
        inner_right = other_data.shape[-2] if other_data.ndim > 1 else other_data.shape[0]
        if inner_left != inner_right:
            raise ValueError(f"matmul shape mismatch: {self.shape} @ {other_data.shape}: the inner "
                             f"dimensions {inner_left} and {inner_right} must be equal")
        return Tensor(np.matmul(self.data, other_data))
        # END SOLUTION

    def __matmul__(self, other: Tensor) -> Tensor:
        return self.matmul(other)

    # -- reductions ---------------------------------------------------------------------

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        # BEGIN SOLUTION
        return Tensor(self.data.sum(axis=axis, keepdims=keepdims))
        # END SOLUTION

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        # BEGIN SOLUTION
        return Tensor(self.data.mean(axis=axis, keepdims=keepdims))
        # END SOLUTION

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        # BEGIN SOLUTION
        return Tensor(self.data.max(axis=axis, keepdims=keepdims))
        # END SOLUTION

    # -- shape --------------------------------------------------------------------------

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """Same elements, new shape; one dimension may be -1 (inferred)."""
        # BEGIN SOLUTION
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        known = math.prod(d for d in shape if d != -1)
        fits = (self.size == known) if -1 not in shape else (known > 0 and self.size % known == 0)
        if not fits or list(shape).count(-1) > 1:
            raise ValueError(f"cannot reshape a tensor of shape {self.shape} ({self.size} elements) "
                             f"into shape {tuple(shape)}")
        return Tensor(self.data.reshape(shape))
        # END SOLUTION

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two dimensions; by default the last two (the matrix transpose)."""
        # BEGIN SOLUTION
        if self.ndim < 2:
            raise ValueError(f"transpose needs at least 2 dimensions, got shape {self.shape}")
        return Tensor(np.swapaxes(self.data, dim0, dim1))
        # END SOLUTION

    def __getitem__(self, index: Any) -> Tensor:
        """Indexing and slicing as in NumPy; an index may itself be a Tensor."""
        # BEGIN SOLUTION
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return Tensor(self.data[index])
        # END SOLUTION

    # -- comparisons (element-wise, giving bool tensors) --------------------------------

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        # BEGIN SOLUTION
        x, y = _operands(self, other, "==")
        return Tensor(x == y)
        # END SOLUTION

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        # BEGIN SOLUTION
        x, y = _operands(self, other, "!=")
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


def _operands(tensor: Tensor, other: Any, symbol: str) -> tuple[np.ndarray, Any]:
    """The raw values of ``tensor <symbol> other``: checked, and with matching dtypes.

    Mixing integers and floats gives the float's dtype, as in PyTorch (NumPy alone would
    turn float32 + int64 into float64). Python scalars stay Python scalars, so NumPy adapts
    them to the tensor (a float32 tensor times 2.5 stays float32).
    """
    # BEGIN SOLUTION
    left = tensor.data
    if isinstance(other, (bool, int, float)):
        if isinstance(other, float) and left.dtype.kind in "iub":
            left = left.astype(np.float32)
        return left, other
    right = other.data if isinstance(other, Tensor) else Tensor(other).data
    try:
        np.broadcast_shapes(left.shape, right.shape)
    except ValueError:
        raise ValueError(f"shapes {tensor.shape} and {right.shape} cannot be broadcast together "
                         f"for '{symbol}': trailing dimensions must be equal or 1") from None
    if left.dtype.kind == "f" and right.dtype.kind in "iub":
        right = right.astype(left.dtype)
    elif right.dtype.kind == "f" and left.dtype.kind in "iub":
        left = left.astype(right.dtype)
    return left, right
    # END SOLUTION
