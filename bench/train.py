"""Benchmark: ``model train`` on 1,000 labelled folders (wall time, fine-tuning steps, peak RSS).

Usage::

    .venv/bin/python bench/train.py [--labels 1000] [--config F] [--data DIR]

The labelled folders are the real dev library's (``../shared/datasets/ttrpg-dev``: 850
hand-labelled folders, read with :mod:`engine.models.listing`); to reach ``--labels`` the
listing is repeated under a second root (``copy2/...``), so names repeat as they do in real
libraries. Their features are written to a fresh training.db, one label run holds them all,
and :func:`engine.models.training.train_model` runs with the shipped ``train.json`` (or
``--config``) in a child process. Printed: wall seconds of ``train_model`` and of the whole
process (imports + model load), fine-tuning steps and whether the time budget stopped them,
the test-split Macro F1, and the child's peak RSS. The embedding cache starts empty.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
DEV = ROOT.parent / "shared" / "datasets" / "ttrpg-dev"


def prepare(data: Path, n_labels: int) -> None:
    from dataclasses import replace

    from sqlalchemy import insert

    from engine.core.settings import StorageSettings
    from engine.labels.runs import LabelRow, create_label_run, set_labels
    from engine.models.inputs import normalize_name
    from engine.models.listing import read_folder_labels, records_from_listing
    from engine.storage import Databases
    from engine.storage import schema as S

    recs = records_from_listing(DEV / "files.txt")
    truth = read_folder_labels(DEV / "folders.csv")
    recs = [r for r in recs if r.rel_path in truth]
    out = []
    copy = 0
    while len(out) < n_labels:
        for r in recs:
            if len(out) >= n_labels:
                break
            rel = r.rel_path if copy == 0 else f"copy{copy + 1}/{r.rel_path}"
            out.append((replace(r, folder_id=len(out) + 1, rel_path=rel), truth[r.rel_path]))
        copy += 1
    settings = StorageSettings.from_storage_arg(data)
    dbs = Databases.open(settings)
    rows = [
        dict(
            folder_id=r.folder_id, snapshot_id=1, rel_path=r.rel_path, name=r.name, norm_name=normalize_name(r.name),
            depth=r.depth, parent_name=r.parent_name, grandparent_name=r.grandparent_name,
            children=json.dumps(list(r.children)), siblings=json.dumps(list(r.siblings)),
            top_exts=json.dumps([list(x) for x in r.top_exts]), file_count=r.file_count,
            subfolder_count=r.subfolder_count, flags="{}", model_text=normalize_name(r.name),
        )
        for r, _ in out
    ]
    with dbs.training.begin() as c:
        c.execute(insert(S.folder_features), rows)
        rid = create_label_run(c, labeler="bench", source="bench", snapshot_id=1)
        set_labels(c, rid, [LabelRow(r.folder_id, 1, r.rel_path, lb, None) for r, lb in out])
    dbs.dispose()


def child(data: str, config: str | None, model: str) -> None:
    from engine.core.config import load_config
    from engine.core.jobs import never_stop
    from engine.core.settings import StorageSettings
    from engine.models.training import train_model

    last = {"msg": ""}

    def progress(f: float, msg: str) -> None:
        last["msg"] = msg

    t = time.monotonic()
    r = train_model(
        StorageSettings.from_storage_arg(data), load_config("train", config), model_path=model,
        progress=progress, should_stop=never_stop,
    )
    dt = time.monotonic() - t
    print(json.dumps({
        "seconds": dt, "n_train": r.n_train, "n_test": r.n_test, "steps": r.finetune_steps,
        "f1": r.report.macro_f1 if r.report else None,
        "budget": json.loads((Path(model) / "metadata.json").read_text())["metrics"]["finetune_stopped_by_budget"],
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", type=int, default=1000)
    ap.add_argument("--config", help="train config JSON (default: config/fine_tuning/train.json)")
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "fsorg-bench-train", "data"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    data = Path(a.data)
    model = data.parent / "model"
    if a.child:
        child(a.data, a.config, str(model))
        return 0
    if data.parent.exists():
        shutil.rmtree(data.parent)
    prepare(data, a.labels)
    load = os.getloadavg()
    print(f"{a.labels} labelled folders; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    cmd = [sys.executable, __file__, "--child", "--data", a.data] + (["--config", a.config] if a.config else [])
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t
    if p.returncode != 0:
        print(p.stderr[-3000:])
        return 1
    r = json.loads(p.stdout.strip().splitlines()[-1])
    print(
        f"train_model: {r['seconds']:.0f} s (process wall {wall:.0f} s incl. imports and model load) for "
        f"{r['n_train']} train / {r['n_test']} test folders; {r['steps']} fine-tuning steps"
        f"{' (stopped by time_budget_s)' if r['budget'] else ''}; test-split Macro F1 {r['f1']:.3f}; "
        f"peak RSS {r['rss_mb']:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
