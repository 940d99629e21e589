"""Loss gradients where gradcheck cannot go: certain predictions and huge logits.

gradcheck compares with finite differences, which only work where the loss is smooth: BCE
is checked on probabilities in 0.05-0.95. At p = 0 or 1 the forward clips p to
[BCE_EPSILON, 1 - BCE_EPSILON], and the backward must use that same clipped p in the
formula of its docstring. Each expected gradient here is that formula, written out in
float64; no step may overflow, divide by zero or make a NaN on the way.
"""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss
from tinytorch.nn.losses import BCE_EPSILON

STRICT = {"all": "raise", "under": "ignore"}  # overflow, division by zero and NaN are errors

# p exactly 0 and 1 (clipped), at both clip bounds, just beyond them (clipped too), soft
# targets at the edges, and an ordinary value for scale.
P = np.array([0.0, 0.0, 1.0, 1.0, BCE_EPSILON, 1 - BCE_EPSILON, 1e-9, 1 - 1e-9, 0.0, 1.0, 0.3])
T = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.5, 0.25, 1.0])


def clipped_bce_gradients(p, t):
    """The docstring's formulas on the clipped p, in float64: (for p, for t)."""
    c = np.clip(np.asarray(p, dtype=np.float64), BCE_EPSILON, 1 - BCE_EPSILON)
    n = c.size
    return (c - t) / (c * (1 - c)) / n, np.log((1 - c) / c) / n


def stable_sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))  # tanh never overflows


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_gradient_at_p_zero_one_and_the_clip_bounds_uses_the_clipped_p(dtype):
    p = Tensor(P.astype(dtype), requires_grad=True)
    t = Tensor(T.astype(dtype), requires_grad=True)
    with np.errstate(**STRICT):
        BCELoss()(p, t).backward()
    # float32 holds 1 - 1e-7 as 0.99999988: the expected values start from what p holds
    for_p, for_t = clipped_bce_gradients(P.astype(dtype), T.astype(dtype))
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    assert p.grad.dtype == dtype
    np.testing.assert_allclose(p.grad.numpy(), for_p, rtol=rtol,
                               err_msg="the gradient for p at index i, with p clipped as in the forward")
    np.testing.assert_allclose(t.grad.numpy(), for_t, rtol=rtol, atol=1e-15,
                               err_msg="the gradient for the target: log((1 - p) / p) / n, clipped p")


def test_a_confident_mistake_gets_a_large_finite_push_a_confident_success_almost_none():
    p = Tensor(np.array([0.0, 1.0, 0.0, 1.0]), requires_grad=True)
    with np.errstate(**STRICT):
        BCELoss()(p, Tensor([1.0, 0.0, 0.0, 1.0])).backward()
    grad = p.grad.numpy()
    # wrong and certain: -1 / BCE_EPSILON / n, about -2.5e6; right and certain: about 1 / n
    np.testing.assert_allclose(grad, [-1 / BCE_EPSILON / 4, 1 / BCE_EPSILON / 4,
                                      1 / (1 - BCE_EPSILON) / 4, -1 / (1 - BCE_EPSILON) / 4], rtol=1e-9)


def test_bce_backward_leaves_the_prediction_as_it_was():
    values = np.array([0.0, 1.0, 0.5], dtype=np.float32)
    p = Tensor(values.copy(), requires_grad=True)
    BCELoss()(p, Tensor([1.0, 0.0, 1.0])).backward()
    np.testing.assert_array_equal(p.numpy(), values, err_msg="clip a copy, never p.data in place")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_gradients_at_huge_logits(dtype):
    # beyond the overflow of exp in float32 (88.7) and float64 (709.8), and where exp(-|z|)
    # underflows to 0
    z = np.array([1e4, -1e4, 100.0, -100.0, 710.0, -710.0, 40.0, -40.0, 0.0], dtype=dtype)
    t = np.array([0.0, 1.0, 1.0, 0.0, 0.5, 0.5, 0.0, 1.0, 1.0], dtype=dtype)
    logits, targets = Tensor(z, requires_grad=True), Tensor(t, requires_grad=True)
    with np.errstate(**STRICT):
        BCEWithLogitsLoss()(logits, targets).backward()
    n = z.size
    np.testing.assert_allclose(logits.grad.numpy(), (stable_sigmoid(z) - t) / n, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(targets.grad.numpy(), -z.astype(np.float64) / n, rtol=1e-6)
    assert logits.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_gradient_of_one_hot_extreme_logits(dtype):
    """Each row has one huge logit (or one hugely negative one), rows of very different
    scales side by side: the softmax is exactly one-hot (or uniform over the others), and
    the gradient is that minus the target's one-hot, over N."""
    logits = np.array([[1e4, 0.0, 0.0, 0.0],      # right and certain: gradient 0
                       [0.0, 0.0, 1e4, 0.0],      # certain and wrong
                       [0.0, 0.0, 0.0, 0.0],      # no opinion: 1/4 each
                       [-1e4, 0.0, 0.0, 0.0],     # certain it is not class 0, which it is
                       [0.0, 3e3, 0.0, -3e3]], dtype=dtype)
    classes = np.array([0, 1, 3, 0, 3])
    softmax = np.array([[1.0, 0.0, 0.0, 0.0],
                        [0.0, 0.0, 1.0, 0.0],
                        [0.25, 0.25, 0.25, 0.25],
                        [0.0, 1 / 3, 1 / 3, 1 / 3],
                        [0.0, 1.0, 0.0, 0.0]])
    expected = softmax.copy()
    expected[np.arange(5), classes] -= 1.0
    x = Tensor(logits.copy(), requires_grad=True)
    with np.errstate(**STRICT):
        CrossEntropyLoss()(x, Tensor(classes)).backward()
    np.testing.assert_allclose(x.grad.numpy(), expected / 5, rtol=1e-6, atol=1e-12)
    assert x.grad.dtype == dtype
    np.testing.assert_array_equal(x.numpy(), logits, err_msg="the backward changed the logits")
