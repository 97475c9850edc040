"""Samples and CSV: generate, load, export, import.

The app's current sample *is* a samples CSV (``<data>/samples/app_sample_<snapshot>.csv``)
written by ``engine.samples.picking.generate_samples``: the same file the CLI writes, so it
survives a restart and a crash, and exporting it is a copy with the labels filled in.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from engine.core.settings import StorageSettings
from fsorg_desktop.jobs import JobRunner, JobState, OnDone, Pool


def app_sample_path(settings: StorageSettings, snapshot_id: int) -> Path:
    return settings.data_dir / "samples" / f"app_sample_{snapshot_id}.csv"


def read_sample(path: Path) -> list[dict[str, str]]:
    """The rows of a samples CSV as dicts of cells (worker body)."""
    from engine.core.csvio import read_csv

    table = read_csv(path, expected_columns=("folder_id", "path", "label"))
    return [dict(r.values) for r in table.rows]


def load_sample_op(runner: JobRunner, settings: StorageSettings, snapshot_id: int, on_done: OnDone) -> JobState:
    """The saved sample of this snapshot, or [] when none was generated yet."""
    path = app_sample_path(settings, snapshot_id)

    def work(progress, should_stop):
        return read_sample(path) if path.exists() else []

    return runner.run(work, on_done, pool=Pool.READ)


def generate_op(runner: JobRunner, settings: StorageSettings, snapshot_id: int, config, on_done: OnDone) -> JobState:
    """Pick a sample (``engine.samples.picking.generate_samples``) and return (SampleResult, rows)."""
    path = app_sample_path(settings, snapshot_id)

    def work(progress, should_stop):
        from engine.active.label_next import picker_for
        from engine.samples.picking import generate_samples
        from engine.storage import Databases

        dbs = Databases.open(settings)
        try:
            result = generate_samples(
                dbs, snapshot_id, path, config, progress=progress, should_stop=should_stop,
                picker=picker_for(config.strategy),
            )
        finally:
            dbs.dispose()
        return result, read_sample(path)

    return runner.run(work, on_done, title="Generate samples", pool=Pool.JOBS)


def export_sample_op(
    runner: JobRunner, rows: list[Mapping[str, str]], labels: Mapping[int, str], path: str, on_done: OnDone
) -> JobState:
    """Write the sample as the contract CSV with the user's current labels in 'label'."""

    def work(progress, should_stop):
        from engine.core.csvio import write_csv
        from engine.samples.picking import SAMPLE_COLUMNS

        out = []
        for r in rows:
            d = dict(r)
            fid = int(str(d.get("folder_id", "0")).strip() or 0)
            d["label"] = labels.get(fid, "")
            out.append(d)
        return write_csv(path, SAMPLE_COLUMNS, out)

    return runner.run(work, on_done, title="Export sample", pool=Pool.READ)


def export_tree_op(
    runner: JobRunner, settings: StorageSettings, snapshot_id: int, labels: Mapping[int, str], path: str,
    on_done: OnDone,
) -> JobState:
    """Every folder of the snapshot with its prediction and the user's label."""

    def work(progress, should_stop):
        from engine.browse import export_folders_csv

        return export_folders_csv(settings, snapshot_id, labels, path, progress=progress, should_stop=should_stop)

    return runner.run(work, on_done, title="Export all folders", pool=Pool.READ)


def import_csv_op(runner: JobRunner, settings: StorageSettings, path: str, on_done: OnDone) -> JobState:
    """Validate and store a labelled CSV as a new label run (``apply_classifications``)."""

    def work(progress, should_stop):
        from engine.core.config import load_config
        from engine.labels.csv_import import apply_classifications
        from engine.storage import Databases

        config = load_config("apply_classifications")
        dbs = Databases.open(settings)
        try:
            return apply_classifications(dbs, path, config, progress=progress, should_stop=should_stop)
        finally:
            dbs.dispose()

    return runner.run(work, on_done, title=f"Import “{Path(path).name}”", pool=Pool.JOBS)
