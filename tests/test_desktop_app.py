"""App-level behaviour: no heavy imports at start, settings kept between runs, the jobs
panel, readable error dialogs, the tree's lazy loading on a large synthetic snapshot."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from engine.core.jobs import Cancelled
from engine.core.settings import StorageSettings
from fsorg_desktop.app_settings import AppSettings, RecentLibrary
from fsorg_desktop.dialogs import describe_error
from fsorg_desktop.jobs import JobStatus, Pool
from fsorg_desktop.main_window import MainWindow
from fsorg_desktop.models.folder_tree_model import FIRST_CHUNK, IsLoadMoreRole
from tests.helpers.synthetic import make_snapshot

ROOT = Path(__file__).resolve().parent.parent


_WINDOWS: list[MainWindow] = []


@pytest.fixture(autouse=True)
def _stop_jobs_after_test():
    """Every job a test's windows started is finished before the next test begins."""
    yield
    while _WINDOWS:
        w = _WINDOWS.pop()
        w.runner.cancel_all()
        w.runner.drain(30_000)


def make_window(qtbot, tmp_path, storage, ini="s.ini") -> MainWindow:
    w = MainWindow(storage, app_settings=AppSettings(QSettings(str(tmp_path / ini), QSettings.Format.IniFormat)))
    w.dialogs.confirm = lambda title, text: True
    qtbot.addWidget(w)
    w.show()
    _WINDOWS.append(w)
    return w


def test_library_without_features_gets_them_on_open(qtbot, tmp_path):
    storage = StorageSettings.from_storage_arg(tmp_path / "data")
    make_snapshot(storage, 40, (4, 9), with_predictions=False)
    w = make_window(qtbot, tmp_path, storage)
    with qtbot.waitSignal(w.runner.job_started, timeout=10_000) as started:
        w.open_storage(storage)
    job = started.args[0]
    assert job.title == "Extract features"
    with qtbot.waitSignal(job.finished, timeout=120_000):
        pass
    assert job.status is JobStatus.DONE, job.error
    assert w.state.has_features
    root = w.tree_model.index(0, 0)
    qtbot.waitUntil(lambda: w.tree_model.row_for(w.tree_model.index(0, 0, root)).predicted_by == "heuristic",
                    timeout=10_000)


def test_start_does_not_import_torch():
    code = (
        "import sys, os; os.environ['QT_QPA_PLATFORM']='offscreen';"
        "import fsorg_desktop.app, fsorg_desktop.main_window;"
        "from PySide6.QtWidgets import QApplication; app = QApplication([]);"
        "from engine.core.settings import StorageSettings;"
        "w = fsorg_desktop.main_window.MainWindow(StorageSettings.default()); w.show(); app.processEvents();"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'setfit', 'transformers', 'sklearn') if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[]"


def test_settings_keep_splitter_geometry_and_recent(qtbot, tmp_path):
    storage = StorageSettings.from_storage_arg(tmp_path / "data")
    make_snapshot(storage, 50, (5, 10), with_predictions=False)
    w = make_window(qtbot, tmp_path, storage)
    with qtbot.waitSignal(w.tree_ready, timeout=10_000):
        w.open_storage(storage)
    qtbot.waitUntil(lambda: not w.runner.running(), timeout=120_000)  # its feature extraction
    w.resize(701, 611)
    w.splitter.setSizes([700, 400])
    sizes = w.splitter.sizes()
    w.close()
    assert w.settings.recent()[0] == RecentLibrary(str(storage.data_dir), "/synthetic/library")

    w2 = make_window(qtbot, tmp_path, storage)
    assert (w2.size().width(), w2.size().height()) == (701, 611)
    with qtbot.waitSignal(w2.tree_ready, timeout=10_000):
        w2.open_storage(storage)
    assert w2.splitter.sizes() == sizes
    titles = [a.text() for a in w2.recent_menu.actions()]
    assert titles == ["/synthetic/library"]


def test_jobs_panel_shows_progress_elapsed_and_cancel(qtbot, tmp_path):
    storage = StorageSettings.from_storage_arg(tmp_path / "data")
    w = make_window(qtbot, tmp_path, storage)
    gate = threading.Event()

    def work(progress, should_stop):
        progress(0.25, "a quarter done")
        while not should_stop():
            if gate.wait(0.01):
                break
        if should_stop():
            raise Cancelled()
        return "ok"

    job = w.runner.run(work, title="Demo job", pool=Pool.JOBS)
    row = w.jobs_panel.row_for(job)
    assert row is not None and w.jobs_dock.isVisible()
    qtbot.waitUntil(lambda: row.bar.value() == 250, timeout=5000)
    assert row.message.text() == "a quarter done" and row.title.text() == "<b>Demo job</b>"
    time.sleep(1.1)
    row.tick()
    assert row.elapsed.text().endswith("s")
    with qtbot.waitSignal(job.finished, timeout=5000):
        qtbot.mouseClick(row.cancel, Qt.MouseButton.LeftButton)
    assert job.status is JobStatus.CANCELLED and row.cancel.text() == "Cancelled"


def test_errors_are_readable_dialogs(qtbot, tmp_path):
    storage = StorageSettings.from_storage_arg(tmp_path / "data")
    make_snapshot(storage, 20, (4, 4), with_predictions=False)
    w = make_window(qtbot, tmp_path, storage)
    with qtbot.waitSignal(w.tree_ready, timeout=10_000):
        w.open_storage(storage)
    # A user error (not a CSV at all): its message, no traceback.
    junk = tmp_path / "photo.csv"
    junk.write_bytes(bytes(range(256)) * 20)
    job = w.sample_actions.import_csv(str(junk))
    with qtbot.waitSignal(job.finished, timeout=20_000):
        pass
    box = next(d for d in w.dialogs.open_dialogs if isinstance(d, QMessageBox) or d.objectName() == "csvProblems")
    text = box.text() if isinstance(box, QMessageBox) else box.findChild(type(w.status_labels)).text()
    assert "photo.csv" in text and "Traceback" not in text
    # A bug: a plain sentence, and the traceback under "Show Details".
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError as e:
        import traceback

        e._fsorg_traceback = traceback.format_exc()
        text, info, details = describe_error(e, "Training")
    assert text == "Training failed: ZeroDivisionError: division by zero"
    assert "bug" in info and "Traceback" in details


def test_tree_is_lazy_and_has_load_more_row(qtbot, tmp_path):
    storage = StorageSettings.from_storage_arg(tmp_path / "data")
    make_snapshot(storage, 1 + 1 + 1200, (1, 1200))
    w = make_window(qtbot, tmp_path, storage)
    with qtbot.waitSignal(w.tree_ready, timeout=10_000):
        w.open_storage(storage)
    m, tree = w.tree_model, w.tree_view.tree
    root = m.index(0, 0)
    holder = m.index(0, 0, root)
    assert m.rowCount(holder) == 0 and m.hasChildren(holder)  # nothing fetched before expanding
    tree.expand(holder)
    qtbot.waitUntil(lambda: m.rowCount(holder) > 0, timeout=5000)
    assert m.rowCount(holder) == FIRST_CHUNK + 1
    more = m.index(FIRST_CHUNK, 0, holder)
    assert more.data(IsLoadMoreRole) and "500 of 1,200" in more.data()
    tree.setCurrentIndex(more)
    tree.setFocus()
    qtbot.keyClick(tree, Qt.Key.Key_Return)
    assert m.rowCount(holder) == 1200  # everything loaded, no "load more" row left
    assert not m.index(1199, 0, holder).data(IsLoadMoreRole)
    # A folder deep in a big parent can be revealed (select from the sample table / results).
    w2 = make_window(qtbot, tmp_path, storage, "s2.ini")
    with qtbot.waitSignal(w2.tree_ready, timeout=10_000):
        w2.open_storage(storage)
    last_id = m.folder_id(m.index(1199, 0, holder))
    assert w2.tree_view.select_folder(last_id)
    assert w2.tree_model.folder_id(w2.tree_view.tree.currentIndex()) == last_id


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_cli_flags(flag):
    res = subprocess.run([sys.executable, "-m", "fsorg_desktop", flag], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    assert ("fsorg" in res.stdout) and ("--screenshot" in res.stdout or flag == "--version")
