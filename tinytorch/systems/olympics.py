"""Kata 20: the Olympics, where optimized models compete under fixed rules.

You have built a framework, trained models with it, and learned four ways to make them
cheaper (quantization, compression, caching, acceleration) and one way to measure them
honestly (benchmarking). The capstone puts them together: optimize a TinyDigits model, save
it to a file, submit it, and let a classmate's machine check your claims and rank you.

**The events.** Every model is measured on the same held-out data, the 1,000 images of the
TinyDigits test split (``load_tinydigits().x_test``, 100 per digit), which no model may
train on. The input is fixed: ``x_test[:, None] / 255.0`` in float32, shape (N, 1, 28, 28);
an MLP starts with ``Flatten()``. Each model is judged in five events:

=============  ==================================================  =============
event          what is measured                                    better
=============  ==================================================  =============
accuracy       share of the 1,000 test digits classified right     higher
latency        median single-stream latency, one image per query   lower
               (kata 19's ``Benchmark.single_stream`` on the
               first ``LATENCY_QUERIES`` test images)
throughput     offline images per second, batches of 100           higher
bytes          size of the model file on disk                      lower
combined       the score below                                     higher
=============  ==================================================  =============

**The combined score** weighs the three costs a deployed model pays against a fixed
baseline, in halvings (base-2 logarithms of ratios)::

    score = 2 * log2(BASELINE_ERROR / error)
          + 1 * log2(BASELINE_LATENCY_SECONDS / latency)
          + 1 * log2(BASELINE_MODEL_BYTES / model_bytes)

with ``error = max(1 - accuracy, ERROR_FLOOR)``. A model exactly at the baseline scores 0;
halving the latency or the file is worth +1, halving the error +2 (a mistake costs more
than a microsecond). Logarithms make the score *scale-free*: a model twice as fast gains
the same point at 40 or at 400 microseconds, on a fast or a slow machine, and the baseline
cancels out of the difference between two entries, so the ranking does not depend on it.
The error is used rather than the accuracy because it is what halves: from 96 % to 98 %
accurate is half the mistakes. ``ERROR_FLOOR`` (half an image) keeps a perfect model
finite.

**Qualifying.** A score that rewards bytes and speed invites a model of 200 bytes that
guesses. A measure that becomes a target stops measuring (Goodhart's law), so an entry
must reach ``MIN_ACCURACY`` to be ranked in the latency, throughput, bytes and combined
events; below it, it is listed without a rank (its combined score is ``None``). The
accuracy event ranks everyone.

**Model files without code.** A classmate must be able to run your model without your
code, and loading a file must never run code: no pickle. A model file is an ``.npz``
archive (``np.savez_compressed``, read back with ``np.load(allow_pickle=False)``) holding
one JSON text, the *architecture*, and plain numeric arrays::

    "architecture"    {"format": MODEL_FORMAT, "version": 1, "input_shape": [1, 28, 28],
                       "layers": [{"type": "Flatten", "config": {}},
                                  {"type": "Linear", "config": {"in_features": 784, ...}}, ...]}
    "1/weight"        float32 (784, 64)      arrays of layer 1, as "<index>/<name>"
    "1/bias"          float32 (64,)

The model is a ``Sequential`` of the layer types in ``LAYER_TYPES`` (Linear, Conv2d,
BatchNorm2d with its running statistics, pooling, Flatten, activations, Dropout, Normalize,
and kata 15's QuantizedLinear and QuantizedConv2d with their int8 weights). A model trained
on normalized pixels keeps its normalization as its first step, ``Normalize(mean / 255,
std / 255)`` in the units of the rules' input. Loading
rebuilds each layer from its type and config and copies its arrays in, checking names and
shapes (kata 03's ``load_state_dict``). Arrays keep their dtype in the file: int8 weights
take one byte each, float16 ones two, and zeros from pruning (kata 16) compress to almost
nothing, so **model bytes** (the file's size on disk, what you would ship) reward all three.

**Trust, but verify.** A submission is a JSON file next to the model file that names the
entrant and *claims* the accuracy, the bytes, the latency and the throughput measured on
the submitter's machine, with the model's digest: a SHA-256 of the archive's contents
(kata 07's ``checkpoint_digest``), so the same model saved twice has the same digest and a
single changed weight does not. The verifier re-runs the claims:

- bytes and digest are facts about the file: recomputed, and a mismatch rejects the
  submission, naming the field;
- accuracy is a fact about the model and the test set: recomputed exactly (the count of
  correct digits), and a mismatch rejects the submission. (On another machine a BLAS
  that sums in another order can move a logit in its last bit, enough to flip a digit
  whose two best logits tie to 7 digits. That is rare; the rejection gives the count
  measured, so the two sides can see what happened.)
- latency and throughput depend on the machine: re-measured by the verifier, and the new
  figures replace the claims (which stay on record, for comparison).

**The leaderboard** (a JSON file) keeps every distinct submission, one per entrant and
model digest: the same model submitted again is a duplicate and the first measurement
stands (re-running a benchmark until the noise favours you is not an optimization). Each
event ranks every entrant's best entry for that event, with competition ranking (equal
values share a rank: 1, 2, 2, 4). Latencies measured on different machines cannot be
compared, so two leaderboards merge only if their environments (kata 19's
``capture_environment``) agree on ``MACHINE_KEYS``; otherwise verify the submissions again
on one machine. The BLAS thread settings are among those keys: verify with one thread
(``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1``, as the katas run), so that a model is not
ranked on how many cores its matrix products happened to get.

Command line::

    python -m tinytorch.systems.olympics submit MODEL.npz --name NAME [--out SUBMISSION.json]
    python -m tinytorch.systems.olympics verify SUBMISSION.json ... [--leaderboard BOARD.json]
    python -m tinytorch.systems.olympics leaderboard BOARD.json ... [--event E] [--out MERGED.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tabulate import tabulate

from ..core.activations import GELU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from ..core.autograd import no_grad
from ..core.tensor import Tensor
from ..data.dataloader import Normalize
from ..data.tinydigits import load_tinydigits
from ..nn.layers import Dropout, Linear, Module, Sequential
from ..nn.spatial import AvgPool2d, BatchNorm2d, Conv2d, Flatten, MaxPool2d
from ..training import checkpoint_digest, json_scalar
from .benchmarking import Benchmark, BenchmarkResult
from .quantization import QuantizedConv2d, QuantizedLinear, QuantizedTensor

# -- the rules ------------------------------------------------------------------------------

RULES_VERSION = 1
PIXEL_SCALE = 255.0               # inputs are x_test[:, None] / 255.0, float32
INPUT_SHAPE = (1, 28, 28)         # one image: (channels, height, width)
NUM_CLASSES = 10
EVAL_BATCH_SIZE = 100             # accuracy and offline throughput run in batches of 100
LATENCY_QUERIES = 200             # single-stream latency: the first 200 test images
LATENCY_WARMUP = 10               # untimed queries (and batches) before timing
OFFLINE_REPEATS = 5               # timed passes over the 1,000 images
MIN_ACCURACY = 0.90               # to be ranked in any event but accuracy
ERROR_FLOOR = 0.0005              # half a test image: a perfect model's error for the score
BASELINE_ERROR = 0.05             # the baseline scores 0: 95 % accurate,
BASELINE_LATENCY_SECONDS = 1e-4   # 100 microseconds per image,
BASELINE_MODEL_BYTES = 100_000    # a 100 kB file
WEIGHT_ACCURACY = 2.0             # points per halving of the error
WEIGHT_LATENCY = 1.0              # points per halving of the latency
WEIGHT_BYTES = 1.0                # points per halving of the file

# event -> (Entry attribute, True if higher is better)
EVENTS: dict[str, tuple[str, bool]] = {
    "combined": ("combined", True),
    "accuracy": ("accuracy", True),
    "latency": ("latency_seconds", False),
    "throughput": ("throughput", True),
    "bytes": ("model_bytes", False),
}
# Environment entries (kata 19) that must agree before latencies can be ranked together.
MACHINE_KEYS = ("cpu_model", "cpu_count", "python", "numpy", "blas", "blas_thread_env",
                "blas_threads_in_use")

MODEL_FORMAT = "tinytorch-olympics-model"
MODEL_VERSION = 1
SPEC_KEY = "architecture"
SUBMISSION_SCHEMA = "tinytorch-olympics-submission"
SUBMISSION_VERSION = 1
LEADERBOARD_SCHEMA = "tinytorch-olympics-leaderboard"
LEADERBOARD_VERSION = 1
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@ -]{0,63}")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


# -- scoring --------------------------------------------------------------------------------

def combined_score(accuracy: float, latency_seconds: float, model_bytes: int) -> float | None:
    """The combined score of the module docstring, or None below ``MIN_ACCURACY``::

        error = max(1 - accuracy, ERROR_FLOOR)
        score = WEIGHT_ACCURACY * log2(BASELINE_ERROR / error)
              + WEIGHT_LATENCY * log2(BASELINE_LATENCY_SECONDS / latency_seconds)
              + WEIGHT_BYTES * log2(BASELINE_MODEL_BYTES / model_bytes)

    ``math.log2``, a float. An accuracy of exactly ``MIN_ACCURACY`` qualifies. The
    qualifying check comes after the checks of the arguments, so a bad figure is an error
    even for a model that would not qualify.

    ``ValueError`` if ``accuracy`` is not in [0, 1], or the latency or the bytes are not
    finite and positive; the message names the figure at fault as ``name=value``
    (``accuracy=1.2``, ``latency_seconds=0.0``, ``model_bytes=0``).
    """
    raise NotImplementedError("combined_score: not implemented yet (kata 20 Olympics)")


# -- model files: an architecture in JSON and arrays, never pickle ----------------------------

def _no_config(layer: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class LayerType:
    """How one kind of layer goes into a model file and comes back out.

    - ``cls``: the class; only layers of exactly this class are accepted (a subclass may
      compute something else);
    - ``config``: the constructor arguments that rebuild the layer, as JSON values.

    The arrays are the layer's ``state_dict()`` (kata 03): its parameters and its buffers,
    such as BatchNorm2d's running statistics, which evaluation needs as much as the weights.
    """

    cls: type
    config: Callable[[Any], dict[str, Any]] = _no_config

    def arrays(self, layer: Any) -> dict[str, np.ndarray]:
        """The layer's arrays by name (none for an activation, which is not a Module)."""
        return layer.state_dict() if isinstance(layer, Module) else {}

    def rebuild(self, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        """A new layer from ``config``, holding ``arrays``; ``ValueError`` if they do not fit.

        ``load_state_dict`` names missing keys, unexpected keys and shape mismatches, and
        casts each array into the layer's own dtype (a float16 weight comes back float32).
        """
        if not isinstance(config, dict):
            raise TypeError(f"the config must be a JSON object, got {config!r}")
        layer = self.cls(**config)
        if isinstance(layer, Module):
            layer.load_state_dict(arrays)
        elif arrays:
            raise ValueError(f"{self.cls.__name__} has no arrays, the file holds {sorted(arrays)}")
        return layer


@dataclass(frozen=True)
class QuantizedLayerType(LayerType):
    """Kata 15's int8 layers: the weight's int8 values, scales and zero points, the float32
    bias, and (static quantization) the input's scale and zero point."""

    def arrays(self, layer: Any) -> dict[str, np.ndarray]:
        arrays = {"weight": layer.weight.data, "weight_scale": layer.weight.scale,
                  "weight_zero_point": layer.weight.zero_point}
        if layer.bias is not None:
            arrays["bias"] = layer.bias
        if layer.static:
            arrays["input_scale"] = layer.input_scale
            arrays["input_zero_point"] = layer.input_zero_point
        return arrays

    def rebuild(self, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
        if not isinstance(config, dict):
            raise TypeError(f"the config must be a JSON object, got {config!r}")
        arrays = dict(arrays)
        options = dict(config)
        missing = [name for name in ("weight", "weight_scale", "weight_zero_point") if name not in arrays]
        if missing:
            raise ValueError(f"missing arrays {missing}")
        weight = QuantizedTensor(arrays.pop("weight"), arrays.pop("weight_scale"),
                                 arrays.pop("weight_zero_point"), options.pop("axis", None))
        bias = arrays.pop("bias", None)
        input_scale, input_zero_point = arrays.pop("input_scale", None), arrays.pop("input_zero_point", None)
        if arrays:
            raise ValueError(f"unexpected arrays {sorted(arrays)}")
        layer = self.cls(weight, bias, **options)
        if (input_scale is None) != (input_zero_point is None):
            raise ValueError("a static layer needs both input_scale and input_zero_point")
        if input_scale is not None:
            layer.input_scale = np.asarray(input_scale, dtype=np.float32)
            layer.input_zero_point = np.asarray(input_zero_point, dtype=np.int32)
        return layer


def _bias(layer: Any) -> bool:
    return layer.bias is not None


LAYER_TYPES: dict[str, LayerType] = {
    "Linear": LayerType(Linear, lambda layer: {"in_features": layer.in_features,
                                               "out_features": layer.out_features, "bias": _bias(layer)}),
    "Conv2d": LayerType(Conv2d, lambda layer: {
        "in_channels": layer.in_channels, "out_channels": layer.out_channels,
        "kernel_size": layer.kernel_size, "stride": layer.stride, "padding": layer.padding,
        "bias": _bias(layer)}),
    "BatchNorm2d": LayerType(BatchNorm2d, lambda layer: {
        "num_features": layer.num_features, "momentum": layer.momentum, "eps": layer.eps}),
    "MaxPool2d": LayerType(MaxPool2d, lambda layer: {"kernel_size": layer.kernel_size,
                                                     "stride": layer.stride}),
    "AvgPool2d": LayerType(AvgPool2d, lambda layer: {"kernel_size": layer.kernel_size,
                                                     "stride": layer.stride}),
    "Flatten": LayerType(Flatten),
    "ReLU": LayerType(ReLU),
    "Sigmoid": LayerType(Sigmoid),
    "Tanh": LayerType(Tanh),
    "GELU": LayerType(GELU),
    "Softmax": LayerType(Softmax, lambda layer: {"axis": layer.axis}),
    "LogSoftmax": LayerType(LogSoftmax, lambda layer: {"axis": layer.axis}),
    "Dropout": LayerType(Dropout, lambda layer: {"p": layer.p}),
    "Normalize": LayerType(Normalize, lambda layer: {"mean": layer.mean.tolist(),
                                                     "std": layer.std.tolist()}),
    "QuantizedLinear": QuantizedLayerType(QuantizedLinear, lambda layer: {"axis": layer.weight.axis}),
    "QuantizedConv2d": QuantizedLayerType(QuantizedConv2d, lambda layer: {
        "axis": layer.weight.axis, "stride": layer.stride, "padding": layer.padding}),
}


def save_model(path: str | Path, model: Any) -> int:
    """Write ``model`` to ``path`` as an Olympics model file; return the file's size in bytes.

    ``model`` is a ``Sequential`` (or a single layer, saved as a Sequential of one step).
    For each step ``index``, in order:

    - look its class name up in ``LAYER_TYPES``; a step whose class is not there, or is a
      subclass of a listed class rather than the class itself (``type(step) is
      kind.cls``), raises ``TypeError`` before the file is opened, saying
      ``f"step {index} is a {class name}"`` and which types a file can hold;
    - add ``{"type": class name, "config": kind.config(step)}`` to the list of layers;
    - store each array of ``kind.arrays(step)`` under ``f"{index}/{name}"``, as it is (an
      int8 weight stays int8).

    Then the architecture ``{"format": MODEL_FORMAT, "version": MODEL_VERSION,
    "input_shape": list(INPUT_SHAPE), "layers": [...]}`` as ONE JSON text
    (``json.dumps(..., default=json_scalar)``: a NumPy integer in a config becomes a
    Python int) in a NumPy string array, ``np.array(text)``, under ``SPEC_KEY``. Write
    everything with ``np.savez_compressed`` into a file you opened (``open(path, "wb")``;
    given a name, NumPy would append ".npz"), and return ``os.path.getsize(path)``.
    """
    raise NotImplementedError("save_model: not implemented yet (kata 20 Olympics)")


def read_model_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` archive at ``path``, read with ``allow_pickle=False``.

    A file that is not an archive of plain arrays (truncated, not a zip, a single ``.npy``,
    or holding pickled objects, which ``allow_pickle=False`` refuses) is a ``ValueError``
    naming the file. Pickle is refused because unpickling runs whatever code the file
    says; JSON text and numeric arrays can only ever be data. (Refusing pickle does not
    bound memory: a small compressed file can hold huge arrays of zeros. A public
    leaderboard would also cap the sizes in the arrays' headers.)
    """
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable model file ({type(error).__name__}: {error})") from None
    if getattr(loaded, "files", None) is None:  # an .npy file loads as a bare array
        raise ValueError(f"{path}: not a model file: it holds a single array, not an .npz archive")
    try:
        with loaded:
            return {name: loaded[name] for name in loaded.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable model file ({type(error).__name__}: {error})") from None


def model_digest(path: str | Path) -> str:
    """SHA-256 of the model file's contents (names, dtypes, shapes and bytes of its arrays,
    the architecture included), not of the zip around them: saving the same model twice
    gives the same digest, changing one weight gives another."""
    return checkpoint_digest(read_model_arrays(path))


def load_model(path: str | Path) -> Sequential:
    """Rebuild the model that :func:`save_model` wrote to ``path``, in ``eval()`` mode.

    ``read_model_arrays(path)`` reads the file without pickle. Then, each problem a
    ``ValueError`` whose message starts with the path:

    - no ``SPEC_KEY`` entry, or a text that is not JSON: "not an Olympics model file";
    - a ``format`` other than ``MODEL_FORMAT`` or a ``version`` other than
      ``MODEL_VERSION``: name what was found (``format 'onnx' version 2``) and what was
      expected;
    - an ``input_shape`` other than ``list(INPUT_SHAPE)``: name the shape found;
    - ``layers`` that is not a non-empty list: "no layers";
    - a layer whose ``type`` is not in ``LAYER_TYPES``: ``f"layer {index}"`` and its type
      (``repr``, e.g. ``'os.system'``);
    - a layer whose config or arrays do not fit: call ``kind.rebuild(config, arrays)``
      with the arrays stored under ``f"{index}/"`` (prefix removed) and turn any
      ``TypeError``, ``ValueError`` or ``KeyError`` it raises into a ``ValueError``
      ``f"{path}: layer {index} ({type}): {error}"``, which keeps the original message
      (``load_state_dict`` names missing keys and shape mismatches);
    - arrays left over that "belong to no layer": name them.

    Return ``Sequential(*layers)`` switched to ``eval()`` (Dropout off, BatchNorm on its
    running statistics).
    """
    raise NotImplementedError("load_model: not implemented yet (kata 20 Olympics)")


# -- measuring a model under the rules ------------------------------------------------------

@functools.lru_cache(maxsize=1)
def held_out_digits() -> tuple[np.ndarray, np.ndarray]:
    """The held-out images ``(1000, 1, 28, 28)`` float32 in [0, 1] and their labels (int64).

    Read-only: a model that wrote into its input would change the test set for the next.
    """
    digits = load_tinydigits()
    images = (digits.x_test[:, None] / PIXEL_SCALE).astype(np.float32)
    labels = digits.y_test.copy()
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def rules_benchmark() -> Benchmark:
    """The harness the rules prescribe (kata 19), on ``time.perf_counter``."""
    return Benchmark(warmup=LATENCY_WARMUP, repeats=OFFLINE_REPEATS)


def count_correct(model: Callable[[Tensor], Tensor], images: np.ndarray, labels: np.ndarray,
                  batch_size: int = EVAL_BATCH_SIZE) -> int:
    """How many of ``images`` the model classifies as ``labels`` say (an int).

    Call ``model.eval()`` if the model has it, then, under ``no_grad()``, run consecutive
    batches of ``batch_size`` images (the last one may be smaller) and count the rows
    whose largest logit (``argmax`` along axis 1) is the label. Logits of any shape other
    than ``(batch, NUM_CLASSES)`` are a ``ValueError`` naming that shape and the one
    expected.
    """
    raise NotImplementedError("count_correct: not implemented yet (kata 20 Olympics)")


@dataclass(frozen=True)
class Measurement:
    """Everything the rules measure about one model file."""

    model_sha256: str
    model_bytes: int
    correct: int
    test_images: int
    latency: BenchmarkResult     # single-stream: one latency per query
    offline: BenchmarkResult     # offline: one duration per pass, throughput in images/s

    @property
    def accuracy(self) -> float:
        return self.correct / self.test_images


def measure(model_path: str | Path, benchmark: Benchmark | None = None) -> Measurement:
    """Measure the model file at ``model_path`` under the rules.

    - ``model_sha256``: :func:`model_digest`; ``model_bytes``: ``os.path.getsize``;
    - ``correct`` and ``test_images``: :func:`count_correct` of :func:`load_model`'s model
      on all of :func:`held_out_digits`, in batches of ``EVAL_BATCH_SIZE``;
    - ``latency``: ``benchmark.single_stream`` on the first ``LATENCY_QUERIES`` images;
    - ``offline``: ``benchmark.offline`` on all the images, batches of ``EVAL_BATCH_SIZE``.

    ``benchmark`` defaults to :func:`rules_benchmark`; tests pass one with a fake clock.
    """
    raise NotImplementedError("measure: not implemented yet (kata 20 Olympics)")


# -- submissions ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Claims:
    """What a submitter measured on their machine."""

    accuracy: float
    model_bytes: int
    latency_seconds: float   # median single-stream latency
    throughput: float        # offline images per second


@dataclass(frozen=True)
class Submission:
    """A submission file: who, which model (a file name next to the JSON), what is claimed.

    ``path`` is where the JSON lives; it is not written into the file.
    """

    name: str
    model_file: str
    model_sha256: str
    claims: Claims
    environment: dict[str, Any]
    path: Path
    rules_version: int = RULES_VERSION

    @property
    def model_path(self) -> Path:
        return self.path.parent / self.model_file

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SUBMISSION_SCHEMA, "version": SUBMISSION_VERSION,
                "rules_version": self.rules_version, "name": self.name, "model_file": self.model_file,
                "model_sha256": self.model_sha256, "claims": asdict(self.claims),
                "environment": self.environment}


class RejectedSubmission(ValueError):
    """A submission whose claim did not hold; ``field`` names the claim (``"accuracy"``,
    ``"model_bytes"``, ``"model_sha256"``, ``"model_file"``)."""

    def __init__(self, path: str | Path, field: str, detail: str) -> None:
        super().__init__(f"{path}: rejected, {field}: {detail}")
        self.field = field


def _field(data: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``data[key]``, or a ``ValueError`` naming ``where``, the field and what was wrong.

    JSON's true and false are Python bools, and a bool is an int: they never pass for a
    number here.
    """
    if not isinstance(data, dict) or key not in data:
        got = "" if isinstance(data, dict) else f" (got a {type(data).__name__}, not a JSON object)"
        raise ValueError(f"{where}: missing field {key!r}{got}")
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise ValueError(f"{where}: field {key!r} must be {expected}, got {type(value).__name__} {value!r}")
    return value


def _require_schema(data: Any, schema: str, version: int, where: str) -> None:
    """``ValueError`` unless ``data`` is a JSON object of ``schema`` at ``version``."""
    found = (data.get("schema"), data.get("version")) if isinstance(data, dict) else None
    if found != (schema, version):
        what = (f"a JSON {type(data).__name__}, not an object" if found is None
                else f"schema {found[0]!r} version {found[1]!r}")
        raise ValueError(f"{where}: {what}, expected schema {schema!r} version {version}")


def check_name(name: Any, where: str = "submission") -> str:
    """An entrant's name: 1 to 64 letters, digits, spaces and ``_ . @ -``, starting with a
    letter or digit; ``ValueError`` otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"{where}: the entrant's name must be 1 to 64 letters, digits, spaces or "
                         f"'_.@-', starting with a letter or digit, got {name!r}")
    return name


def write_submission(model_path: str | Path, name: str, path: str | Path | None = None,
                     benchmark: Benchmark | None = None) -> Submission:
    """Measure the model file and write the submission JSON; return the Submission.

    ``path`` defaults to the model's path with the suffix ``.json``, and must be in the
    same folder as the model (else a ``ValueError`` saying it must be in the model's
    folder): the submission names the model by its bare file name, so the two travel
    together. Check the name first (:func:`check_name`).
    The claims come from :func:`measure`: its accuracy, bytes, the median of the
    single-stream latencies and the offline throughput; ``environment`` is the one the
    benchmark results carry. Write ``json.dumps(submission.to_dict(), indent=2,
    allow_nan=False)``.
    """
    raise NotImplementedError("write_submission: not implemented yet (kata 20 Olympics)")


def read_submission(path: str | Path) -> Submission:
    """Read and check a submission JSON; every problem is a ``ValueError`` naming the file.

    - the text must be JSON ("not valid JSON"), of ``SUBMISSION_SCHEMA`` at
      ``SUBMISSION_VERSION`` (:func:`_require_schema`);
    - ``rules_version`` (int) must be ``RULES_VERSION``: figures measured under other rules
      are not comparable; say ``f"rules version {rules_version}"`` and name ours;
    - ``name`` passes :func:`check_name`;
    - ``model_file`` is a bare file name (``Path(model_file).name == model_file``, not
      ``""``, ``"."`` or ``".."``): the model sits next to its submission, and a
      submission must not make the verifier read files elsewhere;
    - ``model_sha256`` is 64 lower-case hexadecimal digits (``SHA256_PATTERN``);
    - ``claims`` is an object with ``accuracy`` (a number in [0, 1]), ``model_bytes`` (a
      positive int), ``latency_seconds`` and ``throughput`` (finite positive numbers);
    - ``environment`` is an object.

    Use :func:`_field` for every field (it names missing fields and wrong types). A value
    out of range is named as ``name=value`` (``accuracy=1.5``, ``throughput=nan``), and a
    bad ``model_file`` or ``model_sha256`` by the field's name.
    """
    raise NotImplementedError("read_submission: not implemented yet (kata 20 Olympics)")


# -- verified entries -----------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One verified submission: accuracy and bytes recomputed, latency measured here."""

    name: str
    model_sha256: str
    accuracy: float
    model_bytes: int
    latency_seconds: float           # median single-stream latency, measured by the verifier
    latency_ci_low: float            # 95 % bootstrap interval of that median (kata 19)
    latency_ci_high: float
    latency_p99_seconds: float
    throughput: float                # offline images per second, measured by the verifier
    claimed_latency_seconds: float   # what the submitter measured on their machine

    @property
    def combined(self) -> float | None:
        return combined_score(self.accuracy, self.latency_seconds, self.model_bytes)

    @property
    def qualified(self) -> bool:
        return self.accuracy >= MIN_ACCURACY

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "entry") -> Entry:
        """An Entry from ``to_dict()``'s output, every field checked (:func:`_field`)."""
        number = (int, float)
        values = {"name": check_name(_field(data, "name", str, where), where),
                  "model_sha256": _field(data, "model_sha256", str, where),
                  "model_bytes": _field(data, "model_bytes", int, where)}
        if not SHA256_PATTERN.fullmatch(values["model_sha256"]):
            raise ValueError(f"{where}: model_sha256 must be 64 hexadecimal digits, got {values['model_sha256']!r}")
        for key in ("accuracy", "latency_seconds", "latency_ci_low", "latency_ci_high",
                    "latency_p99_seconds", "throughput", "claimed_latency_seconds"):
            values[key] = float(_field(data, key, number, where))
        return cls(**values)


def verify(path: str | Path, benchmark: Benchmark | None = None) -> Entry:
    """Re-run the claims of the submission at ``path``; return the verified Entry.

    In this order, cheapest first, raising :class:`RejectedSubmission` with the field:

    1. :func:`read_submission` (a malformed file raises its ``ValueError``);
    2. ``"model_file"``: the model file does not exist;
    3. ``"model_bytes"``: the file's size is not the claimed one (give both);
    4. ``"model_sha256"``: :func:`model_digest` is not the claimed digest (another model);
    5. :func:`measure`, then ``"accuracy"``: the measured accuracy is not EXACTLY the
       claimed one (give both, and the count of correct images). The same file on the same
       test set gives the same count.

    The latency and the throughput are not checked: they are this machine's, and they
    replace the claims in the Entry (``latency_seconds``, its interval and p99 from the
    single-stream summary, ``throughput`` from the offline result), while the claimed
    latency is kept in ``claimed_latency_seconds``.
    """
    raise NotImplementedError("verify: not implemented yet (kata 20 Olympics)")


# -- the leaderboard ------------------------------------------------------------------------

def machine_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The ``MACHINE_KEYS`` on which two environments disagree, as ``"key: a vs b"``."""
    return [f"{key}: {a.get(key)!r} vs {b.get(key)!r}" for key in MACHINE_KEYS if a.get(key) != b.get(key)]


@dataclass
class Leaderboard:
    """Every distinct verified submission, measured on one machine (``environment``)."""

    environment: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)

    def add(self, entry: Entry) -> bool:
        """Add ``entry`` unless an entry with the same name AND model digest is already
        here: then the first measurement stands and nothing changes. True if added.

        An entrant may have several entries (several models); the ranking picks the best.
        """
        raise NotImplementedError("Leaderboard.add: not implemented yet (kata 20 Olympics)")

    def merge(self, other: Leaderboard) -> int:
        """Add ``other``'s entries in order (:meth:`add`); return how many were new.

        First, if the environments differ (:func:`machine_differences`), raise a
        ``ValueError`` saying the boards come from "different machines" and listing the
        differences, and change nothing: latencies from two machines cannot be ranked
        together.
        """
        raise NotImplementedError("Leaderboard.merge: not implemented yet (kata 20 Olympics)")

    def ranking(self, event: str = "combined") -> list[tuple[int | None, Entry]]:
        """``(rank, entry)`` for every entrant's best entry in ``event``, best first.

        ``EVENTS[event]`` gives the Entry attribute and whether higher is better; an
        unknown event is a ``ValueError`` naming it and the events. Per entrant, the best
        entry is the one that ranks first (for the same value, the one added first).

        - Ranked entries come first, sorted by value, then by name. In every event but
          ``"accuracy"``, an entry below ``MIN_ACCURACY`` is not ranked: it comes after
          all ranked ones, with rank None, ordered by accuracy (higher first), then name.
        - Competition ranking: the rank is 1 + the number of ranked entries with a
          strictly better value, so equal values share a rank and the next one skips
          (1, 2, 2, 4).
        """
        raise NotImplementedError("Leaderboard.ranking: not implemented yet (kata 20 Olympics)")

    def table(self, event: str = "combined") -> str:
        """The ranking of ``event`` as a text table (tabulate); latencies in microseconds."""
        rows = []
        for rank, entry in self.ranking(event):
            score = entry.combined
            rows.append([
                "-" if rank is None else rank, entry.name,
                f"below {MIN_ACCURACY:.0%}" if score is None else f"{score:+.2f}",
                f"{100 * entry.accuracy:.1f}",
                (f"{1e6 * entry.latency_seconds:.1f} [{1e6 * entry.latency_ci_low:.1f}, "
                 f"{1e6 * entry.latency_ci_high:.1f}]"),
                f"{1e6 * entry.latency_p99_seconds:.1f}", f"{entry.throughput:,.0f}",
                f"{entry.model_bytes:,}", f"{1e6 * entry.claimed_latency_seconds:.1f}",
                entry.model_sha256[:12],
            ])
        headers = ["rank", "entrant", "score", "accuracy %", "latency us [95% CI]", "p99 us",
                   "images/s", "bytes", "claimed us", "model"]
        return f"event: {event}\n" + tabulate(rows, headers=headers, disable_numparse=True)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": LEADERBOARD_SCHEMA, "version": LEADERBOARD_VERSION,
                "rules_version": RULES_VERSION, "environment": self.environment,
                "entries": [entry.to_dict() for entry in self.entries]}

    @classmethod
    def from_dict(cls, data: Any, where: str = "leaderboard") -> Leaderboard:
        """A Leaderboard from ``to_dict()``'s output; ``ValueError`` naming ``where`` if it is
        malformed: another schema or version (:func:`_require_schema`), another
        ``rules_version`` (``f"rules version {rules_version}"``, as for submissions), no
        ``environment`` object, no ``entries`` list, or an entry that
        ``Entry.from_dict(item, f"{where} entry {index}")`` refuses. Entries are added
        with :meth:`add`, so duplicates inside one file collapse."""
        raise NotImplementedError("Leaderboard.from_dict: not implemented yet (kata 20 Olympics)")

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False))

    @classmethod
    def load(cls, path: str | Path) -> Leaderboard:
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        return cls.from_dict(data, str(path))


def submit(model: Any, name: str, directory: str | Path, benchmark: Benchmark | None = None) -> Submission:
    """Save ``model`` to ``directory/<name>.npz`` and write ``directory/<name>.json`` next to it."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / f"{check_name(name).replace(' ', '_')}.npz"
    save_model(model_path, model)
    return write_submission(model_path, name, benchmark=benchmark)


# -- command line ---------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.systems.olympics {submit,verify,leaderboard} ...``; the exit code.

    0 when everything went through, 1 when a submission was rejected, 2 for a leaderboard
    that cannot be read or merged.
    """
    parser = argparse.ArgumentParser(prog="python -m tinytorch.systems.olympics",
                                     description="TinyTorch Olympics: submit, verify and rank models.")
    commands = parser.add_subparsers(dest="command", required=True)
    submit_parser = commands.add_parser("submit", help="measure a model file and write its submission")
    submit_parser.add_argument("model", type=Path, help="a model file written by save_model")
    submit_parser.add_argument("--name", required=True, help="the entrant's name")
    submit_parser.add_argument("--out", type=Path, default=None, help="the submission JSON "
                               "(default: next to the model, suffix .json)")
    verify_parser = commands.add_parser("verify", help="re-run submissions and rank them")
    verify_parser.add_argument("submissions", type=Path, nargs="+")
    verify_parser.add_argument("--leaderboard", type=Path, default=None,
                               help="a leaderboard file to add the verified entries to (created if missing)")
    verify_parser.add_argument("--event", choices=list(EVENTS), default="combined")
    board_parser = commands.add_parser("leaderboard", help="merge leaderboard files and print a ranking")
    board_parser.add_argument("boards", type=Path, nargs="+")
    board_parser.add_argument("--event", choices=list(EVENTS), default="combined")
    board_parser.add_argument("--out", type=Path, default=None, help="write the merged leaderboard here")
    options = parser.parse_args(argv)

    if options.command == "submit":
        submission = write_submission(options.model, options.name, options.out)
        claims = submission.claims
        print(f"{submission.path}: {submission.name}, accuracy {100 * claims.accuracy:.1f} %, "
              f"{claims.model_bytes:,} bytes, latency {1e6 * claims.latency_seconds:.1f} us, "
              f"{claims.throughput:,.0f} images/s, score {_format_score(claims)}")
        return 0

    if options.command == "verify":
        bench = rules_benchmark()
        try:
            board = _open_board(options.leaderboard, bench.environment)
        except (ValueError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        rejected = 0
        for path in options.submissions:
            try:
                entry = verify(path, bench)
            except (ValueError, OSError) as error:
                rejected += 1
                print(f"rejected: {error}", file=sys.stderr)
                continue
            status = "verified" if board.add(entry) else "duplicate (the first measurement stands)"
            print(f"{path}: {entry.name}: {status}")
        if options.leaderboard is not None:
            board.save(options.leaderboard)
        print(board.table(options.event))
        return 1 if rejected else 0

    try:
        board = Leaderboard.load(options.boards[0])
        for path in options.boards[1:]:
            board.merge(Leaderboard.load(path))
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if options.out is not None:
        board.save(options.out)
    print(board.table(options.event))
    return 0


def _format_score(claims: Claims) -> str:
    score = combined_score(claims.accuracy, claims.latency_seconds, claims.model_bytes)
    return f"below {MIN_ACCURACY:.0%} accuracy" if score is None else f"{score:+.2f}"


def _open_board(path: Path | None, environment: dict[str, Any]) -> Leaderboard:
    """The leaderboard at ``path`` (a new one if there is none), measured on this machine."""
    if path is None or not path.exists():
        return Leaderboard(environment=environment)
    board = Leaderboard.load(path)
    differences = machine_differences(board.environment, environment)
    if differences:
        raise ValueError(f"{path} was measured on another machine ({'; '.join(differences)}): its "
                         f"latencies cannot be ranked with this machine's")
    return board


if __name__ == "__main__":
    sys.exit(main())
