"""Kata 07: training, the loop that turns the pieces of katas 01-06 into a model that learns.

One optimizer step is always the same four moves (kata 06)::

    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()

A real training run wraps them in the engineering that keeps training stable, affordable
and resumable:

- **evaluation**: loss and accuracy on held-out data, in ``eval()`` mode and under
  ``no_grad()``, so nothing is recorded and Dropout is switched off;
- **learning-rate schedules**: a large learning rate early is unstable and a large one late
  keeps bouncing around the minimum, so the learning rate changes with the step count;
- **gradient clipping**: one bad batch can produce a gradient a thousand times larger than
  usual; rescaling it to a maximum global norm keeps one step from undoing many;
- **gradient accumulation**: ``k`` small batches whose losses are each scaled by ``1/k``
  give exactly the gradient of one batch ``k`` times larger, for the activation memory of
  one small batch;
- **checkpoints**: the weights, the optimizer's state and where training stood, saved to
  and loaded from a plain ``.npz`` archive, never with pickle (unpickling a file can run
  any code that file contains).

Everything here is classification-flavoured: models output class scores (logits) of shape
``(N, C)`` and targets are integer class indices of shape ``(N,)``, as in kata 04's
``CrossEntropyLoss``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .core.autograd import no_grad
from .core.tensor import Tensor
from .nn.layers import Module
from .optim.optimizers import Optimizer
from .untrusted import FileFormatError, check_fits, check_number, read_json_entry, read_npz

Batch = tuple[Tensor, Tensor]
LossFunction = Callable[[Tensor, Tensor], Tensor]

CHECKPOINT_FORMAT = "tinytorch-checkpoint"
CHECKPOINT_VERSION = 1
METADATA_KEY = "metadata"
DIGEST_KEY = "sha256"
MODEL_PREFIX = "model/"
OPTIMIZER_PREFIX = "optimizer/"


# -- measuring a classifier -------------------------------------------------------------------

def accuracy(logits: Tensor, targets: Tensor) -> float:
    """The fraction of rows whose highest score is the target class, in [0, 1].

    ``logits`` has shape ``(N, C)`` and ``targets`` integer class indices of shape ``(N,)``;
    anything else is a ``ValueError`` naming both shapes. The prediction of a row is the
    argmax over the class axis (a tie goes to the lowest class index, as ``np.argmax`` does).
    """
    raise NotImplementedError("accuracy: not implemented yet (kata 07 Training)")


class EpochStats:
    """Running loss and accuracy over the batches of one epoch, weighted by batch size.

    The last batch of an epoch is often smaller than the others. Averaging the batch means
    would count each of its samples more than the others; the epoch's loss must be the mean
    over SAMPLES: ``sum(batch_loss * batch_size) / total_samples``, and the same for accuracy.
    """

    def __init__(self) -> None:
        self.samples = 0
        self.loss_sum = 0.0
        self.correct = 0.0

    def add(self, loss: Tensor, logits: Tensor, targets: Tensor) -> None:
        """Count one batch: its mean loss (a scalar Tensor), its logits and its targets."""
        raise NotImplementedError("EpochStats.add: not implemented yet (kata 07 Training)")

    def result(self) -> dict[str, float]:
        """``{"loss": mean loss per sample, "accuracy": fraction correct}``.

        An epoch without a single batch is a ``ValueError`` ("no batches"): an empty data
        loader is a bug to report, not an epoch with loss 0.
        """
        raise NotImplementedError("EpochStats.result: not implemented yet (kata 07 Training)")


# -- learning-rate schedules -------------------------------------------------------------------

class LRSchedule:
    """A learning rate that is a function of the step count, written into ``optimizer.lr``.

    ``t`` counts the optimizer steps already taken (0 before the first). A subclass defines
    :meth:`lr_at`, the closed-form learning rate for step ``t``; the base class keeps the
    count and sets ``optimizer.lr``:

    - on construction: ``base_lr`` is the optimizer's current ``lr``, ``steps_done`` is 0,
      and ``optimizer.lr`` becomes ``lr_at(0)``, the rate the first step must use;
    - :meth:`step`, called once right AFTER every ``optimizer.step()``: ``steps_done``
      grows by one and ``optimizer.lr`` becomes ``lr_at(steps_done)``.

    A subclass sets and checks its own attributes BEFORE calling ``super().__init__``, which
    already needs ``lr_at``.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        raise NotImplementedError("LRSchedule.__init__: not implemented yet (kata 07 Training)")

    def lr_at(self, step: int) -> float:
        """The learning rate for step ``step`` (0 is the first step)."""
        raise NotImplementedError(f"{type(self).__name__} must define lr_at()")

    def step(self) -> None:
        """Advance one optimizer step and set the optimizer's learning rate for the next one."""
        raise NotImplementedError("LRSchedule.step: not implemented yet (kata 07 Training)")


class StepLR(LRSchedule):
    """Step decay: multiply the learning rate by ``gamma`` every ``step_size`` steps::

        lr_at(t) = base_lr * gamma ** (t // step_size)

    Steps 0 .. step_size - 1 use ``base_lr``, step ``step_size`` is the first to use
    ``base_lr * gamma``. ``step_size`` must be a positive integer and ``gamma`` in (0, 1];
    otherwise ``ValueError`` naming the value.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        raise NotImplementedError("StepLR.__init__: not implemented yet (kata 07 Training)")

    def lr_at(self, step: int) -> float:
        raise NotImplementedError("StepLR.lr_at: not implemented yet (kata 07 Training)")


class WarmupCosineLR(LRSchedule):
    """Linear warm-up over ``warmup_steps``, then cosine decay to ``min_lr`` at ``total_steps``.

    With ``W = warmup_steps`` and ``T = total_steps``::

        t < W:        lr = base_lr * (t + 1) / W
        W <= t < T:   lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * (t - W) / (T - W))) / 2
        t >= T:       lr = min_lr

    The warm-up never uses a learning rate of 0 (that would waste the first step): step 0
    uses ``base_lr / W`` and step ``W - 1`` reaches ``base_lr``. The cosine starts at
    ``base_lr`` on step ``W`` and reaches ``min_lr`` at ``t = T``, after the last of the T
    steps, so the learning rate is continuous everywhere after the warm-up.

    Why warm up: Adam's second-moment estimates and a freshly initialised network are both
    unreliable for the first steps; small steps while they settle avoid an early blow-up.

    Requires ``0 <= warmup_steps < total_steps`` and ``0 <= min_lr <= base_lr``; otherwise
    ``ValueError`` naming the values.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, total_steps: int,
                 min_lr: float = 0.0) -> None:
        raise NotImplementedError("WarmupCosineLR.__init__: not implemented yet (kata 07 Training)")

    def lr_at(self, step: int) -> float:
        raise NotImplementedError("WarmupCosineLR.lr_at: not implemented yet (kata 07 Training)")


# -- gradient clipping -------------------------------------------------------------------------

def clip_grad_norm(parameters: Iterable[Tensor], max_norm: float) -> float:
    """Rescale all gradients together so that their global L2 norm is at most ``max_norm``.

    The global norm treats every gradient of every parameter as one long vector::

        total = sqrt(sum over parameters of sum(grad ** 2))

    If ``total > max_norm``, every gradient is multiplied by the SAME factor
    ``max_norm / total``: the direction of the step is kept, only its length shrinks.
    (Clipping each tensor on its own would change the direction.) Otherwise the gradients are
    left as they are. Parameters whose ``.grad`` is None are skipped.

    Compute the norm in float64: squares of float32 gradients overflow to ``inf`` above
    about 1.8e19, which is exactly when clipping is needed. Clipped gradients keep their
    dtype. ``max_norm`` must be > 0 (``ValueError`` otherwise).

    Returns ``total``, the norm BEFORE clipping, as a Python float: logging it is the best
    early warning of an unstable run.
    """
    raise NotImplementedError("clip_grad_norm: not implemented yet (kata 07 Training)")


# -- the trainer -------------------------------------------------------------------------------

class Trainer:
    """Trains a classifier: ``Trainer(model, loss_fn, optimizer).fit(train_batches, epochs=10)``.

    A batch source is any iterable of ``(inputs, targets)`` Tensor pairs that can be
    iterated once per epoch: a list of batches, or a data loader. (A generator is used up
    after one pass: do not hand one to ``fit``.)

    Options:

    - ``scheduler``: an :class:`LRSchedule` on the same optimizer, advanced after every
      optimizer step;
    - ``max_grad_norm``: if set, :func:`clip_grad_norm` of all the optimizer's parameters
      before every optimizer step (on the full, accumulated gradient);
    - ``accumulation_steps`` (``k``): one optimizer step per ``k`` batches (see
      :meth:`train_epoch`).

    ``accumulation_steps`` must be an integer >= 1 and ``max_grad_norm`` None or > 0;
    otherwise ``ValueError`` naming the value.
    """

    def __init__(self, model: Module, loss_fn: LossFunction, optimizer: Optimizer,
                 scheduler: LRSchedule | None = None, max_grad_norm: float | None = None,
                 accumulation_steps: int = 1) -> None:
        raise NotImplementedError("Trainer.__init__: not implemented yet (kata 07 Training)")

    def optimizer_step(self) -> None:
        """Apply the gradients gathered so far: clip (if ``max_grad_norm``), ``optimizer.step()``,
        ``optimizer.zero_grad()``, then advance the scheduler (if any) by one step."""
        raise NotImplementedError("Trainer.optimizer_step: not implemented yet (kata 07 Training)")

    def train_epoch(self, batches: Iterable[Batch]) -> dict[str, float]:
        """One pass over ``batches`` in training mode; returns ``{"loss", "accuracy"}``.

        Put the model in ``train()`` mode and clear any gradients left from before. For each
        batch: forward, loss, then backward of ``loss * (1 / k)`` (``k`` =
        ``accumulation_steps``), so that ``k`` batches add up to the MEAN of their gradients,
        the gradient of one batch ``k`` times larger. After every ``k``-th batch call
        :meth:`optimizer_step`; at the end of the epoch, a last incomplete group of batches
        gets its step too (no data is thrown away).

        The figures returned are those of the unscaled losses, averaged over samples with
        :class:`EpochStats`, while the weights changed during the epoch.
        """
        raise NotImplementedError("Trainer.train_epoch: not implemented yet (kata 07 Training)")

    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """Loss and accuracy on ``batches`` without learning: ``{"loss", "accuracy"}``.

        In ``eval()`` mode (Dropout off: the same data always gives the same figures) and
        inside ``no_grad()`` (no graph is recorded, so each activation is freed as soon as
        the next layer has used it). Parameters and their gradients are not touched. The
        model stays in eval mode; :meth:`train_epoch` switches it back.
        """
        raise NotImplementedError("Trainer.evaluate: not implemented yet (kata 07 Training)")

    def fit(self, train_batches: Iterable[Batch], epochs: int,
            val_batches: Iterable[Batch] | None = None) -> dict[str, list[float]]:
        """Train for ``epochs`` epochs; return the history, one entry per epoch per key.

        Keys: ``"train_loss"``, ``"train_accuracy"``, ``"lr"`` (the optimizer's learning
        rate at the end of the epoch) and, only when ``val_batches`` is given,
        ``"val_loss"`` and ``"val_accuracy"`` from :meth:`evaluate` after each epoch.
        ``epochs`` must be a positive integer (``ValueError`` otherwise).
        """
        raise NotImplementedError("Trainer.fit: not implemented yet (kata 07 Training)")


# -- checkpoints -------------------------------------------------------------------------------

def checkpoint_digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of every array's name, dtype, shape and bytes, in sorted name order.

    The ``.npz`` format's own CRC-32 catches a damaged file, not an edited one: rewriting
    the archive with a changed weight gives a perfectly valid zip. This digest, saved next
    to the arrays and checked on loading, catches both.
    """
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save_checkpoint(path: str | Path, model: Module, optimizer: Optimizer | None = None,
                    **meta: Any) -> None:
    """Save the model's weights, the optimizer's state and ``meta`` to ``path``, without pickle.

    The file is an ``.npz`` archive (``np.savez`` into a file you opened, so that the file
    is exactly ``path``: given a name, ``np.savez`` would add ".npz" to it) holding:

    - ``"model/<name>"``: each array of ``model.state_dict()``;
    - ``"optimizer/<i>/<key>"``: each NumPy array of ``optimizer.state[i]`` (Adam's ``m``
      and ``v``, SGD's ``velocity``);
    - ``METADATA_KEY``: ONE JSON text, stored as a NumPy string array (``np.array(text)``),
      of ``{"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "meta": meta,
      "optimizer": None or {"type": class name, "lr": optimizer.lr, "num_params": ...,
      "scalars": [for each parameter, its state's non-array values such as Adam's "step"]}}``;
    - ``DIGEST_KEY``: :func:`checkpoint_digest` of all the entries above, as a string array.

    A dict or any Python object given to ``np.savez`` would be pickled, and loading a pickle
    runs code: JSON text and numeric arrays can only ever be data. ``meta`` must therefore be
    JSON: numbers, strings, lists, dicts (NumPy scalars are converted with ``.item()``).
    Anything else is a ``TypeError`` raised BEFORE the file is opened, so a failed save never
    destroys the previous checkpoint at ``path``.
    """
    raise NotImplementedError("save_checkpoint: not implemented yet (kata 07 Training)")


def json_scalar(value: Any) -> Any:
    """``json.dumps`` hook: NumPy scalars become Python numbers; nothing else is accepted."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON serializable")


def load_checkpoint(path: str | Path, model: Module,
                    optimizer: Optimizer | None = None) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` saved into ``model`` (and ``optimizer``); return ``meta``.

    A checkpoint is a file anyone can craft, so everything is checked BEFORE anything is
    changed: on any error the model and the optimizer are exactly as they were, never half
    loaded. The given helpers of ``tinytorch.untrusted`` do the reading and the checks of
    single values; each problem is a ``ValueError`` whose message names the file and the
    entry or field:

    - ``read_npz(path)`` reads the arrays without pickle and refuses an empty, truncated or
      damaged file ("truncated or corrupt"), a bare ``.npy``, pickled objects, and headers
      that declare more bytes than the file holds or than a cap (nothing is allocated
      before that check);
    - the metadata or the digest is missing, or the format is not ``CHECKPOINT_FORMAT``:
      "not a TinyTorch checkpoint"; an entry that is none of metadata, digest,
      ``MODEL_PREFIX`` or ``OPTIMIZER_PREFIX``: name it;
    - the digest does not match the arrays: "checksum mismatch" (modified after saving);
    - ``read_json_entry(path, METADATA_KEY, ...)`` gives the metadata as a dict (a list, or
      text that is not JSON, is refused), and its ``"meta"`` must be a dict too;
    - every model entry whose name the model has must fit its parameter or buffer:
      ``check_fits`` (same shape; real, finite floats into floats: a complex or text bias,
      or a NaN, is refused);
    - with an optimizer, :func:`_optimizer_state` checks its part (see there);
    - the model's names or shapes do not match: ``model.load_state_dict`` (kata 03) already
      checks those and changes nothing when they fail, so call it after every other check.

    Then the optimizer gets its ``lr`` and a fresh ``state`` list built from the saved
    scalars and arrays (arrays read from an ``.npz`` are new and writable: an optimizer
    updates its buffers in place).
    """
    raise NotImplementedError("load_checkpoint: not implemented yet (kata 07 Training)")


def _optimizer_state(path: str | Path, saved: Any, arrays: dict[str, np.ndarray],
                     optimizer: Optimizer) -> tuple[float, list[dict[str, Any]]]:
    """The optimizer's ``lr`` and state rebuilt from the checkpoint, after checking that they fit.

    ``saved`` is the metadata's ``"optimizer"`` part. Refuse (``ValueError`` naming the
    file and the field), before building anything:

    - no optimizer state (``None``): "no optimizer state"; not a dict: say so;
    - another optimizer class (``"type"``), or state for another number of parameters
      (``"num_params"``, and the length of ``"scalars"``): name both;
    - an ``lr`` or a scalar (Adam's ``step``) that is not a finite number ``>= 0``
      (``check_number``): ``lr=NaN`` would make every weight NaN after one step;
    - an ``OPTIMIZER_PREFIX`` entry that names no parameter (``optimizer/<i>/<key>`` with
      ``i`` from 0 to ``num_params - 1``), or does not fit its parameter's array
      (``check_fits``: a moment buffer has its parameter's shape and dtype);
    - states of different kinds: every parameter's state that is not empty (a parameter
      that never had a gradient has none) must have the same keys (scalars and arrays),
      or the next step fails half-way through the parameters.
    """
    raise NotImplementedError("_optimizer_state: not implemented yet (kata 07 Training)")
