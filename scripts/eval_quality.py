#!/usr/bin/env python3
"""The item-9 quality protocol on a labelled dataset (default: the dev library).

    .venv/bin/python scripts/eval_quality.py [--dataset DIR] [--samples 250] [--seed 42]
        [--config train.json] [--workdir DIR] [--frozen]

As a new user would: materialize the library on disk, ``gather`` it, ``extract-features``,
``generate-samples`` (the real diverse sampler), fill the samples' labels from the dataset's
``folders.csv``, ``apply-classifications``, ``train``, then ``predict`` every folder. Macro F1
is computed on the folders that were NOT labelled, averaging the classes that have at least
3 such folders (rarer classes are listed but not averaged: one or two folders make F1 0 or 1
by chance). Also reports the shipped baseline and zero-shot on the same unlabelled folders.
``--frozen`` trains with max_steps=0 (no body fine-tuning) to measure what fine-tuning adds.
"""

from __future__ import annotations

import argparse
import csv
import os
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


def macro_ge(y_true, y_pred, min_support=3):
    from engine.evaluation.report import compute_report, macro_f1_min_support

    m, scored = macro_f1_min_support(y_true, y_pred, min_support)
    rep = compute_report(y_true, y_pred, sorted(set(y_true) | set(y_pred)))
    return (0.0 if m != m else m), scored, rep


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=str(ROOT.parent / "shared" / "datasets" / "ttrpg-dev"))
    ap.add_argument("--samples", type=int, default=250)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--config", help="train config JSON (default: config/fine_tuning/train.json)")
    ap.add_argument("--workdir", help="keep the work folder here (default: a temporary folder)")
    ap.add_argument("--frozen", action="store_true", help="no body fine-tuning (max_steps=0)")
    a = ap.parse_args()

    from engine.core.config import load_config
    from engine.core.jobs import never_stop, no_progress
    from engine.core.settings import StorageSettings
    from engine.features.extract import extract_features
    from engine.labels.csv_import import apply_classifications
    from engine.models.listing import fill_samples_csv, read_folder_labels
    from engine.models.prediction import predict, zero_shot
    from engine.models.training import train_model
    from engine.samples.picking import generate_samples
    from engine.scan.gather import gather
    from engine.storage import Databases

    ds = Path(a.dataset)
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="fsorg-quality-"))
    if work.exists() and a.workdir:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    os.environ["FS_ORGANIZER_BASE_PATH"] = str(work / "base")
    t0 = time.monotonic()
    materialize = ds.parent / "materialize.py"
    subprocess.run([sys.executable, str(materialize), str(ds / "files.txt"), str(work / "tree")], check=True,
                   capture_output=True)
    settings = StorageSettings.from_storage_arg(work / "data")
    g = gather(work / "tree" / "library", settings)
    dbs = Databases.open(settings)
    extract_features(dbs, g.snapshot_id, load_config("extract_features"))
    gcfg = load_config("generate_samples", None, sample_size=a.samples, seed=a.seed)
    samples = work / "samples.csv"
    generate_samples(dbs, g.snapshot_id, samples, gcfg)
    truth = read_folder_labels(ds / "folders.csv")
    labelled = fill_samples_csv(samples, truth)
    apply_classifications(dbs, samples, load_config("apply_classifications"))
    dbs.dispose()
    print(f"prepared in {time.monotonic() - t0:.0f} s: {len(labelled)} labelled samples, "
          f"{len(truth) - len(labelled)} unlabelled folders to score")

    overrides = {"max_steps": 0} if a.frozen else {}
    tcfg = load_config("train", a.config, **overrides)
    t1 = time.monotonic()
    tr = train_model(settings, tcfg, model_path=work / "model", progress=no_progress, should_stop=never_stop)
    train_s = time.monotonic() - t1
    print(f"trained in {train_s:.0f} s ({tr.finetune_steps} fine-tuning steps, {tr.n_train} train folders); "
          f"test-split Macro F1 {tr.report.macro_f1 if tr.report else float('nan'):.3f}")

    def score(result, name):
        out = work / f"{name}.csv"
        with open(result.csv_path, encoding="utf-8-sig", newline="") as fh:
            preds = {r["path"]: r["prediction"] for r in csv.DictReader(fh)}
        shutil.copy(result.csv_path, out)
        paths = [p for p in truth if p not in labelled and p in preds]
        m, scored, rep = macro_ge([truth[p] for p in paths], [preds[p] for p in paths])
        print(rep.format_text(f"{name.upper()}: {len(paths)} folders NOT labelled"))
        print(f"==> {name}: Macro F1 on unlabelled folders = {m:.3f} "
              f"(averaged over the {len(scored)} classes with >= 3 such folders: {', '.join(scored)}; "
              f"fsorg's all-classes figure {rep.macro_f1:.3f})\n")
        with open(result.csv_path, encoding="utf-8-sig", newline="") as fh:
            abst = {r["path"]: r.get("abstained") == "1" for r in csv.DictReader(fh) if r.get("abstained")}
        if abst:
            kept = [p for p in paths if not abst.get(p, False)]
            mk, scored_k, rep_k = macro_ge([truth[p] for p in kept], [preds[p] for p in kept])
            print(f"==> {name} with its stored abstention thresholds: {len(paths) - len(kept)} of {len(paths)} "
                  f"unlabelled folders abstained (final label 'unknown'); coverage {len(kept) / len(paths):.3f}, "
                  f"on the kept ones Macro F1 {mk:.3f} (classes with >= 3 kept folders: {', '.join(scored_k)}), "
                  f"accuracy {rep_k.accuracy:.3f} (all unlabelled: {rep.accuracy:.3f})\n")
        return m

    pcfg = load_config("predict", None, labeled_only=False, use_baseline=False)
    res = predict(settings, pcfg, model_path=tr.model_path, output_csv=work / "pred_ft.csv",
                  progress=no_progress, should_stop=never_stop)
    m_ft = score(res, "fine-tuned" if not a.frozen else "frozen-body")
    res_b = predict(settings, pcfg.update(use_baseline=True), output_csv=work / "pred_base.csv",
                    progress=no_progress, should_stop=never_stop)
    m_b = score(res_b, "baseline (trained on all dev data: in-sample, not a fair figure)")
    res_z = zero_shot(settings, load_config("zero_shot", None, labeled_only=False), output_csv=work / "pred_zs.csv",
                      progress=no_progress, should_stop=never_stop)
    m_z = score(res_z, "zero-shot")
    print(f"SUMMARY  model={m_ft:.3f}  baseline(in-sample)={m_b:.3f}  zero-shot={m_z:.3f}  "
          f"train={train_s:.0f}s  total={time.monotonic() - t0:.0f}s  work={work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
