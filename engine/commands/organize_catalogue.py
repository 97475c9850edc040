"""CLI command: ``organize catalogue [--output-csv F] [--output-json F] [--snapshot-id N]``.

A thin layer over :func:`engine.organize.catalogue.build_catalogue`: prints the counts
(items, creators, asset types, variant groups, items resting on unknown folders) and
writes the full catalogue as CSV and/or JSON.
"""

from __future__ import annotations

import argparse

from engine.commands.progress import run_with_progress
from engine.core.settings import StorageSettings


def run(args: argparse.Namespace) -> int:
    from engine.core.csvio import write_csv
    from engine.organize.catalogue import CSV_COLUMNS, build_catalogue, item_rows, write_json

    settings = StorageSettings.from_storage_arg(args.storage)
    cat = run_with_progress("Building the catalogue", build_catalogue, settings, args.snapshot_id, with_files=True)
    counts = cat.counts()
    unsure = sum(n for k, n in counts["status"].items() if k != "ok")
    print(
        f"Catalogue of {cat.root} (snapshot {cat.snapshot_id}): {len(cat.items):,} items, "
        f"{sum(it.files for it in cat.items):,} files, {len(cat.groups):,} variant groups, "
        f"{len([c for c in counts['creator'] if c]):,} creators"
    )
    fg = sum(it.file_groups for it in cat.items)
    if fg:
        print(f"{fg:,} groups of files that are variants of one another (day/night, gridless, sizes…) inside the items.")
    src = f"labels from label run {cat.label_run_id}" if cat.label_run_id else "no labels"
    src += f", predictions from run {cat.prediction_run_id}" if cat.prediction_run_id else ", no predictions"
    print(f"Built from {src}.")
    if cat.prediction_run_id is None:
        print("Hint: run 'python organizer.py model predict' so that folders you did not label get a label too.")
    for title, key in (("Creators", "creator"), ("Asset types", "asset_type"), ("Tags", "tag")):
        top = counts[key].most_common(8)
        if top:
            print(f"{title}: " + ", ".join(f"{k or '(none)'} {n}" for k, n in top)
                  + (f", … {len(counts[key]) - 8} more" if len(counts[key]) > 8 else ""))
    if unsure:
        print(f"{unsure:,} items rest on an unknown, abstained or unlabelled folder (status column): "
              "label them to place them surely.")
    if args.output_csv:
        n = write_csv(args.output_csv, CSV_COLUMNS, item_rows(cat))
        print(f"{n:,} items written to {args.output_csv}")
    if args.output_json:
        write_json(cat, args.output_json)
        print(f"Catalogue with variant groups written to {args.output_json}")
    return 0
