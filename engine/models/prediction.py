"""``model predict`` and ``model zero-shot``: label every folder, store it, report where labels exist.

Why one file of ~520 lines: predict, the SetFit-folder predict and zero-shot share one
select-targets -> predict -> store -> report path; the per-row outputs live in `prediction_output.py`.

Every predicted folder gets the per-class probabilities (stored as float32 in the order of
``prediction_runs.labels``), a confidence (the largest probability) and a label that is the
argmax of exactly those stored float32 probabilities — computed once, in one place
(:func:`store_and_report`), so the label and the probabilities can never disagree (SetFit
issue #587). A prediction run is written as ``running`` and flipped to ``complete`` at the
end; a Cancel deletes it, so no half-written run is ever shown as a result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, update

from engine.core.config import PredictConfig, ZeroShotConfig
from engine.core.jobs import Cancelled, ProgressFn, StopFn, UserError, check_stop, wrap_progress
from engine.core.leftovers import owner_tag
from engine.core.settings import StorageSettings
from engine.core.taxonomy import label_names
from engine.evaluation.report import GUIDED_KINDS, Report, compute_report, scope_for
from engine.evaluation.store import remove_dead_prediction_runs
from engine.labels.runs import load_labels, newest_label_run_id, resolve_label_run
from engine.models import base as B
from engine.models.data import embed_records, load_records, predict_in_chunks, require_features
from engine.models.inputs import FolderRecord
from engine.models.modelio import LoadedModel

# The per-row outputs (abstention mask, coverage table, CSV) live in prediction_output.
from engine.models.prediction_output import (
    abstained_mask,
    coverage_table,
    write_predictions_csv,
)
from engine.storage import Databases
from engine.storage import schema as S


@dataclass
class PredictResult:
    prediction_run_id: int
    kind: str
    snapshot_id: int
    n: int
    labels: list[str]
    report: Report | None
    report_title: str
    eval_run_id: int | None
    csv_path: Path | None
    seconds: float
    encoded_texts: int
    model_path: Path | None
    coverage: dict[str, Any] | None = None  # coverage vs Macro F1 on kept predictions (labelled folders)
    n_abstained: int | None = None  # folders below the model's abstention thresholds (None: no thresholds)
    note: str | None = None  # why there is no report, or what was left out of it


@dataclass
class _Target:
    snapshot_id: int
    records: list[FolderRecord]
    truth: dict[int, str]  # folder_id -> label (where the label run has one)
    label_run_id: int | None
    learned: set[int] | None = None  # labelled folders the model learned from (None: not recorded)
    include_learned: bool = False  # score them too (training-set figures)


def _select_targets(
    dbs: Databases, *, labeled_only: bool, label_run_id: int | None, split: str | None,
    snapshot_id: int | None = None,
) -> _Target:
    """Which folders to predict: all of the snapshot, or the labelled ones (of ``split``).
    ``snapshot_id``: every folder of that snapshot (the one on screen after a rescan), else the
    labelled snapshot when the labels are on one, else the newest with features."""
    snap = require_features(dbs.training) if snapshot_id is None else int(snapshot_id)
    want_labels = labeled_only or split is not None or label_run_id is not None
    run_id: int | None
    if want_labels:
        run_id = resolve_label_run(dbs.training, label_run_id)
    else:
        run_id = newest_label_run_id(dbs.training)
    rows = load_labels(dbs.training, run_id, split) if run_id is not None else []
    if labeled_only or split is not None:
        if not rows:
            which = f" in split '{split}'" if split else ""
            raise UserError(
                f"Label run {run_id} has no labelled folders{which}. Label folders first, or set "
                "labeled_only=false to predict every folder."
            )
        records = load_records(dbs.training, folder_ids=[r.folder_id for r in rows])
        if not records:
            raise UserError(
                f"None of the folders labelled in label run {run_id} have features. Run extract-features "
                "for the snapshot you labelled."
            )
        snaps = {r.snapshot_id for r in rows}
        snap = max(snaps) if snaps else snap
    else:
        label_snaps = {r.snapshot_id for r in rows}
        if snapshot_id is None and len(label_snaps) == 1:
            only = next(iter(label_snaps))
            if load_records(dbs.training, folder_ids=[rows[0].folder_id]):
                snap = only
        records = load_records(dbs.training, snapshot_id=snap)
        if not records and snapshot_id is not None:
            raise UserError(
                f"Snapshot {snap} has no folder features. Run: python organizer.py model extract-features "
                f"--snapshot-id {snap}"
            )
    truth = {r.folder_id: r.label for r in rows}
    return _Target(snap, records, truth, run_id)


def store_and_report(
    dbs: Databases,
    *,
    kind: str,
    model_id: int | None,
    target: _Target,
    labels: Sequence[str],
    probs: np.ndarray,
    labeled_only: bool,
    split: str | None,
    output_csv: Path | None,
    report_title: str,
    progress: ProgressFn,
    should_stop: StopFn,
    abstention: dict[str, Any] | None = None,
) -> tuple[int, Report | None, int | None, Path | None, dict[str, Any]]:
    """Write the prediction run (+ CSV, + eval run where labels exist). Label = argmax(probs).

    With ``abstention`` (the model's stored per-class thresholds), a folder whose confidence
    is below its predicted label's threshold is stored with ``abstained = True``: its
    ``label`` stays the argmax of the stored probabilities (so the two never disagree) and
    its *final* label, shown greyed in the tree and written as ``final_label`` in the CSV,
    is ``unknown``. The report is on the argmax labels (as without abstention) plus a
    coverage table: Macro F1 on the predictions kept at each confidence level.
    """
    probs = np.ascontiguousarray(probs, dtype=np.float32)
    top = probs.argmax(axis=1)
    conf = probs[np.arange(len(top)), top]
    pred = [labels[i] for i in top]
    abstained = abstained_mask(probs, labels, abstention)
    now = time.time()
    remove_dead_prediction_runs(dbs.training)
    with dbs.training.begin() as c:
        run_id = c.execute(
            insert(S.prediction_runs).values(
                owner=owner_tag(),
                model_id=model_id,
                kind=kind,
                snapshot_id=target.snapshot_id,
                label_run_id=target.label_run_id,
                labeled_only=labeled_only,
                split=split,
                labels=json.dumps(list(labels)),
                created_at=now,
                status="running",
            )
        ).inserted_primary_key[0]
    try:
        batch = 20_000
        n = len(target.records)
        for s in range(0, n, batch):
            check_stop(should_stop)
            rows = [
                {
                    "prediction_run_id": run_id,
                    "folder_id": target.records[i].folder_id,
                    "label": pred[i],
                    "confidence": float(conf[i]),
                    "probs": probs[i].tobytes(),
                    "abstained": None if abstained is None else bool(abstained[i]),
                }
                for i in range(s, min(n, s + batch))
            ]
            with dbs.training.begin() as c:
                c.execute(insert(S.predictions), rows)
            progress(min(n, s + batch) / max(n, 1) * 0.7, f"stored {min(n, s + batch):,}/{n:,} predictions")
        csv_path = None
        if output_csv is not None:
            check_stop(should_stop)
            progress(0.75, f"writing {output_csv}")
            csv_path = write_predictions_csv(output_csv, target.records, labels, probs, pred, conf, abstained)
        report = None
        eval_id = None
        every = [(i, target.truth[r.folder_id]) for i, r in enumerate(target.records) if r.folder_id in target.truth]
        learned = target.learned or set()
        labelled = [
            (i, t) for i, t in every if target.include_learned or target.records[i].folder_id not in learned
        ]
        n_learned = sum(1 for i, _ in labelled if target.records[i].folder_id in learned)
        extra: dict[str, Any] = {"left_out": len(every) - len(labelled)}
        if labelled:
            y_true = [t for _, t in labelled]
            y_pred = [pred[i] for i, _ in labelled]
            report = compute_report(y_true, y_pred, list(labels))
            known = kind in GUIDED_KINDS or target.learned is not None
            report.scope = scope_for(
                kind,
                [target.records[i].folder_id for i, _ in labelled],
                y_true,
                y_pred,
                held_out=(n_learned == 0) if known else None,
                n_learned_from=n_learned,
                n_left_out=len(every) - len(labelled),
                where=f"folders of split '{split}'" if split else "labelled folders",
            )
            # The truth at run time, per folder: a results-view cell keeps listing exactly its
            # count after the user relabels (engine.evaluation.store reads "items").
            extra["items"] = [[target.records[i].folder_id, t, pred[i]] for i, t in labelled]
            rows_l = [i for i, _ in labelled]
            extra["coverage"] = coverage_table(probs[rows_l], y_true, labels, abstention, abstained, rows_l)
        check_stop(should_stop)  # last chance: after this the run is complete
        with dbs.training.begin() as c:
            if report is not None:
                eval_id = c.execute(
                    insert(S.eval_runs).values(
                        prediction_run_id=run_id,
                        model_id=model_id,
                        kind=kind,
                        label_run_id=target.label_run_id,
                        split=split,
                        created_at=time.time(),
                        n=report.n,
                        macro_f1=report.macro_f1,
                        report=json.dumps({**report.to_dict(), "title": report_title, **extra}),
                        folder_set=report.scope.folder_set if report.scope else None,
                    )
                ).inserted_primary_key[0]
            c.execute(update(S.prediction_runs).where(S.prediction_runs.c.id == run_id).values(status="complete"))
    except BaseException:
        with dbs.training.begin() as c:
            c.execute(delete(S.predictions).where(S.predictions.c.prediction_run_id == run_id))
            c.execute(delete(S.prediction_runs).where(S.prediction_runs.c.id == run_id))
        raise
    progress(1.0, f"{len(target.records):,} folders predicted")
    n_abst = None if abstained is None else int(abstained.sum())
    note = None
    if every and not labelled:
        note = (
            f"All {len(every)} labelled folders here taught this model, so none is left to score it on: "
            "its held-out figure is the one 'model train' reported. Label more folders to measure it again, "
            "or pass --include-training-folders for training-set figures (not a measure of quality)."
        )
    return run_id, report, eval_id, csv_path, {
        "coverage": extra.get("coverage"), "n_abstained": n_abst, "note": note,
    }


def _lazy_body(path: Path, trust_pickle: bool = False) -> Callable[[], Any]:
    cache: dict[str, Any] = {}

    def get() -> Any:
        if "body" not in cache:
            from engine.models.device import int8_enabled

            cache["body"] = B.shared_body(path, trust_pickle=trust_pickle, int8=int8_enabled())
        return cache["body"]

    return get


def _resolve_model(
    dbs: Databases, config: PredictConfig, model_path: Path | str | None, trust_pickle: bool
) -> tuple[LoadedModel, int | None]:
    from engine.models.loading import load_model

    model = load_model(
        dbs.training,
        model_path,
        baseline=config.use_baseline,
        allow_baseline=False,
        trust_pickle=trust_pickle,
        missing=(
            "No model to predict with. Pass --model-path DIR (a folder written by 'model train'), "
            "or set use_baseline=true in the config to use the shipped baseline."
        ),
    )
    with dbs.training.connect() as c:
        mid = None
        if model.path is not None:
            mid = c.execute(
                select(S.models.c.id).where(S.models.c.path == str(model.path)).order_by(S.models.c.id.desc())
            ).scalar()
    if model.kind == "baseline":
        with dbs.training.begin() as c:
            mid = c.execute(
                select(S.models.c.id).where(S.models.c.kind == "baseline").order_by(S.models.c.id.desc())
            ).scalar()
            if mid is None:
                mid = c.execute(
                    insert(S.models).values(
                        kind="baseline",
                        path=None,
                        base_model=str(model.metadata.get("base_model")),
                        label_run_id=None,
                        created_at=time.time(),
                        config=json.dumps(model.metadata.get("config", {})),
                        metrics=json.dumps(model.metadata.get("metrics", {})),
                    )
                ).inserted_primary_key[0]
    return model, mid


def predict(
    settings: StorageSettings,
    config: PredictConfig,
    *,
    model_path: Path | str | None = None,
    label_run_id: int | None = None,
    split: str | None = None,
    output_csv: Path | str | None = None,
    trust_pickle: bool = False,
    include_training_folders: bool = False,
    snapshot_id: int | None = None,
    progress: ProgressFn,
    should_stop: StopFn,
) -> PredictResult:
    """Predict with a trained model (or the shipped baseline) and store the run.

    The report leaves out the labelled folders the model learned from (its ``trained_on``
    metadata) unless ``include_training_folders``; then it is titled as training-set figures.
    """
    t0 = time.monotonic()
    progress(0.0, "loading the model")
    dbs = Databases.open(settings)
    try:
        if model_path is not None and trust_pickle and not config.use_baseline:
            from engine.models.setfit_compat import is_setfit_folder

            if is_setfit_folder(Path(model_path).expanduser()):
                return _predict_setfit(
                    dbs, config, Path(model_path).expanduser().resolve(), label_run_id, split, output_csv,
                    progress, should_stop, t0,
                )
        model, model_id = _resolve_model(dbs, config, model_path, trust_pickle)
        target = _select_targets(
            dbs, labeled_only=config.labeled_only, label_run_id=label_run_id, split=split, snapshot_id=snapshot_id
        )
        if model.kind != "baseline":
            from engine.models.trained_on import learned_folder_ids

            labelled_recs = [r for r in target.records if r.folder_id in target.truth]
            target.learned = learned_folder_ids(labelled_recs, model.metadata)
            target.include_learned = include_training_folders
        check_stop(should_stop)
        n = len(target.records)
        progress(0.02, f"preparing inputs for {n:,} folders")
        counter = {"encoded": 0}
        get_body = _lazy_body(model.body_path, trust_pickle)

        def counting_body() -> Any:
            counter["encoded"] = 1
            return get_body()

        vectors = embed_records(
            target.records,
            model.recipe,
            training=dbs.training,
            model_key=model.body_key,
            get_body=counting_body,
            batch_size=config.batch_size,
            progress=wrap_progress(progress, 0.02, 0.75),
            should_stop=should_stop,
        )
        check_stop(should_stop)
        progress(0.76, f"classifying {n:,} folders")
        spec = model.metadata.get("collective") if n else None
        whole = not config.labeled_only and split is None  # the targets are the whole snapshot
        if spec and whole:
            # --- issue 14's tree-aware second pass over the whole library, in one pass over it
            from engine.models.collective import predict_library

            probs = predict_library(target.records, model, spec, vectors, should_stop)
            del vectors
        else:
            probs = predict_in_chunks(
                target.records, model.recipe, vectors, model.emb_dim, model.head.predict_proba, should_stop=should_stop
            )
            del vectors  # the second pass below reads what it needs from the cache
            if probs.shape[0] == 0:
                probs = np.zeros((0, len(model.labels)), np.float32)
            # --- issue 14: tree-aware second pass (a model whose metadata holds "collective",
            # e.g. the shipped baseline): neighbours' first-pass labels are inputs too.
            if spec and len(probs):
                from engine.models.collective import predict_second_pass

                probs = predict_second_pass(dbs.training, model, target.records, target.snapshot_id, probs,
                                            get_body=_lazy_body(model.body_path), batch_size=config.batch_size,
                                            should_stop=should_stop)
            # --- end issue 14
        trained_on = model.metadata.get("label_run_id")
        refit = bool(model.metadata.get("metrics", {}).get("head_refit_on_all_labels"))
        title = _title(model.kind, split, target, trained_on, refit)
        if target.learned is not None:
            title = _title_known(split, target)
        return _store_and_finish(
            dbs, kind=model.kind, model_id=model_id, target=target, labels=model.labels, probs=probs,
            config=config, split=split, output_csv=output_csv, title=title, progress=progress,
            should_stop=should_stop, t0=t0, encoded=counter["encoded"], model_path=model.path,
            abstention=model.metadata.get("abstention"),
        )
    finally:
        dbs.dispose()


def _predict_setfit(
    dbs: Databases,
    config: PredictConfig,
    path: Path,
    label_run_id: int | None,
    split: str | None,
    output_csv: Path | str | None,
    progress: ProgressFn,
    should_stop: StopFn,
    t0: float,
) -> PredictResult:
    """A SetFit-saved folder the user explicitly trusted (``--trust-pickle``)."""
    from engine.models.setfit_compat import load_setfit_folder, model_texts

    model = load_setfit_folder(path, list(label_names()))
    target = _select_targets(dbs, labeled_only=config.labeled_only, label_run_id=label_run_id, split=split)
    texts = model_texts(dbs.training, [r.folder_id for r in target.records])
    probs = model.predict_proba(
        texts, batch_size=config.batch_size, progress=wrap_progress(progress, 0.02, 0.8), should_stop=should_stop
    )
    title = _title("finetuned", split, target, None) + " - SetFit folder loaded with --trust-pickle"
    return _store_and_finish(
        dbs, kind="finetuned", model_id=None, target=target, labels=model.labels, probs=probs,
        config=config, split=split, output_csv=output_csv, title=title, progress=progress,
        should_stop=should_stop, t0=t0, encoded=1, model_path=path,
    )


def _store_and_finish(
    dbs: Databases,
    *,
    kind: str,
    model_id: int | None,
    target: _Target,
    labels: Sequence[str],
    probs: np.ndarray,
    config: PredictConfig | ZeroShotConfig,
    split: str | None,
    output_csv: Path | str | None,
    title: str,
    progress: ProgressFn,
    should_stop: StopFn,
    t0: float,
    encoded: int,
    model_path: Path | None,
    abstention: dict | None = None,
) -> PredictResult:
    """Store the run (and its report where labels exist), write the CSV, build the result.

    The one tail of every kind of prediction (model folder, SetFit folder, zero-shot).
    """
    run_id, report, eval_id, csv_path, ext = store_and_report(
        dbs,
        kind=kind,
        model_id=model_id,
        target=target,
        labels=labels,
        probs=probs,
        labeled_only=config.labeled_only,
        split=split,
        output_csv=Path(output_csv) if output_csv else None,
        report_title=title,
        progress=wrap_progress(progress, 0.8, 1.0),
        should_stop=should_stop,
        abstention=abstention,
    )
    return PredictResult(
        run_id, kind, target.snapshot_id, len(target.records), list(labels), report, title, eval_id,
        csv_path, time.monotonic() - t0, encoded, model_path, ext["coverage"], ext["n_abstained"], ext["note"],
    )


def _title(kind: str, split: str | None, target: _Target, trained_on: Any, refit: bool = False) -> str:
    name = {"finetuned": "FINE-TUNED MODEL", "baseline": "BASELINE", "zero_shot": "ZERO-SHOT"}.get(kind, kind)
    where = f"split '{split}'" if split else "labelled folders"
    title = f"{name} EVALUATION ({where}, label run {target.label_run_id})"
    if kind == "finetuned" and trained_on == target.label_run_id and (split != "test" or refit):
        title += " - includes folders the model was trained on"
    return title


def _title_known(split: str | None, target: _Target) -> str:
    """The title of a fine-tuned model's report when the model says what it learned from."""
    where = f"split '{split}'" if split else "labelled folders"
    if target.include_learned and target.learned:
        return f"TRAINING-SET FIGURES ({where}, label run {target.label_run_id}, including folders the model learned from)"
    return f"FINE-TUNED MODEL EVALUATION ({where} it never learned from, label run {target.label_run_id})"


def zero_shot(
    settings: StorageSettings,
    config: ZeroShotConfig,
    *,
    label_run_id: int | None = None,
    split: str | None = None,
    output_csv: Path | str | None = None,
    progress: ProgressFn,
    should_stop: StopFn,
) -> PredictResult:
    """Classify by similarity to the taxonomy's descriptions and examples; no user labels."""
    from engine.models.zeroshot import zero_shot_probs

    t0 = time.monotonic()
    progress(0.0, "loading")
    dbs = Databases.open(settings)
    try:
        target = _select_targets(dbs, labeled_only=config.labeled_only, label_run_id=label_run_id, split=split)
        labels, probs, encoded = zero_shot_probs(
            target.records,
            training=dbs.training,
            batch_size=config.batch_size,
            progress=wrap_progress(progress, 0.0, 0.8),
            should_stop=should_stop,
        )
        title = _title("zero_shot", split, target, None)
        return _store_and_finish(
            dbs, kind="zero_shot", model_id=None, target=target, labels=labels, probs=probs,
            config=config, split=split, output_csv=output_csv, title=title, progress=progress,
            should_stop=should_stop, t0=t0, encoded=encoded, model_path=None,
        )
    finally:
        dbs.dispose()


__all__ = ["PredictResult", "predict", "zero_shot", "Cancelled"]
