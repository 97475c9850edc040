"""Label runs: the user's labels, stored in training.db.

A label run is a complete, self-contained set of labels. Importing a CSV or
starting to label in the app makes a new run that *carries over* the newest
run's labels, so the newest run is always everything the user has labelled so
far (and an older run stays as it was, for comparison or to train on again).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, func, insert, select

from engine.core.jobs import UserError
from engine.storage import schema as S


@dataclass(frozen=True)
class LabelRow:
    folder_id: int
    snapshot_id: int
    rel_path: str
    label: str
    split: str | None = None


@dataclass(frozen=True)
class LabelRunInfo:
    id: int
    created_at: float
    labeler: str
    source: str
    snapshot_id: int | None
    count: int


def newest_label_run_id(training: Engine | Connection) -> int | None:
    q = select(S.label_runs.c.id).order_by(S.label_runs.c.id.desc()).limit(1)
    if isinstance(training, Connection):
        return training.execute(q).scalar()
    with training.connect() as c:
        return c.execute(q).scalar()


def list_label_runs(training: Engine) -> list[LabelRunInfo]:
    with training.connect() as c:
        counts = dict(
            c.execute(
                select(S.labels.c.label_run_id, func.count()).group_by(S.labels.c.label_run_id)
            ).all()
        )
        rows = c.execute(select(S.label_runs).order_by(S.label_runs.c.id)).all()
    return [
        LabelRunInfo(r.id, r.created_at, r.labeler, r.source, r.snapshot_id, counts.get(r.id, 0))
        for r in rows
    ]


def resolve_label_run(training: Engine, label_run_id: int | None) -> int:
    """``label_run_id`` if it exists, else the newest; a UserError when there is none."""
    with training.connect() as c:
        if label_run_id is None:
            rid = newest_label_run_id(c)
            if rid is None:
                raise UserError(
                    "No labels yet. Label a sample first (generate-samples, fill the 'label' "
                    "column, apply-classifications) or label folders in the app."
                )
            return rid
        if c.execute(select(S.label_runs.c.id).where(S.label_runs.c.id == label_run_id)).scalar() is None:
            raise UserError(f"There is no label run {label_run_id}.")
        return label_run_id


def create_label_run(
    conn: Connection,
    *,
    labeler: str,
    source: str,
    snapshot_id: int | None,
    carry_over_from: int | None = None,
    note: str | None = None,
) -> int:
    """Create a run inside the caller's transaction; optionally copy another run's labels."""
    now = time.time()
    run_id = conn.execute(
        insert(S.label_runs).values(
            created_at=now, labeler=labeler, source=source, snapshot_id=snapshot_id, note=note
        )
    ).inserted_primary_key[0]
    if carry_over_from is not None:
        old = conn.execute(select(S.labels).where(S.labels.c.label_run_id == carry_over_from)).all()
        if old:
            conn.execute(insert(S.labels), [_label_values(run_id, r, r.updated_at) for r in old])
    return run_id


def _label_values(run_id: int, r, updated_at: float) -> dict:
    """One ``labels`` row of ``run_id`` from a label (a stored row or a :class:`LabelRow`)."""
    return dict(label_run_id=run_id, folder_id=r.folder_id, snapshot_id=r.snapshot_id, rel_path=r.rel_path,
                label=r.label, split=r.split, updated_at=updated_at)


def set_labels(conn: Connection, run_id: int, rows: Iterable[LabelRow]) -> int:
    """Insert or replace labels of ``run_id`` (one statement per batch). Returns the count."""
    rows = list(rows)
    if not rows:
        return 0
    now = time.time()
    conn.execute(
        delete(S.labels).where(
            S.labels.c.label_run_id == run_id,
            S.labels.c.folder_id.in_([r.folder_id for r in rows]),
        )
    )
    conn.execute(insert(S.labels), [_label_values(run_id, r, now) for r in rows])
    return len(rows)


def clear_labels(conn: Connection, run_id: int, folder_ids: Iterable[int]) -> int:
    ids = list(folder_ids)
    if not ids:
        return 0
    res = conn.execute(
        delete(S.labels).where(S.labels.c.label_run_id == run_id, S.labels.c.folder_id.in_(ids))
    )
    return res.rowcount or 0


def load_labels(training: Engine | Connection, run_id: int, split: str | None = None) -> list[LabelRow]:
    q = select(S.labels).where(S.labels.c.label_run_id == run_id)
    if split is not None:
        q = q.where(S.labels.c.split == split)
    q = q.order_by(S.labels.c.folder_id)
    if isinstance(training, Connection):
        rows = training.execute(q).all()
    else:
        with training.connect() as c:
            rows = c.execute(q).all()
    return [LabelRow(r.folder_id, r.snapshot_id, r.rel_path, r.label, r.split) for r in rows]
