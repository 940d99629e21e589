"""LogSoftmax in log space: finite and exact where log(softmax(x)) gives -inf."""

import math

import numpy as np

from tinytorch.core import LogSoftmax, Softmax, Tensor

STRICT = {"all": "raise", "under": "ignore"}  # log(0), overflow and nan become errors


def exact_log_softmax(x, axis):
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def test_log_softmax_of_a_small_vector():
    out = LogSoftmax()(Tensor([1.0, 2.0, 3.0]))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.numpy(), exact_log_softmax([1.0, 2.0, 3.0], -1), rtol=1e-6)


def test_a_very_unlikely_class_keeps_its_exact_log_probability():
    with np.errstate(**STRICT):
        out = LogSoftmax()(Tensor([[0.0, -1000.0], [1e4, -1e4]])).numpy()
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out, [[0.0, -1000.0], [0.0, -2e4]])


def test_log_softmax_of_1000_and_1001():
    with np.errstate(**STRICT):
        out = LogSoftmax()(Tensor([1000.0, 1001.0])).numpy()
    np.testing.assert_allclose(out, [-math.log1p(math.e), -math.log1p(1 / math.e)], rtol=1e-6)


def test_agrees_with_the_log_of_softmax_where_that_is_safe():
    x = np.random.default_rng(0).standard_normal((4, 6)) * 3
    out = LogSoftmax()(Tensor(x)).numpy()
    np.testing.assert_allclose(out, np.log(Softmax()(Tensor(x)).numpy()), rtol=1e-10)
    np.testing.assert_allclose(np.exp(out).sum(axis=-1), np.ones(4), rtol=1e-12)


def test_axis_0_of_a_non_square_matrix():
    x = np.array([[1.0, 2.0, 3.0], [1.0, 4.0, 0.5]])
    np.testing.assert_allclose(LogSoftmax(axis=0)(Tensor(x)).numpy(), exact_log_softmax(x, 0),
                               rtol=1e-12)
    np.testing.assert_allclose(LogSoftmax(axis=1)(Tensor(x)).numpy(), exact_log_softmax(x, 1),
                               rtol=1e-12)


def test_middle_axis_of_a_3d_tensor_with_extreme_values():
    x = np.random.default_rng(1).standard_normal((2, 3, 4)) * 3
    x[0, 0, 0] = -3000.0
    x[1, 2, 3] = 3000.0
    with np.errstate(**STRICT):
        out = LogSoftmax(axis=1)(Tensor(x)).numpy()
    np.testing.assert_allclose(out, exact_log_softmax(x, 1), rtol=1e-10)
