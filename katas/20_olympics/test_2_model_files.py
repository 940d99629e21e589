"""Model files: an architecture in JSON plus plain arrays in a compressed .npz, no pickle.

A model comes back from its file alone, computing exactly what it computed before; the file
is checked against NumPy's own reader; malformed files are refused with a message that says
what is wrong and where.
"""

import copy
import json
import os

import numpy as np
import pytest

from pytest_tinytorch.measure import peak_bytes
from tinytorch.core import LogSoftmax, ReLU, Tanh, Tensor, no_grad
from tinytorch.data import Normalize
from tinytorch.nn import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    LayerNorm,
    Linear,
    MaxPool2d,
    Sequential,
)
from tinytorch.systems.olympics import SPEC_KEY, load_model, model_digest, save_model


def images(count: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((count, 1, 28, 28), dtype=np.float32)


def logits(model, x: np.ndarray) -> np.ndarray:
    with no_grad():
        return model(Tensor(x)).data


def small_mlp() -> Sequential:
    model = Sequential(Flatten(), Linear(784, 16, rng=1), ReLU(), Linear(16, 10, rng=2))
    rng = np.random.default_rng(3)
    for layer in (model[1], model[3]):
        layer.bias.data[:] = rng.normal(size=layer.bias.shape)  # a zero bias would hide a lost bias
    return model.eval()


def small_cnn() -> Sequential:
    """Normalize - conv (padding 1) - BatchNorm - ReLU - max pool - conv (stride 2, no bias) -
    avg pool - Flatten - Dropout - Linear - Tanh - Linear - LogSoftmax."""
    model = Sequential(Normalize([0.13], [0.31]), Conv2d(1, 4, 3, padding=1, rng=4), BatchNorm2d(4), ReLU(),
                       MaxPool2d(2), Conv2d(4, 6, 3, stride=2, bias=False, rng=5), AvgPool2d(2), Flatten(),
                       Dropout(0.5, rng=6), Linear(6 * 3 * 3, 16, rng=7), Tanh(), Linear(16, 10, rng=8),
                       LogSoftmax(axis=1))
    batch_norm = model[2]
    batch_norm.weight.data[:] = [0.5, 1.5, 2.0, 0.8]
    batch_norm.bias.data[:] = [0.1, -0.2, 0.3, 0.0]
    with no_grad():
        model(Tensor(images(8, seed=7)))   # training mode: the running statistics move
    return model.eval()


def test_an_mlp_comes_back_computing_exactly_the_same(tmp_path):
    model, x = small_mlp(), images(5)
    path = tmp_path / "mlp.npz"
    size = save_model(path, model)
    assert size == os.path.getsize(path), "save_model returns the size of the file on disk"
    assert path.exists() and not (tmp_path / "mlp.npz.npz").exists()

    loaded = load_model(path)
    assert isinstance(loaded, Sequential) and not loaded.training, "rebuilt as a Sequential in eval()"
    assert [type(step).__name__ for step in loaded] == ["Flatten", "Linear", "ReLU", "Linear"]
    np.testing.assert_array_equal(logits(loaded, x), logits(model, x))


def test_a_cnn_keeps_its_configuration_and_running_statistics(tmp_path):
    model, x = small_cnn(), images(4, seed=1)
    assert not np.allclose(model[2].running_mean, 0), "the fixture moved the running statistics"
    save_model(tmp_path / "cnn.npz", model)
    loaded = load_model(tmp_path / "cnn.npz")

    assert [type(step) for step in loaded] == [type(step) for step in model]
    assert (loaded[1].padding, loaded[5].stride, loaded[5].bias) == (1, 2, None)
    assert loaded[0].mean.tolist() == [0.13] and loaded[12].axis == 1
    np.testing.assert_array_equal(loaded[2].running_mean, model[2].running_mean)
    np.testing.assert_array_equal(loaded[2].running_var, model[2].running_var)
    np.testing.assert_array_equal(loaded[2].weight.data, model[2].weight.data)
    np.testing.assert_array_equal(logits(loaded, x), logits(model, x))


def test_the_file_is_json_and_plain_arrays_that_numpy_reads_without_pickle(saved_mlp, trained_mlp,
                                                                           numpy_mlp):
    with np.load(saved_mlp, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    assert set(arrays) == {SPEC_KEY, "1/weight", "1/bias", "3/weight", "3/bias"}
    spec = json.loads(str(arrays[SPEC_KEY]))
    assert spec["format"] == "tinytorch-olympics-model" and spec["version"] == 1
    assert spec["input_shape"] == [1, 28, 28]
    assert spec["layers"] == [
        {"type": "Flatten", "config": {}},
        {"type": "Linear", "config": {"in_features": 784, "out_features": 48, "bias": True}},
        {"type": "ReLU", "config": {}},
        {"type": "Linear", "config": {"in_features": 48, "out_features": 10, "bias": True}},
    ]
    assert arrays["1/weight"].dtype == np.float32 and arrays["1/weight"].shape == (784, 48)
    np.testing.assert_array_equal(arrays["3/bias"], trained_mlp[3].bias.data)
    # The arrays alone, read by NumPy, give the model's logits.
    x = images(6, seed=2)
    np.testing.assert_allclose(numpy_mlp(arrays, x), logits(trained_mlp, x), rtol=1e-5, atol=1e-5)


def test_the_file_is_compressed(tmp_path):
    model = small_mlp()
    dense = save_model(tmp_path / "dense.npz", model)
    zeros = copy.deepcopy(model)
    for layer in (zeros[1], zeros[3]):
        layer.weight.data[:] = 0
    assert save_model(tmp_path / "zeros.npz", zeros) < dense / 10, (
        "np.savez_compressed: a model of zeros must be a far smaller file")


def test_the_digest_is_of_the_contents_not_of_the_zip(tmp_path):
    model = small_mlp()
    save_model(tmp_path / "a.npz", model)
    save_model(tmp_path / "b.npz", model)
    digest = model_digest(tmp_path / "a.npz")
    assert len(digest) == 64 and digest == model_digest(tmp_path / "b.npz")

    model[3].weight.data[0, 0] = np.nextafter(model[3].weight.data[0, 0], np.float32(np.inf))
    save_model(tmp_path / "c.npz", model)
    assert model_digest(tmp_path / "c.npz") != digest, "one weight one step away is another model"


def test_int8_weights_are_stored_as_int8(tmp_path):
    from tinytorch.systems.quantization import QuantizedLinear, quantize_model

    model = small_mlp()
    quantized = quantize_model(model, calibration_data=images(20, seed=3))
    float_bytes = save_model(tmp_path / "float.npz", model)
    int8_bytes = save_model(tmp_path / "int8.npz", quantized)
    with np.load(tmp_path / "int8.npz", allow_pickle=False) as archive:
        assert archive["1/weight"].dtype == np.int8

    loaded = load_model(tmp_path / "int8.npz")
    assert isinstance(loaded[1], QuantizedLinear) and loaded[1].static
    x = images(5, seed=4)
    np.testing.assert_array_equal(logits(loaded, x), logits(quantized, x))
    assert int8_bytes < 0.4 * float_bytes, f"int8 file {int8_bytes} bytes, float32 {float_bytes}"


class MyLinear(Linear):
    def forward(self, x):
        return super().forward(x) * 2


@pytest.mark.parametrize("make_step, name", [
    (lambda: LayerNorm(10), "LayerNorm"),
    (lambda: MyLinear(10, 10, rng=0), "MyLinear"),   # a subclass computes something else
])
def test_a_layer_the_format_cannot_hold_is_refused_before_writing(tmp_path, make_step, name):
    model = Sequential(Flatten(), Linear(784, 10, rng=0), make_step())
    with pytest.raises(TypeError, match=f"step 2.*{name}"):
        save_model(tmp_path / "model.npz", model)
    assert not (tmp_path / "model.npz").exists()


# -- malformed files --------------------------------------------------------------------------

def architecture(layers, **changes) -> np.ndarray:
    spec = {"format": "tinytorch-olympics-model", "version": 1, "input_shape": [1, 28, 28],
            "layers": layers, **changes}
    return np.array(json.dumps(spec))


LINEAR = {"type": "Linear", "config": {"in_features": 784, "out_features": 4, "bias": True}}
FLATTEN = {"type": "Flatten", "config": {}}
WEIGHTS = {"1/weight": np.zeros((784, 4), np.float32), "1/bias": np.zeros(4, np.float32)}


def write_npz(path, **arrays):
    with open(path, "wb") as file:
        np.savez(file, **arrays)


@pytest.mark.parametrize("arrays, problem", [
    ({"weights": np.zeros(3)}, "not an Olympics model file"),
    ({SPEC_KEY: np.array("{not json")}, "'architecture' is not valid JSON"),
    ({SPEC_KEY: architecture([FLATTEN, LINEAR], format="onnx"), **WEIGHTS}, "'onnx'"),
    ({SPEC_KEY: architecture([FLATTEN, LINEAR], version=2), **WEIGHTS}, "version 2"),
    ({SPEC_KEY: architecture([FLATTEN, LINEAR], input_shape=[3, 32, 32]), **WEIGHTS}, r"\[3, 32, 32\]"),
    ({SPEC_KEY: architecture([])}, "no layers"),
    ({SPEC_KEY: architecture([FLATTEN, {"type": "os.system", "config": {}}])}, "layer 1.*'os.system'"),
    ({SPEC_KEY: architecture([FLATTEN, LINEAR]), "1/weight": np.zeros((784, 5), np.float32),
      "1/bias": np.zeros(4, np.float32)}, r"layer 1 \(Linear\).*shape"),
    ({SPEC_KEY: architecture([FLATTEN, LINEAR]), "1/weight": np.zeros((784, 4), np.float32)},
     r"layer 1 \(Linear\).*missing"),
    ({SPEC_KEY: architecture([FLATTEN, {"type": "Linear", "config": {"in_features": 784}}]), **WEIGHTS},
     r"layer 1 \(Linear\)"),
    ({SPEC_KEY: architecture([FLATTEN, LINEAR]), **WEIGHTS, "7/weight": np.zeros(3)},
     r"belong to no layer.*7/weight"),
])
def test_a_malformed_model_file_says_what_is_wrong(tmp_path, arrays, problem):
    path = tmp_path / "bad.npz"
    write_npz(path, **arrays)
    with pytest.raises(ValueError, match=problem) as error:
        load_model(path)
    assert str(path) in str(error.value), "the message names the file"


def test_files_that_are_not_archives_of_plain_arrays_are_refused(tmp_path):
    text = tmp_path / "text.npz"
    text.write_bytes(b"import os; os.system('echo hello')")
    single = tmp_path / "single.npz"
    with open(single, "wb") as file:
        np.save(file, np.zeros(3))
    pickled = tmp_path / "pickled.npz"
    write_npz(pickled, **{SPEC_KEY: architecture([FLATTEN]), "0/weight": np.array([{"a": 1}], dtype=object)})

    for path, problem in ((text, "corrupt .npz archive"), (single, "single array"),
                          (pickled, "Python objects")):
        with pytest.raises(ValueError, match=problem):
            load_model(path)


@pytest.mark.parametrize("layers, problem", [
    # about 400 bytes on disk, 1.6 GB of weights once Linear(20000, 20000) is constructed
    ([FLATTEN, LINEAR, {"type": "Linear", "config": {"in_features": 4, "out_features": 20000,
                                                      "bias": True}},
      {"type": "Linear", "config": {"in_features": 20000, "out_features": 20000, "bias": True}}],
     r"layer 3 \(Linear\).*parameters"),
    ([FLATTEN, {"type": "Linear", "config": {"in_features": 784, "out_features": 0, "bias": True}}],
     r"layer 1 \(Linear\).*'out_features'"),
    ([FLATTEN, {"type": "Linear", "config": {"in_features": 784, "out_features": 2.5, "bias": True}}],
     r"layer 1 \(Linear\).*'out_features'"),
])
def test_what_the_architecture_declares_is_checked_before_anything_is_built(tmp_path, layers, problem):
    path = tmp_path / "declares.npz"
    write_npz(path, **{SPEC_KEY: architecture(layers)})
    assert path.stat().st_size < 2000, "a small file (np.savez, uncompressed)"

    def load():
        with pytest.raises(ValueError, match=problem) as error:
            load_model(path)
        return error

    error, peak = peak_bytes(load)
    assert str(path) in str(error.value)
    assert peak < 2 ** 20, f"{peak:,} bytes allocated to refuse a file of {path.stat().st_size} bytes"
