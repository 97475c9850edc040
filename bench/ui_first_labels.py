#!/usr/bin/env python3
"""Time to first baseline labels for a freshly dropped library, phase by phase.

    .venv/bin/python bench/ui_first_labels.py [--folders 1000] [--overlap]
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_first_labels.py --app [--folders 1000]

What the app does after a drop, in a fresh process (as the app's job child would be): scan
(``gather``), extract features, load the base body, encode every distinct name (empty
embedding cache: a new library), classify with the shipped baseline head and store the run
(the tree reads its labels from that run). The library is the first ``--folders`` folders of the
dev library (``../shared/datasets/ttrpg-dev``, materialized with empty files) when it is
there, else a synthetic tree of the same size.

``--overlap``: load the body on a thread while the scan and the feature extraction run (torch
and the tokenizers release the GIL for much of the load), the lever the issue suggests.

``--app``: the real window instead (offscreen unless a display is set): the folder is dropped
on it, and the clock stops when the tree's Predicted column is headed "Baseline says", i.e.
the labels are on screen. Each job's start and end are printed, and the longest the window's
event loop went without running (a 20 ms timer), which is how long the tree was not usable.

Prints each phase in seconds and the total; the goal is baseline labels within 15 s of the drop
on 2 cores. It asserts nothing (a benchmark, not a test).
"""

from __future__ import annotations

import argparse
import os
import resource
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


def make_library(work: Path, n: int, dataset: str = "ttrpg-dev") -> Path:
    if (DEV / dataset / "files.txt").is_file():
        from bench.libraries import dataset_library

        return dataset_library(work, dataset, n)
    lib = work / "tree" / "library"
    words = ["Forest", "Dungeon", "Tokens", "Maps", "Cave", "Tavern", "Ruins", "Night", "Castle", "Swamp"]
    for i in range(n):
        d = lib / f"Creator {i // 100}" / f"{words[i % 10]} {words[(i // 10) % 10]} {i}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "map.jpg").touch()
    return lib


def run_app(lib: Path, work: Path) -> int:
    """Drop ``lib`` on a real window; time every job and the labels' arrival in the tree."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    t_import = time.monotonic()
    from PySide6.QtCore import QElapsedTimer, QMimeData, QPoint, QPointF, QSettings, Qt, QTimer, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    from engine.core.settings import StorageSettings
    from fsorg_desktop.app_settings import FIRST_LABELS, AppSettings
    from fsorg_desktop.main_window import MainWindow
    from fsorg_desktop.models.folder_tree_model import COL_PREDICTED

    app = QApplication.instance() or QApplication([])
    storage = StorageSettings.from_storage_arg(work / "data")
    settings = AppSettings(QSettings(str(work / "s.ini"), QSettings.Format.IniFormat))
    settings.set(FIRST_LABELS, True)
    w = MainWindow(storage, app_settings=settings)
    w.resize(1280, 800)
    w.show()
    opened = {"done": False}
    w.library_opened.connect(lambda _s: opened.__setitem__("done", True))
    w.open_storage(storage)
    while not opened["done"]:
        app.processEvents()
        time.sleep(0.01)
    print(f"window up in {time.monotonic() - t_import:.1f} s (not counted)", flush=True)

    events: list[tuple[float, str]] = []
    t0 = time.monotonic()

    def mark(what: str) -> None:
        events.append((time.monotonic() - t0, what))

    def started(job) -> None:
        mark(f"start {job.title}")
        last = {"m": ""}

        def said(_fraction: float, message: str) -> None:
            head = message.split(" (")[0].split(":")[0][:40]
            if head != last["m"]:
                last["m"] = head
                mark(f"      {job.title}: {message[:70]}")

        job.progress_changed.connect(said)

    w.runner.job_started.connect(started)
    w.runner.job_finished.connect(lambda j: mark(f"end   {j.title}"))
    w.tree_ready.connect(lambda: mark("tree shown (scan done)"))
    stall = {"max": 0.0, "clock": QElapsedTimer()}
    stall["clock"].start()

    def tick() -> None:
        gap = stall["clock"].restart() / 1000.0
        stall["max"] = max(stall["max"], gap)

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(20)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(lib))])
    QApplication.sendEvent(w, QDragEnterEvent(QPoint(200, 200), Qt.DropAction.CopyAction, mime,
                                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    QApplication.sendEvent(w, QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime,
                                         Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    mark("drop")
    deadline = t0 + 300
    while time.monotonic() < deadline:
        app.processEvents()
        head = w.tree_model.headerData(COL_PREDICTED, Qt.Orientation.Horizontal)
        if head and str(head).startswith("Baseline"):
            mark("labels on screen")
            break
        time.sleep(0.005)
    total = events[-1][0] if events[-1][1] == "labels on screen" else None
    for t, what in events:
        print(f"  {t:6.2f} s  {what}")
    print(f"the window's longest pause while it ran: {stall['max'] * 1000:.0f} ms")
    if total is None:
        print("no baseline labels within 300 s")
    else:
        print(f"{w.state.snapshot.folder_count:,} folders: baseline labels on screen {total:.1f} s after the drop "
              f"(goal 15 s); load now {os.getloadavg()[0]:.2f}")
    timer.stop()
    w.runner.cancel_all()
    w.runner.drain(20_000)
    w.first_labels.shutdown()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folders", type=int, default=1000)
    ap.add_argument("--overlap", action="store_true", help="load the body while scanning and extracting")
    ap.add_argument("--app", action="store_true", help="drop the library on the real window")
    ap.add_argument("--dataset", default="ttrpg-dev", help="which dataset's folders (ttrpg-dev: 851 in all)")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fsorg-first-"))
    os.environ["FS_ORGANIZER_BASE_PATH"] = str(work / "base")
    lib = make_library(work, a.folders, a.dataset)
    load = os.getloadavg()
    print(f"library: {lib}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    if a.app:
        return run_app(lib, work)

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
