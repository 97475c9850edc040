"""Benchmark for issue 9 (label smarter) on the labelled dev library. Prints figures; asserts nothing.

Usage::

    .venv/bin/python bench/active_learning.py [--workdir DIR] [--batch 25] [--max-labels 400]
        [--seeds 42,43,44] [--heldout 0.0] [--png bench/active_learning.png]
        [--only curves,suspects,abstain]

What it does, as a user would: materialize ``shared/datasets/ttrpg-dev`` on disk, ``gather`` it,
``extract-features``, import every folder's label from ``folders.csv`` through
``apply-classifications`` (one label run, stratified train/validation/test splits). Then:

1. **Label next** — :func:`engine.active.learning_curves`: a simulated user labels the library
   in batches of ``--batch`` chosen by the diverse sampler (:func:`engine.sampling.select_samples`,
   a fresh call per batch, as repeated ``generate-samples`` runs would) or by uncertainty +
   diversity (:func:`engine.active.pick_uncertain`; its first batch is the diverse sampler's,
   since there is no model yet). After every batch a class-balanced head
   (:func:`engine.models.training.fit_head`) on the **frozen base body** inputs
   (:mod:`engine.models.inputs` recipe) is fitted and scored on every folder not labelled yet:
   Macro F1 over the classes with >= 3 such folders (the quality protocol of
   ``scripts/eval_quality.py``). Averaged over ``--seeds``. ``--heldout F`` also scores a fixed
   stratified held-out share F that neither strategy may pick (the fair comparison: "not yet
   labelled" is a different, easier set for uncertainty sampling, which removes hard folders).
   Table + ``--png`` plot (pyqtgraph ImageExporter, offscreen).
2. **Suspect labels** — flip 5 % of the labels on purpose (to a random other label), run
   :func:`engine.active.find_suspects` (5-fold out-of-fold, frozen body) and count how many
   flipped labels rank in the top 5 % and top 10 % of suspects.
3. **Abstain** — head fitted on the ``train`` split, thresholds chosen on ``validation``
   (:func:`engine.active.choose_thresholds`), coverage and Macro F1 on kept ``test`` predictions,
   for several target precisions and for global thresholds (:func:`engine.active.coverage_curve`).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DATASET = ROOT.parent / "shared" / "datasets" / "ttrpg-dev"


def prepare(work: Path, dataset: Path):
    """Materialize, gather, extract features, import all labels. Returns (settings, snapshot_id, run_id)."""
    from engine.config import load_config
    from engine.features import extract_features
    from engine.models.listing import read_folder_labels
    from engine.sampling import apply_classifications
    from engine.scan import gather
    from engine.settings import StorageSettings
    from engine.storage import Databases
    from engine.storage import schema as S

    os.environ["FS_ORGANIZER_BASE_PATH"] = str(work / "base")
    subprocess.run(
        [
            sys.executable,
            str(dataset.parent / "materialize.py"),
            str(dataset / "files.txt"),
            str(work / "tree"),
        ],
        check=True,
        capture_output=True,
    )
    settings = StorageSettings.from_storage_arg(work / "data")
    g = gather(work / "tree" / "library", settings)
    dbs = Databases.open(settings)
    try:
        extract_features(dbs, g.snapshot_id, load_config("extract_features"))
        truth = read_folder_labels(dataset / "folders.csv")
        with dbs.index.connect() as c:
            rows = c.execute(
                S.folders.select().where(S.folders.c.snapshot_id == g.snapshot_id, S.folders.c.depth >= 1)
            ).all()
        csv_path = work / "all_labels.csv"
        with open(csv_path, "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["folder_id", "path", "label"])
            for r in rows:
                if r.rel_path in truth:
                    w.writerow([r.id, r.rel_path, truth[r.rel_path]])
        res = apply_classifications(dbs, csv_path, load_config("apply_classifications"))
    finally:
        dbs.dispose()
    return settings, g.snapshot_id, res.label_run_id


def curves(settings, run_id: int, args) -> None:
    from engine.active import learning_curves

    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.monotonic()
    res = learning_curves(
        settings,
        label_run_id=run_id,
        batch_size=args.batch,
        max_labels=args.max_labels,
        seeds=seeds,
        heldout_fraction=args.heldout,
    )
    dt = time.monotonic() - t0
    print(
        f"\n== 1. LABEL NEXT: Macro F1 vs labels ({res.encoder} + class-balanced head; pool {res.n_pool} "
        f"folders; batches of {res.batch_size}; mean of seeds {seeds}; {dt:.0f} s)"
    )
    d, u = res.series["diverse"], res.series["uncertainty"]
    held = args.heldout > 0
    head = f"{'labels':>7} {'diverse':>9} {'uncert.':>9}"
    if held:
        head += f" {'div held':>9} {'unc held':>9}"
    print(
        head
        + "   (Macro F1 on folders not labelled yet"
        + (", and on the fixed held-out set)" if held else ")")
    )
    for a, b in zip(d, u):
        line = f"{a.n_labels:>7} {a.macro_f1:>9.3f} {b.macro_f1:>9.3f}"
        if held:
            line += f" {a.macro_f1_heldout:>9.3f} {b.macro_f1_heldout:>9.3f}"
        print(line)
    ref_n = 250
    ref = next((p for p in d if p.n_labels == ref_n), d[-1])
    need = res.labels_to_reach("uncertainty", ref.macro_f1)
    print(
        f"diverse sampler at {ref.n_labels} labels: Macro F1 {ref.macro_f1:.3f}; uncertainty reaches it at "
        f"{need if need is not None else 'never (within the run)'} labels (target <= 150)"
    )
    if held:
        refh = next((p for p in d if p.n_labels == ref_n), d[-1])
        needh = res.labels_to_reach("uncertainty", refh.macro_f1_heldout, heldout=True)
        print(
            f"held-out: diverse at {refh.n_labels} labels {refh.macro_f1_heldout:.3f}; uncertainty reaches it at "
            f"{needh if needh is not None else 'never'} labels"
        )
    if args.png:
        draw_png(res, Path(args.png), heldout=held)
        print(f"plot written to {args.png}")


def draw_png(res, path: Path, *, heldout: bool) -> None:
    import pyqtgraph as pg
    import pyqtgraph.exporters as pge
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])  # noqa: F841 - keeps Qt alive
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    w = pg.PlotWidget()
    w.resize(900, 560)
    pi = w.getPlotItem()
    pi.setTitle("Macro F1 vs number of labels (dev library, frozen body + head)")
    pi.setLabel("bottom", "labels")
    pi.setLabel("left", "Macro F1 (folders not labelled yet)")
    pi.addLegend(offset=(-10, -10))
    pi.showGrid(x=True, y=True, alpha=0.3)
    colors = {"diverse": (90, 90, 200), "uncertainty": (210, 90, 30)}
    for name, pts in res.series.items():
        xs = [p.n_labels for p in pts]
        pi.plot(
            xs,
            [p.macro_f1 for p in pts],
            pen=pg.mkPen(colors[name], width=3),
            symbol="o",
            symbolBrush=colors[name],
            symbolSize=6,
            name=name,
        )
        if heldout:
            pi.plot(
                xs,
                [p.macro_f1_heldout for p in pts],
                pen=pg.mkPen(colors[name], width=2, style=2),
                name=f"{name} (held-out)",
            )
    ref = next((p for p in res.series["diverse"] if p.n_labels == 250), None)
    if ref is not None:
        pi.addLine(y=ref.macro_f1, pen=pg.mkPen((120, 120, 120), width=1, style=3))
        pi.addLine(x=150, pen=pg.mkPen((120, 120, 120), width=1, style=3))
    exp = pge.ImageExporter(pi)
    exp.parameters()["width"] = 900
    path.parent.mkdir(parents=True, exist_ok=True)
    exp.export(str(path))


def suspects(settings, run_id: int, args) -> None:
    from engine.active import find_suspects
    from engine.labels import LabelRow, create_label_run, load_labels, set_labels
    from engine.storage import Databases
    from engine.taxonomy import label_names

    print(
        "\n== 2. SUSPECT LABELS: 5 % of the labels flipped to a random other label; 5-fold out-of-fold, "
        "frozen base body"
    )
    print(
        f"{'seed':>5} {'labels':>7} {'flipped':>8} {'top 5%':>12} {'top 10%':>12} {'disagreeing':>12} {'s':>5}"
    )
    tot5 = tot10 = totf = 0
    for seed in [int(s) for s in args.seeds.split(",")]:
        dbs = Databases.open(settings)
        try:
            rows = load_labels(dbs.training, run_id)
            rng = random.Random(seed)
            n_flip = round(0.05 * len(rows))
            flip = set(rng.sample(range(len(rows)), n_flip))
            names = list(label_names())
            new_rows = []
            for i, r in enumerate(rows):
                lb = r.label
                if i in flip:
                    lb = rng.choice([x for x in names if x != r.label])
                new_rows.append(LabelRow(r.folder_id, r.snapshot_id, r.rel_path, lb, r.split))
            with dbs.training.begin() as c:
                rid = create_label_run(
                    c, labeler="bench", source="bench:flipped", snapshot_id=rows[0].snapshot_id
                )
                set_labels(c, rid, new_rows)
            flipped_ids = {rows[i].folder_id for i in flip}
        finally:
            dbs.dispose()
        t0 = time.monotonic()
        ranked = find_suspects(settings, rid, k_folds=5, seed=seed)
        dt = time.monotonic() - t0
        n = len(rows)
        k5, k10 = round(0.05 * n), round(0.10 * n)
        top5 = sum(1 for s in ranked[:k5] if s.folder_id in flipped_ids)
        top10 = sum(1 for s in ranked[:k10] if s.folder_id in flipped_ids)
        dis = sum(1 for s in ranked if s.disagrees)
        tot5, tot10, totf = tot5 + top5, tot10 + top10, totf + n_flip
        print(
            f"{seed:>5} {n:>7} {n_flip:>8} {top5:>4}/{n_flip} ({top5 / n_flip:>3.0%}) "
            f"{top10:>4}/{n_flip} ({top10 / n_flip:>3.0%}) {dis:>12} {dt:>5.0f}"
        )
    print(
        f"total: {tot5}/{totf} flipped labels in the top 5 % ({tot5 / totf:.0%}), "
        f"{tot10}/{totf} in the top 10 % ({tot10 / totf:.0%})"
    )


def abstain(settings, run_id: int, args) -> None:
    from engine.active import (
        abstention_report,
        base_encoder,
        choose_thresholds,
        coverage_curve,
        feature_matrix,
        fit_predict_head,
        macro_f1_min_support,
    )
    from engine.labels import load_labels
    from engine.models.data import load_records
    from engine.storage import Databases
    from engine.taxonomy import label_names

    dbs = Databases.open(settings)
    try:
        rows = load_labels(dbs.training, run_id)
        recs = {r.folder_id: r for r in load_records(dbs.training, folder_ids=[r.folder_id for r in rows])}
        rows = [r for r in rows if r.folder_id in recs]
        X = feature_matrix(dbs.training, [recs[r.folder_id] for r in rows], base_encoder())
    finally:
        dbs.dispose()
    y = [r.label for r in rows]
    labels = [lb for lb in label_names() if lb in set(y)]
    idx = {s: [i for i, r in enumerate(rows) if r.split == s] for s in ("train", "validation", "test")}
    Ptr_idx = idx["train"]
    P_val = fit_predict_head(X[Ptr_idx], [y[i] for i in Ptr_idx], X[idx["validation"]], labels)
    P_te = fit_predict_head(X[Ptr_idx], [y[i] for i in Ptr_idx], X[idx["test"]], labels)
    y_val = [y[i] for i in idx["validation"]]
    y_te = [y[i] for i in idx["test"]]
    base_f1, _ = macro_f1_min_support(y_te, [labels[j] for j in P_te.argmax(axis=1)], 1)
    print(
        f"\n== 3. ABSTAIN: head on train ({len(idx['train'])}), thresholds on validation ({len(y_val)}), "
        f"scored on test ({len(y_te)}); frozen base body. No abstention: Macro F1 {base_f1:.3f}"
    )
    print("per-class thresholds chosen on validation for a target precision:")
    print(f"{'target':>7} {'coverage':>9} {'Macro F1 kept':>14} {'accuracy kept':>14}  thresholds")
    for tp in (0.6, 0.7, 0.8, 0.9, 0.95):
        th = choose_thresholds(P_val, y_val, labels, target_precision=tp)
        r = abstention_report(P_te, y_te, labels, th)
        ths = ", ".join(f"{k[:8]} {v:.2f}" for k, v in th.items() if k != "unknown")
        print(f"{tp:>7.2f} {r.coverage:>9.1%} {r.macro_f1:>14.3f} {r.accuracy:>14.3f}  {ths}")
    print("one global confidence threshold (coverage_curve on test):")
    print(f"{'thresh':>7} {'coverage':>9} {'Macro F1 kept':>14} {'accuracy kept':>14}")
    for p in coverage_curve(P_te, y_te, labels):
        print(f"{p.threshold:>7.2f} {p.coverage:>9.1%} {p.macro_f1:>14.3f} {p.accuracy:>14.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=str(DATASET))
    ap.add_argument(
        "--workdir", help="work folder (default: a temporary one); reused when it holds a prepared library"
    )
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--max-labels", type=int, default=400)
    ap.add_argument("--seeds", default="42,43,44")
    ap.add_argument("--heldout", type=float, default=0.0)
    ap.add_argument("--png", default=str(ROOT / "bench" / "active_learning.png"))
    ap.add_argument("--only", default="curves,suspects,abstain")
    a = ap.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="fsorg-active-"))
    t0 = time.monotonic()
    marker = work / "prepared.txt"
    if a.workdir and marker.exists():
        from engine.settings import StorageSettings

        os.environ["FS_ORGANIZER_BASE_PATH"] = str(work / "base")
        settings = StorageSettings.from_storage_arg(work / "data")
        snap, run_id = (int(x) for x in marker.read_text().split())
    else:
        if work.exists() and a.workdir:
            shutil.rmtree(work)
        work.mkdir(parents=True, exist_ok=True)
        settings, snap, run_id = prepare(work, Path(a.dataset))
        marker.write_text(f"{snap} {run_id}")
    print(f"library ready in {time.monotonic() - t0:.0f} s: snapshot {snap}, label run {run_id} ({work})")
    only = set(a.only.split(","))
    if "curves" in only:
        curves(settings, run_id, a)
    if "abstain" in only:
        abstain(settings, run_id, a)
    if "suspects" in only:
        suspects(settings, run_id, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
