"""The Explain tab's model, held in a child process for one library.

:class:`engine.active.explain.Explainer` (Qt-free) lives in a child process
(:class:`fsorg_desktop.procjob.ChildService`): loading the model and the sentence body there can
never hold the UI thread's interpreter lock (on a worker *thread* it stalled the window for
seconds), and the child keeps the model between folders, so only the first explanation costs
seconds. Calls go through :func:`fsorg_desktop.jobs.run_job` on the one-thread ``Pool.EXPLAIN``.

The window owns one service per open library and hands it to the view; the view only asks
for explanations and draws them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject

from engine.active.explain import Explainer
from engine.core.settings import StorageSettings
from fsorg_desktop.jobs import JobRunner, JobState, Pool, run_job
from fsorg_desktop.procjob import ChildService


def _close_later(service: ChildService) -> None:
    """Stop a child without waiting on the UI thread (a busy child takes a moment)."""
    if service.is_running():
        threading.Thread(target=service.close, name="fsorg-close-service", daemon=True).start()


class ExplainService(QObject):
    """Owns the Explain child process; one request at a time (a newer one discards the older)."""

    def __init__(
        self,
        settings: StorageSettings,
        *,
        model: Any = None,
        runner: JobRunner | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.model = model
        self._runner = runner
        self._child = ChildService(Explainer, settings, model)
        self._job: JobState | None = None

    def is_running(self) -> bool:
        """Whether the child (and its loaded model) is up: the next answer is quick."""
        return self._child.is_running()

    def is_busy(self) -> bool:
        return self._job is not None and not self._job.is_finished

    def discard(self) -> None:
        if self.is_busy():
            self._job.discard()

    def explain(self, folder_id: int, done: Callable[[Any, BaseException | None], None]) -> JobState:
        """Explain ``folder_id`` in the child; ``done(result, error)`` on the UI thread."""
        self.discard()
        self._job = run_job(self._child.call("explain", int(folder_id)), done, pool=Pool.EXPLAIN, runner=self._runner)
        return self._job

    def set_model(self, model: Any = None) -> None:
        """Explain with ``model`` from now on (a LoadedModel or a model folder; None = the newest
        trained model, else the baseline): call it after a training finishes."""
        self.discard()
        self.model = model
        old, self._child = self._child, ChildService(Explainer, self.settings, model)
        _close_later(old)

    def shutdown(self) -> None:
        """Stop the child process (closing the window or the library); the next ``explain``
        starts it again."""
        self.discard()
        old, self._child = self._child, ChildService(Explainer, self.settings, self.model)
        _close_later(old)
