"""The sample table and CSV round trip, on the real dev library: generate a sample,
label it with keys and the combo delegate, keep tree and table selection in sync,
export it, and import CSVs (a bad one shows every bad row and writes nothing)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QComboBox, QDialog, QMessageBox, QTableWidget

from engine.core.config import load_config
from engine.core.settings import StorageSettings
from engine.labels.runs import list_label_runs, load_labels
from engine.storage import Databases
from fsorg_desktop.app_settings import AppSettings
from fsorg_desktop.main_window import MainWindow
from fsorg_desktop.models.sample_table_model import COL_LABEL, FolderIdRole


@pytest.fixture(scope="module")
def scanned_template(tmp_path_factory, dev_library) -> Path:
    """The dev library scanned and its features extracted once; each test copies it."""
    from engine.features.extract import extract_features
    from engine.scan.gather import gather

    data = tmp_path_factory.mktemp("template") / "data"
    settings = StorageSettings.from_storage_arg(data)
    res = gather(dev_library, settings)
    dbs = Databases.open(settings)
    extract_features(dbs, res.snapshot_id)
    dbs.dispose()
    return data


@pytest.fixture
def window(qtbot, tmp_path, scanned_template):
    data = tmp_path / "data"
    shutil.copytree(scanned_template, data)
    storage = StorageSettings.from_storage_arg(data)
    w = MainWindow(storage, app_settings=AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    w.dialogs.confirm = lambda title, text: True
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.tree_ready, timeout=20_000):
        w.open_storage(storage)
    yield w
    w.runner.cancel_all()
    w.runner.drain(20_000)
    w.dialogs.close_all()


def generate(qtbot, window, size: int = 40) -> None:
    cfg = load_config("generate_samples").update(sample_size=size)
    job = window.sample_actions.start_generate(cfg)
    with qtbot.waitSignal(job.finished, timeout=60_000):
        pass
    assert job.error is None, job.error
    window.runner.drain()


def saved_labels(qtbot, window) -> dict[int, str]:
    qtbot.waitUntil(lambda: not window.labels.is_saving(), timeout=5000)
    window.runner.drain()
    runs = list_label_runs(window.state.dbs.training)
    return {r.folder_id: r.label for r in load_labels(window.state.dbs.training, runs[-1].id)} if runs else {}


def test_generate_dialog_defaults_come_from_config(qtbot, window):
    window.sample_actions.generate_samples()
    dlg = next(d for d in window.dialogs.open_dialogs if d.windowTitle() == "Generate samples")
    cfg = load_config("generate_samples")
    assert dlg.size.value() == cfg.sample_size
    assert (dlg.min_depth.value(), dlg.max_depth.value()) == (cfg.min_depth, cfg.max_depth)
    dlg.min_depth.setValue(5)
    dlg.max_depth.setValue(2)
    dlg.buttons.button(dlg.buttons.StandardButton.Ok).click()
    assert dlg.isVisible() and "min_depth" in dlg.error.text()  # refused with the reason
    dlg.reject()


def test_label_sample_with_keys_combo_and_sync(qtbot, window):
    generate(qtbot, window, 40)
    view, table = window.sample_view, window.sample_view.table
    assert window.sample_model.rowCount() == 40
    assert view.progress.text() == "0 of 40 labelled"
    table.setFocus()
    table.setCurrentIndex(view.proxy.index(0, COL_LABEL))
    ids = [view.proxy.index(r, 0).data(FolderIdRole) for r in range(4)]

    # Selecting a row selects the folder in the tree (its parents are loaded on demand).
    assert window.tree_model.folder_id(window.tree_view.tree.currentIndex()) == ids[0]

    qtbot.keyClick(table, Qt.Key.Key_3)  # descriptor, then the next row
    assert window.labels.label_of(ids[0]) == "descriptor"
    assert table.currentIndex().row() == 1
    qtbot.keyClick(table, Qt.Key.Key_Return)  # Enter moves on without labelling
    assert table.currentIndex().row() == 2 and window.labels.label_of(ids[1]) is None
    qtbot.keyClick(table, Qt.Key.Key_Up)
    qtbot.keyClick(table, Qt.Key.Key_6)
    assert window.labels.label_of(ids[1]) == "unknown"
    assert view.progress.text() == "2 of 40 labelled"

    # The combo-box delegate.
    idx = view.proxy.index(2, COL_LABEL)
    table.setCurrentIndex(idx)
    table.edit(idx)
    combo = table.findChild(QComboBox)
    assert combo is not None
    combo.hidePopup()
    combo.setCurrentIndex(combo.findData("asset_type"))
    combo.activated.emit(combo.currentIndex())
    assert window.labels.label_of(ids[2]) == "asset_type"

    # Tree → table: selecting the folder in the tree selects its sample row.
    window.tree_view.select_folder(ids[3])
    window.tree_view.folder_selected.emit(ids[3])
    assert view.proxy.index(table.currentIndex().row(), 0).data(FolderIdRole) == ids[3]

    # Undo in the table's context undoes the last label; it is saved too.
    window.undo_action.trigger()
    assert window.labels.label_of(ids[2]) is None
    assert saved_labels(qtbot, window) == {ids[0]: "descriptor", ids[1]: "unknown"}

    # Show unlabelled only: labelled rows vanish, labeling one moves to the next unlabelled.
    view.unlabelled_only.setChecked(True)
    assert view.proxy.rowCount() == 38
    table.setFocus()
    table.setCurrentIndex(view.proxy.index(0, COL_LABEL))
    first = view.proxy.index(0, 0).data(FolderIdRole)
    second = view.proxy.index(1, 0).data(FolderIdRole)
    qtbot.keyClick(table, Qt.Key.Key_1)
    assert window.labels.label_of(first) == "creator_or_studio"
    assert view.proxy.rowCount() == 37
    assert view.proxy.index(table.currentIndex().row(), 0).data(FolderIdRole) == second


def test_sample_survives_a_restart(qtbot, window, tmp_path):
    generate(qtbot, window, 15)
    ids = window.sample_model.folder_ids()
    storage = window.storage
    w2 = MainWindow(storage, app_settings=AppSettings(QSettings(str(tmp_path / "s2.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(w2)
    with qtbot.waitSignal(w2.tree_ready, timeout=20_000):
        w2.open_storage(storage)
    qtbot.waitUntil(lambda: w2.sample_model.rowCount() == 15, timeout=10_000)
    assert w2.sample_model.folder_ids() == ids
    w2.runner.drain()


def test_export_then_import_csv(qtbot, window, tmp_path):
    generate(qtbot, window, 20)
    ids = window.sample_model.folder_ids()
    window.labels.set_labels(ids[:2], "other")
    out = tmp_path / "out" / "sample.csv"
    window.sample_actions.export_sample(str(out))
    qtbot.waitUntil(out.exists, timeout=10_000)
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 20
    assert {int(r["folder_id"]): r["label"] for r in rows if r["label"]} == {ids[0]: "other", ids[1]: "other"}
    assert {"folder_id", "snapshot_id", "path", "name", "parent", "depth", "heuristic_prediction"} <= set(rows[0])

    # The whole tree with predictions (here: the heuristic's, no model ran).
    everything = tmp_path / "out" / "all.csv"
    window.sample_actions.export_tree(str(everything))
    qtbot.waitUntil(everything.exists, timeout=20_000)
    with everything.open(encoding="utf-8-sig", newline="") as fh:
        all_rows = list(csv.DictReader(fh))
    assert len(all_rows) == window.state.snapshot.folder_count - 1  # every folder but the root
    by_id = {int(r["folder_id"]): r for r in all_rows}
    assert by_id[ids[0]]["label"] == "other" and by_id[ids[0]]["predicted_by"] == "heuristic"
    assert all(r["prediction"] for r in all_rows)

    # A spreadsheet user fills three more rows and breaks two.
    rows[2]["label"] = "descriptor"
    rows[3]["label"] = "not_a_label"
    rows[4]["label"] = "asset_type"
    rows[5]["folder_id"] = "99999999"
    rows[5]["label"] = "other"
    bad = tmp_path / "bad.csv"
    with bad.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    before = saved_labels(qtbot, window)
    runs_before = len(list_label_runs(window.state.dbs.training))
    job = window.sample_actions.import_csv(str(bad))
    with qtbot.waitSignal(job.finished, timeout=30_000):
        pass
    window.runner.drain()
    dlg = next(d for d in window.dialogs.open_dialogs if d.objectName() == "csvProblems")
    table = dlg.findChild(QTableWidget, "problemTable")
    cells = [[table.item(r, c).text() for c in range(4)] for r in range(table.rowCount())]
    bad_lines = {c[0] for c in cells if c[0]}
    assert bad_lines == {"5", "7"}  # header is line 1, rows[3] is line 5, rows[5] is line 7
    assert any("not_a_label" in " ".join(c) for c in cells)
    assert len(list_label_runs(window.state.dbs.training)) == runs_before  # nothing written
    assert saved_labels(qtbot, window) == before
    dlg.close()

    # Fixed: imported as a new run, with a message saying how many and where.
    rows[3]["label"] = "descriptor"
    rows[5]["label"] = ""
    rows[5]["folder_id"] = str(ids[5])
    good = tmp_path / "good.csv"
    with good.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    job = window.sample_actions.import_csv(str(good))
    # A label made while the import runs is held, shown, and saved into the run after it.
    window.labels.set_labels([ids[11]], "asset_type")
    with qtbot.waitSignal(job.finished, timeout=30_000):
        pass
    qtbot.waitUntil(lambda: window.labels.label_of(ids[3]) == "descriptor", timeout=10_000)
    assert window.labels.label_of(ids[11]) == "asset_type"
    box = next(d for d in window.dialogs.open_dialogs if isinstance(d, QMessageBox) and d.windowTitle() == "Labels imported")
    run = next(r for r in list_label_runs(window.state.dbs.training) if r.source.startswith("csv"))
    assert f"label run #{run.id}" in box.text() and "Added 5 labels" in box.text()
    assert isinstance(box, QDialog)
    # Labelling after the import goes to a new app run that carries the CSV run over.
    window.labels.set_labels([ids[10]], "unknown")
    labels = saved_labels(qtbot, window)
    assert labels[ids[10]] == "unknown" and labels[ids[3]] == "descriptor" and labels[ids[0]] == "other"
    assert labels[ids[11]] == "asset_type"
    assert list_label_runs(window.state.dbs.training)[-1].source == "app"
