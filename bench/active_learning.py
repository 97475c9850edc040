"""Benchmark for issue 9 (label smarter) on the labelled dev library. Prints figures; asserts nothing.

Usage::

    .venv/bin/python bench/active_learning.py [--workdir DIR] [--batch 25] [--max-labels 400]
        [--seeds 42,43,44,45,46] [--heldout 0.3] [--png bench/active_learning.png]
        [--only curves,suspects,abstain]

What it does, as a user would: materialize ``shared/datasets/ttrpg-dev`` on disk, ``gather`` it,
``extract-features``, import every folder's label from ``folders.csv`` through
``apply-classifications`` (one label run, stratified train/validation/test splits). Then:

1. **Label next** — :func:`engine.active.curves.learning_curves`: a simulated user labels the library
   in batches of ``--batch`` chosen by the diverse sampler (:func:`engine.samples.picking.select_samples`,
   a fresh call per batch, as repeated ``generate-samples`` runs would) or by uncertainty +
   diversity (:func:`engine.active.label_next.pick_uncertain`; its first batch is the diverse sampler's,
   since there is no model yet). After every batch a class-balanced head
   (:func:`engine.models.training.fit_head`) on the **frozen base body** inputs
   (:mod:`engine.models.inputs` recipe) is fitted and scored: Macro F1 over the classes with
   >= 3 folders (the quality protocol of ``scripts/eval_quality.py``), mean of ``--seeds``.
   Two protocols. (1a, fair) a stratified ``--heldout`` share is never offered for labelling
   and is scored at every step, beside the folders not labelled yet. (1b, the issue's literal
   protocol) all 850 folders are in the pool and only the folders not labelled yet are scored;
   this one is biased: the dev set has 12 creator and 14 ``other`` folders, the diverse
   sampler (stratified by the heuristic's label) labels all of them within ~150 labels, and
   those classes then leave the scored set, so its Macro F1 is over 3 easy classes while the
   other strategy is still scored on 5. Table + ``--png`` plot of both (pyqtgraph
   ImageExporter, offscreen).
2. **Suspect labels** — flip 5 % of the labels on purpose (to a random other label), run
   :func:`engine.active.suspects.find_suspects` (5-fold out-of-fold, frozen body) and count how many
   flipped labels rank in the top 5 % and top 10 % of suspects.
3. **Abstain** — (a) head fitted on the ``train`` split, thresholds chosen on ``validation``
   (:func:`engine.models.abstention.choose_thresholds`), coverage and Macro F1 on kept ``test`` predictions
   (128 folders: noisy); (b) cross-fitted: 5-fold out-of-fold probabilities of all labelled
   folders, thresholds chosen on one stratified half and applied to the other, both ways; plus
   one global threshold swept over the same predictions (:func:`engine.models.abstention.coverage_curve`).
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
# Small heads: BLAS threads only fight each other on a shared machine (see engine.active.label_next).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

DATASET = ROOT.parent / "shared" / "datasets" / "ttrpg-dev"


def prepare(work: Path, dataset: Path):
    """Materialize, gather, extract features, import all labels. Returns (settings, snapshot_id, run_id)."""
    from engine.core.config import load_config
    from engine.core.settings import StorageSettings
    from engine.features.extract import extract_features
    from engine.labels.csv_import import apply_classifications
    from engine.models.listing import read_folder_labels
    from engine.scan.gather import gather
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


def _table(res, *, heldout: bool) -> None:
    d, u = res.series["diverse"], res.series["uncertainty"]
    head = f"{'labels':>7} {'diverse':>9} {'uncert.':>9}"
    if heldout:
        head += f" {'div held':>9} {'unc held':>9}"
    print(head)
    for a, b in zip(d, u):
        line = f"{a.n_labels:>7} {a.macro_f1:>9.3f} {b.macro_f1:>9.3f}"
        if heldout:
            line += f" {a.macro_f1_heldout:>9.3f} {b.macro_f1_heldout:>9.3f}"
        print(line)


def _reach(res, *, heldout: bool, ref_n: int = 250) -> str:
    d = res.series["diverse"]
    ref = next((p for p in d if p.n_labels == ref_n), d[-1])
    v = ref.macro_f1_heldout if heldout else ref.macro_f1
    need = res.labels_to_reach("uncertainty", v, heldout=heldout)
    where = "held-out set" if heldout else "folders not labelled yet"
    return (
        f"  [{where}] diverse sampler at {ref.n_labels} labels: Macro F1 {v:.3f}; uncertainty reaches it "
        f"at {need if need is not None else 'never (within the run)'} labels (target <= 150)"
    )


def curves(settings, run_id: int, args) -> None:
    from engine.active.curves import learning_curves

    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for held in (args.heldout, 0.0):
        t0 = time.monotonic()
        res = learning_curves(
            settings,
            label_run_id=run_id,
            batch_size=args.batch,
            max_labels=args.max_labels,
            seeds=seeds,
            heldout_fraction=held,
        )
        dt = time.monotonic() - t0
        results[held] = res
        if held > 0:
            print(
                f"\n== 1a. LABEL NEXT, fair protocol: a stratified {held:.0%} of the library is held out (never "
                f"offered); pool {res.n_pool - round(held * res.n_pool)} folders; {res.encoder} + class-balanced "
                f"head; batches of {res.batch_size}; mean of seeds {seeds}; {dt:.0f} s"
            )
            print(
                "Macro F1 (classes with >= 3 folders) on the folders not labelled yet, and on the held-out set:"
            )
        else:
            print(
                f"\n== 1b. LABEL NEXT, the issue's literal protocol: pool = all {res.n_pool} labelled dev folders; "
                f"Macro F1 on the folders not labelled yet (classes with >= 3 of them); seeds {seeds}; {dt:.0f} s"
            )
        _table(res, heldout=held > 0)
        if held > 0:
            print(_reach(res, heldout=True))
        print(_reach(res, heldout=False))
        for n in (150, 250):
            cls = {k: next((p.classes for p in v if p.n_labels == n), ()) for k, v in res.series.items()}
            print(
                f"  classes scored at {n} labels (seed {seeds[0]}): "
                + "; ".join(f"{k}: {', '.join(c)}" for k, c in cls.items())
            )
    if args.png:
        draw_png(results, Path(args.png), args.heldout)
        print(f"plot written to {args.png}")


def draw_png(results, path: Path, held: float) -> None:
    import pyqtgraph as pg
    import pyqtgraph.exporters as pge
    from PySide6.QtWidgets import QApplication

    _app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    win = pg.GraphicsLayoutWidget()
    win.resize(1300, 560)
    colors = {"diverse": (60, 80, 200), "uncertainty": (220, 90, 20)}
    panels = [
        (results[held], True, f"Fair: Macro F1 on a fixed {held:.0%} held-out set"),
        (results[0.0], False, "Literal: Macro F1 on the folders not labelled yet (all 850 in the pool)"),
    ]
    for col, (res, use_held, title) in enumerate(panels):
        pi = win.addPlot(row=0, col=col, title=title)
        pi.setLabel("bottom", "labels")
        pi.setLabel("left", "Macro F1")
        pi.showGrid(x=True, y=True, alpha=0.3)
        pi.getAxis("left").enableAutoSIPrefix(False)
        pi.addLegend(offset=(-10, -10))
        for name, pts in res.series.items():
            xs = [p.n_labels for p in pts]
            ys = [(p.macro_f1_heldout if use_held else p.macro_f1) for p in pts]
            pi.plot(
                xs,
                ys,
                pen=pg.mkPen(colors[name], width=3),
                symbol="o",
                symbolBrush=colors[name],
                symbolSize=7,
                name=name,
            )
        ref = next((p for p in res.series["diverse"] if p.n_labels == 250), None)
        if ref is not None:
            v = ref.macro_f1_heldout if use_held else ref.macro_f1
            pi.addLine(y=v, pen=pg.mkPen((120, 120, 120), width=1, style=pg.QtCore.Qt.PenStyle.DashLine))
            pi.addLine(x=150, pen=pg.mkPen((120, 120, 120), width=1, style=pg.QtCore.Qt.PenStyle.DashLine))
    win.show()  # offscreen: lets the layout size the two plots before the export
    for _ in range(3):
        _app.processEvents()
    exp = pge.ImageExporter(win.scene())
    exp.parameters()["width"] = 1300
    path.parent.mkdir(parents=True, exist_ok=True)
    exp.export(str(path))


def suspects(settings, run_id: int, args) -> None:
    from engine.active.suspects import find_suspects
    from engine.core.taxonomy import label_names
    from engine.labels.runs import LabelRow, create_label_run, load_labels, set_labels
    from engine.storage import Databases

    print(
        "\n== 2. SUSPECT LABELS: 5 % of the labels flipped to a random other label; 5-fold out-of-fold, "
        "frozen base body"
    )
    print(
        f"{'seed':>5} {'labels':>7} {'flipped':>8} {'top 5%':>12} {'top 10%':>12} {'disagreeing':>12} {'s':>5}"
    )
    tot5 = tot10 = totf = tot3_5 = tot3_10 = 0
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
        ranked3 = find_suspects(settings, rid, k_folds=5, seed=seed, repeats=3)
        n = len(rows)
        k5, k10 = round(0.05 * n), round(0.10 * n)
        top5 = sum(1 for s in ranked[:k5] if s.folder_id in flipped_ids)
        top10 = sum(1 for s in ranked[:k10] if s.folder_id in flipped_ids)
        r3_5 = sum(1 for s in ranked3[:k5] if s.folder_id in flipped_ids)
        r3_10 = sum(1 for s in ranked3[:k10] if s.folder_id in flipped_ids)
        tot3_5, tot3_10 = tot3_5 + r3_5, tot3_10 + r3_10
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
    print(
        f"with repeats=3 (out-of-fold probabilities averaged over 3 fold splits): top 5 % {tot3_5}/{totf} "
        f"({tot3_5 / totf:.0%}), top 10 % {tot3_10}/{totf} ({tot3_10 / totf:.0%})"
    )


def abstain(settings, run_id: int, args) -> None:
    from engine.core.taxonomy import label_names
    from engine.evaluation.report import macro_f1_min_support
    from engine.labels.runs import load_labels
    from engine.models.abstention import (
        abstention_report,
        apply_abstention,
        choose_thresholds,
        coverage_curve,
    )
    from engine.models.data import load_records
    from engine.models.folds import oof_probabilities, stratified_folds
    from engine.models.loading import base_encoder, feature_matrix, fit_predict_head
    from engine.storage import Databases

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
    targets = (0.6, 0.7, 0.8, 0.9, 0.95)

    # (a) the label run's splits: head on train, thresholds on validation, report on test
    idx = {s: [i for i, r in enumerate(rows) if r.split == s] for s in ("train", "validation", "test")}
    tr = idx["train"]
    P_val = fit_predict_head(X[tr], [y[i] for i in tr], X[idx["validation"]], labels)
    P_te = fit_predict_head(X[tr], [y[i] for i in tr], X[idx["test"]], labels)
    y_val = [y[i] for i in idx["validation"]]
    y_te = [y[i] for i in idx["test"]]
    base_f1, _ = macro_f1_min_support(y_te, [labels[j] for j in P_te.argmax(axis=1)], 3)
    print(
        f"\n== 3a. ABSTAIN on the label run's splits: head on train ({len(tr)}), thresholds on validation "
        f"({len(y_val)}), scored on test ({len(y_te)}); frozen base body; Macro F1 over classes with >= 3 kept "
        f"test folders. No abstention: Macro F1 {base_f1:.3f}"
    )
    print(f"{'target':>7} {'coverage':>9} {'Macro F1 kept':>14} {'accuracy kept':>14}  thresholds")
    for tp in targets:
        th = choose_thresholds(P_val, y_val, labels, target_precision=tp)
        r = abstention_report(P_te, y_te, labels, th, min_support=3)
        ths = ", ".join(f"{k[:8]} {v:.2f}" for k, v in th.items() if k != "unknown")
        print(f"{tp:>7.2f} {r.coverage:>9.1%} {r.macro_f1:>14.3f} {r.accuracy:>14.3f}  {ths}")

    # (b) cross-fitted: every labelled folder predicted out of fold; thresholds chosen on one half,
    # applied to the other, and the other way round (steadier than 128 test folders)
    P = oof_probabilities(X, y, labels, k_folds=5, seed=42)
    half = stratified_folds(y, 2, seed=7)
    base_f1, _ = macro_f1_min_support(y, [labels[j] for j in P.argmax(axis=1)], 3)
    print(
        f"\n== 3b. ABSTAIN, cross-fitted on all {len(y)} labelled folders (5-fold out-of-fold probabilities; "
        f"thresholds chosen on one stratified half, applied to the other, both ways). No abstention: Macro F1 "
        f"{base_f1:.3f}"
    )
    print(f"{'target':>7} {'coverage':>9} {'Macro F1 kept':>14} {'accuracy kept':>14}")
    for tp in targets:
        pred = [None] * len(y)
        for h in (0, 1):
            a = [i for i in range(len(y)) if half[i] == h]
            b = [i for i in range(len(y)) if half[i] != h]
            th = choose_thresholds(P[a], [y[i] for i in a], labels, target_precision=tp)
            for i, p in zip(b, apply_abstention(P[b], labels, th)):
                pred[i] = p
        keep = [i for i in range(len(y)) if pred[i] != "unknown"]
        f1, _ = macro_f1_min_support([y[i] for i in keep], [pred[i] for i in keep], 3)
        acc = sum(1 for i in keep if pred[i] == y[i]) / max(1, len(keep))
        print(f"{tp:>7.2f} {len(keep) / len(y):>9.1%} {f1:>14.3f} {acc:>14.3f}")
    print("one global confidence threshold on the same out-of-fold predictions (coverage_curve):")
    print(f"{'thresh':>7} {'coverage':>9} {'Macro F1 kept':>14} {'accuracy kept':>14}")
    for p in coverage_curve(P, y, labels, min_support=3):
        print(f"{p.threshold:>7.2f} {p.coverage:>9.1%} {p.macro_f1:>14.3f} {p.accuracy:>14.3f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=str(DATASET))
    ap.add_argument(
        "--workdir", help="work folder (default: a temporary one); reused when it holds a prepared library"
    )
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--max-labels", type=int, default=300)
    ap.add_argument("--seeds", default="42,43,44,45,46")
    ap.add_argument("--heldout", type=float, default=0.3, help="held-out share of the fair protocol")
    ap.add_argument("--png", default=str(ROOT / "bench" / "active_learning.png"))
    ap.add_argument("--only", default="curves,suspects,abstain")
    a = ap.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="fsorg-active-"))
    t0 = time.monotonic()
    marker = work / "prepared.txt"
    if a.workdir and marker.exists():
        from engine.core.settings import StorageSettings

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
