"""Two evaluation runs side by side, and which runs History may connect: like with like.

A difference between two Macro F1 figures means "the model got better" only when both were
measured on the same folders. Runs store a fingerprint of their scored folders
(``eval_runs.folder_set``); :func:`compare_runs` refuses to subtract runs with different
fingerprints and says why instead (:func:`apart_reason`), and :func:`history_lines` groups the
runs History may join with a line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from engine.core.taxonomy import label_names
from engine.evaluation.report import Report

if TYPE_CHECKING:
    from engine.evaluation.queries import EvalRunInfo


@dataclass(frozen=True)
class ClassDelta:
    label: str
    old_f1: float | None  # None: the class was not in the old run's test set
    new_f1: float | None
    old_support: int
    new_support: int

    @property
    def delta(self) -> float | None:
        if self.old_f1 is None or self.new_f1 is None:
            return None
        return self.new_f1 - self.old_f1


@dataclass(frozen=True)
class Comparison:
    old: EvalRunInfo
    new: EvalRunInfo
    old_report: Report
    new_report: Report
    per_class: list[ClassDelta]
    same_test_set: bool | None  # None: cannot tell (an eval run without recorded items)
    notes: list[str]
    refused: str | None = None  # why the two runs are not subtracted (scored on different folders)

    @property
    def comparable(self) -> bool:
        return self.refused is None

    @property
    def macro_f1_delta(self) -> float:
        return self.new_report.macro_f1 - self.old_report.macro_f1

    @property
    def accuracy_delta(self) -> float:
        return self.new_report.accuracy - self.old_report.accuracy


def compare_runs(training: Engine, old_id: int, new_id: int) -> Comparison:
    """Two runs side by side: Macro F1 and per-class F1 deltas, and whether the two
    scores were measured on the same folders (otherwise a delta mixes model change
    with test-set change, and the notes say so)."""
    from engine.evaluation.queries import _eval_row, _info, _model_paths, _parse_report

    with training.connect() as c:
        rows = [_eval_row(c, old_id), _eval_row(c, new_id)]
        paths = _model_paths(c, (r.model_id for r in rows))
        (old_rep, old_items), (new_rep, new_items) = (_parse_report(r) for r in rows)
    old, new = (_info(r, paths) for r in rows)
    order = list(dict.fromkeys([*label_names(), *old_rep.labels, *new_rep.labels]))
    deltas = []
    for lb in order:
        o, n = old_rep.per_class.get(lb), new_rep.per_class.get(lb)
        o_sup, n_sup = (o.support if o else 0), (n.support if n else 0)
        if not o_sup and not n_sup:
            continue
        deltas.append(
            ClassDelta(lb, o.f1 if o and o_sup else None, n.f1 if n and n_sup else None, o_sup, n_sup)
        )
    notes: list[str] = []
    same: bool | None
    if old.folder_set and new.folder_set:
        same = old.folder_set == new.folder_set
    elif old_items is not None and new_items is not None:
        same = {i.folder_id for i in old_items} == {i.folder_id for i in new_items}
    else:
        same = None
    refused = None
    if same is False or (same is None and (old.n != new.n or old.split != new.split)):
        refused = apart_reason(old, new, old_rep, new_rep)
        return Comparison(old, new, old_rep, new_rep, [], same, [refused], refused)
    if old.label_run_id != new.label_run_id:
        notes.append(
            f"Label run {old.label_run_id} vs {new.label_run_id}: corrected labels change the answer key too."
        )
    return Comparison(old, new, old_rep, new_rep, deltas, same, notes, refused)


def _scored_on_text(info: EvalRunInfo, rep: Report) -> str:
    s = rep.scope
    if s is None:
        return f"{info.n} {info.split_text} folders"
    if s.held_out is False:
        return f"{s.n} labelled folders, {s.n_learned_from} of which its model learned from"
    return f"{s.n} {s.where}"


def apart_reason(old: EvalRunInfo, new: EvalRunInfo, old_rep: Report | None = None, new_rep: Report | None = None) -> str:
    """Why two runs are shown apart: they were scored on different folders."""
    o = _scored_on_text(old, old_rep) if old_rep is not None else f"{old.n} {old.split_text} folders"
    n = _scored_on_text(new, new_rep) if new_rep is not None else f"{new.n} {new.split_text} folders"
    return (
        f"Not compared: run {old.id} was scored on {o} and run {new.id} on {n}, different folders. "
        "A difference would mix the change of model with the change of folders. Compare runs scored on "
        "the same folders (e.g. the baseline and the fine-tuned model that 'model train' scores on its "
        "held-out folders)."
    )


def history_lines(runs: Sequence[EvalRunInfo]) -> list[list[EvalRunInfo]]:
    """The runs History may connect with a line: those scored on the same folders (equal
    ``folder_set``), oldest first, in groups of two or more. Runs in no group stand apart."""
    groups: dict[str, list[EvalRunInfo]] = {}
    for r in runs:
        if r.folder_set:
            groups.setdefault(r.folder_set, []).append(r)
    return [sorted(g, key=lambda r: (r.created_at, r.id)) for g in groups.values() if len(g) > 1]


