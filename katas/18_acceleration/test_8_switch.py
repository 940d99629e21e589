"""The switch: enable_acceleration() installs every kernel, disable_acceleration() removes them."""

import numpy as np

from pytest_tinytorch.gradcheck import gradcheck
from tinytorch.core import ReLU, Tensor
from tinytorch.nn import (
    BatchNorm2d,
    Conv2d,
    CrossEntropyLoss,
    Flatten,
    Linear,
    MaxPool2d,
    Sequential,
    spatial,
)
from tinytorch.nn.spatial import Conv2dBackward
from tinytorch.optim import Adam
from tinytorch.systems.acceleration import (
    KERNELS,
    Conv2dFastBackward,
    MaxPool2dFastBackward,
    acceleration_enabled,
    conv2d_accelerated,
    conv2d_fast,
    disable_acceleration,
    enable_acceleration,
    max_pool2d_fast,
    plain_version,
)

PLAIN_CONV2D, PLAIN_MAX_POOL2D = spatial.conv2d, spatial.max_pool2d   # imported with the switch off


def small_cnn():
    rng = np.random.default_rng(0)
    return Sequential(Conv2d(1, 4, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2),
                      Conv2d(4, 12, 3, padding=1, rng=rng), ReLU(),            # input gradient by col2im
                      Conv2d(12, 8, 3, padding=1, bias=False, rng=rng), BatchNorm2d(8), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(8 * 3 * 3, 10, rng=rng))


def images_and_labels():
    rng = np.random.default_rng(1)
    return Tensor(rng.standard_normal((6, 1, 12, 12)).astype(np.float32)), Tensor(rng.integers(0, 10, 6))


def forward_backward(model, images, labels):
    for parameter in model.parameters():
        parameter.grad = None
    loss = CrossEntropyLoss()(model(images), labels)
    loss.backward()
    return loss.item(), [parameter.grad.numpy().copy() for parameter in model.parameters()]


def test_enable_installs_every_kernel_of_the_table_and_disable_restores_the_originals():
    assert {(kernel.owner, kernel.name) for kernel in KERNELS} >= {(spatial, "conv2d"), (spatial, "max_pool2d")}
    assert not acceleration_enabled()
    enable_acceleration()
    assert acceleration_enabled()
    assert spatial.conv2d is conv2d_accelerated and spatial.max_pool2d is max_pool2d_fast
    x = Tensor(np.ones((1, 2, 4, 4), dtype=np.float32), requires_grad=True)
    assert isinstance(Conv2d(2, 2, 3, padding=1, rng=0)(x).grad_fn, Conv2dFastBackward)
    disable_acceleration()
    assert not acceleration_enabled()
    assert spatial.conv2d is PLAIN_CONV2D and spatial.max_pool2d is PLAIN_MAX_POOL2D
    assert type(Conv2d(2, 2, 3, padding=1, rng=0)(x).grad_fn) is Conv2dBackward


def test_switching_twice_changes_nothing():
    enable_acceleration()
    enable_acceleration()               # must not save the fast kernel as the "original"
    assert plain_version(spatial, "conv2d") is PLAIN_CONV2D
    disable_acceleration()
    assert spatial.conv2d is PLAIN_CONV2D and spatial.max_pool2d is PLAIN_MAX_POOL2D
    disable_acceleration()
    assert spatial.conv2d is PLAIN_CONV2D
    x = Tensor(np.ones((1, 1, 4, 4), dtype=np.float32), requires_grad=True)
    assert isinstance(max_pool2d_fast(x, 2).grad_fn, MaxPool2dFastBackward)


def test_a_model_built_before_the_switch_gives_the_same_loss_and_gradients_both_ways():
    model, (images, labels) = small_cnn(), images_and_labels()
    plain_loss, plain_grads = forward_backward(model, images, labels)
    enable_acceleration()
    fast_loss, fast_grads = forward_backward(model, images, labels)
    kinds = {type(model[3](Tensor(np.ones((1, 4, 6, 6), dtype=np.float32), requires_grad=True)).grad_fn)}
    disable_acceleration()
    again_loss, again_grads = forward_backward(model, images, labels)
    assert kinds == {Conv2dFastBackward}
    assert abs(fast_loss - plain_loss) < 1e-5
    assert again_loss == plain_loss
    names = [name for name, _ in model.named_parameters()]
    for name, plain, fast, again in zip(names, plain_grads, fast_grads, again_grads):
        np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=1e-5, err_msg=name)
        np.testing.assert_array_equal(again, plain, err_msg=name)


def test_gradcheck_through_the_framework_functions_with_the_switch_off_and_on():
    rng = np.random.default_rng(8)
    x, weight, bias = rng.standard_normal((1, 4, 4, 4)), rng.standard_normal((3, 4, 3, 3)), rng.standard_normal(3)

    def layer(a, w, b):  # spatial's functions are looked up at every call: whatever is installed
        return spatial.max_pool2d(spatial.conv2d(a, w, b, 1, 1), 2)

    gradients = {}
    for accelerated in (False, True):
        (enable_acceleration if accelerated else disable_acceleration)()
        assert acceleration_enabled() is accelerated
        gradcheck(layer, x, weight, bias)
        tensors = [Tensor(array, requires_grad=True) for array in (x, weight, bias)]
        out = layer(*tensors)
        out.backward(Tensor(np.arange(out.size, dtype=np.float64).reshape(out.shape)))
        gradients[accelerated] = [t.grad.numpy() for t in tensors]
    for plain, fast in zip(gradients[False], gradients[True]):
        np.testing.assert_allclose(fast, plain, rtol=1e-10, atol=1e-10)


def test_training_follows_the_same_path_with_the_switch_on():
    images, labels = images_and_labels()
    losses = {}
    for accelerated in (False, True):
        (enable_acceleration if accelerated else disable_acceleration)()
        model = small_cnn()
        optimizer = Adam(model.parameters(), lr=0.01)
        history = []
        for _ in range(4):
            optimizer.zero_grad()
            loss = CrossEntropyLoss()(model(images), labels)
            loss.backward()
            optimizer.step()
            history.append(loss.item())
        losses[accelerated] = history
    np.testing.assert_allclose(losses[True], losses[False], rtol=1e-4)
    assert losses[True][-1] < losses[True][0]


def test_1_a_test_may_leave_acceleration_on():
    enable_acceleration()
    assert acceleration_enabled()
    out = Conv2d(1, 2, 3, rng=0)(Tensor(np.ones((1, 1, 5, 5), dtype=np.float32), requires_grad=True))
    assert isinstance(out.grad_fn, Conv2dFastBackward)       # and does not switch it off


def test_2_the_next_test_starts_with_it_off():
    # the kata's conftest switches acceleration off after every test
    assert not acceleration_enabled()
    assert spatial.conv2d is PLAIN_CONV2D and spatial.max_pool2d is PLAIN_MAX_POOL2D
    x = Tensor(np.ones((1, 1, 4, 4), dtype=np.float32), requires_grad=True)
    out = conv2d_fast(x, Tensor(np.ones((2, 1, 3, 3), dtype=np.float32), requires_grad=True))
    assert isinstance(out.grad_fn, Conv2dFastBackward)
    assert spatial.conv2d is PLAIN_CONV2D                    # calling a kernel switches nothing
