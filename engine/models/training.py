"""``model train``: contrastive body fine-tuning with hard negatives, then a class-balanced head.

Why one file of ~510 lines: ``model train`` is one sequence (labels -> split -> body -> head ->
evaluation -> abstention -> save) whose steps hand each other the same records and matrices.

Phases (each reports progress; Cancel is honoured inside each and between them, and leaves
no model folder):

1. labelled folders of the label run -> train / test split (stored splits respected: the
   ``test`` split is held out; otherwise a grouped, stratified ``test_size`` split with
   ``seed``: :mod:`engine.labels.splits` keeps families — siblings, same-named folders —
   on one side, so the report measures "the rest of your library", not "siblings of what
   you labelled");
2. fine-tune the base body on the training folders' name texts with mined hard negatives
   (:mod:`engine.models.finetune`), within ``max_steps`` / ``time_budget_s``;
3. embed every distinct text once with the fine-tuned body (cached under its weights' hash),
   build the recipe's inputs, fit a class-balanced logistic head;
4. evaluate on the held-out split, and the shipped baseline on the same folders (the report
   says what fine-tuning gained, or plainly that it lost; printed, saved as ``report.json``,
   and both stored with :func:`engine.evaluation.store.store_evaluation`: eval runs *with* a
   prediction run of the test folders, so the results view can list the folders behind every
   confusion-matrix cell, and History can connect the two runs: same folders);
5. choose per-class abstention thresholds on probabilities no head saw the answers to:
   grouped out-of-fold heads on the *frozen base body's* features (the fine-tuned body learned
   from these labels, so its features would make the thresholds optimistic); stored in the
   metadata as ``abstention`` with how they were chosen, applied by predict;
6. save the model folder atomically, with ``trained_on``: the folders the body and the head
   learned from, which every later evaluation of the model leaves out by default.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, update

from engine.core.config import TrainConfig
from engine.core.jobs import Cancelled, ProgressFn, StopFn, UserError, check_stop, wrap_progress
from engine.core.leftovers import sweep
from engine.core.settings import StorageSettings
from engine.core.taxonomy import label_names
from engine.evaluation.report import Report, compute_report, scope_for
from engine.labels.runs import load_labels, resolve_label_run
from engine.labels.splits import family_groups, split_train_test
from engine.models import base as B
from engine.models.data import featurize, load_records, require_features
from engine.models.inputs import DEFAULT_RECIPE, FolderRecord, normalize_name
from engine.models.modelio import PREVIOUS_SUFFIX, TMP_MARK, Head, is_model_folder, save_model_folder
from engine.models.trained_on import trained_on_metadata
from engine.storage import Databases
from engine.storage import schema as S

BODY_TMP_PREFIX = "fsorg-body-"


@dataclass
class TrainResult:
    model_path: Path
    model_id: int
    label_run_id: int
    n_train: int
    n_test: int
    report: Report | None
    eval_run_id: int | None
    finetune_steps: int
    seconds: float
    notes: list[str]
    abstention: dict[str, Any] | None = None  # the stored per-class thresholds (None: off / too few labels)
    baseline_report: Report | None = None  # the shipped baseline on the same held-out folders


def fit_head(X: np.ndarray, y: Sequence[str], labels: Sequence[str], *, C: float, seed: int) -> Head:
    """A class-balanced multinomial logistic head (rare labels weigh as much as common ones)."""
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(y))
    if len(classes) < 2:
        raise UserError(
            f"All training folders have the label '{classes[0] if classes else '-'}'. "
            "Label folders of at least two different labels, then train again."
        )
    clf = LogisticRegression(C=C, class_weight="balanced", max_iter=3000, random_state=seed)
    clf.fit(X, np.asarray(y))
    return Head.from_sklearn(clf, labels)


def abstention_thresholds(
    X: np.ndarray,
    y: Sequence[str],
    labels: Sequence[str],
    config: TrainConfig,
    groups: Sequence[int] | None = None,
    features: str = "the frozen base body's features",
    fit: Any = None,
) -> dict[str, Any] | None:
    """Per-class confidence thresholds stored with the model (issue 9, abstain).

    Chosen on 5-fold out-of-fold probabilities of the same head recipe over the labelled
    folders the saved head learned from, families kept within one fold (``groups``): no
    probability comes from a head that saw that folder's answer or its family's. ``X`` should
    be the frozen base body's features: a body fine-tuned on these labels has seen every
    answer. A prediction of label L whose confidence is below ``thresholds[L]`` is marked
    abstained by predict. None when there are too few labels (fewer than 10, or a single class).
    """
    from engine.models.abstention import abstention_report, choose_thresholds
    from engine.models.folds import oof_probabilities

    y = list(y)
    if len(y) < 10 or len(set(y)) < 2:
        return None
    target = float(config.abstain_precision)  # type: ignore[arg-type]
    P = oof_probabilities(X, y, labels, k_folds=5, seed=config.seed, C=config.head_c, groups=groups, fit=fit)
    thresholds = choose_thresholds(P, y, labels, target)
    kept = abstention_report(P, y, labels, thresholds)
    return {
        "target_precision": target,
        "thresholds": {lb: round(float(t), 6) for lb, t in thresholds.items()},
        "method": "grouped_oof_frozen_body" if groups is not None else "oof",
        "chosen_on": (
            f"grouped 5-fold out-of-fold probabilities of {len(y)} labelled folders on {features} "
            "(no head saw the answers it was scored on, nor its folder's family)"
        ),
        "oof_coverage": round(float(kept.coverage), 4),
        "oof_macro_f1_kept": None if kept.macro_f1 != kept.macro_f1 else round(float(kept.macro_f1), 4),
    }


def predict_labels(head: Head, X: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    probs = head.predict_proba(X)
    return probs, [labels[i] for i in probs.argmax(axis=1)]


def finetune_texts(records: Sequence[FolderRecord]) -> list[str]:
    """The texts the body is fine-tuned on: the normalized folder names (the name block)."""
    return [normalize_name(r.name) for r in records]


def train_model(
    settings: StorageSettings,
    config: TrainConfig,
    *,
    label_run_id: int | None = None,
    model_path: Path | str | None = None,
    progress: ProgressFn,
    should_stop: StopFn,
) -> TrainResult:
    t0 = time.monotonic()
    notes: list[str] = []
    target = Path(model_path).expanduser().resolve() if model_path else settings.models_dir / "my_classifier"
    sweep(target.parent, f"{TMP_MARK}{target.name}.")  # what a killed save left beside the model
    sweep(Path(tempfile.gettempdir()), BODY_TMP_PREFIX)  # and in the temp folder
    progress(0.0, "loading labels")
    dbs = Databases.open(settings)
    try:
        return _train(dbs, settings, config, label_run_id, model_path, progress, should_stop, t0, notes)
    finally:
        dbs.dispose()


def _train(dbs, settings, config, label_run_id, model_path, progress, should_stop, t0, notes) -> TrainResult:
    taxonomy = list(label_names())
    require_features(dbs.training)
    run_id = resolve_label_run(dbs.training, label_run_id)
    rows = load_labels(dbs.training, run_id)
    if not rows:
        raise UserError(f"Label run {run_id} has no labels. Label some folders first.")
    bad = sorted({r.label for r in rows if r.label not in taxonomy})
    if bad:
        raise UserError(f"Label run {run_id} uses labels that are not in the taxonomy: {', '.join(bad)}.")
    recs = {r.folder_id: r for r in load_records(dbs.training, folder_ids=[r.folder_id for r in rows])}
    missing = [r for r in rows if r.folder_id not in recs]
    if missing:
        notes.append(f"{len(missing)} labelled folders have no features (rescanned or not extracted) and were skipped")
    rows = [r for r in rows if r.folder_id in recs]
    if len(rows) < 4:
        raise UserError(
            f"Only {len(rows)} labelled folders have features. Run extract-features for the snapshot "
            "you labelled, and label at least a few folders of two or more labels."
        )
    labels_used = [lb for lb in taxonomy if any(r.label == lb for r in rows)]
    if len(labels_used) < 2:
        raise UserError(
            f"All labelled folders have the label '{labels_used[0]}'. Label folders of at least two labels."
        )
    y_all = [r.label for r in rows]
    has_splits = any(r.split == "test" for r in rows)
    if has_splits:
        tr_idx = [i for i, r in enumerate(rows) if r.split != "test"]
        te_idx = [i for i, r in enumerate(rows) if r.split == "test"]
        notes.append("used the label run's stored splits (test held out; train and validation trained on)")
    else:
        tr_idx, te_idx = split_train_test(
            y_all, family_groups([r.rel_path for r in rows]), config.test_size, config.seed
        )
        notes.append(
            f"held out {len(te_idx)} test folders as whole families (siblings and same-named folders "
            "never straddle train and test)"
        )
    train_recs = [recs[rows[i].folder_id] for i in tr_idx]
    test_recs = [recs[rows[i].folder_id] for i in te_idx]
    y_tr = [y_all[i] for i in tr_idx]
    y_te = [y_all[i] for i in te_idx]
    rare = [lb for lb, n in Counter(y_tr).items() if n < 3]
    if rare:
        notes.append(f"few training examples for: {', '.join(sorted(rare))} (their scores are unreliable)")
    check_stop(should_stop)

    # ---- body
    base_path = B.resolve_base_model(config.base_model)
    progress(0.02, "loading the base sentence model")
    import copy

    body = copy.deepcopy(B.shared_body(base_path))  # fine-tuned in place: never the shared one
    base_key = B.body_key(base_path)
    emb_dim = int(body.get_embedding_dimension())
    recipe = dict(DEFAULT_RECIPE)
    if config.heuristic_mix:  # issue 14: the rule-based guess as a second expert (warmstart.with_heuristic_prior)
        recipe["heuristic_prior"] = {"labels": list(labels_used), "alpha": float(config.heuristic_mix)}
    check_stop(should_stop)

    from engine.models.embeddings import embed_cached
    from engine.models.finetune import finetune_body

    def encode_base(texts: list[str]) -> np.ndarray:
        vecs = embed_cached(
            texts,
            training=dbs.training,
            model_key=base_key,
            get_body=lambda: body,
            progress=wrap_progress(progress, 0.05, 0.12),
            should_stop=should_stop,
        )
        return np.stack([vecs[t] for t in texts]) if texts else np.zeros((0, emb_dim), np.float32)

    ft_progress = wrap_progress(progress, 0.12, 0.75)
    budget = config.time_budget_s
    ft_cfg = config
    if budget is not None:
        # Leave room for the re-embedding, the head and the save after the body phase.
        ft_cfg = config.update(time_budget_s=max(0.0, budget * 0.8 - (time.monotonic() - t0)))
    ft = finetune_body(
        body,
        finetune_texts(train_recs),
        y_tr,
        cfg=ft_cfg,
        progress=ft_progress,
        should_stop=should_stop,
        encode=encode_base,
    )
    finetuned = ft.steps > 0
    check_stop(should_stop)  # between the body and the head phases

    # ---- embeddings with the (fine-tuned) body; key = hash of its weights as saved

    # The pid in the name: the next train removes what a killed one left (see train_model).
    with tempfile.TemporaryDirectory(prefix=f"{BODY_TMP_PREFIX}{os.getpid()}-") as tmpd:
        if finetuned:
            progress(0.76, "saving the fine-tuned body")
            body_tmp = Path(tmpd) / "body"
            body.save(str(body_tmp), safe_serialization=True)
            key = B.body_key(body_tmp)
        else:
            body_tmp = None
            key = base_key
        X_progress = wrap_progress(progress, 0.78, 0.9)
        all_recs = train_recs + test_recs
        X = featurize(
            all_recs,
            recipe,
            training=dbs.training,
            model_key=key,
            emb_dim=emb_dim,
            get_body=lambda: body,
            batch_size=config.batch_size * 4,
            progress=X_progress,
            should_stop=should_stop,
        )
        X_tr, X_te = X[: len(train_recs)], X[len(train_recs) :]
        check_stop(should_stop)
        # --- issue 14: warm start from the shipped labelled corpus (engine/models/warmstart.py)
        from engine.models.warmstart import warm_fitter

        fit = warm_fitter(config, recipe, labels_used, training=dbs.training, model_key=key, emb_dim=emb_dim,
                          get_body=lambda: body, progress=wrap_progress(progress, 0.88, 0.9),
                          should_stop=should_stop, notes=notes)
        # --- end issue 14
        progress(0.9, "fitting the class-balanced head")
        head = fit(X_tr, y_tr)
        check_stop(should_stop)

        report: Report | None = None
        probs_te: np.ndarray | None = None
        base_eval: tuple[list[str], np.ndarray] | None = None
        if te_idx:
            probs_te, pred = predict_labels(head, X_te, labels_used)
            report = compute_report(y_te, pred, labels_used)
            progress(0.91, "scoring the shipped baseline on the same held-out folders")
            base_eval = _baseline_on(test_recs, dbs, config, should_stop, notes)
            b_f1 = None
            if base_eval is not None:
                b_pred = [base_eval[0][j] for j in base_eval[1].argmax(axis=1)]
                b_f1 = compute_report(y_te, b_pred, base_eval[0]).macro_f1
            report.scope = scope_for(
                "finetuned", [r.folder_id for r in test_recs], y_te, pred,
                baseline_macro_f1=b_f1, where="held-out folders",
            )
        else:
            notes.append("too few labels for a held-out test split: no evaluation report")
        if config.refit_on_all_labels and te_idx:
            # The report above estimates how this procedure does on folders it never saw; the
            # saved head then learns from every label the user gave (250 labels are few: the
            # held-out 15-20 % are worth having). The body keeps its fine-tuning on the train split.
            check_stop(should_stop)
            progress(0.93, "refitting the head on all labelled folders")
            head = fit(X, y_tr + y_te)  # issue 14: warm start
            notes.append(
                "the report is on the held-out test split; the saved head was then refit on all "
                f"{len(y_tr) + len(y_te)} labelled folders (refit_on_all_labels)"
            )

        abstention = None
        if config.abstain_precision is not None:
            check_stop(should_stop)
            progress(0.935, "choosing abstention thresholds (out-of-fold)")
            refit = bool(config.refit_on_all_labels and te_idx)
            head_recs = all_recs if refit else train_recs
            X_frozen = X[: len(head_recs)] if not finetuned else featurize(
                head_recs,
                recipe,
                training=dbs.training,
                model_key=base_key,
                emb_dim=emb_dim,
                get_body=lambda: B.shared_body(base_path),
                batch_size=config.batch_size * 4,
                progress=wrap_progress(progress, 0.935, 0.94),
                should_stop=should_stop,
            )
            # The same head recipe as the saved head (warm-started when it was), on the frozen
            # body's features: the corpus embedded with the frozen body is in the cache.
            from engine.models.warmstart import warm_fitter

            fit_frozen = fit if not finetuned else warm_fitter(
                config, recipe, labels_used, training=dbs.training, model_key=base_key, emb_dim=emb_dim,
                get_body=lambda: B.shared_body(base_path), progress=wrap_progress(progress, 0.94, 0.945),
                should_stop=should_stop, notes=[],
            )
            abstention = abstention_thresholds(
                X_frozen,
                (y_tr + y_te) if refit else y_tr,
                labels_used,
                config,
                groups=family_groups([r.rel_path for r in head_recs]),
                fit=fit_frozen,
            )
            if abstention is None:
                notes.append("too few labelled folders to choose abstention thresholds: predict will not abstain")

        metrics: dict[str, Any] = {
            "n_train": len(train_recs),
            "n_test": len(test_recs),
            "train_label_counts": dict(Counter(y_tr)),
            "finetune_steps": ft.steps,
            "finetune_pairs": vars(ft.pairs),
            "finetune_seconds": round(ft.seconds, 1),
            "finetune_stopped_by_budget": ft.stopped_by_budget,
            "finetune_final_loss": ft.final_loss,
            "head_refit_on_all_labels": bool(config.refit_on_all_labels and te_idx),
        }
        if report is not None:
            metrics["test_macro_f1"] = report.macro_f1
            metrics["test_accuracy"] = report.accuracy
            if report.scope is not None and report.scope.baseline_macro_f1 is not None:
                metrics["baseline_test_macro_f1"] = report.scope.baseline_macro_f1
        target = Path(model_path) if model_path else settings.models_dir / "my_classifier"
        meta = {
            "kind": "finetuned",
            "labels": labels_used,
            "base_model": config.base_model,
            "body": {"type": "folder"} if finetuned else {"type": "base", "name": config.base_model, "sha256": base_key},
            "body_sha256": key,
            "emb_dim": emb_dim,
            "recipe": recipe,
            "label_run_id": run_id,
            "config": config.to_dict(),
            "metrics": metrics,
            "notes": notes,
            "trained_on": trained_on_metadata(
                train_recs if finetuned else None,
                all_recs if (config.refit_on_all_labels and te_idx) else train_recs,
            ),
        }
        if abstention is not None:
            meta["abstention"] = abstention
        progress(0.95, f"saving the model to {target}")
        check_stop(should_stop)

        def write_body(d: Path) -> None:
            import shutil

            assert body_tmp is not None
            shutil.copytree(body_tmp, d)

        replaced = is_model_folder(target.expanduser().resolve())
        final = save_model_folder(
            target,
            metadata=meta,
            head=head,
            report=report.to_dict() if report else None,
            write_body=write_body if finetuned else None,
            should_commit=lambda: not should_stop(),
            keep_previous=True,
        )
        previous = final.with_name(final.name + PREVIOUS_SUFFIX)
        if replaced:
            notes.append(f"the model that was at {final} is kept as {previous}")

    now = time.time()
    with dbs.training.begin() as c:
        if replaced:  # the older rows' model now lives at <name>.previous
            c.execute(update(S.models).where(S.models.c.path == str(final)).values(path=str(previous)))
        model_id = c.execute(
            insert(S.models).values(
                kind="finetuned",
                path=str(final),
                base_model=config.base_model,
                label_run_id=run_id,
                created_at=now,
                config=json.dumps(config.to_dict()),
                metrics=json.dumps(metrics),
            )
        ).inserted_primary_key[0]
        eval_id = None
        if report is not None and probs_te is not None:
            # A prediction run holding the test folders' predictions, so the results view can
            # list the folders behind every confusion-matrix cell (the report is the same one).
            from engine.evaluation.store import store_evaluation

            snap = max(rows[i].snapshot_id for i in te_idx)
            if base_eval is not None:  # first, so History draws baseline -> fine-tuned on these folders
                store_evaluation(
                    c, kind="baseline", model_id=_baseline_model_id(c), label_run_id=run_id, split="test",
                    snapshot_id=snap, labels=base_eval[0], folder_ids=[r.folder_id for r in test_recs],
                    y_true=y_te, probs=base_eval[1],
                    scope=scope_for(
                        "baseline", [r.folder_id for r in test_recs], y_te,
                        [base_eval[0][j] for j in base_eval[1].argmax(axis=1)], where="held-out folders",
                    ),
                )
            _pr, eval_id = store_evaluation(
                c,
                kind="finetuned",
                model_id=model_id,
                label_run_id=run_id,
                split="test",
                snapshot_id=snap,
                labels=labels_used,
                folder_ids=[r.folder_id for r in test_recs],
                y_true=y_te,
                probs=probs_te,
                scope=report.scope,
            )
    progress(1.0, "done")
    return TrainResult(
        model_path=final,
        model_id=model_id,
        label_run_id=run_id,
        n_train=len(train_recs),
        n_test=len(test_recs),
        report=report,
        eval_run_id=eval_id,
        finetune_steps=ft.steps,
        seconds=time.monotonic() - t0,
        notes=notes,
        abstention=abstention,
        baseline_report=(
            compute_report(y_te, [base_eval[0][j] for j in base_eval[1].argmax(axis=1)], base_eval[0])
            if base_eval is not None else None
        ),
    )


def _baseline_on(records, dbs, config, should_stop, notes) -> tuple[list[str], np.ndarray] | None:
    """The shipped baseline's probabilities on ``records`` (None, with a note, if it is missing)."""
    from engine.models.baseline import baseline_probabilities

    try:
        return baseline_probabilities(
            records, training=dbs.training, batch_size=config.batch_size * 4, should_stop=should_stop
        )
    except UserError as e:
        notes.append(f"could not score the shipped baseline on the held-out folders: {e}")
        return None


def _baseline_model_id(c) -> int | None:
    from sqlalchemy import select

    return c.execute(
        select(S.models.c.id).where(S.models.c.kind == "baseline").order_by(S.models.c.id.desc())
    ).scalar()


__all__ = ["TrainResult", "train_model", "fit_head", "Cancelled"]
