"""The Optimizer base: holding parameters, zero_grad, the step loop and per-parameter state."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.optim import SGD, Optimizer


def make_params() -> list[Tensor]:
    return [Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True),
            Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)]


class SignDescent(Optimizer):
    """A small optimizer of the test's own, built on the student's base class.

    It moves every weight by lr against the sign of its gradient and counts, in its
    state, how many updates each parameter received.
    """

    def update(self, data, grad, state):
        state["updates"] = state.get("updates", 0) + 1
        data -= self.lr * np.sign(grad)


def test_parameters_are_kept_in_order_with_the_learning_rate():
    params = make_params()
    optimizer = SGD(params, lr=0.5)
    assert isinstance(optimizer.params, list)
    assert len(optimizer.params) == 2
    assert optimizer.params[0] is params[0] and optimizer.params[1] is params[1]
    assert optimizer.lr == 0.5


def test_a_generator_of_parameters_is_read_once_and_kept():
    params = make_params()
    optimizer = SGD((p for p in params), lr=1.0)
    for _ in range(2):
        params[0].grad = Tensor(np.ones((2, 3), dtype=np.float32))
        params[1].grad = Tensor(np.full(3, 2.0, dtype=np.float32))
        optimizer.step()
    np.testing.assert_array_equal(params[0].data, np.full((2, 3), -1.0))
    np.testing.assert_array_equal(params[1].data, np.full(3, -4.0))


@pytest.mark.parametrize("empty", [[], (), iter([])], ids=["list", "tuple", "generator"])
def test_no_parameters_is_an_error(empty):
    with pytest.raises(ValueError, match="empty"):
        SGD(empty, lr=0.1)


def test_a_parameter_that_is_not_a_tensor_is_named_in_the_error():
    with pytest.raises(TypeError, match="ndarray"):
        SGD([Tensor([1.0]), np.ones(3)], lr=0.1)


@pytest.mark.parametrize("lr", [-0.5, float("nan")])
def test_a_negative_learning_rate_is_named_in_the_error(lr):
    with pytest.raises(ValueError) as error:
        SGD(make_params(), lr=lr)
    assert "lr" in str(error.value) and str(lr) in str(error.value)


def test_a_learning_rate_of_zero_is_allowed_and_changes_nothing():
    params = make_params()
    optimizer = SGD(params, lr=0.0)
    params[0].grad = Tensor(np.ones((2, 3), dtype=np.float32))
    optimizer.step()
    np.testing.assert_array_equal(params[0].data, np.ones((2, 3)))


def test_zero_grad_sets_every_gradient_to_none_and_keeps_the_weights():
    params = make_params()
    optimizer = SGD(params, lr=0.1)
    params[0].grad = Tensor(np.ones((2, 3), dtype=np.float32))
    params[1].grad = Tensor(np.ones(3, dtype=np.float32))
    optimizer.zero_grad()
    assert params[0].grad is None and params[1].grad is None
    np.testing.assert_array_equal(params[0].data, np.ones((2, 3)))
    np.testing.assert_array_equal(params[1].data, np.zeros(3))


def test_step_updates_only_parameters_that_have_a_gradient():
    params = make_params()
    optimizer = SignDescent(params, lr=0.25)
    params[1].grad = Tensor([1.0, -2.0, 0.5])
    optimizer.step()
    np.testing.assert_array_equal(params[0].data, np.ones((2, 3)))
    np.testing.assert_array_equal(params[1].data, [-0.25, 0.25, -0.25])
    assert optimizer.state[0] == {}, "a parameter without gradient must not get state"
    assert optimizer.state[1] == {"updates": 1}


def test_step_hands_update_the_parameter_array_itself_and_its_own_state():
    params = make_params()
    seen = []

    class Recorder(Optimizer):
        def update(self, data, grad, state):
            seen.append((data, grad, state))

    optimizer = Recorder(params, lr=0.1)
    for param in params:
        param.grad = Tensor(np.ones(param.shape, dtype=np.float32))
    optimizer.step()
    optimizer.step()
    assert len(seen) == 4
    (data_0, grad_0, state_0), (data_1, _, state_1), (_, _, state_0_again), _ = seen
    assert data_0 is params[0].data, "update must receive param.data, to change it in place"
    assert isinstance(grad_0, np.ndarray)
    np.testing.assert_array_equal(grad_0, params[0].grad.data)
    assert data_1 is params[1].data
    assert state_0 is not state_1, "each parameter needs a state dict of its own"
    assert state_0_again is state_0, "a parameter's state must persist between steps"
    assert optimizer.state[0] is state_0 and optimizer.state[1] is state_1


def test_per_parameter_state_accumulates_over_steps():
    params = make_params()
    optimizer = SignDescent(params, lr=0.1)
    for step in range(3):
        params[0].grad = Tensor(np.ones((2, 3), dtype=np.float32))
        params[1].grad = Tensor(np.ones(3, dtype=np.float32)) if step == 0 else None
        optimizer.step()
    assert optimizer.state[0]["updates"] == 3
    assert optimizer.state[1]["updates"] == 1


def test_a_gradient_of_the_wrong_shape_names_both_shapes():
    params = make_params()
    optimizer = SGD(params, lr=0.1)
    params[0].grad = Tensor(np.ones((3, 2), dtype=np.float32))
    with pytest.raises(ValueError) as error:
        optimizer.step()
    assert "(3, 2)" in str(error.value) and "(2, 3)" in str(error.value)


def test_state_bytes_counts_the_arrays_really_kept():
    class Tracer(Optimizer):
        """Keeps a float64 running sum of gradients: twice the bytes of a float32 one."""

        def update(self, data, grad, state):
            trace = state.setdefault("trace", np.zeros(data.shape, dtype=np.float64))
            trace += grad
            state["count"] = state.get("count", 0) + 1

    params = make_params()
    optimizer = Tracer(params, lr=0.1)
    assert optimizer.state_bytes() == 0
    params[0].grad = Tensor(np.ones((2, 3), dtype=np.float32))
    optimizer.step()
    assert optimizer.state_bytes() == 6 * 8
    params[1].grad = Tensor(np.ones(3, dtype=np.float32))
    optimizer.step()
    assert optimizer.state_bytes() == 6 * 8 + 3 * 8
