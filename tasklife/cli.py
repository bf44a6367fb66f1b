"""The ``tasklife`` command: ``tasklife diagram`` (and ``python -m tasklife diagram``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tasklife.diagram import render
from tasklife.lifecycle import LIFECYCLE

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process's exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tasklife",
        description="The lifecycle of a remote browser-automation task.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    diagram = commands.add_parser(
        "diagram",
        help="write the lifecycle diagrams (Mermaid, SVG, README) generated from the table",
        description="Write diagrams/ from the lifecycle table: task_lifecycle.mmd, "
        "task_lifecycle.svg and README.md.",
    )
    diagram.add_argument(
        "--out", type=Path, default=Path("diagrams"), help="folder to write (default: diagrams)"
    )
    diagram.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if any file in the folder differs from the table",
    )
    diagram.set_defaults(run=_diagram)
    return parser


def _diagram(args: argparse.Namespace) -> int:
    out: Path = args.out
    files = render(LIFECYCLE)
    if args.check:
        stale = [name for name, text in files.items() if _read(out / name) != text]
        for name in stale:
            print(f"stale: {out / name} (run: tasklife diagram --out {out})", file=sys.stderr)
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        print(f"wrote {out / name}")
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
