"""The results panel with real widgets, a real database and real mouse/keyboard events:
the heatmap shows the stored matrix, a cell click lists exactly its folders, a key in
the drill-down relabels through the LabelController (saved, undoable), retrain and
comparison, history, exports."""

from __future__ import annotations

import csv
import json

import pytest
from PySide6.QtCore import QEvent, QItemSelectionModel, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication
from sqlalchemy import select

from engine.labels import saving
from engine.labels.runs import list_label_runs, load_labels
from engine.storage import schema as S
from fsorg_desktop.jobs import JobRunner
from fsorg_desktop.label_controller import LabelController
from fsorg_desktop.style.results_style import luminance
from fsorg_desktop.views.confusion_heatmap import row_shares
from fsorg_desktop.views.results_view import ResultsPanel
from tests.results_support import LIBRARY, build_library, expected_cell, make_eval

TIMEOUT = 10_000


@pytest.fixture
def env(tmp_path, qtbot):
    lib = build_library(tmp_path)
    runner = JobRunner()
    run_id, labels = saving.labels_for_snapshot(lib.dbs.settings, lib.snapshot_id)
    ctl = LabelController(lib.dbs, lib.snapshot_id, labels, run_id=run_id, runner=runner)
    yield lib, ctl, runner
    runner.cancel_all()
    runner.wait(5000)
    lib.dbs.dispose()


def _panel(qtbot, lib, ctl, runner) -> ResultsPanel:
    panel = ResultsPanel(lib.dbs, ctl, runner=runner)
    qtbot.addWidget(panel)
    panel.resize(1200, 900)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def _open(qtbot, panel: ResultsPanel, eval_id: int | None = None) -> None:
    with qtbot.waitSignal(panel.eval_run_shown, timeout=TIMEOUT) as sig:
        if eval_id is None:
            panel.refresh()
        else:
            panel.show_eval_run(eval_id)
    assert eval_id is None or sig.args == [eval_id]
    _settle(qtbot, panel)


def _settle(qtbot, panel: ResultsPanel) -> None:
    """Let queued work and the lazy axis layout finish (a user's mouse comes later)."""
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=TIMEOUT)
    qtbot.wait(50)


def _stored_matrix(lib, eval_id) -> tuple[list[str], list[list[int]]]:
    with lib.dbs.training.connect() as c:
        rep = json.loads(c.execute(select(S.eval_runs.c.report).where(S.eval_runs.c.id == eval_id)).scalar())
    return rep["labels"], rep["confusion"]


def _click_cell(qtbot, panel, row, col):
    hm = panel.heatmap
    with qtbot.waitSignal(panel.drill_down_shown, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(hm.viewport(), Qt.MouseButton.LeftButton, pos=hm.cell_widget_pos(row, col))
    return sig.args[0]


def _listed_paths(panel) -> set[str]:
    return {r.rel_path for r in panel.drill_model.rows()}


def _hover(qtbot, viewport, pos: QPoint) -> None:
    """Move the mouse there. pyqtgraph's scene drops moves closer than 10 ms apart (its
    mouse rate limit), so the final move comes after a pause, as a hand's would."""
    qtbot.mouseMove(viewport, pos)
    qtbot.wait(30)
    ev = QMouseEvent(
        QEvent.Type.MouseMove,
        QPointF(pos),
        QPointF(viewport.mapToGlobal(pos)),
        Qt.MouseButton.NoButton,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(viewport, ev)


def _contrast(a, b) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_heatmap_cells_equal_the_stored_matrix(qtbot, env):
    lib, ctl, runner = env
    make_eval(lib, kind="baseline", model_path=None)
    eval_id = make_eval(lib)
    panel = _panel(qtbot, lib, ctl, runner)
    _open(qtbot, panel)  # refresh opens the newest run
    assert panel.current_eval_run_id == eval_id
    labels, matrix = _stored_matrix(lib, eval_id)
    hm = panel.heatmap
    assert hm.labels == labels
    assert hm.counts() == matrix
    assert [[int(t) for t in row] for row in hm.cell_texts()] == matrix  # a count drawn in every cell
    # Readable: every non-empty cell's text contrasts with its colour (WCAG AA for bold text).
    for r in range(len(labels)):
        for c in range(len(labels)):
            if matrix[r][c]:
                assert _contrast(hm.cell_rgb(r, c), hm.cell_text_rgb(r, c)) >= 3.0, (r, c)
    # Both axes carry the label names.
    left = [t for _v, t in hm.getPlotItem().getAxis("left")._tickLevels[0]]
    assert left[0].startswith("Creator / studio") and len(left) == len(labels)
    bottom = [t for _v, t in hm.getPlotItem().getAxis("bottom")._tickLevels[0]]
    assert len(bottom) == len(labels) and all(bottom) and bottom == hm.column_titles()
    if bottom[0] == "1":  # too narrow for names: the label keys, and the rows say which is which
        assert left[0] == "Creator / studio  1" and bottom == [str(i) for i in range(1, len(labels) + 1)]
    # The header: Macro F1 in large type with the same headline the CLI prints.
    from engine.evaluation.report import headline

    rep = panel.current_run.report
    assert panel.score_label.text() == f"{rep.macro_f1 * 100:.1f}%"
    assert headline(rep) == panel.current_run.headline  # the CLI's words, in large then normal type
    shown = panel.verdict_label.text() + ("\n" + panel.gain_label.text() if panel.gain_label.text() else "")
    assert shown.split() == headline(rep).split()
    if panel.current_run.info.kind == "finetuned":
        assert "Fine-tuning" not in panel.verdict_label.text()
    # Errors list, biggest first, in the format.
    first = panel.errors_model.index(0).data()
    assert first == "Descriptor → Content subject: 3"  # label titles, not raw names

    # Row-normalised toggle through a real click on the check box.
    qtbot.mouseClick(panel.normalise_box, Qt.MouseButton.LeftButton)
    assert hm.normalised
    shares = row_shares(__import__("numpy").array(matrix))
    for r, row in enumerate(hm.cell_texts()):
        for c, text in enumerate(row):
            if matrix[r][c] == 0:
                assert text == "0"
                continue
            pct, count = text.split("\n")
            assert pct == f"{shares[r, c] * 100:.0f}%" and count == f"({matrix[r][c]})"
    qtbot.mouseClick(panel.normalise_box, Qt.MouseButton.LeftButton)
    assert [[int(t) for t in row] for row in hm.cell_texts()] == matrix


def test_cell_click_lists_exactly_those_folders(qtbot, env):
    lib, ctl, runner = env
    eval_id = make_eval(lib)
    panel = _panel(qtbot, lib, ctl, runner)
    _open(qtbot, panel, eval_id)
    labels, matrix = _stored_matrix(lib, eval_id)
    d, c = labels.index("descriptor"), labels.index("content_subject")
    drill = _click_cell(qtbot, panel, d, c)
    assert (drill.true_label, drill.predicted) == ("descriptor", "content_subject")
    assert _listed_paths(panel) == expected_cell(LIBRARY, "descriptor", "content_subject")
    assert panel.drill_model.rowCount() == matrix[d][c] == 3
    assert panel.heatmap.selected_cell() == (d, c)
    # A diagonal cell and an empty cell.
    a = labels.index("asset_type")
    _click_cell(qtbot, panel, a, a)
    assert _listed_paths(panel) == expected_cell(LIBRARY, "asset_type", "asset_type")
    _click_cell(qtbot, panel, a, labels.index("unknown"))
    assert panel.drill_model.rowCount() == 0
    # An error line lists the same folders as its cell.
    ev = panel.errors_view
    idx = panel.errors_model.index(1)
    t, p, n = idx.data(Qt.ItemDataRole.UserRole)
    with qtbot.waitSignal(panel.drill_down_shown, timeout=TIMEOUT):
        qtbot.mouseClick(ev.viewport(), Qt.MouseButton.LeftButton, pos=ev.visualRect(idx).center())
    assert _listed_paths(panel) == expected_cell(LIBRARY, t, p) and len(_listed_paths(panel)) == n
    # Keyboard path on the heatmap: arrows move, Enter lists.
    panel.heatmap.setFocus()
    qtbot.keyClick(panel.heatmap, Qt.Key.Key_Up)
    with qtbot.waitSignal(panel.drill_down_shown, timeout=TIMEOUT) as sig:
        qtbot.keyClick(panel.heatmap, Qt.Key.Key_Return)
    assert (sig.args[0].true_label, sig.args[0].predicted) == (labels[a - 1], labels[labels.index("unknown")])


def test_relabel_from_the_drill_down_is_saved_and_undoable(qtbot, env):
    lib, ctl, runner = env
    eval_id = make_eval(lib)
    panel = _panel(qtbot, lib, ctl, runner)
    _open(qtbot, panel, eval_id)
    labels, _m = _stored_matrix(lib, eval_id)
    _click_cell(qtbot, panel, labels.index("descriptor"), labels.index("content_subject"))
    view = panel.drill_view
    target = "Tom Cartos/Forest Camp/night"
    fid = lib.fid(target)
    row = view.view_row_of(fid)
    # Selecting a folder asks the main window to select it in the tree.
    with qtbot.waitSignal(panel.folder_activated, timeout=TIMEOUT) as sig:
        rect = view.visualRect(view.model().index(row, 0))
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == [fid]

    # "2" = the second taxonomy label, content_subject.
    with qtbot.waitSignal(ctl.saved, timeout=TIMEOUT):
        qtbot.keyClick(view, Qt.Key.Key_2)
    runner.drain()
    app_run = ctl.run_id
    assert app_run is not None and app_run != lib.label_run_id  # the app's working run
    saved = {r.folder_id: r.label for r in load_labels(lib.dbs.training, app_run)}
    assert saved[fid] == "content_subject"
    # The scored run is untouched; the list shows the change since the run.
    assert {r.folder_id: r.label for r in load_labels(lib.dbs.training, lib.label_run_id)}[
        fid
    ] == "descriptor"
    row_now = next(r for r in panel.drill_model.rows() if r.folder_id == fid)
    assert (row_now.label_at_run, row_now.label_now, row_now.changed) == (
        "descriptor",
        "content_subject",
        True,
    )
    assert "✎" in panel.drill_model.index(view.source_row(row), 4).data()
    assert panel.changes_since_run() == {fid: "content_subject"}
    assert "(1)" in panel.retrain_button.text()
    assert panel.changes_label.text() == "✎ 1 label changed (1 in this list) since this run."
    # The cell still lists the same folders: the run's truth does not move.
    assert _listed_paths(panel) == expected_cell(LIBRARY, "descriptor", "content_subject")

    # Undo restores the label in the database and in the list.
    with qtbot.waitSignal(ctl.saved, timeout=TIMEOUT):
        ctl.undo_stack.undo()
    runner.drain()
    assert {r.folder_id: r.label for r in load_labels(lib.dbs.training, app_run)}[fid] == "descriptor"
    assert not next(r for r in panel.drill_model.rows() if r.folder_id == fid).changed
    assert panel.changes_since_run() == {}
    assert panel.retrain_button.text() == "Retrain with my corrections"

    # Several rows at once, then Delete clears them (one undo step).
    view.selectAll()
    with qtbot.waitSignal(ctl.saved, timeout=TIMEOUT):
        qtbot.keyClick(view, Qt.Key.Key_Delete)
    runner.drain()
    ids = {lib.fid(p) for p in expected_cell(LIBRARY, "descriptor", "content_subject")}
    assert not ids & {r.folder_id for r in load_labels(lib.dbs.training, app_run)}
    assert set(panel.changes_since_run()) == ids
    with qtbot.waitSignal(ctl.saved, timeout=TIMEOUT):
        ctl.undo_stack.undo()
    runner.drain()
    assert {r.folder_id: r.label for r in load_labels(lib.dbs.training, app_run) if r.folder_id in ids} == {
        i: "descriptor" for i in ids
    }
    assert len(list_label_runs(lib.dbs.training)) == 2  # the scored run and the app's working run


def test_changes_since_the_run_survive_a_reload(qtbot, env):
    lib, ctl, runner = env
    eval_id = make_eval(lib)
    ctl.set_labels([lib.fid("xx_tmp")], "other")
    qtbot.waitUntil(lambda: not ctl.is_saving(), timeout=TIMEOUT)
    runner.drain()
    panel = _panel(qtbot, lib, ctl, runner)
    _open(qtbot, panel, eval_id)
    assert panel.changes_since_run() == {lib.fid("xx_tmp"): "other"}
    drill = _click_cell(qtbot, panel, 5, 4)  # unknown -> other
    assert [(r.rel_path, r.changed) for r in drill.rows] == [("xx_tmp", True)]


def test_bars_show_precision_and_recall_on_hover(qtbot, env):
    lib, ctl, runner = env
    eval_id = make_eval(lib)
    panel = _panel(qtbot, lib, ctl, runner)
    _open(qtbot, panel, eval_id)
    rep = panel.current_run.report
    bars = panel.bars
    assert bars.bar_values() == pytest.approx({lb: rep.per_class[lb].f1 for lb in rep.labels})
    i = rep.labels.index("descriptor")
    _hover(qtbot, bars.viewport(), bars.row_widget_pos(i))
    qtbot.waitUntil(lambda: "Precision" in bars.toolTip(), timeout=TIMEOUT)
    s = rep.per_class["descriptor"]
    tip = bars.toolTip()
    assert f"Precision {s.precision:.3f}" in tip and f"Recall {s.recall:.3f}" in tip
    assert f"Support {s.support} folders" in tip
    # Clicking a bar lists the whole class.
    with qtbot.waitSignal(panel.drill_down_shown, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(bars.viewport(), Qt.MouseButton.LeftButton, pos=bars.row_widget_pos(i))
    assert (sig.args[0].true_label, sig.args[0].predicted) == ("descriptor", None)
    assert panel.drill_model.rowCount() == s.support


def test_retrain_then_comparison(qtbot, env):
    lib, ctl, runner = env
    old = make_eval(lib, kind="baseline", model_path=None)
    panel = _panel(qtbot, lib, ctl, runner)
    _open(qtbot, panel, old)
    with qtbot.waitSignal(panel.retrain_requested, timeout=TIMEOUT):
        qtbot.mouseClick(panel.retrain_button, Qt.MouseButton.LeftButton)
    assert panel.retrain_base_eval_run_id == old
    # What the main window does when the train job is done: a new eval run, then show_comparison.
    better = dict(LIBRARY)
    for rel in ("Tom Cartos/Forest Camp/night", "Tom Cartos/Forest Camp/winter"):
        t, _p, conf = better[rel]
        better[rel] = (t, t, conf)
    new = make_eval(lib, better)
    with qtbot.waitSignal(panel.comparison_shown, timeout=TIMEOUT) as sig:
        panel.show_comparison(panel.retrain_base_eval_run_id, new)
    cmp = sig.args[0]
    assert (cmp.old.id, cmp.new.id) == (old, new)
    view = panel.comparison_view
    assert panel.tabs.currentWidget().widget() is view  # (the Compare page scrolls when narrow)
    assert view.delta.text() == f"{cmp.macro_f1_delta * 100:+.1f} pts" and cmp.macro_f1_delta > 0
    assert view.old_card.score.text() == f"{cmp.old_report.macro_f1 * 100:.1f}%"
    assert view.new_card.score.text() == f"{cmp.new_report.macro_f1 * 100:.1f}%"
    rows = {
        view.model.index(r, 0).data(): view.model.index(r, 3).data() for r in range(view.model.rowCount())
    }
    d = next(x for x in cmp.per_class if x.label == "descriptor")
    assert rows["Descriptor"] == f"{d.delta:+.2f}"
    qtbot.waitUntil(lambda: panel.current_eval_run_id == new, timeout=TIMEOUT)


def test_history_lists_runs_and_compares_two(qtbot, env):
    lib, ctl, runner = env
    a = make_eval(lib, kind="zero_shot", model_path=None, created_at=1_700_000_000)
    b = make_eval(lib, kind="baseline", model_path=None, created_at=1_700_000_100)
    c = make_eval(lib, split="test", created_at=1_700_000_200)
    panel = _panel(qtbot, lib, ctl, runner)
    _open(qtbot, panel)
    hv = panel.history_view
    assert [r.id for r in panel.history_model.runs()] == [a, b, c]
    assert len(hv.point_positions()) == 3
    assert [y for _x, y in hv.point_positions()] == pytest.approx(
        [r.macro_f1 for r in panel.history_model.runs()]
    )
    panel.tabs.setCurrentWidget(hv)
    table = hv.table

    # Newest first; click the first row and Ctrl+click the third.
    def click(row, mods=Qt.KeyboardModifier.NoModifier):
        rect = table.visualRect(table.model().index(row, 0))
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, mods, rect.center())

    click(0)
    click(2, Qt.KeyboardModifier.ControlModifier)
    assert sorted(hv.selected_run_ids()) == sorted([a, c])
    assert hv.compare_button.isEnabled()
    with qtbot.waitSignal(panel.comparison_shown, timeout=TIMEOUT) as sig:
        qtbot.mouseClick(hv.compare_button, Qt.MouseButton.LeftButton)
    assert (sig.args[0].old.id, sig.args[0].new.id) == (a, c)
    assert sig.args[0].notes  # different test sets are called out
    # Double-click a row opens that run in the report.
    _settle(qtbot, panel)
    panel.tabs.setCurrentWidget(hv)
    qtbot.waitExposed(table)
    _settle(qtbot, panel)
    hv.table.selectionModel().clearSelection()
    row_b = next(r for r in range(3) if table.model().index(r, 0).data() == str(b))
    rect = table.visualRect(table.model().index(row_b, 0))
    with qtbot.waitSignal(panel.eval_run_shown, timeout=TIMEOUT) as sig:
        # A real double click: press, release, then the second press arrives as a double click.
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == [b] and panel.tabs.currentIndex() == 0
    hv.table.selectionModel().select(
        table.model().index(0, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert hv.open_button.isEnabled() and not hv.compare_button.isEnabled()


def test_export_png_csv_json(qtbot, env, tmp_path):
    lib, ctl, runner = env
    eval_id = make_eval(lib)
    panel = _panel(qtbot, lib, ctl, runner)
    _open(qtbot, panel, eval_id)
    png = panel.export_png(tmp_path / "exp" / "report.png")
    img = QImage(str(png))
    assert not img.isNull() and img.width() > 600 and img.height() > 300
    with qtbot.waitSignal(panel.report_exported, timeout=TIMEOUT) as sig:
        panel.export_numbers(tmp_path / "exp" / "report.csv", "csv")
    per_class, confusion = sig.args[0]
    with open(confusion, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert [[int(v) for v in r[1:]] for r in rows[1:]] == _stored_matrix(lib, eval_id)[1]
    with open(per_class, encoding="utf-8-sig", newline="") as fh:
        assert next(csv.reader(fh)) == ["label", "precision", "recall", "f1", "support", "scored"]
    with qtbot.waitSignal(panel.report_exported, timeout=TIMEOUT) as sig:
        panel.export_numbers(tmp_path / "exp" / "report.json", "json")
    data = json.loads(sig.args[0][0].read_text(encoding="utf-8"))
    assert data["report"]["confusion"] == _stored_matrix(lib, eval_id)[1]
    assert "Saved" in panel.message()


def test_empty_database_and_a_missing_run_give_messages_not_tracebacks(qtbot, env):
    lib, ctl, runner = env
    panel = _panel(qtbot, lib, ctl, runner)
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=TIMEOUT)
    assert panel.report_stack.currentWidget() is panel.empty_label
    assert panel.message() == "" and not panel.retrain_button.isEnabled()
    with qtbot.waitSignal(panel.message_shown, timeout=TIMEOUT) as sig:
        panel.show_eval_run(4242)
    assert "no evaluation run 4242" in sig.args[0] and "Traceback" not in sig.args[0]
    assert panel.message() == sig.args[0] and panel.message_label.isVisible()
    # A good answer afterwards clears the stale error.
    _open(qtbot, panel, make_eval(lib))
    assert panel.message() == "" and not panel.message_label.isVisible()


def test_queries_run_in_the_background_and_a_newer_request_wins(qtbot, env):
    lib, ctl, runner = env
    a = make_eval(lib, kind="baseline", model_path=None)
    b = make_eval(lib)
    panel = _panel(qtbot, lib, ctl, runner)
    shown: list[int] = []
    panel.eval_run_shown.connect(shown.append)
    panel.show_eval_run(a)
    assert panel.current_eval_run_id is None  # returned at once; the answer comes later
    panel.show_eval_run(b)
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=TIMEOUT)
    runner.drain()
    assert shown == [b] and panel.current_eval_run_id == b


def test_refresh_keeps_the_list_and_the_selected_folder(qtbot, env):
    lib, ctl, runner = env
    eval_id = make_eval(lib)
    panel = _panel(qtbot, lib, ctl, runner)
    _open(qtbot, panel, eval_id)
    labels, _m = _stored_matrix(lib, eval_id)
    _click_cell(qtbot, panel, labels.index("descriptor"), labels.index("content_subject"))
    panel.drill_view.select_row(2)
    chosen = panel.drill_view.selected_folder_ids()
    with qtbot.waitSignal(panel.drill_down_shown, timeout=TIMEOUT):
        panel.refresh()
    assert panel.current_eval_run_id == eval_id
    assert _listed_paths(panel) == expected_cell(LIBRARY, "descriptor", "content_subject")
    assert panel.drill_view.selected_folder_ids() == chosen


def test_labels_added_since_the_run_are_counted(qtbot, env):
    """A folder the run did not score, labelled after it (Label next, a new sample), counts as
    new since the run: the panel must not say "No label changed" after a batch of labels."""
    lib, ctl, runner = env
    eval_id = make_eval(lib)
    panel = _panel(qtbot, lib, ctl, runner)
    _open(qtbot, panel, eval_id)
    assert panel.changes_label.text() == "No label changed since this run."
    with lib.dbs.index.connect() as c:
        all_ids = [r[0] for r in c.exec_driver_sql("SELECT id FROM folders WHERE snapshot_id = ?", (lib.snapshot_id,))]
    scored = {r.folder_id for r in panel.current_run.items}
    fresh = [f for f in all_ids if f not in scored and ctl.label_of(f) is None]
    assert fresh, "the test library needs a folder outside the run"
    ctl.set_labels(fresh[:1], "other")
    assert panel.new_labels_since_run() == 1
    assert panel.changes_label.text() == "✎ 1 folder newly labelled since this run."
    assert panel.retrain_button.text() == "Retrain with my corrections (1)"
    ctl.set_labels(fresh[:1], None)  # cleared again: nothing new
    assert panel.changes_label.text() == "No label changed since this run."
    runner.drain()
