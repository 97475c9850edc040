"""CLI command: ``model suspects [--label-run-id N] [--top N] [--output-csv F] [--k-folds K] [--config F]``.

A thin layer over :func:`engine.active.suspects.find_suspects`: out-of-fold predictions on the
labelled folders, most suspicious labels first. Prints the top ``--top``; ``--output-csv``
writes every judged label (spreadsheet-safe) so the user can fix them and re-import.
"""

from __future__ import annotations

import argparse

from engine.commands.progress import run_with_progress
from engine.core.config import SuspectsConfig, load_config
from engine.core.settings import StorageSettings


def load_suspects_config(path: str | None, **overrides) -> SuspectsConfig:
    """``config/fine_tuning/suspects.json``, then ``path``, then the command line's options."""
    return load_config("suspects", path, **overrides)


CSV_COLUMNS = (
    "rank",
    "folder_id",
    "path",
    "label",
    "predicted",
    "p_label",
    "p_predicted",
    "score",
    "disagrees",
)


def run(args: argparse.Namespace) -> int:
    from engine.active.suspects import find_suspects
    from engine.core.csvio import write_csv

    config = load_suspects_config(args.config, k_folds=args.k_folds, top=args.top)
    settings = StorageSettings.from_storage_arg(args.storage)
    ranked = run_with_progress(
        "Checking labels",
        find_suspects,
        settings,
        args.label_run_id,
        k_folds=config.k_folds,
        seed=config.seed,
        repeats=config.repeats,
        min_class_size=config.min_class_size,
    )
    disagree = [s for s in ranked if s.disagrees]
    top = config.top
    print(
        f"Checked {len(ranked)} labels with {config.k_folds}-fold out-of-fold predictions: "
        f"{len(disagree)} disagree with the model."
    )
    shown = ranked[:top]
    if shown:
        w = max(10, min(70, max(len(s.path) for s in shown)))
        print(
            f"{'#':>4}  {'path':<{w}}  {'your label':<18} {'model says':<18} {'p(yours)':>8} {'p(model)':>8}"
        )
        for i, s in enumerate(shown, 1):
            path = s.path if len(s.path) <= w else "…" + s.path[-(w - 1) :]
            print(
                f"{i:>4}  {path:<{w}}  {s.label:<18} {s.predicted:<18} {s.p_label:>8.2f} {s.p_predicted:>8.2f}"
            )
    if args.output_csv:
        write_csv(
            args.output_csv,
            CSV_COLUMNS,
            (
                [
                    i,
                    s.folder_id,
                    s.path,
                    s.label,
                    s.predicted,
                    f"{s.p_label:.4f}",
                    f"{s.p_predicted:.4f}",
                    f"{s.score:.4f}",
                    int(s.disagrees),
                ]
                for i, s in enumerate(ranked, 1)
            ),
        )
        print(f"All {len(ranked)} judged labels, most suspicious first, written to {args.output_csv}")
    if disagree:
        print(
            "Look at the top of the list first: a label the model strongly disagrees with is often a slip. "
            "Fix it in the app or in a samples CSV (apply-classifications)."
        )
    return 0
