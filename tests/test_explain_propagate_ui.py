"""Issue 9 widgets, real Qt offscreen with qtbot, on real scanned trees:

* the "apply to look-alikes" preview dialog labels the ticked folders through the
  LabelController in ONE undoable step, saved to the database;
* the explain view computes in its model child process (the real baseline model and base
  body; the window never loads them) and shows the heuristic rule, the top three labels and
  the nearest labelled folders.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.active.explain import explain
from engine.core.settings import StorageSettings
from engine.core.taxonomy import label_by_name
from engine.labels import saving
from engine.storage import Databases
from engine.storage import schema as S
from fsorg_desktop.jobs import JobRunner
from fsorg_desktop.label_controller import LabelController
from fsorg_desktop.services.explain import ExplainService
from fsorg_desktop.views.explain_view import ExplainView, FolderIdRole
from fsorg_desktop.views.propagate_dialog import PropagateDialog

TREE = (
    "Pack/Harbour/Night",
    "Pack/Harbour/Day",
    "Pack/Harbour/01_inn_fog",
    "Pack/Old Mill/Night_30x30",
    "Pack/Old Mill/Day",
    "Pack/Old Mill/Tokens",
    "Pack/Crypt/Night",
    "Pack/Crypt/Tokens",
)


@pytest.fixture
def tree(tmp_path):
    from engine.features.extract import extract_features
    from engine.scan.gather import gather

    lib = tmp_path / "lib"
    for d in TREE:
        (lib / d).mkdir(parents=True)
        (lib / d / "map.webp").write_bytes(b"x")
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    g = gather(lib, settings)
    dbs = Databases.open(settings)
    extract_features(dbs, g.snapshot_id)  # the heuristic's labels keep Tokens out of the Night variants
    with dbs.index.connect() as c:
        ids = dict(c.execute(select(S.folders.c.rel_path, S.folders.c.id)).all())
    yield dbs, g.snapshot_id, ids
    dbs.dispose()


def _open_dialog(qtbot, dbs, snap, fid, label, ctl, runner):
    dlg = PropagateDialog(dbs.settings, fid, label, ctl, runner=runner)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: not dlg.is_busy() and bool(dlg.candidates), timeout=10_000)
    return dlg


def test_propagate_labels_the_ticked_look_alikes_in_one_undo_step(qtbot, tree):
    dbs, snap, ids = tree
    runner = JobRunner()
    ctl = LabelController(dbs, snap, {}, runner=runner)
    ctl.set_labels([ids["Pack/Harbour/Night"]], "descriptor")  # the folder the user just labelled
    qtbot.waitUntil(lambda: not ctl.is_saving(), timeout=5000)
    steps = ctl.undo_stack.count()

    dlg = _open_dialog(qtbot, dbs, snap, ids["Pack/Harbour/Night"], "descriptor", ctl, runner)
    listed = {c.path: c for c in dlg.candidates}
    assert set(listed) == {
        "Pack/Old Mill/Night_30x30",
        "Pack/Crypt/Night",
        "Pack/Harbour/Day",
        "Pack/Old Mill/Day",
    }
    # same-name cousins start ticked; the Day variants are offered unticked
    ticked = set(dlg.checked_ids())
    assert ticked == {ids["Pack/Old Mill/Night_30x30"], ids["Pack/Crypt/Night"]}
    assert "2 folders" in dlg._ok.text() and dlg._ok.isEnabled()
    dlg.set_checked(ids["Pack/Harbour/Day"], True)
    dlg.set_checked(ids["Pack/Crypt/Night"], False)
    want = {ids["Pack/Old Mill/Night_30x30"], ids["Pack/Harbour/Day"]}
    with qtbot.waitSignal(dlg.labels_applied, timeout=2000) as sig:
        dlg._ok.click()
    assert set(sig.args[0]) == want and sig.args[1] == "descriptor"
    assert all(ctl.label_of(f) == "descriptor" for f in want)
    assert ctl.label_of(ids["Pack/Crypt/Night"]) is None
    assert ctl.undo_stack.count() == steps + 1  # ONE undoable step
    qtbot.waitUntil(lambda: not ctl.is_saving(), timeout=5000)
    _, stored = saving.labels_for_snapshot(dbs.settings, snap)
    assert all(stored[f] == "descriptor" for f in want)

    ctl.undo_stack.undo()
    assert all(ctl.label_of(f) is None for f in want)
    assert ctl.label_of(ids["Pack/Harbour/Night"]) == "descriptor"  # the earlier step stays
    qtbot.waitUntil(lambda: not ctl.is_saving(), timeout=5000)
    _, stored = saving.labels_for_snapshot(dbs.settings, snap)
    assert not set(stored) & want
    runner.drain()


def test_propagate_cancel_changes_nothing_and_no_lookalikes_disables_ok(qtbot, tree):
    dbs, snap, ids = tree
    runner = JobRunner()
    ctl = LabelController(dbs, snap, {}, runner=runner)
    dlg = _open_dialog(qtbot, dbs, snap, ids["Pack/Old Mill/Tokens"], "asset_type", ctl, runner)
    assert [c.path for c in dlg.candidates] == ["Pack/Crypt/Tokens"]
    dlg.reject()
    assert ctl.labels() == {} and ctl.undo_stack.count() == 0

    lone = PropagateDialog(
        dbs.settings, ids["Pack/Harbour/01_inn_fog"], "content_subject", ctl, runner=runner
    )
    qtbot.addWidget(lone)
    qtbot.waitUntil(lambda: not lone.is_busy(), timeout=10_000)
    assert lone.candidates == [] and not lone._ok.isEnabled()
    assert "No sibling or cousin" in lone._intro.text()
    runner.drain()


@pytest.fixture
def featured(tmp_path):
    """A small real library, features extracted, every folder labelled (tests/test_results_support)."""
    from engine.features.extract import extract_features
    from tests.results_support import build_library

    lib = build_library(tmp_path)
    extract_features(lib.dbs, lib.snapshot_id)
    yield lib
    lib.dbs.dispose()


def test_explain_view_shows_rule_top3_and_nearest_from_a_worker(qtbot, featured):
    lib = featured
    runner = JobRunner()
    service = ExplainService(lib.dbs.settings, runner=runner)
    view = ExplainView(service)
    qtbot.addWidget(view)
    fid = lib.fid("Tom Cartos/Forest Camp/night")
    with qtbot.waitSignal(view.explanation_shown, timeout=60_000) as sig:
        view.show_folder(fid)
        assert view.is_busy()
    ex = sig.args[0]
    assert ex.folder_id == fid and view.explanation is ex
    assert ex == explain(lib.dbs.settings, fid)  # what the engine says, nothing else
    with lib.dbs.training.connect() as c:
        rule = c.execute(
            select(S.folder_features.c.heuristic_rule).where(S.folder_features.c.folder_id == fid)
        ).scalar()
    if ex.heuristic_label:
        assert rule in view._heuristic.text()
    top_title = label_by_name(ex.top3[0][0]).title
    assert top_title in view._top.text() and f"{ex.top3[0][1]:.0%}" in view._top.text()
    assert view._nearest.count() == 3
    first = view._nearest.item(0)
    assert first.data(FolderIdRole) == ex.nearest[0].folder_id and ex.nearest[0].path in first.text()
    assert "your label" in view._title.text()  # this folder is labelled
    with qtbot.waitSignal(view.folder_activated, timeout=2000) as act:
        view._nearest.itemActivated.emit(first)
    assert act.args == [ex.nearest[0].folder_id]

    # A newer request wins over an older one still running.
    other = lib.fid("Cze and Peku/Pirate Cove")
    with qtbot.waitSignal(view.explanation_shown, timeout=60_000) as sig2:
        view.show_folder(fid)
        view.show_folder(other)
    assert sig2.args[0].folder_id == other
    runner.drain()
    assert view.explanation.folder_id == other

    # A folder that does not exist: a readable message, no traceback, no stale numbers.
    with qtbot.waitSignal(view.message_shown, timeout=30_000) as msg:
        view.show_folder(999_999)
    assert "no features" in msg.args[0] and "Traceback" not in msg.args[0]
    assert view._nearest.count() == 0 and view.message()
    view.clear()
    assert view.folder_id is None and not view.message()
    # After a training the main window hands over the new model; the shown folder is redone.
    view.show_folder(fid)
    with qtbot.waitSignal(view.explanation_shown, timeout=60_000) as sig3:
        view.set_model(None)
    assert sig3.args[0].folder_id == fid
    runner.drain()
    service.shutdown()
