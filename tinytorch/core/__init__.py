"""The core of the framework: the Tensor (kata 01)."""

from .tensor import Tensor
from .activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .autograd import enable_autograd, is_grad_enabled, no_grad

__all__ = ["Tensor", "ReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax"]
__all__ += ["enable_autograd", "no_grad", "is_grad_enabled"]
