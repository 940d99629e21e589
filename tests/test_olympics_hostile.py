"""The Olympics command against hostile, forged and mistaken files (issue 13).

Every case runs the reference implementation in a fresh Python (``PYTHONPATH`` pointing at
``reference/``, the working directory a temporary folder), as an instructor would run
``python -m tinytorch.systems.olympics`` on a class's files. Model files are built here
with NumPy alone, so a test never trusts the code it tests to make its inputs.

What is asserted, case by case: a hostile submission in a batch is refused in one line
that names it and the field at fault, while the honest one is verified and the board
written; each ordinary mistake is one line and a non-zero exit, never a traceback; a
forged leaderboard entry is refused, and one that no model file bears out is not ranked;
a model file that declares far more than it holds is refused before anything is allocated
(tracemalloc's peak stays under a few megabytes); ``--test-set`` scores on the
instructor's digits; the command pins the BLAS to one thread.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference"
TINYDIGITS = REFERENCE / "tinytorch" / "data" / "tinydigits.npz"
COMMAND = [sys.executable, "-m", "tinytorch.systems.olympics"]
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                         "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
TIMEOUT_SECONDS = 300
FEW_MEGABYTES = 4 * 2 ** 20
FLATTEN = {"type": "Flatten", "config": {}}
SHIPPED_TEST_SET_SHA256 = "335c60423c74054539f034ee88b28aec9fbaff888ab9d147dafd9e7344938416"
SHIPPED_TALKS_SHA256 = "0a2b013d550757cb9a93533e8342db89b81680ea1dacbaf121f1ce693eef4b10"


def environment(pinned: bool = True) -> dict[str, str]:
    """This process's environment with the reference first on the path; without the BLAS
    thread variables unless ``pinned``."""
    env = {name: value for name, value in os.environ.items()
           if pinned or name not in BLAS_THREAD_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join([str(REFERENCE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def olympics(folder: Path, *args: str, pinned: bool = True) -> subprocess.CompletedProcess:
    """``python -m tinytorch.systems.olympics ARGS`` in ``folder``, on the reference."""
    return subprocess.run([*COMMAND, *args], cwd=folder, env=environment(pinned), capture_output=True,
                          text=True, timeout=TIMEOUT_SECONDS, check=False)


def python(folder: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=folder, env=environment(), capture_output=True,
                          text=True, timeout=TIMEOUT_SECONDS, check=False)


class Run(NamedTuple):
    returncode: int | str
    stdout: str
    stderr: str


MAIN_DRIVER = """
import contextlib, io, json, sys
from tinytorch.systems.olympics import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except BaseException as error:
            code = f"raised {type(error).__name__}: {error}"
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""


def run_main(folder: Path, argvs: list[list[str]]) -> list[Run]:
    """The command line's ``main(argv)`` for each of ``argvs``, in ONE Python on the
    reference (starting one per case would cost a second each): exit code and output."""
    result = subprocess.run([sys.executable, "-c", MAIN_DRIVER, json.dumps(argvs)], cwd=folder,
                            env=environment(), capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                            check=False)
    assert result.returncode == 0, result.stderr
    return [Run(*item) for item in json.loads(result.stdout)]


def one_error_line(result: subprocess.CompletedProcess | Run) -> str:
    """The single line on stderr of a command that failed without a traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def linear(inputs: Any, outputs: Any) -> dict[str, Any]:
    return {"type": "Linear", "config": {"in_features": inputs, "out_features": outputs, "bias": True}}


def conv2d(inputs: int, outputs: int) -> dict[str, Any]:
    """A 3x3 convolution that keeps the height and the width (padding 1)."""
    return {"type": "Conv2d", "config": {"in_channels": inputs, "out_channels": outputs, "kernel_size": 3,
                                         "stride": 1, "padding": 1, "bias": True}}


def architecture(layers: list[Any]) -> str:
    return json.dumps({"format": "tinytorch-olympics-model", "version": 1, "input_shape": [1, 28, 28],
                       "layers": layers})


def write_model(path: Path, spec: str, **arrays: np.ndarray) -> Path:
    """A model file as save_model writes one: the architecture text and the arrays, compressed."""
    with open(path, "wb") as file:
        np.savez_compressed(file, architecture=np.array(spec), **arrays)
    return path


def honest_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Flatten then Linear(784, 10), small random weights: a model that classifies badly, honestly."""
    rng = np.random.default_rng(seed)
    return {"1/weight": rng.normal(0, 0.05, (784, 10)).astype(np.float32),
            "1/bias": np.zeros(10, np.float32)}


def write_zip_bomb(path: Path, declared_floats: int = 2 ** 26) -> Path:
    """An .npz of one member holding ``declared_floats`` float32 zeros (256 MiB, 8 times the
    limit) deflated to about 1 MB, next to a valid architecture."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (declared_floats,)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("architecture.npy", _npy(np.array(architecture([FLATTEN, linear(784, 10)]))))
        with archive.open("1/weight.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            zeros = bytes(2 ** 24)
            for _ in range(declared_floats * 4 // len(zeros)):
                member.write(zeros)
    return path


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def digests(folder: Path, paths: list[Path]) -> dict[str, str]:
    """The reference's model_digest of each readable file (by name), from one Python."""
    code = ("import json, sys\nfrom tinytorch.systems.olympics import model_digest\nout = {}\n"
            f"for name in {[path.name for path in paths]!r}:\n"
            "    try: out[name] = model_digest(name)\n"
            "    except ValueError: pass\n"
            "print(json.dumps(out))")
    result = python(folder, code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def forge_submission(folder: Path, honest: dict[str, Any], name: str, model: Path,
                     digest: str | None) -> Path:
    """The honest submission, retargeted at ``model`` with its true size and digest, so the
    verifier gets as far as loading it."""
    data = json.loads(json.dumps(honest))
    data["name"], data["model_file"] = name, model.name
    data["claims"]["model_bytes"] = model.stat().st_size
    data["model_sha256"] = digest or "0" * 64
    path = folder / f"{name}.json"
    path.write_text(json.dumps(data))
    return path


# -- a class's batch with hostile submissions in it ------------------------------------------

HOSTILE = {
    # name: (what it declares, the words its one-line refusal must contain)
    "giga": ("Linear(10**9, 10**9)", ["layer 1 (Linear)", "'in_features'", "1000000000"]),
    "empty": ("Linear(0, 10)", ["layer 1 (Linear)", "'in_features'", "got 0"]),
    "negative": ("Linear(784, -3)", ["layer 1 (Linear)", "'out_features'", "got -3"]),
    "fraction": ("Linear(784, 2.5)", ["layer 1 (Linear)", "'out_features'", "got 2.5"]),
    "tiny": ("a file of about 400 bytes declaring Linear(20000, 20000)",
             ["layer 1 (Linear)", "'in_features' = 20000", "784 features"]),
    "wide": ("Linear(784, 20000) then Linear(20000, 10): 16 million parameters",
             ["layer 1 (Linear)", "parameters", "4,194,304"]),
    "busy": ("four 3x3 convolutions of 16 channels on 28x28: 5.5 million operations per image",
             ["layer 3 (Conv2d)", "operations", "4,194,304"]),
    "deep": ("an architecture nested 30,000 levels deep", ["entry 'architecture'", "nested too deeply"]),
    "bomb": ("a 1 MB zip bomb declaring 256 MiB", ["entry '1/weight'", "268,435,584", "33,554,432"]),
    "pickled": ("a pickled array", ["entry '1/weight'", "dtype object"]),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An honest submission and one per HOSTILE case (plus a submission nested 100,000 deep
    and one of 2 MB), all verified in ONE call with a leaderboard."""
    folder = tmp_path_factory.mktemp("batch")
    write_model(folder / "ada.npz", architecture([FLATTEN, linear(784, 10)]), **honest_arrays())
    submitted = olympics(folder, "submit", "ada.npz", "--name", "ada")
    assert submitted.returncode == 0, submitted.stderr
    honest = json.loads((folder / "ada.json").read_text())

    layers = {"giga": [FLATTEN, linear(10 ** 9, 10 ** 9)], "empty": [FLATTEN, linear(0, 10)],
              "negative": [FLATTEN, linear(784, -3)], "fraction": [FLATTEN, linear(784, 2.5)],
              "tiny": [FLATTEN, linear(20000, 20000)],
              "wide": [FLATTEN, linear(784, 20000), linear(20000, 10)],
              "busy": [conv2d(1, 16)] + [conv2d(16, 16)] * 3}
    models = {name: write_model(folder / f"{name}.npz", architecture(spec)) for name, spec in layers.items()}
    models["deep"] = write_model(folder / "deep.npz", "[" * 30_000 + "]" * 30_000)
    models["bomb"] = write_zip_bomb(folder / "bomb.npz")
    models["pickled"] = write_model(folder / "pickled.npz", architecture([FLATTEN, linear(784, 10)]),
                                    **{"1/weight": np.array([{"os": "system"}], dtype=object)})
    known = digests(folder, list(models.values()))
    paths = [forge_submission(folder, honest, name, model, known.get(model.name))
             for name, model in models.items()]
    (folder / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "huge.json").write_text(json.dumps({**honest, "padding": "x" * 2 * 2 ** 20}))
    paths += [folder / "nested.json", folder / "huge.json"]

    result = olympics(folder, "verify", *[path.name for path in paths[:4]], "ada.json",
                      *[path.name for path in paths[4:]], "--leaderboard", "board.json")
    return {"folder": folder, "result": result, "models": models,
            "lines": {line.split(":")[0]: line for line in result.stderr.splitlines()}}


def test_the_honest_submission_is_verified_and_the_board_written(batch):
    result = batch["result"]
    assert result.returncode == 1, "some submissions were rejected"
    assert "Traceback" not in result.stderr, result.stderr
    assert "ada.json: ada: verified" in result.stdout
    board = json.loads((batch["folder"] / "board.json").read_text())
    assert [entry["name"] for entry in board["entries"]] == ["ada"]
    assert len(result.stderr.splitlines()) == len(HOSTILE) + 2, "one line per rejected submission"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_model_is_rejected_by_name_with_the_field(batch, name):
    declared, words = HOSTILE[name]
    line = batch["lines"][f"{name}.json"]
    assert line.startswith(f"{name}.json: rejected, "), line
    for word in words:
        assert word in line, f"{declared}: {line}"


def test_the_tiny_file_is_tiny(batch):
    assert batch["models"]["tiny"].stat().st_size < 500, "a few hundred bytes declaring 1.6 GB"
    assert batch["models"]["wide"].stat().st_size < 500
    assert batch["models"]["bomb"].stat().st_size < 2 * 2 ** 20


def test_a_submission_nested_100000_deep_or_too_large_is_rejected(batch):
    assert "nested too deeply" in batch["lines"]["nested.json"]
    assert "more than the 1,048,576 a submission may have" in batch["lines"]["huge.json"]


# -- memory: refused before allocating --------------------------------------------------------

MEASURE_LOAD = """
import sys, tracemalloc
from tinytorch.systems import olympics
load = getattr(olympics, sys.argv[2])
tracemalloc.start()
try:
    load(sys.argv[1])
    print("loaded")
except ValueError as error:
    print(error)
print(tracemalloc.get_traced_memory()[1])
"""


def peak_while_refusing(folder: Path, name: str, loader: str = "load_model") -> tuple[str, int]:
    """The reference's ``loader`` on ``folder/name.npz`` under tracemalloc, in a fresh Python:
    its refusal and the peak of memory traced."""
    result = subprocess.run([sys.executable, "-c", MEASURE_LOAD, f"{name}.npz", loader], cwd=folder,
                            env=environment(), capture_output=True, text=True, timeout=TIMEOUT_SECONDS,
                            check=False)
    message, peak = result.stdout.strip().splitlines()
    assert message.startswith(f"{name}.npz: "), message
    return message, int(peak)


@pytest.mark.parametrize("name", ["tiny", "wide", "bomb"])
def test_a_file_declaring_gigabytes_is_refused_without_allocating(batch, name):
    message, peak = peak_while_refusing(batch["folder"], name)
    assert peak < FEW_MEGABYTES, f"{name}: peak {peak:,} bytes while refusing: {message}"


# -- submit: ordinary mistakes --------------------------------------------------------------

MISTAKES = [
    (["submit", "pickled.npz", "--name", "bob"], ["pickled.npz", "dtype object"]),
    (["submit", "ada.npz", "--name", "ada/../../x"], ["name", "'ada/../../x'"]),
    (["submit", "missing.npz", "--name", "cy"], ["missing.npz", "no such file"]),
    (["submit", "ada.npz", "--name", "ada", "--out", "elsewhere/ada.json"], ["folder", "ada.npz"]),
    (["submit", "ada.npz"], ["--name"]),
    (["submit"], ["model"]),
    (["publish", "ada.npz"], ["'publish'"]),
    (["verify", "ada.json", "--event", "speed"], ["'speed'"]),
    (["verify", "ada.json", "--test-set", "missing.npz"], ["missing.npz"]),
    (["leaderboard", "missing.json"], ["missing.json"]),
]


@pytest.fixture(scope="module")
def mistakes(tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    """Every command line of MISTAKES, run in a folder with an honest and a pickled model."""
    folder = tmp_path_factory.mktemp("submit")
    write_model(folder / "ada.npz", architecture([FLATTEN, linear(784, 10)]), **honest_arrays())
    write_model(folder / "pickled.npz", architecture([FLATTEN, linear(784, 10)]),
                **{"1/weight": np.array([{"os": "system"}], dtype=object)})
    (folder / "elsewhere").mkdir()
    return run_main(folder, [args for args, _ in MISTAKES])


@pytest.mark.parametrize("case", range(len(MISTAKES)), ids=[" ".join(args) for args, _ in MISTAKES])
def test_a_command_line_mistake_is_one_line_and_a_nonzero_exit(mistakes, case):
    result, (_, words) = mistakes[case], MISTAKES[case]
    line = one_error_line(result)
    assert result.returncode == 2 and line.startswith("error: "), line
    for word in words:
        assert word in line, line
    assert result.stdout == ""


def test_the_command_itself_answers_a_mistake_in_one_line(tmp_path):
    result = olympics(tmp_path, "submit", "missing.npz", "--name", "cy")
    assert one_error_line(result) == "error: missing.npz: no such file" and result.returncode == 2


# -- forged leaderboards ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def verified(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with two honest models, their submissions and the board verifying them."""
    folder = tmp_path_factory.mktemp("board")
    for seed, name in enumerate(["ada", "bob"]):
        write_model(folder / f"{name}.npz", architecture([FLATTEN, linear(784, 10)]), **honest_arrays(seed))
        assert olympics(folder, "submit", f"{name}.npz", "--name", name).returncode == 0
    result = olympics(folder, "verify", "ada.json", "bob.json", "--leaderboard", "board.json")
    assert result.returncode == 0, result.stderr
    return folder


FORGERIES = [
    ({"latency_seconds": 0.0}, ["'latency_seconds'", "0.0"]),
    ({"latency_seconds": -1e-5}, ["'latency_seconds'"]),
    ({"accuracy": float("nan")}, ["'accuracy'", "nan"]),
    ({"accuracy": 5.0}, ["'accuracy'", "5.0"]),
    ({"model_bytes": -1}, ["'model_bytes'", "-1"]),
    ({"throughput": float("inf")}, ["'throughput'", "inf"]),
    ({"latency_ci_low": 1.0}, ["'latency_ci_low'"]),
    ({"test_set_sha256": "1" * 64}, ["'test_set_sha256'"]),
]


def forge_boards(folder: Path, changes: list[dict[str, Any]]) -> list[list[str]]:
    """``folder/board.json`` with its first entry edited by each of ``changes``, written to
    ``forged<index>.json``; the command line ``leaderboard FILE`` for each file."""
    argvs = []
    for index, change in enumerate(changes):
        board = json.loads((folder / "board.json").read_text())
        board["entries"][0].update(change)
        (folder / f"forged{index}.json").write_text(json.dumps(board))
        argvs.append(["leaderboard", f"forged{index}.json"])
    return argvs


@pytest.fixture(scope="module")
def forgeries(verified: Path) -> list[Run]:
    """``leaderboard FILE`` on the verified board edited by each of FORGERIES."""
    return run_main(verified, forge_boards(verified, [change for change, _ in FORGERIES]))


@pytest.mark.parametrize("case", range(len(FORGERIES)), ids=[str(change) for change, _ in FORGERIES])
def test_an_impossible_entry_is_refused_in_one_line(forgeries, case):
    result, (_, words) = forgeries[case], FORGERIES[case]
    line = one_error_line(result)
    assert result.returncode == 2 and f"forged{case}.json" in line, line
    for word in words:
        assert word in line, line
    assert result.stdout == "", "nothing is ranked from a forged board"


def test_an_entry_no_model_file_bears_out_is_not_ranked(verified):
    board = json.loads((verified / "board.json").read_text())
    forged = {**board["entries"][0], "name": "mallory", "model_sha256": "f" * 64, "accuracy": 0.999,
              "latency_seconds": 1e-7, "latency_ci_low": 1e-7, "latency_ci_high": 1e-7}
    tampered = {**board["entries"][1], "accuracy": round(board["entries"][1]["accuracy"] + 0.5, 3)}
    board["entries"] = [board["entries"][0], tampered, forged]
    (verified / "tampered.json").write_text(json.dumps(board))

    trusting = olympics(verified, "leaderboard", "tampered.json", "--event", "accuracy")
    assert trusting.returncode == 0 and "mallory" in trusting.stdout, "without --models it cannot tell"

    result = olympics(verified, "leaderboard", "tampered.json", "--models", ".", "--event", "accuracy",
                      "--out", "rechecked.json")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    refused = result.stderr.splitlines()
    assert len(refused) == 2, result.stderr
    assert "'mallory'" in refused[1] and "'model_sha256'" in refused[1]
    assert "'bob'" in refused[0] and "'accuracy'" in refused[0]
    ranked = [row.split()[1] for row in result.stdout.splitlines()[3:]]
    assert ranked == ["ada"]
    assert [entry["name"] for entry in json.loads((verified / "rechecked.json").read_text())["entries"]] == ["ada"]


# -- an instructor-held test set -------------------------------------------------------------

def memorising_model(path: Path, pixels: np.ndarray, labels: np.ndarray) -> Path:
    """Nearest neighbour over the given digits as a Sequential: Linear scores each stored
    image by -|x - t|^2 / 2 (times a sharpness), Softmax picks the nearest, a second Linear
    turns it into its label. It classifies the digits it stores perfectly."""
    templates = pixels.reshape(len(pixels), -1).astype(np.float64) / 255.0
    sharpness = 20.0
    first = {"1/weight": (sharpness * templates.T).astype(np.float32),
             "1/bias": (-sharpness * 0.5 * (templates ** 2).sum(axis=1)).astype(np.float32)}
    second = {"3/weight": np.eye(10, dtype=np.float32)[labels], "3/bias": np.zeros(10, np.float32)}
    spec = architecture([FLATTEN, linear(784, len(pixels)),
                         {"type": "Softmax", "config": {"axis": -1}}, linear(len(pixels), 10)])
    return write_model(path, spec, **first, **second)


def nearest_neighbour_accuracy(stored: np.ndarray, labels: np.ndarray, queries: np.ndarray,
                               answers: np.ndarray) -> float:
    a = stored.reshape(len(stored), -1) / 255.0
    b = queries.reshape(len(queries), -1) / 255.0
    distances = (b ** 2).sum(1)[:, None] - 2 * b @ a.T + (a ** 2).sum(1)[None, :]
    return float(np.mean(labels[distances.argmin(axis=1)] == answers))


def test_memorising_the_shipped_digits_buys_nothing_on_a_held_out_test_set(tmp_path):
    with np.load(TINYDIGITS, allow_pickle=False) as digits:
        x_test, y_test = digits["x_test"], digits["y_test"]
        held_x, held_y = digits["x_train"][:1000], digits["y_train"][:1000]
    np.savez(tmp_path / "instructor.npz", x_test=held_x, y_test=held_y)
    memorising_model(tmp_path / "parrot.npz", x_test, y_test)
    submitted = olympics(tmp_path, "submit", "parrot.npz", "--name", "parrot")
    assert submitted.returncode == 0, submitted.stderr
    assert json.loads((tmp_path / "parrot.json").read_text())["claims"]["accuracy"] == 1.0, "it memorised"

    result = olympics(tmp_path, "verify", "parrot.json", "--test-set", "instructor.npz",
                      "--leaderboard", "board.json")
    assert result.returncode == 0, result.stderr
    board = json.loads((tmp_path / "board.json").read_text())
    entry = board["entries"][0]
    expected = nearest_neighbour_accuracy(x_test, y_test, held_x, held_y)
    assert entry["accuracy"] == pytest.approx(expected, abs=0.002) and entry["accuracy"] < 0.95
    assert entry["test_set_sha256"] == board["environment"]["test_set_sha256"] != SHIPPED_TEST_SET_SHA256

    mixed = olympics(tmp_path, "verify", "parrot.json", "--leaderboard", "board.json")
    assert "another machine or test set" in one_error_line(mixed), "a board keeps one test set"


def test_a_malformed_test_set_is_one_line(tmp_path):
    np.savez(tmp_path / "labels.npz", x_test=np.zeros((3, 28, 28), np.uint8), y_test=np.array([1, 2, 11]))
    np.savez(tmp_path / "pixels.npz", x_test=np.zeros((3, 28, 28), np.float32), y_test=np.array([1, 2, 3]))
    for name, field in (("labels.npz", "'y_test'"), ("pixels.npz", "'x_test'")):
        line = one_error_line(olympics(tmp_path, "verify", "x.json", "--test-set", name))
        assert name in line and field in line, line


# -- the TinyTalks task: GPT model files written with NumPy alone ------------------------------

SPECIAL = "<|endoftext|>"
# A TinyGPT over bytes, long enough for every shipped question with its answer.
TINY_GPT = {"vocab_size": 257, "max_len": 288, "dim": 16, "num_layers": 1, "num_heads": 2, "mlp_ratio": 2}


def gpt(vocab_size: int = 257, max_len: int = 288, dim: int = 16, num_layers: int = 1, num_heads: int = 2,
        mlp_ratio: int = 2) -> dict[str, Any]:
    """A GPT's configuration, as a TinyTalks architecture declares it."""
    return {"vocab_size": vocab_size, "max_len": max_len, "dim": dim, "num_layers": num_layers,
            "num_heads": num_heads, "mlp_ratio": mlp_ratio}


def gpt_arrays(config: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 arrays under the names and shapes of a GPT's state_dict, as layer 0."""
    vocab, dim, hidden = config["vocab_size"], config["dim"], config["mlp_ratio"] * config["dim"]
    shapes = {"token_embedding.weight": (vocab, dim), "position_embedding.weight": (config["max_len"], dim)}
    for block in range(config["num_layers"]):
        prefix = f"blocks.{block}."
        shapes |= {f"{prefix}ln1.weight": (dim,), f"{prefix}ln1.bias": (dim,)}
        for projection in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes |= {f"{prefix}attn.{projection}.weight": (dim, dim), f"{prefix}attn.{projection}.bias": (dim,)}
        shapes |= {f"{prefix}ln2.weight": (dim,), f"{prefix}ln2.bias": (dim,),
                   f"{prefix}mlp.fc.weight": (dim, hidden), f"{prefix}mlp.fc.bias": (hidden,),
                   f"{prefix}mlp.proj.weight": (hidden, dim), f"{prefix}mlp.proj.bias": (dim,)}
    shapes |= {"ln_f.weight": (dim,), "ln_f.bias": (dim,), "head.weight": (dim, vocab)}
    rng = np.random.default_rng(seed)
    return {f"0/{name}": rng.normal(0, 0.2, shape).astype(np.float32) for name, shape in shapes.items()}


def talks_architecture(config: dict[str, Any], special_tokens: Any = (SPECIAL,)) -> str:
    """A TinyTalks architecture, keys in the order save_talker writes them."""
    return json.dumps({"format": "tinytorch-olympics-model", "version": 1, "task": "tinytalks",
                       "layers": [{"type": "GPT", "config": config}],
                       "tokenizer": {"type": "BPETokenizer", "special_tokens": list(special_tokens)}})


def write_talker(path: Path, config: dict[str, Any], merges: Any = (), with_arrays: bool = True,
                 special_tokens: Any = (SPECIAL,), seed: int = 0) -> Path:
    """A TinyTalks model file: the architecture, the merges (uint16 unless given as an
    array) and, ``with_arrays``, the GPT's arrays."""
    merges = merges if isinstance(merges, np.ndarray) else np.array(merges, dtype=np.uint16).reshape(-1, 2)
    arrays = gpt_arrays(config, seed) if with_arrays else {}
    return write_model(path, talks_architecture(config, special_tokens), **{"tokenizer/merges": merges}, **arrays)


def doubling_merges(count: int) -> list[tuple[int, int]]:
    """Merges whose every token is two of the one before: "aa", "aaaa", ... 2**count bytes."""
    return [(97, 97)] + [(257 + index, 257 + index) for index in range(count - 1)]


TALKS_HOSTILE = {
    # name: (the file, the words its one-line refusal must contain)
    "giant": ({"config": gpt(vocab_size=65_536, dim=65_536), "with_arrays": False},
              ["layer 0 (GPT)", "parameters", "4,194,304"]),
    "context": ({"config": gpt(max_len=65_536, dim=8, num_heads=1), "with_arrays": False},
                ["layer 0 (GPT)", "numbers from one sequence", "524,288"]),
    "busy": ({"config": gpt(max_len=512, dim=256, num_layers=4, num_heads=1, mlp_ratio=4), "with_arrays": False},
             ["layer 0 (GPT)", "operations per generated token", "268,435,456"]),
    "heads": ({"config": gpt(num_heads=3)}, ["layer 0 (GPT)", "'dim' = 16", "'num_heads' = 3"]),
    "deep": ({"config": gpt(num_layers=1000), "with_arrays": False}, ["'num_layers'", "1 to 256", "1000"]),
    "outside": ({"config": gpt(vocab_size=258), "merges": [(97, 300)]}, ["merge 0 (97, 300)", "below 257"]),
    "negative": ({"config": gpt(vocab_size=258), "merges": np.array([[-1, 97]], dtype=np.int64)},
                 ["merge 0 (-1, 97)"]),
    "special": ({"config": gpt(vocab_size=258), "merges": [(256, 97)]}, ["merge 0 (256, 97)", "special"]),
    "fractional": ({"config": gpt(vocab_size=258), "merges": np.array([[97.0, 98.5]])},
                   ["'tokenizer/merges'", "integer pairs", "float64"]),
    "bomb": ({"config": gpt(vocab_size=281), "merges": doubling_merges(24), "with_arrays": False},
             ["merge 18", "1,048,843 bytes", "1,048,576"]),
    "vocabulary": ({"config": gpt(vocab_size=300)}, ["257 tokens", "'vocab_size' is 300"]),
    "specials": ({"config": gpt(), "special_tokens": ["x" * 100]}, ["'special_tokens'", "1 to 64"]),
}


@pytest.fixture(scope="module")
def talks_batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An honest TinyTalks submission, one per TALKS_HOSTILE case and a digits model, all
    verified in ONE call of ``verify --task tinytalks`` with a leaderboard."""
    folder = tmp_path_factory.mktemp("talks")
    write_talker(folder / "tal.npz", TINY_GPT)
    submitted = olympics(folder, "submit", "tal.npz", "--name", "tal")
    assert submitted.returncode == 0, submitted.stderr
    honest = json.loads((folder / "tal.json").read_text())
    models = {name: write_talker(folder / f"{name}.npz", **case) for name, (case, _) in TALKS_HOSTILE.items()}
    models["digits"] = write_model(folder / "digits.npz", architecture([FLATTEN, linear(784, 10)]),
                                   **honest_arrays())
    known = digests(folder, list(models.values()))
    paths = [forge_submission(folder, honest, name, model, known.get(model.name)) for name, model in models.items()]
    result = olympics(folder, "verify", "--task", "tinytalks", "tal.json", *[path.name for path in paths],
                      "--leaderboard", "board.json")
    return {"folder": folder, "result": result, "honest": honest,
            "lines": {line.split(":")[0]: line for line in result.stderr.splitlines()}}


def test_an_honest_tinytalks_model_is_verified_beside_hostile_ones(talks_batch):
    result = talks_batch["result"]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "tal.json: tal: verified" in result.stdout
    assert len(result.stderr.splitlines()) == len(TALKS_HOSTILE) + 1, result.stderr
    board = json.loads((talks_batch["folder"] / "board.json").read_text())
    assert board["environment"]["task"] == "tinytalks"
    assert board["environment"]["test_set_sha256"] == SHIPPED_TALKS_SHA256
    [entry] = board["entries"]
    assert entry["name"] == "tal" and entry["task"] == "tinytalks" and entry["uncached_latency_seconds"] > 0
    assert entry["accuracy"] == talks_batch["honest"]["claims"]["accuracy"]


@pytest.mark.parametrize("name", sorted(TALKS_HOSTILE))
def test_a_hostile_tinytalks_model_is_rejected_by_name_with_the_field(talks_batch, name):
    line = talks_batch["lines"][f"{name}.json"]
    assert line.startswith(f"{name}.json: rejected, "), line
    for word in TALKS_HOSTILE[name][1]:
        assert word in line, line


def test_a_model_of_the_other_task_is_rejected_before_it_runs(talks_batch):
    line = talks_batch["lines"]["digits.json"]
    assert line.startswith("digits.json: rejected, task: ") and "digits task" in line, line


@pytest.mark.parametrize("name", ["giant", "context", "bomb"])
def test_a_tinytalks_file_declaring_too_much_is_refused_without_allocating(talks_batch, name):
    folder = talks_batch["folder"]
    assert (folder / f"{name}.npz").stat().st_size < 1000, "a small file, declaring far more"
    message, peak = peak_while_refusing(folder, name, "load_talker")
    assert peak < FEW_MEGABYTES, f"{name}: peak {peak:,} bytes while refusing: {message}"


ROUND_TRIP = """
import numpy as np
from tinytorch.core import Tensor, no_grad
from tinytorch.systems.olympics import load_talker, model_digest, save_talker
talker = load_talker("tal.npz")
save_talker("again.npz", talker)
again = load_talker("again.npz")
ids = Tensor(np.arange(60).reshape(2, 30))
with no_grad():
    same = np.array_equal(talker.model(ids).data, again.model(ids).data)
print(same, model_digest("tal.npz") == model_digest("again.npz"), again.tokenizer.vocab_size)
"""


def test_a_tinytalks_file_written_with_numpy_alone_loads_and_saves_back_to_the_same_model(talks_batch):
    result = python(talks_batch["folder"], ROUND_TRIP)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True", "257"], "the same logits, the same digest, 257 tokens"


TALKS_FORGERIES = [
    ({"uncached_latency_seconds": float("nan")}, ["'uncached_latency_seconds'", "nan"]),
    ({"uncached_latency_seconds": 0.0}, ["'uncached_latency_seconds'", "0.0"]),
    ({"uncached_latency_seconds": None}, ["'uncached_latency_seconds'", "None"]),
    ({"latency_seconds": float("nan")}, ["'latency_seconds'", "nan"]),
    ({"task": "chess"}, ["'task'", "'chess'"]),
    ({"task": "digits"}, ["'uncached_latency_seconds'", "TinyTalks figure"]),
    ({"task": "digits", "uncached_latency_seconds": None}, ["'task'", "'digits'", "tinytalks task"]),
]


@pytest.fixture(scope="module")
def talks_forgeries(talks_batch: dict[str, Any]) -> list[Run]:
    """``leaderboard FILE`` on the TinyTalks board edited by each of TALKS_FORGERIES, then on
    the board made a digits board (no task, no test set in its environment), its TinyTalks
    entry left in it."""
    folder = talks_batch["folder"]
    argvs = forge_boards(folder, [change for change, _ in TALKS_FORGERIES])
    board = json.loads((folder / "board.json").read_text())
    board["environment"] = {key: value for key, value in board["environment"].items()
                            if key not in ("task", "test_set_sha256")}
    (folder / "mixed.json").write_text(json.dumps(board))
    argvs.append(["leaderboard", "mixed.json"])
    return run_main(folder, argvs)


@pytest.mark.parametrize("case", range(len(TALKS_FORGERIES) + 1),
                         ids=[str(change) for change, _ in TALKS_FORGERIES] + ["tinytalks entry on a digits board"])
def test_an_impossible_tinytalks_entry_is_refused_in_one_line(talks_forgeries, case):
    result = talks_forgeries[case]
    line = one_error_line(result)
    assert result.returncode == 2 and result.stdout == "", line
    words = (TALKS_FORGERIES[case][1] if case < len(TALKS_FORGERIES)
             else ["mixed.json", "'task' is 'tinytalks'", "the digits task"])
    for word in words:
        assert word in line, line


def test_a_tinytalks_board_is_rechecked_against_its_model_files(talks_batch):
    folder = talks_batch["folder"]
    board = json.loads((folder / "board.json").read_text())
    honest = board["entries"][0]
    board["entries"].append({**honest, "name": "mallory", "accuracy": round(honest["accuracy"] + 0.25, 6)})
    (folder / "tampered.json").write_text(json.dumps(board))
    result = olympics(folder, "leaderboard", "tampered.json", "--models", ".", "--event", "latency_no_cache")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    [refused] = result.stderr.splitlines()
    assert "'mallory'" in refused and "'accuracy'" in refused and "of 544 correct" in refused, refused
    assert result.stdout.splitlines()[0] == "event: latency_no_cache"
    assert [row.split()[1] for row in result.stdout.splitlines()[3:]] == ["tal"]


def test_an_instructors_questions_score_a_tinytalks_model(talks_batch):
    folder = talks_batch["folder"]
    (folder / "held.txt").write_text("Q: What is 1 + 1?\nA: 2.\n\nQ: Hello!\nA: Hi!\nQ: Capital of Chile?\n"
                                     "A: Santiago.\n")
    result = olympics(folder, "verify", "--task", "tinytalks", "tal.json", "--test-set", "held.txt",
                      "--leaderboard", "held-board.json")
    assert result.returncode == 0, result.stderr
    board = json.loads((folder / "held-board.json").read_text())
    digest = hashlib.sha256((folder / "held.txt").read_bytes()).hexdigest()
    assert board["environment"]["test_set_sha256"] == board["entries"][0]["test_set_sha256"] == digest
    assert board["entries"][0]["accuracy"] in (0, 1 / 3, 2 / 3, 1), "counted on the three questions"


TALKS_MISTAKES = [
    # (a test set's name and bytes, or None, the command's arguments, the words its one line holds)
    (("blocks.txt", b"Q: Hi\nQ: again\n"), ["--test-set", "blocks.txt"], ["blocks.txt", "block 1", "alternating"]),
    (("latin1.txt", b"Q: \xff\nA: x.\n"), ["--test-set", "latin1.txt"], ["latin1.txt", "not UTF-8"]),
    (("long.txt", b"Q: Say it all.\nA: " + b"x" * 300 + b"\n"), ["--test-set", "long.txt"],
     ["long.txt", "longer than the 256 bytes"]),
    (None, ["--task", "chess"], ["--task", "'chess'"]),
    (None, ["--event", "latency_no_cache"], ["the digits task has the events", "throughput"]),
    (None, ["--task", "tinytalks", "--event", "throughput"], ["the tinytalks task has the events"]),
]


@pytest.fixture(scope="module")
def talks_mistakes(tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    """``verify x.json ARGS`` for each of TALKS_MISTAKES, in a folder holding its test sets."""
    folder = tmp_path_factory.mktemp("talks-mistakes")
    for test_set, _, _ in TALKS_MISTAKES:
        if test_set is not None:
            (folder / test_set[0]).write_bytes(test_set[1])
    argvs = [["verify", "x.json", *args] for _, args, _ in TALKS_MISTAKES]
    argvs[:3] = [["verify", "--task", "tinytalks", *argv[1:]] for argv in argvs[:3]]
    return run_main(folder, argvs)


@pytest.mark.parametrize("case", range(len(TALKS_MISTAKES)), ids=[" ".join(args) for _, args, _ in TALKS_MISTAKES])
def test_a_malformed_tinytalks_test_set_or_option_is_one_line(talks_mistakes, case):
    line = one_error_line(talks_mistakes[case])
    assert talks_mistakes[case].returncode == 2 and line.startswith("error: "), line
    for word in TALKS_MISTAKES[case][2]:
        assert word in line, line


# -- BLAS threads --------------------------------------------------------------------------

def test_the_command_pins_the_blas_to_one_thread(tmp_path):
    write_model(tmp_path / "ada.npz", architecture([FLATTEN, linear(784, 10)]), **honest_arrays())
    assert olympics(tmp_path, "submit", "ada.npz", "--name", "ada", pinned=False).returncode == 0
    result = olympics(tmp_path, "verify", "ada.json", "--leaderboard", "board.json", pinned=False)
    assert result.returncode == 0, result.stderr
    recorded = json.loads((tmp_path / "board.json").read_text())["environment"]["blas_thread_env"]
    assert recorded == dict.fromkeys(BLAS_THREAD_VARIABLES, "1")

    in_process = ("import os, sys\n"
                  "for name in sys.argv[1:]: os.environ.pop(name, None)\n"
                  "from tinytorch.systems.olympics import main\n"
                  "sys.exit(main(['verify', 'ada.json']))")
    refused = subprocess.run([sys.executable, "-c", in_process, *BLAS_THREAD_VARIABLES], cwd=tmp_path,
                             env=environment(pinned=False), capture_output=True, text=True,
                             timeout=TIMEOUT_SECONDS, check=False)
    line = one_error_line(refused)
    assert "one thread" in line and "OPENBLAS_NUM_THREADS=None" in line, line


# -- the shared reader's checks of the zip's end record (tinytorch/untrusted.py, given code) ---

def test_an_archive_listing_thousands_of_entries_is_refused_before_zipfile_reads_them(tmp_path):
    from tinytorch.untrusted import MAX_NPZ_ENTRIES, FileFormatError, read_npz

    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(MAX_NPZ_ENTRIES + 1):
            archive.writestr(f"{index}.npy", b"")
    with pytest.raises(FileFormatError, match=f"lists {MAX_NPZ_ENTRIES + 1:,} entries") as error:
        read_npz(path)
    assert str(path) in str(error.value)


def test_a_zip64_archive_is_refused(tmp_path):
    from tinytorch.untrusted import FileFormatError, read_npz

    plain = tmp_path / "plain.npz"
    with open(plain, "wb") as file:
        np.savez(file, a=np.ones(3))
    data = plain.read_bytes()
    end = data.rfind(b"PK\x05\x06")
    locator = b"PK\x06\x07" + bytes(16)   # a zip64 end locator just before the end record
    (tmp_path / "zip64.npz").write_bytes(data[:end] + locator + data[end:])
    with pytest.raises(FileFormatError, match="zip64"):
        read_npz(tmp_path / "zip64.npz")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_pipe_is_refused_rather_than_read_forever(tmp_path):
    from tinytorch.untrusted import FileFormatError, read_npz

    os.mkfifo(tmp_path / "pipe.npz")
    with pytest.raises(FileFormatError, match="not a regular file"):
        read_npz(tmp_path / "pipe.npz")
