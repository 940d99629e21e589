"""The backward pass: topological order, gradients that add up, leaves that accumulate.

These tests use only + and * (AddBackward and MulBackward): write those two rules,
topological_order and backpropagate first, and the rest of the kata builds on them.
"""

import sys

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.core.autograd import AddBackward, MulBackward, topological_order

CHAIN_LENGTH = 10_000


def test_gradients_of_a_product_and_a_sum_by_hand():
    x = Tensor([2.0, -1.0], requires_grad=True)
    y = Tensor([3.0, 4.0], requires_grad=True)
    (x * y + x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 5.0])     # y + 1
    np.testing.assert_array_equal(y.grad.numpy(), [2.0, -1.0])    # x


def test_grad_is_a_tensor_with_the_dtype_and_shape_of_its_leaf():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    scale = np.full((2, 3), 0.5)                  # float64: the product is float64
    (x * scale).sum().backward()
    assert isinstance(x.grad, Tensor)
    assert x.grad.shape == (2, 3) and x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), scale)


def test_topological_order_of_a_chain():
    x = Tensor([1.0], requires_grad=True)
    y = x * 2.0
    z = y + 1.0
    assert [id(t) for t in topological_order(z)] == [id(x), id(y), id(z)]


def test_topological_order_lists_each_tensor_once_after_its_inputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    a = x * x                # x reached twice from a
    b = a + x                # and once more from b
    c = a * b                # a reached from c and from b
    order = topological_order(c)
    ids = [id(t) for t in order]
    assert sorted(ids) == sorted({id(x), id(a), id(b), id(c)}), "each tensor exactly once"
    position = {tensor_id: i for i, tensor_id in enumerate(ids)}
    assert position[id(x)] < position[id(a)] < position[id(b)] < position[id(c)]


def test_topological_order_skips_tensors_that_need_no_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    data = Tensor([3.0, 4.0])
    product = x * data
    out = product + data
    assert {id(t) for t in topological_order(out)} == {id(x), id(product), id(out)}


def test_a_scalar_output_starts_with_gradient_one():
    x = Tensor(3.0, requires_grad=True)
    (x * 4.0).backward()
    assert x.grad.item() == 4.0


def test_a_non_scalar_output_takes_the_gradient_it_is_given():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * Tensor([2.0, 2.0, 2.0])).backward(Tensor([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 20.0, 200.0])


def test_a_non_scalar_output_without_a_gradient_is_an_error_naming_its_shape():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        (x * 2.0).backward()


def test_a_gradient_of_the_wrong_shape_is_an_error_naming_both_shapes():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)|\(2, 3\).*\(3,\)"):
        (x * 2.0).backward(Tensor([1.0, 1.0, 1.0]))


def test_backward_on_a_tensor_without_a_graph_is_an_error():
    with pytest.raises(ValueError, match="does not require grad"):
        (Tensor([1.0]) * 2.0).backward()


def test_a_tensor_used_twice_gets_both_gradients():
    x = Tensor([3.0, -2.0], requires_grad=True)
    (x * x).sum().backward()                      # d(x^2)/dx = 2x: both factors contribute
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, -4.0])


def test_two_branches_add_up():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 2.0 + x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])


def test_a_diamond_is_processed_once():
    x = Tensor([1.5, -0.5], requires_grad=True)
    a = x * 3.0
    b = a * a + a                                 # a feeds three uses
    (b * 2.0).sum().backward()                    # d/dx 2(9x^2 + 3x) = 36x + 6
    np.testing.assert_allclose(x.grad.numpy(), 36.0 * x.numpy() + 6.0, rtol=1e-6)


def test_every_function_runs_backward_exactly_once(monkeypatch):
    calls = {}

    def counting(cls):
        original = cls.backward

        def backward(self, grad):
            calls[id(self)] = calls.get(id(self), 0) + 1
            return original(self, grad)
        return backward

    monkeypatch.setattr(AddBackward, "backward", counting(AddBackward))
    monkeypatch.setattr(MulBackward, "backward", counting(MulBackward))
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x
    for _ in range(12):                           # 12 stacked diamonds: 4096 paths to x
        h = h * 0.5 + h * 0.5
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0])
    assert len(calls) == 36 and set(calls.values()) == {1}, "a Function's backward ran twice"


def test_gradients_accumulate_across_backward_calls():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0 + 2.0, 3.0 + 4.0])


def test_the_same_graph_can_run_backward_twice():
    x = Tensor([1.0, 2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 8.0])


def test_setting_grad_to_none_starts_afresh():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    x.grad = None                                 # what zero_grad() does in kata 06
    (x * 5.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 5.0])


def test_only_leaves_keep_a_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 2.0
    (hidden * hidden).sum().backward()
    assert hidden.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 16.0])


def test_leaves_outside_the_graph_are_left_alone():
    x = Tensor([1.0], requires_grad=True)
    unused = Tensor([5.0], requires_grad=True)
    (x * 2.0).sum().backward()
    assert unused.grad is None and x.grad.item() == 2.0


def test_a_chain_of_ten_thousand_operations():
    assert sys.getrecursionlimit() < CHAIN_LENGTH, "this test needs the default recursion limit"
    x = Tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(CHAIN_LENGTH):
        y = y * 1.0001
    assert len(topological_order(y)) == CHAIN_LENGTH + 1
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.0001 ** CHAIN_LENGTH, rtol=1e-9)
