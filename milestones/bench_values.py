"""Whether two computations of a row agree: TinyTorch against PyTorch, and the floor against TinyTorch.

Before any timing, every side of a row runs once and returns its arrays by name (the
output, every gradient, after a training step every parameter). The error of an array is
its largest absolute difference divided by its scale, the largest absolute value of the
array it is judged against; a row whose worst error exceeds its tolerance is a MISMATCH.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCALE_FLOOR = 1e-2        # see compare()

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Check:
    """How far one side's arrays are from the other's: the worst array and its error."""

    error: float
    tolerance: float
    worst: str

    @property
    def ok(self) -> bool:
        return self.error <= self.tolerance

    def describe(self) -> str:
        if self.ok:
            return f"ok ({self.error:.1e})"
        return f"MISMATCH: {self.worst} {self.error:.1e} > {self.tolerance:.0e}"


def largest(array: np.ndarray) -> float:
    return float(np.abs(np.asarray(array, dtype=np.float64)).max(initial=0.0))


def relative_error(tinytorch: np.ndarray, pytorch: np.ndarray, floor: float = 0.0) -> float:
    """``max |tinytorch - pytorch| / max(max |pytorch|, floor)``; infinite for different
    shapes or a NaN. (Absolute if both the PyTorch array and ``floor`` are 0.)"""
    a, b = np.asarray(tinytorch, dtype=np.float64), np.asarray(pytorch, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    error = float(np.abs(a - b).max(initial=0.0)) / (max(largest(b), floor) or 1.0)
    return error if math.isfinite(error) else math.inf


def scale_floor(reference: Arrays) -> float:
    """The least scale an array of ``reference`` is judged on: SCALE_FLOOR times the largest
    value of all of them (see :func:`compare`)."""
    return SCALE_FLOOR * max(largest(value) for value in reference.values())


def require_same_names(ours: Arrays, theirs: Arrays, who: str) -> None:
    """Both sides must produce the same names: a missing one is a bug of the benchmark."""
    if set(ours) != set(theirs):
        raise ValueError(f"the two sides produced different arrays: {who} only "
                         f"{sorted(set(ours) - set(theirs))}, the other only "
                         f"{sorted(set(theirs) - set(ours))}")


def compare(tinytorch: Arrays, pytorch: Arrays, tolerance: float) -> Check:
    """Compare every array TinyTorch produced with PyTorch's of the same name.

    Each array is judged against its own scale (see :func:`relative_error`), so a gradient
    of 1e-3 and an output of 1e3 get the same tolerance. The scale is never taken below
    SCALE_FLOOR times the largest value of all the arrays compared: a gradient that is zero
    in exact arithmetic (the key bias of attention: softmax ignores a shift shared by every
    key) holds rounding noise only, which differs between any two libraries. Different
    names on the two sides are a ``ValueError``.
    """
    require_same_names(tinytorch, pytorch, "TinyTorch")
    least = scale_floor(pytorch)
    errors = {name: relative_error(value, pytorch[name], least) for name, value in tinytorch.items()}
    worst = max(errors, key=lambda name: errors[name])
    return Check(errors[worst], tolerance, worst)


def check_floor(floor: Arrays, tinytorch: Arrays, tolerance: float) -> Check:
    """The floor's arrays against TinyTorch's: a floor that skips work cannot pass.

    Every array goes through ``np.testing.assert_allclose(floor, tinytorch, rtol=0,
    atol=tolerance * scale)``, the scale being TinyTorch's array's as in :func:`compare`
    (whose error the returned Check reports). The first array that fails makes the Check a
    MISMATCH naming it.
    """
    require_same_names(floor, tinytorch, "the floor")
    least = scale_floor(tinytorch)
    for name, ours in tinytorch.items():
        try:
            np.testing.assert_allclose(floor[name], ours, rtol=0,
                                       atol=tolerance * (max(largest(ours), least) or 1.0))
        except AssertionError:
            error = relative_error(floor[name], ours, least)
            # (assert_allclose subtracts in the arrays' own dtype: at the very edge it may differ)
            return Check(error if error > tolerance else math.inf, tolerance, name)
    return compare(floor, tinytorch, tolerance)
