"""Kata 02: activations, the non-linear functions between a network's layers.

Without them, a stack of linear layers collapses into one linear layer: ``(x @ A) @ B`` is
``x @ (A @ B)``. An activation bends the function so that depth buys expressive power.

Each activation is a small class with ``forward(x)``: it reads the NumPy array ``x.data``,
computes the result with NumPy and puts it in a NEW Tensor ``out`` (the input is never
modified). Calling the object, ``ReLU()(x)``, runs ``forward``. The last line of each
``forward`` is given: ``return record(out, ReLUBackward, (x,))`` names the rule that sends
gradients back through the activation, which you write in kata 05 (Autograd); until then
``record`` returns ``out`` as it is.

Numerical stability is the theme of this kata. ``exp`` overflows float32 above about 88.7
(float64 above about 709.8), so formulas that are fine on paper return ``inf`` or ``nan``
for the large values real networks produce. Each docstring below says how to avoid that.
Float32 inputs give float32 outputs: use Python floats (not NumPy float64 scalars) for
constants, so NumPy keeps the input's dtype.

float16, one rule for every activation: compute in ``compute_dtype(x.dtype)`` (float32
for float16, the dtype itself otherwise) and return ``cast_back(result, x.dtype)``, the
input's dtype. float16 ends at 65504: GELU's ``x**3`` overflows from x = 41, and a
softmax over more than 65504 equal scores sums to inf. ReLU, Sigmoid and Tanh need no
widening (their intermediate values stay within the input's range or in [0, 1]).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .autograd import (
    GELUBackward,
    LogSoftmaxBackward,
    ReLUBackward,
    SigmoidBackward,
    SoftmaxBackward,
    TanhBackward,
    record,
)
from .tensor import Tensor, cast_back, compute_dtype

GELU_COEFFICIENT = 0.044715
SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class Activation:
    """Shared behaviour: calling an activation runs its ``forward``."""

    forward: Callable[[Tensor], Tensor]  # each activation defines it

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)


class ReLU(Activation):
    """Rectified linear unit: ``max(x, 0)`` element-wise.

    Cheap (one comparison per element) and its gradient is 1 wherever the unit is active,
    which is why it made deep networks trainable.
    """

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        out = Tensor(np.maximum(x.data, 0))
        # END SOLUTION
        return record(out, ReLUBackward, (x,))


class Sigmoid(Activation):
    """The logistic function ``1 / (1 + exp(-x))``, squashing any number into (0, 1).

    Written as it stands, ``exp(-x)`` overflows for large negative ``x`` (float32: below
    about -88.7). Both of these are the same function:

    - for ``x >= 0``: ``1 / (1 + exp(-x))``
    - for ``x < 0``:  ``exp(x) / (1 + exp(x))``

    and in each one the exponent is never positive. With ``z = exp(-|x|)`` (always in
    (0, 1]) they read ``1 / (1 + z)`` and ``z / (1 + z)``: pick one per element with
    ``np.where``. No overflow, no warning, for any input.
    """

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        z = np.exp(-np.abs(x.data))
        out = Tensor(np.where(x.data >= 0, 1 / (1 + z), z / (1 + z)))
        # END SOLUTION
        return record(out, SigmoidBackward, (x,))


class Tanh(Activation):
    """Hyperbolic tangent, squashing into (-1, 1); zero-centred, unlike Sigmoid.

    ``(exp(x) - exp(-x)) / (exp(x) + exp(-x))`` gives ``inf / inf = nan`` for large ``|x|``;
    ``np.tanh`` is stable everywhere.
    """

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        out = Tensor(np.tanh(x.data))
        # END SOLUTION
        return record(out, TanhBackward, (x,))


class GELU(Activation):
    """Gaussian error linear unit, the activation of BERT and GPT: ``x * Phi(x)``.

    ``Phi`` is the standard normal CDF, which needs ``erf`` (NumPy has none), so TinyTorch
    uses the tanh approximation, exactly as GPT-2 did::

        0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))

    The constants are ``SQRT_2_OVER_PI`` and ``GELU_COEFFICIENT`` above. Unlike ReLU it is
    smooth, and slightly negative for small negative ``x``. float16: compute in
    ``compute_dtype`` (see the module), so ``x**3`` cannot overflow.
    """

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        v = x.data.astype(compute_dtype(x.dtype), copy=False)
        inner = SQRT_2_OVER_PI * (v + GELU_COEFFICIENT * v * v * v)
        out = Tensor(cast_back(0.5 * v * (1 + np.tanh(inner)), x.dtype))
        # END SOLUTION
        return record(out, GELUBackward, (x,))


class Softmax(Activation):
    """Turn scores ("logits") into probabilities along ``axis``: ``exp(x) / sum(exp(x))``.

    Every slice along ``axis`` becomes positive and sums to 1. ``axis`` is any valid axis of
    the input, negative ones included: for logits of shape (batch, classes) it is -1 (the
    default); for attention scores of shape (batch, queries, keys) it is the keys' axis.

    Stability: ``exp(1000)`` is ``inf`` and ``inf / inf`` is ``nan``. Softmax does not change
    when the same constant is subtracted from every score of a slice (it cancels between
    numerator and denominator), so subtract each slice's maximum first (``keepdims=True``
    keeps the axis so it broadcasts back). The largest exponent is then exactly 0.

    A slice of only ``-inf`` scores (everything masked out) has no probabilities to share:
    it comes out all zeros, as in ``masked_softmax`` (kata 12), not NaN. Its maximum is
    ``-inf``: subtract 0 there instead (``exp(-inf)`` is 0), and divide its zero sum by 1.
    float16 is computed in ``compute_dtype`` (see the module).
    """

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        exponentials = np.exp(shift_by_max(x, self.axis))
        sums = exponentials.sum(axis=self.axis, keepdims=True)
        out = Tensor(cast_back(exponentials / np.where(sums > 0, sums, 1), x.dtype))
        # END SOLUTION
        return record(out, SoftmaxBackward, (x,), axis=self.axis)


class LogSoftmax(Activation):
    """The logarithm of Softmax along ``axis``, computed without ever taking ``log(0)``.

    ``log(softmax(x))`` fails for very negative scores: their probability underflows to 0
    and the log becomes ``-inf``, although the true value is an ordinary number (for scores
    [0, -1000] it is [0, -1000]). Work in log space instead: with ``m`` the maximum of the
    slice,

        log_softmax(x) = (x - m) - log(sum(exp(x - m)))

    The sum is at least 1 (the maximum contributes exp(0)), so the log is always finite.
    Cross-entropy (kata 04) is built on this identity.

    A slice of only ``-inf`` scores gives ``-inf`` everywhere (the log of Softmax's zeros),
    without a warning: shift it by 0 and take the log of 1 instead of its zero sum.
    float16 is computed in ``compute_dtype`` (see the module).
    """

    def __init__(self, axis: int = -1) -> None:
        self.axis = axis

    def forward(self, x: Tensor) -> Tensor:
        # BEGIN SOLUTION
        shifted = shift_by_max(x, self.axis)
        sums = np.exp(shifted).sum(axis=self.axis, keepdims=True)
        out = Tensor(cast_back(shifted - np.log(np.where(sums > 0, sums, 1)), x.dtype))
        # END SOLUTION
        return record(out, LogSoftmaxBackward, (x,), axis=self.axis)


def shift_by_max(x: Tensor, axis: int) -> np.ndarray:
    """``x`` minus its maximum along ``axis`` (kept with ``keepdims=True``), in
    ``compute_dtype(x.dtype)``: the first step of Softmax and LogSoftmax.

    Every slice then has a largest value of exactly 0, so ``exp`` cannot overflow. A slice
    whose maximum is ``-inf`` (only ``-inf`` scores) is shifted by 0 instead, since
    ``-inf - (-inf)`` is NaN: ``np.where`` on the maxima.
    """
    # BEGIN SOLUTION
    values = x.data.astype(compute_dtype(x.dtype), copy=False)
    top = values.max(axis=axis, keepdims=True)
    return values - np.where(top == -np.inf, 0, top)
    # END SOLUTION
