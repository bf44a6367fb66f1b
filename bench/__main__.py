"""``python -m bench [--quick] [--no-write] [--only AREA ...]``: run the benchmarks.

Without ``--only`` every area of ``AREAS`` runs and BENCHMARKS.md is written anew. With
``--only``, the sections of the areas that ran replace their namesakes in the existing
BENCHMARKS.md (and their rows of its Targets table), so one area can be rerun without erasing
the others' figures; each spliced section says which command and run it comes from.
``reliability`` (``PRINTED``) is not a benchmark: it runs the reliability scenarios and prints
their figures for RELIABILITY.md; it runs only when named and never writes a file.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench import deliveries, domain, reliability, scaling, server, store, transport, webhooks
from bench.report import Section, load_average, render, splice

AREAS: dict[str, Callable[..., Section]] = {
    "domain": domain.run,
    "scaling": scaling.run,
    "transport": transport.run,
    "server": server.run,
    "store": store.run,
    "webhooks": webhooks.run,
    "deliveries": deliveries.run,
}
PRINTED: dict[str, Callable[..., Section]] = {"reliability": reliability.run}
"""Areas that print their figures and write nothing; run only when named with ``--only``."""
OUT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen areas, print a summary and (unless ``--no-write``) write BENCHMARKS.md."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few short rounds; no plots, no 1M")
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    parser.add_argument(
        "--only", nargs="+", choices=sorted({*AREAS, *PRINTED}), help="run only these areas"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load_before = load_average()
    sections: list[Section] = []
    for name in args.only or AREAS:
        print(f"== {name}", flush=True)
        if name in PRINTED:
            print(PRINTED[name](quick=args.quick).body, flush=True)
            continue
        section = AREAS[name](quick=args.quick)
        sections.append(section)
        for v in section.verdicts:
            print(f"   {v.name}: {v.figure} (target {v.target}): {v.outcome}", flush=True)
    seconds = time.perf_counter() - started
    command = "python -m bench" + (" --quick" if args.quick else "")
    if args.only:
        command += " --only " + " ".join(args.only)
    if not sections:
        return 0
    text = render(
        sections,
        command=command,
        quick=args.quick,
        seconds=seconds,
        load=(load_before, load_average()),
    )
    if args.no_write:
        print(f"(--no-write: {OUT.name} left alone; {seconds:.0f} s)")
    else:
        if args.only and OUT.exists():
            text = splice(OUT.read_text(encoding="utf-8"), text, [s.title for s in sections])
        OUT.write_text(text, encoding="utf-8")
        for section in sections:
            for path, content in section.files:
                (OUT.parent / path).write_bytes(content)
        print(f"wrote {OUT} ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
