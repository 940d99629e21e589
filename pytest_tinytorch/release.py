"""``python -m pytest_tinytorch release OUT_DIR [--track NAME]``: a student template repository.

The release holds what a student needs and nothing that gives the answers away: the stubs
(with a track's given katas already solved), the katas, the plugin, the milestones, a
student README, a record of the release (``katas/release.json``: every course file's sha256
and every kata's tests) and a GitHub Classroom workflow. It never holds ``reference/`` or a
solution marker.

The workflow grades in two stages. First, with nothing installed, it checks that every file
outside the student's code is the release's (:mod:`.coursefiles`, whose source the workflow
carries, against the record's sha256, which the workflow holds). Then one step per kata runs
``pytest --kata NN`` under pytest-xdist, so that the process deciding the exit status (the
xdist controller) never imports the student's code, and a kata's points need every recorded
test to have run and passed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from . import coursefiles, functions, integrity, reset, stubs
from .manifest import Curriculum, Kata
from .tracks import Scope

COPIED = ("katas", "pytest_tinytorch", "milestones", "conftest.py", "pyproject.toml",
          ".gitignore", ".gitattributes")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "results", ".pytest_cache")
GUIDE_START, GUIDE_END = "<!-- student-guide -->", "<!-- /student-guide -->"
WORKFLOW = Path(".github") / "workflows" / "classroom.yml"
GRADE_COMMAND = "python -m pytest --kata {id} --no-gate -p no:cacheprovider -n 2"
CHECK_STEP = "Course files are the release's"
CHECK_END = "TINYTORCH_CHECK"


class ReleaseError(Exception):
    """The release cannot be made as asked."""


def make(curriculum: Curriculum, scope: Scope, out: Path) -> list[Path]:
    """Write the student template for ``scope`` into the empty folder ``out``; list its files."""
    if out.exists() and any(out.iterdir()):
        raise ReleaseError(f"{out} is not empty: choose a new folder for the release")
    root = curriculum.root
    for name in COPIED:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=IGNORED)
        elif source.exists():
            shutil.copy2(source, out / name)
    _write_stubs(curriculum, scope, out)
    reset.write_shipped(out, curriculum.katas)  # what `reset` restores, having no reference/
    if scope.track:
        _set_track(out / "pyproject.toml", scope.track)
    (out / "README.md").write_text(student_readme(root / "README.md", scope), encoding="utf-8")
    written = {kata.id: len(functions.still_to_write(kata, out / "tinytorch")) for kata in graded_katas(scope)}
    integrity.write(out, collected_tests(Curriculum(out, curriculum.katas, curriculum.tracks)), written)
    (out / WORKFLOW).parent.mkdir(parents=True, exist_ok=True)
    (out / WORKFLOW).write_text(classroom_workflow(scope, integrity.record_sha256(out)), encoding="utf-8")
    files = sorted(path for path in out.rglob("*") if path.is_file())
    _check_no_solutions(out, files)
    return files


def _write_stubs(curriculum: Curriculum, scope: Scope, out: Path) -> None:
    """The student's package: stubs, except the given modules, which are the reference's."""
    given = set(scope.given_modules())
    reference = curriculum.root / "reference" / "tinytorch"
    for relative, content in stubs.generate(curriculum).items():
        if relative in given:
            content = stubs.solved_source((reference / relative).read_text(encoding="utf-8")).encode()
        target = out / "tinytorch" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _set_track(pyproject: Path, track: str) -> None:
    text = pyproject.read_text(encoding="utf-8")
    section = "[tool.pytest.ini_options]\n"
    if section not in text:
        raise ReleaseError(f"{pyproject} has no {section.strip()} section to record the track in")
    pyproject.write_text(text.replace(section, f'{section}tinytorch_track = "{track}"\n', 1),
                         encoding="utf-8")


def _check_no_solutions(out: Path, files: list[Path]) -> None:
    if (out / "reference").exists():
        raise ReleaseError("the release contains reference/")
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if lines := stubs.marker_lines(text):
            raise ReleaseError(f"{path.relative_to(out)}:{lines[0]} has a solution marker")


def collected_tests(curriculum: Curriculum) -> dict[str, list[str]]:
    """The test ids of each kata the release grades, as pytest collects them in the release.

    A kata whose tests cannot be collected on the stubs is left out; grading then takes the
    tests collected at grading time, as it does outside a release.
    """
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--no-gate", "-p", "no:cacheprovider",
         "--continue-on-collection-errors"],
        cwd=curriculum.root, capture_output=True, text=True, check=False)
    if completed.returncode not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise ReleaseError(f"collecting the release's katas failed:\n{completed.stdout[-2000:]}")
    tests: dict[str, list[str]] = {}
    for line in completed.stdout.splitlines():
        kata = curriculum.kata_of_path(curriculum.root / line.split("::")[0]) if "::" in line else None
        if kata is not None:
            tests.setdefault(kata.id, []).append(line)
    return tests


def graded_katas(scope: Scope) -> list[Kata]:
    """The katas a student is graded on: the track's, without the given ones."""
    return [kata for kata in scope.curriculum.katas if kata.id not in scope.given]


def student_readme(readme: Path, scope: Scope) -> str:
    """The student's guide of the project README, under a header for a course template."""
    text = readme.read_text(encoding="utf-8")
    if GUIDE_START not in text or GUIDE_END not in text:
        raise ReleaseError(f"{readme} lacks the {GUIDE_START} ... {GUIDE_END} section")
    guide = text.split(GUIDE_START, 1)[1].split(GUIDE_END, 1)[0].strip()
    katas = graded_katas(scope)
    track = f" (track: {scope.track})" if scope.track else ""
    total = sum(kata.points for kata in katas)
    return (f"# TinyTorch{track}\n\n"
            "Build a machine-learning framework from scratch in NumPy, one kata at a time.\n\n"
            "```\npython -m pip install -e . && pytest --next\n```\n\n"
            f"{guide}\n\n"
            "## Grading\n\n"
            f"Every push is graded by GitHub Classroom: {len(katas)} katas, {total} points, each "
            "kata's points for passing all of its tests (`pytest --kata NN --no-gate`, exactly "
            "what the workflow runs). Everything outside `tinytorch/` belongs to the course: "
            "`katas/release.json` records it, and grading stops when a course file was changed, "
            "removed or added (notes in Markdown excepted). A kata earns its points only when "
            "every one of its tests ran and passed: a skipped test counts as not done.\n")


def course_check_step(record_sha256: str) -> str:
    """The workflow step that checks the course files, carrying the checker's own source."""
    source = Path(coursefiles.__file__).read_text(encoding="utf-8")
    if CHECK_END in source.splitlines():
        raise ReleaseError(f"coursefiles.py may not contain a line {CHECK_END}")
    script = f"python -I -S - {record_sha256} <<'{CHECK_END}'\n{source}{CHECK_END}\n"
    return (f"    - name: {CHECK_STEP}\n"
            "      run: |\n" + textwrap.indent(script, " " * 8, lambda line: True))


def classroom_workflow(scope: Scope, record_sha256: str) -> str:
    """A GitHub Classroom workflow: the course-file check, one command-grader step per kata,
    then the reporter."""
    katas = graded_katas(scope)
    steps = []
    for kata in katas:
        steps.append(
            f"    - name: {kata.label}\n"
            f"      id: kata-{kata.id}\n"
            f"      uses: classroom-resources/autograding-command-grader@v1\n"
            f"      with:\n"
            f"        test-name: {kata.label}\n"
            f"        setup-command: ''\n"
            f"        command: {GRADE_COMMAND.format(id=kata.id)}\n"
            f"        timeout: 15\n"
            f"        max-score: {kata.points}\n")
    env = "".join(f'        KATA-{kata.id}_RESULTS: "${{{{steps.kata-{kata.id}.outputs.result}}}}"\n'
                  for kata in katas)
    runners = ",".join(f"kata-{kata.id}" for kata in katas)
    return ("name: Autograding Tests\n"
            "'on':\n- push\n- repository_dispatch\n"
            "permissions:\n  checks: write\n  actions: read\n  contents: read\n"
            "jobs:\n  run-autograding-tests:\n    runs-on: ubuntu-latest\n"
            "    if: github.actor != 'github-classroom[bot]'\n"
            "    steps:\n"
            "    - name: Checkout code\n      uses: actions/checkout@v4\n"
            "    - name: Set up Python\n      uses: actions/setup-python@v5\n"
            "      with:\n        python-version: '3.11'\n"
            + course_check_step(record_sha256)
            + "    - name: Install\n      run: python -m pip install -e .\n"
            + "".join(steps)
            + "    - name: Autograding Reporter\n"
            "      uses: classroom-resources/autograding-grading-reporter@v1\n"
            f"      env:\n{env}"
            f"      with:\n        runners: {runners}\n")
