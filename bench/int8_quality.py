#!/usr/bin/env python3
"""Does int8 encoding change the labels? fp32 vs int8 on the labelled dev library.

    .venv/bin/python bench/int8_quality.py [--dataset DIR] [--samples 250] [--seed 42] [--no-train]

Materializes the dataset (``materialize.py`` next to it), gathers and extracts it once, then
for each precision (``FSORG_INT8=0`` and ``=1``; both in one database, which also shows that
their cached vectors are kept apart):

1. the shipped baseline predicts every folder;
2. (unless ``--no-train``) a frozen-body model (``max_steps=0``: the head only) is trained on
   ``--samples`` diverse samples labelled from ``folders.csv`` and predicts every folder.

Prints, per model: Macro F1 on the labelled folders (classes with >= 3 folders; for the trained
model only the folders it was not trained on), the agreement of the fp32 and int8 predictions,
and the encoding time. Keep int8 on by default only if Macro F1 moves by < 0.005.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=str(ROOT.parent / "shared" / "datasets" / "ttrpg-dev"))
    ap.add_argument("--samples", type=int, default=250)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-train", action="store_true", help="only the shipped baseline")
    a = ap.parse_args()
    ds = Path(a.dataset)
    if not (ds / "files.txt").is_file():
        print(f"error: no files.txt in {ds}", file=sys.stderr)
        return 2

    from eval_quality import macro_ge  # scripts/eval_quality.py

    from engine.core.config import load_config
    from engine.core.jobs import never_stop, no_progress
    from engine.core.settings import StorageSettings
    from engine.features.extract import extract_features
    from engine.labels.csv_import import apply_classifications
    from engine.models.listing import fill_samples_csv, read_folder_labels
    from engine.models.prediction import predict
    from engine.models.training import train_model
    from engine.samples.picking import generate_samples
    from engine.scan.gather import gather
    from engine.storage import Databases

    work = Path(tempfile.mkdtemp(prefix="fsorg-int8-"))
    os.environ["FS_ORGANIZER_BASE_PATH"] = str(work / "base")
    subprocess.run([sys.executable, str(ds.parent / "materialize.py"), str(ds / "files.txt"), str(work / "tree")],
                   check=True, capture_output=True)
    settings = StorageSettings.from_storage_arg(work / "data")
    g = gather(work / "tree" / "library", settings)
    dbs = Databases.open(settings)
    extract_features(dbs, g.snapshot_id, load_config("extract_features"))
    truth = read_folder_labels(ds / "folders.csv")
    labelled: set[str] = set()
    if not a.no_train:
        samples = work / "samples.csv"
        generate_samples(dbs, g.snapshot_id, samples, load_config("generate_samples", None, sample_size=a.samples,
                                                                  seed=a.seed))
        labelled = fill_samples_csv(samples, truth)
        apply_classifications(dbs, samples, load_config("apply_classifications"))
    dbs.dispose()
    load = os.getloadavg()
    print(f"dev library: {len(truth)} labelled folders; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    def preds_of(csv_path: Path) -> dict[str, str]:
        with open(csv_path, encoding="utf-8-sig", newline="") as fh:
            return {r["path"]: r["prediction"] for r in csv.DictReader(fh)}

    results: dict[tuple[str, str], dict[str, str]] = {}
    pcfg = load_config("predict", None, labeled_only=False, use_baseline=True)
    for prec in ("fp32", "int8"):
        os.environ["FSORG_INT8"] = "1" if prec == "int8" else "0"
        t = time.monotonic()
        r = predict(settings, pcfg, output_csv=work / f"base_{prec}.csv", progress=no_progress,
                    should_stop=never_stop)
        print(f"baseline {prec}: predicted {r.n} folders in {time.monotonic() - t:.1f} s "
              f"({r.encoded_texts} texts encoded)", flush=True)
        results[("baseline", prec)] = preds_of(work / f"base_{prec}.csv")
        if not a.no_train:
            t = time.monotonic()
            tr = train_model(settings, load_config("train", None, max_steps=0), model_path=work / f"model_{prec}",
                             progress=no_progress, should_stop=never_stop)
            r = predict(settings, pcfg.update(use_baseline=False), model_path=tr.model_path,
                        output_csv=work / f"frozen_{prec}.csv", progress=no_progress, should_stop=never_stop)
            print(f"frozen-body head {prec}: trained + predicted in {time.monotonic() - t:.1f} s", flush=True)
            results[("frozen", prec)] = preds_of(work / f"frozen_{prec}.csv")

    for model in ("baseline", "frozen"):
        if (model, "fp32") not in results:
            continue
        p32, p8 = results[(model, "fp32")], results[(model, "int8")]
        paths = [p for p in truth if p in p32 and p in p8 and (model == "baseline" or p not in labelled)]
        m32 = macro_ge([truth[p] for p in paths], [p32[p] for p in paths])[0]
        m8 = macro_ge([truth[p] for p in paths], [p8[p] for p in paths])[0]
        agree = sum(p32[p] == p8[p] for p in paths) / len(paths)
        print(f"==> {model}: {len(paths)} folders scored; Macro F1 fp32 {m32:.4f}, int8 {m8:.4f} "
              f"(delta {m8 - m32:+.4f}); predictions agree on {agree:.1%}")
    print(f"work folder: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
