"""Maintainer and instructor commands.

    python -m pytest_tinytorch stubs [--check]          regenerate tinytorch/ from reference/
    python -m pytest_tinytorch release OUT [--track T]  write a student template repository
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import release, stubs, tracks
from .manifest import Curriculum, ManifestError, load

CHANGES = {"missing": "created", "extra": "removed", "differs": "updated"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_tinytorch")
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="the repository root (default: the current folder)")
    commands = parser.add_subparsers(dest="command", required=True)
    stub_command = commands.add_parser(
        "stubs", help="regenerate tinytorch/ from reference/tinytorch/")
    stub_command.add_argument("--check", action="store_true",
                              help="only report whether tinytorch/ is up to date")
    release_command = commands.add_parser(
        "release", help="write a student template repository (no solutions) into OUT_DIR")
    release_command.add_argument("out", type=Path, metavar="OUT_DIR")
    release_command.add_argument("--track", help="a track from katas/manifest.toml; its "
                                 "prebuilt katas ship solved and are not graded")
    args = parser.parse_args(argv)
    try:
        curriculum = load(args.root.resolve())
        if args.command == "release":
            return _release(curriculum, args.out, args.track)
        return _stubs(curriculum, args.check)
    except (ManifestError, stubs.StubError, release.ReleaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _stubs(curriculum: Curriculum, check: bool) -> int:
    differences = stubs.compare(curriculum) if check else stubs.write(curriculum)
    for difference in differences:
        change = difference.problem if check else CHANGES[difference.problem]
        print(f"{change:8} tinytorch/{difference.path}")
    if check and differences:
        print("tinytorch/ is out of date: run `python -m pytest_tinytorch stubs`", file=sys.stderr)
        return 1
    if not differences:
        print("tinytorch/ matches reference/tinytorch/")
    return 0


def _release(curriculum: Curriculum, out: Path, track: str | None) -> int:
    scope = tracks.resolve(curriculum, None, track_option=track, prebuilt_option=None,
                           ini_track=None)
    files = release.make(curriculum, scope, out.resolve())
    graded = release.graded_katas(scope)
    print(f"wrote {len(files)} files to {out}: {len(graded)} graded katas, "
          f"{sum(k.points for k in graded)} points"
          + (f", track {scope.track} ({len(scope.given)} katas given)" if scope.track else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
