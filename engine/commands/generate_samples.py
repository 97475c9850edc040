"""CLI command: ``model generate-samples [--snapshot-id N] --output-csv F [--config F]``.

A thin layer over :func:`engine.samples.picking.generate_samples`; ``--sample-size`` and
``--strategy`` override the config's values.
"""

from __future__ import annotations

import argparse

from engine.commands.hints import command
from engine.commands.progress import run_with_progress
from engine.core.config import load_config
from engine.core.settings import StorageSettings
from engine.core.taxonomy import label_names


def run(args: argparse.Namespace) -> int:
    from engine.active.label_next import picker_for
    from engine.samples.picking import generate_samples
    from engine.storage import Databases

    config = load_config(
        "generate_samples",
        args.config,
        sample_size=getattr(args, "sample_size", None),
        strategy=getattr(args, "strategy", None),
    )
    dbs = Databases.open(StorageSettings.from_storage_arg(args.storage))
    try:
        result = run_with_progress(
            "Picking samples",
            generate_samples,
            dbs,
            args.snapshot_id,
            args.output_csv,
            config,
            picker=picker_for(config.strategy),
        )
    finally:
        dbs.dispose()
    print(
        f"Wrote {result.rows} folders of snapshot {result.snapshot_id} to {result.path} "
        f"(from {result.candidates:,} unlabelled candidates; {result.excluded_labelled:,} already labelled)."
    )
    mix = ", ".join(f"{k} {v}" for k, v in sorted(result.by_label.items(), key=lambda kv: -kv[1]))
    depths = ", ".join(f"{d}: {n}" for d, n in result.by_depth.items())
    print(f"Heuristic guesses in the sample: {mix}")
    print(f"Depths: {depths}")
    print(
        f"Next: open the CSV, fill in the 'label' column ({', '.join(label_names())}), "
        "save it as CSV, then run:\n"
        f"  {command(args, 'model', 'apply-classifications', '--input-csv', args.output_csv)}"
    )
    return 0
