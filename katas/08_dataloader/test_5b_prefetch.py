"""Prefetching: a background thread makes the next batches while the model computes.

Nothing asserted here depends on the clock. The producer and the consumer meet at events
(threading.Event), and the tests read what happened and in which order: which batches were
made while the loop held which batch, how many samples were read ahead, which threads are
alive. Each wait has a generous limit (``WAIT``) only so that a missing handshake fails with
a message instead of hanging: correct code sets every awaited event within microseconds.
The time that prefetching saves on a real epoch is measured and shown, not asserted.
"""

import statistics
import threading
import time
import traceback

import numpy as np
import pytest

from tinytorch.core import ReLU, Tensor
from tinytorch.data import (
    Compose,
    DataLoader,
    Normalize,
    PrefetchLoader,
    RandomCrop,
    RandomHorizontalFlip,
    TensorDataset,
    load_tinydigits,
)
from tinytorch.nn import CrossEntropyLoss, Linear, Sequential
from tinytorch.optim import SGD
from tinytorch.training import Trainer

WAIT = 10.0  # seconds; never reached by correct code


class Augmented:
    """A loader whose batches are augmented as they are made: wrap it in a PrefetchLoader and
    the augmentation runs in the producer thread. Iterable once per epoch, like its loader."""

    def __init__(self, loader, augment, flatten=False):
        self.loader, self.augment, self.flatten = loader, augment, flatten

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for images, labels in self.loader:
            images = self.augment(images)
            if self.flatten:
                images = Tensor(images.data.reshape(len(images.data), -1))
            yield images, labels


class Counting:
    """A plain data set of ``size`` samples that notes every sample read, and by which thread.

    ``started[b]`` is set when the first sample of batch ``b`` (samples ``b * batch_size``
    onwards: the loader must not shuffle) is read. At every read, ``ahead`` receives how
    many batches past the last one the loop has asked for (``asked``, kept up to date by
    the test) the read's batch lies.
    """

    def __init__(self, size, batch_size):
        self.size, self.batch_size = size, batch_size
        self.reads, self.threads, self.ahead = 0, set(), []
        self.asked = 0
        self.started = [threading.Event() for _ in range(-(-size // batch_size))]

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        batch = index // self.batch_size
        self.reads += 1
        self.threads.add(threading.get_ident())
        self.ahead.append(batch - (self.asked - 1))
        self.started[batch].set()
        return np.full(3, index, dtype=np.float32), index


def pipeline(seed):
    """Shuffled, cropped and flipped batches of 45 small random images, batch 6 (8 batches)."""
    rng = np.random.default_rng(seed)
    images = rng.random((45, 2, 8, 8), dtype=np.float32)
    labels = rng.integers(0, 10, 45)
    loader = DataLoader(TensorDataset(images, labels), batch_size=6, shuffle=True, rng=seed)
    augment = Compose([RandomCrop(8, padding=2, rng=seed + 1), RandomHorizontalFlip(rng=seed + 2)])
    return Augmented(loader, augment)


def as_arrays(batches):
    return [[part.numpy() for part in batch] for batch in batches]


def new_threads(before):
    return [thread for thread in threading.enumerate() if thread not in before]


@pytest.mark.parametrize("depth", [1, 2, 5])
def test_the_same_batches_in_the_same_order_epoch_after_epoch(depth):
    serial = pipeline(seed=3)
    prefetched = PrefetchLoader(pipeline(seed=3), depth=depth)
    assert len(prefetched) == len(serial) == 8

    for epoch in range(3):
        expected, got = as_arrays(serial), as_arrays(prefetched)
        assert len(got) == len(expected), f"epoch {epoch}: {len(got)} batches, expected {len(expected)}"
        for k, (want, have) in enumerate(zip(expected, got)):
            for part, (a, b) in enumerate(zip(want, have)):
                np.testing.assert_array_equal(
                    b, a, err_msg=f"epoch {epoch}, batch {k}, part {part} differs from the "
                                  f"wrapped loader's (same seeds): the order or a random draw moved")


def test_any_loader_iterable_once_per_epoch():
    assert list(PrefetchLoader([10, 20, 30], depth=1)) == [10, 20, 30]
    assert list(PrefetchLoader([], depth=3)) == []

    samples = [{"x": np.full(2, i, dtype=np.float32), "y": i} for i in range(7)]
    prefetched = PrefetchLoader(DataLoader(samples, batch_size=3), depth=2)
    batches = list(prefetched)
    assert [batch["y"].numpy().tolist() for batch in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(list(prefetched)) == len(prefetched) == 3  # a second epoch


def test_batches_are_made_in_another_thread():
    dataset = Counting(12, 4)
    batches = list(PrefetchLoader(DataLoader(dataset, batch_size=4), depth=2))
    assert len(batches) == 3 and dataset.reads == 12
    assert threading.get_ident() not in dataset.threads, (
        "the samples were read by the thread running the loop: nothing can overlap with the "
        "training step; make the batches in the producer thread")
    assert len(dataset.threads) == 1, f"samples read by {len(dataset.threads)} threads, expected one"


@pytest.mark.parametrize("depth", [1, 2])
def test_the_producer_makes_the_next_batch_while_the_loop_holds_this_one(depth):
    # The loader may make batch k + 1 only once the loop holds batch k, and the loop keeps
    # batch k until batch k + 1 is made. Both orders of events are forced, so the log is
    # exact, and a loader that makes batches only when asked never gets past batch 0.
    count = 5
    holding = [threading.Event() for _ in range(count)]
    made = [threading.Event() for _ in range(count)]
    log = []

    class Handshake:
        def __iter__(self):
            for k in range(count):
                if k > 0 and not holding[k - 1].wait(WAIT):
                    raise AssertionError(f"the loop never received batch {k - 1}")
                log.append(f"made {k}")
                made[k].set()
                yield k

    for k, batch in enumerate(PrefetchLoader(Handshake(), depth=depth)):
        assert batch == k
        log.append(f"holds {k}")
        holding[k].set()
        if k + 1 < count:
            assert made[k + 1].wait(WAIT), (
                f"batch {k + 1} was not made while the loop held batch {k} (log: {log}): the "
                f"next batch must be made in the background, not when the loop asks for it")
        log.append(f"done with {k}")

    expected = ["made 0"]
    for k in range(count):
        expected += [f"holds {k}"] + ([f"made {k + 1}"] if k + 1 < count else []) + [f"done with {k}"]
    assert log == expected


@pytest.mark.parametrize("depth", [1, 3])
def test_the_producer_runs_at_most_depth_batches_ahead(depth):
    batch_size, count = 2, 10
    dataset = Counting(batch_size * count, batch_size)
    iterator = iter(PrefetchLoader(DataLoader(dataset, batch_size=batch_size), depth=depth))
    for k in range(count):
        dataset.asked = k + 1
        _, labels = next(iterator)
        assert labels.numpy().tolist() == [batch_size * k, batch_size * k + 1]
        # Holding batch k, the producer fills its slots: it starts batch k + depth ...
        last = min(k + depth, count - 1)
        assert dataset.started[last].wait(WAIT), (
            f"holding batch {k} with depth={depth}, the producer never started batch {last}: "
            f"it should make batches ahead until {depth} are")
        # ... and must then wait. One that runs further starts batch k + depth + 1 at once.
        if k + depth + 1 < count:
            assert not dataset.started[k + depth + 1].wait(0.05), (
                f"holding batch {k} with depth={depth}, the producer started batch "
                f"{k + depth + 1}, {depth + 1} batches ahead: take a slot before making a batch")
    assert next(iterator, "end") == "end"
    assert max(dataset.ahead) == depth, (
        f"the producer read samples up to {max(dataset.ahead)} batches ahead of the loop, "
        f"depth={depth}")


def test_an_error_in_the_producer_is_raised_in_the_loop_with_its_traceback():
    class Broken:
        def __len__(self):
            return 20

        def __getitem__(self, index):
            if index == 13:
                raise ValueError(f"sample {index} is corrupt")
            return np.zeros(2, dtype=np.float32)

    before = set(threading.enumerate())
    received = 0
    with pytest.raises(ValueError, match="sample 13 is corrupt") as caught:
        for _ in PrefetchLoader(DataLoader(Broken(), batch_size=4), depth=2):
            received += 1
    assert received == 3, f"the 3 batches before the bad sample come first, got {received}"
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "__getitem__" in frames, (
        f"the traceback should still show where the error happened (Broken.__getitem__), it "
        f"shows {frames}: raise the producer's exception object itself, not a new one")
    assert not new_threads(before), f"threads left running after the error: {new_threads(before)}"


@pytest.mark.parametrize("leave", ["break", "an exception in the loop"])
def test_leaving_the_loop_early_stops_the_producer(leave):
    depth, batch_size = 2, 3
    dataset = Counting(60, batch_size)
    prefetched = PrefetchLoader(DataLoader(dataset, batch_size=batch_size), depth=depth)
    before = set(threading.enumerate())
    producers, errors = [], []

    class Leave(Exception):
        pass

    def loop():
        try:
            for k, _ in enumerate(prefetched):
                producers.append(len(new_threads(before | {threading.current_thread()})))
                if k == 1:
                    # the producer's slots are full: it waits for one when the loop leaves
                    dataset.started[k + depth].wait(WAIT)
                    if leave == "break":
                        break
                    raise Leave
        except Leave:
            pass
        except BaseException as error:  # noqa: BLE001 (raised again below, in the test's own thread)
            errors.append(error)

    # The loop runs in a thread of its own, so that a loop that cannot leave fails here,
    # with a message, instead of hanging the test.
    consumer = threading.Thread(target=loop, name="test loop", daemon=True)
    consumer.start()
    consumer.join(WAIT)
    assert not consumer.is_alive(), (
        f"leaving the loop ({leave}) waited {WAIT:.0f} s for the producer to end: after taking a "
        f"slot, does it return when stop is set, and does finally release one more slot to wake it?")
    if errors:
        raise errors[0]
    assert producers == [1, 1], f"an epoch should run one producer thread, counted {producers}"
    assert not new_threads(before), (
        f"after leaving the loop ({leave}) the producer is still running: "
        f"{new_threads(before)}; stop it and join it in a finally block")
    assert dataset.reads == (1 + 1 + depth) * batch_size, (
        f"{dataset.reads} samples were read; leaving at batch 1 with depth={depth} the producer "
        f"had started batches 2 and 3, and should start no more")
    # the next epoch starts afresh
    assert len(list(prefetched)) == 20 and not new_threads(before)


@pytest.mark.parametrize("depth", [0, -1, 1.5, True, "2"])
def test_depth_must_be_a_positive_int(depth):
    with pytest.raises(ValueError, match="depth"):
        PrefetchLoader([1, 2, 3], depth=depth)


@pytest.mark.parametrize("loader", [iter([1, 2]), (x for x in range(3)), 42],
                         ids=["iterator", "generator", "int"])
def test_the_loader_must_be_iterable_once_per_epoch(loader):
    with pytest.raises(TypeError, match=type(loader).__name__):
        PrefetchLoader(loader)


class Waiting:
    """Iterates ``loader`` and adds up in ``seconds`` how long each ``next`` took: the time
    the training loop spent waiting for data."""

    def __init__(self, loader):
        self.loader, self.seconds = loader, 0.0

    def __iter__(self):
        iterator = iter(self.loader)
        while True:
            start = time.perf_counter()
            batch = next(iterator, None)
            self.seconds += time.perf_counter() - start
            if batch is None:
                return
            yield batch


def timed_epoch(trainer, loader):
    """Seconds of one training epoch on ``loader``, and how many of them the loop waited for data."""
    waiting = Waiting(loader)
    start = time.perf_counter()
    trainer.train_epoch(waiting)
    return time.perf_counter() - start, waiting.seconds


def test_overlap_on_an_epoch_of_augmented_tinydigits(metrics):
    x_train, y_train, _, _ = load_tinydigits()
    loader = Augmented(
        DataLoader(TensorDataset(x_train.reshape(-1, 1, 28, 28), y_train), batch_size=64,
                   shuffle=True, rng=0),
        Compose([RandomCrop(28, padding=2, rng=1), RandomHorizontalFlip(rng=2),
                 Normalize([33.3], [78.6])]),
        flatten=True)
    model = Sequential(Linear(784, 64, rng=0), ReLU(), Linear(64, 10, rng=1))
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.01))
    prefetched = PrefetchLoader(loader, depth=2)
    assert trainer.train_epoch(prefetched)["loss"] > 0

    # shown, not asserted: the machine's load moves every one of these
    rounds = [(timed_epoch(trainer, loader), timed_epoch(trainer, prefetched)) for _ in range(5)]
    (serial, serial_wait), (overlapped, overlapped_wait) = (
        [statistics.median(run[side][part] for run in rounds) for part in (0, 1)] for side in (0, 1))
    prefix = "TinyDigits epoch, augmented, batch 64"
    metrics.record(f"{prefix}, one thread", serial, "seconds")
    metrics.record(f"{prefix}, one thread: the loop waiting for data", serial_wait, "seconds")
    metrics.record(f"{prefix}, PrefetchLoader(depth=2)", overlapped, "seconds")
    metrics.record(f"{prefix}, PrefetchLoader(depth=2): the loop waiting for data",
                   overlapped_wait, "seconds")
    metrics.record("epoch time, one thread / prefetched", serial / overlapped, "ratio")
    # the loading and the steps of the one-thread epoch, if they overlapped perfectly
    metrics.record("best possible: one thread / max(loading, steps)",
                   serial / max(serial_wait, serial - serial_wait), "ratio")
