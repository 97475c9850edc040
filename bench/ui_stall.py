"""How long the UI thread stalls while the real window scans, extracts, trains and predicts
(issue 6, item 7: target < 50 ms).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_stall.py [--copies 3] [--train-steps 40]

A ``QTimer`` probe fires every 5 ms on the UI thread; a stall is the gap between two
ticks minus 5 ms, i.e. how long the event loop could not run (no repaint, no key press).
The bench drives the real ``MainWindow`` through what a user does: drop the dev library
(materialized ``--copies`` times under one root, so the scan lasts long enough to
measure), wait for the scan and feature extraction, generate a 200-folder sample, label it
(from the dev set's reference labels, through the LabelController as key presses would),
evaluate the baseline, train a small model and predict every folder. Each stall is
attributed to the job(s) running at the time; it prints worst and 99th percentile per
phase. It asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT.parent / "shared" / "datasets"

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.core.config import load_config  # noqa: E402
from engine.core.settings import StorageSettings  # noqa: E402
from fsorg_desktop.app_settings import AppSettings  # noqa: E402
from fsorg_desktop.main_window import MainWindow  # noqa: E402

INTERVAL_MS = 5


class Probe:
    def __init__(self, window: MainWindow, *, where: bool = False) -> None:
        self.window = window
        self.last = time.perf_counter()
        self.stalls: dict[str, list[float]] = defaultdict(list)
        self.timer = QTimer()
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self.tick)
        self.timer.start()
        self.samples: list[str] = []
        if where:  # --where: a watchdog thread records what the UI thread runs during a stall
            self._main = threading.get_ident()
            threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        seen = 0.0
        while self.timer.isActive():
            time.sleep(0.01)
            late = time.perf_counter() - self.last
            if late > 0.04 and self.last != seen:
                seen = self.last
                frame = sys._current_frames().get(self._main)
                stack = "".join(traceback.format_stack(frame, limit=12)) if frame else "?"
                self.samples.append(f"--- UI thread {late * 1000:.0f} ms into a stall:\n{stack}")

    def tick(self) -> None:
        now = time.perf_counter()
        gap = (now - self.last) * 1000 - INTERVAL_MS
        self.last = now
        running = sorted({j.title.split(" “")[0] for j in self.window.runner.running() if j.started_at})
        self.stalls[" + ".join(running) or "(idle)"].append(max(gap, 0.0))


def wait(app: QApplication, cond, timeout: float) -> None:
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("the bench step did not finish in time")
        app.processEvents()
        time.sleep(0.001)


def materialize(target: Path, copies: int) -> Path:
    lib = target / "library"
    if lib.exists():
        return lib
    for i in range(copies):
        tmp = target / f"m{i}"
        subprocess.run(
            [sys.executable, str(DEV / "materialize.py"), str(DEV / "ttrpg-dev" / "files.txt"), str(tmp)],
            check=True, capture_output=True,
        )
        dest = lib / (f"copy {i}" if i else "")
        if i == 0:
            shutil.move(str(tmp / "library"), str(lib))
        else:
            shutil.move(str(tmp / "library"), str(dest))
        shutil.rmtree(tmp)
    return lib


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--train-steps", type=int, default=40)
    ap.add_argument("--work", default="/tmp/fsorg-bench-stall")
    ap.add_argument("--where", action="store_true", help="print the UI thread's stack during each stall")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    lib = materialize(work, args.copies)
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
    probe = Probe(win, where=args.where)
    t_all = time.monotonic()

    def idle() -> bool:
        return not win.runner.running()

    def step(name: str, start, timeout: float = 1800) -> None:
        t0 = time.monotonic()
        start()
        app.processEvents()
        wait(app, idle, timeout)
        win.runner.drain()
        errors = [d.text() for d in win.dialogs.open_dialogs if hasattr(d, "text") and "fail" in d.text().lower()]
        print(f"  {name}: {time.monotonic() - t0:.1f} s" + (f"  (dialog: {errors[-1]})" if errors else ""))

    print(f"library: {lib} ({args.copies} copies of the dev library)")
    def scan() -> None:
        win.scan_folder(str(lib))
        wait(app, lambda: win.state is not None and win.state.has_features, 1800)

    step("scan + extract features", scan)
    step("generate 200 samples", lambda: win.sample_actions.start_generate(load_config("generate_samples")))

    # Label the sample from the dev set's reference labels (paths relative to the library).
    ref = {}
    with (DEV / "ttrpg-dev" / "folders.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ref[row["path"]] = row["label"]
    by_label = defaultdict(list)
    for r in win.sample_model.rows():
        path = r["path"].split("/", 1)[1] if r["path"].startswith("copy ") and "/" in r["path"] else r["path"]
        if ref.get(path):
            by_label[ref[path]].append(int(r["folder_id"]))
    for label, ids in by_label.items():
        win.labels.set_labels(ids, label)
    wait(app, lambda: not win.labels.is_saving(), 30)
    print(f"  labelled {sum(map(len, by_label.values()))} sample folders")

    step("evaluate baseline", win.model_actions.evaluate_baseline)
    cfg = load_config("train").update(max_steps=args.train_steps)
    win.model_actions.model_path = str(data / "models" / "bench_model")
    step("train (+ predict all folders)", lambda: win.model_actions.start_training(cfg, win.model_actions.model_path))
    win.dialogs.close_all()
    probe.timer.stop()
    print(f"total {time.monotonic() - t_all:.0f} s; machine load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("UI-thread stalls (5 ms QTimer probe; gap minus interval), by the job(s) running:")
    worst_all = 0.0
    for phase, gaps in sorted(probe.stalls.items(), key=lambda kv: -max(kv[1])):
        gaps_sorted = sorted(gaps)
        p99 = gaps_sorted[int(0.99 * (len(gaps_sorted) - 1))]
        worst = gaps_sorted[-1]
        over = sum(1 for g in gaps if g > 50)
        if phase != "(idle)":
            worst_all = max(worst_all, worst)
        print(f"  {phase:<45} worst {worst:7.1f} ms   p99 {p99:6.1f} ms   ticks {len(gaps):6d}   >50 ms: {over}")
    print(f"WORST STALL WHILE A JOB RAN: {worst_all:.1f} ms")
    for sample in probe.samples:
        print(sample)
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
