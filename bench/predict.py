"""Benchmark: ``model predict`` on a 100,000-folder snapshot, cold (empty embedding cache) and warm.

Usage::

    .venv/bin/python bench/predict.py [--folders 100000] [--data DIR] [--model-path DIR] [--warm-runs 2]

Builds (once, then reuses) the library-shaped synthetic snapshot of ``bench/features.py`` and
extracts its features, then runs prediction with the shipped baseline (or ``--model-path``)
in a fresh child process per run, as a user's second ``predict`` would be:

1. **cold**: the body's rows (fp32 and int8) are deleted from ``embedding_cache`` first, so
   every distinct text is encoded (``FSORG_INT8=1`` in the environment: with the int8 body);
2. **warm** (x ``--warm-runs``): the same library again with the same body: everything is
   read from the cache, the body is not even loaded.

Each run stores a full prediction run (every folder, probabilities) and writes the
predictions CSV. Printed per run: wall seconds inside ``predict()`` (+ process wall incl.
imports), folders/s, distinct texts encoded, and the child's peak RSS. Nothing asserts a
time: paste the output (with ``uptime``) into the README.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def child(data: str, model_path: str | None, out_csv: str) -> None:
    from engine.core.config import load_config
    from engine.core.jobs import never_stop, no_progress
    from engine.core.settings import StorageSettings
    from engine.models.prediction import predict

    settings = StorageSettings.from_storage_arg(data)
    cfg = load_config("predict", None, use_baseline=model_path is None, labeled_only=False)
    t = time.monotonic()
    r = predict(settings, cfg, model_path=model_path, output_csv=out_csv, progress=no_progress, should_stop=never_stop)
    dt = time.monotonic() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": r.n, "seconds": dt, "encoded": r.encoded_texts, "rss_mb": rss}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folders", type=int, default=100_000)
    ap.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "fsorg-bench-predict", "data"))
    ap.add_argument("--model-path", help="a trained model folder (default: the shipped baseline)")
    ap.add_argument("--warm-runs", type=int, default=2)
    ap.add_argument("--keep-cache", action="store_true", help="skip the cold run: measure warm runs only")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out-csv", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.data, a.model_path, a.out_csv)
        return 0

    from sqlalchemy import delete, func, select

    from engine.core.config import load_config
    from engine.core.settings import StorageSettings
    from engine.core.taxonomy import label_names
    from engine.features.extract import extract_features
    from engine.models import base as B
    from engine.models.inputs import DEFAULT_RECIPE, FolderRecord, distinct_texts
    from engine.models.modelio import load_model_folder
    from engine.storage import Databases
    from engine.storage import schema as S

    settings = StorageSettings.from_storage_arg(a.data)
    dbs = Databases.open(settings)
    with dbs.training.connect() as c:
        have = c.execute(select(func.count()).select_from(S.folder_features)).scalar()
    if have < a.folders:
        from features import build_snapshot  # bench/features.py

        print(f"building a {a.folders:,}-folder snapshot in {a.data} ...", flush=True)
        sid = build_snapshot(settings, a.folders, 4)
        extract_features(dbs, sid, load_config("extract_features"))
    with dbs.training.connect() as c:
        rows = c.execute(select(S.folder_features)).all()
    recs = [FolderRecord.from_row(r) for r in rows]
    n_texts = len(distinct_texts(recs, DEFAULT_RECIPE))
    if a.model_path:
        key = load_model_folder(a.model_path, taxonomy=list(label_names())).body_key
    else:
        key = B.body_key(B.resolve_base_model(None))
    if not a.keep_cache:
        with dbs.training.begin() as c:
            # both precisions (engine.models.device.cache_key): a cold run is cold for either
            c.execute(delete(S.embedding_cache).where(S.embedding_cache.c.model_key.in_([key, f"{key}:int8"])))
    dbs.dispose()
    load = os.getloadavg()
    print(f"{len(recs):,} folders, {n_texts:,} distinct texts to embed; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    out_csv = str(Path(a.data).parent / "predictions.csv")
    for i in range(0 if not a.keep_cache else 1, 1 + a.warm_runs):
        which = "cold" if i == 0 else f"warm{i}"
        cmd = [sys.executable, __file__, "--child", "--data", a.data, "--out-csv", out_csv]
        if a.model_path:
            cmd += ["--model-path", a.model_path]
        t = time.monotonic()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.monotonic() - t
        if p.returncode != 0:
            print(p.stderr[-2000:])
            return 1
        r = json.loads(p.stdout.strip().splitlines()[-1])
        print(
            f"{which:6s}: {r['n']:,} folders in {r['seconds']:.1f} s = {r['n'] / r['seconds']:,.0f} folders/s "
            f"(process wall {wall:.1f} s incl. imports = {r['n'] / wall:,.0f} folders/s); "
            f"body loaded: {'yes' if r['encoded'] else 'no'}; peak RSS {r['rss_mb']:.0f} MB",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
