"""Fixtures for the project's own tests: a miniature TinyTorch project built with pytester.

The miniature has the real root conftest.py and pytest settings, and a three-kata curriculum
small enough to read in one glance:

- 01 alpha: ``tinytorch/alpha.py`` with ``double(x)``; records one metric.
- 02 beta:  ``tinytorch/beta.py`` with ``triple(x)``; builds on 01.
- 03 gamma: its test imports ``tinytorch.gamma``, which does not exist yet, like a kata whose
  module the student has not reached.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

MANIFEST = '''
[tracks.first]
katas = "01-02"

[tracks.later]
katas = "02-03"
given = "01"

[[kata]]
id = "01"
slug = "alpha"
title = "Alpha"
tier = "Foundation"
summary = "a function that doubles"
prerequisites = []
timeout = {timeout}
points = 10
modules = ["alpha.py"]
timeout_advice = "Alpha advice: vectorize the loop."
hints = ["First alpha hint.", "Second alpha hint."]
reflect = ["Why double?"]

[[kata]]
id = "02"
slug = "beta"
title = "Beta"
tier = "Foundation"
summary = "a function that triples"
prerequisites = ["01"]
timeout = 30
points = 20
modules = ["beta.py"]
timeout_advice = "Beta advice."
hints = ["Only beta hint."]

[[kata]]
id = "03"
slug = "gamma"
title = "Gamma"
tier = "Architecture"
summary = "a module that does not exist yet"
prerequisites = ["02"]
timeout = 30
points = 30
modules = ["gamma.py"]
timeout_advice = "Gamma advice."
hints = ["Only gamma hint."]
'''

README = """# Miniature
<!-- student-guide -->
Run `pytest --next`.
<!-- /student-guide -->
## For maintainers
Not for students.
"""

REFERENCE = {
    "__init__.py": 'WHICH = "reference"\n',
    "alpha.py": '''
def double(x):
    """Twice x."""
    # BEGIN SOLUTION
    return 2 * x
    # END SOLUTION
''',
    "beta.py": '''
def triple(x):
    # BEGIN SOLUTION
    return 3 * x
    # END SOLUTION
''',
}

TESTS = {
    "01_alpha/test_alpha.py": '''
from tinytorch.alpha import double

def test_double_of_two():
    assert double(2) == 4

def test_double_of_minus_one():
    assert double(-1) == -2

def test_metric(metrics):
    metrics.record("bytes of nothing", double(2048), "bytes")
''',
    "02_beta/test_beta.py": '''
from tinytorch.beta import triple

def test_triple():
    assert triple(2) == 6
''',
    "03_gamma/test_gamma.py": '''
from tinytorch.gamma import nothing

def test_gamma():
    assert nothing()
''',
}


@dataclass
class Project:
    """A miniature project in ``path``, driven through pytest in a subprocess."""

    pytester: pytest.Pytester
    path: Path

    def write(self, relative: str, text: str) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def solve(self, *modules: str, wrong: bool = False) -> None:
        """Copy reference modules into the student package (or break them)."""
        for module in modules:
            text = REFERENCE[module]
            if wrong:
                text = text.replace(" * x", " * x + 1")
            self.write(f"tinytorch/{module}", text)

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)

    @property
    def progress(self) -> dict:
        return json.loads((self.path / ".tinytorch-progress.json").read_text())


@pytest.fixture
def make_project(pytester: pytest.Pytester):
    """Build the miniature project (again) in pytester's folder; returns a Project."""
    return lambda timeout=30: _build(pytester, timeout)


@pytest.fixture
def project(make_project) -> Project:
    return make_project()


def _build(pytester: pytest.Pytester, timeout: float) -> Project:
    path = pytester.path
    shutil.copy(ROOT / "conftest.py", path / "conftest.py")
    shutil.copy(ROOT / "pyproject.toml", path / "pyproject.toml")
    result = Project(pytester, path)
    result.write("katas/manifest.toml", MANIFEST.format(timeout=timeout))
    result.write("README.md", README)
    for name, text in TESTS.items():
        result.write(f"katas/{name}", text)
    for name, text in REFERENCE.items():
        result.write(f"reference/tinytorch/{name}", text)
    from pytest_tinytorch import stubs
    from pytest_tinytorch.manifest import load

    stubs.write(load(path), force=True)  # make_project may build again over a solved one
    result.write("tinytorch/__init__.py", 'WHICH = "student"\n')
    return result


GRADING_STEP = re.compile(r"id: kata-(?P<kata>\w+)\n(?:.*\n)*?\s+command: (?P<command>.+)\n"
                          r"\s+timeout: \d+\n\s+max-score: (?P<points>\d+)")


@dataclass
class Classroom:
    """A release's grading workflow, run step by step as GitHub Classroom runs it."""

    folder: Path

    @property
    def workflow(self) -> str:
        from pytest_tinytorch import release

        return (self.folder / release.WORKFLOW).read_text(encoding="utf-8")

    def check_course_files(self) -> subprocess.CompletedProcess:
        """The step that runs before anything is installed, in bash as on the runner."""
        from pytest_tinytorch import release

        step = self.workflow.split(f"- name: {release.CHECK_STEP}\n      run: |\n", 1)[1]
        script = textwrap.dedent(step.split("\n    - name:", 1)[0])
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        return subprocess.run(["bash", "-e", "-c", script], cwd=self.folder, capture_output=True,
                              text=True, check=False, env={**os.environ, "PATH": path}, timeout=120)

    def steps(self) -> list[tuple[str, list[str], int]]:
        """(kata id, command, points) of each grading step."""
        found = [(m["kata"], m["command"].split(), int(m["points"]))
                 for m in GRADING_STEP.finditer(self.workflow)]
        assert found and all(command[0] == "python" for _, command, _ in found)
        return found

    def grade(self, katas: tuple[str, ...] | None = None) -> tuple[int, int, list[str]]:
        """(score, maximum, failures). A failed course-file check stops the job: no points."""
        steps = [step for step in self.steps() if katas is None or step[0] in katas]
        maximum = sum(points for _, _, points in steps)
        check = self.check_course_files()
        if check.returncode != 0:
            return 0, maximum, [f"course files:\n{check.stdout}{check.stderr}"]
        score, failures = 0, []
        for _, command, points in steps:
            completed = subprocess.run([sys.executable, *command[1:]], cwd=self.folder, check=False,
                                       capture_output=True, text=True, timeout=900)
            if completed.returncode == 0:
                score += points
            else:
                failures.append(f"{' '.join(command)}:\n{completed.stdout[-1500:]}")
        return score, maximum, failures


@pytest.fixture
def classroom() -> type[Classroom]:
    """The Classroom runner: ``classroom(folder).grade()``."""
    return Classroom
