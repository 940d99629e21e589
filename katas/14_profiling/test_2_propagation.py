"""Whole models: shapes flow from layer to layer, and containers are walked child by child.

The rows' output shapes are checked against the shapes a real forward produces step by
step, their FLOPs against formulas written from those real shapes, and their parameters
against ``model.parameters()``: together they must add up to the whole model.
"""

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor, no_grad
from tinytorch.nn import (
    GPT,
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    Module,
    Sequential,
    TransformerBlock,
)
from tinytorch.systems.profiling import count_parameters, propagate


def cnn_1998(rng=1998):
    """The network of milestones/convnets.py's build_cnn with the TinyDigits recipe."""
    rng = np.random.default_rng(rng)
    return Sequential(Conv2d(1, 16, 3, padding=1, bias=False, rng=rng), BatchNorm2d(16), ReLU(), MaxPool2d(2),
                      Conv2d(16, 32, 3, padding=1, bias=False, rng=rng), BatchNorm2d(32), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(32 * 7 * 7, 10, rng=rng))


def real_shapes(model, x):
    """The output shape of every step of a Sequential, running it one step at a time."""
    shapes = []
    with no_grad():
        for step in model:
            x = step(x)
            shapes.append(tuple(x.shape))
    return shapes


def images(shape):
    return Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))


def test_the_1998_cnn_row_by_row(formulas):
    model = cnn_1998()
    x = images((4, 1, 28, 28))
    rows = propagate(model, x.shape)

    assert [row.name for row in rows] == [str(i) for i in range(10)]
    assert [row.kind for row in rows] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d", "BatchNorm2d",
                                          "ReLU", "MaxPool2d", "Flatten", "Linear"]
    shapes = real_shapes(model, x)
    assert [row.output_shape for row in rows] == shapes
    assert [row.input_shape for row in rows] == [(4, 1, 28, 28), *shapes[:-1]]
    assert [row.parameters for row in rows] == [16 * 9, 2 * 16, 0, 0, 32 * 16 * 9, 2 * 32, 0, 0, 0,
                                                1568 * 10 + 10]
    n = formulas.numel
    expected = [formulas.conv(shapes[0], 1, 3, bias=False), 7 * n(shapes[1]), n(shapes[2]), 3 * n(shapes[3]),
                formulas.conv(shapes[4], 16, 3, bias=False), 7 * n(shapes[5]), n(shapes[6]), 3 * n(shapes[7]),
                0, formulas.linear(4, 1568, 10)]
    assert [row.flops for row in rows] == expected
    assert sum(row.parameters for row in rows) == sum(p.size for p in model.parameters()) == 20538


def test_strides_and_padding_carry_through_a_whole_network(formulas):
    model = Sequential(Conv2d(3, 8, 5, stride=2, padding=2, rng=0), ReLU(), Conv2d(8, 6, 3, stride=2, rng=1),
                       AvgPool2d(2), Flatten(), Linear(6 * 2 * 2, 5, rng=2))
    x = images((3, 3, 19, 17))
    shapes = real_shapes(model, x)
    rows = propagate(model, x.shape)
    assert [row.output_shape for row in rows] == shapes
    assert rows[-1].output_shape == (3, 5)
    assert sum(row.flops for row in rows) == (formulas.conv(shapes[0], 3, 5, bias=True)
                                              + formulas.numel(shapes[1])
                                              + formulas.conv(shapes[2], 8, 3, bias=True)
                                              + 4 * formulas.numel(shapes[3])
                                              + formulas.linear(3, 24, 5))


def test_nested_containers_give_dotted_names():
    inner = Sequential(Linear(4, 8, rng=0), ReLU())
    rows = propagate(Sequential(inner, Linear(8, 2, rng=1)), (5, 4))
    assert [(row.name, row.output_shape) for row in rows] == [("0.0", (5, 8)), ("0.1", (5, 8)), ("1", (5, 2))]


def test_a_model_that_is_one_layer_is_one_row_named_after_its_class():
    layer = Linear(4, 3, rng=0)
    (row,) = propagate(layer, (2, 4))
    assert (row.name, row.kind, row.output_shape, row.parameters, row.flops) == ("Linear", "Linear", (2, 3),
                                                                                 15, 2 * (2 * 4 * 3 + 3))
    assert row.layer is layer and row.seconds is None


def test_a_layer_used_twice_is_two_rows():
    relu = ReLU()
    rows = propagate(Sequential(Linear(4, 8, rng=0), relu, Linear(8, 8, rng=1), relu), (2, 4))
    assert [row.name for row in rows] == ["0", "1", "2", "3"]
    assert rows[1].layer is rows[3].layer is relu


def test_rows_hold_python_integers():
    rows = propagate(Sequential(Linear(4, 3, rng=0)), (np.int64(2), np.int64(4)))
    row = rows[0]
    assert all(type(n) is int for n in (*row.input_shape, *row.output_shape, row.parameters, row.flops))


def test_count_parameters():
    assert count_parameters(Linear(4, 3, rng=0)) == 15
    assert count_parameters(ReLU()) == 0
    assert count_parameters(cnn_1998()) == 20538


def test_count_parameters_counts_a_shared_layer_and_a_tied_weight_once():
    shared = Linear(4, 4, rng=0)                               # 16 weights + 4 biases
    assert count_parameters(Sequential(shared, ReLU(), shared)) == 20
    assert count_parameters(Sequential(Sequential(shared, ReLU()), Sequential(shared))) == 20
    tied = Linear(4, 4, rng=1)
    tied.weight = shared.weight                                # one array, two layers
    model = Sequential(shared, ReLU(), tied)
    assert count_parameters(model) == 16 + 4 + 4 == sum(p.size for p in model.parameters())


def test_a_gpt_is_walked_through_its_blocks(formulas):
    vocab, context, dim, layers, heads, batch, length = 40, 16, 16, 2, 4, 3, 10
    model = GPT(vocab, context, dim, layers, heads, rng=0)
    ids = np.random.default_rng(1).integers(0, vocab, (batch, length))
    rows = propagate(model, ids.shape)

    block = ["ln1", "attn", "ln2", "mlp.fc", "mlp.activation", "mlp.proj", "residual"]
    assert [row.name for row in rows] == (["token_embedding", "position_embedding"]
                                          + [f"blocks.{i}.{name}" for i in range(layers) for name in block]
                                          + ["ln_f", "head"])
    with no_grad():
        real = tuple(model(ids).shape)
    assert rows[-1].output_shape == real == (batch, length, vocab)
    assert sum(row.flops for row in rows) == formulas.gpt(batch, length, vocab, dim, layers, heads)
    assert sum(row.parameters for row in rows) == sum(p.size for p in model.parameters())


def test_a_block_counts_its_residual_additions_and_its_dropout(formulas):
    block = TransformerBlock(8, 2, dropout=0.1, rng=0)
    rows = propagate(block, (2, 5, 8))
    assert rows[-1].name == "residual" and rows[-1].parameters == 0
    assert rows[-1].flops == 2 * 2 * 5 * 8 * 2, "two residual adds and two dropout multiplies per element"
    assert sum(row.flops for row in rows) == formulas.block(2, 5, 8, 2, dropout_active=True)
    block.eval()
    assert propagate(block, (2, 5, 8))[-1].flops == 2 * 2 * 5 * 8
    assert sum(row.flops for row in propagate(block, (2, 5, 8))) == formulas.block(2, 5, 8, 2)


def test_an_unknown_layer_is_named_not_skipped():
    class Mystery(Module):
        def forward(self, x):
            return x

    model = Sequential(Linear(4, 4, rng=0), Sequential(ReLU(), Mystery()))
    with pytest.raises(TypeError, match="Mystery") as error:
        propagate(model, (2, 4))
    assert "1.1" in str(error.value), "the message says where in the model the layer sits"


def test_a_shape_mismatch_between_layers_is_found_without_running():
    with pytest.raises(ValueError, match="in_features=7"):
        propagate(Sequential(Linear(4, 8, rng=0), Linear(7, 2, rng=1)), (2, 4))
