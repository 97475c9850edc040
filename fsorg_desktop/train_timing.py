"""How long training takes on *this* computer: the base model's loading time and how fast the
steps really run, measured on each training and remembered (QSettings), so the next estimate
includes them instead of promising "about 10 seconds" for a 80-second job.
"""

from __future__ import annotations

import time

from fsorg_desktop.app_settings import MODEL_LOAD_S, TRAIN_SPEED, AppSettings
from fsorg_desktop.jobs import JobState

LOADING_PHASE = "loading the base sentence model"
DEFAULT_LOAD_S = 25.0  # until measured: a laptop CPU loading torch and MiniLM from disk


def remembered(settings: AppSettings) -> tuple[float, float]:
    """(seconds to load the base model, speed factor of the steps) for the estimate."""
    try:
        load = float(settings.get(MODEL_LOAD_S) or 0.0)
        speed = float(settings.get(TRAIN_SPEED) or 1.0)
    except (TypeError, ValueError):
        load, speed = 0.0, 1.0
    return (load if load > 0 else DEFAULT_LOAD_S), (speed if 0.05 < speed < 20 else 1.0)


class TrainingClock:
    """Watches one training job's progress: when the loading phase starts and ends."""

    def __init__(self, job: JobState) -> None:
        self.load_started: float | None = None
        self.load_seconds: float | None = None
        self.started = time.monotonic()
        job.progress_changed.connect(self._on_progress)

    def _on_progress(self, _fraction: float, message: str) -> None:
        now = time.monotonic()
        if message.startswith(LOADING_PHASE):
            if self.load_started is None:
                self.load_started = now
        elif self.load_started is not None and self.load_seconds is None:
            self.load_seconds = now - self.load_started

    def remember(self, settings: AppSettings, estimate_steps_s: float, total_s: float) -> None:
        """Store the measured loading time, and how much faster or slower than estimated the
        rest ran (``estimate_steps_s``: the estimate without loading)."""
        load = self.load_seconds
        if load is not None and load > 0:
            settings.set(MODEL_LOAD_S, round(load, 1))
        rest = total_s - (load or 0.0)
        if estimate_steps_s > 1 and rest > 1:
            settings.set(TRAIN_SPEED, round(rest / estimate_steps_s, 3))
        settings.sync()
