"""A dropped library gets its first labels without being asked (issue 18): the real window,
a real drop of the carried library, the real scan and feature jobs, and the real base model
in its child process. The tree's Predicted column switches from the heuristic's guess to the
shipped baseline's labels; the job is in the Jobs panel and can be cancelled; the child that
held the model is gone afterwards."""

from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from engine.core.settings import StorageSettings
from fsorg_desktop.app_settings import FIRST_LABELS, AppSettings
from fsorg_desktop.controllers.first_labels import TITLE
from fsorg_desktop.jobs import JobStatus
from fsorg_desktop.models.folder_tree_model import COL_PREDICTED

from .test_desktop_window import drop


@pytest.fixture
def window(open_window, tmp_path):
    """The window as a first start has it: labelling new libraries at once is on."""
    return open_window(AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))


def header(w) -> str:
    return str(w.tree_model.headerData(COL_PREDICTED, Qt.Orientation.Horizontal))


def prediction_runs(w) -> list[tuple]:
    con = sqlite3.connect(w.state.settings.training_db)
    try:
        return con.execute(
            "SELECT kind, snapshot_id, labeled_only, status, "
            "(SELECT COUNT(*) FROM predictions p WHERE p.prediction_run_id = r.id) FROM prediction_runs r"
        ).fetchall()
    finally:
        con.close()


def label_job(w):
    return next((j for j in w.runner.running() if j.title == TITLE), None)


def test_drop_shows_baseline_labels_for_every_folder(qtbot, window, dev_library):
    w = window
    assert w.actions_.first_labels.isChecked()  # on by default
    with qtbot.waitSignal(w.tree_ready, timeout=120_000):
        drop(w, dev_library)
    assert header(w) == "Heuristic says"  # the tree is there before any model ran
    qtbot.waitUntil(lambda: label_job(w) is not None, timeout=60_000)  # a job of its own, with Cancel
    qtbot.waitUntil(lambda: header(w) == "Baseline says", timeout=240_000)
    snap = w.state.snapshot
    runs = prediction_runs(w)
    assert runs == [("baseline", snap.id, 0, "complete", snap.folder_count)]
    root = w.tree_model.index(0, 0)
    shown = [w.tree_model.index(r, COL_PREDICTED, root).data() for r in range(w.tree_model.rowCount(root))]
    assert shown and all(shown)
    assert "the shipped baseline" in w.statusBar().currentMessage()
    qtbot.waitUntil(lambda: w.first_labels._service is None, timeout=5_000)  # the model's child is let go
    assert not [d for d in w.dialogs.open_dialogs if isinstance(d, QMessageBox)]


def test_cancel_keeps_the_heuristic_and_stores_nothing(qtbot, window, dev_library):
    w = window
    with qtbot.waitSignal(w.tree_ready, timeout=120_000):
        drop(w, dev_library)
    qtbot.waitUntil(lambda: label_job(w) is not None, timeout=60_000)
    job = label_job(w)
    row = w.jobs_panel.row_for(job)
    with qtbot.waitSignal(job.finished, timeout=60_000):
        qtbot.mouseClick(row.cancel, Qt.MouseButton.LeftButton)
    assert job.status is JobStatus.CANCELLED
    assert header(w) == "Heuristic says"
    assert [r for r in prediction_runs(w) if r[3] == "complete"] == []
    assert not [d for d in w.dialogs.open_dialogs if isinstance(d, QMessageBox)]


def test_turned_off_in_the_menu_stays_off(qtbot, window, dev_library, tmp_path):
    w = window
    w.actions_.first_labels.setChecked(False)  # Model ▸ Label new libraries at once
    assert w.settings.get(FIRST_LABELS) is False
    with qtbot.waitSignal(w.tree_ready, timeout=120_000):
        drop(w, dev_library)
    qtbot.waitUntil(lambda: w.state.has_features, timeout=120_000)
    qtbot.wait(300)
    assert label_job(w) is None and w.first_labels._service is None
    assert header(w) == "Heuristic says"
    # The choice outlives the window.
    again = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    assert again.get(FIRST_LABELS) is False


def test_rescan_labels_with_the_model_this_data_folder_trained(qtbot, tmp_path, dev_set, open_window):
    """With a trained model in the data folder, a rescan's new snapshot is labelled by it."""
    from sqlalchemy import select

    from engine.core.config import TrainConfig
    from engine.core.jobs import never_stop, no_progress
    from engine.features.extract import extract_features
    from engine.labels.runs import LabelRow, create_label_run, set_labels
    from engine.models.training import train_model
    from engine.scan.gather import gather
    from engine.storage import Databases
    from engine.storage import schema as S

    storage = StorageSettings.from_storage_arg(tmp_path / "data")
    g = gather(dev_set.library, storage)
    dbs = Databases.open(storage)
    try:
        extract_features(dbs, g.snapshot_id)
        with dbs.index.connect() as c:
            ids = dict(c.execute(select(S.folders.c.rel_path, S.folders.c.id)
                                 .where(S.folders.c.snapshot_id == g.snapshot_id)).all())
        rows = [LabelRow(ids[p], g.snapshot_id, p, lab, None) for p, lab in dev_set.labels.items() if p in ids]
        assert len(rows) > 100
        with dbs.training.begin() as c:
            run = create_label_run(c, labeler="test", source="csv:test.csv", snapshot_id=g.snapshot_id)
            set_labels(c, run, rows)
    finally:
        dbs.dispose()
    train_model(storage, TrainConfig(max_steps=0), model_path=storage.models_dir / "my_classifier",
                progress=no_progress, should_stop=never_stop)

    w = open_window(AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    first = w.state.snapshot.id
    w.actions_.rescan.trigger()  # F5
    qtbot.waitUntil(lambda: w.state.snapshot.id != first, timeout=120_000)
    qtbot.waitUntil(lambda: header(w) == "Your model says", timeout=240_000)
    assert ("finetuned", w.state.snapshot.id, 0, "complete", w.state.snapshot.folder_count) in prediction_runs(w)
    assert "your model" in w.statusBar().currentMessage()
