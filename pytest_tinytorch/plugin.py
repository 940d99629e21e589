"""The TinyTorch kata engine as a pytest plugin (activated by the repository's conftest.py).

This module holds the command line and registers the engine's roles, as pytest's own
plugins do: the :class:`.controller.KataController` in the main process (it decides), the
:class:`.tester.KataTester` wherever tests run (the main process of a serial run, each xdist
worker), and :mod:`.timeouts` in every process. Flow of a run:

1. The controller reads the manifest and the student's progress and applies the gate: the
   plan of which katas this run collects, handed to every process that runs tests.
2. A tester collects only the plan's katas, gives each test its kata's time limit, and turns
   failures into guidance where they happen (see :mod:`.outcomes`).
3. The controller tallies the reports per kata, decides which katas passed, records that in
   the progress file and prints the kata section of the summary (:mod:`.summary`).

``--progress``, ``--hint`` and ``--watch`` answer before any of that, without running tests.
"""

from __future__ import annotations

import os

import pytest

from . import display, implementation, measure, timeouts, tracks, watch
from .controller import WORKER_KEY, KataController
from .manifest import MANIFEST, Curriculum, ManifestError, load
from .metrics import metrics  # noqa: F401  (the fixture, registered with this plugin)
from .progress import Progress, Status, statuses
from .tester import KataTester, Plan

measure.pin_blas_threads()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tinytorch", "TinyTorch katas")
    group.addoption("--next", action="store_true", dest="tinytorch_next",
                    help="run the kata you are working on (and re-check any that went stale)")
    group.addoption(watch.OPTION, action="store_true", dest="tinytorch_watch",
                    help="run again every time a file under tinytorch/ or katas/ changes")
    group.addoption("--kata", dest="tinytorch_kata", metavar="ID",
                    help="run one kata: 09, 9, 09_spatial or spatial")
    group.addoption("--no-gate", action="store_true", dest="tinytorch_no_gate",
                    help="run katas whose prerequisites have not passed yet")
    group.addoption("--progress", action="store_true", dest="tinytorch_progress",
                    help="show the curriculum and your progress, run nothing")
    group.addoption("--hint", action="store_true", dest="tinytorch_hint",
                    help="reveal the next hint of the current kata, run nothing")
    group.addoption("--impl", dest="tinytorch_impl", default="student",
                    choices=implementation.CHOICES,
                    help="test your tinytorch/ (student, the default) or reference/ (reference)")
    group.addoption("--tinytorch-report", dest="tinytorch_report", metavar="PATH",
                    help="write the results per kata as JSON to PATH")
    group.addoption("--track", dest="tinytorch_track", metavar="NAME",
                    help="follow a track (foundation, architecture, optimization; full for all "
                         "katas); remembered in your progress file")
    group.addoption("--given", "--prebuilt", dest="tinytorch_given", metavar="RANGE",
                    help="take the katas in RANGE (e.g. 01-13) as given, from the reference "
                         "(--prebuilt is its older name)")
    parser.addini("tinytorch_track", "the track a student release starts on", default="")


def _curriculum(config: pytest.Config) -> Curriculum | None:
    if not (config.rootpath / MANIFEST).exists():
        return None
    try:
        return load(config.rootpath)
    except ManifestError as error:
        raise pytest.UsageError(str(error)) from None


def _scope(config: pytest.Config, curriculum: Curriculum, progress: Progress) -> tracks.Scope:
    """The katas of the student's track; a newly chosen ``--track`` is saved."""
    try:
        scope = tracks.resolve(curriculum, progress, track_option=config.option.tinytorch_track,
                               given_option=config.option.tinytorch_given,
                               ini_track=config.getini("tinytorch_track") or None)
    except ManifestError as error:
        raise pytest.UsageError(str(error)) from None
    _offer_only_what_a_release_can(config, curriculum, scope)
    if config.option.tinytorch_track:
        progress.save()
    return scope


def _offer_only_what_a_release_can(config: pytest.Config, curriculum: Curriculum,
                                   scope: tracks.Scope) -> None:
    """Options that take code from ``reference/`` are refused where there is none.

    A student release has no reference solution: its own track's given katas ship solved in
    ``tinytorch/``, but ``--impl reference``, ``--given`` or another track's given katas
    would silently run the stubs instead.
    """
    if implementation.package_dir(curriculum.root, "reference").is_dir():
        return
    wanted = []
    if config.option.tinytorch_impl == "reference":
        wanted.append("--impl reference")
    if config.option.tinytorch_given:
        wanted.append(f"--given {config.option.tinytorch_given}")
    own_track = (config.getini("tinytorch_track") or "").lower()
    if scope.given and not config.option.tinytorch_given and (scope.track or "").lower() != own_track:
        wanted.append(f"the {scope.track} track (its given katas come from the reference)")
    if wanted:
        raise pytest.UsageError(
            f"{' and '.join(wanted)} need{'s' if len(wanted) == 1 else ''} the full TinyTorch "
            f"repository with reference/; this is a student release without the solutions. "
            f"Nothing was run or saved." + (" `pytest --track full` goes back to every kata."
                                            if scope.track else ""))


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--progress`` and ``--hint`` answer at once, without running tests; ``--watch`` loops."""
    if not (config.option.tinytorch_progress or config.option.tinytorch_hint
            or config.option.tinytorch_watch):
        return None
    curriculum = _curriculum(config)
    if curriculum is None:
        raise pytest.UsageError(f"no {MANIFEST.as_posix()} under {config.rootpath}")
    if config.option.tinytorch_watch:
        return watch.watch(curriculum.root, config.invocation_params.args, config.invocation_params.dir)
    progress = Progress.load(curriculum.root)
    if progress.problem:
        print(f"tinytorch: {progress.problem}")
    scope = _scope(config, curriculum, progress)
    curriculum = scope.curriculum
    package = implementation.package_dir(curriculum.root, "student")
    state = statuses(curriculum, progress, package, scope.given)
    if scope.track:
        print(f"track: {scope.track}")
    if config.option.tinytorch_progress:
        print(display.progress_table(curriculum, state))
        milestones = sorted(path.stem for path in (curriculum.root / "milestones").glob("0*_*.py"))
        if milestones:
            print("\n" + display.milestones_table(milestones, progress.milestones))
    if config.option.tinytorch_hint:
        current = next((k for k in curriculum.katas if state[k.id] == Status.CURRENT), None)
        if current is None:
            print("Every kata has passed: no hints left to give.")
        else:
            before = progress.hints_shown(current)
            number, _ = progress.next_hint(current)
            print(f"Kata {current.label}: {number} of {len(current.hints)} hints"
                  f"{' (all of them)' if number == len(current.hints) else ''}")
            for shown, text in enumerate(current.hints[:number], start=1):
                print(f"\nHint {shown}{' (new)' if shown > before else ''}: {text}")
            progress.save()
    for warning in progress.warnings:
        print(f"tinytorch: {warning}")
    return 0


def pytest_configure(config: pytest.Config) -> None:
    curriculum = _curriculum(config)
    if curriculum is None:
        return
    worker_input = getattr(config, "workerinput", None)
    if worker_input is not None:
        plan = Plan.from_workerinput(worker_input[WORKER_KEY])
        config.pluginmanager.register(KataTester(config, curriculum, plan), "tinytorch-tester")
    else:
        _check_report_path(config)
        _collect_katas_from_any_folder(config, curriculum)
        progress = Progress.load(curriculum.root)
        controller = KataController(config, _scope(config, curriculum, progress), progress)
        curriculum = controller.curriculum
        config.pluginmanager.register(controller, "tinytorch-controller")
        if not _xdist_runs_the_tests(config):
            config.pluginmanager.register(KataTester(config, curriculum, controller.plan), "tinytorch-tester")
    config.pluginmanager.register(timeouts.KataTimeouts(config, curriculum), "tinytorch-timeouts")


def _xdist_runs_the_tests(config: pytest.Config) -> bool:
    """xdist's own condition for taking over the run (its DSession)."""
    return config.getoption("dist", "no") != "no" and not config.getoption("collectonly")


def _check_report_path(config: pytest.Config) -> None:
    """``--tinytorch-report`` must name a file that can be written: checked before any test runs."""
    option = config.option.tinytorch_report
    if not option:
        return
    path = config.invocation_params.dir / option
    problem = None
    if path.is_dir():
        problem = "is a folder; name a file, such as report.json"
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            problem = f"its folder cannot be created ({error.strerror or error})"
        else:
            if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
                problem = "cannot be written"
    if problem:
        raise pytest.UsageError(f"--tinytorch-report {option}: {problem}")


def _collect_katas_from_any_folder(config: pytest.Config, curriculum: Curriculum) -> None:
    """``pytest`` with no paths, run from a sub-folder (``tinytorch/``, say), still means the katas.

    pytest applies ``testpaths`` only in the root folder; elsewhere it would collect the
    folder it was started in and find no kata.
    """
    here = config.invocation_params.dir.resolve()
    root = curriculum.root.resolve()
    if (config.args_source == pytest.Config.ArgsSource.INVOCATION_DIR and here != root
            and here.is_relative_to(root) and not here.is_relative_to(curriculum.katas_dir.resolve())):
        config.args = [str(curriculum.katas_dir)]
