"""``--shakespeare``: train the char-level TinyGPT on Tiny Shakespeare in both frameworks.

nanoGPT's CPU recipe for it (``bench_cases.CharGPT``): 4 layers, 4 heads, 128 dimensions, a
context of 64 characters, batches of 12, 2,000 iterations of AdamW (lr 1e-3, betas (0.9,
0.99), weight decay 0.1 on every parameter), 100 warm-up iterations then a cosine decay to
1e-4, gradients clipped to norm 1, no dropout. The identical PyTorch model trains from the
same initial weights on the same batches, the steps of both interleaved. Both report the
validation loss over the whole validation split (the last 10% of the text, in windows of
64) and the wall time of their training steps. The goal: TinyTorch reaches a validation
loss of at most 1.9 nats within twice PyTorch's time (nanoGPT reports about 1.88 with its
own model).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import common
import numpy as np
from bench_cases import FULL, SEED, SMOKE, GPTPair, make_gpts, pytorch_gpt_step, tinytorch_gpt_step
from tabulate import tabulate

EXIT_MISSING = 3          # the text is missing (and, for the command line, PyTorch)
DEFAULT_TEXT = common.ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
GOAL_VALIDATION_LOSS = 1.9
GOAL_TIME_RATIO = 2.0


def read_characters(path: Path) -> tuple[np.ndarray, list[str]]:
    """The text as character ids (int64) and the sorted characters (the vocabulary)."""
    text = path.read_text(encoding="utf-8")
    characters = sorted(set(text))
    index = {character: i for i, character in enumerate(characters)}
    return np.array([index[character] for character in text], dtype=np.int64), characters


def validation_windows(ids: np.ndarray, context: int) -> np.ndarray:
    """Every non-overlapping window of ``context + 1`` ids (inputs and their next ids)."""
    starts = np.arange(0, len(ids) - context, context)
    return ids[starts[:, np.newaxis] + np.arange(context + 1)]


def tinytorch_loss(gpts: GPTPair, windows: np.ndarray) -> float:
    """Mean next-character loss over ``windows``, in evaluation mode without a graph."""
    from tinytorch.core import no_grad
    from tinytorch.nn import language_model_loss

    gpts.model.eval()
    total = 0.0
    with no_grad():
        for start in range(0, len(windows), gpts.config.eval_batch):
            chunk = windows[start:start + gpts.config.eval_batch]
            total += language_model_loss(gpts.model(chunk[:, :-1]), chunk[:, 1:]).item() * len(chunk)
    gpts.model.train()
    return total / len(windows)


def pytorch_loss(th: Any, gpts: GPTPair, windows: np.ndarray) -> float:
    gpts.twin.eval()
    total = 0.0
    with th.torch.no_grad():
        for start in range(0, len(windows), gpts.config.eval_batch):
            chunk = th.torch.from_numpy(windows[start:start + gpts.config.eval_batch])
            logits = gpts.twin(chunk[:, :-1])
            total += th.F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                        chunk[:, 1:].reshape(-1)).item() * len(chunk)
    gpts.twin.train()
    return total / len(windows)


def run_shakespeare(options: argparse.Namespace, run: common.Run, th: Any,
                    header: dict[str, Any]) -> int:
    """Train both models, print the losses and the goal, write the JSON (``header`` and the
    results); the exit code."""
    from tinytorch.training import WarmupCosineLR

    if not options.text.is_file():
        print(f"\nThe text is not at {options.text}: pass its path with --text "
              f"(Tiny Shakespeare, 1.1 MB).", file=sys.stderr)
        return EXIT_MISSING
    ids, characters = read_characters(options.text)
    recipe = SMOKE.gpt if run.smoke else FULL.gpt
    iterations = options.iterations or recipe.iterations
    recipe = replace(recipe, vocab_size=len(characters), iterations=iterations,
                     warmup=min(recipe.warmup, iterations // 2))
    split = int(len(ids) * (1 - recipe.validation_fraction))
    train, validation = ids[:split], validation_windows(ids[split:], recipe.context)
    if run.smoke:
        validation = validation[:2 * recipe.eval_batch]
    gpts = make_gpts(recipe, th)
    schedule = WarmupCosineLR(gpts.optimizer, warmup_steps=recipe.warmup,
                              total_steps=recipe.iterations, min_lr=recipe.min_lr)
    parameters = sum(parameter.size for parameter in gpts.model.parameters())
    print(f"Tiny Shakespeare: {len(ids):,} characters ({len(characters)} distinct), "
          f"{len(train):,} to train on, {len(validation):,} validation windows of {recipe.context}; "
          f"TinyGPT of {recipe.layers} layers, {recipe.heads} heads, dimension {recipe.dim}: "
          f"{parameters:,} parameters; {recipe.iterations:,} iterations of batches of {recipe.batch}",
          flush=True)

    rng = np.random.default_rng(SEED)
    sides = ["tinytorch"] + (["pytorch"] if th is not None else [])
    step_seconds = {side: 0.0 for side in sides}
    curves: dict[str, list[float]] = {side: [] for side in sides}
    every = max(1, recipe.iterations // 20)
    for iteration in range(recipe.iterations):
        starts = rng.integers(0, len(train) - recipe.context - 1, recipe.batch)
        batch = train[starts[:, np.newaxis] + np.arange(recipe.context + 1)]
        for side in (sides if iteration % 2 == 0 else sides[::-1]):
            began = time.perf_counter()
            if th is None or side == "tinytorch":
                loss = tinytorch_gpt_step(gpts, batch).item()
            else:
                for group in gpts.twin_optimizer.param_groups:
                    group["lr"] = schedule.lr_at(iteration)
                loss = pytorch_gpt_step(th, gpts, batch).item()
            step_seconds[side] += time.perf_counter() - began
            curves[side].append(loss)
        schedule.step()
        if (iteration + 1) % every == 0 or iteration + 1 == recipe.iterations:
            recent = slice(max(0, iteration + 1 - every), iteration + 1)
            print(f"iter {iteration + 1:>{len(str(recipe.iterations))}}/{recipe.iterations}  " +
                  "  ".join(f"{side} loss {np.mean(curves[side][recent]):.3f} "
                            f"({step_seconds[side]:.0f} s)" for side in sides), flush=True)

    print("Validation loss...", flush=True)
    results: dict[str, Any] = {}
    for side in sides:
        began = time.perf_counter()
        loss = (tinytorch_loss(gpts, validation) if th is None or side == "tinytorch"
                else pytorch_loss(th, gpts, validation))
        results[side] = {"validation_loss": loss, "train_seconds": step_seconds[side],
                         "evaluation_seconds": time.perf_counter() - began,
                         "first_loss": curves[side][0],
                         "final_train_loss": float(np.mean(curves[side][-every:])),
                         "loss_curve": curves[side][::max(1, every // 10)]}
    ratio = (step_seconds["tinytorch"] / step_seconds["pytorch"]) if th is not None else None
    ours = results["tinytorch"]
    goals = [("TinyTorch validation loss", ours["validation_loss"], GOAL_VALIDATION_LOSS, " nats")]
    if ratio is not None:
        goals.append(("TinyTorch time / PyTorch time", ratio, GOAL_TIME_RATIO, "x"))
    met = all(value <= limit for _, value, limit, _ in goals)

    rows = [[side, f"{result['validation_loss']:.4f}", f"{result['final_train_loss']:.4f}",
             f"{result['train_seconds']:.1f}"] for side, result in results.items()]
    print("\n" + tabulate(rows, headers=["", "validation loss", "train loss (last 5%)",
                                         "training s"], tablefmt="simple", disable_numparse=True))
    if ratio is not None:
        print(f"time ratio (TinyTorch / PyTorch): {ratio:.2f}; first-step losses "
              f"{ours['first_loss']:.4f} / {results['pytorch']['first_loss']:.4f}")
    print("\nGoal:")
    for name, value, limit, unit in goals:
        print(f"  [{'met' if value <= limit else 'NOT MET'}] {name}: {value:.3f}{unit} "
              f"(needs <= {limit:g}{unit})")
    payload = {
        **header, "mode": "shakespeare", "text": str(options.text),
        "recipe": asdict(recipe), "parameters": parameters, "characters": len(ids),
        "validation_windows": len(validation), "results": results, "time_ratio": ratio,
        "goal": [{"name": name, "value": value, "at_most": limit, "met": value <= limit}
                 for name, value, limit, _ in goals],
        "goal_met": met,
    }
    common.write_json(run.out, payload)
    print(f"Results written to {run.out}")
    if run.smoke:
        print("Smoke run: the goal is reported but not enforced.")
        return 0
    return 0 if met else common.EXIT_CRITERION_NOT_MET
