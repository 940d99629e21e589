"""milestones/bench_vs_pytorch.py: it runs, it writes its table and JSON, it catches wrong values.

PyTorch is optional, so everything here but the last test runs without it: the script with
``--vs none`` (TinyTorch alone against its NumPy floor, tiny ``--smoke`` sizes), its
refusals, and unit tests of the comparison, timing and bound logic. Speed is never
asserted: on two shared cores a ratio says nothing about correctness.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from operator import attrgetter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MILESTONES = ROOT / "milestones"
SCRIPT = MILESTONES / "bench_vs_pytorch.py"
SUBPROCESS_TIMEOUT_SECONDS = 120
ROW_LABELS = ["matmul", "linear", "conv-5x5", "conv-3x3", "maxpool", "batchnorm", "softmax",
              "cross-entropy", "attention", "layernorm", "cnn-step", "gpt-step", "generate"]


def run_script(*args: str, prelude: str = "") -> subprocess.CompletedProcess:
    """The script in a fresh interpreter; ``prelude`` runs first (to hide a package)."""
    command = [sys.executable, str(SCRIPT), *args]
    if prelude:   # run the script as `python SCRIPT` would, after the prelude
        code = (f"{prelude}\nimport runpy, sys\nsys.path.insert(0, {str(MILESTONES)!r})\n"
                f"sys.argv = {[str(SCRIPT), *args]!r}\nrunpy.run_path({str(SCRIPT)!r}, run_name='__main__')")
        command = [sys.executable, "-c", code]
    return subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True,
                          timeout=SUBPROCESS_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def bench():
    """The benchmark's modules ``bench_values``, ``bench_timing`` and ``bench_rows`` as
    ``bench.values``, ``bench.timing`` and ``bench.rows``, imported without running anything
    (no tinytorch is imported)."""
    sys.path.insert(0, str(MILESTONES))
    try:
        return SimpleNamespace(**{name: importlib.import_module(f"bench_{name}")
                                  for name in ("values", "timing", "rows")})
    finally:
        sys.path.remove(str(MILESTONES))


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    """One smoke run of the table with ``--vs none``: its output and its JSON."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    result = run_script("--smoke", "--vs", "none", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    return result, json.loads(out.read_text(encoding="utf-8"))


def test_table_of_tinytorch_alone_without_pytorch(alone):
    result, data = alone
    assert "TinyTorch ms" in result.stdout and "PyTorch ms" not in result.stdout
    assert result.stdout.rstrip().splitlines()[-1] == "worst ratio: n/a (no PyTorch timings: --vs none)"
    assert (data["mode"], data["impl"], data["smoke"], data["vs"]) == ("operations", "reference", True, "none")
    assert data["values_agree"] is True and data["worst"] is None
    assert len(data["rows"]) == len(ROW_LABELS)
    for row in data["rows"]:
        assert row["pytorch_seconds"] is None and row["ratio"] is None and row["check"] is None
        if row["note"]:   # a kata that does not exist yet (17: generate_cached)
            assert row["note"].startswith("skipped:") and row["tinytorch_seconds"] is None
        else:
            assert row["tinytorch_seconds"] > 0
            assert row["operation"] in result.stdout
    assert data["environment"]["blas_threads"]["OPENBLAS_NUM_THREADS"] == "1"


def test_floor_column_in_smoke_mode_computes_tinytorchs_values(alone):
    """Every row has a NumPy floor, timed, whose arrays (outputs, every gradient, every
    parameter after a training step, the generated tokens) passed the benchmark's
    ``np.testing.assert_allclose`` against TinyTorch's; the bound of each row is the floor's."""
    result, data = alone
    assert "floor ms" in result.stdout and "x floor" in result.stdout
    timed = [row for row in data["rows"] if not row["note"]]
    assert len(timed) >= len(ROW_LABELS) - 1               # generate may wait for kata 17
    for row in timed:
        check = row["floor_check"]
        assert check["ok"] and check["error"] <= check["tolerance"], row
        assert row["floor_seconds"] > 0 and row["floor_ratio"] > 0
        assert len(row["floor_round_ratios"]) == data["rounds"]
        assert row["bound"]["against"] == "floor" and row["bound"]["target"] == 1.15
        assert row["bound"]["met"] == (row["floor_ratio"] <= 1.15)
    worst = max(timed, key=lambda row: row["floor_ratio"])
    assert data["worst_floor"] == {"operation": worst["operation"], "floor_ratio": worst["floor_ratio"]}
    assert (data["bounds"], data["bounds_met"]) == (len(timed), sum(row["bound"]["met"] for row in timed))
    assert f"bounds met: {data['bounds_met']} of {len(timed)} rows" in result.stdout


def test_check_floor_catches_a_floor_that_skips_work(bench):
    rng = np.random.default_rng(0)
    ours = {"output": rng.standard_normal((4, 5)).astype(np.float32),
            "grad weight": rng.standard_normal((5, 3)).astype(np.float32)}
    assert bench.values.check_floor({name: value.copy() for name, value in ours.items()}, ours, 1e-4).ok
    rounded = {name: value * np.float32(1 + 1e-6) for name, value in ours.items()}
    assert bench.values.check_floor(rounded, ours, 1e-4).ok
    no_backward = dict(ours, **{"grad weight": np.zeros((5, 3), np.float32)})
    check = bench.values.check_floor(no_backward, ours, 1e-4)
    assert not check.ok and check.worst == "grad weight" and check.error == pytest.approx(1.0)
    for broken in (ours["output"].T, np.full_like(ours["output"], np.nan)):
        check = bench.values.check_floor(dict(ours, output=broken), ours, 1e-4)
        assert not check.ok and check.worst == "output"
    with pytest.raises(ValueError, match=r"the floor only \['extra'\]"):
        bench.values.check_floor(dict(ours, extra=np.zeros(1)), ours, 1e-4)


@pytest.mark.parametrize(("floor_over_pytorch", "against"), [
    (0.5, "floor"),      # 1.15 x the floor is far below 1.5 x PyTorch
    (1.25, "floor"),     # 1.15 x 1.25 = 1.44 < 1.5: still the floor's
    (1.4, "PyTorch"),    # 1.15 x 1.4 = 1.61 > 1.5, and the floor allows 1.5 x PyTorch
    (2.0, "floor"),      # the floor alone is 2 x PyTorch: 1.5 x PyTorch is out of NumPy's reach
])
def test_the_bound_is_the_tighter_target_the_floor_allows(bench, floor_over_pytorch, against):
    timing = bench.timing.Timing(2.0, 1.0, 2.0, [2.0], floor=floor_over_pytorch, floor_ratio=2.0 / floor_over_pytorch,
                                 floor_ratios=[2.0 / floor_over_pytorch], floor_over_pytorch=floor_over_pytorch)
    bound = bench.rows.bound(timing)
    assert bound.against == against
    assert (bound.ratio, bound.target) == ((2.0, 1.5) if against == "PyTorch" else (2.0 / floor_over_pytorch, 1.15))
    assert bench.rows.bound(bench.timing.Timing(2.0, None, None, [], 1.0, 2.0, [2.0])).against == "floor"
    assert bench.rows.bound(bench.timing.Timing(2.0, 1.0, 2.0, [2.0])).against == "PyTorch"
    assert bench.rows.bound(bench.timing.Timing(2.0, None, None, [])) is None


def test_only_selects_rows_by_label(tmp_path):
    out = tmp_path / "bench.json"
    result = run_script("--smoke", "--vs", "none", "--only", "conv", "layernorm", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    operations = [row["operation"] for row in json.loads(out.read_text(encoding="utf-8"))["rows"]]
    assert [name.split()[0] for name in operations] == ["Conv2d", "Conv2d", "LayerNorm"]


def test_shakespeare_smoke_trains_and_reports_the_validation_loss(tmp_path):
    text = tmp_path / "tiny.txt"
    text.write_text("To be, or not to be, that is the question.\n" * 60, encoding="utf-8")
    out = tmp_path / "shakespeare.json"
    result = run_script("--smoke", "--vs", "none", "--shakespeare", "--text", str(text), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Smoke run: the goal is reported but not enforced." in result.stdout
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["mode"] == "shakespeare" and data["time_ratio"] is None
    assert data["recipe"]["vocab_size"] == len(set(text.read_text(encoding="utf-8")))
    ours = data["results"]["tinytorch"]
    assert set(data["results"]) == {"tinytorch"}
    assert 0 < ours["validation_loss"] < 10 and ours["train_seconds"] > 0
    assert len(ours["loss_curve"]) == data["recipe"]["iterations"]
    assert [goal["name"] for goal in data["goal"]] == ["TinyTorch validation loss"]
    assert data["goal"][0]["value"] == ours["validation_loss"]


def test_missing_text_and_missing_pytorch_exit_with_3(tmp_path):
    missing = run_script("--smoke", "--vs", "none", "--shakespeare", "--text", str(tmp_path / "none.txt"),
                         "--out", str(tmp_path / "a.json"))
    assert missing.returncode == 3, missing.stdout + missing.stderr
    assert "pass its path with --text" in missing.stderr
    # sys.modules["torch"] = None makes `import torch` fail, as if it were not installed.
    no_torch = run_script("--smoke", "--out", str(tmp_path / "b.json"), prelude="import sys; sys.modules['torch'] = None")
    assert no_torch.returncode == 3, no_torch.stdout + no_torch.stderr
    assert "PyTorch is not installed" in no_torch.stderr and "--vs none" in no_torch.stderr
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "b.json").exists()


def test_compare_accepts_rounding_and_catches_wrong_values(bench):
    rng = np.random.default_rng(0)
    reference = {"output": rng.standard_normal((4, 5)), "grad weight": rng.standard_normal((5, 3)),
                 "grad bias": np.full(3, 1e-9)}    # zero in exact arithmetic: rounding noise only
    rounded = {name: value * (1 + 1e-6) for name, value in reference.items()}
    rounded["grad bias"] = np.full(3, -3e-9)       # other noise, far below 1% of the largest array
    check = bench.values.compare(rounded, reference, tolerance=1e-4)
    assert check.ok and check.error < 1e-4 and check.describe().startswith("ok")

    wrong_axis = dict(rounded, **{"grad weight": reference["grad weight"][::-1]})
    check = bench.values.compare(wrong_axis, reference, tolerance=1e-4)
    assert not check.ok and check.worst == "grad weight" and check.error > 0.1
    assert check.describe().startswith("MISMATCH: grad weight")

    slightly_off = dict(rounded, output=reference["output"] * 1.001)   # e.g. a wrong epsilon
    assert bench.values.compare(slightly_off, reference, tolerance=1e-4).worst == "output"
    assert not bench.values.compare(slightly_off, reference, tolerance=1e-4).ok
    assert bench.values.compare(slightly_off, reference, tolerance=1e-2).ok

    for broken in (reference["output"].T, np.full_like(reference["output"], np.nan)):
        check = bench.values.compare(dict(rounded, output=broken), reference, tolerance=1e-4)
        assert not check.ok and check.error == float("inf") and check.worst == "output"

    assert bench.values.compare({"tokens": np.array([[1, 2, 3]])}, {"tokens": np.array([[1, 2, 3]])}, 0.0).ok
    assert not bench.values.compare({"tokens": np.array([[1, 2, 4]])}, {"tokens": np.array([[1, 2, 3]])}, 0.0).ok
    with pytest.raises(ValueError, match=r"TinyTorch only \['extra'\]"):
        bench.values.compare(dict(rounded, extra=np.zeros(1)), reference, tolerance=1e-4)


def test_timing_interleaves_the_sides_and_takes_the_median_ratio(bench, monkeypatch):
    calls = []
    durations = {"tinytorch": iter([4.0, 9.0, 6.0]), "pytorch": iter([2.0, 1.0, 3.0])}

    def fake_seconds(fn, repeat, warmup):
        calls.append(fn.__name__)
        return next(durations[fn.__name__])

    def tinytorch():
        pass

    def pytorch():
        pass

    monkeypatch.setattr(bench.timing, "seconds", fake_seconds)
    timing = bench.timing.time_interleaved(tinytorch, pytorch, rounds=3, smoke=True)
    assert calls == ["tinytorch", "pytorch", "pytorch", "tinytorch", "tinytorch", "pytorch"]
    assert timing.ratios == [2.0, 9.0, 2.0]
    assert timing.ratio == 2.0      # the median of the ratios, not 6 / 2 (the ratio of medians)
    assert (timing.tinytorch, timing.pytorch) == (6.0, 2.0)
    assert timing.floor is None and timing.floor_ratio is None and timing.floor_over_pytorch is None

    def floor():
        pass

    calls.clear()
    durations.update(tinytorch=iter([4.0, 9.0, 6.0]), pytorch=iter([2.0, 1.0, 3.0]),
                     floor=iter([2.0, 3.0, 4.0]))
    timing = bench.timing.time_interleaved(tinytorch, pytorch, rounds=3, smoke=True, floor=floor)
    assert calls == ["tinytorch", "pytorch", "floor", "floor", "pytorch", "tinytorch",
                     "tinytorch", "pytorch", "floor"]
    assert timing.ratio == 2.0 and timing.floor == 3.0
    assert timing.floor_ratios == [2.0, 3.0, 1.5] and timing.floor_ratio == 2.0
    assert timing.floor_over_pytorch == pytest.approx(4 / 3)     # the median of 2/2, 3/1 and 4/3


def test_worst_row_and_table(bench):
    timing, check, row = bench.timing.Timing, bench.values.Check, bench.rows.Row
    rows = [row("fast op", "(2,2)", timing(1e-3, 1e-3, 1.0, [1.0], 9e-4, 1.11, [1.11], 0.9),
                check(0.0, 1e-4, "output"), floor_check=check(0.0, 1e-4, "output")),
            row("slow op", "(2,2)", timing(3e-3, 1e-3, 3.0, [3.0], 2e-3, 1.5, [1.5], 2.0),
                check(0.5, 1e-4, "grad x"), floor_check=check(0.0, 1e-4, "output")),
            row("generate", "", note="skipped: not there yet")]
    assert bench.rows.worst_row(rows).name == "slow op"
    assert bench.rows.worst_row(rows, attrgetter("floor_ratio")).name == "slow op"
    assert rows[1].mismatches == ["PyTorch: MISMATCH: grad x 5.0e-01 > 1e-04"]
    text = bench.rows.table(rows, with_pytorch=True)
    assert "MISMATCH: grad x 5.0e-01 > 1e-04" in text and "3.00" in text
    fast, slow = (line for line in text.splitlines() if line.startswith(("fast op", "slow op")))
    assert "1.11" in fast and "<= 1.15x floor: met" in fast
    assert "1.50" in slow and "<= 1.15x floor: NOT met" in slow
    assert bench.rows.worst_row(rows[2:]) is None


def test_against_pytorch_every_value_agrees(tmp_path):
    pytest.importorskip("torch", reason="PyTorch is an optional extra of this benchmark")
    out = tmp_path / "bench.json"
    result = run_script("--smoke", "--vs", "pytorch", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["values_agree"] is True
    compared = [row for row in data["rows"] if row["check"] is not None]
    assert len(compared) >= len(ROW_LABELS) - 1          # generate may wait for kata 17
    assert all(row["check"]["ok"] and row["ratio"] > 0 for row in compared)
    worst = max(compared, key=lambda row: row["ratio"])
    assert result.stdout.rstrip().splitlines()[-1] == f"worst ratio: {worst['ratio']:.2f} ({worst['operation']})"
