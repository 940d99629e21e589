"""Milestone 2 (1969): XOR, the function one layer cannot learn and two layers can.

In 1969 Marvin Minsky and Seymour Papert published "Perceptrons", a careful mathematical
study of what single-layer perceptrons can and cannot compute. Its best-remembered example
is XOR (exclusive or: 1 when exactly one input is 1). The four points of XOR cannot be split
by one straight line, so no single layer of weights followed by a threshold gets all four
right: three out of four (75%) is the best any line can do. They knew that networks with a
hidden layer could represent such functions, but nobody had a good way to train the hidden
weights, and the book is often blamed for turning attention and funding away from neural
networks for more than a decade.

This script replays the argument with your framework, trained with your autograd (kata 05)
and your optimizer (kata 06):

1. one ``Linear(2, 1)`` layer trained on XOR with BCEWithLogitsLoss and Adam: the loss gets
   stuck at ln 2 = 0.6931 (the best a straight line can do is say 50/50 everywhere) and the
   accuracy stays at 75% or below;
2. the same data, loss and optimizer with one hidden layer,
   ``Linear(2, 8) -> Tanh -> Linear(8, 1)``: 100%.

Success means both: the single layer at most 75%, the network with a hidden layer 100%.

    python milestones/02_xor_1969.py [--impl reference] [--smoke] [--out PATH]
"""

from __future__ import annotations

import math

import common

RUN = common.start(__file__, __doc__)

# Imported only now: NumPy after common pinned BLAS to one thread, tinytorch after
# common.start chose whose tinytorch (yours or the reference) it is.
import numpy as np

from tinytorch.core import Sigmoid, Tanh, Tensor, no_grad
from tinytorch.nn import BCEWithLogitsLoss, Linear, Module, Sequential
from tinytorch.optim import Adam

SEED = 1969
EPOCHS = 300
SMOKE_EPOCHS = 20
LEARNING_RATE = 0.05
HIDDEN_UNITS = 8
PROGRESS_LINES = 10

XOR_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_TARGETS = np.array([[0], [1], [1], [0]], dtype=np.float32)

SINGLE_LAYER_AT_MOST = 0.75
HIDDEN_LAYER_REQUIRED = 1.0


def accuracy(logits: Tensor, targets: Tensor) -> float:
    """Fraction right when a logit >= 0 (probability >= 0.5) means "1"."""
    return ((logits >= 0.0) == (targets >= 0.5)).mean().item()


def train(model: Module, epochs: int, label: str) -> dict:
    """Full-batch training on the four XOR points: the four lines of every training loop."""
    inputs, targets = Tensor(XOR_INPUTS), Tensor(XOR_TARGETS)
    loss_fn = BCEWithLogitsLoss()
    optimizer = Adam(model.parameters(), lr=LEARNING_RATE)
    losses = []
    for epoch in range(1, epochs + 1):
        optimizer.zero_grad()
        logits = model(inputs)
        loss = loss_fn(logits, targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        RUN.progress(epoch, epochs, f"loss {losses[-1]:.4f}",
                     f"accuracy {accuracy(logits, targets):4.0%}",
                     every=max(1, epochs // PROGRESS_LINES), label=label)
    with no_grad():
        logits = model(inputs)
        probabilities = Sigmoid()(logits).numpy()[:, 0]
    for (x1, x2), target, probability in zip(XOR_INPUTS.astype(int), XOR_TARGETS[:, 0].astype(int),
                                             probabilities):
        print(f"{label}    {x1} XOR {x2} = {target}   P(1) = {probability:.3f}"
              f"   -> says {int(probability >= 0.5)}")
    return {"accuracy": accuracy(logits, targets), "final_loss": losses[-1],
            "loss_history": losses, "probabilities": probabilities.tolist(),
            "parameters": sum(parameter.size for parameter in model.parameters())}


def run_milestone() -> int:
    rng = np.random.default_rng(SEED)
    epochs = SMOKE_EPOCHS if RUN.smoke else EPOCHS

    def experiment() -> dict:
        single = train(Linear(2, 1, rng=rng), epochs, label="one layer")
        print()
        hidden = train(Sequential(Linear(2, HIDDEN_UNITS, rng=rng), Tanh(),
                                  Linear(HIDDEN_UNITS, 1, rng=rng)), epochs, label="hidden layer")
        return {"single_layer": single, "hidden_layer": hidden}

    results = RUN.measure(experiment)
    single, hidden = results["single_layer"], results["hidden_layer"]
    print(f"\nResults: one layer {single['accuracy']:.0%} (loss {single['final_loss']:.4f}; "
          f"ln 2 = {math.log(2):.4f} is the best a straight line can reach), "
          f"with a hidden layer of {HIDDEN_UNITS} {hidden['accuracy']:.0%} "
          f"(loss {hidden['final_loss']:.4f})")
    criteria = [
        common.Criterion("one-layer accuracy on XOR", single["accuracy"], SINGLE_LAYER_AT_MOST,
                         at_most=True),
        common.Criterion("hidden-layer accuracy on XOR", hidden["accuracy"],
                         HIDDEN_LAYER_REQUIRED),
    ]
    curves = {"one layer: loss": single["loss_history"], "hidden layer: loss": hidden["loss_history"]}
    return RUN.finish({"seed": SEED, "epochs": epochs, "learning_rate": LEARNING_RATE,
                       "hidden_units": HIDDEN_UNITS, **results}, criteria, curves)


if __name__ == "__main__":
    common.main(run_milestone)
