"""Explain a folder's prediction: the heuristic rule, the model's top three labels, the nearest labelled folders.
"""


from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select

from engine.core.jobs import ProgressFn, StopFn, UserError, check_stop, never_stop, no_progress, wrap_progress
from engine.core.settings import StorageSettings
from engine.models.loading import Encoder, embedding_part, feature_matrix, load_model, model_encoder
from engine.storage import schema as S

# =============================================================================== explain


@dataclass(frozen=True)
class Neighbour:
    folder_id: int
    path: str
    label: str
    similarity: float

    def __iter__(self):  # (folder_id, path, label, similarity), as the issue names them
        return iter((self.folder_id, self.path, self.label, self.similarity))


@dataclass(frozen=True)
class Explanation:
    folder_id: int
    path: str
    heuristic_rule: str | None
    heuristic_label: str | None
    heuristic_confidence: float | None
    top3: list[tuple[str, float]]
    nearest: list[Neighbour]
    model: str  # which model explained it
    user_label: str | None = None


class Explainer:
    """Explains folders with one model; keeps the labelled folders' embeddings between calls.

    Not thread-safe: use one per worker thread (the app keeps one per view, on one pool).
    """

    def __init__(self, settings: StorageSettings, model: Any = None) -> None:
        self.settings = settings
        self._model_arg = model
        self._model: Any = None
        self._enc: Encoder | None = None
        self._lab: tuple[int, list[int], list[str], list[str], np.ndarray] | None = None

    def _ensure(self, dbs: Any, progress: ProgressFn, should_stop: StopFn) -> None:
        if self._model is None:
            self._model = load_model(dbs.training, self._model_arg)
            self._enc = model_encoder(self._model)
        from engine.labels.runs import load_labels, newest_label_run_id
        from engine.models.data import load_records

        run = newest_label_run_id(dbs.training)
        if run is None:
            self._lab = (-1, [], [], [], np.zeros((0, 1), np.float32))
            return
        rows = load_labels(dbs.training, run)
        stamp = hash(tuple((r.folder_id, r.label) for r in rows))
        if self._lab is not None and self._lab[0] == stamp:
            return
        recs = load_records(dbs.training, folder_ids=[r.folder_id for r in rows])
        lab = {r.folder_id: r.label for r in rows}
        assert self._enc is not None
        X = feature_matrix(dbs.training, recs, self._enc, progress=progress, should_stop=should_stop)
        self._lab = (
            stamp,
            [r.folder_id for r in recs],
            [r.rel_path for r in recs],
            [lab[r.folder_id] for r in recs],
            embedding_part(X, self._enc.n_emb_cols),
        )

    def explain(
        self,
        folder_id: int,
        *,
        k: int = 3,
        progress: ProgressFn = no_progress,
        should_stop: StopFn = never_stop,
    ) -> Explanation:
        from engine.models.data import load_records
        from engine.storage import Databases

        dbs = Databases.open(self.settings)
        try:
            with dbs.training.connect() as c:
                row = c.execute(
                    select(
                        S.folder_features.c.rel_path,
                        S.folder_features.c.heuristic_rule,
                        S.folder_features.c.heuristic_label,
                        S.folder_features.c.heuristic_confidence,
                    ).where(S.folder_features.c.folder_id == folder_id)
                ).first()
            if row is None:
                raise UserError(
                    f"Folder {folder_id} has no features yet. Run extract-features for its snapshot "
                    "(python organizer.py model extract-features)."
                )
            self._ensure(dbs, wrap_progress(progress, 0.0, 0.8), should_stop)
            check_stop(should_stop)
            assert self._enc is not None and self._lab is not None
            rec = load_records(dbs.training, folder_ids=[folder_id])
            x = feature_matrix(dbs.training, rec, self._enc, should_stop=should_stop)
        finally:
            dbs.dispose()
        p = self._model.head.predict_proba(x)[0]
        labels = list(self._model.labels)
        order = np.argsort(-p, kind="stable")[:3]
        top3 = [(labels[j], float(p[j])) for j in order]
        _, ids, paths, labs, E = self._lab
        nearest: list[Neighbour] = []
        user_label = None
        if ids:
            e = embedding_part(x, self._enc.n_emb_cols)[0]
            sims = E @ e
            for j in np.argsort(-sims, kind="stable"):
                if ids[j] == folder_id:
                    user_label = labs[j]
                    continue
                nearest.append(Neighbour(ids[j], paths[j], labs[j], float(sims[j])))
                if len(nearest) >= k:
                    break
        progress(1.0, "explained")
        kind = self._model.kind
        name = f"{kind} model" + (f" ({self._model.path.name})" if self._model.path else "")
        return Explanation(
            folder_id,
            row.rel_path,
            row.heuristic_rule,
            row.heuristic_label,
            None if row.heuristic_confidence is None else float(row.heuristic_confidence),
            top3,
            nearest,
            name,
            user_label,
        )


def explain(
    settings: StorageSettings,
    folder_id: int,
    model: Any = None,
    *,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> Explanation:
    """Why the model says what it says about one folder (see :class:`Explainer`)."""
    return Explainer(settings, model).explain(folder_id, progress=progress, should_stop=should_stop)


