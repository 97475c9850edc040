"""Reading evaluation results back: the runs, one run's report, the folders behind a
confusion-matrix cell, what the user relabelled since, two runs compared, and exports.

The desktop results panel and any script use the same functions; none of them imports
Qt. An eval run (``eval_runs``) points at a prediction run (``prediction_runs`` +
``predictions``) and at the label run whose labels were the truth. The folders behind a
cell are "truth T, prediction P" over that pair.

Why the truth is also kept inside the report: the user keeps relabelling after a run
(that is the point of the drill-down), and the app may write those corrections into the
very label run the eval used. Joining the labels *today* would then move folders between
cells and the list under a cell would no longer add up to the count drawn in it.
``record_evaluation`` (score a stored prediction run) and ``store_evaluation`` (store an
evaluation made in memory, e.g. training's held-out split, with its predictions) therefore
store, next to ``Report.to_dict()``, an ``items`` list ``[[folder_id, true, predicted], ...]``
(an additive key: ``Report.from_dict`` ignores it). For eval runs stored without it, the
join is used and the answer says so; for one stored without any predictions, the matrix
is still drawn and the drill-down says why it cannot list folders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from engine.core.jobs import UserError
from engine.evaluation.report import Report, ScoredOn, headline, verdict
from engine.labels.runs import newest_label_run_id
from engine.storage import schema as S

_BATCH = 500  # SQLite's bound-parameter limit is 999 on old builds; stay well below
NO_FOLDERS_NOTE = (
    "This evaluation was stored without its per-folder predictions, so the folders behind "
    "its cells cannot be listed. Run the model on the same labels ('model predict' with this "
    "model and the test split) to get a run you can drill into."
)


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class EvalRunInfo:
    """One row of the run history: what was evaluated, against what, and the score."""

    id: int
    created_at: float
    kind: str  # finetuned | baseline | zero_shot
    model_id: int | None
    model_name: str | None  # the model folder's name, when the model is known
    label_run_id: int | None
    split: str | None
    n: int
    macro_f1: float
    prediction_run_id: int | None
    folder_set: str | None = None  # fingerprint of the scored folders (None: stored before fsorg kept it)

    @property
    def date_text(self) -> str:
        return datetime.fromtimestamp(self.created_at).strftime("%Y-%m-%d %H:%M")

    @property
    def model_text(self) -> str:
        """How a person names the model: its folder, else the kind (baseline, zero-shot)."""
        kind = self.kind.replace("_", "-")
        return f"{kind} · {self.model_name}" if self.model_name else kind

    @property
    def split_text(self) -> str:
        return self.split or "all labelled"

    @property
    def title(self) -> str:
        return f"Run {self.id} · {self.model_text} · {self.split_text} · {self.date_text}"


@dataclass(frozen=True)
class EvalItem:
    """One evaluated folder: its truth when the run was scored and the model's answer."""

    folder_id: int
    true_label: str
    predicted: str


@dataclass(frozen=True)
class EvalRun:
    """One eval run loaded for display."""

    info: EvalRunInfo
    report: Report
    items: list[EvalItem]
    items_exact: bool  # True when the truth was recorded with the run (not re-joined today)
    changes: list[LabelChange] = field(default_factory=list)  # relabelled since the run

    @property
    def verdict(self) -> tuple[str, str]:
        return verdict(self.report.macro_f1)

    @property
    def headline(self) -> str:
        """The same words the CLI prints for this evaluation (:func:`engine.evaluation.report.headline`)."""
        scope = self.report.scope or ScoredOn(self.info.kind, self.report.n, held_out=None)
        return headline(self.report, scope)


@dataclass(frozen=True)
class LabelChange:
    folder_id: int
    rel_path: str
    label_at_run: str
    label_now: str | None  # None: the label was cleared


@dataclass(frozen=True)
class DrillRow:
    """A folder behind a cell, as the drill-down list shows it."""

    folder_id: int
    rel_path: str
    label_at_run: str
    predicted: str
    confidence: float | None
    label_now: str | None

    @property
    def changed(self) -> bool:
        return self.label_now != self.label_at_run


@dataclass(frozen=True)
class DrillDown:
    eval_run_id: int
    true_label: str | None  # None: any
    predicted: str | None  # None: any
    rows: list[DrillRow]
    note: str | None = None  # shown above the list when the answer is approximate

    @property
    def title(self) -> str:
        t = self.true_label or "any"
        p = self.predicted or "any"
        n = len(self.rows)
        return f"{t} -> {p} : {n} folder{'s' if n != 1 else ''}"


# ----------------------------------------------------------------------------- helpers


def _chunks(ids: Sequence[int]) -> Iterable[list[int]]:
    ids = list(ids)
    for i in range(0, len(ids), _BATCH):
        yield ids[i : i + _BATCH]


def _info(row, model_paths: dict[int, str | None]) -> EvalRunInfo:
    path = model_paths.get(row.model_id) if row.model_id is not None else None
    return EvalRunInfo(
        id=row.id,
        created_at=row.created_at,
        kind=row.kind,
        model_id=row.model_id,
        model_name=Path(path).name if path else None,
        label_run_id=row.label_run_id,
        split=row.split,
        n=row.n,
        macro_f1=row.macro_f1,
        prediction_run_id=row.prediction_run_id,
        folder_set=getattr(row, "folder_set", None),
    )


def _model_paths(c: Connection, ids: Iterable[int | None]) -> dict[int, str | None]:
    wanted = sorted({i for i in ids if i is not None})
    out: dict[int, str | None] = {}
    for chunk in _chunks(wanted):
        out.update(c.execute(select(S.models.c.id, S.models.c.path).where(S.models.c.id.in_(chunk))).all())
    return out


def _labels_now(c: Connection, run_id: int | None, folder_ids: Sequence[int]) -> dict[int, str]:
    """The label of each folder in label run ``run_id``. A folder the run does not know by
    id is looked up by its relative path: after a rescan the app labels the new snapshot's
    folder (a new id) and drops the old one from its working run, and that is a relabel of
    the same folder, not a cleared label."""
    if run_id is None:
        return {}
    out: dict[int, str] = {}
    for chunk in _chunks(folder_ids):
        out.update(
            c.execute(
                select(S.labels.c.folder_id, S.labels.c.label).where(
                    S.labels.c.label_run_id == run_id, S.labels.c.folder_id.in_(chunk)
                )
            ).all()
        )
    missing = [f for f in folder_ids if f not in out]
    if missing:
        path_of: dict[int, str] = {}
        for chunk in _chunks(missing):
            for fid, path in c.execute(
                select(S.labels.c.folder_id, S.labels.c.rel_path).where(S.labels.c.folder_id.in_(chunk))
            ).all():
                path_of.setdefault(fid, path)
        by_path: dict[str, str] = {}
        paths = sorted(set(path_of.values()))
        for i in range(0, len(paths), _BATCH):
            by_path.update(
                c.execute(
                    select(S.labels.c.rel_path, S.labels.c.label)
                    .where(S.labels.c.label_run_id == run_id, S.labels.c.rel_path.in_(paths[i : i + _BATCH]))
                    .order_by(S.labels.c.updated_at)
                ).all()
            )
        for fid, path in path_of.items():
            if path in by_path:
                out[fid] = by_path[path]
    return out


def folder_paths(index: Engine | None, training: Connection, folder_ids: Sequence[int]) -> dict[int, str]:
    """``rel_path`` per folder id: index.db first (what is on disk now), then the labels'
    own copy of the path (a folder gone from the index after a rescan keeps its name)."""
    out: dict[int, str] = {}
    ids = list(dict.fromkeys(folder_ids))
    if index is not None:
        with index.connect() as ic:
            for chunk in _chunks(ids):
                out.update(
                    ic.execute(
                        select(S.folders.c.id, S.folders.c.rel_path).where(S.folders.c.id.in_(chunk))
                    ).all()
                )
    missing = [i for i in ids if i not in out]
    for chunk in _chunks(missing):
        for fid, path in training.execute(
            select(S.labels.c.folder_id, S.labels.c.rel_path).where(S.labels.c.folder_id.in_(chunk))
        ).all():
            out.setdefault(fid, path)
    return out


def _eval_row(c: Connection, eval_run_id: int):
    row = c.execute(select(S.eval_runs).where(S.eval_runs.c.id == eval_run_id)).first()
    if row is None:
        raise UserError(
            f"There is no evaluation run {eval_run_id}. It may have been deleted; refresh the list."
        )
    return row


def _parse_report(row) -> tuple[Report, list[EvalItem] | None]:
    try:
        data = json.loads(row.report)
        report = Report.from_dict(data)
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"Evaluation run {row.id} has an unreadable report ({e}).") from None
    items = data.get("items")
    if items is None:
        return report, None
    return report, [EvalItem(int(f), str(t), str(p)) for f, t, p in items]


def _joined_items(c: Connection, row) -> list[EvalItem]:
    """The evaluated folders re-derived from the prediction run and the label run as they
    are now (for eval runs stored without ``items``)."""
    if row.prediction_run_id is None or row.label_run_id is None:
        return []
    q = (
        select(S.predictions.c.folder_id, S.labels.c.label, S.predictions.c.label, S.labels.c.split)
        .select_from(
            S.predictions.join(
                S.labels,
                (S.labels.c.folder_id == S.predictions.c.folder_id)
                & (S.labels.c.label_run_id == row.label_run_id),
            )
        )
        .where(S.predictions.c.prediction_run_id == row.prediction_run_id)
        .order_by(S.predictions.c.folder_id)
    )
    rows = c.execute(q).all()
    in_split = [r for r in rows if row.split is None or r[3] == row.split]
    # A split the labels never recorded (training split in memory): the prediction run
    # itself is then the evaluated set.
    chosen = in_split if in_split and (len(in_split) == row.n or len(rows) != row.n) else rows
    return [EvalItem(r[0], r[1], r[2]) for r in chosen]


def _current_run(c: Connection, current_label_run_id: int | None) -> int | None:
    return current_label_run_id if current_label_run_id is not None else newest_label_run_id(c)


# ----------------------------------------------------------------------------- queries


def list_eval_runs(training: Engine) -> list[EvalRunInfo]:
    """Every eval run, oldest first (the history's x axis)."""
    cols = [c for c in S.eval_runs.c if c.name != "report"]  # the JSON is not needed for a list
    with training.connect() as c:
        rows = c.execute(select(*cols).order_by(S.eval_runs.c.created_at, S.eval_runs.c.id)).all()
        paths = _model_paths(c, (r.model_id for r in rows))
    return [_info(r, paths) for r in rows]


def load_eval_run(
    training: Engine,
    eval_run_id: int,
    *,
    index: Engine | None = None,
    current_label_run_id: int | None = None,
) -> EvalRun:
    """One run with its report, its evaluated folders and what was relabelled since."""
    with training.connect() as c:
        row = _eval_row(c, eval_run_id)
        report, items = _parse_report(row)
        exact = items is not None
        if items is None:
            items = _joined_items(c, row)
        info = _info(row, _model_paths(c, [row.model_id]))
        changes = _changes(c, index, items, _current_run(c, current_label_run_id))
    return EvalRun(info=info, report=report, items=items, items_exact=exact, changes=changes)


def _changes(
    c: Connection, index: Engine | None, items: list[EvalItem], run_id: int | None
) -> list[LabelChange]:
    if run_id is None:
        return []
    now = _labels_now(c, run_id, [it.folder_id for it in items])
    changed = [it for it in items if now.get(it.folder_id) != it.true_label]
    paths = folder_paths(index, c, [it.folder_id for it in changed])
    return [
        LabelChange(
            it.folder_id, paths.get(it.folder_id, f"#{it.folder_id}"), it.true_label, now.get(it.folder_id)
        )
        for it in changed
    ]


def changes_since(
    training: Engine,
    eval_run_id: int,
    *,
    index: Engine | None = None,
    current_label_run_id: int | None = None,
) -> list[LabelChange]:
    """Evaluated folders whose label today differs from the truth the run was scored on:
    the user's corrections, which a retrain would learn from."""
    return load_eval_run(
        training, eval_run_id, index=index, current_label_run_id=current_label_run_id
    ).changes


def folders_for_cell(
    training: Engine,
    eval_run_id: int,
    true_label: str | None,
    predicted: str | None,
    *,
    index: Engine | None = None,
    current_label_run_id: int | None = None,
) -> DrillDown:
    """The folders behind one confusion-matrix cell (or one error line): truth
    ``true_label`` when the run was scored, predicted ``predicted``. ``None`` matches any.
    Sorted by confidence, most confident first: a confident mistake is the likeliest
    wrong label, a hesitant one the likeliest hard case."""
    with training.connect() as c:
        row = _eval_row(c, eval_run_id)
        _report, items = _parse_report(row)
        note = None
        if items is None:
            items = _joined_items(c, row)
            note = (
                "This run did not record its labels; the list uses the labels as they are now, "
                "so it may differ from the count in the cell."
                if items
                else NO_FOLDERS_NOTE
            )
        chosen = [
            it
            for it in items
            if (true_label is None or it.true_label == true_label)
            and (predicted is None or it.predicted == predicted)
        ]
        ids = [it.folder_id for it in chosen]
        conf: dict[int, float] = {}
        if row.prediction_run_id is not None:
            for chunk in _chunks(ids):
                conf.update(
                    c.execute(
                        select(S.predictions.c.folder_id, S.predictions.c.confidence).where(
                            S.predictions.c.prediction_run_id == row.prediction_run_id,
                            S.predictions.c.folder_id.in_(chunk),
                        )
                    ).all()
                )
        now = _labels_now(c, _current_run(c, current_label_run_id), ids)
        paths = folder_paths(index, c, ids)
    rows = [
        DrillRow(
            folder_id=it.folder_id,
            rel_path=paths.get(it.folder_id, f"#{it.folder_id}"),
            label_at_run=it.true_label,
            predicted=it.predicted,
            confidence=conf.get(it.folder_id),
            label_now=now.get(it.folder_id),
        )
        for it in chosen
    ]
    rows.sort(key=lambda r: (-(r.confidence if r.confidence is not None else -1.0), r.rel_path))
    return DrillDown(eval_run_id, true_label, predicted, rows, note)
