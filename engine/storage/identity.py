"""Which index.db a training.db belongs to.

Labels name folders by id, and folder ids are only meaningful inside ONE index.db. Each
index.db has a UUID (table ``index_identity``); training.db records the UUID and the roots
of the index it was used with (``index_binding``). Opening both together checks them:

- same index: nothing to do (new roots are remembered);
- another index.db that scanned one of the same roots (index.db deleted, the same library
  gathered again): the labels are re-attached by path to the newest scan of that root, and
  what was derived from the old folder ids (features, stored predictions) is dropped;
- another library: a UserError that says what to do; nothing is changed.
"""

from __future__ import annotations

import json
import logging
import time

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from engine.core.jobs import UserError
from engine.storage import schema as S
from engine.storage.db import write_transaction

log = logging.getLogger("fsorg")


def _index_facts(index: Engine) -> tuple[str | None, list[str]]:
    with index.connect() as c:
        uid = c.execute(select(S.index_identity.c.uuid)).scalar()
        roots = sorted({r for (r,) in c.execute(select(S.snapshots.c.root).distinct())})
    return uid, roots


def _binding(conn: Connection):
    return conn.execute(select(S.index_binding).order_by(S.index_binding.c.id).limit(1)).first()


def _has_data(conn: Connection) -> bool:
    return any(
        conn.execute(select(func.count()).select_from(t)).scalar()
        for t in (S.labels, S.folder_features, S.prediction_runs)
    )


def check_index_binding(index: Engine, training: Engine, training_path) -> str | None:
    """Bind ``training`` to ``index`` or re-attach its labels; returns a notice when labels moved."""
    uid, roots = _index_facts(index)
    if uid is None:  # an index.db opened read-only before its identity existed: nothing to compare
        return None
    with training.connect() as c:
        b = _binding(c)
    if b is not None and b.index_uuid == uid and set(roots) <= set(json.loads(b.roots)):
        return None
    with write_transaction(training) as conn:
        b = _binding(conn)
        if b is None:  # a new training.db, or one from before identities: it is this index's
            conn.execute(
                insert(S.index_binding).values(index_uuid=uid, roots=json.dumps(roots), bound_at=time.time())
            )
            return None
        old_roots = json.loads(b.roots)
        if b.index_uuid == uid:
            merged = sorted(set(old_roots) | set(roots))
            conn.execute(
                update(S.index_binding).where(S.index_binding.c.id == b.id).values(roots=json.dumps(merged))
            )
            return None
        if not _has_data(conn):
            _rebind(conn, b.id, uid, roots)
            return None
        same = [r for r in roots if r in old_roots]
        if not same:
            was = ", ".join(old_roots) or "a library"
            raise UserError(
                f"{training_path} holds labels for another index.db (the scan of {was}); this index.db "
                f"{'scanned ' + ', '.join(roots) if roots else 'is empty'}. To keep those labels, gather "
                f"{old_roots[0] if old_roots else 'that library'} into this data folder again (they are "
                "re-attached by path); for another library use another --storage folder."
            )
        notice = _reattach(conn, index, same)
        _rebind(conn, b.id, uid, sorted(set(old_roots) | set(roots)))
    log.warning(notice)
    return notice


def _rebind(conn: Connection, bid: int, uid: str, roots: list[str]) -> None:
    conn.execute(
        update(S.index_binding)
        .where(S.index_binding.c.id == bid)
        .values(index_uuid=uid, roots=json.dumps(roots), bound_at=time.time())
    )


def _reattach(conn: Connection, index: Engine, roots: list[str]) -> str:
    """Move every label to the folder with the same path in the newest complete scan of ``roots``."""
    by_path: dict[str, tuple[int, int]] = {}
    with index.connect() as ic:
        for root in roots:
            sid = ic.execute(
                select(func.max(S.snapshots.c.id)).where(
                    S.snapshots.c.root == root, S.snapshots.c.status == "complete"
                )
            ).scalar()
            if sid is None:
                continue
            for fid, rel in ic.execute(
                select(S.folders.c.id, S.folders.c.rel_path).where(S.folders.c.snapshot_id == sid)
            ):
                by_path.setdefault(rel, (fid, sid))
    rows = conn.execute(
        select(S.labels.c.id, S.labels.c.label_run_id, S.labels.c.rel_path).order_by(
            S.labels.c.label_run_id, S.labels.c.updated_at.desc(), S.labels.c.id.desc()
        )
    ).all()
    # Park every label on a folder id no index uses (minus its row id), then move the ones
    # whose path exists; a path labelled twice in one run keeps its newest label.
    conn.execute(update(S.labels).values(folder_id=-S.labels.c.id))
    seen: set[tuple[int, int]] = set()
    moved = orphaned = 0
    drop: list[int] = []
    for lid, run, rel in rows:
        hit = by_path.get(rel)
        if hit is None:
            orphaned += 1
            continue
        if (run, hit[0]) in seen:
            drop.append(lid)
            continue
        seen.add((run, hit[0]))
        conn.execute(
            update(S.labels).where(S.labels.c.id == lid).values(folder_id=hit[0], snapshot_id=hit[1])
        )
        moved += 1
    for start in range(0, len(drop), 900):
        conn.execute(delete(S.labels).where(S.labels.c.id.in_(drop[start : start + 900])))
    conn.execute(update(S.label_runs).values(snapshot_id=None))
    for t in (S.eval_runs, S.predictions, S.prediction_runs, S.folder_features):
        conn.execute(delete(t))
    return (
        f"index.db was made anew for the same library: {moved} labels re-attached by path"
        + (f", {orphaned} whose folder is no longer there kept aside" if orphaned else "")
        + "; features and stored predictions of the old index were dropped (run extract-features again)."
    )
