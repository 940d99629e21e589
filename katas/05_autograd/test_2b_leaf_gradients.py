"""A leaf's ``.grad`` is an array of its own, copied only when it has to be.

Optimizers and gradient clipping change ``.grad`` in place, so two leaves must never share
one array, nor a leaf and the caller's ``gradient``. But a gradient a Function has just
made for one leaf is nobody else's: copying it anyway costs a whole pass over memory.
"""

import tracemalloc

import numpy as np

from tinytorch.core import Tensor


def test_two_leaves_handed_the_same_array_get_arrays_of_their_own():
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([4.0, 5.0, 6.0], requires_grad=True)
    gradient = np.array([1.0, 2.0, 3.0])
    (a + b).backward(gradient)                     # AddBackward hands the same array to both
    assert not np.shares_memory(a.grad.data, b.grad.data), "a.grad and b.grad are one array"
    a.grad.data += 100.0                           # what an optimizer's in-place update does
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(gradient, [1.0, 2.0, 3.0])


def test_the_callers_gradient_stays_the_callers():
    x = Tensor([1.0, 2.0], requires_grad=True)
    gradient = np.array([3.0, 4.0])
    x.backward(gradient)                           # x is the leaf itself
    assert not np.shares_memory(x.grad.data, gradient), "x.grad is the caller's own array"
    y = Tensor([1.0, 2.0], requires_grad=True)
    (y + 0.0).backward(gradient)                   # handed on unchanged by AddBackward
    assert not np.shares_memory(y.grad.data, gradient), "y.grad is the caller's own array"


def test_a_view_becomes_an_array_that_can_be_changed_in_place():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    x.sum().backward()                             # the rule broadcasts: a read-only view
    x.grad.data *= 0.5
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 0.5))
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    w.transpose().backward(np.arange(6.0).reshape(3, 2))   # a transposed view of the gradient
    w.grad.data += 1.0
    np.testing.assert_array_equal(w.grad.numpy(), np.arange(6.0).reshape(3, 2).T + 1.0)


def test_a_gradient_made_for_one_leaf_is_not_copied():
    x = Tensor(np.ones((500, 500)), requires_grad=True)   # 2 MB
    y = -x
    gradient = np.ones((500, 500))
    tracemalloc.start()
    try:
        y.backward(gradient)                       # NegBackward makes -gradient: x's alone
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * x.data.nbytes, (
        f"backward peaked at {peak:,} bytes for a {x.data.nbytes:,}-byte gradient: the array "
        f"NegBackward made for x alone was copied again")
    np.testing.assert_array_equal(x.grad.numpy(), np.full((500, 500), -1.0))
