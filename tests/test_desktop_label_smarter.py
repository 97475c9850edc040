"""Issue 9 in the window, end to end as a user works: Label next 20, Find suspect labels,
Apply to look-alikes (Ctrl+L, one undo step), the Explain tab, abstentions greyed, the
label efficiency curves.

Real data: a tree made on disk, scanned by the real gather, features extracted for real,
and a real model (frozen base body, ``max_steps=0``) trained on the labels. The window
runs its real jobs (child processes) offscreen.
"""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QMessageBox
from sqlalchemy import select

from engine import browse
from engine.browse import FolderFilter, FolderRow
from engine.core.settings import StorageSettings
from engine.labels import saving
from engine.labels.runs import LabelRow, create_label_run, set_labels
from engine.storage import Databases
from engine.storage import schema as S
from fsorg_desktop.app_settings import AppSettings
from fsorg_desktop.jobs import JobStatus
from fsorg_desktop.main_window import MainWindow
from fsorg_desktop.models.folder_tree_model import COL_LABEL, COL_PREDICTED, FolderIdRole, FolderTreeModel
from fsorg_desktop.models.sample_table_model import COL_MARGIN, COL_MODEL, COL_SUSPECT, SortRole
from fsorg_desktop.views.propagate_dialog import PropagateDialog

CREATORS = ("Tom Cartos", "Cze and Peku", "Abyssal Brews", "Forgotten Adventures", "Dyson Logos", "Mike Schley")
SUBJECTS = (("Forest Camp", "Sunken City"), ("Pirate Cove", "Owlbear Den"), ("Dragon Lair", "Cyber Alley"),
            ("Elven Town", "Dwarf Mine"), ("Goblin Cave", "Wizard Tower"), ("Desert Ruins", "Frozen Keep"))
KIDS = {"Night": "descriptor", "Day": "descriptor", "Maps": "asset_type", "Tokens": "asset_type"}
WRONG = "Dyson Logos/Goblin Cave/Tokens"  # labelled creator_or_studio on purpose


def _layout() -> dict[str, str]:
    out = {}
    for c, subs in zip(CREATORS, SUBJECTS):
        out[c] = "creator_or_studio"
        for s in subs:
            out[f"{c}/{s}"] = "content_subject"
            for k, lab in KIDS.items():
                out[f"{c}/{s}/{k}"] = lab
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Scanned, featured, the first four creators labelled (one label deliberately wrong),
    and a frozen-body model trained on those labels in the app's default model folder."""
    from engine.core.config import TrainConfig
    from engine.core.jobs import never_stop, no_progress
    from engine.features.extract import extract_features
    from engine.models.training import train_model
    from engine.scan.gather import gather

    tmp = tmp_path_factory.mktemp("smarter")
    layout = _layout()
    for i, rel in enumerate(layout):
        (tmp / "lib" / rel).mkdir(parents=True, exist_ok=True)
        (tmp / "lib" / rel / f"f{i}.webp").write_bytes(b"x")
    settings = StorageSettings.from_storage_arg(tmp / "data")
    g = gather(tmp / "lib", settings)
    dbs = Databases.open(settings)
    try:
        extract_features(dbs, g.snapshot_id)
        with dbs.index.connect() as c:
            ids = dict(c.execute(select(S.folders.c.rel_path, S.folders.c.id)).all())
        labelled = {rel: lab for rel, lab in layout.items() if rel.split("/")[0] in CREATORS[:4] or rel == WRONG}
        labelled[WRONG] = "creator_or_studio"
        with dbs.training.begin() as c:
            run = create_label_run(c, labeler="test", source="csv:test.csv", snapshot_id=g.snapshot_id)
            set_labels(c, run, [LabelRow(ids[r], g.snapshot_id, r, lab, None) for r, lab in labelled.items()])
    finally:
        dbs.dispose()
    train_model(settings, TrainConfig(max_steps=0), model_path=settings.models_dir / "my_classifier",
                progress=no_progress, should_stop=never_stop)
    return {"dir": tmp / "data", "snapshot_id": g.snapshot_id, "ids": ids, "labelled": labelled}


@pytest.fixture
def window(qtbot, tmp_path, template):
    shutil.copytree(template["dir"], tmp_path / "data")
    storage = StorageSettings.from_storage_arg(tmp_path / "data")
    w = MainWindow(storage, app_settings=AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)))
    w.dialogs.confirm = lambda title, text: True
    qtbot.addWidget(w)
    w.show()
    with qtbot.waitSignal(w.tree_ready, timeout=20_000):
        w.open_storage(storage)
    assert w.state.has_features and w.labels.count() == len(template["labelled"])
    yield w
    w.runner.cancel_all()
    w.runner.drain(20_000)
    if w.explain_view is not None:
        w.explain_tab.shutdown()
    w.dialogs.close_all()


def _wait_job(qtbot, w, title: str, timeout: int = 120_000):
    qtbot.waitUntil(lambda: any(j.title == title for j in w.runner.running()), timeout=10_000)
    job = next(j for j in w.runner.running() if j.title == title)
    with qtbot.waitSignal(job.finished, timeout=timeout):
        pass
    assert job.status is JobStatus.DONE, (job.error, job.error_details)
    return job


def test_label_next_fills_the_sample_with_unlabelled_folders_and_survives_a_restart(qtbot, window, template, tmp_path):
    w = window
    assert w.actions_.label_next in w.label_menu.actions()
    assert w.actions_.label_next.shortcut().toString() == "Ctrl+Shift+N"
    qtbot.mouseClick(w.sample_view.label_next_button, Qt.MouseButton.LeftButton)
    _wait_job(qtbot, w, "Label next 20")
    m = w.sample_model
    ids = m.folder_ids()
    unlabelled = {fid for rel, fid in template["ids"].items() if rel and rel not in template["labelled"]}
    assert len(ids) == 20 == len(set(ids)) and set(ids) <= unlabelled
    # the model's top label and its margin are on screen, most uncertain first
    assert not w.sample_view.table.isColumnHidden(COL_MODEL) and not w.sample_view.table.isColumnHidden(COL_MARGIN)
    margins = [m.index(r, COL_MARGIN).data(SortRole) for r in range(m.rowCount())]
    assert margins == sorted(margins) and all(0.0 <= x <= 1.0 for x in margins)
    # a question asked for a family of look-alikes nobody labelled says so, with the reason
    for r, row in enumerate(m.rows()):
        shown = m.index(r, COL_MARGIN).data()
        assert shown.startswith(row["margin"])
        if row["family"]:
            assert shown.endswith(f"{row['family']} alike")
            assert "none of them is labelled" in m.index(r, COL_MARGIN).data(Qt.ItemDataRole.ToolTipRole)
    assert all(m.index(r, COL_MODEL).data() for r in range(m.rowCount()))
    assert "then" in m.index(0, COL_MODEL).data(Qt.ItemDataRole.ToolTipRole)
    assert w.sample_view.progress.text() == "0 of 20 labelled"
    by_path = {rel: fid for rel, fid in template["ids"].items()}
    assert [by_path[r["path"]] for r in m.rows()] == ids  # rows and ids agree

    # label one with the keys: saved, counted
    w.sample_view.table.setFocus()
    w.sample_view.table.setCurrentIndex(w.sample_view.proxy.index(0, 1))
    qtbot.keyClick(w.sample_view.table, Qt.Key.Key_4)
    assert w.labels.label_of(ids[0]) == "asset_type"
    assert w.sample_view.progress.text() == "1 of 20 labelled"

    # the sample is the app's sample: a new window on the same data shows it again
    qtbot.waitUntil(lambda: not w.labels.is_saving(), timeout=5000)
    w2 = MainWindow(w.storage, app_settings=AppSettings(QSettings(str(tmp_path / "s2.ini"), QSettings.Format.IniFormat)))
    qtbot.addWidget(w2)
    with qtbot.waitSignal(w2.tree_ready, timeout=20_000):
        w2.open_storage(w.storage)
    qtbot.waitUntil(lambda: w2.sample_model.rowCount() == 20, timeout=10_000)
    assert w2.sample_model.folder_ids() == ids
    assert w2.sample_model.index(0, COL_MODEL).data() == m.index(0, COL_MODEL).data()
    assert w2.labels.label_of(ids[0]) == "asset_type"
    # a row Label next asked for a family (engine test: ..._family_of_look_alikes_nobody_labelled)
    rows = [dict(r) for r in w2.sample_model.rows()]
    rows[3]["family"] = "12"
    w2.sample_model.set_rows(rows)
    shown = w2.sample_model.index(3, COL_MARGIN).data()
    assert shown == f"{rows[3]['margin']} · 12 alike"
    assert "12 look-alike sibling folders and none of them is labelled" in w2.sample_model.index(
        3, COL_MARGIN).data(Qt.ItemDataRole.ToolTipRole)
    assert w2.sample_model.index(3, COL_MARGIN).data(SortRole) == pytest.approx(float(rows[3]["margin"]))
    w2.runner.drain()


def test_find_suspects_marks_the_wrong_label_and_relabelling_it_is_undoable(qtbot, window, template):
    w = window
    wrong = template["ids"][WRONG]
    w.actions_.find_suspects.trigger()
    _wait_job(qtbot, w, "Find suspect labels")
    assert wrong in w.suspects.ids()
    flag = w.suspects.get(wrong, "creator_or_studio")
    assert flag.predicted == "asset_type" and flag.p_predicted > flag.p_label
    # the tree switched to the suspects filter: a flat list with the ⚠ marker and a tooltip
    assert w.tree_view.label_filter.currentData() == FolderFilter.SUSPECT
    qtbot.waitUntil(lambda: w.tree_model.index_for_folder(wrong).isValid(), timeout=10_000)
    idx = w.tree_model.index_for_folder(wrong, COL_LABEL)
    assert idx.data().startswith("⚠")
    tip = idx.data(Qt.ItemDataRole.ToolTipRole)
    assert "says Asset type (p=" in tip and "trained without it" in tip
    shown = [w.tree_model.index(r, 0).data(FolderIdRole) for r in range(w.tree_model.rowCount())]
    assert set(shown) == set(w.suspects.ids())
    scores = [w.suspects.get(f, w.labels.label_of(f)).score for f in shown]
    assert scores == sorted(scores, reverse=True)  # most suspicious first

    # relabel it with the key, as usual: the marker goes; Ctrl+Z brings label and marker back
    w.tree_view.tree.setFocus()
    w.tree_view.tree.setCurrentIndex(w.tree_model.index_for_folder(wrong))
    qtbot.keyClick(w.tree_view.tree, Qt.Key.Key_4)
    assert w.labels.label_of(wrong) == "asset_type"
    assert not w.tree_model.index_for_folder(wrong, COL_LABEL).data().startswith("⚠")
    w.undo_action.trigger()
    assert w.labels.label_of(wrong) == "creator_or_studio"
    assert w.tree_model.index_for_folder(wrong, COL_LABEL).data().startswith("⚠")
    # the sample table's ⚠ column too, for a suspect in the sample
    w.sample_model.set_rows([{"folder_id": str(wrong), "path": WRONG, "name": "Tokens"}])
    assert w.sample_model.index(0, COL_SUSPECT).data() == "⚠"
    assert "says Asset type" in w.sample_model.index(0, COL_SUSPECT).data(Qt.ItemDataRole.ToolTipRole)
    # the Explain tab says why, above the explanation
    w.tree_view.select_folder(wrong)
    w.tree_view.folder_selected.emit(wrong)
    with qtbot.waitSignal(w.explain_view.explanation_shown, timeout=60_000):
        w.show_explain_action.trigger()
    assert w.explain_view.note().startswith("⚠ Suspect label")


def test_apply_to_look_alikes_labels_them_in_one_undo_step(qtbot, window, template):
    w = window
    ids = template["ids"]
    night = ids["Dyson Logos/Goblin Cave/Night"]  # unlabelled creator: its look-alikes are too
    assert w.tree_view.select_folder(night)
    w.tree_view.tree.setFocus()
    qtbot.keyClick(w.tree_view.tree, Qt.Key.Key_3)  # descriptor; the cursor moves on
    assert w.labels.label_of(night) == "descriptor"
    # a hint, not a dialog: the labelling run goes on
    qtbot.waitUntil(lambda: "Press Ctrl+L" in w.statusBar().currentMessage(), timeout=5000)
    assert "1 folder looks like this one" in w.statusBar().currentMessage()  # singular, no "folder(s)"
    assert w.tree_view.current_folder_id() != night  # the cursor moved on; Ctrl+L still means night
    steps = w.labels.undo_stack.count()
    assert w.actions_.look_alikes.shortcut().toString() == "Ctrl+L"
    qtbot.keyClick(w.tree_view.tree, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    dlg = next(d for d in w.dialogs.open_dialogs if isinstance(d, PropagateDialog))
    assert dlg._folder_id == night
    qtbot.waitUntil(lambda: not dlg.is_busy() and bool(dlg.candidates), timeout=10_000)
    ticked = dlg.checked_ids()
    # the Night of the sibling subject is ticked; (cousins = children of the parent's siblings)
    assert ids["Dyson Logos/Wizard Tower/Night"] in ticked
    assert all(w.labels.label_of(f) is None for f in ticked)
    before = {f: w.labels.label_of(f) for f in ticked}
    dlg._ok.click()
    assert all(w.labels.label_of(f) == "descriptor" for f in ticked)
    assert w.labels.undo_stack.count() == steps + 1
    assert "Ctrl+Z undoes them all" in w.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not w.labels.is_saving(), timeout=5000)
    _, stored = saving.labels_for_snapshot(w.state.settings, template["snapshot_id"])
    assert all(stored.get(f) == "descriptor" for f in ticked)

    w.activateWindow()  # the window manager does this when the dialog closes; offscreen has none
    qtbot.waitUntil(w.isActiveWindow, timeout=5000)
    w.tree_view.tree.setFocus()
    qtbot.keyClick(w.tree_view.tree, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert {f: w.labels.label_of(f) for f in ticked} == before  # all of them, in one step
    assert w.labels.label_of(night) == "descriptor"  # the earlier key press stays
    qtbot.waitUntil(lambda: not w.labels.is_saving(), timeout=5000)
    _, stored = saving.labels_for_snapshot(w.state.settings, template["snapshot_id"])
    assert not set(stored) & set(ticked)

    # on an unlabelled folder Ctrl+L explains what to do instead of guessing a label
    assert w.tree_view.select_folder(ids["Mike Schley/Frozen Keep/Day"])
    w.actions_.look_alikes.trigger()
    assert any(isinstance(d, QMessageBox) and d.windowTitle() == "Label this folder first" and "1–6" in d.text() for d in w.dialogs.open_dialogs)


def test_explain_tab_shows_the_rule_and_top3_of_the_selected_folder(qtbot, window, template):
    w = window
    fid = template["ids"]["Tom Cartos/Forest Camp/Night"]
    assert w.tree_view.select_folder(fid)
    w.tree_view.folder_selected.emit(fid)
    assert w.explain_view.folder_id is None  # nothing computed while the tab is hidden
    with qtbot.waitSignal(w.explain_view.explanation_shown, timeout=60_000) as sig:
        w.show_explain_action.trigger()
    ex = sig.args[0]
    assert ex.folder_id == fid and ex.heuristic_rule
    view = w.explain_view
    assert ex.heuristic_rule in view._heuristic.text()
    assert len(ex.top3) == 3 and all(0.0 <= p <= 1.0 for _, p in ex.top3)
    from engine.core.taxonomy import label_by_name

    for lab, _p in ex.top3:
        assert label_by_name(lab).title in view._top.text()
    assert "my_classifier" in ex.model  # the trained model, not the baseline
    assert view._nearest.count() == 3
    # selecting another folder (debounced) explains that one, from the same child process
    other = template["ids"]["Cze and Peku/Pirate Cove/Maps"]
    with qtbot.waitSignal(view.explanation_shown, timeout=30_000) as sig2:
        w.tree_view.select_folder(other)
        w.tree_view.folder_selected.emit(other)
    assert sig2.args[0].folder_id == other


def test_an_abstaining_prediction_is_read_and_greyed_in_the_tree(qtbot, tmp_path, template):
    import sqlite3
    import time

    shutil.copytree(template["dir"], tmp_path / "data")
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    a, b = template["ids"]["Mike Schley/Frozen Keep/Day"], template["ids"]["Mike Schley/Frozen Keep/Maps"]
    con = sqlite3.connect(settings.training_db)
    run = con.execute(
        "INSERT INTO prediction_runs (kind, snapshot_id, labeled_only, labels, created_at, status) "
        "VALUES ('finetuned', ?, 0, '[]', ?, 'complete')", (template["snapshot_id"], time.time()),
    ).lastrowid
    con.executemany(
        "INSERT INTO predictions (prediction_run_id, folder_id, label, confidence, probs, abstained) "
        "VALUES (?, ?, ?, ?, x'', ?)", [(run, a, "descriptor", 0.34, 1), (run, b, "asset_type", 0.93, 0)],
    )
    con.commit()
    con.close()
    br = browse.Browser.for_settings(settings, template["snapshot_id"])
    rows = br.rows([a, b])
    assert rows[a].abstained and rows[a].shown_label == "unknown" and rows[a].predicted == "descriptor"
    assert not rows[b].abstained and rows[b].shown_label == "asset_type"
    import csv

    browse.export_folders_csv(settings, template["snapshot_id"], {}, tmp_path / "all.csv")
    with open(tmp_path / "all.csv", encoding="utf-8-sig") as fh:
        exported = {int(r["folder_id"]): r for r in csv.DictReader(fh)}
    assert exported[a]["prediction"] == "unknown" and exported[b]["prediction"] == "asset_type"

    model = FolderTreeModel(None)
    model.set_flat_rows([rows[a], rows[b],
                         FolderRow(9, 0, "c", "c", 1, 0, 0, "unknown", 0.2, "model", "finetuned")], False)
    grey = QApplication.palette().brush(QPalette.ColorGroup.Normal, QPalette.ColorRole.PlaceholderText)
    abstained = model.index(0, COL_PREDICTED)
    # one rule with the drill-down and Explain: greyed, the label it leans to with "?"
    assert abstained.data() == "Descriptor?"
    assert abstained.data(Qt.ItemDataRole.ForegroundRole) == grey
    tip = abstained.data(Qt.ItemDataRole.ToolTipRole)
    assert "not sure enough" in tip and "leans to Descriptor 34%" in tip and "threshold" in tip
    assert model.index(1, COL_PREDICTED).data() == "Asset type"
    assert model.index(1, COL_PREDICTED).data(Qt.ItemDataRole.ForegroundRole) is None
    assert model.index(2, COL_PREDICTED).data(Qt.ItemDataRole.ForegroundRole) == grey  # an 'unknown' answer
    br.close()


def test_label_efficiency_curves_are_drawn_from_the_labels(qtbot, window):
    from fsorg_desktop.views.learning_curve_view import LearningCurveDialog

    w = window
    w.actions_.learning_curves.trigger()
    _wait_job(qtbot, w, "Label efficiency curves")
    dlg = next(d for d in w.dialogs.open_dialogs if isinstance(d, LearningCurveDialog))
    series = dlg.result["series"]
    assert set(series) == {"diverse", "uncertainty"}
    for name, pts in series.items():
        xs, ys = dlg.curves[name].getData()
        assert list(xs) == [n for n, _ in pts] and len(xs) >= 2
        assert all(0.0 <= y <= 1.0 for y in ys)
    assert "Replaying your" in dlg.summary.text()


def test_suspect_filter_without_a_check_says_what_to_do(qtbot, window):
    w = window
    w.tree_view.show_suspects()
    assert "Find suspect labels" in w.tree_view.filter_status.text()
    assert w.tree_model.is_flat and w.tree_model.rowCount() == 0


def test_label_next_can_be_cancelled_and_leaves_the_sample_alone(qtbot, window):
    w = window
    w.sample_model.set_rows([{"folder_id": "1", "path": "x", "name": "x"}])
    job = w.active_actions.label_next()
    assert job is not None and job.title == "Label next 20"
    row = w.jobs_panel.row_for(job)
    assert row is not None  # progress + Cancel in the jobs panel
    with qtbot.waitSignal(job.finished, timeout=60_000):
        job.cancel()
    assert job.status is JobStatus.CANCELLED
    assert w.sample_model.folder_ids() == [1]  # nothing replaced
    assert not [d for d in w.dialogs.open_dialogs if d.windowTitle() == "No folders were proposed"]
