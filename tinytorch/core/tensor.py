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
        raise NotImplementedError("Tensor.__init__: not implemented yet (kata 01 Tensor)")

    # -- what a tensor is ---------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError("Tensor.shape: not implemented yet (kata 01 Tensor)")

    @property
    def ndim(self) -> int:
        raise NotImplementedError("Tensor.ndim: not implemented yet (kata 01 Tensor)")

    @property
    def size(self) -> int:
        """The number of elements: the product of the shape."""
        raise NotImplementedError("Tensor.size: not implemented yet (kata 01 Tensor)")

    @property
    def dtype(self) -> np.dtype:
        raise NotImplementedError("Tensor.dtype: not implemented yet (kata 01 Tensor)")

    @property
    def nbytes(self) -> int:
        """Bytes of the elements: size x bytes per element (4 for float32)."""
        raise NotImplementedError("Tensor.nbytes: not implemented yet (kata 01 Tensor)")

    def memory_footprint(self) -> int:
        """Bytes this tensor keeps alive: its data, plus its gradient once it has one.

        Training doubles the memory of every parameter: this is where you will see it.
        """
        raise NotImplementedError("Tensor.memory_footprint: not implemented yet (kata 01 Tensor)")

    def numpy(self) -> np.ndarray:
        """The underlying NumPy array (shared, not copied)."""
        raise NotImplementedError("Tensor.numpy: not implemented yet (kata 01 Tensor)")

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        raise NotImplementedError("Tensor.item: not implemented yet (kata 01 Tensor)")

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
        raise NotImplementedError("Tensor.__add__: not implemented yet (kata 01 Tensor)")

    def __radd__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__radd__: not implemented yet (kata 01 Tensor)")

    def __sub__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__sub__: not implemented yet (kata 01 Tensor)")

    def __rsub__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__rsub__: not implemented yet (kata 01 Tensor)")

    def __mul__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__mul__: not implemented yet (kata 01 Tensor)")

    def __rmul__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__rmul__: not implemented yet (kata 01 Tensor)")

    def __truediv__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__truediv__: not implemented yet (kata 01 Tensor)")

    def __rtruediv__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__rtruediv__: not implemented yet (kata 01 Tensor)")

    def __neg__(self) -> Tensor:
        raise NotImplementedError("Tensor.__neg__: not implemented yet (kata 01 Tensor)")

    def __pow__(self, exponent: Any) -> Tensor:
        raise NotImplementedError("Tensor.__pow__: not implemented yet (kata 01 Tensor)")

    def exp(self) -> Tensor:
        """e to the power of each element."""
        raise NotImplementedError("Tensor.exp: not implemented yet (kata 01 Tensor)")

    def log(self) -> Tensor:
        """Natural logarithm of each element (-inf at 0, nan below: guard inputs upstream)."""
        raise NotImplementedError("Tensor.log: not implemented yet (kata 01 Tensor)")

    # -- matrix multiplication ----------------------------------------------------------

    def matmul(self, other: Tensor) -> Tensor:
        """Matrix product, batched over leading dimensions: (..., n, k) @ (..., k, m).

        The inner dimensions must agree; the error names both shapes.
        """
        raise NotImplementedError("Tensor.matmul: not implemented yet (kata 01 Tensor)")

    def __matmul__(self, other: Tensor) -> Tensor:
        return self.matmul(other)

    # -- reductions ---------------------------------------------------------------------

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        raise NotImplementedError("Tensor.sum: not implemented yet (kata 01 Tensor)")

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        raise NotImplementedError("Tensor.mean: not implemented yet (kata 01 Tensor)")

    def max(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        raise NotImplementedError("Tensor.max: not implemented yet (kata 01 Tensor)")

    # -- shape --------------------------------------------------------------------------

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """Same elements, new shape; one dimension may be -1 (inferred)."""
        raise NotImplementedError("Tensor.reshape: not implemented yet (kata 01 Tensor)")

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two dimensions; by default the last two (the matrix transpose)."""
        raise NotImplementedError("Tensor.transpose: not implemented yet (kata 01 Tensor)")

    def __getitem__(self, index: Any) -> Tensor:
        """Indexing and slicing as in NumPy; an index may itself be a Tensor."""
        raise NotImplementedError("Tensor.__getitem__: not implemented yet (kata 01 Tensor)")

    # -- comparisons (element-wise, giving bool tensors) --------------------------------

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        raise NotImplementedError("Tensor.__eq__: not implemented yet (kata 01 Tensor)")

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        raise NotImplementedError("Tensor.__ne__: not implemented yet (kata 01 Tensor)")

    def __lt__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__lt__: not implemented yet (kata 01 Tensor)")

    def __le__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__le__: not implemented yet (kata 01 Tensor)")

    def __gt__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__gt__: not implemented yet (kata 01 Tensor)")

    def __ge__(self, other: Any) -> Tensor:
        raise NotImplementedError("Tensor.__ge__: not implemented yet (kata 01 Tensor)")

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
    raise NotImplementedError("_operands: not implemented yet (kata 01 Tensor)")
