""" "Apply to look-alikes": after labelling a folder, offer its siblings and cousins with the
same name shape (:func:`engine.active.lookalikes.look_alikes`) in a preview with checkboxes, then
label the ticked ones in ONE undoable step (``LabelController.set_labels`` once).

The candidates are found on a worker (``run_job``); the dialog never touches the database
itself. Rows the engine marks ``suggested`` (same name, same pattern) start ticked; the
variant set (``Day`` next to the ``Night`` you labelled) and folders that already have the
label start unticked.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from engine.core.jobs import Cancelled, UserError
from engine.core.settings import StorageSettings
from engine.core.taxonomy import label_by_name
from fsorg_desktop.jobs import JobRunner, JobState, Pool, run_job
from fsorg_desktop.label_controller import LabelController
from fsorg_desktop.style.label_style import label_icon

FolderIdRole = Qt.ItemDataRole.UserRole

_REASONS = {
    "same name": "same name",
    "same pattern": "same word pattern",
    "variant set": "variant next to it",
}


class PropagateDialog(QDialog):
    """Preview of the look-alikes of ``folder_id``; OK labels the ticked ones ``label``."""

    candidates_loaded = Signal(list)  # engine.active.lookalikes.Candidate list now listed (fact)
    labels_applied = Signal(list, str)  # folder ids, label (fact, after set_labels)

    def __init__(
        self,
        settings: StorageSettings,
        folder_id: int,
        label: str,
        controller: LabelController,
        *,
        runner: JobRunner | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._folder_id = int(folder_id)
        self._label = label
        self._controller = controller
        self._runner = runner
        self._candidates: list = []
        self._job: JobState | None = None
        title = label_by_name(label).title
        self.setWindowTitle(f"Apply “{title}” to look-alikes")
        self.resize(680, 440)

        self._intro = QLabel("Looking for siblings and cousins with the same name shape…")
        self._intro.setWordWrap(True)
        self._list = QListWidget()
        self._list.itemChanged.connect(self._update_ok)
        self._all = QPushButton("Tick all")
        self._none = QPushButton("Untick all")
        self._all.clicked.connect(lambda: self._set_all(True))
        self._none.clicked.connect(lambda: self._set_all(False))
        self._buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)
        self._ok = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        self._ok.setEnabled(False)

        row = QHBoxLayout()
        row.addWidget(self._all)
        row.addWidget(self._none)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self._intro)
        lay.addWidget(self._list, 1)
        lay.addLayout(row)
        lay.addWidget(self._buttons)
        self._load()

    # -- public --------------------------------------------------------------------------------
    @property
    def candidates(self) -> list:
        return list(self._candidates)

    def is_busy(self) -> bool:
        return self._job is not None and not self._job.is_finished

    def checked_ids(self) -> list[int]:
        out = []
        for i in range(self._list.count()):
            it = self._list.item(i)
            if it.checkState() == Qt.CheckState.Checked:
                out.append(int(it.data(FolderIdRole)))
        return out

    def set_checked(self, folder_id: int, checked: bool) -> None:
        for i in range(self._list.count()):
            it = self._list.item(i)
            if it.data(FolderIdRole) == folder_id:
                it.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def accept(self) -> None:
        ids = self.checked_ids()
        if ids:
            self._controller.set_labels(ids, self._label)  # one call = one undo step
            self.labels_applied.emit(ids, self._label)
        super().accept()

    def reject(self) -> None:
        if self._job is not None and not self._job.is_finished:
            self._job.discard()
        super().reject()

    # -- loading -------------------------------------------------------------------------------
    def _load(self) -> None:
        from engine.active.lookalikes import look_alikes

        settings, fid, label = self._settings, self._folder_id, self._label

        def work(progress, should_stop):
            return look_alikes(settings, fid, label=label)

        def done(result, error) -> None:
            if isValid(self):
                self._on_loaded(result, error)

        self._job = run_job(work, done, pool=Pool.READ, runner=self._runner)

    def _on_loaded(self, result, error: BaseException | None) -> None:
        if error is not None:
            if isinstance(error, Cancelled):
                return
            msg = str(error) if isinstance(error, UserError) else f"Could not look for look-alikes: {error}"
            self._intro.setText(msg)
            return
        self._candidates = list(result)
        self._list.blockSignals(True)
        self._list.clear()
        for c in self._candidates:
            cur = label_by_name(c.current_label).title if c.current_label else "no label"
            text = f"{c.path}    ·    {c.relation}, {_REASONS.get(c.reason, c.reason)}    ·    now: {cur}"
            it = QListWidgetItem(text)
            if c.current_label:
                it.setIcon(label_icon(c.current_label))
            it.setData(FolderIdRole, c.folder_id)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Checked if c.suggested else Qt.CheckState.Unchecked)
            self._list.addItem(it)
        self._list.blockSignals(False)
        title = label_by_name(self._label).title
        n = len(self._candidates)
        if n:
            self._intro.setText(
                f"{n} folder{'s look' if n != 1 else ' looks'} like this one. Tick the ones to label “{title}”; "
                "this is one step you can undo (Ctrl+Z)."
            )
        else:
            # Nothing to choose: a short note with one Close button, not an empty list.
            self._intro.setText("No sibling or cousin folder has the same name shape: nothing to apply.")
            for w in (self._list, self._all, self._none, self._ok):
                w.hide()
            self._buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Close")
            self.resize(self.width(), self.minimumSizeHint().height())
        self._update_ok()
        self.candidates_loaded.emit(self.candidates)

    def _set_all(self, checked: bool) -> None:
        state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
        for i in range(self._list.count()):
            self._list.item(i).setCheckState(state)

    def _update_ok(self, *_args) -> None:
        n = len(self.checked_ids())
        self._ok.setEnabled(n > 0)
        title = label_by_name(self._label).title
        self._ok.setText(f"Label {n} folder{'s' if n != 1 else ''} “{title}”" if n else "Label")
