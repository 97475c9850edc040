"""The user's labels as the app sees them: an in-memory map, an undo stack, and saving.

Why a controller and not the models: the tree, the sample table and the results view
all show the same labels, and a key press in one must update the others, be undoable
and be saved at once. Views call :meth:`LabelController.set_labels`; every view
listens to :attr:`labels_changed`.

Saving: each change is written to the working label run (``engine.saving.save_labels``,
one transaction) on the single-thread ``Pool.LABELS`` worker, milliseconds after the
key press, so a crash loses nothing and the UI never waits on the database lock.
Saves are applied in order (one thread); a failed save keeps the label in memory,
emits :attr:`save_failed`, and is retried with the next change.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable, Mapping

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.core.taxonomy import label_by_name, label_names
from engine.labels import saving
from engine.storage import Databases
from fsorg_desktop.jobs import JobRunner, Pool, run_job


def _title(label: str | None) -> str:
    return "no label" if label is None else label_by_name(label).title


class _SetLabelsCommand(QUndoCommand):
    """One user action (one key press on N folders) = one undo step."""

    def __init__(self, ctl: "LabelController", before: dict[int, str | None], label: str | None) -> None:
        n = len(before)
        what = "Clear label" if label is None else f"Label as {_title(label)}"
        super().__init__(f"{what} ({n} folder{'s' if n != 1 else ''})")
        self._ctl = ctl
        self._before = before
        self._after = {fid: label for fid in before}

    def redo(self) -> None:
        self._ctl._apply(self._after)

    def undo(self) -> None:
        self._ctl._apply(self._before)
        self._ctl.undone.emit(list(self._before))


class LabelController(QObject):
    """Labels of the working run for one snapshot; see the module docstring."""

    labels_changed = Signal(list)  # folder ids whose label changed
    labels_reset = Signal()  # everything may have changed (reload)
    undone = Signal(list)  # folder ids an undo gave their old label back (the cursor goes there)
    saved = Signal(int)  # label run id after a successful save
    save_failed = Signal(str)  # a readable message

    def __init__(
        self,
        dbs: Databases | None,
        snapshot_id: int | None,
        labels: Mapping[int, str] | None = None,
        *,
        run_id: int | None = None,
        runner: JobRunner | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._dbs = dbs
        self._snapshot_id = snapshot_id
        self._labels: dict[int, str] = dict(labels or {})
        self._run_id = run_id
        self._runner = runner
        self._undo = QUndoStack(self)
        self._unsaved: dict[int, str | None] = {}
        self._saving = 0
        self._paused = 0
        try:
            self._labeler = getpass.getuser()
        except Exception:  # noqa: BLE001 - no user name on some systems
            self._labeler = "app"

    # -- reading ----------------------------------------------------------------------------
    @property
    def undo_stack(self) -> QUndoStack:
        return self._undo

    @property
    def run_id(self) -> int | None:
        """The label run the labels come from (the working run after the first save)."""
        return self._run_id

    @property
    def snapshot_id(self) -> int | None:
        return self._snapshot_id

    def label_of(self, folder_id: int) -> str | None:
        return self._labels.get(folder_id)

    def labels(self) -> dict[int, str]:
        """A copy of every label (folder id -> label)."""
        return dict(self._labels)

    def count(self, folder_ids: Iterable[int] | None = None) -> int:
        if folder_ids is None:
            return len(self._labels)
        return sum(1 for f in folder_ids if f in self._labels)

    def is_saving(self) -> bool:
        return self._saving > 0 or bool(self._unsaved)

    # -- writing ----------------------------------------------------------------------------
    def set_labels(self, folder_ids: list[int], label: str | None) -> None:
        """Label (or with ``None`` clear) ``folder_ids``: saved at once, one undo step."""
        if label is not None and label not in label_names():
            raise ValueError(f"unknown label {label!r}")
        ids = list(dict.fromkeys(int(f) for f in folder_ids))
        before = {fid: self._labels.get(fid) for fid in ids}
        if not ids or all(v == label for v in before.values()):
            return
        self._undo.push(_SetLabelsCommand(self, before, label))

    def reload(self, on_done=None) -> None:
        """Re-read the newest label run (after a CSV import); clears undo history,
        because the steps no longer describe the stored run."""
        if self._dbs is None:
            return
        settings, snap = self._dbs.settings, self._snapshot_id

        def done(result, error) -> None:
            if error is None:
                self._run_id, self._labels = result
                for fid, lab in self._unsaved.items():  # edits held back during an import
                    if lab is None:
                        self._labels.pop(fid, None)
                    else:
                        self._labels[fid] = lab
                self._undo.clear()
                self.labels_reset.emit()
            if on_done is not None:
                on_done(result, error)

        run_job(
            lambda progress, should_stop: saving.labels_for_snapshot(settings, snap),
            done,
            pool=Pool.LABELS,
            runner=self._runner,
        )

    def _apply(self, changes: dict[int, str | None]) -> None:
        for fid, lab in changes.items():
            if lab is None:
                self._labels.pop(fid, None)
            else:
                self._labels[fid] = lab
        self._unsaved.update(changes)
        self.labels_changed.emit(list(changes))
        self._save()

    def pause_saving(self) -> None:
        """Hold label writes while a job replaces the newest label run (a CSV import), so
        an edit can never land in the run being superseded; the window keeps showing it."""
        self._paused += 1

    def resume_saving(self) -> None:
        self._paused = max(0, self._paused - 1)
        self._save()

    def _save(self) -> None:
        if self._dbs is None or self._snapshot_id is None or not self._unsaved or self._paused:
            return
        batch, self._unsaved = self._unsaved, {}
        dbs, snap, who = self._dbs, self._snapshot_id, self._labeler
        self._saving += 1

        def work(progress, should_stop) -> int:
            return saving.save_labels(dbs.training, dbs.index, snapshot_id=snap, changes=batch, labeler=who)

        def done(run_id, error) -> None:
            self._saving -= 1
            if error is None:
                self._run_id = run_id
                self.saved.emit(run_id)
            else:
                for fid, lab in batch.items():
                    self._unsaved.setdefault(fid, lab)
                self.save_failed.emit(
                    f"Could not save {len(batch)} label(s): {error}. They are kept in the window "
                    "and saved again with your next change."
                )

        run_job(work, done, pool=Pool.LABELS, runner=self._runner)

    def when_saved(self, fn) -> None:
        """Run ``fn`` (on the UI thread) once every edit is in the database: jobs that read
        labels (training, an import that carries them over) must see the last key press."""
        self._save()
        if not self.is_saving():
            fn()
            return
        QTimer.singleShot(50, self, lambda: self.when_saved(fn))

    def flush(self) -> None:
        """Retry anything not yet saved (used before closing)."""
        self._save()
