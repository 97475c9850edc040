"""The labelling flow of issue 17 in the real window on a real scanned library: clearing a
filter gives the tree back as it was, undo puts the cursor back on the row, a fully labelled
sample offers "Retrain now" (a notice, not a box), the Files column counts everything below."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from engine.core.settings import StorageSettings
from fsorg_desktop.app_settings import AppSettings
from fsorg_desktop.main_window import MainWindow
from fsorg_desktop.models.folder_tree_model import COL_FILES
from tests.results_support import LIBRARY, build_library


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    tmp = tmp_path_factory.mktemp("flow")
    lib = build_library(tmp)  # every folder labelled, one file in each
    ids = dict(lib.ids)
    lib.dbs.dispose()
    return tmp / "data", ids


@pytest.fixture
def window(qtbot, tmp_path, data_dir):
    path, ids = data_dir
    storage = StorageSettings.from_storage_arg(path)
    w = MainWindow(storage, app_settings=AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    w.auto_extract = False
    w.dialogs.confirm = lambda title, text: True
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.tree_ready, timeout=20_000):
        w.open_storage(storage)
    w.ids = ids
    yield w
    w.runner.cancel_all()
    w.runner.drain(20_000)
    w.dialogs.close_all()


def test_clearing_the_filter_restores_expansion_and_selection(qtbot, window):
    w, ids = window, window.ids
    deep = ids["Tom Cartos/Forest Camp/night"]
    assert w.tree_view.select_folder(deep)
    parent_idx = w.tree_model.index_for_folder(ids["Tom Cartos/Forest Camp"])
    assert w.tree_view.tree.isExpanded(parent_idx)
    w.tree_view.name_filter.setText("Maps")
    qtbot.waitUntil(lambda: w.tree_model.is_flat and w.tree_model.rowCount() > 0, timeout=10_000)
    picked = ids["Forgotten Adventures/Maps"]
    flat_idx = w.tree_model.index_for_folder(picked)
    assert flat_idx.data() == "Forgotten Adventures/Maps"  # the path, not just "Maps"
    w.tree_view.tree.setCurrentIndex(flat_idx)
    w.tree_view.name_filter.clear()
    qtbot.waitUntil(lambda: not w.tree_model.is_flat, timeout=10_000)
    qtbot.waitUntil(lambda: w.tree_view.current_folder_id() == picked, timeout=5000)
    # the folders that were open before the filter are open again
    assert w.tree_view.tree.isExpanded(w.tree_model.index_for_folder(ids["Tom Cartos/Forest Camp"]))
    assert w.tree_view.tree.isExpanded(w.tree_model.index_for_folder(ids["Tom Cartos"]))


def test_undo_returns_the_cursor_to_the_row(qtbot, window):
    w, ids = window, window.ids
    fid = ids["Patreon Rewards/2023"]
    assert w.tree_view.select_folder(fid)
    w.tree_view.tree.setFocus()
    qtbot.keyClick(w.tree_view.tree, Qt.Key.Key_1)
    assert w.labels.label_of(fid) == "creator_or_studio"
    assert w.tree_view.current_folder_id() != fid  # the cursor moved on
    w.undo_action.trigger()
    assert w.labels.label_of(fid) == "other"
    assert w.tree_view.current_folder_id() == fid  # back on the row that was undone
    qtbot.waitUntil(lambda: not w.labels.is_saving(), timeout=5000)


def test_a_fully_labelled_sample_offers_retrain_in_a_notice(qtbot, window):
    w, ids = window, window.ids
    two = [ids["xx_tmp"], ids["base_building"]]
    w.labels.set_labels(two, None)
    rows = [{"folder_id": str(f), "path": f"library/{rel}", "name": rel, "label": ""}
            for rel, f in ids.items() if f in two]
    w.sample_model.set_rows(rows)
    assert not w.banner.isVisible()
    w.labels.set_labels(two[:1], "unknown")
    assert not w.banner.isVisible()  # one row left
    w.labels.set_labels(two[1:], "unknown")
    assert w.banner.isVisible() and "All 2 folders of this sample are labelled" in w.banner.text.text()
    assert w.banner.button.text() == "Retrain now"
    assert not [d for d in w.dialogs.open_dialogs if isinstance(d, QMessageBox)]
    qtbot.waitUntil(lambda: not w.labels.is_saving(), timeout=5000)


def test_files_column_counts_everything_below(qtbot, window):
    w, ids = window, window.ids
    root = w.tree_model.index(0, COL_FILES)
    qtbot.waitUntil(lambda: root.data() == f"{len(LIBRARY)}", timeout=10_000)  # one file per folder
    assert "directly in this folder" in root.data(Qt.ItemDataRole.ToolTipRole)
    tom = w.tree_model.index_for_folder(ids["Tom Cartos"], COL_FILES)
    below = sum(1 for rel in LIBRARY if rel == "Tom Cartos" or rel.startswith("Tom Cartos/"))
    assert tom.data() == str(below)
