"""A prediction session that loads its model before it is asked to predict.

Why: after a drop, the library's first labels wait on three things that have nothing to do
with one another: the scan, the feature extraction, and importing torch plus loading the
sentence body (5-10 s on a 2-core laptop, more than the scan and the features of a
1,000-folder library together). A session started at the drop does the last one while
the first two run, then predicts as soon as the features exist. The desktop keeps one in a
child process (``fsorg_desktop.procjob.ChildService``); this module imports no Qt.
"""

from __future__ import annotations

import time
from pathlib import Path

from engine.core.config import PredictConfig
from engine.core.jobs import ProgressFn, StopFn, check_stop
from engine.core.settings import StorageSettings


class PredictSession:
    """``warm()`` loads torch and the shipped baseline's body into this process's shared-body
    cache; ``predict()`` is :func:`engine.models.prediction.predict`, which then finds the
    body already loaded (a trained model with its own body only gains the torch import)."""

    def warm(self, *, progress: ProgressFn, should_stop: StopFn) -> float:
        """Seconds spent loading (0 when already warm)."""
        t0 = time.monotonic()
        progress(0.0, "loading the base sentence model")
        from engine.core.taxonomy import label_names
        from engine.models import base as B
        from engine.models.baseline import load_baseline
        from engine.models.device import int8_enabled

        check_stop(should_stop)
        model = load_baseline(list(label_names()))
        B.shared_body(Path(model.body_path), int8=int8_enabled())
        progress(1.0, "base sentence model loaded")
        return time.monotonic() - t0

    def predict(
        self,
        settings: StorageSettings,
        config: PredictConfig,
        *,
        model_path: str | None = None,
        snapshot_id: int | None = None,
        progress: ProgressFn,
        should_stop: StopFn,
    ):
        from engine.models.prediction import predict

        return predict(settings, config, model_path=model_path, snapshot_id=snapshot_id, progress=progress,
                       should_stop=should_stop)
