"""Reading model inputs from training.db (``folder_features``) and turning them into matrices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from engine.core.jobs import ProgressFn, StopFn, UserError
from engine.models.embeddings import embed_cached
from engine.models.inputs import FolderRecord, build_matrix, distinct_texts
from engine.storage import schema as S

_COLS = (
    "folder_id",
    "snapshot_id",
    "rel_path",
    "name",
    "depth",
    "parent_name",
    "grandparent_name",
    "children",
    "siblings",
    "top_exts",
    "file_count",
    "subfolder_count",
    "heuristic_label",
    "heuristic_confidence",
    "heuristic_rule",
)


def newest_feature_snapshot(training: Engine) -> int | None:
    with training.connect() as c:
        return c.execute(select(func.max(S.folder_features.c.snapshot_id))).scalar()


def load_records(
    training: Engine,
    *,
    snapshot_id: int | None = None,
    folder_ids: Sequence[int] | None = None,
) -> list[FolderRecord]:
    """Feature rows as records, ordered by folder id (all of a snapshot, or the given ids)."""
    t = S.folder_features
    cols = [t.c[n] for n in _COLS]
    out: list[FolderRecord] = []
    with training.connect() as c:
        if folder_ids is None:
            q = select(*cols).order_by(t.c.folder_id)
            if snapshot_id is not None:
                q = q.where(t.c.snapshot_id == snapshot_id)
            out = [FolderRecord.from_row(r) for r in c.execute(q)]
        else:
            ids = sorted(set(int(i) for i in folder_ids))
            for i in range(0, len(ids), 900):
                q = select(*cols).where(t.c.folder_id.in_(ids[i : i + 900]))
                out.extend(FolderRecord.from_row(r) for r in c.execute(q))
            out.sort(key=lambda r: r.folder_id)
    return out


def snapshots_of(training: Engine, folder_ids: Sequence[int]) -> dict[int, int]:
    """``{folder_id: snapshot_id}`` of the feature rows of ``folder_ids``."""
    t = S.folder_features
    ids = sorted(set(int(i) for i in folder_ids))
    out: dict[int, int] = {}
    with training.connect() as c:
        for i in range(0, len(ids), 900):
            q = select(t.c.folder_id, t.c.snapshot_id).where(t.c.folder_id.in_(ids[i : i + 900]))
            out.update((int(f), int(s)) for f, s in c.execute(q))
    return out


def require_features(training: Engine) -> int:
    snap = newest_feature_snapshot(training)
    if snap is None:
        import shlex
        from pathlib import Path

        folder = Path(training.url.database or ".").resolve().parent
        storage = shlex.quote(str(folder))
        raise UserError(
            f"No folder features yet in {folder}. Scan your library and extract features first: "
            f"python organizer.py gather PATH --storage {storage}, "
            f"then python organizer.py model extract-features --storage {storage}"
        )
    return snap


def featurize(
    records: Sequence[FolderRecord],
    recipe: dict[str, Any],
    *,
    training: Engine | None,
    model_key: str,
    emb_dim: int,
    get_body: Callable[[], Any],
    batch_size: int,
    progress: ProgressFn,
    should_stop: StopFn,
) -> np.ndarray:
    """The input matrix of ``records`` under ``recipe``; each distinct text encoded once (cached)."""
    vectors = embed_records(
        records, recipe, training=training, model_key=model_key, get_body=get_body,
        batch_size=batch_size, progress=progress, should_stop=should_stop,
    )
    return build_matrix(records, recipe, vectors, emb_dim)


def embed_records(
    records: Sequence[FolderRecord],
    recipe: dict[str, Any],
    *,
    training: Engine | None,
    model_key: str,
    get_body: Callable[[], Any],
    batch_size: int,
    progress: ProgressFn,
    should_stop: StopFn,
) -> dict[str, np.ndarray]:
    """``{text: vector}`` for every distinct text the recipe needs for ``records``."""
    texts = distinct_texts(records, recipe)
    vectors = embed_cached(
        texts,
        training=training,
        model_key=model_key,
        get_body=get_body,
        batch_size=batch_size,
        progress=progress,
        should_stop=should_stop,
    )
    return vectors


def predict_in_chunks(
    records: Sequence[FolderRecord],
    recipe: dict[str, Any],
    vectors: dict[str, np.ndarray],
    emb_dim: int,
    predict_proba: Callable[[np.ndarray], np.ndarray],
    *,
    chunk: int = 8192,
    should_stop: StopFn,
) -> np.ndarray:
    """Probabilities for ``records``, building the input matrix a chunk at a time.

    Why: the full matrix of 100,000 folders is ~600 MB of float32; chunks keep peak memory
    flat whatever the library size.
    """
    from engine.core.jobs import check_stop

    parts = []
    for s in range(0, len(records), chunk):
        check_stop(should_stop)
        X = build_matrix(records[s : s + chunk], recipe, vectors, emb_dim)
        parts.append(predict_proba(X))
    if not parts:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)
