"""An empty batch of images is refused with a message that says so, by every image layer."""

import numpy as np
import pytest

from tinytorch.core import Tensor
from tinytorch.nn import AvgPool2d, BatchNorm2d, Conv2d, MaxPool2d
from tinytorch.nn.spatial import conv2d, conv2d_loops


def empty_batch():
    return Tensor(np.zeros((0, 3, 8, 8), dtype=np.float32))


@pytest.mark.parametrize("make", [lambda: Conv2d(3, 4, 3, rng=0), lambda: MaxPool2d(2),
                                  lambda: AvgPool2d(2), lambda: BatchNorm2d(3)],
                         ids=["Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d"])
def test_image_layers_refuse_an_empty_batch(make):
    with pytest.raises(ValueError, match=r"empty.*\(0, 3, 8, 8\)"):
        make()(empty_batch())


@pytest.mark.parametrize("convolution", [conv2d, conv2d_loops])
def test_the_convolution_functions_refuse_it_too(convolution):
    weight = Tensor(np.zeros((4, 3, 3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="empty"):
        convolution(empty_batch(), weight)
