"""Folder tree speed on a 1,000,000-folder snapshot (issue 6, item 3).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_tree.py [--data DIR] [--folders N]

Builds (once, then reuses) a synthetic snapshot of N folders (default 1,000,000: a root
with 100 children, each with 100, each with ~99) with a prediction for every folder, plus
a folder with 100,000 children, then measures with the real window's tree widget:

* first paint: from handing the snapshot to the model until the tree has painted the root
  and its expanded children (targets: <= 300 ms);
* expand: from ``expand()`` on a collapsed folder to the paint that shows its children
  (target: <= 50 ms), median and worst of 20 expansions at every depth;
* load more: one "Load more" chunk of the folder with 100,000 children.

Prints the figures; it asserts nothing (speed targets are not tests).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.browse import Browser  # noqa: E402
from engine.core.settings import StorageSettings  # noqa: E402
from fsorg_desktop.jobs import JobRunner  # noqa: E402
from fsorg_desktop.label_controller import LabelController  # noqa: E402
from fsorg_desktop.models.folder_tree_model import FolderTreeModel, IsLoadMoreRole  # noqa: E402
from fsorg_desktop.views.folder_tree_view import FolderTreeView  # noqa: E402
from tests.helpers.synthetic import make_snapshot  # noqa: E402


class PaintWatch(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.painted = 0

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.painted += 1
        return False


CPU: list[float] = []  # UI-thread CPU ms of each measurement (wall time minus waiting for a core)


def until_painted(app: QApplication, watch: PaintWatch, t0: float, limit_s: float = 5.0, c0: float | None = None) -> float:
    """Wall ms from ``t0`` until the viewport has painted; the UI thread's CPU ms go to CPU."""
    n = watch.painted
    while watch.painted == n and time.perf_counter() - t0 < limit_s:
        app.processEvents()
    if c0 is not None:
        CPU.append((time.thread_time() - c0) * 1000)
    return (time.perf_counter() - t0) * 1000


def fmt(wall: list[float] | float) -> str:
    """'wall X ms (UI-thread CPU Y ms)': on a shared machine the CPU figure is the app's own cost."""
    if isinstance(wall, list):
        cpu = CPU[-len(wall):]
        return (
            f"median {statistics.median(wall):.1f} ms, worst {max(wall):.1f} ms wall "
            f"(UI-thread CPU: median {statistics.median(cpu):.1f} ms, worst {max(cpu):.1f} ms)"
        )
    return f"{wall:.1f} ms wall (UI-thread CPU {CPU[-1]:.1f} ms)"


def build(data: Path, total: int) -> tuple[StorageSettings, int, int]:
    settings = StorageSettings.from_storage_arg(data)
    marker = data / f"bench_{total}.txt"
    if marker.exists():
        big, wide = map(int, marker.read_text().split())
        return settings, big, wide
    t0 = time.perf_counter()
    big = make_snapshot(settings, total, (100, 100, 100))
    print(f"built a {total:,}-folder snapshot in {time.perf_counter() - t0:.1f} s")
    wide = make_snapshot(settings, 100_002, (1, 100_000), root="/synthetic/wide", with_predictions=False)
    marker.write_text(f"{big} {wide}")
    return settings, big, wide


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/fsorg-bench-tree/data")
    ap.add_argument("--folders", type=int, default=1_000_000)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    settings, big, wide = build(Path(args.data), args.folders)

    runner = JobRunner()
    labels = LabelController(None, big, runner=runner)
    model = FolderTreeModel(labels)
    view = FolderTreeView(model)
    view.resize(1000, 800)
    view.show()
    watch = PaintWatch()
    view.tree.viewport().installEventFilter(watch)
    app.processEvents()

    # First paint: open the snapshot, expand the root, paint.
    t0, c0 = time.perf_counter(), time.thread_time()
    model.set_root_title("library")
    model.set_browser(Browser.for_settings(settings, big))
    view.expand_root()
    first = until_painted(app, watch, t0, c0=c0)
    root = model.index(0, 0)
    print(f"first paint (1,000,000-folder snapshot, {model.rowCount(root)} top folders shown): {fmt(first)}")

    # Expand: collapsed folders at depth 1 and 2 (each with 100 / ~99 children).
    times: list[float] = []
    for i in range(10):
        idx = model.index(i * 7, 0, root)
        t0, c0 = time.perf_counter(), time.thread_time()
        view.tree.expand(idx)
        times.append(until_painted(app, watch, t0, c0=c0))
        child = model.index(3, 0, idx)
        t0, c0 = time.perf_counter(), time.thread_time()
        view.tree.expand(child)
        times.append(until_painted(app, watch, t0, c0=c0))
        view.tree.scrollTo(model.index(0, 0, root))
        app.processEvents()
    print(f"expand ({len(times)} folders, depth 1-2, ~100 children each): {fmt(times)}")

    # A folder with 100,000 children: first chunk on expand, then "load more".
    model.set_root_title("wide")
    model.set_browser(Browser.for_settings(settings, wide))
    view.expand_root()
    until_painted(app, watch, time.perf_counter())
    wroot = model.index(0, 0)
    holder = model.index(0, 0, wroot)
    t0, c0 = time.perf_counter(), time.thread_time()
    view.tree.expand(holder)
    exp = until_painted(app, watch, t0, c0=c0)
    exp_s = fmt(exp)
    more = model.index(model.rowCount(holder) - 1, 0, holder)
    assert more.data(IsLoadMoreRole)
    t0, c0 = time.perf_counter(), time.thread_time()
    model.load_more(more)
    view.tree.scrollTo(model.index(model.rowCount(holder) - 1, 0, holder))
    lm = until_painted(app, watch, t0, c0=c0)
    print(
        f"folder with 100,000 children: expand (first 500) {exp_s}; one 'load more' (+2,000, "
        f"{model.rowCount(holder) - 1:,} shown) {fmt(lm)}"
    )
    print(f"(machine load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    model.set_browser(None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
