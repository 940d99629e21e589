"""Maintainer commands: ``python -m pytest_tinytorch stubs [--check]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import stubs
from .manifest import ManifestError, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_tinytorch")
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="the repository root (default: the current folder)")
    commands = parser.add_subparsers(dest="command", required=True)
    stub_command = commands.add_parser(
        "stubs", help="regenerate tinytorch/ from reference/tinytorch/")
    stub_command.add_argument("--check", action="store_true",
                              help="only report whether tinytorch/ is up to date")
    args = parser.parse_args(argv)
    try:
        curriculum = load(args.root.resolve())
        if args.check:
            differences = stubs.compare(curriculum)
        else:
            differences = stubs.write(curriculum)
    except (ManifestError, stubs.StubError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for difference in differences:
        change = difference.problem if args.check else {"missing": "created", "extra": "removed",
                                                         "differs": "updated"}[difference.problem]
        print(f"{change:8} tinytorch/{difference.path}")
    if args.check and differences:
        print("tinytorch/ is out of date: run `python -m pytest_tinytorch stubs`", file=sys.stderr)
        return 1
    if not differences:
        print("tinytorch/ matches reference/tinytorch/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
