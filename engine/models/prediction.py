"""``model predict`` and ``model zero-shot``: label every folder, store it, report where labels exist.

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
from engine.core.settings import StorageSettings
from engine.core.taxonomy import label_names
from engine.evaluation.report import Report, compute_report
from engine.labels.runs import load_labels, newest_label_run_id, resolve_label_run
from engine.models import base as B
from engine.models.data import embed_records, load_records, predict_in_chunks, require_features
from engine.models.inputs import FolderRecord
from engine.models.modelio import LoadedModel, load_model_folder
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


@dataclass
class _Target:
    snapshot_id: int
    records: list[FolderRecord]
    truth: dict[int, str]  # folder_id -> label (where the label run has one)
    label_run_id: int | None


def _select_targets(
    dbs: Databases, *, labeled_only: bool, label_run_id: int | None, split: str | None
) -> _Target:
    """Which folders to predict: all of the snapshot, or the labelled ones (of ``split``)."""
    snap = require_features(dbs.training)
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
        if len(label_snaps) == 1:
            only = next(iter(label_snaps))
            if load_records(dbs.training, folder_ids=[rows[0].folder_id]):
                snap = only
        records = load_records(dbs.training, snapshot_id=snap)
    truth = {r.folder_id: r.label for r in rows}
    return _Target(snap, records, truth, run_id)


def _paths_for_csv(records: Sequence[FolderRecord]) -> dict[int, str]:
    return {r.folder_id: r.rel_path for r in records}


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
    with dbs.training.begin() as c:
        run_id = c.execute(
            insert(S.prediction_runs).values(
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
        labelled = [(i, target.truth[r.folder_id]) for i, r in enumerate(target.records) if r.folder_id in target.truth]
        extra: dict[str, Any] = {}
        if labelled:
            y_true = [t for _, t in labelled]
            y_pred = [pred[i] for i, _ in labelled]
            report = compute_report(y_true, y_pred, list(labels))
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
    return run_id, report, eval_id, csv_path, {"coverage": extra.get("coverage"), "n_abstained": n_abst}


def abstained_mask(
    probs: np.ndarray, labels: Sequence[str], abstention: dict[str, Any] | None
) -> np.ndarray | None:
    """Per row: is the argmax's confidence below that label's stored threshold? None: no thresholds."""
    if not abstention or not abstention.get("thresholds"):
        return None
    from engine.models.abstention import UNKNOWN, apply_abstention

    final = apply_abstention(probs, labels, abstention["thresholds"])
    top = probs.argmax(axis=1) if len(probs) else np.zeros(0, int)
    return np.asarray([f == UNKNOWN and labels[j] != UNKNOWN for f, j in zip(final, top)], dtype=bool)


COVERAGE_LEVELS = (0.0, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def coverage_table(
    probs: np.ndarray,
    y_true: Sequence[str],
    labels: Sequence[str],
    abstention: dict[str, Any] | None,
    abstained: np.ndarray | None,
    rows: Sequence[int],
) -> dict[str, Any]:
    """Coverage vs Macro F1 on the kept predictions: one global confidence cut per row of the
    table, and (when the model has them) the model's own per-class thresholds."""
    from engine.models.abstention import coverage_curve

    def num(x: float) -> float | None:
        return None if x != x else round(float(x), 4)

    out: dict[str, Any] = {
        "levels": [
            {"min_confidence": p.threshold, "coverage": num(p.coverage), "macro_f1_kept": num(p.macro_f1),
             "accuracy_kept": num(p.accuracy), "n_kept": p.n_kept}
            for p in coverage_curve(probs, y_true, labels, COVERAGE_LEVELS)
        ]
    }
    if abstention and abstained is not None:
        keep = [k for k, i in enumerate(rows) if not abstained[i]]
        yk = [y_true[k] for k in keep]
        pk = [labels[int(probs[k].argmax())] for k in keep]
        rep = compute_report(yk, pk, list(labels)) if keep else None
        out["model_thresholds"] = {
            "target_precision": abstention.get("target_precision"),
            "coverage": num(len(keep) / len(rows)) if len(rows) else None,
            "macro_f1_kept": num(rep.macro_f1) if rep else None,
            "accuracy_kept": num(rep.accuracy) if rep else None,
            "n_kept": len(keep),
        }
    return out


def format_coverage(cov: dict[str, Any] | None) -> str:
    """The coverage table as text (CLI report)."""
    if not cov:
        return ""
    out = [
        "",
        "COVERAGE VS MACRO F1 ON KEPT PREDICTIONS",
        f"{'kept when':<28} {'coverage':>9} {'macro F1':>9} {'accuracy':>9} {'n kept':>7}",
    ]

    def f(x: float | None) -> str:
        return "-" if x is None else f"{x * 100:.1f}%"

    for p in cov.get("levels", []):
        out.append(
            f"{'confidence >= ' + format(p['min_confidence'], '.2f'):<28} {f(p['coverage']):>9} "
            f"{f(p['macro_f1_kept']):>9} {f(p['accuracy_kept']):>9} {p['n_kept']:>7}"
        )
    m = cov.get("model_thresholds")
    if m:
        label = f"model thresholds (p>={m['target_precision']})"
        out.append(
            f"{label:<28} {f(m['coverage']):>9} {f(m['macro_f1_kept']):>9} "
            f"{f(m.get('accuracy_kept')):>9} {m['n_kept']:>7}"
        )
    return "\n".join(out)


def write_predictions_csv(
    path: Path,
    records: Sequence[FolderRecord],
    labels: Sequence[str],
    probs: np.ndarray,
    pred: Sequence[str],
    conf: np.ndarray,
    abstained: np.ndarray | None = None,
) -> Path:
    """folder_id, path, name, prediction, confidence, abstained, final_label, then ``p_<label>``
    per label (spreadsheet-safe, atomic). ``prediction`` is the argmax of the ``p_`` columns;
    ``final_label`` is ``unknown`` where the model abstained (``abstained`` 1), else the
    prediction; ``abstained`` is empty when the model has no thresholds."""
    from engine.core.csvio import write_csv

    header = [
        "folder_id", "path", "name", "prediction", "confidence", "abstained", "final_label",
        *(f"p_{lb}" for lb in labels),
    ]

    def rows():
        for i, r in enumerate(records):
            yield [
                r.folder_id,
                r.rel_path,
                r.name,
                pred[i],
                f"{float(conf[i]):.4f}",
                "" if abstained is None else int(bool(abstained[i])),
                "unknown" if abstained is not None and abstained[i] else pred[i],
                *(f"{float(p):.4f}" for p in probs[i]),
            ]

    write_csv(path, header, rows())
    return Path(path)


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
    taxonomy = list(label_names())
    if config.use_baseline:
        from engine.models.baseline import load_baseline

        model = load_baseline(taxonomy)
    else:
        if model_path is None:
            with dbs.training.connect() as c:
                rows = c.execute(
                    select(S.models.c.path).where(S.models.c.kind == "finetuned").order_by(S.models.c.id.desc())
                ).all()
            found = next((Path(p) for (p,) in rows if p and Path(p).is_dir()), None)
            if found is None:
                raise UserError(
                    "No model to predict with. Pass --model-path DIR (a folder written by 'model train'), "
                    "or set use_baseline=true in the config to use the shipped baseline."
                )
            model_path = found
        model = load_model_folder(model_path, taxonomy=taxonomy, trust_pickle=trust_pickle)
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
    progress: ProgressFn,
    should_stop: StopFn,
) -> PredictResult:
    """Predict with a trained model (or the shipped baseline) and store the run."""
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
            dbs, labeled_only=config.labeled_only, label_run_id=label_run_id, split=split
        )
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
        probs = predict_in_chunks(
            target.records, model.recipe, vectors, model.emb_dim, model.head.predict_proba, should_stop=should_stop
        )
        if probs.shape[0] == 0:
            probs = np.zeros((0, len(model.labels)), np.float32)
        del vectors
        trained_on = model.metadata.get("label_run_id")
        refit = bool(model.metadata.get("metrics", {}).get("head_refit_on_all_labels"))
        title = _title(model.kind, split, target, trained_on, refit)
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
        csv_path, time.monotonic() - t0, encoded, model_path, ext["coverage"], ext["n_abstained"],
    )


def _title(kind: str, split: str | None, target: _Target, trained_on: Any, refit: bool = False) -> str:
    name = {"finetuned": "FINE-TUNED MODEL", "baseline": "BASELINE", "zero_shot": "ZERO-SHOT"}.get(kind, kind)
    where = f"split '{split}'" if split else "labelled folders"
    title = f"{name} EVALUATION ({where}, label run {target.label_run_id})"
    if kind == "finetuned" and trained_on == target.label_run_id and (split != "test" or refit):
        title += " - includes folders the model was trained on"
    return title


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
