"""Label smarter (issue 9): label next, suspect labels, learning curves.

Each loads a model or embeds text, so each runs in a child process (:mod:`fsorg_desktop.procjob`)
exactly like the model jobs: the window never imports torch and never waits on its GIL.
"""

from __future__ import annotations

from engine.core.settings import StorageSettings
from fsorg_desktop.jobs import JobRunner, JobState, OnDone, Pool
from fsorg_desktop.ops.samples import app_sample_path
from fsorg_desktop.procjob import in_process, label_next_job, learning_curves_job, suspects_job


def label_next_op(
    runner: JobRunner,
    settings: StorageSettings,
    snapshot_id: int,
    on_done: OnDone,
    *,
    n: int = 20,
    model_path: str | None = None,
    min_depth: int = 1,
    max_depth: int = 10_000,
) -> JobState:
    """The ``n`` folders the model hesitates on most, written as the app's sample
    (``engine.active.label_next.uncertain_sample``); returns its rows, most uncertain first."""
    work = in_process(
        label_next_job,
        settings,
        snapshot_id,
        str(app_sample_path(settings, snapshot_id)),
        n=n,
        model=model_path,
        min_depth=min_depth,
        max_depth=max_depth,
    )
    return runner.run(work, on_done, title=f"Label next {n}", pool=Pool.JOBS)


def suspects_op(runner: JobRunner, settings: StorageSettings, on_done: OnDone, *, label_run_id: int | None = None) -> JobState:
    """(labels judged, the flagged suspects as dicts), by ``engine.active.suspects.find_suspects`` (frozen
    body, out-of-fold) and ``flag_suspects``."""
    work = in_process(suspects_job, settings, label_run_id)
    return runner.run(work, on_done, title="Find suspect labels", pool=Pool.JOBS)


def learning_curves_op(
    runner: JobRunner, settings: StorageSettings, on_done: OnDone, *, batch_size: int = 25, max_labels: int = 250
) -> JobState:
    """Macro F1 against labels, diverse vs uncertainty, replaying the newest label run."""
    work = in_process(
        learning_curves_job, settings, batch_size=batch_size, max_labels=max_labels
    )
    return runner.run(work, on_done, title="Label efficiency curves", pool=Pool.JOBS)
