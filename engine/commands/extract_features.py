"""CLI command: ``model extract-features [--snapshot-id N] [--config F]``.

A thin layer over :func:`engine.features.extract.extract_features`: terminal progress on stderr,
Ctrl-C cancels cleanly (training.db keeps its previous rows), and a summary on stdout with
the throughput and how the heuristic labelled the folders.
"""

from __future__ import annotations

import argparse

from engine.commands.hints import command
from engine.commands.progress import run_with_progress
from engine.core.config import load_config
from engine.core.settings import StorageSettings


def run(args: argparse.Namespace) -> int:
    from engine.features.extract import run_extract_features

    config = load_config("extract_features", args.config)
    settings = StorageSettings.from_storage_arg(args.storage)
    result = run_with_progress(
        "Extracting features", run_extract_features, settings, config, snapshot_id=args.snapshot_id
    )
    print(
        f"Extracted features of {result.folders:,} folders of snapshot {result.snapshot_id} "
        f"in {result.seconds:.1f} s ({result.folders_per_second:,.0f} folders/s)."
    )
    counts = ", ".join(f"{k} {v:,}" for k, v in sorted(result.label_counts.items(), key=lambda kv: -kv[1]))
    print(f"Heuristic first guess: {counts}")
    hint = command(
        args, "model", "generate-samples", "--output-csv", "outputs/baseline_eval.csv", repeat=("--storage", "--snapshot-id")
    )
    print(f"Next: {hint}")
    return 0
