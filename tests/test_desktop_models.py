"""The whole user journey without the CLI (slow: real models): drop the dev library,
generate and label a sample, evaluate the baseline, train, and see the model's
predictions in the tree's predicted-label column."""

from __future__ import annotations

import csv
from collections import defaultdict

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from engine.core.config import load_config
from engine.core.settings import StorageSettings
from fsorg_desktop.app_settings import AppSettings
from fsorg_desktop.jobs import JobStatus
from fsorg_desktop.main_window import MainWindow
from fsorg_desktop.models.folder_tree_model import COL_PREDICTED, FolderRowRole

from .conftest import DEV_LABELS
from .test_desktop_window import drop


@pytest.mark.slow
def test_drop_label_train_predict(qtbot, tmp_path, dev_library):
    storage = StorageSettings.from_storage_arg(tmp_path / "data")
    w = MainWindow(storage, app_settings=AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    w.dialogs.confirm = lambda title, text: True
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.library_opened, timeout=20_000):
        w.open_storage(storage)
    with qtbot.waitSignal(w.tree_ready, timeout=120_000):
        drop(w, dev_library)
    qtbot.waitUntil(lambda: w.state.has_features, timeout=300_000)

    job = w.sample_actions.start_generate(load_config("generate_samples"))
    with qtbot.waitSignal(job.finished, timeout=120_000):
        pass
    ref = {r["path"]: r["label"] for r in csv.DictReader(DEV_LABELS.open(encoding="utf-8"))}
    by_label = defaultdict(list)
    for r in w.sample_model.rows():
        if ref.get(r["path"]):
            by_label[ref[r["path"]]].append(int(r["folder_id"]))
    for label, ids in by_label.items():
        w.labels.set_labels(ids, label)
    assert w.sample_view.progress.text().startswith(f"{w.labels.count()} of ")

    w.model_actions.evaluate_baseline()
    qtbot.waitUntil(lambda: bool(w.runner.running()), timeout=10_000)
    base_job = w.runner.running()[0]
    with qtbot.waitSignal(base_job.finished, timeout=600_000):
        pass
    assert base_job.status is JobStatus.DONE, base_job.error
    # the result is a non-blocking notice (never a modal box) that leads to the Results tab
    assert not [d for d in w.dialogs.open_dialogs if isinstance(d, QMessageBox)]
    assert w.banner.isVisible() and "Macro F1" in w.banner.text.text()
    w.banner.button.click()
    assert w.side_tabs.currentWidget() is w.results_tab

    w.model_actions.train()
    dlg = next(d for d in w.dialogs.open_dialogs if d.windowTitle() == "Train a model")
    assert dlg.epochs.value() == load_config("train").num_epochs
    assert dlg.estimate.text().startswith("about ")
    w.model_actions.model_path = str(tmp_path / "models" / "m")
    dlg.model_path.setText(w.model_actions.model_path)
    dlg.budget_on.setChecked(True)
    dlg.budget.setValue(2)
    dlg.buttons.button(dlg.buttons.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: any(j.title == "Predict all folders" for j in w.runner.running()), timeout=900_000)
    pred_job = next(j for j in w.runner.running() if j.title == "Predict all folders")
    with qtbot.waitSignal(pred_job.finished, timeout=900_000):
        pass
    assert pred_job.status is JobStatus.DONE, pred_job.error
    w.runner.drain()
    root = w.tree_model.index(0, 0)
    qtbot.waitUntil(
        lambda: w.tree_model.index(0, COL_PREDICTED, root).data(FolderRowRole).predicted_by == "model", timeout=20_000
    )
    w.runner.drain()
