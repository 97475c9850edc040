"""Looking up snapshots in index.db."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from engine.core.jobs import UserError
from engine.storage import schema as S


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    root: str
    status: str
    started_at: float
    finished_at: float | None
    folder_count: int
    file_count: int
    error_count: int


def _info(row) -> SnapshotInfo:
    return SnapshotInfo(
        id=row.id,
        root=row.root,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        folder_count=row.folder_count,
        file_count=row.file_count,
        error_count=row.error_count,
    )


def list_snapshots(index: Engine) -> list[SnapshotInfo]:
    with index.connect() as c:
        rows = c.execute(select(S.snapshots).order_by(S.snapshots.c.id)).all()
    return [_info(r) for r in rows]


def latest_complete_id(index: Engine) -> int | None:
    with index.connect() as c:
        return c.execute(
            select(S.snapshots.c.id)
            .where(S.snapshots.c.status == "complete")
            .order_by(S.snapshots.c.id.desc())
            .limit(1)
        ).scalar()


def resolve_snapshot(index: Engine, snapshot_id: int | None) -> SnapshotInfo:
    """The snapshot to work on: ``snapshot_id``, or the latest complete one.

    Raises a :class:`UserError` that says what to do when there is none.
    """
    with index.connect() as c:
        if snapshot_id is None:
            row = c.execute(
                select(S.snapshots)
                .where(S.snapshots.c.status == "complete")
                .order_by(S.snapshots.c.id.desc())
                .limit(1)
            ).first()
            if row is None:
                import shlex
                from pathlib import Path

                folder = Path(index.url.database or ".").resolve().parent
                raise UserError(
                    f"No complete snapshot yet in {folder}. Scan your library first: "
                    f"python organizer.py gather PATH --storage {shlex.quote(str(folder))}"
                )
            return _info(row)
        row = c.execute(select(S.snapshots).where(S.snapshots.c.id == snapshot_id)).first()
    if row is None:
        raise UserError(f"There is no snapshot {snapshot_id}. Run 'gather' to make one.")
    if row.status != "complete":
        raise UserError(
            f"Snapshot {snapshot_id} is {row.status}, not complete. Scan again with 'gather'."
        )
    return _info(row)
