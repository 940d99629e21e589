"""quantize_model: a quantized copy of a whole model, calibrated (static) or dynamic; model_bytes."""

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor
from tinytorch.nn import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, Module, Sequential
from tinytorch.systems.quantization import (
    QuantizedConv2d,
    QuantizedLinear,
    RangeObserver,
    model_bytes,
    quantize_model,
)


def mlp() -> Sequential:
    return Sequential(Linear(12, 8, rng=0), ReLU(), Linear(8, 4, rng=1))


def batch(low: float, high: float, seed: int, rows: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=(rows, 12)).astype(np.float32)


def test_dynamic_quantization_replaces_every_linear_of_a_copy():
    model = mlp()
    weight_before = model[0].weight.data.copy()
    quantized = quantize_model(model)
    assert quantized is not model
    assert [type(step).__name__ for step in quantized] == ["QuantizedLinear", "ReLU", "QuantizedLinear"]
    assert all(not step.static for step in quantized if isinstance(step, QuantizedLinear))
    assert [type(step).__name__ for step in model] == ["Linear", "ReLU", "Linear"], "the original is kept"
    np.testing.assert_array_equal(model[0].weight.data, weight_before)
    x = Tensor(batch(-1.0, 1.0, seed=2))
    exact, approximate = model(x).numpy(), quantized(x).numpy()
    assert np.linalg.norm(approximate - exact) / np.linalg.norm(exact) < 0.03


def test_static_calibration_records_every_batch_at_every_layer(formulas):
    model = mlp()
    # the widest batch in the middle: neither the first nor the last batch alone has the range
    batches = [batch(0.0, 1.0, seed=3), batch(-1.0, 3.0, seed=4), batch(0.2, 0.5, seed=15)]
    quantized = quantize_model(model, [batches[0], Tensor(batches[1]), batches[2]])
    layers = [step for step in quantized if isinstance(step, QuantizedLinear)]
    assert len(layers) == 2 and all(layer.static for layer in layers)

    # the inputs each layer saw, over ALL calibration batches, from the float model
    all_inputs = np.concatenate(batches)
    hidden = np.maximum(all_inputs @ model[0].weight.data + model[0].bias.data, 0)
    for layer, seen in zip(layers, (all_inputs, hidden)):
        scale, zero = formulas.params(seen.min(), seen.max())
        assert float(layer.input_scale) == pytest.approx(float(scale), rel=1e-5), (
            f"{layer!r}: input scale {float(layer.input_scale):.6g}; the range of its inputs over all "
            f"calibration batches gives {float(scale):.6g}")
        assert int(layer.input_zero_point) == int(zero)

    x = Tensor(batch(-1.0, 3.0, seed=5))
    expected_hidden = np.maximum(formulas.linear(x.numpy(), model[0].weight.data, model[0].bias.data,
                                                 input_range=(all_inputs.min(), all_inputs.max())), 0)
    expected = formulas.linear(expected_hidden, model[2].weight.data, model[2].bias.data,
                               input_range=(hidden.min(), hidden.max()))
    np.testing.assert_allclose(quantized(x).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_one_array_is_one_calibration_batch(formulas):
    model = mlp()
    data = batch(-2.0, 2.0, seed=6)
    for calibration in (data, Tensor(data)):
        layer = quantize_model(model, calibration)[0]
        scale, zero = formulas.params(data.min(), data.max())
        assert float(layer.input_scale) == pytest.approx(float(scale), rel=1e-6)
        assert int(layer.input_zero_point) == int(zero)


def test_nested_containers_attributes_and_convolutions_are_all_replaced():
    class Net(Module):
        def __init__(self):
            super().__init__()
            self.features = Sequential(Conv2d(1, 4, 3, padding=1, rng=0), BatchNorm2d(4), ReLU(),
                                       MaxPool2d(2), Flatten(), Sequential(Linear(64, 16, rng=1), ReLU()))
            self.head = Linear(16, 3, rng=2)

        def forward(self, x):
            return self.head(self.features(x))

    model = Net()
    model.eval()
    images = np.random.default_rng(7).uniform(0, 1, size=(8, 1, 8, 8)).astype(np.float32)
    quantized = quantize_model(model, images)
    kinds = {name: type(module).__name__ for name, module in quantized.named_modules()}
    assert kinds["features.0"] == "QuantizedConv2d" and kinds["features.5.0"] == "QuantizedLinear"
    assert kinds["head"] == "QuantizedLinear" and kinds["features.1"] == "BatchNorm2d"
    assert not any(isinstance(module, (Linear, Conv2d, RangeObserver)) for _, module in quantized.named_modules())
    assert isinstance(quantized.features[0], QuantizedConv2d), "Sequential.steps must see the new layers"
    exact, approximate = model(Tensor(images)).numpy(), quantized(Tensor(images)).numpy()
    assert np.linalg.norm(approximate - exact) / np.linalg.norm(exact) < 0.05


def test_calibration_runs_in_eval_mode_and_leaves_the_model_alone():
    model = Sequential(Conv2d(1, 2, 3, rng=0), BatchNorm2d(2), ReLU(), Flatten(), Linear(2 * 4 * 4, 2, rng=1))
    running_mean = model[1].running_mean.copy()
    images = np.random.default_rng(8).normal(3.0, 1.0, size=(4, 1, 6, 6)).astype(np.float32)
    quantized = quantize_model(model, images)
    assert model.training, "the original model keeps its mode"
    np.testing.assert_array_equal(model[1].running_mean, running_mean)
    assert np.array_equal(quantized[1].running_mean, running_mean), (
        "calibration must not update BatchNorm's running statistics: run it in eval() mode")


def test_a_lone_layer_is_quantized_too():
    quantized = quantize_model(Linear(12, 4, rng=0), batch(0.0, 1.0, seed=9))
    assert isinstance(quantized, QuantizedLinear) and quantized.static
    assert isinstance(quantize_model(Conv2d(1, 2, 3, rng=0)), QuantizedConv2d)


def test_model_bytes_counts_the_stored_arrays():
    model = mlp()
    float_bytes = 4 * (12 * 8 + 8 + 8 * 4 + 4)
    assert model_bytes(model) == float_bytes
    dynamic = quantize_model(model)
    codes, channels, biases = 12 * 8 + 8 * 4, 8 + 4, 8 + 4
    assert model_bytes(dynamic) == codes + 4 * channels + 4 * channels + 4 * biases, (
        "int8 codes (1 byte), a float32 scale and an int32 zero point per output channel, the float32 bias")
    static = quantize_model(model, batch(0.0, 1.0, seed=10))
    assert model_bytes(static) == model_bytes(dynamic) + 2 * (4 + 4), "plus each layer's input scale and zero point"

    shared = Linear(4, 4, rng=0)
    assert model_bytes(Sequential(shared, ReLU(), shared)) == 4 * (16 + 4), "a shared layer is stored once"
    with_statistics = Sequential(Conv2d(1, 2, 3, rng=0), BatchNorm2d(2))
    assert model_bytes(with_statistics) == 4 * (2 * 9 + 2) + 4 * (2 + 2) + 4 * (2 + 2), (
        "BatchNorm stores its weight, bias, running mean and running variance")


def test_state_dict_carries_the_int8_weights():
    model = mlp()
    quantized = quantize_model(model, batch(0.0, 1.0, seed=11))
    state = quantized.state_dict()
    assert state["0.weight_data"].dtype == np.int8 and state["0.weight_data"].shape == (12, 8)
    different = Sequential(Linear(12, 8, rng=5), ReLU(), Linear(8, 4, rng=6))
    other = quantize_model(different, batch(-1.0, 2.0, seed=14))
    x = Tensor(batch(0.0, 1.0, seed=12))
    assert not np.array_equal(other(x).numpy(), quantized(x).numpy())
    other.load_state_dict(state)
    np.testing.assert_array_equal(other(x).numpy(), quantized(x).numpy())


def test_calibration_problems_are_clear_errors():
    with pytest.raises(ValueError, match=r"no batch"):
        quantize_model(mlp(), [])

    class Unused(Module):
        def __init__(self):
            super().__init__()
            self.used = Linear(12, 4, rng=0)
            self.spare = Linear(4, 4, rng=1)

        def forward(self, x):
            return self.used(x)

    with pytest.raises(ValueError, match=r"Linear\(in_features=4.*no calibration input"):
        quantize_model(Unused(), batch(0.0, 1.0, seed=13))
