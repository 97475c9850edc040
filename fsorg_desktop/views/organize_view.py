"""The Organize tab: a template, the library before and the proposed tree after, side by
side with file counts, the conflicts (already resolved), then Apply as a background job
(progress and Cancel here and in the Jobs panel) and Undo.

Everything slow runs on workers through the engine (``engine.organize``): the preview
builds the catalogue and the layout; Apply writes the plan CSV next to the data folder's
journals and applies it with a journal; Undo replays the journal backwards. The view
only shows results.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from engine.core.jobs import Cancelled
from fsorg_desktop.jobs import JobRunner, JobState, Pool
from fsorg_desktop.models.organize_tree_model import path_tree, tree_model

MODES = (
    ("link", "Hard links (a separate tree; the library is not touched)"),
    ("symlink", "Symbolic links (a separate tree)"),
    ("copy", "Copies (a separate tree; needs the space)"),
    ("move", "Move the files (reorganizes the library itself)"),
)


def _preview(settings, target, template, progress, should_stop):
    from engine.core.jobs import wrap_progress
    from engine.organize.catalogue import build_catalogue
    from engine.organize.layout import propose

    cat = build_catalogue(settings, progress=wrap_progress(progress, 0, 0.5), should_stop=should_stop)
    lay = propose(cat, target, template, settings=settings, progress=wrap_progress(progress, 0.5, 1.0),
                  should_stop=should_stop)
    before = {p.source: p.files for p in lay.placements}
    after = {p.target: p.files for p in lay.placements}
    return cat, lay, path_tree(before, Path(cat.root).name or cat.root), path_tree(after, Path(lay.target_root).name)


def _apply(settings, layout, root, mode, progress, should_stop):
    from engine.organize.apply import apply_plan
    from engine.organize.plan import read_plan, write_plan

    out = settings.data_dir / "journals"
    out.mkdir(parents=True, exist_ok=True)
    plan_path = out / f"plan-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    write_plan(layout, root, plan_path)
    return apply_plan(read_plan(plan_path), layout.target_root, mode, journal_dir=out,
                      progress=progress, should_stop=should_stop)


class OrganizeView(QWidget):
    preview_ready = Signal(object)  # engine.organize.layout.Layout
    applied = Signal(object)  # ApplyResult
    undone = Signal(object)  # UndoResult
    failed = Signal(str)

    def __init__(self, runner: JobRunner, parent=None) -> None:
        super().__init__(parent)
        from engine.organize.layout import DEFAULT_TEMPLATE

        self.runner = runner
        self.settings = None
        self.layout_ = None
        self.catalogue = None
        self.journal: Path | None = None
        self._job: JobState | None = None
        self.confirm = self._confirm_dialog  # replaced in tests
        self.template = QLineEdit(DEFAULT_TEMPLATE)
        self.template.setToolTip(
            "Placeholders: {creator} {asset_type} {subject} {item} {variant} {tags} {first_tag}. "
            "Missing parts become '_unknown creator', '_unknown type'."
        )
        self.target = QLineEdit()
        self.target.setPlaceholderText("Folder for the new tree (outside the library)")
        self.choose = QPushButton("Choose…")
        self.choose.clicked.connect(self._choose_target)
        self.mode = QComboBox()
        for key, text in MODES:
            self.mode.addItem(text, key)
        # Long choices ("Hard links (a separate tree; ...)"): the box keeps a modest width on a
        # narrow side panel and shows the whole text when opened and in its tooltip.
        self.mode.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode.setMinimumContentsLength(14)
        self.mode.currentIndexChanged.connect(lambda _i: self.mode.setToolTip(self.mode.currentText()))
        self.mode.setToolTip(self.mode.currentText())
        self.preview_button = QPushButton("Preview")
        self.preview_button.clicked.connect(self.preview)
        self.before_title = QLabel("<b>Before</b>")
        self.after_title = QLabel("<b>After</b>")
        self.before = QTreeView()
        self.after = QTreeView()
        for tv in (self.before, self.after):
            tv.setUniformRowHeights(True)
            tv.setAlternatingRowColors(True)
        self.conflicts_title = QLabel("Conflicts")
        self.conflicts = QListWidget()
        self.conflicts.setMaximumHeight(120)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setEnabled(False)
        self.undo_button.setToolTip("Restore the state before the last apply (from its journal)")
        self.undo_button.clicked.connect(self.undo)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("Open a library, choose a target folder and press Preview.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        form = QGridLayout()
        form.addWidget(QLabel("Template"), 0, 0)
        form.addWidget(self.template, 0, 1, 1, 2)
        form.addWidget(QLabel("Target"), 1, 0)
        form.addWidget(self.target, 1, 1)
        form.addWidget(self.choose, 1, 2)
        form.addWidget(QLabel("Mode"), 2, 0)
        form.addWidget(self.mode, 2, 1)
        form.addWidget(self.preview_button, 2, 2)
        trees = QSplitter(Qt.Orientation.Horizontal)
        for title, tv in ((self.before_title, self.before), (self.after_title, self.after)):
            title.setWordWrap(True)  # "Before: 1,095 folders, 13,301 files" wraps on a narrow panel
            box = QWidget()
            bl = QVBoxLayout(box)
            bl.setContentsMargins(0, 0, 0, 0)
            bl.addWidget(title)
            bl.addWidget(tv, 1)
            trees.addWidget(box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.apply_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.progress, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(trees, 1)
        lay.addWidget(self.conflicts_title)
        lay.addWidget(self.conflicts)
        lay.addLayout(buttons)
        lay.addWidget(self.status)

    # -- library -----------------------------------------------------------------------------
    def set_library(self, settings, root: str | None = None) -> None:
        self.settings = settings
        self.layout_ = None
        self.apply_button.setEnabled(False)
        if root and not self.target.text():
            self.target.setText(str(Path(root).parent / f"{Path(root).name} (organized)"))

    def is_busy(self) -> bool:
        return self._job is not None

    def _choose_target(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Folder for the new tree", self.target.text() or str(Path.home()))
        if path:
            self.target.setText(path)

    # -- preview -----------------------------------------------------------------------------
    def preview(self) -> JobState | None:
        if self.settings is None or self._job is not None:
            return None
        target = self.target.text().strip()
        if not target:
            self.status.setText("Choose a target folder first.")
            return None
        self.status.setText("Building the proposed layout…")
        self.apply_button.setEnabled(False)
        settings, template = self.settings, self.template.text()

        def done(result, error) -> None:
            self._job = None
            if error is not None:
                self._error(error)
                return
            cat, lay, before, after = result
            self.catalogue, self.layout_ = cat, lay
            self._show_trees(before, after)
            self.conflicts.clear()
            for c in lay.conflicts:
                self.conflicts.addItem(f"[{c.kind}] {c.source}: {c.message}")
            self.conflicts_title.setText(
                f"Conflicts: {len(lay.conflicts):,}, resolved as shown" if lay.conflicts else "Conflicts: none"
            )
            unsure = sum(1 for p in lay.placements if p.status != "ok")
            self.status.setText(
                f"{len(lay.placements):,} folders, {lay.files:,} files → {lay.target_root}"
                + (f"; {unsure:,} rest on unknown folders (placed under what is known)" if unsure else "")
            )
            self.apply_button.setEnabled(bool(lay.placements) and not lay.unresolved)
            self.preview_ready.emit(lay)

        self._job = self.runner.run(
            lambda progress, should_stop: _preview(settings, target, template, progress, should_stop), done,
            pool=Pool.READ,
        )
        return self._job

    def _show_trees(self, before, after) -> None:
        for tv, root, title, what in ((self.before, before, self.before_title, "Before"),
                                      (self.after, after, self.after_title, "After")):
            old = tv.model()
            tv.setModel(tree_model(root, tv))
            if old is not None:
                old.deleteLater()
            tv.expandToDepth(1)
            tv.resizeColumnToContents(0)
            n = _count(root)
            title.setText(f"<b>{what}</b>: {n:,} folders, {root.files:,} files")

    # -- apply / undo --------------------------------------------------------------------------
    def _confirm_dialog(self, mode: str) -> bool:
        if mode != "move":
            return True
        return QMessageBox.question(
            self, "Move the files?",
            "Move mode moves your files into the new tree (a journal is written first; Undo puts "
            "every file back). Link mode builds the same tree without touching the library. Move?",
        ) == QMessageBox.StandardButton.Yes

    def apply(self) -> JobState | None:
        if self.layout_ is None or self._job is not None:
            return None
        mode = self.mode.currentData()
        if not self.confirm(mode):
            return None
        settings, lay, root = self.settings, self.layout_, self.catalogue.root
        self._busy(True)
        self.status.setText(f"Applying ({mode})…")

        def done(result, error) -> None:
            self._job = None
            self._busy(False)
            if error is not None:
                if isinstance(error, Cancelled):
                    from engine.organize.apply import find_unfinished

                    self.journal = find_unfinished(settings.data_dir / "journals", lay.target_root, mode,
                                                   str(Path(root).absolute()))
                    self.undo_button.setEnabled(self.journal is not None)
                    self.status.setText("Cancelled. Apply again to resume where it stopped, or Undo.")
                    return
                self._error(error)
                return
            self.journal = result.journal
            self.undo_button.setEnabled(True)
            skipped = f"; {len(result.skipped):,} skipped (never overwritten)" if result.skipped else ""
            self.status.setText(
                f"Done: {result.files:,} files in {lay.target_root} ({mode}){skipped}. "
                f"Journal: {result.journal}"
            )
            self.applied.emit(result)

        self._job = self.runner.run(
            lambda progress, should_stop: _apply(settings, lay, root, mode, progress, should_stop),
            done, title=f"Organize: apply ({mode})", pool=Pool.JOBS,
        )
        self._job.progress_changed.connect(self._on_progress)
        return self._job

    def undo(self) -> JobState | None:
        if self.journal is None or self._job is not None:
            return None
        journal = self.journal
        self._busy(True)
        self.status.setText("Undoing…")

        def work(progress, should_stop):
            from engine.organize.apply import undo

            return undo(journal, progress=progress, should_stop=should_stop)

        def done(result, error) -> None:
            self._job = None
            self._busy(False)
            if error is not None:
                if isinstance(error, Cancelled):
                    self.status.setText("Undo cancelled: press Undo again to finish it.")
                    return
                self._error(error)
                return
            self.undo_button.setEnabled(False)
            self.journal = None
            kept = f"; {len(result.kept):,} kept (changed since)" if result.kept else ""
            self.status.setText(f"Undone: {result.restored:,} files restored{kept}.")
            self.undone.emit(result)

        self._job = self.runner.run(work, done, title="Organize: undo", pool=Pool.JOBS)
        self._job.progress_changed.connect(self._on_progress)
        return self._job

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()

    def _busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        for w in (self.apply_button, self.preview_button, self.undo_button):
            w.setEnabled(not busy and (w is not self.undo_button or self.journal is not None)
                         and (w is not self.apply_button or self.layout_ is not None))
        self.progress.setValue(0)

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.status.setText(message)

    def _error(self, error: BaseException) -> None:
        self.status.setText(f"<span style='color:#c0392b'>{error}</span>")
        self.failed.emit(str(error))


def _count(node) -> int:
    n, stack = 0, list(node.children.values())
    while stack:
        c = stack.pop()
        n += 1
        stack.extend(c.children.values())
    return n
