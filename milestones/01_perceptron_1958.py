"""Milestone 1 (1958): Rosenblatt's perceptron learns AND, OR and two clouds of points.

In 1958 Frank Rosenblatt, a psychologist at the Cornell Aeronautical Laboratory, described a
machine that learns from examples: the perceptron. It adds up its inputs, each multiplied by
a weight, and fires (outputs 1) when the sum plus a bias reaches zero. Learning is one rule,
applied to one example at a time: when the perceptron is wrong, move the weights towards the
input if it should have fired, away from it if it should not have; when it is right, change
nothing. By 1960 it existed in hardware, the Mark I Perceptron: a 20x20 grid of photocells
for an eye, and weights held by motor-driven potentiometers. The perceptron convergence
theorem (proved in the early 1960s) says the rule stops making mistakes after a finite
number of them whenever some straight line (a hyperplane, in more dimensions) separates the
two classes.

This script runs that rule with your Tensor (kata 01) and nothing else: ``x @ weight + bias``
is the weighted sum, a comparison ``>= 0`` is the step activation, and the update is Tensor
arithmetic. There is no gradient here: the perceptron rule predates backpropagation by
almost thirty years. Success means your Tensor learns AND and OR perfectly (100%) and
separates two clouds of points it has never seen with at least 95% accuracy.

    python milestones/01_perceptron_1958.py [--impl reference] [--smoke] [--out PATH]
"""

from __future__ import annotations

import common

RUN = common.start(__file__, __doc__)

# Imported only now: NumPy after common pinned BLAS to one thread, tinytorch after
# common.start chose whose tinytorch (yours or the reference) it is.
import numpy as np

from tinytorch.core import Tensor

SEED = 1958
MAX_EPOCHS = 100
SMOKE_MAX_EPOCHS = 2
LEARNING_RATE = 1.0

TRUTH_TABLE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
GATES = {"AND": np.array([0, 0, 0, 1]), "OR": np.array([0, 1, 1, 1])}

BLOB_CENTRES = np.array([[1.0, 1.0], [3.0, 2.5]], dtype=np.float32)
BLOB_SPREAD = 0.75           # standard deviation of each cloud
BLOB_GAP = 0.25              # no point comes closer than this to the line midway between centres
BLOB_POINTS_PER_CLASS = 200
SMOKE_BLOB_POINTS_PER_CLASS = 20
HELD_OUT_FRACTION = 0.25

AND_OR_REQUIRED = 1.0
BLOBS_REQUIRED = 0.95


def step(z: Tensor) -> Tensor:
    """The perceptron's activation: 1.0 where ``z >= 0``, else 0.0 (a float Tensor)."""
    return (z >= 0.0) * 1.0


class Perceptron:
    """A weighted sum, a threshold, and Rosenblatt's learning rule."""

    def __init__(self, n_inputs: int, learning_rate: float = LEARNING_RATE) -> None:
        self.weight = Tensor(np.zeros(n_inputs, dtype=np.float32))
        self.bias = Tensor(0.0)
        self.learning_rate = learning_rate

    def predict(self, x: Tensor) -> Tensor:
        """0/1 predictions for ``x`` of shape (N, n_inputs) (or one example, shape (n_inputs,))."""
        return step(x @ self.weight + self.bias)

    def learn(self, x: Tensor, target: Tensor) -> bool:
        """Show one example; return whether the perceptron got it wrong (and so learned).

        ``error`` is +1 (should have fired), -1 (should not have) or 0 (right: no change).
        """
        error = target - self.predict(x)
        self.weight = self.weight + self.learning_rate * error * x
        self.bias = self.bias + self.learning_rate * error
        return error.item() != 0


def accuracy(model: Perceptron, x: Tensor, targets: Tensor) -> float:
    return (model.predict(x) == targets).mean().item()


def train(model: Perceptron, x: Tensor, targets: Tensor, max_epochs: int,
          rng: np.random.Generator, label: str) -> dict:
    """Sweep the examples in a fresh random order until an epoch has no mistake."""
    mistakes_per_epoch = []
    for epoch in range(1, max_epochs + 1):
        mistakes = sum(model.learn(x[i], targets[i]) for i in rng.permutation(len(x)).tolist())
        mistakes_per_epoch.append(mistakes)
        RUN.progress(epoch, max_epochs, f"mistakes {mistakes:3d}",
                     f"train accuracy {accuracy(model, x, targets):6.1%}", label=label)
        if mistakes == 0:
            print(f"{label}  converged: epoch {epoch} went by without a mistake")
            break
    return {"epochs": len(mistakes_per_epoch), "converged": mistakes_per_epoch[-1] == 0,
            "mistakes_per_epoch": mistakes_per_epoch}


def two_blobs(points_per_class: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two round clouds of 2-D points, one per class, shuffled; labels 0 and 1.

    Gaussian clouds overlap a little, however far apart: a point that lands on the wrong
    side of the line midway between the centres, or within ``BLOB_GAP`` of it, is drawn
    again. So the classes are linearly separable, with a gap, as the convergence theorem
    requires.
    """
    labels = np.repeat(np.array([0, 1]), points_per_class)
    middle = BLOB_CENTRES.mean(axis=0)
    across = (BLOB_CENTRES[1] - BLOB_CENTRES[0]) / np.linalg.norm(BLOB_CENTRES[1] - BLOB_CENTRES[0])
    points = np.empty((len(labels), 2))
    redraw = np.ones(len(labels), dtype=bool)
    while redraw.any():
        points[redraw] = (BLOB_CENTRES[labels[redraw]] +
                          BLOB_SPREAD * rng.standard_normal((int(redraw.sum()), 2)))
        distance_on_own_side = (points - middle) @ across * (2 * labels - 1)
        redraw = distance_on_own_side < BLOB_GAP
    order = rng.permutation(len(labels))
    return points[order].astype(np.float32), labels[order]


def boundary(model: Perceptron) -> str:
    (w1, w2), b = model.weight.numpy().tolist(), model.bias.item()
    return f"fires when {w1:+.2f}*x1 {w2:+.2f}*x2 {b:+.2f} >= 0"


def learn_gate(name: str, max_epochs: int, rng: np.random.Generator) -> dict:
    x, targets = Tensor(TRUTH_TABLE_INPUTS), Tensor(GATES[name].astype(np.float32))
    model = Perceptron(n_inputs=2)
    history = train(model, x, targets, max_epochs, rng, label=name)
    predictions = model.predict(x).numpy().astype(int)
    print(f"{name}  {boundary(model)}")
    for (x1, x2), target, prediction in zip(TRUTH_TABLE_INPUTS.astype(int), GATES[name],
                                            predictions):
        print(f"{name}    {x1} {name} {x2} = {target}   perceptron says {prediction}")
    return {**history, "accuracy": accuracy(model, x, targets),
            "weight": model.weight.numpy().tolist(), "bias": model.bias.item(),
            "predictions": predictions.tolist()}


def learn_blobs(points_per_class: int, max_epochs: int, rng: np.random.Generator) -> dict:
    points, labels = two_blobs(points_per_class, rng)
    held_out = int(len(points) * HELD_OUT_FRACTION)
    x_train, y_train = Tensor(points[held_out:]), Tensor(labels[held_out:].astype(np.float32))
    x_test, y_test = Tensor(points[:held_out]), Tensor(labels[:held_out].astype(np.float32))
    model = Perceptron(n_inputs=2)
    history = train(model, x_train, y_train, max_epochs, rng, label="blobs")
    print(f"blobs  {boundary(model)}")
    return {**history, "train_points": len(x_train), "test_points": len(x_test),
            "train_accuracy": accuracy(model, x_train, y_train),
            "test_accuracy": accuracy(model, x_test, y_test),
            "weight": model.weight.numpy().tolist(), "bias": model.bias.item()}


def run_milestone() -> int:
    # The perceptron needs no gradients, and its tensors do not ask for any: with autograd
    # switched on (common.start) nothing is recorded, and your Tensor runs exactly as in the
    # later milestones.
    rng = np.random.default_rng(SEED)
    max_epochs = SMOKE_MAX_EPOCHS if RUN.smoke else MAX_EPOCHS
    points_per_class = SMOKE_BLOB_POINTS_PER_CLASS if RUN.smoke else BLOB_POINTS_PER_CLASS

    def experiment() -> dict:
        results = {name: learn_gate(name, max_epochs, rng) for name in GATES}
        results["blobs"] = learn_blobs(points_per_class, max_epochs, rng)
        return results

    results = RUN.measure(experiment)
    blobs = results["blobs"]
    print(f"\nResults: AND {results['AND']['accuracy']:.0%}, OR {results['OR']['accuracy']:.0%}, "
          f"blobs {blobs['test_accuracy']:.1%} on {blobs['test_points']} held-out points "
          f"({blobs['train_accuracy']:.1%} on the {blobs['train_points']} it learned from)")
    criteria = [
        common.Criterion("AND accuracy", results["AND"]["accuracy"], AND_OR_REQUIRED),
        common.Criterion("OR accuracy", results["OR"]["accuracy"], AND_OR_REQUIRED),
        common.Criterion("blobs held-out accuracy", blobs["test_accuracy"], BLOBS_REQUIRED),
    ]
    return RUN.finish({"seed": SEED, **results}, criteria)


if __name__ == "__main__":
    common.main(run_milestone)
