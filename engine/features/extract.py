"""``extract-features``: one row per folder of a snapshot in ``training.db.folder_features``.

What a row holds (the models read these columns; the app shows them):
``name``, ``norm_name`` (:func:`engine.core.text.normalize_name`), ``depth``, ``parent_name``,
``grandparent_name``, ``children`` / ``siblings`` (JSON lists of raw names, sorted, capped
at ``child_cap`` / ``sibling_cap``), ``top_exts`` (JSON ``[[ext, count], ...]``, the
``ext_cap`` most common direct file extensions), ``file_count``, ``subfolder_count``,
``flags`` (JSON, :func:`engine.core.text.name_flags` plus ``leaf`` / ``images`` / ``top_level``),
``model_text`` (the name with its context, short enough for a MiniLM window) and the
heuristic's ``heuristic_label`` / ``heuristic_confidence`` / ``heuristic_rule``.

Why it is fast: the whole snapshot is read with two queries (folders; a per-folder
extension histogram grouped in SQLite), everything is computed in Python dicts and lists,
and rows go back with ``executemany`` in ``batch_size`` chunks. 100,000 folders take a few
seconds (``bench/features.py``).

Why it is safe: the snapshot's old rows are deleted and the new ones inserted in ONE
transaction, so a re-run replaces them (idempotent), and a cancel or a crash part-way
leaves the previous rows exactly as they were.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError

from engine.core.config import ExtractFeaturesConfig
from engine.core.jobs import ProgressFn, StopFn, Throttle, UserError, check_stop, never_stop, no_progress
from engine.core.settings import StorageSettings
from engine.core.text import name_flags, normalize_name
from engine.features.heuristics import FolderInput, Heuristic
from engine.scan.snapshots import resolve_snapshot
from engine.storage import Databases
from engine.storage.db import database_busy_error

IMAGE_EXTS = frozenset(
    {
        "png",
        "jpg",
        "jpeg",
        "webp",
        "gif",
        "bmp",
        "tif",
        "tiff",
        "avif",
        "heic",
        "svg",
        "webm",
        "mp4",
        "m4v",
        "mov",
    }
)
# How many children / siblings go into the model text (the JSON columns keep the caps).
_TEXT_CHILDREN = 4
_TEXT_EXTS = 3
_TEXT_MAX = 300

_COLUMNS = (
    "folder_id",
    "snapshot_id",
    "rel_path",
    "name",
    "norm_name",
    "depth",
    "parent_name",
    "grandparent_name",
    "children",
    "siblings",
    "top_exts",
    "file_count",
    "subfolder_count",
    "flags",
    "model_text",
    "heuristic_label",
    "heuristic_confidence",
    "heuristic_rule",
)


@dataclass(frozen=True)
class ExtractResult:
    snapshot_id: int
    folders: int
    seconds: float
    label_counts: dict[str, int] = field(default_factory=dict)

    @property
    def folders_per_second(self) -> float:
        return self.folders / self.seconds if self.seconds > 0 else float("inf")


def build_model_text(
    norm_name: str,
    parent_norm: str | None,
    grandparent_norm: str | None,
    children_norm: list[str],
    top_exts: list[tuple[str, int]],
    file_count: int,
) -> str:
    """The text fed to the model: the name first, then its context, kept short.

    Shape: ``beach town | in: maps < czepeku | has: tokens, props | files: 12 webp, 3 png``.
    The name leads because a sentence model weighs the start most and truncates the end.
    """
    parts = [norm_name or "(no name)"]
    where = " < ".join(p for p in (parent_norm, grandparent_norm) if p)
    if where:
        parts.append(f"in: {where}")
    if children_norm:
        parts.append("has: " + ", ".join(children_norm[:_TEXT_CHILDREN]))
    if top_exts:
        parts.append("files: " + ", ".join(f"{n} {e or 'no-ext'}" for e, n in top_exts[:_TEXT_EXTS]))
    elif file_count == 0 and not children_norm:
        parts.append("empty")
    text = " | ".join(parts)
    return text if len(text) <= _TEXT_MAX else text[: _TEXT_MAX - 1] + "…"


def extract_features(
    dbs: Databases,
    snapshot_id: int | None,
    config: ExtractFeaturesConfig | None = None,
    *,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
    heuristic: Heuristic | None = None,
) -> ExtractResult:
    """Compute and store the features of every folder of a snapshot (default: latest complete).

    Raises :class:`UserError` when there is no such snapshot, :class:`Cancelled` when
    ``should_stop()`` turns True (nothing is changed then).
    """
    config = config or ExtractFeaturesConfig()
    t0 = time.perf_counter()
    progress = Throttle(progress)
    snap = resolve_snapshot(dbs.index, snapshot_id)
    sid = snap.id
    progress(0.0, f"reading snapshot {sid}")

    with dbs.index.connect() as c:
        folder_rows = c.exec_driver_sql(
            "SELECT id, parent_id, rel_path, name, depth, file_count, subfolder_count "
            "FROM folders WHERE snapshot_id = ? ORDER BY id",
            (sid,),
        ).fetchall()
        check_stop(should_stop)
        progress(0.1, "reading file extensions")
        ext_rows = c.exec_driver_sql(
            "SELECT f.folder_id, f.ext, count(*) FROM files f JOIN folders d ON d.id = f.folder_id "
            "WHERE d.snapshot_id = ? GROUP BY f.folder_id, f.ext",
            (sid,),
        ).fetchall()
    check_stop(should_stop)
    n = len(folder_rows)
    if n == 0:
        raise UserError(f"Snapshot {sid} has no folders. Scan the library again with 'gather'.")

    progress(0.25, f"computing features of {n:,} folders")
    ids = [r[0] for r in folder_rows]
    pos = {fid: i for i, fid in enumerate(ids)}
    names = [r[3] for r in folder_rows]
    parent_pos: list[int | None] = [pos.get(r[1]) if r[1] is not None else None for r in folder_rows]
    children: list[list[int]] = [[] for _ in range(n)]
    for i, p in enumerate(parent_pos):
        if p is not None:
            children[p].append(i)
    order_in_parent = [0] * n
    for lst in children:
        if len(lst) > 1:
            lst.sort(key=lambda j: names[j].casefold())
            for k, j in enumerate(lst):
                order_in_parent[j] = k

    exts: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for fid, ext, cnt in ext_rows:
        exts[fid].append((ext, cnt))
    image_files = [0] * n
    top_exts: list[list[tuple[str, int]]] = [[] for _ in range(n)]
    for fid, lst in exts.items():
        i = pos.get(fid)
        if i is None:
            continue
        lst.sort(key=lambda ec: (-ec[1], ec[0]))
        top_exts[i] = lst[: config.ext_cap]
        image_files[i] = sum(c for e, c in lst if e in IMAGE_EXTS)

    norm_cache: dict[str, object] = {}
    norms = []
    for nm in names:
        nn = norm_cache.get(nm)
        if nn is None:
            nn = normalize_name(nm)
            norm_cache[nm] = nn
        norms.append(nn)
    check_stop(should_stop)

    progress(0.4, "applying the heuristic rules")
    heuristic = heuristic or Heuristic()
    inputs = [
        FolderInput(
            name=names[i],
            depth=folder_rows[i][4],
            parent=parent_pos[i],
            children=children[i],
            file_count=folder_rows[i][5],
            image_files=image_files[i],
            norm=norms[i],  # type: ignore[arg-type]
        )
        for i in range(n)
    ]
    guesses = heuristic.classify_all(inputs, should_stop)
    check_stop(should_stop)

    progress(0.55, "building rows")
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    dumps_sorted = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
    flag_cache: dict[str, dict] = {}
    rows: list[tuple] = []
    label_counts: dict[str, int] = defaultdict(int)
    for i in range(n):
        fid, _pid, rel, name, depth, file_count, subfolder_count = folder_rows[i]
        p = parent_pos[i]
        gp = parent_pos[p] if p is not None else None
        kids = children[i]
        if p is not None and config.sibling_cap:
            # The siblings nearest in name order: a big folder's children then each get a
            # different, relevant window ("airship_port_slices" sees "airship_port").
            sib_all = children[p]
            k = order_in_parent[i]
            lo = max(0, min(k - config.sibling_cap // 2, len(sib_all) - 1 - config.sibling_cap))
            sibs = [names[j] for j in sib_all[lo : lo + config.sibling_cap + 1] if j != i][
                : config.sibling_cap
            ]
        else:
            sibs = []
        base_flags = flag_cache.get(name)
        if base_flags is None:
            base_flags = name_flags(name, norms[i])  # type: ignore[arg-type]
            flag_cache[name] = base_flags
        flags = dict(base_flags)
        if not kids:
            flags["leaf"] = True
        if image_files[i]:
            flags["images"] = image_files[i]
        if depth == 1:
            flags["top_level"] = True
        g = guesses[i]
        label_counts[g.label] += 1
        rows.append(
            (
                fid,
                sid,
                rel,
                name,
                norms[i].text,  # type: ignore[attr-defined]
                depth,
                names[p] if p is not None else None,
                names[gp] if gp is not None else None,
                dumps([names[j] for j in kids[: config.child_cap]]),
                dumps(sibs),
                dumps([[e, c] for e, c in top_exts[i]]),
                file_count,
                subfolder_count,
                dumps_sorted(flags),
                build_model_text(
                    norms[i].text,  # type: ignore[attr-defined]
                    norms[p].text if p is not None else None,  # type: ignore[attr-defined]
                    norms[gp].text if gp is not None else None,  # type: ignore[attr-defined]
                    [norms[j].text for j in kids[:_TEXT_CHILDREN]],  # type: ignore[attr-defined]
                    top_exts[i],
                    file_count,
                ),
                g.label,
                g.confidence,
                g.rule,
            )
        )
        if i % 20000 == 0:
            check_stop(should_stop)
            progress(0.55 + 0.15 * i / n, f"building rows {i:,}/{n:,}")

    insert_sql = (
        f"INSERT INTO folder_features ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
    )
    try:
        with dbs.training.begin() as conn:
            conn.exec_driver_sql("DELETE FROM folder_features WHERE snapshot_id = ?", (sid,))
            for start in range(0, n, config.batch_size):
                check_stop(should_stop)  # raising here rolls the whole transaction back
                batch = rows[start : start + config.batch_size]
                conn.exec_driver_sql(insert_sql, batch)
                done = start + len(batch)
                progress(0.7 + 0.3 * done / n, f"saving {done:,}/{n:,} folders")
    except OperationalError as e:
        raise database_busy_error(e, dbs.settings.training_db) from None
    seconds = time.perf_counter() - t0
    progress(1.0, f"{n:,} folders in {seconds:.1f} s")
    return ExtractResult(sid, n, seconds, dict(label_counts))


def run_extract_features(
    settings: StorageSettings,
    config: ExtractFeaturesConfig | None = None,
    *,
    snapshot_id: int | None = None,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> ExtractResult:
    """``model extract-features`` as one call (the shape of every engine entry point):
    opens the data folder's databases, extracts, closes them."""
    dbs = Databases.open(settings)
    try:
        return extract_features(dbs, snapshot_id, config, progress=progress, should_stop=should_stop)
    finally:
        dbs.dispose()
