"""Systems view of training: where the memory of one step goes, and what it costs to save it.

Every figure is measured on a real MLP (MNIST-sized input) with tracemalloc, and appears in
the kata's metrics table.
"""

import numpy as np

from pytest_tinytorch.measure import peak_bytes, seconds
from tinytorch.core import ReLU, Tensor
from tinytorch.nn import CrossEntropyLoss, Linear, Sequential
from tinytorch.optim import SGD, Adam
from tinytorch.training import Trainer, save_checkpoint

BATCH = 128
HIDDEN = 256
ACTIVATION_BYTES = BATCH * HIDDEN * 4  # one (128, 256) float32 hidden activation


def mnist_mlp(inputs: int = 784) -> Sequential:
    return Sequential(Linear(inputs, HIDDEN, rng=0), ReLU(), Linear(HIDDEN, HIDDEN, rng=1), ReLU(),
                      Linear(HIDDEN, 10, rng=2))


def batch(count: int, inputs: int = 784, seed: int = 0) -> tuple[Tensor, Tensor]:
    rng = np.random.default_rng(seed)
    return (Tensor(rng.standard_normal((count, inputs)).astype(np.float32)),
            Tensor(rng.integers(0, 10, size=count)))


def weight_bytes(model) -> int:
    return sum(p.nbytes for p in model.parameters())


def test_peak_memory_of_forward_backward_and_a_whole_trainer_step(metrics):
    model, loss_fn = mnist_mlp(), CrossEntropyLoss()
    trainer = Trainer(model, loss_fn, SGD(model.parameters(), lr=0.01))
    x, y = batch(BATCH)

    loss, forward_peak = peak_bytes(lambda: loss_fn(model(x), y))
    _, backward_peak = peak_bytes(loss.backward)
    del loss
    trainer.optimizer.zero_grad()
    _, step_peak = peak_bytes(lambda: trainer.train_epoch([(x, y)]))

    # The graph keeps the hidden activations alive until backward; backward then allocates
    # one gradient per weight, of the weight's size; in a step both are alive at once.
    assert forward_peak >= 2 * ACTIVATION_BYTES, f"forward peak {forward_peak:,} bytes"
    assert backward_peak >= weight_bytes(model), f"backward peak {backward_peak:,} bytes"
    assert step_peak >= forward_peak + weight_bytes(model), f"step peak {step_peak:,} bytes"
    assert all(p.grad is None for p in model.parameters()), "the step clears the gradients"
    metrics.record("weights of the MLP 784-256-256-10", weight_bytes(model), "bytes")
    metrics.record("forward peak, batch 128 (graph kept)", forward_peak, "bytes")
    metrics.record("backward peak, batch 128", backward_peak, "bytes")
    metrics.record("backward / forward peak", backward_peak / forward_peak, "ratio")
    metrics.record("Trainer step peak, batch 128", step_peak, "bytes")


def test_evaluation_without_a_graph_needs_less_memory(metrics):
    model = mnist_mlp()
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.01))
    x, y = batch(BATCH)
    _, forward_peak = peak_bytes(lambda: trainer.loss_fn(model(x), y))

    _, evaluate_peak = peak_bytes(lambda: trainer.evaluate([(x, y)]))

    # Under no_grad() each activation is freed once the next layer has used it.
    assert evaluate_peak < 0.8 * forward_peak, (
        f"evaluate() peaked at {evaluate_peak:,} bytes, a forward pass that records the graph at "
        f"{forward_peak:,}: is evaluate() running under no_grad()?")
    metrics.record("evaluate() peak, batch 128 (no graph)", evaluate_peak, "bytes")
    metrics.record("forward with graph / evaluate peak", forward_peak / evaluate_peak, "ratio")


def test_gradient_accumulation_lowers_the_peak(metrics):
    # A small input so that activations, not weights, dominate: the case accumulation is for.
    model, loss_fn = mnist_mlp(inputs=32), CrossEntropyLoss()
    x, y = batch(1024, inputs=32, seed=1)
    micro = [(Tensor(x.data[i:i + 256]), Tensor(y.data[i:i + 256])) for i in range(0, 1024, 256)]
    whole = Trainer(model, loss_fn, SGD(model.parameters(), lr=0.01))
    accumulated = Trainer(model, loss_fn, SGD(model.parameters(), lr=0.01), accumulation_steps=4)

    _, whole_peak = peak_bytes(lambda: whole.train_epoch([(x, y)]))
    _, accumulated_peak = peak_bytes(lambda: accumulated.train_epoch(micro))

    assert whole_peak / accumulated_peak > 1.8, (
        f"4 accumulated micro-batches peaked at {accumulated_peak:,} bytes, one batch of 1024 at "
        f"{whole_peak:,}: is the graph of each micro-batch freed before the next one?")
    metrics.record("step peak, one batch of 1024", whole_peak, "bytes")
    metrics.record("step peak, 4 x 256 accumulated", accumulated_peak, "bytes")
    metrics.record("one batch / accumulated peak", whole_peak / accumulated_peak, "ratio")


def test_a_checkpoint_with_adam_state_is_three_times_the_weights(tmp_path, metrics):
    model = mnist_mlp()
    optimizer = Adam(model.parameters(), lr=1e-3)
    Trainer(model, CrossEntropyLoss(), optimizer).train_epoch([batch(BATCH)])
    path = tmp_path / "mlp.ckpt"

    save_checkpoint(path, model, optimizer, epoch=1)

    size = path.stat().st_size
    ratio = size / weight_bytes(model)
    assert 2.95 < ratio < 3.1, f"the checkpoint is {ratio:.2f} x the weights: weights + Adam's m and v"
    metrics.record("checkpoint file, MLP + Adam state", size, "bytes")
    metrics.record("checkpoint / weights", ratio, "ratio")


def test_training_throughput(metrics):
    model = mnist_mlp()
    trainer = Trainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.01))
    x, y = batch(512, seed=2)
    batches = [(Tensor(x.data[i:i + BATCH]), Tensor(y.data[i:i + BATCH])) for i in range(0, 512, BATCH)]
    result = trainer.train_epoch(batches)
    assert np.isfinite(result["loss"])

    elapsed = seconds(lambda: trainer.train_epoch(batches), repeat=3)

    metrics.record("training throughput, MLP 784-256-256-10", 512 / elapsed, "samples/s")
