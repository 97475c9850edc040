"""Scanning a library and extracting its features."""

from __future__ import annotations

from pathlib import Path

from engine.core.settings import StorageSettings
from fsorg_desktop.jobs import JobRunner, JobState, OnDone, Pool
from fsorg_desktop.library import open_library
from fsorg_desktop.procjob import in_process


def open_library_op(
    runner: JobRunner,
    settings: StorageSettings,
    on_done: OnDone,
    *,
    snapshot_id: int | None = None,
    root: str | None = None,
) -> JobState:
    """Open a data folder (migrations, snapshot, labels) off the UI thread."""
    return runner.run(
        lambda progress, should_stop: open_library(settings, snapshot_id=snapshot_id, root=root),
        on_done,
        pool=Pool.READ,
    )


def gather_op(runner: JobRunner, root: str, settings: StorageSettings, on_done: OnDone) -> JobState:
    """Scan ``root`` into a new snapshot (``engine.scan.gather``)."""

    def work(progress, should_stop):
        from engine.scan.gather import gather

        return gather(root, settings, progress=progress, should_stop=should_stop)

    name = Path(root).name or root
    return runner.run(work, on_done, title=f"Scan “{name}”", pool=Pool.JOBS)


def extract_op(runner: JobRunner, settings: StorageSettings, snapshot_id: int, on_done: OnDone) -> JobState:
    """Compute folder features and the heuristic's guess (``engine.features.extract.extract_features``)."""

    from engine.core.config import load_config

    config = load_config("extract_features")
    # In a child process: extraction is pure-Python number crunching that would otherwise
    # compete with the UI thread for the GIL (measured: 108 ms stalls).
    from engine.features.extract import run_extract_features

    work = in_process(run_extract_features, settings, config, snapshot_id=snapshot_id)
    return runner.run(work, on_done, title="Extract features", pool=Pool.JOBS)


def read_rows_op(runner: JobRunner, settings: StorageSettings, snapshot_id: int, folder_ids: list[int],
                 on_done: OnDone) -> JobState:
    """Read ``folder_ids``' rows (labels, predictions) again, e.g. after a prediction run."""
    from engine.browse import Browser

    def work(progress, should_stop):
        b = Browser.for_settings(settings, snapshot_id)
        try:
            return b.rows(folder_ids)
        finally:
            b.close()

    return runner.run(work, on_done, pool=Pool.READ)


def file_totals_op(runner: JobRunner, dbs, snapshot_id: int, on_done: OnDone) -> JobState:
    """Files in each folder and all below it ({folder id: count}), summed deepest first in one
    pass over the snapshot's folders (a second or two for a million folders, on a worker)."""

    def work(progress, should_stop):
        with dbs.index.connect() as c:
            rows = c.exec_driver_sql(
                "SELECT id, parent_id, file_count FROM folders WHERE snapshot_id = ? ORDER BY depth DESC",
                (snapshot_id,),
            ).all()
        totals: dict[int, int] = {}
        for fid, parent, own in rows:
            t = totals.get(fid, 0) + (own or 0)
            totals[fid] = t
            if parent is not None:
                totals[parent] = totals.get(parent, 0) + t
        return totals

    return runner.run(work, on_done, pool=Pool.READ)
