"""Model jobs: evaluate the baseline, zero-shot, train, predict every folder.

torch and sentence-transformers are imported inside these worker bodies (through
``engine.models.*``), on the worker thread, the first time a model job runs: the
window never waits for them at start.
"""

from __future__ import annotations

from pathlib import Path

from engine.settings import StorageSettings
from fsorg_desktop.jobs import JobRunner, JobState, OnDone, Pool


def default_model_path(settings: StorageSettings) -> Path:
    """Where ``train`` saves when not told otherwise (the CLI's default too)."""
    return settings.models_dir / "my_classifier"


def train_op(
    runner: JobRunner, settings: StorageSettings, config, model_path: str | None, on_done: OnDone,
    *, label_run_id: int | None = None,
) -> JobState:
    def work(progress, should_stop):
        from engine.models.training import train_model

        return train_model(
            settings, config, label_run_id=label_run_id, model_path=model_path,
            progress=progress, should_stop=should_stop,
        )

    return runner.run(work, on_done, title="Train model", pool=Pool.JOBS)


def predict_op(
    runner: JobRunner, settings: StorageSettings, config, on_done: OnDone, *,
    model_path: str | None = None, label_run_id: int | None = None, title: str = "Predict all folders",
) -> JobState:
    """``engine.models.prediction.predict``: the baseline (``config.use_baseline``) or a trained model."""

    def work(progress, should_stop):
        from engine.models.prediction import predict

        return predict(
            settings, config, model_path=model_path, label_run_id=label_run_id,
            progress=progress, should_stop=should_stop,
        )

    return runner.run(work, on_done, title=title, pool=Pool.JOBS)


def zero_shot_op(
    runner: JobRunner, settings: StorageSettings, config, on_done: OnDone, *, label_run_id: int | None = None,
) -> JobState:
    def work(progress, should_stop):
        from engine.models.prediction import zero_shot

        return zero_shot(settings, config, label_run_id=label_run_id, progress=progress, should_stop=should_stop)

    return runner.run(work, on_done, title="Zero-shot evaluation", pool=Pool.JOBS)
