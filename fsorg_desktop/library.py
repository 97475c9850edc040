"""What the window has open: a data folder and (once scanned) one snapshot of it.

``open_library`` is a worker body (STYLE.md §14): it runs on a pool thread, does all the
slow parts (Alembic migrations, finding the snapshot, reading the labels) and returns a
plain :class:`LibraryState`; the window only adopts the result on the UI thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.settings import StorageSettings
from engine.labels import saving
from engine.scan.snapshots import SnapshotInfo, list_snapshots
from engine.storage import Databases


@dataclass
class LibraryState:
    settings: StorageSettings
    dbs: Databases
    snapshot: SnapshotInfo | None
    label_run_id: int | None = None
    labels: dict[int, str] = field(default_factory=dict)
    has_features: bool = False

    @property
    def root_name(self) -> str:
        if self.snapshot is None:
            return ""
        return Path(self.snapshot.root).name or self.snapshot.root


def _has_features(dbs: Databases, snapshot_id: int) -> bool:
    with dbs.training.connect() as c:
        return (
            c.exec_driver_sql(
                "SELECT 1 FROM folder_features WHERE snapshot_id = ? LIMIT 1", (snapshot_id,)
            ).first()
            is not None
        )


def open_library(
    settings: StorageSettings, *, snapshot_id: int | None = None, root: str | None = None
) -> LibraryState:
    """Open the data folder and pick a snapshot: ``snapshot_id``, else the newest complete
    snapshot of ``root`` (when given), else the newest complete one. ``snapshot`` is None
    when nothing was scanned yet (the window then shows the drop zone)."""
    dbs = Databases.open(settings)
    snaps = [s for s in list_snapshots(dbs.index) if s.status == "complete"]
    chosen: SnapshotInfo | None = None
    if snapshot_id is not None:
        chosen = next((s for s in snaps if s.id == snapshot_id), None)
    elif root is not None:
        norm = os.path.normcase(os.path.abspath(root))
        same = [s for s in snaps if os.path.normcase(os.path.abspath(s.root)) == norm]
        chosen = same[-1] if same else None
    elif snaps:
        chosen = snaps[-1]
    if chosen is None:
        return LibraryState(settings, dbs, None)
    run_id, labels = saving.labels_for_snapshot(settings, chosen.id)
    return LibraryState(settings, dbs, chosen, run_id, labels, _has_features(dbs, chosen.id))
