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
    from engine.samples.picking import run_generate_samples

    config = load_config(
        "generate_samples",
        args.config,
        sample_size=getattr(args, "sample_size", None),
        strategy=getattr(args, "strategy", None),
    )
    result = run_with_progress(
        "Picking samples",
        run_generate_samples,
        StorageSettings.from_storage_arg(args.storage),
        config,
        output_csv=args.output_csv,
        snapshot_id=args.snapshot_id,
        picker=picker_for(config.strategy),
    )
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
