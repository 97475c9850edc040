"""CLI command: ``organize apply PLAN --target DIR [--mode link|symlink|copy|move] [--journal F]``.

Validates the plan, then carries it out with a journal written before every change.
Ctrl-C (or a crash) leaves a resumable journal: the same command resumes it.
"""

from __future__ import annotations

import argparse

from engine.commands.progress import run_with_progress
from engine.core.settings import StorageSettings

SHOW = 10


def run(args: argparse.Namespace) -> int:
    from engine.organize.apply import apply_plan
    from engine.organize.plan import read_plan

    plan = read_plan(args.plan)
    settings = StorageSettings.from_storage_arg(args.storage)
    r = run_with_progress(
        f"Applying ({args.mode})", apply_plan, plan, args.target, args.mode,
        journal_dir=settings.data_dir / "journals", journal=args.journal,
    )
    rate = r.done / r.seconds if r.seconds > 0 else 0.0
    print(f"{'Resumed and finished' if r.resumed else 'Done'}: {r.files:,} files in {args.target} "
          f"({r.done:,} now, {r.already:,} already there; {rate:,.0f} files/s), mode {args.mode}.")
    if r.symlinked:
        print(f"{r.symlinked:,} as symbolic links: hard links were impossible there (another filesystem?).")
    if args.mode == "move" and r.dirs_removed:
        print(f"{r.dirs_removed:,} emptied source folders removed (undo recreates them).")
    if r.skipped:
        print(f"{len(r.skipped):,} files skipped, never overwritten:")
        for s in r.skipped[:SHOW]:
            print(f"  {s}")
    print(f"Journal: {r.journal}\nUndo with: python organizer.py organize undo {r.journal}")
    return 1 if r.skipped else 0
