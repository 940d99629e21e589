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
    # BEGIN SOLUTION
    if logits.ndim != 2 or targets.shape != (logits.shape[0],):
        raise ValueError(f"accuracy needs logits of shape (N, C) and targets of shape (N,), got "
                         f"logits of shape {logits.shape} and targets of shape {targets.shape}")
    return float(np.mean(np.argmax(logits.data, axis=1) == targets.data))
    # END SOLUTION


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
        # BEGIN SOLUTION
        count = len(targets)
        self.samples += count
        self.loss_sum += loss.item() * count
        self.correct += accuracy(logits, targets) * count
        # END SOLUTION

    def result(self) -> dict[str, float]:
        """``{"loss": mean loss per sample, "accuracy": fraction correct}``.

        An epoch without a single batch is a ``ValueError`` ("no batches"): an empty data
        loader is a bug to report, not an epoch with loss 0.
        """
        # BEGIN SOLUTION
        if self.samples == 0:
            raise ValueError("no batches: the epoch saw no data (is the batch list or loader empty?)")
        return {"loss": self.loss_sum / self.samples, "accuracy": self.correct / self.samples}
        # END SOLUTION


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
        # BEGIN SOLUTION
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.steps_done = 0
        optimizer.lr = self.lr_at(0)
        # END SOLUTION

    def lr_at(self, step: int) -> float:
        """The learning rate for step ``step`` (0 is the first step)."""
        raise NotImplementedError(f"{type(self).__name__} must define lr_at()")

    def step(self) -> None:
        """Advance one optimizer step and set the optimizer's learning rate for the next one."""
        # BEGIN SOLUTION
        self.steps_done += 1
        self.optimizer.lr = self.lr_at(self.steps_done)
        # END SOLUTION


class StepLR(LRSchedule):
    """Step decay: multiply the learning rate by ``gamma`` every ``step_size`` steps::

        lr_at(t) = base_lr * gamma ** (t // step_size)

    Steps 0 .. step_size - 1 use ``base_lr``, step ``step_size`` is the first to use
    ``base_lr * gamma``. ``step_size`` must be a positive integer and ``gamma`` in (0, 1];
    otherwise ``ValueError`` naming the value.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        # BEGIN SOLUTION
        if not (isinstance(step_size, int) and step_size >= 1):
            raise ValueError(f"step_size must be a positive integer, got step_size={step_size!r}")
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got gamma={gamma}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer)
        # END SOLUTION

    def lr_at(self, step: int) -> float:
        # BEGIN SOLUTION
        return self.base_lr * self.gamma ** (step // self.step_size)
        # END SOLUTION


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
        # BEGIN SOLUTION
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(f"need 0 <= warmup_steps < total_steps, got warmup_steps={warmup_steps}, "
                             f"total_steps={total_steps}")
        if not 0 <= min_lr <= optimizer.lr:
            raise ValueError(f"need 0 <= min_lr <= the optimizer's lr, got min_lr={min_lr}, "
                             f"lr={optimizer.lr}")
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        self.min_lr = min_lr
        super().__init__(optimizer)
        # END SOLUTION

    def lr_at(self, step: int) -> float:
        # BEGIN SOLUTION
        if step < self.warmup_steps:
            return self.base_lr * (step + 1) / self.warmup_steps
        if step >= self.total_steps:
            return self.min_lr
        progress = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
        # END SOLUTION


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
    # BEGIN SOLUTION
    if not max_norm > 0:
        raise ValueError(f"max_norm must be > 0, got max_norm={max_norm}")
    with_grads = [(parameter, parameter.grad) for parameter in parameters if parameter.grad is not None]
    total = math.sqrt(sum(float(np.sum(np.square(grad.data, dtype=np.float64))) for _, grad in with_grads))
    if total > max_norm:
        factor = max_norm / total
        for parameter, grad in with_grads:
            parameter.grad = Tensor(grad.data * factor)
    return total
    # END SOLUTION


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
        # BEGIN SOLUTION
        if not (isinstance(accumulation_steps, int) and accumulation_steps >= 1):
            raise ValueError(f"accumulation_steps must be an integer >= 1, "
                             f"got accumulation_steps={accumulation_steps!r}")
        if max_grad_norm is not None and not max_grad_norm > 0:
            raise ValueError(f"max_grad_norm must be None or > 0, got max_grad_norm={max_grad_norm}")
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.max_grad_norm = max_grad_norm
        self.accumulation_steps = accumulation_steps
        # END SOLUTION

    def optimizer_step(self) -> None:
        """Apply the gradients gathered so far: clip (if ``max_grad_norm``), ``optimizer.step()``,
        ``optimizer.zero_grad()``, then advance the scheduler (if any) by one step."""
        # BEGIN SOLUTION
        if self.max_grad_norm is not None:
            clip_grad_norm(self.optimizer.params, self.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad()
        if self.scheduler is not None:
            self.scheduler.step()
        # END SOLUTION

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
        # BEGIN SOLUTION
        self.model.train()
        self.optimizer.zero_grad()
        stats = EpochStats()
        pending = 0
        for inputs, targets in batches:
            logits = self.model(inputs)
            loss = self.loss_fn(logits, targets)
            (loss * (1 / self.accumulation_steps)).backward()
            stats.add(loss, logits, targets)
            pending += 1
            if pending == self.accumulation_steps:
                self.optimizer_step()
                pending = 0
        if pending:
            self.optimizer_step()
        return stats.result()
        # END SOLUTION

    def evaluate(self, batches: Iterable[Batch]) -> dict[str, float]:
        """Loss and accuracy on ``batches`` without learning: ``{"loss", "accuracy"}``.

        In ``eval()`` mode (Dropout off: the same data always gives the same figures) and
        inside ``no_grad()`` (no graph is recorded, so each activation is freed as soon as
        the next layer has used it). Parameters and their gradients are not touched. The
        model stays in eval mode; :meth:`train_epoch` switches it back.
        """
        # BEGIN SOLUTION
        self.model.eval()
        stats = EpochStats()
        with no_grad():
            for inputs, targets in batches:
                logits = self.model(inputs)
                stats.add(self.loss_fn(logits, targets), logits, targets)
        return stats.result()
        # END SOLUTION

    def fit(self, train_batches: Iterable[Batch], epochs: int,
            val_batches: Iterable[Batch] | None = None) -> dict[str, list[float]]:
        """Train for ``epochs`` epochs; return the history, one entry per epoch per key.

        Keys: ``"train_loss"``, ``"train_accuracy"``, ``"lr"`` (the optimizer's learning
        rate at the end of the epoch) and, only when ``val_batches`` is given,
        ``"val_loss"`` and ``"val_accuracy"`` from :meth:`evaluate` after each epoch.
        ``epochs`` must be a positive integer (``ValueError`` otherwise).
        """
        # BEGIN SOLUTION
        if not (isinstance(epochs, int) and epochs >= 1):
            raise ValueError(f"epochs must be a positive integer, got epochs={epochs!r}")
        keys = ["train_loss", "train_accuracy", "lr"]
        if val_batches is not None:
            keys += ["val_loss", "val_accuracy"]
        history: dict[str, list[float]] = {key: [] for key in keys}
        for _ in range(epochs):
            train = self.train_epoch(train_batches)
            history["train_loss"].append(train["loss"])
            history["train_accuracy"].append(train["accuracy"])
            history["lr"].append(self.optimizer.lr)
            if val_batches is not None:
                val = self.evaluate(val_batches)
                history["val_loss"].append(val["loss"])
                history["val_accuracy"].append(val["accuracy"])
        return history
        # END SOLUTION


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
    # BEGIN SOLUTION
    arrays: dict[str, Any] = {MODEL_PREFIX + name: value for name, value in model.state_dict().items()}
    optimizer_info = None
    if optimizer is not None:
        scalars = []
        for index, state in enumerate(optimizer.state):
            plain = {}
            for key, value in state.items():
                if isinstance(value, np.ndarray):
                    arrays[f"{OPTIMIZER_PREFIX}{index}/{key}"] = value
                else:
                    plain[key] = value
            scalars.append(plain)
        optimizer_info = {"type": type(optimizer).__name__, "lr": optimizer.lr,
                          "num_params": len(optimizer.params), "scalars": scalars}
    info = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "meta": meta,
            "optimizer": optimizer_info}
    try:
        text = json.dumps(info, default=json_scalar, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(f"checkpoint metadata must be JSON (numbers, strings, lists, dicts): "
                        f"{error}") from None
    arrays[METADATA_KEY] = np.array(text)
    arrays[DIGEST_KEY] = np.array(checkpoint_digest(arrays))
    with open(path, "wb") as file:
        np.savez(file, **arrays)
    # END SOLUTION


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
    # BEGIN SOLUTION
    arrays = read_npz(path)
    if METADATA_KEY not in arrays or DIGEST_KEY not in arrays:
        raise ValueError(f"{path}: not a TinyTorch checkpoint (no {METADATA_KEY!r} or "
                         f"{DIGEST_KEY!r} entry)")
    saved_digest = str(arrays.pop(DIGEST_KEY))
    if checkpoint_digest(arrays) != saved_digest:
        raise ValueError(f"{path}: checksum mismatch: the checkpoint was modified after it was saved")
    info = read_json_entry(path, METADATA_KEY, arrays.pop(METADATA_KEY))
    if info.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a TinyTorch checkpoint (format {info.get('format')!r})")
    meta = info.get("meta")
    if not isinstance(meta, dict):
        raise FileFormatError(f"{path}: the metadata's 'meta' must be a dict, got {meta!r}")
    stray = [name for name in arrays if not name.startswith((MODEL_PREFIX, OPTIMIZER_PREFIX))]
    if stray:
        raise ValueError(f"{path}: entries {stray} belong to no model or optimizer")
    model_state = {name[len(MODEL_PREFIX):]: array for name, array in arrays.items()
                   if name.startswith(MODEL_PREFIX)}
    targets = {name: parameter.data for name, parameter in model.named_parameters()}
    targets.update(model.named_buffers())
    for name, array in model_state.items():
        if name in targets:
            check_fits(path, MODEL_PREFIX + name, array, targets[name])
    restored = None
    if optimizer is not None:
        restored = _optimizer_state(path, info.get("optimizer"), arrays, optimizer)
    try:
        model.load_state_dict(model_state)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    if optimizer is not None and restored is not None:
        optimizer.lr, optimizer.state = restored
    return meta
    # END SOLUTION


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
    # BEGIN SOLUTION
    if saved is None:
        raise ValueError(f"{path}: the checkpoint holds no optimizer state (it was saved without "
                         f"an optimizer)")
    if not isinstance(saved, dict):
        raise FileFormatError(f"{path}: the metadata's 'optimizer' must be a dict, got {saved!r}")
    if saved.get("type") != type(optimizer).__name__:
        raise ValueError(f"{path}: the checkpoint holds {saved.get('type')} state, the optimizer is "
                         f"{type(optimizer).__name__}")
    count = len(optimizer.params)
    if saved.get("num_params") != count:
        raise ValueError(f"{path}: the checkpoint holds optimizer state for "
                         f"{saved.get('num_params')} parameters, the optimizer has {count}")
    scalars = saved.get("scalars")
    if not isinstance(scalars, list) or len(scalars) != count:
        found = f"{len(scalars)} records" if isinstance(scalars, list) else repr(scalars)
        raise FileFormatError(f"{path}: optimizer.scalars must be a list of {count} records, one "
                              f"per parameter, got {found}")
    lr = check_number(path, "optimizer.lr", saved.get("lr"))
    state: list[dict[str, Any]] = []
    for slot, plain in enumerate(scalars):
        if not isinstance(plain, dict):
            raise FileFormatError(f"{path}: optimizer.scalars[{slot}] must be a dict, got {plain!r}")
        state.append({key: check_number(path, f"optimizer.scalars[{slot}].{key}", value)
                      for key, value in plain.items()})
    for name, array in arrays.items():
        if not name.startswith(OPTIMIZER_PREFIX):
            continue
        index, _, key = name[len(OPTIMIZER_PREFIX):].partition("/")
        if not (index.isdecimal() and int(index) < count and key):
            raise ValueError(f"{path}: entry {name!r} names no parameter of the optimizer "
                             f"(optimizer/<0..{count - 1}>/<key>)")
        check_fits(path, name, array, optimizer.params[int(index)].data)
        state[int(index)][key] = array
    filled = [(slot, sorted(entry)) for slot, entry in enumerate(state) if entry]
    for slot, keys in filled[1:]:
        if keys != filled[0][1]:
            raise FileFormatError(f"{path}: optimizer/{slot} holds the state {keys}, but "
                                  f"optimizer/{filled[0][0]} holds {filled[0][1]}")
    return lr, state
    # END SOLUTION
