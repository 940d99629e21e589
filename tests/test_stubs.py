"""The reference-to-stub pipeline, and the committed stubs being in sync with the reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_tinytorch import stubs
from pytest_tinytorch.__main__ import main
from pytest_tinytorch.manifest import load

ROOT = Path(__file__).resolve().parents[1]

SOURCE = '''"""A module."""

HELPER = 3


class Layer:
    def forward(self, x):
        """Docstrings stay."""
        y = x
        # BEGIN SOLUTION
        return y * HELPER
        # END SOLUTION


def loose(x):
    def inner():
        # BEGIN SOLUTION
        return x
        # END SOLUTION
    return inner
'''


def test_regions_become_a_raise_naming_the_function_and_kata():
    stub = stubs.stub_source(SOURCE, "kata 03 Layers", "layer.py")
    assert 'raise NotImplementedError("Layer.forward: not implemented yet (kata 03 Layers)")' in stub
    assert 'raise NotImplementedError("loose.inner: not implemented yet (kata 03 Layers)")' in stub
    assert "return y * HELPER" not in stub and "BEGIN SOLUTION" not in stub
    assert '"""Docstrings stay."""' in stub and "HELPER = 3" in stub and "y = x" in stub
    compile(stub, "layer.py", "exec")


def test_the_raise_keeps_the_regions_indentation():
    stub = stubs.stub_source(SOURCE, "kata 03 Layers", "layer.py")
    assert '\n        raise NotImplementedError("Layer.forward' in stub


@pytest.mark.parametrize("source, problem", [
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n", "never closed"),
    ("def f():\n    return 1\n    # END SOLUTION\n", "without a matching"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n",
     "inside the region"),
    ("# BEGIN SOLUTION\nX = 1\n# END SOLUTION\n", "inside a function"),
])
def test_malformed_markers_are_errors_with_a_location(source, problem):
    with pytest.raises(stubs.StubError, match=f"m.py:\\d+: .*{problem}"):
        stubs.stub_source(source, "kata 01 Tensor", "m.py")


def test_check_reports_drift_and_write_repairs_it(project):
    curriculum = load(project.path)
    assert stubs.compare(curriculum) == [stubs.Difference("__init__.py", "differs")]
    project.write("tinytorch/extra.py", "")
    project.write("tinytorch/beta.py", "def triple(x):\n    return 3 * x\n")
    assert {(d.path, d.problem) for d in stubs.compare(curriculum)} == {
        ("__init__.py", "differs"), ("extra.py", "extra"), ("beta.py", "differs")}
    assert main(["--root", str(project.path), "stubs", "--check"]) == 1
    assert main(["--root", str(project.path), "stubs"]) == 0
    assert stubs.compare(curriculum) == []
    assert not (project.path / "tinytorch" / "extra.py").exists()


def test_a_module_with_regions_must_belong_to_a_kata(project):
    orphan = "def f():\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n"
    project.write("reference/tinytorch/orphan.py", orphan)
    with pytest.raises(stubs.StubError, match="orphan.py has solution regions but no kata"):
        stubs.generate(load(project.path))


def test_the_committed_stubs_match_the_reference():
    differences = stubs.compare(load(ROOT))
    assert differences == [], "run `python -m pytest_tinytorch stubs` and commit tinytorch/"
