#!/usr/bin/env python3
"""Benchmark at library scale: scan, extract-features, predict cold and warm, each in its own process.

    nice -n 10 .venv/bin/python bench/scale.py [--folders 1000000] [--files-per-folder 4] [--dir /tmp/fsorg-scale]
                                               [--skip-scan] [--skip-predict]

For each step, one fresh child process (so its peak RSS, ``ru_maxrss``, is that step's alone;
the imports are in it too) and its wall seconds:

1. **scan**: ``gather`` of a real tree of ``--folders`` folders and ``folders x files-per-folder``
   empty files on disk (``bench/scan.py``'s generator, made once under ``DIR/tree`` and reused;
   ~2 GB of inodes at 1,000,000 folders, generating it takes ~15 min), into a fresh data folder.
   ``find -printf '%s %p'`` over the same tree is timed once after it for comparison.
2. **extract-features** on a library-shaped snapshot of ``--folders`` folders
   (``bench/features.py``'s ``build_snapshot``, built untimed in ``DIR/data``): the scanned tree's
   synthetic names are all distinct, a real library's are not, so prediction would measure
   encoding ~3 texts per folder instead of what a library costs.
3. **predict, cold**: the shipped baseline over every folder with the embedding cache of its
   body emptied first (``bench/predict.py``'s child: stores the run and writes the CSV).
4. **predict, warm**: the same again; everything comes from the cache.

Prints one line per step and a summary table to paste into the README (with ``uptime``).
Not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

SCAN_CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
from engine.scan.gather import gather
from engine.core.settings import StorageSettings
s = StorageSettings.from_storage_arg(sys.argv[3])
ru = resource.getrusage(resource.RUSAGE_SELF)
c = ru.ru_utime + ru.ru_stime
t = time.monotonic()
r = gather(sys.argv[2], s)
dt = time.monotonic() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": dt, "cpu": ru.ru_utime + ru.ru_stime - c, "folders": r.folders, "files": r.files,
                  "status": r.status, "db_mb": os.path.getsize(s.index_db) / 2**20, "rss_mb": ru.ru_maxrss / 1024}))
"""

EXTRACT_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from engine.core.config import load_config
from engine.core.settings import StorageSettings
from engine.features.extract import extract_features
from engine.storage import Databases
dbs = Databases.open(StorageSettings.from_storage_arg(sys.argv[2]))
ru = resource.getrusage(resource.RUSAGE_SELF)
c = ru.ru_utime + ru.ru_stime
t = time.monotonic()
r = extract_features(dbs, int(sys.argv[3]), load_config("extract_features"))
dt = time.monotonic() - t
dbs.dispose()
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": dt, "cpu": ru.ru_utime + ru.ru_stime - c, "folders": r.folders, "rss_mb": ru.ru_maxrss / 1024}))
"""


def _run(cmd: list[str]) -> tuple[dict, float]:
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t
    if p.returncode != 0:
        raise SystemExit(f"step failed ({' '.join(cmd[:3])} …):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1]), wall


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def step_scan(base: Path, n_folders: int, n_files: int) -> dict:
    from scan import ensure_tree  # bench/scan.py

    tree = ensure_tree(base, n_folders, n_files)
    data = Path(tempfile.mkdtemp(prefix="scan-data-", dir=base))
    try:
        load = _load()
        r, wall = _run([sys.executable, "-c", SCAN_CHILD, str(ROOT), str(tree), str(data)])
    finally:
        shutil.rmtree(data, ignore_errors=True)
    t = time.monotonic()
    subprocess.run(["find", str(tree), "-printf", "%s %p\n"], stdout=subprocess.DEVNULL, check=True)
    find_s = time.monotonic() - t
    print(
        f"scan   : {r['folders']:,} folders, {r['files']:,} files in {r['seconds']:.1f} s "
        f"({r['cpu']:.1f} CPU-s, process {wall:.1f} s); peak RSS {r['rss_mb']:.0f} MB; index.db {r['db_mb']:.0f} MiB; "
        f"find -printf {find_s:.1f} s (ratio {find_s / r['seconds']:.2f}); load {load}",
        flush=True,
    )
    return {"step": "scan", "seconds": r["seconds"], "rss_mb": r["rss_mb"], "load": load,
            "note": f"{r['files']:,} files, {r['cpu']:,.1f} CPU-s; find -printf {find_s:.1f} s"}


def _snapshot(data: str, n_folders: int, files_per_folder: int) -> int:
    from features import build_snapshot  # bench/features.py

    from engine.core.settings import StorageSettings

    settings = StorageSettings.from_storage_arg(data)
    settings.ensure()
    if settings.index_db.exists():
        con = sqlite3.connect(settings.index_db)
        row = con.execute(
            "SELECT id FROM snapshots WHERE status='complete' AND folder_count=? ORDER BY id DESC LIMIT 1",
            (n_folders,),
        ).fetchone()
        con.close()
        if row:
            print(f"reusing snapshot {row[0]} in {settings.index_db}")
            return int(row[0])
    t = time.monotonic()
    sid = build_snapshot(settings, n_folders, files_per_folder)
    print(f"built a {n_folders:,}-folder snapshot in {time.monotonic() - t:.0f} s (untimed)", flush=True)
    return sid


def step_extract(data: str, sid: int) -> dict:
    load = _load()
    r, wall = _run([sys.executable, "-c", EXTRACT_CHILD, str(ROOT), data, str(sid)])
    print(
        f"extract: {r['folders']:,} folders in {r['seconds']:.1f} s = {r['folders'] / r['seconds']:,.0f} folders/s "
        f"(process {wall:.1f} s); peak RSS {r['rss_mb']:.0f} MB; load {load}",
        flush=True,
    )
    return {"step": "extract-features", "seconds": r["seconds"], "rss_mb": r["rss_mb"], "load": load,
            "note": f"{r['folders'] / r['seconds']:,.0f} folders/s"}


def _empty_cache(data: str) -> int:
    """Delete every cached vector (both precisions of every body): the next predict is cold."""
    con = sqlite3.connect(Path(data) / "training.db")
    n = con.execute("DELETE FROM embedding_cache").rowcount
    con.commit()
    con.close()
    return n


def step_predict(data: str, which: str) -> dict:
    if which == "cold":
        _empty_cache(data)
    load = _load()
    out_csv = str(Path(data).parent / "predictions.csv")
    r, wall = _run([sys.executable, str(HERE / "predict.py"), "--child", "--data", data, "--out-csv", out_csv])
    con = sqlite3.connect(Path(data) / "training.db")
    cached = con.execute("SELECT count(*) FROM embedding_cache").fetchone()[0]
    con.close()
    print(
        f"predict {which}: {r['n']:,} folders in {r['seconds']:.1f} s = {r['n'] / r['seconds']:,.0f} folders/s "
        f"(process {wall:.1f} s); body loaded: {'yes' if r['encoded'] else 'no'} ({cached:,} distinct texts cached); "
        f"peak RSS {r['rss_mb']:.0f} MB; "
        f"load {load}",
        flush=True,
    )
    return {"step": f"predict, {which}", "seconds": r["seconds"], "rss_mb": r["rss_mb"], "load": load,
            "note": f"{r['n'] / r['seconds']:,.0f} folders/s, {cached:,} distinct texts"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folders", type=int, default=1_000_000)
    ap.add_argument("--files-per-folder", type=int, default=4)
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "fsorg-scale"))
    ap.add_argument("--skip-scan", action="store_true", help="no tree on disk: extract and predict only")
    ap.add_argument("--skip-predict", action="store_true", help="scan and extract only")
    a = ap.parse_args()
    if a.folders < 1 or a.files_per_folder < 0:
        print("error: --folders must be >= 1 and --files-per-folder >= 0", file=sys.stderr)
        return 2
    if not a.skip_scan and shutil.which("find") is None:
        print("error: needs GNU find on PATH (or pass --skip-scan)", file=sys.stderr)
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    base = Path(a.dir)
    base.mkdir(parents=True, exist_ok=True)
    print(f"{a.folders:,} folders on {os.cpu_count()} CPUs, python {sys.version.split()[0]}; load {_load()}", flush=True)
    t0 = time.monotonic()
    rows = []
    if not a.skip_scan:
        rows.append(step_scan(base, a.folders, a.folders * a.files_per_folder))
    data = str(base / "data")
    sid = _snapshot(data, a.folders, a.files_per_folder)
    rows.append(step_extract(data, sid))
    if not a.skip_predict:
        rows.append(step_predict(data, "cold"))
        rows.append(step_predict(data, "warm"))
    print(f"\n| {a.folders:,} folders | seconds | peak RSS | |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['step']} | {r['seconds']:,.1f} | {r['rss_mb']:,.0f} MB | {r['note']}; load {r['load']} |")
    print(f"(all steps: {time.monotonic() - t0:.0f} s wall incl. building the snapshot)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
