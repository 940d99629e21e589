"""Kata 04: losses, the single number that training drives down.

A loss compares a model's output with the target and returns a scalar Tensor: the mean
over the batch (for MSE and the BCE losses, the mean over every element). Each loss is a
class with ``forward(prediction, target)`` that computes with NumPy on ``.data`` and
returns a NEW Tensor of the prediction's (floating-point) dtype; calling the object runs
``forward``. Kata 05 (Autograd) wraps each ``forward`` so the loss also knows its gradient.

The rule of this kata: a loss never returns ``inf`` or ``nan``, whatever the model outputs.
One ``nan`` in a loss poisons every weight at the next update, so each docstring shows the
formulation that stays finite. Bad inputs get errors that name the shapes and values.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor

BCE_EPSILON = 1e-7


class Loss:
    """Shared behaviour: calling a loss runs its ``forward``."""

    def __call__(self, prediction: Tensor, target: Tensor) -> Tensor:
        return self.forward(prediction, target)


def _require_same_shape(loss: Loss, prediction: Tensor, target: Tensor) -> None:
    """Raise ``ValueError`` naming both shapes unless they are equal.

    Broadcasting is NOT allowed here: predictions of shape (N, 1) against targets of shape
    (N,) would broadcast to (N, N) and give a wrong loss without any error.
    """
    raise NotImplementedError("_require_same_shape: not implemented yet (kata 04 Losses)")


class MSELoss(Loss):
    """Mean squared error: the mean over EVERY element of ``(prediction - target) ** 2``.

    For predictions of shape (batch, outputs) that is the sum divided by batch x outputs.
    The shapes must be equal (see ``_require_same_shape``).
    """

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError("MSELoss.forward: not implemented yet (kata 04 Losses)")


class CrossEntropyLoss(Loss):
    """Cross-entropy of logits ``(N, C)`` against integer class indices ``(N,)``.

    For each sample ``i`` the loss is ``-log_softmax(logits[i])[target[i]]``, and the result is
    the mean over the N samples. Shift each row by its maximum ``m_i`` first (the
    log-sum-exp trick of kata 02's LogSoftmax): with ``z = logits - m`` (row-wise),

        loss_i = log(sum_j exp(z[i, j])) - z[i, target[i]]

    which stays finite for any logits (for [1e4, -1e4] and the wrong class it is 2e4).
    Working with ``z`` also keeps precision: ``m_i`` cancels exactly instead of being added
    to a small log and subtracted again. Pick each row's target entry with fancy indexing:
    ``z[np.arange(N), target]``.

    Errors, each naming what is wrong:

    - ``ValueError`` if the logits are not 2-D, or the target's shape is not ``(N,)``;
    - ``TypeError`` if the target's dtype is not an integer type (class indices are not
      probabilities or one-hot vectors);
    - ``ValueError`` if a class index is outside ``[0, C)``, naming the bad values and C.
    """

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError("CrossEntropyLoss.forward: not implemented yet (kata 04 Losses)")


class BCELoss(Loss):
    """Binary cross-entropy of probabilities ``p`` in [0, 1] against targets ``y`` in [0, 1].

    Mean over every element of ``-(y * log(p) + (1 - y) * log(1 - p))``. A confident wrong
    prediction (p exactly 0 or 1) would take ``log(0) = -inf``: clip ``p`` to
    ``[BCE_EPSILON, 1 - BCE_EPSILON]`` first, so the largest possible loss per element is
    ``-log(BCE_EPSILON)`` (about 16.1). Clip in float64 (``1 - 1e-7`` is not representable
    in float16), then cast the result to the prediction's dtype.

    The shapes must be equal; probabilities outside [0, 1] raise ``ValueError`` naming
    the range found (logits belong in ``BCEWithLogitsLoss``).
    """

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError("BCELoss.forward: not implemented yet (kata 04 Losses)")


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy of logits ``x`` (any real numbers): ``BCELoss(sigmoid(x), y)``
    without ever computing the sigmoid.

    Per element, the loss simplifies to ``log(1 + exp(x)) - x * y``; rewritten so that the
    exponent is never positive::

        max(x, 0) - x * y + log(1 + exp(-|x|))

    (use ``np.log1p`` for the last term). Exact for every ``x``: a logit of 1000 with target
    0 costs 1000, not ``inf`` and not the clipped 16.1 of BCELoss. The result is the mean over
    every element; the shapes must be equal.
    """

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError("BCEWithLogitsLoss.forward: not implemented yet (kata 04 Losses)")
