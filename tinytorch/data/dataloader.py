"""Kata 08: the data pipeline, from samples in memory to augmented batches.

Training reads its data over and over, one batch at a time, and every epoch asks the same
three questions:

1. **Which samples go together?** A ``DataLoader`` walks a data set in batches. With
   ``shuffle=True`` every epoch draws a fresh order from ONE seeded random generator: the
   run is reproducible (same seed, same sequence of epochs), yet no two epochs repeat, and
   within an epoch every sample appears exactly once.
2. **How do samples become one batch?** *Collation*: a list of samples (tuples, dicts,
   arrays, numbers, Tensors) becomes one structure of the same shape whose leaves are
   Tensors with a new first axis, the batch axis. When the data set is a ``TensorDataset``
   (arrays in memory), a batch is gathered with ONE fancy index per array, ``x[indices]``:
   NumPy copies the rows in C, instead of Python fetching samples one by one and stacking
   them. ``test_6_systems.py`` measures what that is worth.
3. **How does each epoch see slightly different images?** *Augmentation*: random crops and
   mirror images multiply the data a model learns from. Done sample by sample in Python,
   augmentation becomes the bottleneck of training; the transforms here work on a whole
   ``(N, C, H, W)`` batch at once, each sample with its own random draw, without a Python
   loop over the samples.
4. **How does loading stay out of the model's way?** *Prefetching*: a ``PrefetchLoader``
   makes the next batches in a background thread while the training step computes on the
   current one. NumPy releases Python's global lock inside its heavy operations, so on a
   machine with a core free for each, the two run at the same time.

The data-set protocol is the smallest one possible: anything with ``__len__`` and
``__getitem__(i)`` (returning sample ``i``) is a data set, even a plain list of samples.

Randomness: every random object here takes ``rng``, a ``np.random.Generator``, an integer
seed or None (fresh randomness), and passes it to ``np.random.default_rng`` ONCE, when it
is created. Each docstring says exactly what is drawn, in which order, so the draws can be
reproduced: that is how the tests check your results sample by sample.

Why one long file: it is all of kata 08's code, and a kata's tests, its stub and its
reference are found from one another by name; its sections follow the kata's test files.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..core.tensor import Tensor

Images = np.ndarray | Tensor
Seed = np.random.Generator | int | None


@runtime_checkable
class Dataset(Protocol):
    """What a ``DataLoader`` reads: ``len(dataset)`` samples, sample ``i`` is ``dataset[i]``.

    A sample may be anything ``collate`` understands: an array, a number, a Tensor, or a
    tuple, list or dict of them (``(image, label)`` is the classic). Write your own data
    set as any class with these two methods; it does not need to inherit from this one.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


class Batches(Protocol):
    """What a ``PrefetchLoader`` wraps: an iterable that can be read again (once per epoch)
    and knows its number of batches, such as a ``DataLoader``."""

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


# -- data sets --------------------------------------------------------------------------------

class TensorDataset:
    """Arrays that share their first dimension: sample ``i`` is ``(arrays[0][i], arrays[1][i], ...)``.

    ``TensorDataset(images, labels)`` is the usual case. Each argument may be a NumPy array,
    a Tensor or a (nested) list; all are kept as NumPy arrays in the tuple ``self.arrays``:
    a Tensor's ``.data`` and an array as they are (no copy), a list converted with the
    Tensor rules (Python floats become float32, ints int64).

    Errors, raised by the constructor: no array at all, an array with no dimension (a
    scalar), or arrays whose first dimensions differ are each a ``ValueError``; the last one
    lists the shape of every array, e.g. ``got shapes (100, 3), (99,)``.
    """

    def __init__(self, *arrays: Any) -> None:
        raise NotImplementedError("TensorDataset.__init__: not implemented yet (kata 08 DataLoader)")

    def __len__(self) -> int:
        raise NotImplementedError("TensorDataset.__len__: not implemented yet (kata 08 DataLoader)")

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        """Sample ``index``: a tuple holding row ``index`` of every array.

        The rows are views into the arrays (no copy). Negative indices count from the end,
        as for a list; an index outside ``[-len, len)`` raises ``IndexError`` naming the
        index and the length.
        """
        raise NotImplementedError("TensorDataset.__getitem__: not implemented yet (kata 08 DataLoader)")

    def gather(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """The batch of the samples at ``indices`` (an int array): one Tensor per array.

        This is the fast path of the ``DataLoader``: ``array[indices]`` gathers every row of
        the batch in ONE NumPy call per array (fancy indexing copies the rows in C), where
        ``collate([dataset[i] for i in indices])`` runs Python code for every sample before
        it stacks them. The result equals that collation: same shapes, same dtypes.
        """
        raise NotImplementedError("TensorDataset.gather: not implemented yet (kata 08 DataLoader)")


# -- collation --------------------------------------------------------------------------------

# The leaves collate stacks; np.generic covers NumPy scalars such as np.int64(3).
LEAF_TYPES = (np.ndarray, Tensor, np.generic, bool, int, float)


def collate(samples: Sequence[Any]) -> Any:
    """Turn a list of samples into one batch with the same structure as each sample.

    - A tuple or list sample gives a tuple: element ``k`` of the batch is the collation of
      element ``k`` of every sample. Every sample must have the same number of elements.
    - A dict sample gives a dict with the same keys, in the first sample's order, each
      value collated. Every sample must have the same keys.
    - An array, a Tensor or a number (Python or NumPy ``bool``, ``int``, ``float``) is a
      leaf: the leaves of all samples are stacked along a new first axis into ONE Tensor of
      shape ``(len(samples), *leaf_shape)``. Each leaf follows the Tensor dtype rules
      (arrays and Tensors keep their dtype, Python floats become float32 and ints int64),
      so a list of integer labels becomes an int64 Tensor of shape ``(N,)``.

    Nesting works to any depth (a dict of tuples, ...). Errors, each naming what differs:

    - an empty list: ``ValueError``;
    - leaves of different shapes ("ragged" samples): ``ValueError`` naming the two shapes
      and the positions of the samples, e.g. ``sample 0 has shape (3, 32, 32) but sample 5
      has shape (3, 28, 28)``;
    - tuples of different lengths, or dicts with different keys: ``ValueError`` naming both
      lengths, or both key lists;
    - samples that are not all the same kind (a tuple here, a dict there) or a leaf of
      another type (a string, None): ``TypeError`` naming the type (the helper
      ``_require_all`` below checks a list of samples and raises it for you).
    """
    raise NotImplementedError("collate: not implemented yet (kata 08 DataLoader)")


def _require_all(samples: Sequence[Any], kind: type | tuple[type, ...], expected: str) -> None:
    """Raise TypeError unless every sample is an instance of ``kind``."""
    for position, sample in enumerate(samples):
        if not isinstance(sample, kind):
            raise TypeError(f"cannot collate sample {position}, a {type(sample).__name__}: "
                            f"expected {expected}")


# -- the loader --------------------------------------------------------------------------------

class DataLoader:
    """Iterate over a data set in batches: ``for images, labels in DataLoader(data, 64): ...``.

    - ``dataset``: anything with ``__len__`` and ``__getitem__`` (see ``Dataset``); a
      ``TensorDataset`` takes the fast path (``gather``).
    - ``batch_size``: a positive int, else ``ValueError`` naming it. Every batch holds
      ``batch_size`` samples except possibly the last one of an epoch, which holds the rest,
      unless ``drop_last`` drops it.
    - ``shuffle``: False walks the samples in order 0, 1, 2, ...; True draws a new order at
      the start of every epoch with ``self.rng.permutation(len(dataset))``.
    - ``rng``: a Generator, a seed or None; ``self.rng = np.random.default_rng(rng)`` is
      created ONCE, here. Two loaders with the same seed give the same epochs; one loader
      gives a different order each epoch, because its generator moves on.

    ``len(loader)`` is the number of batches in an epoch. Iterating gives the batches:
    ``dataset.gather(indices)`` for a ``TensorDataset``, otherwise
    ``collate([dataset[i] for i in indices])``. A dataset without ``__len__`` and
    ``__getitem__`` is a ``TypeError``.
    """

    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, rng: Seed = None) -> None:
        raise NotImplementedError("DataLoader.__init__: not implemented yet (kata 08 DataLoader)")

    def __len__(self) -> int:
        """Batches per epoch: ``ceil(n / batch_size)``, or ``floor(n / batch_size)`` with drop_last."""
        raise NotImplementedError("DataLoader.__len__: not implemented yet (kata 08 DataLoader)")

    def batch_indices(self) -> list[np.ndarray]:
        """The sample indices of one epoch, batch by batch: a list of int arrays.

        The epoch's order is ``self.rng.permutation(n)`` with shuffle (one new draw per
        call, so every epoch differs) and ``np.arange(n)`` without. It is cut into
        consecutive pieces of ``batch_size``; the last piece may be shorter, and with
        ``drop_last`` a shorter last piece is left out. Concatenated, the pieces hold every
        index exactly once (without drop_last): no sample is lost or repeated in an epoch.
        """
        raise NotImplementedError("DataLoader.batch_indices: not implemented yet (kata 08 DataLoader)")

    def __iter__(self) -> Iterator[Any]:
        """One epoch of batches, in the order of ``batch_indices()`` (called once per epoch)."""
        raise NotImplementedError("DataLoader.__iter__: not implemented yet (kata 08 DataLoader)")


# -- batch-vectorized augmentation ---------------------------------------------------------

def crop_batch(images: np.ndarray, top: np.ndarray, left: np.ndarray, size: int) -> np.ndarray:
    """Cut a ``size`` x ``size`` window out of every image, each at its own place.

    ``images`` has shape ``(N, C, H, W)``; ``top`` and ``left`` are int arrays of shape
    ``(N,)``. The result is a new array of shape ``(N, C, size, size)`` and the images'
    dtype with::

        out[n] = images[n, :, top[n]:top[n] + size, left[n]:left[n] + size]

    for every ``n`` at once, without a Python loop over the samples. One way:
    ``np.lib.stride_tricks.sliding_window_view`` shows every ``size`` x ``size`` window of
    the images as a view of shape ``(N, C, H - size + 1, W - size + 1, size, size)``,
    without copying anything; one advanced index then picks window ``(top[n], left[n])`` of
    image ``n``. A ``size`` larger than ``H`` or ``W`` is a ``ValueError`` naming both.
    """
    raise NotImplementedError("crop_batch: not implemented yet (kata 08 DataLoader)")


def flip_batch(images: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """Mirror left-right the images ``n`` where ``flip[n]`` is True; the others stay as they are.

    ``images`` has shape ``(N, C, H, W)`` and ``flip`` is a bool array of shape ``(N,)``.
    Left-right is the width axis, the last one: a flipped image's column ``j`` is the
    original's column ``W - 1 - j``. Returns a new array (never the input itself), without
    a Python loop over the samples: ``images[..., ::-1]`` is a mirrored view, and the bool
    array ``flip`` used as an index selects the images to change, all at once.
    """
    raise NotImplementedError("flip_batch: not implemented yet (kata 08 DataLoader)")


class RandomCrop:
    """Pad every image with ``padding`` zeros on each side, then crop ``size`` x ``size`` at random.

    The classic CIFAR-10 augmentation is ``RandomCrop(32, padding=4)``: each 32x32 image
    moves by up to 4 pixels in each direction, and the pixels that come in are black.

    Calling it on a batch ``(N, C, H, W)`` (a NumPy array or a Tensor; the result is the same
    kind, with the same dtype) returns ``(N, C, size, size)``. After padding to
    ``(H + 2p, W + 2p)``, it draws the offsets of all the images with two calls, in this order::

        top = self.rng.integers(0, H + 2p - size + 1, size=N)
        left = self.rng.integers(0, W + 2p - size + 1, size=N)

    and crops with ``crop_batch``: every image gets its own offset. ``size`` must be a
    positive int and ``padding`` a non-negative int (``ValueError`` naming the argument).
    A batch that is not 4-D, or a ``size`` larger than the padded images, is a
    ``ValueError`` naming the shape.
    """

    def __init__(self, size: int, padding: int = 0, rng: Seed = None) -> None:
        raise NotImplementedError("RandomCrop.__init__: not implemented yet (kata 08 DataLoader)")

    def __call__(self, images: Images) -> Images:
        raise NotImplementedError("RandomCrop.__call__: not implemented yet (kata 08 DataLoader)")

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``, independently per image.

    On a batch ``(N, C, H, W)`` (array or Tensor; the result is the same kind) it draws
    ``flip = self.rng.random(N) < p``, one draw per image, and returns
    ``flip_batch(batch, flip)``. ``p`` must be in [0, 1] (``ValueError`` naming ``p``);
    a batch that is not 4-D is a ``ValueError`` naming its shape.
    """

    def __init__(self, p: float = 0.5, rng: Seed = None) -> None:
        raise NotImplementedError("RandomHorizontalFlip.__init__: not implemented yet (kata 08 DataLoader)")

    def __call__(self, images: Images) -> Images:
        raise NotImplementedError("RandomHorizontalFlip.__call__: not implemented yet (kata 08 DataLoader)")

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class Normalize:
    """Per-channel standardisation: ``out[:, c] = (images[:, c] - mean[c]) / std[c]``.

    ``mean`` and ``std`` hold one value per channel, in the images' units (pixels 0..255,
    or 0..1 if you scaled them); every ``std`` must be positive and both must have the same
    length, else ``ValueError`` naming them. The channel axis of ``(N, C, H, W)`` is axis 1:
    reshape the statistics to ``(1, C, 1, 1)``, since plain broadcasting of a ``(C,)``
    array would pair them with the LAST axis, the width.

    On a batch (array or Tensor; the result is the same kind) whose channel count is not
    ``len(mean)``, or that is not 4-D, raise ``ValueError`` naming the shape. Floating-point
    images keep their dtype; integer images (uint8 pixels) give float32.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        raise NotImplementedError("Normalize.__init__: not implemented yet (kata 08 DataLoader)")

    def __call__(self, images: Images) -> Images:
        raise NotImplementedError("Normalize.__call__: not implemented yet (kata 08 DataLoader)")

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Compose:
    """Chain transforms: ``Compose([RandomCrop(32, 4), RandomHorizontalFlip(), Normalize(m, s)])``.

    Calling it applies each transform in the order given, each to the previous one's output.
    Every transform must be callable: otherwise ``TypeError`` naming its position, at
    construction. The transforms are kept, in order, in the list ``self.transforms``.
    """

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        raise NotImplementedError("Compose.__init__: not implemented yet (kata 08 DataLoader)")

    def __call__(self, images: Images) -> Images:
        raise NotImplementedError("Compose.__call__: not implemented yet (kata 08 DataLoader)")

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


# -- prefetching: the next batches while the model computes ---------------------------------

class PrefetchLoader:
    """Make the next batches in a background thread while your training step uses this one.

    ``for images, labels in PrefetchLoader(loader, depth=2): ...`` gives exactly the batches
    of ``for images, labels in loader: ...``, in the same order, but a second thread, the
    *producer*, makes them: while your step computes on batch ``k``, the producer is already
    gathering and augmenting batch ``k + 1``. ``loader`` is anything iterated once per
    epoch: a ``DataLoader``, or your own class whose ``__iter__`` augments the loader's
    batches. All the work of iterating it (even drawing the epoch's shuffled order) happens
    in the producer, and only there, so its random draws come in the same order as without
    prefetching.

    Why a thread is enough: Python runs one thread's bytecode at a time (the GIL), but NumPy
    lets go of it inside its heavy operations (copies, fancy indexing, arithmetic on whole
    arrays, matrix products). Given two free cores, the producer's augmentation and the
    step's matrix products then run at the same time; only the Python between them takes
    turns.

    ``depth`` (a positive int) bounds the work done ahead, and so the memory: while you hold
    batch ``k``, the producer has started at most batches ``k + 1, ..., k + depth``. Every
    epoch (every call of ``__iter__``) starts its own producer thread and ends it: after the
    loop, finished or left by ``break`` or by an exception, no thread is left behind.

    Messages go from the producer to your loop through a ``queue.Queue`` as pairs
    ``(kind, item)``: ``("batch", batch)``, then ``("end", None)`` after the last one, or
    ``("error", exception)`` when making a batch raised ``exception``.

    Errors, raised by the constructor: a ``depth`` that is not a positive int is a
    ``ValueError`` naming it; a ``loader`` that is not iterable, or is an iterator (a
    generator is used up after one epoch, and the next epochs would be silently empty), is a
    ``TypeError`` naming its type.
    """

    def __init__(self, loader: Batches, depth: int = 2) -> None:
        raise NotImplementedError("PrefetchLoader.__init__: not implemented yet (kata 08 DataLoader)")

    def __len__(self) -> int:
        """Batches per epoch: the wrapped loader's."""
        return len(self.loader)

    def _run_producer(self, batches: queue.Queue, slots: threading.Semaphore,
                      stop: threading.Event) -> None:
        """The producer thread's body: ``_produce``, then the last message of the epoch.

        Whatever ``_produce`` raises (a bad sample, a transform's ``ValueError``) is handed
        to your loop as ``("error", exception)``, with the traceback that shows where it
        happened: an exception left to end a thread would only be printed, and your loop
        would wait for a batch forever.
        """
        try:
            self._produce(batches, slots, stop)
        except BaseException as error:  # noqa: BLE001 (anything: the loop must hear of it, not wait)
            batches.put(("error", error))
        else:
            batches.put(("end", None))

    def _produce(self, batches: queue.Queue, slots: threading.Semaphore,
                 stop: threading.Event) -> None:
        """Make the epoch's batches in order, ``depth`` at most ahead; put each in ``batches``.

        ``slots`` starts with ``depth`` free slots, and your loop gives one back each time
        it takes a message. So: iterate the loader with ``iterator = iter(self.loader)``
        and, before making each batch, take a slot (``slots.acquire()`` waits while
        ``depth`` batches are ahead). Then return if ``stop`` is set (the loop has ended
        early); otherwise make the batch with ``next(iterator)`` (return when it raises
        ``StopIteration``) and ``put`` the pair ``("batch", batch)``.

        The slot must be taken BEFORE ``next``: that call is where the batch is made. A
        ``for batch in self.loader`` loop makes a batch first and waits afterwards, one
        batch further ahead than ``depth`` allows. Let exceptions propagate:
        ``_run_producer`` hands them to the loop, and after a normal return it puts
        ``("end", None)``.
        """
        raise NotImplementedError("PrefetchLoader._produce: not implemented yet (kata 08 DataLoader)")

    def __iter__(self) -> Iterator[Any]:
        """One epoch: start a producer thread, then hand out its batches in order.

        Make the epoch's ``batches = queue.Queue()``, ``slots = threading.Semaphore(depth)``
        and ``stop = threading.Event()``, and start ``threading.Thread(target=
        self._run_producer, args=(batches, slots, stop), daemon=True)`` (a daemon thread
        never keeps Python from exiting). Then take each message with ``batches.get()``,
        give its slot back with ``slots.release()``, and: yield a batch, return at the end,
        or ``raise`` an error. Raise the exception object itself, not a new one: its
        traceback still shows the line of the loader that failed.

        Leaving early must stop the producer. A ``for`` loop left by ``break`` or by an
        exception closes this generator: Python raises ``GeneratorExit`` at the ``yield``.
        So put the loop in ``try`` and, in ``finally`` (which runs on every way out), set
        ``stop``, release one more slot (a producer waiting for a slot wakes up, sees
        ``stop`` and returns) and ``join()`` the thread.
        """
        raise NotImplementedError("PrefetchLoader.__iter__: not implemented yet (kata 08 DataLoader)")


def _batch_array(images: Images, who: str) -> np.ndarray:
    """The NumPy array of a batch of images, checked to be (N, C, H, W)."""
    batch = images.data if isinstance(images, Tensor) else np.asarray(images)
    if batch.ndim != 4:
        raise ValueError(f"{who} works on a batch of images of shape (N, C, H, W), got shape "
                         f"{batch.shape}")
    return batch


def _same_kind(result: np.ndarray, like: Images) -> Images:
    """``result`` as a Tensor if the input ``like`` was one, else as the array it is."""
    return Tensor(result) if isinstance(like, Tensor) else result
