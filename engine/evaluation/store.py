"""Storing evaluations: an evaluation made in memory (with its per-folder predictions) becomes an eval run.

See :mod:`engine.evaluation.queries` for why the truth is kept inside the stored report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, delete, insert, select

from engine.core.leftovers import owner_alive
from engine.evaluation.report import ScoredOn, compute_report, scope_for
from engine.storage import schema as S

# ----------------------------------------------------------------------------- writing


def store_evaluation(
    conn: Connection,
    *,
    kind: str,
    model_id: int | None,
    label_run_id: int | None,
    split: str | None,
    snapshot_id: int,
    labels: Sequence[str],
    folder_ids: Sequence[int],
    y_true: Sequence[str],
    probs,
    extra: dict | None = None,
    scope: ScoredOn | None = None,
) -> tuple[int, int]:
    """Store an evaluation made in memory (training's held-out split) so it can be drilled
    into like any other: a prediction run with one prediction per evaluated folder (label =
    argmax of ``probs``, in ``labels`` order), and the eval run pointing at it, its report
    carrying ``items``. Runs inside the caller's transaction. Returns (prediction run id,
    eval run id).

    Why training should use this rather than inserting only an eval run: without the
    per-folder predictions the results panel can draw the matrix but cannot list the
    folders behind a cell, which is the whole point of the drill-down.
    """
    import numpy as np

    p = np.ascontiguousarray(probs, dtype=np.float32)
    if p.ndim != 2 or p.shape != (len(folder_ids), len(labels)) or len(y_true) != len(folder_ids):
        raise ValueError(
            f"store_evaluation: {len(folder_ids)} folders, {len(y_true)} truths, probs {p.shape}, "
            f"{len(labels)} labels"
        )
    top = p.argmax(axis=1)
    y_pred = [labels[k] for k in top]
    report = compute_report(list(y_true), y_pred, list(labels))
    report.scope = scope or scope_for(kind, folder_ids, y_true, y_pred)
    now = time.time()
    pr = conn.execute(
        insert(S.prediction_runs).values(
            model_id=model_id,
            kind=kind,
            snapshot_id=snapshot_id,
            label_run_id=label_run_id,
            labeled_only=True,
            split=split,
            labels=json.dumps(list(labels)),
            created_at=now,
            status="complete",
        )
    ).inserted_primary_key[0]
    if len(folder_ids):
        conn.execute(
            insert(S.predictions),
            [
                dict(
                    prediction_run_id=pr,
                    folder_id=int(f),
                    label=y_pred[i],
                    confidence=float(p[i, top[i]]),
                    probs=p[i].tobytes(),
                )
                for i, f in enumerate(folder_ids)
            ],
        )
    data = {**report.to_dict(), **(extra or {})}
    data["items"] = [[int(f), t, y] for f, t, y in zip(folder_ids, y_true, y_pred)]
    ev = conn.execute(
        insert(S.eval_runs).values(
            prediction_run_id=pr,
            model_id=model_id,
            kind=kind,
            label_run_id=label_run_id,
            split=split,
            created_at=now,
            n=report.n,
            macro_f1=report.macro_f1,
            report=json.dumps(data),
            folder_set=report.scope.folder_set,
        )
    ).inserted_primary_key[0]
    return pr, ev




def remove_dead_prediction_runs(training: Engine) -> list[int]:
    """Remove prediction runs a killed predict left ``running`` (and their rows); their owner
    ('pid@host') is gone. A live predict's run is left alone. Returns the removed ids."""
    with training.connect() as c:
        rows = c.execute(
            select(S.prediction_runs.c.id, S.prediction_runs.c.owner).where(S.prediction_runs.c.status == "running")
        ).all()
    dead = [r.id for r in rows if not owner_alive(r.owner)]
    if dead:
        with training.begin() as c:
            c.execute(delete(S.predictions).where(S.predictions.c.prediction_run_id.in_(dead)))
            c.execute(delete(S.prediction_runs).where(S.prediction_runs.c.id.in_(dead)))
    return dead
