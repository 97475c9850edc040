"""Shared builders for the results tests: a real scanned library, real label runs and
real prediction runs in a fresh data folder, scored with ``tests.eval_helpers.record_evaluation``.

Only the model is left out (the prediction run is written with chosen answers), so the
drill-down tests know exactly which folders sit in which cell. The slow test in
``test_results_training.py`` uses a real trained model instead.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select

from engine.core.settings import StorageSettings
from engine.core.taxonomy import label_names
from engine.labels.runs import LabelRow, create_label_run, set_labels
from engine.scan.gather import gather
from engine.storage import Databases
from engine.storage import schema as S
from tests.eval_helpers import record_evaluation

# rel_path -> (true label, predicted label, confidence)
LIBRARY: dict[str, tuple[str, str, float]] = {
    "Tom Cartos": ("creator_or_studio", "creator_or_studio", 0.93),
    "Tom Cartos/Forest Camp": ("content_subject", "content_subject", 0.81),
    "Tom Cartos/Forest Camp/Maps": ("asset_type", "asset_type", 0.97),
    "Tom Cartos/Forest Camp/night": ("descriptor", "content_subject", 0.66),
    "Tom Cartos/Forest Camp/winter": ("descriptor", "content_subject", 0.58),
    "Tom Cartos/Sunken City": ("content_subject", "content_subject", 0.77),
    "Tom Cartos/Sunken City/Tokens": ("asset_type", "asset_type", 0.95),
    "Tom Cartos/Sunken City/Dungeon": ("descriptor", "descriptor", 0.61),
    "Cze and Peku": ("creator_or_studio", "content_subject", 0.52),
    "Cze and Peku/Pirate Cove": ("content_subject", "content_subject", 0.88),
    "Cze and Peku/Pirate Cove/Assets": ("asset_type", "asset_type", 0.91),
    "Cze and Peku/Pirate Cove/Desert": ("descriptor", "content_subject", 0.71),
    "Cze and Peku/Owlbear Den": ("content_subject", "descriptor", 0.49),
    "Cze and Peku/Owlbear Den/Handouts": ("asset_type", "asset_type", 0.89),
    "Abyssal Brews": ("creator_or_studio", "creator_or_studio", 0.84),
    "Abyssal Brews/Dragon's Lair": ("content_subject", "content_subject", 0.79),
    "Abyssal Brews/Dragon's Lair/Pack": ("asset_type", "other", 0.55),
    "Abyssal Brews/Dragon's Lair/Horror": ("descriptor", "descriptor", 0.67),
    "Abyssal Brews/Cyberpunk": ("descriptor", "descriptor", 0.72),
    "Forgotten Adventures": ("creator_or_studio", "creator_or_studio", 0.90),
    "Forgotten Adventures/Maps": ("asset_type", "asset_type", 0.93),
    "Patreon Rewards": ("other", "other", 0.83),
    "Patreon Rewards/2023": ("other", "other", 0.88),
    "Patreon Rewards/Instructions": ("other", "asset_type", 0.47),
    "xx_tmp": ("unknown", "other", 0.41),
    "base_building": ("unknown", "unknown", 0.44),
}


@dataclass
class Library:
    dbs: Databases
    snapshot_id: int
    ids: dict[str, int]  # rel_path -> folder id
    label_run_id: int

    def fid(self, rel_path: str) -> int:
        return self.ids[rel_path]


def build_library(tmp_path: Path, layout: dict[str, tuple[str, str, float]] = LIBRARY) -> Library:
    """Make the folders on disk, scan them with the real gather, label them (split
    alternating train/test so a split filter has something to filter)."""
    root = tmp_path / "library"
    for i, rel in enumerate(layout):
        d = root / rel
        d.mkdir(parents=True, exist_ok=True)
        (d / f"file{i}.png").write_bytes(b"x")
    settings = StorageSettings.from_storage_arg(tmp_path / "data")
    res = gather(root, settings)
    dbs = Databases.open(settings)
    with dbs.index.connect() as c:
        ids = dict(
            c.execute(
                select(S.folders.c.rel_path, S.folders.c.id).where(S.folders.c.snapshot_id == res.snapshot_id)
            ).all()
        )
    with dbs.training.begin() as c:
        run = create_label_run(c, labeler="test", source="csv:test.csv", snapshot_id=res.snapshot_id)
        set_labels(
            c,
            run,
            [
                LabelRow(ids[rel], res.snapshot_id, rel, t, "test" if i % 4 != 3 else "train")
                for i, (rel, (t, _p, _c)) in enumerate(layout.items())
            ],
        )
    return Library(dbs, res.snapshot_id, ids, run)


def add_prediction_run(
    lib: Library,
    answers: dict[str, tuple[str, float]],
    *,
    kind: str = "finetuned",
    model_path: str | None = "/models/my_classifier",
    created_at: float | None = None,
) -> int:
    """A prediction run with chosen answers (what a model would have written)."""
    names = list(label_names())
    now = created_at or time.time()
    with lib.dbs.training.begin() as c:
        model_id = None
        if model_path is not None:
            model_id = c.execute(
                insert(S.models).values(
                    kind=kind, path=model_path, created_at=now, label_run_id=lib.label_run_id
                )
            ).inserted_primary_key[0]
        pr = c.execute(
            insert(S.prediction_runs).values(
                model_id=model_id,
                kind=kind,
                snapshot_id=lib.snapshot_id,
                label_run_id=lib.label_run_id,
                labeled_only=True,
                labels=json.dumps(names),
                created_at=now,
            )
        ).inserted_primary_key[0]
        rows = []
        for rel, (label, conf) in answers.items():
            probs = np.full(len(names), (1 - conf) / (len(names) - 1), dtype=np.float32)
            probs[names.index(label)] = conf
            rows.append(
                dict(
                    prediction_run_id=pr,
                    folder_id=lib.ids[rel],
                    label=label,
                    confidence=conf,
                    probs=probs.tobytes(),
                )
            )
        c.execute(insert(S.predictions), rows)
    return pr


def make_eval(lib: Library, layout=LIBRARY, *, split: str | None = None, **kw) -> int:
    pr = add_prediction_run(lib, {rel: (p, conf) for rel, (_t, p, conf) in layout.items()}, **kw)
    return record_evaluation(lib.dbs.training, pr, label_run_id=lib.label_run_id, split=split)


def expected_cell(layout, true_label: str, predicted: str) -> set[str]:
    return {rel for rel, (t, p, _c) in layout.items() if t == true_label and p == predicted}
