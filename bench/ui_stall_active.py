"""How long the UI thread stalls while the window runs the issue-9 features (label smarter):
Label next 20, Find suspect labels, the Explain tab (first folder: starts the model process;
then four more folders), Apply to look-alikes, and the label efficiency curves.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_stall_active.py [--labels 300]

Same probe as ``bench/ui_stall.py`` (a 5 ms QTimer on the UI thread; a stall is the gap
minus 5 ms), attributed to the step running. Drives the real ``MainWindow`` on the dev
library: drop → scan → features, then ``--labels`` folders labelled from the dev set's
reference labels (as key presses would, through the LabelController). Asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from ui_stall import DEV, INTERVAL_MS, materialize, wait  # noqa: E402

from engine.core.settings import StorageSettings  # noqa: E402
from fsorg_desktop.app_settings import AppSettings  # noqa: E402
from fsorg_desktop.main_window import MainWindow  # noqa: E402


class PhaseProbe:
    def __init__(self) -> None:
        self.phase = "(idle)"
        self.last = time.perf_counter()
        self.stalls: dict[str, list[float]] = defaultdict(list)
        self.timer = QTimer()
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def tick(self) -> None:
        now = time.perf_counter()
        self.stalls[self.phase].append(max((now - self.last) * 1000 - INTERVAL_MS, 0.0))
        self.last = now


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", type=int, default=300)
    ap.add_argument("--work", default="/tmp/fsorg-bench-active")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    lib = materialize(work, 1)
    data = Path(tempfile.mkdtemp(prefix="data-", dir=work))
    storage = StorageSettings.from_storage_arg(data / "data")
    app = QApplication.instance() or QApplication([])
    win = MainWindow(storage, app_settings=AppSettings(QSettings(str(data / "s.ini"), QSettings.Format.IniFormat)))
    win.dialogs.confirm = lambda title, text: True
    win.resize(1280, 800)
    win.show()
    opened = []
    win.library_opened.connect(opened.append)
    win.open_storage(storage)
    wait(app, lambda: opened, 30)
    t0 = time.monotonic()
    win.scan_folder(str(lib))
    wait(app, lambda: win.state is not None and win.state.has_features and not win.runner.running(), 1800)
    print(f"scan + features: {time.monotonic() - t0:.1f} s")

    ref = {}
    with (DEV / "ttrpg-dev" / "folders.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["label"]:
                ref[row["path"]] = row["label"]
    from sqlalchemy import select

    from engine.storage import schema as S

    with win.state.dbs.index.connect() as c:
        ids = dict(c.execute(select(S.folders.c.rel_path, S.folders.c.id).where(
            S.folders.c.snapshot_id == win.state.snapshot.id)).all())
    paths = sorted(p for p in ref if p in ids)
    random.Random(1).shuffle(paths)
    by_label = defaultdict(list)
    for p in paths[: args.labels]:
        by_label[ref[p]].append(ids[p])
    for label, fids in by_label.items():
        win.labels.set_labels(fids, label)
    wait(app, lambda: not win.labels.is_saving(), 30)
    print(f"labelled {sum(map(len, by_label.values()))} folders")

    probe = PhaseProbe()

    def step(name: str, start, done, timeout: float = 900) -> None:
        probe.phase = name
        t = time.monotonic()
        start()
        wait(app, done, timeout)
        win.runner.drain()
        print(f"  {name}: {time.monotonic() - t:.1f} s")
        probe.phase = "(idle)"

    idle = lambda: not win.runner.running()  # noqa: E731
    step("label next 20", lambda: win.active_actions.label_next(), lambda: idle() and win.sample_model.rowCount())
    step("find suspect labels", lambda: win.active_actions.find_suspects(), idle)
    step("label efficiency curves", lambda: win.active_actions.learning_curves(), idle)
    win.side_tabs.setCurrentWidget(win.explain_stack)
    shown = []
    for k, fid in enumerate(win.sample_model.folder_ids()[:5]):
        def start(fid=fid) -> None:
            win.tree_view.select_folder(fid)
            win.tree_view.folder_selected.emit(fid)

        step("explain (first: starts the model process)" if k == 0 else "explain (next folders)", start,
             lambda fid=fid: win.explain_view.explanation is not None and win.explain_view.explanation.folder_id == fid)
        shown.append(fid)
    labelled = next(iter(by_label.values()))[0]
    step("apply to look-alikes (dialog)", lambda: win.active_actions.apply_to_look_alikes(labelled),
         lambda: any(type(d).__name__ == "PropagateDialog" and not d.is_busy() for d in win.dialogs.open_dialogs))
    probe.timer.stop()
    print(f"machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("UI-thread stalls (5 ms QTimer probe; gap minus interval), by step:")
    worst_all = 0.0
    for phase, gaps in sorted(probe.stalls.items(), key=lambda kv: -max(kv[1])):
        g = sorted(gaps)
        p99 = g[int(0.99 * (len(g) - 1))]
        if phase != "(idle)":
            worst_all = max(worst_all, g[-1])
        print(f"  {phase:<45} worst {g[-1]:7.1f} ms   p99 {p99:6.1f} ms   ticks {len(g):6d}   "
              f">50 ms: {sum(1 for x in g if x > 50)}")
    print(f"WORST STALL DURING A LABEL-SMARTER STEP: {worst_all:.1f} ms")
    win.dialogs.close_all()
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
