"""The sample and CSV actions of the window: generate a sample, export it (or every
folder), import a labelled CSV.

Why a controller apart from the main window: these are the ``*_requested`` handlers of
one domain (STYLE.md §1.4, Picard's ``mainwindow/actions.py``); keeping them here keeps
the window a thin composer. It starts ops (``fsorg_desktop.ops.samples``), shows their
outcome through the window's :class:`~fsorg_desktop.dialogs.DialogHost` and status bar,
and reports a new sample with :attr:`sample_generated`; it never builds views.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog

from engine.core.jobs import Cancelled, UserError
from fsorg_desktop.jobs import JobState
from fsorg_desktop.ops import samples as sample_ops
from fsorg_desktop.views.config_dialogs import SamplesDialog

if TYPE_CHECKING:
    from fsorg_desktop.controllers.host import Host
    from fsorg_desktop.models.sample_table_model import SampleTableModel


class SampleActions(QObject):
    sample_generated = Signal(list)  # the new sample's rows (dicts of CSV cells)
    sample_completed = Signal(int)  # the last unlabelled row of the sample on screen got a label (rows)

    def __init__(self, host: "Host", sample_model: "SampleTableModel") -> None:
        super().__init__(host.parent)
        self.h = host
        self.sample_model = sample_model
        self._complete = False  # every row of the sample on screen is labelled
        sample_model.modelReset.connect(lambda: self._check_complete(announce=False))  # loaded complete: no news
        sample_model.dataChanged.connect(lambda *_: self._check_complete(announce=True))

    def generate_samples(self) -> None:
        if self.h.state is None or self.h.state.snapshot is None:
            return
        if not self.h.state.has_features:
            self.h.dialogs.message(
                "Features are not ready yet",
                "Samples are picked from the folders' features, which are still being extracted "
                "(see the Jobs panel). Try again when that job has finished.",
            )
            return
        from engine.core.config import load_config

        try:
            cfg = load_config("generate_samples")
        except UserError as e:
            self.h.dialogs.error("Invalid config", e, "Reading generate_samples.json")
            return
        dlg = SamplesDialog(cfg, self.h.parent)
        dlg.config_accepted.connect(self.start_generate)
        self.h.dialogs.keep(dlg)

    def start_generate(self, cfg) -> JobState | None:
        if self.h.state is None or self.h.state.snapshot is None:
            return None
        if not self.confirm_replace():
            return None
        snap = self.h.state.snapshot.id

        def done(result, error) -> None:
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.h.dialogs.error("No sample was generated", error, "Generating samples")
                return
            res, rows = result
            if self.h.state is not None and self.h.state.snapshot and self.h.state.snapshot.id == snap:
                self.sample_generated.emit(rows)
                self.h.status(
                    f"{res.rows} folders picked from {res.candidates:,} candidates"
                    + (f" ({res.excluded_labelled:,} already labelled were left out)" if res.excluded_labelled else "")
                    + ". Label them with the keys 1–6.",
                    15_000,
                )

        return sample_ops.generate_op(self.h.runner, self.h.state.settings, snap, cfg, done)

    def _check_complete(self, *, announce: bool) -> None:
        m = self.sample_model
        done = m.rowCount() > 0 and m.labelled_count() == m.rowCount()
        if done and not self._complete and announce:  # suggest the next step once
            self.sample_completed.emit(m.rowCount())
        self._complete = done

    def load_saved(self, snapshot_id: int) -> JobState:
        """Show the sample saved for ``snapshot_id`` (if the library is still open when read)."""

        def done(rows, error) -> None:
            st = self.h.state
            if st is None or st.snapshot is None or st.snapshot.id != snapshot_id:
                return
            if error is not None:
                self.h.status(f"The saved sample could not be read ({error}); generate a new one.", 0)
                return
            self.sample_model.set_rows(rows)

        return sample_ops.load_sample_op(self.h.runner, self.h.state.settings, snapshot_id, done)

    def confirm_replace(self) -> bool:
        """Ask before a new sample replaces one with unlabelled rows (labels are never lost)."""
        m = self.sample_model
        if m.rowCount() and m.labelled_count() < m.rowCount():
            left = m.rowCount() - m.labelled_count()
            return self.h.dialogs.confirm(
                "Replace the sample?",
                f"{left} folder(s) of the current sample are not labelled yet. A new sample replaces "
                "the table (your labels stay saved). Continue?",
            )
        return True

    def _save_dialog(self, title: str, name: str, on_path) -> None:
        start = str(self.h.storage.outputs_dir / name)
        dlg = QFileDialog(self.h.parent, title, start, "CSV files (*.csv)")
        dlg.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dlg.setDefaultSuffix("csv")
        dlg.fileSelected.connect(lambda p: on_path(p) if p else None)
        self.h.dialogs.keep(dlg)

    def export_sample(self, path: str | None = None) -> None:
        if not self.sample_model.rowCount():
            self.h.dialogs.message("Nothing to export", "Generate a sample first (Ctrl+G).")
            return
        if not path:
            self._save_dialog("Export the sample as CSV", "samples.csv", self.export_sample)
            return
        rows, labels = self.sample_model.rows(), self.h.labels.labels()

        def done(n, error) -> None:
            if error is not None:
                self.h.dialogs.error("The CSV was not written", error, "Exporting the sample")
            else:
                self.h.status(f"Wrote {n} rows to {path}", 15_000)

        sample_ops.export_sample_op(self.h.runner, rows, labels, path, done)

    def export_tree(self, path: str | None = None) -> None:
        if self.h.state is None or self.h.state.snapshot is None:
            return
        if not path:
            self._save_dialog("Export all folders with predictions", "folders.csv", self.export_tree)
            return

        def done(n, error) -> None:
            if error is not None:
                if not isinstance(error, Cancelled):
                    self.h.dialogs.error("The CSV was not written", error, "Exporting all folders")
            else:
                self.h.status(f"Wrote {n:,} folders to {path}", 15_000)

        sample_ops.export_tree_op(
            self.h.runner, self.h.state.settings, self.h.state.snapshot.id, self.h.labels.labels(), path, done
        )

    def import_csv(self, path: str | None = None) -> JobState | None:
        if self.h.state is None:
            return None
        if not path:
            dlg = QFileDialog(self.h.parent, "Import a labelled CSV", str(self.h.storage.outputs_dir), "CSV files (*.csv)")
            dlg.setFileMode(QFileDialog.FileMode.ExistingFile)
            dlg.fileSelected.connect(lambda p: self.import_csv(p) if p else None)
            self.h.dialogs.keep(dlg)
            return None
        ctl = self.h.labels

        def done(result, error) -> None:
            if error is not None:
                ctl.resume_saving()
                if isinstance(error, Cancelled):
                    return
                if isinstance(error, UserError) and (getattr(error, "problems", None) or error.details):
                    self.h.dialogs.csv_problems(path, error)
                else:
                    self.h.dialogs.error("The CSV was not imported", error, "Importing the CSV")
                return
            ctl.reload(on_done=lambda *_: ctl.resume_saving())
            extra = []
            if result.carried_over:
                extra.append(f"{result.carried_over:,} earlier labels carried over")
            if result.skipped_empty:
                extra.append(f"{result.skipped_empty:,} rows without a label skipped")
            self.h.dialogs.message(
                "Labels imported",
                f"Added {result.labelled:,} labels from {Path(path).name} to label run "
                f"#{result.label_run_id} ({result.total_in_run:,} labels in that run).",
                informative="; ".join(extra) + ("." if extra else ""),
            )

        settings = self.h.state.settings
        box: dict[str, JobState] = {}

        def start() -> None:
            # Edits made while the import runs are held and saved into the new run after it.
            ctl.pause_saving()
            box["job"] = sample_ops.import_csv_op(self.h.runner, settings, path, done)

        ctl.when_saved(start)
        return box.get("job")
