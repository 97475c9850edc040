"""CLI command: ``model train [--label-run-id N] [--model-path DIR] [--config F]``.

A thin layer over :func:`engine.models.training.train_model`: terminal progress with an ETA,
Ctrl-C cancels cleanly (no model folder is left behind), the report is printed at the end.
"""

from __future__ import annotations

import argparse

from engine.commands.hints import command
from engine.commands.progress import run_with_progress
from engine.core.config import load_config
from engine.core.settings import StorageSettings
from engine.evaluation.report import KEEP_BASELINE_COMMAND


def run(args: argparse.Namespace) -> int:
    from engine.models.training import train_model

    config = load_config("train", args.config)
    settings = StorageSettings.from_storage_arg(args.storage)
    result = run_with_progress(
        "Training",
        train_model,
        settings,
        config,
        label_run_id=args.label_run_id,
        model_path=args.model_path,
    )
    print(
        f"Trained on {result.n_train} labelled folders of label run {result.label_run_id} "
        f"({result.finetune_steps} fine-tuning steps) in {result.seconds:.0f} s."
    )
    for note in result.notes:
        print(f"note: {note}")
    if result.report is not None:
        print(
            result.report.format_text(
                f"FINE-TUNED MODEL ON {result.n_test} HELD-OUT FOLDERS (never learned from; whole families held out)"
            )
        )
        sc = result.report.scope
        if sc is not None and sc.baseline_macro_f1 is not None and result.report.macro_f1 < sc.baseline_macro_f1:
            storage = f" --storage {args.storage}" if args.storage else ""
            print(
                "The tree shows the fine-tuned model's labels only after you run 'model predict' with it. "
                f"To label the library with the baseline instead:\n  {KEEP_BASELINE_COMMAND}{storage}"
            )
    ab = result.abstention
    if ab:
        cov = ab.get("oof_coverage")
        f1 = ab.get("oof_macro_f1_kept")
        print(
            f"Abstention: per-class confidence thresholds for precision {ab['target_precision']:.2f} stored with "
            f"the model ({ab['chosen_on']}); there they keep {cov * 100:.0f}% of predictions"
            + (f" at Macro F1 {f1 * 100:.1f}%" if f1 is not None else "")
            + ". Predictions below them are marked abstained (final label 'unknown')."
        )
    print(f"Model saved to {result.model_path}")
    rep = result.report
    worse = rep is not None and rep.scope is not None and rep.scope.baseline_macro_f1 is not None and (
        rep.macro_f1 < rep.scope.baseline_macro_f1
    )
    if not worse:
        hint = command(args, "model", "predict", "--model-path", result.model_path, repeat=("--storage", "--label-run-id"))
        print(f"Next: {hint}")
    return 0
