"""Benchmark: TinyTorch against PyTorch on the CPU, the same work on the same numbers.

TinyTorch is NumPy plus Python: every layer is a handful of NumPy calls and every operation
records itself for autograd in Python. How far is that from PyTorch, whose kernels are
C++? This script answers with measurements, operation by operation, then for whole
training steps and for generation with a KV cache:

- **Same inputs, same weights.** Each PyTorch module is built with TinyTorch's structure and
  gets a copy of TinyTorch's weights (:mod:`bench_torch_models`: the PyTorch GPT written
  block for block as the GPT of ``tinytorch.nn.transformers``; the CNN is milestone 4's
  ``build_cnn`` with its CIFAR-10 recipe, mirrored layer by layer).
- **Same values.** Before any timing, both sides run once and their results are compared
  (:mod:`bench_values`): forward outputs and every gradient (training steps: the loss and
  the gradient of every parameter; generation: the tokens). The error of an array is its
  largest absolute difference divided by its largest absolute PyTorch value; a row whose
  error exceeds its tolerance is a MISMATCH, and the script then exits with 1.
- **Fair timing.** One thread on both sides: the BLAS variables are set to 1 before NumPy
  and PyTorch load, and ``torch.set_num_threads(1)``. Both run in this process,
  interleaved (:mod:`bench_timing`): each round times TinyTorch and PyTorch back to back
  (alternating which goes first), each call repeated until a measurement lasts about a
  quarter of a second. The ratio of a row is the MEDIAN over the rounds of ``TinyTorch
  time / PyTorch time``, so a noisy neighbour slowing one round down cannot decide it.
  Above 1, TinyTorch is slower.
- **The floor.** Every row is also computed a third way, timed in the same rounds: the
  fewest whole-array NumPy passes the operation needs, written out in
  :mod:`bench_floors` (a whole model in :mod:`bench_floor_models`), its values checked
  against TinyTorch's with ``np.testing.assert_allclose``. ``x floor`` is TinyTorch's time
  over it (the median per round): what TinyTorch costs beyond the NumPy it must run. The
  targets are 1.15 x the floor, and 1.5 x PyTorch where the floor allows it; the ``bound``
  column says which one a row is held to and whether it is met (:mod:`bench_rows`).

The rows are in :mod:`bench_cases`. TinyTorch runs with its best settings:
``enable_acceleration()`` (kata 18) is switched on when it exists (``--no-acceleration``
measures without it), and generation uses kata 17's ``generate_cached`` (the row is
skipped, with a note, until it exists). PyTorch is an optional extra for this script
alone, never needed by the katas: ``--vs none`` times TinyTorch against its floor only.

``--shakespeare`` trains a character-level TinyGPT on Tiny Shakespeare (``--text``, by default
``../shared/data/tinyshakespeare.txt`` beside the repository) in both frameworks, with
nanoGPT's CPU recipe for it (:mod:`bench_shakespeare`).

Exit codes: 0 when every value agrees, PyTorch's and the floor's with TinyTorch's (and,
with ``--shakespeare``, the goal is met; a smoke run never fails on the goal), 1 otherwise,
2 for code not written yet, 3 when PyTorch (or the text) is missing. A bound not met is
reported, never an error: times move with the machine's load.

    python milestones/bench_vs_pytorch.py [--vs pytorch|none] [--rounds N] [--only NAME ...]
        [--no-acceleration] [--impl reference|student] [--smoke] [--out PATH]
    python milestones/bench_vs_pytorch.py --shakespeare [--text PATH] [--iterations N]
"""

from __future__ import annotations

import argparse
import sys
from operator import attrgetter
from pathlib import Path
from types import ModuleType
from typing import Any

import common

if __name__ == "__main__":
    import os

    # One thread, whatever the environment says: NumPy (and PyTorch) read these when they load.
    for variable in common.BLAS_THREAD_VARIABLES:
        os.environ[variable] = "1"

from bench_cases import FULL, SMOKE, Skipped, build_cases, optional_attribute
from bench_rows import FLOOR_TARGET, Row, describe, run_case, table, worst_row
from bench_shakespeare import DEFAULT_TEXT, EXIT_MISSING, run_shakespeare

ROUNDS, SMOKE_ROUNDS = 7, 2


class MissingTorch(Exception):
    """PyTorch is not installed: the message says what to do."""


def load_torch() -> ModuleType:
    """:mod:`bench_torch_models` (which imports PyTorch), with PyTorch on one thread."""
    try:
        import bench_torch_models
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        raise MissingTorch("PyTorch is not installed. It is an optional extra for this benchmark "
                           "only (the katas never need it): `pip install torch` (the CPU build "
                           "is enough), or run TinyTorch alone with --vs none.") from None
    bench_torch_models.one_thread()
    return bench_torch_models


def switch_on_acceleration(disabled: bool) -> str:
    """Call kata 18's ``enable_acceleration()`` if it exists; say what happened."""
    if disabled:
        return "off (--no-acceleration)"
    enable = optional_attribute("tinytorch.systems.acceleration", "enable_acceleration")
    if enable is None:
        return "not available (tinytorch.systems.acceleration.enable_acceleration does not exist yet)"
    try:
        enable()
    except NotImplementedError as error:
        return f"off: not written yet ({error})"
    return "on"


def environment(th: ModuleType | None) -> dict[str, Any]:
    found = common.environment()
    if th is not None:
        found["torch"] = th.torch.__version__
        found["torch_threads"] = th.torch.get_num_threads()
    return found


def run_table(options: argparse.Namespace, run: common.Run, th: ModuleType | None,
              header: dict[str, Any]) -> int:
    """Check and time every row asked for, print the table, write the JSON; the exit code."""
    sizes = SMOKE if run.smoke else FULL
    rounds = options.rounds or (SMOKE_ROUNDS if run.smoke else ROUNDS)
    rows, not_written = [], []
    for label, build in build_cases(sizes, th).items():
        if options.only and not any(word.lower() in label for word in options.only):
            continue
        try:
            row = run_case(build(), rounds, run.smoke)
        except Skipped as reason:
            row = Row(label, "", note=f"skipped: {reason}")
        except NotImplementedError as error:
            row = Row(label, "", note=f"skipped: not written yet ({error})")
            not_written.append(str(error))
        rows.append(row)
        print(f"  {row.name}: {row.note or describe(row)}", flush=True)

    print("\n" + table(rows, th is not None))
    for row in rows:
        if row.note:
            print(f"Note: {row.name}: {row.note}")
    mismatches = [row for row in rows if row.mismatches]
    worst, worst_floor = worst_row(rows), worst_row(rows, attrgetter("floor_ratio"))
    bounds = [row.bound for row in rows if row.bound is not None]
    payload = {
        **header, "mode": "operations", "rounds": rounds,
        "rows": [row.as_json() for row in rows],
        "worst": {"operation": worst.name, "ratio": worst.ratio} if worst else None,
        "worst_floor": ({"operation": worst_floor.name, "floor_ratio": worst_floor.floor_ratio}
                        if worst_floor else None),
        "bounds_met": sum(bound.met for bound in bounds), "bounds": len(bounds),
        "values_agree": not mismatches,
    }
    common.write_json(run.out, payload)
    print(f"\nTinyTorch ({run.impl}, acceleration {header['acceleration']}) on one thread; "
          f"{rounds} interleaved rounds per row; results written to {run.out}")
    if mismatches:
        print(f"\nFAILED: the values differ in {len(mismatches)} row(s): "
              + "; ".join(f"{row.name}: {', '.join(row.mismatches)}" for row in mismatches),
              file=sys.stderr)
    if worst_floor is not None:
        print(f"bounds met: {payload['bounds_met']} of {len(bounds)} rows; worst ratio to the floor: "
              f"{worst_floor.floor_ratio:.2f} ({worst_floor.name}; target {FLOOR_TARGET:g})")
    if worst is None:
        print("worst ratio: n/a (no PyTorch timings: --vs none)")
    else:
        print(f"worst ratio: {worst.ratio:.2f} ({worst.name})")
    if mismatches:
        return common.EXIT_CRITERION_NOT_MET
    if not_written:
        print(f"\n{len(not_written)} row(s) run code you have not written yet, first: "
              f"{not_written[0]}", file=sys.stderr)
        return common.EXIT_NOT_IMPLEMENTED
    return 0


def bench_options(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """This script's own options; the rest of ``argv`` is the common milestone command line
    (where ``--impl`` defaults to reference here: the benchmark measures the reference
    solution unless asked for yours)."""
    parser = common.options_parser(__file__)
    parser.add_argument("--vs", choices=("pytorch", "none"), default="pytorch",
                        help="compare with PyTorch (default; needs torch installed) or time "
                             "TinyTorch alone")
    parser.add_argument("--rounds", type=int, default=None, metavar="N",
                        help=f"interleaved rounds per row (default {ROUNDS}, smoke {SMOKE_ROUNDS})")
    parser.add_argument("--only", nargs="+", default=None, metavar="NAME",
                        help="only the rows whose label contains one of these words: matmul "
                             "linear conv-5x5 conv-3x3 maxpool batchnorm softmax cross-entropy "
                             "attention layernorm cnn-step gpt-step generate (e.g. --only conv step)")
    parser.add_argument("--no-acceleration", action="store_true",
                        help="do not call enable_acceleration() (kata 18)")
    parser.add_argument("--shakespeare", action="store_true",
                        help="train the char-level TinyGPT on Tiny Shakespeare instead of the table")
    parser.add_argument("--text", type=Path, default=DEFAULT_TEXT, metavar="PATH",
                        help=f"the Tiny Shakespeare text (default: {DEFAULT_TEXT})")
    parser.add_argument("--iterations", type=int, default=None, metavar="N",
                        help="training iterations of --shakespeare (default 2000, smoke 12)")
    return common.split_options(parser, argv)


def main() -> int:
    options, rest = bench_options(sys.argv[1:])
    run = common.start(__file__, __doc__, rest, default_impl="reference")
    if options.shakespeare and not any(argument.startswith("--out") for argument in rest):
        run.out = common.RESULTS_DIR / f"{run.name}_shakespeare.json"   # keep the table's file
    if run.plot is not None:
        print("Note: --plot is ignored, this benchmark draws no curves (the JSON has them).")
    try:
        th = load_torch() if options.vs == "pytorch" else None
    except MissingTorch as error:
        print(f"\n{error}", file=sys.stderr)
        return EXIT_MISSING
    acceleration = switch_on_acceleration(options.no_acceleration)
    versus = f"PyTorch {th.torch.__version__}" if th is not None else "nothing (--vs none)"
    print(f"TinyTorch ({run.impl}, acceleration: {acceleration}) against {versus}; one thread each",
          flush=True)
    header = {"benchmark": run.name, "impl": run.impl, "smoke": run.smoke, "vs": options.vs,
              "acceleration": acceleration, "environment": environment(th),
              "command": [Path(sys.executable).name, *sys.argv]}
    if options.shakespeare:
        return run_shakespeare(options, run, th, header)
    return run_table(options, run, th, header)


if __name__ == "__main__":
    common.main(main)
