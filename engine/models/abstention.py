"""Abstain: per-class confidence thresholds under which a prediction is reported as ``unknown``.


Abstain (:func:`choose_thresholds`, :func:`apply_abstention`, :func:`coverage_curve`)
    Per predicted class, the smallest confidence threshold whose kept predictions reach
    ``target_precision`` on the validation probabilities; classes with too few validation
"""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.evaluation.report import macro_f1_min_support
from engine.models.folds import oof_probabilities

UNKNOWN = "unknown"

# ============================================================================== abstain


def _threshold_for(conf: np.ndarray, correct: np.ndarray, target: float) -> float | None:
    """Smallest confidence t such that predictions with conf >= t have precision >= target."""
    if len(conf) == 0:
        return None
    order = np.argsort(-conf, kind="stable")
    c = conf[order]
    ok = correct[order].astype(np.float64)
    prec = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    # Only cut between distinct confidences (ties are kept or dropped together).
    last_of_tie = np.r_[c[1:] != c[:-1], True]
    good = np.flatnonzero((prec >= target - 1e-12) & last_of_tie)
    if len(good) == 0:
        return None
    return float(c[good[-1]])


def choose_thresholds(
    probs_val: np.ndarray,
    y_val: Sequence[str],
    labels: Sequence[str],
    target_precision: float = 0.8,
    *,
    min_predictions: int = 5,
    groups: Sequence[int] | None = None,
) -> dict[str, float]:
    """Per-label confidence thresholds: a prediction of label L is kept when its confidence is
    at least ``thresholds[L]``, else it becomes ``unknown``.

    For each label, among the validation rows predicted as it, the smallest threshold whose
    kept rows reach ``target_precision``. A label predicted fewer than ``min_predictions``
    times on validation gets the global threshold (all labels pooled), and so does a label whose
    predictions miss the target at every threshold: a rare class (a dozen creator folders among
    200 labels) rarely reaches 90 % out of fold, and greying out every prediction of it would hide
    the class from the user altogether. Only when the pooled predictions miss the target too is
    the threshold 1.0 (everything abstains: nothing can be trusted that far).
    ``unknown`` itself is never thresholded.
    """
    if not 0.0 < target_precision <= 1.0:
        raise ValueError(f"target_precision must be in (0, 1], got {target_precision}")
    labels = list(labels)
    P = np.asarray(probs_val, dtype=np.float64)
    if len(P) != len(y_val):
        raise ValueError("probs_val and y_val differ in length")
    top = P.argmax(axis=1) if len(P) else np.zeros(0, int)
    conf = P[np.arange(len(P)), top] if len(P) else np.zeros(0)
    pred = np.array([labels[j] for j in top], dtype=object)
    correct = pred == np.asarray(list(y_val), dtype=object)
    g = _threshold_for(conf, correct, target_precision)
    global_t = 1.0 if g is None else g
    out: dict[str, float] = {}
    for lb in labels:
        if lb == UNKNOWN:
            out[lb] = 0.0
            continue
        mask = pred == lb
        if mask.sum() < min_predictions:
            out[lb] = global_t
            continue
        t = _threshold_for(conf[mask], correct[mask], target_precision)
        out[lb] = global_t if t is None else t
    return out


def thresholds_from_oof(
    X: np.ndarray,
    y: Sequence[str],
    labels: Sequence[str],
    target_precision: float = 0.8,
    *,
    k_folds: int = 5,
    seed: int = 42,
    C: float = 1.0,
    min_predictions: int = 5,
    groups: Sequence[int] | None = None,
) -> dict[str, float]:
    """:func:`choose_thresholds` on out-of-fold probabilities of ``X``/``y``.

    For a head fitted on train *and* validation (as ``model train`` does), the validation
    rows are no longer unseen; cross-fitted probabilities of every labelled row are, and
    there are more of them (rare labels get their own thresholds sooner).
    """
    P = oof_probabilities(X, y, labels, k_folds=k_folds, seed=seed, C=C, groups=groups)
    return choose_thresholds(P, y, labels, target_precision, min_predictions=min_predictions)


def apply_abstention(probs: np.ndarray, labels: Sequence[str], thresholds: Mapping[str, float]) -> list[str]:
    """The argmax label per row, or ``unknown`` where its confidence is below its threshold."""
    labels = list(labels)
    P = np.asarray(probs, dtype=np.float64)
    if len(P) == 0:
        return []
    top = P.argmax(axis=1)
    conf = P[np.arange(len(P)), top]
    out = []
    for j, c in zip(top, conf):
        lb = labels[j]
        t = thresholds.get(lb, 0.0)
        out.append(lb if c >= t - 1e-9 else UNKNOWN)
    return out


@dataclass(frozen=True)
class CoveragePoint:
    threshold: float
    coverage: float  # share of rows kept (not sent to unknown)
    macro_f1: float  # on the kept rows
    accuracy: float  # on the kept rows
    n_kept: int


def coverage_curve(
    probs: np.ndarray,
    y_true: Sequence[str],
    labels: Sequence[str],
    thresholds: Sequence[float] | None = None,
    *,
    min_support: int = 1,
) -> list[CoveragePoint]:
    """Coverage and Macro F1 on the kept predictions for one global confidence threshold each.

    Macro F1 on kept rows averages the classes with at least ``min_support`` kept true rows.
    """
    labels = list(labels)
    P = np.asarray(probs, dtype=np.float64)
    y = list(y_true)
    top = P.argmax(axis=1)
    conf = P[np.arange(len(P)), top]
    pred = [labels[j] for j in top]
    if thresholds is None:
        thresholds = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    out = []
    for t in thresholds:
        keep = [i for i in range(len(y)) if conf[i] >= t - 1e-9]
        if not keep:
            out.append(CoveragePoint(float(t), 0.0, float("nan"), float("nan"), 0))
            continue
        yt = [y[i] for i in keep]
        yp = [pred[i] for i in keep]
        f1, _ = macro_f1_min_support(yt, yp, min_support)
        acc = sum(a == b for a, b in zip(yt, yp)) / len(yt)
        out.append(CoveragePoint(float(t), len(keep) / len(y), f1, acc, len(keep)))
    return out


def abstention_report(
    probs: np.ndarray,
    y_true: Sequence[str],
    labels: Sequence[str],
    thresholds: Mapping[str, float],
    *,
    min_support: int = 1,
) -> CoveragePoint:
    """Coverage and Macro F1 on the kept rows under per-label ``thresholds``."""
    pred = apply_abstention(probs, labels, thresholds)
    keep = [i for i, p in enumerate(pred) if p != UNKNOWN]
    if not keep:
        return CoveragePoint(float("nan"), 0.0, float("nan"), float("nan"), 0)
    yt = [y_true[i] for i in keep]
    yp = [pred[i] for i in keep]
    f1, _ = macro_f1_min_support(yt, yp, min_support)
    acc = sum(a == b for a, b in zip(yt, yp)) / len(yt)
    return CoveragePoint(float("nan"), len(keep) / len(y_true), f1, acc, len(keep))


