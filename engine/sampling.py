"""The samples round trip: pick folders to label (``generate-samples``), write them to a CSV
a person fills in, and import the filled-in CSV as a new label run (``apply-classifications``).

Picking (:func:`select_samples`)
    The user's labelling time is the scarcest resource, so a sample must cover the library,
    not its biggest corner. Candidates (``min_depth..max_depth``, minus everything labelled in
    the newest label run) are first split by heuristic label; each label gets a quota that
    blends its share of the library with an equal share (``diversity_factor`` 0 = purely
    proportional, 1 = equal), so a label the heuristic gives to 1 % of the folders is not
    drowned by the 80 % class. Inside a label, folders are ordered so that each parent's first
    folder comes before any parent's second one, and taken round-robin over (depth, name
    shape) buckets; with probability ``1 - diversity_factor`` a pick is plain random instead.
    Everything is driven by one ``random.Random(seed)``: the same seed and database give the
    same CSV. It is O(n log n), so 100,000 candidates take well under a second.

Importing (:func:`apply_classifications`)
    Every row is validated before anything is written; one bad row means nothing is written
    and the error lists every bad row with its line, value, reason and the allowed labels.
    The labels then go into a NEW label run in one transaction, carrying over the newest run's
    labels (label runs are cumulative, see :mod:`engine.labels`).
"""

from __future__ import annotations

import json
import random
import re
import shlex
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from engine.config import SPLITS, ApplyClassificationsConfig, GenerateSamplesConfig
from engine.csvio import read_csv, write_csv
from engine.features import database_busy_error
from engine.jobs import ProgressFn, StopFn, UserError, check_stop, never_stop, no_progress, wrap_progress
from engine.labels import LabelRow, create_label_run, load_labels, newest_label_run_id, set_labels
from engine.snapshots import resolve_snapshot
from engine.storage import Databases
from engine.storage import schema as S
from engine.taxonomy import label_names, normalize_label
from engine.text import name_shape

# The samples CSV contract (DESIGN.md), then fsorg's extra columns.
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
SAMPLE_COLUMNS = CONTRACT_COLUMNS + (
    "heuristic_confidence",
    "heuristic_rule",
    "children",
    "extensions",
    "file_count",
    "subfolder_count",
)
MAX_LISTED_ERRORS = 500


@dataclass(frozen=True)
class Candidate:
    folder_id: int
    rel_path: str
    name: str
    depth: int
    parent_name: str | None
    children_json: str  # parsed only for the picked rows: 100,000 json.loads are not free
    top_exts_json: str
    file_count: int
    subfolder_count: int
    heuristic_label: str
    heuristic_confidence: float
    heuristic_rule: str

    @property
    def parent_path(self) -> str:
        return self.rel_path.rsplit("/", 1)[0] if "/" in self.rel_path else ""

    @property
    def children(self) -> list[str]:
        return json.loads(self.children_json)


@dataclass(frozen=True)
class SampleResult:
    snapshot_id: int
    path: Path
    rows: int
    candidates: int
    excluded_labelled: int
    by_label: dict[str, int] = field(default_factory=dict)
    by_depth: dict[int, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------ picking


def _quotas(sizes: dict[str, int], k: int, diversity: float) -> dict[str, int]:
    """Split ``k`` picks over groups: a blend of proportional and equal shares, capped by size."""
    quotas = {g: 0 for g in sizes}
    remaining = min(k, sum(sizes.values()))
    open_groups = {g for g, n in sizes.items() if n > 0}
    while remaining > 0 and open_groups:
        total = sum(sizes[g] for g in open_groups)
        weights = {g: (1 - diversity) * sizes[g] / total + diversity / len(open_groups) for g in open_groups}
        wsum = sum(weights.values())
        exact = {g: remaining * weights[g] / wsum for g in open_groups}
        share = {g: int(exact[g]) for g in open_groups}
        # Largest remainder, ties by name so the result does not depend on set order.
        left = remaining - sum(share.values())
        for g in sorted(open_groups, key=lambda g: (-(exact[g] - share[g]), g))[:left]:
            share[g] += 1
        progressed = False
        for g in sorted(open_groups):
            room = sizes[g] - quotas[g]
            take = min(share[g], room)
            if take:
                quotas[g] += take
                remaining -= take
                progressed = True
        open_groups = {g for g in open_groups if quotas[g] < sizes[g]}
        if not progressed:
            break
    return quotas


def _diverse_order(
    items: list[Candidate], rng: random.Random, diversity: float, limit: int
) -> list[Candidate]:
    """The first ``limit`` of ``items`` in an order spread over parents, depths and shapes."""
    limit = min(limit, len(items))
    shuffled = list(items)
    rng.shuffle(shuffled)
    seen_parent: Counter[str] = Counter()
    keyed = []
    for pos, c in enumerate(shuffled):
        rank = seen_parent[c.parent_path]
        seen_parent[c.parent_path] += 1
        keyed.append((rank, pos, c))
    keyed.sort(key=lambda t: (t[0], t[1]))
    buckets: dict[tuple[int, str], list[Candidate]] = {}
    for _, _, c in keyed:
        buckets.setdefault((c.depth, name_shape(c.name)), []).append(c)
    queues = list(buckets.values())
    diverse: list[Candidate] = []
    idx = [0] * len(queues)
    active = list(range(len(queues)))
    while active and len(diverse) < limit:
        still = []
        for q in active:
            if idx[q] < len(queues[q]):
                diverse.append(queues[q][idx[q]])
                idx[q] += 1
            if idx[q] < len(queues[q]):
                still.append(q)
        active = still
    # Blend with a plain random order: diversity 1.0 is purely the spread order.
    out: list[Candidate] = []
    taken: set[int] = set()
    di = ri = 0
    while len(out) < limit:
        src_diverse = rng.random() < diversity
        if src_diverse:
            while di < len(diverse) and diverse[di].folder_id in taken:
                di += 1
            if di < len(diverse):
                c = diverse[di]
                di += 1
            else:
                src_diverse = False
        if not src_diverse:
            while ri < len(shuffled) and shuffled[ri].folder_id in taken:
                ri += 1
            if ri >= len(shuffled):
                continue
            c = shuffled[ri]
            ri += 1
        taken.add(c.folder_id)
        out.append(c)
    return out


def select_samples(candidates: Sequence[Candidate], k: int, diversity: float, seed: int) -> list[Candidate]:
    """Pick ``k`` diverse candidates (see the module docstring); deterministic for ``seed``."""
    rng = random.Random(seed)
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for c in sorted(candidates, key=lambda c: c.folder_id):
        groups[c.heuristic_label or "unknown"].append(c)
    quotas = _quotas({g: len(v) for g, v in groups.items()}, k, diversity)
    picked: list[Candidate] = []
    for g in sorted(groups):
        if quotas[g]:
            picked.extend(_diverse_order(groups[g], rng, diversity, quotas[g]))
    return picked


# ----------------------------------------------------------------------------- generate


def _labelled_in_newest_run(dbs: Databases, snapshot_root: str) -> tuple[set[int], set[str]]:
    """Folder ids labelled in the newest run, and the paths labelled on the same root."""
    with dbs.training.connect() as c:
        run = newest_label_run_id(c)
        if run is None:
            return set(), set()
        rows = load_labels(c, run)
    ids = {r.folder_id for r in rows}
    snaps = {r.snapshot_id for r in rows}
    with dbs.index.connect() as c:
        roots = (
            dict(
                c.execute(
                    select(S.snapshots.c.id, S.snapshots.c.root).where(S.snapshots.c.id.in_(snaps))
                ).all()
            )
            if snaps
            else {}
        )
    # Labels survive a rescan by path: a folder labelled in an older snapshot of the same root
    # is the same folder and must not be offered again.
    paths = {r.rel_path for r in rows if roots.get(r.snapshot_id) == snapshot_root}
    return ids, paths


def load_candidates(dbs: Databases, snapshot_id: int, min_depth: int, max_depth: int) -> list[Candidate]:
    f = S.folder_features.c
    q = (
        select(
            f.folder_id,
            f.rel_path,
            f.name,
            f.depth,
            f.parent_name,
            f.children,
            f.top_exts,
            f.file_count,
            f.subfolder_count,
            f.heuristic_label,
            f.heuristic_confidence,
            f.heuristic_rule,
        )
        .where(f.snapshot_id == snapshot_id, f.depth >= min_depth, f.depth <= max_depth)
        .order_by(f.folder_id)
    )
    with dbs.training.connect() as c:
        rows = c.execute(q).all()
    return [
        Candidate(
            r.folder_id,
            r.rel_path,
            r.name,
            r.depth,
            r.parent_name,
            r.children or "[]",
            r.top_exts or "[]",
            r.file_count,
            r.subfolder_count,
            r.heuristic_label or "unknown",
            float(r.heuristic_confidence or 0.0),
            r.heuristic_rule or "",
        )
        for r in rows
    ]


def _has_features(dbs: Databases, snapshot_id: int) -> bool:
    with dbs.training.connect() as c:
        return (
            c.execute(
                select(S.folder_features.c.folder_id)
                .where(S.folder_features.c.snapshot_id == snapshot_id)
                .limit(1)
            ).first()
            is not None
        )


def sample_row(c: Candidate, snapshot_id: int) -> dict[str, object]:
    """One CSV row: contract columns, the heuristic's guess and readable context."""
    children = json.loads(c.children_json)
    kids = "; ".join(children)
    if c.subfolder_count > len(children):
        kids += (
            f"; … ({c.subfolder_count - len(children)} more)" if kids else f"({c.subfolder_count} folders)"
        )
    exts = ", ".join(f"{e or '(no ext)'} {n}" for e, n in json.loads(c.top_exts_json))
    return {
        "folder_id": c.folder_id,
        "snapshot_id": snapshot_id,
        "path": c.rel_path,
        "name": c.name,
        "parent": c.parent_name or "",
        "depth": c.depth,
        "heuristic_prediction": c.heuristic_label,
        "label": "",
        "heuristic_confidence": f"{c.heuristic_confidence:.2f}",
        "heuristic_rule": c.heuristic_rule,
        "children": kids,
        "extensions": exts,
        "file_count": c.file_count,
        "subfolder_count": c.subfolder_count,
    }


def generate_samples(
    dbs: Databases,
    snapshot_id: int | None,
    output_csv: str | Path,
    config: GenerateSamplesConfig | None = None,
    *,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> SampleResult:
    """Pick ``config.sample_size`` folders of a snapshot and write the samples CSV."""
    config = config or GenerateSamplesConfig()
    snap = resolve_snapshot(dbs.index, snapshot_id)
    if not _has_features(dbs, snap.id):
        raise UserError(
            f"Snapshot {snap.id} has no features yet. Run: python organizer.py model extract-features "
            f"--snapshot-id {snap.id} --storage {shlex.quote(str(Path(dbs.index.url.database or '.').resolve().parent))}"
        )
    progress(0.05, "loading folders")
    cands = load_candidates(dbs, snap.id, config.min_depth, config.max_depth)
    check_stop(should_stop)
    ids, paths = _labelled_in_newest_run(dbs, snap.root)
    fresh = [c for c in cands if c.folder_id not in ids and c.rel_path not in paths]
    excluded = len(cands) - len(fresh)
    if not fresh:
        if not cands:
            raise UserError(
                f"No folders of snapshot {snap.id} lie between depth {config.min_depth} and "
                f"{config.max_depth}. Widen min_depth/max_depth in the config."
            )
        raise UserError(
            f"All {len(cands):,} folders between depth {config.min_depth} and {config.max_depth} are "
            "already labelled. Widen the depth range, or train a model on your labels."
        )
    progress(0.3, f"picking {min(config.sample_size, len(fresh)):,} of {len(fresh):,} folders")
    if config.strategy == "uncertainty":
        # The folders the current model (newest trained, else the baseline) hesitates on most,
        # spread over parents and name clusters: see engine.active.select_uncertain.
        from engine.active import select_uncertain

        proposals = select_uncertain(
            dbs.settings,
            n=config.sample_size,
            candidate_ids=[c.folder_id for c in fresh],
            snapshot_id=snap.id,
            progress=wrap_progress(progress, 0.3, 0.8),
            should_stop=should_stop,
        )
        by_id = {c.folder_id: c for c in fresh}
        picked = [by_id[p.folder_id] for p in proposals if p.folder_id in by_id]
    else:
        picked = select_samples(fresh, config.sample_size, config.diversity_factor, config.seed)
    check_stop(should_stop)
    picked.sort(key=lambda c: c.rel_path.casefold())  # siblings side by side: easier to label
    progress(0.8, "writing the CSV")
    out = Path(output_csv)
    write_csv(out, SAMPLE_COLUMNS, (sample_row(c, snap.id) for c in picked))
    progress(1.0, f"{len(picked)} samples written")
    return SampleResult(
        snapshot_id=snap.id,
        path=out,
        rows=len(picked),
        candidates=len(fresh),
        excluded_labelled=excluded,
        by_label=dict(Counter(c.heuristic_label for c in picked)),
        by_depth=dict(sorted(Counter(c.depth for c in picked).items())),
    )


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
    table = read_csv(csv_path, expected_columns=("folder_id", "label", "path"))
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
    """Stratified train/validation/test per label; folders that already have a split keep it.

    Keeping an earlier split matters: moving a folder from test to train between imports would
    leak test data into training. For each label the targets are ``round(n * fraction)`` over
    all its rows (at least one test row once a label has 3 rows, one validation row at 4), and
    only the deficit is filled from the rows without a split.
    """
    rng = random.Random(seed)
    by_label: dict[str, list[LabelRow]] = defaultdict(list)
    for r in rows:
        by_label[r.label].append(r)
    out: dict[int, str] = {}
    for label in sorted(by_label):
        group = by_label[label]
        n = len(group)
        target_test = round(n * test_fraction)
        target_val = round(n * validation_fraction)
        if test_fraction > 0 and n >= 3:
            target_test = max(1, target_test)
        if validation_fraction > 0 and n >= 4:
            target_val = max(1, target_val)
        if target_test + target_val >= n:
            target_val = max(0, min(target_val, n - 1 - target_test))
        have = Counter(existing[r.folder_id] for r in group if existing.get(r.folder_id) in SPLITS)
        free = sorted(
            (r for r in group if existing.get(r.folder_id) not in SPLITS), key=lambda r: r.folder_id
        )
        rng.shuffle(free)
        need_test = max(0, target_test - have["test"])
        need_val = max(0, target_val - have["validation"])
        for r in group:
            if existing.get(r.folder_id) in SPLITS:
                out[r.folder_id] = existing[r.folder_id]  # type: ignore[assignment]
        for i, r in enumerate(free):
            out[r.folder_id] = (
                "test" if i < need_test else "validation" if i < need_test + need_val else "train"
            )
    return out


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

    with dbs.training.connect() as c:
        newest = newest_label_run_id(c)
        previous = load_labels(c, newest) if newest is not None else []
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
    split_counts = dict(Counter(r.split or "none" for r in final_rows))
    if config.validate_only:
        progress(1.0, "validated; nothing written (validate_only)")
        return ApplyResult(
            None,
            len(new_rows),
            stats["skipped_empty"],
            stats["duplicate_rows"],
            len(carried),
            len(final_rows),
            split_counts,
            True,
            bool(stats["paths_checked"]),
            by_label,
        )
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
        run_id = _write_run(dbs, config, csv_path, newest, snaps, note, carried, new_ids, final_rows)
    except OperationalError as e:
        raise database_busy_error(e, dbs.settings.training_db) from None
    progress(1.0, f"label run {run_id} saved")
    return ApplyResult(
        run_id,
        len(new_rows),
        stats["skipped_empty"],
        stats["duplicate_rows"],
        len(carried),
        len(final_rows),
        split_counts,
        False,
        bool(stats["paths_checked"]),
        by_label,
    )


def _write_run(
    dbs: Databases,
    config: ApplyClassificationsConfig,
    csv_path: str | Path,
    newest: int | None,
    snaps: set[int],
    note: str,
    carried: list[LabelRow],
    new_ids: set[int],
    final_rows: list[LabelRow],
) -> int:
    """Create the new run and its labels in ONE transaction; returns the run id."""
    with dbs.training.begin() as conn:
        # Re-read the newest run inside the write transaction: if the app saved labels in the
        # meantime, stop instead of silently dropping them from the new run.
        newest_now = newest_label_run_id(conn)
        if newest_now != newest:
            raise UserError("Labels were changed while importing (by the app?). Run the command again.")
        run_id = create_label_run(
            conn,
            labeler=config.labeler.strip(),
            source=f"csv:{Path(csv_path).name}",
            snapshot_id=next(iter(snaps)) if len(snaps) == 1 else None,
            carry_over_from=newest,
            note=note,
        )
        # The carried-over labels are already in the run; write only what is new or changed
        # (a carried label keeps its updated_at unless its split was just assigned).
        before = {r.folder_id: r.split for r in carried}
        changed = [r for r in final_rows if r.folder_id in new_ids or before.get(r.folder_id) != r.split]
        set_labels(conn, run_id, changed)
    return run_id
