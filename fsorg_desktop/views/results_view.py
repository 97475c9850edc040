"""The results panel: how good is the model, where is it wrong, fix it, retrain, compare.

Tabs:
* **Report** — Macro F1 in large type with the decision guide's verdict; the confusion
  matrix heatmap (row-normalised toggle) and the per-class F1 bars; the most common
  errors; below, the folders behind the clicked cell or error line, where keys 1-6 / 0
  relabel through the LabelController (saved at once, undoable) and the list shows what
  changed since the run. "Retrain with my corrections" asks the main window to train.
* **History** — every eval run, Macro F1 over runs; open one or compare two.
* **Compare** — two runs side by side with the Macro F1 and per-class deltas.

Wiring (STYLE §1.4): the panel never reaches into the main window. It emits
``folder_activated(folder_id)`` (select that folder in the tree) and
``retrain_requested()`` (start a train job); the main window calls
``show_comparison(old, new)`` when the job is done. Every database read runs on the READ
pool through :func:`fsorg_desktop.jobs.run_query`; a newer request for the same slot
discards the older one, so a slow answer never overwrites a newer view. Queries and
numbers live in :mod:`engine.evaluation.store`; this module only shows them.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QWidget,
)
from shiboken6 import isValid

from engine.core.jobs import Cancelled, UserError
from engine.evaluation.compare import Comparison, compare_runs
from engine.evaluation.export import export_csv, export_json
from engine.evaluation.queries import (
    DrillDown,
    EvalRun,
    EvalRunInfo,
    folders_for_cell,
    list_eval_runs,
    load_eval_run,
)
from engine.storage import Databases
from fsorg_desktop.jobs import JobRunner, JobState, run_query
from fsorg_desktop.label_controller import LabelController
from fsorg_desktop.models.results_errors_model import ErrorRole
from fsorg_desktop.style.results_style import label_title
from fsorg_desktop.views.results_layout import build_results_panel

log = logging.getLogger(__name__)

# Colour of the big number by the decision guide's bands (>70, 60-70, 40-60, <40).
_BAND_COLORS = ((0.70, "#1e8449"), (0.60, "#2e86de"), (0.40, "#d35400"), (-1.0, "#c0392b"))


def _band_color(f1: float) -> str:
    return next(color for threshold, color in _BAND_COLORS if f1 > threshold)


def _message_for(error: BaseException, what: str) -> str:
    """A sentence for the user, never a traceback (the traceback goes to the log)."""
    if isinstance(error, UserError):
        return str(error)
    log.error("%s failed: %s\n%s", what, error, getattr(error, "_fsorg_traceback", ""))
    return f"{what} failed: {error}"


class ResultsPanel(QWidget):
    """See the module docstring. Construct with the app's databases and label controller."""

    folder_activated = Signal(int)
    retrain_requested = Signal()
    eval_run_shown = Signal(int)  # a run's report is on screen (fact)
    drill_down_shown = Signal(object)  # engine.evaluation.queries.DrillDown now listed (fact)
    comparison_shown = Signal(object)  # engine.evaluation.compare.Comparison now shown (fact)
    report_exported = Signal(list)  # paths written (fact)
    message_shown = Signal(str)

    def __init__(
        self,
        databases: Databases,
        label_controller: LabelController,
        parent: QWidget | None = None,
        *,
        runner: JobRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self._dbs = databases
        self._labels = label_controller
        self._runner = runner
        self._jobs: dict[str, JobState] = {}
        self._run: EvalRun | None = None
        self._truth: dict[int, str] = {}  # folder id -> label when the run was scored
        self._now: dict[int, str | None] = {}  # folder id -> label now, where it differs
        self._drill: DrillDown | None = None
        self._retrain_base: int | None = None
        self._outside: set[int] = set()  # labelled, not in the run, when the run was shown
        self._added: set[int] = set()  # labelled since then, not in the run
        self._build()
        label_controller.labels_changed.connect(self._on_labels_changed)
        label_controller.labels_reset.connect(self._on_labels_reset)

    # ================================================================== layout
    def _build(self) -> None:
        build_results_panel(self)

    def side_by_side_width(self) -> int:
        """The width from which the matrix and the F1 bars fit next to each other."""
        heat, right = self.charts_split.widget(0), self.charts_split.widget(1)
        return heat.minimumSizeHint().width() + right.minimumSizeHint().width() + 40

    def _charts_min_height(self, orientation) -> int:
        """Room for the header and the charts at their minimum (one above the other, or side by
        side): the panel scrolls down instead of squeezing a chart under its neighbour (a
        squeezed layout would draw the checkbox over the matrix's axis)."""
        if self.charts_split.orientation() != orientation:
            self.charts_split.setOrientation(orientation)
        lay = self.charts.layout()
        lay.invalidate()
        slack = 130  # wrapped texts (verdict, run line, legend) take more lines at narrow widths
        return lay.totalMinimumSize().height() + slack

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        """As narrow as the charts one above the other (the scroll area then gives the panel
        the viewport's width, and resizeEvent picks the orientation that fits)."""
        hint = super().minimumSizeHint()
        heat, right = self.charts_split.widget(0), self.charts_split.widget(1)
        narrow = max(heat.minimumSizeHint().width(), right.minimumSizeHint().width()) + 24
        return QSize(min(hint.width(), narrow), hint.height())

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(ev)
        want = (
            Qt.Orientation.Horizontal if ev.size().width() >= self.side_by_side_width() else Qt.Orientation.Vertical
        )
        if self.charts_split.orientation() != want:
            self.charts_split.setOrientation(want)
            # Stacked, the charts need their full height: the Results tab scrolls down instead.
            self.charts.setMinimumHeight(self._charts_min_height(want))

    # ================================================================== public API
    @property
    def current_eval_run_id(self) -> int | None:
        return self._run.info.id if self._run else None

    @property
    def current_run(self) -> EvalRun | None:
        return self._run

    @property
    def drill_down(self) -> DrillDown | None:
        return self._drill

    def refresh(self) -> None:
        """Re-read the run list, then the shown run (or the newest when none is shown)."""
        self._load_history(show_run=True)

    def _load_history(self, *, show_run: bool) -> None:
        training = self._dbs.training
        self._query(
            "history",
            lambda: list_eval_runs(training),
            lambda runs: self._on_history_loaded(runs, show_run=show_run),
            "Reading the run history",
        )

    def show_eval_run(self, eval_run_id: int) -> None:
        """Load and show one eval run's report (in the background)."""
        training, index = self._dbs.training, self._dbs.index
        current = self._current_label_run()
        self._query(
            "run",
            lambda: load_eval_run(training, eval_run_id, index=index, current_label_run_id=current),
            self._on_run_loaded,
            f"Loading evaluation run {eval_run_id}",
        )

    def show_comparison(self, old_eval_run_id: int, new_eval_run_id: int) -> None:
        """Show two runs side by side (after a retrain: previous and new). Also opens the
        new run in the report and refreshes the history, so the loop can go on."""
        training = self._dbs.training
        self._query(
            "compare",
            lambda: compare_runs(training, old_eval_run_id, new_eval_run_id),
            self._on_comparison_loaded,
            "Comparing the runs",
        )
        self._load_history(show_run=False)
        self.show_eval_run(new_eval_run_id)

    def show_folders(self, true_label: str | None, predicted: str | None) -> None:
        """List the folders with that truth and prediction (None: any)."""
        self._request_drill(true_label, predicted)

    def export_png(self, path: str | Path) -> Path:
        """The header and the charts as they look now, as a PNG."""
        if self._run is None:
            raise UserError("No evaluation run is shown; nothing to export.")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.charts.grab().save(str(path), "PNG"):
            raise UserError(f"Could not write {path}. Is the folder writable?")
        self._show_message(f"Saved the charts to {path}.", error=False)
        self.report_exported.emit([path])
        return path

    def export_numbers(self, path: str | Path, fmt: str) -> None:
        """CSV (per-class table + confusion matrix) or JSON (everything), written in the
        background; ``report_exported`` fires with the paths."""
        run = self._run
        if run is None:
            self._show_message("No evaluation run is shown; nothing to export.")
            return
        path = Path(path)

        def work() -> list[Path]:
            return export_csv(run, path) if fmt == "csv" else [export_json(run, path)]

        def done(paths: list[Path]) -> None:
            self._show_message("Saved " + ", ".join(str(p) for p in paths) + ".", error=False)
            self.report_exported.emit(paths)

        self._query(f"export-{fmt}", work, done, "Exporting the report")

    # ================================================================== background queries
    def _current_label_run(self) -> int | None:
        return self._labels.run_id

    def _query(self, slot: str, fn: Callable[[], Any], on_ok: Callable[[Any], None], what: str) -> None:
        old = self._jobs.pop(slot, None)
        if old is not None and not old.is_finished:
            old.discard()

        def done(result: Any, error: BaseException | None) -> None:
            if not isValid(self):  # the panel was closed while the query ran
                return
            if self._jobs.get(slot) is state:
                del self._jobs[slot]
            if isinstance(error, Cancelled):
                return
            if error is not None:
                self._show_message(_message_for(error, what))
                return
            self._clear_error()  # a stale error must not sit above a good answer
            on_ok(result)

        state = run_query(fn, done, runner=self._runner)
        self._jobs[slot] = state

    def is_busy(self) -> bool:
        return any(not j.is_finished for j in self._jobs.values())

    def _show_message(self, text: str, *, error: bool = True) -> None:
        self.message_label.setStyleSheet(
            "QLabel { background: #fdecea; color: #8a1c10; padding: 6px; }"
            if error
            else "QLabel { background: #e8f5e9; color: #1b5e20; padding: 6px; }"
        )
        self._message = text
        self._message_is_error = error
        escaped = html.escape(text)
        self.message_label.setText(f"{escaped} &nbsp; <a href='dismiss'>Dismiss</a>" if text else "")
        self.message_label.setVisible(bool(text))
        self.message_shown.emit(text)

    def _clear_error(self) -> None:
        if self._message and self._message_is_error:
            self._show_message("")

    def message(self) -> str:
        """The message shown above the tabs ('' when none)."""
        return self._message if self.message_label.isVisible() else ""

    # ================================================================== results arrive
    def _on_history_loaded(self, runs: list[EvalRunInfo], *, show_run: bool) -> None:
        self.history_model.set_runs(runs)
        if not runs:
            self._run = None
            self.report_stack.setCurrentWidget(self.empty_label)
            self._update_changes()
            return
        wanted = self.current_eval_run_id
        if wanted is None or all(r.id != wanted for r in runs):
            wanted = runs[-1].id
        self.history_model.set_current(wanted)
        if show_run and "run" not in self._jobs:
            self.show_eval_run(wanted)

    def _on_run_loaded(self, run: EvalRun) -> None:
        same = self._run is not None and self._run.info.id == run.info.id
        self._run = run
        self._truth = {it.folder_id: it.true_label for it in run.items}
        self._now = {ch.folder_id: ch.label_now for ch in run.changes}
        # Folders labelled outside the run's set when it is shown; any other label added
        # later counts as new since the run (Label next, a sample: "Retrain" should learn them).
        self._outside = {fid for fid in self._labels.labels() if fid not in self._truth}
        self._added = set()
        rep, info = run.report, run.info
        self.report_stack.setCurrentIndex(1)
        self.score_label.setText(f"{rep.macro_f1 * 100:.1f}%")
        self.score_label.setStyleSheet(f"QLabel {{ color: {_band_color(rep.macro_f1)}; }}")
        # The same words the CLI prints (engine.evaluation.report.headline): the guide's verdict
        # only for baseline / zero-shot runs; what a fine-tuned model was scored on otherwise.
        # The first sentence in large type; the rest (how rough, what it gained) in normal type.
        first, _, rest = run.headline.partition("\n")
        self.verdict_label.setText(first)
        self.verdict_label.setToolTip(run.headline)
        self.gain_label.setText(rest.replace("\n", " "))
        self.gain_label.setVisible(bool(rest))
        self.run_label.setText(
            f"Run {info.id} · {info.model_text} · {info.split_text} · label run {info.label_run_id} · "
            f"{info.date_text}\naccuracy {rep.accuracy * 100:.1f}% · {rep.n} folders evaluated"
        )
        self.heatmap.set_matrix(rep.labels, rep.confusion)
        self.bars.set_scores(rep.labels, rep.per_class, rep.macro_f1)
        self.errors_model.set_errors(rep.errors)
        self.history_model.set_current(info.id)
        if not same:
            self._drill = None
            self.drill_model.set_rows([])
            self.drill_title.setText("Click a matrix cell, an error line or a bar to list its folders.")
            self.drill_note.hide()
        elif self._drill is not None:
            self._request_drill(self._drill.true_label, self._drill.predicted)
        self._update_changes()
        self.eval_run_shown.emit(info.id)

    def _on_comparison_loaded(self, comparison: Comparison) -> None:
        self.comparison_view.set_comparison(comparison)
        self.tabs.setCurrentIndex(2)  # Compare (its view sits in a scroll area)
        self.comparison_shown.emit(comparison)

    # ================================================================== drill-down
    def _on_cell_activated(self, true_label: str, predicted: str) -> None:
        self._request_drill(true_label, predicted)

    def _on_error_activated(self, index) -> None:
        t, p, _n = index.data(ErrorRole)
        self._request_drill(t, p)

    def _request_drill(self, true_label: str | None, predicted: str | None) -> None:
        if self._run is None:
            return
        training, index, run_id = self._dbs.training, self._dbs.index, self._run.info.id
        current = self._current_label_run()
        self.drill_title.setText(
            f"Listing {label_title(true_label) if true_label else 'any'} -> "
            f"{label_title(predicted) if predicted else 'any'}…"
        )
        self._query(
            "drill",
            lambda: folders_for_cell(
                training, run_id, true_label, predicted, index=index, current_label_run_id=current
            ),
            self._on_drill_loaded,
            "Listing the folders",
        )

    def _on_drill_loaded(self, drill: DrillDown) -> None:
        if self._run is None or drill.eval_run_id != self._run.info.id:
            return
        # The controller holds the newest labels (a save may still be in flight).
        now = {fid: self._now.get(fid, self._truth.get(fid)) for fid in (r.folder_id for r in drill.rows)}
        previous = self._drill
        same_list = previous is not None and (
            previous.eval_run_id,
            previous.true_label,
            previous.predicted,
        ) == (
            drill.eval_run_id,
            drill.true_label,
            drill.predicted,
        )
        keep = self.drill_view.selected_folder_ids() if same_list else []
        self._drill = drill
        self.drill_model.set_rows(drill.rows)
        self.drill_model.set_current_labels({f: v for f, v in now.items() if f in self._truth})
        t = label_title(drill.true_label) if drill.true_label else "any label"
        p = label_title(drill.predicted) if drill.predicted else "anything"
        n = len(drill.rows)
        self.drill_title.setText(
            f"<b>{n} folder{'s' if n != 1 else ''}</b> labelled <b>{t}</b> when the run was scored, "
            f"predicted <b>{p}</b>. Keys 1-6 relabel the selected folders, 0 clears, Ctrl+Z undoes."
        )
        self.drill_note.setText(drill.note or "")
        self.drill_note.setVisible(bool(drill.note))
        if same_list:
            # A reload of the same list (refresh, labels reset): keep the user's place.
            for fid in keep[:1]:
                self.drill_view.select_folder(fid)
        elif drill.rows:
            # A new list: ready for keys at once. The first (most confident) folder is
            # selected, and the tree follows it through folder_activated.
            self.drill_view.select_row(0)
            self.drill_view.setFocus(Qt.FocusReason.OtherFocusReason)
        self._update_changes()
        self.drill_down_shown.emit(drill)

    def _on_label_requested(self, folder_ids: list[int], label: str | None) -> None:
        try:
            self._labels.set_labels(folder_ids, label)
        except ValueError as e:  # an unknown label: a programming error, but never a traceback
            self._show_message(f"Could not set the label: {e}")

    # ================================================================== labels changed
    def _on_labels_changed(self, folder_ids: list) -> None:
        changed: dict[int, str | None] = {}
        added_before = len(self._added)
        for fid in folder_ids:
            if fid not in self._truth:
                if self._run is not None and fid not in self._outside:
                    if self._labels.label_of(fid) is None:
                        self._added.discard(fid)
                    else:
                        self._added.add(fid)
                continue
            now = self._labels.label_of(fid)
            changed[fid] = now
            if now == self._truth[fid]:
                self._now.pop(fid, None)
            else:
                self._now[fid] = now
        if changed:
            self.drill_model.set_current_labels(changed)
        if changed or len(self._added) != added_before:
            self._update_changes()

    def _on_labels_reset(self) -> None:
        if self._run is not None:
            self.show_eval_run(self._run.info.id)

    def changes_since_run(self) -> dict[int, str | None]:
        """Folders of the shown run whose label differs now from when it was scored."""
        return dict(self._now)

    def new_labels_since_run(self) -> int:
        """Folders labelled since the shown run that it did not score (e.g. a Label next batch)."""
        return len(self._added)

    def _update_changes(self) -> None:
        n, added = len(self._now), len(self._added)
        has_run = self._run is not None
        self.retrain_button.setEnabled(has_run)
        self.retrain_button.setText(
            f"Retrain with my corrections ({n + added})" if n + added else "Retrain with my corrections"
        )
        if not has_run:
            self.changes_label.setText("")
            return
        parts = []
        if n:
            in_list = self.drill_model.changed_count()
            extra = f" ({in_list} in this list)" if self._drill is not None else ""
            parts.append(f"{n} label{'s' if n != 1 else ''} changed{extra}")
        if added:
            parts.append(f"{added} folder{'s' if added != 1 else ''} newly labelled")
        self.changes_label.setText(
            f"✎ {' and '.join(parts)} since this run." if parts else "No label changed since this run."
        )

    def _on_retrain_clicked(self) -> None:
        self._retrain_base = self.current_eval_run_id
        self.retrain_requested.emit()

    @property
    def retrain_base_eval_run_id(self) -> int | None:
        """The run shown when "Retrain" was pressed: the 'previous' of the comparison."""
        return self._retrain_base

    def _on_history_run_requested(self, run_id: int) -> None:
        self.tabs.setCurrentIndex(0)
        self.show_eval_run(run_id)

    # ================================================================== export dialogs
    def _ask_export(self, fmt: str) -> None:
        if self._run is None:
            self._show_message("No evaluation run is shown; nothing to export.")
            return
        filters = {"png": "PNG image (*.png)", "csv": "CSV (*.csv)", "json": "JSON (*.json)"}
        default = self._dbs.settings.outputs_dir / f"eval_run_{self._run.info.id}.{fmt}"
        path, _ = QFileDialog.getSaveFileName(self, "Export the report", str(default), filters[fmt])
        if not path:
            return
        if fmt == "png":
            try:
                self.export_png(path)
            except UserError as e:
                self._show_message(str(e))
        else:
            self.export_numbers(path, fmt)
