"""Systems view: what int8 saves and what it costs, on models trained on real TinyDigits.

An MLP 784-128-10 and a small CNN are trained once per run (a second or so, with kata 06's
Adam and kata 07's Trainer), then quantized with your code. Bytes are counted from the
arrays the models really store and from checkpoint files on disk; accuracy is measured on
the 1,000 test images; times are interleaved ratios taken with BLAS pinned to one thread,
shown in the metrics table and never asserted (a busy machine moves them). That the int8
layers stay whole-array code is asserted by counting: the lines of your Python a forward
runs do not grow with the batch.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tinytorch.measure import python_lines, time_ratio
from tinytorch.core import ReLU, Tensor, no_grad
from tinytorch.data import load_tinydigits
from tinytorch.nn import Conv2d, CrossEntropyLoss, Flatten, Linear, MaxPool2d, Sequential
from tinytorch.optim import Adam
from tinytorch.systems.quantization import QuantizedLinear, model_bytes, quantize_model, quantize_tensor
from tinytorch.training import Trainer, load_checkpoint, save_checkpoint

BATCH = 64
CALIBRATION = 500  # training images (never test images) that calibrate the static models
CNN_IMAGES = 300  # test images the CNN timing runs on
ROUNDS = 5  # interleaved rounds per time ratio: the median resists a noisy neighbour


def train(model: Sequential, images: np.ndarray, labels: np.ndarray, epochs: int) -> Sequential:
    batches = [(Tensor(images[i:i + BATCH]), Tensor(labels[i:i + BATCH]))
               for i in range(0, len(images), BATCH)]
    Trainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=2e-3)).fit(batches, epochs=epochs)
    return model.eval()


@pytest.fixture(scope="module")
def digits():
    data = load_tinydigits()
    return ((data.x_train / 255.0).astype(np.float32), data.y_train,
            (data.x_test / 255.0).astype(np.float32), data.y_test)


@pytest.fixture(scope="module")
def mlp(digits):
    x_train, y_train, _, _ = digits
    model = Sequential(Linear(784, 128, rng=0), ReLU(), Linear(128, 10, rng=1))
    return train(model, x_train.reshape(-1, 784), y_train, epochs=5)


@pytest.fixture(scope="module")
def cnn(digits):
    x_train, y_train, _, _ = digits
    model = Sequential(Conv2d(1, 8, 3, padding=1, rng=0), ReLU(), MaxPool2d(2),
                       Conv2d(8, 16, 3, padding=1, rng=1), ReLU(), MaxPool2d(2), Flatten(),
                       Linear(16 * 7 * 7, 10, rng=2))
    return train(model, x_train[:, None], y_train, epochs=2)


def accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    with no_grad():
        return 100.0 * float(np.mean(model(Tensor(images)).numpy().argmax(axis=1) == labels))


def test_int8_weights_take_a_quarter_of_the_bytes(mlp, cnn, digits, tmp_path, metrics):
    x_train = digits[0]
    static_mlp = quantize_model(mlp, x_train[:CALIBRATION].reshape(-1, 784))
    static_cnn = quantize_model(cnn, x_train[:CALIBRATION, None])

    float_bytes, int8_bytes = model_bytes(mlp), model_bytes(static_mlp)
    weights = 784 * 128 + 128 * 10
    assert float_bytes == 4 * (weights + 128 + 10)
    # int8 codes, a float32 scale and an int32 zero point per output channel, the float32
    # biases, and each layer's static input scale and zero point
    assert int8_bytes == weights + 8 * (128 + 10) + 4 * (128 + 10) + 2 * 8
    ratio = float_bytes / int8_bytes
    assert 3.8 < ratio < 4.0, f"{float_bytes:,} bytes float32, {int8_bytes:,} int8: {ratio:.2f} x"

    save_checkpoint(tmp_path / "float.npz", mlp)
    save_checkpoint(tmp_path / "int8.npz", static_mlp)
    float_file, int8_file = (tmp_path / "float.npz").stat().st_size, (tmp_path / "int8.npz").stat().st_size
    assert float_file / int8_file > 3.5, f"checkpoints: {float_file:,} and {int8_file:,} bytes"
    # A small file proves nothing if it lost the weights: load it into the int8 copy of an
    # untrained MLP, which must then answer exactly as the model that was saved.
    images = Tensor(digits[2][:200].reshape(-1, 784))
    other = quantize_model(Sequential(Linear(784, 128, rng=5), ReLU(), Linear(128, 10, rng=6)),
                           x_train[:CALIBRATION].reshape(-1, 784))
    assert not np.array_equal(other(images).numpy(), static_mlp(images).numpy())
    load_checkpoint(tmp_path / "int8.npz", other)
    assert other[0].weight_data.dtype == np.int8
    np.testing.assert_array_equal(other(images).numpy(), static_mlp(images).numpy(),
                                  err_msg="the int8 checkpoint does not restore the model it saved")

    cnn_ratio = model_bytes(cnn) / model_bytes(static_cnn)
    assert 3.5 < cnn_ratio < 4.0, f"CNN: {cnn_ratio:.2f} x"

    metrics.record("MLP 784-128-10, float32", float_bytes, "bytes")
    metrics.record("MLP 784-128-10, int8 static", int8_bytes, "bytes")
    metrics.record("MLP float32 / int8 bytes", ratio, "ratio")
    metrics.record("MLP checkpoint file, float32", float_file, "bytes")
    metrics.record("MLP checkpoint file, int8", int8_file, "bytes")
    metrics.record("small CNN float32 / int8 bytes", cnn_ratio, "ratio")


def test_per_channel_scales_fit_trained_weights_better(mlp, metrics):
    weight = mlp[0].weight.data
    per_tensor = float(np.abs(quantize_tensor(weight).dequantize() - weight).mean())
    per_channel = float(np.abs(quantize_tensor(weight, axis=1).dequantize() - weight).mean())
    assert per_channel < per_tensor, f"per channel {per_channel:.3g}, per tensor {per_tensor:.3g}"
    metrics.record("first layer weight error per tensor / per channel", per_tensor / per_channel, "ratio")


def test_accuracy_barely_moves(mlp, cnn, digits, metrics):
    x_train, _, x_test, y_test = digits
    flat_test = x_test.reshape(-1, 784)
    float_accuracy = accuracy(mlp, flat_test, y_test)
    static_accuracy = accuracy(quantize_model(mlp, x_train[:CALIBRATION].reshape(-1, 784)), flat_test, y_test)
    dynamic_accuracy = accuracy(quantize_model(mlp), flat_test, y_test)
    cnn_float = accuracy(cnn, x_test[:, None], y_test)
    cnn_static = accuracy(quantize_model(cnn, x_train[:CALIBRATION, None]), x_test[:, None], y_test)

    assert float_accuracy > 90 and cnn_float > 85, (
        f"the float models reached only {float_accuracy:.1f} % and {cnn_float:.1f} %: training went wrong")
    for name, value, reference in [("MLP static", static_accuracy, float_accuracy),
                                   ("MLP dynamic", dynamic_accuracy, float_accuracy),
                                   ("CNN static", cnn_static, cnn_float)]:
        assert abs(value - reference) <= 1.0, f"{name}: {value:.1f} % against {reference:.1f} % in float32"

    metrics.record("MLP test accuracy, float32", float_accuracy, "%")
    metrics.record("MLP test accuracy, int8 static", static_accuracy, "%")
    metrics.record("MLP test accuracy, int8 dynamic", dynamic_accuracy, "%")
    metrics.record("CNN test accuracy, float32", cnn_float, "%")
    metrics.record("CNN test accuracy, int8 static", cnn_static, "%")


def test_the_honest_latency_ratio(mlp, cnn, digits, metrics):
    x_train, _, x_test, _ = digits
    images = Tensor(x_test.reshape(-1, 784))
    static = quantize_model(mlp, x_train[:CALIBRATION].reshape(-1, 784))
    dynamic = quantize_model(mlp)
    assert isinstance(static[0], QuantizedLinear)
    small_images = Tensor(x_test[:CNN_IMAGES, None])
    static_cnn = quantize_model(cnn, x_train[:CALIBRATION, None])

    # Not asserted to be faster: NumPy has no int8 matrix product, so the quantized layers
    # quantize their input, widen the codes to float64 and multiply there. What is asserted
    # is that they do it with whole arrays: a loop over rows or elements would run its
    # lines once per image.
    for name, model, batch in [("MLP static", static, images), ("MLP dynamic", dynamic, images),
                               ("CNN static", static_cnn, small_images)]:
        few, many = (python_lines(lambda model=model, part=part: model(part))[1]
                     for part in (Tensor(batch.numpy()[:10]), batch))
        assert few == many, (f"{name}: a forward on 10 images ran {few:,} lines of your Python, on "
                             f"{len(batch):,} images {many:,}: is there a loop over the batch?")

    def float_mlp():
        with no_grad():
            mlp(images)

    def float_cnn():
        with no_grad():
            cnn(small_images)

    static_ratio = time_ratio(lambda: static(images), float_mlp, rounds=ROUNDS)
    dynamic_ratio = time_ratio(lambda: dynamic(images), float_mlp, rounds=ROUNDS)
    cnn_ratio = time_ratio(lambda: static_cnn(small_images), float_cnn, rounds=ROUNDS)

    codes = np.random.default_rng(0).integers(-128, 128, size=(250, 784))
    weights = np.random.default_rng(1).integers(-128, 128, size=(784, 128))
    as_int32, as_float32 = (codes.astype(np.int32), weights.astype(np.int32)), (
        codes.astype(np.float32), weights.astype(np.float32))
    integer_matmul = time_ratio(lambda: as_int32[0] @ as_int32[1], lambda: as_float32[0] @ as_float32[1],
                                rounds=ROUNDS)

    metrics.record("MLP int8 static / float32 time, batch 1000", static_ratio, "ratio")
    metrics.record("MLP int8 dynamic / float32 time, batch 1000", dynamic_ratio, "ratio")
    metrics.record(f"CNN int8 static / float32 time, batch {CNN_IMAGES}", cnn_ratio, "ratio")
    metrics.record("int32 / float32 np.matmul time, (250, 784) @ (784, 128)", integer_matmul, "ratio")
