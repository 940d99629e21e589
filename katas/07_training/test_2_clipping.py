"""Gradient clipping by global norm, checked against NumPy."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import CrossEntropyLoss
from tinytorch.training import clip_grad_norm


def with_grads(*grads: np.ndarray) -> list[Tensor]:
    params = []
    for grad in grads:
        param = Tensor(np.zeros(grad.shape, dtype=grad.dtype), requires_grad=True)
        param.grad = Tensor(grad.copy())
        params.append(param)
    return params


def global_norm(arrays) -> float:
    return float(np.sqrt(sum(np.sum(np.asarray(a, dtype=np.float64) ** 2) for a in arrays)))


def test_large_gradients_are_scaled_by_one_common_factor():
    rng = np.random.default_rng(0)
    # One big gradient and one small one: clipping each tensor on its own would leave the
    # small one alone and change the direction of the step.
    grads = [rng.standard_normal((4, 3)).astype(np.float32) * 10,
             rng.standard_normal(3).astype(np.float32) * 0.1,
             rng.standard_normal((2, 2, 2)).astype(np.float32)]
    params = with_grads(*grads)
    total = global_norm(grads)

    returned = clip_grad_norm(params, max_norm=1.0)

    assert isinstance(returned, float)
    assert returned == pytest.approx(total, rel=1e-6)
    for param, grad in zip(params, grads):
        np.testing.assert_allclose(param.grad.data, grad * (1.0 / total), rtol=1e-5, atol=1e-8)
        assert param.grad.dtype == np.float32
    assert global_norm(p.grad.data for p in params) == pytest.approx(1.0, rel=1e-5)


def test_returns_the_norm_before_clipping_not_after():
    params = with_grads(np.array([3.0, 4.0], dtype=np.float32))
    assert clip_grad_norm(params, max_norm=0.5) == pytest.approx(5.0)
    np.testing.assert_allclose(params[0].grad.data, [0.3, 0.4], rtol=1e-6)


def test_gradients_within_the_limit_are_left_unchanged():
    grads = [np.array([0.3, -0.4], dtype=np.float32), np.array([[0.0, 1.2]], dtype=np.float32)]
    params = with_grads(*grads)
    assert clip_grad_norm(params, max_norm=2.0) == pytest.approx(1.3, rel=1e-6)
    for param, grad in zip(params, grads):
        np.testing.assert_array_equal(param.grad.data, grad)


def test_parameters_without_a_gradient_are_skipped():
    params = with_grads(np.array([6.0, 8.0], dtype=np.float32))
    idle = Tensor(np.ones(5, dtype=np.float32), requires_grad=True)
    assert clip_grad_norm([idle, *params], max_norm=5.0) == pytest.approx(10.0)
    assert idle.grad is None
    np.testing.assert_allclose(params[0].grad.data, [3.0, 4.0], rtol=1e-6)


def test_a_generator_of_parameters_is_clipped_too():
    # model.parameters() may be a generator: it can be read only once.
    params = with_grads(np.array([30.0, 40.0], dtype=np.float32), np.array([0.0], dtype=np.float32))
    assert clip_grad_norm((p for p in params), max_norm=1.0) == pytest.approx(50.0)
    np.testing.assert_allclose(params[0].grad.data, [0.6, 0.8], rtol=1e-6)


def test_the_norm_of_huge_float32_gradients_does_not_overflow():
    # 1e20 squared is 1e40: inf in float32, so the norm must be summed in float64.
    huge = np.full(4, 1e20, dtype=np.float32)
    params = with_grads(huge)
    assert clip_grad_norm(params, max_norm=1.0) == pytest.approx(2e20, rel=1e-6)
    np.testing.assert_allclose(params[0].grad.data, np.full(4, 0.5), rtol=1e-6)
    assert params[0].grad.dtype == np.float32


@pytest.mark.parametrize("max_norm", [0.0, -1.0])
def test_max_norm_must_be_positive(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm(with_grads(np.ones(2, dtype=np.float32)), max_norm=max_norm)


def test_clipping_the_gradients_of_a_real_model(make_blobs, make_mlp):
    x, y = make_blobs(32, seed=1)
    model = make_mlp(seed=3)
    CrossEntropyLoss()(model(Tensor(x)), Tensor(y)).backward()
    before = [p.grad.data.copy() for p in model.parameters()]
    total = global_norm(before)
    assert total > 0.05, "backward() through the MLP gave (almost) no gradient"

    assert clip_grad_norm(model.parameters(), max_norm=0.05) == pytest.approx(total, rel=1e-5)
    for param, grad in zip(model.parameters(), before):
        np.testing.assert_allclose(param.grad.data, grad * (0.05 / total), rtol=1e-5, atol=1e-9)
