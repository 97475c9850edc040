"""engine.evaluation.store without Qt: storing an eval run, the folders behind a cell, what
changed since a run, comparing two runs, exports. A real scanned library in a fresh
data folder per test (tests/results_support.py)."""

from __future__ import annotations

import csv
import json

import pytest
from sqlalchemy import insert, select

from engine.core.jobs import UserError
from engine.core.taxonomy import label_names
from engine.evaluation.compare import compare_runs
from engine.evaluation.export import export_csv, export_json
from engine.evaluation.queries import (
    NO_FOLDERS_NOTE,
    changes_since,
    folders_for_cell,
    list_eval_runs,
    load_eval_run,
)
from engine.evaluation.report import Report, compute_report
from engine.evaluation.store import store_evaluation
from engine.labels.runs import LabelRow, create_label_run, set_labels
from engine.storage import schema as S
from tests.eval_helpers import record_evaluation
from tests.results_support import LIBRARY, add_prediction_run, build_library, expected_cell, make_eval


@pytest.fixture
def lib(tmp_path):
    lib = build_library(tmp_path)
    yield lib
    lib.dbs.dispose()


def _stored(lib, eval_id) -> dict:
    with lib.dbs.training.connect() as c:
        return json.loads(c.execute(select(S.eval_runs.c.report).where(S.eval_runs.c.id == eval_id)).scalar())


def test_record_evaluation_stores_the_report_and_the_truth(lib):
    eval_id = make_eval(lib)
    stored = _stored(lib, eval_id)
    want = compute_report(
        [t for t, _p, _c in LIBRARY.values()], [p for _t, p, _c in LIBRARY.values()], label_names()
    )
    back = Report.from_dict(stored)
    assert back.scope is not None and back.scope.n == len(LIBRARY) and back.scope.kind == "finetuned"
    want.scope = back.scope  # what the figure was measured on travels with it
    assert back.to_dict() == want.to_dict()
    assert stored["confusion"] == want.confusion
    assert {(f, t, p) for f, t, p in stored["items"]} == {
        (lib.fid(rel), t, p) for rel, (t, p, _c) in LIBRARY.items()
    }
    runs = list_eval_runs(lib.dbs.training)
    assert [r.id for r in runs] == [eval_id]
    assert runs[0].model_name == "my_classifier" and runs[0].n == len(LIBRARY)
    assert runs[0].macro_f1 == pytest.approx(want.macro_f1)


def test_split_filter_scores_only_that_split(lib):
    eval_id = make_eval(lib, split="test")
    run = load_eval_run(lib.dbs.training, eval_id, index=lib.dbs.index)
    test_rels = [rel for i, rel in enumerate(LIBRARY) if i % 4 != 3]
    assert run.report.n == len(test_rels) == len(run.items)
    assert {it.folder_id for it in run.items} == {lib.fid(r) for r in test_rels}
    assert run.info.split == "test"


def test_every_cell_lists_exactly_its_folders(lib):
    eval_id = make_eval(lib)
    report = load_eval_run(lib.dbs.training, eval_id).report
    for i, t in enumerate(report.labels):
        for j, p in enumerate(report.labels):
            drill = folders_for_cell(lib.dbs.training, eval_id, t, p, index=lib.dbs.index)
            assert {r.rel_path for r in drill.rows} == expected_cell(LIBRARY, t, p)
            assert len(drill.rows) == report.confusion[i][j]
            assert drill.note is None
    drill = folders_for_cell(
        lib.dbs.training, eval_id, "descriptor", "content_subject", index=lib.dbs.index
    )
    # Most confident first, with the prediction run's confidences.
    assert [r.confidence for r in drill.rows] == [0.71, 0.66, 0.58]
    assert all(r.label_now == "descriptor" and not r.changed for r in drill.rows)
    # None matches any: a whole true class.
    everything = folders_for_cell(lib.dbs.training, eval_id, "descriptor", None)
    assert len(everything.rows) == sum(1 for t, _p, _c in LIBRARY.values() if t == "descriptor")


def test_cells_stay_exact_when_the_scored_label_run_is_edited(lib):
    """The app edits its working run in place; the run's cells must not drift."""
    eval_id = make_eval(lib)
    night = lib.fid("Tom Cartos/Forest Camp/night")
    with lib.dbs.training.begin() as c:
        set_labels(
            c,
            lib.label_run_id,
            [LabelRow(night, lib.snapshot_id, "Tom Cartos/Forest Camp/night", "content_subject")],
        )
    drill = folders_for_cell(
        lib.dbs.training, eval_id, "descriptor", "content_subject", index=lib.dbs.index
    )
    assert len(drill.rows) == 3
    row = next(r for r in drill.rows if r.folder_id == night)
    assert (row.label_at_run, row.label_now, row.changed) == ("descriptor", "content_subject", True)
    changes = changes_since(lib.dbs.training, eval_id, index=lib.dbs.index)
    assert [(c.folder_id, c.label_at_run, c.label_now) for c in changes] == [
        (night, "descriptor", "content_subject")
    ]
    assert changes[0].rel_path == "Tom Cartos/Forest Camp/night"


def test_changes_since_follow_the_newest_label_run(lib):
    eval_id = make_eval(lib)
    a, b = lib.fid("xx_tmp"), lib.fid("Cze and Peku")
    with lib.dbs.training.begin() as c:
        new_run = create_label_run(
            c, labeler="u", source="app", snapshot_id=lib.snapshot_id, carry_over_from=lib.label_run_id
        )
        set_labels(c, new_run, [LabelRow(a, lib.snapshot_id, "xx_tmp", "other")])
        c.execute(S.labels.delete().where(S.labels.c.label_run_id == new_run, S.labels.c.folder_id == b))
    changes = {c.folder_id: c.label_now for c in changes_since(lib.dbs.training, eval_id)}
    assert changes == {a: "other", b: None}
    # An explicit label run: the one that was scored has no changes.
    assert changes_since(lib.dbs.training, eval_id, current_label_run_id=lib.label_run_id) == []


def test_eval_run_without_recorded_truth_falls_back_to_the_join(lib):
    """Eval runs stored as plain Report.to_dict() (no ``items``) still drill down."""
    pr = add_prediction_run(lib, {rel: (p, c) for rel, (_t, p, c) in LIBRARY.items()})
    rep = compute_report(
        [t for t, _p, _c in LIBRARY.values()], [p for _t, p, _c in LIBRARY.values()], label_names()
    )
    with lib.dbs.training.begin() as c:
        eval_id = c.execute(
            insert(S.eval_runs).values(
                prediction_run_id=pr,
                kind="finetuned",
                label_run_id=lib.label_run_id,
                split=None,
                created_at=1.0,
                n=rep.n,
                macro_f1=rep.macro_f1,
                report=json.dumps(rep.to_dict()),
            )
        ).inserted_primary_key[0]
    drill = folders_for_cell(
        lib.dbs.training, eval_id, "descriptor", "content_subject", index=lib.dbs.index
    )
    assert {r.rel_path for r in drill.rows} == expected_cell(LIBRARY, "descriptor", "content_subject")
    assert drill.note and "did not record" in drill.note
    run = load_eval_run(lib.dbs.training, eval_id)
    assert not run.items_exact and len(run.items) == rep.n


def test_compare_runs_deltas_and_notes(lib):
    old = make_eval(lib, kind="baseline", model_path=None)
    better = dict(LIBRARY)
    for rel in ("Tom Cartos/Forest Camp/night", "Tom Cartos/Forest Camp/winter"):
        t, _p, conf = better[rel]
        better[rel] = (t, t, conf)
    new = make_eval(lib, better)
    cmp = compare_runs(lib.dbs.training, old, new)
    o, n = load_eval_run(lib.dbs.training, old).report, load_eval_run(lib.dbs.training, new).report
    assert cmp.macro_f1_delta == pytest.approx(n.macro_f1 - o.macro_f1) and cmp.macro_f1_delta > 0
    by = {d.label: d for d in cmp.per_class}
    assert by["descriptor"].delta == pytest.approx(
        n.per_class["descriptor"].f1 - o.per_class["descriptor"].f1
    )
    assert by["descriptor"].delta > 0
    assert by["asset_type"].delta == pytest.approx(0.0)
    assert cmp.same_test_set is True and cmp.notes == []
    assert (cmp.old.kind, cmp.new.kind) == ("baseline", "finetuned")

    # Runs scored on different folders are not subtracted: shown apart, with the reason.
    split_run = make_eval(lib, split="test")
    cmp2 = compare_runs(lib.dbs.training, old, split_run)
    assert cmp2.same_test_set is False and not cmp2.comparable and cmp2.per_class == []
    assert "different folders" in cmp2.refused and cmp2.notes == [cmp2.refused]
    from engine.evaluation.compare import history_lines
    from engine.evaluation.queries import list_eval_runs

    lines = history_lines(list_eval_runs(lib.dbs.training))
    assert [[r.id for r in g] for g in lines] == [[old, new]]  # split_run stands apart


def test_unknown_run_is_a_user_error(lib):
    with pytest.raises(UserError, match="no evaluation run 404"):
        load_eval_run(lib.dbs.training, 404)
    with pytest.raises(UserError, match="no prediction run"):
        record_evaluation(lib.dbs.training, 999)


def test_exports_are_written_and_read_back(lib, tmp_path):
    eval_id = make_eval(lib)
    run = load_eval_run(lib.dbs.training, eval_id, index=lib.dbs.index)
    paths = export_csv(run, tmp_path / "out" / "report.csv")
    assert [p.name for p in paths] == ["report.csv", "report_confusion.csv"]
    with open(paths[0], encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    per_class = {r[0]: r for r in rows[1:7]}
    for lb, s in run.report.per_class.items():
        assert float(per_class[lb][3]) == pytest.approx(s.f1, abs=1e-4)
        assert int(per_class[lb][4]) == s.support
    assert float(rows[7][3]) == pytest.approx(run.report.macro_f1, abs=1e-4)
    with open(paths[1], encoding="utf-8", newline="") as fh:
        matrix = list(csv.reader(fh))
    assert matrix[0][1:] == run.report.labels
    assert [[int(v) for v in r[1:]] for r in matrix[1:]] == run.report.confusion

    jpath = export_json(run, tmp_path / "out" / "report.json")
    data = json.loads(jpath.read_text(encoding="utf-8"))
    assert data["eval_run"]["id"] == eval_id
    assert Report.from_dict(data["report"]).confusion == run.report.confusion
    assert data["report"]["decision"] == run.report.decision
    assert not list((tmp_path / "out").glob(".*.tmp"))


def test_a_relabel_after_a_rescan_is_matched_by_path(lib):
    """After a rescan the working run holds the new snapshot's folder id for the same path."""
    eval_id = make_eval(lib)
    old = lib.fid("xx_tmp")
    with lib.dbs.training.begin() as c:
        new_run = create_label_run(
            c, labeler="u", source="app", snapshot_id=lib.snapshot_id + 1, carry_over_from=lib.label_run_id
        )
        c.execute(S.labels.delete().where(S.labels.c.label_run_id == new_run, S.labels.c.folder_id == old))
        set_labels(c, new_run, [LabelRow(old + 10_000, lib.snapshot_id + 1, "xx_tmp", "other")])
    changes = changes_since(lib.dbs.training, eval_id)
    assert [(ch.folder_id, ch.label_now) for ch in changes] == [(old, "other")]


def test_eval_run_without_predictions_says_why_nothing_is_listed(lib):
    rep = compute_report(["descriptor", "other"], ["other", "other"], label_names())
    with lib.dbs.training.begin() as c:
        eval_id = c.execute(
            insert(S.eval_runs).values(
                prediction_run_id=None,
                kind="finetuned",
                label_run_id=lib.label_run_id,
                split="test",
                created_at=1.0,
                n=rep.n,
                macro_f1=rep.macro_f1,
                report=json.dumps(rep.to_dict()),
            )
        ).inserted_primary_key[0]
    drill = folders_for_cell(lib.dbs.training, eval_id, "descriptor", "other")
    assert drill.rows == [] and drill.note == NO_FOLDERS_NOTE
    assert load_eval_run(lib.dbs.training, eval_id).report.confusion == rep.confusion


def test_store_evaluation_keeps_the_folders_of_an_in_memory_evaluation(lib):
    """What training's held-out evaluation should store: drillable like a predict run."""
    import numpy as np

    names = list(label_names())
    rels = list(LIBRARY)
    probs = np.zeros((len(rels), len(names)), np.float32)
    for k, rel in enumerate(rels):
        _t, p, conf = LIBRARY[rel]
        probs[k] = (1 - conf) / (len(names) - 1)
        probs[k, names.index(p)] = conf
    with lib.dbs.training.begin() as c:
        _pr, eval_id = store_evaluation(
            c,
            kind="finetuned",
            model_id=None,
            label_run_id=lib.label_run_id,
            split="test",
            snapshot_id=lib.snapshot_id,
            labels=names,
            folder_ids=[lib.fid(r) for r in rels],
            y_true=[LIBRARY[r][0] for r in rels],
            probs=probs,
            extra={"title": "held-out"},
        )
    run = load_eval_run(lib.dbs.training, eval_id)
    assert run.items_exact and run.report.n == len(rels)
    assert _stored(lib, eval_id)["title"] == "held-out"
    drill = folders_for_cell(
        lib.dbs.training, eval_id, "descriptor", "content_subject", index=lib.dbs.index
    )
    assert {r.rel_path for r in drill.rows} == expected_cell(LIBRARY, "descriptor", "content_subject")
    assert [r.confidence for r in drill.rows] == pytest.approx([0.71, 0.66, 0.58])
    with pytest.raises(ValueError):
        with lib.dbs.training.begin() as c:
            store_evaluation(
                c,
                kind="finetuned",
                model_id=None,
                label_run_id=None,
                split=None,
                snapshot_id=lib.snapshot_id,
                labels=names,
                folder_ids=[1, 2],
                y_true=["other"],
                probs=probs[:2],
            )
