"""Test helper: score a stored prediction run against a label run and store the eval run.

The app and the CLI store evaluations through :mod:`engine.evaluation.store` when they make
them; tests use this to make an eval run out of predictions they wrote by hand.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from sqlalchemy import Engine, insert, select

from engine.core.jobs import UserError
from engine.core.taxonomy import label_names
from engine.evaluation.report import compute_report, scope_for
from engine.labels.runs import newest_label_run_id
from engine.storage import schema as S


def record_evaluation(
    training: Engine,
    prediction_run_id: int,
    *,
    label_run_id: int | None = None,
    split: str | None = None,
    labels: Sequence[str] | None = None,
) -> int:
    """Score a stored prediction run against a label run and store the eval run.

    The truth is the label run's labels (only ``split`` when given) on the folders the
    prediction run covers. The stored report is ``Report.to_dict()`` plus ``items`` (see
    the module docstring). Returns the new eval run's id.
    """
    with training.begin() as c:
        pr = c.execute(select(S.prediction_runs).where(S.prediction_runs.c.id == prediction_run_id)).first()
        if pr is None:
            raise UserError(f"There is no prediction run {prediction_run_id}.")
        run_id = label_run_id if label_run_id is not None else (pr.label_run_id or newest_label_run_id(c))
        if run_id is None:
            raise UserError("No labels yet: label some folders before evaluating.")
        q = (
            select(S.predictions.c.folder_id, S.labels.c.label, S.predictions.c.label)
            .select_from(
                S.predictions.join(
                    S.labels,
                    (S.labels.c.folder_id == S.predictions.c.folder_id) & (S.labels.c.label_run_id == run_id),
                )
            )
            .where(S.predictions.c.prediction_run_id == prediction_run_id)
            .order_by(S.predictions.c.folder_id)
        )
        if split is not None:
            q = q.where(S.labels.c.split == split)
        rows = c.execute(q).all()
        if not rows:
            where = f" in the {split} split" if split else ""
            raise UserError(
                f"Prediction run {prediction_run_id} has no folders labelled in label run {run_id}{where}; "
                "nothing to score."
            )
        report = compute_report([r[1] for r in rows], [r[2] for r in rows], labels or label_names())
        report.scope = scope_for(pr.kind, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        data = report.to_dict()
        data["items"] = [[r[0], r[1], r[2]] for r in rows]
        return c.execute(
            insert(S.eval_runs).values(
                prediction_run_id=prediction_run_id,
                model_id=pr.model_id,
                kind=pr.kind,
                label_run_id=run_id,
                split=split,
                created_at=time.time(),
                n=report.n,
                macro_f1=report.macro_f1,
                report=json.dumps(data),
                folder_set=report.scope.folder_set,
            )
        ).inserted_primary_key[0]


