"""Student, maintainer and instructor commands.

    python -m pytest_tinytorch doctor                   check Python, packages, BLAS and data
    python -m pytest_tinytorch reset NN                 start kata NN over (your code is kept)
    python -m pytest_tinytorch update REF               take a new release from git REF, keep your code
    python -m pytest_tinytorch stubs [--check|--force]  regenerate tinytorch/ from reference/
    python -m pytest_tinytorch readmes [--check]        regenerate the READMEs' manifest sections
    python -m pytest_tinytorch release OUT [--track T]  write a student template repository
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import doctor, readmes, release, reset, stubs, tracks, update
from .manifest import Curriculum, Kata, ManifestError, load

CHANGES = {"missing": "created", "extra": "removed", "differs": "updated"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_tinytorch")
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="the repository root (default: the current folder)")
    commands = parser.add_subparsers(dest="command", required=True)
    stub_command = commands.add_parser(
        "stubs", help="regenerate tinytorch/ from reference/tinytorch/")
    stub_mode = stub_command.add_mutually_exclusive_group()
    stub_mode.add_argument("--check", action="store_true",
                           help="only report whether tinytorch/ is up to date")
    stub_mode.add_argument("--force", action="store_true",
                           help="also replace files holding your code (copies are kept under "
                                f"{stubs.BACKUPS}/)")
    readme_command = commands.add_parser(
        "readmes", help="rewrite the sections of the katas' READMEs generated from katas/manifest.toml")
    readme_command.add_argument("--check", action="store_true",
                                help="only report the sections that differ from the manifest")
    reset_command = commands.add_parser(
        "reset", help="put one kata's modules back to their stubs (your code is kept in a copy) "
                      "and withdraw progress from that kata on")
    reset_command.add_argument("kata", help="the kata: 09, 9, 09_spatial or spatial")
    update_command = commands.add_parser(
        "update", help="take a new release of the course from git REF (e.g. course/main), "
                       "keeping your code in tinytorch/")
    update_command.add_argument("ref", metavar="REF")
    commands.add_parser("doctor", help="check Python, the packages, BLAS, the data and the "
                                       "repository; exit 1 when something required is missing")
    release_command = commands.add_parser(
        "release", help="write a student template repository (no solutions) into OUT_DIR")
    release_command.add_argument("out", type=Path, metavar="OUT_DIR")
    release_command.add_argument("--track", help="a track from katas/manifest.toml; its "
                                 "given katas ship solved and are not graded")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        return doctor.main(args.root.resolve())
    if args.command == "update":
        return _update(args.root.resolve(), args.ref)
    try:
        curriculum = load(args.root.resolve())
        if args.command == "release":
            return _release(curriculum, args.out, args.track)
        if args.command == "reset":
            return _reset(curriculum, curriculum.find(args.kata))
        if args.command == "readmes":
            return _readmes(curriculum, args.check)
        return _check_stubs(curriculum) if args.check else _write_stubs(curriculum, args.force)
    except stubs.StudentCodeError as error:
        print(f"error: {error}\nTo replace them anyway, run `python -m pytest_tinytorch stubs "
              f"--force`: it keeps a copy of each under {stubs.BACKUPS}/. To start one kata over, "
              f"run `python -m pytest_tinytorch reset NN`.", file=sys.stderr)
        return 1
    except (ManifestError, stubs.StubError, release.ReleaseError, reset.ResetError,
            readmes.ReadmeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _update(root: Path, ref: str) -> int:
    try:
        changes = update.update(root, ref)
    except update.UpdateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in changes.course + changes.modules:
        print(f"updated  {path}")
    for path in changes.removed:
        print(f"removed  {path}")
    for path in changes.kept:
        print(f"kept     {path}: your code; the release changed its starting file "
              f"(`git show {ref}:{path}` shows it)")
    print(f"{len(changes.course) + len(changes.modules)} files updated, {len(changes.removed)} removed, "
          f"your code kept; `git diff` shows the update.")
    return 0


def _check_stubs(curriculum: Curriculum) -> int:
    differences = stubs.compare(curriculum)
    for difference in differences:
        print(f"{difference.problem:8} tinytorch/{difference.path}")
    if differences:
        print("tinytorch/ is out of date: run `python -m pytest_tinytorch stubs`", file=sys.stderr)
        return 1
    print("tinytorch/ matches reference/tinytorch/")
    return 0


def _write_stubs(curriculum: Curriculum, force: bool) -> int:
    written = stubs.write(curriculum, force=force)
    for difference in written.changes:
        print(f"{CHANGES[difference.problem]:8} tinytorch/{difference.path}")
    if not written.changes:
        print("tinytorch/ matches reference/tinytorch/")
    if written.backup is not None:
        print(f"your versions of the files replaced are kept in {_shown(curriculum, written.backup)}/")
    return 0


def _readmes(curriculum: Curriculum, check: bool) -> int:
    differences = readmes.compare(curriculum) if check else readmes.write(curriculum)
    for difference in differences:
        done = "updated" if difference.problem == "differs" and not check else difference.problem
        print(f"{done:8} {readmes.location(curriculum, difference)}")
    unfixed = [d for d in differences if check or d.problem == "missing"]
    if any(d.problem == "missing" for d in unfixed):
        print("a missing section needs its two marker lines, <!-- generated: NAME --> and "
              "<!-- /generated: NAME -->, where the README should show it", file=sys.stderr)
    if unfixed:
        print("the READMEs differ from katas/manifest.toml: edit the manifest (never the "
              "generated sections), then run `python -m pytest_tinytorch readmes`", file=sys.stderr)
        return 1
    if not differences:
        print("the katas' READMEs match katas/manifest.toml")
    return 0


def _reset(curriculum: Curriculum, kata: Kata) -> int:
    outcome = reset.reset(curriculum, kata)
    modules = ", ".join(f"tinytorch/{module}" for module in kata.modules)
    if outcome.restored:
        print(f"kata {kata.label}: {modules} {'is' if len(kata.modules) == 1 else 'are'} back to "
              f"the start")
    else:
        print(f"kata {kata.label}: {modules} {'was' if len(kata.modules) == 1 else 'were'} already "
              f"as at the start")
    if outcome.backup is not None:
        print(f"your code is kept in {_shown(curriculum, outcome.backup)}/tinytorch/")
    if outcome.withdrawn:
        many = len(outcome.withdrawn) > 1
        print(f"withdrawn from your progress: the pass{'es' if many else ''} of kata{'s' if many else ''} "
              f"{', '.join(outcome.withdrawn)}")
    else:
        print(f"no pass was recorded from kata {kata.id} on")
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print("run `pytest --next` to go on")
    return 0


def _shown(curriculum: Curriculum, path: Path) -> str:
    """``path`` as the student would type it from the repository root."""
    return path.relative_to(curriculum.root).as_posix()


def _release(curriculum: Curriculum, out: Path, track: str | None) -> int:
    scope = tracks.resolve(curriculum, None, track_option=track, given_option=None,
                           ini_track=None)
    files = release.make(curriculum, scope, out.resolve())
    graded = release.graded_katas(scope)
    print(f"wrote {len(files)} files to {out}: {len(graded)} graded katas, "
          f"{sum(k.points for k in graded)} points"
          + (f", track {scope.track} ({len(scope.given)} katas given)" if scope.track else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
