"""Import a filled-in labels CSV (``apply-classifications``) as a new label run.

Importing (:func:`apply_classifications`)
    Every row is validated before anything is written; one bad row means nothing is written
    and the error lists every bad row with its line, value, reason and the allowed labels.
    The labels then go into a NEW label run in one transaction, carrying over the newest run's
    labels (label runs are cumulative, see :mod:`engine.labels.runs`).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from engine.core.config import ApplyClassificationsConfig
from engine.core.csvio import read_csv
from engine.core.jobs import ProgressFn, StopFn, UserError, check_stop, never_stop, no_progress
from engine.core.settings import StorageSettings
from engine.core.taxonomy import label_names, normalize_label
from engine.labels.runs import LabelRow, create_label_run, load_labels, newest_label_run_id, set_labels
from engine.storage import Databases
from engine.storage import schema as S
from engine.storage.db import database_busy_error, write_transaction

# The columns of the samples CSV (DESIGN.md) that an import reads back.
CONTRACT_COLUMNS = (
    "folder_id",
    "snapshot_id",
    "path",
    "name",
    "parent",
    "depth",
    "heuristic_prediction",
    "label",
)
MAX_LISTED_ERRORS = 500
MAX_FOLDER_ID = 2**63 - 1


# ------------------------------------------------------------------------------- import


@dataclass(frozen=True)
class RowError:
    line: int
    value: str
    reason: str

    def __str__(self) -> str:
        return (
            f"  line {self.line}: {self.value!r}: {self.reason}"
            if self.value
            else f"  line {self.line}: {self.reason}"
        )


@dataclass(frozen=True)
class ApplyResult:
    label_run_id: int | None  # None when validate_only
    labelled: int  # rows with a label in the CSV (after collapsing identical duplicates)
    skipped_empty: int  # rows without a label
    duplicate_rows: int  # repeated rows with the same label (counted once)
    carried_over: int  # labels copied from the previous newest run
    total_in_run: int
    split_counts: dict[str, int]
    validate_only: bool
    paths_checked: bool
    by_label: dict[str, int] = field(default_factory=dict)


_SEPARATORS = re.compile(r"[\s\-]+")
_ID = re.compile(r"^\s*(\d+)(?:\.0*)?\s*$")


def _allowed_labels_text() -> str:
    return "Allowed labels: " + ", ".join(label_names()) + " (case and surrounding spaces do not matter)."


def validate_labels_csv(
    dbs: Databases, csv_path: str | Path, *, should_stop: StopFn = never_stop
) -> tuple[list[LabelRow], dict[str, int]]:
    """Read and check every row; return the labels to store, or raise one UserError listing all bad rows.

    The returned stats hold ``skipped_empty``, ``duplicate_rows`` and ``paths_checked`` (0/1).
    """
    table = read_csv(
        csv_path, expected_columns=("folder_id", "label", "path"), keep=("folder_id", "label", "path", "snapshot_id")
    )
    missing = [c for c in ("folder_id", "label") if c not in table.header]
    if missing:
        found = ", ".join(h for h in table.original_header if h.strip()) or "(none)"
        raise UserError(
            f"{table.path} has no {' and no '.join(repr(m) for m in missing)} column (columns found: {found}). "
            "Use the CSV written by generate-samples and fill in its 'label' column."
        )
    has_path = "path" in table.header
    has_snapshot = "snapshot_id" in table.header
    errors: list[RowError] = []
    wanted: list[tuple[int, int, str, str, str]] = []  # (line, folder_id, label, path cell, snapshot cell)
    skipped = 0
    for n, row in enumerate(table.rows):
        if n % 5000 == 0:
            check_stop(should_stop)
        raw_label = row.get("label")
        raw_id = row.get("folder_id")
        if not raw_label.strip():
            skipped += 1
            continue
        m = _ID.match(raw_id)
        if not m:
            errors.append(
                RowError(
                    row.line,
                    raw_id,
                    "folder_id is missing" if not raw_id.strip() else "folder_id is not a whole number",
                )
            )
            continue
        if int(m.group(1)) > MAX_FOLDER_ID:  # SQLite's integers stop at 2**63 - 1
            errors.append(RowError(row.line, raw_id, "folder_id is far larger than any folder id"))
            continue
        # Case and surrounding spaces are forgiven; so is "Content subject" / "asset-type".
        label = normalize_label(raw_label) or normalize_label(_SEPARATORS.sub("_", raw_label.strip()))
        if label is None:
            errors.append(RowError(row.line, raw_label, "not one of the labels (see the list below)"))
            continue
        wanted.append((row.line, int(m.group(1)), label, row.get("path"), row.get("snapshot_id")))

    known: dict[int, tuple[int, str]] = {}
    ids = sorted({w[1] for w in wanted})
    with dbs.index.connect() as c:
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            for fid, sid, rel in c.execute(
                select(S.folders.c.id, S.folders.c.snapshot_id, S.folders.c.rel_path).where(
                    S.folders.c.id.in_(chunk)
                )
            ):
                known[fid] = (sid, rel)

    first_seen: dict[int, tuple[int, str]] = {}
    rows: list[LabelRow] = []
    duplicates = 0
    for line, fid, label, path_cell, snap_cell in wanted:
        if fid not in known:
            errors.append(
                RowError(
                    line,
                    str(fid),
                    "no folder has this folder_id in this data folder (was the CSV made from another "
                    "--storage, or was the database deleted?)",
                )
            )
            continue
        sid, rel = known[fid]
        if has_path and path_cell != rel:
            errors.append(RowError(line, path_cell, f"path does not match folder {fid}, which is {rel!r}"))
            continue
        if has_snapshot and snap_cell.strip() and snap_cell.strip() != str(sid):
            errors.append(
                RowError(line, snap_cell, f"folder {fid} belongs to snapshot {sid}, not {snap_cell.strip()}")
            )
            continue
        if fid in first_seen:
            prev_line, prev_label = first_seen[fid]
            if prev_label != label:
                errors.append(
                    RowError(
                        line,
                        label,
                        f"folder {fid} is also labelled {prev_label!r} on line {prev_line}: keep one",
                    )
                )
            else:
                duplicates += 1
            continue
        first_seen[fid] = (line, label)
        rows.append(LabelRow(fid, sid, rel, label))

    if errors:
        errors.sort(key=lambda e: e.line)
        listed = [str(e) for e in errors[:MAX_LISTED_ERRORS]]
        if len(errors) > MAX_LISTED_ERRORS:
            listed.append(f"  … and {len(errors) - MAX_LISTED_ERRORS} more")
        listed.append(_allowed_labels_text())
        if any("does not match folder" in e.reason for e in errors):
            listed.append(
                "If a spreadsheet program changed the paths (turned them into dates or numbers), "
                "delete the 'path' column: the folder ids alone are then used."
            )
        listed.append("Fix these rows (or clear their label cell) and run apply-classifications again.")
        raise UserError(
            f"{table.path}: {len(errors)} invalid row{'s' if len(errors) != 1 else ''}; nothing was imported.",
            details="\n".join(listed),
        )
    if not rows:
        raise UserError(
            f"{table.path} has no labelled rows ({skipped} rows with an empty label). Fill in the 'label' "
            f"column first. {_allowed_labels_text()}"
        )
    return rows, {"skipped_empty": skipped, "duplicate_rows": duplicates, "paths_checked": int(has_path)}


def assign_splits(
    rows: Sequence[LabelRow],
    existing: dict[int, str | None],
    validation_fraction: float,
    test_fraction: float,
    seed: int,
) -> dict[int, str]:
    """Grouped, stratified train/validation/test per folder (:mod:`engine.labels.splits`):
    folders that already have a split keep it, families (same parent, same normalized name)
    are never split across test and the rest, a class with one folder stays in training."""
    from engine.labels import splits as SP

    rows = list(rows)
    side = SP.assign_splits(
        [r.label for r in rows],
        SP.family_groups([r.rel_path for r in rows]),
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        seed=seed,
        existing=[existing.get(r.folder_id) for r in rows],
    )
    return {r.folder_id: s for r, s in zip(rows, side)}


def apply_classifications(
    dbs: Databases,
    csv_path: str | Path,
    config: ApplyClassificationsConfig | None = None,
    *,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> ApplyResult:
    """Validate a labelled CSV and store it as a new label run (see the module docstring)."""
    config = config or ApplyClassificationsConfig()
    if not config.labeler.strip():
        raise UserError("The 'labeler' in the apply_classifications config is empty: put your name there.")
    progress(0.0, "reading the CSV")
    new_rows, stats = validate_labels_csv(dbs, csv_path, should_stop=should_stop)
    progress(0.5, f"{len(new_rows):,} valid labels")
    check_stop(should_stop)
    by_label = dict(Counter(r.label for r in new_rows))

    if config.validate_only:
        with dbs.training.connect() as c:
            plan = _plan(c, new_rows, config)
        progress(1.0, "validated; nothing written (validate_only)")
        return _result(None, new_rows, stats, plan, True, by_label)
    check_stop(should_stop)
    progress(0.7, "saving a new label run")
    snaps = {r.snapshot_id for r in new_rows}
    note = json.dumps(
        {
            "csv": str(Path(csv_path)),
            "imported": len(new_rows),
            "skipped_empty": stats["skipped_empty"],
            "split": config.split
            or {
                "stratified": True,
                "validation_fraction": config.validation_fraction,
                "test_fraction": config.test_fraction,
                "seed": config.seed,
            },
            "imported_at": time.time(),
        }
    )
    try:
        # The newest run is read under SQLite's write lock: an import (or the app) running at the
        # same time waits, and its labels are carried over instead of being silently dropped.
        with write_transaction(dbs.training) as conn:
            plan = _plan(conn, new_rows, config)
            run_id = _write_run(conn, config, csv_path, snaps, note, plan, {r.folder_id for r in new_rows})
    except OperationalError as e:
        raise database_busy_error(e, dbs.settings.training_db) from None
    progress(1.0, f"label run {run_id} saved")
    return _result(run_id, new_rows, stats, plan, False, by_label)


@dataclass(frozen=True)
class _Plan:
    newest: int | None
    carried: list[LabelRow]
    final_rows: list[LabelRow]


def _plan(conn, new_rows: list[LabelRow], config: ApplyClassificationsConfig) -> _Plan:
    """The new run's content: the newest run's labels, the CSV's on top, splits assigned."""
    newest = newest_label_run_id(conn)
    previous = load_labels(conn, newest) if newest is not None else []
    new_ids = {r.folder_id for r in new_rows}
    carried = [r for r in previous if r.folder_id not in new_ids]
    final = carried + new_rows
    if config.split is not None:
        splits = {r.folder_id: config.split for r in new_rows}
        splits.update({r.folder_id: r.split for r in carried if r.split})  # type: ignore[misc]
    else:
        existing = {r.folder_id: r.split for r in previous}
        splits = assign_splits(final, existing, config.validation_fraction, config.test_fraction, config.seed)
    final_rows = [
        LabelRow(r.folder_id, r.snapshot_id, r.rel_path, r.label, splits.get(r.folder_id, r.split))
        for r in final
    ]
    return _Plan(newest, carried, final_rows)


def _result(run_id, new_rows, stats, plan: _Plan, validate_only: bool, by_label) -> ApplyResult:
    return ApplyResult(
        run_id,
        len(new_rows),
        stats["skipped_empty"],
        stats["duplicate_rows"],
        len(plan.carried),
        len(plan.final_rows),
        dict(Counter(r.split or "none" for r in plan.final_rows)),
        validate_only,
        bool(stats["paths_checked"]),
        by_label,
    )


def _write_run(
    conn,
    config: ApplyClassificationsConfig,
    csv_path: str | Path,
    snaps: set[int],
    note: str,
    plan: _Plan,
    new_ids: set[int],
) -> int:
    """Create the new run and its labels inside the caller's write transaction; returns the run id."""
    run_id = create_label_run(
        conn,
        labeler=config.labeler.strip(),
        source=f"csv:{Path(csv_path).name}",
        snapshot_id=next(iter(snaps)) if len(snaps) == 1 else None,
        carry_over_from=plan.newest,
        note=note,
    )
    # The carried-over labels are already in the run; write only what is new or changed
    # (a carried label keeps its updated_at unless its split was just assigned).
    before = {r.folder_id: r.split for r in plan.carried}
    changed = [r for r in plan.final_rows if r.folder_id in new_ids or before.get(r.folder_id) != r.split]
    set_labels(conn, run_id, changed)
    return run_id


def run_apply_classifications(
    settings: StorageSettings,
    config: ApplyClassificationsConfig | None = None,
    *,
    csv_path: str | Path,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> ApplyResult:
    """``model apply-classifications`` as one call: opens the databases, imports, closes them."""
    dbs = Databases.open(settings)
    try:
        return apply_classifications(dbs, csv_path, config, progress=progress, should_stop=should_stop)
    finally:
        dbs.dispose()
