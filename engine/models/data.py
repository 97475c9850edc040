"""Reading model inputs from training.db (``folder_features``) and turning them into matrices."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select

from engine.jobs import ProgressFn, StopFn, UserError
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


def require_features(training: Engine) -> int:
    snap = newest_feature_snapshot(training)
    if snap is None:
        raise UserError(
            "No folder features yet. Scan your library and extract features first: "
            "python organizer.py gather PATH --storage DIR, then python organizer.py model extract-features"
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
    return build_matrix(records, recipe, vectors, emb_dim)
