"""Issue 7 item 6 on a real eval run: a tiny real training (the packaged MiniLM body,
two fine-tuning steps) on a small scanned library, then the trained model predicts the
test split. The panel must draw the stored matrix, list exactly the folders behind a
cell, and relabel from the drill-down through the LabelController, undoably.

Slow (loads torch and the sentence model): ``scripts/dev.sh test-slow`` or
``pytest -m slow tests/test_results_training.py``.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from engine.core.config import PredictConfig, TrainConfig
from engine.core.jobs import never_stop, no_progress
from engine.core.taxonomy import label_names
from engine.evaluation.queries import load_eval_run
from engine.labels import saving
from engine.labels.runs import load_labels
from engine.storage import schema as S
from fsorg_desktop.jobs import JobRunner
from fsorg_desktop.label_controller import LabelController
from tests.eval_helpers import record_evaluation
from tests.results_support import build_library
from tests.test_results_view import TIMEOUT, _click_cell, _open, _panel, _settle

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Scan, extract features, train (tiny), predict the test split: real engine calls."""
    from engine.features.extract import extract_features
    from engine.models.prediction import predict
    from engine.models.training import train_model

    tmp = tmp_path_factory.mktemp("results-training")
    lib = build_library(tmp)
    extract_features(lib.dbs, lib.snapshot_id)
    settings = lib.dbs.settings
    # The head keeps its test split unseen (no refit on all labels), so predicting the test split
    # scores folders this model never learned from and makes an eval run to drill into.
    cfg = TrainConfig(max_steps=2, batch_size=8, num_epochs=1, refit_on_all_labels=False)
    tr = train_model(
        settings,
        cfg,
        label_run_id=lib.label_run_id,
        model_path=tmp / "models" / "tiny",
        progress=no_progress,
        should_stop=never_stop,
    )
    pr = predict(
        settings,
        PredictConfig(labeled_only=True),
        model_path=tr.model_path,
        label_run_id=lib.label_run_id,
        split="test",
        progress=no_progress,
        should_stop=never_stop,
    )
    assert tr.eval_run_id is not None and pr.eval_run_id is not None
    yield lib, tr, pr
    lib.dbs.dispose()


def _truth_and_predictions(lib, prediction_run_id) -> dict[int, tuple[str, str]]:
    """Independently of engine.evaluation.store: folder -> (label in the test split, prediction)."""
    with lib.dbs.training.connect() as c:
        preds = dict(
            c.execute(
                select(S.predictions.c.folder_id, S.predictions.c.label).where(
                    S.predictions.c.prediction_run_id == prediction_run_id
                )
            ).all()
        )
    truth = {r.folder_id: r.label for r in load_labels(lib.dbs.training, lib.label_run_id, split="test")}
    return {f: (truth[f], p) for f, p in preds.items() if f in truth}


def test_real_eval_runs_drill_down_and_relabel(qtbot, trained):
    lib, tr, pr = trained
    runner = JobRunner()
    run_id, labels = saving.labels_for_snapshot(lib.dbs.settings, lib.snapshot_id)
    ctl = LabelController(lib.dbs, lib.snapshot_id, labels, run_id=run_id, runner=runner)
    try:
        panel = _panel(qtbot, lib, ctl, runner)
        # The training's own held-out report: drawn exactly as stored.
        _open(qtbot, panel, tr.eval_run_id)
        with lib.dbs.training.connect() as c:
            stored = json.loads(
                c.execute(select(S.eval_runs.c.report).where(S.eval_runs.c.id == tr.eval_run_id)).scalar()
            )
        assert panel.heatmap.counts() == stored["confusion"]
        assert [[int(t) for t in row] for row in panel.heatmap.cell_texts()] == stored["confusion"]

        # The trained model's prediction run on the test split: drill down to its folders.
        _open(qtbot, panel, pr.eval_run_id)
        with lib.dbs.training.connect() as c:
            stored = json.loads(
                c.execute(select(S.eval_runs.c.report).where(S.eval_runs.c.id == pr.eval_run_id)).scalar()
            )
        assert panel.heatmap.counts() == stored["confusion"]
        pairs = _truth_and_predictions(lib, pr.prediction_run_id)
        assert Counter(pairs.values()) == Counter(
            {
                (t, p): n
                for i, t in enumerate(stored["labels"])
                for j, p in enumerate(stored["labels"])
                if (n := stored["confusion"][i][j])
            }
        )
        # The biggest cell off the diagonal if the model erred, else the biggest cell.
        labels_ = stored["labels"]
        cells = [(n, i, j) for i, row in enumerate(stored["confusion"]) for j, n in enumerate(row) if n]
        errors = [c for c in cells if c[1] != c[2]]
        n, i, j = max(errors or cells)
        drill = _click_cell(qtbot, panel, i, j)
        want = {f for f, tp in pairs.items() if tp == (labels_[i], labels_[j])}
        assert {r.folder_id for r in drill.rows} == want and len(want) == n

        # Relabel the first listed folder with the key of another label, then undo.
        names = list(label_names())
        new = next(lb for lb in reversed(names) if lb != labels_[i])
        key = getattr(Qt.Key, f"Key_{names.index(new) + 1}")
        _settle(qtbot, panel)
        fid = panel.drill_model.rows()[panel.drill_view.source_row(0)].folder_id
        panel.drill_view.select_row(0)
        with qtbot.waitSignal(ctl.saved, timeout=TIMEOUT):
            qtbot.keyClick(panel.drill_view, key)
        runner.drain()
        saved = {r.folder_id: r.label for r in load_labels(lib.dbs.training, ctl.run_id)}
        assert saved[fid] == new
        assert panel.changes_since_run()[fid] == new  # listed as changed since the run
        assert next(r for r in panel.drill_model.rows() if r.folder_id == fid).changed
        with qtbot.waitSignal(ctl.saved, timeout=TIMEOUT):
            ctl.undo_stack.undo()
        runner.drain()
        assert {r.folder_id: r.label for r in load_labels(lib.dbs.training, ctl.run_id)}[fid] == labels_[i]
        assert fid not in panel.changes_since_run()

        # The same prediction run scored by engine.evaluation.store keeps its truth with it.
        exact = record_evaluation(
            lib.dbs.training, pr.prediction_run_id, label_run_id=lib.label_run_id, split="test"
        )
        assert load_eval_run(lib.dbs.training, exact).report.confusion == stored["confusion"]
    finally:
        runner.cancel_all()
        runner.wait(5000)
