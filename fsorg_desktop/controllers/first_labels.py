"""A newly scanned library gets its first labels without being asked.

The user drops a folder and wants to see what fsorg makes of it. The scan and the feature
extraction take seconds; the labels then need torch and the sentence body, which take as
long again to load. So at the start of a scan this controller starts a child process
(:class:`engine.models.warm.PredictSession` in a :class:`fsorg_desktop.procjob.ChildService`)
that loads them while the scan and the extraction run, and once the new snapshot's features
exist it asks that same child to label every folder: with the model this data folder trained
(``models/my_classifier``, or the one trained in this session), else with the shipped
baseline. The job is in the Jobs panel with progress and Cancel; the tree stays usable and
shows the heuristic's guess until the labels arrive; the child is closed afterwards (it holds
a few hundred MB). Model ▸ "Label new libraries at once" turns it off.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from engine.core.jobs import Cancelled
from fsorg_desktop.app_settings import FIRST_LABELS, AppSettings
from fsorg_desktop.jobs import JobState, Pool, run_job
from fsorg_desktop.ops.models import default_model_path
from fsorg_desktop.procjob import ChildService

if TYPE_CHECKING:
    from fsorg_desktop.controllers.host import Host
    from fsorg_desktop.controllers.model_actions import ModelActions

TITLE = "Label every folder"


class FirstLabels(QObject):
    labelled = Signal(int)  # the snapshot whose first labels were just stored

    def __init__(self, host: "Host", model_actions: "ModelActions", app_settings: AppSettings) -> None:
        super().__init__(host.parent)
        self.h = host
        self.model_actions = model_actions
        self.app_settings = app_settings
        self._service: ChildService | None = None
        self._waiting = False  # a scan is running; its snapshot will be labelled
        self._snapshot: int | None = None  # the scanned snapshot waiting for its features
        self.job: JobState | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.app_settings.get(FIRST_LABELS))

    def set_enabled(self, on: bool) -> None:
        self.app_settings.set(FIRST_LABELS, bool(on))
        if not on:
            self._drop()

    # -- the scan's signals ------------------------------------------------------------------
    def scan_started(self) -> None:
        self._drop()
        if not self.enabled:
            return
        from engine.models.warm import PredictSession

        self._service = ChildService(PredictSession)
        self._waiting = True
        # Untitled: loading is preparation, not a job of the user's; the labelling job shows.
        run_job(self._service.call("warm"), None, pool=Pool.WARM, runner=self.h.runner)

    def scan_finished(self, snapshot_id: int | None) -> None:
        if not self._waiting:
            return
        self._waiting = False
        if snapshot_id is None:  # failed or cancelled: nothing to label
            self._drop()
        else:
            self._snapshot = int(snapshot_id)

    def opened(self, state) -> None:
        """The scanned snapshot is on screen; one that already has features (an unchanged
        rescan carries them over, so no extraction follows) is labelled now."""
        if state is not None and state.snapshot is not None and state.has_features:
            self.features_ready(state.snapshot.id)

    def features_ready(self, snapshot_id: int) -> None:
        if self._service is None or self._snapshot != snapshot_id or self.h.state is None:
            return
        self._snapshot = None
        settings = self.h.state.settings
        from engine.core.config import fine_tuning_dir, load_config

        trained = self.model_actions.model_path or str(default_model_path(settings))
        if Path(trained).is_dir():
            cfg, model_path, who = load_config("predict"), trained, "your model"
        else:
            cfg, model_path, who = load_config("predict", fine_tuning_dir() / "keep_baseline.json"), None, "the shipped baseline"
        service = self._service

        def done(result, error) -> None:
            if service is not self._service:  # superseded by a newer scan, or the window closing
                return
            self._drop()
            if error is not None:
                if isinstance(error, Cancelled):
                    self.h.status("Labelling cancelled: the Predicted column keeps the heuristic's guess.", 10_000)
                else:
                    self.h.dialogs.error("Labelling the library did not finish", error, TITLE)
                return
            self.h.refresh_predictions()
            self.h.status(
                f"Labels from {who} for all {result.n:,} folders. Generate samples (Ctrl+G) to check them.",
                20_000,
            )
            self.labelled.emit(snapshot_id)

        self.h.status(f"Labelling every folder with {who}…", 0)
        self.job = run_job(
            service.call("predict", settings, cfg, model_path=model_path, snapshot_id=snapshot_id), done,
            title=TITLE, pool=Pool.JOBS, runner=self.h.runner,
        )

    # -- the child ---------------------------------------------------------------------------
    def _drop(self, *, wait: bool = False) -> None:
        """Forget the pending labelling and stop the child (``wait``: here and now; else on a
        thread, never holding up the UI thread)."""
        self._waiting, self._snapshot = False, None
        service, self._service = self._service, None
        if service is None:
            return
        if wait:
            service.close()
        else:
            threading.Thread(target=service.close, name="fsorg-close-first-labels", daemon=True).start()

    def shutdown(self) -> None:
        """Closing the window: the child is stopped before this returns."""
        self._drop(wait=True)
