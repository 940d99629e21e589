"""One layer at a time: its output shape and FLOPs, predicted from its input shape alone.

Every predicted shape is compared with the shape a real forward pass of the same layer
produces, and every FLOP count with a formula written in conftest.py from that real shape:
a convolution whose output size is off by one, or that forgets its stride or padding, fails
both ways.
"""

import numpy as np
import pytest

from tinytorch.core import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh, Tensor, no_grad
from tinytorch.nn import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    LayerNorm,
    Linear,
    MaxPool2d,
    MultiHeadAttention,
    PositionalEmbedding,
    SinusoidalPositionalEncoding,
)
from tinytorch.systems.profiling import (
    attention_rule,
    avg_pool2d_rule,
    batch_norm2d_rule,
    conv2d_rule,
    dropout_rule,
    elementwise_rule,
    embedding_rule,
    flatten_rule,
    layer_norm_rule,
    linear_rule,
    max_pool2d_rule,
    positional_rule,
)


def real_output_shape(layer, shape, ids=False):
    """The shape a real forward produces on a random input of ``shape``."""
    rng = np.random.default_rng(14)
    data = rng.integers(0, 10, shape) if ids else rng.standard_normal(shape).astype(np.float32)
    with no_grad():
        return tuple(layer(data if ids else Tensor(data)).shape)


@pytest.mark.parametrize("shape", [(5, 8), (2, 4, 8), (8,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(formulas, shape, bias):
    layer = Linear(8, 3, bias=bias, rng=0)
    output, flops = linear_rule(layer, shape)
    assert output == real_output_shape(layer, shape) == (*shape[:-1], 3)
    rows = formulas.numel(shape[:-1])
    assert flops == formulas.linear(rows, 8, 3, bias), "2 * in * out per row, plus out for the bias"


def test_linear_names_a_shape_it_cannot_take():
    with pytest.raises(ValueError, match=r"in_features=8.*\(5, 7\)|\(5, 7\).*in_features=8"):
        linear_rule(Linear(8, 3, rng=0), (5, 7))


CONV_CASES = [  # in_channels, out_channels, kernel, stride, padding, bias, (H, W)
    (3, 4, 3, 1, 0, True, (8, 8)),
    (3, 4, 3, 2, 0, False, (8, 8)),      # the last window would overhang: 3 outputs, not 4
    (2, 5, 3, 2, 1, True, (9, 7)),       # padding on all four sides, H != W
    (1, 2, 5, 1, 2, True, (6, 6)),       # "same" padding
    (4, 3, 1, 1, 0, False, (5, 5)),      # 1x1 convolution
    (2, 2, 3, 3, 1, True, (10, 11)),
    (1, 16, 3, 1, 1, False, (28, 28)),   # the 1998 CNN's first layer
]


@pytest.mark.parametrize("c, o, k, s, p, bias, size", CONV_CASES)
def test_conv2d_with_stride_and_padding(formulas, c, o, k, s, p, bias, size):
    layer = Conv2d(c, o, k, stride=s, padding=p, bias=bias, rng=0)
    shape = (2, c, *size)
    output, flops = conv2d_rule(layer, shape)
    real = real_output_shape(layer, shape)
    assert output == real, f"predicted {output}, a real forward gives {real}"
    assert flops == formulas.conv(real, c, k, bias)


def test_conv2d_shape_by_hand():
    output, flops = conv2d_rule(Conv2d(3, 4, 3, stride=2, rng=0), (2, 3, 8, 8))
    assert output == (2, 4, 3, 3)
    assert flops == 2 * 4 * 3 * 3 * (2 * 3 * 3 * 3 + 1)


def test_conv2d_names_a_channel_mismatch():
    with pytest.raises(ValueError, match="channels"):
        conv2d_rule(Conv2d(3, 4, 3, rng=0), (2, 5, 8, 8))


@pytest.mark.parametrize("kernel, stride, size", [(2, None, (8, 8)), (3, 2, (7, 7)), (3, 1, (6, 5)),
                                                  (2, 3, (9, 10))])
def test_pooling(formulas, kernel, stride, size):
    shape = (2, 3, *size)
    for layer, rule, per_output in [(MaxPool2d(kernel, stride), max_pool2d_rule, kernel * kernel - 1),
                                    (AvgPool2d(kernel, stride), avg_pool2d_rule, kernel * kernel)]:
        output, flops = rule(layer, shape)
        real = real_output_shape(layer, shape)
        assert output == real, f"{layer!r}: predicted {output}, a real forward gives {real}"
        assert flops == formulas.numel(real) * per_output, f"{layer!r}"


def test_pooling_refuses_a_window_larger_than_the_image():
    with pytest.raises(ValueError, match="kernel_size=5"):
        max_pool2d_rule(MaxPool2d(5), (1, 1, 4, 4))


def test_batch_norm_counts_its_statistics_only_in_training(formulas):
    layer = BatchNorm2d(3)
    shape = (4, 3, 5, 6)
    assert batch_norm2d_rule(layer, shape) == (shape, 7 * formulas.numel(shape))
    layer.eval()
    assert batch_norm2d_rule(layer, shape) == (shape, 4 * formulas.numel(shape))
    assert real_output_shape(layer, shape) == shape


@pytest.mark.parametrize("shape, problem", [((4, 2, 5, 6), "3"), ((4, 3, 5), r"\(4, 3, 5\)")])
def test_batch_norm_names_a_wrong_input(shape, problem):
    with pytest.raises(ValueError, match=problem):
        batch_norm2d_rule(BatchNorm2d(3), shape)


def test_layer_norm(formulas):
    layer = LayerNorm(6)
    assert layer_norm_rule(layer, (2, 5, 6)) == ((2, 5, 6), 7 * 2 * 5 * 6)
    assert real_output_shape(layer, (2, 5, 6)) == (2, 5, 6)
    with pytest.raises(ValueError, match=r"\(2, 5, 4\)"):
        layer_norm_rule(layer, (2, 5, 4))


@pytest.mark.parametrize("make, per_element", [(ReLU, 1), (Tanh, 1), (Sigmoid, 4), (GELU, 9), (Softmax, 5),
                                                (lambda: LogSoftmax(axis=1), 5)])
def test_activations(formulas, make, per_element):
    activation = make()
    shape = (2, 3, 5)
    output, flops = elementwise_rule(activation, shape)
    assert output == real_output_shape(activation, shape) == shape
    assert flops == per_element * formulas.numel(shape)


def test_a_subclass_counts_like_the_class_it_extends():
    class LeakyLookingReLU(ReLU):
        pass

    assert elementwise_rule(LeakyLookingReLU(), (3, 4)) == ((3, 4), 12)


def test_dropout_costs_a_multiply_only_when_it_drops():
    shape = (4, 10)
    assert dropout_rule(Dropout(0.5, rng=0), shape) == (shape, 40)
    assert dropout_rule(Dropout(0.0), shape) == (shape, 0)
    assert dropout_rule(Dropout(0.5, rng=0).eval(), shape) == (shape, 0)


def test_flatten_is_a_reshape():
    shape = (2, 3, 4, 5)
    assert flatten_rule(Flatten(), shape) == ((2, 60), 0)
    assert real_output_shape(Flatten(), shape) == (2, 60)
    with pytest.raises(ValueError, match=r"\(7,\)"):
        flatten_rule(Flatten(), (7,))


def test_embedding_is_a_lookup():
    layer = Embedding(10, 6, rng=0)
    assert embedding_rule(layer, (2, 5)) == ((2, 5, 6), 0)
    assert real_output_shape(layer, (2, 5), ids=True) == (2, 5, 6)


@pytest.mark.parametrize("make", [lambda: PositionalEmbedding(8, 6, rng=0),
                                  lambda: SinusoidalPositionalEncoding(8, 6)])
def test_positions_add_one_flop_per_element(make):
    layer = make()
    assert positional_rule(layer, (2, 5, 6)) == ((2, 5, 6), 60)
    assert real_output_shape(layer, (2, 5, 6)) == (2, 5, 6)
    with pytest.raises(ValueError, match="max_len=8"):
        positional_rule(layer, (2, 9, 6))
    with pytest.raises(ValueError, match=r"\(2, 5, 4\)"):
        positional_rule(layer, (2, 5, 4))


@pytest.mark.parametrize("batch, length, dim, heads", [(2, 6, 8, 2), (1, 16, 12, 3), (3, 1, 8, 4)])
def test_attention(formulas, batch, length, dim, heads):
    layer = MultiHeadAttention(dim, heads, causal=True, rng=0)
    output, flops = attention_rule(layer, (batch, length, dim))
    assert output == real_output_shape(layer, (batch, length, dim)) == (batch, length, dim)
    assert flops == formulas.attention(batch, length, dim, heads)


def test_attention_grows_with_the_square_of_the_context(formulas):
    layer = MultiHeadAttention(8, 2, rng=0)
    _, short = attention_rule(layer, (1, 64, 8))
    _, long = attention_rule(layer, (1, 128, 8))
    assert long > 3 * short, "the T x T scores and weights dominate at long contexts"
    with pytest.raises(ValueError, match=r"\(2, 6, 7\)"):
        attention_rule(layer, (2, 6, 7))
