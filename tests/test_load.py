"""No kata verdict depends on the machine's load.

A time may decide a kata test only where the expected effect is at least ten times the
threshold (a Python loop against one NumPy call); every near-1 speed-up is shown in the
metrics table and the lesson is asserted with bytes or counts instead. Two checks keep it so:

- a static guard reads every kata test and finds each ``assert`` that rests on a time
  measured on the real clock; each one must be listed in :data:`TIME_VERDICTS` with the
  effect measured on the reference, and that effect must be ten times its threshold;
- a load test runs the kata tests that measure time on the reference while busy processes
  compete for the cores, twice, and every run must pass.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class TimeVerdict:
    """A kata test allowed to fail on a time: ``thresholds`` are the numbers its time
    asserts compare with (0 aside). With ``at_least``, the time ratio must exceed them and
    ``measured`` is the lowest ratio seen on the reference; without it, a time in seconds
    must stay below them and ``measured`` is the highest seen on a lightly loaded machine.

    A verdict with no threshold only orders or equates figures of one measurement with
    each other (a median below its p99, a claim kept as it was made), which no load can
    break; ``exact`` lists the numbers such asserts name that are no threshold on a time
    (the number of timings taken, the 1 a share of one forward stays below)."""

    thresholds: tuple[float, ...] = ()
    measured: float = 0.0
    at_least: bool = True
    exact: tuple[float, ...] = ()

    def margin(self, threshold: float) -> float:
        return self.measured / threshold if self.at_least else threshold / self.measured


# The timings of ``--impl reference`` (BLAS on one thread) in five runs on a 2-core machine:
# three lightly loaded, two with other jobs on the cores (one of them with three busy loops
# too). The later runs gave ratios as large or larger, except the softmax loop's (32 at the
# lowest, after a change to the Tensor made each small operation dearer), and longer times,
# 2.4 s at most for kata 13's step and 0.94 s for kata 09's layer.
TIME_VERDICTS: dict[str, TimeVerdict] = {
    "01_tensor/test_6_systems.py::test_vectorized_matmul_beats_python_loops": TimeVerdict((10,), 3660),
    "02_activations/test_5_systems.py::test_vectorized_relu_beats_a_python_loop": TimeVerdict((3,), 84),
    "02_activations/test_5_systems.py::test_vectorized_softmax_beats_a_python_loop": TimeVerdict((2,), 32),
    "09_spatial/test_7_systems.py::test_vectorized_convolution_against_the_seven_loops": TimeVerdict((10,), 141),
    "09_spatial/test_7_systems.py::test_forward_backward_time_of_the_cifar_benchmark_layers":
        TimeVerdict((10,), 0.097, at_least=False),
    "10_tokenization/test_6_systems.py::test_encoding_throughput": TimeVerdict((5.0,), 0.026, at_least=False),
    "11_embeddings/test_5_systems.py::test_a_lookup_beats_multiplying_one_hot_vectors": TimeVerdict((3,), 182),
    "13_transformers/test_6_systems.py::test_time_of_a_training_step": TimeVerdict((20.0,), 0.21, at_least=False),
    "14_profiling/test_4_timing.py::test_real_timings_of_a_small_network": TimeVerdict(exact=(1,)),
    "14_profiling/test_6_systems.py::test_the_profile_table_of_the_1998_cnn": TimeVerdict(),
    "14_profiling/test_6_systems.py::test_the_profiler_costs_most_where_layers_are_fastest": TimeVerdict(),
    "18_acceleration/test_9_systems.py::test_loops_against_one_matrix_product": TimeVerdict((20,), 526),
    "18_acceleration/test_9_systems.py::test_broadcasting_is_vectorized_but_not_frugal": TimeVerdict((1.5,), 23),
    "18_acceleration/test_9_systems.py::test_a_transposed_operand_is_free_a_copy_across_the_grain_is_not":
        TimeVerdict((2,), 27),
    "18_acceleration/test_9_systems.py::test_the_tile_size_of_a_blocked_matmul": TimeVerdict((2,), 35),
    "18_acceleration/test_9_systems.py::test_forward_convolution_im2col_against_einsum": TimeVerdict((2,), 37),
    "19_benchmarking/test_8_systems.py::test_single_stream_latency_and_offline_throughput_of_an_mlp":
        TimeVerdict(exact=(5,)),
    "20_olympics/test_6_systems.py::test_every_version_is_verified_on_the_machine_that_submitted_it":
        TimeVerdict(),
    "20_olympics/test_6_systems.py::test_the_combined_score_weighs_bytes_against_latency": TimeVerdict(),
}

# The load test runs every file with a time verdict, and the fused kernels, whose speed-ups
# failed most often under load before they became metrics. The other files that time code
# show their times and assert none (the static guard sees to that).
LOAD_TESTED = sorted({key.split("::")[0] for key in TIME_VERDICTS} | {"18_acceleration/test_10_fused_kernels.py"})
BUSY_PROCESSES = 3

# -- the static guard ---------------------------------------------------------------------------

TIME_CALLS = {"time_ratio", "seconds", "perf_counter", "monotonic", "process_time"}
# What reads the real clock when it is given no ``timer``.
CLOCKED_FACTORIES = {"Benchmark", "profile", "rules_benchmark"}
# Attributes of a clocked result that are times, or figures computed from times.
TIME_ATTRIBUTES = {"speedup", "latency", "profiled_latency", "latency_seconds", "claimed_latency_seconds",
                   "latency_ci_low", "latency_ci_high", "latency_p99_seconds", "seconds", "overhead",
                   "throughput", "timings", "summary", "timed_seconds", "untimed_seconds", "median", "p90",
                   "p99", "ci_low", "ci_high", "relative_ci_width", "share", "combined"}
NONE, CLOCKED, TIME = 0, 1, 2  # nothing; an object that holds real timings; a time itself
Kind = int | tuple  # one of the three, or a tuple of kinds for a tuple of values


def flat(kind: Kind) -> int:
    """The most a value (or any part of a tuple of values) carries."""
    return max((flat(part) for part in kind), default=NONE) if isinstance(kind, tuple) else kind


def either(a: Kind, b: Kind) -> Kind:
    """What a value carries that may come from ``a`` or from ``b`` (two return statements)."""
    return b if a == NONE else a if b in (NONE, a) else max(flat(a), flat(b))


class TimeFlow:
    """Follows real-clock timings through one kata test file, statement by statement."""

    def __init__(self, tree: ast.Module) -> None:
        self.functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
        self.returns: dict[str, Kind] = dict.fromkeys(self.functions, NONE)
        changed = True
        while changed:  # helpers may call helpers: until nothing changes
            changed = False
            for name, node in self.functions.items():
                kind = self.run(node.body, self.parameters(node))[1]
                if kind != self.returns[name]:
                    self.returns[name], changed = kind, True

    def parameters(self, node: ast.FunctionDef) -> dict[str, Kind]:
        """A parameter named after a fixture of this file carries what that fixture returns."""
        return {arg.arg: self.returns.get(arg.arg, NONE) for arg in node.args.args}

    def kind(self, node: ast.AST | None, env: dict[str, Kind]) -> Kind:
        """What the value of the expression ``node`` carries; a tuple display keeps its parts."""
        if isinstance(node, ast.Tuple):
            return tuple(self.kind(element, env) for element in node.elts)
        if isinstance(node, ast.Name):
            return env.get(node.id, NONE)
        return self.flat_kind(node, env)

    def flat_kind(self, node: ast.AST | None, env: dict[str, Kind]) -> int:
        if node is None or isinstance(node, ast.Lambda | ast.Constant):
            return NONE
        if isinstance(node, ast.Name | ast.Tuple):
            return flat(self.kind(node, env))
        if isinstance(node, ast.Attribute):
            base = self.flat_kind(node.value, env)
            return TIME if base and node.attr in TIME_ATTRIBUTES else base
        if isinstance(node, ast.Call):
            return self.call_kind(node, env)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            inner = dict(env)
            for generator in node.generators:
                self.bind(generator.target, self.flat_kind(generator.iter, inner), inner)
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            return max(self.flat_kind(part, inner) for part in parts)
        return max((self.flat_kind(child, env) for child in ast.iter_child_nodes(node)), default=NONE)

    def call_kind(self, node: ast.Call, env: dict[str, Kind]) -> int:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if isinstance(func, ast.Name) and name in TIME_CALLS:
            return TIME
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "time":
            return TIME  # time.perf_counter(), time.time()
        if isinstance(func, ast.Name) and name in CLOCKED_FACTORIES:
            return NONE if any(keyword.arg == "timer" for keyword in node.keywords) else CLOCKED
        if isinstance(func, ast.Name) and name in self.returns:
            return flat(self.returns[name])
        owner = self.flat_kind(func.value, env) if isinstance(func, ast.Attribute) else NONE
        if owner:
            return TIME if name in TIME_ATTRIBUTES or owner == TIME else CLOCKED
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        return max((self.flat_kind(argument, env) for argument in arguments), default=NONE)

    def bind(self, target: ast.AST, kind: Kind, env: dict[str, Kind]) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = kind
        elif isinstance(target, ast.Tuple | ast.List):
            parts = kind if isinstance(kind, tuple) and len(kind) == len(target.elts) else [flat(kind)] * len(
                target.elts)
            for element, part in zip(target.elts, parts):
                self.bind(element, part, env)
        elif isinstance(target, ast.Subscript | ast.Attribute):  # entries[name] = ...: the container
            base = target.value
            while isinstance(base, ast.Subscript | ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name):
                env[base.id] = max(flat(env.get(base.id, NONE)), flat(kind))
        elif isinstance(target, ast.Starred):
            self.bind(target.value, flat(kind), env)

    def run(self, body: list[ast.stmt], env: dict[str, Kind]) -> tuple[list[ast.Assert], Kind]:
        """The asserts of ``body`` that rest on a time, and what its returns carry."""
        flagged: list[ast.Assert] = []
        returned: Kind = NONE
        for statement in body:
            if isinstance(statement, ast.Assign):
                kind = self.kind(statement.value, env)
                for target in statement.targets:
                    self.bind(target, kind, env)
            elif isinstance(statement, ast.AugAssign | ast.AnnAssign):
                self.bind(statement.target, max(self.flat_kind(statement.value, env),
                                                self.flat_kind(statement.target, env)), env)
            elif isinstance(statement, ast.For):
                self.bind(statement.target, self.flat_kind(statement.iter, env), env)
            elif isinstance(statement, ast.Assert) and self.flat_kind(statement.test, env) == TIME:
                flagged.append(statement)
            elif isinstance(statement, ast.Return):
                returned = either(returned, self.kind(statement.value, env))
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for field in ("body", "orelse", "finalbody"):
                inner, inner_return = self.run(getattr(statement, field, []), env)
                flagged += inner
                returned = either(returned, inner_return)
            for handler in getattr(statement, "handlers", []):
                inner, inner_return = self.run(handler.body, env)
                flagged += inner
                returned = either(returned, inner_return)
        return flagged, returned

    def time_asserts(self) -> dict[str, list[ast.Assert]]:
        found = {}
        for name, node in self.functions.items():
            if name.startswith("test_"):
                flagged = self.run(node.body, self.parameters(node))[0]
                if flagged:
                    found[name] = flagged
        return found


def thresholds(asserts: list[ast.Assert]) -> tuple[float, ...]:
    """The numbers the times are compared with: constant operands of every comparison."""
    found = set()
    for statement in asserts:
        for compare in (node for node in ast.walk(statement.test) if isinstance(node, ast.Compare)):
            for operand in (compare.left, *compare.comparators):
                value = operand.value if isinstance(operand, ast.Constant) else None
                if isinstance(value, int | float) and not isinstance(value, bool) and value:
                    found.add(float(value))
    return tuple(sorted(found))


def kata_time_verdicts() -> dict[str, tuple[float, ...]]:
    """``{"NN_slug/test_x.py::test_y": thresholds}`` for every kata test that asserts a time."""
    verdicts = {}
    for path in sorted((ROOT / "katas").glob("*/test_*.py")):
        flow = TimeFlow(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for test, asserts in flow.time_asserts().items():
            verdicts[f"{path.parent.name}/{path.name}::{test}"] = thresholds(asserts)
    return verdicts


def test_every_time_a_kata_asserts_is_listed_with_its_measured_effect():
    found = kata_time_verdicts()
    unlisted = sorted(set(found) - set(TIME_VERDICTS))
    assert not unlisted, (f"these kata tests assert a time measured on the real clock: show it as a "
                          f"metric and assert bytes or counts, or list it in TIME_VERDICTS with its "
                          f"measured effect: {unlisted}")
    assert not set(TIME_VERDICTS) - set(found), f"listed but asserting no time: {set(TIME_VERDICTS) - set(found)}"
    for key, verdict in TIME_VERDICTS.items():
        listed = tuple(sorted(float(number) for number in (*verdict.thresholds, *verdict.exact)))
        assert found[key] == listed, (
            f"{key}: its time asserts compare with {found[key]}, TIME_VERDICTS lists {listed}")


@pytest.mark.parametrize("key", list(TIME_VERDICTS))
def test_each_listed_time_verdict_has_ten_times_its_threshold(key):
    verdict = TIME_VERDICTS[key]
    for threshold in verdict.thresholds:
        assert verdict.margin(threshold) >= 10, f"{key}: measured {verdict.measured} against {threshold}"


def flow_of(source: str) -> dict[str, tuple[float, ...]]:
    flow = TimeFlow(ast.parse(source))
    return {name: thresholds(asserts) for name, asserts in flow.time_asserts().items()}


def test_the_guard_follows_a_time_through_names_helpers_fixtures_and_results():
    source = '''
import time
import pytest
from pytest_tinytorch.measure import seconds, time_ratio

def helper():
    return seconds(lambda: None)

@pytest.fixture
def measured():
    bench = Benchmark()
    entries = {}
    entries["a"] = verify("path", bench)
    return entries, bench

def test_ratio():
    ratio = time_ratio(f, g)
    band = 1 / ratio
    assert band < 2

def test_helper():
    assert helper() * 2 < 3

def test_fixture(measured):
    entries, _ = measured
    for name, entry in entries.items():
        assert entry.latency_seconds / entry.claimed_latency_seconds > 0.5
        assert entry.accuracy > 0.9

def test_clock():
    start = time.perf_counter()
    elapsed = time.perf_counter() - start
    assert elapsed < 1.5

def test_fake_clock(clock):
    result = profile(model, x, timer=clock)
    assert result.latency == 3.0

def test_recorded_only(metrics):
    metrics.record("ratio", time_ratio(f, g), "ratio")
    assert metrics
'''
    assert flow_of(source) == {"test_ratio": (2.0,), "test_helper": (3.0,), "test_fixture": (0.5,),
                               "test_clock": (1.5,)}


# -- the load test ------------------------------------------------------------------------------

def busy_processes(count: int) -> list[subprocess.Popen]:
    """``count`` Python processes spinning on the CPU until they are killed."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


@pytest.mark.parametrize("parallel", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_the_timed_kata_tests_pass_on_the_reference_under_load(parallel):
    """Twice, serially and on two workers; each run has the cores shared with busy loops."""
    files = [str(Path("katas") / name) for name in LOAD_TESTED]
    busy = busy_processes(BUSY_PROCESSES)
    try:
        completed = subprocess.run([sys.executable, "-m", "pytest", "--impl", "reference", "--no-gate",
                                    "-p", "no:cacheprovider", "-q", *parallel, *files],
                                   cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    failed = [line for line in completed.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert completed.returncode == 0, "\n".join(failed) or completed.stdout[-3000:] + completed.stderr[-2000:]
