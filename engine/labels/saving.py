"""Saving labels from the app: its working label run, and which labels a snapshot's folders carry.

Labels typed in the app go into one *working* label run per labeller (created on first use,
carrying over the newest run), so the CLI's imports and the app's keystrokes never overwrite
each other's runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Connection, delete, select

import engine.labels.runs as L
from engine.storage import schema as S
from engine.storage.db import write_transaction


def labels_for_snapshot(settings, snapshot_id: int | None) -> tuple[int | None, dict[int, str]]:
    """(newest label run id, {folder id in ``snapshot_id``: label}).

    Label runs are cumulative, so the newest run is everything the user labelled.
    Labels made on an older snapshot are matched to this one by relative path.
    """
    if not Path(settings.training_db).exists():
        return None, {}
    con = sqlite3.connect(f"file:{settings.training_db}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT id FROM label_runs ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None, {}
        run_id = row[0]
        rows = con.execute(
            "SELECT folder_id, snapshot_id, rel_path, label FROM labels WHERE label_run_id = ?", (run_id,)
        ).fetchall()
    finally:
        con.close()
    out: dict[int, str] = {}
    foreign: list[tuple[str, str]] = []
    for fid, sid, rel, label in rows:
        if snapshot_id is None or sid == snapshot_id:
            out[fid] = label
        else:
            foreign.append((rel, label))
    if foreign and snapshot_id is not None and Path(settings.index_db).exists():
        icon = sqlite3.connect(f"file:{settings.index_db}?mode=ro", uri=True)
        try:
            for rel, label in foreign:
                hit = icon.execute(
                    "SELECT id FROM folders WHERE snapshot_id = ? AND rel_path = ?", (snapshot_id, rel)
                ).fetchone()
                if hit is not None:
                    out.setdefault(hit[0], label)
        finally:
            icon.close()
    return run_id, out


def working_label_run(conn: Connection, *, snapshot_id: int | None, labeler: str) -> int:
    """The app's working label run, made on first use inside the caller's transaction.

    The app edits ONE run (source 'app') in place. When the newest run is not an app run
    (nothing labelled yet, or a CSV was imported since), a new app run is created that
    carries the newest run's labels over, so it is again "everything labelled so far".
    """
    row = conn.execute(
        select(S.label_runs.c.id, S.label_runs.c.source).order_by(S.label_runs.c.id.desc()).limit(1)
    ).first()
    if row is not None and row.source == "app":
        return row.id
    return L.create_label_run(
        conn,
        labeler=labeler,
        source="app",
        snapshot_id=snapshot_id,
        carry_over_from=row.id if row is not None else None,
        note="labels made in the desktop app",
    )


def save_labels(
    training, index, *, snapshot_id: int, changes: Mapping[int, str | None], labeler: str
) -> int:
    """Write ``changes`` ({folder id: label or None to clear}) to the working run in ONE
    transaction, and return the run id. A label carried over from an older snapshot for
    the same path is replaced, not duplicated."""
    ids = list(changes)
    with index.connect() as ic:
        refs = {
            r.id: r.rel_path
            for r in ic.execute(select(S.folders.c.id, S.folders.c.rel_path).where(S.folders.c.id.in_(ids)))
        }
    # The write lock first: the newest run decides which run is edited (a CLI import may be running).
    with write_transaction(training) as conn:
        run_id = working_label_run(conn, snapshot_id=snapshot_id, labeler=labeler)
        paths = [refs[i] for i in ids if i in refs]
        if paths:
            conn.execute(
                delete(S.labels).where(
                    S.labels.c.label_run_id == run_id,
                    S.labels.c.rel_path.in_(paths),
                    S.labels.c.snapshot_id != snapshot_id,
                )
            )
        old_split = dict(
            conn.execute(
                select(S.labels.c.folder_id, S.labels.c.split).where(
                    S.labels.c.label_run_id == run_id, S.labels.c.folder_id.in_(ids)
                )
            ).all()
        )
        to_set = [
            L.LabelRow(fid, snapshot_id, refs[fid], lab, old_split.get(fid))
            for fid, lab in changes.items()
            if lab is not None and fid in refs
        ]
        to_clear = [fid for fid, lab in changes.items() if lab is None]
        L.set_labels(conn, run_id, to_set)
        L.clear_labels(conn, run_id, to_clear)
    return run_id

