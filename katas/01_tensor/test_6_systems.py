"""Systems view of the Tensor: how many bytes, and what vectorization buys.

These figures come from your own Tensor and appear in the kata's metrics table.
"""

import numpy as np

from pytest_tinytorch.measure import peak_bytes, time_ratio
from tinytorch.core import Tensor

MNIST_TRAIN = 60_000          # images of 28 x 28 grey levels
IMAGENET_TRAIN = 1_281_167    # ImageNet-1k training images, 3 x 224 x 224


def test_bytes_of_a_million_float32_values(metrics):
    t = Tensor(np.zeros((1000, 1000), dtype=np.float32))
    assert t.nbytes == 4_000_000
    assert Tensor(np.zeros((1000, 1000))).nbytes == 8_000_000
    metrics.record("(1000, 1000) float32 tensor", t.nbytes, "bytes")


def test_nbytes_is_what_numpy_really_allocates():
    t, allocated = peak_bytes(lambda: Tensor(np.ones((500, 300), dtype=np.uint8)))
    assert t.nbytes == 150_000
    assert 150_000 <= allocated < 160_000


def test_memory_of_mnist_train_as_uint8_and_float32(metrics):
    images = Tensor(np.zeros((MNIST_TRAIN, 28, 28), dtype=np.uint8))
    assert images.nbytes == 47_040_000
    as_float = Tensor(images.numpy(), dtype=np.float32)
    assert as_float.nbytes == 4 * images.nbytes
    metrics.record("MNIST train images, uint8", images.nbytes, "bytes")
    metrics.record("MNIST train images, float32", as_float.nbytes, "bytes")


def test_memory_of_imagenet_train_from_one_image(metrics):
    image = Tensor(np.zeros((3, 224, 224), dtype=np.uint8))
    assert image.nbytes == 150_528
    metrics.record("ImageNet-1k train images, uint8", IMAGENET_TRAIN * image.nbytes, "bytes")
    as_float = Tensor(image.numpy(), dtype=np.float32)
    metrics.record("ImageNet-1k train images, float32", IMAGENET_TRAIN * as_float.nbytes, "bytes")


def test_peak_memory_of_a_matmul(metrics):
    rng = np.random.default_rng(0)

    def multiply():
        a = Tensor(rng.random((1000, 1000), dtype=np.float32))
        b = Tensor(rng.random((1000, 1000), dtype=np.float32))
        return a @ b

    c, peak = peak_bytes(multiply)
    assert c.shape == (1000, 1000) and c.dtype == np.float32
    # Two 4 MB operands and a 4 MB result are alive together: about 12 MB, not 24 (float64).
    assert 11_900_000 < peak < 13_000_000, f"peak of A @ B was {peak:,} bytes"
    metrics.record("peak of A @ B, two (1000, 1000) float32", peak, "bytes")


def _loop_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n, k = a.shape
    m = b.shape[1]
    out = np.zeros((n, m), dtype=a.dtype)
    for i in range(n):
        for j in range(m):
            total = 0.0
            for p in range(k):
                total += a[i, p] * b[p, j]
            out[i, j] = total
    return out


def test_vectorized_matmul_beats_python_loops(metrics):
    rng = np.random.default_rng(0)
    a = Tensor(rng.random((48, 48), dtype=np.float32))
    b = Tensor(rng.random((48, 48), dtype=np.float32))
    np.testing.assert_allclose(_loop_matmul(a.numpy(), b.numpy()), (a @ b).numpy(), rtol=1e-4)
    ratio = time_ratio(lambda: _loop_matmul(a.numpy(), b.numpy()), lambda: a @ b)
    # thousands of times on one core, busy or not: a threshold no load can reach
    assert ratio > 10, f"the loop was only {ratio:.1f}x slower"
    metrics.record("loop matmul / Tensor matmul time, 48x48", ratio, "ratio")
