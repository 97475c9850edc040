"""CLI command: ``model apply-classifications --input-csv F [--config F]``.

A thin layer over :func:`engine.labels.csv_import.apply_classifications`. Without ``--input-csv`` it
reads ``<data folder>/samples.csv`` (the fine-tuning guide's default). Any invalid row:
nothing is written, each bad row is listed on stderr, exit code 2.
"""

from __future__ import annotations

import argparse

from engine.commands.hints import command
from engine.commands.progress import run_with_progress
from engine.core.config import load_config
from engine.core.settings import StorageSettings


def run(args: argparse.Namespace) -> int:
    from engine.labels.csv_import import run_apply_classifications

    config = load_config("apply_classifications", args.config)
    settings = StorageSettings.from_storage_arg(args.storage)
    csv_path = args.input_csv or str(settings.data_dir / "samples.csv")
    r = run_with_progress("Importing labels", run_apply_classifications, settings, config, csv_path=csv_path)
    splits = ", ".join(f"{k} {v}" for k, v in sorted(r.split_counts.items()))
    labels = ", ".join(f"{k} {v}" for k, v in sorted(r.by_label.items(), key=lambda kv: -kv[1]))
    extra = []
    if r.skipped_empty:
        extra.append(f"{r.skipped_empty} rows without a label skipped")
    if r.duplicate_rows:
        extra.append(f"{r.duplicate_rows} repeated rows counted once")
    if not r.paths_checked:
        extra.append("no 'path' column, so paths were not checked")
    tail = f" ({'; '.join(extra)})" if extra else ""
    if r.validate_only:
        print(f"Valid: {r.labelled} labels in {csv_path}{tail}. Nothing was written (validate_only).")
    else:
        print(
            f"Imported {r.labelled} labels from {csv_path} as label run {r.label_run_id}{tail}; "
            f"with {r.carried_over} labels carried over it holds {r.total_in_run}."
        )
    print(f"Labels: {labels}")
    print(f"Splits: {splits}")
    if not r.validate_only:
        baseline = command(args, "model", "predict", "--config", "config/fine_tuning/predict_baseline.json")
        print(f"Next: how good is the shipped baseline on your labels? {baseline}")
        print(f"  or fine-tune a model: {command(args, 'model', 'train', '--model-path', 'models/my_classifier')}")
    return 0
