"""Read-side queries for browsing a snapshot (the desktop app's folder tree) and exporting
it. Pure SQL, no Qt. Saving labels lives in :mod:`engine.labels.saving`.

Why a separate module: the tree needs "this folder's children, a chunk at a time,
with their latest prediction (or the heuristic's guess)" fast enough to run inside a
view's ``fetchMore`` (a chunk of 500 children of a 1,000,000-folder snapshot in a few
milliseconds). That needs one query across index.db and training.db, so a
:class:`Browser` holds a read-only ``sqlite3`` connection to index.db with
training.db ATTACHed as ``t``. A connection belongs to one thread: make one Browser
per thread (they are cheap).

Ordering: children are listed by id. ``engine.scan.gather`` numbers folders depth-first in
name order, so id order *is* name order, and it comes straight off the
(snapshot_id, parent_id) index: no sort, even for a folder with 100,000 children.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

LOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class FolderRow:
    """One folder as the tree shows it."""

    id: int
    parent_id: int | None
    name: str
    rel_path: str
    depth: int
    file_count: int
    subfolder_count: int
    predicted: str | None = None
    confidence: float | None = None
    predicted_by: str | None = None  # 'model' | 'heuristic' | None
    rule: str | None = None  # heuristic rule, or the prediction run's kind
    # The model abstained: its confidence is below its per-class threshold, so the answer is
    # ``unknown``; ``predicted`` then stays the label it leaned to (``shown_label`` says unknown).
    abstained: bool = False

    @property
    def shown_label(self) -> str | None:
        """The label the tree shows: ``unknown`` where the model abstained."""
        return "unknown" if self.abstained else self.predicted


@dataclass(frozen=True)
class PredictionRunRef:
    id: int
    kind: str
    created_at: float
    labeled_only: bool


@dataclass(frozen=True)
class FolderFilter:
    """What the tree's filter box asks for; every part is optional and they combine (AND)."""

    name_contains: str = ""
    label_is: str | None = None  # a taxonomy name, or UNLABELLED
    low_confidence: bool = False

    UNLABELLED = "__unlabelled__"
    SUSPECT = "__suspect__"  # labels the out-of-fold model disputes (ids passed to search)

    @property
    def active(self) -> bool:
        return bool(self.name_contains.strip()) or self.label_is is not None or self.low_confidence


_BASE_COLS = (
    "f.id, f.parent_id, f.name, f.rel_path, f.depth, f.file_count, f.subfolder_count, "
    "p.label, p.confidence, ff.heuristic_label, ff.heuristic_confidence, ff.heuristic_rule"
)
_N_COLS = 13  # _BASE_COLS + the abstained flag


class Browser:
    """Read-only queries over one snapshot (index.db + training.db)."""

    def __init__(self, index_db: Path, training_db: Path, snapshot_id: int) -> None:
        self.snapshot_id = snapshot_id
        self._con = sqlite3.connect(f"file:{index_db}?mode=ro", uri=True)
        self._con.execute("PRAGMA query_only=ON")
        self._has_training = Path(training_db).exists()
        if self._has_training:
            self._con.execute("ATTACH DATABASE ? AS t", (f"file:{training_db}?mode=ro",))
        self._abstained_col = "NULL"
        if self._has_training:
            cols = {r[1] for r in self._con.execute("PRAGMA t.table_info(predictions)")}
            if "abstained" in cols:  # stored with predictions since abstention (issue 9)
                self._abstained_col = "p.abstained"
        self.prediction_run: PredictionRunRef | None = None
        self.refresh_prediction_run()

    @property
    def _cols(self) -> str:
        return f"{_BASE_COLS}, {self._abstained_col}"

    @classmethod
    def for_settings(cls, settings, snapshot_id: int) -> "Browser":
        return cls(settings.index_db, settings.training_db, snapshot_id)

    def close(self) -> None:
        self._con.close()

    # -- predictions ------------------------------------------------------------------------
    def refresh_prediction_run(self) -> PredictionRunRef | None:
        """The run whose labels fill the 'predicted' column: the newest run over all folders
        of this snapshot, else the newest run of any kind (e.g. labelled-only evaluation)."""
        self.prediction_run = None
        if not self._has_training:
            return None
        row = self._con.execute(
            "SELECT id, kind, created_at, labeled_only FROM t.prediction_runs "
            "WHERE snapshot_id = ? AND status = 'complete' "
            "ORDER BY labeled_only ASC, id DESC LIMIT 1",
            (self.snapshot_id,),
        ).fetchone()
        if row:
            self.prediction_run = PredictionRunRef(row[0], row[1], row[2], bool(row[3]))
        return self.prediction_run

    def _from(self) -> str:
        if not self._has_training:
            return (
                "FROM folders f LEFT JOIN (SELECT NULL AS label, NULL AS confidence) p ON 0 "
                "LEFT JOIN (SELECT NULL AS heuristic_label, NULL AS heuristic_confidence, "
                "NULL AS heuristic_rule) ff ON 0 "
            )
        run = self.prediction_run.id if self.prediction_run else -1
        return (
            "FROM folders f "
            f"LEFT JOIN t.predictions p ON p.prediction_run_id = {int(run)} AND p.folder_id = f.id "
            "LEFT JOIN t.folder_features ff ON ff.folder_id = f.id "
        )

    def _row(self, r) -> FolderRow:
        abstained = False
        if r[7] is not None:
            pred, conf, by = r[7], r[8], "model"
            rule = self.prediction_run.kind if self.prediction_run else None
            abstained = bool(r[12])
        elif r[9] is not None:
            pred, conf, by, rule = r[9], r[10], "heuristic", r[11]
        else:
            pred = conf = by = rule = None
        return FolderRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], pred, conf, by, rule, abstained)

    # -- tree -------------------------------------------------------------------------------
    def root(self) -> FolderRow | None:
        r = self._con.execute(
            f"SELECT {self._cols} {self._from()} WHERE f.snapshot_id = ? AND f.parent_id IS NULL "
            "ORDER BY f.id LIMIT 1",
            (self.snapshot_id,),
        ).fetchone()
        return self._row(r) if r else None

    def children(self, parent_id: int, *, limit: int = 500, after_id: int | None = None) -> list[FolderRow]:
        """Up to ``limit`` children of ``parent_id`` with an id above ``after_id``.

        Keyset paging on the (snapshot_id, parent_id) index: the 200th chunk of a folder
        with 100,000 children costs the same as the first.
        """
        args: list = [self.snapshot_id, parent_id]
        cond = ""
        if after_id is not None:
            cond = " AND f.id > ?"
            args.append(after_id)
        args.append(limit)
        sql = (
            f"SELECT {self._cols} {self._from()} WHERE f.snapshot_id = ? AND f.parent_id = ?{cond} "
            "ORDER BY f.id LIMIT ?"
        )
        return [self._row(r) for r in self._con.execute(sql, args)]

    def rows(self, ids: Iterable[int]) -> dict[int, FolderRow]:
        ids = list(ids)
        out: dict[int, FolderRow] = {}
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            q = f"SELECT {self._cols} {self._from()} WHERE f.id IN ({','.join('?' * len(chunk))})"
            for r in self._con.execute(q, chunk):
                out[r[0]] = self._row(r)
        return out

    def ancestors(self, folder_id: int) -> list[int]:
        """Ids from the root down to ``folder_id`` (inclusive): what to expand to show it."""
        chain: list[int] = []
        cur: int | None = folder_id
        while cur is not None:
            chain.append(cur)
            row = self._con.execute("SELECT parent_id FROM folders WHERE id = ?", (cur,)).fetchone()
            if row is None:
                return []
            cur = row[0]
        chain.reverse()
        return chain

    # -- filter -----------------------------------------------------------------------------
    def search(
        self,
        flt: FolderFilter,
        labels: Mapping[int, str],
        *,
        limit: int = 2000,
        should_stop=None,
        suspects: Collection[int] = (),
    ) -> tuple[list[FolderRow], bool]:
        """Folders matching ``flt`` (by path), at most ``limit``; returns (rows, more_exist).

        "Label is X" matches your label if you gave one, else the prediction shown.
        "Low confidence" means a prediction under ``LOW_CONFIDENCE`` on a folder you have
        not labelled (the ones worth a look). ``labels`` is the working run's labels.
        "Suspect" (``label_is == FolderFilter.SUSPECT``) keeps the folders in ``suspects``.
        """
        where = ["f.snapshot_id = ?", "f.parent_id IS NOT NULL"]
        args: list = [self.snapshot_id]
        text = flt.name_contains.strip()
        if text:
            where.append("f.name LIKE ? ESCAPE '\\'")
            esc = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(f"%{esc}%")
        sql = f"SELECT {self._cols} {self._from()} WHERE {' AND '.join(where)} ORDER BY f.rel_path"
        out: list[FolderRow] = []
        suspect_ids = frozenset(suspects)
        for n, r in enumerate(self._con.execute(sql, args)):
            if should_stop is not None and n % 5000 == 0 and should_stop():
                break
            row = self._row(r)
            mine = labels.get(row.id)
            if flt.label_is == FolderFilter.UNLABELLED:
                if mine is not None:
                    continue
            elif flt.label_is == FolderFilter.SUSPECT:
                if row.id not in suspect_ids:
                    continue
            elif flt.label_is is not None:
                if (mine if mine is not None else row.shown_label) != flt.label_is:
                    continue
            if flt.low_confidence and (
                mine is not None or row.confidence is None or row.confidence >= LOW_CONFIDENCE
            ):
                continue
            if len(out) >= limit:
                return out, True
            out.append(row)
        return out, False



# ------------------------------------------------------------------------------- export
EXPORT_COLUMNS = (
    "folder_id", "snapshot_id", "path", "name", "parent", "depth", "heuristic_prediction", "label",
    "prediction", "confidence", "predicted_by", "file_count", "subfolder_count",
)


def export_folders_csv(
    settings, snapshot_id: int, labels: Mapping[int, str], path, *, progress=None, should_stop=None
) -> int:
    """Write every folder of a snapshot as the contract CSV plus its prediction (the
    'whole tree' export): ``label`` is the user's label, ``prediction``/``confidence`` the
    model's (or the heuristic's when no model ran, see ``predicted_by``). Returns the row count."""
    from engine.core.csvio import write_csv
    from engine.core.jobs import check_stop

    b = Browser.for_settings(settings, snapshot_id)
    try:
        total = b._con.execute("SELECT count(*) FROM folders WHERE snapshot_id = ?", (snapshot_id,)).fetchone()[0]
        sql = (
            f"SELECT {b._cols}, par.name {b._from()} LEFT JOIN folders par ON par.id = f.parent_id "
            "WHERE f.snapshot_id = ? AND f.parent_id IS NOT NULL ORDER BY f.id"
        )

        def rows():
            for n, r in enumerate(b._con.execute(sql, (snapshot_id,))):
                if n % 5000 == 0:
                    if should_stop is not None:
                        check_stop(should_stop)
                    if progress is not None:
                        progress(n / max(total, 1), f"{n:,} of {total:,} folders")
                row = b._row(r[:_N_COLS])
                yield {
                    "folder_id": row.id,
                    "snapshot_id": snapshot_id,
                    "path": row.rel_path,
                    "name": row.name,
                    "parent": r[_N_COLS] or "",
                    "depth": row.depth,
                    "heuristic_prediction": r[9] or "",
                    "label": labels.get(row.id, ""),
                    "prediction": row.shown_label or "",
                    "confidence": "" if row.confidence is None else f"{row.confidence:.4f}",
                    "predicted_by": row.predicted_by or "",
                    "file_count": row.file_count,
                    "subfolder_count": row.subfolder_count,
                }

        return write_csv(path, EXPORT_COLUMNS, rows())
    finally:
        b.close()

