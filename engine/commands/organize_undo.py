"""CLI command: ``organize undo JOURNAL`` — restore the state before an apply.

Works on a finished, interrupted or half-undone journal; running it twice is harmless.
"""

from __future__ import annotations

import argparse

from engine.commands.progress import run_with_progress

SHOW = 10


def run(args: argparse.Namespace) -> int:
    from engine.organize.apply import undo

    r = run_with_progress("Undoing", undo, args.journal)
    print(f"Undone: {r.restored:,} files restored, {r.dirs_removed:,} folders removed, "
          f"{r.dirs_restored:,} folders recreated ({r.seconds:.1f} s).")
    if r.kept:
        print(f"{len(r.kept):,} files kept (changed since, or the last copy):")
        for k in r.kept[:SHOW]:
            print(f"  {k}")
        return 1
    return 0
