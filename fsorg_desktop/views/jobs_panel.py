"""The jobs panel: one row per running (or queued) job with a progress bar, its latest
message, the elapsed time and Cancel. A finished row lingers briefly with its outcome,
so a fast job does not flash by unseen; failures are reported by the composer in a dialog.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from fsorg_desktop.jobs import JobRunner, JobState, JobStatus

LINGER_MS = 4000


def fmt_elapsed(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{seconds:.0f} s"


class JobRow(QWidget):
    def __init__(self, job: JobState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job = job
        self.title = QLabel(f"<b>{job.title}</b>")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setFormat("%p%")
        self.bar.setMaximumWidth(260)
        self.message = QLabel(job.message)
        self.message.setMinimumWidth(120)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.elapsed = QLabel("")
        self.elapsed.setMinimumWidth(48)
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop this job; what it did so far is kept or rolled back cleanly")
        self.cancel.clicked.connect(job.cancel)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        lay.addWidget(self.title)
        lay.addWidget(self.bar, 1)
        lay.addWidget(self.message, 2)
        lay.addWidget(self.elapsed)
        lay.addWidget(self.cancel)
        self._phase = job.message
        self._phase_at = self._last_news = time.monotonic()
        job.progress_changed.connect(self._on_progress)
        job.status_changed.connect(self._on_status)
        self._on_status(job.status)

    STALE_S = 2.0  # a phase quiet for longer shows its own elapsed time and a moving bar

    def _on_progress(self, fraction: float, message: str) -> None:
        if message != self._phase:
            self._phase, self._phase_at = message, time.monotonic()
        self._last_news = time.monotonic()
        if self.bar.maximum() == 0 and self.job.status is not JobStatus.QUEUED:
            self.bar.setRange(0, 1000)
        self.bar.setValue(int(fraction * 1000))
        self.message.setText(message)

    def _on_status(self, status: JobStatus) -> None:
        if status is JobStatus.QUEUED:
            self.bar.setRange(0, 0)  # busy indicator while waiting
        else:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(self.job.fraction * 1000))
        if status is JobStatus.CANCELLING:
            self.cancel.setEnabled(False)
            self.message.setText("Cancelling…")
        if self.job.is_finished:
            self.cancel.setEnabled(False)
            self.cancel.setText({JobStatus.DONE: "Done", JobStatus.FAILED: "Failed"}.get(status, "Cancelled"))
            if status is JobStatus.DONE:
                self.message.setText(self.job.message or "Finished")
            elif status is JobStatus.FAILED:
                self.message.setText(str(self.job.error).splitlines()[0] if self.job.error else "Failed")
            else:
                self.message.setText("Cancelled")
        self.tick()

    def tick(self) -> None:
        if self.job.status is JobStatus.QUEUED:
            self.elapsed.setText("waiting")
            return
        self.elapsed.setText(fmt_elapsed(self.job.elapsed()))
        if self.job.status is JobStatus.RUNNING and self._phase:
            now = time.monotonic()
            if now - self._last_news > self.STALE_S:
                # A long step with no news of its own (loading a model): say how long it has
                # taken so far and keep the bar moving, so the window never looks stuck.
                self.bar.setRange(0, 0)
                self.message.setText(f"{self._phase} ({fmt_elapsed(now - self._phase_at)} so far)")


class JobsPanel(QWidget):
    """Listens to a :class:`JobRunner`; emits ``activity_changed(n_running)``."""

    activity_changed = Signal(int)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._rows: dict[JobState, JobRow] = {}
        self.empty = QLabel("No jobs running. Scans, feature extraction, training and prediction show up here.")
        self.empty.setEnabled(False)
        self.empty.setWordWrap(True)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(4, 4, 4, 4)
        self._lay.setSpacing(2)
        self._lay.addWidget(self.empty)
        self._lay.addStretch(1)
        self._timer = QTimer(self, interval=1000)
        self._timer.timeout.connect(self._tick)
        runner.job_started.connect(self._on_job_started)
        runner.job_finished.connect(self._on_job_finished)

    def rows(self) -> list[JobRow]:
        return list(self._rows.values())

    def row_for(self, job: JobState) -> JobRow | None:
        return self._rows.get(job)

    def _on_job_started(self, job: JobState) -> None:
        row = JobRow(job, self)
        self._rows[job] = row
        self._lay.insertWidget(self._lay.count() - 1, row)
        self.empty.hide()
        self._timer.start()
        self.activity_changed.emit(len(self._runner.running()))

    def _on_job_finished(self, job: JobState) -> None:
        row = self._rows.get(job)
        if row is not None:
            row.tick()
            QTimer.singleShot(LINGER_MS, self, lambda: self._remove(job))  # dropped if the panel is gone
        self.activity_changed.emit(len(self._runner.running()))

    def _remove(self, job: JobState) -> None:
        row = self._rows.pop(job, None)
        if row is not None:
            row.deleteLater()
        if not self._rows:
            self.empty.show()
            self._timer.stop()

    def _tick(self) -> None:
        for row in self._rows.values():
            if not row.job.is_finished:
                row.tick()


def jobs_dock(panel: JobsPanel, window) -> QDockWidget:
    """The Jobs panel as a closable, movable dock at the bottom of ``window``."""
    dock = QDockWidget("Jobs", window)
    dock.setObjectName("jobsDock")
    dock.setWidget(panel)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    return dock
