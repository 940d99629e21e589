"""Kata 20: the Olympics, where optimized models compete under fixed rules.

(This file holds every function the kata asks you to write for the digits, so it is
longer than the others; the TinyTalks task, a TinyGPT answering questions, lives in
``olympics_talks`` with the two functions it asks of you. What is given lives beside
them: the rules as constants
in ``olympics_rules``, reading strangers' files in ``olympics_files``, the layer registry
and the architecture's checks in ``olympics_layers``, the command line in
``olympics_cli``. Every name is importable from here.)

You have built a framework, trained models with it, and learned four ways to make them
cheaper (quantization, compression, caching, acceleration) and one way to measure them
honestly (benchmarking). The capstone puts them together: optimize a TinyDigits model, save
it to a file, submit it, and let a classmate's machine check your claims and rank you.

**The events.** Every model is measured on the same held-out data, the 1,000 images of the
TinyDigits test split (``load_tinydigits().x_test``, 100 per digit), which no model may
train on. Since everyone can see those digits, a model could store them; a class verifies
on digits only the instructor holds (``verify --test-set``, :func:`verify_on`), and the
shipped ones are for checking your own claims. The input is fixed: ``x_test[:, None] / 255.0`` in float32, shape (N, 1, 28, 28);
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
shapes (kata 03's ``load_state_dict``). A file comes from a stranger, so it is checked
before anything is built: its zip directory and array headers against size limits, its
JSON against a nesting limit, and what its architecture declares (a 419-byte file can ask
for ``Linear(20000, 20000)``, 1.6 GB) against ``MAX_PARAMETERS`` and
``MAX_VALUES_PER_IMAGE`` (``olympics_rules``). Arrays keep their dtype in the file: int8 weights
take one byte each, float16 ones two, and zeros from pruning (kata 16) compress to almost
nothing, so **model bytes** (the file's size on disk, what you would ship) reward all three.

**Two tasks, one set of rules.** The events above are the digits' task. The TinyTalks task
(``olympics_talks``) ranks language models: a TinyGPT and its tokenizer in one model file,
the share of TinyTalks' test questions it answers exactly, its latency per generated token
with and without the KV cache, and its bytes. Each task has its own baseline, qualifying
accuracy and events (``TASKS`` in ``olympics_rules``); the model file says which task it is
for (``"task"``, absent for the digits), every entry and every board names its task, and a
board holds one task only. Everything below holds for both.

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
on one machine (and on one test set: every entry names the digits it was counted on). The
BLAS thread settings are among those keys: the command verifies with one thread (it sets
``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and the others to 1 itself, as the katas
run), so that a model is not ranked on how many cores its matrix products happened to get. An entry with an
impossible figure (a latency of 0, an accuracy of NaN or 5.0, -1 bytes) is refused, never
ranked; what a board can and cannot prove is in the kata's README.

Command line (``olympics_cli``)::

    python -m tinytorch.systems.olympics submit MODEL.npz --name NAME [--out SUBMISSION.json]
    python -m tinytorch.systems.olympics verify SUBMISSION.json ... [--leaderboard BOARD.json]
                                         [--task T] [--test-set FILE] [--event E]
    python -m tinytorch.systems.olympics leaderboard BOARD.json ... [--models FOLDER ...]
                                         [--test-set FILE] [--event E] [--out MERGED.json]
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from tabulate import tabulate

from ..core.autograd import no_grad
from ..core.tensor import Tensor
from ..data.tinydigits import load_tinydigits
from ..nn.layers import Sequential
from ..training import checkpoint_digest
from ..untrusted import read_npz
from .benchmarking import Benchmark, BenchmarkResult
from .olympics_files import (
    check_name,
    json_field,
    model_task,
    read_architecture,
    read_json,
    read_model_arrays,
    regular_file_size,
    require_schema,
    short_repr,
    write_model_file,
)
from .olympics_layers import LAYER_TYPES, LayerType, QuantizedLayerType, check_architecture
from .olympics_rules import (
    BASELINE_ERROR,
    BASELINE_LATENCY_SECONDS,
    BASELINE_MODEL_BYTES,
    DIGITS,
    ERROR_FLOOR,
    EVAL_BATCH_SIZE,
    EVENTS,
    INPUT_SHAPE,
    LATENCY_QUERIES,
    LATENCY_WARMUP,
    LEADERBOARD_SCHEMA,
    LEADERBOARD_VERSION,
    MACHINE_KEYS,
    MAX_LEADERBOARD_BYTES,
    MAX_MODEL_FILE_BYTES,
    MAX_SUBMISSION_BYTES,
    MAX_TEST_SET_BYTES,
    MIN_ACCURACY,
    MODEL_FORMAT,
    MODEL_VERSION,
    NUM_CLASSES,
    OFFLINE_REPEATS,
    PIXEL_SCALE,
    RULES_VERSION,
    SHA256_PATTERN,
    SHIPPED_TALKS_SHA256,
    SHIPPED_TEST_SET_SHA256,
    SPEC_KEY,
    SUBMISSION_SCHEMA,
    SUBMISSION_VERSION,
    TALKS_EVENTS,
    TALKS_LATENCY_PROMPTS,
    TALKS_LATENCY_TOKENS,
    TASK_KEY,
    TASKS,
    TEST_SET_KEY,
    TINYTALKS,
    WEIGHT_ACCURACY,
    WEIGHT_BYTES,
    WEIGHT_LATENCY,
    Task,
)
from .olympics_talks import (
    TalksTestSet,
    TinyTalker,
    count_exact_answers,
    exact_answers,
    load_talker,
    load_talks_test_set,
    save_talker,
    shipped_talks,
    token_latencies,
)

# Every public name, with the rules (olympics_rules), the layer registry (olympics_layers)
# and the TinyTalks task (olympics_talks).
__all__ = [
    "BASELINE_ERROR", "BASELINE_LATENCY_SECONDS", "BASELINE_MODEL_BYTES", "DIGITS", "ERROR_FLOOR",
    "EVAL_BATCH_SIZE", "EVENTS", "INPUT_SHAPE", "LATENCY_QUERIES", "LATENCY_WARMUP", "LAYER_TYPES",
    "LEADERBOARD_SCHEMA", "LEADERBOARD_VERSION", "MACHINE_KEYS", "MIN_ACCURACY", "MODEL_FORMAT",
    "MODEL_VERSION", "NUM_CLASSES", "OFFLINE_REPEATS", "PIXEL_SCALE", "RULES_VERSION",
    "SHIPPED_TALKS_SHA256", "SHIPPED_TEST_SET_SHA256", "SPEC_KEY", "SUBMISSION_SCHEMA",
    "SUBMISSION_VERSION", "TALKS_EVENTS", "TASKS", "TASK_KEY", "TEST_SET_KEY", "TINYTALKS",
    "WEIGHT_ACCURACY", "WEIGHT_BYTES", "WEIGHT_LATENCY", "Claims", "Entry", "HeldOutSet", "LayerType",
    "Leaderboard", "Measurement", "QuantizedLayerType", "RejectedSubmission", "Submission", "TalksTestSet",
    "Task", "TestSet", "TinyTalker", "check_name", "combined_score", "count_correct",
    "count_exact_answers", "exact_answers", "held_out_digits", "load_model", "load_talker",
    "load_talks_test_set", "load_test_set", "machine_differences", "main", "measure", "measure_talker",
    "model_digest", "model_task", "read_model_arrays", "read_submission", "rules_benchmark", "save_model",
    "save_talker", "shipped_talks", "shipped_test_set", "submit", "task_test_set", "token_latencies",
    "verify", "verify_on", "write_submission",
]


# -- scoring --------------------------------------------------------------------------------

def combined_score(accuracy: float, latency_seconds: float, model_bytes: int,
                   task: str = DIGITS) -> float | None:
    """The combined score of the module docstring, or None below the task's qualifying
    accuracy. With ``rules = TASKS[task]`` (the digits unless ``task`` says otherwise)::

        error = max(1 - accuracy, ERROR_FLOOR)
        score = WEIGHT_ACCURACY * log2(rules.baseline_error / error)
              + WEIGHT_LATENCY * log2(rules.baseline_latency_seconds / latency_seconds)
              + WEIGHT_BYTES * log2(rules.baseline_model_bytes / model_bytes)

    ``math.log2``, a float. An accuracy of exactly ``rules.min_accuracy`` qualifies. The
    qualifying check comes after the checks of the arguments, so a bad figure is an error
    even for a model that would not qualify. (For the digits, the baseline and the
    qualifying accuracy are ``BASELINE_ERROR``, ..., ``MIN_ACCURACY``.)

    ``ValueError`` if ``accuracy`` is not in [0, 1], or the latency or the bytes are not
    finite and positive; the message names the figure at fault as ``name=value``
    (``accuracy=1.2``, ``latency_seconds=0.0``, ``model_bytes=0``).
    """
    raise NotImplementedError("combined_score: not implemented yet (kata 20 Olympics)")


# -- model files: an architecture in JSON and arrays, never pickle ----------------------------

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

    Then write the architecture ``{"format": MODEL_FORMAT, "version": MODEL_VERSION,
    "input_shape": list(INPUT_SHAPE), "layers": [...]}`` and the arrays with
    ``write_model_file(path, spec, arrays)`` (given: one JSON text under ``SPEC_KEY``, every
    array as it is, compressed) and return the size it returns.
    """
    raise NotImplementedError("save_model: not implemented yet (kata 20 Olympics)")


def model_digest(path: str | Path) -> str:
    """SHA-256 of the model file's contents (names, dtypes, shapes and bytes of its arrays,
    the architecture included), not of the zip around them: saving the same model twice
    gives the same digest, changing one weight gives another."""
    return checkpoint_digest(read_model_arrays(path))


def load_model(path: str | Path) -> Sequential:
    """Rebuild the model that :func:`save_model` wrote to ``path``, in ``eval()`` mode.

    The file comes from a stranger, so nothing is built before it has been checked.
    ``spec, arrays = read_architecture(path, DIGITS)`` (given) reads it without pickle and
    within the limits, and returns its architecture (a JSON object of ``MODEL_FORMAT`` at
    ``MODEL_VERSION``, for the digits) and its other arrays; it raises for a file that is
    none of that. Then, each problem a ``ValueError`` whose message starts with the path:

    - an ``input_shape`` other than ``list(INPUT_SHAPE)``: name the shape found;
    - ``layers`` that is not a non-empty list: "no layers";
    - then, BEFORE building any layer, ``check_architecture(layers, arrays, str(path))``:
      a 419-byte file can declare ``Linear(20000, 20000)``, 1.6 GB of weights once
      constructed. It follows one image through the declared layers and refuses an
      unknown type (``f"layer {index}"`` and its type, e.g. ``'os.system'``), a bad
      configuration field, and sizes beyond ``MAX_PARAMETERS`` or
      ``MAX_VALUES_PER_IMAGE``, naming the layer and the field;
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

@dataclass(frozen=True)
class HeldOutSet:
    """Digits a model is scored on, and the digest that names them.

    ``images`` are ``(N, 1, 28, 28)`` float32 in [0, 1] (the rules' input), ``labels``
    ``(N,)`` int64; both read-only, since a model that wrote into its input would change
    the test set for the next one. ``sha256`` is ``checkpoint_digest`` of the raw uint8
    pixels and int64 labels as ``{"x_test", "y_test"}``: an entry records it, so a board
    knows which digits its accuracies were counted on.
    """

    images: np.ndarray
    labels: np.ndarray
    sha256: str
    task: ClassVar[str] = DIGITS

    def __len__(self) -> int:
        return len(self.labels)

    def count(self, model_path: str | Path) -> int:
        """How many of the digits the model file at ``model_path`` classifies right."""
        return count_correct(load_model(model_path), self.images, self.labels)

    @classmethod
    def from_digits(cls, pixels: np.ndarray, labels: np.ndarray) -> HeldOutSet:
        """From uint8 pixels ``(N, 28, 28)`` and integer labels ``(N,)``, as TinyDigits stores them."""
        labels = labels.astype(np.int64)
        images = (pixels[:, None] / PIXEL_SCALE).astype(np.float32)
        images.flags.writeable = False
        labels.flags.writeable = False
        return cls(images, labels, checkpoint_digest({"x_test": pixels, "y_test": labels}))


@functools.lru_cache(maxsize=1)
def shipped_test_set() -> HeldOutSet:
    """The 1,000 test digits that ship with TinyTorch (``load_tinydigits().x_test``)."""
    digits = load_tinydigits()
    return HeldOutSet.from_digits(digits.x_test, digits.y_test)


def held_out_digits() -> tuple[np.ndarray, np.ndarray]:
    """The shipped test digits as ``(images, labels)``: ``(1000, 1, 28, 28)`` float32 in
    [0, 1] and int64 labels, read-only (:func:`shipped_test_set`)."""
    test_set = shipped_test_set()
    return test_set.images, test_set.labels


def load_test_set(path: str | Path) -> HeldOutSet:
    """An instructor's test set: a file in TinyDigits' format, of which ``x_test`` (uint8
    pixels ``(N, 28, 28)``) and ``y_test`` (integer digits 0-9, ``(N,)``) are read.

    Everyone can see, and so memorise, the shipped 1,000 test digits; a class verifies on
    digits nobody trained on (``verify --test-set PATH``). Read like a model file, within
    ``MAX_TEST_SET_BYTES``; every problem is a ``ValueError`` naming the file and the array.
    """
    regular_file_size(Path(path), MAX_TEST_SET_BYTES, "test set")
    arrays = read_npz(path, max_bytes=MAX_TEST_SET_BYTES)
    missing = [name for name in ("x_test", "y_test") if name not in arrays]
    if missing:
        raise ValueError(f"{path}: not a test set in TinyDigits' format: it has no {', '.join(missing)}")
    pixels, labels = arrays["x_test"], arrays["y_test"]
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[1:] != INPUT_SHAPE[1:] or not len(pixels):
        raise ValueError(f"{path}: 'x_test' must hold uint8 pixels of shape (N, 28, 28), N >= 1, got "
                         f"{pixels.dtype} {pixels.shape}")
    if labels.dtype.kind not in "iu" or labels.shape != (len(pixels),):
        raise ValueError(f"{path}: 'y_test' must hold {len(pixels)} integer labels, one per image, got "
                         f"{labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise ValueError(f"{path}: 'y_test' holds labels from {labels.min()} to {labels.max()}, digits "
                         f"are 0 to {NUM_CLASSES - 1}")
    return HeldOutSet.from_digits(pixels, labels)


TestSet = HeldOutSet | TalksTestSet
"""What an accuracy is counted on: digits, or TinyTalks questions. Either has ``task``,
``sha256``, ``len()`` and ``count(model_path)``, the number it gets right."""


def task_test_set(task: str, path: str | Path | None = None) -> TestSet:
    """The test set of ``task`` (a name in ``TASKS``) at ``path``, in that task's format
    (:func:`load_test_set`, ``load_talks_test_set``), or its shipped one without a path."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; the tasks are {', '.join(TASKS)}")
    if task == TINYTALKS:
        return shipped_talks() if path is None else load_talks_test_set(path)
    return shipped_test_set() if path is None else load_test_set(path)


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
    """Everything the rules measure about one model file.

    ``correct`` of ``test_images`` (digits, or TinyTalks questions) right, on the test set
    ``test_set_sha256``. For the digits, ``latency`` is the single-stream latency per image
    and ``offline`` the offline passes (throughput in images per second). For TinyTalks,
    ``latency`` is the latency per generated token with the KV cache, ``uncached`` the same
    without it, and there is no ``offline``: the throughput is the cached stream's tokens
    per second.
    """

    model_sha256: str
    model_bytes: int
    correct: int
    test_images: int
    latency: BenchmarkResult            # single-stream: one latency per query
    offline: BenchmarkResult | None     # offline: one duration per pass, throughput in images/s
    uncached: BenchmarkResult | None = None
    task: str = DIGITS
    test_set_sha256: str = SHIPPED_TEST_SET_SHA256

    @property
    def accuracy(self) -> float:
        return self.correct / self.test_images

    def figures(self) -> dict[str, Any]:
        """The fields of an :class:`Entry` that this measurement gives: the accuracy, the
        bytes, the median latency with its 95 % interval and p99, the throughput (offline,
        or else the latency's), the task, the test set, and the median latency without
        the cache (None for the digits)."""
        latency = self.latency.summary
        speed = self.latency if self.offline is None else self.offline
        return {"accuracy": self.accuracy, "model_bytes": self.model_bytes, "latency_seconds": latency.median,
                "latency_ci_low": latency.ci_low, "latency_ci_high": latency.ci_high,
                "latency_p99_seconds": latency.p99, "throughput": float(speed.throughput or 0.0),
                "task": self.task, "test_set_sha256": self.test_set_sha256,
                "uncached_latency_seconds": None if self.uncached is None else self.uncached.summary.median}


def measure(model_path: str | Path, benchmark: Benchmark | None = None) -> Measurement:
    """Measure the model file at ``model_path`` under the rules.

    - ``model_sha256``: :func:`model_digest`; ``model_bytes``: ``os.path.getsize``;
    - ``correct`` and ``test_images``: :func:`count_correct` of :func:`load_model`'s model
      on all of :func:`held_out_digits`, in batches of ``EVAL_BATCH_SIZE``;
    - ``latency``: ``benchmark.single_stream`` on the first ``LATENCY_QUERIES`` images;
    - ``offline``: ``benchmark.offline`` on all the images, batches of ``EVAL_BATCH_SIZE``.

    ``benchmark`` defaults to :func:`rules_benchmark`; tests pass one with a fake clock.
    A TinyTalks model file (``model_task(model_path) == TINYTALKS``) is measured by
    :func:`measure_talker` (given) instead: return what it returns, with the same benchmark.
    """
    raise NotImplementedError("measure: not implemented yet (kata 20 Olympics)")


def measure_talker(model_path: str | Path, benchmark: Benchmark) -> Measurement:
    """Measure the TinyTalks model file at ``model_path`` under the rules (``olympics_talks``).

    The answers to all the shipped test questions (``count_exact_answers``), and the
    latencies per generated token with and without the KV cache (``token_latencies``) on
    the first ``TALKS_LATENCY_PROMPTS`` test prompts, one at a time, each extended by
    ``TALKS_LATENCY_TOKENS`` tokens.
    """
    talker = load_talker(model_path)
    test_set = shipped_talks()
    correct = count_exact_answers(talker, test_set.pairs)
    prompts = [talker.prompt_ids(pair)[np.newaxis] for pair in test_set.pairs[:TALKS_LATENCY_PROMPTS]]
    cached, uncached = token_latencies(talker, prompts, TALKS_LATENCY_TOKENS, benchmark)
    return Measurement(model_sha256=model_digest(model_path), model_bytes=os.path.getsize(model_path),
                       correct=correct, test_images=len(test_set), latency=cached, offline=None,
                       uncached=uncached, task=TINYTALKS, test_set_sha256=test_set.sha256)


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


def write_submission(model_path: str | Path, name: str, path: str | Path | None = None,
                     benchmark: Benchmark | None = None) -> Submission:
    """Measure the model file and write the submission JSON; return the Submission.

    ``path`` defaults to the model's path with the suffix ``.json``, and must be in the
    same folder as the model (else a ``ValueError`` saying it must be in the model's
    folder): the submission names the model by its bare file name, so the two travel
    together. Check the name first (:func:`check_name`).
    The claims come from :func:`measure`, as its ``figures()`` give them: the accuracy,
    the bytes, the median latency and the throughput (for either task); ``environment`` is
    the one the benchmark results carry. Write ``json.dumps(submission.to_dict(), indent=2,
    allow_nan=False)``.
    """
    raise NotImplementedError("write_submission: not implemented yet (kata 20 Olympics)")


def read_submission(path: str | Path) -> Submission:
    """Read and check a submission JSON; every problem is a ``ValueError`` naming the file.

    - the file is read with ``read_json(path, MAX_SUBMISSION_BYTES, "submission")``: a
      stranger's file, so its size and nesting are limited before it is trusted (it says
      "not valid JSON" for a text that is not);
    - it is a JSON object of ``SUBMISSION_SCHEMA`` at ``SUBMISSION_VERSION``
      (:func:`require_schema`);
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

    Use :func:`json_field` for every field (it names missing fields and wrong types). A value
    out of range is named as ``name=value`` (``accuracy=1.5``, ``throughput=nan``), and a
    bad ``model_file`` or ``model_sha256`` by the field's name.
    """
    raise NotImplementedError("read_submission: not implemented yet (kata 20 Olympics)")


# -- verified entries -----------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One verified submission: accuracy and bytes recomputed, latency measured here.

    Every figure is checked when an Entry is made (from a verification or from a
    leaderboard file): a board that ranks an entry of latency 0, accuracy NaN or 5.0, or
    -1 bytes would rank a forgery first, so such an entry is a ``ValueError`` naming the
    field, never a row.

    A TinyTalks entry (``task``) counts questions answered exactly in ``accuracy``, its
    latencies are per generated token with the KV cache, its throughput tokens per second
    of that stream, and it has one more figure: ``uncached_latency_seconds``, the median
    latency per token without the cache. A digits entry has None there.
    """

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
    test_set_sha256: str = SHIPPED_TEST_SET_SHA256   # the digits the accuracy was counted on
    task: str = DIGITS
    uncached_latency_seconds: float | None = None    # TinyTalks: per token without the KV cache

    def __post_init__(self) -> None:
        check_name(self.name, "entry")
        if self.task not in TASKS:
            raise ValueError(f"field 'task' must be one of {', '.join(TASKS)}, got {short_repr(self.task)}")
        figures = ["latency_seconds", "latency_ci_low", "latency_ci_high", "latency_p99_seconds", "throughput",
                   "claimed_latency_seconds"]
        if self.task == TINYTALKS:
            figures.append("uncached_latency_seconds")
        elif self.uncached_latency_seconds is not None:
            raise ValueError(f"field 'uncached_latency_seconds' is a TinyTalks figure, a {self.task} entry "
                             f"has none (null), got {short_repr(self.uncached_latency_seconds)}")
        for key in ("model_sha256", "test_set_sha256"):
            value = getattr(self, key)
            if not isinstance(value, str) or not SHA256_PATTERN.fullmatch(value):
                raise ValueError(f"field {key!r} must be 64 hexadecimal digits, got {short_repr(value)}")
        if not (isinstance(self.accuracy, (int, float)) and 0 <= self.accuracy <= 1):
            raise ValueError(f"field 'accuracy' must be a share in [0, 1], got {short_repr(self.accuracy)}")
        if (not isinstance(self.model_bytes, int) or isinstance(self.model_bytes, bool)
                or not 0 < self.model_bytes <= MAX_MODEL_FILE_BYTES):
            raise ValueError(f"field 'model_bytes' must be an integer from 1 to {MAX_MODEL_FILE_BYTES:,} "
                             f"(the largest model file), got {short_repr(self.model_bytes)}")
        for key in figures:
            value = getattr(self, key)
            if not (isinstance(value, float) and math.isfinite(value) and value > 0):
                raise ValueError(f"field {key!r} must be a finite positive float, got {short_repr(value)}")
        if self.latency_ci_low > self.latency_ci_high:
            raise ValueError(f"field 'latency_ci_low' = {self.latency_ci_low} is above 'latency_ci_high' "
                             f"= {self.latency_ci_high}")

    @property
    def combined(self) -> float | None:
        return combined_score(self.accuracy, self.latency_seconds, self.model_bytes, self.task)

    @property
    def qualified(self) -> bool:
        return self.accuracy >= TASKS[self.task].min_accuracy

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "entry") -> Entry:
        """An Entry from ``to_dict()``'s output, every field checked (:func:`json_field`,
        then the Entry's own checks), the problem named with ``where``."""
        number = (int, float)
        values = {"name": json_field(data, "name", str, where),
                  "model_sha256": json_field(data, "model_sha256", str, where),
                  "test_set_sha256": json_field(data, "test_set_sha256", str, where),
                  "task": json_field(data, "task", str, where),
                  "model_bytes": json_field(data, "model_bytes", int, where)}
        for key in ("accuracy", "latency_seconds", "latency_ci_low", "latency_ci_high",
                    "latency_p99_seconds", "throughput", "claimed_latency_seconds", "uncached_latency_seconds"):
            value = json_field(data, key, (*number, type(None)) if key == "uncached_latency_seconds" else number,
                               where)
            try:
                values[key] = None if value is None else float(value)
            except OverflowError:
                raise ValueError(f"{where}: field {key!r} is a number too large for a float") from None
        try:
            return cls(**values)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None


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

    The latency and the throughput are not checked: they are this machine's. The Entry
    takes every figure of the measurement (``measured.figures()``: the latencies, the
    throughput, the task and the test set are the verifier's), and the claimed latency
    is kept in ``claimed_latency_seconds``.
    """
    raise NotImplementedError("verify: not implemented yet (kata 20 Olympics)")


def verify_on(path: str | Path, test_set: TestSet, benchmark: Benchmark | None = None) -> Entry:
    """:func:`verify` the submission at ``path``, then count its accuracy again on ``test_set``.

    A model for another task than the test set's is rejected first (field ``"task"``).
    The claims are checked as always, on the shipped test set the submitter could measure
    on (a file that does not reproduce its own claim is rejected). The Entry's accuracy is
    then the share of ``test_set`` the model gets right, and its ``test_set_sha256`` names
    that set. An instructor who keeps the test set to themselves makes memorising the
    shipped 1,000 digits (or the answers to the 544 shipped questions) worthless: a model
    that stores them scores on the board what it scores on what it has never seen.
    """
    model_path = read_submission(path).model_path
    if model_path.is_file() and (task := model_task(model_path)) != test_set.task:
        raise RejectedSubmission(path, "task", f"{model_path.name} is a model for the {task} task, this "
                                               f"verification is of the {test_set.task} task")
    entry = verify(path, benchmark)
    if test_set.sha256 == entry.test_set_sha256:
        return entry
    return dataclasses.replace(entry, accuracy=test_set.count(model_path) / len(test_set),
                               test_set_sha256=test_set.sha256)


# -- the leaderboard ------------------------------------------------------------------------

CONDITION_KEYS = (*MACHINE_KEYS, TEST_SET_KEY, TASK_KEY)


def machine_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The conditions on which two environments disagree, as ``"key: a vs b"``: the
    ``MACHINE_KEYS`` (latencies from two machines cannot be ranked together),
    ``TEST_SET_KEY`` (nor accuracies counted on two test sets) and ``TASK_KEY`` (nor two
    tasks; an environment without one is of the digits)."""
    def condition(environment: dict[str, Any], key: str) -> Any:
        return environment.get(key, DIGITS if key == TASK_KEY else None)

    return [f"{key}: {short_repr(condition(a, key))} vs {short_repr(condition(b, key))}"
            for key in CONDITION_KEYS if condition(a, key) != condition(b, key)]


def board_rules(environment: dict[str, Any], where: str) -> Task:
    """The rules of the task a board ranks: its environment's ``TASK_KEY``, the digits if
    it has none; ``ValueError`` for an unknown one."""
    name = environment.get(TASK_KEY, DIGITS)
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"{where}: environment field {TASK_KEY!r} must be one of {', '.join(TASKS)}, "
                         f"got {short_repr(name)}")
    return TASKS[name]


def board_test_set(environment: dict[str, Any], where: str) -> str:
    """The digest of the test set a board's accuracies were counted on: its environment's
    ``TEST_SET_KEY``, or its task's shipped one if it has none; ``ValueError`` if malformed."""
    digest = environment.get(TEST_SET_KEY, board_rules(environment, where).shipped_test_set_sha256)
    if not isinstance(digest, str) or not SHA256_PATTERN.fullmatch(digest):
        raise ValueError(f"{where}: environment field {TEST_SET_KEY!r} must be 64 hexadecimal digits, "
                         f"got {short_repr(digest)}")
    return digest


@dataclass
class Leaderboard:
    """Every distinct verified submission of one task, measured on one machine (``environment``,
    which names the task in ``TASK_KEY``: the digits if it does not)."""

    environment: dict[str, Any]
    entries: list[Entry] = field(default_factory=list)

    @property
    def rules(self) -> Task:
        """The rules of the board's task (:func:`board_rules`): its events, baseline and bar."""
        return board_rules(self.environment, "leaderboard")

    @property
    def events(self) -> Mapping[str, tuple[str, bool]]:
        """The events of the board's task: event -> (Entry attribute, True if higher is better)."""
        return self.rules.events

    def add(self, entry: Entry) -> bool:
        """Add ``entry`` unless an entry with the same name AND model digest is already
        here: then the first measurement stands and nothing changes. True if added.

        An entrant may have several entries (several models); the ranking picks the best.
        """
        raise NotImplementedError("Leaderboard.add: not implemented yet (kata 20 Olympics)")

    def merge(self, other: Leaderboard) -> int:
        """Add ``other``'s entries in order (:meth:`add`); return how many were new.

        First, if the environments differ (:func:`machine_differences`), raise a
        ``ValueError`` saying the boards come from "different machines or test sets" and
        listing the differences, and change nothing: latencies from two machines cannot be
        ranked together, nor accuracies counted on two test sets.
        """
        raise NotImplementedError("Leaderboard.merge: not implemented yet (kata 20 Olympics)")

    def ranking(self, event: str = "combined") -> list[tuple[int | None, Entry]]:
        """``(rank, entry)`` for every entrant's best entry in ``event``, best first.

        ``self.events[event]`` gives the Entry attribute and whether higher is better (the
        events of the board's task: ``EVENTS`` for the digits); an unknown event is a
        ``ValueError`` naming it and the events. Per entrant, the best entry is the one that
        ranks first (for the same value, the one added first).

        - Ranked entries come first, sorted by value, then by name. In every event but
          ``"accuracy"``, an entry that does not qualify (``entry.qualified``, at least
          its task's ``min_accuracy``: ``MIN_ACCURACY`` for the digits) is not ranked: it comes after
          all ranked ones, with rank None, ordered by accuracy (higher first), then name.
        - Competition ranking: the rank is 1 + the number of ranked entries with a
          strictly better value, so equal values share a rank and the next one skips
          (1, 2, 2, 4).
        """
        raise NotImplementedError("Leaderboard.ranking: not implemented yet (kata 20 Olympics)")

    def table(self, event: str = "combined") -> str:
        """The ranking of ``event`` as a text table (tabulate): latencies in microseconds
        per image for the digits, in milliseconds per generated token for TinyTalks (with
        the KV cache, and in its own column without)."""
        rules = self.rules
        talks = rules.name == TINYTALKS
        scale, unit = (1e3, "ms/token") if talks else (1e6, "us")

        def time(seconds: float) -> str:
            return f"{scale * seconds:.{2 if talks else 1}f}"

        rows = []
        for rank, entry in self.ranking(event):
            score = entry.combined
            uncached = entry.uncached_latency_seconds
            rows.append([
                "-" if rank is None else rank, entry.name,
                f"below {rules.min_accuracy:.0%}" if score is None else f"{score:+.2f}",
                f"{100 * entry.accuracy:.1f}",
                f"{time(entry.latency_seconds)} [{time(entry.latency_ci_low)}, {time(entry.latency_ci_high)}]",
                time(entry.latency_p99_seconds), f"{entry.throughput:,.0f}" if uncached is None else time(uncached),
                f"{entry.model_bytes:,}", time(entry.claimed_latency_seconds), entry.model_sha256[:12],
            ])
        headers = ["rank", "entrant", "score", "exact %" if talks else "accuracy %", f"latency {unit} [95% CI]",
                   f"p99 {unit}", "no cache ms/token" if talks else "images/s", "bytes", f"claimed {unit}",
                   "model"]
        return f"event: {event}\n" + tabulate(rows, headers=headers, disable_numparse=True)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": LEADERBOARD_SCHEMA, "version": LEADERBOARD_VERSION,
                "rules_version": RULES_VERSION, "environment": self.environment,
                "entries": [entry.to_dict() for entry in self.entries]}

    @classmethod
    def from_dict(cls, data: Any, where: str = "leaderboard") -> Leaderboard:
        """A Leaderboard from ``to_dict()``'s output; ``ValueError`` naming ``where`` if it is
        malformed: another schema or version (:func:`require_schema`), another
        ``rules_version`` (``f"rules version {rules_version}"``, as for submissions), no
        ``environment`` object, no ``entries`` list, or an entry that
        ``Entry.from_dict(item, f"{where} entry {index}")`` refuses. Entries are added
        with :meth:`add`, so duplicates inside one file collapse."""
        raise NotImplementedError("Leaderboard.from_dict: not implemented yet (kata 20 Olympics)")

    def save(self, path: str | Path) -> None:
        """Write the board as JSON through a temporary file in the same folder and
        ``os.replace``: a verifier stopped half-way leaves the old board, never half a new one."""
        path = Path(path)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False))
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: str | Path) -> Leaderboard:
        """The leaderboard in the file at ``path``, all of it or nothing.

        Read with ``read_json`` (at most ``MAX_LEADERBOARD_BYTES``), checked by
        :meth:`from_dict` (every entry's figures, by :class:`Entry`), and refused if an
        entry is of another task than the board's (:func:`board_rules`) or was verified on
        another test set (:func:`board_test_set`). Every problem is a ``ValueError`` naming
        the file, the entry and the field.
        """
        board = cls.from_dict(read_json(path, MAX_LEADERBOARD_BYTES, "leaderboard"), str(path))
        task = board_rules(board.environment, str(path)).name
        expected = board_test_set(board.environment, str(path))
        for entry in board.entries:
            if entry.task != task:
                raise ValueError(f"{path}: entry {entry.name!r} ({entry.model_sha256[:12]}): field 'task' is "
                                 f"{entry.task!r}, but the board ranks the {task} task")
            if entry.test_set_sha256 != expected:
                raise ValueError(f"{path}: entry {entry.name!r} ({entry.model_sha256[:12]}): field "
                                 f"'test_set_sha256' is {entry.test_set_sha256[:16]}..., but the board's "
                                 f"accuracies are counted on {expected[:16]}...")
        return board


def submit(model: Any, name: str, directory: str | Path, benchmark: Benchmark | None = None) -> Submission:
    """Save ``model`` to ``directory/<name>.npz`` and write ``directory/<name>.json`` next to it
    (a :class:`TinyTalker` with ``save_talker``, anything else with :func:`save_model`)."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    model_path = folder / f"{check_name(name).replace(' ', '_')}.npz"
    if isinstance(model, TinyTalker):
        save_talker(model_path, model)
    else:
        save_model(model_path, model)
    return write_submission(model_path, name, benchmark=benchmark)


# -- command line ---------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytorch.systems.olympics {submit,verify,leaderboard} ...``; the exit code.

    The command line lives in ``olympics_cli`` (imported here, when called: it imports
    this module). Run as a command, it first pins the BLAS to one thread (see there).
    """
    from .olympics_cli import main as command_line

    return command_line(argv)


if __name__ == "__main__":
    from .olympics_cli import run_pinned

    sys.exit(run_pinned())
