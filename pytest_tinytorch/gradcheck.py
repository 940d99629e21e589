"""gradcheck: test a backward pass against the definition of the derivative.

A derivative is a limit, ``f'(x) = lim (f(x + eps) - f(x - eps)) / (2 eps)``, and with a
small ``eps`` that difference quotient is an independent estimate of any gradient. It needs
nothing but the forward computation, so it checks every backward rule without trusting
one: if the two disagree, the backward rule is wrong (or the function is not smooth there).

Three precautions make the comparison sharp:

- **float64.** The central difference has error ~eps**2 from the curve's bend plus
  ~(machine precision / eps) from rounding. In float64 with eps = 1e-6 both are ~1e-10;
  in float32 rounding alone would be ~1e-1.
- **A random weighting.** A Function's output is usually an array, and backward needs a
  gradient for it. Seeding with ones checks only the SUM of the outputs, and some wrong
  rules survive that: softmax's outputs always sum to 1, so the gradient of their sum is
  zero whether the Jacobian is right or not. gradcheck seeds backward with a fixed random
  array ``W``, which is the gradient of the scalar ``(out * W).sum()``, and differentiates
  that same scalar numerically.
- **Every element of every input**, perturbed one at a time: 2 forward passes per element,
  so keep the inputs small (a few dozen elements).

Usage, in a test (``fn`` takes Tensors and returns a Tensor)::

    gradcheck(lambda a, b: a @ b, rng.standard_normal((3, 4)), rng.standard_normal((4, 2)))

Inputs are given as arrays; gradcheck makes them float64 Tensors with
``requires_grad=True`` of the implementation under test (``tinytorch.core.Tensor``,
imported when called, so it is the student's or the reference as the run decides).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

WEIGHTING_SEED = 0


def gradcheck(fn: Callable[..., Any], *arrays: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-4) -> None:
    """Assert that backward() through ``fn`` matches central finite differences.

    Raises ``AssertionError`` naming the input, the element where the analytic and the
    numerical gradient disagree the most, and both values. Returns None when every
    element satisfies ``|analytic - numerical| <= atol + rtol * |numerical|``.
    """
    from tinytorch.core import Tensor

    points = [np.array(array, dtype=np.float64) for array in arrays]
    inputs = [Tensor(point.copy(), requires_grad=True) for point in points]
    output = fn(*inputs)
    if not isinstance(output, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, it returned {type(output).__name__}")
    weights = np.random.default_rng(WEIGHTING_SEED).standard_normal(output.shape)
    output.backward(Tensor(weights))

    def weighted_output(values: list[np.ndarray]) -> float:
        result = fn(*[Tensor(value) for value in values])
        return float((np.asarray(result.data, dtype=np.float64) * weights).sum())

    for index, (point, tensor) in enumerate(zip(points, inputs)):
        if tensor.grad is None:
            raise AssertionError(f"gradcheck: input {index} (shape {point.shape}) received no "
                                 f"gradient: backward() never reached it")
        analytic = np.asarray(tensor.grad.data, dtype=np.float64)
        if analytic.shape != point.shape:
            raise AssertionError(f"gradcheck: the gradient of input {index} has shape "
                                 f"{analytic.shape}, the input has shape {point.shape}")
        numerical = _central_differences(weighted_output, points, index, eps)
        excess = np.abs(analytic - numerical) - (atol + rtol * np.abs(numerical))
        failing = ~(excess <= 0)  # nan, from either side, fails too
        if failing.any():
            ranking = np.where(failing, np.nan_to_num(excess, nan=np.inf), -np.inf)
            worst = np.unravel_index(int(np.argmax(ranking)), point.shape)
            raise AssertionError(
                f"gradcheck: wrong gradient for input {index} (shape {point.shape}) at element "
                f"{tuple(int(i) for i in worst)}: backward() gave {analytic[worst]:.8g}, finite "
                f"differences give {numerical[worst]:.8g} (allowed error {atol:g} + {rtol:g} x "
                f"|finite difference|; {int(failing.sum())} of {point.size} elements are off)")


def _central_differences(f: Callable[[list[np.ndarray]], float], points: list[np.ndarray],
                         index: int, eps: float) -> np.ndarray:
    """d f / d points[index], element by element: (f(x + eps) - f(x - eps)) / (2 eps).

    Each element is moved and put back in place, so the other inputs stay untouched.
    """
    point = points[index]
    gradient = np.zeros_like(point)
    for element in np.ndindex(point.shape):
        original = point[element]
        point[element] = original + eps
        above = f(points)
        point[element] = original - eps
        below = f(points)
        point[element] = original
        gradient[element] = (above - below) / (2 * eps)
    return gradient
