"""Measure the heuristic on a labelled library (default: the dev set beside the checkout).

Usage::

    .venv/bin/python scripts/eval_heuristics.py [--dataset DIR] [--no-known-creators] [--errors N]

Materializes ``DIR/files.txt`` into a temporary folder (empty files), scans it with
``gather`` into a temporary data folder, runs ``extract-features`` and compares each
folder's ``heuristic_label`` with ``DIR/folders.csv`` (matched by path relative to
``library/``). Prints the evaluation report (Macro F1, per-class scores, confusion) and the
misclassified folders with the rule that fired. ``--no-known-creators`` switches off the
known-creators list to show what the structural rules alone achieve.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.core.settings import StorageSettings  # noqa: E402
from engine.core.taxonomy import label_names  # noqa: E402
from engine.evaluation.report import compute_report  # noqa: E402
from engine.features.extract import extract_features  # noqa: E402
from engine.features.heuristics import Heuristic, default_vocabulary  # noqa: E402
from engine.scan.gather import gather  # noqa: E402
from engine.storage import Databases  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=str(ROOT.parent / "shared" / "datasets" / "ttrpg-dev"))
    ap.add_argument("--no-known-creators", action="store_true", help="ignore creators.json:known_creators")
    ap.add_argument("--errors", type=int, default=40, help="how many misclassified folders to list")
    args = ap.parse_args()
    dataset = Path(args.dataset)
    materialize = dataset.parent / "materialize.py"
    with tempfile.TemporaryDirectory(prefix="fsorg-eval-") as tmp:
        subprocess.run(
            [sys.executable, str(materialize), str(dataset / "files.txt"), str(Path(tmp) / "tree")],
            check=True,
            capture_output=True,
        )
        library = Path(tmp) / "tree" / "library"
        settings = StorageSettings.from_storage_arg(Path(tmp) / "data")
        g = gather(library, settings)
        dbs = Databases.open(settings)
        try:
            heuristic = Heuristic(default_vocabulary(use_known_creators=not args.no_known_creators))
            r = extract_features(dbs, g.snapshot_id, heuristic=heuristic)
            with dbs.training.connect() as c:
                guessed = {
                    row[0]: (row[1], row[2], row[3])
                    for row in c.exec_driver_sql(
                        "SELECT rel_path, heuristic_label, heuristic_confidence, heuristic_rule "
                        "FROM folder_features WHERE snapshot_id = ?",
                        (g.snapshot_id,),
                    )
                }
        finally:
            dbs.dispose()
    with open(dataset / "folders.csv", encoding="utf-8-sig", newline="") as fh:
        gold = [(row["path"], row["label"]) for row in csv.DictReader(fh)]
    missing = [p for p, _ in gold if p not in guessed]
    if missing:
        print(f"warning: {len(missing)} labelled folders were not found in the scan, e.g. {missing[:3]}")
    pairs = [(lab, guessed[p][0], p) for p, lab in gold if p in guessed]
    report = compute_report([t for t, _, _ in pairs], [p for _, p, _ in pairs], label_names())
    title = "HEURISTIC ON " + dataset.name + (" (known creators OFF)" if args.no_known_creators else "")
    print(f"{r.folders:,} folders scanned and extracted ({r.folders_per_second:,.0f} folders/s)")
    print(report.format_text(title))
    wrong = sorted((t, p, guessed[path][2], path) for t, p, path in pairs if t != p)
    if wrong and args.errors:
        print(f"\nMISCLASSIFIED ({len(wrong)}): true -> predicted [rule] path")
        for t, p, rule, path in wrong[: args.errors]:
            print(f"  {t} -> {p} [{rule}] {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
