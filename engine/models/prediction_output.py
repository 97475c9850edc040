"""What a prediction run writes besides its rows: the abstention mask, the coverage table
(Macro F1 on the predictions kept at each confidence) and the predictions CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.evaluation.report import compute_report
from engine.models.inputs import FolderRecord


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


__all__ = ["COVERAGE_LEVELS", "abstained_mask", "coverage_table", "format_coverage", "write_predictions_csv"]
