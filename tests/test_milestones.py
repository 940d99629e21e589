"""The milestones run end to end: each one's --smoke version on the reference, in a subprocess.

A smoke run exercises the whole script (training, evaluation, printing, the JSON file) in
about a second, without enforcing the success criterion; the full runs take longer and are
documented in milestones/README.md. The exit-code rules of milestones/common.py are checked
on tiny scripts of their own.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MILESTONES = ROOT / "milestones"
# Only a hang should end a run: the longest smoke run (06, which trains the 1998 CNN) took
# 10 to 19 s on a shared 2-core machine, and a milestone stops itself at its own smoke
# limit (common.SMOKE_TIME_LIMIT, 300 s) with a message worth reading.
SUBPROCESS_TIMEOUT_SECONDS = 600


def run_python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], check=False, cwd=ROOT, capture_output=True,
                          text=True, timeout=SUBPROCESS_TIMEOUT_SECONDS)


def run_smoke(name: str, out: Path) -> tuple[subprocess.CompletedProcess, dict]:
    result = run_python(str(MILESTONES / f"{name}.py"), "--smoke", "--impl", "reference",
                        "--out", str(out))
    assert result.returncode == 0, f"{name} exited with {result.returncode}:\n" \
                                   f"{result.stdout}\n{result.stderr}"
    return result, json.loads(out.read_text(encoding="utf-8"))


def check_common_fields(data: dict, name: str) -> None:
    assert data["milestone"] == name
    assert data["impl"] == "reference" and data["smoke"] is True
    assert data["criteria_enforced"] is False
    assert data["criteria"], "every milestone states its success criteria"
    for criterion in data["criteria"]:
        assert set(criterion) == {"name", "value", "threshold", "at_most", "unit", "met"}
        if criterion["unit"] == "%":
            assert -1.0 <= criterion["value"] <= 1.0
    assert data["criteria_met"] == all(criterion["met"] for criterion in data["criteria"])
    assert data["train_seconds"] > 0 and data["wall_seconds"] >= data["train_seconds"]
    assert data["peak_rss_mib"] > 10, "peak RSS of a Python process with NumPy, in MiB"
    assert Path(data["environment"]["tinytorch"]) == ROOT / "reference" / "tinytorch"


def test_perceptron_1958_smoke(tmp_path):
    name = "01_perceptron_1958"
    result, data = run_smoke(name, tmp_path / "out.json")
    check_common_fields(data, name)
    results = data["results"]
    for task in ("AND", "OR", "blobs"):
        assert re.search(rf"^{task}  epoch +1/", result.stdout, re.MULTILINE)
        assert len(results[task]["mistakes_per_epoch"]) == results[task]["epochs"]
    assert {c["name"]: c["value"] for c in data["criteria"]} == {
        "AND accuracy": results["AND"]["accuracy"], "OR accuracy": results["OR"]["accuracy"],
        "blobs held-out accuracy": results["blobs"]["test_accuracy"]}
    assert results["blobs"]["test_points"] > 0 and results["blobs"]["train_points"] > 0


def test_xor_1969_smoke(tmp_path):
    name = "02_xor_1969"
    result, data = run_smoke(name, tmp_path / "out.json")
    check_common_fields(data, name)
    results = data["results"]
    for label, model in (("one layer", "single_layer"), ("hidden layer", "hidden_layer")):
        assert re.search(rf"^{label}  epoch +1/", result.stdout, re.MULTILINE)
        assert len(results[model]["loss_history"]) == results["epochs"]
        assert len(results[model]["probabilities"]) == 4
    # No straight line gets more than 3 of the 4 XOR points right.
    assert results["single_layer"]["accuracy"] <= 0.75
    assert results["single_layer"]["parameters"] == 3
    assert results["hidden_layer"]["parameters"] == 2 * 8 + 8 + 8 + 1


def test_mlp_1986_smoke(tmp_path):
    name = "03_mlp_1986"
    result, data = run_smoke(name, tmp_path / "out.json")
    check_common_fields(data, name)
    results = data["results"]
    assert re.search(r"^epoch +1/", result.stdout, re.MULTILINE)
    assert "Confusion matrix" in result.stdout
    matrix = results["confusion_matrix"]
    assert len(matrix) == 10 and all(len(row) == 10 for row in matrix)
    assert sum(map(sum, matrix)) == results["test_images"]
    assert results["test_accuracy"] == pytest.approx(
        sum(matrix[i][i] for i in range(10)) / results["test_images"])
    assert results["per_class_accuracy"] == pytest.approx(
        [matrix[i][i] / sum(matrix[i]) for i in range(10)])
    assert [epoch["epoch"] for epoch in results["history"]] == list(range(1, results["epochs"] + 1))
    assert results["parameters"] == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10


RUN_ONE_CRITERION = """
import sys
sys.path.insert(0, {milestones!r})
import common
run = common.start("toy_milestone.py", "A toy.", sys.argv[1:])
results = {{"loss": [0.5, float("nan"), float("inf")]}}  # a diverging run
sys.exit(run.finish(results, [common.Criterion("toy accuracy", 0.5, {threshold}, at_most={at_most})]))
"""


@pytest.mark.parametrize("threshold, at_most, smoke, met, code", [
    (0.95, False, False, False, 1),   # 50% < 95%: fails
    (0.95, False, True, False, 0),    # the same in a smoke run: reported, not enforced
    (0.50, False, False, True, 0),    # exactly at the threshold passes
    (0.75, True, False, True, 0),     # at most 75%: 50% passes
    (0.25, True, False, False, 1),    # at most 25%: 50% fails
])
def test_exit_code_follows_the_success_criterion(tmp_path, threshold, at_most, smoke, met, code):
    out = tmp_path / "nested" / "out.json"
    script = RUN_ONE_CRITERION.format(milestones=str(MILESTONES), threshold=threshold,
                                      at_most=at_most)
    result = run_python("-c", script, "--impl", "reference", "--out", str(out),
                        *(["--smoke"] if smoke else []))
    assert result.returncode == code, result.stdout + result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["criteria_met"] is met and data["criteria_enforced"] is not smoke
    assert data["results"] == {"loss": [0.5, None, None]}, "JSON has no NaN or infinity"
    if code == 1:
        assert "FAILED: toy_milestone did not meet its success criterion: toy accuracy: 50.0%" \
               in result.stderr


def test_code_not_written_yet_is_explained_with_exit_code_2():
    script = (f"import sys; sys.path.insert(0, {str(MILESTONES)!r}); import common\n"
              f"def milestone():\n"
              f"    raise NotImplementedError('Tensor.__add__: not implemented yet (kata 01)')\n"
              f"common.main(milestone)")
    result = run_python("-c", script)
    assert result.returncode == 2
    assert "runs code you have not written yet" in result.stderr
    assert "Tensor.__add__: not implemented yet (kata 01)" in result.stderr


def test_a_run_past_its_time_limit_is_stopped_with_exit_code_4(tmp_path):
    # the smoke run takes about a second; its limit here is a hundredth of one
    out = tmp_path / "out.json"
    result = run_python(str(MILESTONES / "01_perceptron_1958.py"), "--smoke", "--impl", "reference",
                        "--time-limit", "0.01", "--out", str(out))
    assert result.returncode == 4, result.stdout + result.stderr
    assert "Stopped after 01_perceptron_1958's time limit of 0.01 s" in result.stderr
    assert "give it more time: --time-limit SECONDS (0 for no limit)" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


TOY_PAST_ITS_LIMIT = """
import signal, sys, time
del signal.SIGALRM  # as on Windows: the watchdog raises the stop between bytecodes
sys.path.insert(0, {milestones!r})
import common
common.start("toy_milestone.py", "A toy.", sys.argv[1:])
def milestone():
    {body}
common.main(milestone)
"""


@pytest.mark.parametrize("body, stuck", [
    ("while True: pass", False),  # a Python loop stops at the limit
    ("time.sleep(600)", True),    # a call Python cannot interrupt: given up after the grace
])
def test_a_milestone_past_its_limit_stops_without_sigalrm(tmp_path, body, stuck):
    script = TOY_PAST_ITS_LIMIT.format(milestones=str(MILESTONES), body=body)
    result = run_python("-c", script, "--impl", "reference", "--time-limit", "0.5",
                        "--out", str(tmp_path / "out.json"))
    assert result.returncode == 4, result.stdout + result.stderr
    body_line = TOY_PAST_ITS_LIMIT.splitlines().index("    {body}") + 1
    assert (f"Stopped after toy_milestone's time limit of 0.5 s while running <string>:{body_line}."
            in result.stderr)
    assert ("It was still running 0.5 s later, in code that Python cannot interrupt"
            in result.stderr) is stuck


def test_defaults_are_the_students_code_and_the_results_folder():
    script = (f"import sys; sys.path.insert(0, {str(MILESTONES)!r}); import common\n"
              f"arguments = common.parse_arguments('x', [])\n"
              f"print(arguments.impl, arguments.smoke, arguments.out, common.RESULTS_DIR)")
    result = run_python("-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["student", "False", "None", str(MILESTONES / "results")]


def test_plot_is_saved_when_matplotlib_is_installed_and_skipped_politely_otherwise(tmp_path):
    png = tmp_path / "curves.png"
    result = run_python(str(MILESTONES / "02_xor_1969.py"), "--smoke", "--impl", "reference",
                        "--out", str(tmp_path / "out.json"), "--plot", str(png))
    assert result.returncode == 0, result.stderr
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "No plot: matplotlib is not installed" in result.stdout
        assert not png.exists()
    else:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cnn_1998_smoke(tmp_path):
    name = "04_cnn_1998"
    result, data = run_smoke(name, tmp_path / "out.json")
    check_common_fields(data, name)
    results = data["results"]
    for model in ("CNN", "MLP"):
        assert re.search(rf"^{model}  epoch +1/", result.stdout, re.MULTILINE)
    assert "The convolutions gain" in result.stdout
    epochs = results["recipe"]["epochs"]
    for model in ("cnn", "mlp"):
        history = results[model]["history"]
        assert [epoch["epoch"] for epoch in history] == list(range(1, epochs + 1))
        assert all(epoch["epoch_cpu_seconds"] > 0 for epoch in history)
    # conv 1->16 and 16->32 (3x3, no bias), two batch norms (scale and shift), Linear to 10.
    assert results["cnn"]["parameters"] == 16 * 9 + 2 * 16 + 32 * 16 * 9 + 2 * 32 + 32 * 7 * 7 * 10 + 10
    assert results["mlp"]["parameters"] == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
    matrix = results["cnn_confusion_matrix"]
    assert sum(map(sum, matrix)) == results["test_images"]
    assert results["cnn"]["test_accuracy"] == pytest.approx(
        sum(matrix[i][i] for i in range(10)) / results["test_images"])
    assert results["gain_points"] == pytest.approx(
        100 * (results["cnn"]["test_accuracy"] - results["mlp"]["test_accuracy"]))
    assert [c["name"] for c in data["criteria"]] == ["CNN test accuracy on TinyDigits"]
    assert data["criteria"][0]["threshold"] == 0.97


def write_fake_cifar(folder: Path, per_batch: int = 32) -> Path:
    """Batch files in the official format (pickled dicts, protocol 2) with random pixels."""
    import pickle

    import numpy as np

    rng = np.random.default_rng(0)
    batches = folder / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": [int(label) for label in rng.integers(0, 10, per_batch)]}
        (batches / name).write_bytes(pickle.dumps(batch, protocol=2))
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
             b"ship", b"truck"]
    (batches / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return folder


def test_cnn_1998_on_cifar10_reads_a_local_copy_and_scores_exact_images(tmp_path):
    import numpy as np

    folder = write_fake_cifar(tmp_path / "cifar")
    exact = tmp_path / "exact.npz"
    np.savez(exact, images=np.zeros((30, 3072), dtype=np.uint8), labels=np.arange(30) % 10)
    command = [str(MILESTONES / "04_cnn_1998.py"), "--smoke", "--impl", "reference",
               "--data", "cifar10", "--cifar-dir", str(folder), "--out", str(tmp_path / "o.json")]

    refused = run_python(*command)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "is not the official CIFAR-10 data_batch_1" in refused.stderr
    assert "--skip-checksum" in refused.stderr

    result = run_python(*command, "--skip-checksum", "--exact-test", str(exact),
                        "--threads", "1", "--accelerate")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    check_common_fields(data, "04_cnn_1998")
    results = data["results"]
    assert results["data"].startswith("CIFAR-10 (not verified")
    assert results["blas_threads"] == "1" and results["accelerated"] is True
    assert results["exact_test"]["images"] == 30
    assert 0.0 <= results["exact_test"]["cnn_accuracy"] <= 1.0
    assert set(results["cnn_per_class_accuracy"]) == {"airplane", "automobile", "bird", "cat",
                                                      "deer", "dog", "frog", "horse", "ship",
                                                      "truck"}
    assert data["criteria"][0]["threshold"] == 0.75


def test_cnn_1998_without_cifar10_says_how_to_download_it(tmp_path):
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    result = run_python(str(MILESTONES / "04_cnn_1998.py"), "--impl", "reference",
                        "--data", "cifar10", "--cifar-dir", str(empty),
                        "--out", str(tmp_path / "o.json"))
    assert result.returncode == 3
    assert "CIFAR-10 is not on disk" in result.stderr
    assert f"python -m tinytorch.data.cifar10 download --dir {empty}" in result.stderr
    assert not (tmp_path / "o.json").exists()


def test_transformer_2017_smoke(tmp_path):
    name = "05_transformer_2017"
    result, data = run_smoke(name, tmp_path / "out.json")
    check_common_fields(data, name)
    results = data["results"]
    assert re.search(r"^epoch +1/", result.stdout, re.MULTILINE)
    assert "Sample dialogues from the test split:" in result.stdout
    assert "Loss per epoch" in result.stdout
    history = results["history"]
    assert [epoch["epoch"] for epoch in history] == list(range(1, results["epochs"] + 1))
    assert all(epoch["train_loss"] > 0 and epoch["validation_loss"] > 0 for epoch in history)
    answers = results["answers"]
    assert len(answers) == results["test_questions"] > 0
    assert all(set(row) == {"context", "question", "expected", "generated"} for row in answers)
    assert all("\n" not in row["generated"] for row in answers), "an answer ends at the newline"
    correct = sum(row["generated"] == row["expected"] for row in answers)
    assert results["test_correct"] == correct
    assert data["criteria"][0]["value"] == pytest.approx(correct / len(answers))
    assert data["criteria"][0]["threshold"] == 0.80
    model = results["model"]
    dim, layers, vocab, mlp = model["dim"], model["num_layers"], model["vocab_size"], model["mlp_ratio"]
    per_block = 4 * dim + 4 * (dim * dim + dim) + 2 * dim * mlp * dim + mlp * dim + dim
    assert results["parameters"] == (vocab * dim + model["max_len"] * dim + layers * per_block
                                     + 2 * dim + dim * vocab)


def test_mlperf_2018_smoke_trains_the_1998_cnn_when_missing_and_measures_both_systems(tmp_path):
    name = "06_mlperf_2018"
    model = tmp_path / "cnn.npz"
    result = run_python(str(MILESTONES / f"{name}.py"), "--smoke", "--impl", "reference",
                        "--model", str(model), "--out", str(tmp_path / "out.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "running the 1998 milestone to make it" in result.stdout and model.exists()
    data = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    check_common_fields(data, name)
    results = data["results"]
    files = {system: (tmp_path / f"{name}_{system}.npz").stat().st_size
             for system in ("baseline", "optimized")}
    assert results["bytes"]["baseline"] == files["baseline"]
    assert results["bytes"]["optimized"] == files["optimized"] < files["baseline"]
    latency = results["latency"]
    assert latency["speedup"] == pytest.approx(latency["baseline"]["median_ms"]
                                               / latency["optimized"]["median_ms"])
    assert results["loops_vs_vectorized_max_abs_difference"] < 1e-3
    assert [benchmark["scenario"] for benchmark in results["benchmarks"]] == ["single_stream"] * 3
    criteria = {c["name"]: c for c in data["criteria"]}
    assert criteria["model bytes, baseline / optimized"]["threshold"] == 4.0
    assert criteria["single-stream speedup"]["threshold"] == 10.0
    assert criteria["optimized median latency"]["at_most"] is True


def test_mlp_1986_on_mnist_reads_a_local_copy_and_never_downloads(tmp_path):
    """``--data mnist`` on tiny IDX files in MNIST's format (tests/test_mnist.py writes them)."""
    spec = importlib.util.spec_from_file_location("mnist_files", Path(__file__).with_name("test_mnist.py"))
    mnist_files = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mnist_files)
    mnist_files.write_fake_mnist(tmp_path / "mnist", n_train=64, n_test=30)
    command = [str(MILESTONES / "03_mlp_1986.py"), "--smoke", "--impl", "reference", "--data", "mnist",
               "--out", str(tmp_path / "o.json")]

    refused = run_python(*command, "--mnist-dir", str(tmp_path / "mnist"))
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "is not the official train-images-idx3-ubyte" in refused.stderr
    assert "--skip-checksum" in refused.stderr

    result = run_python(*command, "--mnist-dir", str(tmp_path / "mnist"), "--skip-checksum")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    check_common_fields(data, "03_mlp_1986")
    assert data["results"]["data"] == "MNIST (not verified: --skip-checksum)"
    assert (data["results"]["train_images"], data["results"]["test_images"]) == (64, 30)
    assert data["criteria"][0]["threshold"] == 0.97

    missing = run_python(*command, "--mnist-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 3
    assert f"python -m tinytorch.data.mnist download --dir {tmp_path / 'nowhere'}" in missing.stderr
    assert not (tmp_path / "nowhere").exists(), "the milestone never downloads"


def test_a_full_run_on_the_students_code_is_recorded_in_progress(tmp_path):
    """`pytest --progress` shows the milestones beside the katas, with the figure and criterion."""
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".git", "__pycache__", ".ci",
                                                                   "results", ".tinytorch-*"))
    shutil.copytree(ROOT / "reference" / "tinytorch", project / "tinytorch", dirs_exist_ok=True)
    completed = subprocess.run([sys.executable, "milestones/02_xor_1969.py"], cwd=project,
                               capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr[-2000:]
    record = json.loads((project / ".tinytorch-progress.json").read_text())["milestones"]["02_xor_1969"]
    assert record["achieved"] == "yes" and ("needs" in record["result"])
    shown = subprocess.run([sys.executable, "-m", "pytest", "--progress", "-p", "no:cacheprovider"],
                           cwd=project, capture_output=True, text=True, timeout=600, check=False)
    assert "achieved  02_xor_1969" in shown.stdout and "not run   01_perceptron_1958" in shown.stdout
