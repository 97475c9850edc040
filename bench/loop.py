#!/usr/bin/env python3
"""The user's loop on a 1,000-folder library: train on 150 labels, then predict every folder.

    .venv/bin/python bench/loop.py [--folders 1000] [--labels 150] [--dataset ttrpg-dev2]

The library is the first ``--folders`` folders of a real, hand-labelled dataset
(``../shared/datasets/<dataset>``, materialized with empty files). It is set up as a user
would with the CLI (``gather``, ``model extract-features``, ``model generate-samples
--sample-size N``, the CSV's ``label`` column filled from the dataset's labels as a person
would type them, ``model apply-classifications``); then the two timed steps run as the user
runs them, each a fresh ``python organizer.py`` process: ``model train`` (the shipped
``train.json``) and ``model predict`` (every folder, the model just trained). The issue's
goals on 2 cores: training ≤ 60 s, train + predict ≤ 90 s. Prints each step's wall seconds,
the load average, and the held-out Macro F1 ``train`` reported. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT.parent / "shared" / "datasets"  # (bench.libraries makes the library)


def cli(*args: str, env: dict) -> tuple[float, str]:
    t = time.monotonic()
    p = subprocess.run([sys.executable, str(ROOT / "organizer.py"), *args], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    dt = time.monotonic() - t
    if p.returncode != 0:
        sys.exit(f"{' '.join(args[:2])} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return dt, p.stdout + p.stderr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folders", type=int, default=1000)
    ap.add_argument("--labels", type=int, default=150)
    ap.add_argument("--dataset", default="ttrpg-dev2")
    a = ap.parse_args()
    if not (DATASETS / a.dataset / "files.txt").is_file():
        sys.exit(f"{DATASETS / a.dataset} is not here: this bench needs ../shared/datasets.")
    from bench.libraries import dataset_library
    from engine.models.listing import fill_samples_csv, read_folder_labels

    work = Path(tempfile.mkdtemp(prefix="fsorg-loop-"))
    env = dict(os.environ, FS_ORGANIZER_BASE_PATH=str(work / "base"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    lib = dataset_library(work, a.dataset, a.folders)
    data = str(work / "data")
    cli("gather", str(lib), "--storage", data, env=env)
    cli("model", "extract-features", "--storage", data, env=env)
    samples = work / "samples.csv"
    cli("model", "generate-samples", "--storage", data, "--output-csv", str(samples),
        "--sample-size", str(a.labels), env=env)
    labelled = fill_samples_csv(samples, read_folder_labels(DATASETS / a.dataset / "folders.csv"))
    cli("model", "apply-classifications", "--storage", data, "--input-csv", str(samples), env=env)
    load = os.getloadavg()
    print(f"{a.dataset}: {a.folders:,}-folder library, {len(labelled)} labels; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    t_train, out = cli("model", "train", "--storage", data, env=env)
    f1 = re.search(r"Macro F1[^0-9]*([0-9.]+ ?%?)", out)
    t_pred, _ = cli("model", "predict", "--storage", data, env=env)  # the newest trained model
    print(f"  model train   {t_train:6.1f} s  (goal 60 s; held-out Macro F1 it printed: {f1.group(1) if f1 else '?'})")
    print(f"  model predict {t_pred:6.1f} s  (every folder, the model just trained)")
    print(f"  train + predict {t_train + t_pred:.1f} s (goal 90 s); load now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
