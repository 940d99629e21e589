"""Kata 04: losses, the single number that training drives down.

A loss compares a model's output with the target and returns a scalar Tensor: the mean
over the batch (for MSE and the BCE losses, the mean over every element). Each loss is a
class with ``forward(prediction, target)`` that computes with NumPy on ``.data`` and puts
the result in a NEW Tensor ``out`` of the prediction's (floating-point) dtype; calling the
object runs ``forward``. The last line of each ``forward`` is given:
``return record(out, MSELossBackward, (prediction, target))`` names the loss's gradient,
which you write in kata 05 (Autograd); until then ``record`` returns ``out`` as it is.

The rule of this kata: a loss never returns ``inf`` or ``nan``, whatever the model outputs.
One ``nan`` in a loss poisons every weight at the next update, so each docstring shows the
formulation that stays finite. Bad inputs get errors that name the shapes and values, and
an empty batch is refused (the mean of nothing is NaN).

float16, the rule of kata 02: compute in ``compute_dtype(prediction.dtype)`` (float32 for
float16: a squared error of 300 is 90000, beyond float16's 65504) and return
``cast_back(loss, prediction.dtype)``, which clips a loss beyond float16's range to 65504
rather than returning inf.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.autograd import (
    BCELossBackward,
    BCEWithLogitsLossBackward,
    CrossEntropyLossBackward,
    MSELossBackward,
    record,
)
from ..core.tensor import Tensor, cast_back, compute_dtype

BCE_EPSILON = 1e-7


class Loss:
    """Shared behaviour: calling a loss runs its ``forward``."""

    forward: Callable[[Tensor, Tensor], Tensor]  # each loss defines it

    def __call__(self, prediction: Tensor, target: Tensor) -> Tensor:
        return self.forward(prediction, target)


def _require_same_shape(loss: Loss, prediction: Tensor, target: Tensor) -> None:
    """Raise ``ValueError`` naming both shapes unless they are equal and not empty.

    Broadcasting is NOT allowed here: predictions of shape (N, 1) against targets of shape
    (N,) would broadcast to (N, N) and give a wrong loss without any error. A prediction
    with no elements (an empty batch) has no mean: a ``ValueError`` naming its shape.
    """
    # BEGIN SOLUTION
    if prediction.shape != target.shape:
        raise ValueError(f"{type(loss).__name__}: prediction shape {prediction.shape} and target "
                         f"shape {target.shape} must be equal")
    if prediction.size == 0:
        raise ValueError(f"{type(loss).__name__}: the prediction is empty (shape "
                         f"{prediction.shape}): a loss is a mean, and an empty batch has none")
    # END SOLUTION


def _require_probabilities(loss: Loss, name: str, values: np.ndarray) -> None:
    """Raise ``ValueError`` unless every value is in [0, 1]: NaN is not, and neither is
    1.5. The message names the loss, ``name`` ("probabilities", "targets") and the first
    few values outside. Write the test so that NaN fails it (``(v >= 0) & (v <= 1)`` is
    False for NaN; ``v < 0`` is False too, and would let NaN through).
    """
    # BEGIN SOLUTION
    outside = values[~((values >= 0) & (values <= 1))]
    if outside.size:
        raise ValueError(f"{type(loss).__name__} expects {name} in [0, 1], got {outside.size} outside: "
                         f"{outside[:5].tolist()}")
    # END SOLUTION


class MSELoss(Loss):
    """Mean squared error: the mean over EVERY element of ``(prediction - target) ** 2``.

    For predictions of shape (batch, outputs) that is the sum divided by batch x outputs.
    The shapes must be equal (see ``_require_same_shape``).
    """

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        # BEGIN SOLUTION
        _require_same_shape(self, prediction, target)
        working = compute_dtype(prediction.dtype)
        difference = prediction.data.astype(working, copy=False) - target.data.astype(working, copy=False)
        out = Tensor(cast_back(np.mean(difference * difference), prediction.dtype))
        # END SOLUTION
        return record(out, MSELossBackward, (prediction, target))


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
    - ``ValueError`` if there are no rows (N = 0): the mean over no samples is NaN;
    - ``TypeError`` if the target's dtype is not an integer type (class indices are not
      probabilities or one-hot vectors);
    - ``ValueError`` if a class index is outside ``[0, C)``, naming the bad values and C.
    """

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        # BEGIN SOLUTION
        logits, classes = prediction.data, target.data
        if logits.ndim != 2:
            raise ValueError(f"CrossEntropyLoss expects logits of shape (N, C), got shape {logits.shape}")
        count, num_classes = logits.shape
        if classes.shape != (count,):
            raise ValueError(f"CrossEntropyLoss: target shape {classes.shape} does not match the "
                             f"logits' shape {logits.shape}: expected one class index per row, ({count},)")
        if count == 0:
            raise ValueError(f"CrossEntropyLoss got an empty batch (logits of shape {logits.shape}): "
                             f"the mean over no samples is undefined")
        if classes.dtype.kind not in "iu":
            raise TypeError(f"CrossEntropyLoss expects integer class indices, got a target of "
                            f"dtype {classes.dtype}")
        out_of_range = classes[(classes < 0) | (classes >= num_classes)]
        if out_of_range.size:
            raise ValueError(f"CrossEntropyLoss: class indices {out_of_range.tolist()} are out of "
                             f"range for {num_classes} classes (valid: 0 to {num_classes - 1})")
        logits = logits.astype(compute_dtype(prediction.dtype), copy=False)
        shifted = logits - logits.max(axis=1, keepdims=True)
        losses = np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(count), classes]
        out = Tensor(cast_back(losses.mean(), prediction.dtype))
        # END SOLUTION
        return record(out, CrossEntropyLossBackward, (prediction, target))


class BCELoss(Loss):
    """Binary cross-entropy of probabilities ``p`` in [0, 1] against targets ``y`` in [0, 1].

    Mean over every element of ``-(y * log(p) + (1 - y) * log(1 - p))``. A confident wrong
    prediction (p exactly 0 or 1) would take ``log(0) = -inf``: clip ``p`` to
    ``[BCE_EPSILON, 1 - BCE_EPSILON]`` first, so the largest possible loss per element is
    ``-log(BCE_EPSILON)`` (about 16.1). Clip in float64 (``1 - 1e-7`` is not representable
    in float16), then ``cast_back`` the result to the prediction's dtype.

    The shapes must be equal; probabilities or targets outside [0, 1], NaN included, raise
    ``ValueError`` naming the values (``_require_probabilities``; logits belong in
    ``BCEWithLogitsLoss``). A target of 1.5 would give a negative loss.
    """

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        # BEGIN SOLUTION
        _require_same_shape(self, prediction, target)
        p = prediction.data.astype(np.float64)
        y = target.data.astype(np.float64)
        _require_probabilities(self, "probabilities (for logits use BCEWithLogitsLoss)", p)
        _require_probabilities(self, "targets", y)
        p = np.clip(p, BCE_EPSILON, 1 - BCE_EPSILON)
        losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
        out = Tensor(cast_back(losses.mean(), prediction.dtype))
        # END SOLUTION
        return record(out, BCELossBackward, (prediction, target))


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy of logits ``x`` (any real numbers): ``BCELoss(sigmoid(x), y)``
    without ever computing the sigmoid.

    Per element, the loss simplifies to ``log(1 + exp(x)) - x * y``; rewritten so that the
    exponent is never positive::

        max(x, 0) - x * y + log(1 + exp(-|x|))

    (use ``np.log1p`` for the last term). Exact for every ``x``: a logit of 1000 with target
    0 costs 1000, not ``inf`` and not the clipped 16.1 of BCELoss. The result is the mean over
    every element; the shapes must be equal, and the targets in [0, 1] as for BCELoss.
    """

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        # BEGIN SOLUTION
        _require_same_shape(self, prediction, target)
        x = prediction.data.astype(compute_dtype(prediction.dtype), copy=False)
        y = target.data.astype(x.dtype)
        _require_probabilities(self, "targets", y)
        losses = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
        out = Tensor(cast_back(losses.mean(), prediction.dtype))
        # END SOLUTION
        return record(out, BCEWithLogitsLossBackward, (prediction, target))
