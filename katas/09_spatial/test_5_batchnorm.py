"""BatchNorm2d: batch statistics in training, running statistics in evaluation, and the
closed-form gradient of all three inputs."""

import numpy as np
import pytest

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import Tensor
from tinytorch.nn import BatchNorm2d

EPS = 1e-5


def batch(seed, shape=(4, 3, 5, 6), scale=(1.0, 3.0, 0.5), shift=(2.0, -1.0, 0.0)):
    """Images whose channels have very different means and spreads."""
    x = np.random.default_rng(seed).standard_normal(shape)
    return (x * np.array(scale)[None, :, None, None] + np.array(shift)[None, :, None, None])


def normalize(x, mean, var, gamma, beta):
    shape = (1, -1, 1, 1)
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + EPS) * gamma.reshape(shape) \
        + beta.reshape(shape)


def test_training_normalizes_each_channel_over_batch_height_and_width():
    bn = BatchNorm2d(3)
    x = batch(0).astype(np.float32)
    out = bn(Tensor(x))
    assert out.shape == x.shape and out.dtype == np.float32
    per_channel = out.numpy().transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(per_channel.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(per_channel.var(axis=1), 1, rtol=1e-3)     # the biased variance


def test_training_output_scales_and_shifts_by_gamma_and_beta():
    bn = BatchNorm2d(3)
    gamma, beta = np.array([2.0, 0.5, -1.0]), np.array([0.0, 1.0, 3.0])
    bn.weight.data[:], bn.bias.data[:] = gamma, beta
    x = batch(1)
    expected = normalize(x, x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)), gamma, beta)
    np.testing.assert_allclose(bn(Tensor(x)).numpy(), expected, rtol=1e-6, atol=1e-6)


def test_running_statistics_after_two_steps_use_the_unbiased_variance():
    bn = BatchNorm2d(3, momentum=0.1)
    first, second = batch(2), batch(3, scale=(2.0, 1.0, 4.0), shift=(0.0, 5.0, -2.0))
    bn(Tensor(first.astype(np.float32)))
    bn(Tensor(second.astype(np.float32)))
    mean, var = np.zeros(3), np.ones(3)
    for x in (first, second):
        mean = 0.9 * mean + 0.1 * x.mean(axis=(0, 2, 3))
        var = 0.9 * var + 0.1 * x.var(axis=(0, 2, 3), ddof=1)     # m - 1 = 4*5*6 - 1
    assert bn.running_mean.shape == (3,) and bn.running_var.shape == (3,)
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-5)


def test_evaluation_uses_the_running_statistics_and_leaves_them_alone():
    bn = BatchNorm2d(3, momentum=0.5)
    bn.weight.data[:], bn.bias.data[:] = [1.5, 1.0, 0.5], [0.1, 0.2, 0.3]
    bn(Tensor(batch(4).astype(np.float32)))
    running_mean, running_var = bn.running_mean.copy(), bn.running_var.copy()
    bn.eval()
    x = batch(5, scale=(5.0, 0.1, 2.0), shift=(-3.0, 1.0, 9.0))
    out = bn(Tensor(x))
    expected = normalize(x, running_mean, running_var, bn.weight.numpy(), bn.bias.numpy())
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(bn.running_mean, running_mean)
    np.testing.assert_array_equal(bn.running_var, running_var)
    # one image alone gets the same answer as inside its batch: nothing depends on the others
    np.testing.assert_allclose(bn(Tensor(x[:1])).numpy(), out.numpy()[:1], rtol=1e-6)


def test_running_statistics_travel_with_the_state_dict():
    trained = BatchNorm2d(3, momentum=0.5)
    trained(Tensor(batch(6).astype(np.float32)))
    state = trained.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var"]

    restored = BatchNorm2d(3)
    restored.load_state_dict(state)
    x = Tensor(batch(7).astype(np.float32))
    # in evaluation the output depends on the running statistics only: a model restored
    # from a checkpoint must predict exactly as the one that was saved
    np.testing.assert_array_equal(restored.eval()(x).numpy(), trained.eval()(x).numpy())


def bn_as_function(bn):
    def run(x, gamma, beta):
        bn.weight, bn.bias = gamma, beta
        return bn(x)
    return run


def test_gradcheck_in_training_for_input_gamma_and_beta():
    rng = np.random.default_rng(6)
    gradcheck(bn_as_function(BatchNorm2d(2)), batch(6, shape=(3, 2, 3, 4), scale=(1.0, 2.0),
                                                    shift=(1.0, -1.0)),
              rng.uniform(0.5, 2.0, 2), rng.standard_normal(2))


def test_gradcheck_in_evaluation():
    rng = np.random.default_rng(7)
    bn = BatchNorm2d(2)
    bn.running_mean[:], bn.running_var[:] = [0.5, -1.0], [2.0, 0.25]
    bn.eval()
    gradcheck(bn_as_function(bn), rng.standard_normal((2, 2, 3, 3)), rng.uniform(0.5, 2.0, 2),
              rng.standard_normal(2))


def test_gradient_of_the_input_by_hand():
    # a plain sum of a normalized channel cannot change: its mean is always beta * m
    x = Tensor(batch(8), requires_grad=True)
    BatchNorm2d(3)(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 0, atol=1e-9)


def test_parameters_and_errors():
    bn = BatchNorm2d(4)
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    with pytest.raises(ValueError, match=r"4-D.*\(2, 4\)"):
        bn(Tensor(np.zeros((2, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"4 channels.*3 channels"):
        bn(Tensor(np.zeros((2, 3, 5, 5), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"more than one value per channel.*\(1, 4, 1, 1\)"):
        bn(Tensor(np.zeros((1, 4, 1, 1), dtype=np.float32)))


# -- one image: m = N * H * W values per channel, not N --------------------------------------

def test_one_image_in_training_is_normalized_over_its_height_and_width():
    """A batch of one image still has H * W values per channel: BatchNorm2d must accept it
    (fine-tuning and detection train with one large image at a time)."""
    bn = BatchNorm2d(3, momentum=0.1)
    x = batch(9, shape=(1, 3, 4, 5))
    out = bn(Tensor(x))
    expected = normalize(x, x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)), np.ones(3), np.zeros(3))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)
    # the running variance is unbiased over the m = 1 * 4 * 5 = 20 values of each channel
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 1, 1), (1, 3, 1, 2), (1, 3, 2, 1)],
                         ids=["two-pixels-of-two-images", "one-image-1x2", "one-image-2x1"])
def test_two_values_per_channel_are_enough_in_training(shape):
    bn = BatchNorm2d(3, momentum=0.5)
    x = batch(10, shape=shape)
    out = bn(Tensor(x))
    expected = normalize(x, x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3)), np.ones(3), np.zeros(3))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(bn.running_var, 0.5 + 0.5 * x.var(axis=(0, 2, 3), ddof=1), rtol=1e-6)


def test_one_value_per_channel_is_refused_in_training_and_changes_nothing():
    bn = BatchNorm2d(2)
    with pytest.raises(ValueError, match=r"\(1, 2, 1, 1\)"):
        bn(Tensor(np.array([[[[1.0]], [[5.0]]]])))
    np.testing.assert_array_equal(bn.running_mean, [0.0, 0.0])
    np.testing.assert_array_equal(bn.running_var, [1.0, 1.0])


def test_one_pixel_of_one_image_in_evaluation_uses_the_running_statistics():
    bn = BatchNorm2d(2)
    bn.running_mean[:], bn.running_var[:] = [1.0, -2.0], [4.0, 0.25]
    bn.eval()
    out = bn(Tensor(np.array([[[[3.0]], [[-1.0]]]])))
    np.testing.assert_allclose(out.numpy().ravel(), [2.0 / np.sqrt(4.0 + EPS), 1.0 / np.sqrt(0.25 + EPS)],
                               rtol=1e-6)


def test_gradcheck_in_training_on_one_image():
    rng = np.random.default_rng(11)
    gradcheck(bn_as_function(BatchNorm2d(2)), batch(11, shape=(1, 2, 3, 4), scale=(1.0, 2.0), shift=(1.0, -1.0)),
              rng.uniform(0.5, 2.0, 2), rng.standard_normal(2))
