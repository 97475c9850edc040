"""Synthetic snapshots written straight into index.db, for the benchmarks and for tests
that need shapes no real library on this machine has (1,000,000 folders, a folder
with 100,000 children). Real scans go through ``engine.scan.gather``; this only
exists because scanning a million real folders would take the benchmark an hour.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

from engine.core.settings import StorageSettings
from engine.storage import Databases


def _tree(total: int, fanout: tuple[int, ...]) -> Iterator[tuple[int, int | None, str, str, int, int]]:
    """(id, parent_id, name, rel_path, depth, subfolder_count) breadth first, ``total`` rows."""
    next_id = 1
    yield (1, None, "", "", 0, fanout[0])
    level = [(1, "")]
    depth = 0
    made = 1
    while level and made < total:
        fan = fanout[min(depth, len(fanout) - 1)]
        depth += 1
        new_level = []
        for pid, ppath in level:
            for k in range(fan):
                if made >= total:
                    return
                next_id += 1
                made += 1
                name = f"Folder {depth}-{k:05d}"
                path = f"{ppath}/{name}" if ppath else name
                sub = fanout[min(depth, len(fanout) - 1)]
                yield (next_id, pid, name, path, depth, sub)
                new_level.append((next_id, path))
        level = new_level


def make_snapshot(
    settings: StorageSettings,
    total: int,
    fanout: tuple[int, ...] = (100, 100, 100),
    *,
    root: str = "/synthetic/library",
    with_predictions: bool = True,
) -> int:
    """Write a complete snapshot of ``total`` folders; returns its id."""
    dbs = Databases.open(settings)
    dbs.dispose()
    con = sqlite3.connect(settings.index_db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    cur = con.execute(
        "INSERT INTO snapshots (root, started_at, finished_at, status, folder_count) "
        "VALUES (?, ?, ?, 'complete', ?)",
        (root, time.time(), time.time(), total),
    )
    snap = cur.lastrowid
    base = con.execute("SELECT COALESCE(MAX(id), 0) FROM folders").fetchone()[0]
    rows = list(_tree(total, fanout))
    kids: dict[int, int] = {}
    for _fid, pid, *_rest in rows:
        if pid is not None:
            kids[pid] = kids.get(pid, 0) + 1
    count = len(rows)
    sql = (
        "INSERT INTO folders (id, snapshot_id, parent_id, rel_path, name, depth, file_count, "
        "subfolder_count) VALUES (?,?,?,?,?,?,?,?)"
    )
    for i in range(0, count, 50_000):
        con.executemany(
            sql,
            [
                (fid + base, snap, None if pid is None else pid + base, path, name, depth, 3, kids.get(fid, 0))
                for fid, pid, name, path, depth, _sub in rows[i : i + 50_000]
            ],
        )
    con.commit()
    con.close()
    if with_predictions:
        _predictions(settings, snap, base, count)
    return snap


def _predictions(settings: StorageSettings, snap: int, base: int, count: int) -> None:
    import array
    import json

    labels = ["creator_or_studio", "content_subject", "descriptor", "asset_type", "other", "unknown"]
    con = sqlite3.connect(settings.training_db)
    con.execute("PRAGMA synchronous=OFF")
    cur = con.execute(
        "INSERT INTO prediction_runs (kind, snapshot_id, labeled_only, labels, created_at, status) "
        "VALUES ('baseline', ?, 0, ?, ?, 'complete')",
        (snap, json.dumps(labels), time.time()),
    )
    run = cur.lastrowid
    probs = array.array("f", [1 / 6] * 6).tobytes()
    batch = []
    for i in range(count):
        fid = base + i + 1
        batch.append((run, fid, labels[fid % 6], ((fid * 7919) % 100) / 100.0, probs))
        if len(batch) >= 50_000:
            con.executemany("INSERT INTO predictions (prediction_run_id, folder_id, label, confidence, probs) VALUES (?,?,?,?,?)", batch)
            batch.clear()
    if batch:
        con.executemany("INSERT INTO predictions (prediction_run_id, folder_id, label, confidence, probs) VALUES (?,?,?,?,?)", batch)
    con.commit()
    con.close()
