"""The core of the framework: the Tensor (kata 01)."""

from .tensor import Tensor

__all__ = ["Tensor"]
