#!/usr/bin/env python3
"""Time to first baseline labels for a freshly dropped library, phase by phase.

    .venv/bin/python bench/ui_first_labels.py [--folders 1000] [--overlap]

What the app does after a drop, in a fresh process (as the app's job child would be): scan
(``gather``), extract features, load the base body, encode every distinct name (empty
embedding cache: a new library), classify with the shipped baseline head and store the run
(the tree reads its labels from that run). The library is the first ``--folders`` folders of the
dev library (``../shared/datasets/ttrpg-dev``, materialized with empty files) when it is
there, else a synthetic tree of the same size.

``--overlap``: load the body on a thread while the scan and the feature extraction run (torch
and the tokenizers release the GIL for much of the load), the lever the issue suggests.

Prints each phase in seconds and the total; the goal is baseline labels within 15 s of the drop
on 2 cores. It asserts nothing (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
DEV = ROOT.parent / "shared" / "datasets"


def make_library(work: Path, n: int) -> Path:
    listing = DEV / "ttrpg-dev" / "files.txt"
    if listing.is_file():
        folders: set[str] = set()
        keep: list[str] = []
        for line in listing.read_text(encoding="utf-8").splitlines():
            parts = line.split("/")
            new = {"/".join(parts[:i]) for i in range(2, len(parts))} - folders
            if len(folders) + len(new) > n:
                continue
            folders |= new
            keep.append(line)
        (work / "files.txt").write_text("\n".join(keep) + "\n", encoding="utf-8")
        subprocess.run([sys.executable, str(DEV / "materialize.py"), str(work / "files.txt"), str(work / "tree")],
                       check=True, capture_output=True)
        return work / "tree" / "library"
    lib = work / "tree" / "library"
    words = ["Forest", "Dungeon", "Tokens", "Maps", "Cave", "Tavern", "Ruins", "Night", "Castle", "Swamp"]
    for i in range(n):
        d = lib / f"Creator {i // 100}" / f"{words[i % 10]} {words[(i // 10) % 10]} {i}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "map.jpg").touch()
    return lib


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folders", type=int, default=1000)
    ap.add_argument("--overlap", action="store_true", help="load the body while scanning and extracting")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fsorg-first-"))
    os.environ["FS_ORGANIZER_BASE_PATH"] = str(work / "base")
    lib = make_library(work, a.folders)
    load = os.getloadavg()
    print(f"library: {lib}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)

    phases: dict[str, float] = {}
    t_drop = time.monotonic()
    t = t_drop
    from engine.core.config import load_config
    from engine.core.jobs import never_stop
    from engine.core.settings import StorageSettings
    from engine.features.extract import extract_features
    from engine.models import base as B
    from engine.scan.gather import gather
    from engine.storage import Databases

    phases["imports (engine)"] = time.monotonic() - t
    body_box: dict[str, object] = {}

    def load_body() -> None:
        t0 = time.monotonic()
        B.shared_body(B.resolve_base_model(None))
        body_box["s"] = time.monotonic() - t0

    loader = threading.Thread(target=load_body) if a.overlap else None
    if loader:
        loader.start()
    t = time.monotonic()
    settings = StorageSettings.from_storage_arg(work / "data")
    g = gather(lib, settings)
    phases["scan"] = time.monotonic() - t
    t = time.monotonic()
    dbs = Databases.open(settings)
    extract_features(dbs, g.snapshot_id, load_config("extract_features"))
    dbs.dispose()
    phases["features"] = time.monotonic() - t
    t = time.monotonic()
    if loader:
        loader.join()
        phases["model load (waited for; it ran alongside)"] = time.monotonic() - t
    else:
        load_body()
        phases["model load"] = time.monotonic() - t

    from engine.models.prediction import predict

    marks: dict[str, float] = {}

    def progress(fraction: float, message: str) -> None:
        if message.startswith("classifying") and "encoded" not in marks:
            marks["encoded"] = time.monotonic()

    t = time.monotonic()
    pcfg = load_config("predict", None, labeled_only=False, use_baseline=True)
    r = predict(settings, pcfg, output_csv=work / "pred.csv", progress=progress, should_stop=never_stop)
    end = time.monotonic()
    enc_end = marks.get("encoded", end)
    phases["encode (inputs for every folder)"] = enc_end - t
    phases["head + store the run"] = end - enc_end
    total = end - t_drop
    for k, v in phases.items():
        print(f"  {k:45s} {v:6.2f} s")
    if loader:
        print(f"  (the body load itself took {body_box['s']:.2f} s on its thread)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{g.folders:,} folders: baseline labels stored {total:.1f} s after the drop "
          f"(goal 15 s); {r.n:,} predictions; peak RSS {rss:.0f} MB; load now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
