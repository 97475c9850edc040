"""Stratified folds and out-of-fold probabilities (no folder is judged by a head that saw its label).
"""


from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from engine.core.jobs import ProgressFn, StopFn, check_stop, never_stop, no_progress
from engine.models.loading import fit_predict_head


def stratified_folds(
    y: Sequence[str], k: int, seed: int, groups: Sequence[int] | None = None
) -> np.ndarray:
    """A fold number per row: :func:`engine.labels.splits.grouped_folds` (families whole when
    ``groups`` is given, else one row per group: plain stratified folds)."""
    from engine.labels.splits import grouped_folds

    return grouped_folds(list(y), groups, k, seed)


def oof_probabilities(
    X: np.ndarray,
    y: Sequence[str],
    labels: Sequence[str],
    *,
    k_folds: int = 5,
    seed: int = 42,
    C: float = 1.0,
    groups: Sequence[int] | None = None,
    fit: Callable[[np.ndarray, list[str]], Any] | None = None,
    progress: ProgressFn = no_progress,
    should_stop: StopFn = never_stop,
) -> np.ndarray:
    """Out-of-fold probabilities over ``labels``: each row predicted by a head that never saw
    it (nor, with ``groups``, any folder of its family: :func:`engine.labels.splits.family_groups`).
    ``fit(X, y) -> Head`` fits the head the way the saved model's was fitted (e.g. warm-started);
    default: the plain class-balanced head."""
    y = list(y)
    k = max(2, min(int(k_folds), len(y)))
    fold = stratified_folds(y, k, seed, groups)
    k = int(fold.max()) + 1 if len(fold) else k
    P = np.zeros((len(y), len(labels)), np.float32)
    for f in range(k):
        check_stop(should_stop)
        te = np.flatnonzero(fold == f)
        tr = np.flatnonzero(fold != f)
        if len(te) == 0:
            continue
        y_tr = [y[i] for i in tr]
        if fit is not None and len(set(y_tr)) >= 2:
            P[te] = fit(X[tr], y_tr).predict_proba(X[te])
        else:
            P[te] = fit_predict_head(X[tr], y_tr, X[te], labels, C=C, seed=seed)
        progress((f + 1) / k, f"fold {f + 1}/{k}")
    return P


