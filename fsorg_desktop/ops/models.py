"""Model jobs: evaluate the baseline, zero-shot, train, predict every folder.

Each runs in a child process (:mod:`fsorg_desktop.procjob`): importing torch and running
the model there can never hold the UI thread's interpreter lock, and the window does not
even load torch. The engine functions are called exactly as the CLI calls them.
"""

from __future__ import annotations

from pathlib import Path

from engine.core.settings import StorageSettings
from fsorg_desktop.jobs import JobRunner, JobState, OnDone, Pool
from fsorg_desktop.procjob import in_process


def default_model_path(settings: StorageSettings) -> Path:
    """Where ``train`` saves when not told otherwise (the CLI's default too)."""
    return settings.models_dir / "my_classifier"


def train_op(
    runner: JobRunner, settings: StorageSettings, config, model_path: str | None, on_done: OnDone,
    *, label_run_id: int | None = None,
) -> JobState:
    from engine.models.training import train_model

    work = in_process(
        train_model, settings, config, label_run_id=label_run_id, model_path=model_path
    )
    return runner.run(work, on_done, title="Train model", pool=Pool.JOBS)


def predict_op(
    runner: JobRunner, settings: StorageSettings, config, on_done: OnDone, *,
    model_path: str | None = None, label_run_id: int | None = None, title: str = "Predict all folders",
    snapshot_id: int | None = None,
) -> JobState:
    """``engine.models.prediction.predict``: the baseline (``config.use_baseline``) or a trained model;
    ``snapshot_id``: the snapshot on screen (its folders are predicted when the config asks for all)."""
    from engine.models.prediction import predict

    work = in_process(
        predict, settings, config, model_path=model_path, label_run_id=label_run_id, snapshot_id=snapshot_id
    )
    return runner.run(work, on_done, title=title, pool=Pool.JOBS)


def zero_shot_op(
    runner: JobRunner, settings: StorageSettings, config, on_done: OnDone, *, label_run_id: int | None = None,
) -> JobState:
    from engine.models.prediction import zero_shot

    work = in_process(zero_shot, settings, config, label_run_id=label_run_id)
    return runner.run(work, on_done, title="Zero-shot evaluation", pool=Pool.JOBS)
