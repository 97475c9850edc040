"""CLI command: ``model zero-shot [--label-run-id N] [--split S] [--config F] [--output-csv F]``."""

from __future__ import annotations

import argparse

from engine.commands.progress import run_with_progress
from engine.core.config import load_config
from engine.core.settings import StorageSettings


def run(args: argparse.Namespace) -> int:
    from engine.commands.predict import print_result
    from engine.models.prediction import zero_shot

    config = load_config("zero_shot", args.config)
    settings = StorageSettings.from_storage_arg(args.storage)
    result = run_with_progress(
        "Zero-shot",
        zero_shot,
        settings,
        config,
        label_run_id=args.label_run_id,
        split=args.split,
        output_csv=args.output_csv,
    )
    print_result(result)
    return 0
