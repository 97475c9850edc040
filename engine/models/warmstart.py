"""Warm start: a model trained on 50 of the user's labels keeps what the shipped corpus knows.

Measured on the cross-library harness (``bench/quality.py``, issue 14): training the head on
the user's labels PLUS the labelled corpus the baseline was built from, the user's rows
together weighing as much as the whole corpus (``warm_start_weight`` 1.0; per class balanced),
beats the user's labels alone at 50, 100 and 150 labels on every held-out library. The user's
labels win where they disagree with the corpus because each of them weighs
``weight * n_corpus / n_user`` corpus rows.

The corpus ships next to the baseline (``resources/baseline/corpus.json.gz``): the
``extract-features`` rows of the labelled datasets (names and tree context, no vectors), so
it is embedded with whatever body the user's model has, through the same embedding cache.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.models.inputs import FolderRecord

CORPUS_NAME = "corpus.json.gz"
_FIELDS = ("rel_path", "name", "depth", "parent_name", "grandparent_name", "children", "siblings", "top_exts",
           "file_count", "subfolder_count", "heuristic_label", "heuristic_confidence", "heuristic_rule")


def corpus_path() -> Path:
    from engine.models.baseline import BASELINE_DIR

    return BASELINE_DIR / CORPUS_NAME


def save_corpus(path: Path, records: Sequence[FolderRecord], labels: Sequence[str], library: Sequence[str]) -> Path:
    rows = []
    for r, lb, lib in zip(records, labels, library):
        d = {f: getattr(r, f) for f in _FIELDS}
        d.update(children=list(r.children), siblings=list(r.siblings), top_exts=[list(t) for t in r.top_exts])
        rows.append({**d, "label": lb, "library": lib})
    path = Path(path)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump({"version": 1, "rows": rows}, fh, ensure_ascii=False, separators=(",", ":"))
    path.chmod(0o644)
    return path


def load_corpus(path: Path | None = None) -> tuple[list[FolderRecord], list[str]] | None:
    """``(records, labels)`` of the shipped corpus; None when it is not there."""
    path = Path(path) if path else corpus_path()
    if not path.is_file():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    recs, labels = [], []
    for i, d in enumerate(data["rows"], start=1):
        recs.append(
            FolderRecord(
                folder_id=-i,  # never a real folder id
                rel_path=d["rel_path"],
                name=d["name"],
                depth=int(d["depth"]),
                parent_name=d["parent_name"],
                grandparent_name=d["grandparent_name"],
                children=tuple(d["children"]),
                siblings=tuple(d["siblings"]),
                top_exts=tuple((str(e), int(c)) for e, c in d["top_exts"]),
                file_count=int(d["file_count"]),
                subfolder_count=int(d["subfolder_count"]),
                heuristic_label=d["heuristic_label"],
                heuristic_confidence=d["heuristic_confidence"],
                heuristic_rule=d["heuristic_rule"],
            )
        )
        labels.append(d["label"])
    return recs, labels


def warm_weights(n_user: int, n_corpus: int, weight: float) -> np.ndarray:
    """Row weights: the user's rows together weigh ``weight`` times the whole corpus (each at
    least as much as one corpus row), every corpus row 1."""
    per_user = max(1.0, weight * n_corpus / max(n_user, 1))
    return np.concatenate([np.full(n_user, per_user), np.ones(n_corpus)])


def fit_warm_head(
    X_user: np.ndarray,
    y_user: Sequence[str],
    X_corpus: np.ndarray,
    y_corpus: Sequence[str],
    labels: Sequence[str],
    *,
    weight: float,
    C: float,
    seed: int,
):
    """The class-balanced head on the user's rows plus the corpus rows whose label is one of
    ``labels`` (the user's labels: the corpus never adds a label the user did not use)."""
    from engine.models.collective import fit_weighted_head

    keep = [i for i, lb in enumerate(y_corpus) if lb in set(labels)]
    Xc = X_corpus[keep]
    yc = [y_corpus[i] for i in keep]
    w = warm_weights(len(y_user), len(yc), weight)
    return fit_weighted_head(np.vstack([X_user, Xc]), list(y_user) + yc, labels, w, C=C, seed=seed)


def warm_fitter(config, recipe, labels, *, training, model_key, emb_dim, get_body, progress, should_stop, notes):
    """``fit(X, y) -> Head`` for ``model train``: warm-started when ``config.warm_start_weight``
    is set and the corpus ships, else the plain class-balanced head. The corpus is embedded
    with the model's (possibly fine-tuned) body through the embedding cache."""
    from engine.models.data import featurize
    from engine.models.loading import _one_blas_thread
    from engine.models.training import fit_head

    weight = getattr(config, "warm_start_weight", None)
    corpus = load_corpus() if weight else None
    if corpus is None:
        def plain(X, y):
            with _one_blas_thread():
                return fit_head(X, y, labels, C=config.head_c, seed=config.seed)

        return with_heuristic_prior(plain, recipe, labels)
    recs, yc = corpus
    progress(0.0, f"embedding the shipped corpus ({len(recs)} folders) for the warm start")
    Xc = featurize(recs, recipe, training=training, model_key=model_key, emb_dim=emb_dim, get_body=get_body,
                   batch_size=128, progress=progress, should_stop=should_stop)
    from engine.models.inputs import prior_width

    if prior_width(recipe):  # the corpus rows teach the learned part only (see with_heuristic_prior)
        Xc[:, -prior_width(recipe):] = 0.0
    notes.append(f"warm start: the head also learned from the {len(recs)}-folder corpus shipped with the baseline "
                 f"(your labels together weigh {weight:g}x the corpus)")

    def warm(X, y):
        with _one_blas_thread():
            return fit_warm_head(X, y, Xc, yc, labels, weight=float(weight), C=config.head_c, seed=config.seed)

    return with_heuristic_prior(warm, recipe, labels)


def with_heuristic_prior(fit, recipe, labels):
    """``fit`` for a recipe with a ``heuristic_prior`` block (issue 14): the head learns from
    every other column, then its weights on the block (the log of the rule-based guess as a
    distribution over ``labels``) are set to ``alpha`` times the identity. So the head's
    probabilities are ``P_learned * heuristic ** alpha`` (renormalized): the rule-based guess
    as a second expert, as in the shipped baseline. Being part of the head, it is what the
    train report, abstention, Label next, Explain and predict all compute."""
    from engine.models.inputs import prior_width

    spec = recipe.get("heuristic_prior")
    width = prior_width(recipe)
    if not width:
        return fit
    alpha = float(spec["alpha"])
    prior_labels = list(spec["labels"])

    def fitted(X, y):
        Xz = np.array(X, dtype=np.float32, copy=True)
        Xz[:, -width:] = 0.0  # zero columns: the regularized fit gives them zero weight
        head = fit(Xz, y)
        head.coef[:, -width:] = 0.0
        for k, lb in enumerate(labels):
            if lb in prior_labels:
                head.coef[k, head.coef.shape[1] - width + prior_labels.index(lb)] = alpha
        return head

    return fitted
