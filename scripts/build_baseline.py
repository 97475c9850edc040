#!/usr/bin/env python3
"""Rebuild the shipped baseline (``resources/baseline/``) from the labelled dev library.

    .venv/bin/python scripts/build_baseline.py [--dataset ../shared/datasets/ttrpg-dev] [--check-only]

First evaluates the recipe on creators the head was NOT trained on (issue 5, item 9): the dev
repositories are split into two creator groups (``seans-czepeku`` vs. all the others, see
PROVENANCE.md); a head is trained on one group and scored on the other, both ways. Then fits
the shipped head on all dev folders and saves it (atomically) with those figures in its
metadata. Macro F1 is printed twice: averaged over every class present in the held-out
group (fsorg's report) and over the classes with >= 3 held-out folders.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

from engine.evaluation import compute_report  # noqa: E402
from engine.models import base as B  # noqa: E402
from engine.models.baseline import BASELINE_DIR, build_baseline, embed_records, portable_recipe  # noqa: E402
from engine.models.inputs import DEFAULT_RECIPE, build_matrix  # noqa: E402
from engine.models.listing import read_folder_labels, records_from_listing  # noqa: E402
from engine.models.training import fit_head, predict_labels  # noqa: E402
from engine.taxonomy import label_names  # noqa: E402

GROUP_A = "seans-czepeku"


def macro_min(report, min_support: int = 3) -> float:
    cls = [lb for lb in report.labels if report.per_class[lb].support >= min_support]
    return sum(report.per_class[lb].f1 for lb in cls) / len(cls) if cls else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=str(ROOT.parent / "shared" / "datasets" / "ttrpg-dev"))
    ap.add_argument("--out", default=str(BASELINE_DIR))
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--recipe", choices=("portable", "default"), default="portable",
                    help="input recipe: 'portable' (for unseen libraries, shipped) or the fine-tuning default")
    ap.add_argument("--check-only", action="store_true", help="evaluate only; do not write the baseline")
    a = ap.parse_args()
    ds = Path(a.dataset)
    t0 = time.monotonic()
    records = records_from_listing(ds / "files.txt")
    truth = read_folder_labels(ds / "folders.csv")
    records = [r for r in records if r.rel_path in truth]
    y = [truth[r.rel_path] for r in records]
    taxonomy = list(label_names())
    body = B.load_body(B.resolve_base_model(None))
    recipe = portable_recipe() if a.recipe == "portable" else dict(DEFAULT_RECIPE)
    vecs = embed_records(records, recipe, body)
    X = build_matrix(records, recipe, vecs, int(body.get_embedding_dimension()))
    in_a = [r.rel_path.split("/")[0] == GROUP_A for r in records]
    metrics: dict = {"held_out_creators": {}}
    for name, train_mask in ((f"train {GROUP_A} -> test others", in_a), (f"train others -> test {GROUP_A}", [not m for m in in_a])):
        tr = [i for i, m in enumerate(train_mask) if m]
        te = [i for i, m in enumerate(train_mask) if not m]
        used = [lb for lb in taxonomy if lb in {y[i] for i in tr}]
        head = fit_head(X[tr], [y[i] for i in tr], used, C=a.C, seed=42)
        _, pred = predict_labels(head, X[te], used)
        rep = compute_report([y[i] for i in te], pred, taxonomy)
        m3 = macro_min(rep)
        metrics["held_out_creators"][name] = {
            "n_test": len(te),
            "macro_f1_all_present": round(rep.macro_f1, 4),
            "macro_f1_classes_ge3": round(m3, 4),
            "classes_ge3": [lb for lb in rep.labels if rep.per_class[lb].support >= 3],
        }
        print(rep.format_text(f"BASELINE ON HELD-OUT CREATORS: {name}"))
        print(f"Macro F1 over classes with >= 3 held-out folders: {m3:.3f}\n")
    mean3 = sum(v["macro_f1_classes_ge3"] for v in metrics["held_out_creators"].values()) / 2
    print(f"Mean held-out-creator Macro F1 (classes >= 3): {mean3:.3f}")
    metrics["held_out_creators_mean_macro_f1_ge3"] = round(mean3, 4)
    if a.check_only:
        return 0
    out = build_baseline(
        records, y, labels=taxonomy, target=Path(a.out), C=a.C, body=body, metrics=metrics,
        source=f"{ds.name} ({len(records)} labelled folders)", recipe=recipe,
    )
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"Baseline written to {out} ({size / 1024:.0f} KB) in {time.monotonic() - t0:.0f} s")
    print(json.dumps(metrics, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
