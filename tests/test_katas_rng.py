"""A kata test draws its random numbers from a generator of its own.

A generator created at module level and drawn from inside the tests hands each test whatever
the tests before it left: ``-k``, ``--lf`` or ``-n 2`` (which splits a module between
workers) change a test's inputs, and a failure seen in a full run may vanish when the test
runs alone. Kata tests take the ``rng`` fixture of ``katas/conftest.py`` (seeded from the
test's node id) or seed a generator inside the test.

A module-level generator drawn from only at import time is allowed: it builds constants
(``X = np.random.default_rng(3).standard_normal(...)``) that are the same whichever tests
run. Seeding the global generator (``np.random.seed``) is never allowed.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KATAS = ROOT / "katas"

GENERATORS = {"default_rng", "RandomState", "Generator", "Random"}
GLOBAL_SEEDING = "seed"

def _called_name(node: ast.AST | None) -> str | None:
    """``np.random.default_rng(0)`` -> ``"default_rng"``; None for anything but a call."""
    if not isinstance(node, ast.Call):
        return None
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _find_draws(node: ast.AST, users: dict[str, set[str]], shadowed: frozenset[str],
                function: str | None) -> None:
    """Add to ``users[name]`` each function whose body reads the module-level ``name``.

    ``shadowed`` holds the names bound by the enclosing functions (a test's ``rng``
    parameter is the fixture, not the module's generator); ``function`` is the innermost
    function being read, None at import time.
    """
    if isinstance(node, ast.Name) and function and node.id in users and node.id not in shadowed:
        users[node.id].add(function)
    if not isinstance(node, FUNCTIONS):
        for child in ast.iter_child_nodes(node):
            _find_draws(child, users, shadowed, function)
        return
    arguments = node.args
    for outer in [*getattr(node, "decorator_list", []), *arguments.defaults,
                  *[default for default in arguments.kw_defaults if default]]:
        _find_draws(outer, users, shadowed, function)
    body = node.body if isinstance(node.body, list) else [node.body]
    bound = {arg.arg for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
                                 *filter(None, [arguments.vararg, arguments.kwarg])]}
    bound |= {sub.id for part in body for sub in ast.walk(part)
              if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store)}
    name = getattr(node, "name", "a lambda")
    for part in body:
        _find_draws(part, users, shadowed | bound, name)


def shared_generators(source: str) -> list[str]:
    """The module-level generators of ``source`` that code run by tests draws from.

    Each is described as ``"line N: name, drawn in f, g"``; global seeding is described as
    ``"line N: np.random.seed(...)"``. Function bodies run when a test (or a fixture) calls
    them; decorators and default values run at import, so they do not count.
    """
    tree = ast.parse(source)
    found: list[str] = []
    generators: dict[str, int] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Expr) and _called_name(statement.value) == GLOBAL_SEEDING:
            found.append(f"line {statement.lineno}: {ast.unparse(statement.value)} seeds a global generator")
        targets = (statement.targets if isinstance(statement, ast.Assign)
                   else [statement.target] if isinstance(statement, ast.AnnAssign) else [])
        if _called_name(getattr(statement, "value", None)) in GENERATORS:
            generators.update({target.id: statement.lineno for target in targets
                               if isinstance(target, ast.Name)})
    users: dict[str, set[str]] = {name: set() for name in generators}
    _find_draws(tree, users, shadowed=frozenset(), function=None)
    found += [f"line {generators[name]}: {name}, drawn in {', '.join(sorted(functions))}"
              for name, functions in users.items() if functions]
    return found


def kata_modules() -> list[Path]:
    return sorted(path for path in KATAS.rglob("*.py") if "__pycache__" not in path.parts)


def test_no_kata_test_draws_from_a_module_level_generator():
    offenders = {}
    for path in kata_modules():
        name = path.relative_to(KATAS).as_posix()
        if found := shared_generators(path.read_text()):
            offenders[name] = found
    assert not offenders, (
        "take the `rng` fixture (katas/conftest.py) or seed a generator inside the test:\n"
        + "\n".join(f"  katas/{name}: {'; '.join(found)}" for name, found in offenders.items()))


CASES = {
    "two-tests": ("""
        import numpy as np
        rng = np.random.default_rng(0)
        def test_a():
            rng.random()
        def test_b():
            rng.random()
        """, ["line 3: rng, drawn in test_a, test_b"]),
    "helper": ("""
        from numpy.random import default_rng
        rng = default_rng(0)
        def helper():
            return rng.random()
        """, ["line 3: rng, drawn in helper"]),
    "lambda": ("""
        import numpy as np
        RNG: np.random.Generator = np.random.default_rng(0)
        CASES = [lambda: RNG.random()]
        """, ["line 3: RNG, drawn in a lambda"]),
    "global-seed": ("""
        import numpy as np
        np.random.seed(0)
        """, ["line 3: np.random.seed(0) seeds a global generator"]),
    "import-time-only": ("""
        import numpy as np
        rng = np.random.default_rng(0)
        X = rng.random(3)
        @pytest.mark.parametrize("y", [rng.random()])
        def test_a(y, rng):
            check = lambda: X + rng.random(3)
            return check()
        """, []),
    "local": ("""
        import numpy as np
        X = np.random.default_rng(0).random(3)
        def test_a():
            rng = np.random.default_rng(1)
            return X + rng.random(3)
        """, []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_check_finds_generators_that_tests_share(name):
    source, expected = CASES[name]
    assert shared_generators(textwrap.dedent(source)) == expected
