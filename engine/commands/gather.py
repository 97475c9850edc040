"""CLI command: ``gather PATH --storage DIR`` — scan a library into a new snapshot.

A thin layer over :func:`engine.scan.gather`: a terminal progress line on stderr, Ctrl-C
stops cleanly (the snapshot is marked cancelled), and a summary on stdout that names the
new snapshot id (the next commands' ``--snapshot-id``).
"""

from __future__ import annotations

import argparse
import sys

from engine.commands.hints import command
from engine.commands.progress import run_with_progress
from engine.core.settings import StorageSettings

SHOW_ERRORS = 5


def summary(result, out=None) -> None:
    """Print the friendly end-of-scan summary (and the first few scan errors, with a hint)."""
    out = out or sys.stdout
    print(
        f"Scanned {result.root}: {result.folders:,} folders, {result.files:,} files, "
        f"{result.errors:,} errors in {result.seconds:.1f} s — snapshot {result.snapshot_id} "
        f"({result.status})",
        file=out,
    )
    if result.skipped:
        print(
            f"Skipped {result.skipped:,} symbolic links, junctions, special files or fsorg data "
            "folders (never followed).",
            file=out,
        )
    if result.errors:
        print(f"Could not read {result.errors:,} entries (the rest of the scan is complete):", file=out)
        for path, reason in result.first_errors[:SHOW_ERRORS]:
            print(f"  {path or '.'}: {reason}", file=out)
        if result.errors > SHOW_ERRORS:
            print(
                f"  … and {result.errors - SHOW_ERRORS:,} more (table scan_errors, snapshot "
                f"{result.snapshot_id}, in index.db)",
                file=out,
            )
        print(
            "Hint: fix the permissions of those folders (or ignore them if they do not matter) "
            "and run gather again for a snapshot that includes them.",
            file=out,
        )


def run(args: argparse.Namespace) -> int:
    from engine.scan.gather import gather

    settings = StorageSettings.from_storage_arg(args.storage)
    result = run_with_progress("Scanning", gather, args.path, settings)
    summary(result)
    print(f"Next: {command(args, 'model', 'extract-features', '--snapshot-id', result.snapshot_id)}")
    return 0
