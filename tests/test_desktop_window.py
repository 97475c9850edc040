"""The main window end to end, offscreen: a real drop of the real dev library, the real
scan and feature jobs, labeling with real key presses, undo/redo, bad drops, closing
with a job running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from engine.core.settings import StorageSettings
from engine.labels import saving
from engine.labels.runs import list_label_runs, load_labels
from fsorg_desktop.app_settings import FIRST_LABELS, AppSettings
from fsorg_desktop.jobs import JobStatus
from fsorg_desktop.main_window import PAGE_WELCOME, PAGE_WORK
from fsorg_desktop.models.folder_tree_model import COL_LABEL, COL_PREDICTED, FolderIdRole

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app_settings(tmp_path) -> AppSettings:
    """Window state and recent libraries in a file of this test only. Labelling a new library at
    once (a model child process per drop) is off here; tests/test_desktop_first_labels.py has it on."""
    s = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    s.set(FIRST_LABELS, False)
    return s


@pytest.fixture
def window(open_window, app_settings):
    return open_window(app_settings)


def drop(window, *paths: Path) -> None:
    """A real drag-and-drop as the platform delivers it: DragEnter (Qt routes the Drop to
    the widget that accepted it), then Drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(
        QPoint(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    ev = QDropEvent(
        QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, ev)


def scan_by_drop(qtbot, window, library: Path) -> None:
    with qtbot.waitSignal(window.tree_ready, timeout=120_000):
        drop(window, library)
    # Feature extraction follows the scan in the background.
    qtbot.waitUntil(lambda: not window.runner.running(), timeout=180_000)
    window.runner.drain()


def test_starts_with_drop_zone(window):
    assert window.stack.currentIndex() == PAGE_WELCOME
    texts = [lbl.text() for lbl in window.welcome.findChildren(type(window.status_labels))]
    assert any("Drop the root folder of your library here" in t for t in texts)


def test_drop_dev_library_scans_and_fills_tree_then_label_with_keys(qtbot, window, dev_library):
    scan_by_drop(qtbot, window, dev_library)
    assert window.stack.currentIndex() == PAGE_WORK
    model, tree = window.tree_model, window.tree_view.tree
    root = model.index(0, 0)
    assert root.isValid() and model.rowCount(root) > 0
    top_names = {model.index(r, 0, root).data() for r in range(model.rowCount(root))}
    # The dev library's top-level folders are on disk; the tree must show exactly those.
    on_disk = {p.name for p in dev_library.iterdir() if p.is_dir()}
    assert top_names == on_disk
    # Feature extraction ran: the heuristic's guess fills the predicted column.
    qtbot.waitUntil(lambda: model.index(0, COL_PREDICTED, root).data() not in (None, ""), timeout=10_000)

    # Label with real keys: 2 on the first child, then the cursor is on the second; 4 there.
    first = model.index(0, 0, root)
    tree.setFocus()
    tree.setCurrentIndex(first)
    first_id = first.data(FolderIdRole)
    qtbot.keyClick(tree, Qt.Key.Key_2)
    assert window.labels.label_of(first_id) == "content_subject"
    second = model.index(1, 0, root)
    assert tree.currentIndex().row() == 1 and tree.currentIndex().parent() == root
    second_id = second.data(FolderIdRole)
    qtbot.keyClick(tree, Qt.Key.Key_4)
    assert window.labels.label_of(second_id) == "asset_type"
    assert model.index(1, COL_LABEL, root).data() == "Asset type"

    # Undo / redo with the real shortcuts.
    qtbot.keyClick(tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.labels.label_of(second_id) is None
    qtbot.keyClick(tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.labels.label_of(second_id) == "asset_type"

    # Clear with Delete on the first folder.
    tree.setCurrentIndex(first)
    qtbot.keyClick(tree, Qt.Key.Key_Delete)
    assert window.labels.label_of(first_id) is None

    # Several folders at once: one undo step for all.
    sel = tree.selectionModel()
    tree.setCurrentIndex(model.index(2, 0, root))
    sel.select(model.index(3, 0, root), sel.SelectionFlag.Select | sel.SelectionFlag.Rows)
    qtbot.keyClick(tree, Qt.Key.Key_5)
    ids = [model.index(r, 0, root).data(FolderIdRole) for r in (2, 3)]
    assert [window.labels.label_of(i) for i in ids] == ["other", "other"]
    steps = window.labels.undo_stack.count()
    window.undo_action.trigger()
    assert [window.labels.label_of(i) for i in ids] == [None, None]
    assert window.labels.undo_stack.index() == steps - 1

    # Everything is in the database already (a crash now loses nothing).
    qtbot.waitUntil(lambda: not window.labels.is_saving(), timeout=5000)
    window.runner.drain()
    runs = list_label_runs(window.state.dbs.training)
    assert [r.source for r in runs] == ["app"]
    stored = {r.folder_id: r.label for r in load_labels(window.state.dbs.training, runs[-1].id)}
    assert stored == {second_id: "asset_type"}
    _, reread = saving.labels_for_snapshot(window.state.settings, window.state.snapshot.id)
    assert reread == stored


def test_filter_shows_matching_folders_flat(qtbot, window, dev_library):
    scan_by_drop(qtbot, window, dev_library)
    view = window.tree_view
    target = next(p for p in dev_library.iterdir() if p.is_dir()).name
    view.name_filter.setText(target[:6])
    qtbot.waitUntil(lambda: window.tree_model.is_flat, timeout=10_000)
    m = window.tree_model
    paths = [m.index(r, 0).data() for r in range(m.rowCount())]
    assert paths and all(target[:6].lower() in Path(p).name.lower() for p in paths)
    # Labeling works on filter results too.
    view.tree.setFocus()
    view.tree.setCurrentIndex(m.index(0, 0))
    fid = m.index(0, 0).data(FolderIdRole)
    qtbot.keyClick(view.tree, Qt.Key.Key_1)
    assert window.labels.label_of(fid) == "creator_or_studio"
    view.name_filter.clear()
    qtbot.waitUntil(lambda: not window.tree_model.is_flat, timeout=5000)


@pytest.mark.parametrize("what", ["file", "two_folders"])
def test_bad_drop_says_what_it_accepts(qtbot, window, tmp_path, what):
    if what == "file":
        f = tmp_path / "notes.txt"
        f.write_text("x")
        drop(window, f)
        expect = "is a file"
    else:
        a, b = tmp_path / "a", tmp_path / "b"
        a.mkdir()
        b.mkdir()
        drop(window, a, b)
        expect = "Drop one folder only"
    boxes = [d for d in window.dialogs.open_dialogs if isinstance(d, QMessageBox)]
    assert boxes and expect in boxes[-1].text()
    assert window.runner.running() == []


def test_scan_cancel_from_jobs_panel(qtbot, window, tmp_path):
    # A wide tree so the scan is still running when Cancel is pressed.
    lib = tmp_path / "wide"
    for i in range(3000):
        (lib / f"d{i:04d}" / "sub").mkdir(parents=True)
    job = window.scan_folder(str(lib))
    row = window.jobs_panel.row_for(job)
    assert row is not None
    qtbot.waitUntil(lambda: job.status is not JobStatus.QUEUED, timeout=10_000)
    with qtbot.waitSignal(job.finished, timeout=30_000):
        qtbot.mouseClick(row.cancel, Qt.MouseButton.LeftButton)
    assert job.status is JobStatus.CANCELLED
    assert window.stack.currentIndex() == PAGE_WELCOME  # a cancelled scan is never shown
    assert not [d for d in window.dialogs.open_dialogs if isinstance(d, QMessageBox)]


def test_close_with_job_running_asks_then_cancels(qtbot, window, tmp_path):
    lib = tmp_path / "wide"
    for i in range(3000):
        (lib / f"d{i:04d}" / "sub").mkdir(parents=True)
    asked = []
    window.dialogs.confirm = lambda title, text: asked.append(text) or False
    job = window.scan_folder(str(lib))
    qtbot.waitUntil(lambda: job.status is not JobStatus.QUEUED, timeout=10_000)
    window.close()
    assert asked and "Scan" in asked[0]
    assert window.isVisible() and not job.is_finished  # "No" keeps the window and the job
    window.dialogs.confirm = lambda title, text: True
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=30_000)
    assert job.status in (JobStatus.CANCELLED, JobStatus.DONE)


def test_screenshot_cli(tmp_path, dev_library):
    from engine.scan.gather import gather

    storage = StorageSettings.from_storage_arg(tmp_path / "data")
    gather(dev_library, storage)
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    res = subprocess.run(
        [sys.executable, "-m", "fsorg_desktop", "--storage", str(storage.data_dir), "--screenshot", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    from PySide6.QtGui import QImage

    img = QImage(str(out))
    assert img.width() >= 800 and img.height() >= 500
    # Not a blank image: the tree drew text and icons.
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 20
    assert "torch" not in res.stdout
