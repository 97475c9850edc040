"""CLI command: ``organize plan --target DIR --output plan.csv [--template T] [--max-path N]``.

Builds the catalogue, places every folder with files by the template, resolves the
conflicts (listed here) and writes the reviewable plan CSV. Nothing else is written.
"""

from __future__ import annotations

import argparse

from engine.commands.progress import run_with_progress
from engine.core.settings import StorageSettings

SHOW = 10


def _plan(settings, snapshot_id, target, template, max_path, *, progress, should_stop):
    from engine.core.jobs import wrap_progress
    from engine.organize.catalogue import build_catalogue
    from engine.organize.layout import propose

    cat = build_catalogue(settings, snapshot_id, progress=wrap_progress(progress, 0, 0.5), should_stop=should_stop)
    lay = propose(cat, target, template, settings=settings, max_path=max_path,
                  progress=wrap_progress(progress, 0.5, 1.0), should_stop=should_stop)
    return cat, lay


def run(args: argparse.Namespace) -> int:
    from engine.core.jobs import UserError
    from engine.organize.layout import DEFAULT_TEMPLATE, check_template
    from engine.organize.plan import write_plan

    template = args.template or DEFAULT_TEMPLATE
    check_template(template)
    if args.max_path is not None and args.max_path < 64:
        raise UserError("--max-path must be at least 64 bytes.")
    settings = StorageSettings.from_storage_arg(args.storage)
    cat, lay = run_with_progress(
        "Planning", _plan, settings, args.snapshot_id, args.target, template, args.max_path or 1024
    )
    n = write_plan(lay, cat.root, args.output)
    folders = {p.target.split("/")[0] for p in lay.placements}
    print(f"Plan: {n:,} folders, {lay.files:,} files from {cat.root} to {lay.target_root} "
          f"({len(folders):,} top-level folders), template {template}")
    if lay.conflicts:
        kinds: dict[str, int] = {}
        for c in lay.conflicts:
            kinds[c.kind] = kinds.get(c.kind, 0) + 1
        print(f"{len(lay.conflicts):,} conflicts found and resolved before writing anything: "
              + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        for c in lay.conflicts[:SHOW]:
            print(f"  [{c.kind}] {c.source}: {c.message}")
        if len(lay.conflicts) > SHOW:
            print(f"  … and {len(lay.conflicts) - SHOW:,} more (the 'conflict' column of the plan)")
    if lay.unresolved:
        print(f"{len(lay.unresolved):,} folders could not be placed and are left out of the plan (their files "
              "stay where they are):")
        for c in lay.unresolved[:SHOW]:
            print(f"  {c.source}: {c.message}")
    unsure = sum(1 for p in lay.placements if p.status != "ok")
    if unsure:
        print(f"{unsure:,} folders rest on an unknown or unlabelled folder (the 'status' column).")
    print(f"Plan written to {args.output}. Review it (you may edit 'target'), then:\n"
          f"  python organizer.py organize apply {args.output} --mode link --target {lay.target_root}")
    return 0
