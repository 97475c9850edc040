"""CLI command: ``model predict [--model-path DIR] [--label-run-id N] [--split S] [--config F] [--output-csv F]``."""

from __future__ import annotations

import argparse

from engine.commands.progress import run_with_progress
from engine.core.config import load_config
from engine.core.settings import StorageSettings


def print_result(result) -> None:
    print(
        f"Predicted {result.n:,} folders of snapshot {result.snapshot_id} "
        f"({result.kind}) in {result.seconds:.1f} s; prediction run {result.prediction_run_id}."
    )
    if result.csv_path is not None:
        print(f"Predictions written to {result.csv_path}")
    if result.n_abstained is not None:
        print(
            f"{result.n_abstained:,} of {result.n:,} predictions are below the model's confidence thresholds "
            "and are marked abstained (final label 'unknown'; their argmax label and probabilities are kept)."
        )
    if result.report is not None:
        from engine.models.prediction_output import format_coverage

        print(result.report.format_text(result.report_title))
        text = format_coverage(result.coverage)
        if text:
            print(text)
    elif result.note:
        print(result.note)
    else:
        print("No labelled folders among them: no evaluation report.")


def run(args: argparse.Namespace) -> int:
    from engine.models.prediction import predict

    config = load_config("predict", args.config)
    settings = StorageSettings.from_storage_arg(args.storage)
    result = run_with_progress(
        "Predicting",
        predict,
        settings,
        config,
        model_path=args.model_path,
        label_run_id=args.label_run_id,
        split=args.split,
        output_csv=args.output_csv,
        trust_pickle=bool(getattr(args, "trust_pickle", False)),
        include_training_folders=bool(getattr(args, "include_training_folders", False)),
        snapshot_id=getattr(args, "snapshot_id", None),
    )
    print_result(result)
    return 0
