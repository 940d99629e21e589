"""Milestone 6 (2018): the same network, measured as a system, made smaller and faster.

In 2018 a group of companies and universities published MLPerf, a benchmark suite whose
rules made machine-learning systems comparable: a fixed model and data set, a quality
target the optimized system must still reach, and measured scenarios such as
single-stream latency (one query at a time, as a phone answers its user). Until then every
paper had timed its own way; MLPerf made "faster" a measurement with rules.

This script takes the CNN of the 1998 milestone, trained on TinyDigits, and compares two
systems built from it, both timed by your kata-19 benchmark harness on the same test
images:

- **baseline**: the trained network in float32, its convolutions computed the way kata 09
  first wrote them, as seven nested loops: one multiply-add per Python step;
- **optimized**: the same network after global magnitude pruning (kata 16), its kept
  weights quantized to int8 and stored as a bitmask plus int8 values (katas 15 and 16),
  loaded back from that file and run with vectorized convolutions and your accelerated
  kernels switched on (kata 18). Its weights are the int8 values (dequantized when the
  file is loaded: NumPy has no int8 matrix product, so computing in int8 would be slower).

Rules, fixed in advance: the optimized system must store the model in at least 4 times
fewer bytes (the file on disk, measured), answer at least 10 times faster (median
single-stream latency over the same images), in under 100 ms per image, and lose at most
1 point of accuracy on the 1,000 TinyDigits test images. The baseline's accuracy is
computed with the vectorized convolution on the same float32 weights, after checking on
the timed images that loops and vectorized code give the same scores: the loops would
need minutes for the whole test set.

After pruning, the network is fine-tuned for two epochs with the pruned weights held at
zero (kata 16's ``MaskedTrainer``), which wins back most of what pruning cost. How much to
prune is decided without the test images: the last 1,000 training images are held out,
the other 4,000 fine-tune, and the largest share of zero weights among 50%, 60%, ... 90%
whose compressed model loses at most half a point on the held-out images is kept. The speedup over the same float32 network with vectorized
convolutions (kata 09's ``Conv2d``) is measured and printed too: it shows how much of the
gain is vectorization and how little pruning and int8 weights give in NumPy.

The trained CNN comes from ``04_cnn_1998.py --save-model``: if ``--model`` does not exist,
this script runs the 1998 milestone first to make it (about a minute).

    python milestones/06_mlperf_2018.py [--impl reference] [--smoke] [--model NPZ]
        [--out PATH]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import common

MILESTONES = Path(__file__).resolve().parent


def milestone_options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """This milestone's own options; the rest of ``argv`` is the common command line."""
    parser = common.options_parser(__file__)
    parser.add_argument("--model", type=Path, default=None, metavar="NPZ",
                        help="the trained 1998 CNN (default: milestones/results/"
                             "cnn_1998_tinydigits.npz, made by 04_cnn_1998.py when missing)")
    return common.split_options(parser, argv)


OPTIONS, COMMON_ARGUMENTS = milestone_options(sys.argv[1:])
RUN = common.start(__file__, __doc__, COMMON_ARGUMENTS)

# Imported only now: NumPy after common pinned BLAS to one thread, tinytorch after
# common.start chose whose tinytorch (yours or the reference) it is.
import numpy as np
from convnets import RECIPES, build_cnn

from tinytorch.core import Tensor, no_grad
from tinytorch.data import DataLoader, Normalize, TensorDataset, load_tinydigits
from tinytorch.nn import Conv2d, CrossEntropyLoss, Module
from tinytorch.nn.spatial import conv2d_loops
from tinytorch.optim import Adam
from tinytorch.systems.acceleration import disable_acceleration, enable_acceleration
from tinytorch.systems.benchmarking import Benchmark, BenchmarkResult
from tinytorch.systems.compression import (
    MaskedTrainer,
    compress_state_dict,
    decompress_state_dict,
    global_magnitude_prune,
    load_compressed,
    save_compressed,
    weight_sparsity,
)
from tinytorch.systems.quantization import swap_layers
from tinytorch.training import load_checkpoint

SEED = 2018
SPARSITIES = (0.5, 0.6, 0.7, 0.8, 0.9)   # candidates; held-out training images choose one
MAX_VALIDATION_LOSS = 0.005
VALIDATION_IMAGES = 1000   # the last training images: they choose the sparsity
FINE_TUNE_EPOCHS = 2
FINE_TUNE_BATCH_SIZE = 64
FINE_TUNE_LEARNING_RATE = 5e-4
TIMED_IMAGES = 10          # single-stream queries per system: the loops take ~1 s per image
WARMUP_QUERIES = 2
EVAL_BATCH_SIZE = 500
SMOKE_TIMED_IMAGES = 2
SMOKE_TEST_IMAGES = 100
SMOKE_TRAIN_IMAGES = 1100  # VALIDATION_IMAGES of them held out

REQUIRED_BYTES_RATIO = 4.0
REQUIRED_SPEEDUP = 10.0
LATENCY_LIMIT_MS = 100.0
MAX_ACCURACY_LOSS = 0.01


class LoopConv2d(Module):
    """A trained Conv2d whose forward is kata 09's seven-loop ``conv2d_loops``: the baseline."""

    def __init__(self, conv: Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.conv.bias is None else self.conv.bias.data
        return Tensor(conv2d_loops(x.data, self.conv.weight.data, bias, self.conv.stride,
                                   self.conv.padding))


def trained_cnn_path() -> Path:
    if OPTIONS.model is not None:
        return OPTIONS.model
    name = "cnn_1998_tinydigits_smoke.npz" if RUN.smoke else "cnn_1998_tinydigits.npz"
    return common.RESULTS_DIR / name


def train_cnn_with_the_1998_milestone(path: Path) -> None:
    """Run ``04_cnn_1998.py`` (same implementation, same smoke setting) to save the CNN."""
    command = [sys.executable, str(MILESTONES / "04_cnn_1998.py"), "--impl", RUN.impl,
               "--save-model", str(path), "--out", str(path.with_suffix(".json"))]
    if RUN.smoke:
        command.append("--smoke")
    print(f"No trained CNN at {path}: running the 1998 milestone to make it\n  "
          + " ".join(command[1:]), flush=True)
    completed = subprocess.run(command, check=False, capture_output=True, text=True)
    if not path.exists():
        sys.stderr.write(completed.stdout[-2000:] + completed.stderr[-2000:])
        raise SystemExit(f"04_cnn_1998.py did not save a model (exit code {completed.returncode})")


def load_cnn(path: Path) -> tuple[Module, Normalize, dict]:
    """The 1998 CNN with its trained weights, in eval mode, and its input normalization."""
    model = build_cnn(RECIPES["tinydigits"], 1, 28, np.random.default_rng(SEED))
    meta = load_checkpoint(path, model)
    return model.eval(), Normalize(meta["normalize"]["mean"], meta["normalize"]["std"]), meta


def dense_file_bytes(path: Path, model: Module) -> int:
    """Bytes of the float32 state dict written the same way as the compressed one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        np.savez(file, **model.state_dict())
    return path.stat().st_size


def compressed(model: Module) -> Module:
    """``model`` with its weights as the int8 file would give them back (dequantized)."""
    model.load_state_dict(decompress_state_dict(compress_state_dict(model.state_dict(),
                                                                    quantize=True)))
    return model


def pruned(path: Path, sparsity: float, images: np.ndarray, labels: np.ndarray) -> Module:
    """The trained CNN with ``sparsity`` of its weights pruned, fine-tuned on ``images`` with
    the pruned weights held at zero, then compressed to int8 weights."""
    model = load_cnn(path)[0]
    masks = global_magnitude_prune(model, sparsity)
    trainer = MaskedTrainer(model, CrossEntropyLoss(),
                            Adam(model.parameters(), lr=FINE_TUNE_LEARNING_RATE), masks)
    loader = DataLoader(TensorDataset(images, labels), batch_size=FINE_TUNE_BATCH_SIZE,
                        shuffle=True, rng=np.random.default_rng(SEED))
    for _ in range(FINE_TUNE_EPOCHS):
        trainer.train_epoch(loader)
    return compressed(model.eval())


def prune_and_choose(path: Path, images: np.ndarray, labels: np.ndarray) -> tuple[Module, float]:
    """The pruned model of the largest of SPARSITIES that stays within MAX_VALIDATION_LOSS of
    the float32 model on the held-out training images, and that sparsity."""
    held_out = slice(len(images) - VALIDATION_IMAGES, None)
    tune = slice(0, len(images) - VALIDATION_IMAGES)
    reference = accuracy(load_cnn(path)[0], images[held_out], labels[held_out])
    print(f"Held-out accuracy {reference:.2%} in float32; pruned, fine-tuned, int8:", end="")
    chosen: tuple[Module, float] | None = None
    for sparsity in SPARSITIES:
        model = pruned(path, sparsity, images[tune], labels[tune])
        kept = accuracy(model, images[held_out], labels[held_out])
        print(f"  {sparsity:.0%} {kept:.2%}", end="", flush=True)
        if chosen is None or reference - kept <= MAX_VALIDATION_LOSS:
            chosen = (model, sparsity)
    assert chosen is not None
    print(f"\n  -> {chosen[1]:.0%} of the weights pruned")
    return chosen


def accuracy(model: Module, images: np.ndarray, labels: np.ndarray) -> float:
    with no_grad():
        scores = np.concatenate([model(Tensor(images[i:i + EVAL_BATCH_SIZE])).numpy()
                                 for i in range(0, len(images), EVAL_BATCH_SIZE)])
    return float((scores.argmax(axis=1) == labels).mean())


def latency_summary(result: BenchmarkResult) -> dict[str, float]:
    summary = result.summary
    return {"median_ms": 1e3 * summary.median, "p90_ms": 1e3 * summary.p90,
            "ci_low_ms": 1e3 * summary.ci_low, "ci_high_ms": 1e3 * summary.ci_high,
            "queries": summary.count}


def run_milestone() -> int:
    path = trained_cnn_path()
    if not path.exists():
        train_cnn_with_the_1998_milestone(path)
    digits = load_tinydigits()
    x_test, y_test = digits.x_test[:, None], digits.y_test
    timed = TIMED_IMAGES
    if RUN.smoke:
        x_test, y_test, timed = x_test[:SMOKE_TEST_IMAGES], y_test[:SMOKE_TEST_IMAGES], SMOKE_TIMED_IMAGES

    baseline, normalize, meta = load_cnn(path)
    images = normalize(Tensor(x_test)).numpy()
    print(f"The 1998 CNN from {path}: {sum(p.size for p in baseline.parameters()):,} parameters; "
          f"{len(y_test):,} TinyDigits test images, {timed} timed one at a time")

    # The optimized system: prune, fine-tune, quantize the kept weights to int8, store, load.
    train_images = normalize(Tensor(digits.x_train[:, None])).numpy()
    train_labels = digits.y_train
    if RUN.smoke:
        train_images, train_labels = train_images[:SMOKE_TRAIN_IMAGES], train_labels[:SMOKE_TRAIN_IMAGES]
    pruned_model, sparsity = RUN.measure(lambda: prune_and_choose(path, train_images, train_labels))
    optimized, _, _ = load_cnn(path)
    results_dir = RUN.out.parent
    dense_bytes = dense_file_bytes(results_dir / "06_mlperf_2018_baseline.npz", baseline)
    stored_bytes = save_compressed(results_dir / "06_mlperf_2018_optimized.npz",
                                   compress_state_dict(pruned_model.state_dict(), quantize=True))
    optimized.load_state_dict(decompress_state_dict(
        load_compressed(results_dir / "06_mlperf_2018_optimized.npz")))
    print(f"Stored model: {dense_bytes:,} bytes in float32, {stored_bytes:,} bytes with "
          f"{weight_sparsity(optimized):.0%} of the weights pruned and the rest in int8 "
          f"({dense_bytes / stored_bytes:.2f}x fewer)")

    baseline_accuracy = accuracy(baseline, images, y_test)
    optimized_accuracy = accuracy(optimized, images, y_test)

    swap_layers(baseline, (Conv2d,), LoopConv2d)
    queries = images[:timed]
    harness = Benchmark(warmup=WARMUP_QUERIES)
    print("Timing the baseline (seven-loop convolutions)...", flush=True)
    baseline_timing = harness.single_stream(baseline, queries, name="baseline, float32, loops")
    enable_acceleration()
    try:
        optimized_timing = harness.single_stream(optimized, queries, name="optimized")
        with no_grad():
            loop_scores = baseline(Tensor(queries)).numpy()
            fast_scores = optimized(Tensor(queries)).numpy()
    finally:
        disable_acceleration()
    swap_layers(baseline, (LoopConv2d,), lambda layer: layer.conv)
    vectorized_timing = harness.single_stream(baseline, queries, name="float32, vectorized")
    with no_grad():
        vectorized_scores = baseline(Tensor(queries)).numpy()
    loops_agree = float(np.abs(loop_scores - vectorized_scores).max())
    over_vectorized = vectorized_timing.summary.median / optimized_timing.summary.median

    speedup = baseline_timing.summary.median / optimized_timing.summary.median
    optimized_ms = 1e3 * optimized_timing.summary.median
    print(f"\n{'system':<34}{'bytes':>10}{'accuracy':>10}{'median latency':>17}")
    print(f"{'baseline (float32, loop conv)':<34}{dense_bytes:>10,}{baseline_accuracy:>10.2%}"
          f"{1e3 * baseline_timing.summary.median:>14.2f} ms")
    print(f"{'float32, vectorized conv':<34}{dense_bytes:>10,}{baseline_accuracy:>10.2%}"
          f"{1e3 * vectorized_timing.summary.median:>14.3f} ms")
    print(f"{'optimized (pruned, int8, fast)':<34}{stored_bytes:>10,}{optimized_accuracy:>10.2%}"
          f"{optimized_ms:>14.3f} ms")
    print(f"Speedup over the baseline {speedup:,.0f}x; over the vectorized float32 network "
          f"{over_vectorized:.2f}x (pruning and int8 weights save bytes, not NumPy time).")
    print(f"Loops and vectorized convolution agree on the timed images within {loops_agree:.1e}; "
          f"the optimized scores differ from them by up to "
          f"{float(np.abs(fast_scores - loop_scores).max()):.2f} (int8 weights, pruning).")

    results = {
        "model": str(path), "model_meta": meta, "sparsity": sparsity,
        "bytes": {"baseline": dense_bytes, "optimized": stored_bytes,
                  "ratio": dense_bytes / stored_bytes},
        "accuracy": {"baseline": baseline_accuracy, "optimized": optimized_accuracy,
                     "test_images": len(y_test)},
        "latency": {"baseline": latency_summary(baseline_timing),
                    "vectorized_float32": latency_summary(vectorized_timing),
                    "optimized": latency_summary(optimized_timing), "speedup": speedup,
                    "speedup_over_vectorized_float32": over_vectorized},
        "loops_vs_vectorized_max_abs_difference": loops_agree,
        "benchmarks": [timing.to_dict() for timing in
                       (baseline_timing, vectorized_timing, optimized_timing)],
    }
    criteria = [
        common.Criterion("model bytes, baseline / optimized", dense_bytes / stored_bytes,
                         REQUIRED_BYTES_RATIO, unit="x"),
        common.Criterion("single-stream speedup", speedup, REQUIRED_SPEEDUP, unit="x"),
        common.Criterion("optimized median latency", optimized_ms, LATENCY_LIMIT_MS,
                         at_most=True, unit="ms"),
        common.Criterion("accuracy change, optimized - baseline",
                         optimized_accuracy - baseline_accuracy, -MAX_ACCURACY_LOSS),
    ]
    return RUN.finish(results, criteria)


if __name__ == "__main__":
    common.main(run_milestone)
